use std::process::ExitCode;

use clap::{Args, ValueEnum};
use frugal_core::ledger::Feedback;

/// What an answer was worth, in the user's words.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Rating {
    /// It was of use.
    Good,
    /// It was not.
    Bad,
}

#[derive(Args, Debug)]
pub struct FeedbackArgs {
    /// The answer's run id (`run_id` in its `--json` output, or the tray app's).
    run_id: String,
    /// Whether the answer was of use.
    rating: Rating,
    /// A word on why, kept with the rating in the ledger.
    #[arg(long)]
    note: Option<String>,
}

pub fn run(g: &super::Globals, args: FeedbackArgs) -> anyhow::Result<ExitCode> {
    let assistant = g.open()?;
    let feedback = match args.rating {
        Rating::Good => Feedback::Good,
        Rating::Bad => Feedback::Bad,
    };
    assistant.spend().record_feedback(&args.run_id, feedback, args.note.as_deref())?;
    eprintln!("frugal: recorded \"{}\" for run {}", feedback.as_str(), args.run_id.trim());
    Ok(ExitCode::SUCCESS)
}

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use frugal_core::llm::CancelToken;
use indicatif::ProgressBar;

#[derive(Args, Debug)]
pub struct AskArgs {
    /// The question.
    #[arg(required = true, num_args = 1..)]
    question: Vec<String>,
}

pub fn run(config: Option<&Path>, model: Option<PathBuf>, json: bool, args: AskArgs) -> anyhow::Result<ExitCode> {
    let assistant = super::open(config, model)?;
    let question = args.question.join(" ");
    let cancel = CancelToken::new();
    let handler = cancel.clone();
    ctrlc::set_handler(move || handler.cancel()).context("cannot install the Ctrl-C handler")?;
    let spinner = if std::io::stderr().is_terminal() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    spinner.set_message("reading your files");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let result = assistant.ask(&question, &cancel, &mut |_| spinner.set_message("answering"));
    spinner.finish_and_clear();
    super::index_notice(&assistant);
    let Some(report) = super::unless_cancelled(result)? else { return Ok(ExitCode::from(super::CANCELLED)) };
    if json {
        super::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    match &report.answer {
        Some(answer) => {
            println!("{answer}\n");
            for s in &report.cited {
                println!("[{}] {}  {}", s.n, s.location(), s.title);
            }
        }
        None => {
            println!("Not found in your files.");
            if let Some(r) = &report.rejected {
                eprintln!("frugal: the local model's answer was not supported by the passages it cited: {r}");
            }
            if !report.sources.is_empty() {
                println!("\nClosest passages:");
                for s in &report.sources {
                    println!("[{}] {}  {}", s.n, s.location(), s.title);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

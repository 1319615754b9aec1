//! `frugal`: the command-line face of the assistant. Every command is a few lines over
//! `frugal-core`; this file only parses flags, prints, and maps errors to one line.

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Personal hybrid AI assistance: a local model sized to this machine first.
#[derive(Parser, Debug)]
#[command(name = "frugal", version, about, propagate_version = true)]
struct Cli {
    /// Config file (default: the XDG config dir's frugal/config.toml).
    #[arg(long, global = true, value_name = "FILE", env = "FRUGAL_CONFIG")]
    config: Option<PathBuf>,
    /// Use this GGUF model for this command instead of the configured one.
    #[arg(long, global = true, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    /// Never send anything to a cloud model, whatever the policy says.
    #[arg(long, global = true, conflicts_with = "cloud")]
    local_only: bool,
    /// Skip the local model: ask the economy cloud model (within the budget).
    #[arg(long, global = true)]
    cloud: bool,
    /// Treat the input as private: it may be answered locally, never sent out.
    #[arg(long, global = true)]
    private: bool,
    /// Show the exact request a cloud model would get and its estimated cost; send nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// Work that can wait: an escalation goes through the provider's batch API at its batch
    /// price (half at OpenAI and Anthropic), answered within 24 h; see `frugal batches`.
    #[arg(long, global = true, conflicts_with = "dry_run")]
    batch: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// What this machine has and how the model will be loaded, with reasons.
    Hw,
    /// The model catalog: list, download, choose.
    #[command(subcommand)]
    Models(cmd::models::ModelsCmd),
    /// Chat with the local model (one-shot with PROMPT or piped input, else a REPL).
    Chat(cmd::chat::ChatArgs),
    /// Summarize a meeting transcript: summary, decisions, action items, open questions.
    Summarize(cmd::summarize::SummarizeArgs),
    /// Transcribe a recording on this machine into WebVTT (whisper.cpp, the default model).
    Transcribe(cmd::transcribe::TranscribeArgs),
    /// Record a meeting (microphone and system sound) and transcribe it as it goes.
    Record(cmd::transcribe::RecordArgs),
    /// Draft an email from bullet points, or a reply to an email.
    Draft(cmd::draft::DraftArgs),
    /// Index folders for search and grounding: add, remove, status, update, watch.
    #[command(subcommand)]
    Index(cmd::index::IndexCmd),
    /// Search the indexed folders: ranked passages with paths and lines.
    Search(cmd::search::SearchArgs),
    /// Answer a question from the indexed files, with citations.
    Ask(cmd::ask::AskArgs),
    /// API keys for cloud providers, kept in the OS keychain: set, remove, list.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCmd),
    /// The monthly cloud budget: set it, or show it.
    #[command(subcommand)]
    Budget(cmd::budget::BudgetCmd),
    /// What this month cost: spent, reserved, remaining, by provider, model and task.
    Spend(cmd::spend::SpendArgs),
    /// Run an eval suite (promptfoo format) on routes: pass rate, cost per passed test, the gate.
    Eval(cmd::eval::EvalArgs),
    /// Record what an answer was worth (good or bad), for the cost per useful outcome.
    Feedback(cmd::feedback::FeedbackArgs),
    /// Measure prompt processing, generation, time to first token, load time and memory.
    Bench(cmd::bench::BenchArgs),
    /// Serve an OpenAI- and Anthropic-compatible gateway for your other AI tools, capped per app.
    Serve(cmd::serve::ServeArgs),
    /// The apps allowed to call `frugal serve`: add (prints a token), list, budget, remove.
    #[command(subcommand)]
    Apps(cmd::apps::AppsCmd),
    /// Batched cloud work (`--batch`): list with reserved and expected cost, poll, cancel.
    Batches(cmd::batches::BatchesArgs),
}

fn main() -> ExitCode {
    // Started to read one PDF for the indexer (see `extract::pdf`): does that and exits.
    frugal_core::index::extract::pdf::reader_main();
    // A panic is a bug; still, the user gets one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        eprintln!("frugal: internal error: {} (please report this)", one_line(&msg));
    }));
    // Usage errors keep the one-line contract too; help and --version print as usual.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("frugal: error: {} (see frugal --help)", usage_error(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let route = frugal_core::RouteOptions {
        cloud: cli.cloud,
        local_only: cli.local_only,
        private: cli.private,
        dry_run: cli.dry_run,
        batch: cli.batch,
        ..Default::default()
    };
    let g = cmd::Globals { config: cli.config, model: cli.model, json: cli.json, route };
    let result = match cli.command {
        Command::Hw => cmd::hw::run(g.config.as_deref(), g.model, g.json),
        Command::Models(c) => cmd::models::run(g.config.as_deref(), g.model, g.json, c),
        Command::Chat(a) => cmd::chat::run(&g, a),
        Command::Summarize(a) => cmd::summarize::run(&g, a),
        Command::Transcribe(a) => cmd::transcribe::run(&g, a),
        Command::Record(a) => cmd::transcribe::record(&g, a),
        Command::Draft(a) => cmd::draft::run(&g, a),
        Command::Index(c) => cmd::index::run(g.config.as_deref(), g.json, c),
        Command::Search(a) => cmd::search::run(g.config.as_deref(), g.json, a),
        Command::Ask(a) => cmd::ask::run(&g, a),
        Command::Keys(c) => cmd::keys::run(&g, c),
        Command::Budget(c) => cmd::budget::run(&g, c),
        Command::Spend(a) => cmd::spend::run(&g, a),
        Command::Feedback(a) => cmd::feedback::run(&g, a),
        Command::Eval(a) => cmd::eval::run(&g, a),
        Command::Bench(a) => cmd::bench::run(g.config.as_deref(), g.model, g.json, a),
        Command::Serve(a) => cmd::serve::run(&g, a),
        Command::Apps(c) => cmd::apps::run(&g, c),
        Command::Batches(a) => cmd::batches::run(&g, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("frugal: error: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Clap's usage error on one line: its first line and the lines that belong to it (the
/// missing arguments clap lists below "the following required arguments were not
/// provided:"), without the usage block and the tip.
fn usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("invalid arguments").trim_start_matches("error: ").trim().to_string();
    let details: Vec<&str> = lines
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.starts_with("tip:"))
        .collect();
    let text = if details.is_empty() { first } else { format!("{} {}", first, details.join(", ")) };
    one_line(&text)
}

/// Folds a message onto one line: the CLI's contract is one clear line on stderr.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[test]
    fn a_missing_argument_is_named() {
        let e = super::Cli::try_parse_from(["frugal", "keys", "set"]).unwrap_err();
        let line = super::usage_error(&e.render().to_string());
        assert!(line.contains("<PROVIDER>") || line.contains("<NAME>"), "{line}");
        assert!(!line.contains('\n'));
    }
}

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use frugal_core::llm::{CancelToken, Event};
use frugal_core::Routed;
use indicatif::ProgressBar;

#[derive(Args, Debug)]
pub struct AskArgs {
    /// The question.
    #[arg(required = true, num_args = 1..)]
    question: Vec<String>,
}

pub fn run(g: &super::Globals, args: AskArgs) -> anyhow::Result<ExitCode> {
    let json = g.json;
    let assistant = g.open()?;
    let question = args.question.join(" ");
    let cancel = CancelToken::new();
    let handler = cancel.clone();
    ctrlc::set_handler(move || handler.cancel()).context("cannot install the Ctrl-C handler")?;
    let spinner = if std::io::stderr().is_terminal() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    spinner.set_message("reading your files");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let result = assistant.ask(&question, &g.route, &cancel, &mut |e| match e {
        // Status lines are for the user (a provider being asked, a ledger notice): printed,
        // not only flashed on the spinner.
        Event::Status(s) => spinner.suspend(|| eprintln!("frugal: {s}")),
        _ => spinner.set_message("answering"),
    });
    spinner.finish_and_clear();
    super::index_notice(&assistant);
    let Some(routed) = super::unless_cancelled(result)? else { return Ok(ExitCode::from(super::CANCELLED)) };
    let (report, route) = match routed {
        Routed::Done(report, route) => (report, route),
        Routed::DryRun(d) => return super::print_dry_run(&d),
        Routed::Queued(_, route) => {
            eprintln!(
                "frugal: {}; the answer, checked against its sources, is shown by `frugal batches` when it is back",
                route.note.as_deref().unwrap_or("queued")
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    if json {
        super::print_json(&super::with_route(&report, &route)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    super::print_route(&assistant, &route);
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
                eprintln!("frugal: the model's answer was not supported by the passages it cited: {r}");
            }
            if !report.sources.is_empty() {
                println!("\nClosest passages:");
                for s in &report.sources {
                    println!("[{}] {}  {}", s.n, s.location(), s.title);
                }
            }
        }
    }
    // With no passage to read, no model can do better: there is nothing to offer.
    if !report.sources.is_empty() {
        super::print_verdict(&assistant, "this answer", &report.quality, &route, || {
            super::cloud_estimate(g, |o| assistant.ask(&question, o, &CancelToken::new(), &mut |_| {}))
        });
    }
    Ok(ExitCode::SUCCESS)
}

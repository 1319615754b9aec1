//! `frugal batches`: the batched cloud work (`--batch`) — what is pending, what it holds of
//! the budget and is expected to cost, what came back; polling and cancelling.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use frugal_core::ledger::{usd_exact, BatchRow};

#[derive(Args, Debug)]
pub struct BatchesArgs {
    #[command(subcommand)]
    cmd: Option<BatchesCmd>,
    /// List without asking the providers first.
    #[arg(long)]
    no_poll: bool,
    /// Also list batches that finished in the last DAYS days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    days: i64,
}

#[derive(Subcommand, Debug)]
enum BatchesCmd {
    /// Cancel a pending batch: what the provider already ran stays billed, the rest is released.
    Cancel {
        /// The batch's number, as listed.
        id: i64,
    },
    /// Poll until no batch is pending (or the time is up).
    Wait {
        /// Seconds between polls.
        #[arg(long, default_value_t = 30)]
        every: u64,
        /// Give up after this many seconds (the batches stay pending).
        #[arg(long, default_value_t = 86_400)]
        timeout: u64,
    },
}

pub fn run(g: &super::Globals, args: BatchesArgs) -> anyhow::Result<ExitCode> {
    let assistant = g.open()?;
    match args.cmd {
        Some(BatchesCmd::Cancel { id }) => {
            let b = assistant.router().cancel_batch(id)?;
            eprintln!(
                "frugal: asked {} to cancel batch {id}; what it already ran stays billed, the rest is released at the next poll",
                b.provider
            );
            say(&assistant.poll_batches()?);
        }
        Some(BatchesCmd::Wait { every, timeout }) => {
            let started = Instant::now();
            loop {
                say(&assistant.poll_batches()?);
                let open = assistant.router().batches(0)?.iter().filter(|b| b.state.is_open()).count();
                if open == 0 {
                    break;
                }
                if started.elapsed() >= Duration::from_secs(timeout) {
                    eprintln!("frugal: {open} batch(es) still pending; `frugal batches` checks again later");
                    return Ok(ExitCode::FAILURE);
                }
                std::thread::sleep(Duration::from_secs(every.max(1)));
            }
        }
        None if !args.no_poll => {
            say(&assistant.poll_batches()?);
        }
        None => {}
    }
    let rows = assistant.router().batches(args.days)?;
    if g.json {
        super::print_json(&rows)?;
    } else {
        print_table(&rows, &|id| assistant.router().kept_answers(id));
    }
    Ok(ExitCode::SUCCESS)
}

fn say(news: &frugal_core::batches::PollNews) {
    for line in news.finished.iter().chain(&news.problems) {
        eprintln!("frugal: {line}");
    }
}

fn print_table(rows: &[BatchRow], kept: &dyn Fn(i64) -> Vec<std::path::PathBuf>) {
    if rows.is_empty() {
        println!("No batches. `--batch` on a summary sends its escalation through the provider's batch API.");
        return;
    }
    println!(
        "{:>4}  {:<11} {:<10} {:<12} {:>8}  {:>10}  {:>10}  {:>10}  {:>10}  submitted",
        "id", "state", "task", "provider", "requests", "reserved", "expected", "cost", "saved"
    );
    for b in rows {
        let submitted = b.submitted_at.get(..16).unwrap_or(&b.submitted_at).replace('T', " ");
        println!(
            "{:>4}  {:<11} {:<10} {:<12} {:>8}  {:>10}  {:>10}  {:>10}  {:>10}  {submitted}",
            b.id,
            b.state.as_str(),
            b.task,
            b.provider,
            b.requests,
            usd_exact(b.reserved_micros),
            usd_exact(b.expected_micros),
            usd_exact(b.cost_micros),
            usd_exact(b.saved_micros),
        );
        if let Some(n) = &b.note {
            println!("      {n}");
        }
        for path in kept(b.id) {
            println!("      kept: {}", path.display());
        }
    }
    let held: i64 = rows.iter().map(|b| b.reserved_micros).sum();
    if held > 0 {
        println!("Held against the budget until the results are back: {}", usd_exact(held));
    }
}

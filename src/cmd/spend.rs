use std::process::ExitCode;

use clap::Args;
use frugal_core::ledger::{usd, write_csv, Month, MonthReport};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct SpendArgs {
    /// The month to report (default: this month).
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Every ledger row of the month as CSV.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// Put the ledger's backup back (after the ledger was emptied, deleted or damaged).
    #[arg(long, conflicts_with_all = ["reset", "csv", "month"])]
    restore: bool,
    /// Start a new, empty ledger; the old one and its backup are kept aside, not deleted.
    #[arg(long, conflicts_with_all = ["csv", "month"])]
    reset: bool,
}

/// Adds a `…_usd` twin next to every `…_micros` field, recursively: the ledger counts in
/// integer micro-dollars, people and spreadsheets read dollars.
fn with_dollars(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let twins: Vec<(String, Value)> = map
                .iter()
                .filter_map(|(k, v)| {
                    let base = k.strip_suffix("_micros")?;
                    let dollars = match v {
                        Value::Number(n) => n.as_i64().map(|m| Value::from(usd(m)))?,
                        Value::Null => Value::Null,
                        _ => return None,
                    };
                    Some((format!("{base}_usd"), dollars))
                })
                .collect();
            map.extend(twins);
            map.values_mut().for_each(with_dollars);
        }
        Value::Array(items) => items.iter_mut().for_each(with_dollars),
        _ => {}
    }
}

fn money(micros: i64) -> String {
    let d = usd(micros);
    if micros != 0 && d.abs() < 0.01 {
        format!("${d:.4}")
    } else {
        format!("${d:.2}")
    }
}

pub fn run(g: &super::Globals, args: SpendArgs) -> anyhow::Result<ExitCode> {
    let assistant = g.open()?;
    if args.restore {
        let when = assistant.spend().restore()?;
        eprintln!("frugal: restored the spend ledger from its backup of {when}; requests after that are not in it");
    }
    if args.reset {
        for moved in assistant.spend().reset()? {
            eprintln!("frugal: kept the old ledger as {}", moved.display());
        }
        eprintln!("frugal: a new, empty spend ledger starts now");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let month = match &args.month {
        Some(m) => Month::parse(m)?,
        None => Month::containing(now),
    };
    // Opening the ledger settles what a crashed process left reserved; say so first.
    assistant.spend().ledger()?;
    if let Some(n) = assistant.spend().take_notice() {
        eprintln!("frugal: {n}");
    }
    if args.csv {
        let rows = assistant.spend().rows(month)?;
        let mut out = std::io::stdout().lock();
        write_csv(&rows, &mut out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = assistant.spend().report(month)?;
    if g.json {
        let mut v = serde_json::to_value(&report)?;
        with_dollars(&mut v);
        super::print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_report(&report);
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &MonthReport) {
    println!("Spend for {}", r.month);
    match (r.cap_micros, r.remaining_micros) {
        (Some(cap), Some(left)) => println!(
            "  cloud: {} spent of {} ({} reserved), {} left",
            money(r.spent_micros),
            money(cap),
            money(r.reserved_micros),
            money(left)
        ),
        _ => println!("  cloud: {} spent (no monthly budget set: the cloud is off)", money(r.spent_micros)),
    }
    if let Some(p) = r.projected_micros {
        println!("  projected month end: {}", money(p));
    }
    println!(
        "  requests: {} ({} local, {} cloud; {:.0}% local){}{}",
        r.requests,
        r.local_requests,
        r.cloud_requests,
        r.local_share * 100.0,
        if r.refused > 0 { format!(", {} refused by the budget", r.refused) } else { String::new() },
        if r.failed > 0 { format!(", {} failed", r.failed) } else { String::new() },
    );
    println!(
        "  saved by working locally: {} (all-cloud would have cost {})",
        money(r.saved_micros),
        money(r.all_cloud_micros)
    );
    if let Some(c) = r.cost_per_completed_run_micros {
        println!("  cost per completed task: {} over {} tasks", money(c), r.completed_runs);
    }
    print_levers(&r.levers);
    if !r.by_provider.is_empty() {
        println!("\n  {:<8} {:<16} {:<30} {:>8} {:>10}", "route", "provider", "model", "requests", "cost");
        for p in &r.by_provider {
            println!(
                "  {:<8} {:<16} {:<30} {:>8} {:>10}",
                p.route.as_str(),
                p.provider,
                p.model,
                p.requests,
                money(p.cost_micros)
            );
        }
    }
    if !r.by_task.is_empty() {
        println!(
            "\n  {:<10} {:>6} {:>9} {:>7} {:>7} {:>10} {:>10}",
            "task", "runs", "requests", "local", "cloud", "cost", "per task"
        );
        for t in &r.by_task {
            println!(
                "  {:<10} {:>6} {:>9} {:>7} {:>7} {:>10} {:>10}",
                t.task,
                t.runs,
                t.requests,
                t.local_requests,
                t.cloud_requests,
                money(t.cost_micros),
                money(t.cost_per_run_micros)
            );
        }
    }
    if !r.by_app.is_empty() {
        println!("\n  {:<16} {:>9} {:>7} {:>8} {:>10} {:>10}", "app", "requests", "local", "refused", "cost", "saved");
        for a in &r.by_app {
            println!(
                "  {:<16} {:>9} {:>7} {:>8} {:>10} {:>10}",
                a.app.as_deref().unwrap_or("(frugal)"),
                a.requests,
                a.local_requests,
                a.refused,
                money(a.cost_micros),
                money(a.saved_micros)
            );
        }
    }
    print_outcomes(&r.outcomes);
    if !r.escalations.is_empty() {
        println!("\n  why tasks escalated:");
        for e in &r.escalations {
            println!("  {:>5}  {}", e.count, e.reason);
        }
    }
}

/// What each cost lever saved this month, against the same tokens at full price.
fn print_levers(l: &frugal_core::ledger::LeverSavings) {
    let any =
        l.cache_read_tokens + l.cache_write_tokens + l.batch_requests + l.local_reused_tokens + l.pruned_tokens > 0;
    if !any {
        return;
    }
    println!("\n  cost levers this month (against the same tokens at full price):");
    if l.cache_read_tokens + l.cache_write_tokens > 0 {
        println!(
            "  {:<22} {:>10}  ({} input tokens read from a provider's cache, {} written)",
            "cloud prompt caching",
            money(l.cache_micros),
            l.cache_read_tokens,
            l.cache_write_tokens
        );
    }
    if l.batch_requests > 0 {
        println!("  {:<22} {:>10}  ({} requests batched)", "batch discount", money(l.batch_micros), l.batch_requests);
    }
    if l.local_reused_tokens > 0 {
        println!(
            "  {:<22} {:>10}  ({} prompt tokens the local model did not compute again, at the reference cloud price)",
            "local KV reuse",
            money(l.local_reuse_micros),
            l.local_reused_tokens
        );
    }
    if l.pruned_tokens > 0 {
        println!(
            "  {:<22} {:>10}  ({} context tokens left out: duplicate passages, passages without room, trimmed tails)",
            "pruned context",
            money(l.pruned_micros),
            l.pruned_tokens
        );
    }
}

/// Useful outcomes: the answers the user kept, and what each cost.
fn print_outcomes(o: &frugal_core::ledger::OutcomeReport) {
    if o.rated_runs == 0 {
        return;
    }
    println!("\n  useful answers: {} of {} with an outcome recorded", o.useful, o.rated_runs);
    match o.cost_per_useful_micros {
        Some(c) => println!(
            "  cost per useful answer: {} ({:.0}% of useful answers were local; {} escalations were used)",
            money(c),
            o.local_share_of_useful * 100.0,
            o.escalations_used
        ),
        None => println!("  cost per useful answer: none was useful yet"),
    }
    println!("\n  {:<10} {:>6} {:>7} {:>10} {:>11}", "useful by", "rated", "useful", "cost", "per useful");
    for s in o.by_task.iter().chain(&o.by_route) {
        println!(
            "  {:<10} {:>6} {:>7} {:>10} {:>11}",
            s.name,
            s.rated,
            s.useful,
            money(s.cost_micros),
            s.cost_per_useful_micros.map_or("—".into(), money)
        );
    }
}

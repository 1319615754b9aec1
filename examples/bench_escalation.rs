//! What routing saves: every meeting and email fixture run through the router with a
//! simulated two-tier cloud, then every one sent straight to the premium tier, in the same run.
//!
//! ```text
//! cargo run --release --example bench_escalation [-- --eval ../shared/eval]
//! ```
//!
//! The local model is the real default model; the "cloud" is `frugal_cloud::sim` on 127.0.0.1
//! priced as gpt-4o-mini (economy) and Claude Sonnet 4 (premium), reporting ~4 characters
//! per token. Its answers are canned (a schema-valid summary, a short reply): this measures
//! routing and money, not cloud answer quality.

use std::path::{Path, PathBuf};
use std::time::Instant;

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;
use frugal_core::input::read_input;
use frugal_core::ledger::{usd, Month};
use frugal_core::llm::CancelToken;
use frugal_core::tasks::draft::{DraftTask, Length, Tone};
use frugal_core::{Assistant, RouteOptions, Routed};

const ECONOMY: (&str, f64, f64) = ("sim-economy (priced as gpt-4o-mini)", 0.15, 0.60);
const PREMIUM: (&str, f64, f64) = ("sim-premium (priced as claude-sonnet-4)", 3.0, 15.0);

fn canned(body: &serde_json::Value) -> String {
    if body.get("response_format").is_some() {
        // A schema-valid summary built from the transcript's first speaker line.
        let text = body["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or("");
        let line =
            text.lines().rev().find(|l| l.contains(": ")).unwrap_or("The meeting reviewed the work in progress.");
        let summary = line.split_once(": ").map_or(line, |(_, t)| t).replace('"', "'");
        format!(r#"{{"summary": "{summary}", "decisions": [], "action_items": [], "open_questions": []}}"#)
    } else {
        "Subject: Re: your message\n\nHello,\n\nThank you for your message. I will look into it and get back to you.\n\nBest regards".into()
    }
}

fn config(dir: &Path, model: &Path, tiers: &[(&str, &SimServer, &str)]) -> PathBuf {
    let mut toml = format!(
        "ledger = {:?}\n[model]\npath = {:?}\n[budget]\nmonthly_usd = 100.0\n",
        dir.join("ledger.sqlite3"),
        model
    );
    for (tier, server, model) in tiers {
        toml.push_str(&format!(
            "[[providers]]\nname = \"{model}\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"{model}\"\ntier = \"{tier}\"\nneeds_key = false\n",
            server.base_url()
        ));
    }
    for (model, (_, input, output)) in [("sim-economy", ECONOMY), ("sim-premium", PREMIUM)] {
        toml.push_str(&format!("[[prices]]\nmodel = \"{model}\"\ninput = {input}\noutput = {output}\n"));
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, toml).expect("write config");
    path
}

enum Job {
    Summarize(PathBuf),
    Draft(PathBuf),
}

fn run(assistant: &Assistant, job: &Job, opts: &RouteOptions) -> anyhow::Result<(String, String)> {
    let cancel = CancelToken::new();
    match job {
        Job::Summarize(path) => {
            let input = read_input(path)?;
            match assistant.summarize(&input, opts, &cancel, &mut |_| {}, &mut |_| {})? {
                Routed::Done(report, route) => Ok((route_name(&route), pass(report.quality.passed))),
                Routed::DryRun(_) | Routed::Queued(..) => anyhow::bail!("unexpected dry run or batch"),
            }
        }
        Job::Draft(path) => {
            let input = read_input(path)?;
            let is_mail = path.extension().is_some_and(|e| e == "eml");
            let task = DraftTask {
                notes: if is_mail { "reply briefly".into() } else { input.text.clone() },
                reply_to: is_mail.then(|| frugal_core::email::parse_email(&input.text)),
                tone: Tone::Neutral,
                length: Length::Short,
                seed: 1,
                related: Default::default(),
            };
            match assistant.draft(&task, Some(path), opts, &cancel, &mut |_| {})? {
                Routed::Done((_, quality), route) => Ok((route_name(&route), pass(quality.passed))),
                Routed::DryRun(_) | Routed::Queued(..) => anyhow::bail!("unexpected dry run or batch"),
            }
        }
    }
}

fn route_name(r: &frugal_core::RouteReport) -> String {
    match &r.escalated {
        Some(why) => format!("{} ({why})", r.provider),
        None => "local".into(),
    }
}

fn pass(p: bool) -> String {
    if p { "passed" } else { "failed" }.into()
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut jobs = Vec::new();
    for dir in ["tests/fixtures/meetings", "tests/fixtures/emails"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))?.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            jobs.push(if dir.ends_with("meetings") { Job::Summarize(f) } else { Job::Draft(f) });
        }
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(eval) = args.iter().position(|a| a == "--eval").and_then(|i| args.get(i + 1)) {
        let eval = PathBuf::from(eval);
        jobs.push(Job::Summarize(eval.join("meetings/ami-ES2005a_kickoff-excerpt.txt")));
        let mut mails: Vec<PathBuf> = std::fs::read_dir(eval.join("emails"))?.flatten().map(|e| e.path()).collect();
        mails.sort();
        jobs.extend(mails.into_iter().filter(|p| p.extension().is_some_and(|e| e == "eml")).map(Job::Draft));
    }

    let economy = SimServer::start(Kind::OpenAi)?;
    let premium = SimServer::start(Kind::OpenAi)?;
    economy.respond_with(canned);
    premium.respond_with(canned);

    // Run 1: the router, local first.
    let routed_dir = tempfile::tempdir()?;
    let routed = Assistant::open(
        Some(&config(
            routed_dir.path(),
            &model,
            &[("economy", &economy, "sim-economy"), ("premium", &premium, "sim-premium")],
        )),
        None,
    )?;
    // Run 2: every task straight to the premium model.
    let premium_dir = tempfile::tempdir()?;
    let all_premium =
        Assistant::open(Some(&config(premium_dir.path(), &model, &[("economy", &premium, "sim-premium")])), None)?;
    // Run 3, for scale: every task straight to the economy model.
    let economy_dir = tempfile::tempdir()?;
    let all_economy =
        Assistant::open(Some(&config(economy_dir.path(), &model, &[("economy", &economy, "sim-economy")])), None)?;

    println!("{:<44} {:<9} {:<60} checks", "input", "task", "served by (why)");
    let started = Instant::now();
    for job in &jobs {
        let (name, task) = match job {
            Job::Summarize(p) => (p, "summarize"),
            Job::Draft(p) => (p, "draft"),
        };
        let label = name.file_name().map_or_else(String::new, |n| n.to_string_lossy().chars().take(43).collect());
        match run(&routed, job, &RouteOptions::default()) {
            Ok((route, checks)) => {
                println!("{label:<44} {task:<9} {:<60} {checks}", route.chars().take(60).collect::<String>())
            }
            Err(e) => println!("{label:<44} {task:<9} error: {e}"),
        }
        for (name, a) in [("all-premium", &all_premium), ("all-economy", &all_economy)] {
            if let Err(e) = run(a, job, &RouteOptions { cloud: true, ..Default::default() }) {
                println!("  ({name} run failed: {e})");
            }
        }
    }
    let month =
        Month::containing(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64);
    let a = routed.spend().report(month)?;
    let b = all_premium.spend().report(month)?;
    let c = all_economy.spend().report(month)?;
    let runs = jobs.len() as f64;
    let escalated_runs = routed
        .spend()
        .rows(month)?
        .iter()
        .filter(|r| r.route == frugal_core::ledger::Route::Cloud)
        .map(|r| r.run_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    println!("\n{} tasks in {:.0} s", jobs.len(), started.elapsed().as_secs_f64());
    println!("  economy: {}; premium: {}", ECONOMY.0, PREMIUM.0);
    println!(
        "  routed:      {} requests, {:.0}% local; {} of {} tasks escalated ({:.0}%); cost ${:.4}",
        a.requests,
        a.local_share * 100.0,
        escalated_runs,
        jobs.len(),
        escalated_runs as f64 / runs * 100.0,
        usd(a.spent_micros)
    );
    println!("  all-premium: {} requests, cost ${:.4}", b.requests, usd(b.spent_micros));
    println!("  all-economy: {} requests, cost ${:.4}", c.requests, usd(c.spent_micros));
    if b.spent_micros > 0 {
        println!(
            "  routed / all-premium = {:.3} ({:.1}× cheaper)",
            a.spent_micros as f64 / b.spent_micros as f64,
            b.spent_micros as f64 / a.spent_micros.max(1) as f64
        );
    }
    Ok(())
}

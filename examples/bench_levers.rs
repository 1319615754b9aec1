//! What the cloud's cost levers save, in dollars per useful outcome: every meeting of the eval
//! suites summarized twice (a user summarizing again) on the economy and the premium tier,
//! with the levers off, with prompt caching, and with caching and the batch queue — in one run.
//!
//! ```text
//! cargo run --release --example bench_levers [-- evals/fixtures.yaml evals/shared-eval.yaml]
//! ```
//!
//! The tiers are `frugal_cloud::sim` on 127.0.0.1 speaking each vendor's protocol and priced
//! at list prices from `models/prices.toml`: economy is OpenAI's gpt-4.1-mini (automatic
//! caching, `prompt_cache_key`), premium is Anthropic's Claude Sonnet 4 (`cache_control`
//! breakpoints, 1.25× to write, 0.1× to read). The simulator caches and batches as the
//! vendors document and counts four characters a token. Its answer is a schema-valid summary
//! built from the transcript's last line, the same with every lever, so the levers change
//! what an outcome costs, never whether it is useful; "useful" is an answer that passes the
//! task's checks. Meetings are copied to a temporary folder first: a batched summary is
//! written beside its meeting.

use std::path::{Path, PathBuf};

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;
use frugal_core::config::Tier;
use frugal_core::input::read_input;
use frugal_core::llm::CancelToken;
use frugal_core::{Assistant, Pin, RouteOptions, Routed};

/// The answer, made from the transcript as a careful model would: the last turn as the
/// summary, and the first turn where someone takes something on as its action item.
fn canned(body: &serde_json::Value) -> String {
    let content =
        &body["messages"].as_array().and_then(|m| m.last()).map_or(serde_json::Value::Null, |m| m["content"].clone());
    let text = match content {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect(),
        _ => String::new(),
    };
    let clean = |s: &str| -> String { s.replace(['"', '\\'], "'").chars().take(140).collect() };
    let turns: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(who, _)| {
            who.len() < 40 && !["Speakers", "Transcript", "Summarize this meeting as JSON"].contains(who)
        })
        .collect();
    let summary =
        turns.iter().rev().map(|(_, t)| clean(t)).find(|t| t.split_whitespace().count() >= 4).unwrap_or_default();
    let commitment = ["i'll ", "i will ", "will do", "can you ", "could you ", "please ", "i can "];
    let item = turns.iter().find(|(_, t)| {
        let t = format!("{} ", t.to_lowercase());
        commitment.iter().any(|c| t.contains(c))
    });
    let items = item.map_or(String::new(), |(who, t)| {
        format!(r#"{{"owner": "{}", "task": "{}", "due": ""}}"#, clean(who), clean(t))
    });
    format!(r#"{{"summary": "{summary}", "decisions": [], "action_items": [{items}], "open_questions": []}}"#)
}

#[derive(Clone, Copy, PartialEq)]
enum Levers {
    Off,
    Caching,
    CachingAndBatch,
}

impl Levers {
    fn name(self) -> &'static str {
        match self {
            Levers::Off => "levers off",
            Levers::Caching => "prompt caching",
            Levers::CachingAndBatch => "caching + batch",
        }
    }
}

struct Tally {
    summaries: usize,
    useful: usize,
    cost_micros: i64,
    /// Cost of the first and the second summary of each meeting.
    first_micros: i64,
    second_micros: i64,
}

fn meetings(suites: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for s in suites {
        let suite = match frugal_core::evals::Suite::load(s) {
            Ok(suite) => suite,
            Err(e) => {
                eprintln!("skipping {}: {e}", s.display());
                continue;
            }
        };
        for t in suite.tests {
            if let frugal_core::evals::Task::Summarize(frugal_core::evals::Source::File(p)) = t.task {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    Ok(out)
}

fn run(levers: Levers, tier: Tier, files: &[PathBuf]) -> anyhow::Result<Tally> {
    let dir = tempfile::tempdir()?;
    let (kind, name, model) = match tier {
        Tier::Economy => (Kind::OpenAi, "openai", "gpt-4.1-mini"),
        Tier::Premium => (Kind::Anthropic, "anthropic", "claude-sonnet-4-0"),
    };
    let sim = SimServer::start(kind)?;
    sim.respond_with(canned);
    let toml = format!(
        "ledger = {:?}\n[budget]\nmonthly_usd = 100.0\n[levers]\nprompt_caching = {}\n\
         [[providers]]\nname = \"{name}\"\nkind = \"{}\"\nbase_url = \"{}\"\nmodel = \"{model}\"\ntier = \"{}\"\nneeds_key = false\n",
        dir.path().join("ledger.sqlite3"),
        levers != Levers::Off,
        kind.as_str(),
        sim.base_url(),
        if tier == Tier::Economy { "economy" } else { "premium" },
    );
    std::fs::write(dir.path().join("config.toml"), toml)?;
    let a = Assistant::open(Some(&dir.path().join("config.toml")), None)?;
    let opts =
        RouteOptions { pin: Some(Pin::Tier(tier)), batch: levers == Levers::CachingAndBatch, ..Default::default() };
    let mut t = Tally { summaries: 0, useful: 0, cost_micros: 0, first_micros: 0, second_micros: 0 };
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let copy = dir.path().join(format!("{i}-{name}"));
        std::fs::copy(file, &copy)?;
        let input = read_input(&copy)?;
        for round in 0..2 {
            let before = spent(&a)?;
            match a.summarize(&input, &opts, &CancelToken::new(), &mut |_| {}, &mut |_| {})? {
                Routed::Done(report, _) => {
                    if std::env::var_os("BENCH_LEVERS_DEBUG").is_some() && !report.quality.passed {
                        let failed: Vec<_> = report
                            .quality
                            .checks
                            .iter()
                            .filter(|c| !c.passed)
                            .map(|c| (c.name, c.detail.clone()))
                            .collect();
                        eprintln!("{name}: {failed:?}");
                    }
                    t.useful += usize::from(report.quality.passed)
                }
                Routed::Queued(..) => {
                    a.poll_batches()?;
                    let summary = frugal_core::tasks::summarize::summary_path(&copy);
                    let text = std::fs::read_to_string(&summary).unwrap_or_default();
                    t.useful += usize::from(!text.is_empty() && !text.contains("failed checks"));
                    std::fs::remove_file(&summary).ok();
                }
                Routed::DryRun(_) => anyhow::bail!("unexpected dry run"),
            }
            let cost = spent(&a)? - before;
            t.summaries += 1;
            t.cost_micros += cost;
            if round == 0 {
                t.first_micros += cost;
            } else {
                t.second_micros += cost;
            }
        }
    }
    Ok(t)
}

fn spent(a: &Assistant) -> anyhow::Result<i64> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    Ok(a.spend().report(frugal_core::ledger::Month::containing(now))?.spent_micros)
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let suites = if args.is_empty() {
        vec![root.join("evals/fixtures.yaml"), root.join("evals/shared-eval.yaml")]
    } else {
        args
    };
    let files = meetings(&suites)?;
    anyhow::ensure!(!files.is_empty(), "no summarize tests with files in {suites:?}");
    println!("{} meetings, each summarized twice per tier and setting\n", files.len());
    println!(
        "{:<8} {:<16} {:>9} {:>6} {:>9} {:>10} {:>7} {:>11} {:>14}",
        "tier", "levers", "summaries", "useful", "cost", "$/useful", "vs off", "2nd vs 1st", "2nd vs off 2nd"
    );
    for tier in [Tier::Economy, Tier::Premium] {
        let mut off_per_useful = None;
        let mut off_second = 0i64;
        for levers in [Levers::Off, Levers::Caching, Levers::CachingAndBatch] {
            let t = run(levers, tier, &files)?;
            let per_useful = (t.useful > 0).then(|| t.cost_micros as f64 / t.useful as f64 / 1e6);
            if levers == Levers::Off {
                off_per_useful = per_useful;
                off_second = t.second_micros;
            }
            let vs_off = match (per_useful, off_per_useful) {
                (Some(p), Some(o)) if o > 0.0 => format!("{:.2}×", p / o),
                _ => "-".into(),
            };
            let pct = |a: i64, b: i64| if b > 0 { format!("{:.0}%", 100.0 * a as f64 / b as f64) } else { "-".into() };
            println!(
                "{:<8} {:<16} {:>9} {:>6} {:>9} {:>10} {:>7} {:>11} {:>14}",
                if tier == Tier::Economy { "economy" } else { "premium" },
                levers.name(),
                t.summaries,
                t.useful,
                format!("${:.4}", t.cost_micros as f64 / 1e6),
                per_useful.map_or("-".into(), |p| format!("${p:.5}")),
                vs_off,
                pct(t.second_micros, t.first_micros),
                pct(t.second_micros, off_second),
            );
        }
    }
    Ok(())
}

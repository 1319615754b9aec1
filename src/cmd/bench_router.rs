//! `frugal bench --router`: what routing and the budget cost per request, measured against an
//! instant provider so only Frugal's own work shows: the decision (budget set, price lookup,
//! client cache), the reservation (one `BEGIN IMMEDIATE` transaction in SQLite, WAL), the
//! metering thread and the settlement.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use frugal_core::ledger::{Limits, NewRequest, Outcome, Route, Settlement, TokenCounts};
use frugal_core::llm::{CancelToken, Event, EventStream, FinishReason, Message, Provider, Request, Usage};
use frugal_core::Assistant;
use serde::Serialize;

/// Answers at once, like a cloud with zero latency.
struct Instant0;

impl Provider for Instant0 {
    fn name(&self) -> &str {
        "bench"
    }

    fn stream(&self, _request: Request, _cancel: CancelToken) -> EventStream {
        let (tx, rx) = frugal_core::llm::channel();
        tx.send(Event::Text("ok".into()));
        tx.send(Event::Usage(Usage { prompt_tokens: 1200, completion_tokens: 300, ..Usage::default() }));
        tx.send(Event::Done { reason: FinishReason::Stop });
        rx
    }
}

#[derive(Serialize)]
struct Figures {
    requests: usize,
    baseline_p50_us: f64,
    baseline_p95_us: f64,
    cloud_routed_p50_us: f64,
    cloud_routed_p95_us: f64,
    cloud_overhead_p50_us: f64,
    cloud_overhead_p95_us: f64,
    local_metered_p50_us: f64,
    local_metered_p95_us: f64,
    decision_p50_us: f64,
    decision_p95_us: f64,
    ledger_rows_per_s_1_thread: f64,
    ledger_rows_per_s_4_threads: f64,
    ledger_rows_per_s_64_threads: f64,
    /// Reservations and settlements per write transaction at 64 threads (group commit).
    ledger_writes_per_commit_64_threads: f64,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Rows (begin + settle) per second for `threads` threads sharing one ledger for `secs`.
fn ledger_rate(ledger: &Arc<frugal_core::ledger::Ledger>, threads: usize, secs: f64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let limits = Limits { monthly_micros: Some(i64::MAX / 4), ..Limits::default() };
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let ledger = ledger.clone();
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let mut n = 0u64;
                while started.elapsed().as_secs_f64() < secs {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
                    let ticket = ledger.begin(
                        NewRequest {
                            at_ms: now,
                            run_id: format!("bench-{t}-{n}"),
                            task: "bench".into(),
                            route: Route::Cloud,
                            provider: "bench".into(),
                            model: "bench-model".into(),
                            reserved_micros: 400,
                            escalation: None,
                            app: None,
                            prefix_hash: None,
                        },
                        &limits,
                    )?;
                    ledger.settle(
                        ticket,
                        Settlement {
                            finished_ms: now,
                            tokens: TokenCounts { prompt: 1200, completion: 300, ..TokenCounts::default() },
                            cost_micros: 360,
                            reference_cost_micros: None,
                            latency_ms: 0,
                            outcome: Outcome::Ok,
                            note: None,
                            levers: Default::default(),
                        },
                    )?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| anyhow::anyhow!("a benchmark thread panicked"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

pub fn run(json: bool, reps: u32) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "ledger = {:?}\n[budget]\nmonthly_usd = 1000000\n\n[[providers]]\nname = \"bench\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"bench-model\"\nneeds_key = false\n\n[[prices]]\nmodel = \"bench-model\"\ninput = 0.15\noutput = 0.60\n",
            dir.path().join("ledger.sqlite3")
        ),
    )?;
    let assistant = Assistant::open(Some(&config), None)?;
    let entry = assistant.config().providers[0].clone();
    let provider: Arc<dyn Provider> = Arc::new(Instant0);
    let request = Request::new(vec![Message::user("Summarize the meeting. ".repeat(200))]).with_max_tokens(512);
    let n = (reps.max(1) as usize * 500).clamp(500, 20_000);
    // Warm up: open the ledger, build the client, fault in the code.
    for _ in 0..50 {
        assistant.router().cloud_client(&entry)?;
        assistant
            .router()
            .meter(provider.clone(), "bench", Some(&entry))?
            .stream(request.clone(), CancelToken::new())
            .collect_blocking()?;
    }
    let (mut base, mut cloud, mut local, mut decision) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        provider.stream(request.clone(), CancelToken::new()).collect_blocking()?;
        base.push(micros(t.elapsed()));

        let t = Instant::now();
        assistant.router().cloud_client(&entry)?; // budget set? price known? key and client ready?
        let meter = assistant.router().meter(provider.clone(), "bench", Some(&entry))?;
        decision.push(micros(t.elapsed()));
        meter.stream(request.clone(), CancelToken::new()).collect_blocking()?;
        cloud.push(micros(t.elapsed()));

        let t = Instant::now();
        assistant
            .router()
            .meter(provider.clone(), "bench", None)?
            .stream(request.clone(), CancelToken::new())
            .collect_blocking()?;
        local.push(micros(t.elapsed()));
    }
    let (base, cloud, local, decision) = (sorted(base), sorted(cloud), sorted(local), sorted(decision));
    let ledger = assistant.spend().ledger()?;
    let (rows_1, rows_4) = (ledger_rate(&ledger, 1, 3.0)?, ledger_rate(&ledger, 4, 3.0)?);
    let before = ledger.group_stats();
    let rows_64 = ledger_rate(&ledger, 64, 3.0)?;
    let after = ledger.group_stats();
    let f = Figures {
        requests: n,
        baseline_p50_us: pct(&base, 0.5),
        baseline_p95_us: pct(&base, 0.95),
        cloud_routed_p50_us: pct(&cloud, 0.5),
        cloud_routed_p95_us: pct(&cloud, 0.95),
        cloud_overhead_p50_us: pct(&cloud, 0.5) - pct(&base, 0.5),
        cloud_overhead_p95_us: pct(&cloud, 0.95) - pct(&base, 0.95),
        local_metered_p50_us: pct(&local, 0.5),
        local_metered_p95_us: pct(&local, 0.95),
        decision_p50_us: pct(&decision, 0.5),
        decision_p95_us: pct(&decision, 0.95),
        ledger_rows_per_s_1_thread: rows_1,
        ledger_rows_per_s_4_threads: rows_4,
        ledger_rows_per_s_64_threads: rows_64,
        ledger_writes_per_commit_64_threads: (after.writes - before.writes) as f64
            / (after.commits - before.commits).max(1) as f64,
    };
    if json {
        super::print_json(&f)?;
    } else {
        println!("router benchmark: {} requests, temporary ledger (SQLite, WAL) on disk", f.requests);
        println!(
            "  provider alone (instant)        p50 {:>8.1} µs  p95 {:>8.1} µs",
            f.baseline_p50_us, f.baseline_p95_us
        );
        println!(
            "  decision (budget, price, client) p50 {:>7.1} µs  p95 {:>8.1} µs",
            f.decision_p50_us, f.decision_p95_us
        );
        println!(
            "  cloud request, routed + metered  p50 {:>7.1} µs  p95 {:>8.1} µs",
            f.cloud_routed_p50_us, f.cloud_routed_p95_us
        );
        println!(
            "  → overhead per cloud request     p50 {:>7.1} µs  p95 {:>8.1} µs",
            f.cloud_overhead_p50_us, f.cloud_overhead_p95_us
        );
        println!(
            "  local request, metered           p50 {:>7.1} µs  p95 {:>8.1} µs",
            f.local_metered_p50_us, f.local_metered_p95_us
        );
        println!(
            "  ledger: {:.0} rows/s (reserve + settle) on 1 thread, {:.0} rows/s on 4, {:.0} rows/s on 64 ({:.1} writes per transaction)",
            f.ledger_rows_per_s_1_thread,
            f.ledger_rows_per_s_4_threads,
            f.ledger_rows_per_s_64_threads,
            f.ledger_writes_per_commit_64_threads
        );
    }
    Ok(ExitCode::SUCCESS)
}

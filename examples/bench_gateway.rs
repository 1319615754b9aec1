//! What the gateway adds: the same chat request sent straight to a zero-delay upstream (the
//! simulated provider on 127.0.0.1) and through `frugal serve` to it, in the same run, with
//! the budget enforced (every request reserved and settled in the real SQLite ledger, an
//! app's own cap checked too). Closed loops at 1 and 64 concurrent clients, then an open loop
//! at a fixed rate (latency measured from each request's scheduled start, so a stall counts).
//!
//! ```text
//! cargo run --release --example bench_gateway [-- --requests 2000 --rate 1000 --seconds 10 \
//!     --litellm PATH/TO/litellm]
//! ```
//!
//! The fixed rate runs direct and through the gateway in turns of one second (`seconds`
//! turns each), so that both meet the same stretches of a shared machine's noise;
//! `BENCH_SEQUENTIAL=1` runs them one after the other instead. Each phase also says the
//! gateway's CPU time per request, which that noise moves far less than a tail.
//!
//! `BENCH_PROFILE=1` runs only the 64-client phase through the gateway, for a profiler
//! (`BENCH_PROFILE=N`, N > 1: N clients);
//! `BENCH_FIXED=N` only the fixed-rate phase, N times.
//!
//! With `--litellm`, the LiteLLM proxy (PyPI `litellm[proxy]`, no database) runs in front of
//! the same upstream and is measured in the same run.
//!
//! The upstream streams a three-token answer with no delay, as TensorZero's and LiteLLM's
//! published gateway benchmarks use a zero-delay mock: an HTTP/1.1 server with keep-alive on
//! its own one-thread runtime, as a separate process would be. The gateway runs on its own
//! runtime too (as `frugal serve` does), the load generator on a third: all on this
//! machine's cores, as in those benchmarks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use frugal_core::ledger::{App, Month};
use frugal_core::Assistant;

struct Args {
    requests: usize,
    rate: u64,
    seconds: u64,
    litellm: Option<String>,
}

fn args() -> Args {
    let mut a = Args { requests: 2000, rate: 1000, seconds: 10, litellm: None };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let n = pair.get(1).and_then(|x| x.parse::<u64>().ok());
        match (pair[0].as_str(), n) {
            ("--requests", Some(n)) => a.requests = n as usize,
            ("--rate", Some(n)) => a.rate = n,
            ("--seconds", Some(n)) => a.seconds = n,
            ("--litellm", _) if pair.len() == 2 => a.litellm = Some(pair[1].clone()),
            _ => {
                eprintln!("usage: bench_gateway [--requests N] [--rate PER_SECOND] [--seconds S] [--litellm PATH]");
                std::process::exit(2);
            }
        }
    }
    a
}

/// One endpoint under load: where, with which body and headers.
#[derive(Clone)]
struct Target {
    url: String,
    token: Option<String>,
    body: String,
}

async fn once(client: &reqwest::Client, t: &Target) -> bool {
    let mut r = client.post(&t.url).header("content-type", "application/json").body(t.body.clone());
    if let Some(tok) = &t.token {
        r = r.bearer_auth(tok);
    }
    let outcome = match r.send().await {
        Ok(resp) if resp.status().is_success() => resp.bytes().await.map(|_| ()).map_err(|e| e.to_string()),
        Ok(resp) => Err(format!("HTTP {}: {}", resp.status(), resp.text().await.unwrap_or_default())),
        Err(e) => Err(e.to_string()),
    };
    // The first failure is shown: a run of failures is a setup problem, not a figure.
    static SHOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if let Err(e) = &outcome {
        if !SHOWN.swap(true, Ordering::SeqCst) {
            eprintln!("bench_gateway: first failed request to {}: {}", t.url, e.chars().take(300).collect::<String>());
        }
    }
    outcome.is_ok()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[derive(Default)]
struct Run {
    latencies_ms: Vec<f64>,
    /// An open loop's latencies from each request's send, not its schedule: what vegeta
    /// reports (the anchors' figures). The schedule's also counts the load generator's own
    /// lateness — Tokio's timer wakes on a 1 ms tick — on both sides of the comparison.
    from_send_ms: Vec<f64>,
    failed: usize,
    wall: Duration,
}

/// `concurrency` clients, each sending its share of `n` requests back to back.
async fn closed(client: &reqwest::Client, t: &Target, concurrency: usize, n: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, t, next) = (client.clone(), t.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut failed) = (Vec::new(), 0);
            while next.fetch_add(1, Ordering::SeqCst) < n {
                let s = Instant::now();
                if once(&client, &t).await {
                    lat.push(s.elapsed().as_secs_f64() * 1000.0);
                } else {
                    failed += 1;
                }
            }
            (lat, failed)
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        if let Ok((l, f)) = task.await {
            run.latencies_ms.extend(l);
            run.failed += f;
        }
    }
    run.wall = start.elapsed();
    run.latencies_ms.sort_by(f64::total_cmp);
    run
}

/// Requests started at a fixed `rate` for `seconds`, each timed from its scheduled start.
async fn open(client: &reqwest::Client, t: &Target, rate: u64, seconds: u64) -> Run {
    let mut runs = open_turns(client, &[t], rate, seconds).await;
    runs.pop().unwrap_or_default()
}

/// Open loops at a fixed `rate` on each target in turns of one second, `seconds` turns per
/// target, each request timed from its scheduled start: the targets meet the same stretches
/// of a shared machine's noise, where runs one after the other may not (on 2 shared cores
/// the direct path's own p99 moves between 0.3 and 6 ms from one 10 s run to the next).
async fn open_turns(client: &reqwest::Client, targets: &[&Target], rate: u64, seconds: u64) -> Vec<Run> {
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now();
    let mut tasks: Vec<Vec<_>> = targets.iter().map(|_| Vec::new()).collect();
    for turn in 0..seconds * targets.len() as u64 {
        let which = (turn % targets.len() as u64) as usize;
        let begin = start + Duration::from_secs(turn);
        for i in 0..rate {
            let due = begin + interval * i as u32;
            tokio::time::sleep_until(due.into()).await;
            let (client, t) = (client.clone(), targets[which].clone());
            tasks[which].push(tokio::spawn(async move {
                let sent = Instant::now();
                let ok = once(&client, &t).await;
                (ok, due.elapsed().as_secs_f64() * 1000.0, sent.elapsed().as_secs_f64() * 1000.0)
            }));
        }
    }
    let mut runs = Vec::new();
    for tasks in tasks {
        let mut run = Run::default();
        for task in tasks {
            match task.await {
                Ok((true, ms, sent_ms)) => {
                    run.latencies_ms.push(ms);
                    run.from_send_ms.push(sent_ms);
                }
                _ => run.failed += 1,
            }
        }
        // Each target had its share of the wall clock.
        run.wall = start.elapsed() / targets.len() as u32;
        run.latencies_ms.sort_by(f64::total_cmp);
        run.from_send_ms.sort_by(f64::total_cmp);
        runs.push(run);
    }
    runs
}

/// CPU seconds this process's gateway threads (its runtime and the ledger's checkpointer)
/// have used: per request, the noise of a shared machine barely moves it, where it moves
/// the latencies' tails a lot.
fn gateway_cpu_s() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return f64::NAN };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !(comm.starts_with("gateway") || comm.starts_with("frugal-ledger")) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis, from the state: utime and stime are
        // the 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        ticks += field(11) + field(12);
    }
    // USER_HZ is 100 on Linux.
    ticks as f64 / 100.0
}

/// An open loop's run measured from each request's send.
fn from_send(r: &Run) -> Run {
    Run { latencies_ms: r.from_send_ms.clone(), failed: r.failed, wall: r.wall, ..Run::default() }
}

fn row(label: &str, direct: &Run, gateway: &Run, name: &str) {
    let (d50, d99) = (pct(&direct.latencies_ms, 0.5), pct(&direct.latencies_ms, 0.99));
    let (g50, g99) = (pct(&gateway.latencies_ms, 0.5), pct(&gateway.latencies_ms, 0.99));
    let rps = |r: &Run| r.latencies_ms.len() as f64 / r.wall.as_secs_f64();
    println!(
        "{label:<22} direct p50 {d50:>7.3} ms p99 {d99:>7.3} ms {:>7.0}/s | {name} p50 {g50:>7.3} ms p99 {g99:>7.3} ms {:>7.0}/s | added p50 {:>7.3} ms p99 {:>7.3} ms | failed {}/{}",
        rps(direct),
        rps(gateway),
        g50 - d50,
        g99 - d99,
        direct.failed,
        gateway.failed,
    );
}

const LITELLM_KEY: &str = "sk-bench-4f8a1c2e9b7d6053a1e2c3d4b5a69788";

/// The LiteLLM proxy in front of the simulated provider, once it answers.
fn start_litellm(program: &str, upstream: &str) -> Option<(std::process::Child, Target)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = std::process::Command::new(program)
        .args([
            "--model",
            "openai/sim-small",
            "--api_base",
            upstream,
            "--port",
            &port.to_string(),
            "--num_workers",
            "1",
        ])
        .env("OPENAI_API_KEY", "sk-sim")
        // LiteLLM refuses to start without one; its requests then carry it, as ours do a token.
        .env("LITELLM_MASTER_KEY", LITELLM_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let target = Target {
        url: format!("http://127.0.0.1:{port}/chat/completions"),
        token: Some(LITELLM_KEY.into()),
        body: r#"{"model":"openai/sim-small","max_tokens":16,"messages":[{"role":"user","content":"Say hello."}]}"#
            .into(),
    };
    let http = reqwest::blocking::Client::builder().no_proxy().build().ok()?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(180) {
        if http.get(format!("http://127.0.0.1:{port}/health/liveliness")).send().is_ok_and(|r| r.status().is_success())
        {
            return Some((child, target));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("bench_gateway: LiteLLM did not start within 3 minutes; skipped");
    None
}

/// The zero-delay upstream: every chat request gets the same short streamed answer, with
/// its usage, in OpenAI's shape. Returns its base URL (`http://127.0.0.1:PORT/v1`).
fn start_upstream() -> (tokio::runtime::Runtime, String) {
    use axum::response::IntoResponse;
    const ANSWER: &str = concat!(
        "data: {\"id\":\"m\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"m\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello \"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"m\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"there.\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"m\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,\"total_tokens\":14}}\n\n",
        "data: [DONE]\n\n",
    );
    const WHOLE: &str = r#"{"id":"m","object":"chat.completion","created":0,"model":"sim-small","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}"#;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("upstream")
        .enable_all()
        .build()
        .expect("upstream runtime");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|body: axum::body::Bytes| async move {
            // A proxy that asks for no stream (LiteLLM) gets one JSON body, as real APIs answer.
            if body.windows(13).any(|w| w == b"\"stream\":true") {
                ([("content-type", "text/event-stream")], ANSWER).into_response()
            } else {
                ([("content-type", "application/json")], WHOLE).into_response()
            }
        }),
    );
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (rt, format!("http://{addr}/v1"))
}

fn main() {
    let a = args();
    let (_upstream, upstream_url) = start_upstream();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "ledger = {:?}\n[budget]\nmonthly_usd = 1000000.0\n[[providers]]\nname = \"sim\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"sim-small\"\nneeds_key = false\nmax_retries = 0\n[[prices]]\nmodel = \"sim-small\"\ninput = 0.15\noutput = 0.6\n",
            dir.path().join("ledger.sqlite3"),
            upstream_url
        ),
    )
    .expect("config");
    let assistant = Arc::new(Assistant::open(Some(&config), None).expect("assistant"));
    let app = App {
        name: "bench".into(),
        monthly_micros: Some(500_000_000_000),
        local_only: false,
        models: Vec::new(),
        cache: false,
        created_at_ms: 0,
    };
    let token = assistant.spend().add_app(&app).expect("app");
    // A second app with the response cache on, asked the same repeatable request over and
    // over: every request after the first is a hit (no upstream, one $0 ledger row).
    let cached_app = App { name: "bench-cache".into(), cache: true, ..app.clone() };
    let cached_token = assistant.spend().add_app(&cached_app).expect("app");
    // The gateway on its own runtime, as `frugal serve` runs it; the load on another.
    let mut served_rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("BENCH_GATEWAY_WORKERS").ok().and_then(|n| n.parse::<usize>().ok()) {
        served_rt.worker_threads(n);
    }
    let served_rt = served_rt.thread_name("gateway").enable_all().build().expect("gateway runtime");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().thread_name("load").enable_all().build().expect("runtime");
    let listener = served_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = assistant.clone();
    served_rt.spawn(async move {
        let _ = frugal_gateway::serve(listener, served, 8 << 20, std::future::pending()).await;
    });
    let message = r#"[{"role":"user","content":"Say hello."}]"#;
    let direct = Target {
        url: format!("{upstream_url}/chat/completions"),
        token: None,
        body: format!(r#"{{"model":"sim-small","max_tokens":16,"stream":true,"messages":{message}}}"#),
    };
    let gateway = Target {
        url: format!("http://{addr}/v1/chat/completions"),
        token: Some(token),
        body: format!(r#"{{"model":"sim/sim-small","max_tokens":16,"messages":{message}}}"#),
    };
    let cached = Target {
        url: gateway.url.clone(),
        token: Some(cached_token),
        body: format!(r#"{{"model":"sim/sim-small","max_tokens":16,"temperature":0,"messages":{message}}}"#),
    };
    let ledger = assistant.spend().ledger().expect("ledger");
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(256).build().expect("client");
    println!(
        "bench_gateway: {} requests per closed loop, open loop at {}/s for {} s; upstream: zero-delay mock with keep-alive; the ledger reserves and settles every request",
        a.requests, a.rate, a.seconds
    );
    runtime.block_on(async {
        // Warm both paths (connections, the ledger's first writes).
        closed(&client, &direct, 4, 200).await;
        closed(&client, &gateway, 4, 200).await;
        // The fixed rate: direct and through the gateway in turns of a second (the same
        // stretches of the machine's noise), or with `BENCH_SEQUENTIAL` one run after the other.
        let fixed = || async {
            if std::env::var_os("BENCH_SEQUENTIAL").is_some() {
                [open(&client, &direct, a.rate, a.seconds).await, open(&client, &gateway, a.rate, a.seconds).await]
            } else {
                let runs = open_turns(&client, &[&direct, &gateway], a.rate, a.seconds).await;
                <[Run; 2]>::try_from(runs).unwrap_or_else(|_| unreachable!("one run per target"))
            }
        };
        let cpu = |since: f64, g: &Run| {
            println!(
                "{:<22} gateway CPU {:.0} us per request",
                "",
                (gateway_cpu_s() - since) * 1e6 / g.latencies_ms.len().max(1) as f64
            );
        };
        // `BENCH_FIXED=N`: only the fixed-rate phase, N times back to back (its p99 is noisy).
        if let Some(n) = std::env::var("BENCH_FIXED").ok().and_then(|n| n.parse::<usize>().ok()) {
            for _ in 0..n {
                let since = gateway_cpu_s();
                let [d, g] = fixed().await;
                row(&format!("fixed {}/s", a.rate), &d, &g, "frugal");
                row("  from send", &from_send(&d), &from_send(&g), "frugal");
                cpu(since, &g);
            }
            std::process::exit(0);
        }
        if let Some(var) = std::env::var_os("BENCH_PROFILE") {
            let clients = var.to_str().and_then(|n| n.parse::<usize>().ok()).filter(|&n| n > 1).unwrap_or(64);
            let since = gateway_cpu_s();
            let g = closed(&client, &gateway, clients, a.requests).await;
            println!(
                "{clients} clients through the gateway: {:.0}/s",
                g.latencies_ms.len() as f64 / g.wall.as_secs_f64()
            );
            cpu(since, &g);
            std::process::exit(0);
        }
        let group = || ledger.group_stats();
        let batched = |before: frugal_core::ledger::GroupStats| {
            let after = group();
            let (w, c) = (after.writes - before.writes, after.commits - before.commits);
            println!("{:<22} ledger: {w} reservations and settlements in {c} transactions", "");
        };
        for c in [1, 64] {
            let d = closed(&client, &direct, c, a.requests).await;
            let (before, since) = (group(), gateway_cpu_s());
            let g = closed(&client, &gateway, c, a.requests).await;
            row(&format!("{c} client(s)"), &d, &g, "frugal");
            batched(before);
            cpu(since, &g);
        }
        let (before, since) = (group(), gateway_cpu_s());
        let [d, g] = fixed().await;
        row(&format!("fixed {}/s", a.rate), &d, &g, "frugal");
        row("  from send", &from_send(&d), &from_send(&g), "frugal");
        batched(before);
        cpu(since, &g);
        closed(&client, &cached, 1, 10).await;
        for c in [1, 64] {
            let d = closed(&client, &direct, c, a.requests).await;
            let h = closed(&client, &cached, c, a.requests).await;
            row(&format!("{c} client(s), cached"), &d, &h, "hit");
        }
    });
    // LiteLLM starts only now, so its Python process does not share the CPU with Frugal's runs.
    let mut litellm = a.litellm.as_deref().and_then(|p| start_litellm(p, &upstream_url));
    runtime.block_on(async {
        if let Some((_, lite)) = &litellm {
            closed(&client, lite, 4, 100).await;
            for c in [1, 64] {
                let d = closed(&client, &direct, c, a.requests).await;
                let l = closed(&client, lite, c, a.requests).await;
                row(&format!("{c} client(s)"), &d, &l, "litellm");
            }
            let d = open(&client, &direct, a.rate, a.seconds).await;
            let l = open(&client, lite, a.rate, a.seconds).await;
            row(&format!("fixed {}/s", a.rate), &d, &l, "litellm");
            row("  from send", &from_send(&d), &from_send(&l), "litellm");
        }
    });
    if let Some((child, _)) = litellm.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let report = assistant.spend().report(Month::containing(frugal_now())).expect("report");
    let rows = assistant.spend().rows(Month::containing(frugal_now())).expect("rows");
    let pending = rows.iter().filter(|r| r.state == frugal_core::ledger::State::Pending).count();
    println!(
        "ledger: {} rows through the gateway, {pending} pending, ${:.4} spent, every one reserved before and settled after its request",
        rows.iter().filter(|r| r.app.as_deref() == Some("bench")).count(),
        frugal_core::ledger::usd(report.spent_micros)
    );
}

fn frugal_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

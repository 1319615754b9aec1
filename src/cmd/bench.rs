use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use frugal_core::llm::{CancelToken, Event, Message, Provider, Request, Sampling};
use frugal_core::local::{current_rss_bytes, human_bytes, peak_rss_bytes, LocalEngine};
use serde::Serialize;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Prompt tokens for the prompt-processing test (llama-bench's ppN).
    #[arg(long, default_value_t = 512)]
    pp: u32,
    /// Tokens for the generation test (llama-bench's tgN).
    #[arg(long, default_value_t = 128)]
    tg: u32,
    /// Repetitions; the median is reported.
    #[arg(long, default_value_t = 3)]
    reps: u32,
    /// Benchmark the index instead of the engine: index DIR into a temporary index, time
    /// queries against `grep -rl`, and measure freshness.
    #[arg(long, value_name = "DIR")]
    index: Option<PathBuf>,
    /// Benchmark the router instead: decision + budget reservation + settlement overhead per
    /// request (µs) and ledger writes per second, on a temporary ledger.
    #[arg(long, conflicts_with = "index")]
    router: bool,
}

#[derive(Serialize)]
struct Figures {
    model: String,
    model_path: PathBuf,
    threads: u32,
    context: u32,
    gpu_layers: u32,
    pp_tokens: u32,
    tg_tokens: u32,
    pp_tokens_per_s: f64,
    tg_tokens_per_s: f64,
    ttft_ms: f64,
    prefix_first_ttft_ms: f64,
    prefix_second_ttft_ms: f64,
    prefix_tokens: u32,
    prefix_cached_tokens: u32,
    load_ms: f64,
    startup_rss_bytes: u64,
    peak_rss_bytes: u64,
    loaded_rss_bytes: u64,
    idle_rss_bytes: u64,
    planned_ram_bytes: u64,
    plan_error_pct: f64,
}

/// Time from submitting `request` to its first text, and the usage it reported.
fn ttft(engine: &LocalEngine, request: Request) -> anyhow::Result<(f64, frugal_core::llm::Usage)> {
    let started = Instant::now();
    let mut first = None;
    let done = engine.stream(request, CancelToken::new()).collect_blocking_with(|e| {
        if matches!(e, Event::Text(_)) {
            first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
        }
    })?;
    Ok((first.unwrap_or(f64::NAN), done.usage))
}

pub fn run(config: Option<&Path>, model: Option<PathBuf>, json: bool, args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.index {
        return super::bench_index::run(dir, json, args.reps.max(5));
    }
    if args.router {
        return super::bench_router::run(json, args.reps);
    }
    let startup_rss = current_rss_bytes().unwrap_or(0);
    let assistant = super::open(config, model)?;
    let (info, plan) = assistant.models().plan()?;
    let engine = assistant.models().engine()?;
    if !json {
        eprintln!("benchmarking {} with {} threads, context {} …", info.name, plan.threads, plan.context);
    }
    let figures = engine.bench(args.pp, args.tg, args.reps).context("engine benchmark failed")?;

    let greedy = |messages: Vec<Message>| {
        Request::new(messages).with_max_tokens(8).with_sampling(Sampling { temperature: 0.0, ..Sampling::default() })
    };
    // A typical short chat turn, model warm, nothing cached.
    let (ttft_ms, _) =
        ttft(&engine, greedy(vec![Message::user("Summarize in one line: the meeting moved the launch to Friday.")]))?;
    // Prefix reuse: two requests sharing a long instruction block.
    let instructions =
        "You turn meeting transcripts into short, factual summaries. Keep names and dates exactly as written. \
        Never invent owners or deadlines. Use plain sentences. "
            .repeat(12);
    let (first_ms, _) =
        ttft(&engine, greedy(vec![Message::system(instructions.clone()), Message::user("Alice: we ship Monday.")]))?;
    let (second_ms, usage) =
        ttft(&engine, greedy(vec![Message::system(instructions), Message::user("Bob: budget is approved.")]))?;

    let peak = peak_rss_bytes().unwrap_or(0);
    // What the tray app holds once the idle timeout has unloaded the model.
    let loaded_rss = current_rss_bytes().unwrap_or(0);
    engine.unload();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while engine.is_loaded() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let idle_rss = current_rss_bytes().unwrap_or(0);
    let planned = plan.memory.total_ram_bytes;
    let out = Figures {
        model: info.name.clone(),
        model_path: info.path.clone(),
        threads: plan.threads,
        context: plan.context,
        gpu_layers: plan.gpu_layers,
        pp_tokens: args.pp,
        tg_tokens: args.tg,
        pp_tokens_per_s: figures.pp_tokens_per_s,
        tg_tokens_per_s: figures.tg_tokens_per_s,
        ttft_ms,
        prefix_first_ttft_ms: first_ms,
        prefix_second_ttft_ms: second_ms,
        prefix_tokens: usage.prompt_tokens,
        prefix_cached_tokens: usage.cached_prompt_tokens,
        load_ms: figures.load_ms,
        startup_rss_bytes: startup_rss,
        peak_rss_bytes: peak,
        loaded_rss_bytes: loaded_rss,
        idle_rss_bytes: idle_rss,
        planned_ram_bytes: planned,
        plan_error_pct: if peak > 0 { (planned as f64 - peak as f64) / peak as f64 * 100.0 } else { f64::NAN },
    };
    if json {
        super::print_json(&out)?;
    } else {
        println!(
            "model            {} ({} threads, context {}, {} GPU layers)",
            out.model, out.threads, out.context, out.gpu_layers
        );
        println!("prompt (pp{})    {:.1} tokens/s", out.pp_tokens, out.pp_tokens_per_s);
        println!("generation (tg{}) {:.1} tokens/s (sampled)", out.tg_tokens, out.tg_tokens_per_s);
        println!("first token      {:.0} ms (warm model, empty cache)", out.ttft_ms);
        println!(
            "prefix reuse     {:.0} ms → {:.0} ms first token ({} of {} prompt tokens cached)",
            out.prefix_first_ttft_ms, out.prefix_second_ttft_ms, out.prefix_cached_tokens, out.prefix_tokens
        );
        println!("load             {:.0} ms", out.load_ms);
        println!(
            "memory           peak RSS {} (planned {}, {:+.1}%); {} at start-up",
            human_bytes(out.peak_rss_bytes),
            human_bytes(out.planned_ram_bytes),
            out.plan_error_pct,
            human_bytes(out.startup_rss_bytes)
        );
        println!(
            "idle             {} after unloading (was {} loaded)",
            human_bytes(out.idle_rss_bytes),
            human_bytes(out.loaded_rss_bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

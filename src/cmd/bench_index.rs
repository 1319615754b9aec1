//! `frugal bench --index DIR`: indexing throughput, query latency against `grep -rl` over
//! the same files, and freshness (a saved file → searchable), all in one run so the ratios
//! compare like with like on a noisy machine.

use std::io::IsTerminal;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use frugal_core::index::{watch, Folder, Index, SearchQuery, Settings};
use frugal_core::local::{human_bytes, peak_rss_bytes};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Questions a Rust programmer asks of the standard library docs.
const QUERIES: &[&str] = &[
    "HashMap entry or_insert",
    "Vec with_capacity",
    "spawn a thread and join it",
    "read a file to a string",
    "iterator zip two vectors",
    "Option unwrap_or_else",
    "Arc Mutex shared state",
    "split a string on whitespace",
    "sort_by_key",
    "BufReader lines",
    "TcpListener bind accept",
    "Duration from_millis",
    "format width precision",
    "trait object dyn",
    "PhantomData",
    "atomic Ordering SeqCst",
    "process Command output",
    "environment variable",
    "Pin future poll",
    "binary heap priority queue",
];

#[derive(Serialize)]
struct IndexFigures {
    dir: String,
    files: u64,
    skipped: u64,
    bytes: u64,
    passages: u64,
    index_secs: f64,
    mb_per_s: f64,
    files_per_s: f64,
    peak_rss_bytes: u64,
    index_bytes: u64,
    queries: usize,
    query_p50_ms: f64,
    query_p95_ms: f64,
    grep_p50_ms: f64,
    grep_p95_ms: f64,
    grep_over_search_p50: f64,
    freshness_p50_ms: f64,
    freshness_max_ms: f64,
}

pub fn run(dir: &Path, json: bool, reps: u32) -> anyhow::Result<ExitCode> {
    let dir = dir.canonicalize().map_err(|e| anyhow::anyhow!("cannot open {}: {e}", dir.display()))?;
    let tmp = tempfile::tempdir()?;
    let (index, _) = Index::open(&tmp.path().join("index"), Settings::default())?;
    let folder = Folder { path: dir.clone(), local_only: false };

    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
    if let Ok(style) = ProgressStyle::with_template("{spinner} indexing [{bar:24}] {pos}/{len} files · {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let started = Instant::now();
    let report = index.update(std::slice::from_ref(&folder), &mut |p| {
        bar.set_length(p.files_total);
        bar.set_position(p.files_done);
    })?;
    let index_secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let peak = peak_rss_bytes().unwrap_or(0);
    let status = index.status(std::slice::from_ref(&folder))?;

    // Query latency: each query `reps` times, after one warm-up pass.
    let mut times = Vec::new();
    for q in QUERIES {
        index.search(&SearchQuery::new(*q))?;
    }
    for _ in 0..reps.max(1) {
        for q in QUERIES {
            let t = Instant::now();
            index.search(&SearchQuery::new(*q))?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    // The reference: `grep -rl` for the query's first word over the same files, once each
    // (the page cache is warm from indexing).
    let mut grep = Vec::new();
    for q in QUERIES {
        let word = q.split_whitespace().next().unwrap_or(q);
        let t = Instant::now();
        let status =
            Command::new("grep").args(["-rliF", word]).arg(&dir).stdout(Stdio::null()).stderr(Stdio::null()).status();
        if status.is_err() {
            anyhow::bail!("cannot run grep for the reference timing");
        }
        grep.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut fresh = freshness(Arc::new(index), tmp.path())?;

    let (q50, q95) = (percentile(&mut times, 50.0), percentile(&mut times, 95.0));
    let (g50, g95) = (percentile(&mut grep, 50.0), percentile(&mut grep, 95.0));
    let f = IndexFigures {
        dir: dir.display().to_string(),
        files: status.files,
        skipped: status.skipped.len() as u64,
        bytes: status.bytes,
        passages: status.passages,
        index_secs,
        mb_per_s: report.bytes_read as f64 / 1e6 / index_secs,
        files_per_s: report.files_seen as f64 / index_secs,
        peak_rss_bytes: peak,
        index_bytes: status.index_bytes,
        queries: QUERIES.len(),
        query_p50_ms: q50,
        query_p95_ms: q95,
        grep_p50_ms: g50,
        grep_p95_ms: g95,
        grep_over_search_p50: g50 / q50.max(1e-9),
        freshness_p50_ms: percentile(&mut fresh, 50.0),
        freshness_max_ms: fresh.iter().cloned().fold(0.0, f64::max),
    };
    if json {
        super::print_json(&f)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("index benchmark: {}", f.dir);
    println!(
        "  indexed    {} files ({} skipped), {} passages, {} in {:.1} s: {:.1} MB/s, {:.0} files/s",
        f.files,
        f.skipped,
        f.passages,
        human_bytes(f.bytes),
        f.index_secs,
        f.mb_per_s,
        f.files_per_s
    );
    println!(
        "  memory     peak RSS {} (writer heap 64 MB); index on disk {}",
        human_bytes(f.peak_rss_bytes),
        human_bytes(f.index_bytes)
    );
    println!(
        "  search     p50 {:.2} ms, p95 {:.2} ms over {} queries × {reps}",
        f.query_p50_ms, f.query_p95_ms, f.queries
    );
    println!(
        "  grep -rl   p50 {:.0} ms, p95 {:.0} ms → search is {:.0}× faster at the median",
        f.grep_p50_ms, f.grep_p95_ms, f.grep_over_search_p50
    );
    println!("  freshness  save → searchable: median {:.0} ms, max {:.0} ms", f.freshness_p50_ms, f.freshness_max_ms);
    Ok(ExitCode::SUCCESS)
}

/// Writes 15 new files into a watched folder, one at a time, and times each until search
/// finds it.
fn freshness(index: Arc<Index>, tmp: &Path) -> anyhow::Result<Vec<f64>> {
    let notes = tmp.join("notes");
    std::fs::create_dir_all(&notes)?;
    let notes = notes.canonicalize()?;
    let folders = vec![Folder { path: notes.clone(), local_only: false }];
    index.update(&folders, &mut |_| {})?;
    let _watcher = watch(index.clone(), folders, |_| {})?;
    std::thread::sleep(Duration::from_millis(300));
    let mut out = Vec::new();
    for i in 0..15 {
        let word = format!("freshmarker{i}x");
        let t = Instant::now();
        std::fs::write(notes.join(format!("note{i}.md")), format!("# Note\n\nthe {word} plan\n"))?;
        loop {
            if !index.search(&SearchQuery::new(&word))?.is_empty() {
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                anyhow::bail!("a saved file was not searchable after 10 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(out)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

//! Hybrid search latency at scale: every passage of an index gets a vector, then questions
//! go through the product's own search (`Library::search_with`) in keyword, meaning and
//! hybrid modes, in one run; p50/p95 per mode (meaning and hybrid include embedding the
//! query on the transformer), and the vectors' memory per 100k passages.
//!
//! ```text
//! cargo run --release --example bench_hybrid -- CONFIG QUESTIONS.toml [--random-vectors]
//! ```
//!
//! CONFIG names the index (`[index] dir`) and the embedding model. With `--random-vectors`,
//! passages that have no vector get a random unit vector first: the scan costs the same
//! whatever the numbers are, and it makes the latency of a 300,000-passage corpus
//! measurable without hours of embedding (recall is then meaningless and not reported).
//! Without it, recall@5 per mode is reported over the questions (`files` answer each).
//! With `--quick`, the passages without a vector first get quick vectors (the catch-up's
//! first pass, timed; the transformer's pass is not run), as a large folder is searched
//! in its first minutes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use frugal_core::index::SearchQuery;
use frugal_core::meaning::{model_id, SearchMode, VECTORS_FILE};
use frugal_core::vectors::Store;
use frugal_core::Assistant;

#[derive(serde::Deserialize)]
struct Questions {
    question: Vec<Question>,
}

#[derive(serde::Deserialize)]
struct Question {
    q: String,
    files: Vec<String>,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

/// Random unit vectors for every passage without one, through the store's own writer.
fn fill_random(assistant: &Assistant, model: &Path, dims: usize) -> Result<usize, Box<dyn std::error::Error>> {
    let index = assistant.library().index()?;
    let keys = index.passage_keys()?;
    let (mut store, _) = Store::open(&index.dir().join(VECTORS_FILE), &model_id(model)?, dims)?;
    store.writable()?;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let missing: Vec<u64> = keys.into_iter().filter(|k| !store.contains(*k)).collect();
    for chunk in missing.chunks(4096) {
        let items: Vec<(u64, Vec<f32>)> = chunk
            .iter()
            .map(|&k| {
                let v: Vec<f32> = (0..dims).map(|_| next()).collect();
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                (k, v.into_iter().map(|x| x / n).collect())
            })
            .collect();
        store.insert(&items)?;
    }
    Ok(missing.len())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(config), Some(questions)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench_hybrid CONFIG QUESTIONS.toml [--random-vectors | --quick]");
        std::process::exit(2);
    };
    let random = args.iter().any(|a| a == "--random-vectors");
    let quick = args.iter().any(|a| a == "--quick");
    let rss0 = frugal_core::local::current_rss_bytes();
    let assistant = Assistant::open(Some(Path::new(config)), None)?;
    let qs: Questions = toml::from_str(&std::fs::read_to_string(questions)?)?;
    if random {
        let status = assistant.library().meaning_status()?;
        let t = Instant::now();
        let n = fill_random(&assistant, &status.model.unwrap_or_default(), status.dimensions)?;
        eprintln!("random vectors for {n} passages in {:.1} s", t.elapsed().as_secs_f64());
    }
    if quick {
        let t = Instant::now();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let done = assistant.library().embed_pending(
            &mut |stage, _, _| {
                if stage == frugal_core::meaning::Stage::Transformer {
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            },
            &stop,
        )?;
        println!(
            "quick vectors for {} passages in {:.1} s (token table included when made)",
            done.quick,
            t.elapsed().as_secs_f64()
        );
    }
    let status = assistant.library().meaning_status()?;
    println!("{} passages have only a quick vector", status.quick);
    let rss1 = frugal_core::local::current_rss_bytes();
    println!(
        "{} of {} passages have vectors; store {:.1} MB in memory ({:.1} MB per 100k passages), process RSS +{:.0} MB since start (model + vectors + index)",
        status.ready,
        status.passages,
        status.memory_bytes as f64 / 1e6,
        status.memory_bytes as f64 / 1e6 * 100_000.0 / (status.ready + status.quick).max(1) as f64,
        rss1.unwrap_or(0).saturating_sub(rss0.unwrap_or(0)) as f64 / 1e6,
    );
    let root = assistant.library().folders().first().map(|f| f.path.clone()).unwrap_or_default();
    let doc_root: PathBuf = root.ancestors().find(|p| p.ends_with("html")).map_or(root.clone(), Path::to_path_buf);
    // One warm-up round (model load, page cache), then three timed rounds.
    for h in [SearchMode::Keyword, SearchMode::Meaning, SearchMode::Hybrid] {
        let _ = assistant.library().search_with(&SearchQuery::new("warm up"), h);
    }
    println!("| mode | recall@5 | p50 ms | p95 ms |\n|---|---|---|---|");
    for mode in [SearchMode::Keyword, SearchMode::Meaning, SearchMode::Hybrid] {
        let mut times = Vec::new();
        let mut found = 0;
        for round in 0..3 {
            for q in &qs.question {
                let mut query = SearchQuery::new(&q.q);
                query.limit = 5;
                let t = Instant::now();
                let hits = assistant.library().search_with(&query, mode)?.hits;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                if round == 0 && hits.iter().any(|h| q.files.iter().any(|f| h.path == doc_root.join(f))) {
                    found += 1;
                }
            }
        }
        times.sort_by(f64::total_cmp);
        let recall = if random { "-".to_string() } else { format!("{:.3}", found as f64 / qs.question.len() as f64) };
        println!("| {mode:?} | {recall} | {:.1} | {:.1} |", pct(&times, 0.5), pct(&times, 0.95));
    }
    Ok(())
}

//! Embedding throughput: the index's own passages (extracted and chunked as `frugal index
//! add` does) from a folder, embedded by the default embedding model on llama.cpp, at a few
//! batch sizes in one run, plus the latency of embedding one query.
//!
//! ```text
//! cargo run --release --example bench_embed [-- FOLDER [PASSAGES]]
//! ```
//!
//! FOLDER defaults to the Rust book installed with the toolchain (`rustup doc --book`);
//! PASSAGES (default 512) are taken from its files in name order. `EMBED_MODEL=PATH` measures
//! another GGUF embedding model than the default.

#[path = "support/walk.rs"]
mod walk;
use walk::files;

use std::path::PathBuf;
use std::time::Instant;

use frugal_core::index::{chunk::chunk, extract::extract, Kind};
use frugal_core::local::{EmbedOptions, Embedder};

fn rust_book() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let toolchains = PathBuf::from(home).join(".rustup/toolchains");
    let mut found: Vec<PathBuf> = std::fs::read_dir(toolchains)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("share/doc/rust/html/book"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found.into_iter().next()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(folder) = args.first().map(PathBuf::from).or_else(rust_book) else {
        eprintln!("bench_embed: no folder given and no Rust book found (rustup component add rust-docs)");
        std::process::exit(2);
    };
    let wanted: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(512);
    let model = std::env::var_os("EMBED_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("models/all-MiniLM-L6-v2.f16.gguf"));
    let mut paths = Vec::new();
    files(&folder, &mut paths);
    let mut passages = Vec::new();
    for p in &paths {
        let (Ok(bytes), Some(kind)) = (std::fs::read(p), Kind::of(p)) else { continue };
        let Ok(doc) = extract(p, &bytes, kind) else { continue };
        passages.extend(chunk(&doc.blocks).into_iter().map(|c| c.text).filter(|t| !t.trim().is_empty()));
        if passages.len() >= wanted {
            break;
        }
    }
    passages.truncate(wanted);
    let chars: usize = passages.iter().map(String::len).sum();
    println!(
        "bench_embed: {} passages ({} characters on average) from {}; model {}",
        passages.len(),
        chars / passages.len().max(1),
        folder.display(),
        model.display()
    );
    for (window, batch_tokens) in [(256, 256), (256, 512), (256, 1024), (256, 2048), (128, 1024)] {
        let options = EmbedOptions { window, batch_tokens, ..EmbedOptions::default() };
        let embedder = match Embedder::start(&model, options) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("bench_embed: {e} (run scripts/setup.sh)");
                std::process::exit(1);
            }
        };
        embedder.embed(&passages[..8.min(passages.len())]).expect("warm-up");
        let started = Instant::now();
        let out = embedder.embed(&passages).expect("embed");
        let secs = started.elapsed().as_secs_f64();
        let tokens: usize = out.iter().map(|e| e.tokens).sum();
        let cut = out.iter().filter(|e| e.truncated).count();
        let mut query_ms: Vec<f64> = (0..50)
            .map(|i| {
                let t = Instant::now();
                embedder.embed_one(&format!("how do I stop the program for a little while {i}")).expect("query");
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        query_ms.sort_by(f64::total_cmp);
        println!(
            "window {window:>3}, {batch_tokens:>4} tokens per call: {:>6.1} passages/s ({:>6.0} tokens/s), {cut} of {} cut to the window; one query p50 {:.1} ms p95 {:.1} ms",
            out.len() as f64 / secs,
            tokens as f64 / secs,
            out.len(),
            pct(&query_ms, 0.5),
            pct(&query_ms, 0.95)
        );
    }
}

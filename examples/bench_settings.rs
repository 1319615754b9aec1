//! What a settings change costs the next draft, with the model warm: the long-lived core
//! changes the settings in place and keeps the engine; before it, the tray app opened a new
//! assistant on every change, and the next request loaded the model again. Both, in one run.
//!
//! ```text
//! cargo run --release --example bench_settings [-- REPS]
//! ```
//!
//! Real default model, local only; the time measured is from the request to the first token
//! of a short draft (the model loads inside that time when it has to).

use std::path::{Path, PathBuf};
use std::time::Instant;

use frugal_core::llm::{CancelToken, Event};
use frugal_core::tasks::draft::{DraftTask, Length, Tone};
use frugal_core::{Assistant, RouteOptions};

fn first_token_ms(a: &Assistant) -> anyhow::Result<f64> {
    let task = DraftTask {
        notes: "- tell Sam the review moved to Friday 10am\n- same room".into(),
        reply_to: None,
        tone: Tone::Neutral,
        length: Length::Short,
        seed: 1,
        related: Default::default(),
    };
    let opts = RouteOptions { local_only: true, ..Default::default() };
    let cancel = CancelToken::new();
    let started = Instant::now();
    let mut first = None;
    let stop = cancel.clone();
    a.draft(&task, None, &opts, &cancel, &mut |e| {
        if matches!(e, Event::Text(_)) && first.is_none() {
            first = Some(started.elapsed().as_secs_f64() * 1000.0);
            // The first token is the figure: the rest of the draft is not measured.
            stop.cancel();
        }
    })
    .ok();
    first.ok_or_else(|| anyhow::anyhow!("no token came"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let reps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("ledger = {:?}\n[model]\npath = {:?}\n", dir.path().join("ledger.sqlite3"), model),
    )?;
    let open = |c: &Path| Assistant::open(Some(c), None);
    let a = open(&config)?;
    first_token_ms(&a)?; // load the model once
    let mut unchanged = Vec::new();
    let mut in_place = Vec::new();
    let mut reopened = Vec::new();
    for i in 0..reps {
        unchanged.push(first_token_ms(&a)?);
        // A settings change as the tray app makes it now: in place.
        a.spend().set_budget(5.0 + i as f64)?;
        in_place.push(first_token_ms(&a)?);
        // The same change as the tray app made it before: a new assistant from the saved file.
        let fresh = open(&config)?;
        fresh.spend().set_budget(6.0 + i as f64)?;
        reopened.push(first_token_ms(&fresh)?);
    }
    let (u, p, r) = (median(unchanged), median(in_place), median(reopened));
    println!("first draft token, model warm, medians of {reps}:");
    println!("  no change:                      {u:8.1} ms");
    println!("  after a change, in place:       {p:8.1} ms  ({:.2}x)", p / u);
    println!("  after a change, new assistant:  {r:8.1} ms  ({:.2}x, the model loads again)", r / u);
    println!("engines started by the long-lived assistant: {}", a.models().engine_starts());
    Ok(())
}

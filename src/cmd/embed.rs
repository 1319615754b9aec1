//! Embedding from the CLI: the catch-up after `index add`/`update`/`watch` with a progress
//! bar and Ctrl-C, and the meaning lines of `index status`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use frugal_core::local::human_bytes;
use frugal_core::meaning::{CatchUp, MeaningStatus, Stage};
use frugal_core::Assistant;
use indicatif::{ProgressBar, ProgressStyle};

/// Set by Ctrl-C: the catch-up stops after the batch in hand (what is written stays).
pub static CANCEL: AtomicBool = AtomicBool::new(false);

/// Embeds what has no vector, with a bar; Ctrl-C stops it cleanly. A problem (no model, a
/// corrupt one) is one warning: the keyword index is ready either way.
pub fn catch_up(assistant: &Assistant, json: bool) -> Option<CatchUp> {
    if !assistant.library().meaning_enabled() {
        // Turned off on purpose: nothing to warn about.
        return None;
    }
    // `index watch` installs its own handler, which also sets CANCEL.
    let _ = ctrlc::set_handler(|| CANCEL.store(true, Ordering::SeqCst));
    let bar = if std::io::stderr().is_terminal() && !json { ProgressBar::new(0) } else { ProgressBar::hidden() };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg} [{bar:24}] {pos}/{len} passages · {per_sec} · eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut stage = None;
    let result = assistant.library().embed_pending(
        &mut |now, done, of| {
            if stage != Some(now) {
                // A new pass: its own count and rate.
                stage = Some(now);
                bar.reset();
                bar.set_message(match now {
                    Stage::Quick => "quick vectors",
                    Stage::Transformer => "embedding",
                });
            }
            bar.set_length(of);
            bar.set_position(done);
        },
        &CANCEL,
    );
    bar.finish_and_clear();
    super::index_notice(assistant);
    match result {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("frugal: warning: {e}; keyword search works");
            None
        }
    }
}

/// The catch-up inside `index watch`: no bar, a line when something was embedded.
pub fn quietly(assistant: &Assistant, json: bool) {
    if !assistant.library().meaning_enabled() {
        return;
    }
    match assistant.library().embed_pending(&mut |_, _, _| {}, &CANCEL) {
        Ok(c) if c.embedded > 0 || c.dropped > 0 || c.quick > 0 => {
            if json {
                let _ = super::print_json(&serde_json::json!({ "meaning": c }));
            } else {
                print_catch_up(&c);
            }
        }
        Ok(_) => {}
        Err(e) => eprintln!("frugal: warning: {e}"),
    }
    super::index_notice(assistant);
}

pub fn print_catch_up(c: &CatchUp) {
    if c.busy {
        println!("meaning: another frugal is embedding these passages; search uses what is ready");
        return;
    }
    let share = (c.ready * 100).checked_div(c.passages).unwrap_or(100);
    if c.quick > 0 {
        println!(
            "meaning: {} passages searchable by meaning at once through quick vectors; the model refines them",
            c.quick
        );
    }
    let dropped = if c.dropped > 0 { format!(", {} stale vectors dropped", c.dropped) } else { String::new() };
    println!("meaning: {} passages embedded{dropped}; {} of {} ready ({share} %)", c.embedded, c.ready, c.passages);
    if c.cancelled {
        println!("stopped: `frugal index update` embeds the rest (keyword search covers them meanwhile)");
    }
}

pub fn print_status(m: &MeaningStatus) {
    if !m.enabled {
        println!("meaning search: off ([index] meaning = false)");
        return;
    }
    if let Some(problem) = &m.problem {
        if problem.starts_with("search by meaning is off") {
            println!("{problem}");
        } else {
            println!("meaning search: {problem}");
        }
        return;
    }
    let model =
        m.model.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let share = (m.ready * 100).checked_div(m.passages).unwrap_or(100);
    println!(
        "meaning search: {} of {} passages ready ({share} %), model {model}, vectors {} in memory",
        m.ready,
        m.passages,
        human_bytes(m.memory_bytes)
    );
    if m.quick > 0 {
        println!("  {} more searchable through quick vectors until the model embeds them", m.quick);
    }
    if m.ready < m.passages {
        println!("  `frugal index update` embeds the rest");
    }
}

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context;
use clap::Subcommand;
use frugal_core::index::{Progress, Status, UpdateReport, WatchEvent};
use frugal_core::local::human_bytes;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand, Debug)]
pub enum IndexCmd {
    /// Index a folder (and keep it in the config); re-running updates it.
    Add {
        /// The folder.
        dir: PathBuf,
        /// Never send text from this folder to a cloud model.
        #[arg(long)]
        local_only: bool,
        /// Build the keyword index only; passages get their vectors at the next update.
        #[arg(long)]
        keyword_only: bool,
    },
    /// Stop indexing a folder and forget its passages.
    Remove {
        /// The folder.
        dir: PathBuf,
    },
    /// Files, passages, size, last update, and every skipped file with its reason.
    Status,
    /// Re-read what changed in every folder (only changed files are read), then embed the
    /// passages that have no vector yet.
    Update {
        /// Keyword index only: embed nothing now.
        #[arg(long)]
        keyword_only: bool,
    },
    /// Bring the index up to date, then keep it fresh as files change (Ctrl-C stops).
    Watch,
}

pub fn run(config: Option<&Path>, json: bool, cmd: IndexCmd) -> anyhow::Result<ExitCode> {
    let assistant = super::open(config, None)?;
    match cmd {
        IndexCmd::Add { dir, local_only, keyword_only } => {
            let bar = bar("reading");
            let report = assistant.library().add(&dir, local_only, &mut |p| tick(&bar, p));
            bar.finish_and_clear();
            super::index_notice(&assistant);
            let report = report?;
            let meaning = if keyword_only { None } else { super::embed::catch_up(&assistant, json) };
            print_report(json, &format!("indexed {}", dir.display()), &report, meaning.as_ref())?;
        }
        IndexCmd::Remove { dir } => {
            let removed = assistant.library().remove(&dir)?;
            super::index_notice(&assistant);
            if json {
                super::print_json(&serde_json::json!({ "removed_files": removed, "folder": dir }))?;
            } else {
                println!("removed {} ({removed} files dropped from the index)", dir.display());
            }
        }
        IndexCmd::Status => {
            let status = assistant.library().status()?;
            super::index_notice(&assistant);
            let meaning = assistant.library().meaning_status()?;
            if json {
                super::print_json(&with_meaning(&status, Some(&meaning))?)?;
            } else {
                print_status(&status);
                super::embed::print_status(&meaning);
            }
        }
        IndexCmd::Update { keyword_only } => {
            let bar = bar("reading");
            let report = assistant.library().update(&mut |p| tick(&bar, p));
            bar.finish_and_clear();
            super::index_notice(&assistant);
            let report = report?;
            let meaning = if keyword_only { None } else { super::embed::catch_up(&assistant, json) };
            print_report(json, "updated", &report, meaning.as_ref())?;
        }
        IndexCmd::Watch => return watch(&assistant, json),
    }
    Ok(ExitCode::SUCCESS)
}

/// How often `index watch` looks at the config file for folders added or removed by
/// another `frugal` (a stat, nothing more, unless it changed).
const CONFIG_POLL: std::time::Duration = std::time::Duration::from_secs(2);

fn watch(assistant: &frugal_core::Assistant, json: bool) -> anyhow::Result<ExitCode> {
    if assistant.library().folders().is_empty() {
        anyhow::bail!("no folders are indexed yet: run `frugal index add DIR` first");
    }
    let (tx, rx) = mpsc::channel::<Option<WatchEvent>>();
    let stop = tx.clone();
    ctrlc::set_handler(move || {
        super::embed::CANCEL.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = stop.send(None);
    })
    .context("cannot install the Ctrl-C handler")?;
    let mut watcher = Some(start_watching(assistant, json, &tx, "up to date")?);
    let mut watched = assistant.library().folders();
    let mut checked = std::time::Instant::now();
    loop {
        let received = rx.recv_timeout(CONFIG_POLL);
        // Also between events: a busy folder must not keep new folders from being followed.
        if checked.elapsed() >= CONFIG_POLL {
            checked = std::time::Instant::now();
            // The settings service stats the file and takes it only when it changed.
            assistant.settings().refresh();
            if let Some(notice) = assistant.settings().take_notice() {
                eprintln!("frugal: warning: {notice}");
            }
            let folders = assistant.library().folders();
            if folders != watched {
                // Stop first: the catch-up and the old watcher would share the writer.
                watcher = None;
                if folders.is_empty() {
                    eprintln!("frugal: no folders are indexed any more; stopped watching");
                    break;
                }
                watcher = Some(start_watching(assistant, json, &tx, "folders changed, up to date")?);
                watched = folders;
            }
        }
        let event = match received {
            Ok(Some(event)) => event,
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
        };
        match event {
            WatchEvent::Updated { paths, report } => {
                if json {
                    super::print_json(&serde_json::json!({ "paths": paths, "report": report }))?;
                } else {
                    let names: Vec<String> = paths.iter().map(|p| super::escaped(p)).collect();
                    println!(
                        "updated: {} ({} indexed, {} removed, {} skipped, {} ms)",
                        names.join(", "),
                        report.files_indexed,
                        report.files_removed,
                        report.files_skipped,
                        report.elapsed_ms
                    );
                }
                for f in &report.missing_folders {
                    eprintln!("frugal: warning: {} is gone; its passages were removed", super::escaped(f));
                }
                super::embed::quietly(assistant, json);
            }
            WatchEvent::Error(e) => eprintln!("frugal: warning: {e}"),
        }
    }
    drop(watcher);
    Ok(ExitCode::SUCCESS)
}

/// Catches up with every folder, then watches them; events go to `tx`.
fn start_watching(
    assistant: &frugal_core::Assistant,
    json: bool,
    tx: &mpsc::Sender<Option<WatchEvent>>,
    what: &str,
) -> anyhow::Result<frugal_core::index::Watcher> {
    let bar = bar("catching up");
    // Another process (an `index add` that changed the folders) may hold the writer for a
    // while: wait for it, as the watcher itself does, rather than stop watching.
    let mut waited = 0;
    let report = loop {
        match assistant.library().update(&mut |p| tick(&bar, p)) {
            Err(frugal_core::CoreError::Index(frugal_core::index::IndexError::Busy(_))) if waited < 240 => {
                waited += 1;
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            other => break other,
        }
    };
    bar.finish_and_clear();
    super::index_notice(assistant);
    let report = report?;
    let meaning = super::embed::catch_up(assistant, json);
    print_report(json, what, &report, meaning.as_ref())?;
    let tx = tx.clone();
    let watcher = assistant.library().watch(move |e| {
        let _ = tx.send(Some(e));
    })?;
    eprintln!("frugal: watching {} folder(s); Ctrl-C stops", assistant.library().folders().len());
    Ok(watcher)
}

fn bar(msg: &'static str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg} [{bar:24}] {pos}/{len} files · {binary_bytes} · {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(msg);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn tick(bar: &ProgressBar, p: &Progress) {
    bar.set_length(p.files_total);
    bar.set_position(p.files_done);
}

/// A JSON report with search by meaning's part as its `meaning` field, when there is one.
fn with_meaning(
    report: &impl serde::Serialize,
    meaning: Option<&impl serde::Serialize>,
) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(report)?;
    if let (Some(object), Some(m)) = (value.as_object_mut(), meaning) {
        object.insert("meaning".into(), serde_json::to_value(m)?);
    }
    Ok(value)
}

fn print_report(
    json: bool,
    what: &str,
    r: &UpdateReport,
    meaning: Option<&frugal_core::meaning::CatchUp>,
) -> anyhow::Result<()> {
    if json {
        return super::print_json(&with_meaning(r, meaning)?);
    }
    let secs = r.elapsed_ms as f64 / 1000.0;
    println!(
        "{what}: {} files seen, {} read ({} passages, {}), {} unchanged, {} removed, {} skipped in {secs:.1} s",
        r.files_seen,
        r.files_indexed,
        r.passages,
        human_bytes(r.bytes_read),
        r.files_unchanged,
        r.files_removed,
        r.files_skipped,
    );
    if r.files_skipped > 0 {
        println!("see `frugal index status` for why files were skipped");
    }
    for f in &r.missing_folders {
        eprintln!("frugal: warning: {} is not there; its passages were removed", f.display());
    }
    if let Some(m) = meaning {
        super::embed::print_catch_up(m);
    }
    Ok(())
}

fn print_status(s: &Status) {
    let when = s.last_update.map_or_else(|| "never".to_string(), super::describe_time);
    println!("index: {} ({}), last update {when}", s.index_dir.display(), human_bytes(s.index_bytes));
    if s.folders.is_empty() {
        println!("no folders yet: `frugal index add DIR`");
    }
    for f in &s.folders {
        let mark = if f.local_only { "  local-only" } else { "" };
        if f.exists {
            println!(
                "  {}  {} files, {} passages, {}{mark}",
                f.path.display(),
                f.files,
                f.passages,
                human_bytes(f.bytes)
            );
        } else {
            println!("  {}  missing (not found on disk){mark}", f.path.display());
        }
    }
    println!("total: {} files, {} passages, {}", s.files, s.passages, human_bytes(s.bytes));
    if !s.skipped.is_empty() {
        println!("skipped ({}):", s.skipped.len());
        for k in &s.skipped {
            println!("  {}: {}", super::escaped(&k.path), k.reason);
        }
    }
    if !s.notes.is_empty() {
        println!("notes ({}):", s.notes.len());
        for k in &s.notes {
            println!("  {}: {}", super::escaped(&k.path), k.reason);
        }
    }
}

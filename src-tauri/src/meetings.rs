//! The watched "Meetings" folder: transcripts saved there after the app started (or after
//! the folder was chosen) are summarized on their own, the summary written next to each as
//! `NAME.summary.md`, with a notification. Nobody waits for these, so a summary that needs
//! the cloud goes there by batch, at the batch price: the local one is written meanwhile and
//! the cloud's replaces it when the batch is back (see `levers`). A scan every few seconds, not a file watcher: one
//! `read_dir` of one folder is cheaper to keep idle than another inotify thread, and a
//! transcript is only taken once it has stopped growing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::state::AppState;

/// Transcript kinds worth summarizing unasked (plain `.txt` could be anything); recordings
/// are too, transcribed first (their transcript, `NAME.vtt`, then shares their summary).
const KINDS: &[&str] = &["vtt", "srt"];

fn wanted(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| KINDS.contains(&e)) || frugal_core::transcribe::is_audio(p)
}

/// What a scan remembers: files already summarized, failed or present before.
#[derive(Debug, Default)]
pub struct Seen {
    folder: Option<PathBuf>,
    files: HashSet<PathBuf>,
}

pub(crate) use frugal_core::tasks::summarize::summary_path;

fn transcripts(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().map(|e| e.path()).filter(|p| p.is_file() && wanted(p)).collect()
}

/// One scan: summarizes every new, settled transcript; returns the summaries written.
pub fn scan_once(state: &AppState, seen: &mut Seen) -> Vec<PathBuf> {
    let assistant = state.assistant();
    let Some(dir) = assistant.config().app.meetings_folder.clone() else {
        seen.folder = None;
        return Vec::new();
    };
    if seen.folder.as_ref() != Some(&dir) {
        // A newly chosen folder: what is already there is history, not news.
        seen.folder = Some(dir.clone());
        seen.files = transcripts(&dir).into_iter().collect();
        return Vec::new();
    }
    let mut written = Vec::new();
    for path in transcripts(&dir) {
        // A recording the tray is making or finishing is summarized by Stop, not here.
        if seen.files.contains(&path) || summary_path(&path).exists() || state.recorder().owns(&path) {
            continue;
        }
        // Still being written (a recorder flushing captions)? Wait for the next scan.
        let settled = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= Duration::from_secs(2));
        if !settled {
            continue;
        }
        seen.files.insert(path.clone());
        if frugal_core::transcribe::is_audio(&path) {
            // Its transcript is written beside it: the same meeting, never a second summary
            // (nor a second paid batch while the first is out).
            seen.files.insert(frugal_core::speech::transcript_path(&path));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Nobody waits on an automatic summary: an escalation goes by batch, at half price.
        let opts = frugal_core::RouteOptions { batch: assistant.config().levers.batch_meetings, ..Default::default() };
        match crate::commands::summarize_file_as(&assistant, &path, opts, &|_| {}) {
            Ok(view) => match std::fs::write(summary_path(&path), &view.markdown) {
                Ok(()) => {
                    state.shell().notify("Meeting summarized", &name);
                    written.push(summary_path(&path));
                }
                Err(e) => state.shell().notify("Could not save the summary", &format!("{name}: {e}")),
            },
            Err(e) if e.code == "queued" => {
                state.shell().notify("Summary on its way", &format!("{name}: {}", e.message))
            }
            Err(e) => state.shell().notify("Could not summarize", &format!("{name}: {}", e.message)),
        }
        state.shell().spend_changed();
    }
    written
}

/// Scans every `every` for the life of the app.
pub fn spawn<R: tauri::Runtime>(app: tauri::AppHandle<R>, every: Duration) {
    use tauri::Manager;
    let _ = std::thread::Builder::new().name("frugal-meetings".into()).spawn(move || {
        let mut seen = Seen::default();
        loop {
            scan_once(&app.state::<AppState>(), &mut seen);
            std::thread::sleep(every);
        }
    });
}

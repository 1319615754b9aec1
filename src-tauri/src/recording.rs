//! Record meeting / Stop, from the tray or the summary window.
//!
//! Recording writes the microphone and the system's sound to the Meetings folder (else the
//! data folder's `Meetings`) and transcribes as it goes, so Stop leaves only the last window
//! to recognise: the transcript is saved beside the recording, summarized, the summary saved
//! as `NAME.summary.md` beside it, and a notification says so. While recording, the tray
//! shows the elapsed time; the Meetings folder's scan leaves the file alone.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use frugal_core::Assistant;

use frugal_core::transcribe::record::Recording;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::{blocking, summarize_file};
use crate::error::{CmdResult, CommandError};
use crate::shell::Shell;
use crate::state::AppState;
use crate::views::{StreamEvent, SummaryView};

/// The recording in progress, and recordings being finished (Stop pressed, summary pending).
#[derive(Default, Debug)]
pub struct Recorder {
    active: Mutex<Option<(Recording, Instant)>>,
    /// Set while a recording's sound-server streams open (the lock is not held meanwhile).
    starting: std::sync::atomic::AtomicBool,
    finishing: Mutex<Vec<PathBuf>>,
}

/// What the UI shows about a recording in progress.
#[derive(Clone, Debug, Serialize, specta::Type)]
pub struct RecordingView {
    pub path: String,
    /// Seconds since Record.
    pub elapsed_secs: u32,
}

impl Recorder {
    /// The recording in progress, if any.
    pub fn status(&self) -> Option<RecordingView> {
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        active.as_ref().map(|(r, started)| RecordingView {
            path: r.path().display().to_string(),
            elapsed_secs: started.elapsed().as_secs().min(u64::from(u32::MAX)) as u32,
        })
    }

    /// Whether `path` — the recording, or its transcript or summary beside it — belongs to a
    /// recording being made or finished (the Meetings folder must not take it: Stop does).
    pub fn owns(&self, path: &Path) -> bool {
        let stem = |p: &Path| p.with_extension("");
        let mine = stem(path);
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        active.as_ref().is_some_and(|(r, _)| stem(r.path()) == mine)
            || self.finishing.lock().unwrap_or_else(PoisonError::into_inner).iter().any(|p| stem(p) == mine)
    }

    /// Whether the recording in progress ended by itself (both sources gone, the disk full).
    pub fn ended_by_itself(&self) -> bool {
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        active.as_ref().is_some_and(|(r, _)| r.has_ended())
    }
}

/// What starting and stopping need, owned, so Stop can run off the command's thread.
pub struct Parts {
    pub recorder: Arc<Recorder>,
    pub assistant: Arc<Assistant>,
    pub shell: Arc<dyn Shell>,
}

impl Parts {
    pub fn of(state: &AppState) -> Parts {
        Parts { recorder: state.recorder(), assistant: state.assistant(), shell: state.shell() }
    }
}

/// Starts recording; an error if one is already running or nothing can be recorded.
pub fn start(parts: &Parts) -> CmdResult<RecordingView> {
    use std::sync::atomic::Ordering;
    let Parts { recorder, assistant, shell } = parts;
    {
        let active = recorder.active.lock().unwrap_or_else(PoisonError::into_inner);
        if active.is_some() || recorder.starting.swap(true, Ordering::SeqCst) {
            return Err(CommandError::new("input", "a meeting is already being recorded"));
        }
    }
    // The sound server's streams open without the lock held: the tray's menu reads it.
    let dir =
        assistant.config().app.meetings_folder.clone().unwrap_or_else(|| assistant.paths().data_dir.join("Meetings"));
    // No speech model or helper: the meeting is still recorded, without a live transcript
    // (a meeting not recorded cannot be transcribed later; Stop says what to fix).
    let live_problem = match assistant.speech_options() {
        Ok(o) if o.model.is_file() => None,
        Ok(o) => Some(format!("no speech model at {}", o.model.display())),
        Err(e) => Some(e.to_string()),
    };
    let recording = match assistant.start_recording(Some(&dir), live_problem.is_none(), [None, None]) {
        Ok(r) => r,
        Err(e) => {
            recorder.starting.store(false, Ordering::SeqCst);
            return Err(e.into());
        }
    };
    let view = RecordingView { path: recording.path().display().to_string(), elapsed_secs: 0 };
    let mut notes = recording.notes();
    if let Some(why) = live_problem {
        notes.push(format!("recording without a live transcript: {why}"));
    }
    *recorder.active.lock().unwrap_or_else(PoisonError::into_inner) = Some((recording, Instant::now()));
    recorder.starting.store(false, Ordering::SeqCst);
    if !notes.is_empty() {
        shell.notify("Recording", &notes.join("; "));
    }
    shell.refresh_tray();
    Ok(view)
}

/// Stops the recording, saves its transcript and summary beside it, and returns the summary.
pub fn stop(parts: &Parts, on_event: &dyn Fn(StreamEvent)) -> CmdResult<SummaryView> {
    let Parts { recorder, assistant, shell } = parts;
    let taken = recorder.active.lock().unwrap_or_else(PoisonError::into_inner).take();
    let Some((recording, _)) = taken else {
        return Err(CommandError::new("input", "no meeting is being recorded"));
    };
    let path = recording.path().to_path_buf();
    recorder.finishing.lock().unwrap_or_else(PoisonError::into_inner).push(path.clone());
    shell.refresh_tray();
    let result = finish(assistant, recording, on_event);
    recorder.finishing.lock().unwrap_or_else(PoisonError::into_inner).retain(|p| p != &path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match &result {
        Ok(_) => shell.notify("Meeting summarized", &format!("{name}: the summary is saved beside the recording")),
        Err(e) => shell.notify("Meeting recorded, not summarized", &format!("{name}: {}", e.message)),
    }
    shell.spend_changed();
    result
}

/// Quitting while a meeting records: the recording is finished (every captured second
/// written, its header whole, the helper gone) and its live transcript saved beside it when
/// it is ready; the summary is left for later, since the user is leaving. Without this the
/// process ended under the writer: the last second's audio and the transcript were lost.
pub fn stop_for_quit(parts: &Parts) {
    let taken = parts.recorder.active.lock().unwrap_or_else(PoisonError::into_inner).take();
    let Some((recording, _)) = taken else { return };
    let mut finished = recording.stop();
    if matches!(finished.transcript, Some(Ok(_))) {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let _ = parts.assistant.recording_transcript(&mut finished, &mut |_| {}, &cancel);
    }
}

fn finish(assistant: &Assistant, recording: Recording, on_event: &dyn Fn(StreamEvent)) -> CmdResult<SummaryView> {
    on_event(StreamEvent::status("finishing the transcript"));
    let mut finished = recording.stop();
    if !matches!(finished.transcript, Some(Ok(_))) {
        on_event(StreamEvent::status("transcribing the recording"));
    }
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let (vtt, transcript) = assistant.recording_transcript(&mut finished, &mut |_| {}, &cancel)?;
    if transcript.cues.is_empty() {
        return Err(CommandError::new(
            "input",
            format!("no speech was recorded ({}); the recording is kept", finished.notes.join("; ")),
        ));
    }
    on_event(StreamEvent::status("summarizing"));
    let mut view = summarize_file(assistant, &vtt, false, on_event)?;
    let summary = crate::meetings::summary_path(&finished.path);
    std::fs::write(&summary, &view.markdown)
        .map_err(|e| CommandError::new("input", format!("cannot save {}: {e}", summary.display())))?;
    view.source = finished.path.display().to_string();
    Ok(view)
}

/// Starts recording a meeting (microphone and system sound) into the Meetings folder.
#[tauri::command]
#[specta::specta]
pub async fn record_start(state: State<'_, AppState>) -> CmdResult<RecordingView> {
    let parts = Parts::of(&state);
    blocking(move || start(&parts)).await
}

/// Stops recording: the transcript and the summary are saved beside the recording.
#[tauri::command]
#[specta::specta]
pub async fn record_stop(state: State<'_, AppState>, on_event: Channel<StreamEvent>) -> CmdResult<SummaryView> {
    let parts = Parts::of(&state);
    // Stopping waits for the last window's recognition and the summary.
    let view = blocking(move || stop(&parts, &|e| drop(on_event.send(e)))).await;
    if let Ok(v) = &view {
        state.answer_shown(crate::shell::Window::Summary, &v.route.run_id);
    }
    view
}

/// The recording in progress, if any.
#[tauri::command]
#[specta::specta]
pub fn record_status(state: State<'_, AppState>) -> Option<RecordingView> {
    state.recorder().status()
}

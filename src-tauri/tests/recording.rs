//! Record meeting / Stop through the app's commands under Tauri's mock runtime: a private
//! PulseAudio server with null sinks stands in for the microphone and the speakers, speech
//! made with espeak-ng plays into them, and the real recorder, whisper helper and default
//! model do the rest.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use frugal_app::shell::{Shell, Window};
use frugal_app::state::AppState;
use serde_json::{json, Value};

#[derive(Default)]
struct Calls(Mutex<Vec<String>>);

impl Shell for Calls {
    fn spend_changed(&self) {}
    fn refresh_tray(&self) {
        self.0.lock().unwrap().push("refresh_tray".into());
    }
    fn index_changed(&self) {}
    fn notify(&self, title: &str, body: &str) {
        self.0.lock().unwrap().push(format!("notify {title}: {body}"));
    }
    fn pick_folder(&self) -> Option<PathBuf> {
        None
    }
    fn pick_transcript(&self) -> Option<PathBuf> {
        None
    }
    fn save_csv(&self, _: &str) -> Option<PathBuf> {
        None
    }
    fn open_window(&self, _: Window) -> Result<(), String> {
        Ok(())
    }
    fn autostart(&self, _: Option<bool>) -> Result<bool, String> {
        Ok(false)
    }
    fn open_file(&self, _: &Path) -> Result<(), String> {
        Ok(())
    }
    fn set_hotkey(&self, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn paste_back(&self, _: &str, _: Option<frugal_app::paste::Target>) -> Result<(), String> {
        Ok(())
    }
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

use common::invoke;

#[test]
fn record_then_stop_saves_the_recording_its_transcript_and_its_summary() {
    // The only test in this binary: the sound server's address is process-wide.
    let runtime = tempfile::tempdir().unwrap();
    let Some(pulse) = common::SoundServer::start(runtime.path()) else { return };
    std::env::set_var("XDG_RUNTIME_DIR", runtime.path());
    std::env::set_var("PULSE_RUNTIME_PATH", runtime.path().join("pulse"));

    let speech = tempfile::tempdir().unwrap();
    let made = Command::new(repo("tests/speech/make-meeting.sh"))
        .arg(repo("tests/speech/planning-call.txt"))
        .arg(speech.path())
        .status()
        .unwrap();
    assert!(made.success());

    let dir = tempfile::tempdir().unwrap();
    let config = common::sandbox_config(dir.path());
    let meetings = dir.path().join("meetings");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = text.replacen(
        "[model]",
        &format!(
            "[app]\nmeetings_folder = {meetings:?}\n[transcribe]\nmodel = {:?}\n[model]",
            repo("models/ggml-tiny.en-q8_0.bin")
        ),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let shell = Arc::new(Calls::default());
    let state = AppState::open(Some(config), shell.clone()).unwrap();
    let (app, webview) = common::mock_app(state, "summary");

    assert_eq!(invoke(&webview, "record_status", json!({})).unwrap(), Value::Null);
    let e = invoke(&webview, "record_stop", json!({ "onEvent": "__CHANNEL__:7" })).unwrap_err();
    assert_eq!((e["code"].as_str(), e["message"].as_str()), (Some("input"), Some("no meeting is being recorded")));

    let started = invoke(&webview, "record_start", json!({})).unwrap();
    let wav = PathBuf::from(started["path"].as_str().unwrap());
    assert!(wav.starts_with(&meetings) && wav.extension().unwrap() == "wav", "{started}");
    let e = invoke(&webview, "record_start", json!({})).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("already being recorded"), "{e}");
    std::thread::sleep(Duration::from_millis(1000));
    let players = (
        pulse.play(&speech.path().join("Dana.wav"), "fake_mic"),
        pulse.play(&speech.path().join("Sam.wav"), "frugal_test"),
    );
    std::thread::sleep(Duration::from_millis(12_000));
    let status = invoke(&webview, "record_status", json!({})).unwrap();
    assert!(status["elapsed_secs"].as_u64().unwrap() >= 12, "{status}");
    // The Meetings folder's scan leaves the recording to Stop.
    {
        use tauri::Manager;
        let state = app.state::<AppState>();
        assert!(state.recorder().owns(&wav));
    }

    let summary = invoke(&webview, "record_stop", json!({ "onEvent": "__CHANNEL__:7" })).unwrap();
    drop(players);
    assert_eq!(summary["source"].as_str(), Some(wav.to_str().unwrap()), "{summary}");
    assert!(summary["markdown"].as_str().unwrap().contains("## Summary"), "{summary}");
    let vtt = std::fs::read_to_string(wav.with_extension("vtt")).unwrap();
    assert!(vtt.contains("<v Me>") && vtt.contains("<v Others>"), "{vtt}");
    assert!(vtt.to_lowercase().contains("community garden"), "{vtt}");
    let stem = wav.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(std::fs::read_to_string(wav.with_file_name(format!("{stem}.summary.md"))).unwrap().contains("## Summary"));
    let calls = shell.0.lock().unwrap().clone();
    assert!(calls.iter().any(|c| c.starts_with("notify Meeting summarized")), "{calls:?}");
    assert!(
        calls.iter().filter(|c| *c == "refresh_tray").count() >= 2,
        "the tray shows Record, Stop, Record: {calls:?}"
    );
    assert_eq!(invoke(&webview, "record_status", json!({})).unwrap(), Value::Null);
    // The speech model lived in the helper, which is gone: the app is back to its own size.
    assert_eq!(helpers_of_this_process(), 0, "a frugal-whisper helper outlived the recording");

    // Quit while recording: the recording is finished whole, its transcript saved, the
    // helper gone; nothing is summarized (the user is leaving).
    let started = invoke(&webview, "record_start", json!({})).unwrap();
    let wav = PathBuf::from(started["path"].as_str().unwrap());
    let player = pulse.play(&speech.path().join("Dana.wav"), "fake_mic");
    std::thread::sleep(Duration::from_millis(6_000));
    {
        use tauri::Manager;
        frugal_app::recording::stop_for_quit(&frugal_app::recording::Parts::of(&app.state::<AppState>()));
    }
    drop(player);
    let bytes = std::fs::read(&wav).unwrap();
    let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff + 8, bytes.len(), "the WAV's header does not cover all its audio");
    // 16 kHz, two channels, 16 bits: at least 3 s of the 6 (the sound server's streams take
    // a moment to open).
    assert!(bytes.len() > 3 * 16_000 * 2 * 2, "{} bytes for 6 s", bytes.len());
    assert!(wav.with_extension("vtt").is_file(), "the live transcript was not saved");
    assert_eq!(invoke(&webview, "record_status", json!({})).unwrap(), Value::Null);
    assert_eq!(helpers_of_this_process(), 0, "a frugal-whisper helper outlived the recording");

    // No speech model: the meeting is recorded all the same, without a live transcript; Stop
    // keeps the recording and says what to fix.
    {
        use tauri::Manager;
        let missing = dir.path().join("no-such-model.bin");
        app.state::<AppState>()
            .change(|a| {
                a.settings().update(|c| {
                    c.transcribe.model = Some(missing.clone());
                    Ok(())
                })
            })
            .unwrap();
    }
    let started = invoke(&webview, "record_start", json!({})).unwrap();
    let wav = PathBuf::from(started["path"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(2_000));
    let calls = shell.0.lock().unwrap().clone();
    assert!(calls.iter().any(|c| c.contains("recording without a live transcript")), "{calls:?}");
    let e = invoke(&webview, "record_stop", json!({ "onEvent": "__CHANNEL__:7" })).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("no speech model"), "{e}");
    assert!(std::fs::metadata(&wav).unwrap().len() > 44, "the recording was not kept");
}

/// Running `frugal-whisper` processes started by this one (Linux `/proc`).
fn helpers_of_this_process() -> usize {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid …
            let Some((comm, rest)) = stat.split_once(") ") else { return false };
            comm.ends_with("(frugal-whisper") && rest.split_whitespace().nth(1) == Some(me.as_str())
        })
        .count()
}

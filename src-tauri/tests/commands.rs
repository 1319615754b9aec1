//! The command layer under Tauri's mock runtime: the same invoke handler the app uses, real
//! core underneath (the default model, a real index and ledger in a temp dir), and a
//! recording shell in place of the desktop.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::model;
use std::sync::{Arc, Mutex};

use frugal_app::shell::{Shell, Window};
use frugal_app::state::AppState;
use serde_json::{json, Value};
use tauri::test::MockRuntime;
use tauri::{Manager, WebviewWindow};

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    folder: Mutex<Option<PathBuf>>,
}

impl Recorder {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    fn push(&self, s: String) {
        self.calls.lock().unwrap().push(s);
    }
}

impl Shell for Recorder {
    fn spend_changed(&self) {
        self.push("spend_changed".into());
    }
    fn refresh_tray(&self) {
        self.push("refresh_tray".into());
    }
    fn index_changed(&self) {
        self.push("index_changed".into());
    }
    fn notify(&self, title: &str, _body: &str) {
        self.push(format!("notify {title}"));
    }
    fn pick_folder(&self) -> Option<PathBuf> {
        self.folder.lock().unwrap().clone()
    }
    fn pick_transcript(&self) -> Option<PathBuf> {
        None
    }
    fn save_csv(&self, _name: &str) -> Option<PathBuf> {
        None
    }
    fn open_window(&self, which: Window) -> Result<(), String> {
        self.push(format!("open {}", which.label()));
        Ok(())
    }
    fn autostart(&self, enable: Option<bool>) -> Result<bool, String> {
        self.push(format!("autostart {enable:?}"));
        Ok(enable.unwrap_or(false))
    }
    fn open_file(&self, path: &Path) -> Result<(), String> {
        self.push(format!("open file {}", path.display()));
        Ok(())
    }
    /// Another app holds Ctrl+Alt+T (a terminal's, on many desktops).
    fn set_hotkey(&self, old: &str, new: &str) -> Result<(), String> {
        if new == "Ctrl+Alt+T" {
            return Err("Ctrl+Alt+T cannot be used (another app may hold it)".into());
        }
        self.push(format!("hotkey {old} -> {new}"));
        Ok(())
    }
    fn paste_back(&self, text: &str, target: Option<frugal_app::paste::Target>) -> Result<(), String> {
        self.push(format!("paste {} bytes into {target:?}", text.len()));
        Ok(())
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    shell: Arc<Recorder>,
    webview: WebviewWindow<MockRuntime>,
    _app: tauri::App<MockRuntime>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let config = common::sandbox_config(&root);
    let shell = Arc::new(Recorder::default());
    let state = AppState::open(Some(config), shell.clone()).unwrap();
    let (app, webview) = common::mock_app(state, "settings");
    Harness { _dir: dir, dir: root, shell, webview, _app: app }
}

impl Harness {
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        common::invoke(&self.webview, cmd, args)
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }
}

/// A channel argument as the JS side sends it; the mock runtime discards what it carries.
fn channel() -> Value {
    json!("__CHANNEL__:7")
}

#[test]
fn status_budget_and_errors_cross_as_code_and_message() {
    let h = harness();
    let s = h.ok("app_status", json!({}));
    assert_eq!(s["tray_label"], "This month: $0.00 (no cloud budget)");
    assert_eq!(s["model"], "SmolLM2-135M-Instruct.Q4_1.gguf");

    let s = h.ok("set_budget", json!({ "monthlyUsd": 20.0 }));
    assert_eq!(s["cap_usd"], 20.0);
    assert_eq!(s["tray_label"], "This month: $0.00 of $20");
    assert!(h.shell.calls().contains(&"spend_changed".to_string()), "the tray follows a budget change");
    let saved = std::fs::read_to_string(h.dir.join("config.toml")).unwrap();
    assert!(saved.contains("monthly_usd = 20.0"), "{saved}");

    let e = h.invoke("set_budget", json!({ "monthlyUsd": -3.0 })).unwrap_err();
    assert_eq!(e["code"], "input");
    assert!(e["message"].as_str().unwrap().contains("between $0"));

    let e = h.invoke("ask", json!({ "question": "anything?", "cloud": false, "onEvent": channel() })).unwrap_err();
    assert_eq!(e["code"], "input");
    assert!(e["message"].as_str().unwrap().contains("no folders are indexed"), "{e}");

    let e = h.invoke("spend", json!({ "monthText": "2026-13" })).unwrap_err();
    assert_eq!(e["code"], "ledger");
    assert!(!e["message"].as_str().unwrap().contains('\n'));

    let v = h.ok("set_caps", json!({ "dailyUsd": 2.5, "perRequestUsd": null }));
    assert_eq!(v["budget"]["daily_usd"], 2.5);
    assert_eq!(v["budget"]["per_request_usd"], Value::Null);
    let v = h.ok("set_policy", json!({ "task": "draft", "escalate": "never", "maxTier": "economy" }));
    let draft = v["policies"].as_array().unwrap().iter().find(|p| p["task"] == "draft").unwrap().clone();
    assert_eq!((draft["escalate"].as_str(), draft["max_tier"].as_str()), (Some("never"), Some("economy")));
    let saved = std::fs::read_to_string(h.dir.join("config.toml")).unwrap();
    assert!(saved.contains("daily_usd = 2.5") && saved.contains("escalate = \"never\""), "{saved}");
    let e =
        h.invoke("set_policy", json!({ "task": "draft", "escalate": "sometimes", "maxTier": "economy" })).unwrap_err();
    assert_eq!(e["code"], "input");
    assert_eq!(h.ok("autostart", json!({ "enable": true })), json!(true));
    assert!(h.shell.calls().contains(&"autostart Some(true)".to_string()));

    let e = h.invoke("open_window", json!({ "which": "nowhere" })).unwrap_err();
    assert_eq!(e["code"], "input");
    h.ok("open_window", json!({ "which": "draft" }));
    assert!(h.shell.calls().contains(&"open draft".to_string()));
}

#[test]
fn folders_are_added_indexed_and_removed() {
    let h = harness();
    let notes = h.dir.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("offsite.md"), "# Offsite\n\nThe lake house is booked for the offsite.\n").unwrap();
    std::fs::write(notes.join("binary.txt"), b"\x00\x01\x02 not text").unwrap();
    let v = h.ok("add_folder", json!({ "path": notes, "localOnly": true, "onEvent": channel() }));
    assert_eq!(v["folders"][0]["local_only"], true);
    assert_eq!(v["files"], 1, "{v}");
    assert!(v["passages"].as_u64().unwrap() >= 1);
    assert_eq!(v["skipped"][0]["path"], notes.canonicalize().unwrap().join("binary.txt").display().to_string());
    // A cited file opens; nothing outside the indexed folders does.
    let cited = notes.canonicalize().unwrap().join("offsite.md");
    h.ok("open_source", json!({ "path": cited }));
    assert!(h.shell.calls().contains(&format!("open file {}", cited.display())), "{:?}", h.shell.calls());
    for outside in
        [h.dir.join("config.toml"), notes.join("../config.toml"), PathBuf::from("/etc/passwd"), notes.clone()]
    {
        let e = h.invoke("open_source", json!({ "path": outside })).unwrap_err();
        assert_eq!(e["code"], "input", "{outside:?}: {e}");
    }
    assert_eq!(h.shell.calls().iter().filter(|c| c.starts_with("open file")).count(), 1);
    let v = h.ok("set_paused", json!({ "paused": true }));
    assert_eq!(v["paused"], true);
    // Changed while paused (or while the app was closed): caught up when watching resumes,
    // not only what changes after.
    std::fs::remove_file(notes.join("offsite.md")).unwrap();
    std::fs::write(notes.join("retreat.md"), "# Retreat\n\nThe retreat is in the mountains.\n").unwrap();
    std::fs::write(notes.join("agenda.md"), "# Agenda\n\nBudget review, then hiking.\n").unwrap();
    h.ok("set_paused", json!({ "paused": false }));
    let start = std::time::Instant::now();
    while h.ok("index_status", json!({}))["files"] != 2 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "not caught up: {}",
            h.ok("index_status", json!({}))
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    h.ok("set_paused", json!({ "paused": true }));
    let v = h.ok("remove_folder", json!({ "path": notes }));
    assert!(v["folders"].as_array().unwrap().is_empty());
    let e = h
        .invoke("add_folder", json!({ "path": "/no/such/folder", "localOnly": false, "onEvent": channel() }))
        .unwrap_err();
    assert_eq!(e["code"], "input");
}

/// A draft on the real default model, through the command, lands in the ledger and the
/// spend review shows it.
#[test]
fn a_local_draft_is_metered_and_shows_in_spend_review() {
    let h = harness();
    let d = h.ok(
        "draft",
        json!({ "text": "- tell Sam the review moved to Friday 10am\n- same room", "tone": "friendly", "cloud": false, "seed": 1, "onEvent": channel() }),
    );
    assert!(!d["subject"].as_str().unwrap().is_empty(), "{d}");
    assert_eq!(d["route"]["route"], "local");
    let s = h.ok("spend", json!({ "monthText": null }));
    assert!(s["local_requests"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["cloud_requests"], 0);
    assert_eq!(s["rows"][0]["task"], "draft");
    assert_eq!(s["rows"][0]["route"], "local");
    let e = h
        .invoke("draft", json!({ "text": "  ", "tone": "neutral", "cloud": false, "seed": 1, "onEvent": channel() }))
        .unwrap_err();
    assert_eq!(e["code"], "input");
    let e = h.invoke("draft_estimate", json!({ "text": "hello", "tone": "neutral" })).unwrap_err();
    assert_eq!(e["code"], "route", "no provider configured: {e}");
}

/// The window records what the user did with each answer, and notices the ones left unused;
/// a failed draft arrives marked, in plain words, with the next step this setup offers.
#[test]
fn outcomes_are_recorded_and_a_failed_draft_says_why() {
    let h = harness();
    let draft = |seed: u32| {
        h.ok(
            "draft",
            json!({ "text": "- tell Sam the review moved to Friday 10am\n- room B2.14", "tone": "neutral", "cloud": false, "seed": seed, "onEvent": channel() }),
        )
    };
    let first = draft(1);
    let run1 = first["route"]["run_id"].as_str().unwrap().to_string();
    assert!(!run1.is_empty(), "{first}");
    let failed: Vec<&Value> = first["checks"].as_array().unwrap().iter().filter(|c| c["passed"] == false).collect();
    let v = &first["verdict"];
    assert_eq!(v["failed"], !failed.is_empty(), "{first}");
    assert_eq!(v["problems"].as_array().unwrap().len(), failed.len(), "one plain line per failed check: {v}");
    if !failed.is_empty() {
        // No cloud provider here: the first next step is adding one.
        assert_eq!(v["next"][0]["kind"], "add_provider", "{v}");
    }
    // A second draft replaces the first unused: that one was dismissed. The second is copied.
    let second = draft(2);
    let run2 = second["route"]["run_id"].as_str().unwrap().to_string();
    assert_ne!(run1, run2);
    h.ok("record_outcome", json!({ "runId": run2, "outcome": "copied" }));
    // A third is left on screen when the window closes: dismissed too.
    let third = draft(3);
    h._app.state::<AppState>().window_closed("draft");
    let s = h.ok("spend", json!({ "monthText": null }));
    let marks: Vec<&str> = s["rows"].as_array().unwrap().iter().filter_map(|r| r["used"].as_str()).collect();
    assert!(marks.contains(&"copied") && marks.contains(&"dismissed"), "{marks:?}");
    assert_eq!(s["outcomes"]["rated_runs"], 3, "{}", s["outcomes"]);
    assert_eq!(s["outcomes"]["useful"], 1);
    assert!(third["route"]["run_id"].as_str().is_some_and(|r| !r.is_empty()));
    // A later regenerate never undoes the copy.
    h.ok("record_outcome", json!({ "runId": run2, "outcome": "regenerated" }));
    assert_eq!(h.ok("spend", json!({ "monthText": null }))["outcomes"]["useful"], 1);
    // Bad input: one line each.
    let e = h.invoke("record_outcome", json!({ "runId": run2, "outcome": "loved" })).unwrap_err();
    assert_eq!(e["code"], "input");
    let e = h.invoke("record_outcome", json!({ "runId": "no-such-run", "outcome": "copied" })).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("no answer with run id"), "{e}");
    let e = h.invoke("record_outcome", json!({ "runId": " ", "outcome": "copied" })).unwrap_err();
    assert_eq!(e["code"], "input");
}

/// A transcript saved into the meetings folder is summarized on its own (history is not).
#[test]
fn new_transcripts_in_the_meetings_folder_are_summarized() {
    use tauri::Manager;
    let h = harness();
    let meetings = h.dir.join("meetings");
    std::fs::create_dir_all(&meetings).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/meetings/standup.vtt");
    std::fs::copy(&fixture, meetings.join("last-week.vtt")).unwrap();
    let v = h.ok("set_meetings_folder", json!({ "path": meetings }));
    assert_eq!(v["meetings_folder"], meetings.canonicalize().unwrap().display().to_string());
    let state = h._app.state::<AppState>();
    let mut seen = frugal_app::meetings::Seen::default();
    assert!(frugal_app::meetings::scan_once(&state, &mut seen).is_empty(), "what was there is history");
    std::fs::copy(&fixture, meetings.join("today.vtt")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100)); // settled: no longer growing
    let written = frugal_app::meetings::scan_once(&state, &mut seen);
    let expected = meetings.canonicalize().unwrap().join("today.summary.md");
    assert_eq!(written, vec![expected.clone()]);
    assert!(std::fs::read_to_string(&expected).unwrap().contains("## Summary"));
    assert!(!meetings.join("last-week.summary.md").exists());
    assert!(h.shell.calls().contains(&"notify Meeting summarized".to_string()), "{:?}", h.shell.calls());
    assert!(frugal_app::meetings::scan_once(&state, &mut seen).is_empty(), "summarized once");
}

/// A recording saved into the meetings folder is transcribed first, then summarized: the
/// transcript and the summary land beside it, and the transcript is not summarized again.
#[test]
fn new_recordings_in_the_meetings_folder_are_transcribed_and_summarized() {
    use tauri::Manager;
    let h = harness();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let speech = h.dir.join("speech");
    let made = std::process::Command::new(root.join("tests/speech/make-meeting.sh"))
        .arg(root.join("tests/speech/planning-call.txt"))
        .arg(&speech)
        .status()
        .unwrap();
    assert!(made.success());
    let config = h.dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}[transcribe]\nmodel = {:?}\n",
            root.join("models/ggml-tiny.en-q8_0.bin").canonicalize().unwrap()
        ),
    )
    .unwrap();
    let meetings = h.dir.join("meetings");
    std::fs::create_dir_all(&meetings).unwrap();
    h.ok("set_meetings_folder", json!({ "path": meetings }));
    let state = h._app.state::<AppState>();
    let mut seen = frugal_app::meetings::Seen::default();
    assert!(frugal_app::meetings::scan_once(&state, &mut seen).is_empty());
    std::fs::copy(speech.join("mono.wav"), meetings.join("call.wav")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let written = frugal_app::meetings::scan_once(&state, &mut seen);
    let dir = meetings.canonicalize().unwrap();
    assert_eq!(written, vec![dir.join("call.summary.md")]);
    assert!(std::fs::read_to_string(dir.join("call.vtt")).unwrap().to_lowercase().contains("community garden"));
    assert!(std::fs::read_to_string(dir.join("call.summary.md")).unwrap().contains("## Summary"));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(frugal_app::meetings::scan_once(&state, &mut seen).is_empty(), "call.vtt shares call.summary.md");
}

/// The catalog lists what fits; a GGUF file becomes the model in use and is saved.
#[test]
fn models_are_listed_and_switched() {
    let h = harness();
    let list = h.ok("models", json!({}));
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert!(names.len() >= 3, "{names:?}");
    assert!(list.as_array().unwrap().iter().any(|m| m["recommended"] == true), "one model is recommended");
    assert!(list.as_array().unwrap().iter().all(|m| !m["reason"].as_str().unwrap().is_empty()));
    // The default model, configured by path outside the models folder, is the catalog's
    // SmolLM2 in use: not offered for download again.
    let smol = list.as_array().unwrap().iter().find(|m| m["name"].as_str().unwrap().contains("smollm2")).unwrap();
    assert_eq!((smol["in_use"].as_bool(), smol["installed"].as_bool()), (Some(true), Some(true)), "{smol}");
    assert_eq!(list.as_array().unwrap().iter().filter(|m| m["in_use"] == true && m["kind"] == "llm").count(), 1);
    for kind in ["llm", "speech", "embedding"] {
        let recommended = list.as_array().unwrap().iter().filter(|m| m["kind"] == kind && m["recommended"] == true);
        assert_eq!(recommended.count(), 1, "{kind}");
    }
    h.ok("use_model", json!({ "name": model() }));
    assert!(std::fs::read_to_string(h.dir.join("config.toml")).unwrap().contains("SmolLM2-135M-Instruct.Q4_1.gguf"));
    // A whisper.cpp file is a speech model: it becomes `[transcribe] model`, in use as such.
    let speech = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/ggml-tiny.en-q8_0.bin");
    let list = h.ok("use_model", json!({ "name": speech }));
    let config = std::fs::read_to_string(h.dir.join("config.toml")).unwrap();
    assert!(config.contains("[transcribe]") && config.contains("ggml-tiny.en-q8_0.bin"), "{config}");
    let tiny = list.as_array().unwrap().iter().find(|m| m["name"] == "whisper-tiny.en").unwrap();
    assert_eq!((tiny["kind"].as_str(), tiny["in_use"].as_bool()), (Some("speech"), Some(true)), "{tiny}");
    let e = h.invoke("use_model", json!({ "name": "no-such-model" })).unwrap_err();
    assert_eq!(e["code"], "no_model", "{e}");
    let e = h.invoke("pull_model", json!({ "name": "no-such-model", "onEvent": channel() })).unwrap_err();
    assert_eq!(e["code"], "no_model", "{e}");
}

/// "Test connection" makes one tiny metered request to the provider.
#[test]
fn test_connection_reaches_the_provider_and_is_billed() {
    use frugal_cloud::sim::{Fault, SimServer};
    let server = SimServer::start(frugal_cloud::Kind::OpenAi).unwrap();
    let h = harness();
    let config = h.dir.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[budget]\nmonthly_usd = 5.0\n[[providers]]\nname = \"sim\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"sim-small\"\nneeds_key = false\nmax_retries = 0\n[[prices]]\nmodel = \"sim-small\"\ninput = 1.0\noutput = 2.0\n",
        server.base_url()
    ));
    std::fs::write(&config, text).unwrap();
    h.ok("set_budget", json!({ "monthlyUsd": 5.0 })); // re-opens the assistant on the new config
    let r = h.ok("test_provider", json!({ "name": "sim" }));
    assert_eq!((r["route"].as_str(), r["provider"].as_str()), (Some("cloud"), Some("sim")));
    assert!(r["cost_usd"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(server.requests().len(), 1);
    assert!(server.requests()[0].body.contains("\"max_tokens\":1"));
    server.set_fault(Some(Fault::ServerError));
    let e = h.invoke("test_provider", json!({ "name": "sim" })).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("HTTP 500"), "{e}");
    let e = h.invoke("test_provider", json!({ "name": "nobody" })).unwrap_err();
    assert_eq!(e["code"], "input");
}

/// A provider added from Settings is saved (with the price given for its model), can be
/// tested at once, refuses duplicates and bad input in one line, and is removed with its price.
#[test]
fn providers_are_added_from_settings_tested_and_removed() {
    use frugal_cloud::sim::SimServer;
    let server = SimServer::start(frugal_cloud::Kind::OpenAi).unwrap();
    let h = harness();
    h.ok("set_budget", json!({ "monthlyUsd": 5.0 }));
    let new = |name: &str, kind: &str, price: Option<(f64, f64)>| {
        json!({ "provider": {
            "name": name, "kind": kind, "base_url": server.base_url(), "model": "house-model", "tier": "economy",
            "needs_key": false, "key": "", "price_in_usd": price.map(|p| p.0), "price_out_usd": price.map(|p| p.1),
        }})
    };
    let list = h.ok("add_provider", new("house", "openai", Some((1.0, 3.0))));
    let p = &list[0];
    assert_eq!((p["name"].as_str(), p["kind"].as_str(), p["key"].as_str()), (Some("house"), Some("openai"), None));
    assert_eq!((p["price_in_usd"].as_f64(), p["price_out_usd"].as_f64()), (Some(1.0), Some(3.0)), "{p}");
    let saved = std::fs::read_to_string(h.dir.join("config.toml")).unwrap();
    assert!(saved.contains("name = \"house\"") && saved.contains("model = \"house-model\""), "{saved}");
    let r = h.ok("test_provider", json!({ "name": "house" }));
    assert_eq!(r["provider"], "house");
    assert_eq!(server.requests().len(), 1);

    for (args, code, says) in [
        (new("House", "openai", None), "input", "already exists"),
        (new("other", "gopher", None), "input", "openai or anthropic"),
        (new("other", "openai", Some((f64::NAN, 1.0))), "input", ""),
        (new("has space", "openai", None), "input", "letters, digits"),
    ] {
        let e = h.invoke("add_provider", args).unwrap_err();
        assert_eq!(e["code"], code, "{e}");
        assert!(e["message"].as_str().unwrap().contains(says) && !e["message"].as_str().unwrap().contains('\n'), "{e}");
    }
    // Without a price the provider is listed and says why it will never be called.
    let list = h.ok("add_provider", new("unpriced", "anthropic", None));
    let p = list.as_array().unwrap().iter().find(|p| p["name"] == "unpriced").unwrap().clone();
    assert!(p["price_error"].as_str().unwrap().contains("no price is known"), "{p}");
    assert!(h.invoke("test_provider", json!({ "name": "unpriced" })).is_err());
    assert_eq!(server.requests().len(), 1, "an unpriced provider is never called");

    let list = h.ok("remove_provider", json!({ "name": "house" }));
    assert_eq!(list.as_array().unwrap().len(), 1);
    let saved = std::fs::read_to_string(h.dir.join("config.toml")).unwrap();
    assert!(
        !saved.contains("name = \"house\"") && !saved.contains("[[prices]]"),
        "the provider and its price go: {saved}"
    );
    assert_eq!(h.invoke("remove_provider", json!({ "name": "house" })).unwrap_err()["code"], "input");
}

/// The draft hotkey: checked, registered before it is saved, refused (old one kept) when
/// another app holds it, back to the default with null; Paste back goes to the noted window.
#[test]
fn the_hotkey_is_configurable_and_paste_back_reaches_the_shell() {
    let h = harness();
    assert_eq!(h.ok("settings", json!({}))["hotkey"], "CmdOrCtrl+Shift+Space");
    let v = h.ok("set_hotkey", json!({ "hotkey": "Ctrl+Alt+D" }));
    assert_eq!(v["hotkey"], "Ctrl+Alt+D");
    assert!(h.shell.calls().contains(&"hotkey CmdOrCtrl+Shift+Space -> Ctrl+Alt+D".to_string()));
    assert_eq!(h.ok("app_status", json!({}))["hotkey"], "Ctrl+Alt+D");
    let saved = std::fs::read_to_string(h.dir.join("config.toml")).unwrap();
    assert!(saved.contains("hotkey = \"Ctrl+Alt+D\""), "{saved}");
    for (bad, says) in
        [("Ctrl+Alt+Nope", "is not a shortcut"), ("Shift+D", "needs Ctrl, Alt or Super"), ("D", "needs Ctrl")]
    {
        let e = h.invoke("set_hotkey", json!({ "hotkey": bad })).unwrap_err();
        assert_eq!(e["code"], "input", "{e}");
        assert!(e["message"].as_str().unwrap().contains(says), "{e}");
    }
    let e = h.invoke("set_hotkey", json!({ "hotkey": "Ctrl+Alt+T" })).unwrap_err();
    assert_eq!(e["code"], "hotkey");
    assert_eq!(h.ok("settings", json!({}))["hotkey"], "Ctrl+Alt+D", "a refused hotkey keeps the old one");
    let v = h.ok("set_hotkey", json!({ "hotkey": null }));
    assert_eq!(v["hotkey"], "CmdOrCtrl+Shift+Space");
    assert!(!std::fs::read_to_string(h.dir.join("config.toml")).unwrap().contains("hotkey"));

    let e = h.invoke("paste_back", json!({ "text": "  " })).unwrap_err();
    assert_eq!(e["code"], "input");
    h.webview.state::<AppState>().note_paste_target(Some(frugal_app::paste::Target(0x2a)));
    h.ok("paste_back", json!({ "text": "Subject: Friday\n\nHi Sam" }));
    assert!(h.shell.calls().contains(&"paste 23 bytes into Some(Target(42))".to_string()), "{:?}", h.shell.calls());
}

/// The UI calls commands only through generated bindings; they must match the Rust types.
#[test]
fn the_committed_typescript_bindings_are_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("bindings.ts");
    frugal_app::export_bindings(&fresh).unwrap();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
    let (a, b) = (std::fs::read_to_string(&fresh).unwrap(), std::fs::read_to_string(&committed).unwrap_or_default());
    assert!(a == b, "ui/src/bindings.ts is stale: run `frugal-app --export-bindings ui/src/bindings.ts`");
}

/// The CLI changes the config while the app runs: the app takes it (the tray line, the
/// watcher's folders) without re-opening anything; a file it cannot read keeps the settings
/// in effect and says why once.
#[test]
fn a_config_changed_by_another_process_is_followed() {
    let h = harness();
    let state = h._app.state::<AppState>();
    assert!(!state.follow_config(), "nothing changed yet");
    let file = h.dir.join("config.toml");
    let notes = h.dir.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!("\n[budget]\nmonthly_usd = 4.0\n\n[[index.folders]]\npath = {:?}\n", notes));
    std::fs::write(&file, &text).unwrap();
    assert!(state.follow_config());
    let s = h.ok("app_status", json!({}));
    assert_eq!((s["cap_usd"].as_f64(), s["folders"].as_u64()), (Some(4.0), Some(1)), "{s}");
    let calls = h.shell.calls();
    for want in ["index_changed", "refresh_tray", "spend_changed"] {
        assert!(calls.iter().any(|c| c == want), "{want} missing: {calls:?}");
    }
    std::fs::write(&file, "[budget]\nmonthly_usd = \n").unwrap();
    assert!(!state.follow_config());
    assert!(h.shell.calls().iter().any(|c| c == "notify Settings file not applied"), "{:?}", h.shell.calls());
    let s = h.ok("app_status", json!({}));
    assert_eq!(s["cap_usd"].as_f64(), Some(4.0), "the broken file replaced the settings: {s}");
}

/// Settings → Gateway: the app serves the gateway on the port asked for, over real HTTP; an
/// app added there gets a token that works at once and its requests show in its row; a port
/// in use is an error in the window, not a silent nothing; off closes the port.
#[test]
fn the_gateway_is_served_from_settings_with_its_apps() {
    let h = harness();
    let g = h.ok("gateway", json!({}));
    assert_eq!((g["enabled"].as_bool(), g["running"].as_bool()), (Some(false), Some(false)), "{g}");
    assert_eq!(g["base_url"], "http://127.0.0.1:4141/v1");
    let tools: Vec<&str> = g["snippets"].as_array().unwrap().iter().filter_map(|s| s["tool"].as_str()).collect();
    for t in ["OpenAI SDK (Python)", "Anthropic SDK (Python)", "Continue (config.yaml)", "Open WebUI", "aider"] {
        assert!(tools.contains(&t), "{tools:?}");
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let g = h.ok("set_gateway", json!({ "enabled": true, "port": port }));
    let base = format!("http://127.0.0.1:{port}/v1");
    assert_eq!((g["running"].as_bool(), g["base_url"].as_str()), (Some(true), Some(base.as_str())), "{g}");
    assert!(g["snippets"][0]["text"].as_str().unwrap().contains(&base));
    let saved = std::fs::read_to_string(h.dir.join("config.toml")).unwrap();
    assert!(saved.contains("[gateway]") && saved.contains("enabled = true"), "{saved}");

    let n = h.ok("add_gateway_app", json!({ "name": "ide", "monthlyUsd": 2.0, "localOnly": true }));
    let token = n["token"].as_str().unwrap().to_string();
    assert_eq!(n["gateway"]["apps"][0]["name"], "ide");
    assert_eq!(n["gateway"]["apps"][0]["budget_usd"], 2.0);
    let e = h.invoke("add_gateway_app", json!({ "name": "no spaces", "monthlyUsd": null, "localOnly": false }));
    assert!(e.unwrap_err()["message"].as_str().unwrap().contains("not an app name"));

    let http = reqwest::blocking::Client::builder().no_proxy().build().unwrap();
    let r = http.get(format!("{base}/models")).bearer_auth(&token).send().unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{base}/chat/completions"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(
            json!({ "model": "frugal/auto", "max_tokens": 8, "messages": [{ "role": "user", "content": "Hi." }] })
                .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frugal-route"], "local");
    let g = h.ok("gateway", json!({}));
    assert_eq!(g["apps"][0]["requests"], 1, "{g}");
    assert_eq!(g["apps"][0]["local_share"], 1.0, "{g}");
    let spend = h.ok("spend", json!({ "monthText": null }));
    let by_app = spend["by_app"].as_array().unwrap();
    assert!(by_app.iter().any(|a| a["app"] == "ide" && a["requests"] == 1 && a["local_requests"] == 1), "{by_app:?}");

    // A `[gateway]` edited by hand while the app runs is served as written (here: CORS for
    // one page, which was refused before).
    let preflight = || {
        // A moment without a listener while it restarts reads as "not allowed (yet)".
        let r = http
            .request(reqwest::Method::OPTIONS, format!("{base}/chat/completions"))
            .header("origin", "http://page.test")
            .header("access-control-request-method", "POST")
            .send()
            .ok()?;
        r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(preflight(), None);
    let file = h.dir.join("config.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("[gateway]", "[gateway]\ncors_origins = [\"http://page.test\"]");
    std::fs::write(&file, text).unwrap();
    assert!(h._app.state::<AppState>().follow_config());
    let start = std::time::Instant::now();
    while preflight().as_deref() != Some("http://page.test") {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "the edited [gateway] was not applied");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // Removed: its token stops working at once.
    h.ok("remove_gateway_app", json!({ "name": "ide" }));
    assert_eq!(http.get(format!("{base}/models")).bearer_auth(&token).send().unwrap().status(), 401);

    // Off: the port closes (requests in flight would finish first).
    let g = h.ok("set_gateway", json!({ "enabled": false, "port": port }));
    assert_eq!((g["running"].as_bool(), g["error"].as_str()), (Some(false), None), "{g}");
    let closed = |url: &str| {
        let start = std::time::Instant::now();
        while http.get(url).send().is_ok() {
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "{url} still answers");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    closed(&format!("{base}/models"));

    // A port in use: an error saying so, and the gateway shown as not running.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let e = h.invoke("set_gateway", json!({ "enabled": true, "port": busy })).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("cannot listen on"), "{e}");
    let g = h.ok("gateway", json!({}));
    assert_eq!(g["running"], false);
    assert!(g["error"].as_str().unwrap().contains(&busy.to_string()), "{g}");
    // Freed, the next try serves.
    drop(taken);
    let g = h.ok("set_gateway", json!({ "enabled": true, "port": busy }));
    assert_eq!((g["running"].as_bool(), g["error"].as_str()), (Some(true), None), "{g}");
    assert_eq!(http.get(format!("http://127.0.0.1:{busy}/health")).send().unwrap().status(), 200);

    // Quit while an answer streams: the app stops the gateway and waits for the answer to
    // finish and its row to settle, rather than leaving it for the next start to charge at
    // its worst case.
    let n = h.ok("add_gateway_app", json!({ "name": "notes", "monthlyUsd": null, "localOnly": true }));
    let token = n["token"].as_str().unwrap().to_string();
    let url = format!("http://127.0.0.1:{busy}/v1/chat/completions");
    let answer = std::thread::spawn(move || {
        let body = json!({ "model": "frugal/local", "stream": true, "max_tokens": 48,
            "messages": [{ "role": "user", "content": "Write three sentences about the sea." }] });
        let r = http.post(url).bearer_auth(&token).header("content-type", "application/json").body(body.to_string());
        r.send().and_then(|r| r.text())
    });
    let start = std::time::Instant::now();
    while frugal_core::unsettled() == 0 {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "the request never started");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    h._app.state::<AppState>().gateway().stop(std::time::Duration::from_secs(30));
    assert_eq!(frugal_core::unsettled(), 0);
    let text = answer.join().unwrap().unwrap();
    assert!(text.contains("data: [DONE]"), "the answer was cut: {text}");
    let spend = h.ok("spend", json!({ "monthText": null }));
    let by_app = spend["by_app"].as_array().unwrap();
    assert!(by_app.iter().any(|a| a["app"] == "notes" && a["requests"] == 1), "{by_app:?}");
    assert!(h.ok("gateway", json!({}))["running"] == false);
}

/// The Meetings folder's summaries escalate by batch (nobody waits for them): the poller
/// settles the batch, writes the cloud's summary beside the meeting and says so; Spend review
/// lists the batch and what the batch price saved; a pending batch can be cancelled.
#[test]
fn meetings_folder_summaries_escalate_by_batch_and_the_poller_delivers_them() {
    use frugal_cloud::sim::SimServer;
    use tauri::Manager;
    let server = SimServer::start(frugal_cloud::Kind::Anthropic).unwrap();
    server.respond_with(|_| {
        r#"{"summary": "The team reviewed the standup items and agreed on the next steps.", "decisions": [], "action_items": [], "open_questions": []}"#.into()
    });
    let h = harness();
    let config = h.dir.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[policy.summarize]\nescalate = \"always\"\n[[providers]]\nname = \"anthropic\"\nkind = \"anthropic\"\nbase_url = \"{}\"\nmodel = \"claude-sonnet-4-0\"\nneeds_key = false\nmax_retries = 0\n",
        server.base_url()
    ));
    std::fs::write(&config, text).unwrap();
    h.ok("set_budget", json!({ "monthlyUsd": 5.0 }));
    let meetings = h.dir.join("meetings");
    std::fs::create_dir_all(&meetings).unwrap();
    h.ok("set_meetings_folder", json!({ "path": meetings }));
    let state = h._app.state::<AppState>();
    let mut seen = frugal_app::meetings::Seen::default();
    frugal_app::meetings::scan_once(&state, &mut seen);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/meetings/standup.vtt");
    std::fs::copy(&fixture, meetings.join("today.vtt")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(frugal_app::meetings::scan_once(&state, &mut seen).is_empty(), "queued, nothing written yet");
    assert!(h.shell.calls().contains(&"notify Summary on its way".to_string()), "{:?}", h.shell.calls());
    let listed = h.ok("batches", json!({}));
    assert_eq!((listed[0]["state"].as_str(), listed[0]["open"].as_bool()), (Some("pending"), Some(true)), "{listed}");
    assert!(listed[0]["reserved_usd"].as_f64().unwrap() > 0.0);

    frugal_app::levers::poll_once(&state);
    let summary = meetings.canonicalize().unwrap().join("today.summary.md");
    assert!(std::fs::read_to_string(&summary).unwrap().contains("standup items"));
    assert!(h.shell.calls().contains(&"notify Batch finished".to_string()), "{:?}", h.shell.calls());
    let spend = h.ok("spend", json!({ "monthText": null }));
    assert_eq!(spend["levers"]["batch_requests"], 1, "{}", spend["levers"]);
    assert!(spend["levers"]["batch_usd"].as_f64().unwrap() > 0.0);

    // A batch still running is cancelled from Spend review: released, nothing billed.
    server.set_batch_polls(20);
    std::fs::copy(&fixture, meetings.join("tomorrow.vtt")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    frugal_app::meetings::scan_once(&state, &mut seen);
    let b = h.ok("cancel_batch", json!({ "id": 2 }));
    assert_eq!(
        (b["state"].as_str(), b["open"].as_bool(), b["cost_usd"].as_f64()),
        (Some("cancelled"), Some(false), Some(0.0)),
        "{b}"
    );
    let e = h.invoke("cancel_batch", json!({ "id": 2 })).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("already cancelled"), "{e}");
}

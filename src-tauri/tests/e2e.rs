//! End to end: the real app binary under Xvfb, driven through `tauri-driver` and WebKitGTK's
//! WebDriver. Opens Settings, sets a budget, adds a provider and tests it, adds a fixture folder and sees it indexed, drafts
//! on the default model and sees tokens stream, pastes it back into an editor window through the
//! hotkey, and reads the ledger's rows in Spend review. A second test records a meeting from
//! the summary window (Record meeting / Stop) through a test PulseAudio server.
//! Screenshots of each screen go to `$CARGO_TARGET_DIR/e2e-screenshots/` (or `target/…`).
#![allow(clippy::unwrap_used)]

mod common;

use common::{x11, Kill};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Driver {
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    shots: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tool(name: &str) -> PathBuf {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().unwrap();
    assert!(
        found.status.success(),
        "{name} is missing: run scripts/setup.sh (it installs xvfb, webkit2gtk-driver and tauri-driver)"
    );
    PathBuf::from(String::from_utf8(found.stdout).unwrap().trim())
}

impl Driver {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.unwrap_or(json!({})).to_string()),
        };
        let text = req.send().unwrap().text().unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("bad WebDriver reply: {text}"));
        let value = v["value"].clone();
        // "no such element" is an answer for `find`; anything else is a failed step.
        if let Some(err) = value.get("error").and_then(Value::as_str) {
            assert!(err == "no such element", "WebDriver {method} {path}: {value}");
        }
        value
    }

    fn find(&self, css: &str) -> Option<String> {
        let v = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css })));
        if v.get("error").is_some() {
            return None;
        }
        v.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).map(String::from)
    }

    fn wait_for(&self, css: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            if let Some(id) = self.find(css) {
                return id;
            }
            assert!(start.elapsed() < Duration::from_secs(secs), "no element {css} after {secs} s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the page has finished rendering (the UI counts renders in progress in
    /// `body[data-busy]`), twice in a row, so a step never acts on a node about to be replaced.
    fn settle(&self) {
        let start = Instant::now();
        let mut quiet = 0;
        while quiet < 2 && start.elapsed() < Duration::from_secs(30) {
            let busy = self.script("return document.body.dataset.busy || '0';");
            quiet = if busy.as_str() == Some("0") { quiet + 1 } else { 0 };
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn click(&self, css: &str) {
        self.settle();
        let id = self.wait_for(css, 20);
        self.call("POST", &format!("/element/{id}/click"), None);
    }

    fn type_into(&self, css: &str, text: &str) {
        self.settle();
        let id = self.wait_for(css, 20);
        self.call("POST", &format!("/element/{id}/clear"), None);
        self.call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
        let typed = self.script(&format!("return document.querySelector({css:?}).value;"));
        assert_eq!(typed.as_str(), Some(text), "typing into {css}");
    }

    fn text(&self, css: &str) -> String {
        let Some(id) = self.find(css) else { return String::new() };
        let url = format!("{}/session/{}/element/{id}/text", self.base, self.session);
        // A node replaced between find and read is "stale": read again on the next poll.
        let v: Value = self
            .http
            .get(url)
            .send()
            .ok()
            .and_then(|r| r.text().ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        v["value"].as_str().unwrap_or("").to_string()
    }

    fn script(&self, js: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": js, "args": [] })))
    }

    fn wait_text(&self, css: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let t = self.text(css);
            if pred(&t) {
                return t;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                self.screenshot("failed");
                let page = self.script("return document.body.innerText;");
                panic!("{css} never matched; last text: {t:?}; page: {page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.call("GET", "/screenshot", None);
        let bytes = decode_base64(b64.as_str().unwrap_or(""));
        std::fs::create_dir_all(&self.shots).unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), bytes).unwrap();
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = s.bytes().filter_map(val).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let n = c.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(c.len().saturating_sub(1))
        })
        .collect()
}

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("e2e-screenshots")
}

/// The real app under its own Xvfb display, driven by `tauri-driver`, opened on `window`
/// (`--settings`, `--summary`). The app's runtime folder is `root/run` (a test's sound server
/// listens there). `offset` keeps two tests' displays apart.
struct App {
    driver: Driver,
    display: String,
    _driver_process: Kill,
    _xvfb: Kill,
}

impl Drop for App {
    fn drop(&mut self) {
        self.driver.call("DELETE", "", None);
    }
}

fn launch(root: &Path, config: &Path, window: &str, offset: u32) -> App {
    let xvfb = tool("Xvfb");
    let webkit_driver = tool("WebKitWebDriver");
    let tauri_driver = tool("tauri-driver");
    let display = format!(":{}", 100 + (std::process::id() + offset) % 400);
    let x = Kill(
        Command::new(xvfb)
            .args([display.as_str(), "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(800));
    let port = free_port();
    let native = free_port();
    let env_home = root.join("home");
    std::fs::create_dir_all(&env_home).unwrap();
    std::fs::create_dir_all(root.join("run")).unwrap();
    let driver_process = Kill(
        Command::new(tauri_driver)
            .args(["--port", &port.to_string(), "--native-port", &native.to_string(), "--native-driver"])
            .arg(webkit_driver)
            .env("DISPLAY", &display)
            .env("HOME", &env_home)
            .env("XDG_CONFIG_HOME", root.join("xdg-config"))
            .env("XDG_DATA_HOME", root.join("xdg-data"))
            .env("XDG_RUNTIME_DIR", root.join("run"))
            .env("PULSE_RUNTIME_PATH", root.join("run/pulse"))
            .env("FRUGAL_CONFIG", config)
            .env("FRUGAL_OPEN", window.trim_start_matches("--"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).no_proxy().build().unwrap();
    let start = Instant::now();
    let session = loop {
        let r = http
            .post(format!("{base}/session"))
            .header("content-type", "application/json")
            .body(
                json!({ "capabilities": { "alwaysMatch": { "tauri:options": {
                    "application": env!("CARGO_BIN_EXE_frugal-app"),
                    "args": [window, "--config", config.display().to_string()]
                } } } })
                .to_string(),
            )
            .send();
        if let Ok(r) = r {
            let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
            if let Some(id) = v["value"]["sessionId"].as_str() {
                break id.to_string();
            }
            panic!("no WebDriver session: {v}");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "tauri-driver did not start");
        std::thread::sleep(Duration::from_millis(200));
    };
    App {
        driver: Driver { base, session, http, shots: shots_dir() },
        display,
        _driver_process: driver_process,
        _xvfb: x,
    }
}

#[test]
fn settings_budget_folder_draft_and_spend_review_in_the_real_app() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = common::sandbox_config(root);
    let notes = root.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    for f in ["tests/fixtures/corpus/offsite.md", "tests/fixtures/meetings/planning.txt"] {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(f);
        if src.exists() {
            std::fs::copy(&src, notes.join(src.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(notes.join("atlas.md"), "# Atlas cutover\n\nThe Atlas cutover is on 14 March at 06:00.\n").unwrap();

    let app = launch(root, &config, "--settings", 0);
    let (d, display) = (&app.driver, app.display.clone());

    // Settings opens on Model & hardware.
    d.wait_text("#tab-model", 30, |t| t.contains("context"));
    d.settle();
    d.screenshot("1-settings-model");

    // The draft hotkey is changed to Ctrl+Alt+D (used below to open the draft window).
    d.script("document.getElementById('hotkey').value = 'Ctrl+Alt+D'; return 1;");
    d.click("#hotkey-save");
    d.wait_text("#hotkey-saved", 10, |t| t.contains("Saved: Ctrl+Alt+D"));

    // Budget: set $20, the header and the saved line follow.
    d.click("#tab-button-budget");
    d.type_into("#budget-input", "20");
    d.click("#budget-save");
    d.wait_text("#budget-saved", 10, |t| t.contains("of $20"));
    d.screenshot("2-settings-budget");

    // Providers: add one (the "own server" preset pointed at a local server speaking the
    // OpenAI protocol), see it listed with its price, and test the connection.
    let server = frugal_cloud::sim::SimServer::start(frugal_cloud::Kind::OpenAi).unwrap();
    d.click("#tab-button-providers");
    d.settle();
    d.script("const s = document.getElementById('provider-preset'); s.value = String(s.options.length - 2); s.dispatchEvent(new Event('change')); return 1;");
    d.type_into("#provider-url", &server.base_url());
    d.click("#add-provider");
    let listed = d.wait_text("#providers", 10, |t| t.contains("house"));
    assert!(listed.contains("$0 in"), "{listed}");
    d.click("#providers .provider-row button:not(.remove-provider)");
    d.wait_text("#providers", 20, |t| t.contains("OK ($"));
    assert_eq!(server.requests().len(), 1, "Test connection sends one request");
    d.screenshot("3-settings-providers");
    // Removed again (asked twice), so the draft below stays local.
    d.click("#providers .remove-provider");
    d.wait_text("#providers", 5, |t| t.contains("Remove it?"));
    d.click("#providers .remove-provider");
    d.wait_text("#providers", 10, |t| !t.contains("house"));

    // Gateway: served from Settings on a free port; an app added there gets a token (shown
    // once) that the gateway takes at once, over real HTTP.
    let gw_port = free_port();
    d.click("#tab-button-gateway");
    d.type_into("#gateway-port", &gw_port.to_string());
    d.click("#gateway-enabled");
    d.wait_text("#gateway-state", 10, |t| t.contains(&format!("Serving on http://127.0.0.1:{gw_port}/v1")));
    d.type_into("#gateway-app-name", "e2e");
    d.click("#gateway-app-add");
    let token = d.wait_text("#gateway-token code", 10, |t| t.starts_with("frugal-")).trim().to_string();
    assert!(d.text("#gateway-apps").contains("e2e"));
    let models = d.http.get(format!("http://127.0.0.1:{gw_port}/v1/models")).bearer_auth(&token).send().unwrap();
    assert_eq!(models.status(), 200, "the token shown in Settings works");
    d.screenshot("3b-settings-gateway");

    // Folders: add the fixture folder and see it indexed.
    d.click("#tab-button-folders");
    d.type_into("#folder-path", &notes.display().to_string());
    d.click("#add-folder");
    let totals = d.wait_text("#folders", 60, |t| t.contains("notes"));
    assert!(totals.contains("notes"));
    let counts = d.wait_text("#index-totals", 10, |t| !t.starts_with("0 files"));
    assert!(counts.contains("passages"), "{counts}");
    d.screenshot("4-settings-folders");

    // Draft on the default model: tokens stream into the output before the final draft.
    d.script("location.hash = '#draft'; return 1;");
    d.settle();
    d.type_into("#draft-input", "tell Sam the design review moved to Friday 10am, same room B2.14");
    d.click("#draft-run");
    let mut seen = std::collections::BTreeSet::new();
    let started = Instant::now();
    loop {
        let t = d.text("#draft-output");
        if !t.is_empty() {
            seen.insert(t.len());
        }
        if d.text("#draft-route").starts_with("local") || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    let out = d.text("#draft-output");
    assert!(out.starts_with("Subject:"), "{out}");
    assert!(seen.len() >= 3, "the draft should arrive in pieces, saw lengths {seen:?}");
    // A draft that failed its checks is marked, with the reasons above it.
    let marked = d.script("return document.getElementById('draft-output').classList.contains('failed');");
    let verdict = d.find("#verdict").map(|_| d.text("#verdict")).unwrap_or_default();
    assert_eq!(marked.as_bool(), Some(!verdict.is_empty()), "marked {marked}, verdict {verdict:?}");
    if !verdict.is_empty() {
        assert!(
            verdict.contains("This draft failed its checks") && verdict.contains("Add a cloud provider"),
            "{verdict}"
        );
    }
    d.screenshot("5-draft");

    // Copy is recorded as a use of this draft; Regenerate then writes another one (the copy
    // stays recorded), and Paste back below is recorded as the use of that one.
    let run_of = || d.script("return document.getElementById('draft-output').dataset.run || '';");
    let copied_run = run_of();
    d.click("#draft-copy");
    d.click("#draft-regenerate");
    let started = Instant::now();
    while run_of() == copied_run || run_of() == json!("") {
        assert!(started.elapsed() < Duration::from_secs(120), "Regenerate wrote no new draft");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Paste back: the user was in an editor when they pressed the hotkey (now Ctrl+Alt+D);
    // the app noted it and opened its draft window. Paste back closes that window, gives the
    // focus back to the editor and types Ctrl+V there: the editor pastes the draft.
    let (conn, xroot) = x11::connect(&display);
    let editor = x11::focused_editor(&conn, xroot);
    x11::press(&conn, xroot, &[0xffe3, 0xffe9, 0x64]);
    let pressed = Instant::now();
    while !x11::has_window(&conn, xroot, "Frugal — Draft") {
        assert!(pressed.elapsed() < Duration::from_secs(20), "the hotkey opened no draft window");
        std::thread::sleep(Duration::from_millis(50));
    }
    let draft = d.script("return document.getElementById('draft-output').textContent;");
    d.click("#draft-paste");
    assert_eq!(x11::pasted_into(&conn, editor, 15).unwrap(), draft.as_str().unwrap());
    assert!(!x11::has_window(&conn, xroot, "Frugal — Draft"), "Paste back closes the draft window");

    // Spend review shows the ledger's rows: the connection test in the cloud, the draft local.
    d.script("location.hash = '#settings/spend'; return 1;");
    d.settle();
    d.wait_for("#ledger-rows .ledger-row", 20);
    let rows = d.text("#ledger-rows");
    assert!(rows.contains("draft") && rows.contains("local") && rows.contains("cloud"), "{rows}");
    // Each use left its outcome in the ledger: the copied draft and the pasted one.
    assert!(rows.contains("copied") && rows.contains("pasted"), "{rows}");
    let useful = d.text("#useful-count");
    assert!(useful.starts_with("2 of"), "{useful}");
    // One cloud request (the connection test); every draft request local.
    let share = d.text("#local-share");
    let counts: Vec<u32> = share.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    assert!(matches!(counts[..], [_, local, all] if all == local + 1 && local >= 2), "{share}");
    d.screenshot("6-spend-review");
}

/// The app's resident memory in KB: the `frugal-app` process WebKitWebDriver started with
/// `--config CONFIG` (its web view is a process of its own, not counted).
fn app_rss_kb(config: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if args.first().is_some_and(|a| a.ends_with(b"frugal-app")) && args.contains(&config.as_os_str().as_bytes()) {
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            return status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok();
        }
    }
    None
}

/// Record meeting / Stop in the summary window: a private PulseAudio server's null sinks
/// stand in for the microphone and the speakers, two espeak-ng voices play into them, and
/// Stop shows the summary, with the recording, its transcript and its summary saved. The
/// app's memory goes back to what it was before the recording once the speech helper has
/// exited and the language model has unloaded (after 3 idle seconds here), within 25 MB.
#[test]
fn record_and_stop_in_the_summary_window_of_the_real_app() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = common::sandbox_config(root);
    let meetings = root.join("meetings");
    let text = std::fs::read_to_string(&config).unwrap().replace("[model]\n", "[model]\nidle_unload_secs = 3\n");
    std::fs::write(
        &config,
        format!(
            "{text}[app]\nmeetings_folder = {meetings:?}\n[transcribe]\nmodel = {:?}\n",
            repo.join("models/ggml-tiny.en-q8_0.bin")
        ),
    )
    .unwrap();
    let speech = root.join("speech");
    assert!(Command::new(repo.join("tests/speech/make-meeting.sh"))
        .arg(repo.join("tests/speech/planning-call.txt"))
        .arg(&speech)
        .status()
        .unwrap()
        .success());
    let Some(pulse) = common::SoundServer::start(&root.join("run")) else { return };

    let app = launch(root, &config, "--summary", 7);
    let d = &app.driver;
    d.wait_text("#record", 30, |t| t == "Record meeting");
    std::thread::sleep(Duration::from_secs(2));
    let before = app_rss_kb(&config).expect("the app's process");
    d.click("#record");
    d.wait_text("#record", 15, |t| t.starts_with("Stop recording (0:0"));
    let _players =
        (pulse.play(&speech.join("Dana.wav"), "fake_mic"), pulse.play(&speech.join("Sam.wav"), "frugal_test"));
    let mut peak = before;
    for _ in 0..24 {
        std::thread::sleep(Duration::from_millis(500));
        peak = peak.max(app_rss_kb(&config).unwrap_or(0));
    }
    d.screenshot("7-recording");
    d.click("#record");
    let shown = d.wait_text("#summary-output", 180, |t| t.contains("Action items"));
    let summarized = app_rss_kb(&config).unwrap_or(0);
    // Idle again: the helper exits at Stop, the model unloads after its idle time.
    let started = std::time::Instant::now();
    let mut after = summarized;
    while started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(500));
        after = app_rss_kb(&config).unwrap_or(after);
        if after <= before + 25 * 1024 && started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    eprintln!(
        "app RSS: {} MB before recording, {} MB peak while recording, {} MB with the summary shown, {} MB idle after",
        before / 1024,
        peak / 1024,
        summarized / 1024,
        after / 1024
    );
    // What stays is code run for the first time (the recorder's, llama.cpp's kernels: ~7 MB
    // of file pages); before `malloc_trim` after the unload, glibc kept ~44 MB of freed heap.
    assert!(after <= before + 25 * 1024, "the app kept {} MB after the recording", (after - before) / 1024);
    assert!(shown.contains("Summary") && shown.contains("Open questions"), "{shown}");
    assert_eq!(d.text("#record"), "Record meeting");
    d.screenshot("8-recording-summarized");
    let files: Vec<PathBuf> = std::fs::read_dir(&meetings).unwrap().flatten().map(|e| e.path()).collect();
    let wav = files.iter().find(|p| p.extension().is_some_and(|e| e == "wav")).expect("the recording");
    let vtt = std::fs::read_to_string(wav.with_extension("vtt")).unwrap();
    assert!(vtt.contains("<v Me>") && vtt.contains("<v Others>"), "{vtt}");
    let stem = wav.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(wav.with_file_name(format!("{stem}.summary.md")).is_file(), "{files:?}");
}

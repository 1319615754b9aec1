//! What the app's test binaries share: a config in a temp dir, on the default model, with its
//! ledger and index beside it, so nothing touches the developer's own.

use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
#[allow(dead_code)]
pub mod x11;

/// A child process (Xvfb, tauri-driver) killed when the test ends, pass or fail.
#[allow(dead_code)] // the command-layer tests start no processes
pub struct Kill(pub std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The default model, put in place by `scripts/setup.sh`.
pub fn model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Writes `root/config.toml` (model, ledger and index under `root`) and returns its path.
pub fn sandbox_config(root: &Path) -> PathBuf {
    let config = root.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "ledger = {:?}\n[model]\npath = {:?}\n[index]\ndir = {:?}\n",
            root.join("ledger.sqlite3"),
            model(),
            root.join("index")
        ),
    )
    .expect("write the test config");
    config
}

/// Invokes a command through the app's real invoke handler on Tauri's mock runtime, as the
/// UI would: the JSON it answers, or the JSON error.
#[allow(dead_code)] // the end-to-end tests drive the real app instead
pub fn invoke(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::webview::InvokeRequest;
    tauri::test::get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("a URL"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: tauri::test::INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<serde_json::Value>().expect("JSON"))
}

/// A private PulseAudio server for recording tests, listening in `run` (the runtime folder
/// its clients are given): null sinks `frugal_test` (the default output, whose monitor is the
/// "system sound") and `fake_mic` (whose monitor is the default source, the "microphone").
/// `None`, said once, where PulseAudio is not installed. Killed on drop.
#[allow(dead_code)] // the command-layer tests record nothing
pub struct SoundServer {
    _server: Kill,
    run: PathBuf,
}

#[allow(dead_code)]
impl SoundServer {
    pub fn start(run: &Path) -> Option<SoundServer> {
        if std::process::Command::new("pulseaudio").arg("--version").output().is_err() {
            eprintln!("skipping: pulseaudio is not installed (scripts/setup.sh installs it)");
            return None;
        }
        std::fs::create_dir_all(run).expect("runtime folder");
        let mut server = std::process::Command::new("pulseaudio");
        let server = Kill(
            Self::env_for(run, &mut server)
                .args(["-n", "--daemonize=no", "--exit-idle-time=-1", "-L", "module-native-protocol-unix"])
                .args(["-L", "module-null-sink sink_name=frugal_test", "-L", "module-null-sink sink_name=fake_mic"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start pulseaudio"),
        );
        let s = SoundServer { _server: server, run: run.to_path_buf() };
        let up = std::time::Instant::now();
        while !s.ctl(&["info"]) {
            assert!(up.elapsed() < std::time::Duration::from_secs(10), "the test sound server did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(s.ctl(&["set-default-sink", "frugal_test"]) && s.ctl(&["set-default-source", "fake_mic.monitor"]));
        Some(s)
    }

    fn env_for<'a>(run: &Path, c: &'a mut std::process::Command) -> &'a mut std::process::Command {
        c.env("XDG_RUNTIME_DIR", run).env("PULSE_RUNTIME_PATH", run.join("pulse"))
    }

    /// `pactl` against this server.
    pub fn ctl(&self, args: &[&str]) -> bool {
        let mut c = std::process::Command::new("pactl");
        Self::env_for(&self.run, &mut c)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Plays `file` into `sink` (stopped on drop).
    pub fn play(&self, file: &Path, sink: &str) -> Kill {
        let mut c = std::process::Command::new("paplay");
        Kill(Self::env_for(&self.run, &mut c).arg(format!("--device={sink}")).arg(file).spawn().expect("paplay"))
    }
}

/// The app under Tauri's mock runtime with `state`, and a webview labelled `label` to invoke
/// commands through.
#[allow(dead_code)] // the end-to-end tests drive the real app instead
pub fn mock_app(
    state: frugal_app::state::AppState,
    label: &str,
) -> (tauri::App<tauri::test::MockRuntime>, tauri::WebviewWindow<tauri::test::MockRuntime>) {
    use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
    let app = mock_builder()
        .invoke_handler(frugal_app::specta_builder::<MockRuntime>().invoke_handler())
        .manage(state)
        .build(mock_context(noop_assets()))
        .expect("the mock app");
    let webview = tauri::WebviewWindowBuilder::new(&app, label, Default::default()).build().expect("a webview");
    (app, webview)
}

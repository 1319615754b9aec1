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

//! The official client SDKs against `frugal serve`: `openai` and `anthropic` for Python and
//! `openai` for Node, installed by `scripts/setup.sh` (a virtualenv next to the build, and
//! `tests/sdk/node/node_modules`). Streaming and not, local and the simulated cloud, a cap's
//! 429 that the SDKs do not retry, a wrong token.

use std::path::PathBuf;

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;

use crate::gateway::{add_app, gateway_env, rows, serve};
use crate::harness::stderr;

/// The build folder (`…/release/frugal` → `…`), where setup put the SDKs' virtualenv.
fn target_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_frugal"));
    exe.parent().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or_default()
}

pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FRUGAL_SDK_PYTHON") {
        return PathBuf::from(p);
    }
    let p = target_dir().join("sdk-venv/bin/python");
    assert!(p.exists(), "{} is missing: run scripts/setup.sh (it installs the SDK clients)", p.display());
    p
}

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

#[test]
fn the_official_python_and_node_sdks_work_against_the_gateway() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    let env = gateway_env(&sim);
    let token = add_app(&env, &["sdk"]);
    let capped = add_app(&env, &["capped", "--monthly-usd", "0.01"]);
    let s = serve(&env);
    let run = |program: PathBuf, script: PathBuf| {
        let out = std::process::Command::new(program)
            .arg(script)
            .env("FRUGAL_BASE", &s.base)
            .env("FRUGAL_TOKEN", &token)
            .env("FRUGAL_CAPPED", &capped)
            .env("NO_PROXY", "127.0.0.1")
            .output()
            .unwrap();
        assert!(out.status.success(), "stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let last = text.lines().last().unwrap_or_default().to_string();
        serde_json::from_str::<serde_json::Value>(&last).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let py = run(python(), sdk_dir().join("gateway_sdk.py"));
    assert!(py["openai_429"].as_str().unwrap().contains("app's monthly budget"), "{py}");
    let node_modules = sdk_dir().join("node/node_modules/openai");
    assert!(node_modules.exists(), "{} is missing: run scripts/setup.sh", node_modules.display());
    let node = run(PathBuf::from("node"), sdk_dir().join("node/gateway_sdk.mjs"));
    assert!(node["refused"].as_str().unwrap().contains("budget"), "{node}");
    drop(s);
    // Each refused request is one row: the SDKs obeyed x-should-retry and did not retry.
    let all = rows(&env);
    let refused = all.iter().filter(|r| r["outcome"] == "refused").count();
    assert_eq!(refused, 3, "one refused row per 429 (Python openai, Python anthropic, Node): {all:?}");
    assert!(all.iter().all(|r| r["state"] == "settled"), "{all:?}");
}

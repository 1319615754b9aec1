use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The default model, put in place by `scripts/setup.sh` / `.ci/run`.
pub fn model() -> PathBuf {
    if let Some(p) = std::env::var_os("FRUGAL_TEST_MODEL") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// The default embedding model, converted by `scripts/setup.sh` / `.ci/run`.
pub fn embedding_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2.f16.gguf")
}

/// An isolated environment: its own config file, XDG folders and HOME.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config/config.toml")
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn write_config(&self, toml: &str) {
        std::fs::create_dir_all(self.config().parent().expect("parent")).expect("mkdir");
        std::fs::write(self.config(), toml).expect("write config");
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_frugal"));
        let d = self.dir.path();
        c.env("HOME", d.join("home"))
            .env("XDG_CONFIG_HOME", d.join("xdg-config"))
            .env("XDG_DATA_HOME", d.join("xdg-data"))
            .env_remove("FRUGAL_CONFIG")
            .env_remove("HF_ENDPOINT")
            .arg("--config")
            .arg(self.config());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run frugal")
    }

    /// Runs with `--model <default model>` prepended.
    pub fn run_model(&self, args: &[&str]) -> Output {
        let m = model();
        let mut all = vec!["--model", m.to_str().expect("utf8 path")];
        all.extend_from_slice(args);
        self.run(&all)
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", o.status.code(), stdout(o), stderr(o));
    stdout(o)
}

/// Asserts a failure reported as exactly one clear line on stderr, no panic, no trace.
pub fn one_line_error(o: &Output) -> String {
    assert!(!o.status.success(), "expected failure, got success: {}", stdout(o));
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {err:?}");
    assert!(lines[0].starts_with("frugal: error: "), "{err}");
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace", "internal error"] {
        assert!(!err.contains(bad), "{err}");
    }
    lines[0].to_string()
}

pub fn json(o: &Output) -> serde_json::Value {
    let out = ok(o);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn toml_path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "\\\\")
}

//! The client side of the speech helper: starts `frugal-whisper`, sends it windows, reads
//! its segments back. See [`crate::protocol`] for why recognition lives in another process.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::protocol::{Reply, Segment, WindowHeader};
use crate::window::Window;
use crate::Error;

/// The helper's file name on this platform.
pub fn helper_name() -> String {
    format!("frugal-whisper{}", std::env::consts::EXE_SUFFIX)
}

/// Where the helper is: `FRUGAL_WHISPER`, else beside the running binary (or one folder up,
/// where test binaries run from `deps/`).
pub fn find_helper() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FRUGAL_WHISPER") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(helper_name()), dir.parent()?.join(helper_name())].into_iter().find(|p| p.is_file())
}

/// A running helper with its model loaded.
#[derive(Debug)]
pub struct Recognizer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// "whisper.cpp 1.7.6", for the transcript's note.
    pub engine: String,
}

impl Recognizer {
    pub fn start(helper: &Path, model: &Path, language: &str, threads: usize) -> Result<Recognizer, Error> {
        let mut child = Command::new(helper)
            .arg("--model")
            .arg(model)
            .args(["--threads", &threads.max(1).to_string(), "--language", language])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::Helper(format!("cannot start the speech helper {}: {e}", helper.display())))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(Error::Helper("the speech helper has no pipes".into()));
        };
        let mut r = Recognizer { child, stdin: Some(stdin), stdout: BufReader::new(stdout), engine: String::new() };
        match r.read_reply()? {
            Reply::Ready { engine, .. } => {
                r.engine = engine;
                Ok(r)
            }
            Reply::Error(e) => Err(Error::Model(e)),
            other => Err(Error::Helper(format!("the speech helper answered {other:?} before it was ready"))),
        }
    }

    fn read_reply(&mut self) -> Result<Reply, Error> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .stdout
                .read_line(&mut line)
                .map_err(|e| Error::Helper(format!("reading the speech helper: {e}")))?;
            if n == 0 {
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_else(|_| "unknown status".into());
                return Err(Error::Helper(format!("the speech helper stopped ({status})")));
            }
            if line.trim().is_empty() {
                continue;
            }
            return serde_json::from_str(line.trim()).map_err(|_| {
                Error::Helper(format!("the speech helper wrote something unexpected: {:.80}", line.trim()))
            });
        }
    }

    /// Recognises one window. `on_progress` gets the percentage done; `cancel` stops it (the
    /// helper is killed: it cannot be interrupted mid-window otherwise).
    pub fn window(
        &mut self,
        window: &Window,
        on_progress: &mut dyn FnMut(u8),
        cancel: &AtomicBool,
    ) -> Result<(Vec<Segment>, Vec<String>), Error> {
        let header = WindowHeader { samples: window.samples.len(), offset_ms: window.offset_ms() };
        let mut bytes = Vec::with_capacity(window.samples.len() * 4 + 128);
        serde_json::to_writer(&mut bytes, &header).map_err(|e| Error::Helper(e.to_string()))?;
        bytes.push(b'\n');
        for s in &window.samples {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        let stdin = self.stdin.as_mut().ok_or_else(|| Error::Helper("the speech helper is closed".into()))?;
        stdin
            .write_all(&bytes)
            .and_then(|()| stdin.flush())
            .map_err(|e| Error::Helper(format!("the speech helper stopped taking audio: {e}")))?;
        drop(bytes);
        let mut segments = Vec::new();
        let mut errors = Vec::new();
        loop {
            if cancel.load(Ordering::Relaxed) {
                let _ = self.child.kill();
                return Err(Error::Cancelled);
            }
            match self.read_reply()? {
                Reply::Segment(s) => segments.push(s),
                Reply::Progress(p) => on_progress(p),
                Reply::Done { .. } => return Ok((segments, errors)),
                Reply::Error(e) => errors.push(e),
                Reply::Ready { .. } => {}
            }
        }
    }
}

impl Drop for Recognizer {
    fn drop(&mut self) {
        // Closing stdin ends the helper's loop; kill it if it is mid-window.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! PDF text through `pdf-extract` (lopdf below it). That reader panics on some damaged
//! files, and worse: a Form XObject that draws itself recurses until the stack overflows,
//! and a compressed stream is inflated with no size limit. Neither is a panic the guard can
//! catch: the process dies, before the index records the file as skipped, so every later
//! update reached the same file and died again. A binary that calls [`reader_main`] first
//! thing (the CLI and the tray app do) reads each PDF in a child process of itself, with
//! its memory capped and a deadline; a child that dies is a file skipped with a reason.
//! Elsewhere (tests of this crate, other programs) the reader runs in-process behind the
//! panic guard, as before.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{paragraphs, Extracted};

/// Set in a child started to read one PDF (stdin) and write its pages (stdout).
const READER_ENV: &str = "FRUGAL_PDF_READER";

/// The executable that reads PDFs in a child process, once [`reader_main`] has run.
static READER: OnceLock<PathBuf> = OnceLock::new();

/// Address space a reading child may take: far above any real PDF's needs, far below what
/// an inflated bomb would take from the machine.
const MEMORY_LIMIT: u64 = 2 << 30;

/// How long one PDF may take to read.
const DEADLINE: Duration = Duration::from_secs(120);

/// For a binary's `main`, before anything else: in a child started to read a PDF, reads it
/// and exits (never returns); otherwise this executable reads PDFs in children from now on.
pub fn reader_main() {
    if std::env::var_os(READER_ENV).is_some() {
        serve();
    }
    if let Ok(exe) = std::env::current_exe() {
        let _ = READER.set(exe);
    }
}

/// Extracts the text of a PDF, page by page (pages become paragraph breaks).
pub fn extract(bytes: &[u8]) -> Result<Extracted, String> {
    if !bytes.starts_with(b"%PDF") {
        return Err("not a PDF file (no %PDF header)".into());
    }
    let pages = match READER.get() {
        Some(exe) => in_child(exe, bytes)?,
        None => in_process(bytes)?,
    };
    let text = pages.join("\n\n");
    if text.trim().is_empty() {
        return Err("PDF has no text layer (scanned pages are not read)".into());
    }
    Ok(Extracted { title: None, blocks: paragraphs(&text, 1), note: None })
}

fn in_process(bytes: &[u8]) -> Result<Vec<String>, String> {
    frugal_guard::quietly(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .ok_or_else(|| "corrupt PDF (the reader gave up on it)".to_string())?
        .map_err(|e| format!("unreadable PDF: {}", crate::error::first_line(&e.to_string())))
}

/// The child's side: the PDF from stdin, `{"pages": […]}` or `{"error": "…"}` on stdout.
fn serve() -> ! {
    #[cfg(unix)]
    {
        let limit = rustix::process::Rlimit { current: Some(MEMORY_LIMIT), maximum: Some(MEMORY_LIMIT) };
        let _ = rustix::process::setrlimit(rustix::process::Resource::As, limit);
    }
    let mut bytes = Vec::new();
    let answer = match std::io::stdin().read_to_end(&mut bytes) {
        Ok(_) => match in_process(&bytes) {
            Ok(pages) => serde_json::json!({ "pages": pages }),
            Err(e) => serde_json::json!({ "error": e }),
        },
        Err(e) => serde_json::json!({ "error": format!("cannot read the PDF: {e}") }),
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(answer.to_string().as_bytes());
    let _ = out.flush();
    std::process::exit(0)
}

/// The parent's side: one child for one PDF.
fn in_child(exe: &PathBuf, bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut child = Command::new(exe)
        .env(READER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the PDF reader: {e}"))?;
    // Written and read on threads of their own: a child that dies or stalls half-way must
    // not leave this one blocked on a pipe.
    let mut stdin = child.stdin.take();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&input);
        }
    });
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let _ = writer.join();
    let text = reader.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(format!("the PDF reader gave up on it after {} s", DEADLINE.as_secs()));
    };
    if !status.success() {
        return Err("corrupt PDF (the reader crashed on it: too deeply nested or too large)".into());
    }
    let answer: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| "corrupt PDF (the reader crashed on it)".to_string())?;
    if let Some(e) = answer.get("error").and_then(|e| e.as_str()) {
        return Err(e.to_string());
    }
    answer
        .get("pages")
        .and_then(|p| p.as_array())
        .map(|pages| pages.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
        .ok_or_else(|| "corrupt PDF (the reader crashed on it)".to_string())
}

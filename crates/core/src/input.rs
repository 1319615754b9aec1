//! Reading what the user hands us (a transcript, an email, notes) with the guarantees every
//! task needs: a size limit named in the refusal, binary files refused, invalid UTF-8 decoded
//! lossily with a warning, empty input refused.

use std::io::Read;
use std::path::Path;

use crate::{CoreError, Result};

/// The largest input a task accepts. A two-hour meeting is ≈ 150 KB of text; 50 MB is a
/// mistake (a recording, a database dump), not a transcript.
pub const MAX_INPUT_BYTES: u64 = 50 * 1024 * 1024;

/// Text ready for a task, with what was noticed on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputText {
    /// The decoded text.
    pub text: String,
    /// Warnings for the user (lossy decoding…).
    pub warnings: Vec<String>,
    /// The file's extension, lower-case, when read from a file.
    pub extension: Option<String>,
    /// The file it was read from (`None` for stdin).
    pub path: Option<std::path::PathBuf>,
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::Input(msg.into())
}

/// Reads a file, or stdin when `path` is `-`.
pub fn read_input(path: &Path) -> Result<InputText> {
    let (bytes, name, extension) = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| invalid(format!("cannot read standard input: {e}")))?;
        (buf, "standard input".to_string(), None)
    } else {
        let meta = std::fs::metadata(path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        if meta.is_dir() {
            return Err(invalid(format!("{} is a folder, not a file", path.display())));
        }
        if meta.len() > MAX_INPUT_BYTES {
            return Err(invalid(format!(
                "{} is {}, over the {} limit",
                path.display(),
                frugal_index::size_text(meta.len()),
                frugal_index::size_text(MAX_INPUT_BYTES)
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
        (bytes, path.display().to_string(), ext)
    };
    let mut input = decode(&bytes, &name)?;
    input.extension = extension;
    input.path = (path.as_os_str() != "-").then(|| path.to_path_buf());
    Ok(input)
}

/// Decodes bytes with the checks of [`read_input`]; `name` is used in messages.
pub fn decode(bytes: &[u8], name: &str) -> Result<InputText> {
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(invalid(format!("{name} is over the {} MB limit", MAX_INPUT_BYTES / (1024 * 1024))));
    }
    let head = &bytes[..bytes.len().min(8192)];
    let controls = head.iter().filter(|&&b| b < 0x09 || (0x0e..0x20).contains(&b)).count();
    if head.contains(&0) || controls * 10 > head.len().max(1) {
        return Err(invalid(format!("{name} looks like a binary file, not text")));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut warnings = Vec::new();
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            warnings.push(format!("{name} is not valid UTF-8; undecodable bytes were replaced"));
            String::from_utf8_lossy(bytes).into_owned()
        }
    };
    if text.trim().is_empty() {
        return Err(invalid(format!("{name} is empty")));
    }
    Ok(InputText { text, warnings, extension: None, path: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_binary_empty_and_decodes_latin1_with_a_warning() {
        assert!(decode(b"\x00\x01\x02PK", "x").unwrap_err().to_string().contains("binary"));
        assert!(decode(b"  \n\t ", "x").unwrap_err().to_string().contains("empty"));
        let t = decode(b"Caf\xe9 meeting", "notes").unwrap();
        assert_eq!(t.text, "Caf\u{fffd} meeting");
        assert_eq!(t.warnings.len(), 1);
        assert_eq!(decode(b"\xEF\xBB\xBFhello", "x").unwrap().text, "hello");
    }

    #[test]
    fn refuses_files_over_the_limit_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.txt");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(MAX_INPUT_BYTES + 1).unwrap();
        let e = read_input(&p).unwrap_err().to_string();
        assert!(e.contains("is 50.1 MB, over the 50 MB limit"), "{e}");
    }
}

//! Extractors: a file's bytes → a title and blocks of text, each with its heading path and
//! the lines it came from. One function per format; they never panic on bad input (the PDF
//! reader, which can, runs behind a panic guard) and say why a file cannot be read.

pub mod docx;
pub mod email;
pub mod html;
pub mod pdf;
pub mod transcript;

use std::path::Path;

use crate::Kind;

/// A run of text under one heading path: a paragraph, a list, a code block, a speaker turn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// Headings above this block, outermost first.
    pub heading_path: Vec<String>,
    /// The text.
    pub text: String,
    /// First line (1-based) in the file, or in the extracted text for PDF and Word files.
    pub line_start: u32,
    /// Last line (inclusive).
    pub line_end: u32,
}

/// What an extractor got out of a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The document's own title, when it has one (Markdown `# …`, HTML `<title>`, a subject).
    pub title: Option<String>,
    /// The text, in order.
    pub blocks: Vec<Block>,
    /// Something the user may want to know ("invalid UTF-8 replaced").
    pub note: Option<String>,
}

/// Reads `bytes` as a `kind` file. `Err` is the one-line reason it was skipped.
pub fn extract(path: &Path, bytes: &[u8], kind: Kind) -> Result<Extracted, String> {
    match kind {
        Kind::Pdf => return pdf::extract(bytes),
        Kind::Docx => return docx::extract(bytes),
        _ => {}
    }
    if looks_binary(bytes) {
        return Err("binary content in a text file".into());
    }
    let (text, note) = match std::str::from_utf8(bytes) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), None),
        Err(_) => (String::from_utf8_lossy(bytes), Some("invalid UTF-8 (unreadable bytes replaced)".to_string())),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = match kind {
        Kind::Markdown => markdown(text),
        Kind::Html => html::extract(text),
        Kind::Email if is_mbox(path, text) => email::extract_mbox(text),
        Kind::Email => email::extract_message(text),
        Kind::Transcript => transcript_blocks(path, text),
        Kind::Code => {
            if let Some(reason) = machine_written(text) {
                return Err(reason);
            }
            Extracted { blocks: paragraphs(text, 1), ..Default::default() }
        }
        Kind::Text | Kind::Pdf | Kind::Docx => Extracted { blocks: paragraphs(text, 1), ..Default::default() },
    };
    out.note = note;
    Ok(out)
}

/// Longest line a person writes in code; past it the file is minified or generated.
const MAX_CODE_LINE: usize = 10_000;

/// Why a code file is not worth searching: minified scripts and generated data (a docs
/// site's `searchindex.js`, `*.min.js`) are one enormous line that matches every query's
/// words and means nothing, crowding out the pages that answer.
fn machine_written(text: &str) -> Option<String> {
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    (longest > MAX_CODE_LINE).then(|| format!("minified or generated code (a line of {} KB)", longest.div_ceil(1024)))
}

/// NUL bytes or many control characters in the first 8 KiB: not text, whatever the name says.
pub fn looks_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return true;
    }
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b)).count();
    control * 10 > head.len().max(1)
}

fn is_mbox(path: &Path, text: &str) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mbox")) || text.starts_with("From ")
}

/// Blank-line separated paragraphs of `text`, numbering lines from `first_line`.
pub fn paragraphs(text: &str, first_line: u32) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let n = first_line.saturating_add(i as u32);
        if line.trim().is_empty() {
            blocks.extend(current.take());
            continue;
        }
        append_line(&mut current, Vec::new, n, line);
    }
    blocks.extend(current);
    blocks
}

/// Adds a line to the open block, opening one (with the heading path `path()`) if needed.
fn append_line(current: &mut Option<Block>, path: impl FnOnce() -> Vec<String>, n: u32, line: &str) {
    let b = current.get_or_insert_with(|| Block { heading_path: path(), line_start: n, ..Default::default() });
    if !b.text.is_empty() {
        b.text.push('\n');
    }
    b.text.push_str(line.trim_end());
    b.line_end = n;
}

/// Markdown: ATX headings (`#`…`######`) set the heading path; fenced code stays one block.
fn markdown(text: &str) -> Extracted {
    let mut out = Extracted::default();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut current: Option<Block> = None;
    let mut fence: Option<&str> = None;
    let path_of = |h: &[(usize, String)]| h.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>();
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let trimmed = line.trim_start();
        if let Some(f) = fence {
            if trimmed.starts_with(f) {
                fence = None;
            }
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
        } else if let Some(level) = heading_level(trimmed) {
            out.blocks.extend(current.take());
            let title = trimmed[level..].trim().trim_end_matches('#').trim().to_string();
            if level == 1 && out.title.is_none() && !title.is_empty() {
                out.title = Some(title.clone());
            }
            headings.retain(|(l, _)| *l < level);
            headings.push((level, title));
            continue;
        } else if line.trim().is_empty() {
            out.blocks.extend(current.take());
            continue;
        }
        append_line(&mut current, || path_of(&headings), n, line);
    }
    out.blocks.extend(current);
    out
}

fn heading_level(line: &str) -> Option<usize> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    ((1..=6).contains(&level) && line[level..].starts_with([' ', '\t'])).then_some(level)
}

/// Transcripts: one block per speaker turn (`Name: words`), lines found back in the file.
fn transcript_blocks(path: &Path, text: &str) -> Extracted {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let parsed = transcript::parse(text, ext.as_deref());
    let lines: Vec<&str> = text.lines().collect();
    let mut cursor = 0usize;
    let mut blocks = Vec::new();
    for turn in &parsed.turns {
        let probe: String = turn.text.chars().take(24).collect();
        let start = (cursor..lines.len()).find(|&i| lines[i].contains(probe.as_str())).unwrap_or(cursor);
        let last_probe: String = {
            let words: Vec<&str> = turn.text.split_whitespace().collect();
            words[words.len().saturating_sub(3)..].join(" ")
        };
        let end = (start..lines.len()).find(|&i| lines[i].contains(last_probe.as_str())).unwrap_or(start);
        cursor = end.min(lines.len());
        let text = match &turn.speaker {
            Some(s) => format!("{s}: {}", turn.text),
            None => turn.text.clone(),
        };
        blocks.push(Block { heading_path: Vec::new(), text, line_start: start as u32 + 1, line_end: end as u32 + 1 });
    }
    Extracted { title: None, blocks, note: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_heading_paths_and_fences() {
        let md = "# Plan\n\nIntro line.\n\n## Budget\nWe spend 5k.\n\n```\n# not a heading\n```\n\n## Risks\nLate.\n";
        let e = markdown(md);
        assert_eq!(e.title.as_deref(), Some("Plan"));
        let paths: Vec<_> = e.blocks.iter().map(|b| (b.heading_path.join(" > "), b.line_start)).collect();
        assert_eq!(
            paths,
            vec![
                ("Plan".into(), 3),
                ("Plan > Budget".into(), 6),
                ("Plan > Budget".into(), 8),
                ("Plan > Risks".into(), 13)
            ]
        );
    }

    #[test]
    fn binary_and_bad_utf8() {
        assert!(looks_binary(b"abc\0def"));
        assert!(!looks_binary("plain text\nwith lines\t".as_bytes()));
        let e = extract(Path::new("a.txt"), b"caf\xe9 au lait", Kind::Text).unwrap();
        assert!(e.note.unwrap().contains("UTF-8"));
        assert!(e.blocks[0].text.starts_with("caf"));
        assert_eq!(
            extract(Path::new("a.md"), b"\x00\x01\x02PNG", Kind::Markdown).unwrap_err(),
            "binary content in a text file"
        );
    }

    #[test]
    fn transcript_turns_point_at_their_lines() {
        let vtt = "WEBVTT\n\n1\n00:00:01.000 --> 00:00:03.000\n<v Ana>We ship on Friday.</v>\n\n2\n00:00:04.000 --> 00:00:05.000\n<v Ben>Agreed, Friday it is.</v>\n";
        let e = extract(Path::new("m.vtt"), vtt.as_bytes(), Kind::Transcript).unwrap();
        assert_eq!(e.blocks.len(), 2);
        assert_eq!(e.blocks[1].text, "Ben: Agreed, Friday it is.");
        assert_eq!((e.blocks[1].line_start, e.blocks[1].line_end), (9, 9));
    }
}

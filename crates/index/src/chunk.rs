//! Blocks → passages of about 250–400 tokens (≈ 1,000–1,600 characters of prose), split on
//! headings and paragraphs, never mid-word. A passage is what search ranks and what a prompt
//! quotes, so it has to be big enough to answer from and small enough that several fit.

use crate::extract::Block;

/// Characters at which a passage is complete (≈ 300 tokens).
pub const TARGET_CHARS: usize = 1_200;
/// The most characters in one passage (≈ 400 tokens).
pub const MAX_CHARS: usize = 1_600;
/// A section shorter than this (a heading with one line under it) joins the next one
/// instead of standing alone; anything longer keeps its own heading path.
const SMALL_CHARS: usize = 120;

/// A piece of a file that search returns and prompts quote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    /// Headings above it, outermost first.
    pub heading_path: Vec<String>,
    /// The text.
    pub text: String,
    /// First line (1-based).
    pub line_start: u32,
    /// Last line (inclusive).
    pub line_end: u32,
}

/// Groups blocks into passages.
pub fn chunk(blocks: &[Block]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut current: Option<Chunk> = None;
    for piece in blocks.iter().flat_map(split_long) {
        if let Some(c) = &mut current {
            let same_section = c.heading_path == piece.heading_path;
            let fits = c.text.len() + 2 + piece.text.len() <= MAX_CHARS;
            if fits && (same_section || c.text.len() < SMALL_CHARS) {
                if !same_section {
                    let common = c.heading_path.iter().zip(&piece.heading_path).take_while(|(a, b)| a == b).count();
                    c.heading_path.truncate(common);
                }
                c.text.push_str("\n\n");
                c.text.push_str(&piece.text);
                c.line_end = c.line_end.max(piece.line_end);
                if c.text.len() >= TARGET_CHARS {
                    out.extend(current.take());
                }
                continue;
            }
            out.extend(current.take());
        }
        current = Some(piece);
    }
    out.extend(current);
    out
}

/// A block longer than [`MAX_CHARS`] cut at line, then sentence, then word boundaries.
fn split_long(block: &Block) -> Vec<Chunk> {
    if block.text.len() <= MAX_CHARS {
        return vec![Chunk {
            heading_path: block.heading_path.clone(),
            text: block.text.clone(),
            line_start: block.line_start,
            line_end: block.line_end,
        }];
    }
    let mut out = Vec::new();
    let mut text = String::new();
    let mut line = block.line_start;
    let mut start = line;
    for unit in units(&block.text) {
        if !text.is_empty() && text.len() + unit.len() > TARGET_CHARS {
            out.push(Chunk {
                heading_path: block.heading_path.clone(),
                text: std::mem::take(&mut text).trim().to_string(),
                line_start: start,
                line_end: line.min(block.line_end),
            });
            start = line.min(block.line_end);
        }
        text.push_str(unit);
        line += unit.matches('\n').count() as u32;
    }
    if !text.trim().is_empty() {
        out.push(Chunk {
            heading_path: block.heading_path.clone(),
            text: text.trim().to_string(),
            line_start: start,
            line_end: block.line_end,
        });
    }
    out
}

/// The text as pieces no longer than [`MAX_CHARS`] / 2 ending at a newline, sentence end or
/// space; concatenated they give the text back.
fn units(text: &str) -> Vec<&str> {
    let limit = MAX_CHARS / 2;
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() <= limit {
            out.push(rest);
            break;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let window = &rest[..cut];
        let at = window
            .rfind('\n')
            .or_else(|| window.rfind(". "))
            .or_else(|| window.rfind(' '))
            .map_or(cut, |i| i + 1)
            .max(1);
        let mut at = at.min(rest.len());
        while !rest.is_char_boundary(at) {
            at += 1;
        }
        out.push(&rest[..at]);
        rest = &rest[at..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(h: &[&str], text: &str, l: u32) -> Block {
        Block { heading_path: h.iter().map(|s| s.to_string()).collect(), text: text.into(), line_start: l, line_end: l }
    }

    #[test]
    fn small_sections_merge_and_big_ones_split() {
        let blocks = vec![block(&["A"], "short intro", 1), block(&["A", "B"], &"word ".repeat(300), 3)];
        let c = chunk(&blocks);
        assert_eq!(c[0].heading_path, vec!["A"]);
        assert!(c[0].text.starts_with("short intro\n\nword"));
        assert!(
            c.iter().all(|c| c.text.len() <= MAX_CHARS),
            "{:?}",
            c.iter().map(|c| c.text.len()).collect::<Vec<_>>()
        );
        let long = "é".repeat(5000);
        let c = chunk(&[block(&[], &long, 1)]);
        assert!(c.len() >= 4 && c.iter().all(|c| c.text.len() <= MAX_CHARS));
        assert_eq!(c.iter().map(|c| c.text.clone()).collect::<String>(), long);
    }

    #[test]
    fn a_new_section_starts_a_new_passage_once_the_current_one_is_substantial() {
        let para = "x".repeat(500);
        let c = chunk(&[block(&["A"], &para, 1), block(&["B"], "b text", 9)]);
        assert_eq!(c.len(), 2);
        assert_eq!((c[1].heading_path.clone(), c[1].line_start), (vec!["B".to_string()], 9));
    }
}

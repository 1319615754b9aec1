//! Grounding: search hits → the sources a prompt quotes, fitted to a token budget. Hits are
//! taken in rank order, near-duplicates (the same paragraph quoted in three mails) are
//! dropped, and long passages are trimmed so that several sources fit rather than one. The
//! local-only mark of every passage travels with it: the router must never send a prompt
//! holding one of them to a cloud model.

use std::collections::HashSet;
use std::path::PathBuf;

use frugal_index::Hit;
use serde::{Deserialize, Serialize};

/// A passage as quoted in a prompt, numbered for citations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Citation number, from 1.
    pub n: usize,
    /// The file.
    pub path: PathBuf,
    /// First line.
    pub line_start: u32,
    /// Last line.
    pub line_end: u32,
    /// Document title.
    pub title: String,
    /// Headings above the passage.
    pub heading_path: String,
    /// The text as quoted (maybe trimmed).
    pub text: String,
    /// From a local-only folder.
    pub local_only: bool,
}

impl Source {
    /// `path:line` for citations.
    pub fn location(&self) -> String {
        format!("{}:{}", self.path.display(), self.line_start)
    }
}

/// The sources chosen for one prompt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Grounding {
    /// In rank order.
    pub sources: Vec<Source>,
    /// Tokens the sources take (as counted by the caller's counter).
    pub tokens: usize,
    /// Hits left out as near-duplicates of a better one.
    pub duplicates: usize,
    /// Hits left out for lack of room.
    pub over_budget: usize,
    /// Tokens pruning kept out of the prompt: near-duplicates and the trimmed tails of long
    /// passages (hits past the budget were never going to be sent, and are not counted).
    pub pruned_tokens: usize,
}

impl Grounding {
    /// Whether any source must stay on this machine.
    pub fn local_only(&self) -> bool {
        self.sources.iter().any(|s| s.local_only)
    }

    /// The sources as a prompt block: `[n] title (path:line)` then the text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.sources {
            let heading = if s.heading_path.is_empty() || s.heading_path == s.title {
                String::new()
            } else {
                format!(" › {}", s.heading_path)
            };
            out.push_str(&format!("[{}] {}{heading}\n{}\n\n", s.n, s.title, s.text.trim()));
        }
        out
    }
}

/// Fits `hits` (best first) into `budget` tokens. `count` counts tokens in a text.
pub fn prune(hits: &[Hit], budget: usize, count: &mut dyn FnMut(&str) -> usize) -> Grounding {
    let mut g = Grounding::default();
    let mut kept_shingles: Vec<HashSet<u64>> = Vec::new();
    // No single source may take more than half the room while others wait.
    let per_source = (budget / 2).max(64);
    for hit in hits {
        let shingles = shingles(&hit.text);
        if kept_shingles.iter().any(|k| jaccard(k, &shingles) > 0.6) {
            g.duplicates += 1;
            g.pruned_tokens += count(&hit.text) + 12;
            continue;
        }
        let room = budget.saturating_sub(g.tokens).min(per_source);
        if room < 48 {
            // A hit past the budget was never going to be sent: no saving to claim.
            g.over_budget += 1;
            continue;
        }
        let mut text = hit.text.clone();
        let mut tokens = count(&text) + 12;
        if tokens > room {
            let whole = tokens;
            text = trim_to(&text, room.saturating_sub(12), count);
            tokens = count(&text) + 12;
            g.pruned_tokens += whole.saturating_sub(tokens);
        }
        g.tokens += tokens;
        kept_shingles.push(shingles);
        g.sources.push(Source {
            n: g.sources.len() + 1,
            path: hit.path.clone(),
            line_start: hit.line_start,
            line_end: hit.line_end,
            title: hit.title.clone(),
            heading_path: hit.heading_path.clone(),
            text,
            local_only: hit.local_only,
        });
    }
    g
}

/// The longest prefix of `text`, cut at a sentence or line end where possible, within
/// `tokens` tokens.
fn trim_to(text: &str, tokens: usize, count: &mut dyn FnMut(&str) -> usize) -> String {
    let (mut lo, mut hi) = (0usize, text.len());
    // Binary search on a byte length; the counter is the judge.
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let mut cut = mid;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        if count(&text[..cut]) <= tokens {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut cut = lo;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let sentence = head.rfind(['.', '\n', '!', '?']).filter(|&i| i > cut / 2);
    match sentence {
        Some(i) => format!("{} …", head[..=i].trim_end()),
        None => format!("{} …", head.trim_end()),
    }
}

fn shingles(text: &str) -> HashSet<u64> {
    use std::hash::{Hash, Hasher};
    let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
    words
        .windows(3)
        .map(|w| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            w.hash(&mut h);
            h.finish()
        })
        .collect()
}

fn jaccard(a: &HashSet<u64>, b: &HashSet<u64>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let inter = a.intersection(b).count() as f64;
    inter / (a.len() as f64 + b.len() as f64 - inter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(path: &str, text: &str, local_only: bool) -> Hit {
        Hit {
            path: path.into(),
            line_start: 1,
            line_end: 2,
            title: path.into(),
            heading_path: String::new(),
            snippet: String::new(),
            highlights: Vec::new(),
            score: 1.0,
            kind: "text".into(),
            modified: 0,
            local_only,
            folder: "/".into(),
            text: text.into(),
            coverage: 1.0,
            keyword_rank: Some(1),
            meaning_rank: None,
        }
    }

    #[test]
    fn duplicates_go_long_ones_are_trimmed_and_the_mark_travels() {
        let words = |n: usize, w: &str| vec![w; n].join(" ");
        let long = format!("{}. {}.", words(150, "alpha beta"), words(150, "gamma"));
        let quoted = "the venue is the lake house on may twelve and the budget is five thousand";
        let hits = vec![
            hit("/a.md", quoted, false),
            hit("/b.eml", &format!("> {quoted}"), false),
            hit("/c.md", &long, true),
            hit("/d.md", "small note about parking", false),
        ];
        let mut count = |s: &str| s.split_whitespace().count();
        let g = prune(&hits, 200, &mut count);
        assert_eq!(g.duplicates, 1);
        // The duplicate (16 words + 12) and the trimmed tail of the long one were kept out.
        assert!(g.pruned_tokens > 28 + 300, "{}", g.pruned_tokens);
        let paths: Vec<_> = g.sources.iter().map(|s| s.path.display().to_string()).collect();
        assert_eq!(paths, vec!["/a.md", "/c.md", "/d.md"]);
        assert!(g.sources[1].text.ends_with('…') && count(&g.sources[1].text) <= 100, "{}", g.sources[1].text.len());
        assert!(g.tokens <= 200, "{}", g.tokens);
        assert!(g.local_only());
        assert_eq!(g.sources.iter().map(|s| s.n).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(g.render().starts_with("[1] /a.md\nthe venue"));
    }
}

//! The simulated provider's prompt cache, as each vendor documents theirs: Anthropic caches
//! the prefix up to each `cache_control` breakpoint (writes billed at the write rate, reads at
//! the cached rate, nothing under 1,024 tokens, five minutes from the last use); OpenAI
//! caches every prompt on its own and reports the longest prefix seen before, from 1,024
//! tokens on in steps of 128. Tokens are counted as everywhere in the simulator: four
//! characters each.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Kind;

/// The shortest prefix either vendor caches.
pub(super) const MIN_TOKENS: u32 = 1024;
/// How long a prefix stays cached after its last use.
const TTL: Duration = Duration::from_secs(300);
/// Prompts remembered for OpenAI-style automatic caching.
const REMEMBERED: usize = 256;

/// What the simulator has cached.
#[derive(Default)]
pub(super) struct PromptCache {
    /// Anthropic: prefixes written at breakpoints, with their last use.
    prefixes: Vec<(String, Instant)>,
    /// OpenAI: whole prompts seen, with their last use.
    prompts: Vec<(String, Instant)>,
}

/// Cache reads and writes of one request, in tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct CacheUse {
    pub read: u32,
    pub write: u32,
}

pub(super) fn tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count() / 4).unwrap_or(u32::MAX)
}

/// The texts of a content field (a string, or blocks), each with whether a breakpoint ends it.
fn pieces(content: &Value) -> Vec<(String, bool)> {
    match content {
        Value::String(s) => vec![(s.clone(), false)],
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| {
                let text = b
                    .get("text")
                    .or_else(|| b.get("content"))
                    .and_then(Value::as_str)
                    .map_or_else(|| b.to_string(), str::to_string);
                (text, b.get("cache_control").is_some())
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The prompt as one text, and the length of the text before each breakpoint.
pub(super) fn prompt_text(request: &Value) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut breaks = Vec::new();
    let add = |role: &str, content: &Value, text: &mut String, breaks: &mut Vec<usize>| {
        text.push_str(role);
        text.push('\n');
        for (piece, marked) in pieces(content) {
            text.push_str(&piece);
            if marked {
                breaks.push(text.len());
            }
        }
        text.push('\n');
    };
    if let Some(system) = request.get("system") {
        add("system", system, &mut text, &mut breaks);
    }
    for m in request.get("messages").and_then(Value::as_array).into_iter().flatten() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        add(role, m.get("content").unwrap_or(&Value::Null), &mut text, &mut breaks);
    }
    (text, breaks)
}

impl PromptCache {
    /// Looks `request` up and records what it leaves in the cache.
    pub(super) fn serve(&mut self, kind: Kind, request: &Value) -> CacheUse {
        let now = Instant::now();
        self.prefixes.retain(|(_, t)| now.duration_since(*t) < TTL);
        self.prompts.retain(|(_, t)| now.duration_since(*t) < TTL);
        let (text, breaks) = prompt_text(request);
        match kind {
            Kind::Anthropic => {
                let candidates: Vec<&str> =
                    breaks.iter().filter_map(|&at| text.get(..at)).filter(|p| tokens(p) >= MIN_TOKENS).collect();
                let mut read = 0;
                for p in &candidates {
                    if let Some(hit) = self.prefixes.iter_mut().find(|(c, _)| c == p) {
                        hit.1 = now;
                        read = read.max(tokens(p));
                    }
                }
                let last = candidates.last().map_or(0, |p| tokens(p));
                let write = last.saturating_sub(read);
                for p in candidates {
                    if !self.prefixes.iter().any(|(c, _)| c == p) {
                        self.prefixes.push((p.to_string(), now));
                    }
                }
                CacheUse { read, write }
            }
            Kind::OpenAi => {
                let mut best = 0usize;
                for (seen, t) in &mut self.prompts {
                    let common = seen.bytes().zip(text.bytes()).take_while(|(a, b)| a == b).count();
                    if common > best {
                        best = common;
                        *t = now;
                    }
                }
                let common = tokens(text.get(..best).unwrap_or(&text));
                let read = if common >= MIN_TOKENS { common - common % 128 } else { 0 };
                if !self.prompts.iter().any(|(seen, _)| *seen == text) {
                    if self.prompts.len() >= REMEMBERED {
                        self.prompts.remove(0);
                    }
                    self.prompts.push((text, now));
                }
                CacheUse { read, write: 0 }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn anthropic(doc: &str, question: &str) -> Value {
        json!({"system": [{"type": "text", "text": "be brief"}], "messages": [{"role": "user", "content": [
            {"type": "text", "text": doc, "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": question}]}]})
    }

    #[test]
    fn anthropic_writes_then_reads_a_marked_prefix_of_enough_tokens() {
        let mut c = PromptCache::default();
        let doc = "word ".repeat(1000);
        let first = c.serve(Kind::Anthropic, &anthropic(&doc, "what?"));
        assert!(first.read == 0 && first.write >= MIN_TOKENS);
        let second = c.serve(Kind::Anthropic, &anthropic(&doc, "and now?"));
        assert_eq!((second.read, second.write), (first.write, 0));
        // Too short to cache: neither written nor read.
        let short = c.serve(Kind::Anthropic, &anthropic("a short note", "what?"));
        assert_eq!(short, CacheUse::default());
    }

    #[test]
    fn openai_reads_the_longest_prefix_seen_in_steps_of_128() {
        let mut c = PromptCache::default();
        let doc = "word ".repeat(1000);
        let m = |q: &str| json!({"messages": [{"role": "user", "content": format!("{doc}{q}")}]});
        assert_eq!(c.serve(Kind::OpenAi, &m("one")).read, 0);
        let second = c.serve(Kind::OpenAi, &m("two"));
        assert!(second.read >= MIN_TOKENS && second.read % 128 == 0 && second.write == 0);
    }
}

//! The response cache: a repeatable request (temperature 0 or a fixed seed) asked again by
//! the same app within the TTL gets the same answer at $0, without the engine or the cloud.
//! Tools re-send identical prompts all the time (an agent's retries, an IDE's re-renders);
//! answering those from memory is the cheapest request there is.
//!
//! Kept in memory only: answers are private text, and a cache that outlives the process
//! would be one more copy of them on disk. Bounded by bytes; the oldest answer goes first.
//! Never shared across apps: the app's name is part of the key.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use frugal_core::llm::{Request, ToolCall, Usage};
use sha2::{Digest, Sha256};

use crate::call::Finish;

/// What identifies a repeatable request: a SHA-256 of the app, the model asked for and the
/// whole request as the engine or provider would get it.
pub type Key = [u8; 32];

/// An answer as it was first served.
#[derive(Clone, Debug)]
pub struct Cached {
    /// The answer's text, stop sequences already cut.
    pub text: String,
    /// The tools the model called.
    pub tool_calls: Vec<ToolCall>,
    /// Why it ended.
    pub finish: Finish,
    /// The stop sequence that ended it, if one did.
    pub stop_sequence: Option<String>,
    /// The token counts of the first answer (reported again, so clients see the same usage).
    pub usage: Usage,
    /// The model that wrote it, as the ledger records it.
    pub model: String,
    /// What it cost the first time, when a cloud model wrote it.
    pub cloud_cost_micros: Option<i64>,
}

impl Cached {
    fn size(&self) -> usize {
        let calls: usize = self.tool_calls.iter().map(|c| c.id.len() + c.name.len() + c.arguments.len() + 64).sum();
        self.text.len() + calls + self.model.len() + self.stop_sequence.as_ref().map_or(0, String::len) + 128
    }
}

struct Entry {
    answer: Cached,
    expires: Instant,
    size: usize,
    /// Which insertion this is, so an eviction of an older copy leaves a newer one alone.
    seq: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Entry>,
    /// Insertion order, oldest first.
    order: VecDeque<(Key, u64)>,
    bytes: usize,
    seq: u64,
}

/// The gateway's response cache.
pub struct ResponseCache {
    ttl: Duration,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl ResponseCache {
    /// A cache whose answers live `ttl` and take at most `max_bytes`; either zero turns it off.
    pub fn new(ttl: Duration, max_bytes: usize) -> Self {
        Self { ttl, max_bytes, inner: Mutex::new(Inner::default()) }
    }

    /// Whether it keeps anything at all.
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_bytes > 0
    }

    /// The key of `request` from `app` for `model`, or `None` when the request is not
    /// repeatable (sampled without a fixed seed: a second answer is supposed to differ).
    pub fn key(&self, app: &str, model: &str, private: bool, request: &Request) -> Option<Key> {
        if !self.enabled() || (request.sampling.temperature > 0.0 && request.sampling.seed.is_none()) {
            return None;
        }
        let body = serde_json::to_vec(request).ok()?;
        let mut h = Sha256::new();
        for part in [b"frugal-cache-1".as_slice(), app.as_bytes(), model.as_bytes(), &[u8::from(private)], &body] {
            // Length-prefixed, so no two different tuples hash the same bytes.
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        Some(h.finalize().into())
    }

    /// The answer stored under `key`, if it has not expired.
    pub fn get(&self, key: &Key) -> Option<Cached> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match inner.map.get(key) {
            Some(e) if e.expires > Instant::now() => Some(e.answer.clone()),
            Some(_) => {
                if let Some(e) = inner.map.remove(key) {
                    inner.bytes -= e.size;
                }
                None
            }
            None => None,
        }
    }

    /// Stores `answer` under `key`, evicting the oldest answers past the size limit. An
    /// answer larger than a quarter of the cache is not kept (it would flush everything).
    pub fn put(&self, key: Key, answer: Cached) {
        let size = answer.size();
        if !self.enabled() || size > self.max_bytes / 4 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.seq += 1;
        let seq = inner.seq;
        if let Some(old) = inner.map.insert(key, Entry { answer, expires: Instant::now() + self.ttl, size, seq }) {
            inner.bytes -= old.size;
        }
        inner.bytes += size;
        inner.order.push_back((key, seq));
        while inner.bytes > self.max_bytes {
            let Some((k, s)) = inner.order.pop_front() else { break };
            if inner.map.get(&k).is_some_and(|e| e.seq == s) {
                if let Some(e) = inner.map.remove(&k) {
                    inner.bytes -= e.size;
                }
            }
        }
        // Entries replaced or expired leave stale order slots; drop them once they dominate.
        if inner.order.len() > 2 * inner.map.len() + 64 {
            let Inner { map, order, .. } = &mut *inner;
            order.retain(|(k, s)| map.get(k).is_some_and(|e| e.seq == *s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frugal_core::llm::Message;

    fn answer(text: &str) -> Cached {
        Cached {
            text: text.into(),
            tool_calls: Vec::new(),
            finish: Finish::Stop,
            stop_sequence: None,
            usage: Usage::default(),
            model: "m".into(),
            cloud_cost_micros: None,
        }
    }

    fn request(temperature: f32, seed: Option<u32>) -> Request {
        let mut r = Request::new(vec![Message::user("hi")]);
        r.sampling.temperature = temperature;
        r.sampling.seed = seed;
        r
    }

    #[test]
    fn only_repeatable_requests_have_keys_and_apps_never_share_them() {
        let c = ResponseCache::new(Duration::from_secs(60), 1 << 20);
        assert!(c.key("a", "frugal/auto", false, &request(0.7, None)).is_none());
        let k = c.key("a", "frugal/auto", false, &request(0.0, None));
        assert!(k.is_some());
        assert_eq!(k, c.key("a", "frugal/auto", false, &request(0.0, None)));
        assert!(c.key("a", "frugal/auto", false, &request(0.7, Some(3))).is_some());
        assert_ne!(k, c.key("b", "frugal/auto", false, &request(0.0, None)));
        assert_ne!(k, c.key("a", "frugal/local", false, &request(0.0, None)));
        assert_ne!(k, c.key("a", "frugal/auto", true, &request(0.0, None)));
        assert_ne!(k, c.key("a", "frugal/auto", false, &request(0.0, None).with_max_tokens(7)));
        let off = ResponseCache::new(Duration::ZERO, 1 << 20);
        assert!(off.key("a", "frugal/auto", false, &request(0.0, None)).is_none());
    }

    #[test]
    fn answers_expire_and_the_oldest_go_first() {
        let c = ResponseCache::new(Duration::from_millis(50), 4096);
        let (a, b) = ([1u8; 32], [2u8; 32]);
        c.put(a, answer("one"));
        assert_eq!(c.get(&a).map(|x| x.text), Some("one".into()));
        std::thread::sleep(Duration::from_millis(80));
        assert!(c.get(&a).is_none(), "expired");

        let c = ResponseCache::new(Duration::from_secs(60), 4096);
        let big = "x".repeat(700);
        for i in 0..10u8 {
            c.put([i; 32], answer(&big));
        }
        assert!(c.get(&[0; 32]).is_none(), "the oldest was evicted");
        assert!(c.get(&[9; 32]).is_some(), "the newest is kept");
        assert!(c.inner.lock().map(|i| i.bytes <= 4096).unwrap_or(false));
        c.put(b, answer(&"y".repeat(2000)));
        assert!(c.get(&b).is_none(), "an answer over a quarter of the cache is not kept");
    }
}

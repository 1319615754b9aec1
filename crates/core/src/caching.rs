//! Which stable prompt prefixes to offer a cloud provider's cache, priced.
//!
//! Tasks mark where each stable part of their prompt ends ([`frugal_llm::CacheMark`]); this
//! decides which marks a request carries. OpenAI-style providers cache on their own and
//! charge nothing extra to write, so they get the task's `prompt_cache_key` and nothing to
//! decide. Anthropic charges a premium to write a prefix (1.25× input) and a tenth to read
//! it back within five minutes, so a breakpoint pays off only if the prefix is read again:
//!
//! - under the model's minimum cacheable length it would not be cached at all: no mark;
//! - sent with a mark in the last five minutes (the ledger keeps each row's prefix hash), it
//!   is most likely cached: marking it reads it back at a tenth of the price;
//! - shared by later requests of the same run (the parts of a long meeting, a retry): marked;
//! - otherwise it pays off when `P(read again) × (input − cached) > (write − input)`, with
//!   `P` this task's own history in the ledger — the share of its prefixes sent more than
//!   once in the last 30 days, smoothed with one success and one failure (½ with no history).

use frugal_cloud::{CloudConfig, Kind};
use frugal_ledger::{Ledger, Price};
use frugal_llm::{CacheMark, Request};
use sha2::{Digest, Sha256};

/// How long Anthropic keeps a prefix after its last use.
pub(crate) const CACHE_TTL_MS: i64 = 5 * 60_000;
/// How far back a task's reuse is measured.
const HISTORY_MS: i64 = 30 * 86_400_000;

/// The shortest prefix Anthropic caches for `model`, in tokens (its documentation's table).
pub(crate) fn min_cacheable(model: &str) -> u32 {
    let m = model.to_ascii_lowercase();
    if m.contains("haiku-4") || m.contains("opus-4-5") || m.contains("opus-4-6") {
        4096
    } else if m.contains("haiku") {
        2048
    } else {
        1024
    }
}

/// Whether a provider is OpenAI itself (by its configured name or its host), the one
/// OpenAI-protocol server known to take `prompt_cache_key`.
pub(crate) fn is_openai(config: &frugal_cloud::CloudConfig) -> bool {
    config.name.eq_ignore_ascii_case("openai") || config.vendor_hint().as_deref() == Some("openai")
}

/// Marks the stable prefixes of a conversation (a chat, a gateway client's request): the
/// system prompt, and everything before the last user turn — the next turn of a chat sends
/// it again. [`plan`] then keeps the marks that pay off at the provider.
pub fn conversation(request: Request, key: &str) -> Request {
    let m = &request.messages;
    let mut marks = Vec::new();
    if let Some(i) = m.iter().rposition(|x| x.role == frugal_llm::Role::System) {
        marks.push(CacheMark::after(i, &m[i].content, false));
    }
    let last_user = m.iter().rposition(|x| x.role == frugal_llm::Role::User);
    if let Some(i) = last_user.and_then(|u| u.checked_sub(1)) {
        if marks.last().is_none_or(|k| k.message < i) {
            marks.push(CacheMark::after(i, &m[i].content, false));
        }
    }
    request.with_cache(key, marks)
}

/// Tokens of a prefix, estimated at four characters each (the decision needs a size, not
/// a bill: a prefix wrongly judged long enough is simply not cached by the provider).
fn tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count() / 4).unwrap_or(u32::MAX)
}

/// A short stable hash of a prefix, as the ledger keeps it.
pub(crate) fn prefix_hash(request: &Request, mark: &CacheMark) -> String {
    let digest = Sha256::digest(request.prefix_text(mark).as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The request as it will be sent, with the marks that pay off, and the hash of its longest
/// offered prefix for the ledger. A ledger that cannot answer counts as no history.
/// Only OpenAI itself gets the `prompt_cache_key`.
pub(crate) fn plan(
    provider: &CloudConfig,
    price: &Price,
    task: &str,
    ledger: &Ledger,
    mut request: Request,
    now_ms: i64,
) -> (Request, Option<String>) {
    let (kind, model) = (provider.kind, provider.model.as_str());
    let takes_key = is_openai(provider);
    let Some(mut hint) = request.cache.take() else { return (request, None) };
    let hash = hint.marks.last().map(|m| prefix_hash(&request, m));
    if !takes_key {
        // Some OpenAI-compatible servers refuse fields they do not know.
        hint.key.clear();
    }
    if kind == Kind::Anthropic {
        let premium = price.cache_write - price.input;
        let gain = price.input - price.cached_input;
        let min = min_cacheable(model);
        let last = hint.marks.len().saturating_sub(1);
        let recent = |h: &str| ledger.prefix_recent(model, h, now_ms - CACHE_TTL_MS).unwrap_or(false);
        let mut reuse: Option<f64> = None;
        let mut likely_read = || {
            *reuse.get_or_insert_with(|| {
                let (n, reused) = ledger.prefix_reuse(task, now_ms - HISTORY_MS).unwrap_or((0, 0));
                (reused as f64 + 1.0) / (n as f64 + 2.0)
            })
        };
        let marks = std::mem::take(&mut hint.marks);
        hint.marks = marks
            .into_iter()
            .enumerate()
            .filter(|(i, m)| {
                if tokens(&request.prefix_text(m)) < min {
                    return false;
                }
                premium <= 0
                    || m.shared
                    || (*i == last && hash.as_deref().is_some_and(recent))
                    || likely_read() * gain as f64 > premium as f64
            })
            .map(|(_, m)| m)
            .collect();
    }
    request.cache = Some(hint);
    (request, hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use frugal_ledger::{NewRequest, Outcome, Route, Settlement, TokenCounts};
    use frugal_llm::Message;

    fn sim(kind: Kind, model: &str) -> CloudConfig {
        let name = if kind == Kind::OpenAi { "openai" } else { "anthropic" };
        CloudConfig {
            name: name.into(),
            kind,
            base_url: "http://127.0.0.1:1/v1".into(),
            model: model.into(),
            timeouts: Default::default(),
        }
    }

    const SONNET: Price = Price { input: 3_000_000, cached_input: 300_000, cache_write: 3_750_000, output: 15_000_000 };

    fn request(doc: &str) -> Request {
        let user = format!("{doc}\nQuestion?");
        Request::new(vec![Message::system("Be brief."), Message::user(user)])
            .with_cache("ask", vec![CacheMark { message: 1, at: doc.len(), shared: false }])
    }

    fn sent(ledger: &Ledger, hash: &str, at: i64) {
        let t = ledger
            .begin(
                NewRequest {
                    at_ms: at,
                    run_id: format!("r{at}"),
                    task: "ask".into(),
                    route: Route::Cloud,
                    provider: "anthropic".into(),
                    model: "claude-sonnet-4-0".into(),
                    reserved_micros: 0,
                    escalation: None,
                    app: None,
                    prefix_hash: Some(hash.into()),
                },
                &Default::default(),
            )
            .unwrap();
        // It wrote the cache (a prefix sent unmarked says nothing of what is cached).
        let tokens = TokenCounts { prompt: 2000, cache_write: 1500, completion: 10, ..TokenCounts::default() };
        let settled = Settlement {
            finished_ms: at,
            tokens,
            cost_micros: 1,
            reference_cost_micros: None,
            latency_ms: 1,
            outcome: Outcome::Ok,
            note: None,
            levers: Default::default(),
        };
        ledger.settle(t, settled).unwrap();
    }

    #[test]
    fn short_prefixes_are_never_marked_and_long_ones_are_with_no_history() {
        let ledger = Ledger::in_memory().unwrap();
        let now = 1_800_000_000_000;
        let (short, _) =
            plan(&sim(Kind::Anthropic, "claude-sonnet-4-0"), &SONNET, "ask", &ledger, request("tiny"), now);
        assert!(short.cache.unwrap().marks.is_empty());
        let doc = "word ".repeat(1200);
        let (long, hash) =
            plan(&sim(Kind::Anthropic, "claude-sonnet-4-0"), &SONNET, "ask", &ledger, request(&doc), now);
        assert_eq!(long.cache.unwrap().marks.len(), 1);
        assert!(hash.is_some());
        // Haiku 4.5 caches nothing under 4,096 tokens.
        let (haiku, _) = plan(&sim(Kind::Anthropic, "claude-haiku-4-5"), &SONNET, "ask", &ledger, request(&doc), now);
        assert!(haiku.cache.unwrap().marks.is_empty());
    }

    #[test]
    fn a_task_whose_prefixes_are_never_reused_stops_paying_the_write_premium() {
        let ledger = Ledger::in_memory().unwrap();
        let now = 1_800_000_000_000;
        for i in 0..8 {
            sent(&ledger, &format!("never-again-{i}"), now - 3_600_000 - i);
        }
        let doc = "word ".repeat(1200);
        let (r, hash) = plan(&sim(Kind::Anthropic, "claude-sonnet-4-0"), &SONNET, "ask", &ledger, request(&doc), now);
        assert!(r.cache.unwrap().marks.is_empty(), "1/10 reuse × 0.9 < 0.25 premium");
        // The same prefix sent a minute ago is likely cached: marked, to read it back.
        sent(&ledger, hash.as_deref().unwrap(), now - 60_000);
        let (r, _) = plan(&sim(Kind::Anthropic, "claude-sonnet-4-0"), &SONNET, "ask", &ledger, request(&doc), now);
        assert_eq!(r.cache.unwrap().marks.len(), 1);
        // OpenAI: no premium, nothing to decide; the key goes as it is.
        let (o, _) = plan(&sim(Kind::OpenAi, "gpt-4.1"), &SONNET, "ask", &ledger, request("tiny"), now);
        assert_eq!(o.cache.unwrap().key, "ask");
    }
}

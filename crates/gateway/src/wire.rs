//! What both protocols share on the wire: reading a JSON body within the limit, message
//! content as text, the headers that say how an answer was served, and server-sent events.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use frugal_core::llm::Sampling;
use frugal_core::{Assistant, RouteReport};
use serde::Deserialize;

use crate::call::Notes;
use crate::error::Problem;

/// What every handler shares.
pub struct Gateway {
    /// The one assistant of the process: router, meter, ledger, engine.
    pub assistant: Arc<Assistant>,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Answers to repeatable requests, per app.
    pub cache: Arc<crate::cache::ResponseCache>,
}

impl Gateway {
    /// The gateway over `assistant`, its cache sized by `[gateway]`.
    pub fn new(assistant: Arc<Assistant>, body_limit: usize) -> Self {
        let g = assistant.config().gateway.clone();
        let cache = Arc::new(crate::cache::ResponseCache::new(g.cache_ttl(), g.cache_max_bytes()));
        Self { assistant, body_limit, cache }
    }
}

/// Reads a request body of at most `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // `to_bytes` says "length limit exceeded" for an oversized body; anything else is a
        // body that could not be read (cut off, bad chunking).
        if e.to_string().contains("length limit") {
            Problem::TooLarge(format!("the request body is over the gateway's limit of {} MiB", limit >> 20))
        } else {
            Problem::BadRequest(format!(
                "the request body could not be read: {}",
                crate::access::one_line(&e.to_string())
            ))
        }
    })
}

/// Parses a JSON request body sent as `application/json`.
pub fn parse_json<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Problem> {
    let ctype = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ctype.trim_start().to_ascii_lowercase().starts_with("application/json") {
        return Err(Problem::BadRequest(format!(
            "the body must be JSON sent as `content-type: application/json` (got `{}`)",
            crate::access::one_line(ctype)
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde quotes the offending value: keep the line short however long that value is.
        Problem::BadRequest(format!("the request body is not valid: {}", crate::access::one_line_long(&e.to_string())))
    })
}

/// Sampling from a request's `temperature` (0 to `max_temperature`, the protocol's own
/// range) and `top_p`, both protocols' defaults otherwise.
pub fn sampling(temperature: Option<f32>, top_p: Option<f32>, max_temperature: f32) -> Result<Sampling, Problem> {
    let mut s = Sampling::default();
    if let Some(t) = temperature {
        if !(0.0..=max_temperature).contains(&t) {
            return Err(Problem::BadRequest(format!("`temperature` must be between 0 and {max_temperature}")));
        }
        s.temperature = t;
    }
    if let Some(p) = top_p {
        if !(p > 0.0 && p <= 1.0) {
            return Err(Problem::BadRequest("`top_p` must be in (0, 1]".into()));
        }
        s.top_p = p;
    }
    Ok(s)
}

/// The request's `x-frugal-private`: answer on this machine or refuse. Fails closed: the
/// header present means private unless it says `0` or `false`.
pub fn private(headers: &HeaderMap) -> bool {
    headers.get_all("x-frugal-private").iter().any(|v| {
        let v = v.to_str().map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default();
        !(v == "0" || v == "false")
    })
}

pub fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A message's content: a string, or a list of parts of which only text is taken.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

impl Content {
    /// The text; a part that is not text is a 400 naming it (`field` says where).
    pub fn text(self, field: &str) -> Result<String, Problem> {
        match self {
            Content::Text(t) => Ok(t),
            Content::Parts(parts) => {
                let mut out = String::new();
                for (i, p) in parts.into_iter().enumerate() {
                    match (p.kind.as_str(), p.text) {
                        ("text", Some(t)) => {
                            if !out.is_empty() {
                                out.push('\n');
                            }
                            out.push_str(&t);
                        }
                        (kind, _) => {
                            return Err(Problem::BadRequest(format!(
                                "{field}[{i}]: `{}` parts are not supported here (text only)",
                                crate::access::one_line(kind)
                            )))
                        }
                    }
                }
                Ok(out)
            }
        }
    }
}

/// `x-frugal-route`, `x-frugal-run-id`, `x-frugal-escalated`, `x-frugal-cache` for a
/// repeatable request, `x-frugal-queue-ms` for a local one, `x-frugal-schema` for a local
/// answer handed out although it fails its schema and, once known, `x-frugal-cost-usd`.
pub fn served_headers(route: &RouteReport, spent_micros: Option<i64>, notes: &Notes) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        // A header holds ASCII only: a reason that quotes other text (a schema's message
        // about the answer) keeps its words, with `?` for the rest, rather than going.
        let ascii: String =
            crate::access::one_line_long(&value).chars().map(|c| if c.is_ascii() { c } else { '?' }).collect();
        if let Ok(v) = HeaderValue::from_str(&ascii) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-frugal-route", route.route.to_string());
    put("x-frugal-run-id", route.run_id.clone());
    put("x-frugal-escalated", route.escalated.clone().unwrap_or_else(|| "no".into()));
    if let Some(s) = spent_micros {
        put("x-frugal-cost-usd", format!("{:.6}", frugal_core::ledger::usd(s)));
    }
    if let Some(c) = notes.cache {
        put("x-frugal-cache", c.to_string());
    }
    if let Some(q) = notes.queue_ms {
        put("x-frugal-queue-ms", q.to_string());
    }
    if let Some(why) = &notes.schema {
        put("x-frugal-schema", format!("invalid: {why}"));
    }
    h
}

/// The same fields as a final SSE comment, when the cost is known (clients ignore comments).
pub fn served_comment(route: &RouteReport, spent_micros: i64, notes: &Notes) -> Bytes {
    Bytes::from(format!(
        ": x-frugal-route={} x-frugal-run-id={} x-frugal-cost-usd={:.6}{}{} x-frugal-escalated={}\n\n",
        route.route,
        route.run_id,
        frugal_core::ledger::usd(spent_micros),
        notes.cache.map(|c| format!(" x-frugal-cache={c}")).unwrap_or_default(),
        notes.queue_ms.map(|q| format!(" x-frugal-queue-ms={q}")).unwrap_or_default(),
        crate::access::one_line(route.escalated.as_deref().unwrap_or("no")),
    ))
}

/// `stream: null` read as `false` (absent), as the providers take it; `true`/`false` as
/// they are, anything else an error naming the field.
pub fn null_as_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// A body of server-sent events.
pub fn sse(body: Body) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/event-stream"));
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    r
}

/// The events a task sends, as a body stream.
pub fn receiver_stream(
    rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok(b), rx)) })
}

/// Marks the stable prefixes of a client's conversation for a cloud provider's prompt cache
/// (see [`frugal_core::caching::conversation`]), under the gateway's own key.
pub fn conversation_cache(request: frugal_core::llm::Request) -> frugal_core::llm::Request {
    frugal_core::caching::conversation(request, "frugal-gateway")
}

#[cfg(test)]
mod tests {
    use super::*;
    use frugal_core::llm::{Message, Request};

    #[test]
    fn a_conversation_is_marked_after_its_system_prompt_and_its_history() {
        let r = conversation_cache(Request::new(vec![
            Message::system("You are terse."),
            Message::user("first"),
            Message::assistant("answer"),
            Message::user("second"),
        ]));
        let c = r.cache.unwrap();
        assert_eq!(c.key, "frugal-gateway");
        assert_eq!(c.marks.iter().map(|k| (k.message, k.at)).collect::<Vec<_>>(), vec![(0, 14), (2, 6)]);
        let one = conversation_cache(Request::new(vec![Message::user("only")]));
        assert!(one.cache.unwrap().marks.is_empty());
    }
}

//! A cloud provider on 127.0.0.1 for tests and benchmarks: it speaks OpenAI Chat
//! Completions or Anthropic Messages (streamed), records every request it receives, and
//! misbehaves on demand — 429 with `Retry-After`, 500, slow and hung answers, malformed JSON,
//! a stream cut halfway, no usage block, a rejected key. Offered tools, it calls one (the
//! named one, else the first) with arguments made from its schema, and answers in text once
//! the conversation ends with that call's result.
//!
//! Plain threads and `std::net`, one thread per connection, `Connection: close`: the point
//! is to exercise the real client over real sockets, not to be fast.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};

use crate::Kind;

mod batch;
mod cache;
mod tools;
pub use batch::BatchFault;
use cache::{CacheUse, PromptCache};
use tools::{tool_body, tool_call, tool_events};

/// One way to misbehave.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: secs`.
    RateLimited {
        /// Seconds the client is asked to wait.
        retry_after: u64,
    },
    /// HTTP 500.
    ServerError,
    /// HTTP 401, as for a wrong key; the body echoes the key like some providers do.
    Unauthorized,
    /// Headers sent, then nothing, forever (until the server is dropped).
    Hang,
    /// A valid start, then a payload that is not JSON.
    Malformed,
    /// Half the answer, then the connection closes.
    CutHalfway,
    /// A complete answer without any usage numbers.
    NoUsage,
    /// Each token waits this long.
    Slow(Duration),
}

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Request path (`/v1/chat/completions`).
    pub path: String,
    /// Header names (lower-cased) and values.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: String,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Produces the answer text for a request body.
pub type Responder = Arc<dyn Fn(&Value) -> String + Send + Sync>;

struct State {
    queued: VecDeque<Fault>,
    sticky: Option<Fault>,
    requests: Vec<Recorded>,
    responder: Responder,
    token_delay: Duration,
    cached_tokens: u32,
    cache: PromptCache,
    batches: batch::Batches,
}

/// The server; stops when dropped.
pub struct SimServer {
    kind: Kind,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer").field("kind", &self.kind).field("addr", &self.addr).finish()
    }
}

/// The default answer: counting, one number per token, so limits and cancellation show.
fn counting(_: &Value) -> String {
    (1..=100).map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
}

impl SimServer {
    /// Starts a server speaking `kind` on a free port.
    pub fn start(kind: Kind) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            queued: VecDeque::new(),
            sticky: None,
            requests: Vec::new(),
            responder: Arc::new(counting),
            token_delay: Duration::from_millis(2),
            cached_tokens: 0,
            cache: PromptCache::default(),
            batches: batch::Batches::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::Builder::new().name("sim-cloud".into()).spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (st, sp) = (st.clone(), sp.clone());
                let _ = std::thread::Builder::new().spawn(move || {
                    let _ = serve(kind, conn, &st, &sp);
                });
            }
        })?;
        Ok(Self { kind, addr, state, stop })
    }

    /// The `base_url` to configure (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next request (only) gets this fault; several calls queue several.
    pub fn push_fault(&self, fault: Fault) {
        self.state().queued.push_back(fault);
    }

    /// Every request gets this fault until cleared with `None`.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state().sticky = fault;
    }

    /// How the answer text is made from the request body.
    pub fn respond_with(&self, f: impl Fn(&Value) -> String + Send + Sync + 'static) {
        self.state().responder = Arc::new(f);
    }

    /// Pause between streamed tokens (default 2 ms).
    pub fn set_token_delay(&self, d: Duration) {
        self.state().token_delay = d;
    }

    /// Prompt tokens reported as served from the provider's cache, whatever the prompt
    /// (0, the default: the simulated cache decides, as the vendor's would).
    pub fn set_cached_tokens(&self, n: u32) {
        self.state().cached_tokens = n;
    }

    /// How every batch from now on misbehaves (`None`: it does not).
    pub fn set_batch_fault(&self, fault: Option<BatchFault>) {
        self.state().batches.fault = fault;
    }

    /// Polls a batch answers "in progress" before it ends (default 0: ended at the first).
    pub fn set_batch_polls(&self, polls: u32) {
        self.state().batches.polls_before_end = polls;
    }

    /// The ids of every batch created, oldest first.
    pub fn batch_ids(&self) -> Vec<String> {
        self.state().batches.created.clone()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
    }
}

fn serve(kind: Kind, conn: TcpStream, state: &Mutex<State>, stop: &AtomicBool) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let method = line.split_whitespace().next().unwrap_or("GET").to_string();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            }
            chunked |= k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked");
            headers.push((k, v));
        }
    }
    let body = if chunked { read_chunked(&mut reader)? } else { read_exact(&mut reader, length)? };
    let body = String::from_utf8_lossy(&body).into_owned();
    let is_chat = path.ends_with("/chat/completions") || path.ends_with("/messages");
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let (fault, responder, delay, cache) = {
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.requests.push(Recorded { path: path.clone(), headers: headers.clone(), body: body.clone() });
        let fault = s.queued.pop_front().or_else(|| s.sticky.clone());
        // A refused request never reaches the cache.
        let refused = matches!(fault, Some(Fault::RateLimited { .. } | Fault::ServerError | Fault::Unauthorized));
        let cache = match s.cached_tokens {
            _ if refused || !is_chat => CacheUse::default(),
            0 => s.cache.serve(kind, &request),
            n => CacheUse { read: n, write: 0 },
        };
        (fault, s.responder.clone(), s.token_delay, cache)
    };
    let request_headers = headers;
    let mut out = conn;
    match fault {
        Some(Fault::RateLimited { retry_after }) => {
            return plain(
                &mut out,
                "429 Too Many Requests",
                &format!("Retry-After: {retry_after}\r\n"),
                r#"{"error":{"message":"Rate limit reached, slow down"}}"#,
            )
        }
        Some(Fault::ServerError) => {
            return plain(&mut out, "500 Internal Server Error", "", r#"{"error":{"message":"upstream overloaded"}}"#)
        }
        Some(Fault::Unauthorized) => {
            // Like real providers, echo (part of) the key back: the client must scrub it.
            let key = state_key(&request_headers);
            let body = json!({"error": {"message": format!("Incorrect API key provided: {key}")}}).to_string();
            return plain(&mut out, "401 Unauthorized", "", &body);
        }
        _ => {}
    }
    if !is_chat {
        let content_type =
            request_headers.iter().find(|(k, _)| k == "content-type").map_or("", |(_, v)| v.as_str()).to_string();
        let base = format!("http://{}/v1", out.local_addr()?);
        let answer = {
            let mut guard = state.lock().unwrap_or_else(PoisonError::into_inner);
            let s = &mut *guard;
            s.batches.serve(kind, &method, &path, &content_type, &body, &base, &responder, &mut s.cache)
        };
        let (status, text) = answer.unwrap_or(("404 Not Found", r#"{"error":{"message":"no such endpoint"}}"#.into()));
        return plain(&mut out, status, "", &text);
    }
    // A request that does not ask for a stream (as proxies like LiteLLM send them) gets one
    // JSON body in the protocol's shape, as the real APIs answer.
    let call = tool_call(kind, &request);
    if request.get("stream") != Some(&Value::Bool(true)) && fault.is_none() {
        if let Some(call) = &call {
            return plain(&mut out, "200 OK", "", &tool_body(kind, &request, call).to_string());
        }
        let body = whole_answer(kind, &request, &responder(&request), cache);
        return plain(&mut out, "200 OK", "", &body.to_string());
    }
    out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
    )?;
    if fault == Some(Fault::Hang) {
        for _ in 0..1200 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        return Ok(());
    }
    let text = responder(&request);
    let max = request
        .get("max_tokens")
        .or_else(|| request.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(4096) as usize;
    let mut tokens = split_tokens(&text);
    let truncated = tokens.len() > max;
    tokens.truncate(max);
    let prompt_tokens = prompt_size(&request);
    let with_usage = fault != Some(Fault::NoUsage);
    let delay = match fault {
        Some(Fault::Slow(d)) => d,
        _ => delay,
    };
    let cut_at = (fault == Some(Fault::CutHalfway)).then_some(tokens.len() / 2);
    let (events, n_text) = match &call {
        Some(call) => (tool_events(kind, call, prompt_tokens, with_usage), 3),
        None => (sse_events(kind, &tokens, truncated, prompt_tokens, cache, with_usage), tokens.len()),
    };
    for (i, event) in events.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if cut_at.is_some_and(|c| i > c) {
            return out.flush(); // closes mid-answer
        }
        if fault == Some(Fault::Malformed) && i == n_text / 2 + 1 {
            out.write_all(b"data: {\"choices\": [{\"delta\": {\"content\": \"oops\"\n\n")?;
            return out.flush();
        }
        out.write_all(event.as_bytes())?;
        out.flush()?;
        if i > 0 && i <= n_text && !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
    Ok(())
}

fn read_exact(reader: &mut impl Read, length: usize) -> std::io::Result<Vec<u8>> {
    let mut body = vec![0; length.min(64 << 20)];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// A body sent in chunks (`Transfer-Encoding: chunked`), as a streamed upload is.
fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if n == 0 || body.len() > 64 << 20 {
            let mut end = String::new();
            reader.read_line(&mut end)?;
            return Ok(body);
        }
        let mut chunk = vec![0; n];
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk);
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
    }
}

fn state_key(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(k, _)| k == "authorization" || k == "x-api-key")
        .map(|(_, v)| v.trim_start_matches("Bearer ").to_string())
        .unwrap_or_default()
}

fn plain(out: &mut TcpStream, status: &str, extra: &str, body: &str) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

/// Tokens as a model would stream them: words with their trailing space.
fn split_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if c == ' ' || c == '\n' {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Prompt tokens as ~4 characters each, the usual ratio for English: the text of the whole
/// prompt as the cache sees it, so a cached prefix is never more than the prompt.
fn prompt_size(request: &Value) -> u32 {
    cache::tokens(&cache::prompt_text(request).0).saturating_add(1)
}

fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// A whole (unstreamed) answer in the protocol's shape: the body of a plain request, and of
/// each line of a batch's results.
fn whole_answer(kind: Kind, request: &Value, text: &str, cache: CacheUse) -> Value {
    let max = request
        .get("max_tokens")
        .or_else(|| request.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(4096) as usize;
    let mut tokens = split_tokens(text);
    let truncated = tokens.len() > max;
    tokens.truncate(max);
    let (prompt, completion) = (prompt_size(request), u32::try_from(tokens.len()).unwrap_or(u32::MAX));
    let (read, write) = (cache.read.min(prompt), cache.write.min(prompt.saturating_sub(cache.read)));
    let text = tokens.concat();
    match kind {
        Kind::OpenAi => json!({
            "id": "sim", "object": "chat.completion", "created": 0, "model": request["model"],
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": text },
                          "finish_reason": if truncated { "length" } else { "stop" } }],
            "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                       "prompt_tokens_details": {"cached_tokens": read} },
        }),
        Kind::Anthropic => json!({
            "id": "sim", "type": "message", "role": "assistant", "model": request["model"],
            "content": [{ "type": "text", "text": text }],
            "stop_reason": if truncated { "max_tokens" } else { "end_turn" },
            "usage": { "input_tokens": prompt - read - write, "cache_read_input_tokens": read,
                       "cache_creation_input_tokens": write, "output_tokens": completion },
        }),
    }
}

fn sse_events(
    kind: Kind,
    tokens: &[String],
    truncated: bool,
    prompt: u32,
    cache: CacheUse,
    usage: bool,
) -> Vec<String> {
    let n = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
    let cached = cache.read.min(prompt);
    let write = cache.write.min(prompt - cached);
    let mut out = Vec::new();
    match kind {
        Kind::OpenAi => {
            out.push(data(&json!({"id":"sim","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})));
            for t in tokens {
                out.push(data(&json!({"id":"sim","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":t},"finish_reason":null}]})));
            }
            let reason = if truncated { "length" } else { "stop" };
            out.push(data(&json!({"id":"sim","choices":[{"index":0,"delta":{},"finish_reason":reason}]})));
            if usage {
                out.push(data(&json!({"id":"sim","choices":[],"usage":{
                    "prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n,
                    "prompt_tokens_details": {"cached_tokens": cached},
                    "completion_tokens_details": {"reasoning_tokens": 0}}})));
            }
            out.push("data: [DONE]\n\n".to_string());
        }
        Kind::Anthropic => {
            let start_usage = if usage {
                json!({"input_tokens": prompt - cached - write, "cache_read_input_tokens": cached, "cache_creation_input_tokens": write, "output_tokens": 1})
            } else {
                json!({})
            };
            out.push(format!("event: message_start\n{}", data(&json!({"type":"message_start","message":{"id":"msg_sim","type":"message","role":"assistant","content":[],"model":"sim","usage":start_usage}}))));
            for t in tokens {
                out.push(format!(
                    "event: content_block_delta\n{}",
                    data(&json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":t}}))
                ));
            }
            let reason = if truncated { "max_tokens" } else { "end_turn" };
            let delta_usage = if usage { json!({"output_tokens": n}) } else { json!({}) };
            out.push(format!(
                "event: message_delta\n{}",
                data(&json!({"type":"message_delta","delta":{"stop_reason":reason},"usage":delta_usage}))
            ));
            out.push(format!("event: message_stop\n{}", data(&json!({"type":"message_stop"}))));
        }
    }
    out
}

use std::sync::OnceLock;
use std::time::Duration;

use frugal_llm::{
    CancelToken, ErrorKind, Event, EventSender, EventStream, FinishReason, Provider, ProviderError, Request, Usage,
};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use serde::Serialize;

use crate::wire::{self, PartialUsage, SseDecoder};
use crate::{CloudConfig, Kind, Secret};

/// A cloud model behind the [`Provider`] trait.
///
/// Requests run on the caller's multi-threaded Tokio runtime when there is one, else on a
/// small shared one (two threads, started on first use), so `stream` returns at once and
/// hundreds of concurrent requests cost no thread each.
#[derive(Clone)]
pub struct CloudClient {
    config: CloudConfig,
    key: Option<Secret>,
    http: reqwest::Client,
}

impl std::fmt::Debug for CloudClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudClient").field("config", &self.config).field("key", &self.key).finish()
    }
}

/// What a request would send: shown by `--dry-run`, with the key masked.
#[derive(Clone, Debug, Serialize)]
pub struct Outbound {
    /// Always `POST`.
    pub method: &'static str,
    /// The endpoint.
    pub url: String,
    /// Headers, the key shown as `***`.
    pub headers: Vec<(String, String)>,
    /// The exact JSON body.
    pub body: serde_json::Value,
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, ProviderError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("frugal-cloud")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ProviderError::new(ErrorKind::Internal, format!("cannot start the network runtime: {e}")))
}

/// An upper bound on the prompt tokens of `request` for any provider's tokenizer, without the
/// tokenizer: no tokenizer makes more than one token per byte of UTF-8 (byte-level BPE and
/// SentencePiece's byte fallback both bottom out at one byte), plus the chat template's few
/// tokens per message and the format instruction some protocols add. Budget reservations use
/// it so that the settled cost stays within what was reserved; on English prose it is about
/// four times the real count, which only matters for input, the cheap side of a price.
pub fn prompt_token_bound(request: &Request) -> u32 {
    let bytes: usize = request
        .messages
        .iter()
        .map(|m| {
            m.content.len() + m.tool_calls.iter().map(|c| c.id.len() + c.name.len() + c.arguments.len() + 16).sum::<usize>()
        })
        .sum::<usize>()
        + request.tools.iter().map(|t| t.name.len() + t.description.len() + t.parameters.len() + 32).sum::<usize>()
        // Providers add their own instructions for tool use (Anthropic: about 350 tokens).
        + if request.uses_tools() { 600 } else { 0 }
        + request.messages.iter().map(|m| m.tool_call_id.as_ref().map_or(0, String::len)).sum::<usize>();
    let schema = match &request.constraint {
        Some(frugal_llm::Constraint::JsonSchema(s)) => s.len() + 128,
        _ => 0,
    };
    u32::try_from(bytes + schema + 8 * request.messages.len() + 16).unwrap_or(u32::MAX)
}

impl CloudClient {
    /// A client for `config`. `key` may be `None` for self-hosted servers that need none.
    pub fn new(config: CloudConfig, key: Option<Secret>) -> Result<Self, ProviderError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            // The key rides in a header: a redirect to another host must not carry it along.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("frugal/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&config.base_url) {
            // A proxy from the environment must not intercept a server on this machine.
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| ProviderError::new(ErrorKind::Internal, format!("cannot set up HTTPS: {e}")))?;
        Ok(Self { config, key: key.filter(|k| !k.is_empty()), http })
    }

    /// The provider's settings.
    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    /// The exact request `stream` would send, key masked.
    pub fn outbound(&self, request: &Request) -> Outbound {
        let headers =
            self.headers(true).iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("***").to_string())).collect();
        Outbound {
            method: "POST",
            url: self.config.endpoint(),
            headers,
            body: wire::body(self.config.kind, &self.config.model, request),
        }
    }

    fn headers(&self, masked: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let key = self.key.as_ref().map(|k| if masked { "***" } else { k.expose() });
        let secret = |v: String| {
            HeaderValue::from_str(&v).ok().map(|mut v| {
                v.set_sensitive(true);
                v
            })
        };
        match self.config.kind {
            Kind::OpenAi => {
                if let Some(v) = key.and_then(|k| secret(format!("Bearer {k}"))) {
                    h.insert(reqwest::header::AUTHORIZATION, v);
                }
            }
            Kind::Anthropic => {
                h.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
                if let Some(v) = key.and_then(|k| secret(k.to_string())) {
                    h.insert("x-api-key", v);
                }
            }
        }
        h
    }

    /// The HTTP client (for the batch calls).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The headers of a call, the key in them.
    pub(crate) fn auth_headers(&self) -> HeaderMap {
        self.headers(false)
    }

    /// A one-line error naming the provider, key scrubbed.
    pub(crate) fn failure(&self, kind: ErrorKind, message: String) -> ProviderError {
        self.error(kind, message)
    }

    /// Runs `work` to the end from synchronous code: on this crate's runtime, the caller's
    /// thread waiting (the batch calls are a few requests, made from the CLI or a worker).
    pub(crate) fn block_on<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, ProviderError>> + Send,
    ) -> Result<T, ProviderError> {
        let rt = runtime()?;
        match tokio::runtime::Handle::try_current() {
            // Inside a multi-threaded runtime: let it move other tasks off this thread.
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(work))
            }
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| rt.block_on(work))
                    .join()
                    .unwrap_or_else(|_| Err(ProviderError::new(ErrorKind::Internal, "the batch call panicked")))
            }),
            Err(_) => rt.block_on(work),
        }
    }

    /// A one-line message with the key scrubbed out, whatever the provider echoed.
    fn error(&self, kind: ErrorKind, message: String) -> ProviderError {
        let message = match &self.key {
            Some(k) => k.redact(&message),
            None => message,
        };
        ProviderError::new(kind, format!("{}: {message}", self.config.name))
    }

    async fn run(&self, request: Request, cancel: CancelToken, tx: &EventSender) -> Result<(), ProviderError> {
        let body = serde_json::to_vec(&wire::body(self.config.kind, &self.config.model, &request))
            .map_err(|e| ProviderError::new(ErrorKind::Internal, format!("cannot encode the request: {e}")))?;
        let t = self.config.timeouts;
        let mut attempt = 0;
        let response = loop {
            if cancel.is_cancelled() {
                return finish(tx, Usage::default(), FinishReason::Cancelled);
            }
            let send = self.http.post(self.config.endpoint()).headers(self.headers(false)).body(body.clone()).send();
            let sent = tokio::select! {
                r = tokio::time::timeout(t.first_byte, send) => r,
                // The request may have reached the provider: its bill is unknown.
                () = cancelled(&cancel, tx) => return finish(tx, unknown_usage(&request), FinishReason::Cancelled),
            };
            let (failure, retry_after) = match sent {
                // No answer in time, or the connection broke after the request went out: the
                // provider may be generating (and billing) it, so it is not sent twice.
                Err(_) => (
                    self.error(ErrorKind::Network, format!("no answer within {} s", t.first_byte.as_secs())).billable(),
                    None,
                ),
                Ok(Err(e)) if e.is_connect() => (self.error(ErrorKind::Network, describe(&e)), None),
                Ok(Err(e)) => (self.error(ErrorKind::Network, describe(&e)).billable(), None),
                Ok(Ok(resp)) if resp.status().is_success() => break resp,
                Ok(Ok(resp)) => {
                    let retry_after = retry_after(resp.headers());
                    (self.status_error(resp).await, retry_after)
                }
            };
            if !failure.kind().is_transient() || failure.is_billable() || attempt >= t.max_retries {
                return Err(failure);
            }
            let delay = retry_after.unwrap_or_else(|| backoff(attempt));
            if delay > t.max_retry_wait {
                return Err(self.error(
                    failure.kind(),
                    format!("{} (asked to retry after {} s, not waiting)", strip_name(&failure), delay.as_secs()),
                ));
            }
            tx.send(Event::Status(format!(
                "{}; retrying in {:.1} s ({} of {})",
                failure,
                delay.as_secs_f64(),
                attempt + 1,
                t.max_retries
            )));
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancelled(&cancel, tx) => return finish(tx, Usage::default(), FinishReason::Cancelled),
            }
            attempt += 1;
        };
        self.read_stream(response, &request, &cancel, tx).await
    }

    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        request: &Request,
        cancel: &CancelToken,
        tx: &EventSender,
    ) -> Result<(), ProviderError> {
        let kind = self.config.kind;
        let idle = self.config.timeouts.idle;
        let mut decoder = SseDecoder::default();
        let mut usage = PartialUsage::default();
        let mut reason = None;
        let mut ended = false;
        let mut text_bytes = 0usize;
        let mut calls = crate::tool_wire::ToolCalls::default();
        // An estimate for when the provider never reports usage, or we stop reading early.
        let estimate = |text_bytes: usize| Usage {
            prompt_tokens: prompt_token_bound(request),
            completion_tokens: u32::try_from(text_bytes.div_ceil(2)).unwrap_or(u32::MAX).min(request.max_tokens),
            estimated: true,
            ..Usage::default()
        };
        while !ended {
            let chunk = tokio::select! {
                c = tokio::time::timeout(idle, response.chunk()) => c,
                () = cancelled(cancel, tx) => {
                    return finish(tx, estimate(text_bytes + calls.bytes()), FinishReason::Cancelled);
                }
            };
            let payloads = match chunk {
                Err(_) => {
                    return Err(self
                        .error(
                            ErrorKind::Network,
                            format!("the answer stalled for {} s and was abandoned", idle.as_secs()),
                        )
                        .billable())
                }
                Ok(Err(e)) => {
                    return Err(self
                        .error(ErrorKind::Network, format!("the answer broke off: {}", describe(&e)))
                        .billable())
                }
                Ok(Ok(None)) => {
                    let rest: Vec<String> = decoder.finish().into_iter().collect();
                    if rest.is_empty() {
                        break;
                    }
                    rest
                }
                Ok(Ok(Some(bytes))) => decoder.push(&bytes),
            };
            for data in payloads {
                let parsed = wire::parse(kind, &data)
                    .map_err(|m| self.error(ErrorKind::Protocol, format!("sent {m}")).billable())?;
                if let Some(e) = parsed.error {
                    return Err(self.error(ErrorKind::Server, format!("failed mid-answer: {e}")).billable());
                }
                if let Some(t) = parsed.text {
                    text_bytes += t.len();
                    if !tx.send(Event::Text(t)) {
                        return Ok(()); // the caller dropped the stream
                    }
                }
                for d in parsed.tools {
                    calls.push(d);
                }
                if let Some(u) = parsed.usage {
                    usage.merge(u);
                }
                reason = parsed.finish.or(reason);
                ended |= parsed.end;
            }
        }
        // OpenAI-compatible servers that ignore `include_usage` end with [DONE] and no usage;
        // Anthropic always sends `message_stop`. A stream without its end marker was cut.
        let complete = ended || (kind == Kind::OpenAi && reason.is_some() && usage.output.is_some());
        if !complete {
            return Err(self.error(ErrorKind::Protocol, "the answer was cut off before its end".into()).billable());
        }
        let usage = usage.finish(kind).unwrap_or_else(|| {
            tx.send(Event::Status(format!(
                "{} reported no token usage; the ledger counts the worst case",
                self.config.name
            )));
            estimate(text_bytes + calls.bytes())
        });
        let calls = calls.finish();
        let mut reason = reason.unwrap_or(FinishReason::Stop);
        if !calls.is_empty() && reason == FinishReason::Stop {
            // Some compatible servers end a tool call with `stop`: the caller must still
            // know the model waits for results.
            reason = FinishReason::ToolCalls;
        }
        for call in calls {
            tx.send(Event::ToolCall(call));
        }
        finish(tx, usage, reason)
    }

    pub(crate) async fn status_error(&self, response: reqwest::Response) -> ProviderError {
        let status = response.status();
        let body = tokio::time::timeout(Duration::from_secs(5), response.text()).await.ok().and_then(Result::ok);
        // Redacted before it is cut: a key echoed near the cut would otherwise be matched
        // only in part.
        let body = body.map(|b| match &self.key {
            Some(k) => k.redact(&b),
            None => b,
        });
        let detail = body
            .as_deref()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .and_then(|v| {
                v.pointer("/error/message").or_else(|| v.get("message")).and_then(|m| m.as_str().map(String::from))
            })
            .or_else(|| body.map(|b| b.chars().take(160).collect()))
            .filter(|d| !d.trim().is_empty())
            .map(|d| format!(": {}", d.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        let code = status.as_u16();
        let (kind, what) = match code {
            401 | 403 => (ErrorKind::Auth, "rejected the API key (check it with `frugal keys set`)"),
            404 => (ErrorKind::InvalidRequest, "does not know this model or endpoint (check base_url and model)"),
            408 => (ErrorKind::Network, "timed out"),
            413 => (ErrorKind::ContextOverflow, "says the request is too large"),
            429 => (ErrorKind::RateLimited, "is rate limiting"),
            400 if detail.contains("context") => (ErrorKind::ContextOverflow, "says the prompt is too long"),
            400..=499 => (ErrorKind::InvalidRequest, "refused the request"),
            _ => (ErrorKind::Server, "failed on its side"),
        };
        self.error(kind, format!("{what} (HTTP {code}){detail}"))
    }
}

impl Provider for CloudClient {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn stream(&self, request: Request, cancel: CancelToken) -> EventStream {
        if let Err(e) = request.validate() {
            return EventStream::failed(e);
        }
        let (tx, rx) = frugal_llm::channel();
        let client = self.clone();
        let work = async move {
            if let Err(e) = client.run(request, cancel, &tx).await {
                tx.fail(e);
            }
        };
        // Inside a multi-threaded runtime (the gateway's, the tray app's) the request runs on
        // it, next to whoever reads the stream; elsewhere on this crate's own small runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                h.spawn(work);
            }
            _ => match runtime() {
                Ok(rt) => {
                    rt.spawn(work);
                }
                Err(e) => return EventStream::failed(e),
            },
        }
        rx
    }
}

/// Usage of a request that may have reached the provider but whose answer we never read:
/// marked estimated, so the ledger charges what it reserved.
fn unknown_usage(request: &Request) -> Usage {
    Usage { prompt_tokens: prompt_token_bound(request), estimated: true, ..Usage::default() }
}

/// Ends a stream properly: usage, then done.
fn finish(tx: &EventSender, usage: Usage, reason: FinishReason) -> Result<(), ProviderError> {
    tx.send(Event::Usage(usage));
    tx.send(Event::Done { reason });
    Ok(())
}

/// Resolves once `cancel` is set or the caller dropped the stream; polled because the token
/// is a plain flag shared with threads that never touch async code.
async fn cancelled(cancel: &CancelToken, tx: &EventSender) {
    while !cancel.is_cancelled() && !tx.is_closed() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s … ±25 %.
fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(6));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = u64::from(nanos % 500) * base / 1000; // 0..50 %
    Duration::from_millis(base * 3 / 4 + jitter)
}

/// `Retry-After` in seconds (OpenAI also sends `retry-after-ms`); HTTP dates fall back to backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok());
    get("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| get(RETRY_AFTER.as_str()))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "cannot connect (is the address right and the server up?)".into()
    } else if e.is_timeout() {
        "the connection timed out".into()
    } else {
        // reqwest's Display names the URL and the cause chain's top; keep the top only.
        let mut s = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            s = inner.to_string();
            source = inner.source();
        }
        s
    }
}

fn strip_name(e: &ProviderError) -> &str {
    e.message().split_once(": ").map_or(e.message(), |(_, rest)| rest)
}

fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or("");
    matches!(host, "127.0.0.1" | "localhost" | "[" | "::1") || host.starts_with("127.")
}

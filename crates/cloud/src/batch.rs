//! The two batch protocols: work that can wait up to a day, at half price.
//!
//! - **OpenAI Batch API**: the requests as a JSONL file uploaded to `POST /files`
//!   (`purpose=batch`), then `POST /batches` on it; `GET /batches/{id}` until it is
//!   `completed`, `expired`, `cancelled` or `failed`; the answers are the lines of its output
//!   file and the failures those of its error file (`GET /files/{id}/content`).
//! - **Anthropic Message Batches**: `POST /messages/batches` with the requests inline;
//!   `GET /messages/batches/{id}` until `processing_status` is `ended`; the results are JSONL
//!   at its `results_url` (`succeeded`, `errored`, `canceled` or `expired` per request).
//!
//! Both answer each request whole (no streaming) and bill only the requests that succeeded.
//! Polls are single attempts: a 429 or 5xx is an error for this poll only, and the caller
//! polls again later. A results file with a malformed or cut line loses only that line: the
//! caller charges a request without a result at its worst case.

use frugal_llm::{ErrorKind, FinishReason, ProviderError, Request, Usage};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::CloudClient;
use crate::wire;
use crate::Kind;

/// One request of a batch, named by the caller.
#[derive(Clone, Debug)]
pub struct BatchItem {
    /// The caller's id for it, echoed in its result (at most 64 characters of
    /// `[A-Za-z0-9_-]`, as Anthropic requires).
    pub custom_id: String,
    /// The request.
    pub request: Request,
}

/// Where a batch is at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteState {
    /// Being validated or processed.
    InProgress,
    /// Being cancelled.
    Cancelling,
    /// Every request answered (or failed): results ready.
    Ended,
    /// The window passed; requests not done by then expired (results ready for the others).
    Expired,
    /// Cancelled; requests done before that have results.
    Cancelled,
    /// Refused as a whole (an invalid input file): nothing ran, nothing billed.
    Failed,
}

impl RemoteState {
    /// Whether its results can be read now.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ended | Self::Expired | Self::Cancelled | Self::Failed)
    }
}

/// A batch as the provider describes it.
#[derive(Clone, Debug)]
pub struct RemoteBatch {
    /// The provider's id.
    pub id: String,
    /// Where it is.
    pub state: RemoteState,
    /// Requests answered so far.
    pub succeeded: u32,
    /// Requests failed so far.
    pub failed: u32,
    /// All its requests.
    pub total: u32,
    /// The provider's reason, for a failed batch.
    pub note: Option<String>,
    /// Where its results are (OpenAI: output and error file ids; Anthropic: the results URL).
    results: Vec<String>,
}

/// The result of one request of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemOutcome {
    /// Answered (and billed).
    Answered {
        /// The answer.
        text: String,
        /// Its usage; `None` if the provider reported none (then its cost is unknown).
        usage: Option<Usage>,
        /// Why it stopped.
        finish: FinishReason,
    },
    /// Failed at the provider: not billed.
    Failed(String),
    /// Not run before the batch's window closed: not billed.
    Expired,
    /// Not run because the batch was cancelled: not billed.
    Cancelled,
}

/// What a batch's results said.
#[derive(Clone, Debug, Default)]
pub struct BatchResults {
    /// Each request's outcome, by its `custom_id`.
    pub items: Vec<(String, ItemOutcome)>,
    /// Lines that could not be read (malformed, cut): their requests have no result.
    pub problems: Vec<String>,
}

impl CloudClient {
    /// Submits `items` as one batch. A failure means the provider has no batch of them
    /// — unless the error is [billable](ProviderError::is_billable): then it may have one.
    pub fn batch_submit(&self, items: &[BatchItem]) -> Result<RemoteBatch, ProviderError> {
        self.block_on(self.submit(items))
    }

    /// The batch's state; `Ok(None)` if the provider does not know the id (404).
    pub fn batch_status(&self, id: &str) -> Result<Option<RemoteBatch>, ProviderError> {
        let path = match self.config().kind {
            Kind::OpenAi => format!("batches/{id}"),
            Kind::Anthropic => format!("messages/batches/{id}"),
        };
        self.block_on(async move {
            match self.call(Method::GET, &path, None).await? {
                None => Ok(None),
                Some(v) => self.describe(&v).map(Some),
            }
        })
    }

    /// Asks the provider to cancel the batch; requests already answered stay billed.
    pub fn batch_cancel(&self, id: &str) -> Result<Option<RemoteBatch>, ProviderError> {
        let path = match self.config().kind {
            Kind::OpenAi => format!("batches/{id}/cancel"),
            Kind::Anthropic => format!("messages/batches/{id}/cancel"),
        };
        self.block_on(async move {
            match self.call(Method::POST, &path, Some(json!({}))).await? {
                None => Ok(None),
                Some(v) => self.describe(&v).map(Some),
            }
        })
    }

    /// Reads the results of a batch in a final state.
    pub fn batch_results(&self, batch: &RemoteBatch) -> Result<BatchResults, ProviderError> {
        self.block_on(async move {
            let mut out = BatchResults::default();
            for source in &batch.results {
                let path = match self.config().kind {
                    Kind::OpenAi => format!("files/{source}/content"),
                    Kind::Anthropic => self.results_path(source, &batch.id),
                };
                let Some(text) = self.text(&path).await? else {
                    out.problems.push(format!("the results at {path} are gone"));
                    continue;
                };
                self.read_results(&text, &mut out);
            }
            Ok(out)
        })
    }

    async fn submit(&self, items: &[BatchItem]) -> Result<RemoteBatch, ProviderError> {
        let (kind, model) = (self.config().kind, self.config().model.clone());
        for item in items {
            item.request.validate()?;
        }
        let body = match kind {
            Kind::OpenAi => {
                let mut jsonl = String::new();
                for item in items {
                    let line = json!({
                        "custom_id": item.custom_id, "method": "POST", "url": "/v1/chat/completions",
                        "body": wire::unstreamed_body(kind, &model, &item.request),
                    });
                    jsonl.push_str(&line.to_string());
                    jsonl.push('\n');
                }
                let file = self.upload(jsonl).await?;
                json!({ "input_file_id": file, "endpoint": "/v1/chat/completions", "completion_window": "24h" })
            }
            Kind::Anthropic => {
                let requests: Vec<Value> = items
                    .iter()
                    .map(|i| json!({ "custom_id": i.custom_id, "params": wire::unstreamed_body(kind, &model, &i.request) }))
                    .collect();
                json!({ "requests": requests })
            }
        };
        let path = match kind {
            Kind::OpenAi => "batches",
            Kind::Anthropic => "messages/batches",
        };
        match self.call(Method::POST, path, Some(body)).await? {
            // Accepted, but with no id to follow: the batch may run and be billed.
            Some(v) => self.describe(&v).map_err(ProviderError::billable),
            None => {
                Err(self.failure(ErrorKind::Protocol, "the batch endpoint was not found (no batch API here?)".into()))
            }
        }
    }

    /// Uploads a JSONL file for OpenAI's Batch API; returns its id.
    async fn upload(&self, jsonl: String) -> Result<String, ProviderError> {
        let part = reqwest::multipart::Part::text(jsonl)
            .file_name("frugal-batch.jsonl")
            .mime_str("application/jsonl")
            .map_err(|e| self.failure(ErrorKind::Internal, format!("cannot build the upload: {e}")))?;
        let form = reqwest::multipart::Form::new().text("purpose", "batch").part("file", part);
        let url = self.url("files");
        let mut headers = self.auth_headers();
        headers.remove(reqwest::header::CONTENT_TYPE);
        let sent = tokio::time::timeout(
            self.config().timeouts.first_byte,
            self.http().post(url).headers(headers).multipart(form).send(),
        )
        .await;
        // An upload is no batch: a reply that cannot be read costs nothing, so it is not
        // billable (the batch's own create is).
        let v = self
            .answer(sent)
            .await
            .map_err(ProviderError::not_billable)?
            .ok_or_else(|| self.failure(ErrorKind::Protocol, "no file endpoint".into()))?;
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| self.failure(ErrorKind::Protocol, "the upload answer has no file id".into()))
    }

    /// The relative path of Anthropic's results: its `results_url` when it points at the
    /// configured host (the key is never sent anywhere else), else the documented path.
    fn results_path(&self, url: &str, id: &str) -> String {
        let base = self.config().base_url.trim_end_matches('/');
        url.strip_prefix(base)
            .map(|rest| rest.trim_start_matches('/').to_string())
            .unwrap_or_else(|| format!("messages/batches/{id}/results"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.config().base_url.trim_end_matches('/'), path.trim_start_matches('/'))
    }

    /// One JSON call; `Ok(None)` on 404.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Option<Value>, ProviderError> {
        let mut req = self.http().request(method, self.url(path)).headers(self.auth_headers());
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let sent = tokio::time::timeout(self.config().timeouts.first_byte, req.send()).await;
        self.answer(sent).await
    }

    /// A results file as text; `Ok(None)` on 404.
    async fn text(&self, path: &str) -> Result<Option<String>, ProviderError> {
        let req = self.http().get(self.url(path)).headers(self.auth_headers());
        let sent = tokio::time::timeout(self.config().timeouts.first_byte, req.send()).await;
        let resp = match self.response(sent).await? {
            Some(r) => r,
            None => return Ok(None),
        };
        // A download that breaks off is an error for this poll, not a verdict on the requests:
        // the provider keeps the file, and the next poll reads it whole.
        let mut bytes = Vec::new();
        let mut resp = resp;
        loop {
            match tokio::time::timeout(self.config().timeouts.idle, resp.chunk()).await {
                Ok(Ok(Some(c))) => bytes.extend_from_slice(&c),
                Ok(Ok(None)) => break,
                Ok(Err(_)) | Err(_) => {
                    return Err(self.failure(
                        ErrorKind::Network,
                        "the batch's results broke off while downloading; the next poll reads them again".into(),
                    ))
                }
            }
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    async fn response(
        &self,
        sent: Result<Result<reqwest::Response, reqwest::Error>, tokio::time::error::Elapsed>,
    ) -> Result<Option<reqwest::Response>, ProviderError> {
        let resp = match sent {
            Err(_) => {
                return Err(self
                    .failure(
                        ErrorKind::Network,
                        format!("no answer within {} s", self.config().timeouts.first_byte.as_secs()),
                    )
                    .billable())
            }
            Ok(Err(e)) if e.is_connect() => {
                return Err(
                    self.failure(ErrorKind::Network, "cannot connect (is the address right and the server up?)".into())
                )
            }
            Ok(Err(e)) => return Err(self.failure(ErrorKind::Network, crate::client::describe(&e)).billable()),
            Ok(Ok(r)) => r,
        };
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.status_error(resp).await);
        }
        Ok(Some(resp))
    }

    async fn answer(
        &self,
        sent: Result<Result<reqwest::Response, reqwest::Error>, tokio::time::error::Elapsed>,
    ) -> Result<Option<Value>, ProviderError> {
        let Some(resp) = self.response(sent).await? else { return Ok(None) };
        // The provider said yes: whatever goes wrong reading its answer, it may have acted
        // on the request (a batch submitted is a batch billed), so these failures are
        // billable. A body that stalls is one too, after the first-byte timeout again.
        let text = match tokio::time::timeout(self.config().timeouts.first_byte, resp.text()).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                let why = format!("the answer broke off: {}", crate::client::describe(&e));
                return Err(self.failure(ErrorKind::Network, why).billable());
            }
            Err(_) => {
                let why = format!("the answer stalled for {} s", self.config().timeouts.first_byte.as_secs());
                return Err(self.failure(ErrorKind::Network, why).billable());
            }
        };
        serde_json::from_str::<Value>(&text)
            .ok()
            .filter(Value::is_object)
            .map(Some)
            .ok_or_else(|| self.failure(ErrorKind::Protocol, "sent an answer that is not JSON".into()).billable())
    }

    /// A batch object of either protocol.
    fn describe(&self, v: &Value) -> Result<RemoteBatch, ProviderError> {
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| self.failure(ErrorKind::Protocol, "sent a batch without an id".into()))?
            .to_string();
        let n = |p: &str| v.pointer(p).and_then(Value::as_u64).map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let s = |p: &str| v.pointer(p).and_then(Value::as_str);
        match self.config().kind {
            Kind::OpenAi => {
                let state = match s("/status") {
                    Some("validating" | "in_progress" | "finalizing") => RemoteState::InProgress,
                    Some("cancelling") => RemoteState::Cancelling,
                    Some("completed") => RemoteState::Ended,
                    Some("expired") => RemoteState::Expired,
                    Some("cancelled") => RemoteState::Cancelled,
                    Some("failed") => RemoteState::Failed,
                    other => {
                        return Err(self.failure(ErrorKind::Protocol, format!("sent an unknown batch status {other:?}")))
                    }
                };
                let results =
                    ["/output_file_id", "/error_file_id"].iter().filter_map(|p| s(p)).map(String::from).collect();
                Ok(RemoteBatch {
                    id,
                    state,
                    succeeded: n("/request_counts/completed"),
                    failed: n("/request_counts/failed"),
                    total: n("/request_counts/total"),
                    note: s("/errors/data/0/message").map(String::from),
                    results,
                })
            }
            Kind::Anthropic => {
                let state = match s("/processing_status") {
                    Some("in_progress") => RemoteState::InProgress,
                    Some("canceling") => RemoteState::Cancelling,
                    Some("ended") if n("/request_counts/canceled") > 0 => RemoteState::Cancelled,
                    Some("ended") if n("/request_counts/expired") > 0 => RemoteState::Expired,
                    Some("ended") => RemoteState::Ended,
                    other => {
                        return Err(self.failure(ErrorKind::Protocol, format!("sent an unknown batch status {other:?}")))
                    }
                };
                let counts = ["processing", "succeeded", "errored", "canceled", "expired"];
                Ok(RemoteBatch {
                    id,
                    state,
                    succeeded: n("/request_counts/succeeded"),
                    failed: n("/request_counts/errored"),
                    total: counts.iter().fold(0u32, |sum, c| sum.saturating_add(n(&format!("/request_counts/{c}")))),
                    note: None,
                    results: s("/results_url").map(String::from).into_iter().collect(),
                })
            }
        }
    }

    /// Reads a results file's lines into `out`.
    fn read_results(&self, text: &str, out: &mut BatchResults) {
        let kind = self.config().kind;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let parsed = serde_json::from_str::<Value>(line).ok().filter(Value::is_object);
            let item = parsed.as_ref().and_then(|v| {
                let id = v.get("custom_id")?.as_str()?.to_string();
                let outcome = match kind {
                    Kind::OpenAi => openai_outcome(v),
                    Kind::Anthropic => anthropic_outcome(v),
                }?;
                Some((id, outcome))
            });
            match item {
                Some(i) => out.items.push(i),
                None => out.problems.push(format!("line {} of the results could not be read", n + 1)),
            }
        }
    }
}

fn openai_outcome(v: &Value) -> Option<ItemOutcome> {
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        let code = e.get("code").and_then(Value::as_str).unwrap_or("");
        let message = e.get("message").and_then(Value::as_str).unwrap_or("failed").to_string();
        return Some(if code == "batch_expired" {
            ItemOutcome::Expired
        } else if code == "batch_cancelled" {
            ItemOutcome::Cancelled
        } else {
            ItemOutcome::Failed(message)
        });
    }
    let response = v.get("response")?;
    let status = response.get("status_code").and_then(Value::as_u64).unwrap_or(0);
    let body = response.get("body")?;
    if status != 200 {
        let message = body.pointer("/error/message").and_then(Value::as_str).unwrap_or("failed");
        return Some(ItemOutcome::Failed(format!("HTTP {status}: {message}")));
    }
    wire::whole_answer(Kind::OpenAi, body).ok()
}

fn anthropic_outcome(v: &Value) -> Option<ItemOutcome> {
    let result = v.get("result")?;
    Some(match result.get("type")?.as_str()? {
        "succeeded" => return wire::whole_answer(Kind::Anthropic, result.get("message")?).ok(),
        "errored" => ItemOutcome::Failed(
            result.pointer("/error/error/message").and_then(Value::as_str).unwrap_or("failed").to_string(),
        ),
        "canceled" => ItemOutcome::Cancelled,
        "expired" => ItemOutcome::Expired,
        _ => return None,
    })
}

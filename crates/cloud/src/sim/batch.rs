//! The simulated provider's batch API, in both vendors' shapes (see `crate::batch`), with the
//! ways real batches go wrong: a batch that expires with requests unanswered, one whose
//! requests partly fail, one cancelled on the provider's side, a results file with a
//! malformed line or cut short, and a provider that no longer knows a batch id.
//!
//! A batch ends at the poll after `polls_before_end` polls (default: the first poll); each
//! answered request goes through the same responder and prompt cache as a live request.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::cache::PromptCache;
use super::{whole_answer, Responder};
use crate::Kind;

/// One way a batch misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchFault {
    /// The window passes with only the first half answered; the rest expire.
    Expire,
    /// Every second request fails (not billed).
    PartialFailure,
    /// The provider cancels the batch with only the first half answered.
    CancelledByProvider,
    /// The first line of the results is not JSON.
    MalformedResults,
    /// The results file ends halfway through its last line.
    CutResults,
    /// The provider does not know any batch id any more (404), as after losing its state.
    Forget,
    /// The batch is refused as a whole: OpenAI fails it in validation (no output file),
    /// Anthropic refuses to create it (400).
    Invalid,
    /// The batch is created (and will run, and be billed), but the answer that says so is
    /// not JSON: a proxy that cut it, a connection reset after the status line.
    GarbledCreate,
}

struct SimBatch {
    requests: Vec<(String, Value)>,
    polls: u32,
    cancelled: bool,
    /// Set once the batch has ended: status and the results' files.
    ended: Option<Ended>,
}

struct Ended {
    status: &'static str,
    answered: u32,
    failed: u32,
    expired: u32,
    cancelled: u32,
    output: String,
    errors: String,
}

/// The batches and uploaded files.
#[derive(Default)]
pub(super) struct Batches {
    files: HashMap<String, String>,
    batches: HashMap<String, SimBatch>,
    next: u32,
    pub polls_before_end: u32,
    pub fault: Option<BatchFault>,
    /// Every batch id ever created, in order, for tests.
    pub created: Vec<String>,
}

/// An HTTP answer: status line and JSON (or text) body.
pub(super) type Answer = (&'static str, String);

fn not_found(what: &str) -> Answer {
    ("404 Not Found", json!({"error": {"type": "not_found_error", "message": format!("{what} not found")}}).to_string())
}

/// The file part of a multipart upload.
fn multipart_file(content_type: &str, body: &str) -> Option<String> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    body.split(&format!("--{boundary}")).find(|part| part.contains("name=\"file\"")).and_then(|part| {
        let (_, content) = part.split_once("\r\n\r\n")?;
        Some(content.strip_suffix("\r\n").unwrap_or(content).to_string())
    })
}

impl Batches {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    /// Answers a batch or file call, if `path` is one.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn serve(
        &mut self,
        kind: Kind,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
        base: &str,
        responder: &Responder,
        cache: &mut PromptCache,
    ) -> Option<Answer> {
        let path = path.strip_prefix("/v1/").unwrap_or(path.trim_start_matches('/'));
        let parts: Vec<&str> = path.split('/').collect();
        let forgot = self.fault == Some(BatchFault::Forget);
        match (kind, method, parts.as_slice()) {
            (Kind::OpenAi, "POST", ["files"]) => {
                let Some(file) = multipart_file(content_type, body) else {
                    return Some((
                        "400 Bad Request",
                        json!({"error": {"message": "no file in the upload"}}).to_string(),
                    ));
                };
                let id = self.id("file-sim-");
                self.files.insert(id.clone(), file);
                Some(("200 OK", json!({"id": id, "object": "file", "purpose": "batch"}).to_string()))
            }
            (Kind::OpenAi, "POST", ["batches"]) => {
                let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                let file = v.get("input_file_id").and_then(Value::as_str).and_then(|f| self.files.get(f));
                let Some(file) = file else { return Some(not_found("input file")) };
                let requests = file
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .map(|l| (l["custom_id"].as_str().unwrap_or("").to_string(), l["body"].clone()))
                    .collect();
                Some(self.create(kind, requests, base))
            }
            (Kind::Anthropic, "POST", ["messages", "batches"]) => {
                let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                let requests = v["requests"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| (r["custom_id"].as_str().unwrap_or("").to_string(), r["params"].clone()))
                    .collect();
                Some(self.create(kind, requests, base))
            }
            (Kind::OpenAi, "GET", ["batches", id]) | (Kind::Anthropic, "GET", ["messages", "batches", id]) => {
                if forgot {
                    return Some(not_found("batch"));
                }
                let id = id.to_string();
                Some(self.poll(kind, &id, base, responder, cache))
            }
            (Kind::OpenAi, "POST", ["batches", id, "cancel"])
            | (Kind::Anthropic, "POST", ["messages", "batches", id, "cancel"]) => {
                if forgot {
                    return Some(not_found("batch"));
                }
                let id = id.to_string();
                match self.batches.get_mut(&id) {
                    None => Some(not_found("batch")),
                    Some(b) => {
                        b.cancelled |= b.ended.is_none();
                        Some(("200 OK", self.describe(kind, &id, base).to_string()))
                    }
                }
            }
            (Kind::OpenAi, "GET", ["files", id, "content"]) => {
                let ended = |batch: &str| self.batches.get(batch).and_then(|b| b.ended.as_ref());
                let found = if let Some(batch) = id.strip_prefix("file-out-") {
                    ended(batch).map(|e| e.output.clone())
                } else if let Some(batch) = id.strip_prefix("file-err-") {
                    ended(batch).map(|e| e.errors.clone())
                } else {
                    None
                };
                Some(found.map_or_else(|| not_found("file"), |f| ("200 OK", f)))
            }
            (Kind::Anthropic, "GET", ["messages", "batches", id, "results"]) => {
                if forgot {
                    return Some(not_found("batch"));
                }
                let output = self.batches.get(*id).and_then(|b| b.ended.as_ref()).map(|e| e.output.clone());
                Some(output.map_or_else(|| not_found("results"), |o| ("200 OK", o)))
            }
            _ => None,
        }
    }

    fn create(&mut self, kind: Kind, requests: Vec<(String, Value)>, base: &str) -> Answer {
        if kind == Kind::Anthropic && self.fault == Some(BatchFault::Invalid) {
            return (
                "400 Bad Request",
                json!({"error": {"type": "invalid_request_error", "message": "requests.0.params: invalid"}})
                    .to_string(),
            );
        }
        if requests.is_empty() {
            return ("400 Bad Request", json!({"error": {"message": "a batch needs requests"}}).to_string());
        }
        let id = self.id(if kind == Kind::OpenAi { "batch_sim_" } else { "msgbatch_sim_" });
        self.batches.insert(id.clone(), SimBatch { requests, polls: 0, cancelled: false, ended: None });
        self.created.push(id.clone());
        if self.fault == Some(BatchFault::GarbledCreate) {
            return ("200 OK", "{\"id\": \"".to_string());
        }
        ("200 OK", self.describe(kind, &id, base).to_string())
    }

    fn poll(&mut self, kind: Kind, id: &str, base: &str, responder: &Responder, cache: &mut PromptCache) -> Answer {
        let (polls_before_end, fault) = (self.polls_before_end, self.fault);
        let Some(b) = self.batches.get_mut(id) else { return not_found("batch") };
        b.polls += 1;
        if fault == Some(BatchFault::Invalid) {
            return (
                "200 OK",
                json!({"id": id, "object": "batch", "status": "failed", "output_file_id": null,
                "error_file_id": null, "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "errors": {"data": [{"code": "invalid_json_line", "message": "line 1 is not valid"}]}})
                .to_string(),
            );
        }
        if b.ended.is_none() && (b.cancelled || b.polls > polls_before_end) {
            b.ended = Some(finish(kind, b, fault, responder, cache));
        }
        ("200 OK", self.describe(kind, id, base).to_string())
    }

    fn describe(&self, kind: Kind, id: &str, base: &str) -> Value {
        let Some(b) = self.batches.get(id) else { return Value::Null };
        let total = b.requests.len();
        match (kind, &b.ended) {
            (Kind::OpenAi, None) => json!({"id": id, "object": "batch", "endpoint": "/v1/chat/completions",
                "status": if b.cancelled { "cancelling" } else { "in_progress" }, "completion_window": "24h",
                "output_file_id": null, "error_file_id": null,
                "request_counts": {"total": total, "completed": 0, "failed": 0}}),
            (Kind::OpenAi, Some(e)) => json!({"id": id, "object": "batch", "endpoint": "/v1/chat/completions",
                "status": e.status, "completion_window": "24h",
                "output_file_id": (!e.output.is_empty()).then(|| format!("file-out-{id}")),
                "error_file_id": (!e.errors.is_empty()).then(|| format!("file-err-{id}")),
                "request_counts": {"total": total, "completed": e.answered, "failed": e.failed}}),
            (Kind::Anthropic, None) => json!({"id": id, "type": "message_batch",
                "processing_status": if b.cancelled { "canceling" } else { "in_progress" },
                "request_counts": {"processing": total, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
                "results_url": null}),
            (Kind::Anthropic, Some(e)) => json!({"id": id, "type": "message_batch", "processing_status": "ended",
                "request_counts": {"processing": 0, "succeeded": e.answered, "errored": e.failed,
                                   "canceled": e.cancelled, "expired": e.expired},
                "results_url": format!("{base}/messages/batches/{id}/results")}),
        }
    }
}

/// Runs a batch's requests as the fault allows and writes its results files.
fn finish(
    kind: Kind,
    b: &SimBatch,
    fault: Option<BatchFault>,
    responder: &Responder,
    cache: &mut PromptCache,
) -> Ended {
    let half = b.requests.len().div_ceil(2);
    let mut e = Ended {
        status: "completed",
        answered: 0,
        failed: 0,
        expired: 0,
        cancelled: 0,
        output: String::new(),
        errors: String::new(),
    };
    let mut lines: Vec<(bool, String)> = Vec::new(); // (to the output file, line)
    for (i, (custom_id, body)) in b.requests.iter().enumerate() {
        enum What {
            Answer,
            Fail,
            Expire,
            Cancel,
        }
        let what = match fault {
            _ if b.cancelled => What::Cancel,
            Some(BatchFault::Expire) if i >= half => What::Expire,
            Some(BatchFault::CancelledByProvider) if i >= half => What::Cancel,
            Some(BatchFault::PartialFailure) if i % 2 == 1 => What::Fail,
            _ => What::Answer,
        };
        let line = match (kind, what) {
            (_, What::Answer) => {
                e.answered += 1;
                let use_ = cache.serve(kind, body);
                let answer = whole_answer(kind, body, &responder(body), use_);
                match kind {
                    Kind::OpenAi => json!({"id": format!("batch_req_{i}"), "custom_id": custom_id,
                        "response": {"status_code": 200, "request_id": format!("req_{i}"), "body": answer}, "error": null}),
                    Kind::Anthropic => {
                        json!({"custom_id": custom_id, "result": {"type": "succeeded", "message": answer}})
                    }
                }
            }
            (Kind::OpenAi, What::Fail) => {
                e.failed += 1;
                json!({"id": format!("batch_req_{i}"), "custom_id": custom_id, "response": {"status_code": 400,
                    "body": {"error": {"message": "simulated failure of this request"}}}, "error": null})
            }
            (Kind::Anthropic, What::Fail) => {
                e.failed += 1;
                json!({"custom_id": custom_id, "result": {"type": "errored", "error": {"type": "error",
                    "error": {"type": "invalid_request_error", "message": "simulated failure of this request"}}}})
            }
            (Kind::OpenAi, What::Expire) => {
                e.expired += 1;
                json!({"id": format!("batch_req_{i}"), "custom_id": custom_id, "response": null,
                    "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
            }
            (Kind::Anthropic, What::Expire) => {
                e.expired += 1;
                json!({"custom_id": custom_id, "result": {"type": "expired"}})
            }
            (Kind::OpenAi, What::Cancel) => {
                e.cancelled += 1;
                json!({"id": format!("batch_req_{i}"), "custom_id": custom_id, "response": null,
                    "error": {"code": "batch_cancelled", "message": "This request was cancelled."}})
            }
            (Kind::Anthropic, What::Cancel) => {
                e.cancelled += 1;
                json!({"custom_id": custom_id, "result": {"type": "canceled"}})
            }
        };
        // OpenAI puts failed, expired and cancelled requests in the error file.
        let to_output = kind == Kind::Anthropic || line.get("error").is_none_or(Value::is_null);
        lines.push((to_output, line.to_string()));
    }
    e.status = if b.cancelled || fault == Some(BatchFault::CancelledByProvider) {
        "cancelled"
    } else if fault == Some(BatchFault::Expire) {
        "expired"
    } else {
        "completed"
    };
    if kind == Kind::OpenAi {
        // OpenAI counts only successes as completed; the rest are failed.
        e.failed += e.expired + e.cancelled;
    }
    if fault == Some(BatchFault::MalformedResults) {
        if let Some(first) = lines.iter_mut().find(|(out, _)| *out) {
            first.1 = "{\"custom_id\": \"oops\", this is not json".to_string();
        }
    }
    for (out, line) in &lines {
        let file = if *out { &mut e.output } else { &mut e.errors };
        file.push_str(line);
        file.push('\n');
    }
    if fault == Some(BatchFault::CutResults) {
        let body = e.output.trim_end();
        let last = body.rfind('\n').map_or(0, |n| n + 1);
        let mut keep = last + (body.len() - last) / 2;
        while !e.output.is_char_boundary(keep) {
            keep -= 1;
        }
        e.output.truncate(keep);
    }
    e
}

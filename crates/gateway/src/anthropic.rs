//! Anthropic Messages: `POST /v1/messages` (streamed and not) and
//! `POST /v1/messages/count_tokens`, as the official SDK sends and reads them.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use frugal_core::llm::{Message, Request};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::access::{authenticate, route_for};
use crate::call::{start, Call, Finish, Piece, StopFilter};
use crate::error::{Failure, Problem, Protocol};
use crate::tools::{anthropic_block, anthropic_message, anthropic_tools, Blocks};
use crate::wire::{self, served_headers, Content, Gateway};

#[derive(Deserialize)]
struct MessagesRequest {
    model: String,
    max_tokens: Option<i64>,
    messages: Vec<WireMessage>,
    system: Option<Content>,
    #[serde(default, deserialize_with = "wire::null_as_false")]
    stream: bool,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u32>,
    stop_sequences: Option<Vec<String>>,
    tools: Option<Vec<Value>>,
    tool_choice: Option<Value>,
}

#[derive(Deserialize)]
struct WireMessage {
    role: String,
    content: Blocks,
}

#[derive(Deserialize)]
struct CountRequest {
    model: String,
    messages: Vec<WireMessage>,
    system: Option<Content>,
    tools: Option<Vec<Value>>,
}

fn bad(m: impl Into<String>) -> Problem {
    Problem::BadRequest(m.into())
}

fn messages(system: Option<Content>, wire: Vec<WireMessage>) -> Result<Vec<Message>, Problem> {
    if wire.is_empty() {
        return Err(bad("messages: at least one message is required"));
    }
    let mut out = Vec::with_capacity(wire.len() + 1);
    if let Some(s) = system {
        out.push(Message::system(s.text("system")?));
    }
    for (i, m) in wire.into_iter().enumerate() {
        out.extend(anthropic_message(&m.role, m.content, i)?);
    }
    Ok(out)
}

fn to_call(r: MessagesRequest) -> Result<(Call, bool), Problem> {
    let max_tokens = match r.max_tokens {
        None => return Err(bad("max_tokens: field required")),
        Some(n) if n < 1 => return Err(bad("max_tokens: must be at least 1")),
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
    };
    let mut sampling = wire::sampling(r.temperature, r.top_p, 1.0)?;
    if let Some(k) = r.top_k {
        sampling.top_k = k;
    }
    let stop = r.stop_sequences.unwrap_or_default();
    if stop.len() > 8 || stop.iter().any(|s| s.trim().is_empty() || s.len() > 200) {
        return Err(bad("stop_sequences: up to 8, each with text and at most 200 bytes"));
    }
    let (tools, choice) = anthropic_tools(r.tools.unwrap_or_default(), r.tool_choice)?;
    let request = Request::new(messages(r.system, r.messages)?)
        .with_max_tokens(max_tokens)
        .with_sampling(sampling)
        .with_stop(stop.clone())
        .with_tools(tools, choice);
    request.validate().map_err(|e| bad(e.message()))?;
    let request = wire::conversation_cache(request);
    Ok((Call { model: r.model, request, stop }, r.stream))
}

fn stop_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::StopSequence => "stop_sequence",
        Finish::ToolCalls => "tool_use",
    }
}

fn event(name: &str, data: Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// `POST /v1/messages`.
pub async fn messages_handler(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    match create(gw, headers, body).await {
        Ok(r) => r,
        Err(p) => Failure(Protocol::Anthropic, p).into_response(),
    }
}

async fn create(gw: Arc<Gateway>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let app = authenticate(&gw.assistant, &headers).await?;
    let body = wire::read_body(body, gw.body_limit).await?;
    let r: MessagesRequest = wire::parse_json(&headers, &body)?;
    let (call, stream) = to_call(r)?;
    let opts = route_for(&gw.assistant, &app, &call.model, wire::private(&headers))?;
    let model = call.model.clone();
    let stop = call.stop.clone();
    let started = start(&gw, &app, call, opts).await?;
    let id = format!("msg_{}", started.route.run_id);
    if !stream {
        let (answer, route, spent) = started.collect(&stop).await?;
        let mut content = Vec::new();
        if !answer.text.is_empty() || answer.tool_calls.is_empty() {
            content.push(json!({ "type": "text", "text": answer.text }));
        }
        content.extend(answer.tool_calls.iter().map(anthropic_block));
        let body = json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason(answer.finish),
            "stop_sequence": answer.stop_sequence,
            "usage": { "input_tokens": answer.usage.prompt_tokens, "output_tokens": answer.usage.completion_tokens },
        });
        return Ok((served_headers(&route, Some(spent), &answer.notes), axum::Json(body)).into_response());
    }
    let head = served_headers(&started.route, None, &started.notes);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let mut s = started;
        let opening = [
            event(
                "message_start",
                json!({ "type": "message_start", "message": {
                    "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                    "stop_reason": null, "stop_sequence": null,
                    "usage": { "input_tokens": 0, "output_tokens": 0 } } }),
            ),
            event("ping", json!({ "type": "ping" })),
        ];
        for b in opening {
            if tx.send(b).await.is_err() {
                s.cancel.cancel();
                return;
            }
        }
        let delta = |index: usize, text: String| {
            event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": text } }),
            )
        };
        let text_start = |index: usize| {
            event(
                "content_block_start",
                json!({ "type": "content_block_start", "index": index, "content_block": { "type": "text", "text": "" } }),
            )
        };
        let mut filter = StopFilter::new(&stop);
        // Blocks open as their content comes, as Anthropic's API streams them: the text block
        // (if there is text), then one block per tool call. An answer with neither still
        // has its one empty text block, as the non-streamed shape does.
        let mut blocks = 0;
        let mut text_open: Option<usize> = None;
        let block_stop =
            |index: usize| event("content_block_stop", json!({ "type": "content_block_stop", "index": index }));
        loop {
            match s.next_piece(&mut filter).await {
                Piece::Text(t) if t.is_empty() => {}
                Piece::Text(t) => {
                    let mut out = Vec::with_capacity(2);
                    let index = match text_open {
                        Some(i) => i,
                        None => {
                            out.push(text_start(blocks));
                            text_open = Some(blocks);
                            blocks += 1;
                            blocks - 1
                        }
                    };
                    out.push(delta(index, t));
                    for b in out {
                        if tx.send(b).await.is_err() {
                            // The client went away: stop generating; the meter settles what was used.
                            s.cancel.cancel();
                            return;
                        }
                    }
                }
                Piece::Tool(c) => {
                    let mut out = Vec::with_capacity(4);
                    if let Some(i) = text_open.take() {
                        out.push(block_stop(i));
                    }
                    let mut start = anthropic_block(&c);
                    let input = std::mem::replace(&mut start["input"], json!({}));
                    out.push(event(
                        "content_block_start",
                        json!({ "type": "content_block_start", "index": blocks, "content_block": start }),
                    ));
                    out.push(event(
                        "content_block_delta",
                        json!({ "type": "content_block_delta", "index": blocks,
                                "delta": { "type": "input_json_delta", "partial_json": input.to_string() } }),
                    ));
                    out.push(block_stop(blocks));
                    blocks += 1;
                    for b in out {
                        if tx.send(b).await.is_err() {
                            s.cancel.cancel();
                            return;
                        }
                    }
                }
                Piece::End(finish, usage) => {
                    if let Some(i) = text_open.take() {
                        let _ = tx.send(block_stop(i)).await;
                    } else if blocks == 0 {
                        let _ = tx.send(text_start(0)).await;
                        let _ = tx.send(block_stop(0)).await;
                    }
                    let done = json!({ "type": "message_delta",
                        "delta": { "stop_reason": stop_reason(finish), "stop_sequence": filter.matched },
                        "usage": { "input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens } });
                    let _ = tx.send(event("message_delta", done)).await;
                    let _ = tx.send(event("message_stop", json!({ "type": "message_stop" }))).await;
                    break;
                }
                Piece::Failed(p) => {
                    let _ = tx.send(event("error", p.body(Protocol::Anthropic))).await;
                    break;
                }
            }
        }
        let _ = tx.send(wire::served_comment(&s.route, s.spent(), &s.notes)).await;
    });
    Ok((head, wire::sse(Body::from_stream(wire::receiver_stream(rx)))).into_response())
}

/// `POST /v1/messages/count_tokens`: counted with the local model's tokenizer (a close
/// estimate for a cloud model's own), or at four characters a token without a local model.
pub async fn count_tokens(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    let counted = async {
        let app = authenticate(&gw.assistant, &headers).await?;
        let body = wire::read_body(body, gw.body_limit).await?;
        let r: CountRequest = wire::parse_json(&headers, &body)?;
        // The same checks as a request to that model: known, and allowed to this app.
        route_for(&gw.assistant, &app, &r.model, false)?;
        let mut text: String = messages(r.system, r.messages)?
            .iter()
            .map(|m| {
                let calls = m.tool_calls.iter().map(|c| format!("{} {}", c.name, c.arguments));
                std::iter::once(m.content.clone()).chain(calls).collect::<Vec<_>>().join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n");
        // The tools' definitions are part of the prompt the model reads.
        let (tools, _) = anthropic_tools(r.tools.unwrap_or_default(), None)?;
        for t in tools {
            text.push_str(&format!("\n{} {} {}", t.name, t.description, t.parameters));
        }
        let a = gw.assistant.clone();
        // The local tokenizer only while the model is loaded anyway: clients call this
        // before every request, and loading a model to count (a cloud model's tokens, as
        // often as not) would hold its memory for nothing. Else about four characters a token.
        let n = tokio::task::spawn_blocking(move || {
            a.models()
                .engine()
                .ok()
                .filter(|e| e.is_loaded())
                .and_then(|e| e.count_tokens(&text).ok())
                .unwrap_or(text.chars().count().div_ceil(4))
        })
        .await
        .map_err(|e| Problem::Internal(format!("the gateway's worker failed: {e}")))?;
        Ok::<_, Problem>(axum::Json(json!({ "input_tokens": n })).into_response())
    };
    match counted.await {
        Ok(r) => r,
        Err(p) => Failure(Protocol::Anthropic, p).into_response(),
    }
}

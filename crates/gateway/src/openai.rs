//! OpenAI Chat Completions: `POST /v1/chat/completions` (streamed and not) and
//! `GET /v1/models`, as the official SDKs send and read them.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use frugal_core::llm::{Constraint, Message, Request};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::access::{authenticate, models, one_line, route_for};
use crate::call::{start, Call, Finish, Piece, StopFilter};
use crate::error::{Failure, Problem, Protocol};
use crate::tools::{openai_call, openai_calls, openai_tools, OpenAiCall, OpenAiTool};
use crate::wire::{self, served_headers, Content, Gateway};

/// The answer's ceiling when a request names none. OpenAI's own default is the model's
/// whole output limit, and clients such as Open WebUI send none: 1,024 cut long answers and
/// code edits short. A cloud request reserves its ceiling's price before it is sent (4,096
/// tokens at $15 per million is $0.06), and a local answer is capped to the room its
/// context has left, so a ceiling costs nothing there.
pub const DEFAULT_MAX_TOKENS: u32 = 4_096;

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<ChatMessage>,
    /// `null` as absent, as OpenAI takes it.
    #[serde(default, deserialize_with = "wire::null_as_false")]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<i64>,
    stop: Option<Stop>,
    n: Option<u32>,
    response_format: Option<ResponseFormat>,
    tools: Option<Vec<OpenAiTool>>,
    tool_choice: Option<Value>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default, deserialize_with = "wire::null_as_false")]
    include_usage: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    content: Option<Content>,
    tool_calls: Option<Vec<OpenAiCall>>,
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaSpec },
}

#[derive(Deserialize)]
struct JsonSchemaSpec {
    schema: Option<Value>,
}

fn bad(m: impl Into<String>) -> Problem {
    Problem::BadRequest(m.into())
}

/// The wire request in Frugal's terms, or the 400 that says what is wrong with it.
fn to_call(r: ChatRequest) -> Result<(Call, bool, bool), Problem> {
    if r.n.is_some_and(|n| n != 1) {
        return Err(bad("`n` must be 1: one answer per request"));
    }
    if r.messages.is_empty() {
        return Err(bad("`messages` is empty"));
    }
    let mut messages = Vec::with_capacity(r.messages.len());
    for (i, m) in r.messages.into_iter().enumerate() {
        let text = match m.content {
            Some(c) => c.text(&format!("messages[{i}].content"))?,
            None => String::new(),
        };
        if m.tool_calls.is_some() && m.role != "assistant" {
            return Err(bad(format!("messages[{i}].tool_calls: only an assistant message calls tools")));
        }
        messages.push(match m.role.as_str() {
            "system" | "developer" => Message::system(text),
            "user" => Message::user(text),
            "assistant" => match m.tool_calls {
                Some(calls) => {
                    Message::assistant_calls(text, openai_calls(calls, &format!("messages[{i}].tool_calls"))?)
                }
                None => Message::assistant(text),
            },
            "tool" => match m.tool_call_id.filter(|id| !id.is_empty()) {
                Some(id) => Message::tool_result(id, text),
                None => return Err(bad(format!("messages[{i}].tool_call_id: required in a tool message"))),
            },
            "function" => {
                return Err(bad(format!(
                    "messages[{i}]: `function` messages are OpenAI's deprecated form; send `tool` messages"
                )))
            }
            other => return Err(bad(format!("messages[{i}].role `{}` is not a chat role", one_line(other)))),
        });
    }
    let max_tokens = r.max_completion_tokens.or(r.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS);
    if max_tokens == 0 {
        return Err(bad("`max_tokens` must be at least 1"));
    }
    let mut sampling = wire::sampling(r.temperature, r.top_p, 2.0)?;
    sampling.seed = r.seed.map(|s| s as u32);
    let stop = match r.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    if stop.len() > 4 || stop.iter().any(|s| s.is_empty() || s.len() > 200) {
        return Err(bad("`stop` takes up to 4 non-empty strings of at most 200 bytes"));
    }
    let mut request =
        Request::new(messages).with_max_tokens(max_tokens).with_sampling(sampling).with_stop(stop.clone());
    match r.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            request = request.with_constraint(Constraint::JsonSchema(r#"{"type":"object"}"#.into()))
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema.schema.unwrap_or_else(|| json!({ "type": "object" }));
            request = request.with_constraint(Constraint::JsonSchema(schema.to_string()));
        }
    }
    let (tools, choice) = openai_tools(r.tools.unwrap_or_default(), r.tool_choice)?;
    request = request.with_tools(tools, choice);
    request.validate().map_err(|e| bad(e.message()))?;
    let request = wire::conversation_cache(request);
    let include_usage = r.stream_options.is_some_and(|o| o.include_usage);
    Ok((Call { model: r.model, request, stop }, r.stream, include_usage))
}

fn finish_reason(f: Finish) -> &'static str {
    match f {
        Finish::Length => "length",
        Finish::Stop | Finish::StopSequence => "stop",
        Finish::ToolCalls => "tool_calls",
    }
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    match chat(gw, headers, body).await {
        Ok(r) => r,
        Err(p) => Failure(Protocol::OpenAi, p).into_response(),
    }
}

async fn chat(gw: Arc<Gateway>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let app = authenticate(&gw.assistant, &headers).await?;
    let body = wire::read_body(body, gw.body_limit).await?;
    let r: ChatRequest = wire::parse_json(&headers, &body)?;
    let (call, stream, include_usage) = to_call(r)?;
    let opts = route_for(&gw.assistant, &app, &call.model, wire::private(&headers))?;
    let model = call.model.clone();
    let stop = call.stop.clone();
    let started = start(&gw, &app, call, opts).await?;
    let id = format!("chatcmpl-{}", started.route.run_id);
    let created = wire::unix_secs();
    if !stream {
        let (answer, route, spent) = started.collect(&stop).await?;
        let u = answer.usage;
        let mut message = json!({ "role": "assistant", "content": answer.text, "refusal": null });
        if !answer.tool_calls.is_empty() {
            let calls: Vec<Value> = answer.tool_calls.iter().map(|c| openai_call(None, c)).collect();
            message["tool_calls"] = Value::Array(calls);
            if answer.text.is_empty() {
                message["content"] = Value::Null;
            }
        }
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason(answer.finish),
            }],
            "usage": {
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "total_tokens": u.prompt_tokens.saturating_add(u.completion_tokens),
            },
        });
        return Ok((served_headers(&route, Some(spent), &answer.notes), axum::Json(body)).into_response());
    }
    let route = started.route.clone();
    let usage_model = model.clone();
    let chunk = move |delta: Value, finish: Option<&str>| {
        let v = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        });
        Bytes::from(format!("data: {v}\n\n"))
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let head = served_headers(&route, None, &started.notes);
    tokio::spawn(async move {
        let mut s = started;
        let mut filter = StopFilter::new(&stop);
        let mut calls = 0;
        if tx.send(chunk(json!({ "role": "assistant", "content": "" }), None)).await.is_err() {
            s.cancel.cancel();
            return;
        }
        loop {
            match s.next_piece(&mut filter).await {
                Piece::Text(t) => {
                    if tx.send(chunk(json!({ "content": t }), None)).await.is_err() {
                        // The client went away: stop generating; the meter settles what was used.
                        s.cancel.cancel();
                        return;
                    }
                }
                Piece::Tool(c) => {
                    // Whole, in one delta: the SDKs join argument pieces, one piece included.
                    if tx.send(chunk(json!({ "tool_calls": [openai_call(Some(calls), &c)] }), None)).await.is_err() {
                        s.cancel.cancel();
                        return;
                    }
                    calls += 1;
                }
                Piece::End(finish, u) => {
                    let _ = tx.send(chunk(json!({}), Some(finish_reason(finish)))).await;
                    if include_usage {
                        let v = json!({
                            "id": format!("chatcmpl-{}", s.route.run_id), "object": "chat.completion.chunk",
                            "created": created, "model": usage_model, "choices": [],
                            "usage": { "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                                       "total_tokens": u.prompt_tokens.saturating_add(u.completion_tokens) },
                        });
                        let _ = tx.send(Bytes::from(format!("data: {v}\n\n"))).await;
                    }
                    break;
                }
                Piece::Failed(p) => {
                    // Mid-stream there is no status to change: the error travels as an event.
                    let _ = tx.send(Bytes::from(format!("data: {}\n\n", p.body(Protocol::OpenAi)))).await;
                    break;
                }
            }
        }
        let _ = tx.send(wire::served_comment(&s.route, s.spent(), &s.notes)).await;
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    Ok((head, wire::sse(Body::from_stream(wire::receiver_stream(rx)))).into_response())
}

/// `GET /v1/models`.
pub async fn list_models(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    match authenticate(&gw.assistant, &headers).await {
        Ok(app) => {
            let data: Vec<Value> = models(&gw.assistant, &app)
                .into_iter()
                .map(|m| {
                    let owner = m.split('/').next().unwrap_or("frugal").to_string();
                    json!({ "id": m, "object": "model", "created": 0, "owned_by": owner })
                })
                .collect();
            axum::Json(json!({ "object": "list", "data": data })).into_response()
        }
        Err(p) => Failure(Protocol::OpenAi, p).into_response(),
    }
}

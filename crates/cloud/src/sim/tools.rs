//! The simulated model's tool calls, in each protocol's shape.

use serde_json::{json, Value};

use super::{data, prompt_size};
use crate::Kind;

/// The call the simulated model makes: `(id, name, arguments)`.
pub(super) type SimCall = (String, String, String);

/// A tool call when the request offers tools, does not forbid them, and does not already end
/// with a tool's result (then it answers in text, as a model reading the result would).
pub(super) fn tool_call(kind: Kind, request: &Value) -> Option<SimCall> {
    let tools = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty())?;
    let choice = request.get("tool_choice");
    let forbidden = match kind {
        Kind::OpenAi => choice.is_some_and(|c| c == "none"),
        Kind::Anthropic => choice.is_some_and(|c| c["type"] == "none"),
    };
    let last = request.get("messages").and_then(Value::as_array).and_then(|m| m.last());
    let answered = last.is_some_and(|m| {
        m["role"] == "tool"
            || m["content"].as_array().is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"))
    });
    if forbidden || answered {
        return None;
    }
    let named = match kind {
        Kind::OpenAi => choice.and_then(|c| c.pointer("/function/name")),
        Kind::Anthropic => choice.and_then(|c| c.get("name")),
    }
    .and_then(Value::as_str);
    let (name_at, schema_at) = match kind {
        Kind::OpenAi => ("/function/name", "/function/parameters"),
        Kind::Anthropic => ("/name", "/input_schema"),
    };
    let tool = tools
        .iter()
        .find(|t| named.is_none() || t.pointer(name_at).and_then(Value::as_str) == named)
        .unwrap_or(&tools[0]);
    let name = tool.pointer(name_at).and_then(Value::as_str).unwrap_or("tool").to_string();
    let mut args = serde_json::Map::new();
    if let Some(props) = tool.pointer(schema_at).and_then(|s| s.get("properties")).and_then(Value::as_object) {
        for (k, p) in props {
            let v = match p.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
                Some(first) => first.clone(),
                None => match p.get("type").and_then(Value::as_str) {
                    Some("number" | "integer") => json!(1),
                    Some("boolean") => json!(true),
                    Some("array") => json!([]),
                    Some("object") => json!({}),
                    _ => json!("sim"),
                },
            };
            args.insert(k.clone(), v);
        }
    }
    let id = match kind {
        Kind::OpenAi => "call_sim_1",
        Kind::Anthropic => "toolu_sim_1",
    };
    Some((id.to_string(), name, Value::Object(args).to_string()))
}

fn tool_tokens(args: &str) -> u32 {
    u32::try_from(args.len() / 4 + 8).unwrap_or(u32::MAX)
}

/// A tool call as one JSON body.
pub(super) fn tool_body(kind: Kind, request: &Value, (id, name, args): &SimCall) -> Value {
    let (prompt, completion) = (prompt_size(request), tool_tokens(args));
    match kind {
        Kind::OpenAi => json!({
            "id": "sim", "object": "chat.completion", "created": 0, "model": request["model"],
            "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": { "role": "assistant", "content": null,
                "tool_calls": [{ "id": id, "type": "function", "function": { "name": name, "arguments": args } }] } }],
            "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion },
        }),
        Kind::Anthropic => json!({
            "id": "sim", "type": "message", "role": "assistant", "model": request["model"],
            "content": [{ "type": "tool_use", "id": id, "name": name, "input": serde_json::from_str::<Value>(args).unwrap_or(Value::Null) }],
            "stop_reason": "tool_use",
            "usage": { "input_tokens": prompt, "output_tokens": completion },
        }),
    }
}

/// A tool call streamed, its arguments in two pieces (so clients must join them).
pub(super) fn tool_events(kind: Kind, (id, name, args): &SimCall, prompt: u32, usage: bool) -> Vec<String> {
    let mid = (1..=args.len() / 2).rev().find(|&i| args.is_char_boundary(i)).unwrap_or(0);
    let (a, b) = args.split_at(mid);
    let n = tool_tokens(args);
    let mut out = Vec::new();
    match kind {
        Kind::OpenAi => {
            let chunk = |delta: Value, finish: Value| {
                data(
                    &json!({"id":"sim","object":"chat.completion.chunk","choices":[{"index":0,"delta":delta,"finish_reason":finish}]}),
                )
            };
            out.push(chunk(json!({"role":"assistant","content":null}), Value::Null));
            out.push(chunk(
                json!({"tool_calls":[{"index":0,"id":id,"type":"function","function":{"name":name,"arguments":""}}]}),
                Value::Null,
            ));
            for piece in [a, b] {
                out.push(chunk(json!({"tool_calls":[{"index":0,"function":{"arguments":piece}}]}), Value::Null));
            }
            out.push(chunk(json!({}), json!("tool_calls")));
            if usage {
                out.push(data(&json!({"id":"sim","choices":[],"usage":{
                    "prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}})));
            }
            out.push("data: [DONE]\n\n".to_string());
        }
        Kind::Anthropic => {
            let event = |name: &str, v: Value| format!("event: {name}\n{}", data(&v));
            let start_usage = if usage { json!({"input_tokens": prompt, "output_tokens": 1}) } else { json!({}) };
            out.push(event("message_start", json!({"type":"message_start","message":{"id":"msg_sim","type":"message","role":"assistant","content":[],"model":"sim","usage":start_usage}})));
            out.push(event("content_block_start", json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":id,"name":name,"input":{}}})));
            for piece in [a, b] {
                out.push(event("content_block_delta", json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":piece}})));
            }
            out.push(event("content_block_stop", json!({"type":"content_block_stop","index":0})));
            let delta_usage = if usage { json!({"output_tokens": n}) } else { json!({}) };
            out.push(event(
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":delta_usage}),
            ));
            out.push(event("message_stop", json!({"type":"message_stop"})));
        }
    }
    out
}

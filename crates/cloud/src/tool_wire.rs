//! Messages and tools on each protocol's wire, and streamed tool calls gathered back into
//! whole ones. OpenAI keeps calls in `tool_calls` beside the text and results in `tool`
//! messages; Anthropic keeps both as content blocks (`tool_use` in the assistant's turn,
//! `tool_result` in the user's next one), so results and a following user text merge into
//! one user turn there.

use std::collections::BTreeMap;

use frugal_llm::{CacheMark, Message, Role, Tool, ToolCall, ToolChoice};
use serde_json::{json, Value};

/// A tool's arguments or schema as JSON; text that is not JSON (the model's own arguments
/// may be broken) travels as an empty object rather than failing the whole request.
fn object(text: &str) -> Value {
    serde_json::from_str::<Value>(text).ok().filter(Value::is_object).unwrap_or_else(|| json!({}))
}

/// OpenAI's `messages`.
pub fn openai_messages(messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| match m.role {
            Role::Tool => json!({ "role": "tool", "tool_call_id": m.tool_call_id, "content": m.content }),
            Role::Assistant if !m.tool_calls.is_empty() => {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        json!({ "id": c.id, "type": "function",
                                "function": { "name": c.name, "arguments": c.arguments } })
                    })
                    .collect();
                let content = if m.content.is_empty() { Value::Null } else { json!(m.content) };
                json!({ "role": "assistant", "content": content, "tool_calls": calls })
            }
            role => json!({ "role": role.as_str(), "content": m.content }),
        })
        .collect()
}

/// OpenAI's `tools` and `tool_choice`, added to `body` when the request has them.
pub fn openai_tools(body: &mut Value, tools: &[Tool], choice: Option<&ToolChoice>) {
    if !tools.is_empty() {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut f = json!({ "name": t.name, "parameters": object(&t.parameters) });
                if !t.description.is_empty() {
                    f["description"] = json!(t.description);
                }
                json!({ "type": "function", "function": f })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    // Both APIs refuse a `tool_choice` without tools.
    if let Some(choice) = choice.filter(|_| !tools.is_empty()) {
        body["tool_choice"] = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(n) => json!({ "type": "function", "function": { "name": n } }),
        };
    }
}

/// Anthropic's `messages` (the system prompt is lifted out by the caller).
pub fn anthropic_messages(messages: &[Message], marks: &[CacheMark]) -> Vec<Value> {
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate().filter(|(_, m)| m.role != Role::System) {
        let here: Vec<&CacheMark> = marks.iter().filter(|k| k.message == i).collect();
        let (role, blocks) = match m.role {
            Role::Tool => {
                let mut block = json!({ "type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content });
                if !here.is_empty() {
                    block["cache_control"] = ephemeral();
                }
                ("user", vec![block])
            }
            Role::Assistant => {
                let mut blocks = marked_text(&m.content, &here);
                blocks.extend(
                    m.tool_calls.iter().map(
                        |c| json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": object(&c.arguments) }),
                    ),
                );
                ("assistant", blocks)
            }
            _ => ("user", marked_text(&m.content, &here)),
        };
        match out.last_mut() {
            // Anthropic alternates turns: results and the text after them are one user turn.
            Some((last, b)) if *last == role => b.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    out.into_iter()
        .map(|(role, blocks)| {
            let content = match blocks.as_slice() {
                // A plain turn stays a string, as most clients send it.
                [one] if one["type"] == "text" && one.get("cache_control").is_none() => one["text"].clone(),
                [] => json!(""),
                _ => Value::Array(blocks),
            };
            json!({ "role": role, "content": content })
        })
        .collect()
}

/// Anthropic's cache breakpoint (the default five-minute cache).
pub fn ephemeral() -> Value {
    json!({ "type": "ephemeral" })
}

/// `text` as content blocks, cut where a cache mark ends a stable prefix: the block before
/// each cut carries a breakpoint. Without marks, one block (none for empty text).
pub fn marked_text(text: &str, marks: &[&CacheMark]) -> Vec<Value> {
    let mut cuts: Vec<usize> = marks.iter().map(|k| k.at.min(text.len())).filter(|&at| at > 0).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut blocks = Vec::new();
    let mut from = 0;
    for at in cuts {
        let Some(piece) = text.get(from..at) else { continue };
        if !piece.is_empty() {
            blocks.push(json!({ "type": "text", "text": piece, "cache_control": ephemeral() }));
        }
        from = at;
    }
    blocks.extend(text_block(text.get(from..).unwrap_or_default()));
    blocks
}

/// Text as a content block; none for empty text (Anthropic refuses empty text blocks).
fn text_block(text: &str) -> Vec<Value> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({ "type": "text", "text": text })]
    }
}

/// Anthropic's `tools` and `tool_choice`, added to `body` when the request has them.
pub fn anthropic_tools(body: &mut Value, tools: &[Tool], choice: Option<&ToolChoice>) {
    if !tools.is_empty() {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut v = json!({ "name": t.name, "input_schema": object(&t.parameters) });
                if !t.description.is_empty() {
                    v["description"] = json!(t.description);
                }
                v
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    if let Some(choice) = choice.filter(|_| !tools.is_empty()) {
        body["tool_choice"] = match choice {
            ToolChoice::Auto => json!({ "type": "auto" }),
            ToolChoice::None => json!({ "type": "none" }),
            ToolChoice::Required => json!({ "type": "any" }),
            ToolChoice::Named(n) => json!({ "type": "tool", "name": n }),
        };
    }
}

/// A piece of a streamed tool call: the first names it, the rest add to its arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolDelta {
    /// Which call (the protocol's index: of the call in OpenAI, of the content block in
    /// Anthropic).
    pub index: u64,
    /// The call's id, in its first piece.
    pub id: Option<String>,
    /// The function's name, in its first piece.
    pub name: Option<String>,
    /// More of the arguments' JSON text.
    pub arguments: String,
}

/// OpenAI's `delta.tool_calls`.
pub fn openai_deltas(delta: &Value) -> Vec<ToolDelta> {
    let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) else { return Vec::new() };
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| ToolDelta {
            index: c.get("index").and_then(Value::as_u64).unwrap_or(i as u64),
            id: c.get("id").and_then(Value::as_str).map(String::from),
            name: c.pointer("/function/name").and_then(Value::as_str).map(String::from),
            arguments: c.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default().to_string(),
        })
        .collect()
}

/// Anthropic's `content_block_start` of a `tool_use` block, or its `input_json_delta`.
pub fn anthropic_delta(v: &Value) -> Option<ToolDelta> {
    let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
    match v.get("type").and_then(Value::as_str)? {
        "content_block_start" => {
            let block = v.get("content_block").filter(|b| b["type"] == "tool_use")?;
            Some(ToolDelta {
                index,
                id: block.get("id").and_then(Value::as_str).map(String::from),
                name: block.get("name").and_then(Value::as_str).map(String::from),
                arguments: String::new(),
            })
        }
        "content_block_delta" => {
            let json = v.pointer("/delta/partial_json").and_then(Value::as_str)?;
            Some(ToolDelta { index, arguments: json.to_string(), ..ToolDelta::default() })
        }
        _ => None,
    }
}

/// Gathers the pieces of each streamed call into whole calls.
#[derive(Debug, Default)]
pub struct ToolCalls {
    calls: BTreeMap<u64, ToolDelta>,
}

impl ToolCalls {
    /// Adds a piece.
    pub fn push(&mut self, mut d: ToolDelta) {
        // A server that sends each call without its index (so all look like call 0): a new
        // id at a taken index is a new call, not more of the last one.
        // The next index past the last, or (a provider that sent u64::MAX) the first free one:
        // either is free, so this ends.
        if self.calls.get(&d.index).is_some_and(|c| c.id.is_some() && d.id.is_some() && c.id != d.id) {
            let past_last = self.calls.keys().next_back().and_then(|k| k.checked_add(1));
            d.index = past_last.unwrap_or_else(|| (0..).find(|i| !self.calls.contains_key(i)).unwrap_or(0));
        }
        let c = self.calls.entry(d.index).or_insert_with(|| ToolDelta { index: d.index, ..ToolDelta::default() });
        c.id = d.id.or(c.id.take());
        c.name = d.name.or(c.name.take());
        c.arguments.push_str(&d.arguments);
    }

    /// Bytes of arguments so far (an estimate of output when usage is missing).
    pub fn bytes(&self) -> usize {
        self.calls.values().map(|c| c.arguments.len()).sum()
    }

    /// The whole calls, in order. A call without a name is dropped (no one could run it);
    /// one without arguments has `{}`; one without an id gets one.
    pub fn finish(self) -> Vec<ToolCall> {
        self.calls
            .into_values()
            .filter_map(|c| {
                let name = c.name.filter(|n| !n.is_empty())?;
                Some(ToolCall {
                    id: c.id.filter(|i| !i.is_empty()).unwrap_or_else(|| format!("call_{}", c.index)),
                    name,
                    arguments: if c.arguments.trim().is_empty() { "{}".into() } else { c.arguments },
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation() -> Vec<Message> {
        let call = ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city":"Oslo"}"#.into() };
        vec![
            Message::system("Use tools."),
            Message::user("Weather in Oslo?"),
            Message::assistant_calls("", vec![call]),
            Message::tool_result("call_1", "12 °C"),
            Message::user("And tomorrow?"),
        ]
    }

    #[test]
    fn a_call_at_the_largest_index_with_another_id_gets_a_free_one() {
        let mut calls = ToolCalls::default();
        let piece = |id: &str| ToolDelta {
            index: u64::MAX,
            id: Some(id.into()),
            name: Some("f".into()),
            arguments: "{}".into(),
        };
        for id in ["a", "b", "c"] {
            calls.push(piece(id));
        }
        let ids: Vec<String> = calls.finish().into_iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        for id in ["a", "b", "c"] {
            assert!(ids.iter().any(|i| i == id), "{ids:?}");
        }
    }

    #[test]
    fn calls_and_results_cross_to_openai() {
        let m = openai_messages(&conversation());
        assert_eq!(m[2]["content"], Value::Null);
        assert_eq!(m[2]["tool_calls"][0]["function"]["arguments"], r#"{"city":"Oslo"}"#);
        assert_eq!(m[3], json!({ "role": "tool", "tool_call_id": "call_1", "content": "12 °C" }));
        let mut body = json!({});
        let tool = Tool { name: "get_weather".into(), description: "d".into(), parameters: "{}".into() };
        openai_tools(&mut body, &[tool], Some(&ToolChoice::Named("get_weather".into())));
        assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
        assert_eq!(body["tool_choice"]["function"]["name"], "get_weather");
    }

    #[test]
    fn calls_and_results_cross_to_anthropic_in_alternating_turns() {
        let m = anthropic_messages(&conversation(), &[]);
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[0], json!({ "role": "user", "content": "Weather in Oslo?" }));
        assert_eq!(
            m[1]["content"][0],
            json!({ "type": "tool_use", "id": "call_1", "name": "get_weather", "input": { "city": "Oslo" } })
        );
        assert_eq!(m[2]["content"][0]["type"], "tool_result");
        assert_eq!(m[2]["content"][1], json!({ "type": "text", "text": "And tomorrow?" }));
        let mut body = json!({});
        anthropic_tools(&mut body, &[], Some(&ToolChoice::Auto));
        assert!(body.get("tool_choice").is_none(), "no tool_choice without tools");
        let tool = Tool { name: "f".into(), description: String::new(), parameters: "{}".into() };
        anthropic_tools(&mut body, &[tool], Some(&ToolChoice::Required));
        assert_eq!(body["tool_choice"], json!({ "type": "any" }));
    }

    #[test]
    fn streamed_pieces_become_whole_calls() {
        let mut calls = ToolCalls::default();
        let first = json!({ "tool_calls": [{ "index": 0, "id": "call_9", "function": { "name": "f", "arguments": "{\"a\"" } }] });
        for d in openai_deltas(&first) {
            calls.push(d);
        }
        for d in openai_deltas(&json!({ "tool_calls": [{ "index": 0, "function": { "arguments": ":1}" } }] })) {
            calls.push(d);
        }
        calls.push(anthropic_delta(&json!({ "type": "content_block_start", "index": 1, "content_block": { "type": "tool_use", "id": "toolu_1", "name": "g", "input": {} } })).unwrap());
        assert!(anthropic_delta(
            &json!({ "type": "content_block_start", "index": 2, "content_block": { "type": "text", "text": "" } })
        )
        .is_none());
        calls.push(ToolDelta { index: 5, arguments: "{}".into(), ..ToolDelta::default() });
        // Two calls both sent as index 0, each with its own id: kept apart.
        let mut apart = ToolCalls::default();
        for id in ["a", "b"] {
            apart.push(ToolDelta { index: 0, id: Some(id.into()), name: Some("f".into()), arguments: "{}".into() });
        }
        assert_eq!(apart.finish().len(), 2);
        let done = calls.finish();
        assert_eq!(done.len(), 2, "a call without a name is dropped: {done:?}");
        assert_eq!(
            (done[0].id.as_str(), done[0].name.as_str(), done[0].arguments.as_str()),
            ("call_9", "f", "{\"a\":1}")
        );
        assert_eq!((done[1].id.as_str(), done[1].arguments.as_str()), ("toolu_1", "{}"));
    }
}

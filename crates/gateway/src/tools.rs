//! Tools on the gateway's two wires: the functions a client offers, the choice among them,
//! the calls in an assistant's turn and the results in the next, read into core's one shape
//! ([`Tool`], [`ToolChoice`], [`ToolCall`]) and written back in the client's own. A call
//! made by a model behind one protocol goes back to a client speaking the other unchanged:
//! ids, names and arguments pass through.

use frugal_core::llm::{valid_tool_name, Message, Tool, ToolCall, ToolChoice};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::access::one_line;
use crate::error::Problem;

fn bad(m: impl Into<String>) -> Problem {
    Problem::BadRequest(m.into())
}

/// A schema as JSON text: an object, or a 400 naming `field`.
fn schema_text(schema: Option<Value>, field: &str) -> Result<String, Problem> {
    match schema {
        None => Ok(r#"{"type":"object","properties":{}}"#.into()),
        Some(v) if v.is_object() => Ok(v.to_string()),
        Some(_) => Err(bad(format!("{field}: must be a JSON Schema object"))),
    }
}

fn named(name: String, field: &str) -> Result<String, Problem> {
    if valid_tool_name(&name) {
        Ok(name)
    } else {
        Err(bad(format!("{field}: `{}` is not a tool name (1 to 64 letters, digits, `_` or `-`)", one_line(&name))))
    }
}

/// An OpenAI `tools` entry.
#[derive(Deserialize)]
pub struct OpenAiTool {
    #[serde(rename = "type")]
    kind: String,
    function: Option<OpenAiFunction>,
}

#[derive(Deserialize)]
struct OpenAiFunction {
    name: String,
    description: Option<String>,
    parameters: Option<Value>,
}

/// OpenAI's `tools` and `tool_choice`.
pub fn openai_tools(tools: Vec<OpenAiTool>, choice: Option<Value>) -> Result<(Vec<Tool>, Option<ToolChoice>), Problem> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.into_iter().enumerate() {
        let f = match (t.kind.as_str(), t.function) {
            ("function", Some(f)) => f,
            ("function", None) => return Err(bad(format!("tools[{i}].function: field required"))),
            (other, _) => {
                return Err(bad(format!(
                    "tools[{i}].type: `{}` tools are not supported (function only)",
                    one_line(other)
                )))
            }
        };
        out.push(Tool {
            name: named(f.name, &format!("tools[{i}].function.name"))?,
            description: f.description.unwrap_or_default(),
            parameters: schema_text(f.parameters, &format!("tools[{i}].function.parameters"))?,
        });
    }
    let choice = match choice {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => return Err(bad(format!("tool_choice: `{}` is not auto, none or required", one_line(other)))),
        }),
        Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(n) if v["type"] == "function" => Some(ToolChoice::Named(n.to_string())),
            _ => return Err(bad("tool_choice: an object must be {\"type\":\"function\",\"function\":{\"name\":…}}")),
        },
    };
    Ok((out, choice))
}

/// A call in an OpenAI assistant message.
#[derive(Deserialize)]
pub struct OpenAiCall {
    id: String,
    function: OpenAiCallFunction,
}

#[derive(Deserialize)]
struct OpenAiCallFunction {
    name: String,
    arguments: String,
}

/// The calls of an assistant message at `field`.
pub fn openai_calls(calls: Vec<OpenAiCall>, field: &str) -> Result<Vec<ToolCall>, Problem> {
    calls
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            if c.id.is_empty() {
                return Err(bad(format!("{field}[{i}].id: must not be empty")));
            }
            let name = named(c.function.name, &format!("{field}[{i}].function.name"))?;
            Ok(ToolCall { id: c.id, name, arguments: c.function.arguments })
        })
        .collect()
}

/// A call as an entry of OpenAI's `tool_calls`; a streamed delta also carries its index.
pub fn openai_call(index: Option<usize>, c: &ToolCall) -> Value {
    let mut v = json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments } });
    if let Some(i) = index {
        v["index"] = json!(i);
    }
    v
}

/// Anthropic's `tools` and `tool_choice`. Server tools (web search, code execution…) run
/// at Anthropic, not in the client: they are refused by name.
pub fn anthropic_tools(tools: Vec<Value>, choice: Option<Value>) -> Result<(Vec<Tool>, Option<ToolChoice>), Problem> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.into_iter().enumerate() {
        if let Some(kind) = t.get("type").and_then(Value::as_str).filter(|k| *k != "custom") {
            return Err(bad(format!(
                "tools.{i}.type: `{}` is a server tool, which the gateway does not run (client tools only)",
                one_line(kind)
            )));
        }
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            return Err(bad(format!("tools.{i}.name: field required")));
        };
        out.push(Tool {
            name: named(name.to_string(), &format!("tools.{i}.name"))?,
            description: t.get("description").and_then(Value::as_str).unwrap_or_default().to_string(),
            parameters: schema_text(t.get("input_schema").cloned(), &format!("tools.{i}.input_schema"))?,
        });
    }
    let choice = match choice {
        None | Some(Value::Null) => None,
        Some(v) => Some(match (v.get("type").and_then(Value::as_str), v.get("name").and_then(Value::as_str)) {
            (Some("auto"), _) => ToolChoice::Auto,
            (Some("any"), _) => ToolChoice::Required,
            (Some("none"), _) => ToolChoice::None,
            (Some("tool"), Some(n)) => ToolChoice::Named(n.to_string()),
            (Some("tool"), None) => return Err(bad("tool_choice.name: field required")),
            _ => return Err(bad("tool_choice.type: must be auto, any, tool or none")),
        }),
    };
    Ok((out, choice))
}

/// An Anthropic message's content: text, or blocks.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Blocks {
    Text(String),
    Blocks(Vec<Value>),
}

/// One Anthropic message as core's messages: a user turn's tool results become one
/// [`Message::tool_result`] each (before its text, as the protocol orders them), an
/// assistant turn's `tool_use` blocks its calls. Blocks the gateway cannot pass (images,
/// documents, thinking) are a 400 naming them.
pub fn anthropic_message(role: &str, content: Blocks, i: usize) -> Result<Vec<Message>, Problem> {
    let blocks = match content {
        Blocks::Text(t) => return Ok(vec![plain(role, t, i)?]),
        Blocks::Blocks(b) => b,
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut out = Vec::new();
    for (j, b) in blocks.into_iter().enumerate() {
        let field = format!("messages.{i}.content.{j}");
        match (b.get("type").and_then(Value::as_str).unwrap_or(""), role) {
            ("text", _) => {
                let Some(t) = b.get("text").and_then(Value::as_str) else {
                    return Err(bad(format!("{field}.text: field required")));
                };
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            }
            ("tool_use", "assistant") => {
                let (Some(id), Some(name)) =
                    (b.get("id").and_then(Value::as_str), b.get("name").and_then(Value::as_str))
                else {
                    return Err(bad(format!("{field}: a tool_use block needs its id and name")));
                };
                let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(ToolCall {
                    id: id.to_string(),
                    name: named(name.to_string(), &format!("{field}.name"))?,
                    arguments: input.to_string(),
                });
            }
            ("tool_result", "user") => {
                let Some(id) = b.get("tool_use_id").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
                    return Err(bad(format!("{field}.tool_use_id: field required")));
                };
                let mut result = match b.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => result_text(parts, &field)?,
                    Some(_) => return Err(bad(format!("{field}.content: text or a list of text blocks"))),
                };
                if b.get("is_error").and_then(Value::as_bool) == Some(true) {
                    result = format!("Error: {result}");
                }
                out.push(Message::tool_result(id, result));
            }
            (kind @ ("tool_use" | "tool_result"), _) => {
                return Err(bad(format!("{field}: a `{kind}` block does not belong in a {role} message")))
            }
            (kind, _) => {
                return Err(bad(format!(
                    "{field}: `{}` blocks are not supported here (text and tools only)",
                    one_line(kind)
                )))
            }
        }
    }
    match role {
        "assistant" => out.push(Message::assistant_calls(text, calls)),
        _ if !text.is_empty() || out.is_empty() => out.push(plain(role, text, i)?),
        _ => {}
    }
    Ok(out)
}

fn plain(role: &str, text: String, i: usize) -> Result<Message, Problem> {
    match role {
        "user" => Ok(Message::user(text)),
        "assistant" => Ok(Message::assistant(text)),
        other => Err(bad(format!(
            "messages.{i}.role: `{}` is not a role here (user or assistant; the system prompt is `system`)",
            one_line(other)
        ))),
    }
}

fn result_text(parts: &[Value], field: &str) -> Result<String, Problem> {
    let mut out = String::new();
    for (k, p) in parts.iter().enumerate() {
        match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
            (Some("text"), Some(t)) => {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(t);
            }
            (kind, _) => {
                return Err(bad(format!(
                    "{field}.content.{k}: `{}` blocks are not supported in a tool result (text only)",
                    one_line(kind.unwrap_or("?"))
                )))
            }
        }
    }
    Ok(out)
}

/// A call as an Anthropic `tool_use` block; arguments that are not a JSON object (a model's
/// broken output) become `{}` with the text kept under `_raw`, so nothing is lost silently.
pub fn anthropic_block(c: &ToolCall) -> Value {
    let input = match serde_json::from_str::<Value>(&c.arguments) {
        Ok(v) if v.is_object() => v,
        _ => json!({ "_raw": c.arguments }),
    };
    json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": input })
}

#[cfg(test)]
mod tests {
    use super::*;
    use frugal_core::llm::Role;

    #[test]
    fn openai_tools_and_choices_are_read_or_refused_with_the_field() {
        let tools: Vec<OpenAiTool> = serde_json::from_value(json!([
            { "type": "function", "function": { "name": "get_weather", "parameters": { "type": "object" } } }
        ]))
        .unwrap();
        let (t, c) =
            openai_tools(tools, Some(json!({ "type": "function", "function": { "name": "get_weather" } }))).unwrap();
        assert_eq!((t[0].name.as_str(), c), ("get_weather", Some(ToolChoice::Named("get_weather".into()))));
        for (tools, choice, says) in [
            (json!([{ "type": "web_search" }]), None, "tools[0].type"),
            (json!([{ "type": "function", "function": { "name": "bad name" } }]), None, "tools[0].function.name"),
            (json!([{ "type": "function", "function": { "name": "f", "parameters": [] } }]), None, "parameters"),
            (json!([]), Some(json!("sometimes")), "tool_choice"),
        ] {
            let tools: Vec<OpenAiTool> = serde_json::from_value(tools).unwrap();
            let e = openai_tools(tools, choice).unwrap_err();
            assert!(e.message().contains(says), "{}", e.message());
        }
    }

    #[test]
    fn anthropic_blocks_become_calls_results_and_text() {
        let user: Blocks = serde_json::from_value(json!([
            { "type": "tool_result", "tool_use_id": "toolu_1", "content": [{ "type": "text", "text": "12 C" }] },
            { "type": "tool_result", "tool_use_id": "toolu_2", "content": "down", "is_error": true },
            { "type": "text", "text": "thanks" }
        ]))
        .unwrap();
        let m = anthropic_message("user", user, 2).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[0].role, m[0].tool_call_id.as_deref(), m[0].content.as_str()),
            (Role::Tool, Some("toolu_1"), "12 C")
        );
        assert_eq!(m[1].content, "Error: down");
        assert_eq!((m[2].role, m[2].content.as_str()), (Role::User, "thanks"));
        let assistant: Blocks = serde_json::from_value(json!([
            { "type": "text", "text": "Let me check." },
            { "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": { "city": "Oslo" } }
        ]))
        .unwrap();
        let m = anthropic_message("assistant", assistant, 1).unwrap();
        assert_eq!(m[0].tool_calls[0].arguments, r#"{"city":"Oslo"}"#);
        let wrong: Blocks = serde_json::from_value(json!([{ "type": "tool_result", "tool_use_id": "x" }])).unwrap();
        assert!(anthropic_message("assistant", wrong, 0).unwrap_err().message().contains("does not belong"));
        let image: Blocks = serde_json::from_value(json!([{ "type": "image", "source": {} }])).unwrap();
        assert!(anthropic_message("user", image, 0).unwrap_err().message().contains("`image` blocks"));
        let call = ToolCall { id: "c".into(), name: "f".into(), arguments: "not json".into() };
        assert_eq!(anthropic_block(&call)["input"]["_raw"], "not json");
    }
}

//! The two wire protocols: request bodies out, streamed events in. Pure functions, so each
//! shape is unit-tested without a socket.

use frugal_llm::{CacheMark, Constraint, FinishReason, Request, Role, Usage};
use serde_json::{json, Value};

use crate::tool_wire::{self, ToolDelta};
use crate::Kind;

/// The JSON body of a streamed request.
pub fn body(kind: Kind, model: &str, request: &Request) -> Value {
    match kind {
        Kind::OpenAi => openai_body(model, request),
        Kind::Anthropic => anthropic_body(model, request),
    }
}

/// The JSON body of the same request answered whole (one line of a batch): no streaming.
pub fn unstreamed_body(kind: Kind, model: &str, request: &Request) -> Value {
    let mut body = body(kind, model, request);
    if let Some(o) = body.as_object_mut() {
        o.remove("stream");
        o.remove("stream_options");
    }
    body
}

/// Anthropic takes at most four cache breakpoints in a request: the last four are kept
/// (a later prefix contains the earlier ones).
const MAX_BREAKPOINTS: usize = 4;

/// OpenAI's reasoning models (o1, o3, o4-mini, gpt-5…) refuse `max_tokens` (they take
/// `max_completion_tokens`, which counts their reasoning too), `stop`, and any `temperature`
/// or `top_p` but the default: sent as to other models, every request to them was a 400.
/// They are asked for little reasoning: Frugal's ceilings are small (an `ask` answer is 200
/// tokens), and reasoning at the default effort could spend all of it and answer nothing.
fn reasoning_model(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    let family = |p: &str| name.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'));
    // A family's variants follow a dash: "o4-mini", "o3-mini", "o1-2024-12-17".
    ["o1", "o3", "o4"].iter().any(|p| family(p)) || (name.starts_with("gpt-5") && !name.contains("chat"))
}

fn openai_body(model: &str, request: &Request) -> Value {
    let messages = tool_wire::openai_messages(&request.messages);
    let mut body = json!({
        "model": model,
        "stream": true,
        "stream_options": { "include_usage": true },
    });
    let reasoning = reasoning_model(model);
    if reasoning {
        body["max_completion_tokens"] = json!(request.max_tokens);
        body["reasoning_effort"] = json!("low");
    } else {
        body["max_tokens"] = json!(request.max_tokens);
        body["temperature"] = json!(request.sampling.temperature);
        body["top_p"] = json!(request.sampling.top_p);
    }
    if let Some(seed) = request.sampling.seed {
        body["seed"] = json!(seed);
    }
    // A reasoning model's stop sequences are cut by the caller (the gateway's stop filter).
    if !request.stop.is_empty() && !reasoning {
        body["stop"] = json!(request.stop);
    }
    match &request.constraint {
        Some(Constraint::JsonSchema(schema)) => match serde_json::from_str::<Value>(schema) {
            // Not `strict`: strict mode demands schema features (every property required, no
            // extra keys) that the tasks' schemas need not follow.
            Ok(schema) => {
                body["response_format"] =
                    json!({ "type": "json_schema", "json_schema": { "name": "answer", "schema": schema } })
            }
            Err(_) => body["response_format"] = json!({ "type": "json_object" }),
        },
        // GBNF grammars are a llama.cpp feature; cloud models get the format from the prompt,
        // which every task states in words too. Sending `grammar` would make OpenAI refuse.
        Some(Constraint::Grammar(_)) | None => {}
    }
    tool_wire::openai_tools(&mut body, &request.tools, request.tool_choice.as_ref());
    // OpenAI caches prompt prefixes on its own (no write premium); the key keeps a task's
    // requests on the same cache. The router sends a key to OpenAI only: some compatible
    // servers refuse fields they do not know.
    if let Some(cache) = request.cache.as_ref().filter(|c| !c.key.is_empty()) {
        body["prompt_cache_key"] = json!(cache.key);
    }
    body["messages"] = Value::Array(messages);
    body
}

fn anthropic_body(model: &str, request: &Request) -> Value {
    let mut marks: Vec<CacheMark> = request.cache.iter().flat_map(|c| c.marks.iter().copied()).collect();
    marks.sort_by_key(|k| (k.message, k.at));
    marks.dedup_by_key(|k| (k.message, k.at));
    let marks = &marks[marks.len().saturating_sub(MAX_BREAKPOINTS)..];
    let mut system: Vec<Value> = Vec::new();
    for (i, m) in request.messages.iter().enumerate().filter(|(_, m)| m.role == Role::System) {
        let here: Vec<&CacheMark> = marks.iter().filter(|k| k.message == i).collect();
        system.extend(tool_wire::marked_text(&m.content, &here));
    }
    if let Some(Constraint::JsonSchema(schema)) = &request.constraint {
        let note = format!("Reply with one JSON document and nothing else, valid against this JSON Schema:\n{schema}");
        system.push(json!({ "type": "text", "text": note }));
    }
    let messages = tool_wire::anthropic_messages(&request.messages, marks);
    // Newer Claude models refuse `temperature` and `top_p` together: temperature alone.
    let mut body = json!({
        "model": model,
        "stream": true,
        "max_tokens": request.max_tokens,
        "temperature": request.sampling.temperature.min(1.0),
        "messages": messages,
    });
    if system.iter().any(|b| b.get("cache_control").is_some()) {
        body["system"] = Value::Array(system);
    } else if !system.is_empty() {
        // Without breakpoints the system prompt stays one string, as most clients send it.
        let texts: Vec<&str> = system.iter().filter_map(|b| b["text"].as_str()).collect();
        body["system"] = json!(texts.join("\n\n"));
    }
    if !request.stop.is_empty() {
        body["stop_sequences"] = json!(request.stop);
    }
    tool_wire::anthropic_tools(&mut body, &request.tools, request.tool_choice.as_ref());
    body
}

/// A whole (unstreamed) answer body of either protocol, as a batch's result.
pub fn whole_answer(kind: Kind, v: &Value) -> Result<crate::batch::ItemOutcome, String> {
    let (text, finish, usage) = match kind {
        Kind::OpenAi => {
            let choice = v.pointer("/choices/0").ok_or("an answer without choices")?;
            let text = choice.pointer("/message/content").and_then(Value::as_str).unwrap_or_default().to_string();
            let p = parse_openai(
                &json!({ "choices": [{ "finish_reason": choice.get("finish_reason") }], "usage": v.get("usage") }),
            );
            (text, p.finish, p.usage)
        }
        Kind::Anthropic => {
            let blocks = v.get("content").and_then(Value::as_array).ok_or("an answer without content")?;
            let text: String = blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect();
            let p = parse_anthropic(
                &json!({ "type": "message_delta", "delta": { "stop_reason": v.get("stop_reason") }, "usage": v.get("usage") }),
            );
            (text, p.finish, p.usage)
        }
    };
    Ok(crate::batch::ItemOutcome::Answered {
        text,
        usage: usage.and_then(|u| u.finish(kind)),
        finish: finish.unwrap_or(FinishReason::Stop),
    })
}

/// What one SSE `data:` payload meant.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    /// Answer text.
    pub text: Option<String>,
    /// Pieces of tool calls.
    pub tools: Vec<ToolDelta>,
    /// Usage seen in this payload (merged into what came before).
    pub usage: Option<PartialUsage>,
    /// The model's reason to stop, if this payload carried it.
    pub finish: Option<FinishReason>,
    /// The stream's end marker (`[DONE]`, `message_stop`).
    pub end: bool,
    /// An error the provider reported inside the stream.
    pub error: Option<String>,
}

/// Usage fields as they trickle in (Anthropic splits them across two events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartialUsage {
    /// Uncached input (Anthropic) or all input (OpenAI).
    pub input: Option<u32>,
    /// Cache reads.
    pub cached: Option<u32>,
    /// Cache writes.
    pub cache_write: Option<u32>,
    /// Output.
    pub output: Option<u32>,
    /// Reasoning, part of output.
    pub reasoning: Option<u32>,
}

impl PartialUsage {
    /// Later values win; absent ones keep what was known.
    pub fn merge(&mut self, other: PartialUsage) {
        self.input = other.input.or(self.input);
        self.cached = other.cached.or(self.cached);
        self.cache_write = other.cache_write.or(self.cache_write);
        self.output = other.output.or(self.output);
        self.reasoning = other.reasoning.or(self.reasoning);
    }

    /// The final counts, or `None` if the provider never said how many tokens it used.
    pub fn finish(self, kind: Kind) -> Option<Usage> {
        let (input, output) = (self.input?, self.output?);
        let cached = self.cached.unwrap_or(0);
        let cache_write = self.cache_write.unwrap_or(0);
        // Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's includes reads.
        let prompt = match kind {
            Kind::OpenAi => input,
            Kind::Anthropic => input.saturating_add(cached).saturating_add(cache_write),
        };
        Some(Usage {
            prompt_tokens: prompt,
            cached_prompt_tokens: cached.min(prompt),
            cache_write_tokens: cache_write,
            completion_tokens: output,
            reasoning_tokens: self.reasoning.unwrap_or(0).min(output),
            estimated: false,
        })
    }
}

fn count(v: &Value) -> Option<u32> {
    v.as_u64().map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// Parses one `data:` payload. `Err` means it was not the JSON the protocol promises.
pub fn parse(kind: Kind, data: &str) -> Result<Parsed, String> {
    let data = data.trim();
    if kind == Kind::OpenAi && data == "[DONE]" {
        return Ok(Parsed { end: true, ..Parsed::default() });
    }
    let v: Value = serde_json::from_str(data).map_err(|e| format!("malformed JSON in the stream ({e})"))?;
    if !v.is_object() {
        return Err("the stream sent JSON that is not an object".into());
    }
    Ok(match kind {
        Kind::OpenAi => parse_openai(&v),
        Kind::Anthropic => parse_anthropic(&v),
    })
}

fn parse_openai(v: &Value) -> Parsed {
    let mut out = Parsed::default();
    if let Some(err) = v.get("error") {
        out.error = Some(err.get("message").and_then(Value::as_str).unwrap_or("unknown error").to_string());
        return out;
    }
    if let Some(choice) = v.get("choices").and_then(|c| c.get(0)) {
        if let Some(t) = choice.pointer("/delta/content").and_then(Value::as_str) {
            if !t.is_empty() {
                out.text = Some(t.to_string());
            }
        }
        if let Some(delta) = choice.get("delta") {
            out.tools = tool_wire::openai_deltas(delta);
        }
        out.finish = match choice.get("finish_reason").and_then(Value::as_str) {
            Some("length") => Some(FinishReason::Length),
            Some("tool_calls" | "function_call") => Some(FinishReason::ToolCalls),
            Some(_) => Some(FinishReason::Stop),
            None => None,
        };
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        out.usage = Some(PartialUsage {
            input: u.get("prompt_tokens").and_then(count),
            // OpenAI reports cache hits under prompt_tokens_details; DeepSeek at the top level.
            cached: u
                .pointer("/prompt_tokens_details/cached_tokens")
                .and_then(count)
                .or_else(|| u.get("prompt_cache_hit_tokens").and_then(count)),
            cache_write: None,
            output: u.get("completion_tokens").and_then(count),
            reasoning: u.pointer("/completion_tokens_details/reasoning_tokens").and_then(count),
        });
    }
    out
}

fn parse_anthropic(v: &Value) -> Parsed {
    let mut out = Parsed::default();
    let usage_of = |u: &Value| PartialUsage {
        input: u.get("input_tokens").and_then(count),
        cached: u.get("cache_read_input_tokens").and_then(count),
        cache_write: u.get("cache_creation_input_tokens").and_then(count),
        output: u.get("output_tokens").and_then(count),
        reasoning: None,
    };
    out.tools.extend(tool_wire::anthropic_delta(v));
    match v.get("type").and_then(Value::as_str) {
        Some("message_start") => out.usage = v.pointer("/message/usage").map(usage_of),
        Some("content_block_delta") => {
            if let Some(t) = v.pointer("/delta/text").and_then(Value::as_str) {
                out.text = Some(t.to_string());
            }
        }
        Some("message_delta") => {
            out.usage = v.get("usage").map(usage_of);
            out.finish = match v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                Some("max_tokens") => Some(FinishReason::Length),
                Some("tool_use") => Some(FinishReason::ToolCalls),
                Some(_) => Some(FinishReason::Stop),
                None => None,
            };
        }
        Some("message_stop") => out.end = true,
        Some("error") => {
            out.error = Some(v.pointer("/error/message").and_then(Value::as_str).unwrap_or("unknown error").to_string())
        }
        _ => {}
    }
    out
}

/// Splits a byte stream into SSE `data:` payloads. Lines may arrive split across chunks, so
/// bytes are buffered until a newline; multi-line `data:` fields are joined as the spec says.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    data: Vec<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the payloads of the events they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(std::mem::take(&mut self.data).join("\n"));
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                self.data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
            }
            // `event:`, `id:`, `retry:` and comments (`: ping`) carry nothing we need: the
            // payloads name their own type.
        }
        out
    }

    /// The last event if the stream ended without its blank line.
    pub fn finish(&mut self) -> Option<String> {
        let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).to_string();
        if let Some(d) = rest.trim_end().strip_prefix("data:") {
            self.data.push(d.trim_start().to_string());
        }
        (!self.data.is_empty()).then(|| std::mem::take(&mut self.data).join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frugal_llm::Message;

    #[test]
    fn reasoning_models_get_max_completion_tokens_and_no_sampling() {
        let r = Request::new(vec![Message::user("hi")]).with_max_tokens(300);
        for m in ["o3", "o4-mini", "o1-2024-12-17", "gpt-5", "gpt-5-mini", "openai/o3-mini"] {
            let b = body(Kind::OpenAi, m, &r);
            assert_eq!(b["max_completion_tokens"], 300, "{m}: {b}");
            assert!(
                b.get("max_tokens").is_none() && b.get("temperature").is_none() && b.get("top_p").is_none(),
                "{m}: {b}"
            );
            assert_eq!(b["reasoning_effort"], "low", "{m}: {b}");
        }
        for m in ["gpt-4.1-mini", "gpt-4o", "gpt-5-chat-latest", "llama-3.1-8b", "o3xx", "sim-small"] {
            let b = body(Kind::OpenAi, m, &r);
            assert_eq!(b["max_tokens"], 300, "{m}: {b}");
            assert!(b.get("temperature").is_some() && b.get("max_completion_tokens").is_none(), "{m}: {b}");
        }
    }

    #[test]
    fn sse_lines_split_across_chunks() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"event: x\r\ndata: {\"a\"").is_empty());
        assert_eq!(d.push(b":1}\r\n\r\n: ping\n\ndata: [DONE]\n\n"), vec!["{\"a\":1}", "[DONE]"]);
    }

    #[test]
    fn openai_usage_with_cache_and_reasoning() {
        let p = parse(
            Kind::OpenAi,
            r#"{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":5}}}"#,
        )
        .unwrap();
        let u = p.usage.unwrap().finish(Kind::OpenAi).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.cached_prompt_tokens, u.completion_tokens, u.reasoning_tokens),
            (100, 64, 20, 5)
        );
    }

    #[test]
    fn anthropic_usage_spans_two_events() {
        let mut u = PartialUsage::default();
        let start = parse(
            Kind::Anthropic,
            r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":30,"cache_creation_input_tokens":5,"output_tokens":1}}}"#,
        )
        .unwrap();
        u.merge(start.usage.unwrap());
        let delta = parse(
            Kind::Anthropic,
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":42}}"#,
        )
        .unwrap();
        assert_eq!(delta.finish, Some(FinishReason::Length));
        u.merge(delta.usage.unwrap());
        let u = u.finish(Kind::Anthropic).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.cached_prompt_tokens, u.cache_write_tokens, u.completion_tokens),
            (45, 30, 5, 42)
        );
    }

    #[test]
    fn anthropic_body_lifts_the_system_prompt() {
        let r = Request::new(vec![Message::system("be brief"), Message::user("hi")]);
        let b = body(Kind::Anthropic, "claude", &r);
        assert_eq!(b["system"], "be brief");
        assert_eq!(b["messages"].as_array().unwrap().len(), 1);
        assert!(b.get("top_p").is_none());
        assert!(b.get("stop_sequences").is_none());
    }

    #[test]
    fn stop_sequences_reach_both_protocols() {
        let r = Request::new(vec![Message::user("hi")]).with_stop(vec!["\n\n".into(), "END".into()]);
        assert_eq!(body(Kind::OpenAi, "m", &r)["stop"], serde_json::json!(["\n\n", "END"]));
        assert_eq!(body(Kind::Anthropic, "m", &r)["stop_sequences"], serde_json::json!(["\n\n", "END"]));
    }

    #[test]
    fn cache_marks_become_breakpoints_at_anthropic_and_a_key_at_openai() {
        let doc = "Transcript: a long meeting";
        let r = Request::new(vec![Message::system("be brief"), Message::user(format!("{doc}\nSummarize it."))])
            .with_cache(
                "summarize",
                vec![
                    frugal_llm::CacheMark::after(0, "be brief", true),
                    frugal_llm::CacheMark { message: 1, at: doc.len(), shared: false },
                ],
            );
        let b = body(Kind::Anthropic, "claude", &r);
        assert_eq!(b["system"][0]["cache_control"]["type"], "ephemeral");
        let content = b["messages"][0]["content"].as_array().unwrap();
        assert_eq!(content[0]["text"], doc);
        assert_eq!(content[0]["cache_control"]["type"], "ephemeral");
        assert_eq!(content[1]["text"], "\nSummarize it.");
        assert!(content[1].get("cache_control").is_none());
        assert!(b.get("prompt_cache_key").is_none());
        let o = body(Kind::OpenAi, "gpt", &r);
        assert_eq!(o["prompt_cache_key"], "summarize");
        assert_eq!(o["messages"][1]["content"], format!("{doc}\nSummarize it."));
        // No marks: the plain shapes, byte for byte as before.
        let plain = Request::new(vec![Message::system("be brief"), Message::user("hi")]);
        assert_eq!(body(Kind::Anthropic, "claude", &plain)["system"], "be brief");
        assert_eq!(body(Kind::Anthropic, "claude", &plain)["messages"][0]["content"], "hi");
    }

    #[test]
    fn at_most_four_breakpoints_the_last_ones() {
        let msgs: Vec<Message> = (0..6).map(|i| Message::user(format!("part {i}"))).collect();
        let marks = (0..6).map(|i| frugal_llm::CacheMark::after(i, "part 0", false)).collect();
        let b = body(Kind::Anthropic, "claude", &Request::new(msgs).with_cache("k", marks));
        let blocks = b["messages"][0]["content"].as_array().unwrap();
        let marked = blocks.iter().filter(|b| b.get("cache_control").is_some()).count();
        assert_eq!(marked, 4);
        assert!(blocks[0].get("cache_control").is_none() && blocks[5].get("cache_control").is_some());
        let u = unstreamed_body(Kind::OpenAi, "gpt", &Request::new(vec![Message::user("hi")]));
        assert!(u.get("stream").is_none() && u.get("stream_options").is_none());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(Kind::OpenAi, "{not json").is_err());
        assert!(parse(Kind::Anthropic, "[1,2]").is_err());
        assert!(parse(Kind::OpenAi, r#"{"choices":[{"delta":{"content":null}}]}"#).unwrap().text.is_none());
    }
}

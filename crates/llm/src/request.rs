use serde::{Deserialize, Serialize};

use crate::{Tool, ToolCall, ToolChoice};

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
    /// The result of a tool the model called (its `tool_call_id` says which call).
    Tool,
}

impl Role {
    /// The role name chat templates expect.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
    /// The tools an assistant message called (after its text, if any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Which call a [`Role::Tool`] message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
    /// An assistant message that calls tools.
    pub fn assistant_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self { tool_calls: calls, ..Self::new(Role::Assistant, content) }
    }
    /// The result of the tool call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        Self { tool_call_id: Some(id.into()), ..Self::new(Role::Tool, content) }
    }
    fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }
}

/// How the next token is chosen.
///
/// Defaults follow llama.cpp's server defaults, so figures compare with `llama-server`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability sums to `top_p`.
    pub top_p: f32,
    /// Keep only the `top_k` most likely tokens (0 disables).
    pub top_k: u32,
    /// Drop tokens less likely than `min_p` × the most likely one (0 disables).
    pub min_p: f32,
    /// Penalty on tokens seen in the last 64 tokens (1.0 disables).
    pub repeat_penalty: f32,
    /// Fixed seed for reproducible output; `None` picks a random one.
    pub seed: Option<u32>,
}

impl Default for Sampling {
    fn default() -> Self {
        Self { temperature: 0.8, top_p: 0.95, top_k: 40, min_p: 0.05, repeat_penalty: 1.0, seed: None }
    }
}

/// A constraint on the shape of the output, enforced token by token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// A GBNF grammar whose start rule is `root`.
    Grammar(String),
    /// A JSON Schema (as JSON text); the output is a JSON document valid against it.
    JsonSchema(String),
}

/// One generation request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The conversation so far; the engine applies the model's own chat template.
    pub messages: Vec<Message>,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Sampling settings.
    pub sampling: Sampling,
    /// Optional output constraint.
    pub constraint: Option<Constraint>,
    /// Text that ends the answer where it is generated (the engine stops there; the caller
    /// cuts it off the shown text). Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Functions the model may call instead of (or besides) answering in text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Which of `tools` it must call; `None` is the provider's default (auto).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Where the prompt's stable prefix ends, for a cloud provider's prompt cache. The
    /// local engine reuses its KV cache on its own and ignores this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheHint>,
}

/// How a request's prompt may be cached by a cloud provider.
///
/// Tasks build prompts stable-prefix-first (system and instructions, then the document, then
/// what changes) and mark where each stable part ends. Which marks are sent is the router's
/// decision, because a cache write costs extra at some providers and pays off only if the
/// prefix is read again; the wire then turns the marks into that provider's form (Anthropic's
/// `cache_control` breakpoints; OpenAI caches on its own and takes `prompt_cache_key`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheHint {
    /// Groups requests that share prefixes (`prompt_cache_key` at OpenAI): the task's name.
    pub key: String,
    /// Ends of stable prefixes, in prompt order.
    pub marks: Vec<CacheMark>,
}

/// The end of a stable prefix: everything before byte `at` of message `message` (and all
/// messages before it, system ones included) is the same from one request to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMark {
    /// Index into [`Request::messages`].
    pub message: usize,
    /// Byte offset into that message's content where the stable part ends (its length for
    /// the whole message); always on a character boundary.
    pub at: usize,
    /// Later requests of the same run send this prefix again (the parts of a long meeting,
    /// a retry): a cache write is sure to be read.
    pub shared: bool,
}

impl CacheMark {
    /// The end of message `message`, `content` being its text.
    pub fn after(message: usize, content: &str, shared: bool) -> Self {
        Self { message, at: content.len(), shared }
    }
}

impl Request {
    /// A request with default sampling and at most 512 new tokens.
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            max_tokens: 512,
            sampling: Sampling::default(),
            constraint: None,
            stop: Vec::new(),
            tools: Vec::new(),
            tool_choice: None,
            cache: None,
        }
    }

    /// Marks the stable prefixes a cloud provider may cache (see [`CacheHint`]).
    pub fn with_cache(mut self, key: impl Into<String>, marks: Vec<CacheMark>) -> Self {
        self.cache = Some(CacheHint { key: key.into(), marks });
        self
    }

    /// The text of the prompt up to `mark`, as the bytes a cache keys on: each message's role
    /// and content in order. Used to recognise a prefix sent before (the ledger keeps a hash).
    pub fn prefix_text(&self, mark: &CacheMark) -> String {
        let mut out = String::new();
        for (i, m) in self.messages.iter().enumerate().take(mark.message + 1) {
            out.push_str(m.role.as_str());
            out.push('\n');
            if i == mark.message {
                out.push_str(m.content.get(..mark.at).unwrap_or(&m.content));
            } else {
                out.push_str(&m.content);
            }
            out.push('\n');
        }
        out
    }

    /// Offers `tools` to the model, with `choice` among them.
    pub fn with_tools(mut self, tools: Vec<Tool>, choice: Option<ToolChoice>) -> Self {
        self.tools = tools;
        self.tool_choice = choice;
        self
    }

    /// Whether the request involves tool calling at all: tools offered, or a conversation
    /// holding calls or their results (an engine without tool support cannot read those).
    pub fn uses_tools(&self) -> bool {
        !self.tools.is_empty() || self.messages.iter().any(|m| m.role == Role::Tool || !m.tool_calls.is_empty())
    }

    /// Sets the token limit.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Sets the sampling settings.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sets the stop sequences.
    pub fn with_stop(mut self, stop: Vec<String>) -> Self {
        self.stop = stop;
        self
    }

    /// Sets an output constraint.
    pub fn with_constraint(mut self, constraint: Constraint) -> Self {
        self.constraint = Some(constraint);
        self
    }

    /// Checks what every engine requires, so each reports the same error the same way.
    pub fn validate(&self) -> crate::Result<()> {
        use crate::{ErrorKind, ProviderError};
        if self.messages.is_empty() {
            return Err(ProviderError::new(ErrorKind::InvalidRequest, "the request has no messages"));
        }
        if self.max_tokens == 0 {
            return Err(ProviderError::new(ErrorKind::InvalidRequest, "max_tokens must be at least 1"));
        }
        for (i, m) in self.messages.iter().enumerate() {
            match m.role {
                Role::Tool if m.tool_call_id.as_deref().is_none_or(str::is_empty) => {
                    return Err(ProviderError::new(
                        ErrorKind::InvalidRequest,
                        format!("message {i} is a tool result without the id of the call it answers"),
                    ))
                }
                Role::Assistant => {}
                _ if !m.tool_calls.is_empty() => {
                    return Err(ProviderError::new(
                        ErrorKind::InvalidRequest,
                        format!("message {i}: only the assistant calls tools"),
                    ))
                }
                _ => {}
            }
        }
        crate::tools::validate(&self.tools, self.tool_choice.as_ref())?;
        for mark in self.cache.iter().flat_map(|c| &c.marks) {
            let fits = self.messages.get(mark.message).is_some_and(|m| m.content.is_char_boundary(mark.at));
            if !fits {
                return Err(ProviderError::new(
                    ErrorKind::InvalidRequest,
                    format!("a cache mark points outside message {} (byte {})", mark.message, mark.at),
                ));
            }
        }
        let s = &self.sampling;
        if !(s.temperature.is_finite() && s.temperature >= 0.0) {
            return Err(ProviderError::new(ErrorKind::InvalidRequest, "temperature must be a number ≥ 0"));
        }
        if !(s.top_p > 0.0 && s.top_p <= 1.0) {
            return Err(ProviderError::new(ErrorKind::InvalidRequest, "top_p must be in (0, 1]"));
        }
        if !(s.repeat_penalty.is_finite() && s.repeat_penalty > 0.0) {
            return Err(ProviderError::new(ErrorKind::InvalidRequest, "repeat_penalty must be > 0"));
        }
        Ok(())
    }
}

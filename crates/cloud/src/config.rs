use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which wire protocol a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// OpenAI Chat Completions, also spoken by DeepSeek, OpenRouter, Groq, Together, Gemini's
    /// compatible endpoint, llama.cpp's server, vLLM and Ollama.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl Kind {
    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
        }
    }
}

/// How long to wait, and how often to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the connection.
    pub connect: Duration,
    /// From sending the request to the response headers (models may think before answering).
    pub first_byte: Duration,
    /// Between two pieces of a streamed answer: a stream silent this long is hung.
    pub idle: Duration,
    /// Retries after a 429, a 5xx or a network error, before any text arrived.
    pub max_retries: u32,
    /// A `Retry-After` longer than this is not waited for: the request fails at once and the
    /// user keeps the local answer.
    pub max_retry_wait: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(30),
            max_retries: 2,
            max_retry_wait: Duration::from_secs(20),
        }
    }
}

/// One configured provider, as the client needs it (no key: that comes separately).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudConfig {
    /// The user's name for it (`openai`, `work-claude`): ledger rows and keychain entries use it.
    pub name: String,
    /// The wire protocol.
    pub kind: Kind,
    /// The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    /// The model id sent in each request.
    pub model: String,
    /// Timeouts and retries.
    pub timeouts: Timeouts,
}

impl CloudConfig {
    /// The endpoint a request goes to.
    pub fn endpoint(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        match self.kind {
            Kind::OpenAi => format!("{base}/chat/completions"),
            Kind::Anthropic => format!("{base}/messages"),
        }
    }

    /// The host of `base_url`, which also names the vendor for price lookups
    /// (`api.deepseek.com` → `deepseek`).
    pub fn vendor_hint(&self) -> Option<String> {
        let rest = self.base_url.split("://").nth(1)?;
        let host = rest.split(['/', ':']).next()?;
        let parts: Vec<&str> = host.split('.').collect();
        (parts.len() >= 2).then(|| parts[parts.len() - 2].to_string())
    }
}

//! Cloud models behind the same [`frugal_llm::Provider`] trait as the local engine.
//!
//! Two wire protocols cover the market: OpenAI Chat Completions (OpenAI, DeepSeek,
//! OpenRouter, Groq, Together, Gemini's compatible endpoint, and self-hosted llama.cpp
//! server, vLLM or Ollama) and Anthropic Messages. Both stream over SSE and report usage
//! (cached and reasoning tokens included), which the router turns into money; this crate
//! knows nothing about budgets.
//!
//! Failures are one-line [`frugal_llm::ProviderError`]s: 429 and 5xx are retried with
//! backoff honouring `Retry-After`, a silent server times out, and an error after the
//! provider accepted the request (a stream cut halfway, malformed data) is marked
//! [`billable`](frugal_llm::ProviderError::is_billable) so the ledger charges its worst case.
//! A provider that reports no usage yields an [`estimated`](frugal_llm::Usage::estimated)
//! usage for the same reason. Keys live in [`Secret`]s that never print.
//!
//! ```no_run
//! use frugal_cloud::{CloudClient, CloudConfig, Kind, Secret, Timeouts};
//! use frugal_llm::{CancelToken, Message, Provider, Request};
//!
//! let config = CloudConfig {
//!     name: "openai".into(),
//!     kind: Kind::OpenAi,
//!     base_url: "https://api.openai.com/v1".into(),
//!     model: "gpt-4o-mini".into(),
//!     timeouts: Timeouts::default(),
//! };
//! let client = CloudClient::new(config, Some(Secret::new(std::env::var("OPENAI_API_KEY")?)))?;
//! let done = client.stream(Request::new(vec![Message::user("Hi")]), CancelToken::new()).collect_blocking()?;
//! println!("{} ({} tokens)", done.text, done.usage.completion_tokens);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod client;
mod config;
mod secret;
mod tool_wire;
pub mod wire;

#[cfg(feature = "sim")]
pub mod sim;

pub use batch::{BatchItem, BatchResults, ItemOutcome, RemoteBatch, RemoteState};
pub use client::{prompt_token_bound, CloudClient, Outbound};
pub use config::{CloudConfig, Kind, Timeouts};
pub use secret::Secret;

//! The provider boundary of Frugal.
//!
//! Every engine — the local llama.cpp worker and, later, the cloud clients — implements
//! [`Provider`]: a [`Request`] goes in, an [`EventStream`] of [`Event`]s comes out, and a
//! [`CancelToken`] stops it. Engines know nothing about budgets or money; the router turns
//! the [`Usage`] they report into cost.
//!
//! The stream contract (checked for every implementation by [`contract`], behind the
//! `test-support` feature):
//!
//! * zero or more [`Event::Text`] / [`Event::Status`] events, then any
//!   [`Event::ToolCall`]s (each whole, in the order the model made them), then exactly one
//!   [`Event::Usage`], then exactly one [`Event::Done`], then the stream ends; or
//! * an `Err(ProviderError)` item, after which the stream ends.
//!
//! ```
//! use frugal_llm::{CancelToken, Message, Provider, Request};
//! use frugal_llm::fake::FakeProvider;
//!
//! let provider = FakeProvider::new("fake").with_reply("Hello there");
//! let request = Request::new(vec![Message::user("Hi")]).with_max_tokens(16);
//! let done = provider.stream(request, CancelToken::new()).collect_blocking().unwrap();
//! assert_eq!(done.text, "Hello there");
//! ```

mod cancel;
mod error;
mod request;
mod stream;
mod tools;

pub use cancel::CancelToken;
pub use error::{ErrorKind, ProviderError};
pub use request::{CacheHint, CacheMark, Constraint, Message, Request, Role, Sampling};
pub use stream::{channel, Completion, Event, EventSender, EventStream, FinishReason, Usage};
pub use tools::{valid_tool_name, Tool, ToolCall, ToolChoice};

#[cfg(feature = "test-support")]
pub mod contract;
#[cfg(any(test, feature = "test-support"))]
pub mod fake;

/// `Result` with a [`ProviderError`].
pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

/// An engine that turns a request into a stream of events.
///
/// `stream` must return quickly: the work happens on the engine's own thread or task, and
/// every failure — including an invalid request — is reported inside the stream, so callers
/// have a single place to handle errors.
pub trait Provider: Send + Sync {
    /// A short, stable name for logs and the ledger ("local", "openai", …).
    fn name(&self) -> &str;

    /// Starts the request. Cancelling `cancel` ends the stream early with
    /// [`FinishReason::Cancelled`] after a final [`Event::Usage`].
    fn stream(&self, request: Request, cancel: CancelToken) -> EventStream;
}

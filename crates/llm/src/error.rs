use std::fmt;

/// What went wrong, coarse enough for the router to act on (retry, escalate, give up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request itself is unusable (no messages, bad grammar, zero max tokens).
    InvalidRequest,
    /// The prompt does not fit the context the engine can offer.
    ContextOverflow,
    /// The model file is missing, truncated, not a GGUF, or failed to load.
    ModelUnavailable,
    /// The engine ran out of memory, even after retrying with a smaller plan.
    OutOfMemory,
    /// The engine stopped (worker thread gone, server shut down).
    EngineStopped,
    /// The provider asked us to slow down (HTTP 429).
    RateLimited,
    /// Authentication failed (missing or rejected key).
    Auth,
    /// The provider failed on its side (HTTP 5xx).
    Server,
    /// The connection failed or timed out.
    Network,
    /// The provider answered something we could not understand.
    Protocol,
    /// A policy refused the request before it was sent (budget cap, privacy rule).
    Refused,
    /// A bug or an unexpected state inside the engine.
    Internal,
}

impl ErrorKind {
    /// Whether trying the same request again later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::RateLimited | Self::Server | Self::Network)
    }
}

/// An engine failure: a kind for code and a one-line message for people.
///
/// The message never contains secrets (keys, auth headers) and never spans several lines,
/// because it is shown as-is on the CLI's stderr and in the tray app.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ProviderError {
    kind: ErrorKind,
    message: String,
    billable: bool,
}

impl ProviderError {
    /// Builds an error; newlines in `message` are folded so it stays one line.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        Self { kind, message, billable: false }
    }

    /// Marks an error that happened after the provider accepted the request (a stream cut
    /// halfway, malformed data mid-answer): the provider may bill for it, so the ledger
    /// charges the worst case rather than nothing.
    pub fn billable(mut self) -> Self {
        self.billable = true;
        self
    }

    /// The opposite of [`ProviderError::billable`]: for a step that costs nothing whatever
    /// happened (uploading a batch's file creates no batch).
    pub fn not_billable(mut self) -> Self {
        self.billable = false;
        self
    }

    /// Whether the provider may have billed for the failed request.
    pub fn is_billable(&self) -> bool {
        self.billable
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The one-line human message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

use std::path::PathBuf;

/// Everything that can go wrong in the assistant, each with a one-line message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The config file could not be read or parsed.
    #[error("config {path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What was wrong (one line).
        reason: String,
    },
    /// No model is configured and the default one is not installed.
    #[error("no model installed: run `frugal models pull {0}` (or pass --model PATH)")]
    NoModel(String),
    /// The model file is unusable.
    #[error(transparent)]
    Model(#[from] frugal_local::GgufError),
    /// No load plan fits this machine.
    #[error(transparent)]
    Plan(#[from] frugal_local::PlanError),
    /// The engine failed.
    #[error(transparent)]
    Provider(#[from] frugal_llm::ProviderError),
    /// The catalog is malformed or lacks the name.
    #[error("{0}")]
    Catalog(String),
    /// The input (transcript, email, notes) is unusable.
    #[error("{0}")]
    Input(String),
    /// A task failed (or was cancelled).
    #[error(transparent)]
    Task(#[from] crate::tasks::TaskError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] frugal_index::IndexError),
    /// The embeddings' file failed.
    #[error(transparent)]
    Vectors(#[from] frugal_vectors::VectorError),
    /// Search by meaning is unavailable (no model, a corrupt one, an embedding failure).
    #[error("{0}")]
    Meaning(String),
    /// A recording could not be transcribed or recorded.
    #[error(transparent)]
    Speech(#[from] frugal_transcribe::Error),
    /// The OS keychain failed.
    #[error("{0}")]
    Keychain(String),
    /// The spend ledger failed.
    #[error(transparent)]
    Ledger(#[from] frugal_ledger::LedgerError),
    /// The router cannot send this request anywhere (no provider, no key, no price, privacy).
    #[error("{0}")]
    Route(String),
    /// A download failed.
    #[error("{0}")]
    Download(String),
    /// A file could not be read or written.
    #[error("{what} {path}: {error}")]
    Io {
        /// What we were doing ("cannot write").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error, quoted in the message (not a `source()`, or it would print twice).
        error: std::io::Error,
    },
}

impl CoreError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| Self::Io { what, path, error }
    }
}

/// `Result` with a [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

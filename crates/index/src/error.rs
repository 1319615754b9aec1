use std::path::PathBuf;

/// What went wrong in the index, each with a one-line message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A file or folder could not be read or written.
    #[error("{what} {path}: {error}")]
    Io {
        /// What we were doing ("cannot create").
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error, quoted in the message (not a `source()`, or it would print twice).
        error: std::io::Error,
    },
    /// Another process (usually `frugal index watch` or the tray app) is writing the index.
    #[error("the index at {0} is being updated by another frugal process; try again when it is done")]
    Busy(PathBuf),
    /// The search text or a filter is unusable.
    #[error("{0}")]
    Query(String),
    /// Tantivy failed below us.
    #[error("index {path}: {reason}")]
    Tantivy {
        /// The index folder.
        path: PathBuf,
        /// Tantivy's message, first line only.
        reason: String,
    },
    /// The file watcher failed.
    #[error("cannot watch {path}: {reason}")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl IndexError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| Self::Io { what, path, error }
    }

    pub(crate) fn tantivy(path: impl Into<PathBuf>) -> impl FnOnce(tantivy::TantivyError) -> Self {
        let path = path.into();
        move |e| match e {
            tantivy::TantivyError::LockFailure(..) => Self::Busy(path),
            e => Self::Tantivy { path, reason: first_line(&e.to_string()) },
        }
    }
}

pub(crate) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// `Result` with an [`IndexError`].
pub type Result<T, E = IndexError> = std::result::Result<T, E>;

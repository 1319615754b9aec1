use std::path::PathBuf;

use crate::ledger::Refusal;

/// What went wrong in the ledger or the price table, each with a one-line message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A file or folder could not be read or created.
    #[error("cannot {what} {path}: {error}")]
    Io {
        /// What we were doing ("create the folder").
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error, quoted in the message (not a `source()`, or it would print twice).
        error: std::io::Error,
    },
    /// The ledger file is not a readable SQLite database. It is money history, so it is never
    /// deleted or overwritten: the message says where it is so the user can move it aside.
    #[error(
        "the spend ledger at {path} is unreadable ({reason}); it was left untouched and nothing goes to a cloud model until it is fixed: {hint}"
    )]
    Corrupt {
        /// The ledger file.
        path: PathBuf,
        /// SQLite's reason, first line only.
        reason: String,
        /// What the user can do (restore the backup, or move the file aside).
        hint: String,
    },
    /// The ledger is missing or empty although it held records (its backup exists): a new
    /// one would read as nothing spent, so the cloud stays closed until the user decides.
    #[error("the spend ledger at {path} {what} though it held this month's records; nothing goes to a cloud model until it is back: {hint}")]
    Lost {
        /// The ledger file.
        path: PathBuf,
        /// `is gone` or `is empty`.
        what: &'static str,
        /// How to recover.
        hint: String,
    },
    /// A newer Frugal migrated the file; an older one must not write rows it may misread.
    #[error("the spend ledger was written by a newer Frugal (schema {found}); refusing to touch it ({path})")]
    Newer {
        /// The ledger file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
    },
    /// The budget does not leave room for this request's worst case. A `refused` row was written.
    #[error("{0}")]
    Refused(Refusal),
    /// The request was already settled, or a restart charged it as interrupted; the row is unchanged.
    #[error("request {0} is no longer pending (already settled, or charged as interrupted after a restart)")]
    NotPending(i64),
    /// Another thread or process held the ledger's write lock for longer than we wait.
    #[error("the spend ledger at {0} is busy: another frugal process held it for over 10 s; try again")]
    Busy(PathBuf),
    /// SQLite failed below us (busy for over 10 s, disk full, …).
    #[error("spend ledger {path}: {reason}")]
    Database {
        /// The ledger file (`:memory:` for an in-memory ledger).
        path: PathBuf,
        /// SQLite's message, first line only.
        reason: String,
    },
    /// The price table (built-in or the user's override) is unusable.
    #[error("prices: {0}")]
    Price(String),
    /// An argument is out of range (a negative amount, a month like `2026-13`).
    #[error("{0}")]
    Invalid(String),
}

/// The crate's result type.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// The first line of a message, so every error stays one line.
pub(crate) fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string()
}

impl LedgerError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| Self::Io { what, path, error }
    }

    /// Maps a SQLite error: an unreadable file becomes [`LedgerError::Corrupt`], the rest
    /// [`LedgerError::Database`].
    pub(crate) fn sqlite(path: &std::path::Path, e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let path = path.to_path_buf();
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                let hint = crate::backup::recovery_hint(&path);
                Self::Corrupt { path, reason: first_line(&e.to_string()), hint }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy(path),
            _ => Self::Database { path, reason: first_line(&e.to_string()) },
        }
    }
}

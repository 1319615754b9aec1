use frugal_core::CoreError;
use serde::Serialize;

/// What a command's failure looks like to the UI: a stable code for logic and core's
/// one-line message for people. Never a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// `config`, `no_model`, `input`, `route`, `keychain`, `ledger`, `index`, `provider`,
    /// `cancelled` or `internal`.
    pub code: String,
    /// One line.
    pub message: String,
}

impl CommandError {
    /// An error with a code and a message folded onto one line.
    pub fn new(code: &str, message: impl std::fmt::Display) -> Self {
        Self { code: code.into(), message: message.to_string().split_whitespace().collect::<Vec<_>>().join(" ") }
    }
}

impl From<CoreError> for CommandError {
    fn from(e: CoreError) -> Self {
        let code = match &e {
            CoreError::Config { .. } => "config",
            CoreError::NoModel(_) | CoreError::Model(_) | CoreError::Plan(_) | CoreError::Catalog(_) => "no_model",
            CoreError::Input(_) | CoreError::Io { .. } => "input",
            CoreError::Route(_) => "route",
            CoreError::Keychain(_) => "keychain",
            CoreError::Ledger(_) => "ledger",
            CoreError::Index(_) => "index",
            CoreError::Task(frugal_core::tasks::TaskError::Cancelled) => "cancelled",
            CoreError::Provider(_) | CoreError::Task(_) => "provider",
            _ => "internal",
        };
        Self::new(code, e)
    }
}

impl From<frugal_core::ledger::LedgerError> for CommandError {
    fn from(e: frugal_core::ledger::LedgerError) -> Self {
        Self::new("ledger", e)
    }
}

/// `Result` for commands.
pub type CmdResult<T> = Result<T, CommandError>;

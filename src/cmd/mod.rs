pub mod bench;
pub mod chat;
pub mod draft;
pub mod hw;
pub mod models;
pub mod summarize;

use std::path::{Path, PathBuf};

use frugal_core::Assistant;

/// Opens the assistant with the global flags.
pub fn open(config: Option<&Path>, model: Option<PathBuf>) -> anyhow::Result<Assistant> {
    Ok(Assistant::open(config, model)?)
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

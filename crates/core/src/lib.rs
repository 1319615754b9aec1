//! The assistant behind the `frugal` CLI and the tray app: config, model catalog and
//! downloads, and the engines behind one [`Assistant`] facade.
//!
//! ```no_run
//! use frugal_core::Assistant;
//! use frugal_llm::{CancelToken, Message, Request};
//!
//! let assistant = Assistant::open(None, None)?;
//! let answer = assistant
//!     .chat(Request::new(vec![Message::user("Say hi")]), CancelToken::new())
//!     .collect_blocking()?;
//! println!("{}", answer.text);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod assistant;
pub mod catalog;
pub mod config;
pub mod download;
pub mod email;
mod error;
pub mod input;
pub mod tasks;
mod text;
pub mod transcript;

pub use assistant::{Assistant, CatalogFit};
pub use catalog::{Catalog, CatalogEntry};
pub use config::{Config, Paths};
pub use error::{CoreError, Result};

/// The provider boundary, re-exported for the same reason.
pub use frugal_llm as llm;
/// The local engine's types (hardware profile, load plan, GGUF header), re-exported so the
/// shells depend on `frugal-core` alone.
pub use frugal_local as local;

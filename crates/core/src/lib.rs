//! The assistant behind the `frugal` CLI and the tray app: config, model catalog and
//! downloads, the tasks, grounding in the index, and the router that sends each request to
//! the local engine or a cloud model within the budget, behind one [`Assistant`] facade.
//!
//! ```no_run
//! use frugal_core::{Assistant, RouteOptions, Routed};
//! use frugal_llm::{CancelToken, Message, Request};
//!
//! let assistant = Assistant::open(None, None)?;
//! let request = Request::new(vec![Message::user("Say hi")]);
//! // Local first; `RouteOptions { cloud: true, .. }` would ask the economy cloud model.
//! if let Routed::Done((stream, meter), route) = assistant.chat(request, None, &RouteOptions::default(), CancelToken::new())? {
//!     let answer = stream.collect_blocking()?;
//!     println!("{} ({} via {}, ${:.4})", answer.text, route.model, route.route, frugal_core::ledger::usd(meter.spent()));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod assistant;
pub mod catalog;
pub mod config;
mod config_file;
pub mod download;
mod error;
pub mod grounding;
pub mod input;
pub mod router;
pub mod secrets;
pub mod tasks;

pub use assistant::{Assistant, CatalogFit};
pub use catalog::{Catalog, CatalogEntry};
pub use config::{Config, Paths};
pub use error::{CoreError, Result};
pub use router::{DryRun, RouteOptions, RouteReport, Routed};

/// Cloud clients, re-exported for the shells.
pub use frugal_cloud as cloud;
/// The index of the user's folders, re-exported for the shells.
pub use frugal_index as index;
/// Email and transcript readers live with the other extractors in the index crate.
pub use frugal_index::{email, transcript};
/// The spend ledger, re-exported for the shells.
pub use frugal_ledger as ledger;
/// The provider boundary, re-exported for the same reason.
pub use frugal_llm as llm;
/// The local engine's types (hardware profile, load plan, GGUF header), re-exported so the
/// shells depend on `frugal-core` alone.
pub use frugal_local as local;

//! The assistant behind the `frugal` CLI and the tray app, as services with one job each —
//! [`Settings`] (the config), [`Models`] (catalog, downloads, plan, engine), [`Library`]
//! (folders, index, search, grounding), [`Spend`] (ledger, prices, caps, reports) and the
//! [`Router`] (which engine serves a request, within the budget) — that one [`Assistant`]
//! composes for the life of the process, with the tasks wired to the services they need.
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

pub mod apps;
pub mod assistant;
pub mod batches;
pub mod caching;
pub mod catalog;
pub mod config;
mod config_file;
mod delivery;
pub mod download;
mod error;
pub mod eval;
pub mod grounding;
pub mod input;
pub mod library;
pub mod meaning;
mod metered;
pub mod models;
pub mod quick;
pub mod router;
pub mod secrets;
pub mod settings;
pub mod speech;
pub mod spend;
pub mod tasks;
pub mod verdict;

pub use assistant::Assistant;
pub use catalog::{Catalog, CatalogEntry, ModelKind};
pub use config::{Config, Paths};
pub use error::{CoreError, Result};
pub use library::Library;
pub use metered::{unsettled, Metered};
pub use models::{CatalogFit, Models};
pub use router::Router;
pub use router::{AppScope, DryRun, Pin, RouteOptions, RouteReport, Routed};
pub use settings::Settings;
pub use spend::Spend;

/// Cloud clients, re-exported for the shells.
pub use frugal_cloud as cloud;
/// Eval suites, grading and reports, re-exported for the shells.
pub use frugal_eval as evals;
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
/// Speech to text for recordings, re-exported for the shells.
pub use frugal_transcribe as transcribe;
/// The embeddings' store.
pub use frugal_vectors as vectors;

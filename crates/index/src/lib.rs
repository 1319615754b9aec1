//! The user's folders as a Tantivy index: extractors for the formats people keep (text,
//! Markdown, code, HTML, PDF, Word, email, transcripts), passages of a few hundred tokens
//! with their heading path, incremental updates that re-read only changed files, a watcher
//! that keeps it fresh, and ranked search with snippets.
//!
//! ```
//! use frugal_index::{Folder, Index, SearchQuery, Settings};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("venue.md"), "# Offsite\n\nThe lake house is booked for May 12.")?;
//! let index = Index::in_ram(Settings::default())?;
//! let folders = [Folder { path: dir.path().canonicalize()?, local_only: false }];
//! index.update(&folders, &mut |_| {})?;
//! let hits = index.search(&SearchQuery::new("lake house"))?;
//! assert_eq!(hits[0].title, "Offsite");
//! assert_eq!(hits[0].line_start, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod chunk;
mod error;
pub mod extract;
mod kind;
pub mod meaning;
pub mod rules;
mod schema;
mod search;
mod store;
pub mod text;
mod update;
pub mod watch;

pub use error::{IndexError, Result};
pub use extract::{email, transcript};
pub use kind::Kind;
pub use meaning::{embed_text, fuse, passage_key, Contents};
pub use schema::SCHEMA_VERSION;
pub use search::{Hit, SearchQuery, MAX_LIMIT};
pub use store::{Folder, FolderStatus, Index, Settings, SkippedFile, Status};
pub use update::{size_text, Progress, UpdateReport};
pub use watch::{watch, WatchEvent, Watcher};

//! What search by meaning reports: the mode a search ran in, its hits and note, how far
//! the vectors have come, and what a catch-up did, pass by pass.

use std::path::PathBuf;

use frugal_index::Hit;
use serde::Serialize;

/// How a search finds passages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Hybrid when passages have vectors, else keyword.
    #[default]
    Auto,
    /// Words only (BM25).
    Keyword,
    /// Embeddings only.
    Meaning,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

/// Hits and how they were found.
#[derive(Clone, Debug, Serialize)]
pub struct Searched {
    /// Best first.
    pub hits: Vec<Hit>,
    /// The mode that ran (`Auto` resolved).
    pub mode: SearchMode,
    /// A remark for the user: meaning search still catching up, or off and why.
    pub note: Option<String>,
}

/// How far search by meaning has come (`frugal index status`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct MeaningStatus {
    /// Search by meaning is on in the config.
    pub enabled: bool,
    /// The embedding model.
    pub model: Option<PathBuf>,
    /// Passages with a vector.
    pub ready: u64,
    /// Passages in the index.
    pub passages: u64,
    /// Passages without a transformer vector that have a quick one (searchable by meaning
    /// meanwhile).
    pub quick: u64,
    /// Vectors kept for passages no longer in the index (dropped by a catch-up once they are
    /// a fifth of the store, or after a folder is removed).
    pub stale: u64,
    /// Memory the vectors take when loaded.
    pub memory_bytes: u64,
    /// Numbers per vector (the model's width).
    pub dimensions: usize,
    /// Why it is off, when it is.
    pub problem: Option<String>,
}

/// What a catch-up did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CatchUp {
    /// Passages embedded now.
    pub embedded: u64,
    /// Quick vectors made now (a large backlog gets them first).
    pub quick: u64,
    /// Vectors of passages that are gone, dropped.
    pub dropped: u64,
    /// Passages with a vector now, and in all.
    pub ready: u64,
    /// Passages in the index.
    pub passages: u64,
    /// Another process was embedding: nothing done here.
    pub busy: bool,
    /// Stopped early by the caller.
    pub cancelled: bool,
}

/// Which pass of a catch-up a progress report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Quick vectors for a large backlog (seconds).
    Quick,
    /// The transformer (the slow, better pass).
    Transformer,
}

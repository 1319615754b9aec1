//! Shared by the embedding benchmarks: the files of a folder the index would read.

use std::path::{Path, PathBuf};

use frugal_core::index::Kind;

/// Every file under `dir` with a kind the index reads, in name order.
pub fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if Kind::of(&p).is_some() {
            out.push(p);
        }
    }
}

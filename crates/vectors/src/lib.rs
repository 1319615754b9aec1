//! Passage embeddings on disk, next to the keyword index.
//!
//! One file, `vectors.bin`: a header naming the embedding model and the width, then one
//! record per passage — its key (a hash of the text that was embedded), the vector as int8
//! with one f32 scale, and a CRC32. Records are only ever appended, so a crash or a kill
//! mid-write leaves at most one torn record at the end, which the next writer cuts off (a
//! failed write ends the writer: the next one keeps its whole records and cuts the rest).
//! Vectors are keyed by *content*, not by document: the keyword index says which keys are
//! live, so a vector whose passage is gone is never returned (the caller maps keys to
//! passages), is skipped by search once the caller marks it ([`Store::set_live`]), and is
//! dropped at the next [`Store::compact`]; a passage without a vector is simply one the
//! embedder has not reached yet.
//!
//! Search is an exact scan over int8 vectors (a quarter of f32's memory; the scores differ
//! from f32 cosine by well under 0.01): at a few hundred thousand passages it takes
//! milliseconds, and it needs no graph to rebuild or keep consistent.
//!
//! ```
//! use frugal_vectors::Store;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("vectors.bin");
//! let (mut store, _) = Store::open(&path, "demo-model", 3)?;
//! store.writable()?;
//! store.insert(&[(1, vec![1.0, 0.0, 0.0]), (2, vec![0.0, 1.0, 0.0])])?;
//! store.release();
//! let (store, _) = Store::open(&path, "demo-model", 3)?;
//! let best = store.search(&[0.9, 0.1, 0.0], 1);
//! assert_eq!(best[0].0, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod file;
mod scan;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

pub use scan::quantize;

/// What can go wrong with the vector file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// Reading or writing the file failed.
    #[error("{what} {path}: {reason}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// Another process holds the writer's lock.
    #[error("another frugal is writing the embeddings in {0}")]
    Busy(PathBuf),
    /// A vector of the wrong width (a bug in the caller, said plainly).
    #[error("a vector has {got} dimensions; the store holds {want}")]
    Width {
        /// The store's width.
        want: usize,
        /// The vector's.
        got: usize,
    },
    /// Writing before [`Store::writable`].
    #[error("the embedding store is open read-only")]
    ReadOnly,
    /// A model that says its vectors have no numbers.
    #[error("the embedding model's vectors have no dimensions")]
    NoDimensions,
}

impl VectorError {
    pub(crate) fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VectorError + 'a {
        move |e| VectorError::Io { what, path: path.to_path_buf(), reason: e.to_string() }
    }
}

/// Whether the vector file at `path` holds any vector, by its header and length alone (a
/// caller deciding whether loading a model is worth it).
pub fn holds_records(path: &Path) -> bool {
    file::holds_records(path)
}

/// Results in this crate.
pub type Result<T, E = VectorError> = std::result::Result<T, E>;

/// The vectors of one embedding model, in memory and on disk.
pub struct Store {
    path: PathBuf,
    model: String,
    dims: usize,
    keys: Vec<u64>,
    scales: Vec<f32>,
    data: Vec<i8>,
    slot: HashMap<u64, usize>,
    /// Bytes of the file read so far (header and whole records).
    read_to: u64,
    /// The id in that file's header (a compaction by another process replaces the file
    /// with one of a new id).
    identity: Option<u64>,
    /// The file holds another model's vectors, or is damaged: read as empty, replaced at
    /// the first write.
    foreign: bool,
    /// Set by [`Store::writable`]: the lock and the file to append to.
    writer: Option<(File, File)>,
    /// Rows whose key the caller last said is not live ([`Store::set_live`]), which search
    /// skips; empty when none is.
    dead: Vec<bool>,
    dead_count: usize,
    /// Changes whenever [`Store::set_live`] changes which rows are dead.
    marking: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).field("model", &self.model).field("len", &self.len()).finish()
    }
}

impl Store {
    /// Opens the store at `path` for `model` vectors of `dims` numbers, reading every whole
    /// record. A missing file is an empty store. A file for another model or width, or with
    /// a damaged header, is read as empty and replaced at the first write; the message says
    /// so (vectors of two models are never mixed).
    pub fn open(path: &Path, model: &str, dims: usize) -> Result<(Store, Option<String>)> {
        if dims == 0 {
            return Err(VectorError::NoDimensions);
        }
        let mut store = Store {
            path: path.to_path_buf(),
            model: model.to_string(),
            dims,
            keys: Vec::new(),
            scales: Vec::new(),
            data: Vec::new(),
            slot: HashMap::new(),
            read_to: 0,
            identity: None,
            foreign: false,
            writer: None,
            dead: Vec::new(),
            dead_count: 0,
            marking: 0,
        };
        let message = store.load()?;
        Ok((store, message))
    }

    /// How many vectors.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No vectors.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The width of every vector.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Whether `key` has a vector.
    pub fn contains(&self, key: u64) -> bool {
        self.slot.contains_key(&key)
    }

    /// The vector stored for `key`, as numbers again (within int8 rounding of what was
    /// inserted, length included: a vector is stored with its own scale). The product sums
    /// rows with [`Store::add_to`]; this checks what it sums.
    #[cfg(test)]
    pub(crate) fn vector(&self, key: u64) -> Option<Vec<f32>> {
        let &i = self.slot.get(&key)?;
        let scale = self.scales[i];
        Some(self.data[i * self.dims..(i + 1) * self.dims].iter().map(|&q| f32::from(q) * scale).collect())
    }

    /// Adds the vector stored for `key` to `sum` without a copy (a bag of token vectors
    /// summed into one); false when `key` has none.
    pub fn add_to(&self, key: u64, sum: &mut [f32]) -> bool {
        let Some(&i) = self.slot.get(&key) else { return false };
        let scale = self.scales[i];
        for (s, &q) in sum.iter_mut().zip(&self.data[i * self.dims..(i + 1) * self.dims]) {
            *s += f32::from(q) * scale;
        }
        true
    }

    /// Every key with a vector.
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// Marks the rows whose key `live` rejects (their passage deleted or edited since) so
    /// that search skips them until a [`Store::compact`] drops them: left in, they would
    /// take the places of live passages among the nearest, and the caller, which drops
    /// them, would have fewer than it asked for. Called again after every change of what is
    /// live, it brings back a key live again (an edit undone). Rows read or inserted later
    /// count as live until the next call. Returns how many rows are dead.
    pub fn set_live(&mut self, live: &dyn Fn(u64) -> bool) -> usize {
        let dead: Vec<bool> = self.keys.iter().map(|&k| !live(k)).collect();
        let count = dead.iter().filter(|&&d| d).count();
        let dead = if count == 0 { Vec::new() } else { dead };
        if dead != self.dead {
            self.marking += 1;
        }
        (self.dead, self.dead_count) = (dead, count);
        count
    }

    /// How many rows [`Store::set_live`] last marked dead.
    pub fn dead(&self) -> usize {
        self.dead_count
    }

    /// The keys of the rows not marked dead.
    pub fn live_keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.keys.iter().enumerate().filter(|&(i, _)| !self.dead.get(i).copied().unwrap_or(false)).map(|(_, &k)| k)
    }

    /// Changes whenever [`Store::set_live`] changes which rows are dead (beside
    /// [`Store::version`], which it leaves as it is).
    pub fn marking(&self) -> u64 {
        self.marking
    }

    /// Memory the vectors take (keys, scales, int8 numbers and the key map).
    pub fn memory_bytes(&self) -> usize {
        let per = 8 + 4 + self.dims + (8 + 8) * 2;
        self.keys.len() * per
    }

    /// Takes the writer's lock (one writer per store, across processes and across the
    /// threads sharing this store) and cuts a torn record left at the end by a crash,
    /// saying so. [`VectorError::Busy`] when another process writes, or when this store
    /// already holds the lock: another thread of the process is writing, and a second
    /// user's [`Store::release`] must not end its turn. The lock is held until
    /// [`Store::release`] or the store is dropped.
    pub fn writable(&mut self) -> Result<Option<String>> {
        if self.writer.is_some() {
            return Err(VectorError::Busy(self.path.clone()));
        }
        let lock_path = self.path.with_extension("lock");
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(VectorError::io("cannot create", parent))?;
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(VectorError::io("cannot open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(VectorError::Busy(self.path.clone())),
            Err(std::fs::TryLockError::Error(e)) => return Err(VectorError::io("cannot lock", &lock_path)(e)),
        }
        // What another writer appended before we got the lock.
        self.refresh()?;
        if self.foreign || self.read_to == 0 {
            self.clear();
            let (id, len) = file::rewrite(&self.path, &self.model, self.dims, std::iter::empty())?;
            (self.identity, self.read_to, self.foreign) = (Some(id), len, false);
        }
        let (out, cut) = file::open_for_append(&self.path, self.read_to)?;
        self.writer = Some((lock, out));
        Ok(cut.then(|| {
            format!(
                "the embeddings in {} ended in a torn record (an interrupted write); it was cut off",
                self.path.display()
            )
        }))
    }

    /// Lets go of the writer's lock, so another process may write; reading goes on.
    pub fn release(&mut self) {
        self.writer = None;
    }

    /// Appends vectors (unit length, `dims` wide), skipping keys already stored, and makes
    /// them durable before returning.
    pub fn insert(&mut self, items: &[(u64, Vec<f32>)]) -> Result<()> {
        let Some((_, out)) = self.writer.as_mut() else { return Err(VectorError::ReadOnly) };
        let mut bytes = Vec::with_capacity(items.len() * file::record_len(self.dims));
        let mut fresh = Vec::new();
        for (key, vector) in items {
            if vector.len() != self.dims {
                return Err(VectorError::Width { want: self.dims, got: vector.len() });
            }
            if self.slot.contains_key(key) || fresh.iter().any(|(k, _, _)| k == key) {
                continue;
            }
            let (scale, q) = quantize(vector);
            file::encode(&mut bytes, *key, scale, &q);
            fresh.push((*key, scale, q));
        }
        if fresh.is_empty() {
            return Ok(());
        }
        if let Err(e) = file::append(out, &self.path, &bytes) {
            // A half-written batch (a full disk): this writer stops. The next `writable`
            // reads the batch's whole records like any reader and cuts only the partial one
            // after them, so no reader (they read whole records only) is ever past the cut;
            // cutting back here would put new records under offsets a reader has passed.
            self.writer = None;
            return Err(e);
        }
        self.read_to += bytes.len() as u64;
        for (key, scale, q) in fresh {
            self.push(key, scale, &q);
        }
        Ok(())
    }

    /// A value that changes whenever the vectors held do (an append, a compaction, a file
    /// another process replaced): the key for a cache of counts over [`Store::keys`], which
    /// a compaction and as many appends would leave at the same length.
    pub fn version(&self) -> (Option<u64>, u64) {
        (self.identity, self.read_to)
    }

    /// Reads what another process appended (or reloads a file it replaced).
    pub fn refresh(&mut self) -> Result<()> {
        let since = match (self.foreign, self.identity) {
            (false, Some(id)) => file::read_since(&self.path, id, self.read_to, self.dims)?,
            _ => file::Since::Replaced,
        };
        match since {
            file::Since::More(tail) => self.take(tail),
            file::Since::Replaced => {
                self.clear();
                // A reader says nothing of a torn tail: a writer may be mid-append.
                self.load()?;
            }
        }
        Ok(())
    }

    /// Rewrites the file with only the vectors `live` keeps; returns how many went. The new
    /// file replaces the old one by rename, so a crash leaves one or the other.
    pub fn compact(&mut self, live: &dyn Fn(u64) -> bool) -> Result<usize> {
        if self.writer.is_none() {
            return Err(VectorError::ReadOnly);
        }
        let keep: Vec<usize> = (0..self.keys.len()).filter(|&i| live(self.keys[i])).collect();
        let dropped = self.keys.len() - keep.len();
        if dropped == 0 {
            return Ok(0);
        }
        let d = self.dims;
        let records = keep.iter().map(|&i| (self.keys[i], self.scales[i], &self.data[i * d..(i + 1) * d]));
        let (id, written) = file::rewrite(&self.path, &self.model, d, records)?;
        let (keys, scales, data): (Vec<u64>, Vec<f32>, Vec<i8>) = {
            let mut k = Vec::with_capacity(keep.len());
            let mut s = Vec::with_capacity(keep.len());
            let mut v = Vec::with_capacity(keep.len() * d);
            for &i in &keep {
                k.push(self.keys[i]);
                s.push(self.scales[i]);
                v.extend_from_slice(&self.data[i * d..(i + 1) * d]);
            }
            (k, s, v)
        };
        self.clear();
        for (i, (key, scale)) in keys.into_iter().zip(scales).enumerate() {
            self.push(key, scale, &data[i * d..(i + 1) * d]);
        }
        self.read_to = written;
        self.identity = Some(id);
        match file::open_for_append(&self.path, written) {
            Ok((append, _)) => {
                if let Some((_, out)) = self.writer.as_mut() {
                    *out = append;
                }
            }
            Err(e) => {
                // Still holding the replaced file: appends to it would vanish.
                self.writer = None;
                return Err(e);
            }
        }
        Ok(dropped)
    }

    /// The `k` stored vectors nearest to `query` (a unit vector) by cosine, best first,
    /// among the rows not marked dead ([`Store::set_live`]).
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(u64, f32)> {
        self.search_where(query, k, &|_| true)
    }

    /// [`Store::search`] among the keys `keep` accepts (a search within some folders).
    pub fn search_where(&self, query: &[f32], k: usize, keep: &dyn Fn(u64) -> bool) -> Vec<(u64, f32)> {
        if query.len() != self.dims || self.keys.is_empty() || k == 0 {
            return Vec::new();
        }
        let (keys, dead) = (&self.keys, &self.dead);
        let wanted = |i: usize| !dead.get(i).copied().unwrap_or(false) && keep(keys[i]);
        scan::top_k(query, &self.data, &self.scales, self.dims, k, &wanted)
            .into_iter()
            .map(|(i, score)| (self.keys[i], score))
            .collect()
    }

    fn push(&mut self, key: u64, scale: f32, q: &[i8]) {
        if self.slot.contains_key(&key) {
            // The same text embedded twice: same vector; keep the first.
            return;
        }
        self.slot.insert(key, self.keys.len());
        if !self.dead.is_empty() {
            self.dead.push(false);
        }
        self.keys.push(key);
        self.scales.push(scale);
        self.data.extend_from_slice(q);
    }

    fn take(&mut self, tail: file::Tail) {
        self.read_to += tail.bytes;
        if self.keys.is_empty() {
            // A first load: the arrays as read (one copy of the data, not two).
            self.keys = tail.keys;
            self.scales = tail.scales;
            self.dead.clear();
            self.dead_count = 0;
            self.data = tail.data;
            self.slot = self.keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
            if self.slot.len() != self.keys.len() {
                // The same text embedded twice (two writers before a compaction): keep the
                // first of each, as `push` does.
                let (keys, scales, data) =
                    (std::mem::take(&mut self.keys), std::mem::take(&mut self.scales), std::mem::take(&mut self.data));
                self.slot.clear();
                let d = self.dims;
                for (i, (key, scale)) in keys.into_iter().zip(scales).enumerate() {
                    self.push(key, scale, &data[i * d..(i + 1) * d]);
                }
            }
            return;
        }
        let d = self.dims;
        for (i, (key, scale)) in tail.keys.into_iter().zip(tail.scales).enumerate() {
            self.push(key, scale, &tail.data[i * d..(i + 1) * d]);
        }
    }

    fn clear(&mut self) {
        if self.dead_count > 0 {
            self.marking += 1;
        }
        self.dead.clear();
        self.dead_count = 0;
        self.keys.clear();
        self.scales.clear();
        self.data.clear();
        self.slot.clear();
        self.read_to = 0;
    }

    /// Reads the whole file; a message when it is not this model's (a torn tail is not
    /// reported here: the writer that cuts it says so).
    fn load(&mut self) -> Result<Option<String>> {
        self.identity = None;
        self.foreign = false;
        match file::read_all(&self.path, &self.model, self.dims)? {
            file::Loaded::Missing => Ok(None),
            file::Loaded::Other(reason) => {
                self.foreign = true;
                Ok(Some(format!("the embeddings in {} {reason}; passages are embedded again", self.path.display())))
            }
            file::Loaded::Records(id, tail) => {
                self.identity = Some(id);
                self.take(tail);
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests;

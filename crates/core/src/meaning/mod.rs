//! Search by meaning, the library's second retriever: the embedding model (loaded on first
//! use), the vectors of the index's passages (`vectors.bin` beside the Tantivy index), the
//! catch-up that embeds what the index has and the store lacks, and the meaning half of a
//! hybrid search. Keyword search never waits for any of it: until a passage has a vector it
//! is found by its words only, and a missing or broken model turns meaning search off with
//! one notice instead of failing a search.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::collections::HashSet;

use frugal_index::{Contents, Hit, Index, SearchQuery};
use frugal_local::{EmbedOptions, Embedder};
use frugal_vectors::{Store, VectorError};

mod report;

use crate::quick::Quick;
use crate::settings::Settings;
use crate::{CoreError, Result};

/// The embedding model looked for in the models folder when `[index] embedding_model` is
/// not set: what `scripts/setup.sh` converts from the PyPI package.
pub const DEFAULT_EMBEDDING_MODEL: &str = "all-MiniLM-L6-v2.f16.gguf";

/// The vectors' file, in the index folder.
pub const VECTORS_FILE: &str = "vectors.bin";

/// Left in the index folder by a folder's removal until the removed passages' vectors are
/// gone: whichever process next holds the writer's lock drops them (the tray app may be
/// embedding while the CLI removes a folder, and the CLI's own flag dies with it).
const PURGE_FILE: &str = "vectors.purge";

/// Passages per embedding call: large enough to fill a decode batch, small enough that a
/// cancel or a search waits at most a second or two.
const BATCH: usize = 32;

/// The meaning list's weight in reciprocal rank fusion (a keyword hit's is its coverage of
/// the query, at most 1). Equal footing: on the paraphrased fixture weight 2 ranked a little
/// better (MRR 0.850 against 0.825) but no better at recall@5, and more weight on meaning
/// costs exact-name searches, where keyword search is right.
pub const MEANING_WEIGHT: f32 = 1.0;

/// Cosine below which a passage gets no meaning credit in a hybrid search (and so in
/// grounding): all-MiniLM-L6-v2 gives unrelated English text 0.0–0.15, and without a floor
/// the meaning list always has its `limit` nearest, so `ask` would cite a passage that has
/// nothing to do with the question (and take its folder's privacy with it). Fixture
/// paraphrases, hybrid: floor 0 recall@5 0.95 MRR 0.73; 0.15: 0.95 / 0.85; 0.2: 0.90 /
/// 0.85 and the retreat question right; the Rust Book is the same at all three. `--mode
/// meaning` keeps its nearest hits: the user judges them (a match across languages is weak
/// but still the best).
pub const MIN_SIMILARITY: f32 = 0.2;

pub use report::{CatchUp, MeaningStatus, SearchMode, Searched, Stage};

/// The model and its vectors, once loaded.
struct Loaded {
    embedder: Embedder,
    store: Mutex<Store>,
    /// Stand-ins for the passages the transformer has not reached yet.
    quick: Quick,
    model: PathBuf,
    /// The model file's modification time when loaded: a file replaced at the same path is
    /// another model (and its vectors another store).
    modified: Option<std::time::SystemTime>,
    /// What the model was trained to see before a query and before a passage (its catalog
    /// entry's; none for a model the catalog does not know).
    query_prefix: String,
    document_prefix: String,
    /// What the stores' dead rows were last marked against: the index's contents and the
    /// two stores' versions (see [`Meaning::mark_dead`]).
    marked: Mutex<Option<(Contents, Marked)>>,
}

/// The transformer store's and the quick store's versions.
type Marked = ((Option<u64>, u64), (Option<u64>, u64));

/// A model that would not load: which file (and its modification time) and why, so every
/// search does not try again, and a new or fixed model is tried at once. Tried again after
/// [`RETRY_AFTER`] all the same: not every failure is the model's (a store that could not be
/// read, memory short for a moment), and a tray app runs for weeks.
struct Failed {
    model: PathBuf,
    modified: Option<std::time::SystemTime>,
    reason: String,
    at: std::time::Instant,
}

/// How long a failure to load stands before the next search tries again.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// The meaning retriever (one per library).
pub(crate) struct Meaning {
    settings: Arc<Settings>,
    index_dir: PathBuf,
    loaded: Mutex<Option<Arc<Loaded>>>,
    failed: Mutex<Option<Failed>>,
    notice: Mutex<Option<String>>,
    /// A background catch-up is running in this process.
    pub(crate) running: AtomicBool,
    /// Another round is wanted after the running one.
    pub(crate) again: AtomicBool,
    /// Background embedding is paused (the user paused indexing): a running round stops
    /// after its batch, and none starts.
    pub(crate) paused: AtomicBool,
    /// A folder was removed: the next catch-up drops its vectors however few they are
    /// (embeddings say something of the text they came from).
    pub(crate) purge: AtomicBool,
    /// The live passages' keys (distinct texts) and the index contents they were read
    /// from: reading them touches every passage (~20 ms on 228k), so once per change of the
    /// index, not per search.
    live: Mutex<Option<(Contents, Arc<HashSet<u64>>)>>,
}

impl Meaning {
    pub(crate) fn new(settings: Arc<Settings>, index_dir: PathBuf) -> Self {
        Meaning {
            settings,
            index_dir,
            loaded: Mutex::new(None),
            failed: Mutex::new(None),
            notice: Mutex::new(None),
            running: AtomicBool::new(false),
            again: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            purge: AtomicBool::new(false),
            live: Mutex::new(None),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.settings.get().index.meaning != Some(false)
    }

    /// The configured model, or the default one in the models folder.
    pub(crate) fn model_path(&self) -> PathBuf {
        crate::models::embedding_model_path(&self.settings)
    }

    /// A message for the user (a store rebuilt, the model unusable), once.
    pub(crate) fn take_notice(&self) -> Option<String> {
        lock(&self.notice).take()
    }

    fn load(&self) -> Result<Arc<Loaded>> {
        if !self.enabled() {
            return Err(CoreError::Meaning("search by meaning is off ([index] meaning = false)".into()));
        }
        let model = self.model_path();
        let modified = std::fs::metadata(&model).and_then(|m| m.modified()).ok();
        let current = |l: &Loaded| l.model == model && l.modified == modified;
        if let Some(l) = lock(&self.loaded).as_ref().filter(|l| current(l)) {
            return Ok(l.clone());
        }
        if let Some(f) = lock(&self.failed).as_ref() {
            if f.model == model && f.modified == modified && f.at.elapsed() < RETRY_AFTER {
                return Err(CoreError::Meaning(f.reason.clone()));
            }
        }
        // Loading takes a while: no lock held meanwhile, so a search on another thread is
        // not kept waiting (it finds no vectors loaded and stays keyword-only).
        match self.open(&model, modified) {
            Ok(l) => {
                *lock(&self.failed) = None;
                let mut slot = lock(&self.loaded);
                match slot.as_ref().filter(|l| current(l)) {
                    // Another thread loaded it first: one store per process.
                    Some(first) => Ok(first.clone()),
                    None => {
                        *slot = Some(l.clone());
                        Ok(l)
                    }
                }
            }
            Err(e) => {
                let reason = format!("search by meaning is off: {e}");
                *lock(&self.failed) =
                    Some(Failed { model, modified, reason: reason.clone(), at: std::time::Instant::now() });
                Err(CoreError::Meaning(reason))
            }
        }
    }

    fn open(&self, model: &Path, modified: Option<std::time::SystemTime>) -> Result<Arc<Loaded>> {
        let model = model.to_path_buf();
        if !model.is_file() {
            return Err(CoreError::Meaning(format!(
                "no embedding model at {} (run scripts/setup.sh, or set [index] embedding_model)",
                model.display()
            )));
        }
        let embedder =
            Embedder::start(&model, EmbedOptions::default()).map_err(|e| CoreError::Meaning(e.to_string()))?;
        // A catalog that cannot be read fails the load (tried again later): taken as "no
        // prefix", a prefixed model's store would read as another model's and be emptied.
        let catalog = crate::models::catalog_in_effect(&self.settings)
            .map_err(|e| CoreError::Meaning(format!("cannot read the model catalog: {e}")))?;
        let (query_prefix, document_prefix) =
            catalog.by_file(&model).map(|e| (e.query_prefix.clone(), e.document_prefix.clone())).unwrap_or_default();
        let mut id = model_id(&model)?;
        // Passages embedded with another prefix are other vectors.
        if !document_prefix.is_empty() {
            id.push_str(&format!(" {document_prefix:?}"));
        }
        std::fs::create_dir_all(&self.index_dir).map_err(CoreError::io("cannot create", &self.index_dir))?;
        let (store, message) = Store::open(&self.index_dir.join(VECTORS_FILE), &id, embedder.dimensions())?;
        let (quick, quick_message) = Quick::open(&self.index_dir, &id, embedder.dimensions(), embedder.vocab_size())?;
        if let Some(m) = message.or(quick_message) {
            *lock(&self.notice) = Some(m);
        }
        Ok(Arc::new(Loaded {
            embedder,
            store: Mutex::new(store),
            quick,
            model,
            modified,
            query_prefix,
            document_prefix,
            marked: Mutex::new(None),
        }))
    }

    /// The live passages' keys, read again only when the index has changed.
    fn live_keys(&self, index: &Index) -> Result<Arc<HashSet<u64>>> {
        let now = index.contents();
        if let Some((contents, keys)) = lock(&self.live).as_ref() {
            if *contents == now {
                return Ok(keys.clone());
            }
        }
        let (contents, keys) = index.passage_keys_with_contents()?;
        let keys = Arc::new(keys);
        *lock(&self.live) = Some((contents, keys.clone()));
        Ok(keys)
    }

    /// Marks the stored vectors whose passage is gone (a file deleted, or a passage edited:
    /// its new text has a new key) so that searches skip them. They stay in the stores until
    /// a catch-up compacts them (once they are a fifth), and among the nearest they would
    /// take the places of live passages: a notes file edited fifty times leaves fifty
    /// versions of a paragraph near any query about it. Done again only when the index or a
    /// store has changed since.
    fn mark_dead(&self, index: &Index, loaded: &Loaded) -> Result<()> {
        let contents = index.contents();
        let versions = (lock(&loaded.store).version(), loaded.quick.version());
        if lock(&loaded.marked).as_ref().is_some_and(|m| m.0 == contents && m.1 == versions) {
            return Ok(());
        }
        let live = self.live_keys(index)?;
        let mut store = lock(&loaded.store);
        store.set_live(&|k| live.contains(&k));
        loaded.quick.set_live(&|k| live.contains(&k));
        let versions = (store.version(), loaded.quick.version());
        drop(store);
        *lock(&loaded.marked) = Some((contents, versions));
        Ok(())
    }

    /// Embeds every passage of `index` without a vector and drops vectors of passages that
    /// are gone. Safe to stop at any point (`cancel`): what was written stays, the rest is
    /// done next time. `progress(stage, done, of)` after each batch: first quick vectors for
    /// a backlog of `[index] quick_vectors_from` passages or more, then the transformer. The writer's lock is
    /// held only while this runs, so the CLI and the tray app take turns.
    pub(crate) fn catch_up(
        &self,
        index: &Index,
        progress: &mut dyn FnMut(Stage, u64, u64),
        cancel: &AtomicBool,
    ) -> Result<CatchUp> {
        let loaded = self.load()?;
        let cut = match lock(&loaded.store).writable() {
            Ok(cut) => cut,
            Err(VectorError::Busy(_)) => return Ok(CatchUp { busy: true, ..CatchUp::default() }),
            Err(e) => return Err(e.into()),
        };
        if cut.is_some() {
            *lock(&self.notice) = cut;
        }
        let result = self.embed_missing(&loaded, index, progress, cancel);
        lock(&loaded.store).release();
        result
    }

    fn embed_missing(
        &self,
        loaded: &Loaded,
        index: &Index,
        progress: &mut dyn FnMut(Stage, u64, u64),
        cancel: &AtomicBool,
    ) -> Result<CatchUp> {
        index.reload()?;
        let live = self.live_keys(index)?;
        let mut report = CatchUp { passages: live.len() as u64, ..CatchUp::default() };
        let marker = self.index_dir.join(PURGE_FILE);
        // What the mark said when this round began: a removal after it writes another, which
        // this round must not delete (its passages may still have been live here).
        let mark = std::fs::read_to_string(&marker).ok();
        let purge = self.purge.swap(false, Ordering::SeqCst) || mark.is_some();
        let pending: Vec<u64> = {
            let mut store = lock(&loaded.store);
            let stale = store.keys().iter().filter(|k| !live.contains(k)).count();
            // Dead vectors cost only memory and scan time: rewrite once they are a fifth,
            // or at once after a folder was removed.
            if stale > 0 && (purge || stale * 5 >= store.len()) {
                report.dropped = store.compact(&|k| live.contains(&k))? as u64;
            }
            let mut p: Vec<u64> = live.iter().copied().filter(|k| !store.contains(*k)).collect();
            p.sort_unstable();
            p
        };
        report.ready = report.passages - pending.len() as u64;
        // A removed folder's quick vectors go now, whatever happens below.
        if purge && self.tidy_quick(loaded, &live, true) && std::fs::read_to_string(&marker).ok() == mark {
            let _ = std::fs::remove_file(&marker);
        }
        let from = self.settings.get().index.quick_vectors_from.unwrap_or(crate::quick::DEFAULT_FROM);
        if !pending.is_empty() && pending.len() as u64 >= from {
            // Quick vectors only stand in: a failure is a notice, and the transformer's pass
            // goes on.
            match loaded.quick.fill(
                &loaded.embedder,
                index,
                &pending,
                &mut |done, of| progress(Stage::Quick, done, of),
                cancel,
            ) {
                Ok(made) => report.quick = made,
                Err(e) => *lock(&self.notice) = Some(format!("no quick vectors this time: {e}")),
            }
        }
        progress(Stage::Transformer, report.ready, report.passages);
        for keys in pending.chunks(BATCH) {
            // Another model chosen meanwhile: its vectors replace these, so the round ends
            // here rather than spend hours on vectors that are thrown away (the next round,
            // which the change asked for, starts on the new model).
            if cancel.load(Ordering::Relaxed) || self.model_path() != loaded.model {
                report.cancelled = true;
                break;
            }
            let mut texts = index.embed_texts(keys)?;
            if !loaded.document_prefix.is_empty() {
                for (_, t) in &mut texts {
                    t.insert_str(0, &loaded.document_prefix);
                }
            }
            let vectors = embed_batch(&loaded.embedder, &texts)?;
            lock(&loaded.store).insert(&vectors)?;
            report.embedded += vectors.len() as u64;
            // Keys whose passage went away since the list was made count as done too.
            report.ready += keys.len() as u64;
            progress(Stage::Transformer, report.ready, report.passages);
        }
        // Quick vectors the transformer has replaced go (all of them once it has caught up).
        self.tidy_quick(loaded, &live, false);
        Ok(report)
    }

    /// Drops the quick vectors of passages that are gone or have the transformer's vector
    /// (see `Quick::tidy`); a failure is a notice (they are never returned meanwhile), and
    /// the answer false.
    fn tidy_quick(&self, loaded: &Loaded, live: &std::collections::HashSet<u64>, at_once: bool) -> bool {
        let store = lock(&loaded.store);
        let tidied = loaded.quick.tidy(&|k| live.contains(&k) && !store.contains(k), at_once);
        drop(store);
        if let Err(e) = &tidied {
            *lock(&self.notice) = Some(format!("quick vectors stay on disk until the next update: {e}"));
        }
        tidied.is_ok()
    }

    /// Drops the vectors of passages no longer in the index now (after a folder is
    /// removed), not when they reach a fifth of the store: a catch-up with the purge flag
    /// set, stopped before it embeds anything. When another process holds the writer's lock
    /// the marker file stays for its next catch-up, or any later one; a failure is a notice
    /// (the vectors are never returned meanwhile: their passages are gone).
    pub(crate) fn purge(&self, index: &Index) {
        if !self.enabled() || !self.has_vectors() {
            return;
        }
        self.purge.store(true, Ordering::SeqCst);
        // Each removal's mark is its own (see `embed_missing`).
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        if let Err(e) = std::fs::write(self.index_dir.join(PURGE_FILE), stamp.to_string()) {
            *lock(&self.notice) = Some(format!("the removed passages' vectors may stay on disk for a while: {e}"));
        }
        if let Err(e) = self.catch_up(index, &mut |_, _, _| {}, &AtomicBool::new(true)) {
            *lock(&self.notice) =
                Some(format!("the removed passages' vectors stay on disk until the next update: {e}"));
        }
    }

    /// The meaning half of a search: the query embedded, the nearest vectors among the
    /// passages the query's filters allow, those with a cosine of at least `floor`, as hits.
    pub(crate) fn search(&self, index: &Index, query: &SearchQuery, floor: f32) -> Result<Vec<Hit>> {
        if query.text.trim().is_empty() {
            return Err(
                frugal_index::IndexError::Query("the search is empty: give some words to look for".into()).into()
            );
        }
        let loaded = self.load()?;
        let allowed = index.keys_where(query)?;
        // Room for passages that share a text (one key, several files) and the per-file cap.
        let limit = query.limit.clamp(1, frugal_index::MAX_LIMIT);
        let k = limit * query.per_file.clamp(1, 10) * 3 + 20;
        let refined_any = {
            let mut store = lock(&loaded.store);
            store.refresh()?;
            !store.is_empty()
        };
        // Passages the transformer has not reached yet, by their quick vectors. They only
        // stand in: a failure to read them is a notice, and the search goes on without them.
        let quick_query = loaded.quick.query(&loaded.embedder, &query.text).unwrap_or_else(|e| {
            *lock(&self.notice) = Some(format!("quick vectors were not searched: {e}"));
            None
        });
        // Both stores read: their vectors of passages since gone are skipped.
        self.mark_dead(index, &loaded)?;
        // The transformer's vector of the query only when it has passages to compare with.
        // Its nearest are kept whatever their cosine until they meet the quick list's.
        let mut ranked = Vec::new();
        if refined_any {
            let text = format!("{}{}", loaded.query_prefix, query.text);
            let vector = loaded.embedder.embed_one(&text).map_err(|e| CoreError::Meaning(e.to_string()))?.vector;
            let store = lock(&loaded.store);
            ranked = match &allowed {
                Some(keys) => store.search_where(&vector, k, &|key| keys.contains(&key)),
                None => store.search(&vector, k),
            };
        }
        let store = lock(&loaded.store);
        // A lookup per passage only when some have the transformer's vector.
        let refined_any = !store.is_empty();
        let keep =
            |key: u64| !(refined_any && store.contains(key)) && allowed.as_ref().is_none_or(|keys| keys.contains(&key));
        let quick = quick_query.map(|q| loaded.quick.nearest(&q, k, &keep)).unwrap_or_default();
        if quick.is_empty() {
            ranked.retain(|&(_, score)| score >= floor);
        } else {
            let (refined, waiting) = (store.len() as f32, loaded.quick.waiting(&store) as f32);
            ranked = crate::quick::merge(ranked, quick, waiting / (refined + waiting).max(1.0), floor, k);
        }
        drop(store);
        Ok(index.passages_for_keys(&ranked, query)?)
    }

    /// Whether any passage may have a vector, without loading the model: a search in
    /// `Auto` mode stays keyword-only (and costs no model load) until one has.
    pub(crate) fn has_vectors(&self) -> bool {
        if let Some(loaded) = lock(&self.loaded).as_ref() {
            if !lock(&loaded.store).is_empty() || !loaded.quick.is_empty() {
                return true;
            }
        }
        // Loaded empty, or not loaded: another process may have written since.
        frugal_vectors::holds_records(&self.index_dir.join(VECTORS_FILE))
            || frugal_vectors::holds_records(&self.index_dir.join(crate::quick::QUICK_FILE))
    }

    /// The share of passages with a vector, cheaply (vectors of deleted passages count until
    /// a catch-up drops them), from the loaded store: a count of documents when every one
    /// can have its vector, else of distinct texts (passages that share a text share a
    /// vector, and the share would never reach 100 %).
    /// The third number: passages without a transformer vector that have a quick one (at
    /// most; a quick vector is dropped a while after the transformer's arrives).
    pub(crate) fn ready_share(&self, index: &Index) -> Option<(u64, u64, u64)> {
        let loaded = lock(&self.loaded).clone()?;
        let passages = index.passage_count().ok()?;
        // Vectors of passages since gone do not count (as of the last search's marking).
        let vectors = {
            let store = lock(&loaded.store);
            (store.len() - store.dead()) as u64
        };
        if vectors >= passages {
            return Some((passages, passages, 0));
        }
        let distinct = self.live_keys(index).ok()?.len() as u64;
        let ready = vectors.min(distinct);
        let waiting = loaded.quick.waiting(&lock(&loaded.store)) as u64;
        Some((ready, distinct, waiting.min(distinct - ready)))
    }

    /// Exact progress, for `index status`.
    pub(crate) fn status(&self, index: &Index) -> MeaningStatus {
        let mut status =
            MeaningStatus { enabled: self.enabled(), model: Some(self.model_path()), ..Default::default() };
        if !status.enabled {
            return status;
        }
        let loaded = match self.load() {
            Ok(l) => l,
            Err(e) => {
                status.problem = Some(e.to_string());
                return status;
            }
        };
        let live = match index.passage_keys() {
            Ok(k) => k,
            Err(e) => {
                status.problem = Some(e.to_string());
                return status;
            }
        };
        let mut store = lock(&loaded.store);
        if let Err(e) = store.refresh() {
            status.problem = Some(e.to_string());
        }
        status.passages = live.len() as u64;
        status.ready = live.iter().filter(|&&k| store.contains(k)).count() as u64;
        status.stale = store.len() as u64 - status.ready;
        status.quick = loaded.quick.count(&|k| live.contains(&k) && !store.contains(k));
        status.memory_bytes = (store.memory_bytes() + loaded.quick.memory_bytes()) as u64;
        status.dimensions = store.dims();
        status.model = Some(loaded.model.clone());
        status
    }
}

/// Vectors for `texts`. A batch the engine fails on is retried one text at a time; a text
/// that fails alone while the engine still embeds other text gets a zero vector (never a
/// search result, and not retried on every catch-up; keyword search still finds it). When
/// the engine embeds nothing at all (its worker gone, out of memory) that is an error, and
/// nothing is stored: the batch is tried again next time.
fn embed_batch(embedder: &Embedder, texts: &[(u64, String)]) -> Result<Vec<(u64, Vec<f32>)>> {
    let strings: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
    let first_error = match embedder.embed(&strings) {
        Ok(v) if v.len() == texts.len() => return Ok(texts.iter().zip(v).map(|((k, _), e)| (*k, e.vector)).collect()),
        Ok(v) => format!("{} vectors for {} passages", v.len(), texts.len()),
        Err(e) => e.to_string(),
    };
    let one_by_one: Vec<(u64, Option<Vec<f32>>)> =
        texts.iter().map(|(k, t)| (*k, embedder.embed_one(t).ok().map(|e| e.vector))).collect();
    if one_by_one.iter().all(|(_, v)| v.is_none()) && embedder.embed_one("health check").is_err() {
        return Err(CoreError::Meaning(format!("the embedding model stopped working: {first_error}")));
    }
    let width = embedder.dimensions();
    Ok(one_by_one.into_iter().map(|(k, v)| (k, v.unwrap_or_else(|| vec![0.0; width]))).collect())
}

/// Names a model's vectors: the file name, its size and a hash of its first mebibyte (the
/// header, vocabulary and first weights), so a different model under the same name is
/// never mixed with the old one's vectors, without reading the whole file on every open.
pub fn model_id(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).map_err(CoreError::io("cannot open", path))?;
    let size = f.metadata().map_err(CoreError::io("cannot read", path))?.len();
    let mut head = Vec::with_capacity(1 << 20);
    (&mut f).take(1 << 20).read_to_end(&mut head).map_err(CoreError::io("cannot read", path))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(format!("{name} {size} {}", hex::encode(&Sha256::digest(&head)[..8])))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

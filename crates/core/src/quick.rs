//! Quick vectors: the bulk tier of search by meaning. The transformer embeds about 20
//! passages a second on two cores, so a large folder waits hours for search by meaning. A
//! quick vector is distilled from the same model: each vocabulary token embedded alone
//! once (the token table, ~20 s), weighted by how rare the token is in the corpus (IDF over
//! a sample of its passages), and a passage's vector is the sum of its tokens' rows — no
//! transformer pass per passage, so the whole Rust documentation (228,299 passages) gets
//! one in about a minute. They rank worse than the transformer's (the README has the recall
//! each costs), so they stand in only until the transformer has embedded a passage: a
//! search scans them among the passages still without a transformer vector, and a
//! catch-up drops them as the transformer's arrive.
//!
//! Both live beside the index as `frugal-vectors` stores, with the store's crash safety and
//! the model's identity in the header: `quick-tokens.bin` (token id → weighted row) and
//! `quick.bin` (passage key → quick vector). Quick vectors are emptied before a table is
//! made, and a table is whole only once its last mark is written: a table a crash (or a
//! damaged file) cut short leaves no quick vector searchable or counted, the next catch-up
//! drops them, and the next large backlog makes the table and them again — vectors summed
//! from two tables are never mixed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use frugal_index::Index;
use frugal_local::Embedder;
use frugal_vectors::Store;

use crate::{CoreError, Result};

/// A store's [`Store::version`].
type Version = (Option<u64>, u64);

/// Quick vectors of passages, in the index folder.
pub const QUICK_FILE: &str = "quick.bin";

/// The token table they are made from, in the index folder.
pub const TOKENS_FILE: &str = "quick-tokens.bin";

/// Passages waiting for the transformer from which a catch-up makes quick vectors first
/// (`[index] quick_vectors_from`): below it the transformer is done in about two minutes.
pub const DEFAULT_FROM: u64 = 2_000;

/// The key that marks the token table whole: written after every row, so a table a crash
/// cut short lacks it and is made again (token ids are far below it).
const WHOLE: u64 = u64::MAX;

/// Passages whose tokens give the table its weights: a sample is as good as all of them
/// for document frequencies, and keys are hashes, so every n-th key is a random sample.
const SAMPLE: usize = 20_000;

/// Passages per read, tokenize and write.
const CHUNK: usize = 2_048;

/// Vocabulary tokens per embedding call while making the table.
const TOKEN_CHUNK: usize = 4_096;

/// Fewest passages a token table is weighed on: fewer say little about which tokens are
/// rare (one passage would weigh every token of its own at zero), and the transformer does
/// so few in seconds anyway.
const MIN_SAMPLE: usize = 200;

/// The two stores.
pub(crate) struct Quick {
    /// Passage key → quick vector.
    passages: Mutex<Store>,
    /// Token id → the token's vector times its weight.
    tokens: Mutex<Store>,
    /// The model's vocabulary: the table is whole with a row for each and the mark.
    vocab: usize,
    /// Quick vectors of live passages without a transformer vector, with the two stores'
    /// versions and the quick store's marking it was counted at (counting looks up every
    /// key: done again only when one changes).
    waiting: Mutex<Option<(Version, Version, u64, usize)>>,
}

impl Quick {
    /// Opens both stores for the model `model_id` (a message when one was another model's
    /// or damaged: it is replaced).
    pub(crate) fn open(dir: &Path, model_id: &str, dims: usize, vocab: usize) -> Result<(Quick, Option<String>)> {
        let (passages, a) = Store::open(&dir.join(QUICK_FILE), &format!("{model_id} quick"), dims)?;
        let (tokens, b) = Store::open(&dir.join(TOKENS_FILE), &format!("{model_id} tokens"), dims)?;
        let quick =
            Quick { passages: Mutex::new(passages), tokens: Mutex::new(tokens), vocab, waiting: Mutex::new(None) };
        Ok((quick, a.or(b)))
    }

    /// The token table is whole (after reading what another process wrote): quick vectors
    /// are of use only then, since queries are summed from it.
    fn usable(&self) -> bool {
        let mut table = lock(&self.tokens);
        let _ = table.refresh();
        complete(&table, self.vocab)
    }

    /// Gives every key of `keys` (sorted) without one a quick vector, making the token table
    /// first when it is missing or incomplete. `progress(done, todo)` per chunk; stops
    /// after the chunk in hand when `cancel` is set (what was written stays). Returns how
    /// many were made. The caller holds the transformer store's writer lock, so no other
    /// process writes these.
    pub(crate) fn fill(
        &self,
        embedder: &Embedder,
        index: &Index,
        keys: &[u64],
        progress: &mut dyn FnMut(u64, u64),
        cancel: &AtomicBool,
    ) -> Result<u64> {
        if cancel.load(Ordering::Relaxed) {
            return Ok(0);
        }
        lock(&self.passages).writable()?;
        if let Err(e) = lock(&self.tokens).writable() {
            lock(&self.passages).release();
            return Err(e.into());
        }
        let result = self.fill_locked(embedder, index, keys, progress, cancel);
        lock(&self.passages).release();
        lock(&self.tokens).release();
        result
    }

    fn fill_locked(
        &self,
        embedder: &Embedder,
        index: &Index,
        keys: &[u64],
        progress: &mut dyn FnMut(u64, u64),
        cancel: &AtomicBool,
    ) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        if !complete(&lock(&self.tokens), self.vocab) {
            if keys.len() < MIN_SAMPLE {
                return Ok(0);
            }
            // Vectors summed from another table (one a crash cut short) go first, so a crash
            // while this one is made never leaves them beside a whole new table: every quick
            // vector comes from one table's weights.
            lock(&self.passages).compact(&|_| false)?;
            if !self.make_table(embedder, index, keys, cancel)? {
                return Ok(0);
            }
        }
        let todo: Vec<u64> = {
            let passages = lock(&self.passages);
            keys.iter().copied().filter(|&k| !passages.contains(k)).collect()
        };
        if todo.is_empty() {
            return Ok(0);
        }
        let dims = embedder.dimensions();
        let mut made = 0u64;
        progress(0, todo.len() as u64);
        for chunk in todo.chunks(CHUNK) {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let texts = index.embed_texts(chunk)?;
            let strings: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
            let tokens = embedder.tokenize(&strings).map_err(|e| CoreError::Meaning(e.to_string()))?;
            let vectors: Vec<(u64, Vec<f32>)> = {
                let table = lock(&self.tokens);
                texts.iter().zip(&tokens).map(|((k, _), t)| (*k, bag(&table, t, dims))).collect()
            };
            lock(&self.passages).insert(&vectors)?;
            made += vectors.len() as u64;
            progress(made.min(todo.len() as u64), todo.len() as u64);
        }
        Ok(made)
    }

    /// Embeds every vocabulary token alone, weighted by its IDF over a sample of `keys`'
    /// passages, into the token store (emptied first), then the mark that it is whole.
    /// False when cancelled.
    fn make_table(&self, embedder: &Embedder, index: &Index, keys: &[u64], cancel: &AtomicBool) -> Result<bool> {
        let failed = |e: frugal_local::EmbedError| CoreError::Meaning(e.to_string());
        let vocab = self.vocab;
        let step = keys.len().div_ceil(SAMPLE).max(1);
        let sample: Vec<u64> = keys.iter().step_by(step).copied().collect();
        let mut df = vec![0u32; vocab];
        let mut n = 0f32;
        for chunk in sample.chunks(CHUNK) {
            let texts = index.embed_texts(chunk)?;
            let strings: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
            for mut seq in embedder.tokenize(&strings).map_err(failed)? {
                seq.sort_unstable();
                seq.dedup();
                for id in seq {
                    if let Some(d) = df.get_mut(id as usize) {
                        *d += 1;
                    }
                }
                n += 1.0;
            }
        }
        let idf = |id: usize| ((n + 1.0) / (df[id] as f32 + 1.0)).ln();
        let mut table = lock(&self.tokens);
        table.compact(&|_| false)?;
        drop(table);
        let (cls, sep) = embedder.specials();
        for start in (0..vocab).step_by(TOKEN_CHUNK) {
            if cancel.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let ids: Vec<usize> = (start..(start + TOKEN_CHUNK).min(vocab)).collect();
            let seqs: Vec<Vec<i32>> =
                ids.iter().map(|&i| cls.into_iter().chain([i as i32]).chain(sep).collect()).collect();
            let vectors = embedder.embed_tokens(&seqs).map_err(failed)?;
            if vectors.len() != ids.len() {
                return Err(CoreError::Meaning(format!("{} token vectors for {} tokens", vectors.len(), ids.len())));
            }
            let rows: Vec<(u64, Vec<f32>)> = ids
                .iter()
                .zip(vectors)
                .map(|(&i, e)| (i as u64, e.vector.into_iter().map(|x| x * idf(i)).collect()))
                .collect();
            lock(&self.tokens).insert(&rows)?;
        }
        let mut mark = vec![0f32; embedder.dimensions()];
        mark[0] = 1.0;
        lock(&self.tokens).insert(&[(WHOLE, mark)])?;
        Ok(true)
    }

    /// The query's quick vector, summed from the token table: `None` when there is no quick
    /// vector to search or the table is not whole (after reading what another process wrote
    /// since). The query is tokenized with no lock held: the embedder's one worker may be
    /// busy with a batch of the catch-up for seconds, and a search must not hold the stores
    /// (nor the transformer's, which its caller takes next) meanwhile.
    pub(crate) fn query(&self, embedder: &Embedder, text: &str) -> Result<Option<Vec<f32>>> {
        {
            let mut passages = lock(&self.passages);
            passages.refresh()?;
            if passages.is_empty() {
                return Ok(None);
            }
        }
        {
            let mut table = lock(&self.tokens);
            table.refresh()?;
            if !complete(&table, self.vocab) {
                return Ok(None);
            }
        }
        let tokens = embedder.tokenize(&[text]).map_err(|e| CoreError::Meaning(e.to_string()))?;
        let table = lock(&self.tokens);
        // Emptied for a new table meanwhile: nothing to sum from (the passages went first).
        if !complete(&table, self.vocab) {
            return Ok(None);
        }
        Ok(Some(bag(&table, tokens.first().map_or(&[][..], Vec::as_slice), embedder.dimensions())))
    }

    /// The `k` passages nearest `query` (from [`Quick::query`]) among those `keep` allows,
    /// best first, as the store was last read.
    ///
    /// There is no similarity floor: summed token vectors all lean one way, and on the Rust
    /// Book a nonsense query's nearest stood out from the average passage as much as a real
    /// question's did (cosine 0.08–0.19 above it, against 0.10–0.14), so no threshold tells
    /// an unrelated passage from a related one. The list's weight in a search is its share of
    /// the corpus instead ([`merge`]), and it goes as the transformer catches up.
    pub(crate) fn nearest(&self, query: &[f32], k: usize, keep: &dyn Fn(u64) -> bool) -> Vec<(u64, f32)> {
        lock(&self.passages).search_where(query, k, keep)
    }

    /// How many quick vectors stand in for a passage `refined` (the transformer's store)
    /// has no vector for; 0 while the table is not whole (they cannot be searched). As of
    /// the stores' last reading (a search has just read them).
    pub(crate) fn waiting(&self, refined: &Store) -> usize {
        if !complete(&lock(&self.tokens), self.vocab) {
            return 0;
        }
        let passages = lock(&self.passages);
        let mut waiting = lock(&self.waiting);
        let now = (passages.version(), refined.version(), passages.marking());
        match *waiting {
            Some((p, r, m, n)) if (p, r, m) == now => n,
            _ => {
                let n = passages.live_keys().filter(|&k| !refined.contains(k)).count();
                *waiting = Some((now.0, now.1, now.2, n));
                n
            }
        }
    }

    /// The quick vectors' store's [`Store::version`] as last read.
    pub(crate) fn version(&self) -> Version {
        lock(&self.passages).version()
    }

    /// Marks the quick vectors of passages `live` rejects, which search then skips (see
    /// [`Store::set_live`]).
    pub(crate) fn set_live(&self, live: &dyn Fn(u64) -> bool) {
        lock(&self.passages).set_live(live);
    }

    /// No quick vector to search, after reading what another process wrote since (a
    /// failed read keeps what is loaded); true too while the table is not whole.
    pub(crate) fn is_empty(&self) -> bool {
        let mut passages = lock(&self.passages);
        let _ = passages.refresh();
        passages.is_empty() || {
            drop(passages);
            !self.usable()
        }
    }

    /// Keys with a quick vector that `wanted` still accepts (live, no transformer vector);
    /// 0 while the table is not whole.
    pub(crate) fn count(&self, wanted: &dyn Fn(u64) -> bool) -> u64 {
        if !self.usable() {
            return 0;
        }
        let mut passages = lock(&self.passages);
        let _ = passages.refresh();
        passages.keys().iter().filter(|&&k| wanted(k)).count() as u64
    }

    /// Drops the quick vectors `wanted` no longer accepts (the transformer has embedded the
    /// passage, or it is gone): all of them once none is wanted, else once they are a fifth
    /// of the store, or `at_once` (a folder was removed: embeddings say something of their
    /// text). A failure leaves them (they are never returned for a passage that has a
    /// transformer vector or is gone). Needs the caller's transformer writer lock, like
    /// `fill`.
    /// Without a whole table every quick vector goes (none can be searched, and the next
    /// large backlog makes the table and them again).
    pub(crate) fn tidy(&self, wanted: &dyn Fn(u64) -> bool, at_once: bool) -> Result<u64> {
        let usable = self.usable();
        let mut passages = lock(&self.passages);
        passages.refresh()?;
        let wanted = |k: u64| usable && wanted(k);
        let stale = passages.keys().iter().filter(|&&k| !wanted(k)).count();
        if stale == 0 || (!at_once && stale < passages.len() && stale * 5 < passages.len()) {
            return Ok(0);
        }
        passages.writable()?;
        let dropped = passages.compact(&wanted);
        passages.release();
        Ok(dropped? as u64)
    }

    /// Memory the loaded quick vectors and table take.
    pub(crate) fn memory_bytes(&self) -> usize {
        lock(&self.passages).memory_bytes() + lock(&self.tokens).memory_bytes()
    }
}

/// Every row and the mark that the table was made whole.
fn complete(table: &Store, vocab: usize) -> bool {
    table.contains(WHOLE) && table.len() > vocab
}

/// The sum of `tokens`' rows, of unit length (zeros for no token: such a vector is never a
/// search result). A token the table lacks (only the mark's key could be one) adds nothing.
fn bag(table: &Store, tokens: &[i32], dims: usize) -> Vec<f32> {
    let mut sum = vec![0f32; dims];
    for &t in tokens {
        table.add_to(u64::from(t as u32), &mut sum);
    }
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        sum.iter_mut().for_each(|x| *x /= norm);
    }
    sum
}

/// One ranked list from the transformer's hits and the quick ones, which cover different
/// passages and score on different scales: each hit weighs its list's share of the
/// passages over its rank (reciprocal rank, k = 60), so the quick list counts for as much as
/// the part of the corpus it alone covers. The first `k` are kept, and only then are the
/// transformer's hits under `floor` dropped (quick hits have no floor, see
/// [`Quick::nearest`]): a query that nothing the transformer has embedded is near leaves the
/// quick hits the places their share earns beside a full list — none when they stand for
/// 1 % of the passages — not the whole list, which the search would then weigh as much as
/// a whole list of the transformer's. Scores stay each list's cosine.
pub(crate) fn merge(
    refined: Vec<(u64, f32)>,
    quick: Vec<(u64, f32)>,
    quick_share: f32,
    floor: f32,
    k: usize,
) -> Vec<(u64, f32)> {
    let share = quick_share.clamp(0.0, 1.0);
    let mut all: Vec<(f32, usize, (u64, f32))> = refined
        .into_iter()
        .enumerate()
        .map(|(i, h)| ((1.0 - share) / (61.0 + i as f32), 0, h))
        .chain(quick.into_iter().enumerate().map(|(i, h)| (share / (61.0 + i as f32), 1, h)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut seen = HashSet::new();
    all.into_iter()
        .filter(|(_, _, h)| seen.insert(h.0))
        .take(k)
        .filter(|&(_, list, (_, score))| list == 1 || score >= floor)
        .map(|(_, _, h)| h)
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::merge;

    #[test]
    fn each_list_counts_for_the_share_of_passages_it_covers() {
        let refined = vec![(1, 0.9), (2, 0.8), (3, 0.7)];
        let quick = vec![(10, 0.95), (11, 0.9)];
        // Half the corpus each: the two lists interleave, the transformer's first on a tie.
        let keys = |m: Vec<(u64, f32)>| m.iter().map(|h| h.0).collect::<Vec<u64>>();
        assert_eq!(keys(merge(refined.clone(), quick.clone(), 0.5, 0.0, 10)), [1, 10, 2, 11, 3]);
        // The transformer has embedded nearly everything: quick hits go to the end.
        assert_eq!(keys(merge(refined.clone(), quick.clone(), 0.01, 0.0, 10)), [1, 2, 3, 10, 11]);
        // Nothing refined yet: the quick list alone, scores kept.
        assert_eq!(merge(Vec::new(), quick.clone(), 1.0, 0.2, 10), quick);
        // A key in both lists is listed once, at its better place.
        assert_eq!(keys(merge(vec![(10, 0.5)], quick.clone(), 0.9, 0.0, 10)), [10, 11]);
        // At most k.
        assert_eq!(keys(merge(refined.clone(), quick.clone(), 0.5, 0.0, 3)), [1, 10, 2]);
    }

    #[test]
    fn quick_hits_keep_only_their_share_when_the_transformers_fall_under_the_floor() {
        // The transformer's 40 nearest, all under the floor of 0.2: nothing it embedded is
        // near the query. Quick vectors stand for 1 % of the passages: none of their hits
        // earns a place among the first 40, so none is left to stand for the whole list.
        let refined: Vec<(u64, f32)> = (0..40).map(|i| (i, 0.15 - i as f32 * 0.001)).collect();
        let quick: Vec<(u64, f32)> = (100..140).map(|i| (i, 0.8)).collect();
        assert!(merge(refined.clone(), quick.clone(), 0.01, 0.2, 40).is_empty());
        // Half of the passages: about half of the places, still only those.
        let half = merge(refined.clone(), quick.clone(), 0.5, 0.2, 40);
        assert_eq!(half.len(), 20, "{half:?}");
        assert!(half.iter().all(|h| h.0 >= 100));
        // The transformer's hits over the floor stay where their rank puts them.
        let mut refined = refined;
        refined[0].1 = 0.6;
        assert_eq!(merge(refined, quick, 0.01, 0.2, 40), [(0, 0.6)]);
    }
}

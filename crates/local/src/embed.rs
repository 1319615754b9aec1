//! Sentence embeddings on llama.cpp: a BERT-style GGUF (all-MiniLM-L6-v2 by default,
//! converted from PyPI by `scripts/convert-embedding-model.py`) turns passages and queries
//! into unit vectors whose dot product is their cosine similarity. It is the same engine as
//! the chat model (one llama.cpp in the app, one backend), on a worker thread of its own
//! that owns the model and its context, so a query is embedded without building a context.
//!
//! Throughput comes from batching: many passages go through one decode call, each as its own
//! sequence, mean-pooled per sequence by llama.cpp. Attention in such a batch is computed
//! over all of its tokens (masked per sequence), so a batch holds at most
//! [`EmbedOptions::batch_tokens`] tokens: more passages per call would cost more in attention
//! than they save in calls.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Mutex;

use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::gguf::read_gguf;

/// Tokens per decode call (the sum over the batch's passages), by default. Measured on the
/// Rust book's passages (`bench_embed`, 2 cores): 256 and 512 tokens per call embed ~20
/// passages/s, 1,024 16.7/s, 2,048 12.3/s; 512 still lets short texts (queries, notes)
/// share a call.
pub const BATCH_TOKENS: usize = 512;

/// How an [`Embedder`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedOptions {
    /// Tokens a text is cut to (at most the model's trained context); 256 is what
    /// all-MiniLM-L6-v2 was tuned for.
    pub window: usize,
    /// CPU threads for llama.cpp.
    pub threads: usize,
    /// Tokens per decode call (see [`BATCH_TOKENS`]); at least `window`.
    pub batch_tokens: usize,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        EmbedOptions { window: 256, threads, batch_tokens: BATCH_TOKENS }
    }
}

/// Passages per decode call at most.
const BATCH_SEQUENCES: usize = 64;

/// Architectures llama.cpp runs as sentence encoders; anything else (a chat model picked
/// by mistake) is refused before it is loaded, not turned into meaningless vectors.
const ENCODER_ARCHITECTURES: &[&str] =
    &["bert", "nomic-bert", "jina-bert-v2", "jina-bert-v3", "modern-bert", "neo-bert", "eurobert"];

/// Why embedding failed, in one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The model file is missing, unreadable, corrupt or not an embedding model.
    #[error("embedding model {path}: {reason}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// llama.cpp failed while embedding (out of memory, a decode error).
    #[error("embedding failed: {0}")]
    Failed(String),
}

/// What one text became.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// Unit length (L2-normalised): the dot product of two is their cosine.
    pub vector: Vec<f32>,
    /// Tokens the model saw, `[CLS]` and `[SEP]` included.
    pub tokens: usize,
    /// Whether the text was longer than the model's window and cut to it.
    pub truncated: bool,
}

type Reply = SyncSender<Result<Vec<Embedding>, EmbedError>>;

/// Work for the embedding worker.
enum Job {
    /// Texts to embed.
    Texts(Vec<String>, Reply),
    /// Token sequences to embed as given (cut to the window): for vectors of single
    /// vocabulary tokens, which text cannot always spell.
    Tokens(Vec<Vec<i32>>, Reply),
    /// Texts to tokenize, without the special tokens.
    Tokenize(Vec<String>, SyncSender<Vec<Vec<i32>>>),
}

/// What the worker learned from the model it loaded.
#[derive(Debug, Clone, Copy)]
struct Loaded {
    dimensions: usize,
    vocab_size: usize,
    cls: Option<i32>,
    sep: Option<i32>,
}

/// A loaded embedding model on its worker thread. `Send + Sync`: share it in an `Arc`.
pub struct Embedder {
    jobs: Mutex<Sender<Job>>,
    loaded: Loaded,
    window: usize,
    path: PathBuf,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("path", &self.path).field("dimensions", &self.loaded.dimensions).finish()
    }
}

impl Embedder {
    /// Loads the model at `path` on a new worker thread.
    pub fn start(path: &Path, options: EmbedOptions) -> Result<Embedder, EmbedError> {
        let bad = |reason: String| EmbedError::Model { path: path.to_path_buf(), reason };
        let info = read_gguf(path).map_err(|e| bad(e.to_string()))?;
        if !ENCODER_ARCHITECTURES.contains(&info.architecture.as_str()) {
            return Err(bad(format!("a {} model, not a sentence encoder", info.architecture)));
        }
        let batch_tokens = options.batch_tokens.clamp(64, 8192);
        let window = options.window.clamp(8, (info.context_length as usize).clamp(8, batch_tokens));
        let threads = options.threads;
        let (ready_tx, ready) = sync_channel(1);
        let (jobs, inbox) = channel();
        let owned = path.to_path_buf();
        std::thread::Builder::new()
            .name("frugal-embed".into())
            .spawn(move || worker(&owned, Limits { window, batch_tokens }, threads, ready_tx, inbox))
            .map_err(|e| EmbedError::Failed(format!("cannot start a thread: {e}")))?;
        let loaded = ready.recv().map_err(|_| bad("the embedding worker stopped while loading".into()))??;
        Ok(Embedder { jobs: Mutex::new(jobs), loaded, window, path: path.to_path_buf() })
    }

    /// The length of every vector.
    pub fn dimensions(&self) -> usize {
        self.loaded.dimensions
    }

    /// Tokens a text is cut to.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Tokens in the model's vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.loaded.vocab_size
    }

    /// The tokens that open and close a sequence (`[CLS]`, `[SEP]` for BERT), if it has them.
    pub fn specials(&self) -> (Option<i32>, Option<i32>) {
        (self.loaded.cls, self.loaded.sep)
    }

    fn send(&self, job: Job) -> Result<(), EmbedError> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| EmbedError::Failed("the embedding worker has stopped".into()))
    }

    /// Embeds `texts` in order, batched. An empty text embeds as the empty sentence.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Embedding>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = sync_channel(1);
        self.send(Job::Texts(texts.iter().map(|t| t.as_ref().to_string()).collect(), reply))?;
        answer.recv().map_err(|_| EmbedError::Failed("the embedding worker stopped mid-batch".into()))?
    }

    /// Embeds token sequences as given (special tokens included by the caller), cut to the
    /// window. An id outside the vocabulary is an error, not a crash in llama.cpp.
    pub fn embed_tokens(&self, sequences: &[Vec<i32>]) -> Result<Vec<Embedding>, EmbedError> {
        let vocab = self.loaded.vocab_size;
        if let Some(bad) = sequences.iter().flatten().find(|&&t| t < 0 || t as usize >= vocab) {
            return Err(EmbedError::Failed(format!("token {bad} is not in the model's vocabulary of {vocab}")));
        }
        if sequences.iter().any(Vec::is_empty) {
            return Err(EmbedError::Failed("an empty token sequence has no vector".into()));
        }
        if sequences.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = sync_channel(1);
        self.send(Job::Tokens(sequences.to_vec(), reply))?;
        answer.recv().map_err(|_| EmbedError::Failed("the embedding worker stopped mid-batch".into()))?
    }

    /// The model's tokens of each text, without the special tokens; a text is read up to
    /// its first megabyte.
    pub fn tokenize<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<i32>>, EmbedError> {
        let (reply, answer) = sync_channel(1);
        self.send(Job::Tokenize(texts.iter().map(|t| t.as_ref().to_string()).collect(), reply))?;
        answer.recv().map_err(|_| EmbedError::Failed("the embedding worker stopped".into()))
    }

    /// One text's vector.
    pub fn embed_one(&self, text: &str) -> Result<Embedding, EmbedError> {
        self.embed(&[text])?.pop().ok_or_else(|| EmbedError::Failed("no vector came back".into()))
    }
}

/// Tokens per text and per decode call.
#[derive(Clone, Copy)]
struct Limits {
    window: usize,
    batch_tokens: usize,
}

fn worker(
    path: &Path,
    limits: Limits,
    threads: usize,
    ready: SyncSender<Result<Loaded, EmbedError>>,
    inbox: Receiver<Job>,
) {
    let bad = |reason: String| EmbedError::Model { path: path.to_path_buf(), reason };
    let backend = match crate::engine::backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(EmbedError::Failed(e.to_string())));
            return;
        }
    };
    let model = match LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(bad(format!("llama.cpp could not load it: {e}"))));
            return;
        }
    };
    let threads = i32::try_from(threads.max(1)).unwrap_or(1);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(limits.batch_tokens as u32))
        .with_n_batch(limits.batch_tokens as u32)
        .with_n_ubatch(limits.batch_tokens as u32)
        .with_n_seq_max(BATCH_SEQUENCES as u32)
        .with_embeddings(true)
        // The model's own pooling (mean for all-MiniLM, CLS for bge): a model without one
        // fails at the first call with a one-line error instead of giving wrong vectors.
        .with_pooling_type(LlamaPoolingType::Unspecified)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(EmbedError::Failed(format!("cannot create the embedding context: {e}"))));
            return;
        }
    };
    // What pooling returns: the output width, which some models make differ from n_embd.
    let dimensions = usize::try_from(model.n_embd_out()).unwrap_or(0);
    let sep = Some(model.vocab().sep()).filter(|t| t.0 >= 0);
    // The opening token is the one the tokenizer puts first, when it is the model's BOS
    // (`[CLS]` for BERT); a model that only closes sequences has none.
    let bos = model.vocab().bos();
    let cls = model.vocab().tokenize(b"", true, false).first().copied().filter(|t| *t == bos && Some(*t) != sep);
    let vocab_size = usize::try_from(model.n_vocab()).unwrap_or(0);
    let _ = ready.send(Ok(Loaded { dimensions, vocab_size, cls: cls.map(|t| t.0), sep: sep.map(|t| t.0) }));
    for job in inbox {
        match job {
            Job::Texts(texts, reply) => {
                let tokenized: Vec<(Vec<LlamaToken>, bool)> = texts
                    .iter()
                    .map(|t| {
                        let head = prefix(t, limits.window * MAX_BYTES_PER_TOKEN);
                        let (tokens, cut_short) =
                            cut(model.vocab().tokenize(head.as_bytes(), true, false), limits.window, sep);
                        (tokens, cut_short || head.len() < t.len())
                    })
                    .collect();
                let _ = reply.send(embed_all(&mut ctx, &tokenized, limits, dimensions));
            }
            Job::Tokens(sequences, reply) => {
                let tokenized: Vec<(Vec<LlamaToken>, bool)> = sequences
                    .into_iter()
                    .map(|s| cut(s.into_iter().map(LlamaToken).collect(), limits.window, sep))
                    .collect();
                let _ = reply.send(embed_all(&mut ctx, &tokenized, limits, dimensions));
            }
            Job::Tokenize(texts, reply) => {
                let out = texts
                    .iter()
                    .map(|t| {
                        let head = prefix(t, 1 << 20);
                        model.vocab().tokenize(head.as_bytes(), false, false).into_iter().map(|t| t.0).collect()
                    })
                    .collect();
                let _ = reply.send(out);
            }
        }
    }
}

/// Embeds tokenized texts, as many per decode call as fit.
fn embed_all(
    ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
    tokenized: &[(Vec<LlamaToken>, bool)],
    limits: Limits,
    dimensions: usize,
) -> Result<Vec<Embedding>, EmbedError> {
    let mut out = Vec::with_capacity(tokenized.len());
    let mut start = 0;
    while start < tokenized.len() {
        let (mut end, mut tokens) = (start, 0);
        while end < tokenized.len()
            && end - start < BATCH_SEQUENCES
            && tokens + tokenized[end].0.len() <= limits.batch_tokens
        {
            tokens += tokenized[end].0.len();
            end += 1;
        }
        if end == start {
            // Cannot happen (a text is cut to the window, which fits a call), but a loop
            // that makes no progress would hang the caller.
            return Err(EmbedError::Failed("a text did not fit one call".into()));
        }
        out.extend(embed_batch(ctx, &tokenized[start..end], dimensions)?);
        start = end;
    }
    Ok(out)
}

/// Bytes a text is cut to before tokenizing: far more than `window` tokens ever need
/// (a WordPiece token is rarely over 10 bytes), so a multi-megabyte text costs no more to
/// embed than its beginning.
const MAX_BYTES_PER_TOKEN: usize = 32;

/// The first `max` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Cuts a tokenized text to `window` tokens, keeping the closing `[SEP]` if it had one.
fn cut(mut tokens: Vec<LlamaToken>, window: usize, sep: Option<LlamaToken>) -> (Vec<LlamaToken>, bool) {
    if tokens.len() <= window {
        return (tokens, false);
    }
    let closed = sep.is_some() && tokens.last().copied() == sep;
    tokens.truncate(window);
    if let (true, Some(sep), Some(last)) = (closed, sep, tokens.last_mut()) {
        *last = sep;
    }
    (tokens, true)
}

fn embed_batch(
    ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
    texts: &[(Vec<LlamaToken>, bool)],
    dimensions: usize,
) -> Result<Vec<Embedding>, EmbedError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| EmbedError::Failed(format!("{what}: {e}"));
    let total: usize = texts.iter().map(|(t, _)| t.len()).sum();
    // One sequence id per token.
    let mut batch = LlamaBatch::new(total.max(1), 1);
    for (seq, (tokens, _)) in texts.iter().enumerate() {
        for (pos, &token) in tokens.iter().enumerate() {
            batch.add(token, pos as i32, &[seq as i32], true).map_err(|e| failed("batch", &e))?;
        }
    }
    ctx.clear_kv_cache();
    ctx.decode(&mut batch).map_err(|e| failed("decode", &e))?;
    let mut out = Vec::with_capacity(texts.len());
    for (seq, (tokens, truncated)) in texts.iter().enumerate() {
        let pooled = ctx.embeddings_seq_ith(seq as i32).map_err(|e| failed("pooling", &e))?;
        if pooled.len() != dimensions {
            return Err(EmbedError::Failed(format!("a vector of {} values, expected {dimensions}", pooled.len())));
        }
        out.push(Embedding { vector: normalised(pooled), tokens: tokens.len(), truncated: *truncated });
    }
    Ok(out)
}

/// Unit length, so that a dot product is a cosine; a zero vector stays zero.
fn normalised(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[i32]) -> Vec<LlamaToken> {
        v.iter().copied().map(LlamaToken).collect()
    }

    #[test]
    fn cutting_keeps_a_closing_sep_and_adds_none() {
        let sep = Some(LlamaToken(102));
        assert_eq!(cut(ids(&[101, 5, 6, 7, 102]), 4, sep), (ids(&[101, 5, 6, 102]), true));
        assert_eq!(cut(ids(&[5, 6, 7, 8, 9]), 4, sep), (ids(&[5, 6, 7, 8]), true));
        assert_eq!(cut(ids(&[101, 5, 102]), 4, sep), (ids(&[101, 5, 102]), false));
        assert_eq!(cut(ids(&[5, 6, 7, 8, 9]), 4, None), (ids(&[5, 6, 7, 8]), true));
    }

    #[test]
    fn prefixes_end_on_a_character_boundary() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("héllo", 3), "hé");
        assert_eq!(prefix("abc", 10), "abc");
        assert_eq!(prefix("日本", 4), "日");
    }
}

//! The llama.cpp worker: one thread owns the backend, the model and its context.
//!
//! Requests arrive over a channel and answer over their own [`EventStream`]. The model is
//! loaded on the first request and dropped after `idle_unload` without requests, so an idle
//! tray app holds no weights. Between requests the context keeps its KV cache together with
//! the tokens it holds; a new prompt that starts with the same tokens (a shared system
//! prompt, a follow-up turn) only decodes what is new — the prefix reuse llama-server does.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use frugal_llm::{
    channel, CancelToken, Constraint, ErrorKind, Event, EventSender, EventStream, FinishReason, Provider,
    ProviderError, Request, Usage,
};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;

use crate::gguf::read_gguf;
use crate::hardware::GpuInfo;
use crate::plan::LoadPlan;

/// How to run the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The GGUF file.
    pub model_path: PathBuf,
    /// The load plan (from [`crate::plan::plan`]).
    pub plan: LoadPlan,
    /// Unload the model after this long without a request.
    pub idle_unload: Duration,
}

/// Figures from [`LocalEngine::bench`], measured the way `llama-bench` does.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BenchFigures {
    /// Prompt tokens processed per second (one batch of `pp_tokens` random tokens).
    pub pp_tokens_per_s: f64,
    /// Generated tokens per second, sampling with the default chain.
    pub tg_tokens_per_s: f64,
    /// Milliseconds to load the model (0 if it was already loaded).
    pub load_ms: f64,
}

enum Job {
    Generate { request: Request, cancel: CancelToken, events: EventSender, queued: Instant },
    Bench { pp_tokens: u32, tg_tokens: u32, reps: u32, reply: mpsc::Sender<Result<BenchFigures, ProviderError>> },
    Tokenize { text: String, reply: mpsc::Sender<Result<usize, ProviderError>> },
    Unload,
}

/// The local engine. Cheap to share: clone the `Arc` it usually lives in.
pub struct LocalEngine {
    jobs: Mutex<mpsc::Sender<Job>>,
    loaded: Arc<AtomicBool>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for LocalEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngine").field("loaded", &self.is_loaded()).finish()
    }
}

/// The process-wide llama.cpp backend. llama.cpp allows one initialisation per process,
/// so every engine (tests create several) shares it.
pub(crate) fn backend() -> Result<&'static LlamaBackend, ProviderError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let verbose = std::env::var_os("FRUGAL_LLAMA_LOG").is_some();
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default().with_logs_enabled(verbose));
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ProviderError::new(ErrorKind::Internal, format!("llama.cpp failed to start: {e}")))
}

/// GPUs llama.cpp can offload to (CPU devices are left out).
pub fn gpus() -> Vec<GpuInfo> {
    if backend().is_err() {
        return Vec::new();
    }
    llama_cpp_2::list_llama_ggml_backend_devices()
        .into_iter()
        .filter(|d| {
            matches!(
                d.device_type,
                llama_cpp_2::LlamaBackendDeviceType::Gpu | llama_cpp_2::LlamaBackendDeviceType::IntegratedGpu
            )
        })
        .map(|d| GpuInfo {
            name: d.name,
            description: d.description,
            backend: d.backend,
            total_bytes: d.memory_total as u64,
            free_bytes: d.memory_free as u64,
        })
        .collect()
}

impl LocalEngine {
    /// Starts the worker thread. The model is not loaded until the first request.
    pub fn start(config: EngineConfig) -> Result<Self, ProviderError> {
        // Fail early and clearly on a bad file, instead of inside llama.cpp.
        read_gguf(&config.model_path).map_err(|e| ProviderError::new(ErrorKind::ModelUnavailable, e.to_string()))?;
        backend()?;
        let (tx, rx) = mpsc::channel();
        let loaded = Arc::new(AtomicBool::new(false));
        let flag = loaded.clone();
        let worker = std::thread::Builder::new()
            .name("frugal-llama".into())
            .spawn(move || Worker { config, loaded: flag }.run(&rx))
            .map_err(|e| ProviderError::new(ErrorKind::Internal, format!("cannot start the engine thread: {e}")))?;
        Ok(Self { jobs: Mutex::new(tx), loaded, worker: Mutex::new(Some(worker)) })
    }

    /// Whether the model is in memory right now.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::SeqCst)
    }

    /// Drops the model now (the next request loads it again).
    pub fn unload(&self) {
        let _ = self.send(Job::Unload);
    }

    fn send(&self, job: Job) -> Result<(), ProviderError> {
        let jobs = self.jobs.lock().map_err(|_| stopped())?;
        jobs.send(job).map_err(|_| stopped())
    }

    /// Counts the tokens of `text` with the model's own tokenizer (loads the model if needed),
    /// so tasks can split long inputs to fit the planned context exactly.
    pub fn count_tokens(&self, text: &str) -> Result<usize, ProviderError> {
        let (reply, rx) = mpsc::channel();
        self.send(Job::Tokenize { text: text.to_string(), reply })?;
        rx.recv().map_err(|_| stopped())?
    }

    /// Measures prompt processing (`pp_tokens` random tokens in one batch, like
    /// `llama-bench`'s ppN) and sampled generation (`tg_tokens`), taking the median of `reps`.
    pub fn bench(&self, pp_tokens: u32, tg_tokens: u32, reps: u32) -> Result<BenchFigures, ProviderError> {
        let (reply, rx) = mpsc::channel();
        self.send(Job::Bench { pp_tokens, tg_tokens, reps: reps.max(1), reply })?;
        rx.recv().map_err(|_| stopped())?
    }
}

impl Drop for LocalEngine {
    fn drop(&mut self) {
        // Closing the channel ends the worker loop; join so llama.cpp frees memory before exit.
        if let Ok(mut jobs) = self.jobs.lock() {
            let (dead, _) = mpsc::channel();
            *jobs = dead;
        }
        if let Ok(mut w) = self.worker.lock() {
            if let Some(handle) = w.take() {
                let _ = handle.join();
            }
        }
    }
}

fn stopped() -> ProviderError {
    ProviderError::new(ErrorKind::EngineStopped, "the local engine has stopped")
}

impl Provider for LocalEngine {
    fn name(&self) -> &str {
        "local"
    }

    fn stream(&self, request: Request, cancel: CancelToken) -> EventStream {
        if let Err(e) = request.validate() {
            return EventStream::failed(e);
        }
        if request.uses_tools() {
            // llama.cpp's template engine here renders plain chat only: the model would see
            // tool definitions as noise and write calls no parser reads back.
            return EventStream::failed(ProviderError::new(
                ErrorKind::InvalidRequest,
                "the local model cannot call tools (its chat template is applied without them): \
                 send requests with tools to a cloud model",
            ));
        }
        let (events, stream) = channel();
        match self.send(Job::Generate { request, cancel, events, queued: Instant::now() }) {
            Ok(()) => stream,
            Err(e) => EventStream::failed(e),
        }
    }
}

struct Worker {
    config: EngineConfig,
    loaded: Arc<AtomicBool>,
}

/// The loaded state, borrowed from the model for as long as it stays loaded.
struct Session<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    /// Tokens whose keys and values are in the KV cache, in order from position 0.
    cached: Vec<LlamaToken>,
    batch_size: u32,
}

impl Worker {
    fn run(self, rx: &mpsc::Receiver<Job>) {
        let Ok(backend) = backend() else { return };
        // Outer loop: unloaded. Wait for work, load, then serve until idle.
        while let Ok(first) = rx.recv() {
            if matches!(first, Job::Unload) {
                continue;
            }
            let load_started = Instant::now();
            let (model, plan, mut load_notes) = match self.load_model(backend) {
                Ok(m) => m,
                Err(e) => {
                    fail_job(first, e);
                    continue;
                }
            };
            let (session, notes) = match self.new_session(backend, &model, plan) {
                Ok(s) => s,
                Err(e) => {
                    fail_job(first, e);
                    continue;
                }
            };
            let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;
            self.loaded.store(true, Ordering::SeqCst);
            let mut session = session;
            let mut pending = Some(first);
            load_notes.extend(notes);
            let mut first_job_notes = load_notes;
            let mut first_load_ms = Some(load_ms);
            loop {
                let job = match pending.take() {
                    Some(j) => j,
                    None => match rx.recv_timeout(self.config.idle_unload) {
                        Ok(j) => j,
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => {
                            drop(session);
                            drop(model);
                            give_back_freed_memory();
                            self.loaded.store(false, Ordering::SeqCst);
                            return;
                        }
                    },
                };
                match job {
                    Job::Unload => break,
                    Job::Generate { request, cancel, events, queued } => {
                        events.send(Event::Queued { waited_ms: queued.elapsed().as_millis() as u64 });
                        for note in first_job_notes.drain(..) {
                            events.send(Event::Status(note));
                        }
                        session.generate(&request, &cancel, &events);
                    }
                    Job::Tokenize { text, reply } => {
                        let _ = reply.send(Ok(session.model.vocab().tokenize(text.as_bytes(), false, false).len()));
                    }
                    Job::Bench { pp_tokens, tg_tokens, reps, reply } => {
                        let figures = session.bench(pp_tokens, tg_tokens, reps).map(|mut f| {
                            f.load_ms = first_load_ms.unwrap_or(0.0);
                            f
                        });
                        let _ = reply.send(figures);
                    }
                }
                first_load_ms = None;
            }
            drop(session);
            drop(model);
            give_back_freed_memory();
            self.loaded.store(false, Ordering::SeqCst);
        }
    }

    /// Loads the weights. With GPU layers planned, a failure (most often VRAM that another
    /// app took since planning) is retried once with fewer layers, and said.
    fn load_model(&self, backend: &LlamaBackend) -> Result<(LlamaModel, LoadPlan, Vec<String>), ProviderError> {
        let path = &self.config.model_path;
        read_gguf(path).map_err(|e| ProviderError::new(ErrorKind::ModelUnavailable, e.to_string()))?;
        let plan = self.config.plan.clone();
        let load = |plan: &LoadPlan| {
            let params = LlamaModelParams::default().with_n_gpu_layers(plan.gpu_layers);
            LlamaModel::load_from_file(backend, path, &params)
        };
        match load(&plan) {
            Ok(model) => Ok((model, plan, Vec::new())),
            Err(first) => {
                let cannot = |e: &dyn std::fmt::Display| {
                    ProviderError::new(
                        ErrorKind::ModelUnavailable,
                        format!("llama.cpp could not load {}: {e}", path.display()),
                    )
                };
                let Some(smaller) = plan.smaller().filter(|s| s.gpu_layers < plan.gpu_layers) else {
                    return Err(cannot(&first));
                };
                let model = load(&smaller).map_err(|e| cannot(&e))?;
                let note = format!(
                    "loading {} GPU layers failed; loaded with {} instead",
                    plan.gpu_layers, smaller.gpu_layers
                );
                tracing::warn!("{note}");
                Ok((model, smaller, vec![note]))
            }
        }
    }

    /// Creates the context; if llama.cpp cannot allocate it, retries once with a smaller
    /// plan and says so.
    fn new_session<'m>(
        &self,
        backend: &LlamaBackend,
        model: &'m LlamaModel,
        plan: LoadPlan,
    ) -> Result<(Session<'m>, Vec<String>), ProviderError> {
        match context_for(backend, model, &plan) {
            Ok(ctx) => Ok((Session { model, ctx, cached: Vec::new(), batch_size: plan.batch }, Vec::new())),
            Err(first) => {
                let Some(smaller) = plan.smaller() else {
                    return Err(ProviderError::new(
                        ErrorKind::OutOfMemory,
                        format!("cannot create the model context: {first}"),
                    ));
                };
                let note = format!(
                    "not enough memory for a {}-token context; retried with {} tokens",
                    plan.context, smaller.context
                );
                tracing::warn!("{note}");
                let ctx = context_for(backend, model, &smaller).map_err(|e| {
                    ProviderError::new(
                        ErrorKind::OutOfMemory,
                        format!("cannot create the model context even at {} tokens: {e}", smaller.context),
                    )
                })?;
                Ok((Session { model, ctx, cached: Vec::new(), batch_size: smaller.batch }, vec![note]))
            }
        }
    }
}

fn context_for<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    plan: &LoadPlan,
) -> Result<LlamaContext<'m>, llama_cpp_2::LlamaContextLoadError> {
    let threads = i32::try_from(plan.threads).unwrap_or(1);
    let threads_batch = i32::try_from(plan.threads_batch).unwrap_or(1);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(plan.context))
        .with_n_batch(plan.batch)
        .with_n_ubatch(plan.ubatch)
        .with_n_threads(threads)
        .with_n_threads_batch(threads_batch);
    model.new_context(backend, params)
}

fn fail_job(job: Job, error: ProviderError) {
    match job {
        Job::Generate { events, .. } => events.fail(error),
        Job::Bench { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::Tokenize { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::Unload => {}
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(ErrorKind::Internal, format!("{what}: {e}"))
}

/// Picks tokens the way llama.cpp's common sampler does: the sampling chain chooses, and a
/// grammar (when the output is constrained) only *vetoes* that one token; the full grammar
/// pass over the vocabulary runs only on a veto. Applying the grammar to all 49k–150k
/// candidates first, on every token, made constrained generation several times slower.
struct TokenSampler {
    chain: LlamaSampler,
    grammar: Option<LlamaSampler>,
}

impl TokenSampler {
    fn sample(&mut self, ctx: &LlamaContext<'_>) -> LlamaToken {
        let Some(grammar) = self.grammar.as_mut() else {
            // -1: the logits of the last token decoded. `sample` also accepts the token.
            return self.chain.sample(ctx, -1);
        };
        let mut candidates = ctx.token_data_array_ith(-1);
        candidates.apply_sampler(&mut self.chain);
        let mut token = candidates.selected_token().unwrap_or(LlamaToken(0));
        let mut single = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
        single.apply_sampler(grammar);
        if !single.data.first().is_some_and(|d| d.logit().is_finite()) {
            let mut candidates = ctx.token_data_array_ith(-1);
            candidates.apply_sampler(grammar);
            candidates.apply_sampler(&mut self.chain);
            token = candidates.selected_token().unwrap_or(token);
        }
        grammar.accept(token);
        self.chain.accept(token);
        token
    }
}

/// Builds the sampler chain llama-server uses by default (penalties → top-k → top-p →
/// min-p → temperature → random pick), plus the grammar when the output is constrained.
fn sampler_for(model: &LlamaModel, request: &Request) -> Result<TokenSampler, ProviderError> {
    let s = &request.sampling;
    let grammar = match &request.constraint {
        None => None,
        Some(Constraint::Grammar(g)) => Some(
            LlamaSampler::grammar(model, g, "root")
                .map_err(|e| ProviderError::new(ErrorKind::InvalidRequest, format!("invalid grammar: {e}")))?,
        ),
        Some(Constraint::JsonSchema(schema)) => {
            let g = llama_cpp_2::json_schema_to_grammar(schema)
                .map_err(|e| ProviderError::new(ErrorKind::InvalidRequest, format!("unsupported JSON schema: {e}")))?;
            Some(
                LlamaSampler::grammar(model, &g, "root").map_err(|e| {
                    ProviderError::new(ErrorKind::InvalidRequest, format!("invalid schema grammar: {e}"))
                })?,
            )
        }
    };
    let mut chain = Vec::new();
    if (s.repeat_penalty - 1.0).abs() > f32::EPSILON {
        chain.push(LlamaSampler::penalties(model.n_vocab(), 64, s.repeat_penalty, 0.0, 0.0));
    }
    if s.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if s.top_k > 0 {
            chain.push(LlamaSampler::top_k(i32::try_from(s.top_k).unwrap_or(i32::MAX)));
        }
        if s.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(s.top_p, 1));
        }
        if s.min_p > 0.0 {
            chain.push(LlamaSampler::min_p(s.min_p, 1));
        }
        chain.push(LlamaSampler::temp(s.temperature));
        chain.push(LlamaSampler::dist(s.seed.unwrap_or_else(rand_seed)));
    }
    Ok(TokenSampler { chain: LlamaSampler::chain_simple(chain), grammar })
}

fn rand_seed() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id()
}

/// Accumulates token bytes and releases only complete UTF-8, so a multi-byte character
/// split across tokens never reaches the user as replacement characters.
#[derive(Default)]
struct Utf8Buffer(Vec<u8>);

impl Utf8Buffer {
    fn push(&mut self, bytes: &[u8]) -> Option<String> {
        self.0.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.0) {
            Ok(_) => self.0.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.0.len(), // genuinely invalid bytes: flush them lossily
        };
        if valid == 0 {
            return None;
        }
        let out: Vec<u8> = self.0.drain(..valid).collect();
        Some(String::from_utf8_lossy(&out).into_owned())
    }
    fn finish(&mut self) -> Option<String> {
        if self.0.is_empty() {
            None
        } else {
            let out = String::from_utf8_lossy(&self.0).into_owned();
            self.0.clear();
            Some(out)
        }
    }
}

impl Session<'_> {
    fn prompt_text(&self, request: &Request) -> Result<String, ProviderError> {
        let messages = request
            .messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_string(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProviderError::new(ErrorKind::InvalidRequest, format!("message contains a NUL byte: {e}")))?;
        match self.model.chat_template(None) {
            Ok(template) => self
                .model
                .apply_chat_template(&template, &messages, true)
                .map_err(|e| internal("applying the chat template failed", e)),
            // A base model without a template: plain concatenation is the honest fallback.
            Err(_) => Ok(request.messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n\n")),
        }
    }

    /// Makes the KV cache hold exactly `tokens[..n]` for the largest shared prefix n, then
    /// decodes the rest in batches. Returns how many prompt tokens were reused.
    fn feed_prompt(&mut self, tokens: &[LlamaToken], cancel: &CancelToken) -> Result<Option<u32>, ProviderError> {
        let mut common = self.cached.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        // At least one token must be decoded to get fresh logits.
        if common == tokens.len() {
            common = common.saturating_sub(1);
        }
        let kept = u32::try_from(common).unwrap_or(0);
        if !self.ctx.clear_kv_cache_seq(Some(0), Some(kept), None).unwrap_or(false) {
            self.ctx.clear_kv_cache();
            common = 0;
        }
        self.cached.truncate(common);
        let chunk = usize::try_from(self.batch_size).unwrap_or(512).max(1);
        let mut batch = LlamaBatch::new(chunk, 1);
        let mut pos = common;
        for piece in tokens[common..].chunks(chunk) {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            batch.clear();
            for (i, t) in piece.iter().enumerate() {
                let p = i32::try_from(pos + i).map_err(|e| internal("position", e))?;
                let last = pos + i + 1 == tokens.len();
                batch.add(*t, p, &[0], last).map_err(|e| internal("batch", e))?;
            }
            self.ctx.decode(&mut batch).map_err(|e| self.decode_error(e))?;
            self.cached.extend_from_slice(piece);
            pos += piece.len();
        }
        Ok(Some(u32::try_from(common).unwrap_or(0)))
    }

    fn decode_error(&mut self, e: llama_cpp_2::DecodeError) -> ProviderError {
        // After a failed decode the cache state is unknown: start clean next time.
        self.ctx.clear_kv_cache();
        self.cached.clear();
        ProviderError::new(ErrorKind::Internal, format!("llama.cpp decode failed: {e}"))
    }

    fn generate(&mut self, request: &Request, cancel: &CancelToken, events: &EventSender) {
        match self.try_generate(request, cancel, events) {
            Ok(()) => {}
            Err(e) => events.fail(e),
        }
    }

    fn try_generate(
        &mut self,
        request: &Request,
        cancel: &CancelToken,
        events: &EventSender,
    ) -> Result<(), ProviderError> {
        let prompt = self.prompt_text(request)?;
        let tokens = self.model.vocab().tokenize(prompt.as_bytes(), true, true);
        let n_ctx = usize::try_from(self.ctx.n_ctx()).unwrap_or(0);
        let prompt_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        if tokens.is_empty() {
            return Err(ProviderError::new(ErrorKind::InvalidRequest, "the prompt is empty"));
        }
        if tokens.len() >= n_ctx {
            return Err(ProviderError::new(
                ErrorKind::ContextOverflow,
                format!("the prompt is {} tokens but the model's context holds {n_ctx}", tokens.len()),
            ));
        }
        let finish = |reason, completion: u32, cached: u32| {
            events.send(Event::Usage(Usage {
                prompt_tokens,
                cached_prompt_tokens: cached,
                completion_tokens: completion,
                ..Usage::default()
            }));
            events.send(Event::Done { reason });
        };
        if cancel.is_cancelled() {
            finish(FinishReason::Cancelled, 0, 0);
            return Ok(());
        }
        let mut sampler = sampler_for(self.model, request)?;
        let Some(cached) = self.feed_prompt(&tokens, cancel)? else {
            finish(FinishReason::Cancelled, 0, 0);
            return Ok(());
        };
        let room = u32::try_from(n_ctx - tokens.len()).unwrap_or(0);
        let limit = request.max_tokens.min(room);
        let vocab = self.model.vocab();
        let mut batch = LlamaBatch::new(1, 1);
        let mut text = Utf8Buffer::default();
        let mut produced = 0u32;
        // What was generated, for the stop sequences (only the tail can newly match).
        let mut generated = String::new();
        let longest_stop = request.stop.iter().map(String::len).max().unwrap_or(0);
        let reason = loop {
            if cancel.is_cancelled() || events.is_closed() {
                break FinishReason::Cancelled;
            }
            if produced >= limit {
                break FinishReason::Length;
            }
            let token = sampler.sample(&self.ctx);
            if vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            produced += 1;
            let piece = vocab.token_to_piece(token, false, None);
            if let Some(t) = text.push(&piece) {
                let hit = longest_stop > 0 && {
                    generated.push_str(&t);
                    let mut from = generated.len().saturating_sub(longest_stop + t.len());
                    while !generated.is_char_boundary(from) {
                        from -= 1;
                    }
                    request.stop.iter().any(|s| generated[from..].contains(s.as_str()))
                };
                if !events.send(Event::Text(t)) {
                    break FinishReason::Cancelled;
                }
                if hit {
                    break FinishReason::Stop;
                }
            }
            batch.clear();
            let pos = i32::try_from(self.cached.len()).map_err(|e| internal("position", e))?;
            batch.add(token, pos, &[0], true).map_err(|e| internal("batch", e))?;
            self.ctx.decode(&mut batch).map_err(|e| self.decode_error(e))?;
            self.cached.push(token);
        };
        if let Some(t) = text.finish() {
            events.send(Event::Text(t));
        }
        finish(reason, produced, cached);
        Ok(())
    }

    fn bench(&mut self, pp_tokens: u32, tg_tokens: u32, reps: u32) -> Result<BenchFigures, ProviderError> {
        let n_vocab = self.model.n_vocab().max(2);
        let n_ctx = self.ctx.n_ctx();
        if pp_tokens + tg_tokens + 16 > n_ctx || pp_tokens > self.batch_size {
            return Err(ProviderError::new(
                ErrorKind::ContextOverflow,
                format!(
                    "bench needs {} tokens of context and batch ≥ {pp_tokens}; the plan has {n_ctx} / {}",
                    pp_tokens + tg_tokens + 16,
                    self.batch_size
                ),
            ));
        }
        // Deterministic pseudo-random tokens, as llama-bench uses random tokens.
        let mut state = 0x9E37_79B9u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            LlamaToken(i32::try_from(state % u32::try_from(n_vocab).unwrap_or(2)).unwrap_or(1))
        };
        let prompt: Vec<LlamaToken> = (0..pp_tokens).map(|_| next()).collect();
        let mut pp = Vec::new();
        let mut tg = Vec::new();
        let bench_cancel = CancelToken::new();
        // Warm-up (llama-bench does one too): first-touch of weights and buffers.
        self.cached.clear();
        self.ctx.clear_kv_cache();
        self.feed_prompt(&prompt[..prompt.len().min(16)], &bench_cancel)?;
        for _ in 0..reps {
            self.cached.clear();
            self.ctx.clear_kv_cache();
            let t = Instant::now();
            self.feed_prompt(&prompt, &bench_cancel)?;
            pp.push(f64::from(pp_tokens) / t.elapsed().as_secs_f64());

            // Generation with sampling on a short prompt, ignoring end-of-generation so
            // every rep produces exactly `tg_tokens`.
            self.cached.clear();
            self.ctx.clear_kv_cache();
            self.feed_prompt(&prompt[..8], &bench_cancel)?;
            let request = Request::new(vec![frugal_llm::Message::user("bench")]);
            let mut sampler = sampler_for(self.model, &request)?;
            let mut batch = LlamaBatch::new(1, 1);
            let t = Instant::now();
            for _ in 0..tg_tokens {
                let token = sampler.sample(&self.ctx);
                batch.clear();
                let pos = i32::try_from(self.cached.len()).map_err(|e| internal("position", e))?;
                batch.add(token, pos, &[0], true).map_err(|e| internal("batch", e))?;
                self.ctx.decode(&mut batch).map_err(|e| self.decode_error(e))?;
                self.cached.push(token);
            }
            tg.push(f64::from(tg_tokens) / t.elapsed().as_secs_f64());
        }
        self.cached.clear();
        self.ctx.clear_kv_cache();
        Ok(BenchFigures { pp_tokens_per_s: median(&mut pp), tg_tokens_per_s: median(&mut tg), load_ms: 0.0 })
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// After a model unloads, glibc keeps much of what the session freed in its arenas (44 MB
/// of the tray app's heap after a meeting's summary, measured in `src-tauri/tests/e2e.rs`):
/// `malloc_trim` returns it to the system, so an idle app is as small as before.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn give_back_freed_memory() {
    // SAFETY: malloc_trim walks glibc's own heaps and takes no pointer of ours; any thread
    // may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_freed_memory() {}

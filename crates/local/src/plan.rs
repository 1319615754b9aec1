//! The load planner: a pure function from (hardware, model header, wishes) to a plan.
//!
//! Pure so it can be unit-tested against literal machines (a 4 GB netbook, a 64 GB
//! workstation with a 24 GB GPU) without owning them. The memory model follows what
//! llama.cpp allocates: the mapped weights, an f16 KV cache of `2 × layers × context ×
//! kv_heads × head_dim` values, compute buffers that grow with the micro-batch, and a fixed
//! runtime overhead. RAM is planned by what becomes *resident* (the OS commits only touched
//! pages), VRAM by what llama.cpp *reserves* (GPU memory is committed at allocation). The
//! constants were calibrated against measured peak RSS (see the README's performance section).

use serde::Serialize;

use crate::gguf::GgufInfo;
use crate::hardware::HardwareProfile;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Runtime memory that is there whatever the model: binary, libraries, llama.cpp's backend,
/// thread pools (measured: 29 MiB resident after unloading the model).
pub const RUNTIME_OVERHEAD_BYTES: u64 = 30 * MIB;

/// What the user (config or flags) asks for; `None` lets the planner choose.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PlanOptions {
    /// Context length in tokens.
    pub context: Option<u32>,
    /// Generation threads.
    pub threads: Option<u32>,
    /// Layers to offload to the GPU.
    pub gpu_layers: Option<u32>,
}

/// Default context when the user does not ask for one: long enough for a one-hour meeting
/// chunk, short enough that the KV cache stays small on a laptop.
pub const DEFAULT_CONTEXT: u32 = 8192;
/// Below this the model is not useful for summaries and drafts: refuse instead.
pub const MIN_CONTEXT: u32 = 1024;

/// Estimated memory of a plan, split by where it lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryEstimate {
    /// Weights kept in RAM (memory-mapped).
    pub weights_ram_bytes: u64,
    /// Weights offloaded to the GPU.
    pub weights_vram_bytes: u64,
    /// KV cache in RAM.
    pub kv_ram_bytes: u64,
    /// KV cache on the GPU.
    pub kv_vram_bytes: u64,
    /// Compute and output buffers resident in RAM.
    pub compute_ram_bytes: u64,
    /// Compute buffers reserved on the GPU.
    pub compute_vram_bytes: u64,
    /// Runtime overhead.
    pub overhead_bytes: u64,
    /// Everything that lives in RAM.
    pub total_ram_bytes: u64,
    /// Everything that lives in VRAM.
    pub total_vram_bytes: u64,
}

/// One decision and why, for `frugal hw` and the settings page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// What was decided ("threads", "gpu", "context", "batch", "memory").
    pub topic: &'static str,
    /// One line saying why.
    pub text: String,
}

/// How to load a model on this machine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadPlan {
    /// Layers offloaded to the GPU (0 = CPU only; block_count + 1 = everything).
    pub gpu_layers: u32,
    /// Transformer blocks in the model.
    pub layers: u32,
    /// Context length in tokens.
    pub context: u32,
    /// Threads for generation.
    pub threads: u32,
    /// Threads for prompt processing.
    pub threads_batch: u32,
    /// Logical batch (tokens submitted per decode call).
    pub batch: u32,
    /// Physical micro-batch.
    pub ubatch: u32,
    /// The memory this plan needs.
    pub memory: MemoryEstimate,
    /// RAM the plan may use (available minus headroom).
    pub ram_budget_bytes: u64,
    /// Each choice, explained.
    pub reasons: Vec<Reason>,
}

impl LoadPlan {
    /// The same plan with half the context (and micro-batch), for a retry after a failed
    /// allocation. `None` when it cannot shrink further.
    pub fn smaller(&self) -> Option<LoadPlan> {
        if self.context <= MIN_CONTEXT && self.ubatch <= 128 && self.gpu_layers == 0 {
            return None;
        }
        let mut p = self.clone();
        p.context = (self.context / 2).max(MIN_CONTEXT);
        p.ubatch = (self.ubatch / 2).max(128);
        p.batch = p.batch.min(p.context).max(p.ubatch);
        // A quarter fewer GPU layers: VRAM is the usual culprit when a GPU plan fails.
        p.gpu_layers = self.gpu_layers - self.gpu_layers.div_ceil(4);
        p.reasons.push(Reason {
            topic: "retry",
            text: format!(
                "loading failed; retried with context {} (was {}), micro-batch {} (was {}), {} GPU layers (was {})",
                p.context, self.context, p.ubatch, self.ubatch, p.gpu_layers, self.gpu_layers
            ),
        });
        Some(p)
    }
}

/// Why no plan fits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Even the smallest context does not fit in memory.
    #[error("{model} won't fit: needs {needed}, {available} available")]
    DoesNotFit {
        /// Model name.
        model: String,
        /// Memory needed at the smallest context, formatted.
        needed: String,
        /// Memory available after headroom, formatted.
        available: String,
    },
    /// The header describes an impossible model.
    #[error("{0} has an invalid header (0 layers or heads)")]
    InvalidModel(String),
}

/// Formats bytes the way people read them ("3.9 GB", "512 MB").
pub fn human_bytes(b: u64) -> String {
    if b >= GIB {
        format!("{:.1} GB", b as f64 / GIB as f64)
    } else {
        format!("{} MB", b.div_ceil(MIB))
    }
}

/// Memory to leave for the OS and the user's other apps: 10% of RAM, within [512 MB, 2 GB].
pub fn ram_headroom(total: u64) -> u64 {
    (total / 10).clamp(512 * MIB, 2 * GIB)
}

/// RAM a model may use on this machine.
pub fn ram_budget(hw: &HardwareProfile) -> u64 {
    hw.available_ram_bytes.saturating_sub(ram_headroom(hw.total_ram_bytes))
}

/// The KV cache for `context` tokens (f16 keys and values).
pub fn kv_cache_bytes(m: &GgufInfo, context: u32) -> u64 {
    let per_token = u64::from(m.head_count_kv) * u64::from(m.key_length + m.value_length) * 2;
    u64::from(m.block_count) * u64::from(context) * per_token
}

/// Compute and output buffers llama.cpp *reserves* for a micro-batch of `ubatch` tokens.
///
/// It sizes the graph for the worst case: logits for every token (`vocab × ubatch` f32,
/// dominant for small models), activations (`embd × ubatch`, a few dozen live tensors) and,
/// for larger contexts, attention scores. On a GPU all of it is committed, so VRAM is
/// planned with this figure.
pub fn compute_reserved_bytes(m: &GgufInfo, context: u32, ubatch: u32) -> u64 {
    let ub = u64::from(ubatch);
    let logits = u64::from(m.vocab_size) * ub * 4;
    let activations = u64::from(m.embedding_length) * ub * 4 * 16;
    let scores = u64::from(m.head_count) * ub * u64::from(context.min(4096)) * 4 / 4;
    logits + activations + scores + u64::from(m.vocab_size) * 4
}

/// The part of the compute buffers that becomes *resident* in RAM.
///
/// The OS commits only the pages a process touches, and Frugal asks llama.cpp for the logits
/// of one token per batch, so the vocabulary-sized logits area stays untouched; what is
/// touched is about twelve `embd × ubatch` activation tensors plus one row of logits
/// (calibrated on SmolLM2-135M: 316 MiB measured vs 316 MiB planned at 8192 tokens).
pub fn compute_resident_bytes(m: &GgufInfo, ubatch: u32) -> u64 {
    u64::from(m.embedding_length) * u64::from(ubatch) * 4 * 12 + u64::from(m.vocab_size) * 4
}

/// Plans how to load `model` on `hw`.
pub fn plan(hw: &HardwareProfile, model: &GgufInfo, options: &PlanOptions) -> Result<LoadPlan, PlanError> {
    if model.block_count == 0 || model.head_count == 0 || model.embedding_length == 0 {
        return Err(PlanError::InvalidModel(model.name.clone()));
    }
    let mut reasons = Vec::new();

    let threads = match options.threads {
        Some(t) if t > 0 => {
            reasons.push(Reason { topic: "threads", text: format!("{t} threads, as configured") });
            t
        }
        _ => {
            let t = hw.physical_cores.max(1);
            reasons.push(Reason {
                topic: "threads",
                text: format!(
                    "{t} threads: one per physical core ({} logical); more threads than cores slows generation",
                    hw.logical_cores
                ),
            });
            t
        }
    };

    let ram_budget = ram_budget(hw);
    let headroom = ram_headroom(hw.total_ram_bytes);
    let gpu = hw.gpus.iter().max_by_key(|g| g.free_bytes);
    let vram_budget = gpu.map_or(0, |g| g.free_bytes.saturating_sub((g.total_bytes / 20).max(512 * MIB)));

    let wanted = match options.context {
        Some(c) if c > 0 => c,
        _ => DEFAULT_CONTEXT,
    };
    let mut context = wanted.min(model.context_length).max(1);
    if wanted > model.context_length {
        reasons.push(Reason {
            topic: "context",
            text: format!("asked for {wanted} tokens, but the model was trained for {}", model.context_length),
        });
    }
    let first_context = context;
    let ubatch = 512u32;
    let layers = model.block_count;
    let weights = model.tensor_bytes.max(1).min(model.file_size.max(model.tensor_bytes));

    loop {
        let kv = kv_cache_bytes(model, context);
        let compute = compute_reserved_bytes(model, context, ubatch);
        let compute_ram = compute_resident_bytes(model, ubatch);
        // A layer is its share of the weights plus its slice of the KV cache; the output
        // head (≈ one more layer) moves last.
        let per_layer_weights = weights / u64::from(layers + 1);
        let per_layer_kv = kv / u64::from(layers);
        let gpu_layers = match (options.gpu_layers, gpu) {
            (_, None) => 0,
            (Some(n), Some(_)) => n.min(layers + 1),
            (None, Some(_)) => {
                let usable = vram_budget.saturating_sub(compute);
                let fit = usable / (per_layer_weights + per_layer_kv).max(1);
                u32::try_from(fit).unwrap_or(u32::MAX).min(layers + 1)
            }
        };
        let on_gpu_blocks = u64::from(gpu_layers.min(layers));
        let weights_vram = if gpu_layers > layers { weights } else { per_layer_weights * on_gpu_blocks };
        let kv_vram = per_layer_kv * on_gpu_blocks;
        let compute_vram = if gpu_layers > 0 { compute } else { 0 };
        let memory = MemoryEstimate {
            weights_ram_bytes: weights - weights_vram,
            weights_vram_bytes: weights_vram,
            kv_ram_bytes: kv - kv_vram,
            kv_vram_bytes: kv_vram,
            compute_ram_bytes: compute_ram,
            compute_vram_bytes: compute_vram,
            overhead_bytes: RUNTIME_OVERHEAD_BYTES,
            total_ram_bytes: (weights - weights_vram) + (kv - kv_vram) + compute_ram + RUNTIME_OVERHEAD_BYTES,
            total_vram_bytes: weights_vram + kv_vram + compute_vram,
        };
        if memory.total_ram_bytes <= ram_budget {
            if context < first_context {
                reasons.push(Reason {
                    topic: "context",
                    text: format!(
                        "{context} tokens: shrunk from {first_context} so the KV cache fits in {} available",
                        human_bytes(ram_budget)
                    ),
                });
            } else if wanted <= model.context_length {
                let why =
                    if options.context.is_some() { "as configured" } else { "the default for summaries and drafts" };
                reasons.push(Reason {
                    topic: "context",
                    text: format!("{context} tokens, {why} (model trained for {})", model.context_length),
                });
            }
            reasons.push(Reason {
                topic: "gpu",
                text: match gpu {
                    None => "no GPU seen by llama.cpp: running on the CPU".to_string(),
                    Some(g) if gpu_layers > layers => format!(
                        "all {} layers on {} ({} of {} free)",
                        layers + 1,
                        g.description_or_name(),
                        human_bytes(memory.total_vram_bytes),
                        human_bytes(g.free_bytes)
                    ),
                    Some(g) if gpu_layers == 0 => format!(
                        "0 layers on {}: {} free is not enough for one layer",
                        g.description_or_name(),
                        human_bytes(g.free_bytes)
                    ),
                    Some(g) => format!(
                        "{gpu_layers} of {} layers on {} ({} free); the rest run on the CPU",
                        layers + 1,
                        g.description_or_name(),
                        human_bytes(g.free_bytes)
                    ),
                },
            });
            let batch = 2048u32.min(context).max(ubatch.min(context));
            reasons.push(Reason {
                topic: "batch",
                text: format!(
                    "batch {batch}, micro-batch {}: llama.cpp's defaults, fastest prompt processing",
                    ubatch.min(batch)
                ),
            });
            reasons.push(Reason {
                topic: "memory",
                text: format!(
                    "{} weights + {} KV cache + {} compute + {} runtime = {} of RAM; {} available after {} headroom{}",
                    human_bytes(memory.weights_ram_bytes),
                    human_bytes(memory.kv_ram_bytes),
                    human_bytes(memory.compute_ram_bytes),
                    human_bytes(RUNTIME_OVERHEAD_BYTES),
                    human_bytes(memory.total_ram_bytes),
                    human_bytes(ram_budget),
                    human_bytes(headroom),
                    if memory.total_vram_bytes > 0 {
                        format!("; {} on the GPU", human_bytes(memory.total_vram_bytes))
                    } else {
                        String::new()
                    }
                ),
            });
            return Ok(LoadPlan {
                gpu_layers,
                layers,
                context,
                threads,
                threads_batch: threads,
                batch,
                ubatch: ubatch.min(batch),
                memory,
                ram_budget_bytes: ram_budget,
                reasons,
            });
        }
        if context > MIN_CONTEXT {
            context = (context / 2).max(MIN_CONTEXT);
            continue;
        }
        return Err(PlanError::DoesNotFit {
            model: model.name.clone(),
            needed: human_bytes(memory.total_ram_bytes),
            available: human_bytes(ram_budget),
        });
    }
}

impl crate::hardware::GpuInfo {
    fn description_or_name(&self) -> &str {
        if self.description.is_empty() {
            &self.name
        } else {
            &self.description
        }
    }
}

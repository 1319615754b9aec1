//! The models service: the catalog, this machine, the load plan, and the engine's life — one
//! engine at a time, kept across settings changes that do not touch it — plus downloads and
//! choosing the model in use.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use frugal_local::{plan, read_gguf, EngineConfig, GgufInfo, HardwareProfile, LoadPlan, LocalEngine};
use serde::Serialize;

use crate::catalog::{Catalog, CatalogEntry};
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
        match &self.settings.get().model.catalog {
            Some(path) => Catalog::load(path),
            None => Catalog::builtin(),
        }
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

    /// Every catalog model with whether it fits here and why.
    pub fn catalog_fit(&self) -> Result<Vec<CatalogFit>> {
        let catalog = self.catalog()?;
        let hw = self.hardware();
        let ram = frugal_local::plan::ram_budget(hw);
        let vram = hw.gpus.iter().map(|g| g.free_bytes.saturating_sub(512 << 20)).max().unwrap_or(0);
        let available = ram + vram;
        let dir = self.models_dir();
        let in_use = self.model_path().ok().and_then(|p| p.canonicalize().ok());
        // The catalog's file in use from elsewhere (`[model] path`, the repo's `models/`) is
        // that model too: listed in use, not offered for download.
        let in_use_name = in_use.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
        let mut out: Vec<CatalogFit> = catalog
            .models
            .into_iter()
            .map(|entry| {
                let path = dir.join(&entry.file);
                let fits = entry.min_memory <= available;
                let where_ = if vram > 0 { "available in RAM + VRAM" } else { "available" };
                let reason = if fits {
                    format!("fits: needs {}, {} {where_}", human(entry.min_memory), human(available))
                } else {
                    format!(
                        "{} won't fit: needs {}, {} {where_}",
                        entry.display,
                        human(entry.min_memory),
                        human(available)
                    )
                };
                let by_name = in_use_name.as_deref() == Some(entry.file.as_str());
                CatalogFit {
                    installed: path.is_file() || by_name,
                    in_use: (in_use.is_some() && path.canonicalize().ok() == in_use) || by_name,
                    fits,
                    recommended: false,
                    reason,
                    entry,
                }
            })
            .collect();
        // Memory says what *can* run; speed says what is pleasant. CPU generation is bound by
        // memory bandwidth, roughly 0.75 GB of weights per physical core stays interactive.
        let responsive = if vram > 0 { vram } else { u64::from(hw.physical_cores) * (768 << 20) };
        let pick = out
            .iter()
            .enumerate()
            .filter(|(_, f)| f.fits && f.entry.min_memory <= responsive)
            .max_by_key(|(_, f)| f.entry.min_memory)
            .or_else(|| out.iter().enumerate().filter(|(_, f)| f.fits).min_by_key(|(_, f)| f.entry.min_memory))
            .map(|(i, _)| i);
        if let Some(best) = pick.and_then(|i| out.get_mut(i)) {
            best.recommended = true;
            best.reason.push_str(&if vram > 0 {
                "; recommended: the largest that fits in GPU memory".to_string()
            } else {
                format!("; recommended: the largest that stays responsive on {} CPU cores", hw.physical_cores)
            });
        }
        Ok(out)
    }

    /// Downloads a catalog model into the models folder.
    pub fn pull(&self, name: &str, on_progress: OnProgress<'_>) -> Result<PathBuf> {
        let catalog = self.catalog()?;
        let entry = catalog.get(name)?;
        download::pull(entry, &self.models_dir(), on_progress)
    }

    /// Makes a catalog model (by name, must be pulled) or a GGUF file (by path) the model in
    /// use, writing `[model] path` to the config file.
    pub fn use_model(&self, name_or_path: &str) -> Result<PathBuf> {
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
            path
        };
        read_gguf(&path)?;
        let chosen = path.clone();
        self.settings.update(|c| {
            c.model.path = Some(chosen);
            Ok(())
        })?;
        Ok(path)
    }
}

fn human(b: u64) -> String {
    frugal_local::human_bytes(b)
}

/// Where pulled models go: `[model] dir`, else the data folder's `models`.
pub(crate) fn models_dir(settings: &Settings) -> PathBuf {
    settings.get().model.dir.clone().unwrap_or_else(|| settings.paths().data_dir.join("models"))
}

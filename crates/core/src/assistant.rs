//! The facade the CLI and the tray app share.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use frugal_llm::{CancelToken, EventStream, Provider, Request};
use frugal_local::{plan, read_gguf, EngineConfig, GgufInfo, HardwareProfile, LoadPlan, LocalEngine};
use serde::Serialize;

use crate::catalog::{Catalog, CatalogEntry};
use crate::config::{self, Config, Paths};
use crate::download::{self, OnProgress};
use crate::input::InputText;
use crate::tasks::{draft, summarize, TaskError};
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

/// The assistant: config, model, engine. Cheap to create; the engine starts on first use.
pub struct Assistant {
    paths: Paths,
    config: Config,
    model_override: Option<PathBuf>,
    hardware: OnceLock<HardwareProfile>,
    engine: Mutex<Option<(Arc<LocalEngine>, LoadPlan)>>,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assistant").field("paths", &self.paths).finish_non_exhaustive()
    }
}

impl Assistant {
    /// Opens the config at `config_file` (or the XDG default). `model` overrides the
    /// configured model for this process only (the CLI's `--model`).
    pub fn open(config_file: Option<&Path>, model: Option<PathBuf>) -> Result<Self> {
        let paths = Paths::resolve(config_file)?;
        let config = config::load(&paths.config_file)?;
        Ok(Self { paths, config, model_override: model, hardware: OnceLock::new(), engine: Mutex::new(None) })
    }

    /// The resolved locations.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The loaded config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This machine, probed once.
    pub fn hardware(&self) -> &HardwareProfile {
        self.hardware.get_or_init(HardwareProfile::probe)
    }

    /// The catalog in effect.
    pub fn catalog(&self) -> Result<Catalog> {
        match &self.config.model.catalog {
            Some(path) => Catalog::load(path),
            None => Catalog::builtin(),
        }
    }

    /// Where pulled models go.
    pub fn models_dir(&self) -> PathBuf {
        self.config.model.dir.clone().unwrap_or_else(|| self.paths.data_dir.join("models"))
    }

    /// The model to run: `--model`, then `[model] path`, then the default model if pulled.
    pub fn model_path(&self) -> Result<PathBuf> {
        if let Some(p) = self.model_override.as_ref().or(self.config.model.path.as_ref()) {
            return Ok(p.clone());
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
        let plan = plan(self.hardware(), &info, &self.config.plan_options())?;
        Ok((info, plan))
    }

    /// The local engine, started on first call (the model itself loads on first request).
    pub fn engine(&self) -> Result<Arc<LocalEngine>> {
        Ok(self.engine_and_plan()?.0)
    }

    /// The engine and the plan it runs with (planned once per process).
    fn engine_and_plan(&self) -> Result<(Arc<LocalEngine>, LoadPlan)> {
        // The slot only ever holds a finished value, so a poisoned lock is still consistent.
        let mut slot = self.engine.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let (info, plan) = self.plan()?;
        let engine = Arc::new(LocalEngine::start(EngineConfig {
            model_path: info.path,
            plan: plan.clone(),
            idle_unload: self.config.idle_unload(),
        })?);
        *slot = Some((engine.clone(), plan.clone()));
        Ok((engine, plan))
    }

    /// Summarizes a meeting transcript on the local model, splitting it to fit the planned
    /// context. `on_progress` sees chunks done; `on_event` sees the model's raw stream.
    pub fn summarize(
        &self,
        input: &InputText,
        cancel: &CancelToken,
        on_progress: &mut dyn FnMut(summarize::Progress),
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<summarize::SummaryReport> {
        let transcript = crate::transcript::parse(&input.text, input.extension.as_deref());
        if transcript.turns.is_empty() {
            return Err(CoreError::Input("the transcript has no text once timestamps and markup are removed".into()));
        }
        let (engine, plan) = self.engine_and_plan()?;
        let mut count = |s: &str| engine.count_tokens(s).map_err(TaskError::from);
        let mut report = summarize::summarize(
            engine.as_ref(),
            &transcript,
            plan.context,
            &mut count,
            cancel,
            on_progress,
            on_event,
        )?;
        report.notes.splice(0..0, input.warnings.iter().cloned());
        Ok(report)
    }

    /// Drafts an email (or a reply) on the local model. `on_event` sees the stream, for live
    /// display (pass the text through [`draft::ChatterFilter`]).
    pub fn draft(
        &self,
        task: &draft::DraftTask,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<(draft::Draft, crate::tasks::Quality)> {
        let engine = self.engine()?;
        let ((draft, _), quality) = crate::tasks::run(engine.as_ref(), task, cancel, on_event)?;
        Ok((draft, quality))
    }

    /// Runs a chat request. Today always local; the router decides here once cloud
    /// providers exist.
    pub fn chat(&self, request: Request, cancel: CancelToken) -> EventStream {
        match self.engine() {
            Ok(engine) => engine.stream(request, cancel),
            Err(CoreError::Provider(e)) => EventStream::failed(e),
            Err(e) => EventStream::failed(frugal_llm::ProviderError::new(
                frugal_llm::ErrorKind::ModelUnavailable,
                e.to_string(),
            )),
        }
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
                CatalogFit {
                    installed: path.is_file(),
                    in_use: in_use.is_some() && path.canonicalize().ok() == in_use,
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
    pub fn use_model(&mut self, name_or_path: &str) -> Result<PathBuf> {
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
        self.config.model.path = Some(path.clone());
        config::save(&self.paths.config_file, &self.config)?;
        Ok(path)
    }
}

fn human(b: u64) -> String {
    frugal_local::human_bytes(b)
}

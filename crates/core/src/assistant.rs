//! The facade the CLI and the tray app share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use frugal_cloud::CloudClient;
use frugal_ledger::{Ledger, PriceTable};

use frugal_index::{Folder, Hit, Index, SearchQuery, Status, UpdateReport};

use std::cell::RefCell;

use frugal_llm::{CancelToken, Event, EventStream, Provider, Request};
use frugal_local::{plan, read_gguf, EngineConfig, GgufInfo, HardwareProfile, LoadPlan, LocalEngine};
use serde::Serialize;

use crate::catalog::{Catalog, CatalogEntry};
use crate::config::Escalate;
use crate::config::{self, Config, FolderEntry, Paths};
use crate::download::{self, OnProgress};
use crate::grounding::{self, Grounding};
use crate::input::InputText;
use crate::router::{Job, Metered, RouteOptions, RouteReport, Routed};
use crate::tasks::{ask, draft, summarize, TaskError};
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
    index: Mutex<Option<Arc<Index>>>,
    index_notice: Mutex<Option<String>>,
    ledger: Mutex<Option<Arc<Ledger>>>,
    ledger_notice: Mutex<Option<String>>,
    prices: OnceLock<PriceTable>,
    pub(crate) clients: Mutex<HashMap<String, Arc<CloudClient>>>,
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
        Ok(Self {
            paths,
            config,
            model_override: model,
            hardware: OnceLock::new(),
            engine: Mutex::new(None),
            index: Mutex::new(None),
            index_notice: Mutex::new(None),
            ledger: Mutex::new(None),
            ledger_notice: Mutex::new(None),
            prices: OnceLock::new(),
            clients: Mutex::new(HashMap::new()),
        })
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

    /// Summarizes a meeting transcript, locally first (split to fit the planned context),
    /// escalating as [`RouteOptions`] and `[policy.summarize]` allow. `on_progress` sees
    /// chunks done; `on_event` sees the raw stream of whichever model answers.
    pub fn summarize(
        &self,
        input: &InputText,
        opts: &RouteOptions,
        cancel: &CancelToken,
        on_progress: &mut dyn FnMut(summarize::Progress),
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<Routed<summarize::SummaryReport>> {
        let transcript = crate::transcript::parse(&input.text, input.extension.as_deref());
        if transcript.turns.is_empty() {
            return Err(CoreError::Input("the transcript has no text once timestamps and markup are removed".into()));
        }
        let private = self.private_reason(opts, input.path.as_deref(), false);
        // Both closures report through the same callbacks; they never run at the same time.
        let on_progress = RefCell::new(on_progress);
        let on_event = RefCell::new(on_event);
        let run =
            |p: &dyn Provider, context: u32, count: &mut dyn FnMut(&str) -> std::result::Result<usize, TaskError>| {
                let report = summarize::summarize(
                    p,
                    &transcript,
                    context,
                    count,
                    cancel,
                    &mut **on_progress.borrow_mut(),
                    &mut **on_event.borrow_mut(),
                )?;
                let quality = report.quality.clone();
                Ok((report, quality))
            };
        let routed = self.route(
            opts,
            Job {
                task: "summarize",
                policy: self.config.policy.summarize,
                private,
                local: &mut |p| {
                    let (engine, plan) = self.engine_and_plan()?;
                    run(p, plan.context, &mut |s| engine.count_tokens(s).map_err(TaskError::from))
                },
                cloud: &mut |p, entry| {
                    on_event.borrow_mut()(&Event::Status(format!("asking {} ({})", entry.name, entry.model)));
                    run(p, entry.context(), &mut |s| Ok(s.len().div_ceil(3)))
                },
            },
        )?;
        let Routed::Done(mut report, route) = routed else { return Ok(routed) };
        report.notes.splice(0..0, input.warnings.iter().cloned());
        // Linking to project notes is a help: a missing or broken index only costs a note.
        match self.related_notes(&report.summary, input.path.as_deref()) {
            Ok(hits) => {
                report.related = hits
                    .into_iter()
                    .map(|h| summarize::RelatedNote { path: h.path, line: h.line_start, title: h.title })
                    .collect()
            }
            Err(e) => report.notes.push(format!("related notes skipped: {e}")),
        }
        Ok(Routed::Done(report, route))
    }

    /// Drafts an email (or a reply to the email in `source`), locally first. `on_event` sees
    /// the stream, for live display (pass the text through [`draft::ChatterFilter`]).
    pub fn draft(
        &self,
        task: &draft::DraftTask,
        source: Option<&Path>,
        opts: &RouteOptions,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<Routed<(draft::Draft, crate::tasks::Quality)>> {
        let private = self.private_reason(opts, source, self.grounding_is_private(&task.related));
        let routed = self.route_task("draft", self.config.policy.draft, private, task, opts, cancel, on_event)?;
        Ok(match routed {
            Routed::Done(((draft, _), quality), route) => Routed::Done((draft, quality), route),
            Routed::DryRun(d) => Routed::DryRun(d),
        })
    }

    /// Routes one [`crate::tasks::Task`] (run with [`crate::tasks::run`]) locally or in the
    /// cloud, saying on `on_event` when it goes out.
    #[allow(clippy::too_many_arguments)]
    fn route_task<T: crate::tasks::Task>(
        &self,
        name: &'static str,
        policy: crate::config::TaskPolicy,
        private: Option<String>,
        task: &T,
        opts: &RouteOptions,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<Routed<(T::Output, crate::tasks::Quality)>> {
        let on_event = RefCell::new(on_event);
        let run = |p: &dyn Provider| {
            let (output, quality) = crate::tasks::run(p, task, cancel, &mut **on_event.borrow_mut())?;
            Ok(((output, quality.clone()), quality))
        };
        self.route(
            opts,
            Job {
                task: name,
                policy,
                private,
                local: &mut |p| run(p),
                cloud: &mut |p, entry| {
                    on_event.borrow_mut()(&Event::Status(format!("asking {} ({})", entry.name, entry.model)));
                    run(p)
                },
            },
        )
    }

    /// Starts a chat answer: on the local model, or on the economy cloud model when asked
    /// (`--cloud`, `[policy.chat] escalate = "always"`), when no local model is installed, or
    /// when the conversation does not fit the local context. Chat has no checks to fail, so
    /// it never escalates after answering. The returned meter counts what the answer cost.
    pub fn chat(
        &self,
        request: Request,
        source: Option<&Path>,
        opts: &RouteOptions,
        cancel: CancelToken,
    ) -> Result<Routed<(EventStream, Arc<Metered>)>> {
        let policy = self.config.policy.chat;
        let private = self.private_reason(opts, source, false);
        let mut escalate = crate::router::cloud_first(opts, &policy, private.as_deref())?;
        let allowed = !opts.local_only && policy.escalate != Escalate::Never && private.is_none();
        let run_id = crate::router::new_run_id();
        if escalate.is_none() {
            match self.engine_and_plan() {
                Ok((engine, plan)) => {
                    let text: String =
                        request.messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n");
                    let needed = engine.count_tokens(&text).unwrap_or(0) + request.messages.len() * 8;
                    if allowed && needed + request.max_tokens as usize > plan.context as usize {
                        escalate = Some(format!(
                            "the conversation ({needed} tokens) does not fit the local context ({})",
                            plan.context
                        ));
                    } else {
                        let meter = Arc::new(self.metered_local("chat", &run_id)?);
                        let report = RouteReport {
                            route: "local",
                            provider: "local".into(),
                            model: meter.model().to_string(),
                            run_id,
                            ..RouteReport::default()
                        };
                        return Ok(Routed::Done((meter.stream(request, cancel), meter), report));
                    }
                }
                Err(e) if allowed && !self.config.providers.is_empty() => {
                    escalate = Some(format!("no local model ({e})"));
                }
                Err(e) => return Err(e),
            }
        }
        let reason = escalate.unwrap_or_default();
        let Some(entry) = crate::router::tiers(&policy).into_iter().find_map(|t| self.config.provider_for(t)).cloned()
        else {
            return Err(CoreError::Route(format!(
                "{reason}, but no cloud provider is configured at a tier [policy.chat] allows"
            )));
        };
        let (client, price) = self.cloud_client(&entry)?;
        let meter = self.metered_cloud(client, "chat", &run_id, &entry, price, reason.clone())?;
        if opts.dry_run {
            return Ok(Routed::DryRun(Box::new(meter.dry_run_of(&request))));
        }
        let meter = Arc::new(meter);
        let report = RouteReport {
            route: "cloud",
            provider: entry.name.clone(),
            model: entry.model.clone(),
            tier: Some(entry.tier),
            escalated: Some(reason),
            run_id,
            ..RouteReport::default()
        };
        Ok(Routed::Done((meter.stream(request, cancel), meter), report))
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

impl Assistant {
    /// Where the index lives.
    pub fn index_dir(&self) -> PathBuf {
        self.config.index.dir.clone().unwrap_or_else(|| self.paths.data_dir.join("index"))
    }

    /// The indexed folders, from the config.
    pub fn folders(&self) -> Vec<Folder> {
        self.config.index.folders.iter().map(|f| Folder { path: f.path.clone(), local_only: f.local_only }).collect()
    }

    /// The index, opened on first use. If it had to be rebuilt (corrupt, or from another
    /// version), [`Assistant::take_index_notice`] says so once.
    pub fn index(&self) -> Result<Arc<Index>> {
        let mut slot = self.index.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = slot.as_ref() {
            return Ok(i.clone());
        }
        let mut settings = frugal_index::Settings::default();
        if let Some(mb) = self.config.index.max_file_mb {
            settings.max_file_bytes = mb.saturating_mul(1024 * 1024);
        }
        if let Some(t) = self.config.index.threads {
            settings.threads = t.max(1);
        }
        let (index, notice) = Index::open(&self.index_dir(), settings)?;
        if notice.is_some() {
            *self.index_notice.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = notice;
        }
        let index = Arc::new(index);
        *slot = Some(index.clone());
        Ok(index)
    }

    /// A message about the index having been rebuilt, once.
    pub fn take_index_notice(&self) -> Option<String> {
        self.index_notice.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// Adds a folder (or changes its local-only mark), saves the config and indexes it now.
    pub fn index_add(
        &mut self,
        dir: &Path,
        local_only: bool,
        progress: &mut (dyn FnMut(&frugal_index::Progress) + Send),
    ) -> Result<UpdateReport> {
        let path = dir.canonicalize().map_err(CoreError::io("cannot open folder", dir))?;
        if !path.is_dir() {
            return Err(CoreError::Input(format!("{} is not a folder", path.display())));
        }
        if let Some(outer) = self.config.index.folders.iter().find(|f| path.starts_with(&f.path) && f.path != path) {
            return Err(CoreError::Input(format!(
                "{} is already indexed as part of {}",
                path.display(),
                outer.path.display()
            )));
        }
        let index = self.index()?;
        // A parent replaces the folders inside it.
        let inner: Vec<PathBuf> = self
            .config
            .index
            .folders
            .iter()
            .filter(|f| f.path.starts_with(&path) && f.path != path)
            .map(|f| f.path.clone())
            .collect();
        let changed_mark = self.config.index.folders.iter().any(|f| f.path == path && f.local_only != local_only);
        if changed_mark {
            // The mark is stored with every passage: re-read the folder so it travels.
            index.remove_folder(&path)?;
        }
        // Recorded before the first file is read, so an add that is killed part-way resumes
        // with the next update; an add that *fails* takes the folder out again, so it is not
        // listed with nothing in it.
        let before = self.config.index.folders.clone();
        self.config.index.folders.retain(|f| f.path != path);
        self.config.index.folders.push(FolderEntry { path: path.clone(), local_only });
        config::save(&self.paths.config_file, &self.config)?;
        let folder = Folder { path: path.clone(), local_only };
        let report = match index.update(std::slice::from_ref(&folder), progress) {
            Ok(r) => r,
            Err(e) => {
                self.config.index.folders = before;
                config::save(&self.paths.config_file, &self.config)?;
                if !self.config.index.folders.iter().any(|f| f.path == path) {
                    // Best effort: what was committed before the failure goes too.
                    let _ = index.remove_folder(&path);
                }
                return Err(e.into());
            }
        };
        for p in &inner {
            index.remove_folder(p)?;
        }
        self.config.index.folders.retain(|f| !inner.contains(&f.path));
        config::save(&self.paths.config_file, &self.config)?;
        Ok(report)
    }

    /// Reads the indexed folders from the config file again (another process, the CLI or
    /// the tray app, may have added or removed one); true when they changed, so a running
    /// watcher must follow. Only the folders: the rest of this process's settings stay.
    pub fn reload_folders(&mut self) -> Result<bool> {
        let fresh = config::load(&self.paths.config_file)?;
        let changed = fresh.index.folders != self.config.index.folders;
        self.config.index.folders = fresh.index.folders;
        Ok(changed)
    }

    /// Stops indexing a folder and drops its passages.
    pub fn index_remove(&mut self, dir: &Path) -> Result<u64> {
        let path = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let before = self.config.index.folders.len();
        self.config.index.folders.retain(|f| f.path != path && f.path != dir);
        if self.config.index.folders.len() == before {
            return Err(CoreError::Input(format!(
                "{} is not an indexed folder (see `frugal index status`)",
                dir.display()
            )));
        }
        config::save(&self.paths.config_file, &self.config)?;
        let index = self.index()?;
        let mut removed = index.remove_folder(&path)?;
        if path != dir {
            removed += index.remove_folder(dir)?;
        }
        Ok(removed)
    }

    /// Re-reads what changed in every folder.
    pub fn index_update(&self, progress: &mut (dyn FnMut(&frugal_index::Progress) + Send)) -> Result<UpdateReport> {
        Ok(self.index()?.update(&self.folders(), progress)?)
    }

    /// Files, passages and skipped files.
    pub fn index_status(&self) -> Result<Status> {
        Ok(self.index()?.status(&self.folders())?)
    }

    /// Ranked passages.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>> {
        Ok(self.index()?.search(query)?)
    }

    /// Watches every folder; `on_event` hears about each batch of changes.
    pub fn watch(
        &self,
        on_event: impl FnMut(frugal_index::WatchEvent) + Send + 'static,
    ) -> Result<frugal_index::Watcher> {
        Ok(frugal_index::watch(self.index()?, self.folders(), on_event)?)
    }

    /// Passages for grounding a task: none when nothing is indexed or the text is not a
    /// usable query (grounding helps, it is not required), never from `exclude` (the task's
    /// own input file).
    fn passages_for(&self, mut q: SearchQuery, exclude: Option<&Path>) -> Result<Vec<Hit>> {
        if self.config.index.folders.is_empty() || q.text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let wanted = q.limit;
        let exclude = exclude.and_then(|p| p.canonicalize().ok());
        q.limit += usize::from(exclude.is_some());
        match self.search(&q) {
            Ok(hits) => Ok(hits.into_iter().filter(|h| Some(&h.path) != exclude.as_ref()).take(wanted).collect()),
            Err(CoreError::Index(frugal_index::IndexError::Query(_))) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Sources for a prompt: the best passages for `query`, pruned to `budget` tokens
    /// (counted by the model's own tokenizer), leaving out passages from `exclude`.
    pub fn ground(&self, query: &str, budget: usize, exclude: Option<&Path>) -> Result<Grounding> {
        let mut q = SearchQuery::new(query);
        q.limit = 8;
        let hits = self.passages_for(q, exclude)?;
        if hits.is_empty() {
            return Ok(Grounding::default());
        }
        // The local tokenizer counts best; without a local model (cloud-only use), 4 chars a token.
        let engine = self.engine().ok();
        let mut count = |s: &str| engine.as_ref().and_then(|e| e.count_tokens(s).ok()).unwrap_or(s.len().div_ceil(4));
        Ok(grounding::prune(&hits, budget, &mut count))
    }

    /// Related passages for a reply: the thread and documents the email is about, in at most
    /// 600 tokens, leaving out the email's own file.
    pub fn draft_context(&self, email: &crate::email::Email, file: Option<&Path>) -> Result<Grounding> {
        let mut query = email.subject.clone().unwrap_or_default().replace("Re:", " ").replace("RE:", " ");
        query.push(' ');
        query.extend(email.body.chars().take(400));
        self.ground(&query, 600, file)
    }

    /// Notes in the index that a meeting summary relates to: found with the summary's text
    /// and decisions, no model call.
    pub fn related_notes(&self, summary: &summarize::MeetingSummary, exclude: Option<&Path>) -> Result<Vec<Hit>> {
        let text = format!("{} {}", summary.summary, summary.decisions.join(" "));
        let mut q = SearchQuery::new(text.chars().take(600).collect::<String>());
        q.limit = 3;
        q.per_file = 1;
        self.passages_for(q, exclude)
    }

    /// Answers a question from the indexed files, with citations, or says it is not there.
    /// A question whose sources include a local-only folder is never escalated.
    pub fn ask(
        &self,
        question: &str,
        opts: &RouteOptions,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<Routed<ask::AskReport>> {
        if self.config.index.folders.is_empty() {
            return Err(CoreError::Input("no folders are indexed yet: run `frugal index add DIR` first".into()));
        }
        let context = self.engine_and_plan().map_or(4096, |(_, plan)| plan.context);
        let budget = ask::SOURCE_BUDGET.min(context as usize / 2);
        let grounding = self.ground(question, budget, None)?;
        let mut report = ask::AskReport {
            question: question.to_string(),
            found: false,
            answer: None,
            cited: Vec::new(),
            sources: grounding.sources.clone(),
            rejected: None,
            quality: crate::tasks::Quality::default(),
            local_only: grounding.local_only(),
        };
        if grounding.sources.is_empty() {
            // Nothing to read: no model, local or cloud, can answer from the user's files.
            report.quality = crate::tasks::Quality::from_checks(
                vec![crate::tasks::Check {
                    name: "found",
                    passed: false,
                    detail: "no passage matches the question".into(),
                }],
                false,
            );
            let route = RouteReport { route: "local", provider: "local".into(), ..RouteReport::default() };
            return Ok(Routed::Done(report, route));
        }
        let private = self.private_reason(opts, None, self.grounding_is_private(&grounding));
        let task = ask::AskTask { question: question.to_string(), grounding };
        let routed = self.route_task("ask", self.config.policy.ask, private, &task, opts, cancel, on_event)?;
        let ((answer, quality), route) = match routed {
            Routed::Done(done, route) => (done, route),
            Routed::DryRun(d) => return Ok(Routed::DryRun(d)),
        };
        if quality.passed {
            report.found = true;
            report.cited = task.grounding.sources.iter().filter(|s| answer.cited.contains(&s.n)).cloned().collect();
            report.answer = Some(answer.text);
        } else if !answer.not_found {
            report.rejected = Some(answer.text);
        }
        report.quality = quality;
        Ok(Routed::Done(report, route))
    }

    /// Why this request must not leave the machine, if it must not: `--private`, a source
    /// file inside a local-only folder, or grounding that holds local-only passages.
    fn private_reason(&self, opts: &RouteOptions, source: Option<&Path>, local_only_passages: bool) -> Option<String> {
        if opts.private {
            return Some("the input is marked private (--private)".into());
        }
        if let Some(folder) = source.and_then(|p| self.local_only_folder(p)) {
            return Some(format!("the file is in a local-only folder ({})", folder.display()));
        }
        local_only_passages.then(|| "it holds passages from a local-only folder".to_string())
    }

    /// The configured local-only folder holding `path`, if any. The config is the authority:
    /// a folder marked local-only after it was indexed counts at once.
    fn local_only_folder(&self, path: &Path) -> Option<&Path> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.config.index.folders.iter().find(|f| f.local_only && path.starts_with(&f.path)).map(|f| f.path.as_path())
    }

    /// Whether any source is local-only, by its own mark or by the config's folders now.
    fn grounding_is_private(&self, g: &Grounding) -> bool {
        g.local_only() || g.sources.iter().any(|s| self.local_only_folder(&s.path).is_some())
    }

    /// Where the spend ledger lives.
    pub fn ledger_path(&self) -> PathBuf {
        match &self.config.ledger {
            // Relative to the config file, so one config means one ledger (and one cap),
            // whichever folder the command runs in.
            Some(p) if p.is_relative() => self.paths.config_file.parent().map_or_else(|| p.clone(), |dir| dir.join(p)),
            Some(p) => p.clone(),
            None => self.paths.data_dir.join("ledger.sqlite3"),
        }
    }

    /// The spend ledger, opened on first use (which settles reservations a crashed process
    /// left behind: [`Assistant::take_ledger_notice`] says so once).
    pub fn ledger(&self) -> Result<Arc<Ledger>> {
        let mut slot = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = slot.as_ref() {
            return Ok(l.clone());
        }
        let (ledger, notice) = Ledger::open(self.ledger_path())?;
        if notice.is_some() {
            *self.ledger_notice.lock().unwrap_or_else(PoisonError::into_inner) = notice;
        }
        let ledger = Arc::new(ledger);
        *slot = Some(ledger.clone());
        Ok(ledger)
    }

    /// The ledger for local rows: if the real one cannot be opened (locked, corrupt, from a
    /// newer version), local work still runs, recorded in memory only, and the notice says so.
    /// Cloud requests never take this path: without the ledger nothing is sent.
    pub(crate) fn ledger_for_local(&self) -> Result<Arc<Ledger>> {
        self.ledger().or_else(|e| {
            *self.ledger_notice.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(format!("local work is not recorded in the spend ledger: {e}"));
            Ok(Arc::new(Ledger::in_memory()?))
        })
    }

    /// A message about interrupted requests settled at their worst case, once.
    pub fn take_ledger_notice(&self) -> Option<String> {
        self.ledger_notice.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Prices: `models/prices.toml` with the config's `[[prices]]` on top.
    pub fn prices(&self) -> Result<&PriceTable> {
        if let Some(p) = self.prices.get() {
            return Ok(p);
        }
        let mut table = PriceTable::builtin()?;
        for o in &self.config.prices {
            let m = frugal_ledger::micros_from_usd;
            let price = frugal_ledger::Price {
                input: m(o.input)?,
                cached_input: m(o.cached_input.unwrap_or(o.input))?,
                cache_write: m(o.cache_write.unwrap_or(o.input))?,
                output: m(o.output)?,
            };
            table.with_override(&o.model, o.vendor.as_deref(), price);
        }
        Ok(self.prices.get_or_init(|| table))
    }

    /// Sets the monthly cap and saves the config.
    pub fn set_budget(&mut self, monthly_usd: f64) -> Result<()> {
        frugal_ledger::micros_from_usd(monthly_usd)?;
        self.config.budget.monthly_usd = Some(monthly_usd);
        config::save(&self.paths.config_file, &self.config)
    }

    /// Sets (or clears) the folder whose new transcripts the tray app summarizes.
    pub fn set_meetings_folder(&mut self, dir: Option<&Path>) -> Result<()> {
        self.config.app.meetings_folder = match dir {
            Some(d) => {
                let d = d.canonicalize().map_err(CoreError::io("cannot open folder", d))?;
                if !d.is_dir() {
                    return Err(CoreError::Input(format!("{} is not a folder", d.display())));
                }
                Some(d)
            }
            None => None,
        };
        config::save(&self.paths.config_file, &self.config)
    }

    /// Sets (or, with `None`, clears) the daily and per-request caps and saves the config.
    pub fn set_caps(&mut self, daily_usd: Option<f64>, per_request_usd: Option<f64>) -> Result<()> {
        for v in [daily_usd, per_request_usd].into_iter().flatten() {
            frugal_ledger::micros_from_usd(v)?;
        }
        self.config.budget.daily_usd = daily_usd;
        self.config.budget.per_request_usd = per_request_usd;
        config::save(&self.paths.config_file, &self.config)
    }

    /// Sets how one task escalates (`summarize`, `draft`, `ask`, `chat`) and saves the config.
    pub fn set_policy(&mut self, task: &str, policy: crate::config::TaskPolicy) -> Result<()> {
        let p = &mut self.config.policy;
        let slot = match task {
            "summarize" => &mut p.summarize,
            "draft" => &mut p.draft,
            "ask" => &mut p.ask,
            "chat" => &mut p.chat,
            other => return Err(CoreError::Input(format!("no task `{other}`: summarize, draft, ask or chat"))),
        };
        *slot = policy;
        config::save(&self.paths.config_file, &self.config)
    }

    /// Adds a cloud provider, with the price of its model when the user gives one (a model
    /// without a known price is never called), and saves the config. The same checks as a
    /// hand-edited config file, so the app cannot write a file the CLI then refuses.
    pub fn add_provider(&mut self, entry: config::ProviderEntry, price: Option<(f64, f64)>) -> Result<()> {
        let name = entry.name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(CoreError::Input(
                "a provider's name is letters, digits, `-` or `_` (it names its keychain entry)".into(),
            ));
        }
        if self.config.provider(name).is_some() {
            return Err(CoreError::Input(format!("a provider named `{name}` already exists")));
        }
        let url = entry.base_url.trim().trim_end_matches('/');
        let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or("");
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(CoreError::Input(format!(
                "`{url}` is not an http(s) address such as https://api.openai.com/v1"
            )));
        }
        if entry.model.trim().is_empty() {
            return Err(CoreError::Input("the provider needs a model id".into()));
        }
        if let Some((input, output)) = price {
            frugal_ledger::micros_from_usd(input)?;
            frugal_ledger::micros_from_usd(output)?;
            self.config.prices.push(config::PriceOverride {
                model: entry.model.trim().to_string(),
                vendor: Some(name.to_string()),
                input,
                cached_input: None,
                cache_write: None,
                output,
            });
        }
        let entry = config::ProviderEntry {
            name: name.to_string(),
            base_url: url.to_string(),
            model: entry.model.trim().to_string(),
            ..entry
        };
        self.config.providers.push(entry);
        self.prices = OnceLock::new();
        config::save(&self.paths.config_file, &self.config)
    }

    /// Removes a provider and the prices given for it alone, and saves the config. Its key
    /// stays in the keychain until removed there (`frugal keys remove NAME`).
    pub fn remove_provider(&mut self, name: &str) -> Result<()> {
        let Some(found) = self.config.provider(name).map(|p| p.name.clone()) else {
            return Err(CoreError::Input(format!("no provider named `{name}`")));
        };
        self.config.providers.retain(|p| p.name != found);
        self.config.prices.retain(|p| p.vendor.as_deref() != Some(found.as_str()));
        if self.config.budget.reference.as_deref() == Some(found.as_str()) {
            self.config.budget.reference = None;
        }
        self.prices = OnceLock::new();
        config::save(&self.paths.config_file, &self.config)
    }

    /// Sets (or, with `None`, resets to the default) the tray app's draft hotkey and saves the
    /// config; the app checks the shortcut's syntax and that it can be registered first.
    pub fn set_hotkey(&mut self, hotkey: Option<&str>) -> Result<()> {
        self.config.app.hotkey = hotkey.map(str::trim).filter(|h| !h.is_empty()).map(String::from);
        config::save(&self.paths.config_file, &self.config)
    }

    /// The month's spend report.
    pub fn spend(&self, month: frugal_ledger::Month) -> Result<frugal_ledger::MonthReport> {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        Ok(self.ledger()?.report(month, &self.limits()?, now)?)
    }

    /// Puts the ledger's backup back in place of a damaged, emptied or deleted ledger (what
    /// was there is moved aside). Returns when the backup was taken.
    pub fn restore_ledger(&self) -> Result<String> {
        self.release_ledger()?;
        Ok(frugal_ledger::restore(&self.ledger_path())?)
    }

    /// Starts a new, empty ledger after the user confirmed it: the old file and its backup
    /// are moved aside, not deleted. Returns where they went.
    pub fn reset_ledger(&self) -> Result<Vec<PathBuf>> {
        self.release_ledger()?;
        Ok(frugal_ledger::reset(&self.ledger_path())?)
    }

    /// Closes this process's handle on the ledger before its file is replaced.
    fn release_ledger(&self) -> Result<()> {
        let held = self.ledger.lock().unwrap_or_else(PoisonError::into_inner).take();
        if held.is_some_and(|l| Arc::strong_count(&l) > 1) {
            return Err(CoreError::Input("the spend ledger is in use by a running request; try again".into()));
        }
        Ok(())
    }

    /// Every ledger row of a month (for CSV export).
    pub fn spend_rows(&self, month: frugal_ledger::Month) -> Result<Vec<frugal_ledger::Row>> {
        Ok(self.ledger()?.rows(month)?)
    }
}

fn human(b: u64) -> String {
    frugal_local::human_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grounding without a model: the index behind the facade, on real files.
    #[test]
    fn a_meeting_links_to_the_notes_it_mentions_and_not_to_itself() {
        let tmp = tempfile::tempdir().unwrap();
        let notes = tmp.path().join("notes");
        std::fs::create_dir_all(&notes).unwrap();
        std::fs::write(notes.join("offsite.md"), "# Offsite\n\nThe lake house is booked; catering by Green Fork.")
            .unwrap();
        std::fs::write(notes.join("unrelated.md"), "# Laptops\n\nRefresh every three years.").unwrap();
        std::fs::write(
            notes.join("call.vtt"),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Ana>The lake house offsite catering is settled.\n",
        )
        .unwrap();
        let config = tmp.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[index]\ndir = {:?}\n\n[[index.folders]]\npath = {:?}\nlocal_only = true\n",
                tmp.path().join("index"),
                notes.canonicalize().unwrap()
            ),
        )
        .unwrap();
        let assistant = Assistant::open(Some(&config), None).unwrap();
        assistant.index_update(&mut |_| {}).unwrap();
        let summary = summarize::MeetingSummary {
            summary: "The team confirmed the lake house offsite and its catering.".into(),
            ..Default::default()
        };
        let related = assistant.related_notes(&summary, Some(&notes.join("call.vtt"))).unwrap();
        let names: Vec<_> = related.iter().map(|h| h.path.file_name().unwrap().to_string_lossy().to_string()).collect();
        assert_eq!(names, vec!["offsite.md"]);
        assert!(related[0].local_only, "the local-only mark must travel with the passage");
    }

    /// Providers added from the app: checked like a config file, priced when the user gives
    /// a price, saved so the CLI reads the same file back, and removed with their prices.
    #[test]
    fn providers_are_added_priced_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config.toml");
        std::fs::write(&config, format!("ledger = {:?}\n", tmp.path().join("ledger.sqlite3"))).unwrap();
        let mut a = Assistant::open(Some(&config), None).unwrap();
        let entry = |name: &str, url: &str, model: &str| config::ProviderEntry {
            name: name.into(),
            kind: frugal_cloud::Kind::OpenAi,
            base_url: url.into(),
            model: model.into(),
            tier: config::Tier::Economy,
            context: None,
            needs_key: true,
            timeout_secs: None,
            idle_secs: None,
            max_retries: None,
        };
        for (bad, why) in [
            (entry("my key", "https://x.test/v1", "m"), "name"),
            (entry("ok", "ftp://x.test", "m"), "http(s)"),
            (entry("ok", "https://x.test/v1", " "), "model id"),
        ] {
            let e = a.add_provider(bad, None).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        assert!(a.add_provider(entry("ok", "https://x.test/v1", "m"), Some((f64::NAN, 1.0))).is_err());
        assert!(a.config().providers.is_empty(), "a refused provider must not be half added");

        a.add_provider(entry("house", "http://127.0.0.1:8080/v1/", "house-model"), Some((0.5, 1.5))).unwrap();
        let e = a.add_provider(entry("HOUSE", "https://x.test/v1", "m"), None).unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
        let reread = Assistant::open(Some(&config), None).unwrap();
        let p = reread.config().provider("house").unwrap().clone();
        assert_eq!(p.base_url, "http://127.0.0.1:8080/v1");
        let price = reread.price_of(&p).unwrap();
        assert_eq!((price.input, price.output), (500_000, 1_500_000));

        a.set_hotkey(Some(" Ctrl+Alt+D ")).unwrap();
        a.remove_provider("House").unwrap();
        let reread = Assistant::open(Some(&config), None).unwrap();
        assert!(reread.config().providers.is_empty() && reread.config().prices.is_empty());
        assert_eq!(reread.config().app.hotkey.as_deref(), Some("Ctrl+Alt+D"));
        assert!(a.remove_provider("house").unwrap_err().to_string().contains("no provider"));
    }
}

//! The facade the CLI and the tray app share.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use frugal_index::{Folder, Hit, Index, SearchQuery, Status, UpdateReport};

use frugal_llm::{CancelToken, EventStream, Provider, Request};
use frugal_local::{plan, read_gguf, EngineConfig, GgufInfo, HardwareProfile, LoadPlan, LocalEngine};
use serde::Serialize;

use crate::catalog::{Catalog, CatalogEntry};
use crate::config::{self, Config, FolderEntry, Paths};
use crate::download::{self, OnProgress};
use crate::grounding::{self, Grounding};
use crate::input::InputText;
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
        for p in &inner {
            index.remove_folder(p)?;
        }
        self.config.index.folders.retain(|f| !inner.contains(&f.path));
        let changed_mark = match self.config.index.folders.iter_mut().find(|f| f.path == path) {
            Some(f) => std::mem::replace(&mut f.local_only, local_only) != local_only,
            None => {
                self.config.index.folders.push(FolderEntry { path: path.clone(), local_only });
                false
            }
        };
        config::save(&self.paths.config_file, &self.config)?;
        if changed_mark {
            // The mark is stored with every passage: re-read the folder so it travels.
            index.remove_folder(&path)?;
        }
        let folder = Folder { path, local_only };
        Ok(index.update(std::slice::from_ref(&folder), progress)?)
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
        let engine = self.engine()?;
        let mut count = |s: &str| engine.count_tokens(s).unwrap_or(s.len() / 4);
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
    pub fn ask(
        &self,
        question: &str,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<ask::AskReport> {
        if self.config.index.folders.is_empty() {
            return Err(CoreError::Input("no folders are indexed yet: run `frugal index add DIR` first".into()));
        }
        let (_, plan) = self.engine_and_plan()?;
        let budget = ask::SOURCE_BUDGET.min(plan.context as usize / 2);
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
            report.quality = crate::tasks::Quality::from_checks(
                vec![crate::tasks::Check {
                    name: "found",
                    passed: false,
                    detail: "no passage matches the question".into(),
                }],
                false,
            );
            return Ok(report);
        }
        let engine = self.engine()?;
        let task = ask::AskTask { question: question.to_string(), grounding };
        let (answer, quality) = crate::tasks::run(engine.as_ref(), &task, cancel, on_event)?;
        if quality.passed {
            report.found = true;
            report.cited = task.grounding.sources.iter().filter(|s| answer.cited.contains(&s.n)).cloned().collect();
            report.answer = Some(answer.text);
        } else if !answer.not_found {
            report.rejected = Some(answer.text);
        }
        report.quality = quality;
        Ok(report)
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
}

//! The library service: the user's folders, their index and watcher, search, and the
//! passages that ground a task (with their privacy marks).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use frugal_index::{Folder, Hit, Index, SearchQuery, Status, UpdateReport};

use crate::config::FolderEntry;
use crate::grounding::{self, Grounding};
use crate::meaning::{CatchUp, Meaning, MeaningStatus, SearchMode, Searched};
use crate::settings::Settings;
use crate::tasks::summarize;
use crate::{CoreError, Result};

/// The library service.
pub struct Library {
    settings: Arc<Settings>,
    index: Mutex<Option<Arc<Index>>>,
    index_notice: Mutex<Option<String>>,
    meaning: Arc<Meaning>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").finish_non_exhaustive()
    }
}

impl Library {
    /// The service over `settings`; the index opens on first use.
    pub fn new(settings: Arc<Settings>) -> Self {
        let meaning = Arc::new(Meaning::new(settings.clone(), index_dir(&settings)));
        Self { settings, index: Mutex::new(None), index_notice: Mutex::new(None), meaning }
    }

    /// Where the index lives.
    pub fn index_dir(&self) -> PathBuf {
        index_dir(&self.settings)
    }

    /// The indexed folders, from the config.
    pub fn folders(&self) -> Vec<Folder> {
        self.settings
            .get()
            .index
            .folders
            .iter()
            .map(|f| Folder { path: f.path.clone(), local_only: f.local_only })
            .collect()
    }

    /// The index, opened on first use. If it had to be rebuilt (corrupt, or from another
    /// version), [`Library::take_notice`] says so once.
    pub fn index(&self) -> Result<Arc<Index>> {
        let mut slot = self.index.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = slot.as_ref() {
            return Ok(i.clone());
        }
        let mut settings = frugal_index::Settings::default();
        if let Some(mb) = self.settings.get().index.max_file_mb {
            settings.max_file_bytes = mb.saturating_mul(1024 * 1024);
        }
        if let Some(t) = self.settings.get().index.threads {
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

    /// A message about the index or its embeddings (rebuilt, or meaning search off and
    /// why), once.
    pub fn take_notice(&self) -> Option<String> {
        let index = self.index_notice.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        match (index, self.meaning.take_notice()) {
            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
            (a, b) => a.or(b),
        }
    }

    /// Adds a folder (or changes its local-only mark), saves the config and indexes it now.
    pub fn add(
        &self,
        dir: &Path,
        local_only: bool,
        progress: &mut (dyn FnMut(&frugal_index::Progress) + Send),
    ) -> Result<UpdateReport> {
        let path = dir.canonicalize().map_err(CoreError::io("cannot open folder", dir))?;
        if !path.is_dir() {
            return Err(CoreError::Input(format!("{} is not a folder", path.display())));
        }
        if let Some(outer) =
            self.settings.get().index.folders.iter().find(|f| path.starts_with(&f.path) && f.path != path)
        {
            return Err(CoreError::Input(format!(
                "{} is already indexed as part of {}",
                path.display(),
                outer.path.display()
            )));
        }
        let index = self.index()?;
        // A parent replaces the folders inside it.
        let inner: Vec<PathBuf> = self
            .settings
            .get()
            .index
            .folders
            .iter()
            .filter(|f| f.path.starts_with(&path) && f.path != path)
            .map(|f| f.path.clone())
            .collect();
        let changed_mark =
            self.settings.get().index.folders.iter().any(|f| f.path == path && f.local_only != local_only);
        if changed_mark {
            // The mark is stored with every passage: re-read the folder so it travels.
            index.remove_folder(&path)?;
        }
        // Recorded before the first file is read, so an add that is killed part-way resumes
        // with the next update; an add that *fails* takes the folder out again, so it is not
        // listed with nothing in it.
        let was_listed = self.settings.get().index.folders.iter().any(|f| f.path == path);
        let entry = FolderEntry { path: path.clone(), local_only };
        self.settings.update(|c| {
            c.index.folders.retain(|f| f.path != entry.path);
            c.index.folders.push(entry.clone());
            Ok(())
        })?;
        let folder = Folder { path: path.clone(), local_only };
        let report = match index.update(std::slice::from_ref(&folder), progress) {
            Ok(r) => r,
            Err(e) => {
                if !was_listed {
                    self.settings.update(|c| {
                        c.index.folders.retain(|f| f.path != path);
                        Ok(())
                    })?;
                    // Best effort: what was committed before the failure goes too.
                    let _ = index.remove_folder(&path);
                }
                return Err(e.into());
            }
        };
        for p in &inner {
            index.remove_folder(p)?;
        }
        if !inner.is_empty() {
            self.settings.update(|c| {
                c.index.folders.retain(|f| !inner.contains(&f.path));
                Ok(())
            })?;
        }
        Ok(report)
    }

    /// Stops indexing a folder and drops its passages.
    pub fn remove(&self, dir: &Path) -> Result<u64> {
        let path = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        self.settings.update(|c| {
            let before = c.index.folders.len();
            c.index.folders.retain(|f| f.path != path && f.path != dir);
            if c.index.folders.len() == before {
                return Err(CoreError::Input(format!(
                    "{} is not an indexed folder (see `frugal index status`)",
                    dir.display()
                )));
            }
            Ok(())
        })?;
        let index = self.index()?;
        let mut removed = index.remove_folder(&path)?;
        if path != dir {
            removed += index.remove_folder(dir)?;
        }
        // The folder's vectors go too (embeddings say something of the text they came from).
        self.meaning.purge(&index);
        Ok(removed)
    }

    /// Re-reads what changed in every folder.
    pub fn update(&self, progress: &mut (dyn FnMut(&frugal_index::Progress) + Send)) -> Result<UpdateReport> {
        Ok(self.index()?.update(&self.folders(), progress)?)
    }

    /// Files, passages and skipped files.
    pub fn status(&self) -> Result<Status> {
        Ok(self.index()?.status(&self.folders())?)
    }

    /// Ranked passages: hybrid once passages have vectors, keyword until then.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>> {
        Ok(self.search_with(query, SearchMode::Auto)?.hits)
    }

    /// Ranked passages found the way `mode` says. `Auto` and `Hybrid` fall back to keyword
    /// search (with a note) when meaning search is off or has no vectors yet; `Meaning`
    /// fails instead, saying why.
    pub fn search_with(&self, query: &SearchQuery, mode: SearchMode) -> Result<Searched> {
        // A search the user reads in meaning mode keeps its nearest hits; fused ones give no
        // credit to a passage the transformer finds far from the query (quick vectors have
        // no such floor: see `Quick::nearest`).
        let floor = if mode == SearchMode::Meaning { 0.0 } else { crate::meaning::MIN_SIMILARITY };
        let index = self.index()?;
        let keyword_only = |note: Option<String>| -> Result<Searched> {
            Ok(Searched { hits: index.search(query)?, mode: SearchMode::Keyword, note })
        };
        if mode == SearchMode::Keyword || (mode == SearchMode::Auto && !self.meaning.enabled()) {
            return keyword_only(None);
        }
        // No vector yet: keyword search, without loading a model to find that out (every
        // grounded task searches).
        if mode == SearchMode::Auto && !self.meaning.has_vectors() {
            let model = self.meaning.model_path();
            let why = if model.is_file() {
                "no passage has a vector yet (`frugal index update` embeds them)".to_string()
            } else {
                format!("no embedding model at {} (scripts/setup.sh installs one)", model.display())
            };
            return keyword_only(Some(format!("keyword search only: {why}")));
        }
        // Both lists longer than the answer, so a passage just past one list's cut still
        // gets the other's credit.
        let mut wide = query.clone();
        wide.limit = (query.limit.clamp(1, frugal_index::MAX_LIMIT) * 2).max(20);
        let meaning = match self.meaning.search(&index, if mode == SearchMode::Meaning { query } else { &wide }, floor)
        {
            Ok(hits) => hits,
            Err(e) if mode == SearchMode::Meaning => return Err(e),
            Err(CoreError::Index(e)) => return Err(e.into()),
            Err(e) => return keyword_only(Some(format!("keyword search only: {e}"))),
        };
        let share = self.meaning.ready_share(&index);
        let note = match share {
            Some((0, _, 0)) | None => {
                Some("meaning search: no passage has a vector yet (run `frugal index update`)".into())
            }
            Some((ready, all, 0)) if ready < all => {
                Some(format!("meaning search: {} % of passages ready", (ready * 100 / all.max(1)).min(99)))
            }
            Some((ready, all, quick)) if ready < all => Some(format!(
                "meaning search: {} % of passages ready, {} % more by quick vectors until the model reaches them",
                (ready * 100 / all.max(1)).min(99),
                (quick * 100).div_ceil(all.max(1)).min(100)
            )),
            Some(_) => None,
        };
        if mode == SearchMode::Meaning {
            return Ok(Searched { hits: meaning, mode, note });
        }
        if matches!(share, Some((0, _, 0)) | None) && mode == SearchMode::Auto {
            return keyword_only(note);
        }
        // Keyword results may be none (no shared words): meaning carries the search then.
        let keyword = match index.search(&wide) {
            Ok(h) => h,
            Err(frugal_index::IndexError::Query(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let hits = frugal_index::fuse(keyword, meaning, crate::meaning::MEANING_WEIGHT, query);
        Ok(Searched { hits, mode: SearchMode::Hybrid, note })
    }

    /// Embeds the passages that have no vector yet (and drops vectors of passages that are
    /// gone), reporting `progress(stage, done, of)`: quick vectors first for a large
    /// backlog, then the transformer; stops early when `cancel` is set.
    pub fn embed_pending(
        &self,
        progress: &mut dyn FnMut(crate::meaning::Stage, u64, u64),
        cancel: &AtomicBool,
    ) -> Result<CatchUp> {
        let index = self.index()?;
        self.meaning.catch_up(&index, progress, cancel)
    }

    /// [`Library::embed_pending`] on a thread of its own, or, when one is running in this
    /// process already, once more after it (it may have listed the passages before the
    /// change that calls this). Nothing when meaning search is off or paused. `done` of the
    /// call that starts the thread hears how its last round went; a call that joins a
    /// running thread has its `done` dropped uncalled.
    pub fn embed_in_background(&self, done: impl FnOnce(Result<CatchUp>) + Send + 'static) {
        if !self.meaning.enabled() || self.meaning.paused.load(Ordering::SeqCst) {
            return;
        }
        self.meaning.again.store(true, Ordering::SeqCst);
        if self.meaning.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let index = match self.index() {
            Ok(i) => i,
            Err(e) => {
                self.meaning.running.store(false, Ordering::SeqCst);
                return done(Err(e));
            }
        };
        let meaning = self.meaning.clone();
        let spawned = std::thread::Builder::new().name("frugal-embed".into()).spawn(move || {
            let mut result = Ok(CatchUp::default());
            loop {
                while meaning.again.swap(false, Ordering::SeqCst) {
                    result = meaning.catch_up(&index, &mut |_, _, _| {}, &meaning.paused);
                }
                meaning.running.store(false, Ordering::SeqCst);
                // A request that came between the last round and the line above.
                if !meaning.again.load(Ordering::SeqCst) || meaning.running.swap(true, Ordering::SeqCst) {
                    break;
                }
            }
            done(result);
        });
        if spawned.is_err() {
            self.meaning.running.store(false, Ordering::SeqCst);
        }
    }

    /// Pauses background embedding (a running round stops after its batch; what it wrote
    /// stays) or resumes it: the user's "pause indexing" covers the embedder too, which
    /// on a large library is most of the work.
    pub fn pause_embedding(&self, paused: bool) {
        self.meaning.paused.store(paused, Ordering::SeqCst);
    }

    /// Whether search by meaning is on in the settings.
    pub fn meaning_enabled(&self) -> bool {
        self.meaning.enabled()
    }

    /// How far search by meaning has come.
    pub fn meaning_status(&self) -> Result<MeaningStatus> {
        let index = self.index()?;
        Ok(self.meaning.status(&index))
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
    pub(crate) fn passages_for(&self, mut q: SearchQuery, exclude: Option<&Path>) -> Result<Vec<Hit>> {
        if self.settings.get().index.folders.is_empty() || q.text.trim().is_empty() {
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
    /// `count` is the model's tokenizer (the caller's: the library knows no model).
    pub fn ground(
        &self,
        query: &str,
        budget: usize,
        exclude: Option<&Path>,
        count: &mut dyn FnMut(&str) -> usize,
    ) -> Result<Grounding> {
        let mut q = SearchQuery::new(query);
        q.limit = 8;
        let hits = self.passages_for(q, exclude)?;
        if hits.is_empty() {
            return Ok(Grounding::default());
        }
        Ok(grounding::prune(&hits, budget, count))
    }

    /// Related passages for a reply: the thread and documents the email is about, in at most
    /// 600 tokens, leaving out the email's own file.
    pub fn draft_context(
        &self,
        email: &crate::email::Email,
        file: Option<&Path>,
        count: &mut dyn FnMut(&str) -> usize,
    ) -> Result<Grounding> {
        let mut query = email.subject.clone().unwrap_or_default().replace("Re:", " ").replace("RE:", " ");
        query.push(' ');
        query.extend(email.body.chars().take(400));
        self.ground(&query, 600, file, count)
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

    /// The configured local-only folder holding `path`, if any. The config is the authority:
    /// a folder marked local-only after it was indexed counts at once.
    pub(crate) fn local_only_folder(&self, path: &Path) -> Option<PathBuf> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.settings
            .get()
            .index
            .folders
            .iter()
            .find(|f| f.local_only && path.starts_with(&f.path))
            .map(|f| f.path.clone())
    }

    /// Whether any source is local-only, by its own mark or by the config's folders now.
    pub(crate) fn grounding_is_private(&self, g: &Grounding) -> bool {
        g.local_only() || g.sources.iter().any(|s| self.local_only_folder(&s.path).is_some())
    }
}

/// Where the index lives: `[index] dir`, else the data folder's `index`.
fn index_dir(settings: &Settings) -> PathBuf {
    settings.get().index.dir.clone().unwrap_or_else(|| settings.paths().data_dir.join("index"))
}

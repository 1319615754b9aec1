//! The library service: the user's folders, their index and watcher, search, and the
//! passages that ground a task (with their privacy marks).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use frugal_index::{Folder, Hit, Index, SearchQuery, Status, UpdateReport};

use crate::config::FolderEntry;
use crate::grounding::{self, Grounding};
use crate::settings::Settings;
use crate::tasks::summarize;
use crate::{CoreError, Result};

/// The library service.
pub struct Library {
    settings: Arc<Settings>,
    index: Mutex<Option<Arc<Index>>>,
    index_notice: Mutex<Option<String>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").finish_non_exhaustive()
    }
}

impl Library {
    /// The service over `settings`; the index opens on first use.
    pub fn new(settings: Arc<Settings>) -> Self {
        Self { settings, index: Mutex::new(None), index_notice: Mutex::new(None) }
    }

    /// Where the index lives.
    pub fn index_dir(&self) -> PathBuf {
        self.settings.get().index.dir.clone().unwrap_or_else(|| self.settings.paths().data_dir.join("index"))
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

    /// A message about the index having been rebuilt, once.
    pub fn take_notice(&self) -> Option<String> {
        self.index_notice.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
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

//! Bringing the index in line with the folders: walk (honouring `.gitignore`, hidden files
//! and `.frugalignore`), compare with the file records, read and extract only what changed
//! on a few low-priority threads, and write with one bounded Tantivy writer, committing in
//! batches. Tantivy's commit is atomic, so a crash mid-update leaves the last commit usable
//! and the next update redoes the rest.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tantivy::{IndexWriter, TantivyDocument, Term};

use crate::chunk::{chunk, Chunk};
use crate::schema::{FILE, PASSAGE};
use crate::store::FileRecord;
use crate::{extract, Folder, Index, IndexError, Kind, Result};

/// Where a long update is, for a progress bar.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Progress {
    /// Files looked at so far.
    pub files_done: u64,
    /// Files found by the walk.
    pub files_total: u64,
    /// Bytes read so far (unchanged files are not read).
    pub bytes_read: u64,
}

/// What an update did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UpdateReport {
    /// Files found in the folders.
    pub files_seen: u64,
    /// Files read and indexed (new or changed).
    pub files_indexed: u64,
    /// Files left alone (same size and mtime, or same content).
    pub files_unchanged: u64,
    /// Files that are gone and were removed from the index.
    pub files_removed: u64,
    /// Files skipped, each with a reason in `status`.
    pub files_skipped: u64,
    /// Passages written.
    pub passages: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Wall time.
    pub elapsed_ms: u64,
    /// Folders that were not there.
    pub missing_folders: Vec<PathBuf>,
    /// Whether anything was written (an update that found everything as it was commits
    /// nothing, and the watcher does not report it).
    pub changed: bool,
}

/// A file the walk found.
struct Job {
    path: PathBuf,
    key: String,
    folder: usize,
    kind: Kind,
    size: u64,
}

enum Outcome {
    Unchanged,
    Touched(FileRecord),
    Indexed { record: FileRecord, title: String, kind: Kind, modified: i64, chunks: Vec<Chunk> },
    Skipped(FileRecord),
    Gone(String),
}

/// The plan for one write: files to read, paths and folders to drop, skip records to keep.
#[derive(Default)]
struct Work {
    jobs: Vec<Job>,
    deletes: Vec<Term>,
    skips: Vec<FileRecord>,
    seen: u64,
}

impl Index {
    /// Brings `folders` up to date (new, changed and deleted files); other folders are left
    /// alone. `progress` is called as files are done.
    pub fn update(&self, folders: &[Folder], progress: &mut (dyn FnMut(&Progress) + Send)) -> Result<UpdateReport> {
        let previous = self.records()?;
        let mut work = Work::default();
        let mut report = UpdateReport::default();
        for (i, folder) in folders.iter().enumerate() {
            let key = folder.path.to_string_lossy().to_string();
            if !folder.path.is_dir() {
                // A folder that vanished (unmounted, deleted): its passages must not be served.
                report.missing_folders.push(folder.path.clone());
                work.deletes.push(Term::from_field_text(self.fields.folder, &key));
                report.files_removed += previous.values().filter(|r| r.folder == key).count() as u64;
                continue;
            }
            let seen = self.walk(&folder.path, i, folder, &mut work);
            for r in previous.values().filter(|r| r.folder == key && !seen.contains(&r.path)) {
                work.deletes.extend(self.file_terms(&r.path));
                report.files_removed += 1;
            }
        }
        self.write(folders, work, &previous, report, progress)
    }

    /// Re-reads the given paths (files or directories, existing or not): what the watcher
    /// calls with the paths of a debounced batch of events.
    pub fn apply(&self, folders: &[Folder], paths: &[PathBuf]) -> Result<UpdateReport> {
        // Only the records these paths can touch: the file itself, what was under it if it
        // was a directory, and its siblings.
        let f = &self.fields;
        let mut terms = Vec::new();
        for p in paths {
            let key = p.to_string_lossy();
            terms.push(Term::from_field_text(f.record_of, &key));
            terms.push(Term::from_field_text(f.dirs, &key));
            if let Some(parent) = p.parent() {
                terms.push(Term::from_field_text(f.parent, &parent.to_string_lossy()));
            }
        }
        let previous = self.records_matching(terms)?;
        let mut work = Work::default();
        let mut report = UpdateReport::default();
        let own = self.own_dir();
        for path in paths {
            // The index's own files, when it sits inside an indexed folder: each commit
            // rewrites them, which the watcher hears, which would commit again, for ever.
            if path.starts_with(&own) {
                continue;
            }
            let Some((i, folder)) = folders
                .iter()
                .enumerate()
                .filter(|(_, f)| path.starts_with(&f.path))
                .max_by_key(|(_, f)| f.path.as_os_str().len())
            else {
                continue;
            };
            if path != &folder.path && crate::rules::is_ignored(&folder.path, path) {
                continue;
            }
            let key = path.to_string_lossy().to_string();
            // The walk's rule for symlinks, applied to the watcher's paths: a link back to one
            // of its own ancestors is recorded as skipped, and nothing seen through it is read
            // (notify follows such links and reports the same files under a second name).
            match crate::rules::symlink_loop(&folder.path, path) {
                Some((link, target)) if link == *path => {
                    let reason = crate::rules::loop_reason(&target);
                    work.skips.push(FileRecord::skipped(key, folder.path.to_string_lossy().to_string(), reason));
                    continue;
                }
                Some(_) => continue,
                None => {}
            }
            match std::fs::metadata(path) {
                Err(_) => {
                    let prefix = format!("{key}/");
                    let gone = previous.keys().filter(|p| **p == key || p.starts_with(&prefix)).count() as u64;
                    if gone > 0 || path == &folder.path {
                        work.deletes.extend(self.file_terms(&key));
                        work.deletes.push(Term::from_field_text(self.fields.dirs, &key));
                        report.files_removed += gone;
                    }
                    if path == &folder.path {
                        report.missing_folders.push(folder.path.clone());
                    }
                }
                Ok(m) if m.is_dir() => {
                    let seen = self.walk(path, i, folder, &mut work);
                    let prefix = format!("{key}/");
                    for p in previous.keys().filter(|p| p.starts_with(&prefix) && !seen.contains(*p)) {
                        work.deletes.extend(self.file_terms(p));
                        report.files_removed += 1;
                    }
                }
                Ok(m) if m.is_file() => {
                    work.seen += 1;
                    if let Some(kind) = Kind::of(path) {
                        work.jobs.push(Job { path: path.clone(), key, folder: i, kind, size: m.len() });
                    }
                }
                Ok(_) => {}
            }
        }
        // Debounced events can lose a path (a rename followed by a delete arrives as one
        // delete of the *new* name): any record in a touched directory whose file is gone
        // goes too.
        let touched: HashSet<&Path> = paths.iter().filter_map(|p| p.parent()).collect();
        for key in previous.keys() {
            let p = Path::new(key);
            if p.parent().is_some_and(|d| touched.contains(d)) && !paths.iter().any(|x| x == p) && !p.exists() {
                work.deletes.extend(self.file_terms(key));
                report.files_removed += 1;
            }
        }
        if work.jobs.is_empty() && work.deletes.is_empty() && work.skips.is_empty() {
            return Ok(report);
        }
        self.write(folders, work, &previous, report, &mut |_| {})
    }

    /// Drops a folder's passages and records.
    pub fn remove_folder(&self, folder: &Path) -> Result<u64> {
        let key = folder.to_string_lossy().to_string();
        let removed = self.records()?.values().filter(|r| r.folder == key).count() as u64;
        let _guard = self.writing.lock().map_err(|_| IndexError::Busy(self.dir.clone()))?;
        let mut writer = self.writer()?;
        writer.delete_term(Term::from_field_text(self.fields.folder, &key));
        self.commit(&mut writer)?;
        Ok(removed)
    }

    /// The terms that remove a file: its passages and its record.
    fn file_terms(&self, key: &str) -> [Term; 2] {
        [Term::from_field_text(self.fields.path, key), Term::from_field_text(self.fields.record_of, key)]
    }

    fn forget(&self, writer: &IndexWriter, key: &str) {
        for t in self.file_terms(key) {
            writer.delete_term(t);
        }
    }

    fn add(&self, writer: &IndexWriter, doc: TantivyDocument) -> Result<()> {
        writer.add_document(doc).map(|_| ()).map_err(IndexError::tantivy(&self.dir))
    }

    /// Walks `root` (the folder or a directory inside it); returns the paths seen.
    /// The index's folder as the walk and the watcher write paths (resolved, like folders).
    fn own_dir(&self) -> PathBuf {
        self.dir.canonicalize().unwrap_or_else(|_| self.dir.clone())
    }

    fn walk(&self, root: &Path, index: usize, folder: &Folder, work: &mut Work) -> HashSet<String> {
        let mut seen = HashSet::new();
        // Links that point back to one of their own ancestors, found before the walk follows
        // them: `ignore` only sees a loop back to a folder *below* where the walk started, so a
        // walk of a subfolder (the watcher's) would otherwise read the whole tree again.
        let loops = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let found = loops.clone();
        let own = self.own_dir();
        let walker = ignore::WalkBuilder::new(root)
            .filter_entry(move |e| {
                // The index's own folder, inside an indexed one, is not the user's files.
                if e.path().starts_with(&own) {
                    return false;
                }
                if !e.path_is_symlink() {
                    return true;
                }
                match crate::rules::loops_back(e.path()) {
                    Some(target) => {
                        found
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((e.path().to_path_buf(), target));
                        false
                    }
                    None => true,
                }
            })
            .follow_links(true)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .parents(root != folder.path)
            .add_custom_ignore_filename(crate::rules::IGNORE_FILE)
            .build();
        let folder_key = folder.path.to_string_lossy().to_string();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let (path, reason) = crate::rules::describe(&e);
                    let path = path.unwrap_or_else(|| root.to_path_buf()).to_string_lossy().to_string();
                    seen.insert(path.clone());
                    work.skips.push(FileRecord::skipped(path, folder_key.clone(), reason));
                    continue;
                }
            };
            let path = entry.path();
            if let Some(special) = entry.file_type().and_then(crate::rules::special_file) {
                let key = path.to_string_lossy().to_string();
                seen.insert(key.clone());
                work.skips.push(FileRecord::skipped(
                    key,
                    folder_key.clone(),
                    format!("not a regular file ({special})"),
                ));
                continue;
            }
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Some(kind) = Kind::of(path) else { continue };
            work.seen += 1;
            let Some(key) = path.to_str().map(str::to_string) else {
                let key = path.to_string_lossy().to_string();
                seen.insert(key.clone());
                work.skips.push(FileRecord::skipped(key, folder_key.clone(), "file name is not valid UTF-8".into()));
                continue;
            };
            seen.insert(key.clone());
            let size = entry.metadata().map_or(0, |m| m.len());
            work.jobs.push(Job { path: path.to_path_buf(), key, folder: index, kind, size });
        }
        for (link, target) in std::mem::take(&mut *loops.lock().unwrap_or_else(std::sync::PoisonError::into_inner)) {
            let key = link.to_string_lossy().to_string();
            seen.insert(key.clone());
            work.skips.push(FileRecord::skipped(key, folder_key.clone(), crate::rules::loop_reason(&target)));
        }
        seen
    }

    pub(crate) fn writer(&self) -> Result<IndexWriter> {
        let threads = 1;
        let heap = self.settings.writer_heap_bytes.max(15_000_000);
        self.index.writer_with_num_threads(threads, heap).map_err(IndexError::tantivy(&self.dir))
    }

    /// The writer of this update, taken (with Tantivy's lock) only once there is something
    /// to write.
    fn writer_in<'w>(&self, slot: &'w mut Option<IndexWriter>) -> Result<&'w mut IndexWriter> {
        match slot {
            Some(w) => Ok(w),
            None => Ok(slot.insert(self.writer()?)),
        }
    }

    fn commit(&self, writer: &mut IndexWriter) -> Result<()> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut prepared = writer.prepare_commit().map_err(IndexError::tantivy(&self.dir))?;
        prepared.set_payload(&now.to_string());
        prepared.commit().map_err(IndexError::tantivy(&self.dir))?;
        self.reload()
    }

    /// Reads the jobs on worker threads and writes everything, committing in batches.
    fn write(
        &self,
        folders: &[Folder],
        work: Work,
        previous: &HashMap<String, FileRecord>,
        mut report: UpdateReport,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<UpdateReport> {
        let started = Instant::now();
        let _guard = self.writing.lock().map_err(|_| IndexError::Busy(self.dir.clone()))?;
        let Work { jobs, deletes, skips, seen } = work;
        report.files_seen = seen;
        let total = jobs.len() as u64;
        let next = AtomicUsize::new(0);
        let threads = self.settings.threads.max(1).min(jobs.len().max(1));
        let settings = &self.settings;
        std::thread::scope(|scope| -> Result<UpdateReport> {
            let (tx, rx) = mpsc::sync_channel::<Outcome>(threads * 4);
            for _ in 0..threads {
                let tx = tx.clone();
                let (jobs, next) = (&jobs, &next);
                scope.spawn(move || {
                    if settings.low_priority {
                        lower_priority();
                    }
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let folder = &folders[job.folder];
                        let outcome = process(job, folder, previous.get(&job.key), settings.max_file_bytes);
                        if tx.send(outcome).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            // The writer lives on its own low-priority thread: Tantivy's indexing threads
            // inherit that priority.
            let writer_thread = scope.spawn(move || -> Result<UpdateReport> {
                if settings.low_priority {
                    lower_priority();
                }
                // Nothing to write is not a commit: an idle watcher must leave the disk alone.
                let mut slot: Option<IndexWriter> = None;
                let mut dirty = false;
                if !deletes.is_empty() {
                    let w = self.writer_in(&mut slot)?;
                    for term in deletes {
                        w.delete_term(term);
                    }
                    dirty = true;
                }
                for record in skips {
                    report.files_skipped += 1;
                    if previous.get(&record.path) == Some(&record) {
                        continue;
                    }
                    let w = self.writer_in(&mut slot)?;
                    self.forget(w, &record.path);
                    self.add(w, self.record_doc(&record))?;
                    dirty = true;
                }
                let mut p = Progress { files_total: total, ..Progress::default() };
                let (mut since_commit, mut last_commit) = (0usize, Instant::now());
                for outcome in rx {
                    p.files_done += 1;
                    match outcome {
                        Outcome::Unchanged => report.files_unchanged += 1,
                        Outcome::Skipped(record) if previous.get(&record.path) == Some(&record) => {
                            report.files_skipped += 1;
                        }
                        Outcome::Touched(record) => {
                            report.files_unchanged += 1;
                            p.bytes_read += record.size;
                            let w = self.writer_in(&mut slot)?;
                            w.delete_term(Term::from_field_text(self.fields.record_of, &record.path));
                            self.add(w, self.record_doc(&record))?;
                            since_commit += 1;
                        }
                        Outcome::Skipped(record) => {
                            report.files_skipped += 1;
                            let w = self.writer_in(&mut slot)?;
                            w.delete_term(Term::from_field_text(self.fields.path, &record.path));
                            w.delete_term(Term::from_field_text(self.fields.record_of, &record.path));
                            self.add(w, self.record_doc(&record))?;
                            since_commit += 1;
                        }
                        Outcome::Gone(path) => {
                            report.files_removed += 1;
                            self.forget(self.writer_in(&mut slot)?, &path);
                            since_commit += 1;
                        }
                        Outcome::Indexed { record, title, kind, modified, chunks } => {
                            report.files_indexed += 1;
                            report.passages += chunks.len() as u64;
                            p.bytes_read += record.size;
                            let w = self.writer_in(&mut slot)?;
                            self.forget(w, &record.path);
                            for c in &chunks {
                                self.add(w, self.passage_doc(&record, &title, kind, modified, c, folders))?;
                            }
                            self.add(w, self.record_doc(&record))?;
                            since_commit += 1;
                        }
                    }
                    if since_commit > 0 {
                        dirty = true;
                    }
                    if since_commit >= settings.commit_every_files
                        || (since_commit > 0 && last_commit.elapsed() > Duration::from_secs(30))
                    {
                        self.commit(self.writer_in(&mut slot)?)?;
                        since_commit = 0;
                        last_commit = Instant::now();
                    }
                    if p.files_done.is_multiple_of(64) || p.files_done == total {
                        progress(&p);
                    }
                }
                report.changed = dirty;
                if let Some(mut writer) = slot {
                    if dirty {
                        self.commit(&mut writer)?;
                    }
                    writer.wait_merging_threads().map_err(IndexError::tantivy(&self.dir))?;
                }
                report.bytes_read = p.bytes_read;
                Ok(report)
            });
            writer_thread
                .join()
                .unwrap_or_else(|_| Err(IndexError::Query("the index writer stopped unexpectedly".into())))
        })
        .map(|mut r| {
            r.elapsed_ms = started.elapsed().as_millis() as u64;
            r
        })
    }

    fn common_fields(&self, doc: &mut TantivyDocument, record: &FileRecord) {
        let f = &self.fields;
        doc.add_text(f.folder, &record.folder);
        let mut dir = Path::new(&record.path).parent();
        while let Some(d) = dir {
            if d.as_os_str().is_empty() {
                break;
            }
            doc.add_text(f.dirs, d.to_string_lossy());
            dir = d.parent();
        }
        // A deleted directory is one `dirs` term: the file itself counts as its own "dir" so a
        // delete of the exact path catches it too.
        doc.add_text(f.dirs, &record.path);
    }

    fn record_doc(&self, record: &FileRecord) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::new();
        doc.add_text(f.doc_type, FILE);
        doc.add_text(f.record_of, &record.path);
        if let Some(parent) = Path::new(&record.path).parent() {
            doc.add_text(f.parent, parent.to_string_lossy());
        }
        self.common_fields(&mut doc, record);
        doc.add_u64(f.size, record.size);
        doc.add_i64(f.mtime_ns, record.mtime_ns);
        doc.add_text(f.hash, &record.hash);
        doc.add_u64(f.passages, record.passages);
        if let Some(reason) = &record.skipped {
            doc.add_text(f.skipped, reason);
        }
        if let Some(note) = &record.note {
            doc.add_text(f.note, note);
        }
        doc
    }

    fn passage_doc(
        &self,
        record: &FileRecord,
        title: &str,
        kind: Kind,
        modified: i64,
        c: &Chunk,
        folders: &[Folder],
    ) -> TantivyDocument {
        let f = &self.fields;
        let local_only = folders.iter().any(|x| x.local_only && record.folder == x.path.to_string_lossy());
        let mut doc = TantivyDocument::new();
        doc.add_text(f.doc_type, PASSAGE);
        doc.add_text(f.path, &record.path);
        self.common_fields(&mut doc, record);
        let heading_path = c.heading_path.join(" > ");
        doc.add_text(f.title, title);
        doc.add_text(f.headings, &heading_path);
        doc.add_text(f.body, &c.text);
        doc.add_text(f.kind, kind.as_str());
        doc.add_i64(f.modified, modified);
        doc.add_u64(f.line_start, u64::from(c.line_start));
        doc.add_u64(f.line_end, u64::from(c.line_end));
        doc.add_bool(f.local_only, local_only);
        doc.add_u64(
            f.passage_key,
            crate::meaning::passage_key(&crate::meaning::embed_text(title, &heading_path, &c.text)),
        );
        doc
    }
}

impl FileRecord {
    fn skipped(path: String, folder: String, reason: String) -> Self {
        FileRecord {
            path,
            folder,
            size: 0,
            mtime_ns: 0,
            hash: String::new(),
            passages: 0,
            skipped: Some(reason),
            note: None,
        }
    }
}

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64)
}

/// Reads one file and decides what to do with it.
fn process(job: &Job, folder: &Folder, previous: Option<&FileRecord>, max_bytes: u64) -> Outcome {
    let folder_key = folder.path.to_string_lossy().to_string();
    let skip = |size: u64, mtime: i64, reason: String| {
        Outcome::Skipped(FileRecord {
            size,
            mtime_ns: mtime,
            ..FileRecord::skipped(job.key.clone(), folder_key.clone(), reason)
        })
    };
    let mut meta = match std::fs::metadata(&job.path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Outcome::Gone(job.key.clone()),
        Err(e) => return skip(job.size, 0, crate::rules::io_reason(&e)),
    };
    if meta.len() > max_bytes {
        let reason = format!("larger than the {} limit ({})", size_text(max_bytes), size_text(meta.len()));
        return skip(meta.len(), mtime_ns(&meta), reason);
    }
    if let Some(p) = previous {
        if p.skipped.is_none() && p.size == meta.len() && p.mtime_ns == mtime_ns(&meta) {
            return Outcome::Unchanged;
        }
    }
    // Read until the file holds still: a file rewritten while we read it is read again.
    let mut bytes = Vec::new();
    let mut settled = false;
    for _ in 0..3 {
        bytes = match std::fs::read(&job.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Outcome::Gone(job.key.clone()),
            Err(e) => return skip(meta.len(), mtime_ns(&meta), crate::rules::io_reason(&e)),
        };
        let after = match std::fs::metadata(&job.path) {
            Ok(m) => m,
            Err(_) => return Outcome::Gone(job.key.clone()),
        };
        let same =
            after.len() == meta.len() && mtime_ns(&after) == mtime_ns(&meta) && bytes.len() as u64 == after.len();
        meta = after;
        if same {
            settled = true;
            break;
        }
    }
    let (size, mtime) = (meta.len(), mtime_ns(&meta));
    if !settled {
        return skip(size, mtime, "kept changing while being read; will retry on the next change".into());
    }
    if bytes.len() as u64 > max_bytes {
        return skip(size, mtime, format!("larger than the {} limit", size_text(max_bytes)));
    }
    let hash = hex::encode(&Sha256::digest(&bytes)[..16]);
    let record = FileRecord {
        path: job.key.clone(),
        folder: folder_key.clone(),
        size,
        mtime_ns: mtime,
        hash,
        passages: 0,
        skipped: None,
        note: None,
    };
    if let Some(p) = previous {
        if p.skipped.is_none() && p.hash == record.hash {
            return Outcome::Touched(FileRecord { passages: p.passages, note: p.note.clone(), ..record });
        }
    }
    if bytes.is_empty() {
        return skip(size, mtime, "empty file".into());
    }
    match extract::extract(&job.path, &bytes, job.kind) {
        Err(reason) => skip(size, mtime, reason),
        Ok(ex) => {
            let chunks = chunk(&ex.blocks);
            if chunks.is_empty() {
                return skip(size, mtime, "no text found".into());
            }
            let title = ex
                .title
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| job.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().to_string()));
            Outcome::Indexed {
                record: FileRecord { passages: chunks.len() as u64, note: ex.note, ..record },
                title,
                kind: job.kind,
                modified: mtime / 1_000_000_000,
                chunks,
            }
        }
    }
}

/// A size for a message, precise enough that a file over a limit never reads as equal to
/// it: `20 MB`, `50.6 MB` (rounded up), `312 KB`.
pub fn size_text(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes < MB {
        return format!("{} KB", bytes.div_ceil(1024));
    }
    if bytes.is_multiple_of(MB) {
        return format!("{} MB", bytes / MB);
    }
    format!("{:.1} MB", (bytes as f64 / MB as f64 * 10.0).ceil() / 10.0)
}

/// Nice 10 for the calling thread (Linux applies `setpriority` per thread): indexing yields
/// to whatever the user is doing.
fn lower_priority() {
    #[cfg(unix)]
    {
        let _ = rustix::process::setpriority_process(None, 10);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_size_over_a_limit_never_reads_as_the_limit() {
        assert_eq!(super::size_text(50 * 1024 * 1024), "50 MB");
        assert_eq!(super::size_text(52_953_204), "50.6 MB");
        assert_eq!(super::size_text(50 * 1024 * 1024 + 1), "50.1 MB");
        assert_eq!(super::size_text(1000), "1 KB");
    }
}

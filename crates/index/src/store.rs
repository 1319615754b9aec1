//! Opening the index (rebuilding a corrupt or outdated one), the file records, status.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use tantivy::collector::DocSetCollector;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{IndexReader, ReloadPolicy, TantivyDocument, Term};

use crate::schema::{self, Fields, SCHEMA_VERSION};
use crate::{IndexError, Result};

/// How the index reads and writes.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Files larger than this are skipped (with the limit named in `status`).
    pub max_file_bytes: u64,
    /// Tantivy's writer memory (split across its threads): bounded so a big first index does
    /// not balloon the tray app.
    pub writer_heap_bytes: usize,
    /// Threads reading and extracting files.
    pub threads: usize,
    /// Files between commits during a long update.
    pub commit_every_files: usize,
    /// Run indexing threads at low CPU priority (nice 10) so the machine stays responsive.
    pub low_priority: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            max_file_bytes: 20 * 1024 * 1024,
            writer_heap_bytes: 64 * 1024 * 1024,
            threads: cores.clamp(1, 4),
            commit_every_files: 5_000,
            low_priority: true,
        }
    }
}

/// A folder the user asked to index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Folder {
    /// Absolute, canonical path.
    pub path: PathBuf,
    /// Passages from here must never be sent to a cloud model.
    pub local_only: bool,
}

/// What the index knows about one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileRecord {
    pub path: String,
    pub folder: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub hash: String,
    pub passages: u64,
    pub skipped: Option<String>,
    pub note: Option<String>,
}

/// The index: a Tantivy index on disk plus the settings to update it.
pub struct Index {
    pub(crate) dir: PathBuf,
    pub(crate) index: tantivy::Index,
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    pub(crate) settings: Settings,
    /// One writer at a time within this process (Tantivy's lock file covers other processes).
    pub(crate) writing: Mutex<()>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("dir", &self.dir).finish_non_exhaustive()
    }
}

const VERSION_FILE: &str = "schema-version";
const REBUILT: &str = "rebuilt it empty; the next update re-reads the folders";

impl Index {
    /// Opens the index in `dir`, creating it when missing. A corrupt index, or one from
    /// another schema version, is set aside and rebuilt empty: the second value says so, and
    /// the next update re-reads every folder.
    pub fn open(dir: &Path, settings: Settings) -> Result<(Index, Option<String>)> {
        let data = dir.join("tantivy");
        std::fs::create_dir_all(dir).map_err(IndexError::io("cannot create", dir))?;
        let version = std::fs::read_to_string(dir.join(VERSION_FILE)).ok().and_then(|v| v.trim().parse::<u32>().ok());
        let mut message = None;
        if data.join("meta.json").exists() && version != Some(SCHEMA_VERSION) {
            message = Some(format!("the index at {} was built by another version of frugal; {REBUILT}", dir.display()));
            set_aside(&data)?;
        }
        let first = match Self::open_existing(dir, &data, settings.clone()) {
            // Not the index's fault (permission denied, too many open files, another writer
            // busy): said as it is, and the index is left as it is — it may be whole.
            Err(e @ (IndexError::Io { .. } | IndexError::Busy(_))) => return Err(e),
            // Another process may have been deleting merged segments while this one read
            // their list: once more, a moment later, before calling the index damaged.
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(200));
                Self::open_existing(dir, &data, settings.clone())
            }
            ok => ok,
        };
        let opened = match first {
            Ok(index) => (index, message),
            Err(e @ (IndexError::Io { .. } | IndexError::Busy(_))) => return Err(e),
            Err(e) => {
                let reason = e.to_string();
                set_aside(&data)?;
                let index = Self::open_existing(dir, &data, settings)?;
                let note = format!("the index was unreadable ({reason}); {REBUILT}");
                (index, Some(note))
            }
        };
        // Written once per (re)build, not on every open: a search stays read-only.
        if version != Some(SCHEMA_VERSION) || opened.1.is_some() {
            std::fs::write(dir.join(VERSION_FILE), SCHEMA_VERSION.to_string())
                .map_err(IndexError::io("cannot write", dir.join(VERSION_FILE)))?;
        }
        Ok(opened)
    }

    fn open_existing(dir: &Path, data: &Path, settings: Settings) -> Result<Index> {
        std::fs::create_dir_all(data).map_err(IndexError::io("cannot create", data))?;
        let (schema, fields) = schema::build();
        // Both steps' failures are told apart the same way: the system's, or damage.
        let failed = |e: tantivy::TantivyError| match passing_trouble(&e) {
            Some(error) => IndexError::Io { what: "cannot open", path: data.to_path_buf(), error },
            None => IndexError::tantivy(data)(e),
        };
        let mmap = tantivy::directory::MmapDirectory::open(data).map_err(|e| failed(e.into()))?;
        let index = tantivy::Index::open_or_create(mmap, schema).map_err(failed)?;
        Self::finish(dir, index, fields, settings)
    }

    /// An index in memory, for tests.
    pub fn in_ram(settings: Settings) -> Result<Index> {
        let (schema, fields) = schema::build();
        Self::finish(Path::new("(memory)"), tantivy::Index::create_in_ram(schema), fields, settings)
    }

    fn finish(dir: &Path, index: tantivy::Index, fields: Fields, settings: Settings) -> Result<Index> {
        let reader =
            index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(IndexError::tantivy(dir))?;
        // Touch every segment now so a damaged one is found at open, not mid-query.
        let searcher = reader.searcher();
        for segment in searcher.segment_readers() {
            segment
                .get_store_reader(1)
                .map_err(|e| IndexError::Tantivy { path: dir.to_path_buf(), reason: e.to_string() })?;
        }
        Ok(Index { dir: dir.to_path_buf(), index, reader, fields, settings, writing: Mutex::new(()) })
    }

    /// The folder the index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Picks up commits made by other processes (or our own writer).
    pub fn reload(&self) -> Result<()> {
        self.reader.reload().map_err(IndexError::tantivy(&self.dir))
    }

    /// Every file record, by path.
    pub(crate) fn records(&self) -> Result<HashMap<String, FileRecord>> {
        let query = TermQuery::new(Term::from_field_text(self.fields.doc_type, schema::FILE), IndexRecordOption::Basic);
        self.records_for(&query)
    }

    /// The file records with any of `terms` (record_of, dirs or parent terms).
    pub(crate) fn records_matching(&self, terms: Vec<Term>) -> Result<HashMap<String, FileRecord>> {
        use tantivy::query::{BooleanQuery, Occur, Query};
        let any: Vec<(Occur, Box<dyn Query>)> = terms
            .into_iter()
            .map(|t| (Occur::Should, Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn Query>))
            .collect();
        let file = TermQuery::new(Term::from_field_text(self.fields.doc_type, schema::FILE), IndexRecordOption::Basic);
        let query =
            BooleanQuery::new(vec![(Occur::Must, Box::new(file)), (Occur::Must, Box::new(BooleanQuery::new(any)))]);
        self.records_for(&query)
    }

    fn records_for(&self, query: &dyn tantivy::query::Query) -> Result<HashMap<String, FileRecord>> {
        let searcher = self.reader.searcher();
        let f = &self.fields;
        let docs = searcher.search(query, &DocSetCollector).map_err(IndexError::tantivy(&self.dir))?;
        let mut out = HashMap::with_capacity(docs.len());
        for address in docs {
            let doc: TantivyDocument = searcher.doc(address).map_err(IndexError::tantivy(&self.dir))?;
            let text = |field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_string);
            let Some(path) = text(f.record_of) else { continue };
            out.insert(
                path.clone(),
                FileRecord {
                    path,
                    folder: text(f.folder).unwrap_or_default(),
                    size: doc.get_first(f.size).and_then(|v| v.as_u64()).unwrap_or(0),
                    mtime_ns: doc.get_first(f.mtime_ns).and_then(|v| v.as_i64()).unwrap_or(0),
                    hash: text(f.hash).unwrap_or_default(),
                    passages: doc.get_first(f.passages).and_then(|v| v.as_u64()).unwrap_or(0),
                    skipped: text(f.skipped),
                    note: text(f.note),
                },
            );
        }
        Ok(out)
    }

    /// Files, passages and skipped files, per folder and in all.
    pub fn status(&self, folders: &[Folder]) -> Result<Status> {
        let records = self.records()?;
        let mut status = Status {
            index_dir: self.dir.clone(),
            last_update: self.last_update(),
            index_bytes: dir_size(&self.dir),
            ..Status::default()
        };
        for folder in folders {
            let key = folder.path.to_string_lossy();
            let mut fs = FolderStatus {
                path: folder.path.clone(),
                local_only: folder.local_only,
                exists: folder.path.is_dir(),
                ..FolderStatus::default()
            };
            for r in records.values().filter(|r| r.folder == key) {
                match &r.skipped {
                    Some(reason) => {
                        status.skipped.push(SkippedFile { path: PathBuf::from(&r.path), reason: reason.clone() })
                    }
                    None => {
                        fs.files += 1;
                        fs.passages += r.passages;
                        fs.bytes += r.size;
                        if let Some(note) = &r.note {
                            status.notes.push(SkippedFile { path: PathBuf::from(&r.path), reason: note.clone() });
                        }
                    }
                }
            }
            status.files += fs.files;
            status.passages += fs.passages;
            status.bytes += fs.bytes;
            status.folders.push(fs);
        }
        status.skipped.sort_by(|a, b| a.path.cmp(&b.path));
        status.notes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(status)
    }

    /// When the last commit happened (Unix seconds), from the commit payload.
    pub fn last_update(&self) -> Option<i64> {
        self.index.load_metas().ok()?.payload?.parse().ok()
    }
}

/// Moves a damaged index out of the way (keeping one copy for a bug report).
fn set_aside(data: &Path) -> Result<()> {
    if !data.exists() {
        return Ok(());
    }
    let aside = data.with_file_name("tantivy.old");
    let _ = std::fs::remove_dir_all(&aside);
    std::fs::rename(data, &aside).map_err(IndexError::io("cannot move aside", data))
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// `frugal index status`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// Where the index lives.
    pub index_dir: PathBuf,
    /// Per folder.
    pub folders: Vec<FolderStatus>,
    /// Files indexed.
    pub files: u64,
    /// Passages indexed.
    pub passages: u64,
    /// Bytes of the files indexed.
    pub bytes: u64,
    /// Size of the index on disk.
    pub index_bytes: u64,
    /// Last commit, Unix seconds.
    pub last_update: Option<i64>,
    /// Files not indexed, each with its reason.
    pub skipped: Vec<SkippedFile>,
    /// Files indexed with a remark (invalid UTF-8 replaced, …).
    pub notes: Vec<SkippedFile>,
}

/// One folder's share.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FolderStatus {
    /// The folder.
    pub path: PathBuf,
    /// Its passages never leave the machine.
    pub local_only: bool,
    /// Whether it is there now.
    pub exists: bool,
    /// Files indexed.
    pub files: u64,
    /// Passages.
    pub passages: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// A file with a reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// Why (one line).
    pub reason: String,
}

/// A failure to open that is the system's, not the index's — permission denied, too many
/// open files, memory short — as the I/O error it is; `None` for everything else, which is
/// taken for damage.
fn passing_trouble(e: &tantivy::TantivyError) -> Option<std::io::Error> {
    use tantivy::directory::error::{OpenDirectoryError, OpenReadError};
    let io = match e {
        tantivy::TantivyError::IoError(io) => io,
        tantivy::TantivyError::OpenReadError(OpenReadError::IoError { io_error, .. }) => io_error,
        tantivy::TantivyError::OpenDirectoryError(OpenDirectoryError::IoError { io_error, .. }) => io_error,
        _ => return None,
    };
    // EMFILE, ENFILE, ENOMEM: the system's limits, not the files'.
    let passing = io.kind() == std::io::ErrorKind::PermissionDenied
        || io.kind() == std::io::ErrorKind::OutOfMemory
        || matches!(io.raw_os_error(), Some(12 | 23 | 24));
    passing.then(|| std::io::Error::new(io.kind(), io.to_string()))
}

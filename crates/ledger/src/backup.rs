//! The ledger's copy of itself. The ledger is the only memory of what this month cost: if it
//! is emptied, deleted or damaged, a fresh one would read as "nothing spent" and let the cap
//! be spent a second time. So the ledger keeps a backup beside it (taken with SQLite's
//! `VACUUM INTO`, a consistent snapshot, after every settled cloud request and at least once
//! a day), and a ledger that is gone or empty while its backup exists is refused until the
//! user restores the backup or confirms a reset.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use crate::error::{first_line, LedgerError, Result};

/// A backup older than this is refreshed when the ledger opens.
const REFRESH_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Backups after cloud requests are at most this frequent (each is a full snapshot); the
/// last one is taken when the ledger closes.
const EVERY: Duration = Duration::from_secs(30);

/// What one process knows of its backups, shared by its ledger and the ledger's checkpointer
/// thread (which takes the ones due after requests): when one was last asked for, and
/// whether the backup holds all the money this process moved.
#[derive(Debug, Default)]
pub(crate) struct Backups {
    state: Mutex<State>,
    /// Held while a backup is written: one at a time, so an older snapshot never replaces a
    /// newer one.
    writing: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    asked: Option<Instant>,
    /// Batches whose settlements moved money, counted; `saved` of them are in the backup.
    moved: u64,
    saved: u64,
}

impl Backups {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that money moved; true when a backup is due now (none asked for lately).
    pub(crate) fn moved(&self) -> bool {
        let mut s = self.state();
        s.moved += 1;
        let due = s.asked.is_none_or(|t| t.elapsed() >= EVERY);
        if due {
            s.asked = Some(Instant::now());
        }
        due
    }

    /// Money moved that the backup does not hold yet.
    pub(crate) fn dirty(&self) -> bool {
        let s = self.state();
        s.moved != s.saved
    }

    /// Writes the backup of the ledger at `path` through `conn` (any connection to it) and
    /// notes what it holds: everything moved before it started.
    pub(crate) fn write(&self, conn: &Connection, path: &Path) -> Result<()> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let moved = self.state().moved;
        write(conn, path)?;
        let mut s = self.state();
        s.saved = s.saved.max(moved);
        s.asked.get_or_insert_with(Instant::now);
        Ok(())
    }
}

/// Where the backup of the ledger at `path` lives: beside it, `NAME.backup`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".backup");
    path.with_file_name(name)
}

/// When the backup was taken, as `2026-11-30 10:04 UTC`; `None` when there is none.
pub fn backup_taken(path: &Path) -> Option<String> {
    let modified = std::fs::metadata(backup_path(path)).and_then(|m| m.modified()).ok()?;
    let secs = modified.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(utc_minute(secs))
}

/// What the user can do about a ledger that cannot be used, for the end of an error message.
pub(crate) fn recovery_hint(path: &Path) -> String {
    match backup_taken(path) {
        Some(when) => format!(
            "`frugal spend --restore` puts back its backup of {when}, `frugal spend --reset` starts a new, empty ledger"
        ),
        None => "move it aside to start a new one".into(),
    }
}

/// Refuses a ledger that has lost its contents: missing or 0 bytes while its backup exists.
/// A first start (no ledger, no backup) is fine.
pub(crate) fn check_not_lost(path: &Path) -> Result<()> {
    if !backup_path(path).is_file() {
        return Ok(());
    }
    let what = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "is gone",
        Ok(m) if m.len() == 0 => "is empty",
        _ => return Ok(()),
    };
    Err(LedgerError::Lost { path: path.to_path_buf(), what, hint: recovery_hint(path) })
}

/// Writes a fresh backup of the database behind `conn`: a snapshot into a temporary file,
/// renamed over the old backup, so a crash never leaves a half-written one.
pub(crate) fn write(conn: &Connection, path: &Path) -> Result<()> {
    let backup = backup_path(path);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut tmp_name = backup.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    tmp_name.push(format!(".{}-{nanos}.tmp", std::process::id()));
    let tmp = backup.with_file_name(tmp_name);
    let target = tmp.to_string_lossy().to_string();
    let done = conn.execute("VACUUM INTO ?1", [&target]).map_err(|e| LedgerError::Database {
        path: path.to_path_buf(),
        reason: format!("cannot back up: {}", first_line(&e.to_string())),
    });
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &backup).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        LedgerError::Io { what: "write the backup", path: backup.clone(), error: e }
    })
}

/// Whether the backup is missing or older than a day.
pub(crate) fn is_stale(path: &Path) -> bool {
    let age = std::fs::metadata(backup_path(path))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    age.is_none_or(|a| a > REFRESH_AFTER)
}

/// Puts the backup back in place of the ledger at `path`. What was there (an empty or damaged
/// file, with its WAL) is moved aside, never deleted. Returns when the backup was taken.
pub fn restore(path: &Path) -> Result<String> {
    let backup = backup_path(path);
    let Some(when) = backup_taken(path) else {
        return Err(LedgerError::Invalid(format!("there is no backup of the spend ledger at {}", path.display())));
    };
    // Only a ledger that is gone, empty or unreadable is replaced: a working one holds what
    // came after the backup, and putting the backup over it would forget that spending.
    if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) && quick_check(path).is_ok() {
        return Err(LedgerError::Invalid(format!(
            "the spend ledger at {} is readable: restoring its backup of {when} would forget what was spent since; move the ledger aside first if that is what you want",
            path.display()
        )));
    }
    // Check the backup before anything moves: restoring garbage would help no one.
    check_backup(&backup)?;
    move_aside(path, "damaged")?;
    let tmp = path.with_file_name(format!(
        "{}.restoring",
        path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
    ));
    std::fs::copy(&backup, &tmp).map_err(LedgerError::io("copy the backup to", &tmp))?;
    std::fs::rename(&tmp, path).map_err(LedgerError::io("restore", path))?;
    Ok(when)
}

/// Starts a new, empty ledger: the current file (if any) and the backup are moved aside, so
/// the history stays on disk for whoever wants it. The next open creates the ledger.
pub fn reset(path: &Path) -> Result<Vec<PathBuf>> {
    let mut moved = Vec::new();
    moved.extend(move_aside(path, "before-reset")?);
    moved.extend(move_aside(&backup_path(path), "before-reset")?);
    Ok(moved)
}

fn check_backup(backup: &Path) -> Result<()> {
    quick_check(backup).map_err(|reason| LedgerError::Corrupt {
        path: backup.to_path_buf(),
        reason,
        hint: "the backup cannot be restored; `frugal spend --reset` starts a new ledger".into(),
    })
}

/// SQLite's own consistency check of the file at `path`, read-only; the reason if it fails.
fn quick_check(path: &Path) -> std::result::Result<(), String> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| first_line(&e.to_string()))?;
    let ok: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| first_line(&e.to_string()))?;
    if ok != "ok" {
        return Err(first_line(&ok));
    }
    // A file SQLite opens but that holds no ledger (the table gone) is no ledger either.
    conn.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get::<_, i64>(0))
        .map_err(|e| first_line(&e.to_string()))?;
    Ok(())
}

/// Renames `path` (and its `-wal`/`-shm` companions) to `path.TAG-UNIXSECS`, if it exists.
fn move_aside(path: &Path, tag: &str) -> Result<Option<PathBuf>> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut first = None;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(suffix);
        let from = path.with_file_name(&name);
        if !from.exists() {
            continue;
        }
        name.push(format!(".{tag}-{secs}"));
        // Never over another moved-aside file: rename would replace it.
        let mut to = path.with_file_name(&name);
        let mut n = 1;
        while to.exists() {
            n += 1;
            to = path.with_file_name(format!("{}-{n}", name.to_string_lossy()));
        }
        std::fs::rename(&from, &to).map_err(LedgerError::io("move aside", &from))?;
        first.get_or_insert(to);
    }
    Ok(first)
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
fn utc_minute(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backup_sits_beside_the_ledger() {
        assert_eq!(backup_path(Path::new("/d/ledger.sqlite3")), Path::new("/d/ledger.sqlite3.backup"));
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_795_305_600 + 3_660), "2026-11-22 01:01 UTC");
    }
}

//! WAL checkpoints off the request path. With SQLite's automatic checkpoint, the commit that
//! pushes the WAL past 1,000 pages copies it into the database and waits for its `fsync`
//! — tens of milliseconds, paid by whichever request happened to commit then (every ~80
//! cloud requests: the p99 of the gateway). Here the ledger's own connection never
//! checkpoints; a thread with its own connection does, shortly after writes, while requests
//! keep appending to the WAL. Idle, it sleeps on a channel: no wake-ups.
//!
//! The same thread takes the backups due after requests (see `backup::Backups`): `VACUUM
//! INTO` reads a snapshot through its own connection, which in WAL mode never blocks the
//! requests' writes; on the ledger's connection it held every request behind it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::backup::Backups;

/// How long after a write the checkpoint runs: writes in a burst share one.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// The checkpointing thread; stopped and joined when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wrote: Option<SyncSender<()>>,
    /// A checkpoint is due: the commits until it runs need not wake the thread again (under
    /// the gateway's load, one wake-up per commit was thousands a second).
    due: Arc<AtomicBool>,
    /// A backup is asked for: taken after the next checkpoint.
    backup: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the ledger at `path`; `None` when its connection or thread cannot
    /// be had (the caller then keeps SQLite's automatic checkpoints).
    pub(crate) fn start(path: &Path, backups: Arc<Backups>) -> Option<Self> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(Duration::from_secs(1)).ok()?;
        let (wrote, rx) = sync_channel::<()>(1);
        let (due, backup) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let work = Work { due: due.clone(), backup: backup.clone(), backups, path: path.to_path_buf() };
        let thread = std::thread::Builder::new()
            .name("frugal-ledger-checkpoint".into())
            .spawn(move || run(&conn, &rx, &work))
            .ok()?;
        Some(Self { wrote: Some(wrote), due, backup, thread: Some(thread) })
    }

    /// Asks for a backup, taken with the thread's own connection; never blocks.
    pub(crate) fn back_up(&self) {
        self.backup.store(true, Ordering::Release);
        self.wrote();
    }

    /// Says a transaction committed; never blocks.
    pub(crate) fn wrote(&self) {
        if self.due.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(tx) = &self.wrote {
            match tx.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
            }
        }
    }
}

/// What the thread is asked to do, and where.
struct Work {
    due: Arc<AtomicBool>,
    backup: Arc<AtomicBool>,
    backups: Arc<Backups>,
    path: PathBuf,
}

fn run(conn: &Connection, rx: &Receiver<()>, work: &Work) {
    while rx.recv().is_ok() {
        // Writes during the next moment share this checkpoint; a closing ledger ends the
        // thread at once (closing the last connection checkpoints anyway).
        let due = Instant::now() + DEBOUNCE;
        loop {
            match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        // Commits from now on ask for the next checkpoint.
        work.due.store(false, Ordering::Release);
        // PASSIVE: copies what no reader still needs and never waits for a writer. A busy or
        // failed checkpoint is simply retried after the next write (and on close).
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        // A failed backup leaves the money it missed marked, for the next one or the close.
        if work.backup.swap(false, Ordering::AcqRel) {
            let _ = work.backups.write(conn, &work.path);
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wrote = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

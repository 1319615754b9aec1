//! The SQLite spend ledger: every request is a row, reserved at its worst case before a cloud
//! call and settled to the real cost after. Reservation and cap check happen in one
//! `BEGIN IMMEDIATE` transaction, so the cap holds across threads and processes; under load
//! the reservations and settlements of many threads share that transaction (see `group`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::error::{LedgerError, Result};
use crate::group::Op;

use crate::prices::{usd, TokenCounts};

/// Schema migrations, applied in order; `PRAGMA user_version` is how many have run. Append
/// only: a shipped migration is never edited, because users' files already ran it.
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        run_id TEXT NOT NULL,
        task TEXT NOT NULL,
        route TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        reserved_micros INTEGER NOT NULL DEFAULT 0,
        cost_micros INTEGER NOT NULL DEFAULT 0,
        reference_cost_micros INTEGER,
        latency_ms INTEGER,
        state TEXT NOT NULL,
        outcome TEXT,
        escalation TEXT,
        note TEXT,
        owner_pid INTEGER NOT NULL
    );
    CREATE INDEX requests_started_at ON requests (started_at);
    CREATE INDEX requests_run_id ON requests (run_id);
    CREATE INDEX requests_pending ON requests (state) WHERE state = 'pending';",
    // The cap check sums the month's cloud money on every reservation: a covering index
    // over cloud rows only makes that an index-only scan that local rows never lengthen.
    "CREATE INDEX requests_cloud_money ON requests (started_at, state, cost_micros, reserved_micros)
        WHERE route = 'cloud';",
    // What the user did with each answer (see `outcomes`): one row per run, the last word.
    "CREATE TABLE outcomes (
        run_id TEXT PRIMARY KEY,
        feedback TEXT NOT NULL,
        useful INTEGER NOT NULL,
        note TEXT,
        recorded_at INTEGER NOT NULL
    );",
    // The gateway's apps (see `apps`): each request records the app it came from, and an
    // app's monthly cap sums its own cloud money, through its own covering index.
    "ALTER TABLE requests ADD COLUMN app TEXT;
    CREATE INDEX requests_app_money ON requests (app, started_at, state, cost_micros, reserved_micros)
        WHERE route = 'cloud' AND app IS NOT NULL;
    CREATE TABLE apps (
        name TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        monthly_micros INTEGER,
        local_only INTEGER NOT NULL DEFAULT 0,
        models TEXT NOT NULL DEFAULT '',
        cache INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
    );",
    // The cloud's cost levers (see `batches`): what prompt caching and batch pricing saved on
    // each row, the hash of the prompt prefix it offered for caching, and the batch a row
    // was sent in (its reservation held until the batch's results come back).
    "ALTER TABLE requests ADD COLUMN cache_saved_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN batch_saved_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN prefix_hash TEXT;
    ALTER TABLE requests ADD COLUMN batch_id INTEGER;
    CREATE INDEX requests_prefix ON requests (prefix_hash, started_at) WHERE prefix_hash IS NOT NULL;
    CREATE INDEX requests_batch ON requests (batch_id) WHERE batch_id IS NOT NULL;
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        task TEXT NOT NULL,
        remote_id TEXT,
        state TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        finished_at INTEGER,
        note TEXT,
        owner_pid INTEGER NOT NULL,
        expected_micros INTEGER NOT NULL DEFAULT 0
    );",
    // What context pruning kept out of a run's prompt (on its last row), and what a batch
    // needs to be settled safely: the prices it was submitted at, the polls in a row that
    // found the provider not knowing it, and when its current claim was taken.
    "ALTER TABLE requests ADD COLUMN pruned_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN pruned_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE batches ADD COLUMN pricing TEXT NOT NULL DEFAULT '';
    ALTER TABLE batches ADD COLUMN misses INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE batches ADD COLUMN claimed_at INTEGER;",
    // Which process of that pid owns a pending row (see `process_start`): a pid is reused,
    // by the next run of a server that always gets the same one (PID 1 in a container) or
    // by any process later, and a row whose owner was killed must not stay reserved for as
    // long as the pid's new holder lives.
    "ALTER TABLE requests ADD COLUMN owner_start INTEGER;",
];

/// How long a writer waits for another (thread or process) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where pending rows of dead processes are presumed dead on systems without a process probe.
#[cfg(not(unix))]
const STALE_AFTER_MS: i64 = 24 * 3_600_000;

const INTERRUPTED_NOTE: &str = "interrupted (the process ended before the answer); charged at its worst case";

/// The first bytes of every SQLite 3 file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Where a request ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// On this machine: free, but its reference cost counts as savings.
    Local,
    /// At a cloud provider: reserved and capped.
    Cloud,
}

impl Route {
    /// The name stored in the ledger.
    pub fn as_str(&self) -> &'static str {
        match self {
            Route::Local => "local",
            Route::Cloud => "cloud",
        }
    }

    fn from_db(s: &str) -> Option<Route> {
        [Route::Local, Route::Cloud].into_iter().find(|r| r.as_str() == s)
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An answer came back.
    Ok,
    /// The provider or engine failed.
    Failed,
    /// The user cancelled.
    Cancelled,
    /// The budget refused it before it was sent.
    Refused,
    /// The process ended before the answer; charged at the worst case.
    Interrupted,
}

impl Outcome {
    /// The name stored in the ledger.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Refused => "refused",
            Outcome::Interrupted => "interrupted",
        }
    }

    fn from_db(s: &str) -> Option<Outcome> {
        [Outcome::Ok, Outcome::Failed, Outcome::Cancelled, Outcome::Refused, Outcome::Interrupted]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Whether a row still holds a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Reserved, not yet settled: its reservation counts against the budget.
    Pending,
    /// Final: its cost counts against the budget.
    Settled,
}

impl State {
    /// The name stored in the ledger.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Settled => "settled",
        }
    }

    fn from_db(s: &str) -> Option<State> {
        [State::Pending, State::Settled].into_iter().find(|o| o.as_str() == s)
    }
}

/// Spending caps in micro-dollars; `None` means no cap. The ledger applies exactly these: the
/// caller decides what an unset monthly cap means for the cloud.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Per local calendar month.
    pub monthly_micros: Option<i64>,
    /// Per local calendar day.
    pub daily_micros: Option<i64>,
    /// Per request (its worst case).
    pub per_request_micros: Option<i64>,
    /// Per calendar month for the request's app ([`NewRequest::app`]), inside the others.
    pub app_monthly_micros: Option<i64>,
}

/// A request about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// When it starts (unix ms); also picks the month and day it is charged to.
    pub at_ms: i64,
    /// Groups the requests of one user-level task run (escalations, retries).
    pub run_id: String,
    /// The task (`ask`, `summarize`, …).
    pub task: String,
    /// Local or cloud.
    pub route: Route,
    /// The provider's configured name.
    pub provider: String,
    /// The model name.
    pub model: String,
    /// The worst-case cost to hold until settled; 0 for local requests (no cap check).
    pub reserved_micros: i64,
    /// Why the router escalated to this route, if it did.
    pub escalation: Option<String>,
    /// The gateway app that sent it (`None`: Frugal's own tasks).
    pub app: Option<String>,
    /// A hash of the prompt prefix it offered a cloud cache, if any: the next request with
    /// the same prefix knows it may be cached (see [`Ledger::prefix_recent`]).
    pub prefix_hash: Option<String>,
}

/// What the cloud's cost levers saved on one request, against the same tokens at the full
/// interactive price: prompt caching (negative when a cache write was never read back, or
/// not yet) and the batch discount. For a local row, `cache` is what its reused KV prefix
/// would have cost as fresh input at the reference price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Levers {
    /// Saved by prompt caching.
    pub cache_micros: i64,
    /// Saved by batch pricing.
    pub batch_micros: i64,
}

/// A granted reservation. Not `Clone`: it is settled exactly once. A ticket dropped without
/// [`Ledger::settle`] keeps its reservation until this process ends and the next open
/// charges it at the worst case, so always settle, also on failure or cancel.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "settle the ticket, or its worst case stays reserved"]
pub struct Ticket {
    id: i64,
    reserved_micros: i64,
    /// When the row started and its app: which running totals its settlement moves.
    started_ms: i64,
    app: Option<String>,
}

impl Ticket {
    pub(crate) fn new(id: i64, reserved_micros: i64, started_ms: i64, app: Option<String>) -> Ticket {
        Ticket { id, reserved_micros, started_ms, app }
    }

    /// When its row started: the month and day its money counts in.
    pub(crate) fn started_ms(&self) -> i64 {
        self.started_ms
    }

    /// The gateway app it was reserved for.
    pub(crate) fn app(&self) -> Option<&str> {
        self.app.as_deref()
    }

    /// The ledger row id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// What was reserved.
    pub fn reserved_micros(&self) -> i64 {
        self.reserved_micros
    }
}

/// How a request ended, with its real cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// When it finished (unix ms).
    pub finished_ms: i64,
    /// The provider's token counts.
    pub tokens: TokenCounts,
    /// What it cost (`Price::cost`); 0 for local requests.
    pub cost_micros: i64,
    /// What the same tokens would cost on the reference cloud model: the savings of a local row.
    pub reference_cost_micros: Option<i64>,
    /// Time to the full answer.
    pub latency_ms: i64,
    /// How it ended.
    pub outcome: Outcome,
    /// A one-line error, if any (only the first line is kept).
    pub note: Option<String>,
    /// What caching and batching saved on it.
    pub levers: Levers,
}

/// Which cap refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// The monthly budget.
    Monthly,
    /// The daily budget.
    Daily,
    /// The per-request limit.
    PerRequest,
    /// The monthly cap of the gateway app the request came from.
    App,
}

/// Why a request was refused, in numbers; its `Display` is the sentence the user sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The cap that refused it.
    pub limit: LimitKind,
    /// That cap.
    pub cap_micros: i64,
    /// Settled spend in the period (0 for the per-request limit).
    pub spent_micros: i64,
    /// Pending reservations in the period (0 for the per-request limit).
    pub reserved_micros: i64,
    /// This request's worst case.
    pub needed_micros: i64,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needed = dollars(self.needed_micros, false);
        let period = match self.limit {
            LimitKind::PerRequest => {
                let cap = dollars(self.cap_micros, true);
                return write!(f, "this request could cost up to {needed}, over the per-request limit of {cap}");
            }
            LimitKind::Monthly => "monthly",
            LimitKind::Daily => "daily",
            LimitKind::App => "app's monthly",
        };
        let left = (self.cap_micros - self.spent_micros - self.reserved_micros).max(0);
        write!(
            f,
            "the {period} budget of {} has {} left (spent {}, {} reserved); this request could cost up to {needed}",
            dollars(self.cap_micros, true),
            dollars(left, false),
            dollars(self.spent_micros, false),
            dollars(self.reserved_micros, false),
        )
    }
}

/// Dollars for a sentence: 4 decimals (6 when that would hide a non-zero amount); a cap in
/// whole cents reads as one (`$5.00`).
fn dollars(micros: i64, cap: bool) -> String {
    let decimals = if cap && micros % 10_000 == 0 {
        2
    } else if micros != 0 && micros.abs() < 100 {
        6
    } else {
        4
    };
    format!("${:.*}", decimals, usd(micros))
}

/// The spend ledger. `Send + Sync`: share one in an `Arc`; other processes may open the same
/// file at the same time.
#[derive(Debug)]
pub struct Ledger {
    conn: Mutex<Connection>,
    /// Reservations and settlements waiting to be written together (see `group`).
    pub(crate) queue: crate::group::Queue,
    /// The cloud money of the current month and day, for the cap checks (see `totals`).
    /// Locked only while `conn` is held.
    pub(crate) totals: Mutex<Option<crate::totals::Totals>>,
    path: PathBuf,
    pub(crate) pid: u32,
    /// When this process last asked for a backup, and whether the backup holds all the money
    /// moved; shared with the checkpointer, which takes the backups due after requests.
    backups: Arc<crate::backup::Backups>,
    /// Checkpoints the WAL off the request path (`None`: SQLite's automatic ones).
    checkpointer: Option<crate::checkpoint::Checkpointer>,
    /// Each task's prefix reuse, as last counted (see `Ledger::prefix_reuse`).
    pub(crate) reuse: crate::batches::ReuseMemo,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        // Its backup in flight is finished first: one backup is written at a time.
        drop(self.checkpointer.take());
        if self.backups.dirty() {
            // Best effort: a failed backup on the way out leaves the previous one.
            let _ = self.back_up();
        }
    }
}

impl Ledger {
    /// Opens (or creates) the ledger at `path`, migrating it, and settles the reservations
    /// of processes that died before settling them, at their worst case. The notice says
    /// what was settled, for the user. A file that is not a ledger is never changed.
    pub fn open(path: impl AsRef<Path>) -> Result<(Ledger, Option<String>)> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(LedgerError::io("create the folder", parent))?;
        }
        crate::backup::check_not_lost(&path)?;
        check_magic(&path)?;
        let mut conn = Connection::open(&path).map_err(|e| LedgerError::sqlite(&path, e))?;
        // Switching a new file to WAL takes an exclusive lock without waiting on the busy
        // handler, so two processes creating the ledger at once retry here instead.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match prepare(&mut conn, &path) {
                Err(LedgerError::Busy(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other?,
            }
        }
        let backups = Arc::new(crate::backup::Backups::default());
        let checkpointer = crate::checkpoint::Checkpointer::start(&path, backups.clone());
        if checkpointer.is_some() {
            conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(|e| LedgerError::sqlite(&path, e))?;
        }
        let ledger = Ledger {
            conn: Mutex::new(conn),
            queue: Default::default(),
            totals: Mutex::default(),
            path,
            pid: std::process::id(),
            backups,
            checkpointer,
            reuse: Default::default(),
        };
        let mut notice = ledger.settle_stale()?;
        if crate::backup::is_stale(&ledger.path) {
            if let Err(e) = ledger.back_up() {
                notice = Some(format!("{}{e}", notice.map(|n| format!("{n}; ")).unwrap_or_default()));
            }
        }
        Ok((ledger, notice))
    }

    /// Refreshes the ledger's backup beside it (see `backup_path`). An in-memory ledger has none.
    pub fn back_up(&self) -> Result<()> {
        if self.path == Path::new(":memory:") {
            return Ok(());
        }
        self.backups.write(&self.conn(), &self.path)
    }

    /// Takes the backup now if money moved since the last one: for a process about to exit
    /// without dropping the ledger (`process::exit`, the tray app's Quit).
    pub fn flush_backup(&self) -> Result<()> {
        if self.backups.dirty() {
            self.back_up()?;
        }
        Ok(())
    }

    /// Notes that money moved; a backup is taken unless one was asked for moments ago (then
    /// the next one, or closing the ledger, takes it). The checkpointer takes it, with its
    /// own connection: a `VACUUM INTO` of a year's ledger on the request path would stall
    /// every request behind it (WAL readers never block writers).
    pub(crate) fn money_moved(&self) -> Result<()> {
        if self.backups.moved() {
            match &self.checkpointer {
                Some(c) => c.back_up(),
                None => self.back_up()?,
            }
        }
        Ok(())
    }

    /// Whether a backup due after requests is taken by the caller (no checkpointer thread).
    pub(crate) fn backs_up_in_place(&self) -> bool {
        self.checkpointer.is_none()
    }

    /// Wakes the checkpointer: the WAL grew.
    pub(crate) fn wrote(&self) {
        if let Some(c) = &self.checkpointer {
            c.wrote();
        }
    }

    /// A ledger that lives in memory, for tests and examples.
    pub fn in_memory() -> Result<Ledger> {
        let path = PathBuf::from(":memory:");
        let mut conn = Connection::open_in_memory().map_err(|e| LedgerError::sqlite(&path, e))?;
        prepare(&mut conn, &path)?;
        Ok(Ledger {
            conn: Mutex::new(conn),
            queue: Default::default(),
            totals: Mutex::default(),
            path,
            pid: std::process::id(),
            backups: Default::default(),
            checkpointer: None,
            reuse: Default::default(),
        })
    }

    /// The ledger file (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection; a panic in another thread leaves it usable (its transaction rolled back).
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection if nobody holds it now.
    pub(crate) fn try_conn(&self) -> Option<MutexGuard<'_, Connection>> {
        match self.conn.try_lock() {
            Ok(c) => Some(c),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    pub(crate) fn db(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |e| LedgerError::sqlite(&self.path, e)
    }

    /// Charges the pending rows of processes that are gone at their worst case: we cannot know
    /// what the provider billed, and under-counting would let the cap be crossed.
    fn settle_stale(&self) -> Result<Option<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(self.db())?;
        type Pending = (i64, i64, i64, i64, Option<i64>);
        let pending: Vec<Pending> = {
            let mut stmt = tx
                .prepare(
                    "SELECT id, owner_pid, started_at, reserved_micros, owner_start FROM requests
                    WHERE state = 'pending' AND NOT (batch_id IS NOT NULL AND owner_pid = 0)",
                )
                .map_err(self.db())?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                .map_err(self.db())?;
            rows.collect::<rusqlite::Result<_>>().map_err(self.db())?
        };
        let now = now_ms();
        let (mut count, mut total) = (0u64, 0i64);
        for (id, pid, started_at, reserved, start) in pending {
            // A row of this pid is ours only if this process wrote it (rows from before the
            // column existed are presumed ours, as before).
            let alive = if pid == i64::from(self.pid) {
                start.is_none_or(|s| s == own_start())
            } else {
                process_alive(pid, start, started_at, now)
            };
            if alive {
                continue;
            }
            tx.execute(
                "UPDATE requests SET state = 'settled', outcome = 'interrupted', cost_micros = reserved_micros,
                    finished_at = ?2, note = ?3 WHERE id = ?1 AND state = 'pending'",
                params![id, now, INTERRUPTED_NOTE],
            )
            .map_err(self.db())?;
            count += 1;
            total = total.saturating_add(reserved);
        }
        crate::batches::settle_stale_batches(&tx, self.pid).map_err(self.db())?;
        tx.commit().map_err(self.db())?;
        *self.totals.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok((count > 0).then(|| {
            let (s, its) = if count == 1 { ("", "its") } else { ("s", "their") };
            format!("settled {count} interrupted request{s} at {its} worst case ({})", dollars(total, false))
        }))
    }

    /// Reserves `req.reserved_micros` against `limits`, atomically across threads and
    /// processes. Refused: a `refused` row is recorded (so the report can show it) and
    /// [`LedgerError::Refused`] says why. Local requests (nothing reserved) are just recorded.
    pub fn begin(&self, req: NewRequest, limits: &Limits) -> Result<Ticket> {
        self.submit(Op::begin(req, limits)?).begun()
    }

    /// As [`Ledger::begin`], for a task on an async runtime: waiting for the batch of another
    /// caller never blocks the runtime's worker (see `group`).
    pub async fn begin_async(&self, req: NewRequest, limits: &Limits) -> Result<Ticket> {
        self.submit_async(Op::begin(req, limits)?).await.begun()
    }

    /// As [`Ledger::settle`], for a task on an async runtime.
    pub async fn settle_async(&self, ticket: Ticket, s: Settlement) -> Result<()> {
        self.submit_async(Op::settle(ticket, s)?).await.settled()
    }

    /// Records the real outcome and cost, releasing the unused part of the reservation. Only a
    /// pending row is changed; otherwise [`LedgerError::NotPending`] and the row stays as it was.
    pub fn settle(&self, ticket: Ticket, s: Settlement) -> Result<()> {
        self.submit(Op::settle(ticket, s)?).settled()
    }

    /// One row by id (a ticket's), if it exists.
    pub fn row(&self, id: i64) -> Result<Option<Row>> {
        let conn = self.conn();
        conn.query_row(&format!("SELECT {ROW_COLUMNS} FROM requests WHERE id = ?1"), [id], Row::from_sql)
            .optional()
            .map_err(self.db())
    }
}

/// Sets the connection up and migrates the schema; safe to retry.
fn prepare(conn: &mut Connection, path: &Path) -> Result<()> {
    let db = |e| LedgerError::sqlite(path, e);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    // Read-only first: a file from a newer Frugal must not even get its journal mode changed.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db)?;
    check_version(path, version)?;
    // WAL: readers (the tray app's report) never block the writer reserving a request.
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)).map_err(db)?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    // Again inside the lock: another process may have migrated meanwhile.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db)?;
    check_version(path, version)?;
    let done = usize::try_from(version).unwrap_or(0);
    for migration in &MIGRATIONS[done..] {
        tx.execute_batch(migration).map_err(db)?;
    }
    if done < MIGRATIONS.len() {
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64).map_err(db)?;
    }
    tx.commit().map_err(db)
}

/// Refuses a file that exists, is not empty and is not SQLite, before SQLite opens it.
fn check_magic(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LedgerError::Io { what: "open", path: path.to_path_buf(), error: e }),
    };
    let mut head = Vec::with_capacity(16);
    file.by_ref().take(16).read_to_end(&mut head).map_err(LedgerError::io("read", path))?;
    if !head.is_empty() && head.as_slice() != SQLITE_MAGIC {
        return Err(LedgerError::Corrupt {
            path: path.to_path_buf(),
            reason: "not an SQLite database".into(),
            hint: crate::backup::recovery_hint(path),
        });
    }
    Ok(())
}

fn check_version(path: &Path, version: i64) -> Result<()> {
    if version > MIGRATIONS.len() as i64 || version < 0 {
        return Err(LedgerError::Newer { path: path.to_path_buf(), found: version });
    }
    Ok(())
}

/// The cap that this request would cross, if any. Spend in a period is settled cost plus
/// pending reservations of requests started in it.
pub(crate) fn check_limits(totals: &crate::totals::Totals, req: &NewRequest, limits: &Limits) -> Option<Refusal> {
    let needed = req.reserved_micros;
    if let Some(cap) = limits.per_request_micros.filter(|&cap| needed > cap) {
        return Some(Refusal {
            limit: LimitKind::PerRequest,
            cap_micros: cap,
            spent_micros: 0,
            reserved_micros: 0,
            needed_micros: needed,
        });
    }
    let app = req.app.as_deref().map(|a| totals.app(a));
    let periods = [
        (LimitKind::Monthly, limits.monthly_micros, Some(totals.month_money)),
        (LimitKind::Daily, limits.daily_micros, Some(totals.day_money)),
        (LimitKind::App, limits.app_monthly_micros, app),
    ];
    for (limit, cap, money) in periods {
        let (Some(cap), Some(m)) = (cap, money) else { continue };
        if m.spent.saturating_add(m.reserved).saturating_add(needed) > cap {
            return Some(Refusal {
                limit,
                cap_micros: cap,
                spent_micros: m.spent,
                reserved_micros: m.reserved,
                needed_micros: needed,
            });
        }
    }
    None
}

/// Token counts are stored as SQLite integers (i64).
pub(crate) fn db_u64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whether the process that owns a pending row may still settle it. Unsure means alive: a
/// held reservation only blocks spending, a wrongly charged one misstates history. A live
/// process of that pid that started at another time than the row's owner is another
/// process (the pid was reused).
#[cfg(unix)]
pub(crate) fn process_alive(pid: i64, owner_start: Option<i64>, _started_at: i64, _now: i64) -> bool {
    use rustix::io::Errno;
    let Some(raw) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    match rustix::process::test_kill_process(raw) {
        Ok(()) => match (owner_start, process_start(pid)) {
            (Some(owner), Some(now)) => owner == now,
            _ => true,
        },
        Err(e) => e != Errno::SRCH,
    }
}

/// Without a portable process probe, a reservation older than a day is presumed orphaned.
#[cfg(not(unix))]
pub(crate) fn process_alive(_pid: i64, _owner_start: Option<i64>, started_at: i64, now: i64) -> bool {
    now - started_at < STALE_AFTER_MS
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat`, field 22): with
/// the pid, it names one process (a pid is reused only by a process started later). `None`
/// where there is no `/proc` or the process is gone.
fn process_start(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or ')': the fields
    // after the last ')' start at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This process's `owner_start`: its start time where `/proc` says it, else a number drawn
/// once (the rows are still told apart from another process's of the same pid).
pub(crate) fn own_start() -> i64 {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        process_start(i64::from(std::process::id())).unwrap_or_else(|| {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
            );
            // Negative: never a start time in ticks.
            -((h.finish() >> 2) as i64) - 1
        })
    })
}

/// A ledger row as stored, for reports and export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Row id.
    pub id: i64,
    /// Start, unix ms UTC.
    pub started_at_ms: i64,
    /// Start, local ISO-8601.
    pub started_at: String,
    /// End, unix ms UTC.
    pub finished_at_ms: Option<i64>,
    /// End, local ISO-8601.
    pub finished_at: Option<String>,
    /// The task run it belongs to.
    pub run_id: String,
    /// The task.
    pub task: String,
    /// Local or cloud.
    pub route: Route,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Cached input tokens.
    pub cached_tokens: u64,
    /// Cache-write input tokens.
    pub cache_write_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Reasoning tokens (part of output).
    pub reasoning_tokens: u64,
    /// Reservation held while pending.
    pub reserved_micros: i64,
    /// Real cost once settled.
    pub cost_micros: i64,
    /// The same tokens on the reference cloud model.
    pub reference_cost_micros: Option<i64>,
    /// Time to the full answer.
    pub latency_ms: Option<i64>,
    /// Pending or settled.
    pub state: State,
    /// How it ended, once settled.
    pub outcome: Option<Outcome>,
    /// Why it escalated.
    pub escalation: Option<String>,
    /// One-line error or refusal reason.
    pub note: Option<String>,
    /// The process that reserved it.
    pub owner_pid: i64,
    /// The gateway app that sent it, if any.
    pub app: Option<String>,
    /// What caching and batching saved on it.
    pub levers: Levers,
    /// The batch it was sent in, if any.
    pub batch_id: Option<i64>,
    /// Context tokens pruning kept out of its prompt, and what they would have cost.
    pub pruned_tokens: u64,
    /// What those tokens would have cost as input to the model that answered.
    pub pruned_micros: i64,
}

pub(crate) const ROW_COLUMNS: &str = "id, started_at, finished_at, run_id, task, route, provider, model, prompt_tokens,
    cached_tokens, cache_write_tokens, completion_tokens, reasoning_tokens, reserved_micros, cost_micros,
    reference_cost_micros, latency_ms, state, outcome, escalation, note, owner_pid, app, cache_saved_micros,
    batch_saved_micros, batch_id, pruned_tokens, pruned_micros";

impl Row {
    /// Reads a row selected with [`ROW_COLUMNS`].
    pub(crate) fn from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        let text = |i: usize, s: String| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Text,
                format!("unknown value `{s}`").into(),
            )
        };
        let tokens = |i: usize| -> rusqlite::Result<u64> { Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0)) };
        let route: String = r.get(5)?;
        let state: String = r.get(17)?;
        let outcome: Option<String> = r.get(18)?;
        let started_at_ms: i64 = r.get(1)?;
        let finished_at_ms: Option<i64> = r.get(2)?;
        Ok(Row {
            id: r.get(0)?,
            started_at_ms,
            started_at: crate::month::local_iso(started_at_ms),
            finished_at_ms,
            finished_at: finished_at_ms.map(crate::month::local_iso),
            run_id: r.get(3)?,
            task: r.get(4)?,
            route: Route::from_db(&route).ok_or_else(|| text(5, route))?,
            provider: r.get(6)?,
            model: r.get(7)?,
            prompt_tokens: tokens(8)?,
            cached_tokens: tokens(9)?,
            cache_write_tokens: tokens(10)?,
            completion_tokens: tokens(11)?,
            reasoning_tokens: tokens(12)?,
            reserved_micros: r.get(13)?,
            cost_micros: r.get(14)?,
            reference_cost_micros: r.get(15)?,
            latency_ms: r.get(16)?,
            state: State::from_db(&state).ok_or_else(|| text(17, state))?,
            outcome: match outcome {
                Some(o) => Some(Outcome::from_db(&o).ok_or_else(|| text(18, o))?),
                None => None,
            },
            escalation: r.get(19)?,
            note: r.get(20)?,
            owner_pid: r.get(21)?,
            app: r.get(22)?,
            levers: Levers { cache_micros: r.get(23)?, batch_micros: r.get(24)? },
            batch_id: r.get(25)?,
            pruned_tokens: tokens(26)?,
            pruned_micros: r.get(27)?,
        })
    }
}

/// Every row that started in `[start, end)`, oldest first.
pub(crate) fn rows_between(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ROW_COLUMNS} FROM requests WHERE started_at >= ?1 AND started_at < ?2 ORDER BY started_at, id"
    ))?;
    let rows = stmt.query_map(params![start, end], Row::from_sql)?;
    rows.collect()
}

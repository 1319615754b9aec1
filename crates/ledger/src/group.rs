//! Group commit for reservations and settlements. Under load (the gateway's many clients)
//! one write transaction per reservation and per settlement was the ledger's cost: each
//! takes the file lock and appends its own WAL frames. Here every caller queues its write;
//! a caller that finds no writer at work writes *everything queued* in one `BEGIN IMMEDIATE`
//! transaction, in arrival order, and hands each caller its own result. Callers that arrive
//! meanwhile wait on their own channel (not on the connection, which would make each of them
//! take the lock in turn just to learn it was done); when the batch is written the oldest of
//! them writes the next one. A lone caller writes its own write at once: no thread handoff.
//!
//! Why the cap still holds: the writes of a batch are applied one after another inside the
//! transaction, each reservation checked against the running totals that include every
//! reservation and settlement before it in the batch (the in-memory totals move as each one
//! is written, and are summed again inside the transaction whenever they are unsure). No two
//! reservations ever see the same stale total; the batch only shares the commit. A caller
//! learns it was granted only after that commit, so a granted reservation is durable.
//!
//! A statement that fails for the database's sake (disk full, I/O) rolls the whole batch
//! back and every caller in it gets the error: nothing half-written, nothing reported as done
//! that is not. Refusals and settlements of rows that are no longer pending are per caller.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Mutex, PoisonError};

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use crate::error::{first_line, LedgerError, Result};
use crate::ledger::{check_limits, db_u64, Ledger, Limits, NewRequest, Outcome, Settlement, Ticket};
use crate::totals::Totals;

/// A write waiting for the next holder of the connection.
pub(crate) enum Op {
    Begin(NewRequest, Limits),
    Settle(Ticket, Settlement),
}

/// Its result.
pub(crate) enum Done {
    Begun(Result<Ticket>),
    Settled(Result<()>),
}

impl Op {
    /// A reservation, checked before it is queued.
    pub(crate) fn begin(req: NewRequest, limits: &Limits) -> Result<Op> {
        if req.reserved_micros < 0 {
            return Err(LedgerError::Invalid(format!("a reservation cannot be negative ({})", req.reserved_micros)));
        }
        Ok(Op::Begin(req, *limits))
    }

    /// A settlement, checked before it is queued.
    pub(crate) fn settle(ticket: Ticket, s: Settlement) -> Result<Op> {
        if s.cost_micros < 0 || s.reference_cost_micros.is_some_and(|r| r < 0) {
            return Err(LedgerError::Invalid(format!("request {}: a cost cannot be negative", ticket.id())));
        }
        Ok(Op::Settle(ticket, s))
    }
}

impl Done {
    pub(crate) fn begun(self) -> Result<Ticket> {
        match self {
            Done::Begun(r) => r,
            Done::Settled(_) => Err(LedgerError::Invalid("a reservation was answered as a settlement".into())),
        }
    }

    pub(crate) fn settled(self) -> Result<()> {
        match self {
            Done::Settled(r) => r,
            Done::Begun(_) => Err(LedgerError::Invalid("a settlement was answered as a reservation".into())),
        }
    }
}

struct Job {
    op: Op,
    reply: Replier,
}

/// How a waiting caller is told: a thread blocks on a channel; a task on an async runtime
/// awaits one, so that waiting for another caller's batch never holds a runtime's worker.
enum Replier {
    Thread(SyncSender<Reply>),
    Task(tokio::sync::mpsc::Sender<Reply>),
}

impl Replier {
    /// Tells the caller; false when it is gone. Its channel holds one message and is empty
    /// whenever something is sent (`Lead` is read before the caller's own `Done` is sent).
    fn tell(&self, r: Reply) -> bool {
        match self {
            Replier::Thread(tx) => tx.try_send(r).is_ok(),
            Replier::Task(tx) => tx.try_send(r).is_ok(),
        }
    }
}

/// What a waiting caller hears: its result, or that it is the next to write the batch.
enum Reply {
    Done(Done),
    Lead,
}

/// The writes waiting for a writer, and whether one is at work.
#[derive(Default)]
struct Waiting {
    jobs: Vec<Job>,
    /// A caller is writing a batch, or has been told to write the next one.
    leading: bool,
}

/// The writes queued behind the current writer.
#[derive(Default)]
pub(crate) struct Queue {
    waiting: Mutex<Waiting>,
    writes: AtomicU64,
    commits: AtomicU64,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queue")
    }
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job; true when no writer is at work, so the caller writes.
    fn push(&self, job: Job) -> bool {
        let mut w = self.lock();
        w.jobs.push(job);
        !std::mem::replace(&mut w.leading, true)
    }

    fn take(&self) -> Vec<Job> {
        std::mem::take(&mut self.lock().jobs)
    }
}

/// Held by the caller writing a batch. When it is done (or panicked), the oldest waiting
/// caller writes the next batch, so that no caller keeps writing other callers' work while
/// its own answer waits, and no queued job is left without a writer.
struct Leading<'a>(&'a Queue);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut w = self.0.lock();
        // A queued job's channel is empty (nothing is sent to it before it is taken). One
        // that cannot be told has no caller left (a task whose future was dropped): its
        // write stays queued all the same.
        if w.jobs.iter().any(|job| job.reply.tell(Reply::Lead)) {
            return;
        }
        // Nobody is left waiting: the next caller to come writes what is queued with its own.
        w.leading = false;
    }
}

/// A task's wait for its write. Dropped before its answer came (the task cancelled), it
/// stops taking messages and passes on a lead it was given, so that the queue never waits
/// for a writer that is gone; its job stays queued and is written by the next batch.
struct Awaiting<'a> {
    queue: &'a Queue,
    answer: tokio::sync::mpsc::Receiver<Reply>,
    answered: bool,
}

impl Drop for Awaiting<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        self.answer.close();
        if let Ok(Reply::Lead) = self.answer.try_recv() {
            drop(Leading(self.queue));
        }
    }
}

/// Counts of what the group commit did, for benchmarks: rows written and the transactions
/// they took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Reservations and settlements written.
    pub writes: u64,
    /// Transactions that wrote them.
    pub commits: u64,
}

impl Ledger {
    /// What the group commit has done since the ledger opened.
    pub fn group_stats(&self) -> GroupStats {
        GroupStats {
            writes: self.queue.writes.load(Ordering::Relaxed),
            commits: self.queue.commits.load(Ordering::Relaxed),
        }
    }

    /// Queues `op` and waits for its result; the first caller to find no writer at work
    /// writes everything queued. Blocks like any ledger write (never on an async worker
    /// without `block_in_place`).
    pub(crate) fn submit(&self, op: Op) -> Done {
        let settle = matches!(op, Op::Settle(..));
        let (reply, answer) = sync_channel(1);
        if !self.queue.push(Job { op, reply: Replier::Thread(reply) }) {
            match answer.recv() {
                Ok(Reply::Done(d)) => return d,
                // Our job is still queued: it goes in the batch we write now.
                Ok(Reply::Lead) => {}
                Err(_) => return self.lost(settle),
            }
        }
        self.lead(false);
        match answer.recv() {
            Ok(Reply::Done(d)) => d,
            _ => self.lost(settle),
        }
    }

    /// As [`Ledger::submit`], for a task on an async runtime: it awaits another caller's
    /// batch instead of blocking its worker. When no writer is at work it writes the batch
    /// itself, on its worker: one transaction of a few rows takes tens of microseconds, less
    /// than handing it to another thread and back (`bench_gateway`: 64 clients went from
    /// ~3,450 to ~5,200 requests/s when the gateway's meters stopped blocking threads on
    /// the ledger). A connection another caller is reading with, or a backup the ledger
    /// takes in place, is waited for off the worker; another process's write lock (held
    /// for the milliseconds of its own transaction) is waited for on it.
    ///
    /// Cancel-safe as far as the queue goes (see [`Awaiting`]); a cancelled write is still
    /// made, so a cancelled reservation stays pending until the next start settles it at its
    /// worst case, as a crashed request's would.
    pub(crate) async fn submit_async(&self, op: Op) -> Done {
        let settle = matches!(op, Op::Settle(..));
        let (reply, answer) = tokio::sync::mpsc::channel(1);
        let mut wait = Awaiting { queue: &self.queue, answer, answered: false };
        if !self.queue.push(Job { op, reply: Replier::Task(reply) }) {
            let reply = wait.answer.recv().await;
            wait.answered = true;
            match reply {
                Some(Reply::Done(d)) => return d,
                // Our job is still queued: it goes in the batch we write now.
                Some(Reply::Lead) => {}
                None => return self.lost(settle),
            }
        }
        wait.answered = true;
        self.lead(true);
        match wait.answer.try_recv() {
            Ok(Reply::Done(d)) => d,
            _ => self.lost(settle),
        }
    }

    /// The result of a write whose batch panicked (its channels dropped).
    fn lost(&self, settle: bool) -> Done {
        let e = LedgerError::Database { path: self.path().to_path_buf(), reason: "the write was lost".into() };
        if settle {
            Done::Settled(Err(e))
        } else {
            Done::Begun(Err(e))
        }
    }

    /// Writes everything queued, the caller's own job among it, in one transaction; then
    /// hands the lead to the oldest caller still waiting. `on_worker`: the caller is a task
    /// on an async runtime's worker.
    fn lead(&self, on_worker: bool) {
        let money_moved = {
            let _leading = Leading(&self.queue);
            let jobs = self.queue.take();
            match self.try_conn() {
                Some(mut conn) => self.write_batch(&mut conn, jobs),
                None if on_worker => off_worker(|| self.write_batch(&mut self.conn(), jobs)),
                None => self.write_batch(&mut self.conn(), jobs),
            }
        };
        self.wrote();
        if money_moved {
            // The rows are recorded either way; a failed backup leaves the money it missed
            // marked, for the next one (at most 30 s later) and the close. With a
            // checkpointer this only asks its thread; without one the backup is taken here.
            if on_worker && self.backs_up_in_place() {
                let _ = off_worker(|| self.money_moved());
            } else {
                let _ = self.money_moved();
            }
        }
    }

    /// Writes `jobs` in one transaction and answers each. Returns whether a settlement moved
    /// reserved money (then the backup is due).
    fn write_batch(&self, conn: &mut Connection, jobs: Vec<Job>) -> bool {
        if jobs.is_empty() {
            return false;
        }
        let path = self.path();
        // Totals move as each write of the batch is made, before the commit: a batch that
        // panicked half-way (its transaction rolled back) left them wrong, so a poisoned
        // lock means they are summed again.
        let mut totals = self.totals.lock().unwrap_or_else(|poisoned| {
            let mut totals = poisoned.into_inner();
            *totals = None;
            self.totals.clear_poison();
            totals
        });
        let count = jobs.len() as u64;
        let (ops, replies): (Vec<Op>, Vec<(Replier, bool)>) = jobs
            .into_iter()
            .map(|j| {
                let settle = matches!(j.op, Op::Settle(..));
                (j.op, (j.reply, settle))
            })
            .unzip();
        let mut results = Vec::with_capacity(ops.len());
        let mut money_moved = false;
        let written =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(self.db()).and_then(|tx| {
                for op in ops {
                    let done = match op {
                        Op::Begin(req, limits) => Done::Begun(begin_in(&tx, path, &mut totals, req, &limits, self.pid)),
                        Op::Settle(ticket, s) => {
                            let reserved = ticket.reserved_micros();
                            let r = settle_in(&tx, path, &mut totals, ticket, s);
                            money_moved |= r.is_ok() && reserved > 0;
                            Done::Settled(r)
                        }
                    };
                    if let Some(e) = database_failure(&done) {
                        return Err(e);
                    }
                    results.push(done);
                }
                tx.commit().map_err(self.db())
            });
        match written {
            Ok(()) => {
                self.queue.writes.fetch_add(count, Ordering::Relaxed);
                self.queue.commits.fetch_add(1, Ordering::Relaxed);
                for ((reply, _), done) in replies.into_iter().zip(results) {
                    // A task cancelled meanwhile hears nothing; its write is made all the same.
                    let _ = reply.tell(Reply::Done(done));
                }
                money_moved
            }
            Err(e) => {
                // Rolled back, nothing of the batch written: what the totals believe is
                // unknown now, and every caller hears why.
                *totals = None;
                for (reply, settle) in replies {
                    let done = if settle { Done::Settled(Err(copy(&e))) } else { Done::Begun(Err(copy(&e))) };
                    let _ = reply.tell(Reply::Done(done));
                }
                false
            }
        }
    }
}

/// Runs `f`, which may block, from a task on an async runtime: on a multi-threaded one the
/// runtime hands the worker's other tasks to another thread meanwhile.
fn off_worker<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The error of a write that failed for the database's sake (not a refusal, not a row that
/// was no longer pending): it dooms the whole batch.
fn database_failure(done: &Done) -> Option<LedgerError> {
    let e = match done {
        Done::Begun(Err(e)) | Done::Settled(Err(e)) => e,
        _ => return None,
    };
    match e {
        LedgerError::Refused(_) | LedgerError::NotPending(_) => None,
        other => Some(copy(other)),
    }
}

/// A copy of a batch-level error for each caller in the batch.
fn copy(e: &LedgerError) -> LedgerError {
    match e {
        LedgerError::Corrupt { path, reason, hint } => {
            LedgerError::Corrupt { path: path.clone(), reason: reason.clone(), hint: hint.clone() }
        }
        LedgerError::Busy(path) => LedgerError::Busy(path.clone()),
        LedgerError::Database { path, reason } => LedgerError::Database { path: path.clone(), reason: reason.clone() },
        other => LedgerError::Invalid(first_line(&other.to_string())),
    }
}

/// One reservation inside the batch's transaction: checked against the totals as the batch
/// has moved them so far, recorded (a refused one as a `refused` row), and added to them.
fn begin_in(
    tx: &Transaction<'_>,
    path: &Path,
    totals: &mut Option<Totals>,
    req: NewRequest,
    limits: &Limits,
    pid: u32,
) -> Result<Ticket> {
    let db = |e| LedgerError::sqlite(path, e);
    let refusal = if req.reserved_micros > 0 {
        let t = Totals::current(totals, tx, req.at_ms).map_err(db)?;
        check_limits(t, &req, limits)
    } else {
        None
    };
    let (state, outcome, reserved, note) = match &refusal {
        Some(r) => ("settled", Some(Outcome::Refused.as_str()), 0, Some(r.to_string())),
        None => ("pending", None, req.reserved_micros, None),
    };
    // Cached statements: parsing the SQL again costs as much as running it, and the gateway
    // runs these two for every request.
    tx.prepare_cached(
        "INSERT INTO requests (started_at, finished_at, run_id, task, route, provider, model, reserved_micros,
            cost_micros, state, outcome, escalation, note, owner_pid, app, prefix_hash, owner_start)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            req.at_ms,
            refusal.as_ref().map(|_| req.at_ms),
            req.run_id,
            req.task,
            req.route.as_str(),
            req.provider,
            req.model,
            reserved,
            state,
            outcome,
            req.escalation.as_deref().map(first_line),
            note,
            i64::from(pid),
            req.app,
            req.prefix_hash,
            crate::ledger::own_start(),
        ])
    })
    .map_err(db)?;
    let id = tx.last_insert_rowid();
    if let Some(r) = refusal {
        return Err(LedgerError::Refused(r));
    }
    if req.reserved_micros > 0 {
        if let Some(t) = totals.as_mut() {
            t.apply(req.at_ms, req.app.as_deref(), 0, req.reserved_micros);
        }
    }
    Ok(Ticket::new(id, req.reserved_micros, req.at_ms, req.app))
}

/// One settlement inside the batch's transaction; only a pending row changes.
fn settle_in(
    tx: &Transaction<'_>,
    path: &Path,
    totals: &mut Option<Totals>,
    ticket: Ticket,
    s: Settlement,
) -> Result<()> {
    let db = |e| LedgerError::sqlite(path, e);
    let t = s.tokens;
    let changed = tx
        .prepare_cached(
            "UPDATE requests SET state = 'settled', finished_at = ?2, prompt_tokens = ?3, cached_tokens = ?4,
                cache_write_tokens = ?5, completion_tokens = ?6, reasoning_tokens = ?7, cost_micros = ?8,
                reference_cost_micros = ?9, latency_ms = ?10, outcome = ?11, note = ?12,
                cache_saved_micros = ?13, batch_saved_micros = ?14
             WHERE id = ?1 AND state = 'pending'",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                ticket.id(),
                s.finished_ms,
                db_u64(t.prompt),
                db_u64(t.cached),
                db_u64(t.cache_write),
                db_u64(t.completion),
                db_u64(t.reasoning),
                s.cost_micros,
                s.reference_cost_micros,
                s.latency_ms,
                s.outcome.as_str(),
                s.note.as_deref().map(first_line),
                s.levers.cache_micros,
                s.levers.batch_micros,
            ])
        })
        .map_err(db)?;
    if changed == 0 {
        // Someone else settled it: what the totals believe of it is unknown now; the next
        // reservation (in this batch too) sums the table again.
        *totals = None;
        return Err(LedgerError::NotPending(ticket.id()));
    }
    if ticket.reserved_micros() > 0 || s.cost_micros > 0 {
        if let Some(t) = totals.as_mut() {
            t.apply(ticket.started_ms(), ticket.app(), s.cost_micros, -ticket.reserved_micros());
        }
    }
    Ok(())
}

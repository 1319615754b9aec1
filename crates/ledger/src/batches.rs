//! Batches: requests sent through a provider's batch API, answered within 24 hours at half
//! price. Each request is a row like any other, reserved at its worst case (at the batch
//! price) before the batch is submitted; the reservation is held — and counts against the
//! caps — until the batch's results settle the row. Nothing about a batch lives only in
//! memory: a restart finds the pending batches here and resumes polling them.
//!
//! A batch's life: `submitting` (rows reserved, owned by the submitting process) →
//! `pending` (the provider has it; its rows are owned by no process, so a restart never
//! charges them as interrupted) → `settling` (one process claimed it to read its results) →
//! `ended`, `expired`, `cancelled`, `failed` or `lost` (the provider no longer knows it).
//! A process that dies while submitting leaves rows the next open charges at their worst case
//! (the provider may have the batch); one that dies while settling hands the batch back to
//! `pending`.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use crate::error::Result;
use crate::ledger::{now_ms, process_alive, Ledger, Limits, NewRequest, Outcome, Settlement, Ticket};

/// Where a batch is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Rows reserved, the batch being sent.
    Submitting,
    /// At the provider, waiting for results.
    Pending,
    /// A process is reading its results.
    Settling,
    /// Results read, rows settled.
    Ended,
    /// The provider gave up after its window; unanswered rows were not billed.
    Expired,
    /// Cancelled (by the user, or at the provider); rows settled at what was charged.
    Cancelled,
    /// The provider refused the batch, or its submission failed.
    Failed,
    /// The provider no longer knows the batch: rows charged at their worst case.
    Lost,
    /// The budget refused it: nothing was sent.
    Refused,
    /// The process submitting it ended first: rows charged at their worst case.
    Interrupted,
}

impl BatchState {
    const ALL: [BatchState; 10] = [
        Self::Submitting,
        Self::Pending,
        Self::Settling,
        Self::Ended,
        Self::Expired,
        Self::Cancelled,
        Self::Failed,
        Self::Lost,
        Self::Refused,
        Self::Interrupted,
    ];

    /// The name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitting => "submitting",
            Self::Pending => "pending",
            Self::Settling => "settling",
            Self::Ended => "ended",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Lost => "lost",
            Self::Refused => "refused",
            Self::Interrupted => "interrupted",
        }
    }

    fn from_db(s: &str) -> BatchState {
        Self::ALL.into_iter().find(|b| b.as_str() == s).unwrap_or(Self::Failed)
    }

    /// Whether the batch still waits for its results.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Submitting | Self::Pending | Self::Settling)
    }
}

/// A batch about to be submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBatch {
    /// When (unix ms).
    pub at_ms: i64,
    /// The provider's configured name.
    pub provider: String,
    /// The model.
    pub model: String,
    /// The task its requests serve.
    pub task: String,
    /// What its requests typically cost (estimated prompts, half the output limit).
    pub expected_micros: i64,
    /// The prices it was submitted at, as the caller encodes them: its results are settled
    /// at these, whatever the price table says by then.
    pub pricing: String,
}

/// A batch as the ledger knows it, with its rows' money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchRow {
    /// The ledger's id (what `frugal batches` shows and takes).
    pub id: i64,
    /// Provider name.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Task.
    pub task: String,
    /// The provider's id, once submitted.
    pub remote_id: Option<String>,
    /// Where it is.
    pub state: BatchState,
    /// Submitted (unix ms).
    pub submitted_at_ms: i64,
    /// Submitted, local ISO-8601.
    pub submitted_at: String,
    /// Finished (unix ms).
    pub finished_at_ms: Option<i64>,
    /// Why it ended as it did, or the last polling problem.
    pub note: Option<String>,
    /// Its requests.
    pub requests: u64,
    /// Of which still pending.
    pub pending: u64,
    /// Reservations still held.
    pub reserved_micros: i64,
    /// What its requests were expected to cost, at submit.
    pub expected_micros: i64,
    /// The prices it was submitted at (see [`NewBatch::pricing`]).
    pub pricing: String,
    /// Polls in a row that found the provider not knowing it.
    pub misses: u32,
    /// Settled cost.
    pub cost_micros: i64,
    /// What the batch price saved on settled rows.
    pub saved_micros: i64,
}

const BATCH_COLUMNS: &str = "b.id, b.provider, b.model, b.task, b.remote_id, b.state, b.submitted_at, b.finished_at,
    b.note, b.expected_micros, b.pricing, b.misses, COUNT(r.id), COALESCE(SUM(r.state = 'pending'), 0),
    COALESCE(SUM(CASE WHEN r.state = 'pending' THEN r.reserved_micros ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN r.state = 'settled' THEN r.cost_micros ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN r.state = 'settled' THEN r.batch_saved_micros ELSE 0 END), 0)";

fn batch_from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<BatchRow> {
    let state: String = r.get(5)?;
    let count = |i: usize| -> rusqlite::Result<u64> { Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0)) };
    Ok(BatchRow {
        id: r.get(0)?,
        provider: r.get(1)?,
        model: r.get(2)?,
        task: r.get(3)?,
        remote_id: r.get(4)?,
        state: BatchState::from_db(&state),
        submitted_at_ms: r.get(6)?,
        submitted_at: crate::month::local_iso(r.get(6)?),
        finished_at_ms: r.get(7)?,
        note: r.get(8)?,
        expected_micros: r.get(9)?,
        pricing: r.get(10)?,
        misses: u32::try_from(r.get::<_, i64>(11)?).unwrap_or(0),
        requests: count(12)?,
        pending: count(13)?,
        reserved_micros: r.get(14)?,
        cost_micros: r.get(15)?,
        saved_micros: r.get(16)?,
    })
}

/// Run by `Ledger::open` inside its recovery transaction: batches whose owner died while
/// submitting are marked interrupted (their rows were just charged at their worst case), and
/// those whose owner died while settling go back to pending for the next poll.
pub(crate) fn settle_stale_batches(tx: &Transaction<'_>, pid: u32) -> rusqlite::Result<()> {
    let open: Vec<(i64, String, i64, i64)> = {
        let mut stmt = tx.prepare(
            "SELECT id, state, owner_pid, COALESCE(claimed_at, submitted_at) FROM batches
                WHERE state IN ('submitting', 'settling')",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let now = now_ms();
    for (id, state, owner, at) in open {
        if owner == i64::from(pid) || process_alive(owner, None, at, now) {
            continue;
        }
        if state == "submitting" {
            tx.execute(
                "UPDATE batches SET state = 'interrupted', finished_at = ?2,
                    note = 'the process sending it ended first; its requests are charged at their worst case'
                 WHERE id = ?1",
                params![id, now],
            )?;
        } else {
            tx.execute("UPDATE batches SET state = 'pending', owner_pid = 0 WHERE id = ?1", [id])?;
        }
    }
    Ok(())
}

impl Ledger {
    /// Reserves every request of a batch at its worst case, all or none: one refused by a
    /// cap releases the others and the batch is recorded as refused. The requests' rows carry
    /// the batch; their tickets come back in order, so that row `i` is request `i`.
    pub fn open_batch(
        &self,
        batch: NewBatch,
        requests: Vec<NewRequest>,
        limits: &Limits,
    ) -> Result<(i64, Vec<Ticket>)> {
        let id = {
            let conn = self.conn();
            conn.execute(
                "INSERT INTO batches (provider, model, task, state, submitted_at, owner_pid, expected_micros, pricing)
                 VALUES (?1, ?2, ?3, 'submitting', ?4, ?5, ?6, ?7)",
                params![
                    batch.provider,
                    batch.model,
                    batch.task,
                    batch.at_ms,
                    i64::from(self.pid),
                    batch.expected_micros,
                    batch.pricing
                ],
            )
            .map_err(self.db())?;
            conn.last_insert_rowid()
        };
        let mut tickets = Vec::with_capacity(requests.len());
        for req in requests {
            match self.begin(req, limits) {
                Ok(t) => tickets.push(t),
                Err(e) => {
                    for t in tickets {
                        let _ = self.settle(t, released(Outcome::Refused, "the batch was refused as a whole"));
                    }
                    self.finish_batch(id, BatchState::Refused, Some(&e.to_string()))?;
                    return Err(e);
                }
            }
        }
        let ids: Vec<String> = tickets.iter().map(|t| t.id().to_string()).collect();
        self.conn()
            .execute(&format!("UPDATE requests SET batch_id = ?1 WHERE id IN ({})", ids.join(",")), [id])
            .map_err(self.db())?;
        self.wrote();
        Ok((id, tickets))
    }

    /// The provider accepted batch `id` as `remote_id`: from now on its rows belong to no
    /// process, and only its results (or a cancel, or its loss) settle them.
    pub fn batch_submitted(&self, id: i64, remote_id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(self.db())?;
        tx.execute(
            "UPDATE batches SET remote_id = ?2, state = 'pending', owner_pid = 0 WHERE id = ?1",
            params![id, remote_id],
        )
        .map_err(self.db())?;
        tx.execute("UPDATE requests SET owner_pid = 0 WHERE batch_id = ?1 AND state = 'pending'", [id])
            .map_err(self.db())?;
        tx.commit().map_err(self.db())?;
        self.wrote();
        Ok(())
    }

    /// Takes batch `id` to read its results: true if this process now holds it, false if
    /// another one does (or it is no longer pending). Two processes never settle one batch.
    pub fn claim_batch(&self, id: i64) -> Result<bool> {
        let changed = self
            .conn()
            .execute(
                "UPDATE batches SET state = 'settling', owner_pid = ?2, claimed_at = ?3 WHERE id = ?1 AND state = 'pending'",
                params![id, i64::from(self.pid), now_ms()],
            )
            .map_err(self.db())?;
        Ok(changed == 1)
    }

    /// Hands a claimed batch back (its results are not ready, or the poll failed), with the
    /// reason to show. `missed`: the provider did not know the batch this time (counted, so
    /// that only several misses in a row make it lost; any other answer resets the count).
    pub fn release_batch(&self, id: i64, note: Option<&str>, missed: bool) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE batches SET state = 'pending', owner_pid = 0, note = ?2,
                    misses = CASE WHEN ?3 THEN misses + 1 ELSE 0 END
                 WHERE id = ?1 AND state = 'settling'",
                params![id, note, missed],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Sets a pending batch's note (a cancel asked), leaving its state to whoever holds it.
    pub fn note_batch(&self, id: i64, note: &str) -> Result<()> {
        self.conn()
            .execute("UPDATE batches SET note = ?2 WHERE id = ?1 AND state = 'pending'", params![id, note])
            .map_err(self.db())?;
        Ok(())
    }

    /// The tickets of batch `id`'s pending rows, with their ids: whoever settles the batch
    /// settles these (a row's request carries its id as the batch's `custom_id`).
    pub fn batch_tickets(&self, id: i64) -> Result<Vec<Ticket>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, reserved_micros, started_at, app FROM requests
                 WHERE batch_id = ?1 AND state = 'pending' ORDER BY id",
            )
            .map_err(self.db())?;
        let rows =
            stmt.query_map([id], |r| Ok(Ticket::new(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(self.db())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.db())
    }

    /// Records how batch `id` ended. Its rows are settled separately, each by its ticket.
    pub fn finish_batch(&self, id: i64, state: BatchState, note: Option<&str>) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE batches SET state = ?2, note = COALESCE(?3, note), owner_pid = 0,
                    finished_at = CASE WHEN ?4 THEN NULL ELSE ?5 END
                 WHERE id = ?1",
                params![id, state.as_str(), note, state.is_open(), now_ms()],
            )
            .map_err(self.db())?;
        self.wrote();
        Ok(())
    }

    /// One batch by id.
    pub fn batch(&self, id: i64) -> Result<Option<BatchRow>> {
        let conn = self.conn();
        conn.query_row(
            &format!(
                "SELECT {BATCH_COLUMNS} FROM batches b LEFT JOIN requests r ON r.batch_id = b.id
                 WHERE b.id = ?1 GROUP BY b.id"
            ),
            [id],
            batch_from_sql,
        )
        .optional()
        .map_err(self.db())
    }

    /// Batches still waiting, and those that finished since `since_ms`, newest first.
    pub fn batches(&self, since_ms: i64) -> Result<Vec<BatchRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {BATCH_COLUMNS} FROM batches b LEFT JOIN requests r ON r.batch_id = b.id
                 WHERE b.state IN ('submitting', 'pending', 'settling') OR b.submitted_at >= ?1
                 GROUP BY b.id ORDER BY b.id DESC"
            ))
            .map_err(self.db())?;
        let rows = stmt.query_map([since_ms], batch_from_sql).map_err(self.db())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.db())
    }

    /// Records what pruning kept out of run `run_id`'s prompt: on its last row, the one that
    /// answered. Nothing when the run has no row (nothing was sent or run).
    pub fn record_pruned(&self, run_id: &str, tokens: u64, micros: i64) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE requests SET pruned_tokens = ?2, pruned_micros = ?3
                 WHERE id = (SELECT MAX(id) FROM requests WHERE run_id = ?1)",
                params![run_id, crate::ledger::db_u64(tokens), micros.max(0)],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Whether a cloud request on `model` with the prefix `hash` wrote or read the provider's
    /// cache since `since_ms`: if so the provider likely holds it, and marking it again reads
    /// it back. (A prefix sent without a mark was not cached at Anthropic, and says nothing.)
    pub fn prefix_recent(&self, model: &str, hash: &str, since_ms: i64) -> Result<bool> {
        let conn = self.conn();
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM requests WHERE prefix_hash = ?1 AND started_at >= ?2
                AND model = ?3 AND route = 'cloud' AND (cached_tokens > 0 OR cache_write_tokens > 0))",
            params![hash, since_ms, model],
            |r| r.get(0),
        )
        .map_err(self.db())
    }

    /// How often `task`'s cloud prompts offered a prefix that was sent again, since
    /// `since_ms`: (distinct prefixes, of which sent more than once). Asked before every
    /// cloud request that could be cached, so a task's count is kept for a minute: a month's
    /// history moves nothing in that time, and the gateway's requests skip the query.
    pub fn prefix_reuse(&self, task: &str, since_ms: i64) -> Result<(u64, u64)> {
        let mut memo = self.reuse.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, counts)) = memo.get(task).filter(|(at, _)| at.elapsed() < REUSE_KEPT) {
            return Ok(*counts);
        }
        let counts = self.count_reuse(task, since_ms)?;
        memo.insert(task.to_string(), (std::time::Instant::now(), counts));
        Ok(counts)
    }

    fn count_reuse(&self, task: &str, since_ms: i64) -> Result<(u64, u64)> {
        let conn = self.conn();
        let (n, reused): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(n > 1), 0) FROM (SELECT COUNT(*) AS n FROM requests
                    WHERE task = ?1 AND route = 'cloud' AND prefix_hash IS NOT NULL AND started_at >= ?2
                    GROUP BY prefix_hash)",
                params![task, since_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.db())?;
        Ok((u64::try_from(n).unwrap_or(0), u64::try_from(reused).unwrap_or(0)))
    }
}

/// How long a task's prefix reuse is kept before it is counted again.
const REUSE_KEPT: std::time::Duration = std::time::Duration::from_secs(60);

/// Each task's prefix reuse and when it was counted.
pub(crate) type ReuseMemo = std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, (u64, u64))>>;

/// A settlement that releases a reservation without cost.
fn released(outcome: Outcome, why: &str) -> Settlement {
    Settlement {
        finished_ms: now_ms(),
        tokens: Default::default(),
        cost_micros: 0,
        reference_cost_micros: None,
        latency_ms: 0,
        outcome,
        note: Some(why.to_string()),
        levers: Default::default(),
    }
}

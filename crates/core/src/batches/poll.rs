//! Polling the batches out at providers: each pending one claimed, asked about, and, once
//! final, its rows settled from its results at the prices it was submitted at; an ended
//! batch whose answers were never delivered is read again for them (see the module above).

use std::collections::HashMap;

use frugal_cloud::{ItemOutcome, RemoteState};
use frugal_ledger::{BatchRow, BatchState, Levers, Outcome, Price, Settlement, Ticket, TokenCounts};
use serde::{Deserialize, Serialize};

use super::{custom_id, settlement, BatchAnswer, Finished, Polled};
use crate::metered::{counts, now_ms};
use crate::router::Router;
use crate::Result;

/// The prices a batch was submitted at, kept on its ledger row: its results are settled at
/// these even if the price table or the config changed meanwhile.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(super) struct Pricing {
    /// The batch price.
    pub(super) batch: Price,
    /// The interactive price, for what the batch price saved.
    pub(super) full: Price,
}

/// Polls in a row that must find the provider not knowing a batch before it counts as lost:
/// one 404 may be a key from another project or a proxy's hiccup.
const LOST_AFTER: u32 = 3;

/// What one poll of a claimed batch found.
enum Poll {
    /// Still running.
    Running,
    /// Ended, its rows settled; the answers to deliver.
    Finished(Vec<BatchAnswer>),
    /// The provider did not know it (again).
    Missed(String),
}

impl Router {
    /// Polls every pending batch once and settles those that ended; also delivers again the
    /// answers of a batch that ended without its deliveries being made (the process ended
    /// in between: its deliveries file is still there). A ledger error on one batch is said
    /// and the others go on, so answers already settled are never dropped with it.
    pub fn poll_batches(&self) -> Result<Polled> {
        let ledger = self.spend.ledger()?;
        let mut polled = Polled::default();
        let since = now_ms() - 30 * 86_400_000;
        for row in ledger.batches(since)? {
            let undelivered = !row.state.is_open()
                && row.remote_id.is_some()
                && self.deliveries_dir().join(format!("{}.json", row.id)).is_file();
            if undelivered {
                // A provider that no longer knows the batch will never give its answers
                // back: said once, not asked again on every poll for a month.
                match self.poll_one(&ledger, &row, false) {
                    Ok(Poll::Finished(answers)) => polled.finished.push(Finished { batch: row, answers }),
                    Ok(Poll::Running) => {}
                    Ok(Poll::Missed(why)) => {
                        polled.problems.push(format!("batch {}: its answers cannot be delivered again: {why}", row.id));
                        self.forget_deliveries(row.id);
                    }
                    Err(e) => {
                        polled.problems.push(format!("batch {}: delivering its answers again failed: {e}", row.id))
                    }
                }
                continue;
            }
            if row.state != BatchState::Pending {
                continue;
            }
            match ledger.claim_batch(row.id) {
                Ok(true) => {}
                Ok(false) => continue, // another frugal is reading it
                Err(e) => {
                    polled.problems.push(format!("batch {}: {e}", row.id));
                    continue;
                }
            }
            let (note, missed) = match self.poll_one(&ledger, &row, true) {
                Ok(Poll::Finished(answers)) => {
                    let batch = ledger.batch(row.id).ok().flatten().unwrap_or(row);
                    polled.finished.push(Finished { batch, answers });
                    continue;
                }
                Ok(Poll::Running) => (None, false),
                Ok(Poll::Missed(why)) => (Some(why), true),
                Err(why) => (Some(why), false),
            };
            if let Some(why) = &note {
                polled.problems.push(format!("batch {}: {why}", row.id));
            }
            if let Err(e) = ledger.release_batch(row.id, note.as_deref(), missed) {
                polled.problems.push(format!("batch {}: {e}", row.id));
            }
            polled.waiting.push(row);
        }
        Ok(polled)
    }

    /// One claimed batch. Answers come from the results, not from the rows still pending, so
    /// a poll that runs again after a crash mid-settlement delivers them again (rows already
    /// settled stay as they are).
    fn poll_one(
        &self,
        ledger: &frugal_ledger::Ledger,
        row: &BatchRow,
        settle: bool,
    ) -> std::result::Result<Poll, String> {
        let entry = self.settings.get().provider(&row.provider).cloned().ok_or_else(|| {
            format!("the provider {} is no longer configured; add it back to settle the batch", row.provider)
        })?;
        let client = self.client(&entry).map_err(|e| e.to_string())?;
        let remote_id = row.remote_id.clone().ok_or("the batch has no provider id")?;
        let Some(remote) = client.batch_status(&remote_id).map_err(|e| e.to_string())? else {
            if !settle {
                return Err("the provider no longer knows the batch".into());
            }
            if row.misses + 1 < LOST_AFTER {
                return Ok(Poll::Missed(format!(
                    "{} does not know this batch ({} of {LOST_AFTER} polls before it counts as lost)",
                    row.provider,
                    row.misses + 1
                )));
            }
            // It may have run: its rows are charged at their worst case, and it is lost.
            let note = "the provider no longer knows this batch; charged at its worst case";
            settle_all(ledger, row, Ticket::reserved_micros, note, BatchState::Lost, note)?;
            return Ok(Poll::Finished(Vec::new()));
        };
        if !remote.state.is_final() {
            return Ok(Poll::Running);
        }
        let pricing = serde_json::from_str::<Pricing>(&row.pricing).ok().or_else(|| {
            let full = self.spend.price_of(&entry).ok()?;
            Some(Pricing { batch: self.spend.batch_price_of(&entry).ok().flatten()?, full })
        });
        let Some(Pricing { batch: price, full }) = pricing else {
            return Err(format!("no batch price is known for {} on {}", entry.model, entry.name));
        };
        if remote.state == RemoteState::Failed && settle {
            // Refused as a whole (an invalid input file): nothing ran, nothing is billed.
            let why = remote.note.clone().unwrap_or_else(|| "the provider refused the batch".into());
            settle_all(ledger, row, |_| 0, &format!("not run: {why}"), BatchState::Failed, &why)?;
            return Ok(Poll::Finished(Vec::new()));
        }
        // A results file that breaks off is an error for this poll: the provider keeps it, so
        // the next poll reads it whole rather than charging its unread requests.
        let results = client.batch_results(&remote).map_err(|e| e.to_string())?;
        let deliveries = self.deliveries(row.id);
        let by_id: HashMap<&str, &ItemOutcome> = results.items.iter().map(|(id, o)| (id.as_str(), o)).collect();
        let mut answers = Vec::new();
        for (id, outcome) in &results.items {
            if let ItemOutcome::Answered { text, usage, .. } = outcome {
                let tokens = usage.map_or(0, |u| u64::from(u.prompt_tokens) + u64::from(u.completion_tokens));
                let cost = usage.filter(|u| !u.estimated).map_or(0, |u| price.cost(&counts(&u)));
                answers.push(BatchAnswer {
                    batch_id: row.id,
                    run_id: String::new(),
                    latency_ms: u64::try_from(now_ms() - row.submitted_at_ms).unwrap_or(0),
                    text: text.clone(),
                    custom_id: id.clone(),
                    delivery: deliveries.get(id).cloned(),
                    model: row.model.clone(),
                    cost_micros: cost,
                    tokens,
                });
            }
        }
        let answered = answers.len() as u32;
        // Requests the provider counts as done but whose result could not be read: that many
        // are charged their worst case (which ones is unknown); the rest never ran.
        if !settle {
            fill_from_rows(ledger, &mut answers);
            return Ok(Poll::Finished(answers));
        }
        let mut unread_but_done = remote.succeeded.saturating_sub(answered);
        let (mut unbilled, mut unread) = (0, 0);
        for ticket in ledger.batch_tickets(row.id).map_err(|e| e.to_string())? {
            let reserved = ticket.reserved_micros();
            let none = |outcome, cost, note: &str| {
                settlement(outcome, TokenCounts::default(), cost, Levers::default(), note.to_string())
            };
            let s = match by_id.get(custom_id(&ticket).as_str()) {
                Some(ItemOutcome::Answered { usage, .. }) => match usage.filter(|u| !u.estimated) {
                    Some(u) => {
                        let tokens = counts(&u);
                        let cost = price.cost(&tokens);
                        let levers = Levers {
                            cache_micros: price.uncached_cost(&tokens) - cost,
                            batch_micros: full.cost(&tokens) - cost,
                        };
                        settlement(Outcome::Ok, tokens, cost, levers, String::new())
                    }
                    None => none(Outcome::Ok, reserved, "the provider reported no usage; charged at its worst case"),
                },
                Some(ItemOutcome::Failed(why)) => {
                    unbilled += 1;
                    settlement(
                        Outcome::Failed,
                        TokenCounts::default(),
                        0,
                        Levers::default(),
                        format!("failed at the provider (not billed): {why}"),
                    )
                }
                Some(ItemOutcome::Expired) => {
                    unbilled += 1;
                    none(Outcome::Failed, 0, "expired before the provider ran it (not billed)")
                }
                Some(ItemOutcome::Cancelled) => {
                    unbilled += 1;
                    none(Outcome::Cancelled, 0, "cancelled before it ran (not billed)")
                }
                None if unread_but_done > 0 => {
                    unread_but_done -= 1;
                    unread += 1;
                    none(Outcome::Failed, reserved, "no readable result came back for it; charged at its worst case")
                }
                None => {
                    unbilled += 1;
                    none(Outcome::Failed, 0, "no result, and the provider does not count it as done (not billed)")
                }
            };
            settle_quietly(ledger, ticket, s)?;
        }
        let state = match remote.state {
            RemoteState::Expired => BatchState::Expired,
            RemoteState::Cancelled => BatchState::Cancelled,
            _ => BatchState::Ended,
        };
        let mut note = format!("{answered} answered, {unbilled} not run or failed (not billed)");
        if unread > 0 {
            note.push_str(&format!(
                ", {unread} without a readable result (charged at their worst case: {})",
                results.problems.join("; ")
            ));
        }
        ledger.finish_batch(row.id, state, Some(&note)).map_err(|e| e.to_string())?;
        fill_from_rows(ledger, &mut answers);
        Ok(Poll::Finished(answers))
    }
}

/// Each answer's cost and run id as its ledger row has them once settled (the worst case
/// where the provider reported no usage).
fn fill_from_rows(ledger: &frugal_ledger::Ledger, answers: &mut [BatchAnswer]) {
    for a in answers {
        let id = a.custom_id.strip_prefix("frugal-").and_then(|n| n.parse::<i64>().ok());
        if let Some(r) = id.and_then(|id| ledger.row(id).ok().flatten()) {
            a.cost_micros = r.cost_micros;
            a.run_id = r.run_id;
        }
    }
}

/// Settles every row of a batch that ended without answers, each at `cost` (with `note`),
/// then marks the batch `state`.
fn settle_all(
    ledger: &frugal_ledger::Ledger,
    row: &BatchRow,
    cost: impl Fn(&Ticket) -> i64,
    note: &str,
    state: BatchState,
    why: &str,
) -> std::result::Result<(), String> {
    for t in ledger.batch_tickets(row.id).map_err(|e| e.to_string())? {
        let micros = cost(&t);
        let s = settlement(Outcome::Failed, TokenCounts::default(), micros, Levers::default(), note.into());
        settle_quietly(ledger, t, s)?;
    }
    ledger.finish_batch(row.id, state, Some(why)).map_err(|e| e.to_string())
}

/// Settles one batch row; a row another process settled meanwhile is left as it is.
fn settle_quietly(ledger: &frugal_ledger::Ledger, ticket: Ticket, s: Settlement) -> std::result::Result<(), String> {
    match ledger.settle(ticket, s) {
        Ok(()) | Err(frugal_ledger::LedgerError::NotPending(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

//! The router's batch queue: escalations that can wait go through the provider's batch API
//! at its batch price (half, at OpenAI and Anthropic).
//!
//! Every request of a batch is a ledger row reserved at its worst case before the batch is
//! submitted, and the reservation counts against the caps until the results settle the row,
//! so pending batches can never let a cap be crossed. The ledger holds the batch (provider,
//! the provider's id, its rows), so any process — the CLI, the tray app after a restart —
//! resumes polling where the last one stopped; a claim in the ledger keeps two from settling
//! one batch. What to do with each answer is kept beside the ledger until it is delivered
//! (a summary's paths; a draft's or an answer's task, to check it on arrival). Settling
//! follows what the provider reported, at the prices the batch was submitted at (kept on
//! its row): answered requests at the batch price for their usage; failed, expired and
//! cancelled ones, and every request of a batch refused as a whole, at nothing; requests the
//! provider counts as done whose result cannot be read, and a batch it no longer knows (three
//! polls in a row), at their worst case, because what they cost is unknown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use frugal_cloud::{prompt_token_bound, BatchItem, ItemOutcome, RemoteState};
use frugal_ledger::{
    BatchRow, BatchState, Levers, NewBatch, NewRequest, Outcome, Price, Settlement, Ticket, TokenCounts,
};
use frugal_llm::{ProviderError, Request};
use serde::{Deserialize, Serialize};

use crate::config::ProviderEntry;
use crate::metered::{counts, now_ms};
use crate::router::Router;
use crate::{CoreError, Result};

/// What to do with a batched answer when it comes back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    /// A meeting summary: checked against the transcript at `transcript`, written to `output`.
    Summary {
        /// The transcript (or recording's transcript) it summarizes.
        transcript: PathBuf,
        /// Where the summary goes.
        output: PathBuf,
    },
    /// A draft or an answer: `task` (`draft`, `ask`) and the task itself, to check the answer
    /// against its notes or sources as a live one is; kept in the data folder and shown by
    /// `frugal batches`.
    Answer {
        /// Which task.
        task: String,
        /// The task, as JSON.
        spec: serde_json::Value,
    },
    /// An eval's answer: checked as `answer` says (a summary against its transcript, a draft
    /// or an answer by its task), then put in the eval cache's `cache_file` for the next run
    /// of the eval to grade, instead of being delivered to the user.
    Eval {
        /// How the answer is checked.
        answer: Box<Delivery>,
        /// The eval cache's file for this test and route.
        cache_file: PathBuf,
    },
}

impl Delivery {
    /// This delivery, redirected to an eval's cache file when there is one (see
    /// [`Delivery::Eval`]).
    pub(crate) fn for_eval(self, cache: Option<&PathBuf>) -> Delivery {
        match cache {
            Some(file) => Delivery::Eval { answer: Box::new(self), cache_file: file.clone() },
            None => self,
        }
    }
}

/// A batch just submitted.
#[derive(Clone, Debug, Serialize)]
pub struct Queued {
    /// The ledger's id for it.
    pub batch_id: i64,
    /// The provider.
    pub provider: String,
    /// What is held against the budget until its results come back.
    pub reserved_micros: i64,
}

/// One answer of a finished batch, with what to do with it.
#[derive(Clone, Debug)]
pub struct BatchAnswer {
    /// The answer's text.
    pub text: String,
    /// Its request's id in the batch (`frugal-ROW`).
    pub custom_id: String,
    /// Its delivery, as given at submit.
    pub delivery: Option<Delivery>,
    /// The model that wrote it.
    pub model: String,
    /// What it cost, micro-dollars, as its ledger row was settled.
    pub cost_micros: i64,
    /// Its tokens, in and out.
    pub tokens: u64,
    /// The batch it came back in.
    pub batch_id: i64,
    /// Its ledger row's run id.
    pub run_id: String,
    /// From submit to the answer, milliseconds: a batched answer's latency.
    pub latency_ms: u64,
}

/// A batch that finished in this poll.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The batch as the ledger has it now.
    pub batch: BatchRow,
    /// Its answers.
    pub answers: Vec<BatchAnswer>,
}

/// What a poll found.
#[derive(Clone, Debug, Default)]
pub struct Polled {
    /// Batches that finished.
    pub finished: Vec<Finished>,
    /// Batches still waiting.
    pub waiting: Vec<BatchRow>,
    /// Polls that failed this time (rate limited, a server error): the batch stays pending.
    pub problems: Vec<String>,
}

/// What a poll means to the user: one line per batch that finished (with where its answers
/// went), and one per poll that failed.
#[derive(Clone, Debug, Default)]
pub struct PollNews {
    /// Batches that finished.
    pub finished: Vec<String>,
    /// Polls that failed this time; those batches stay pending.
    pub problems: Vec<String>,
}

/// The prices a batch was submitted at, kept on its ledger row: its results are settled at
/// these even if the price table or the config changed meanwhile.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Pricing {
    /// The batch price.
    batch: Price,
    /// The interactive price, for what the batch price saved.
    full: Price,
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

/// A row's `custom_id` at the provider: its ledger id, so results map back to rows.
fn custom_id(ticket: &Ticket) -> String {
    format!("frugal-{}", ticket.id())
}

/// Why a poll or cancel could not reach the provider.
fn provider_problem(e: &ProviderError) -> String {
    e.to_string()
}

impl Router {
    /// Where deliveries are kept: beside the ledger (batched drafts and answers are kept in
    /// its `answers` folder).
    pub(crate) fn deliveries_dir(&self) -> PathBuf {
        let ledger = self.spend.ledger_path();
        ledger.parent().unwrap_or(Path::new(".")).join("batches")
    }

    fn deliveries(&self, batch: i64) -> HashMap<String, Delivery> {
        let path = self.deliveries_dir().join(format!("{batch}.json"));
        std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// Submits `requests` for `task` to `entry`'s batch API. `Ok(None)`: its vendor has no
    /// batch API (the caller sends them interactively at the normal price, and says so).
    pub fn submit_batch(
        &self,
        task: &'static str,
        run_id: &str,
        entry: &ProviderEntry,
        escalation: &str,
        requests: Vec<(Request, Option<Delivery>)>,
    ) -> Result<Option<Queued>> {
        let (client, full) = self.cloud_client(entry)?;
        let Some(price) = self.spend.batch_price_of(entry)? else { return Ok(None) };
        let ledger = self.spend.ledger()?;
        let limits = self.spend.limits()?;
        let now = now_ms();
        let mut planned = Vec::with_capacity(requests.len());
        let mut news = Vec::with_capacity(requests.len());
        let mut expected_micros = 0i64;
        let caching = self.settings.get().levers.prompt_caching;
        for (mut request, delivery) in requests {
            request.validate()?;
            if !caching {
                request.cache = None;
            }
            let (request, prefix_hash) = crate::caching::plan(client.config(), &price, task, &ledger, request, now);
            let reserved = price.worst_case(u64::from(prompt_token_bound(&request)), u64::from(request.max_tokens));
            let chars: usize = request.messages.iter().map(|m| m.content.chars().count()).sum();
            expected_micros += price.cost(&TokenCounts {
                prompt: (chars / 4 + 1) as u64,
                completion: u64::from(request.max_tokens / 2),
                ..TokenCounts::default()
            });
            news.push(NewRequest {
                at_ms: now,
                run_id: run_id.to_string(),
                task: task.to_string(),
                route: frugal_ledger::Route::Cloud,
                provider: entry.name.clone(),
                model: entry.model.clone(),
                reserved_micros: reserved,
                escalation: Some(format!("{escalation} (batched)")),
                app: None,
                prefix_hash,
            });
            planned.push((request, delivery));
        }
        let batch = NewBatch {
            at_ms: now,
            provider: entry.name.clone(),
            model: entry.model.clone(),
            task: task.to_string(),
            expected_micros,
            pricing: serde_json::to_string(&Pricing { batch: price, full }).unwrap_or_default(),
        };
        let (id, tickets) = ledger.open_batch(batch, news, &limits).map_err(|e| match e {
            frugal_ledger::LedgerError::Refused(r) => CoreError::Route(format!("not batched: {r}")),
            e => e.into(),
        })?;
        let reserved_micros = tickets.iter().map(Ticket::reserved_micros).sum();
        let mut deliveries = HashMap::new();
        let mut items = Vec::with_capacity(planned.len());
        for (ticket, (request, delivery)) in tickets.iter().zip(planned) {
            if let Some(d) = delivery {
                deliveries.insert(custom_id(ticket), d);
            }
            items.push(BatchItem { custom_id: custom_id(ticket), request });
        }
        if let Err(e) = self.save_deliveries(id, &deliveries) {
            self.settle_unsent(&ledger, id, tickets, &e.to_string(), false)?;
            return Err(e);
        }
        match client.batch_submit(&items) {
            Ok(remote) => {
                ledger.batch_submitted(id, &remote.id)?;
                Ok(Some(Queued { batch_id: id, provider: entry.name.clone(), reserved_micros }))
            }
            Err(e) => {
                let billable = e.is_billable();
                self.settle_unsent(&ledger, id, tickets, &provider_problem(&e), billable)?;
                Err(CoreError::Provider(e))
            }
        }
    }

    fn save_deliveries(&self, id: i64, deliveries: &HashMap<String, Delivery>) -> Result<()> {
        let dir = self.deliveries_dir();
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(format!("{id}.json"));
            let part = dir.join(format!("{id}.json.part"));
            std::fs::write(&part, serde_json::to_vec(deliveries).unwrap_or_default())?;
            std::fs::rename(part, path)
        };
        write().map_err(|e| CoreError::Input(format!("cannot keep the batch's deliveries in {}: {e}", dir.display())))
    }

    /// A submission that failed: nothing ran, unless the request may have reached the
    /// provider (`maybe_sent`), when each row is charged its worst case.
    fn settle_unsent(
        &self,
        ledger: &frugal_ledger::Ledger,
        id: i64,
        tickets: Vec<Ticket>,
        why: &str,
        maybe_sent: bool,
    ) -> Result<()> {
        for t in tickets {
            let cost = if maybe_sent { t.reserved_micros() } else { 0 };
            let note = if maybe_sent {
                format!("the batch may have reached the provider ({why}); charged at its worst case")
            } else {
                format!("not sent: {why}")
            };
            ledger.settle(t, settlement(Outcome::Failed, TokenCounts::default(), cost, Levers::default(), note))?;
        }
        ledger.finish_batch(id, BatchState::Failed, Some(why))?;
        Ok(())
    }

    /// Batches still waiting and those of the last `days` days, newest first.
    pub fn batches(&self, days: i64) -> Result<Vec<BatchRow>> {
        Ok(self.spend.ledger()?.batches(now_ms() - days * 86_400_000)?)
    }

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
                if let Ok(Poll::Finished(answers)) = self.poll_one(&ledger, &row, false) {
                    polled.finished.push(Finished { batch: row, answers });
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

    /// The drafts and answers a batch delivered, kept in the data folder.
    pub fn kept_answers(&self, batch: i64) -> Vec<PathBuf> {
        let dir = self.deliveries_dir().join("answers");
        let prefix = format!("{batch}-");
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))
            .collect();
        out.sort();
        out
    }

    /// Forgets a finished batch's deliveries, once they are delivered.
    pub fn forget_deliveries(&self, batch: i64) {
        let _ = std::fs::remove_file(self.deliveries_dir().join(format!("{batch}.json")));
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
        let Some(remote) = client.batch_status(&remote_id).map_err(|e| provider_problem(&e))? else {
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
            self.settle_lost(ledger, row).map_err(|e| e.to_string())?;
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
            for t in ledger.batch_tickets(row.id).map_err(|e| e.to_string())? {
                let s = settlement(
                    Outcome::Failed,
                    TokenCounts::default(),
                    0,
                    Levers::default(),
                    format!("not run: {why}"),
                );
                settle_quietly(ledger, t, s)?;
            }
            ledger.finish_batch(row.id, BatchState::Failed, Some(&why)).map_err(|e| e.to_string())?;
            return Ok(Poll::Finished(Vec::new()));
        }
        // A results file that breaks off is an error for this poll: the provider keeps it, so
        // the next poll reads it whole rather than charging its unread requests.
        let results = client.batch_results(&remote).map_err(|e| provider_problem(&e))?;
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

    /// A batch the provider no longer knows: its rows are charged at their worst case (it may
    /// have run), and it is marked lost.
    fn settle_lost(&self, ledger: &frugal_ledger::Ledger, row: &BatchRow) -> Result<()> {
        let note = "the provider no longer knows this batch; charged at its worst case";
        for t in ledger.batch_tickets(row.id)? {
            let cost = t.reserved_micros();
            match ledger
                .settle(t, settlement(Outcome::Failed, TokenCounts::default(), cost, Levers::default(), note.into()))
            {
                Ok(()) | Err(frugal_ledger::LedgerError::NotPending(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        ledger.finish_batch(row.id, BatchState::Lost, Some(note))?;
        Ok(())
    }

    /// Asks the provider to cancel batch `id`. Requests it already ran stay billed; the rest
    /// are released when a later poll reads the cancelled batch's results.
    pub fn cancel_batch(&self, id: i64) -> Result<BatchRow> {
        let ledger = self.spend.ledger()?;
        let row = ledger.batch(id)?.ok_or_else(|| CoreError::Input(format!("there is no batch {id}")))?;
        if !row.state.is_open() {
            return Err(CoreError::Input(format!("batch {id} has already {}", row.state.as_str())));
        }
        let remote_id = row
            .remote_id
            .clone()
            .ok_or_else(|| CoreError::Input(format!("batch {id} is still being submitted; try again in a moment")))?;
        let entry = self.settings.get().provider(&row.provider).cloned().ok_or_else(|| {
            CoreError::Route(format!("the provider {} is no longer configured; add it back to cancel", row.provider))
        })?;
        let client = self.client(&entry)?;
        let note = match client.batch_cancel(&remote_id)? {
            Some(_) => "cancel asked; settled at the next poll",
            None => "the provider did not know this batch when asked to cancel it; the next polls decide",
        };
        ledger.note_batch(id, note)?;
        Ok(ledger.batch(id)?.unwrap_or(row))
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

/// Settles one batch row; a row another process settled meanwhile is left as it is.
fn settle_quietly(ledger: &frugal_ledger::Ledger, ticket: Ticket, s: Settlement) -> std::result::Result<(), String> {
    match ledger.settle(ticket, s) {
        Ok(()) | Err(frugal_ledger::LedgerError::NotPending(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

fn settlement(outcome: Outcome, tokens: TokenCounts, cost: i64, levers: Levers, note: String) -> Settlement {
    Settlement {
        finished_ms: now_ms(),
        tokens,
        cost_micros: cost,
        reference_cost_micros: None,
        latency_ms: 0,
        outcome,
        note: (!note.is_empty()).then_some(note),
        levers,
    }
}

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

use frugal_cloud::{prompt_token_bound, BatchItem};
use frugal_ledger::{BatchRow, BatchState, Levers, NewBatch, NewRequest, Outcome, Settlement, Ticket, TokenCounts};
use frugal_llm::Request;
use serde::{Deserialize, Serialize};

use crate::config::ProviderEntry;
use crate::metered::now_ms;
use crate::router::Router;
use crate::{CoreError, Result};

mod poll;
use poll::Pricing;

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

/// A row's `custom_id` at the provider: its ledger id, so results map back to rows.
fn custom_id(ticket: &Ticket) -> String {
    format!("frugal-{}", ticket.id())
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
                self.settle_unsent(&ledger, id, tickets, &e.to_string(), billable)?;
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

//! The meter: a provider wrapper that writes a ledger row for every request. A cloud request
//! first reserves its worst case against the caps (refused if it could cross one), then
//! settles to the real usage; a local one records what the same tokens would have cost.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use frugal_cloud::{prompt_token_bound, CloudClient, Outbound};
use frugal_ledger::{Ledger, Limits, NewRequest, Outcome, Price, Settlement, TokenCounts};
use frugal_llm::{CancelToken, ErrorKind, Event, EventStream, Provider, ProviderError, Request, Usage};
use serde::Serialize;

/// What `--dry-run` shows: the exact request and what it may cost.
#[derive(Clone, Debug, Serialize)]
pub struct DryRun {
    /// Provider name.
    pub provider: String,
    /// Model.
    pub model: String,
    /// The request, key masked.
    pub outbound: Outbound,
    /// Prompt tokens, estimated at 4 characters each.
    pub prompt_tokens_estimate: u32,
    /// The answer's token limit.
    pub max_output_tokens: u32,
    /// Typical cost: the estimated prompt and half the output limit.
    pub estimated_usd: f64,
    /// What would be reserved: the prompt's upper bound and the whole output limit.
    pub worst_case_usd: f64,
    /// Later requests of the same task (the parts of a long meeting) depend on this one's
    /// answer, so only the first is shown.
    pub note: Option<String>,
}

/// A provider that writes a ledger row for every request, reserving first for the cloud.
pub struct Metered {
    pub(crate) inner: Arc<dyn Provider>,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) limits: Limits,
    pub(crate) task: &'static str,
    pub(crate) run_id: String,
    pub(crate) model: String,
    /// The cloud price; `None` for the local engine.
    pub(crate) price: Option<Price>,
    /// The reference cloud price, for the savings of a local row.
    pub(crate) reference: Option<Price>,
    pub(crate) escalation: Option<String>,
    pub(crate) spent: Arc<AtomicI64>,
    /// Set by a dry run: the first request is captured here instead of sent.
    pub(crate) dry_run: Option<Arc<Mutex<Option<DryRun>>>>,
    /// The cloud client (for `--dry-run` previews); `None` for the local engine.
    pub(crate) client: Option<Arc<CloudClient>>,
    /// The gateway app the requests come from, recorded on each row.
    pub(crate) app: Option<String>,
    /// `[levers] prompt_caching`: offer prompt prefixes to the provider's cache.
    pub(crate) caching: bool,
}

impl Metered {
    /// Charges this meter's requests to a gateway app as well: recorded on each row and
    /// capped by the app's own monthly budget inside the global ones.
    pub(crate) fn scoped(mut self, app: Option<&crate::router::AppScope>) -> Self {
        if let Some(a) = app {
            self.app = Some(a.name.clone());
            self.limits.app_monthly_micros = a.monthly_micros;
        }
        self
    }
}

/// The error a dry run ends the task with, once its request is captured.
pub(crate) const DRY_RUN: &str = "dry run: nothing was sent";

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A usage report as the ledger's token counts.
pub(crate) fn counts(u: &Usage) -> TokenCounts {
    TokenCounts {
        prompt: u64::from(u.prompt_tokens),
        cached: u64::from(u.cached_prompt_tokens),
        cache_write: u64::from(u.cache_write_tokens),
        completion: u64::from(u.completion_tokens),
        reasoning: u64::from(u.reasoning_tokens),
    }
}

impl Metered {
    /// The micro-dollars this run's requests have cost so far.
    pub fn spent(&self) -> i64 {
        self.spent.load(Ordering::SeqCst)
    }

    /// The model's name, as the ledger records it.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// What sending `request` would mean: the payload and its cost. Sends nothing.
    pub fn dry_run_of(&self, request: &Request) -> DryRun {
        let price = self.price.unwrap_or_default();
        let prompt_bound = prompt_token_bound(request);
        let chars: usize = request.messages.iter().map(|m| m.content.chars().count()).sum();
        let prompt_est = u32::try_from(chars / 4 + 1).unwrap_or(u32::MAX);
        let typical = price.cost(&TokenCounts {
            prompt: u64::from(prompt_est),
            completion: u64::from(request.max_tokens / 2),
            ..TokenCounts::default()
        });
        let worst = price.worst_case(u64::from(prompt_bound), u64::from(request.max_tokens));
        let outbound = match &self.client {
            Some(c) => c.outbound(request),
            None => Outbound {
                method: "POST",
                url: "(local engine)".into(),
                headers: Vec::new(),
                body: serde_json::Value::Null,
            },
        };
        DryRun {
            provider: self.inner.name().to_string(),
            model: self.model.clone(),
            outbound,
            prompt_tokens_estimate: prompt_est,
            max_output_tokens: request.max_tokens,
            estimated_usd: frugal_ledger::usd(typical),
            worst_case_usd: frugal_ledger::usd(worst),
            note: None,
        }
    }
}

impl Provider for Metered {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn stream(&self, request: Request, cancel: CancelToken) -> EventStream {
        if let Err(e) = request.validate() {
            return EventStream::failed(e);
        }
        // The cache marks that pay off at this provider, decided before anything is shown or
        // sent; the local engine reuses its KV cache on its own.
        let (mut request, prefix_hash) = match (&self.client, &self.price) {
            (Some(c), Some(p)) if self.caching => {
                crate::caching::plan(c.config(), p, self.task, &self.ledger, request, now_ms())
            }
            _ => (request, None),
        };
        if !self.caching {
            request.cache = None;
        }
        if let Some(slot) = &self.dry_run {
            let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(self.dry_run_of(&request));
            }
            return EventStream::failed(ProviderError::new(ErrorKind::Refused, DRY_RUN));
        }
        let reserved = self
            .price
            .map_or(0, |p| p.worst_case(u64::from(prompt_token_bound(&request)), u64::from(request.max_tokens)));
        let started = Instant::now();
        let new = NewRequest {
            at_ms: now_ms(),
            run_id: self.run_id.clone(),
            task: self.task.to_string(),
            route: if self.price.is_some() { frugal_ledger::Route::Cloud } else { frugal_ledger::Route::Local },
            provider: self.inner.name().to_string(),
            model: self.model.clone(),
            reserved_micros: reserved,
            escalation: self.escalation.clone(),
            app: self.app.clone(),
            prefix_hash,
        };
        let (tx, rx) = frugal_llm::channel();
        let mut watch = Watch {
            ledger: self.ledger.clone(),
            price: self.price,
            reference: self.reference,
            spent: self.spent.clone(),
            reserved,
            started,
            ticket: None,
            tx,
            usage: None,
            outcome: Outcome::Failed,
            note: None,
            billable: false,
            saw_text: false,
            last: None,
            _in_flight: InFlight::new(),
        };
        let inner = self.inner.clone();
        let limits = self.limits;
        // On a multi-threaded Tokio runtime (the gateway, the tray app) the meter is a task on
        // it: the provider's events reach the caller without crossing threads, where a thread
        // per request costs two wake-ups per event, and its ledger writes are awaited, not
        // blocked on. Elsewhere (the CLI) it is a thread, which forwards events and settles
        // the row whatever happens: a request whose row is never settled would stay reserved
        // until the next start.
        let spawned = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                h.spawn(async move {
                    // The watch's own handle: no other may outlive the answer (see `Closing::end`).
                    let begun = watch.ledger.begin_async(new, &limits).await;
                    match admitted(begun, &watch) {
                        Ok(ticket) => watch.ticket = ticket,
                        Err(e) => {
                            watch.tx.send_item(Err(e));
                            return;
                        }
                    }
                    // Started here, inside the task: a cloud client then runs on this runtime too.
                    let mut upstream = inner.stream(request, cancel);
                    while let Some(item) = upstream.next().await {
                        if !watch.observe(item) {
                            break;
                        }
                    }
                    if watch.price.is_some() {
                        watch.settle_async(upstream, inner).await;
                    } else {
                        // Letting go of a local engine joins its worker, which blocks: the
                        // runtime moves its other tasks to another thread meanwhile.
                        tokio::task::block_in_place(|| watch.settle(upstream, inner));
                    }
                });
                Ok(())
            }
            _ => {
                match admitted(self.ledger.begin(new, &self.limits), &watch) {
                    Ok(ticket) => watch.ticket = ticket,
                    Err(e) => return EventStream::failed(e),
                }
                std::thread::Builder::new()
                    .name("frugal-meter".into())
                    .spawn(move || {
                        // Started here, not before the spawn: if no thread can be had, nothing is sent.
                        let mut upstream = inner.stream(request, cancel);
                        let mut watch = watch;
                        while let Some(item) = upstream.blocking_next() {
                            if !watch.observe(item) {
                                break;
                            }
                        }
                        watch.settle(upstream, inner);
                    })
                    .map(drop)
            }
        };
        if let Err(e) = spawned {
            return EventStream::failed(ProviderError::new(ErrorKind::Internal, format!("cannot start a thread: {e}")));
        }
        rx
    }
}

/// The ticket of a reservation, or why the request goes no further. Local work costs
/// nothing and sends nothing, so a broken ledger does not stop it: it runs unrecorded, and
/// says so once per process (a long summary makes many requests).
fn admitted(
    begun: frugal_ledger::Result<frugal_ledger::Ticket>,
    watch: &Watch,
) -> Result<Option<frugal_ledger::Ticket>, ProviderError> {
    match begun {
        Ok(t) => Ok(Some(t)),
        Err(frugal_ledger::LedgerError::Refused(r)) => Err(ProviderError::new(ErrorKind::Refused, r.to_string())),
        Err(e) if watch.price.is_none() => {
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, Ordering::SeqCst) {
                watch.tx.send(Event::Status(format!("local work is not recorded in the spend ledger: {e}")));
            }
            Ok(None)
        }
        Err(e) => {
            Err(ProviderError::new(ErrorKind::Internal, format!("the spend ledger failed, so nothing was sent: {e}")))
        }
    }
}

/// Requests whose rows are not settled yet, across the process: a server shutting down waits
/// for them (see [`unsettled`]) so its runtime does not drop a meter mid-settlement.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// How many metered requests have not settled their rows yet, in this process. A server
/// that runs its meters on its own runtime waits for this to reach 0 before dropping it.
pub fn unsettled() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst)
}

/// One request being watched: what its stream has said so far, and how to settle its row.
struct Watch {
    ledger: Arc<Ledger>,
    price: Option<Price>,
    reference: Option<Price>,
    spent: Arc<AtomicI64>,
    reserved: i64,
    started: Instant,
    ticket: Option<frugal_ledger::Ticket>,
    tx: frugal_llm::EventSender,
    usage: Option<Usage>,
    outcome: Outcome,
    note: Option<String>,
    billable: bool,
    saw_text: bool,
    /// The last item (Done or an error), held back until the row is settled, so a caller
    /// that has seen the end of the stream also sees the cost in the ledger.
    last: Option<frugal_llm::Result<Event>>,
    /// Counted in [`IN_FLIGHT`] until dropped, however the watch ends.
    _in_flight: InFlight,
}

struct InFlight;

impl InFlight {
    fn new() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Watch {
    /// Notes one item and forwards it; false once the stream is over (its end held back) or
    /// the caller went away.
    fn observe(&mut self, item: frugal_llm::Result<Event>) -> bool {
        match &item {
            Ok(Event::Usage(u)) => self.usage = Some(*u),
            Ok(Event::Text(_) | Event::ToolCall(_)) => self.saw_text = true,
            Ok(Event::Done { reason }) => {
                self.outcome =
                    if *reason == frugal_llm::FinishReason::Cancelled { Outcome::Cancelled } else { Outcome::Ok }
            }
            Ok(Event::Status(_) | Event::Queued { .. }) => {}
            Err(e) => {
                self.note = Some(e.message().to_string());
                self.billable = e.is_billable();
            }
        }
        if matches!(item, Ok(Event::Done { .. }) | Err(_)) {
            self.last = Some(item);
            return false;
        }
        if !self.tx.send_item(item) {
            // The caller went away: the provider may still bill what it generated.
            self.note = Some("the caller stopped reading".into());
            self.billable = true;
            self.outcome = Outcome::Cancelled;
            return false;
        }
        true
    }

    /// Settles the row, then hands the caller the end. The engine (`upstream`, `inner`) is
    /// let go first: whoever sees the answer finish may change the model next, and the old
    /// engine must be free by then.
    fn settle(self, upstream: EventStream, inner: Arc<dyn Provider>) {
        let (closing, due) = self.close(upstream, inner);
        if let Some((ticket, settlement)) = due {
            closing.written(closing.ledger.settle(ticket, settlement));
        }
        closing.end();
    }

    /// As [`Watch::settle`], awaiting the ledger's write (for a cloud request: nothing else
    /// in it blocks).
    async fn settle_async(self, upstream: EventStream, inner: Arc<dyn Provider>) {
        let (closing, due) = self.close(upstream, inner);
        if let Some((ticket, settlement)) = due {
            closing.written(closing.ledger.settle_async(ticket, settlement).await);
        }
        closing.end();
    }

    /// What the row is settled with (none when it was never reserved), the engine let go
    /// first.
    fn close(
        self,
        upstream: EventStream,
        inner: Arc<dyn Provider>,
    ) -> (Closing, Option<(frugal_ledger::Ticket, Settlement)>) {
        let Watch {
            ledger,
            price,
            reference,
            spent,
            reserved,
            started,
            ticket,
            tx,
            usage,
            outcome,
            mut note,
            mut billable,
            saw_text,
            last,
            _in_flight,
        } = self;
        if outcome == Outcome::Failed && note.is_none() {
            note = Some("the engine stopped before the answer was complete".into());
            billable = saw_text;
        }
        drop(upstream);
        drop(inner);
        let tokens = usage.as_ref().map(counts).unwrap_or_default();
        // Never under-count: when the provider's numbers are missing or untrustworthy,
        // the request is charged what was reserved for it.
        let cost = match (price, usage) {
            (None, _) => 0,
            (Some(_), Some(u)) if u.estimated => reserved,
            (Some(p), Some(_)) if outcome != Outcome::Failed => p.cost(&tokens).max(0),
            // Finished without any usage report: the provider's bill is unknown.
            (Some(_), None) if outcome != Outcome::Failed => reserved,
            (Some(_), _) if billable => reserved,
            (Some(_), _) => 0,
        };
        if cost > reserved {
            // The bound was wrong (an unusual tokenizer, reasoning past max_tokens): the
            // ledger records the truth, and says so.
            note = Some(format!(
                "cost {} exceeded its reservation {}{}",
                frugal_ledger::usd_exact(cost),
                frugal_ledger::usd_exact(reserved),
                note.map(|n| format!("; {n}")).unwrap_or_default()
            ));
        }
        let reference_cost = match (price, reference, usage) {
            (None, Some(r), Some(_)) => Some(r.cost(&tokens)),
            _ => None,
        };
        let levers = match (price, reference, usage) {
            // What the provider's cache saved (or, for a write not read back yet, cost).
            (Some(p), _, Some(u)) if !u.estimated && cost > 0 => {
                frugal_ledger::Levers { cache_micros: p.uncached_cost(&tokens) - cost, batch_micros: 0 }
            }
            // What the KV prefix the engine kept would have cost as fresh cloud input.
            (None, Some(r), Some(_)) => frugal_ledger::Levers {
                cache_micros: r.cost(&TokenCounts { prompt: tokens.cached, ..TokenCounts::default() }),
                batch_micros: 0,
            },
            _ => frugal_ledger::Levers::default(),
        };
        let settlement = Settlement {
            finished_ms: now_ms(),
            tokens,
            cost_micros: cost,
            reference_cost_micros: reference_cost,
            latency_ms: started.elapsed().as_millis() as i64,
            outcome,
            note,
            levers,
        };
        spent.fetch_add(cost, Ordering::SeqCst);
        (Closing { ledger, tx, last, _in_flight }, ticket.map(|t| (t, settlement)))
    }
}

/// A request's row about to be settled, and the end of its stream held back until it is.
struct Closing {
    ledger: Arc<Ledger>,
    tx: frugal_llm::EventSender,
    last: Option<frugal_llm::Result<Event>>,
    _in_flight: InFlight,
}

impl Closing {
    fn written(&self, r: frugal_ledger::Result<()>) {
        if let Err(e) = r {
            self.tx.send(Event::Status(format!("could not record this request in the spend ledger: {e}")));
        }
    }

    /// Hands the caller the end. This thread's handle on the ledger goes first: a CLI that
    /// exits as soon as the answer ends must find its own handle the last one, so the
    /// ledger's drop (which takes the backup of what was just spent) runs in the caller,
    /// not in a thread the exit may cut short.
    fn end(self) {
        let Closing { ledger, tx, last, _in_flight } = self;
        drop(ledger);
        if let Some(last) = last {
            tx.send_item(last);
        }
    }
}

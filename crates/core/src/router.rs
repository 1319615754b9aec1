//! The router service: which engine serves a task, and what it costs.
//!
//! Every request goes through a [`Metered`] provider, local or cloud (see `metered`).
//! [`Router::route`] runs a task locally first and climbs the tiers (economy, then premium)
//! only when the local answer fails its checks, cannot be produced (no model, too long for
//! the context), or the user asked — and never with text from a local-only folder or an
//! input marked private. It asks the spend service for prices, caps and the ledger, and the
//! models service for the engine; it holds only the cloud clients.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use frugal_cloud::CloudClient;
use frugal_ledger::{Limits, Price};
use frugal_llm::{CancelToken, ErrorKind, Provider, ProviderError, Request};
use serde::Serialize;

use crate::config::{Escalate, ProviderEntry, TaskPolicy, Tier};
use crate::metered::{now_ms, DRY_RUN};
pub use crate::metered::{DryRun, Metered};
use crate::models::Models;
use crate::settings::Settings;
use crate::spend::Spend;
use crate::tasks::{Quality, TaskError};
use crate::{CoreError, Result};

/// A cloud route the caller insists on: no local attempt, no climbing, this entry only. An
/// eval comparing routes needs each answer from the route it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    /// The provider configured at this tier.
    Tier(Tier),
    /// The provider of this name.
    Provider(String),
}

impl Pin {
    /// The provider entry this pin names, or why there is none.
    pub(crate) fn entry(&self, config: &crate::config::Config) -> Result<ProviderEntry> {
        let found = match self {
            Pin::Tier(t) => config.provider_for(*t),
            Pin::Provider(name) => config.provider(name),
        };
        found.cloned().ok_or_else(|| match self {
            Pin::Tier(t) => {
                CoreError::Route(format!("no cloud provider is configured at the {t:?} tier").to_lowercase())
            }
            Pin::Provider(name) => CoreError::Route(format!("no provider named \"{name}\" is configured")),
        })
    }
}

/// What the user asked of the router for one command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteOptions {
    /// `--cloud`: skip the local model and go to the economy tier.
    pub cloud: bool,
    /// `--local-only`: never leave the machine.
    pub local_only: bool,
    /// `--private`: this input must never be sent out.
    pub private: bool,
    /// `--dry-run`: show what would be sent and its cost; send nothing.
    pub dry_run: bool,
    /// Straight to this cloud provider (an eval's `economy`, `premium` or provider route).
    pub pin: Option<Pin>,
    /// An eval's label (`SUITE#TEST`): the run's rows are recorded as task `eval`, with the
    /// label at the head of their run id, so an eval shows apart in the spend report and
    /// its requests count against the same caps as everything else.
    pub eval: Option<String>,
    /// The gateway app asking (`frugal serve`): its rows carry its name and its cap applies.
    pub app: Option<AppScope>,
    /// Why the caller sends this to the cloud (with `cloud`), recorded as the escalation:
    /// the gateway's "the local answer did not match the response schema".
    pub escalation: Option<String>,
    /// `--batch`: work that can wait; an escalation goes through the provider's batch API
    /// at its batch price, and the answer is delivered when it comes back.
    pub batch: bool,
    /// An eval's cache file: a batched answer goes there (checked as the task checks it)
    /// rather than where the task would put it (a summary beside its meeting).
    pub eval_cache: Option<std::path::PathBuf>,
}

/// A gateway app as the router sees it: who to charge, and its own cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppScope {
    /// The app's name, recorded on every row.
    pub name: String,
    /// Its monthly cap on cloud spend, micro-dollars.
    pub monthly_micros: Option<i64>,
}

impl RouteOptions {
    /// The task name the ledger records for `task` run with these options.
    pub(crate) fn ledger_task(&self, task: &'static str) -> &'static str {
        if self.eval.is_some() {
            "eval"
        } else if self.app.is_some() {
            "gateway"
        } else {
            task
        }
    }

    /// A fresh run id, labelled for an eval.
    pub(crate) fn new_run_id(&self) -> String {
        match &self.eval {
            Some(label) => format!("eval:{label}:{}", new_run_id()),
            None => new_run_id(),
        }
    }
}

/// How a task run was served: printed after an answer and in `--json` as `route`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RouteReport {
    /// `local` or `cloud`.
    pub route: &'static str,
    /// `local` or the provider's name.
    pub provider: String,
    /// The model that wrote the answer.
    pub model: String,
    /// The cloud tier, if any.
    pub tier: Option<Tier>,
    /// What the run cost (all its requests, failed ones included), in micro-dollars.
    pub cost_micros: i64,
    /// The same in USD.
    pub cost_usd: f64,
    /// Why it left the machine.
    pub escalated: Option<String>,
    /// Why it did not (or why the cloud answer is not shown), when that matters to the user.
    pub note: Option<String>,
    /// Groups this run's ledger rows.
    pub run_id: String,
}

/// A task's result, or what would have been sent.
#[derive(Debug)]
pub enum Routed<T> {
    /// The answer and how it was served.
    Done(T, RouteReport),
    /// `--dry-run`.
    DryRun(Box<DryRun>),
    /// `--batch`: the escalation went into a batch; the local answer, if there was one, is
    /// here meanwhile, and the report's note says where the cloud's will be delivered.
    Queued(Option<T>, RouteReport),
}

/// The tiers a task may climb, cheapest first.
pub(crate) fn tiers(policy: &TaskPolicy) -> Vec<Tier> {
    [Tier::Economy, Tier::Premium].into_iter().filter(|t| *t <= policy.max_tier).collect()
}

fn failed_checks(q: &Quality) -> String {
    q.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// Whether a local failure is one the cloud can fix (rather than a cancel or a bug).
fn local_unavailable(e: &CoreError) -> Option<String> {
    match e {
        CoreError::NoModel(_) | CoreError::Model(_) | CoreError::Plan(_) => Some(format!("no local model ({e})")),
        CoreError::Provider(p) | CoreError::Task(TaskError::Provider(p)) => match p.kind() {
            ErrorKind::ContextOverflow => Some("too long for the local model's context".into()),
            ErrorKind::ModelUnavailable | ErrorKind::OutOfMemory | ErrorKind::EngineStopped => {
                Some(format!("the local model failed ({p})"))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The policy refusal inside `e` (a budget cap, or the dry run's capture), if that is what it is.
fn refusal(e: &CoreError) -> Option<&ProviderError> {
    match e {
        CoreError::Provider(p) | CoreError::Task(TaskError::Provider(p)) if p.kind() == ErrorKind::Refused => Some(p),
        _ => None,
    }
}

fn is_dry_run(e: &CoreError) -> bool {
    refusal(e).is_some_and(|p| p.message() == DRY_RUN)
}

/// Why a request goes straight to the cloud (`--cloud`, `--dry-run`, or the task's policy
/// `always`), or `None` to start locally. Contradictory flags, and private input asked to go
/// out, are refused here, once, for every task and for chat.
pub(crate) fn cloud_first(opts: &RouteOptions, policy: &TaskPolicy, private: Option<&str>) -> Result<Option<String>> {
    if (opts.cloud || opts.dry_run || opts.pin.is_some()) && opts.local_only {
        let flag = if opts.cloud {
            "--cloud"
        } else if opts.dry_run {
            "--dry-run"
        } else {
            "a cloud route"
        };
        return Err(CoreError::Route(format!("{flag} and --local-only cannot be used together")));
    }
    let reason = if opts.pin.is_some() {
        Some(opts.escalation.as_deref().unwrap_or("asked for this route"))
    } else if opts.cloud || opts.dry_run {
        Some(opts.escalation.as_deref().unwrap_or("asked (--cloud)"))
    } else if policy.escalate == Escalate::Always && !opts.local_only {
        Some("policy: always")
    } else {
        None
    };
    match (reason, private) {
        (Some(_), Some(why)) => Err(CoreError::Route(format!("not sent to a cloud: {why}"))),
        (reason, _) => Ok(reason.map(String::from)),
    }
}

/// A fresh id for one task run: time and a process-wide counter, unique enough for grouping.
pub(crate) fn new_run_id() -> String {
    static COUNTER: AtomicI64 = AtomicI64::new(0);
    format!("{:x}-{:x}-{}", now_ms(), std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// One run of a task on one provider: its output and the quality signal that decides escalation.
pub type Attempt<T> = Result<(T, Quality)>;

/// One task for [`Router::route`]: how to run it on a provider, locally or in the cloud.
/// The shells use the built-in tasks (`summarize`, `draft`, `ask`); this is the seam they and
/// the tests share.
pub struct Job<'a, T> {
    pub task: &'static str,
    pub policy: TaskPolicy,
    /// Why this input must stay here (local-only passages, a private file), if it must.
    pub private: Option<String>,
    /// Runs the task on the local engine (wrapped in its meter).
    pub local: &'a mut dyn FnMut(&dyn Provider) -> Attempt<T>,
    /// Runs the task on a cloud provider of the given entry.
    pub cloud: &'a mut dyn FnMut(&dyn Provider, &ProviderEntry) -> Attempt<T>,
    /// For `--batch`: the one request that does the task on a cloud provider of the given
    /// entry, and where its answer goes. `None` (or a closure answering `None`): the task
    /// cannot be one batched request, and it runs interactively.
    pub batch: Option<BatchJob<'a>>,
}

/// How a task runs as one batched request: the request for a provider entry, or `None`
/// when it does not fit one (a meeting longer than the cloud model's context).
pub type BatchJob<'a> = &'a mut dyn FnMut(&ProviderEntry) -> Option<(Request, Option<crate::batches::Delivery>)>;

/// The router service.
pub struct Router {
    pub(crate) settings: Arc<Settings>,
    models: Arc<Models>,
    pub(crate) spend: Arc<Spend>,
    /// Cloud clients by provider name, with the entry each was made from: an entry changed
    /// in the settings gets a new client.
    clients: Mutex<HashMap<String, (ProviderEntry, Arc<CloudClient>)>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

impl Router {
    /// The service over the settings, the models (for the local engine) and the spend
    /// service (for prices, caps and the ledger).
    pub fn new(settings: Arc<Settings>, models: Arc<Models>, spend: Arc<Spend>) -> Self {
        Self { settings, models, spend, clients: Mutex::new(HashMap::new()) }
    }

    /// A ready client for `entry`: its key found, its price known, a budget set.
    pub fn cloud_client(&self, entry: &ProviderEntry) -> Result<(Arc<CloudClient>, Price)> {
        match self.settings.get().budget.monthly_usd {
            None => {
                return Err(CoreError::Route(
                    "no monthly budget is set, so nothing is sent to a cloud: run `frugal budget set USD`".into(),
                ))
            }
            // Even a model priced at $0 stays unused: a $0 budget means "keep it local".
            Some(b) if b <= 0.0 => {
                return Err(CoreError::Route("the monthly budget is $0: everything stays local".into()))
            }
            Some(_) => {}
        }
        let price = self.spend.price_of(entry)?;
        Ok((self.client(entry)?, price))
    }

    /// Whether a request to `entry` can be metered without blocking: its client made (its
    /// key read from the keychain) and the ledger open. Asked without waiting: while another
    /// caller makes a client (and may wait on the keychain), nothing is ready.
    pub(crate) fn cloud_ready(&self, entry: &ProviderEntry) -> bool {
        let made = |clients: &HashMap<String, (ProviderEntry, Arc<CloudClient>)>| {
            clients.get(&entry.name).is_some_and(|(made_for, _)| made_for == entry)
        };
        let made = match self.clients.try_lock() {
            Ok(clients) => made(&clients),
            Err(std::sync::TryLockError::Poisoned(p)) => made(&p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => false,
        };
        made && self.spend.ledger_is_open()
    }

    /// The client for `entry`, its key found: no budget or price check, for calls that move
    /// no new money (polling or cancelling a batch already paid for by its reservations).
    pub(crate) fn client(&self, entry: &ProviderEntry) -> Result<Arc<CloudClient>> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((made_for, c)) = clients.get(&entry.name) {
            if made_for == entry {
                return Ok(c.clone());
            }
        }
        let key = if entry.needs_key {
            let found = crate::secrets::key_for(&entry.name).map_err(|e| {
                CoreError::Route(format!(
                    "no API key for {}: {e}; or set {}",
                    entry.name,
                    crate::secrets::env_var(&entry.name)
                ))
            })?;
            match found {
                Some((k, _)) => Some(k),
                None => {
                    return Err(CoreError::Route(format!(
                        "no API key for {0}: run `frugal keys set {0}` (or set {1})",
                        entry.name,
                        crate::secrets::env_var(&entry.name)
                    )))
                }
            }
        } else {
            None
        };
        let client = Arc::new(CloudClient::new(entry.cloud_config(), key)?);
        clients.insert(entry.name.clone(), (entry.clone(), client.clone()));
        Ok(client)
    }

    pub(crate) fn metered(
        &self,
        inner: Arc<dyn Provider>,
        task: &'static str,
        run_id: &str,
        model: String,
        price: Option<Price>,
        escalation: Option<String>,
    ) -> Result<Metered> {
        let (ledger, limits) = if price.is_some() {
            // Money leaves only through a working ledger and valid caps: fail closed.
            (self.spend.ledger()?, self.spend.limits()?)
        } else {
            (self.spend.ledger_for_local()?, Limits::default())
        };
        Ok(Metered {
            inner,
            ledger,
            limits,
            task,
            run_id: run_id.to_string(),
            model,
            price,
            reference: if price.is_none() { self.spend.reference_price() } else { None },
            escalation,
            spent: Arc::new(AtomicI64::new(0)),
            dry_run: None,
            client: None,
            app: None,
            caching: self.settings.get().levers.prompt_caching,
        })
    }

    /// A cloud client behind a meter that reserves before each request.
    pub(crate) fn metered_cloud(
        &self,
        client: Arc<CloudClient>,
        task: &'static str,
        run_id: &str,
        entry: &ProviderEntry,
        price: Price,
        escalation: String,
    ) -> Result<Metered> {
        let mut m = self.metered(client.clone(), task, run_id, entry.model.clone(), Some(price), Some(escalation))?;
        m.client = Some(client);
        Ok(m)
    }

    /// Any provider behind a meter for `task`: priced as `entry`'s model when given (a cloud
    /// request that reserves first), else as local work (cost 0, savings at the reference
    /// price). For the tray app's own streams and for benchmarks.
    pub fn meter(
        &self,
        inner: Arc<dyn Provider>,
        task: &'static str,
        entry: Option<&ProviderEntry>,
    ) -> Result<Metered> {
        let run_id = new_run_id();
        match entry {
            Some(e) => {
                let price = self.spend.price_of(e)?;
                self.metered(inner, task, &run_id, e.model.clone(), Some(price), None)
            }
            None => self.metered(inner, task, &run_id, "local".into(), None, None),
        }
    }

    /// Checks a provider end to end with the smallest real request (one output token),
    /// metered and reserved like any other: key, price, budget, network and the model all
    /// have to work. Returns what the check cost.
    pub fn test_provider(&self, name: &str) -> Result<RouteReport> {
        let entry = self
            .settings
            .get()
            .provider(name)
            .cloned()
            .ok_or_else(|| CoreError::Input(format!("no provider named {name} in the config")))?;
        let (client, price) = self.cloud_client(&entry)?;
        let run_id = new_run_id();
        let meter = self.metered_cloud(client, "test", &run_id, &entry, price, "connection test".into())?;
        let request = Request::new(vec![frugal_llm::Message::user("Reply with the word OK.")]).with_max_tokens(1);
        meter.stream(request, CancelToken::new()).collect_blocking()?;
        Ok(finish(RouteReport {
            route: "cloud",
            provider: entry.name.clone(),
            model: entry.model.clone(),
            tier: Some(entry.tier),
            cost_micros: meter.spent(),
            cost_usd: 0.0,
            escalated: Some("connection test".into()),
            note: None,
            run_id,
        }))
    }

    /// The local engine behind a meter.
    pub(crate) fn metered_local(&self, task: &'static str, run_id: &str) -> Result<Metered> {
        let engine = self.models.engine()?;
        let model =
            self.models.model_path()?.file_stem().map_or_else(|| "local".into(), |s| s.to_string_lossy().into_owned());
        self.metered(engine, task, run_id, model, None, None)
    }

    /// Runs `job`: local first, then up the tiers as the policy, the checks, privacy and the
    /// budget allow. If the cloud fails or refuses, the local answer comes back with a note.
    pub fn route<T>(&self, opts: &RouteOptions, job: Job<'_, T>) -> Result<Routed<T>> {
        let run_id = opts.new_run_id();
        let task = opts.ledger_task(job.task);
        let mut report =
            RouteReport { route: "local", provider: "local".into(), run_id: run_id.clone(), ..RouteReport::default() };
        let first = cloud_first(opts, &job.policy, job.private.as_deref())?;
        let asked = first.is_some();
        let mut local: Option<(T, Quality)> = None;
        let mut reason = first.unwrap_or_default();
        if !asked {
            let attempt = self.metered_local(task, &run_id).map(|m| m.scoped(opts.app.as_ref())).and_then(|m| {
                report.model = m.model.clone();
                (job.local)(&m)
            });
            match attempt {
                Ok((out, q)) if q.passed => {
                    return Ok(Routed::Done(out, report));
                }
                Ok((out, q)) => {
                    reason = format!("the local answer failed its checks ({})", failed_checks(&q));
                    local = Some((out, q));
                }
                Err(e) => match local_unavailable(&e) {
                    Some(why) => reason = why,
                    None => return Err(e),
                },
            }
            let blocked = if opts.local_only {
                Some("--local-only".to_string())
            } else if job.policy.escalate == Escalate::Never {
                Some(format!("[policy.{}] escalate = \"never\"", job.task))
            } else {
                job.private.as_ref().map(|why| format!("kept on this machine: {why}"))
            };
            if let Some(blocked) = blocked {
                return match local {
                    Some((out, _)) => {
                        report.note = Some(format!("not escalated ({reason}): {blocked}"));
                        Ok(Routed::Done(out, report))
                    }
                    None => Err(CoreError::Route(format!("{reason}, and the cloud is not allowed: {blocked}"))),
                };
            }
        }
        let entries: Vec<(Tier, ProviderEntry)> = match &opts.pin {
            Some(pin) => {
                let e = pin.entry(&self.settings.get())?;
                vec![(e.tier, e)]
            }
            None => tiers(&job.policy)
                .into_iter()
                .filter_map(|t| self.settings.get().provider_for(t).map(|e| (t, e.clone())))
                .collect(),
        };
        let mut problems = Vec::new();
        let mut batch_note = None;
        if let (true, false, Some(make), Some((tier, entry))) = (opts.batch, opts.dry_run, job.batch, entries.first()) {
            match make(entry) {
                None => batch_note = Some("too long for one batched request: sent now at the normal price".to_string()),
                Some((request, delivery)) => {
                    let submitted = match self.submit_batch(task, &run_id, entry, &reason, vec![(request, delivery)]) {
                        Ok(s) => s,
                        // Refused by a cap, or the provider would not take it: the local answer
                        // stands, as when an interactive escalation fails.
                        Err(e) => {
                            return match local {
                                Some((out, _)) => {
                                    report.note =
                                        Some(format!("wanted the cloud ({reason}) but {e}; showing the local answer"));
                                    Ok(Routed::Done(out, finish(report)))
                                }
                                None => Err(e),
                            }
                        }
                    };
                    match submitted {
                        None => {
                            batch_note = Some(format!("{} has no batch API: sent now at the normal price", entry.name))
                        }
                        Some(q) => {
                            let report = RouteReport {
                                route: "batch",
                                provider: entry.name.clone(),
                                model: entry.model.clone(),
                                tier: Some(*tier),
                                cost_micros: 0,
                                cost_usd: 0.0,
                                escalated: Some(reason.clone()),
                                note: Some(format!(
                                    "queued as batch {} at {} ({} reserved until it is back, within 24 h)",
                                    q.batch_id,
                                    q.provider,
                                    frugal_ledger::usd_exact(q.reserved_micros)
                                )),
                                run_id: run_id.clone(),
                            };
                            return Ok(Routed::Queued(local.map(|(out, _)| out), report));
                        }
                    }
                }
            }
        }
        // Every cloud request of the run counts, failed and discarded ones included.
        let mut total = 0i64;
        let mut fallback_cloud: Option<(T, RouteReport, String)> = None;
        for (i, (tier, entry)) in entries.iter().enumerate() {
            let (client, price) = match self.cloud_client(entry) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            let metered = self.metered_cloud(client, task, &run_id, entry, price, reason.clone());
            let mut meter = match metered.map(|m| m.scoped(opts.app.as_ref())) {
                Ok(m) => m,
                // No working ledger, no cloud (for any tier); the local answer still stands.
                Err(e) => {
                    problems.push(e.to_string());
                    break;
                }
            };
            if opts.dry_run {
                let slot = Arc::new(Mutex::new(None));
                meter.dry_run = Some(slot.clone());
                let result = (job.cloud)(&meter, entry);
                let captured = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                return match (captured, result) {
                    (Some(mut d), _) => {
                        if job.task == "summarize" {
                            d.note = Some("a meeting longer than the model's context is sent in parts; each later part depends on the answer to this one".into());
                        }
                        Ok(Routed::DryRun(Box::new(d)))
                    }
                    (None, Err(e)) if !is_dry_run(&e) => Err(e),
                    (None, _) => Err(CoreError::Route("nothing would be sent".into())),
                };
            }
            let result = (job.cloud)(&meter, entry);
            total += meter.spent();
            let this = RouteReport {
                route: "cloud",
                provider: entry.name.clone(),
                model: entry.model.clone(),
                tier: Some(*tier),
                cost_micros: total,
                cost_usd: 0.0,
                escalated: Some(reason.clone()),
                note: None,
                run_id: run_id.clone(),
            };
            match result {
                Ok((out, q)) => {
                    let failed =
                        (!q.passed).then(|| format!("the cloud answer also failed its checks ({})", failed_checks(&q)));
                    if q.passed || i + 1 == entries.len() {
                        let mut this = this;
                        this.note = join_notes(failed, batch_note);
                        return Ok(Routed::Done(out, finish(this)));
                    }
                    reason = format!("the {} answer failed its checks ({})", entry.name, failed_checks(&q));
                    fallback_cloud = Some((out, this, failed.unwrap_or_default()));
                }
                Err(CoreError::Task(TaskError::Cancelled)) => return Err(CoreError::Task(TaskError::Cancelled)),
                Err(e) => {
                    let refused = refusal(&e).is_some();
                    problems.push(e.to_string());
                    if refused {
                        break; // a dearer tier would be refused too
                    }
                }
            }
        }
        if let Some((out, mut r, failed)) = fallback_cloud {
            r.cost_micros = total;
            r.note = Some(format!("{failed}; the next tier did not answer: {}", problems.join("; ")));
            return Ok(Routed::Done(out, finish(r)));
        }
        let why = if problems.is_empty() {
            format!("no cloud provider is configured at a tier [policy.{}] allows", job.task)
        } else {
            problems.join("; ")
        };
        report.cost_micros = total;
        match local {
            Some((out, _)) => {
                report.note = Some(format!("wanted the cloud ({reason}) but {why}; showing the local answer"));
                Ok(Routed::Done(out, finish(report)))
            }
            None => Err(CoreError::Route(format!("{reason}, and the cloud could not answer: {why}"))),
        }
    }
}

fn join_notes(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

fn finish(mut r: RouteReport) -> RouteReport {
    r.cost_usd = frugal_ledger::usd(r.cost_micros);
    r
}

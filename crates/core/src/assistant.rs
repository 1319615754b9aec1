//! The assistant: the services of one process, composed once, and the tasks that use them.
//!
//! `Assistant` is what the CLI, the tray app and the tests open in one line. It owns one of
//! each service — [`Settings`] (the config), [`Models`] (catalog, plan, engine), [`Library`]
//! (folders, index, search, grounding), [`Spend`] (ledger, prices, caps, reports) and the
//! [`Router`] (policy, tiers, privacy, metering) — for as long as the process lives, and wires
//! the tasks (summarize, draft, ask, chat) to the services each needs.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use frugal_llm::{CancelToken, Event, EventStream, Provider, Request};

use crate::config::{Config, Escalate, Paths};
use crate::grounding::Grounding;
use crate::input::InputText;
use crate::library::Library;
use crate::models::Models;
use crate::router::{Job, Metered, RouteOptions, RouteReport, Routed, Router};
use crate::settings::Settings;
use crate::spend::Spend;
use crate::tasks::{ask, draft, summarize, TaskError};
use crate::{CoreError, Result};

/// The services of one process. Cheap to open; the engine, the index and the ledger start on
/// first use, and settings change in place.
pub struct Assistant {
    settings: Arc<Settings>,
    models: Arc<Models>,
    library: Arc<Library>,
    spend: Arc<Spend>,
    router: Router,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assistant").field("paths", self.settings.paths()).finish_non_exhaustive()
    }
}

/// The shortest answer a chat must have room for in the local context before it stays here.
const MIN_LOCAL_ANSWER: usize = 256;

impl Assistant {
    /// Opens the config at `config_file` (or the XDG default). `model` overrides the
    /// configured model for this process only (the CLI's `--model`).
    pub fn open(config_file: Option<&Path>, model: Option<PathBuf>) -> Result<Self> {
        let settings = Arc::new(Settings::open(Paths::resolve(config_file)?)?);
        let models = Arc::new(Models::new(settings.clone(), model));
        let library = Arc::new(Library::new(settings.clone()));
        let spend = Arc::new(Spend::new(settings.clone()));
        let router = Router::new(settings.clone(), models.clone(), spend.clone());
        Ok(Self { settings, models, library, spend, router })
    }

    /// The settings service: the config's one reader and writer.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The models service: catalog, hardware, plan, engine, downloads.
    pub fn models(&self) -> &Models {
        &self.models
    }

    /// The library service: folders, index, watcher, search, grounding.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// The spend service: ledger, prices, caps, reports.
    pub fn spend(&self) -> &Spend {
        &self.spend
    }

    /// The router service: escalation, tiers, privacy, metering.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The resolved locations (shorthand for `settings().paths()`).
    pub fn paths(&self) -> &Paths {
        self.settings.paths()
    }

    /// The settings in effect (shorthand for `settings().get()`).
    pub fn config(&self) -> Arc<Config> {
        self.settings.get()
    }

    /// Sources for a prompt: the best passages for `query`, pruned to `budget` tokens counted
    /// by the local model's tokenizer (4 characters a token without a local model).
    pub fn ground(&self, query: &str, budget: usize) -> Result<Grounding> {
        self.library.ground(query, budget, None, &mut self.token_counter())
    }

    /// Related passages for a reply (see [`Library::draft_context`]), counted with the local
    /// model's tokenizer.
    pub fn draft_context(&self, email: &crate::email::Email, file: Option<&Path>) -> Result<Grounding> {
        self.library.draft_context(email, file, &mut self.token_counter())
    }

    /// The local model's tokenizer for the library's budgets; 4 characters a token without a
    /// local model (cloud-only use).
    fn token_counter(&self) -> impl FnMut(&str) -> usize {
        let engine = self.models.engine().ok();
        move |s: &str| engine.as_ref().and_then(|e| e.count_tokens(s).ok()).unwrap_or(s.len().div_ceil(4))
    }

    /// Brings the ledger's backup up to date before an exit that skips destructors.
    pub fn flush_ledger(&self) {
        self.spend.flush();
    }

    /// Summarizes a meeting transcript, locally first (split to fit the planned context),
    /// escalating as [`RouteOptions`] and `[policy.summarize]` allow. `on_progress` sees
    /// chunks done; `on_event` sees the raw stream of whichever model answers.
    pub fn summarize(
        &self,
        input: &InputText,
        opts: &RouteOptions,
        cancel: &CancelToken,
        on_progress: &mut dyn FnMut(summarize::Progress),
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<Routed<summarize::SummaryReport>> {
        let transcript = crate::transcript::parse(&input.text, input.extension.as_deref());
        if transcript.turns.is_empty() {
            return Err(CoreError::Input("the transcript has no text once timestamps and markup are removed".into()));
        }
        let private = self.private_reason(opts, input.path.as_deref(), false);
        // Both closures report through the same callbacks; they never run at the same time.
        let on_progress = RefCell::new(on_progress);
        let on_event = RefCell::new(on_event);
        let run =
            |p: &dyn Provider, context: u32, count: &mut dyn FnMut(&str) -> std::result::Result<usize, TaskError>| {
                let report = summarize::summarize(
                    p,
                    &transcript,
                    context,
                    count,
                    cancel,
                    &mut **on_progress.borrow_mut(),
                    &mut **on_event.borrow_mut(),
                )?;
                let quality = report.quality.clone();
                Ok((report, quality))
            };
        let routed = self.router.route(
            opts,
            Job {
                task: "summarize",
                policy: self.settings.get().policy.summarize,
                private,
                local: &mut |p| {
                    let (engine, plan) = self.models.engine_and_plan()?;
                    run(p, plan.context, &mut |s| engine.count_tokens(s).map_err(TaskError::from))
                },
                cloud: &mut |p, entry| {
                    on_event.borrow_mut()(&Event::Status(format!("asking {} ({})", entry.name, entry.model)));
                    run(p, entry.context(), &mut |s| Ok(s.len().div_ceil(3)))
                },
                batch: Some(&mut |entry| {
                    let request = summarize::one_request(&transcript, entry.context())?;
                    let delivery = input
                        .path
                        .as_ref()
                        .map(|p| crate::batches::Delivery::Summary {
                            transcript: p.clone(),
                            output: summarize::summary_path(p),
                        })
                        .map(|d| d.for_eval(opts.eval_cache.as_ref()));
                    Some((request, delivery))
                }),
            },
        )?;
        let Routed::Done(mut report, route) = routed else { return Ok(routed) };
        report.notes.splice(0..0, input.warnings.iter().cloned());
        // Linking to project notes is a help: a missing or broken index only costs a note.
        match self.library.related_notes(&report.summary, input.path.as_deref()) {
            Ok(hits) => {
                report.related = hits
                    .into_iter()
                    .map(|h| summarize::RelatedNote { path: h.path, line: h.line_start, title: h.title })
                    .collect()
            }
            Err(e) => report.notes.push(format!("related notes skipped: {e}")),
        }
        Ok(Routed::Done(report, route))
    }

    /// Drafts an email (or a reply to the email in `source`), locally first. `on_event` sees
    /// the stream, for live display (pass the text through [`draft::ChatterFilter`]).
    pub fn draft(
        &self,
        task: &draft::DraftTask,
        source: Option<&Path>,
        opts: &RouteOptions,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<Routed<(draft::Draft, crate::tasks::Quality)>> {
        let private = self.private_reason(opts, source, self.library.grounding_is_private(&task.related));
        let routed =
            self.route_task("draft", self.settings.get().policy.draft, private, task, opts, cancel, on_event)?;
        Ok(match routed {
            Routed::Done(((draft, _), quality), route) => Routed::Done((draft, quality), route),
            Routed::DryRun(d) => Routed::DryRun(d),
            Routed::Queued(out, route) => Routed::Queued(out.map(|((d, _), q)| (d, q)), route),
        })
    }

    /// Routes one [`crate::tasks::Task`] (run with [`crate::tasks::run`]) locally or in the
    /// cloud, saying on `on_event` when it goes out.
    #[allow(clippy::too_many_arguments)]
    fn route_task<T: crate::tasks::Task>(
        &self,
        name: &'static str,
        policy: crate::config::TaskPolicy,
        private: Option<String>,
        task: &T,
        opts: &RouteOptions,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<Routed<(T::Output, crate::tasks::Quality)>> {
        let on_event = RefCell::new(on_event);
        let run = |p: &dyn Provider| {
            let (output, quality) = crate::tasks::run(p, task, cancel, &mut **on_event.borrow_mut())?;
            Ok(((output, quality.clone()), quality))
        };
        self.router.route(
            opts,
            Job {
                task: name,
                policy,
                private,
                local: &mut |p| run(p),
                cloud: &mut |p, entry| {
                    on_event.borrow_mut()(&Event::Status(format!("asking {} ({})", entry.name, entry.model)));
                    run(p)
                },
                batch: Some(&mut |_entry| {
                    task.batched().map(|d| (task.request(0), Some(d.for_eval(opts.eval_cache.as_ref()))))
                }),
            },
        )
    }

    /// Polls the pending batches once: those that ended are settled in the ledger and their
    /// answers delivered (a summary checked against its transcript and written beside it).
    /// Says, one line each, what finished and which polls failed (those batches stay pending).
    pub fn poll_batches(&self) -> Result<crate::batches::PollNews> {
        let polled = self.router.poll_batches()?;
        let mut finished = Vec::new();
        for f in polled.finished {
            let b = &f.batch;
            let mut line = format!(
                "batch {} ({}, {}) {}: {}; cost {} (the batch price saved {})",
                b.id,
                b.task,
                b.provider,
                b.state.as_str(),
                b.note.as_deref().unwrap_or(""),
                frugal_ledger::usd_exact(b.cost_micros),
                frugal_ledger::usd_exact(b.saved_micros)
            );
            for a in &f.answers {
                match &a.delivery {
                    Some(d) => {
                        let kept = self.router.deliveries_dir().join("answers");
                        line.push_str(&format!("; {}", crate::delivery::deliver(d, a, &kept)))
                    }
                    None => line.push_str(&format!("\n{}", a.text.trim())),
                }
            }
            self.router.forget_deliveries(b.id);
            finished.push(line);
        }
        Ok(crate::batches::PollNews { finished, problems: polled.problems })
    }

    /// Whether [`Assistant::chat`] would route `opts` without blocking: a request pinned to a
    /// cloud provider whose client, key and ledger are ready, so no engine loads, no
    /// keychain is asked and the ledger's history is not read on the way (its writes are
    /// awaited by the meter; what is left is a look at the config file's time stamp). The
    /// gateway then routes it on its async worker instead of handing it to a thread
    /// (`bench_gateway`: ~15 % more requests/s at 64 clients). Not for Anthropic with prompt
    /// caching on: whether to mark the prompt is decided from the ledger's history. A pin
    /// that names no provider is not ready: `chat` says why, wherever it runs.
    pub fn routes_without_blocking(&self, opts: &RouteOptions) -> bool {
        if opts.local_only || opts.dry_run || opts.batch {
            return false;
        }
        let Some(pin) = &opts.pin else { return false };
        let config = self.settings.get();
        let Ok(entry) = pin.entry(&config) else { return false };
        if config.levers.prompt_caching && entry.kind == frugal_cloud::Kind::Anthropic {
            return false;
        }
        self.router.cloud_ready(&entry)
    }

    /// Starts a chat answer: on the local model, or on the economy cloud model when asked
    /// (`--cloud`, `[policy.chat] escalate = "always"`), when no local model is installed, or
    /// when the conversation does not fit the local context. Chat has no checks to fail, so
    /// it never escalates after answering. The returned meter counts what the answer cost.
    pub fn chat(
        &self,
        request: Request,
        source: Option<&Path>,
        opts: &RouteOptions,
        cancel: CancelToken,
    ) -> Result<Routed<(EventStream, Arc<Metered>)>> {
        let policy = self.settings.get().policy.chat;
        let private = self.private_reason(opts, source, false);
        // A chat's history is its stable prefix (the gateway marks its clients' the same way).
        let request =
            if request.cache.is_none() { crate::caching::conversation(request, "frugal-chat") } else { request };
        let mut escalate = crate::router::cloud_first(opts, &policy, private.as_deref())?;
        let allowed = !opts.local_only && policy.escalate != Escalate::Never && private.is_none();
        let run_id = opts.new_run_id();
        let task = opts.ledger_task("chat");
        if escalate.is_none() {
            match self.models.engine_and_plan() {
                Ok((engine, plan)) => {
                    let text: String =
                        request.messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n");
                    let needed = engine.count_tokens(&text).unwrap_or(0) + request.messages.len() * 8;
                    // `max_tokens` is a ceiling, not a need: API clients send 8k–64k (Anthropic's
                    // requires one). The conversation must leave room for a short answer here;
                    // the local answer is then capped to the room left.
                    let room = (plan.context as usize).saturating_sub(needed);
                    if room < (request.max_tokens as usize).min(MIN_LOCAL_ANSWER) {
                        let why = format!(
                            "the conversation ({needed} tokens) does not fit the local context ({})",
                            plan.context
                        );
                        if !allowed {
                            // Refused before anything runs: no row for a request nothing served.
                            return Err(CoreError::Provider(frugal_llm::ProviderError::new(
                                frugal_llm::ErrorKind::ContextOverflow,
                                format!("{why}, and this request may not leave the machine"),
                            )));
                        }
                        escalate = Some(why);
                    } else {
                        let mut request = request;
                        request.max_tokens = request.max_tokens.min(u32::try_from(room).unwrap_or(u32::MAX));
                        let meter = Arc::new(self.router.metered_local(task, &run_id)?.scoped(opts.app.as_ref()));
                        let report = RouteReport {
                            route: "local",
                            provider: "local".into(),
                            model: meter.model().to_string(),
                            run_id,
                            ..RouteReport::default()
                        };
                        return Ok(Routed::Done((meter.stream(request, cancel), meter), report));
                    }
                }
                Err(e) if allowed && !self.settings.get().providers.is_empty() => {
                    escalate = Some(format!("no local model ({e})"));
                }
                Err(e) => return Err(e),
            }
        }
        let reason = escalate.unwrap_or_default();
        let config = self.settings.get();
        let pinned = opts.pin.as_ref().map(|p| p.entry(&config)).transpose()?;
        let Some(entry) =
            pinned.or_else(|| crate::router::tiers(&policy).into_iter().find_map(|t| config.provider_for(t)).cloned())
        else {
            return Err(CoreError::Route(format!(
                "{reason}, but no cloud provider is configured at a tier [policy.chat] allows"
            )));
        };
        let (client, price) = self.router.cloud_client(&entry)?;
        let meter =
            self.router.metered_cloud(client, task, &run_id, &entry, price, reason.clone())?.scoped(opts.app.as_ref());
        if opts.dry_run {
            return Ok(Routed::DryRun(Box::new(meter.dry_run_of(&request))));
        }
        let meter = Arc::new(meter);
        let report = RouteReport {
            route: "cloud",
            provider: entry.name.clone(),
            model: entry.model.clone(),
            tier: Some(entry.tier),
            escalated: Some(reason),
            run_id,
            ..RouteReport::default()
        };
        Ok(Routed::Done((meter.stream(request, cancel), meter), report))
    }

    /// Answers a question from the indexed files, with citations, or says it is not there.
    /// A question whose sources include a local-only folder is never escalated.
    pub fn ask(
        &self,
        question: &str,
        opts: &RouteOptions,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&frugal_llm::Event),
    ) -> Result<Routed<ask::AskReport>> {
        if self.settings.get().index.folders.is_empty() {
            return Err(CoreError::Input("no folders are indexed yet: run `frugal index add DIR` first".into()));
        }
        let context = self.models.engine_and_plan().map_or(4096, |(_, plan)| plan.context);
        let budget = ask::SOURCE_BUDGET.min(context as usize / 2);
        let grounding = self.ground(question, budget)?;
        if grounding.sources.is_empty() {
            // Nothing to read: no model, local or cloud, can answer from the user's files.
            let report = ask::AskReport {
                question: question.to_string(),
                found: false,
                answer: None,
                cited: Vec::new(),
                sources: Vec::new(),
                rejected: None,
                quality: crate::tasks::Quality::from_checks(
                    vec![crate::tasks::Check::new("found", false, "no passage matches the question")],
                    false,
                ),
                local_only: grounding.local_only(),
            };
            let route = RouteReport { route: "local", provider: "local".into(), ..RouteReport::default() };
            return Ok(Routed::Done(report, route));
        }
        let private = self.private_reason(opts, None, self.library.grounding_is_private(&grounding));
        let pruned = grounding.pruned_tokens;
        let task = ask::AskTask { question: question.to_string(), grounding };
        let routed = self.route_task("ask", self.settings.get().policy.ask, private, &task, opts, cancel, on_event)?;
        let ((answer, quality), route) = match routed {
            Routed::Done(done, route) => {
                // What pruning kept out of the prompt is a saving too (the spend review's).
                self.spend.record_pruned(&route, pruned);
                (done, route)
            }
            Routed::DryRun(d) => return Ok(Routed::DryRun(d)),
            // `--batch`: the cloud's answer comes later (`frugal batches`); none to show now.
            Routed::Queued(_, route) => return Ok(Routed::Queued(None, route)),
        };
        Ok(Routed::Done(ask::AskReport::checked(task, answer, quality), route))
    }

    /// Why this request must not leave the machine, if it must not: `--private`, a source
    /// file inside a local-only folder, or grounding that holds local-only passages.
    fn private_reason(&self, opts: &RouteOptions, source: Option<&Path>, local_only_passages: bool) -> Option<String> {
        if opts.private {
            return Some("the input is marked private (--private)".into());
        }
        if let Some(folder) = source.and_then(|p| self.library.local_only_folder(p)) {
            return Some(format!("the file is in a local-only folder ({})", folder.display()));
        }
        local_only_passages.then(|| "it holds passages from a local-only folder".to_string())
    }
}

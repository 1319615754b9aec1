//! Runs an eval suite (see `frugal-eval` for the format, the grading and the reports): each
//! test on each route, through the same tasks, router, meter and ledger as the user's own
//! requests, so an eval measures what the user would get and can never cross a cap. Eval
//! rows are recorded as task `eval`, with `eval:SUITE#TEST:` at the head of their run id.
//!
//! Answers are cached by what decides them (the task and its input files' bytes, the route,
//! the model behind it): a suite re-run after editing only its assertions costs nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use frugal_eval::{Answer, CheckOutcome, Route, Suite, Task, TestCase, TestResult, Verdict};
use frugal_llm::{CancelToken, Message, Request};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Escalate, TaskPolicy, Tier};
use crate::router::{Pin, RouteOptions, RouteReport, Routed};
use crate::tasks::{draft, Quality};
use crate::{Assistant, CoreError, Result};

/// How to run a suite.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// The routes to compare (the suite's own when empty).
    pub routes: Vec<Route>,
    /// Run every test again even if its answer is cached.
    pub no_cache: bool,
    /// The route that grades `llm-rubric` assertions; without one they are "not graded".
    pub judge: Option<Route>,
    /// `--batch`: summaries on a cloud route go through the provider's batch API at its
    /// batch price; their answers land in the cache, and the next run grades them.
    pub batch: bool,
}

/// What running one test on one route did.
#[derive(Debug)]
pub enum Ran {
    /// Answered (or taken from the cache) and graded.
    Graded(Box<TestResult>),
    /// Sent in a batch (`--batch`): the note says which; a later run grades it.
    Queued(String),
}

/// What one (test, route) produced, and its worst case for `--dry-run`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DryRunCost {
    /// Requests that would go to a cloud.
    pub cloud_requests: usize,
    /// Their estimated cost, USD.
    pub estimated_usd: f64,
    /// Their worst case, USD: what the ledger would reserve.
    pub worst_case_usd: f64,
    /// Tests whose cost could not be estimated, with why.
    pub unknown: Vec<String>,
}

/// An answer as cached: the graded view and what the report needs besides.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Cached {
    pub(crate) answer: Answer,
    pub(crate) model: String,
    pub(crate) tokens: u64,
}

/// Runs suites for one assistant (the model in use, its config, its ledger).
pub struct Evaluator<'a> {
    assistant: &'a Assistant,
    /// Assistants for `local:NAME` routes, opened on first use and kept for the run.
    others: HashMap<String, Assistant>,
    /// What the judge has cost so far, micro-dollars.
    pub judge_micros: i64,
}

impl<'a> Evaluator<'a> {
    /// An evaluator over `assistant`.
    pub fn new(assistant: &'a Assistant) -> Self {
        Self { assistant, others: HashMap::new(), judge_micros: 0 }
    }

    /// Checks that every route can be taken (its provider configured, its model installed)
    /// before anything runs: an eval that fails on its 40th test has wasted 39.
    pub fn check_routes(&mut self, suite: &Suite, routes: &[Route]) -> Result<()> {
        for route in routes {
            self.options(route, "check")
                .and_then(|_| self.assistant_for(route).map(|_| ()))
                .map_err(|e| CoreError::Input(format!("{}: route \"{route}\": {e}", suite.file)))?;
        }
        Ok(())
    }

    /// Runs `test` on `route`, using the cache unless `no_cache`.
    pub fn run(
        &mut self,
        suite: &Suite,
        test: &TestCase,
        route: &Route,
        opts: &EvalOptions,
        cancel: &CancelToken,
    ) -> Result<Ran> {
        let key = self.cache_key(test, route)?;
        let mut cached = if opts.no_cache { None } else { self.cache_get(&key) };
        let was_cached = cached.is_some();
        let batchable =
            matches!(test.task, Task::Summarize(frugal_eval::Source::File(_)) | Task::Draft { .. } | Task::Ask { .. });
        if !was_cached && opts.batch && batchable && !route.is_local() && !matches!(route, Route::Auto) {
            match self.queue(suite, test, route, &key, cancel) {
                Ok(Queue::Waiting(note)) => return Ok(Ran::Queued(note)),
                // It ran now: graded below as a fresh answer.
                Ok(Queue::Ran(c)) => cached = Some(*c),
                Err(CoreError::Task(crate::tasks::TaskError::Cancelled)) => {
                    return Err(CoreError::Task(crate::tasks::TaskError::Cancelled))
                }
                // A refusal (the cap) or a provider's error fails this test, not the run.
                Err(e) => return Ok(Ran::Graded(Box::new(TestResult::failed(test, route, "", e.to_string(), 0.0)))),
            }
        }
        let done = match cached {
            Some(c) => Ok(c),
            None => self.answer(suite, test, route, cancel),
        };
        let mut result = match done {
            Ok(c) => {
                if !was_cached {
                    self.cache_put(&key, &c);
                }
                let judge_route = opts.judge.clone();
                let label = format!("{}#judge", stem(&suite.file));
                let no_cache = opts.no_cache;
                let mut judge = |rubric: &str, output: &str| {
                    self.judge_cached(judge_route.as_ref(), &label, rubric, output, no_cache, cancel)
                };
                let grade = frugal_eval::grade_test(test, &c.answer, &mut judge);
                TestResult::graded(test, route, &c.model, &c.answer, grade, c.tokens)
            }
            Err(CoreError::Task(crate::tasks::TaskError::Cancelled)) => {
                return Err(CoreError::Task(crate::tasks::TaskError::Cancelled))
            }
            Err(e) => TestResult::failed(test, route, "", e.to_string(), 0.0),
        };
        result.cached = was_cached;
        // Chat has no checks of its own: it says nothing about the gate.
        if matches!(test.task, Task::Chat { .. }) {
            result.checks_passed = None;
        }
        Ok(Ran::Graded(Box::new(result)))
    }

    /// Sends a test on a cloud route into a batch (a summary, a draft, an answer), its answer
    /// to land in the cache for a later run to grade; or says it is still waiting in the one
    /// an earlier run sent (a `KEY.pending` file names that run), so a test is never paid
    /// twice while its batch is out. A test that runs now instead (a provider without a batch
    /// API, a meeting too long for one request) comes back answered.
    fn queue(
        &mut self,
        suite: &Suite,
        test: &TestCase,
        route: &Route,
        key: &str,
        cancel: &CancelToken,
    ) -> Result<Queue> {
        let pending = self.cache_dir().join(format!("{key}.pending"));
        if let Ok(run_id) = std::fs::read_to_string(&pending) {
            let rows = self.assistant.spend().ledger()?.run_rows(run_id.trim())?;
            if let Some(batch) = rows.iter().find(|r| r.state == frugal_ledger::State::Pending).and_then(|r| r.batch_id)
            {
                return Ok(Queue::Waiting(format!("still waiting in batch {batch}")));
            }
            // Its batch ended without an answer for this test: send it again.
            let _ = std::fs::remove_file(&pending);
        }
        let label = format!("{}#{}", stem(&suite.file), test.index);
        let mut opts = self.options(route, &label)?;
        opts.batch = true;
        opts.eval_cache = Some(self.cache_dir().join(format!("{key}.json")));
        let started = Instant::now();
        match self.run_task(test, route, &opts, cancel) {
            Err(CoreError::Route(note)) if note.starts_with(QUEUED) => {
                let (run_id, note) = note[QUEUED.len()..].split_once(' ').unwrap_or(("", ""));
                let _ = std::fs::create_dir_all(self.cache_dir()).and_then(|()| std::fs::write(&pending, run_id));
                Ok(Queue::Waiting(note.to_string()))
            }
            Err(e) => Err(e),
            Ok(Outcome::DryRun(_)) => Err(CoreError::Route("a dry run where an answer was expected".into())),
            Ok(Outcome::Done(done)) => {
                let (mut answer, report) = *done;
                answer.latency_ms = started.elapsed().as_millis() as u64;
                answer.cost_usd = frugal_ledger::usd(report.cost_micros);
                let tokens = self.tokens_of(route, &report.run_id);
                Ok(Queue::Ran(Box::new(Cached { answer, model: report.model, tokens })))
            }
        }
    }

    /// The worst case of running `test` on `route`: what the ledger would reserve.
    pub fn dry_run(&mut self, suite: &Suite, test: &TestCase, route: &Route, into: &mut DryRunCost) {
        if route.is_local() {
            return;
        }
        let label = format!("{}#{}", stem(&suite.file), test.index);
        let result = self.options(route, &label).and_then(|mut o| {
            o.dry_run = true;
            self.run_task(test, route, &o, &CancelToken::new())
        });
        match result {
            Ok(Outcome::DryRun(d)) => {
                into.cloud_requests += 1;
                into.estimated_usd += d.estimated_usd;
                into.worst_case_usd += d.worst_case_usd;
            }
            Ok(Outcome::Done(..)) => {}
            Err(e) => into.unknown.push(format!("test {} on {route}: {e}", test.index)),
        }
    }

    fn answer(&mut self, suite: &Suite, test: &TestCase, route: &Route, cancel: &CancelToken) -> Result<Cached> {
        let label = format!("{}#{}", stem(&suite.file), test.index);
        let opts = self.options(route, &label)?;
        let started = Instant::now();
        let outcome = self.run_task(test, route, &opts, cancel)?;
        let latency_ms = started.elapsed().as_millis() as u64;
        let Outcome::Done(done) = outcome else {
            return Err(CoreError::Route("a dry run where an answer was expected".into()));
        };
        let (mut answer, report) = *done;
        answer.latency_ms = latency_ms;
        answer.cost_usd = frugal_ledger::usd(report.cost_micros);
        let tokens = self.tokens_of(route, &report.run_id);
        if let Some(o) = answer.json.as_mut().and_then(|j| j.as_object_mut()) {
            o.insert("run_id".into(), report.run_id.clone().into());
            o.insert("route".into(), serde_json::to_value(&report).unwrap_or_default());
        }
        Ok(Cached { answer, model: report.model, tokens })
    }

    /// The router options a route stands for.
    fn options(&self, route: &Route, label: &str) -> Result<RouteOptions> {
        let config = self.assistant.settings().get();
        let mut o = RouteOptions { eval: Some(label.to_string()), ..RouteOptions::default() };
        match route {
            Route::Local(_) => o.local_only = true,
            Route::Auto => {}
            Route::Economy => o.pin = Some(Pin::Tier(Tier::Economy)),
            Route::Premium => o.pin = Some(Pin::Tier(Tier::Premium)),
            Route::Provider(name) => o.pin = Some(Pin::Provider(name.clone())),
        }
        if let Some(pin) = &o.pin {
            pin.entry(&config)?;
        }
        Ok(o)
    }

    /// The assistant a route runs on: another model for `local:NAME`, else this one.
    fn assistant_for(&mut self, route: &Route) -> Result<&Assistant> {
        let Route::Local(Some(name)) = route else { return Ok(self.assistant) };
        if !self.others.contains_key(name) {
            let path = self.model_path(name)?;
            let other = Assistant::open(Some(&self.assistant.paths().config_file), Some(path))?;
            self.others.insert(name.clone(), other);
        }
        Ok(&self.others[name])
    }

    /// A catalog model's file (it must be downloaded) or a GGUF path.
    fn model_path(&self, name: &str) -> Result<PathBuf> {
        let as_path = Path::new(name);
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        let models = self.assistant.models();
        let catalog = models.catalog()?;
        let entry = catalog.get(name)?;
        if entry.kind != crate::catalog::ModelKind::Llm {
            return Err(CoreError::Catalog(format!("{name} is a {} model, not a language model", entry.kind.label())));
        }
        let path = models.models_dir().join(&entry.file);
        if path.is_file() {
            Ok(path)
        } else {
            Err(CoreError::Catalog(format!("{name} is not downloaded yet: run `frugal models pull {name}`")))
        }
    }

    fn run_task(
        &mut self,
        test: &TestCase,
        route: &Route,
        opts: &RouteOptions,
        cancel: &CancelToken,
    ) -> Result<Outcome> {
        let a = self.assistant_for(route)?;
        match &test.task {
            Task::Summarize(source) => {
                let input = match source {
                    frugal_eval::Source::File(p) => crate::input::read_input(p)?,
                    frugal_eval::Source::Text(t) => crate::input::decode(t.as_bytes(), "vars.text")?,
                };
                let routed = a.summarize(&input, opts, cancel, &mut |_| {}, &mut |_| {})?;
                Ok(match routed {
                    Routed::DryRun(d) => Outcome::DryRun(d),
                    Routed::Queued(_, r) => return Err(queued(r)),
                    Routed::Done(report, route) => Outcome::Done(Box::new((summary_answer(&report), route))),
                })
            }
            Task::Draft { bullets, reply_to, tone } => {
                let tone = match tone {
                    Some(t) => t.parse().map_err(|e: String| CoreError::Input(format!("vars.tone: {e}")))?,
                    None => draft::Tone::default(),
                };
                let email = match reply_to {
                    Some(p) => Some(crate::email::parse_email(&crate::input::read_input(p)?.text)),
                    None => None,
                };
                let mut task = draft::DraftTask {
                    notes: bullets.clone().unwrap_or_default(),
                    reply_to: email,
                    tone,
                    length: draft::Length::default(),
                    seed: 1,
                    related: Default::default(),
                };
                if let Some(e) = &task.reply_to {
                    task.related = a.draft_context(e, reply_to.as_deref()).unwrap_or_default();
                }
                Ok(match a.draft(&task, reply_to.as_deref(), opts, cancel, &mut |_| {})? {
                    Routed::DryRun(d) => Outcome::DryRun(d),
                    Routed::Queued(_, r) => return Err(queued(r)),
                    Routed::Done((d, quality), route) => Outcome::Done(Box::new((draft_answer(&d, &quality), route))),
                })
            }
            Task::Ask { question } => Ok(match a.ask(question, opts, cancel, &mut |_| {})? {
                Routed::DryRun(d) => Outcome::DryRun(d),
                Routed::Queued(_, r) => return Err(queued(r)),
                Routed::Done(report, route) => Outcome::Done(Box::new((ask_answer(&report), route))),
            }),
            Task::Chat { prompt } => {
                // Seeded, so a cached answer is the answer a re-run would give.
                let sampling = frugal_llm::Sampling { seed: Some(1), ..Default::default() };
                let request =
                    Request::new(vec![Message::user(prompt.clone())]).with_max_tokens(512).with_sampling(sampling);
                Ok(match a.chat(request, None, opts, cancel.clone())? {
                    Routed::DryRun(d) => Outcome::DryRun(d),
                    Routed::Queued(_, r) => return Err(queued(r)),
                    Routed::Done((stream, meter), mut route) => {
                        let done = stream.collect_blocking()?;
                        if done.reason == frugal_llm::FinishReason::Cancelled {
                            return Err(CoreError::Task(crate::tasks::TaskError::Cancelled));
                        }
                        route.cost_micros = meter.spent();
                        let json = serde_json::json!({"text": done.text, "finish_reason": done.reason});
                        Outcome::Done(Box::new((
                            Answer { text: done.text, json: Some(json), ..Answer::default() },
                            route,
                        )))
                    }
                })
            }
        }
    }

    /// [`Self::judge`] through the cache: the same rubric on the same answer by the same judge
    /// model is graded once (the judge is greedy and seeded: a re-run would say the same, and
    /// a cloud judge would charge for it again).
    fn judge_cached(
        &mut self,
        route: Option<&Route>,
        label: &str,
        rubric: &str,
        output: &str,
        no_cache: bool,
        cancel: &CancelToken,
    ) -> std::result::Result<Verdict, String> {
        let key = match route {
            Some(r) => self.route_identity(r).ok().map(|id| {
                let mut h = Sha256::new();
                h.update(format!("judge\n{r}\n{id}\n{}\n", rubric.len()).as_bytes());
                h.update(rubric.as_bytes());
                h.update(output.as_bytes());
                format!("judge-{}", hex::encode(h.finalize()))
            }),
            None => None,
        };
        if let Some(v) = key.as_deref().filter(|_| !no_cache).and_then(|k| self.cache_read::<Verdict>(k)) {
            return Ok(v);
        }
        let verdict = self.judge(route, label, rubric, output, cancel)?;
        if let Some(k) = &key {
            self.cache_write(k, &verdict);
        }
        Ok(verdict)
    }

    /// Grades an `llm-rubric` assertion on the judge route; its cost is counted apart.
    fn judge(
        &mut self,
        route: Option<&Route>,
        label: &str,
        rubric: &str,
        output: &str,
        cancel: &CancelToken,
    ) -> std::result::Result<Verdict, String> {
        let route = route.ok_or("no judge: name one with --judge ROUTE (local, economy, premium or a provider)")?;
        let (system, user) = frugal_eval::rubric_prompt(rubric, output);
        let opts = self.options(route, label).map_err(|e| e.to_string())?;
        // Greedy and seeded: the same answer gets the same grade on every run.
        let sampling = frugal_llm::Sampling { temperature: 0.0, seed: Some(1), ..Default::default() };
        let request = Request::new(vec![Message::system(system), Message::user(user)])
            .with_max_tokens(300)
            .with_sampling(sampling);
        let a = self.assistant_for(route).map_err(|e| e.to_string())?;
        let (stream, meter) = match a.chat(request, None, &opts, cancel.clone()).map_err(|e| e.to_string())? {
            Routed::Done(done, _) => done,
            Routed::DryRun(_) => return Err("a dry run".into()),
            Routed::Queued(..) => return Err(not_batched().to_string()),
        };
        let done = stream.collect_blocking().map_err(|e| e.to_string());
        self.judge_micros += meter.spent();
        frugal_eval::parse_verdict(&done?.text)
    }

    /// Prompt and completion tokens of a run, from its ledger rows.
    fn tokens_of(&mut self, route: &Route, run_id: &str) -> u64 {
        let Ok(a) = self.assistant_for(route) else { return 0 };
        let Ok(ledger) = a.spend().ledger() else { return 0 };
        ledger.run_rows(run_id).map_or(0, |rows| rows.iter().map(|r| r.prompt_tokens + r.completion_tokens).sum())
    }

    /// What decides an answer: the task with its files' bytes, the route, the model behind it.
    fn cache_key(&mut self, test: &TestCase, route: &Route) -> Result<String> {
        let mut h = Sha256::new();
        h.update(format!("{:?}\n{route}\n", test.task).as_bytes());
        // The tasks' prompts and checks live in the program: another build, another answer.
        let program = std::env::current_exe().and_then(std::fs::metadata);
        h.update(format!("{:?}\n", program.map(|m| (m.len(), m.modified().ok())).ok()).as_bytes());
        let files: Vec<&Path> = match &test.task {
            Task::Summarize(frugal_eval::Source::File(p)) => vec![p.as_path()],
            Task::Draft { reply_to: Some(p), .. } => vec![p.as_path()],
            _ => Vec::new(),
        };
        for f in files {
            h.update(std::fs::read(f).map_err(CoreError::io("cannot read", f))?);
        }
        h.update(self.route_identity(route)?.as_bytes());
        let config = self.assistant.settings().get();
        // The index answers `ask`: a changed index may change the answer.
        if matches!(test.task, Task::Ask { .. }) {
            h.update(format!("{:?}\n", config.index.folders).as_bytes());
        }
        Ok(hex::encode(h.finalize()))
    }

    /// What stands behind a route: the local model file (and, for `auto`, the providers and
    /// policy), or the pinned provider's address and model.
    fn route_identity(&mut self, route: &Route) -> Result<String> {
        let config = self.assistant.settings().get();
        Ok(match route {
            Route::Local(_) | Route::Auto => {
                let a = self.assistant_for(route)?;
                let model = a.models().model_path()?;
                let meta = std::fs::metadata(&model).map_err(CoreError::io("cannot read", &model))?;
                let mut id = format!("{}\n{}\n{:?}\n", model.display(), meta.len(), meta.modified().ok());
                if matches!(route, Route::Auto) {
                    id.push_str(&format!("{:?}\n{:?}\n", config.providers, config.policy));
                }
                id
            }
            _ => match &self.options(route, "key")?.pin {
                Some(pin) => {
                    let e = pin.entry(&config)?;
                    format!("{}\n{}\n{}\n", e.name, e.base_url, e.model)
                }
                None => String::new(),
            },
        })
    }

    fn cache_dir(&self) -> PathBuf {
        self.assistant.paths().data_dir.join("eval-cache")
    }

    fn cache_get(&self, key: &str) -> Option<Cached> {
        self.cache_read(key)
    }

    fn cache_put(&self, key: &str, c: &Cached) {
        self.cache_write(key, c)
    }

    fn cache_read<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        let text = std::fs::read_to_string(self.cache_dir().join(format!("{key}.json"))).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Best effort: a cache that cannot be written costs a re-run next time, nothing more.
    fn cache_write<T: serde::Serialize>(&self, key: &str, c: &T) {
        let _ = write_cached(&self.cache_dir().join(format!("{key}.json")), c);
    }
}

/// Writes one eval cache file whole (a temporary file renamed over it), for the evaluator
/// and for answers that arrive later by batch.
pub(crate) fn write_cached<T: serde::Serialize>(file: &Path, c: &T) -> std::result::Result<(), String> {
    let text = serde_json::to_string(c).map_err(|e| e.to_string())?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let tmp = file.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, file)).map_err(|e| e.to_string())
}

enum Outcome {
    Done(Box<(Answer, RouteReport)>),
    DryRun(Box<crate::router::DryRun>),
}

/// A draft as an eval answer.
pub(crate) fn draft_answer(d: &draft::Draft, quality: &Quality) -> Answer {
    Answer {
        text: format!("Subject: {}\n\n{}", d.subject, d.body),
        json: Some(serde_json::json!({"subject": d.subject, "body": d.body, "quality": quality})),
        checks: checks(quality),
        ..Answer::default()
    }
}

/// An `ask` answer as an eval answer.
pub(crate) fn ask_answer(report: &crate::tasks::ask::AskReport) -> Answer {
    Answer {
        text: report.answer.clone().unwrap_or_else(|| "Not found in your files.".into()),
        json: serde_json::to_value(report).ok(),
        checks: checks(&report.quality),
        cited_paths: report.cited.iter().map(|s| s.path.display().to_string()).collect(),
        ..Answer::default()
    }
}

/// A summary as an eval answer.
pub(crate) fn summary_answer(report: &crate::tasks::summarize::SummaryReport) -> Answer {
    Answer {
        text: report.to_markdown(),
        json: serde_json::to_value(report).ok(),
        checks: checks(&report.quality),
        owners: report.summary.action_items.iter().map(|i| i.owner.clone()).collect(),
        ..Answer::default()
    }
}

fn checks(q: &Quality) -> Vec<CheckOutcome> {
    q.checks
        .iter()
        .map(|c| CheckOutcome { name: c.name.to_string(), passed: c.passed, detail: c.detail.clone() })
        .collect()
}

/// A suite's name for labels: its file stem.
fn stem(file: &str) -> String {
    Path::new(file).file_stem().map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned())
}

/// The policy that makes the router take `route` for a task: `local` keeps it on the machine,
/// a tier goes straight there, `auto` is the default policy. Other routes (a named provider,
/// another local model) cannot be said as a policy.
pub fn policy_for(route: &Route) -> Option<TaskPolicy> {
    match route {
        Route::Local(None) => Some(TaskPolicy { escalate: Escalate::Never, max_tier: Tier::Economy }),
        Route::Economy => Some(TaskPolicy { escalate: Escalate::Always, max_tier: Tier::Economy }),
        Route::Premium => Some(TaskPolicy { escalate: Escalate::Always, max_tier: Tier::Premium }),
        Route::Auto => Some(TaskPolicy::default()),
        _ => None,
    }
}

/// An eval compares answers now: its routes never go into a batch.
fn not_batched() -> CoreError {
    CoreError::Route("an eval runs its routes now; it does not batch".into())
}

/// How `run_task` says a test went into a batch (only `queue` asks for one).
const QUEUED: &str = "queued: ";

/// `QUEUED`, the run id, a space, the note.
fn queued(r: RouteReport) -> CoreError {
    CoreError::Route(format!("{QUEUED}{} {}", r.run_id, r.note.unwrap_or_else(|| "in a batch".into())))
}

/// What `queue` did with a test.
enum Queue {
    /// In a batch (now or by an earlier run); the note says which.
    Waiting(String),
    /// Answered now.
    Ran(Box<Cached>),
}

//! One chat call through core, shared by both protocols: the wire request has become a
//! [`Call`]; this starts it on Frugal's router (metered, capped, the app's rules applied),
//! waits for its first event so a refusal can still be an HTTP error, and then either
//! collects the answer or hands its events on, cutting at stop sequences.

use std::collections::VecDeque;
use std::sync::Arc;

use frugal_core::config::Escalate;
use frugal_core::ledger::App;
use frugal_core::llm::{
    CancelToken, Constraint, ErrorKind, Event, EventStream, FinishReason, ProviderError, Request, ToolCall, Usage,
};
use frugal_core::{CoreError, RouteOptions, RouteReport, Routed};

use crate::cache::{Cached, Key, ResponseCache};
use crate::error::Problem;
use crate::wire::Gateway;

/// A chat request in Frugal's terms, whichever protocol it came in.
#[derive(Clone)]
pub struct Call {
    /// The model name as the client asked for it (echoed back).
    pub model: String,
    /// The request for the engine or provider.
    pub request: Request,
    /// Text that ends the answer where it appears (not included).
    pub stop: Vec<String>,
}

/// A started call: its route and events, the first one already read.
pub struct Started {
    pub route: RouteReport,
    /// The meter of a call that runs; `None` for an answer from the cache.
    meter: Option<Arc<frugal_core::Metered>>,
    pub events: EventStream,
    pub cancel: CancelToken,
    /// The first event (text, usage or the end), read before answering.
    pub first: Option<Event>,
    /// The cache's verdict and the local queue time, for the headers.
    pub notes: Notes,
    usage: Usage,
    /// Pieces already read, to hand out before reading more: the end or a tool call that
    /// arrived while text was held back in case it began a stop sequence.
    pending: VecDeque<Piece>,
    /// A cached answer's own end (its stop sequence is no longer in the text to find).
    replay: Option<(Finish, Option<String>)>,
    /// A repeatable call's answer, gathered to be cached once it ends.
    fill: Option<Fill>,
}

/// An answer being gathered for the cache.
struct Fill {
    cache: Arc<ResponseCache>,
    key: Key,
    text: String,
    tool_calls: Vec<ToolCall>,
}

/// The answer as the protocols hand it out: text, then the end or a failure.
pub enum Piece {
    /// More of the answer, stop sequences applied.
    Text(String),
    /// A tool the model called (after all of its text).
    Tool(ToolCall),
    /// The end: why, and the token counts.
    End(Finish, Usage),
    /// The engine or provider failed.
    Failed(Problem),
}

/// Cancels the call when dropped: a client that goes away while its request is starting, or
/// before a collected answer is complete, stops the engine or the upstream at once.
struct CancelOnDrop(Option<CancelToken>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.cancel();
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        // Harmless once the answer has ended; stops it if it has not.
        self.cancel.cancel();
    }
}

/// Starts `call` from `app` with `opts` and reads up to its first real event; a repeatable
/// request the app asked before is answered from the cache instead (a $0 ledger row).
pub async fn start(gw: &Gateway, app: &App, call: Call, opts: RouteOptions) -> Result<Started, Problem> {
    // The app's name and when it was added: an app removed and added again under the same
    // name is another app, and never sees the first one's answers.
    let identity = format!("{}@{}", app.name, app.created_at_ms);
    let key = if app.cache { gw.cache.key(&identity, &call.model, opts.private, &call.request) } else { None };
    if let Some(key) = key {
        if let Some(hit) = gw.cache.get(&key) {
            return replay(gw, app, hit).await;
        }
    }
    let opts = for_tools(gw, &call, opts)?;
    let mut started = match checked_schema(gw, &call, &opts) {
        Some(schema) => checked(gw, call, opts, &schema).await?,
        None => run(gw, call, opts).await?,
    };
    // A local answer handed out although it fails its schema is not kept: the next ask may
    // reach the cloud (a budget raised), and a hit would not say what is wrong with it.
    if let Some(key) = key.filter(|_| started.notes.schema.is_none()) {
        started.notes.cache = Some("miss");
        started.fill = Some(Fill { cache: gw.cache.clone(), key, text: String::new(), tool_calls: Vec::new() });
    }
    Ok(started)
}

/// Whether a `frugal/auto` request may go to the cloud at all: the app is not local-only,
/// the request is not private, the chat policy allows it and there is a provider.
fn may_escalate(gw: &Gateway, call: &Call, opts: &RouteOptions) -> bool {
    let config = gw.assistant.config();
    call.model == "frugal/auto"
        && !opts.local_only
        && !opts.private
        && config.policy.chat.escalate != Escalate::Never
        && !config.providers.is_empty()
}

/// A `frugal/auto` request with tools goes straight to the cloud, recorded as an escalation:
/// the local engine cannot call tools. One bound for the local model is a 400 saying why,
/// before anything is routed or recorded.
fn for_tools(gw: &Gateway, call: &Call, mut opts: RouteOptions) -> Result<RouteOptions, Problem> {
    if !call.request.uses_tools() || opts.pin.is_some() {
        return Ok(opts);
    }
    if may_escalate(gw, call, &opts) {
        opts.cloud = true;
        opts.escalation = Some("the request uses tools, which the local model cannot call".into());
        return Ok(opts);
    }
    let config = gw.assistant.config();
    let why = if call.model != "frugal/auto" {
        format!("`{}` is the local model", crate::access::one_line(&call.model))
    } else if opts.local_only {
        "the app is local-only".into()
    } else if opts.private {
        "the request is marked private (x-frugal-private)".into()
    } else if config.providers.is_empty() {
        "no cloud provider is configured".into()
    } else {
        "the chat policy never escalates".into()
    };
    Err(Problem::BadRequest(format!(
        "this request uses tools, which the local model cannot call, and it stays on this machine ({why}); \
         send it without tools, or to a cloud model"
    )))
}

/// The response schema of a `frugal/auto` request that may still go to the cloud: its local
/// answer is validated before it is handed out. `None` when there is nothing to check or
/// nowhere to escalate to (local only, private, the chat policy says never, no provider).
fn checked_schema(gw: &Gateway, call: &Call, opts: &RouteOptions) -> Option<serde_json::Value> {
    let Some(Constraint::JsonSchema(text)) = &call.request.constraint else { return None };
    // Already bound for the cloud (tools): no local answer to check.
    (may_escalate(gw, call, opts) && !opts.cloud).then(|| serde_json::from_str(text).ok()).flatten()
}

/// Runs `call` locally and validates the answer against `schema`: a valid one is handed out
/// as it was, an invalid or cut-off one (JSON cut by the token limit parses as nothing) goes
/// to the cloud as an escalation, metered and capped like any other.
async fn checked(gw: &Gateway, call: Call, opts: RouteOptions, schema: &serde_json::Value) -> Result<Started, Problem> {
    let local = run(gw, call.clone(), opts.clone()).await?;
    if local.route.route != "local" {
        return Ok(local);
    }
    let (answer, route, _) = local.collect(&call.stop).await?;
    let notes = answer.notes.clone();
    let why = match serde_json::from_str::<serde_json::Value>(&answer.text) {
        Err(e) => Some(if answer.finish == Finish::Length {
            "it was cut off at the token limit".to_string()
        } else {
            format!("it is not JSON ({e})")
        }),
        Ok(value) => frugal_core::evals::schema::validate(schema, &value).err(),
    };
    let Some(why) = why else {
        return Ok(replayed(route, answer, notes));
    };
    let mut cloud = opts;
    cloud.cloud = true;
    cloud.escalation = Some(format!("the local answer did not match the response schema: {why}"));
    match run(gw, call, cloud).await {
        Ok(started) => Ok(started),
        // The cloud could not take it (no budget, a cap reached, no key, the provider down):
        // the local answer is still the best there is, handed out with what is wrong with it,
        // as for an app that may not escalate at all.
        Err(p) => {
            let mut notes = notes;
            notes.schema = Some(format!("{why}; not sent to the cloud: {}", p.message()));
            Ok(replayed(route, answer, notes))
        }
    }
}

/// A collected answer handed out again as a call (its row already settled).
fn replayed(route: RouteReport, answer: Answer, notes: Notes) -> Started {
    let (tx, events) = frugal_core::llm::channel();
    for c in answer.tool_calls {
        tx.send(Event::ToolCall(c));
    }
    tx.send(Event::Usage(answer.usage));
    tx.send(Event::Done { reason: FinishReason::Stop });
    Started {
        route,
        meter: None,
        events,
        cancel: CancelToken::new(),
        first: (!answer.text.is_empty()).then_some(Event::Text(answer.text)),
        notes,
        usage: Usage::default(),
        pending: VecDeque::new(),
        replay: Some((answer.finish, answer.stop_sequence)),
        fill: None,
    }
}

/// A cached answer as a call: its events replayed, its ledger row written.
async fn replay(gw: &Gateway, app: &App, hit: Cached) -> Result<Started, Problem> {
    let a = gw.assistant.clone();
    let (name, model, usage, cost) = (app.name.clone(), hit.model.clone(), hit.usage, hit.cloud_cost_micros);
    let run_id = tokio::task::spawn_blocking(move || a.spend().record_cache_hit(&name, &model, usage, cost))
        .await
        .map_err(|e| Problem::Internal(format!("the gateway's worker failed: {e}")))?
        .map_err(|e| Problem::Internal(format!("cannot record the cached answer in the spend ledger: {e}")))?;
    let (tx, events) = frugal_core::llm::channel();
    for c in &hit.tool_calls {
        tx.send(Event::ToolCall(c.clone()));
    }
    tx.send(Event::Usage(hit.usage));
    tx.send(Event::Done { reason: FinishReason::Stop });
    let route = RouteReport {
        route: "local",
        provider: "cache".into(),
        model: hit.model.clone(),
        note: Some("answered from the response cache".into()),
        run_id,
        ..RouteReport::default()
    };
    Ok(Started {
        route,
        meter: None,
        events,
        cancel: CancelToken::new(),
        first: (!hit.text.is_empty()).then_some(Event::Text(hit.text)),
        notes: Notes { cache: Some("hit"), ..Notes::default() },
        usage: Usage::default(),
        pending: VecDeque::new(),
        replay: Some((hit.finish, hit.stop_sequence)),
        fill: None,
    })
}

/// Runs `call` on the router and reads up to its first real event.
async fn run(gw: &Gateway, call: Call, opts: RouteOptions) -> Result<Started, Problem> {
    let assistant = gw.assistant.clone();
    let cancel = CancelToken::new();
    let mut guard = CancelOnDrop(Some(cancel.clone()));
    let c = cancel.clone();
    let request = call.request;
    let routed = if assistant.routes_without_blocking(&opts) {
        assistant.chat(request, None, &opts, c)
    } else {
        // The local engine may load, the keychain be asked: not on an async worker.
        tokio::task::spawn_blocking(move || assistant.chat(request, None, &opts, c))
            .await
            .map_err(|e| Problem::Internal(format!("the gateway's worker failed: {e}")))?
    }
    .map_err(core_problem)?;
    let ((mut events, meter), route) = match routed {
        Routed::Done(done, route) => (done, route),
        Routed::DryRun(_) => return Err(Problem::Internal("a dry run where an answer was expected".into())),
        Routed::Queued(..) => return Err(Problem::Internal("a batch where an answer was expected".into())),
    };
    let mut queue_ms = None;
    let first = loop {
        match events.next().await {
            Some(Ok(Event::Status(_))) => continue,
            Some(Ok(Event::Queued { waited_ms })) => queue_ms = Some(waited_ms),
            Some(Ok(e)) => break Some(e),
            Some(Err(e)) => return Err(provider_problem(&e)),
            None => break None,
        }
    };
    // From here `Started` cancels when dropped.
    guard.0 = None;
    Ok(Started {
        route,
        meter: Some(meter),
        events,
        cancel,
        first,
        notes: Notes { queue_ms, ..Notes::default() },
        usage: Usage::default(),
        pending: VecDeque::new(),
        replay: None,
        fill: None,
    })
}

/// The answer of a call, collected.
pub struct Answer {
    pub text: String,
    /// The tools the model called.
    pub tool_calls: Vec<ToolCall>,
    /// The stop sequence that ended it, if one did.
    pub stop_sequence: Option<String>,
    pub usage: Usage,
    pub finish: Finish,
    /// As [`Started::notes`].
    pub notes: Notes,
}

/// What the headers say about how an answer was served besides its route and cost.
#[derive(Clone, Debug, Default)]
pub struct Notes {
    /// `x-frugal-cache`: `hit` or `miss` for a repeatable request, `None` otherwise.
    pub cache: Option<&'static str>,
    /// `x-frugal-queue-ms`: how long a local request waited for the engine's one worker.
    pub queue_ms: Option<u64>,
    /// `x-frugal-schema`: why a local answer handed out does not match the response schema.
    pub schema: Option<String>,
}

/// Why an answer ended, as both protocols say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// The model ended.
    Stop,
    /// The token limit.
    Length,
    /// A stop sequence.
    StopSequence,
    /// The model called tools.
    ToolCalls,
}

impl Finish {
    pub fn from_reason(r: FinishReason) -> Self {
        match r {
            FinishReason::Length => Finish::Length,
            FinishReason::ToolCalls => Finish::ToolCalls,
            FinishReason::Stop | FinishReason::Cancelled => Finish::Stop,
        }
    }
}

impl Started {
    /// What the call has cost so far (a cached answer: nothing).
    pub fn spent(&self) -> i64 {
        self.meter.as_ref().map_or(0, |m| m.spent())
    }

    /// Caches the answer that just ended, as the client saw it.
    fn keep(&mut self, finish: Finish, stop_sequence: Option<String>, usage: Usage) {
        let Some(fill) = self.fill.take() else { return };
        let cloud = self.route.route == "cloud";
        let answer = Cached {
            text: fill.text,
            tool_calls: fill.tool_calls,
            finish,
            stop_sequence,
            usage,
            model: self.meter.as_ref().map_or_else(|| self.route.model.clone(), |m| m.model().to_string()),
            // An estimated usage was charged its reservation: not a price to claim as saved.
            cloud_cost_micros: (cloud && !usage.estimated).then(|| self.spent()),
        };
        fill.cache.put(fill.key, answer);
    }

    /// The next piece of the answer. A stop sequence ends the text (and the generation);
    /// the text held back in case it began a stop sequence comes out before the end.
    pub async fn next_piece(&mut self, filter: &mut StopFilter<'_>) -> Piece {
        if let Some(piece) = self.pending.pop_front() {
            return piece;
        }
        loop {
            let event = match self.first.take() {
                Some(e) => e,
                None => match self.events.next().await {
                    Some(Ok(e)) => e,
                    Some(Err(e)) => return Piece::Failed(provider_problem(&e)),
                    // The stream ended without its end: the engine or provider stopped short
                    // (the meter has recorded the failure). Not an answer to hand out as
                    // complete, or to cache.
                    None => {
                        return Piece::Failed(Problem::Upstream(
                            "the answer stopped before it was complete; try again".into(),
                        ))
                    }
                },
            };
            match event {
                Event::Text(t) if self.replay.is_some() => {
                    if let Some(f) = self.fill.as_mut() {
                        f.text.push_str(&t);
                    }
                    return Piece::Text(t);
                }
                Event::Text(t) if !filter.hit => {
                    // After a stop sequence the rest is read but not shown: the engine or the
                    // provider was given the stop sequences and ends right there, with its
                    // real usage (cancelling would charge a cloud request its worst case).
                    let shown = filter.push(&t);
                    if !shown.is_empty() {
                        if let Some(f) = self.fill.as_mut() {
                            f.text.push_str(&shown);
                        }
                        return Piece::Text(shown);
                    }
                }
                Event::ToolCall(c) => {
                    if let Some(f) = self.fill.as_mut() {
                        f.tool_calls.push(c.clone());
                    }
                    // The text is over: what was held back goes out before the call.
                    let rest = if self.replay.is_some() { String::new() } else { filter.finish() };
                    if rest.is_empty() {
                        return Piece::Tool(c);
                    }
                    if let Some(f) = self.fill.as_mut() {
                        f.text.push_str(&rest);
                    }
                    self.pending.push_back(Piece::Tool(c));
                    return Piece::Text(rest);
                }
                Event::Usage(u) => self.usage = u,
                Event::Done { reason } => {
                    if let Some((finish, stop)) = self.replay.take() {
                        self.keep(finish, stop.clone(), self.usage);
                        filter.matched = stop;
                        return Piece::End(finish, self.usage);
                    }
                    let finish = if filter.hit { Finish::StopSequence } else { Finish::from_reason(reason) };
                    let end = Piece::End(finish, self.usage);
                    let rest = filter.finish();
                    if let Some(f) = self.fill.as_mut() {
                        f.text.push_str(&rest);
                    }
                    // A cancelled answer is not the whole answer: never kept.
                    if reason != FinishReason::Cancelled {
                        self.keep(finish, filter.matched.clone(), self.usage);
                    }
                    if rest.is_empty() {
                        return end;
                    }
                    self.pending.push_back(end);
                    return Piece::Text(rest);
                }
                _ => {}
            }
        }
    }

    /// Reads the whole answer.
    pub async fn collect(mut self, stop: &[String]) -> Result<(Answer, RouteReport, i64), Problem> {
        let notes = std::mem::take(&mut self.notes);
        let mut filter = StopFilter::new(stop);
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        loop {
            match self.next_piece(&mut filter).await {
                Piece::Text(t) => text.push_str(&t),
                Piece::Tool(c) => tool_calls.push(c),
                Piece::End(finish, usage) => {
                    let answer =
                        Answer { text, tool_calls, stop_sequence: filter.matched.clone(), usage, finish, notes };
                    return Ok((answer, self.route.clone(), self.spent()));
                }
                Piece::Failed(p) => return Err(p),
            }
        }
    }
}

/// Holds back the end of the text that could be the start of a stop sequence, so one split
/// across two pieces is still caught; `hit` once one appeared (the text stops before it).
pub struct StopFilter<'a> {
    stops: &'a [String],
    held: String,
    pub hit: bool,
    /// The stop sequence that ended the text.
    pub matched: Option<String>,
}

impl<'a> StopFilter<'a> {
    pub fn new(stops: &'a [String]) -> Self {
        Self { stops, held: String::new(), hit: false, matched: None }
    }

    /// The text that is safe to show now.
    pub fn push(&mut self, piece: &str) -> String {
        if self.hit {
            return String::new();
        }
        if self.stops.is_empty() {
            return piece.to_string();
        }
        self.held.push_str(piece);
        if let Some((at, stop)) = self.stops.iter().filter_map(|s| self.held.find(s.as_str()).map(|at| (at, s))).min() {
            self.hit = true;
            self.matched = Some(stop.clone());
            let out = self.held[..at].to_string();
            self.held.clear();
            return out;
        }
        let keep = self.stops.iter().map(|s| s.len().saturating_sub(1)).max().unwrap_or(0);
        let mut cut = self.held.len().saturating_sub(keep);
        while !self.held.is_char_boundary(cut) {
            cut -= 1;
        }
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        out
    }

    /// What was held back, at the end.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Seconds until the cap in `message` resets: tomorrow for the daily budget, next month for
/// the monthly ones. (The meter's refusal arrives as its sentence; the cap is named in it.)
fn until_reset(message: &str) -> u64 {
    let now = now_ms();
    let end = if message.contains("daily budget") {
        frugal_core::ledger::day_bounds_ms(now).1
    } else {
        frugal_core::ledger::Month::containing(now).bounds_ms().1
    };
    u64::try_from((end - now) / 1000).unwrap_or(0).max(1)
}

/// A failure of the engine or provider, in the gateway's terms.
pub fn provider_problem(e: &ProviderError) -> Problem {
    let m = e.message().to_string();
    match e.kind() {
        // Waiting never helps a request over the per-request limit: it must ask for less.
        ErrorKind::Refused if m.contains("per-request limit") => {
            Problem::BadRequest(format!("{m}; ask for fewer output tokens (max_tokens)"))
        }
        ErrorKind::Refused => {
            let wait = until_reset(&m);
            Problem::Budget(m, wait)
        }
        ErrorKind::InvalidRequest | ErrorKind::ContextOverflow => Problem::BadRequest(m),
        ErrorKind::RateLimited => Problem::RateLimited(m),
        ErrorKind::Auth => Problem::Upstream(format!("the provider refused Frugal's key: {m}")),
        _ => Problem::Upstream(m),
    }
}

/// A failure before the call started.
pub fn core_problem(e: CoreError) -> Problem {
    match e {
        CoreError::Provider(p) => provider_problem(&p),
        CoreError::Input(m) | CoreError::Route(m) => Problem::BadRequest(m),
        CoreError::Ledger(frugal_core::ledger::LedgerError::Refused(r)) => {
            provider_problem(&ProviderError::new(ErrorKind::Refused, r.to_string()))
        }
        other => Problem::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_sequence_split_across_pieces_is_caught() {
        let stops = vec!["END".to_string()];
        let mut f = StopFilter::new(&stops);
        let mut out = String::new();
        for p in ["Hello wor", "ld E", "N", "D and more"] {
            out.push_str(&f.push(p));
        }
        assert!(f.hit);
        out.push_str(&f.finish());
        assert_eq!(out, "Hello world ");
        let none: Vec<String> = Vec::new();
        let mut f = StopFilter::new(&none);
        assert_eq!(f.push("abc"), "abc");
        let stops = vec!["é!".to_string()];
        let mut f = StopFilter::new(&stops);
        let shown = f.push("café");
        assert_eq!(shown + &f.finish(), "café");
    }
}

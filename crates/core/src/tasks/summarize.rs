//! `frugal summarize`: meeting transcript → summary, decisions, action items, open questions.
//!
//! The structure is guaranteed by a JSON schema turned into a grammar, so even the 135M
//! default model cannot return a malformed result. Long meetings are split on speaker turns
//! by token count (with overlap), summarized chunk by chunk, and merged: lists are united and
//! de-duplicated in code, and the model writes one summary of the partial summaries.

use std::collections::BTreeSet;

use frugal_llm::{CacheMark, CancelToken, Completion, Constraint, Event, Message, Provider, Request, Sampling};
use serde::{Deserialize, Serialize};

pub use super::chunking::chunk_turns;
use super::grounded::{
    claim_unsupported, date_grounded, normalize, owner_grounded, sentences, task_grounded, word_count, Source,
};
use super::{repeated_ngram, run, Check, Quality, Task, TaskError};
use crate::transcript::{render_turns, Format, Transcript};

const SYSTEM: &str = include_str!("../../prompts/summarize.system.md");
const USER: &str = include_str!("../../prompts/summarize.user.md");
const MERGE: &str = include_str!("../../prompts/summarize-merge.user.md");
/// A worked example (an invented meeting): small models follow a shown answer far better
/// than a described one. It sits before the transcript, so the KV cache reuses it.
const EXAMPLE_USER: &str = include_str!("../../prompts/summarize.example.user.md");
const EXAMPLE_ANSWER: &str = include_str!("../../prompts/summarize.example.assistant.json");

/// Tokens reserved for the JSON answer of one chunk: enough for the longest answer the schema
/// allows (≈ 3,300 characters of fields plus JSON syntax), so a valid answer is never cut.
pub const ANSWER_TOKENS: u32 = 1200;

/// One action item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    /// Who will do it (a speaker or a name from the transcript).
    pub owner: String,
    /// What they will do.
    pub task: String,
    /// When, if a date was stated.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub due: Option<String>,
}

fn empty_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// The structured summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingSummary {
    /// A few sentences.
    pub summary: String,
    /// Decisions made.
    pub decisions: Vec<String>,
    /// Who does what by when.
    pub action_items: Vec<ActionItem>,
    /// Questions left open.
    pub open_questions: Vec<String>,
}

/// An item removed by a grounding check, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// The item.
    pub item: ActionItem,
    /// Why it was dropped.
    pub reason: String,
}

/// What `summarize` returns.
#[derive(Clone, Debug, Serialize)]
pub struct SummaryReport {
    /// The summary.
    #[serde(flatten)]
    pub summary: MeetingSummary,
    /// Checks and whether they passed.
    pub quality: Quality,
    /// Action items removed by grounding checks.
    pub dropped: Vec<Dropped>,
    /// How the transcript was read.
    pub format: Format,
    /// Speakers found.
    pub speakers: Vec<String>,
    /// Chunks the transcript was split into (1 = single pass).
    pub chunks: usize,
    /// Notes for the user (format guesses, decoding warnings).
    pub notes: Vec<String>,
    /// Milliseconds from the start to the model's first token (first visible progress).
    pub first_token_ms: u64,
    /// Milliseconds for the whole summary.
    pub total_ms: u64,
    /// Notes in the user's indexed folders that this meeting relates to.
    pub related: Vec<RelatedNote>,
}

/// A note in the index a meeting relates to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelatedNote {
    /// The file.
    pub path: std::path::PathBuf,
    /// Where the matching passage starts.
    pub line: u32,
    /// Its title.
    pub title: String,
}

impl SummaryReport {
    /// The summary as Markdown.
    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut out = format!("## Summary\n\n{}\n\n## Decisions\n\n", s.summary.trim());
        list(&mut out, &s.decisions);
        out.push_str("\n## Action items\n\n");
        if s.action_items.is_empty() {
            out.push_str("- none\n");
        }
        for a in &s.action_items {
            match &a.due {
                Some(d) => out.push_str(&format!("- **{}**: {} (due {d})\n", a.owner, a.task)),
                None => out.push_str(&format!("- **{}**: {}\n", a.owner, a.task)),
            }
        }
        out.push_str("\n## Open questions\n\n");
        list(&mut out, &s.open_questions);
        if !self.related.is_empty() {
            out.push_str("\n## Related notes\n\n");
            for r in &self.related {
                out.push_str(&format!("- {} ({}:{})\n", r.title, r.path.display(), r.line));
            }
        }
        out
    }
}

fn list(out: &mut String, items: &[String]) {
    if items.is_empty() {
        out.push_str("- none\n");
    }
    for i in items {
        out.push_str(&format!("- {i}\n"));
    }
}

/// The JSON schema the model's answer must follow. Lengths are capped so a looping small
/// model cannot fill the context with one field.
pub fn schema() -> String {
    serde_json::json!({
        "type": "object",
        "properties": {
            "summary": {"type": "string", "minLength": 20, "maxLength": 450},
            "decisions": {"type": "array", "maxItems": 5, "items": {"type": "string", "minLength": 3, "maxLength": 150}},
            "action_items": {"type": "array", "maxItems": 6, "items": {
                "type": "object",
                "properties": {
                    "owner": {"type": "string", "minLength": 1, "maxLength": 40},
                    "task": {"type": "string", "minLength": 3, "maxLength": 150},
                    "due": {"type": "string", "maxLength": 30}
                },
                "required": ["owner", "task", "due"]
            }},
            "open_questions": {"type": "array", "maxItems": 4, "items": {"type": "string", "minLength": 3, "maxLength": 150}}
        },
        "required": ["summary", "decisions", "action_items", "open_questions"]
    })
    .to_string()
}

fn sampling(attempt: u32) -> Sampling {
    if attempt == 0 {
        Sampling { temperature: 0.2, repeat_penalty: 1.1, seed: Some(1), ..Sampling::default() }
    } else {
        // The retry: more randomness and a stronger repetition penalty to break loops.
        Sampling { temperature: 0.7, repeat_penalty: 1.3, seed: Some(97), ..Sampling::default() }
    }
}

/// The summarize task for one chunk of a transcript.
pub struct SummarizeChunk<'a> {
    /// The chunk, as `Name: text` lines.
    pub text: String,
    /// Every speaker of the meeting.
    pub speakers: &'a [String],
    /// The whole transcript, for grounding.
    pub source: &'a Source,
}

impl Task for SummarizeChunk<'_> {
    type Output = (MeetingSummary, Vec<Dropped>);

    fn request(&self, attempt: u32) -> Request {
        // Stable first: the instructions and the example (the same for every part and every
        // meeting), then this part of the meeting, then the request; a cloud cache may keep
        // the first two (see `caching`).
        let (head, tail) = USER.split_once("{transcript}").unwrap_or((USER, ""));
        let head = head.replace("{speakers}", &self.speakers.join(", "));
        let document_end = head.len() + self.text.trim().len();
        let user = format!("{head}{}{tail}", self.text.trim());
        let example = EXAMPLE_ANSWER.trim();
        Request::new(vec![
            Message::system(SYSTEM.trim()),
            Message::user(EXAMPLE_USER.trim()),
            Message::assistant(example),
            Message::user(user),
        ])
        .with_cache(
            "frugal-summarize",
            vec![CacheMark::after(2, example, true), CacheMark { message: 3, at: document_end, shared: false }],
        )
        .with_max_tokens(ANSWER_TOKENS)
        .with_sampling(sampling(attempt))
        .with_constraint(Constraint::JsonSchema(schema()))
    }

    fn parse(&self, done: &Completion) -> Result<Self::Output, String> {
        let s: MeetingSummary =
            serde_json::from_str(&done.text).map_err(|e| format!("the answer is not complete JSON ({e})"))?;
        Ok((tidy(s), Vec::new()))
    }

    fn degenerate(&self, (s, _): &Self::Output) -> Option<String> {
        degenerate(s).or_else(|| example_leak(s, self.source))
    }

    fn check(&self, (s, dropped): &mut Self::Output) -> Vec<Check> {
        let mut checks = ground(s, dropped, self.speakers, self.source);
        checks.push(commitments_kept(&self.text, s));
        checks
    }
}

/// Trims fields and removes duplicates and empty entries.
fn tidy(mut s: MeetingSummary) -> MeetingSummary {
    // An item of fewer than three words ("Ben Okafor") says nothing: drop it. In a script
    // written without spaces, four characters make the same few words.
    let says_something =
        |x: &str| x.split_whitespace().count() >= 3 || x.chars().filter(|c| super::grounded::unspaced(*c)).count() >= 4;
    let dedupe = |v: &mut Vec<String>| {
        let mut seen = BTreeSet::new();
        v.retain(|x| says_something(x) && seen.insert(normalize(x)));
        for x in v.iter_mut() {
            *x = x.trim().to_string();
        }
    };
    s.summary = s.summary.trim().to_string();
    dedupe(&mut s.decisions);
    dedupe(&mut s.open_questions);
    let mut seen = BTreeSet::new();
    s.action_items.retain(|a| says_something(&a.task) && seen.insert((normalize(&a.owner), normalize(&a.task))));
    for a in &mut s.action_items {
        a.owner = a.owner.trim().to_string();
        a.task = a.task.trim().to_string();
    }
    s
}

/// The worked example's speakers showing up in an answer about a meeting they were not in:
/// the model copied the example instead of reading the transcript.
fn example_leak(s: &MeetingSummary, source: &Source) -> Option<String> {
    let names = EXAMPLE_USER.lines().find_map(|l| l.strip_prefix("Speakers:"))?;
    let answer = serde_json::to_string(s).unwrap_or_default().to_lowercase();
    let src = &source.lower;
    names
        .split(',')
        .map(|n| n.trim().to_lowercase())
        .find(|n| !n.is_empty() && answer.contains(n.as_str()) && !src.contains(n.as_str()))
        .map(|n| format!("the answer copies the prompt's example ({n})"))
}

fn degenerate(s: &MeetingSummary) -> Option<String> {
    if word_count(&s.summary) < 4 {
        return Some("the summary is empty".into());
    }
    if s.summary.contains("{{") || s.summary.contains("}}") {
        return Some("the summary is template placeholders, not text".into());
    }
    let all = std::iter::once(s.summary.clone())
        .chain(s.decisions.iter().cloned())
        .chain(s.action_items.iter().map(|a| a.task.clone()))
        .chain(s.open_questions.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    repeated_ngram(&all, 4, 3).map(|p| format!("the answer repeats \"{p}\""))
}

/// The grounding checks: owners must be speakers or names in the transcript (else the item is
/// dropped), due dates must appear in it (else the date is removed).
fn ground(s: &mut MeetingSummary, dropped: &mut Vec<Dropped>, speakers: &[String], source: &Source) -> Vec<Check> {
    let mut owner_fail = Vec::new();
    let mut task_fail = Vec::new();
    let mut date_fail = Vec::new();
    let mut kept = Vec::new();
    for mut a in std::mem::take(&mut s.action_items) {
        if !task_grounded(&a.task, source) {
            task_fail.push(a.task.clone());
            dropped.push(Dropped {
                reason: format!("task \"{}\" is not about anything in the transcript", a.task),
                item: a,
            });
            continue;
        }
        if !owner_grounded(&a.owner, speakers, source) {
            owner_fail.push(a.owner.clone());
            dropped.push(Dropped { reason: format!("owner \"{}\" is not in the transcript", a.owner), item: a });
            continue;
        }
        if let Some(d) = &a.due {
            if !date_grounded(d, source) {
                date_fail.push(d.clone());
                a.due = None;
            }
        }
        kept.push(a);
    }
    s.action_items = kept;
    let decision_fail = keep_supported(&mut s.decisions, source);
    let question_fail = keep_supported(&mut s.open_questions, source);
    vec![
        ground_summary(&mut s.summary, source),
        Check::from_findings("decisions_grounded", &decision_fail, "dropped decisions not in the transcript"),
        Check::from_findings("owners_grounded", &owner_fail, "dropped items owned by"),
        Check::from_findings("tasks_grounded", &task_fail, "dropped tasks not in the transcript"),
        Check::from_findings("dates_grounded", &date_fail, "removed due dates not in the transcript"),
        Check::from_findings("questions_grounded", &question_fail, "dropped questions not in the transcript"),
    ]
}

/// What people say when they take something on (or hand it to someone), in English.
const COMMITMENTS: &[&str] = &["i'll ", "i will ", "will do", "can you ", "could you ", "please ", "i can "];

/// A part of a meeting where someone took something on must yield at least one action item:
/// a summary that lists none has missed the meeting's outcome, however grounded its words.
/// Other languages find no phrase here and pass.
fn commitments_kept(part: &str, s: &MeetingSummary) -> Check {
    let said = part.lines().find(|l| {
        let l = format!("{} ", l.to_lowercase());
        COMMITMENTS.iter().any(|c| l.contains(c))
    });
    let missed = match said {
        Some(line) if s.action_items.is_empty() => {
            let line: String = line.trim().chars().take(80).collect();
            vec![format!("\"{line}\" has no action item")]
        }
        _ => Vec::new(),
    };
    Check::from_findings("action_items_found", &missed, "commitments missed")
}

/// Drops the items the transcript does not support; returns them with the reason.
fn keep_supported(items: &mut Vec<String>, source: &Source) -> Vec<String> {
    let mut failed = Vec::new();
    items.retain(|item| match claim_unsupported(item, source) {
        Some(why) => {
            failed.push(format!("\"{item}\" ({why})"));
            false
        }
        None => true,
    });
    failed
}

/// Checks each sentence of the summary against the transcript. Unsupported sentences are
/// removed when supported ones remain (what is shown is then what was said); a summary with
/// no supported sentence is kept as it is, and the failed check marks it.
fn ground_summary(summary: &mut String, source: &Source) -> Check {
    let mut kept = Vec::new();
    let mut failed = Vec::new();
    for sentence in sentences(summary) {
        match claim_unsupported(&sentence, source) {
            Some(why) => failed.push(format!("\"{sentence}\" ({why})")),
            None => kept.push(sentence),
        }
    }
    if !failed.is_empty() && !kept.is_empty() {
        *summary = kept.join(" ");
    }
    Check::from_findings("summary_grounded", &failed, "sentences not in the transcript")
}

/// Progress of a summary, for progress bars and UI events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Measuring the transcript to split it into parts: `done` of `total` turns. Shown from
    /// the first moment, because a very long transcript takes a while to measure.
    Preparing {
        /// Turns measured.
        done: usize,
        /// All turns.
        total: usize,
    },
    /// Chunk `done` of `total` summarized.
    Chunk {
        /// Chunks finished.
        done: usize,
        /// All chunks.
        total: usize,
    },
    /// Merging the partial summaries.
    Merging,
}

/// Summarizes a transcript with `provider`, splitting it to fit `context` tokens.
pub fn summarize(
    provider: &dyn Provider,
    transcript: &Transcript,
    context: u32,
    count: &mut dyn FnMut(&str) -> Result<usize, TaskError>,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(Progress),
    on_event: &mut dyn FnMut(&Event),
) -> Result<SummaryReport, TaskError> {
    let started = std::time::Instant::now();
    let mut first_token_ms = None;
    let on_event = &mut |e: &Event| {
        if matches!(e, Event::Text(_)) {
            first_token_ms.get_or_insert_with(|| started.elapsed().as_millis() as u64);
        }
        on_event(e);
    };
    let speakers = transcript.speakers();
    let source = Source::new(transcript.render());
    // What the prompt costs without the transcript, plus the answer and a margin.
    let empty = SummarizeChunk { text: String::new(), speakers: &speakers, source: &source };
    let overhead: usize = empty.request(0).messages.iter().map(|m| count(&m.content)).sum::<Result<usize, _>>()?;
    let budget = (context as usize).saturating_sub(overhead + ANSWER_TOKENS as usize + 64);
    let total_turns = transcript.turns.len();
    on_progress(Progress::Preparing { done: 0, total: total_turns });
    let (mut measured, mut shown) = (0usize, std::time::Instant::now());
    let chunks = chunk_turns(&transcript.turns, budget, &mut |text| {
        measured += 1;
        if shown.elapsed() >= std::time::Duration::from_millis(100) {
            shown = std::time::Instant::now();
            on_progress(Progress::Preparing { done: measured.min(total_turns), total: total_turns });
        }
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        count(text)
    })?;
    let total = chunks.len();
    let mut parts = Vec::with_capacity(total);
    let mut qualities = Vec::with_capacity(total);
    let mut dropped = Vec::new();
    on_progress(Progress::Chunk { done: 0, total });
    let mut failed = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let task = SummarizeChunk { text: render_turns(chunk), speakers: &speakers, source: &source };
        match run(provider, &task, cancel, on_event) {
            Ok(((part, d), q)) => {
                parts.push(part);
                dropped.extend(d);
                qualities.push(q);
            }
            // One unusable part of a long meeting must not cost the whole summary: it is
            // reported as a failed check instead (the router will escalate on it).
            Err(TaskError::Provider(e)) if total > 1 && e.kind() == frugal_llm::ErrorKind::Protocol => {
                failed.push(format!("part {} of {total}: {e}", i + 1));
            }
            Err(e) => return Err(e),
        }
        on_progress(Progress::Chunk { done: i + 1, total });
    }
    if parts.is_empty() {
        return Err(TaskError::Provider(frugal_llm::ProviderError::new(
            frugal_llm::ErrorKind::Protocol,
            format!("no part of the meeting could be summarized ({})", failed.join("; ")),
        )));
    }
    qualities.push(Quality::from_checks(
        vec![Check::from_findings("chunks_summarized", &failed, "parts that could not be summarized")],
        false,
    ));
    let summary = if parts.len() == 1 {
        parts.pop().unwrap_or_default()
    } else {
        on_progress(Progress::Merging);
        let mut merged = merge(provider, parts, cancel, on_event)?;
        // The parts' own summaries are not shown, only the merged one: that is what is checked.
        for q in &mut qualities {
            q.checks.retain(|c| c.name != "summary_grounded");
        }
        qualities.push(Quality::from_checks(vec![ground_summary(&mut merged.summary, &source)], false));
        merged
    };
    Ok(SummaryReport {
        summary,
        quality: Quality::combine(&qualities),
        dropped,
        format: transcript.format,
        speakers,
        chunks: total,
        notes: transcript.notes.clone(),
        first_token_ms: first_token_ms.unwrap_or(0),
        total_ms: started.elapsed().as_millis() as u64,
        related: Vec::new(),
    })
}

/// Where a meeting's summary is written beside it: `NAME.summary.md`.
pub fn summary_path(p: &std::path::Path) -> std::path::PathBuf {
    let stem = p.file_stem().map_or_else(|| "meeting".into(), |s| s.to_string_lossy().into_owned());
    p.with_file_name(format!("{stem}.summary.md"))
}

/// The whole meeting as one request for a cloud model of `context` tokens, for a batch; `None`
/// when it would need parts (their merge depends on their answers, which a batch cannot wait
/// for). Tokens are estimated at three characters each, as for the cloud's own run.
pub fn one_request(transcript: &Transcript, context: u32) -> Option<Request> {
    let speakers = transcript.speakers();
    let source = Source::new(String::new());
    let text = render_turns(&transcript.turns);
    let task = SummarizeChunk { text, speakers: &speakers, source: &source };
    let request = task.request(0);
    let tokens: usize = request.messages.iter().map(|m| m.content.len().div_ceil(3)).sum();
    (tokens + ANSWER_TOKENS as usize + 64 <= context as usize).then_some(request)
}

/// A summary from the answer to [`one_request`], parsed and checked against the transcript as
/// a live answer is.
pub fn from_answer(transcript: &Transcript, answer: &str) -> Result<SummaryReport, String> {
    let speakers = transcript.speakers();
    let source = Source::new(transcript.render());
    let task = SummarizeChunk { text: render_turns(&transcript.turns), speakers: &speakers, source: &source };
    let (mut output, quality) = super::check_answer(&task, answer)?;
    Ok(SummaryReport {
        summary: std::mem::take(&mut output.0),
        quality,
        dropped: output.1,
        format: transcript.format,
        speakers,
        chunks: 1,
        notes: transcript.notes.clone(),
        first_token_ms: 0,
        total_ms: 0,
        related: Vec::new(),
    })
}

/// The reduce step: lists are united and de-duplicated in code (exact, free); the model only
/// writes one summary of the partial summaries, falling back to joining them.
fn merge(
    provider: &dyn Provider,
    parts: Vec<MeetingSummary>,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&Event),
) -> Result<MeetingSummary, TaskError> {
    let mut merged = MeetingSummary::default();
    let listing: Vec<String> = parts.iter().enumerate().map(|(i, p)| format!("{}. {}", i + 1, p.summary)).collect();
    for p in parts {
        merged.decisions.extend(p.decisions);
        merged.action_items.extend(p.action_items);
        merged.open_questions.extend(p.open_questions);
    }
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"summary": {"type": "string", "minLength": 20, "maxLength": 800}},
        "required": ["summary"]
    })
    .to_string();
    let request = Request::new(vec![
        Message::system(SYSTEM.trim()),
        Message::user(MERGE.replace("{parts}", &listing.join("\n"))),
    ])
    .with_cache("frugal-summarize", vec![CacheMark::after(0, SYSTEM.trim(), true)])
    .with_max_tokens(400)
    .with_sampling(sampling(0))
    .with_constraint(Constraint::JsonSchema(schema));
    let done = provider.stream(request, cancel.clone()).collect_blocking_with(&mut *on_event)?;
    if done.reason == frugal_llm::FinishReason::Cancelled {
        return Err(TaskError::Cancelled);
    }
    #[derive(Deserialize)]
    struct Only {
        summary: String,
    }
    merged.summary = serde_json::from_str::<Only>(&done.text)
        .ok()
        .map(|o| o.summary.trim().to_string())
        .filter(|s| repeated_ngram(s, 4, 3).is_none() && s.split_whitespace().count() >= 4)
        .unwrap_or_else(|| {
            listing.iter().map(|l| l.split_once(". ").map_or(l.as_str(), |(_, s)| s)).collect::<Vec<_>>().join(" ")
        });
    Ok(tidy(merged))
}

#[cfg(test)]
#[path = "summarize_tests.rs"]
mod tests;

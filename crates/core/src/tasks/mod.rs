//! Tasks: one path for summarize, draft and ask.
//!
//! A [`Task`] builds its request from prompt files, declares its output constraint, parses the
//! answer and checks it against the input. [`run`] drives it: generate, parse, check for
//! degenerate output, retry once with different sampling, and report a [`Quality`] signal that
//! the router will use to decide escalation.

pub mod ask;
mod chatter;
mod chunking;
pub mod draft;
pub mod facts;
pub mod grounded;
pub mod summarize;

use frugal_llm::{CancelToken, Completion, Event, FinishReason, Provider, ProviderError, Request};
use serde::Serialize;

/// One check of a task's output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name (`owners_grounded`, `not_degenerate`…).
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// What was found (what was dropped, why it failed).
    pub detail: String,
    /// The items behind a failed check (a word not in the notes, a dropped decision), one
    /// each, for saying in plain words what is wrong with the answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

impl Check {
    /// A check that passes when nothing was found; otherwise its detail is `what: a, b`.
    pub fn from_findings(name: &'static str, findings: &[String], what: &str) -> Self {
        Self {
            name,
            passed: findings.is_empty(),
            detail: if findings.is_empty() { String::new() } else { format!("{what}: {}", findings.join("; ")) },
            findings: findings.to_vec(),
        }
    }

    /// A check with a detail line and no separate findings.
    pub fn new(name: &'static str, passed: bool, detail: impl Into<String>) -> Self {
        Self { name, passed, detail: detail.into(), findings: Vec::new() }
    }
}

/// The quality signal of a task's result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Quality {
    /// All checks passed.
    pub passed: bool,
    /// The first attempt was degenerate and the task ran again with other sampling.
    pub retried: bool,
    /// The checks.
    pub checks: Vec<Check>,
}

impl Quality {
    /// Builds the signal from checks.
    pub fn from_checks(checks: Vec<Check>, retried: bool) -> Self {
        Self { passed: checks.iter().all(|c| c.passed), retried, checks }
    }

    /// Combines the signals of several runs (map-reduce chunks): a check passes only if it
    /// passed everywhere; details are joined.
    pub fn combine(parts: &[Quality]) -> Self {
        let mut checks: Vec<Check> = Vec::new();
        for c in parts.iter().flat_map(|q| &q.checks) {
            match checks.iter_mut().find(|x| x.name == c.name) {
                Some(x) => {
                    x.passed &= c.passed;
                    if !c.detail.is_empty() && !x.detail.contains(&c.detail) {
                        if !x.detail.is_empty() {
                            x.detail.push_str("; ");
                        }
                        x.detail.push_str(&c.detail);
                    }
                    for f in &c.findings {
                        if !x.findings.contains(f) {
                            x.findings.push(f.clone());
                        }
                    }
                }
                None => checks.push(c.clone()),
            }
        }
        Self::from_checks(checks, parts.iter().any(|q| q.retried))
    }
}

/// A unit of work for a model.
pub trait Task {
    /// The parsed, checked result.
    type Output;

    /// The request for attempt 0, or for the retry (attempt 1) with different sampling.
    fn request(&self, attempt: u32) -> Request;

    /// Turns the model's text into the output, or says why it cannot.
    fn parse(&self, completion: &Completion) -> Result<Self::Output, String>;

    /// Why the output is degenerate (loops, empty fields), if it is.
    fn degenerate(&self, output: &Self::Output) -> Option<String>;

    /// Grounding checks; may drop or blank parts of the output that fail.
    fn check(&self, output: &mut Self::Output) -> Vec<Check>;

    /// How this task's answer is delivered when it comes back in a batch (`--batch`), or
    /// `None` if the task cannot be batched.
    fn batched(&self) -> Option<crate::batches::Delivery> {
        None
    }
}

/// Parses and checks an answer that arrived apart from its request (a batch's result) as
/// [`run`] checks a live one; `Err` when it cannot be parsed.
pub fn check_answer<T: Task>(task: &T, text: &str) -> Result<(T::Output, Quality), String> {
    let done = Completion {
        text: text.to_string(),
        usage: frugal_llm::Usage::default(),
        reason: FinishReason::Stop,
        statuses: Vec::new(),
        tool_calls: Vec::new(),
    };
    let mut output = task.parse(&done)?;
    let mut checks = vec![match task.degenerate(&output) {
        None => Check::new("not_degenerate", true, ""),
        Some(problem) => Check::new("not_degenerate", false, problem),
    }];
    checks.extend(task.check(&mut output));
    Ok((output, Quality::from_checks(checks, false)))
}

/// Why a task failed outright.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The engine failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// Runs `task` on `provider`: on a parse failure or degenerate output, retries once with the
/// task's retry sampling and keeps the better attempt.
pub fn run<T: Task>(
    provider: &dyn Provider,
    task: &T,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&Event),
) -> Result<(T::Output, Quality), TaskError> {
    let mut last_problem = String::new();
    let mut fallback = None;
    for attempt in 0..2 {
        if attempt > 0 {
            on_event(&Event::Status(format!("the first answer was unusable ({last_problem}); trying again")));
        }
        let done = provider.stream(task.request(attempt), cancel.clone()).collect_blocking_with(&mut *on_event)?;
        if done.reason == FinishReason::Cancelled {
            return Err(TaskError::Cancelled);
        }
        match task.parse(&done) {
            Ok(mut output) => match task.degenerate(&output) {
                None => {
                    let mut checks = vec![Check::new("not_degenerate", true, "")];
                    checks.extend(task.check(&mut output));
                    return Ok((output, Quality::from_checks(checks, attempt > 0)));
                }
                Some(problem) => {
                    last_problem = problem;
                    fallback = Some(output);
                }
            },
            Err(problem) => last_problem = problem,
        }
    }
    match fallback {
        Some(mut output) => {
            let mut checks = vec![Check::new("not_degenerate", false, last_problem)];
            checks.extend(task.check(&mut output));
            Ok((output, Quality::from_checks(checks, true)))
        }
        None => Err(TaskError::Provider(ProviderError::new(
            frugal_llm::ErrorKind::Protocol,
            format!("the model's answer could not be used after a retry: {last_problem}"),
        ))),
    }
}

/// Day and month names (without "may", which is mostly a verb): facts a draft may not invent
/// and the words a due date is recognised by.
pub const CALENDAR_WORDS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A phrase of `n` words repeated `times` or more: the signature of a looping small model.
/// Digits count as one symbol, so counting loops ("20 today. 21 today. 22 today.") are caught.
pub fn repeated_ngram(text: &str, n: usize, times: usize) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
            if w.chars().any(|c| c.is_ascii_digit()) {
                "#".to_string()
            } else {
                w
            }
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < n * times {
        return None;
    }
    let mut counts = std::collections::HashMap::new();
    for w in words.windows(n) {
        let c = counts.entry(w.join(" ")).or_insert(0usize);
        *c += 1;
        if *c >= times {
            return Some(w.join(" "));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_are_detected_and_normal_text_is_not() {
        assert_eq!(
            repeated_ngram("we will ship it. we will ship it. we will ship it.", 4, 3).as_deref(),
            Some("we will ship it")
        );
        assert_eq!(repeated_ngram("Ana will send the budget by Friday; Bo reviews it Monday.", 4, 3), None);
        assert!(repeated_ngram("20 today. 21 tomorrow. 22 today. 23 tomorrow. 24 today. 25 tomorrow.", 4, 3).is_some());
    }

    #[test]
    fn combined_quality_fails_if_any_part_fails() {
        let ok = Quality::from_checks(vec![Check::new("a", true, "")], false);
        let bad = Quality::from_checks(vec![Check::new("a", false, "x")], true);
        let q = Quality::combine(&[ok, bad]);
        assert!(!q.passed && q.retried);
        assert_eq!(q.checks[0].detail, "x");
    }
}

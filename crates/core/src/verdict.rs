//! A failed answer looks failed. The quality checks name what they found in their own terms
//! (`facts_grounded: not in your input: Barcelona`); the user needs it in plain words ("mentions
//! \"Barcelona\", which is not in your notes") and a way forward: ask the cloud, add a cloud
//! provider, or run the model this machine can carry. The CLI and the tray app both show this.

use serde::Serialize;

use crate::tasks::{Check, Quality};
use crate::{Assistant, RouteReport};

/// Findings quoted per check before "and N more": a list of twenty invented words helps nobody.
const SHOWN: usize = 3;

/// What is wrong with an answer and what the user can do about it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The answer failed its checks: show it marked as failed.
    pub failed: bool,
    /// Each problem as the rest of a sentence whose subject is the answer ("mentions …").
    pub problems: Vec<String>,
    /// What would get a better answer, most direct first.
    pub next: Vec<NextStep>,
}

/// A way to a better answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextStep {
    /// A cloud provider is configured: ask it (the shell shows the estimate first).
    AskCloud,
    /// No cloud provider is configured: add one.
    AddProvider,
    /// The model `hw` recommends for this machine is not the one in use.
    PullModel {
        /// Its catalog name (`frugal models pull NAME`).
        name: String,
        /// Its display name.
        display: String,
        /// Already downloaded: only `frugal models use NAME` is needed.
        installed: bool,
    },
}

/// Says each failed check of `quality` in plain words.
pub fn problems(quality: &Quality) -> Vec<String> {
    quality.checks.iter().filter(|c| !c.passed).map(plain).collect()
}

/// One failed check as the rest of a sentence about the answer.
fn plain(c: &Check) -> String {
    let list = || quoted(&c.findings);
    match c.name {
        "no_placeholders" => format!("has blanks to fill: {}", c.findings.join(", ")),
        "facts_grounded" => {
            let which = if c.findings.len() == 1 { "which is" } else { "which are" };
            format!("mentions {}, {which} not in your notes", list())
        }
        "notes_covered" => format!("leaves out {} from your notes", list()),
        "signed_as_you" => format!("is signed as {}", c.findings.join(", ")),
        "summary_grounded" => format!("says what was not said in the meeting: {}", list_raw(&c.findings)),
        "decisions_grounded" => format!("listed decisions nobody made (left out): {}", list_raw(&c.findings)),
        "tasks_grounded" => format!("listed tasks nobody took on (left out): {}", list_raw(&c.findings)),
        "owners_grounded" => format!("named owners who were not in the meeting (left out): {}", list()),
        "dates_grounded" => format!("gave due dates nobody said (removed): {}", list_raw(&c.findings)),
        "questions_grounded" => format!("listed questions nobody asked (left out): {}", list_raw(&c.findings)),
        "action_items_found" => format!("missed what people took on: {}", list_raw(&c.findings)),
        "chunks_summarized" => format!("could not summarize {}", list_raw(&c.findings)),
        "found" => "found no answer in your files".into(),
        "cites_sources" => "cites none of your files".into(),
        "grounded" => format!("uses words your files do not: {}", list()),
        "not_degenerate" => format!("is empty or repeats itself ({})", c.detail),
        _ if c.detail.is_empty() => format!("failed its check {}", c.name),
        _ => format!("failed its check {}: {}", c.name, c.detail),
    }
}

/// `"a", "b" and "c"`, at most [`SHOWN`] of them.
fn quoted(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    join(&q)
}

/// The findings as they are (they carry their own quotes and reasons).
fn list_raw(items: &[String]) -> String {
    let shortened: Vec<String> = items.iter().map(|i| shorten(i, 120)).collect();
    join(&shortened)
}

fn join(items: &[String]) -> String {
    let shown = &items[..items.len().min(SHOWN)];
    let more = items.len() - shown.len();
    let mut out = match shown {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    if more > 0 {
        out = format!("{}, and {more} more", shown.join(", "));
    }
    out
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

impl Assistant {
    /// The verdict on an answer: its problems in plain words and the next steps this setup
    /// offers. A passing answer has neither.
    pub fn verdict(&self, quality: &Quality, route: &RouteReport) -> Verdict {
        if quality.passed {
            return Verdict::default();
        }
        let mut next = Vec::new();
        if route.route == "local" {
            next.push(if self.config().providers.is_empty() { NextStep::AddProvider } else { NextStep::AskCloud });
        }
        // A bigger local model answers better at no cost per request: offer it when this
        // machine can carry a better one than the one in use.
        let recommended = self.models().catalog_fit().ok().and_then(|fits| {
            fits.into_iter().find(|f| f.recommended && f.entry.kind == crate::catalog::ModelKind::Llm)
        });
        if let Some(f) = recommended.filter(|f| !f.in_use) {
            next.push(NextStep::PullModel {
                name: f.entry.name.clone(),
                display: f.entry.display.clone(),
                installed: f.installed,
            });
        }
        Verdict { failed: true, problems: problems(quality), next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(name: &'static str, findings: &[&str]) -> Quality {
        let f: Vec<String> = findings.iter().map(|s| s.to_string()).collect();
        Quality::from_checks(vec![Check::new("found", true, ""), Check::from_findings(name, &f, "x")], false)
    }

    #[test]
    fn each_failed_check_reads_as_plain_words() {
        assert_eq!(
            problems(&failed("facts_grounded", &["sent by the team yesterday"])),
            ["mentions \"sent by the team yesterday\", which is not in your notes"]
        );
        assert_eq!(problems(&failed("no_placeholders", &["[date]", "[time]"])), ["has blanks to fill: [date], [time]"]);
        assert_eq!(
            problems(&failed("notes_covered", &["20", "Leeds"])),
            ["leaves out \"20\" and \"Leeds\" from your notes"]
        );
        assert_eq!(
            problems(&failed("grounded", &["a", "b", "c", "d", "e"])),
            ["uses words your files do not: \"a\", \"b\", \"c\", and 2 more"]
        );
        // Passing checks say nothing; an unknown check still says its name and detail.
        assert!(problems(&failed("facts_grounded", &[])).is_empty());
        let other = Quality::from_checks(vec![Check::new("new_check", false, "why")], false);
        assert_eq!(problems(&other), ["failed its check new_check: why"]);
    }

    #[test]
    fn long_findings_are_shortened() {
        let long = "word ".repeat(60);
        let p = problems(&failed("summary_grounded", &[long.as_str()]));
        assert!(p[0].ends_with('…') && p[0].chars().count() < 200, "{p:?}");
    }
}

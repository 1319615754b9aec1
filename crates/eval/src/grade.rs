//! Grading one answer against a test's assertions, with promptfoo's semantics.
//!
//! Each assertion yields a [`Graded`]: passed, failed, or *not graded* (the judge could not
//! be asked or could not be understood). Not graded is never a pass: a test with any
//! assertion not graded does not pass, and reports count it apart, so a broken judge shows
//! up as "not graded", not as a quietly better or worse pass rate.
//!
//! Text assertions look at [`Answer::text`], what the user sees. `regex` also accepts a match
//! on the serialized [`Answer::json`], so a pattern can target a field of structured output;
//! `is-json` and JSON-valued `equals` prefer the JSON output when there is one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::assertion::{Assertion, Expected, Rule};
use crate::format::{quoted_list, shorten, usd};
use crate::spec::TestCase;
use crate::{matching, schema, Verdict};

/// Slack for float comparisons against thresholds, so `0.7` reached by a weighted mean of
/// `0.35 + 0.35` is not a fail.
const EPSILON: f64 = 1e-9;

/// What a task produced, as the runner hands it over for grading.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// What the user sees: a summary's Markdown, the draft's text, the ask answer, the reply.
    pub text: String,
    /// The task's `--json` output, when it has one.
    pub json: Option<Value>,
    /// What the answer cost, USD.
    pub cost_usd: f64,
    /// How long it took, milliseconds.
    pub latency_ms: u64,
    /// The task's own quality checks (the gate deciding whether to escalate).
    pub checks: Vec<CheckOutcome>,
    /// A summary's action-item owners.
    pub owners: Vec<String>,
    /// The paths an `ask` answer cites.
    pub cited_paths: Vec<String>,
}

/// One of the task's own quality checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// Stable name (`owners_grounded`, `not_degenerate`…).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What it found.
    pub detail: String,
}

/// One assertion's grade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graded {
    /// The assertion type as written (`not-contains`).
    pub kind: String,
    /// `None` when it could not be graded.
    pub passed: Option<bool>,
    /// 0 to 1: 1 or 0 for yes/no assertions, the judge's score for `llm-rubric`.
    pub score: f64,
    /// Short and specific: `missing "Friday"`, `cost $0.0123 > $0.01`.
    pub reason: String,
    /// The assertion's weight in the test's score.
    pub weight: f64,
}

/// A test's grade on one answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestGrade {
    /// Every assertion passed (or, with a test threshold, the weighted score reached it),
    /// and none was left not graded.
    pub passed: bool,
    /// The weighted mean of the graded assertions' scores.
    pub score: f64,
    /// Each assertion, in the test's order (its own, then `defaultTest`'s).
    pub graded: Vec<Graded>,
    /// How many assertions could not be graded.
    pub not_graded: usize,
}

/// What a rule found, before `not-` turns it around. `Err` is why it could not be graded.
struct Finding {
    held: bool,
    score: f64,
    reason: String,
}

impl Finding {
    fn yes_no(held: bool, reason: String) -> Self {
        Finding { held, score: f64::from(u8::from(held)), reason }
    }
}

/// Grades one assertion. `judge(rubric, output)` is only called for `llm-rubric`.
pub fn grade(
    assertion: &Assertion,
    answer: &Answer,
    judge: &mut dyn FnMut(&str, &str) -> Result<Verdict, String>,
) -> Graded {
    let (passed, score, reason) = match find(assertion, answer, judge) {
        Err(why) => (None, 0.0, format!("not graded: {why}")),
        Ok(f) if assertion.negate => (Some(!f.held), f64::from(u8::from(!f.held)), f.reason),
        Ok(f) => (Some(f.held), f.score, f.reason),
    };
    Graded { kind: assertion.kind.clone(), passed, score, reason, weight: assertion.weight }
}

/// Grades every assertion of a test and combines them the way promptfoo does.
pub fn grade_test(
    test: &TestCase,
    answer: &Answer,
    judge: &mut dyn FnMut(&str, &str) -> Result<Verdict, String>,
) -> TestGrade {
    let graded: Vec<Graded> = test.asserts.iter().map(|a| grade(a, answer, judge)).collect();
    let not_graded = graded.iter().filter(|g| g.passed.is_none()).count();
    let all_passed = graded.iter().all(|g| g.passed == Some(true));
    let counted = graded.iter().filter(|g| g.passed.is_some());
    let total_weight: f64 = counted.clone().map(|g| g.weight).sum();
    let score = if total_weight > 0.0 {
        counted.map(|g| g.weight * g.score).sum::<f64>() / total_weight
    } else {
        f64::from(u8::from(all_passed))
    };
    let passed = not_graded == 0
        && match test.threshold {
            Some(threshold) => score + EPSILON >= threshold,
            None => all_passed,
        };
    TestGrade { passed, score, graded, not_graded }
}

fn find(
    assertion: &Assertion,
    answer: &Answer,
    judge: &mut dyn FnMut(&str, &str) -> Result<Verdict, String>,
) -> Result<Finding, String> {
    let text = answer.text.as_str();
    let finding = match &assertion.rule {
        Rule::Equals(Expected::Text(expected)) => {
            let held = text.trim() == expected.trim();
            let reason = if held {
                format!("equals {:?}", shorten(expected, 60))
            } else {
                format!("expected {:?}, got {:?}", shorten(expected, 40), shorten(text.trim(), 40))
            };
            Finding::yes_no(held, reason)
        }
        Rule::Equals(Expected::Json(expected)) => match output_json(answer) {
            Err(_) => Finding::yes_no(
                false,
                format!("expected JSON {}, the output is not JSON", shorten(&expected.to_string(), 40)),
            ),
            Ok(actual) if actual == *expected => {
                Finding::yes_no(true, format!("equals {}", shorten(&expected.to_string(), 60)))
            }
            Ok(actual) => Finding::yes_no(
                false,
                format!("expected {}, got {}", shorten(&expected.to_string(), 40), shorten(&actual.to_string(), 40)),
            ),
        },
        Rule::Contains { needle, ignore_case } => {
            let held = contains(text, needle, *ignore_case);
            Finding::yes_no(held, format!("{} {needle:?}", if held { "contains" } else { "missing" }))
        }
        Rule::ContainsAll { needles, ignore_case } => {
            let missing: Vec<&String> = needles.iter().filter(|n| !contains(text, n, *ignore_case)).collect();
            match missing.is_empty() {
                true => Finding::yes_no(
                    true,
                    format!("contains all of {}", quoted_list(&needles.iter().collect::<Vec<_>>())),
                ),
                false => Finding::yes_no(false, format!("missing {}", quoted_list(&missing))),
            }
        }
        Rule::ContainsAny { needles, ignore_case } => match needles.iter().find(|n| contains(text, n, *ignore_case)) {
            Some(found) => Finding::yes_no(true, format!("contains {found:?}")),
            None => {
                Finding::yes_no(false, format!("contains none of {}", quoted_list(&needles.iter().collect::<Vec<_>>())))
            }
        },
        Rule::Regex(regex) => {
            let in_json =
                || answer.json.as_ref().and_then(|j| serde_json::to_string(j).ok()).filter(|s| regex.is_match(s));
            match regex.find(text) {
                Some(m) => Finding::yes_no(true, format!("regex /{regex}/ matched {:?}", shorten(m.as_str(), 40))),
                None if in_json().is_some() => {
                    Finding::yes_no(true, format!("regex /{regex}/ matched the JSON output"))
                }
                None => Finding::yes_no(false, format!("regex /{regex}/ did not match")),
            }
        }
        Rule::IsJson { schema } => match (output_json(answer), schema) {
            (Err(e), _) => Finding::yes_no(false, format!("not JSON: {e}")),
            (Ok(_), None) => Finding::yes_no(true, "valid JSON".to_string()),
            (Ok(value), Some(schema)) => match schema::validate(schema, &value) {
                Ok(()) => Finding::yes_no(true, "valid JSON matching the schema".to_string()),
                Err(why) => Finding::yes_no(false, format!("JSON does not match the schema: {why}")),
            },
        },
        Rule::Cost { max_usd } => {
            let held = answer.cost_usd <= *max_usd;
            let op = if held { "<=" } else { ">" };
            Finding::yes_no(held, format!("cost {} {op} {}", usd(answer.cost_usd), usd(*max_usd)))
        }
        Rule::Latency { max_ms } => {
            let held = answer.latency_ms as f64 <= *max_ms;
            let op = if held { "<=" } else { ">" };
            Finding::yes_no(held, format!("latency {} ms {op} {max_ms} ms", answer.latency_ms))
        }
        Rule::LlmRubric { rubric } => {
            let verdict = judge(rubric, text).map_err(|e| format!("judge failed: {e}"))?;
            let score = if verdict.score.is_finite() { verdict.score.clamp(0.0, 1.0) } else { 0.0 };
            let said = if verdict.reason.is_empty() {
                if verdict.pass {
                    "judge: pass"
                } else {
                    "judge: fail"
                }
            } else {
                &verdict.reason
            };
            let said = shorten(said, 120);
            match assertion.threshold {
                Some(t) => {
                    let held = score + EPSILON >= t;
                    let op = if held { ">=" } else { "<" };
                    Finding { held, score, reason: format!("score {score:.2} {op} {t:.2}: {said}") }
                }
                None => Finding { held: verdict.pass, score, reason: said },
            }
        }
        Rule::ChecksPass { names } => checks_pass(names, &answer.checks),
        Rule::OwnersInclude { names } => {
            let missing: Vec<&String> =
                names.iter().filter(|n| !answer.owners.iter().any(|o| matching::same_person(n, o))).collect();
            let found = if answer.owners.is_empty() { "(none)".to_string() } else { answer.owners.join(", ") };
            match missing.as_slice() {
                [] => Finding::yes_no(true, format!("owners include {}", names.join(", "))),
                [one] => Finding::yes_no(false, format!("owner {one:?} not among: {found}")),
                many => Finding::yes_no(false, format!("owners {} not among: {found}", quoted_list(many))),
            }
        }
        Rule::Cites { pattern } => match answer.cited_paths.iter().find(|p| matching::cites(pattern, p)) {
            Some(path) => Finding::yes_no(true, format!("cites {path}")),
            None if answer.cited_paths.is_empty() => {
                Finding::yes_no(false, format!("no citation matches {pattern:?} (nothing cited)"))
            }
            None => Finding::yes_no(
                false,
                format!("no citation matches {pattern:?} (cited: {})", shorten(&answer.cited_paths.join(", "), 120)),
            ),
        },
    };
    Ok(finding)
}

/// The answer's JSON: the task's JSON output, or else the text parsed as JSON.
fn output_json(answer: &Answer) -> Result<Value, String> {
    match &answer.json {
        Some(json) => Ok(json.clone()),
        None => serde_json::from_str(answer.text.trim()).map_err(|e| e.to_string()),
    }
}

fn contains(text: &str, needle: &str, ignore_case: bool) -> bool {
    if ignore_case {
        text.to_lowercase().contains(&needle.to_lowercase())
    } else {
        text.contains(needle)
    }
}

/// `checks-pass`: every check that ran passed, or every named one ran and passed.
fn checks_pass(names: &[String], checks: &[CheckOutcome]) -> Finding {
    let failure = |c: &CheckOutcome| {
        if c.detail.is_empty() {
            format!("check {} failed", c.name)
        } else {
            format!("check {} failed: {}", c.name, shorten(&c.detail, 100))
        }
    };
    let problems: Vec<String> = if names.is_empty() {
        checks.iter().filter(|c| !c.passed).map(failure).collect()
    } else {
        names
            .iter()
            .filter_map(|name| match checks.iter().find(|c| c.name == *name) {
                None => Some(format!("check {name:?} did not run")),
                Some(c) if !c.passed => Some(failure(c)),
                Some(_) => None,
            })
            .collect()
    };
    if !problems.is_empty() {
        return Finding::yes_no(false, problems.join("; "));
    }
    let reason = match (names.is_empty(), checks.len()) {
        (true, 0) => "no checks ran".to_string(),
        (true, n) => format!("all {n} checks passed"),
        (false, _) => format!("checks {} passed", names.join(", ")),
    };
    Finding::yes_no(true, reason)
}

#[cfg(test)]
#[path = "grade_tests.rs"]
mod tests;

//! Assertions: promptfoo's `assert` entries, parsed and checked once at load time.
//!
//! Everything that can be wrong with an assertion (an unknown type, a value of the wrong
//! shape, a regex that does not compile, a cost check without its limit) is caught here, so a
//! suite either loads and grades every answer, or fails before the first paid request.

use regex::Regex;
use serde_yaml::Value;

use crate::{schema, yaml};

/// Every assertion type, as listed in "unknown type" messages. Any type but `cost`,
/// `latency` and `llm-rubric` also takes promptfoo's `not-` prefix.
pub const ASSERTION_TYPES: [&str; 17] = [
    "equals",
    "contains",
    "icontains",
    "contains-all",
    "icontains-all",
    "contains-any",
    "icontains-any",
    "not-contains",
    "not-icontains",
    "regex",
    "is-json",
    "cost",
    "latency",
    "llm-rubric",
    "checks-pass",
    "owners-include",
    "cites",
];

/// The types a `not-` prefix cannot turn around: a limit is already a "not more than", and a
/// judge's rubric says itself what must not happen.
const NOT_NEGATABLE: [&str; 3] = ["cost", "latency", "llm-rubric"];

/// The types that use `threshold`.
const THRESHOLD_TYPES: [&str; 3] = ["cost", "latency", "llm-rubric"];

/// One checked assertion.
#[derive(Clone, Debug)]
pub struct Assertion {
    /// The type as written (`not-contains-any`), for reports.
    pub kind: String,
    /// Whether the `not-` prefix turns the rule's result around.
    pub negate: bool,
    /// What is checked.
    pub rule: Rule,
    /// `threshold` as written: the limit of `cost`/`latency`, the minimum score of `llm-rubric`.
    pub threshold: Option<f64>,
    /// The weight in the test's weighted score (default 1).
    pub weight: f64,
}

/// What an assertion checks, with its value already in the shape the check needs.
#[derive(Clone, Debug)]
pub enum Rule {
    /// `equals`: the trimmed text, or JSON equality for a list or mapping value.
    Equals(Expected),
    /// `contains`, `icontains`.
    Contains {
        /// The text to find.
        needle: String,
        /// `icontains`.
        ignore_case: bool,
    },
    /// `contains-all`, `icontains-all`.
    ContainsAll {
        /// Every one must be found.
        needles: Vec<String>,
        /// `icontains-all`.
        ignore_case: bool,
    },
    /// `contains-any`, `icontains-any`.
    ContainsAny {
        /// At least one must be found.
        needles: Vec<String>,
        /// `icontains-any`.
        ignore_case: bool,
    },
    /// `regex`, compiled at load.
    Regex(Regex),
    /// `is-json`, with an optional JSON schema (a practical subset, checked at load).
    IsJson {
        /// The schema, when given as the value.
        schema: Option<serde_json::Value>,
    },
    /// `cost`: the answer cost at most this many USD.
    Cost {
        /// The limit in USD.
        max_usd: f64,
    },
    /// `latency`: the answer took at most this many milliseconds.
    Latency {
        /// The limit in milliseconds.
        max_ms: f64,
    },
    /// `llm-rubric`: a judge model grades the answer against this text.
    LlmRubric {
        /// The rubric.
        rubric: String,
    },
    /// `checks-pass`: the task's own quality checks passed (all of them, or the named ones).
    ChecksPass {
        /// Checks that must pass; empty means every check that ran.
        names: Vec<String>,
    },
    /// `owners-include`: each name is among the summary's action-item owners.
    OwnersInclude {
        /// The expected owners.
        names: Vec<String>,
    },
    /// `cites`: an `ask` answer cites a path matching this (substring, or a glob with `*`/`?`).
    Cites {
        /// The pattern.
        pattern: String,
    },
}

/// The value of an `equals` assertion.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// Compared with the trimmed answer text.
    Text(String),
    /// Compared with the answer's JSON output.
    Json(serde_json::Value),
}

/// Parses one `assert` entry. Errors are `(subfield, message)`: the subfield is empty for the
/// entry itself (an unknown type, as promptfoo's messages do), else `value`, `threshold`…
pub(crate) fn parse(entry: &Value) -> Result<Assertion, (&'static str, String)> {
    let fields = yaml::fields(entry, &["type", "value", "threshold", "weight"]).map_err(|m| ("", m))?;
    let Some(written) = fields.get("type") else {
        return Err(("", format!("missing type (known: {})", ASSERTION_TYPES.join(", "))));
    };
    let kind = yaml::text(written).map_err(|m| ("type", m))?;
    let (negate, base) = match kind.strip_prefix("not-") {
        Some(base) => (true, base),
        None => (false, kind.as_str()),
    };
    let unknown = || format!("unknown assertion type {kind:?} (known: {})", ASSERTION_TYPES.join(", "));
    if !ASSERTION_TYPES.contains(&base) || base.starts_with("not-") {
        return Err(("", unknown()));
    }
    if negate && NOT_NEGATABLE.contains(&base) {
        return Err(("", format!("{base} cannot take the not- prefix")));
    }
    let threshold = fields.get("threshold").map(yaml::number).transpose().map_err(|m| ("threshold", m))?;
    if threshold.is_some() && !THRESHOLD_TYPES.contains(&base) {
        return Err(("threshold", format!("{base} does not use a threshold (only cost, latency and llm-rubric do)")));
    }
    let weight = fields.get("weight").map(yaml::number).transpose().map_err(|m| ("weight", m))?.unwrap_or(1.0);
    if weight < 0.0 {
        return Err(("weight", format!("must not be negative, got {weight}")));
    }
    let rule = rule(base, fields.get("value"), threshold)?;
    Ok(Assertion { kind, negate, rule, threshold, weight })
}

/// The rule of a known base type, from its value and threshold.
fn rule(base: &str, value: Option<&Value>, threshold: Option<f64>) -> Result<Rule, (&'static str, String)> {
    let v = |m: String| ("value", m);
    let required = || value.ok_or_else(|| v(format!("{base} needs a value")));
    let ignore_case = base.starts_with('i');
    let rule = match base {
        "equals" => match required()? {
            json @ (Value::Sequence(_) | Value::Mapping(_)) => {
                Rule::Equals(Expected::Json(yaml::to_json(json).map_err(v)?))
            }
            scalar => Rule::Equals(Expected::Text(yaml::text(scalar).map_err(v)?)),
        },
        "contains" | "icontains" => {
            let needle = yaml::non_empty_text(required()?).map_err(|m| {
                v(if m.contains("a list") { format!("{m} (use {base}-any or {base}-all for several)") } else { m })
            })?;
            Rule::Contains { needle, ignore_case }
        }
        "contains-all" | "icontains-all" => {
            Rule::ContainsAll { needles: text_list(required()?).map_err(v)?, ignore_case }
        }
        "contains-any" | "icontains-any" => {
            Rule::ContainsAny { needles: text_list(required()?).map_err(v)?, ignore_case }
        }
        "regex" => {
            let pattern = yaml::non_empty_text(required()?).map_err(v)?;
            Rule::Regex(
                Regex::new(&pattern).map_err(|e| v(format!("invalid regex /{pattern}/: {}", regex_reason(&e))))?,
            )
        }
        "is-json" => match value {
            None => Rule::IsJson { schema: None },
            Some(schema) => {
                let schema = yaml::to_json(schema).map_err(v)?;
                schema::check_schema(&schema).map_err(|m| v(format!("schema: {m}")))?;
                Rule::IsJson { schema: Some(schema) }
            }
        },
        "cost" | "latency" => {
            if value.is_some() {
                return Err(v(format!("{base} takes its limit as threshold, not value")));
            }
            let limit = threshold.ok_or_else(|| {
                let unit = if base == "cost" { "USD" } else { "milliseconds" };
                ("threshold", format!("{base} needs a threshold (the most {unit} allowed)"))
            })?;
            if limit < 0.0 {
                return Err(("threshold", format!("must not be negative, got {limit}")));
            }
            if base == "cost" {
                Rule::Cost { max_usd: limit }
            } else {
                Rule::Latency { max_ms: limit }
            }
        }
        "llm-rubric" => {
            if let Some(t) = threshold.filter(|t| !(0.0..=1.0).contains(t)) {
                return Err(("threshold", format!("a judge's score is 0 to 1, so the threshold must be too, got {t}")));
            }
            Rule::LlmRubric { rubric: yaml::non_empty_text(required()?).map_err(v)? }
        }
        "checks-pass" => Rule::ChecksPass { names: value.map(one_or_many).transpose().map_err(v)?.unwrap_or_default() },
        "owners-include" => Rule::OwnersInclude { names: one_or_many(required()?).map_err(v)? },
        _ => Rule::Cites { pattern: yaml::non_empty_text(required()?).map_err(v)? },
    };
    Ok(rule)
}

/// A non-empty list of texts (`contains-all` and `contains-any`).
fn text_list(value: &Value) -> Result<Vec<String>, String> {
    let Value::Sequence(items) = value else {
        return Err(format!("must be a list, not {}", yaml::kind(value)));
    };
    if items.is_empty() {
        return Err("must list at least one item".to_string());
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| yaml::non_empty_text(item).map_err(|m| format!("item {}: {m}", i + 1)))
        .collect()
}

/// One text or a non-empty list of them (`owners-include: Tom` or `[Tom, Ana]`).
fn one_or_many(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Sequence(_) => text_list(value),
        scalar => Ok(vec![yaml::non_empty_text(scalar).map_err(|m| format!("{m} (or a list)"))?]),
    }
}

/// The one informative line of the regex crate's multi-line error.
fn regex_reason(error: &regex::Error) -> String {
    let full = error.to_string();
    full.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| full.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
#[path = "assertion_tests.rs"]
mod tests;

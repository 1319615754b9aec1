//! A suite file: promptfoo's format, read the way Frugal needs it.
//!
//! Top-level keys: `description`, `providers` (the routes to compare), `defaultTest` (vars and
//! assertions shared by every test), `tests`, and `prompts`, which promptfoo requires and
//! Frugal ignores because it runs its own tasks. Anything else is an error: a misspelt key
//! silently ignored would make a suite check less than its author thinks.

use std::path::Path;

use serde_yaml::Value;

use crate::assertion::{self, Assertion};
use crate::format::test_label;
use crate::task::{self, Task, Var};
use crate::yaml::{self, Site};
use crate::{EvalError, Route};

/// A loaded, validated suite.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The file as the user named it, for messages.
    pub file: String,
    /// `description`.
    pub description: Option<String>,
    /// The routes to compare (`providers`); `[auto]` when none are given. The runner may
    /// replace them (`--routes`).
    pub routes: Vec<Route>,
    /// The tests, `defaultTest` already merged in.
    pub tests: Vec<TestCase>,
}

/// One test: a task and what its answer must satisfy.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// 1-based position in the file, as in messages and reports.
    pub index: usize,
    /// `description`.
    pub description: Option<String>,
    /// What to run.
    pub task: Task,
    /// The test's assertions, then `defaultTest`'s.
    pub asserts: Vec<Assertion>,
    /// promptfoo's test threshold: when set, the test passes when its weighted score reaches
    /// it, instead of when every assertion passes.
    pub threshold: Option<f64>,
}

impl TestCase {
    /// `test 3 ("standup owners")`, or `test 3` without a description.
    pub fn label(&self) -> String {
        test_label(self.index, self.description.as_deref())
    }
}

/// `defaultTest`, parsed once and merged into every test.
#[derive(Default)]
struct Defaults<'a> {
    vars: Vec<(&'a str, &'a Value)>,
    asserts: Vec<Assertion>,
    threshold: Option<f64>,
}

impl Suite {
    /// Reads and validates a suite; relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Suite, EvalError> {
        let text =
            std::fs::read_to_string(path).map_err(|error| EvalError::Read { path: path.to_path_buf(), error })?;
        let base_dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Suite::parse(&text, base_dir, &path.display().to_string())
    }

    /// Validates a suite's text. `base_dir` resolves `vars.file` and `vars.reply_to`;
    /// `file_label` names the suite in messages.
    pub fn parse(text: &str, base_dir: &Path, file_label: &str) -> Result<Suite, EvalError> {
        let top = Site { file: file_label, scope: None };
        let mut root: Value = serde_yaml::from_str(text).map_err(|e| syntax(file_label, &e, text))?;
        root.apply_merge().map_err(|e| syntax(file_label, &e, text))?;
        if root.is_null() {
            return Err(top.err("", "the file is empty; a suite needs a list of tests"));
        }
        let fields = yaml::fields(&root, &["description", "providers", "prompts", "defaultTest", "tests"]).map_err(
            |m| match m.strip_prefix("unknown key") {
                Some(rest) => top.err("", format!("unknown top-level key{rest}")),
                None => top.err("", format!("the top level {m}")),
            },
        )?;
        let description =
            fields.get("description").map(yaml::text).transpose().map_err(|m| top.err("description", m))?;
        let routes = match fields.get("providers") {
            None => vec![Route::Auto],
            Some(providers) => parse_routes(providers, &top)?,
        };
        let defaults = match fields.get("defaultTest") {
            None => Defaults::default(),
            Some(value) => parse_defaults(value, &Site { file: file_label, scope: Some("defaultTest".into()) })?,
        };
        let tests = match fields.get("tests") {
            None => return Err(top.err("", "no tests; add a tests list")),
            Some(Value::Sequence(items)) if items.is_empty() => {
                return Err(top.err("tests", "a suite needs at least one test"));
            }
            Some(Value::Sequence(items)) => items,
            Some(other) => {
                let hint = if other.is_string() { " (loading tests from another file is not supported)" } else { "" };
                return Err(top.err("tests", format!("must be a list of tests, not {}{hint}", yaml::kind(other))));
            }
        };
        let tests = tests
            .iter()
            .enumerate()
            .map(|(i, test)| parse_test(test, i + 1, &defaults, base_dir, file_label))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Suite { file: file_label.to_string(), description, routes, tests })
    }
}

/// A YAML error as one line with its position; the parser's own ` at line N column M` is
/// dropped so the position is said once. Tabs get a hint: YAML forbids them in indentation,
/// and the parser's "cannot start any token" does not say so.
fn syntax(file: &str, error: &serde_yaml::Error, text: &str) -> EvalError {
    let location = error.location();
    let full = error.to_string();
    let mut message = match regex::Regex::new(r" at line \d+ column \d+") {
        Ok(position) => position.replace_all(&full, "").into_owned(),
        Err(_) => full,
    };
    let line = location.as_ref().and_then(|l| text.lines().nth(l.line().saturating_sub(1)));
    if line.is_some_and(|l| l.trim_start_matches(' ').starts_with('\t')) {
        message.push_str(" (YAML is indented with spaces, not tabs)");
    }
    EvalError::Syntax {
        file: file.to_string(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        message: message.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// `providers`: one route, or a list of routes or promptfoo provider objects (`id`, `label`).
fn parse_routes(value: &Value, top: &Site<'_>) -> Result<Vec<Route>, EvalError> {
    let items: Vec<&Value> = match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::String(_) => vec![value],
        other => return Err(top.err("providers", format!("must be a list of routes, not {}", yaml::kind(other)))),
    };
    let mut routes: Vec<Route> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("providers[{}]", i + 1);
        let written = match item {
            Value::Mapping(_) => {
                let fields = yaml::fields(item, &["id", "label"]).map_err(|m| top.err(&at, m))?;
                let id = fields.get("id").ok_or_else(|| top.err(&at, "missing id (the route)"))?;
                yaml::text(id).map_err(|m| top.err(&format!("{at}.id"), m))?
            }
            other => yaml::text(other).map_err(|m| top.err(&at, m))?,
        };
        let route = Route::parse(&written).map_err(|e| match e {
            EvalError::Route { reason, .. } => top.err(&at, format!("route {written:?}: {reason}")),
            other => other,
        })?;
        if routes.contains(&route) {
            return Err(top.err(&at, format!("{route} is listed twice")));
        }
        routes.push(route);
    }
    if routes.is_empty() {
        routes.push(Route::Auto);
    }
    Ok(routes)
}

/// `defaultTest`: vars, assertions and a threshold shared by every test.
fn parse_defaults<'a>(value: &'a Value, site: &Site<'_>) -> Result<Defaults<'a>, EvalError> {
    let fields = yaml::fields(value, &["vars", "assert", "threshold"]).map_err(|m| site.err("", m))?;
    Ok(Defaults {
        vars: fields.get("vars").map(|v| vars(v, site)).transpose()?.unwrap_or_default(),
        asserts: fields.get("assert").map(|v| asserts(v, site)).transpose()?.unwrap_or_default(),
        threshold: fields.get("threshold").map(|v| threshold(v, site)).transpose()?,
    })
}

fn parse_test(
    value: &Value,
    index: usize,
    defaults: &Defaults<'_>,
    base_dir: &Path,
    file: &str,
) -> Result<TestCase, EvalError> {
    // The scope is named before the keys are checked, so even an unknown-key error names the
    // test by its description; a description that is not text is reported below.
    let peeked = value.get("description").and_then(|d| yaml::text(d).ok());
    let mut site = Site { file, scope: Some(test_label(index, peeked.as_deref())) };
    let fields = yaml::fields(value, &["description", "vars", "assert", "threshold"]).map_err(|m| site.err("", m))?;
    let description = fields.get("description").map(yaml::text).transpose().map_err(|m| site.err("description", m))?;
    site.scope = Some(test_label(index, description.as_deref()));

    let own = fields.get("vars").map(|v| vars(v, &site)).transpose()?.unwrap_or_default();
    let mut merged: Vec<Var<'_>> =
        defaults.vars.iter().map(|&(name, value)| Var { name, value, from_default: true }).collect();
    for (name, value) in own {
        match merged.iter_mut().find(|v| v.name == name) {
            Some(var) => *var = Var { name, value, from_default: false },
            None => merged.push(Var { name, value, from_default: false }),
        }
    }
    let task = task::from_vars(&merged, base_dir).map_err(|(field, m)| site.err(&field, m))?;

    let mut all = fields.get("assert").map(|v| asserts(v, &site)).transpose()?.unwrap_or_default();
    all.extend(defaults.asserts.iter().cloned());
    let threshold = fields.get("threshold").map(|v| threshold(v, &site)).transpose()?.or(defaults.threshold);
    Ok(TestCase { index, description, task, asserts: all, threshold })
}

/// `vars` as (name, value) pairs; names are checked against the task later.
fn vars<'a>(value: &'a Value, site: &Site<'_>) -> Result<Vec<(&'a str, &'a Value)>, EvalError> {
    let Value::Mapping(map) = value else {
        return Err(site.err("vars", format!("must be a mapping of names to values, not {}", yaml::kind(value))));
    };
    let mut pairs = Vec::with_capacity(map.len());
    for (key, val) in map {
        let Value::String(name) = key else {
            return Err(site.err("vars", format!("var names must be text, found {}", yaml::kind(key))));
        };
        if !val.is_null() {
            pairs.push((name.as_str(), val));
        }
    }
    Ok(pairs)
}

/// `assert`: a list of assertions, each checked.
fn asserts(value: &Value, site: &Site<'_>) -> Result<Vec<Assertion>, EvalError> {
    let Value::Sequence(items) = value else {
        return Err(site.err("assert", format!("must be a list of assertions, not {}", yaml::kind(value))));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            assertion::parse(item).map_err(|(field, m)| {
                let at =
                    if field.is_empty() { format!("assert[{}]", i + 1) } else { format!("assert[{}].{field}", i + 1) };
                site.err(&at, m)
            })
        })
        .collect()
}

/// A test's `threshold`: a weighted score, so between 0 and 1.
fn threshold(value: &Value, site: &Site<'_>) -> Result<f64, EvalError> {
    let t = yaml::number(value).map_err(|m| site.err("threshold", m))?;
    if !(0.0..=1.0).contains(&t) {
        return Err(site.err("threshold", format!("a weighted score is 0 to 1, so the threshold must be too, got {t}")));
    }
    Ok(t)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;

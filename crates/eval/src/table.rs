//! The report as terminal text and as CSV.
//!
//! The table answers in reading order: how each route did, which tests failed and why, then
//! whether the gate can be trusted. CSV has one row per test and route for spreadsheets.

use std::fmt::Write as _;

use crate::format::{percent, test_label, usd};
use crate::Report;

/// The CSV columns.
const CSV_HEADER: [&str; 12] = [
    "test",
    "description",
    "task",
    "route",
    "model",
    "passed",
    "score",
    "cost_usd",
    "latency_ms",
    "tokens",
    "checks_passed",
    "reasons",
];

impl Report {
    /// Plain aligned text for a terminal.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        if let Some(description) = &self.description {
            let _ = writeln!(out, "{description}\n");
        }
        let mut rows = vec![row(&[
            "route",
            "tests",
            "passed",
            "pass rate",
            "cost",
            "$/passed",
            "p50 ms",
            "p95 ms",
            "tokens",
            "errors",
            "not graded",
        ])];
        for r in &self.routes {
            let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            rows.push(vec![
                r.route.clone(),
                r.tests.to_string(),
                r.passed.to_string(),
                percent(r.pass_rate),
                usd(r.cost_usd),
                r.cost_per_passed.map_or("-".to_string(), usd),
                ms(r.p50_latency_ms),
                ms(r.p95_latency_ms),
                r.tokens.to_string(),
                r.errors.to_string(),
                r.not_graded.to_string(),
            ]);
        }
        out.push_str(&align(&rows, 1));
        if self.judge_cost_usd > 0.0 {
            let _ = writeln!(out, "judge: {}", usd(self.judge_cost_usd));
        }

        let failed: Vec<String> = self
            .tests
            .iter()
            .flat_map(|t| {
                let label = test_label(t.test_index, t.description.as_deref());
                t.runs
                    .iter()
                    .filter(|r| !r.passed)
                    .map(move |r| format!("  {label} on {} ({}): {}", r.route, r.model, r.reasons()))
            })
            .collect();
        if failed.is_empty() {
            out.push_str("\nFailed tests: none\n");
        } else {
            out.push_str("\nFailed tests\n");
            for line in failed {
                let _ = writeln!(out, "{line}");
            }
        }

        if self.gate.tasks.is_empty() {
            out.push_str("\nGate: no graded results with checks\n");
            return out;
        }
        out.push_str("\nGate: the tasks' checks against the tests\n");
        let mut rows = vec![row(&[
            "task",
            "shown",
            "true accept",
            "false accept",
            "false-accept rate",
            "true reject",
            "false escalation",
        ])];
        for t in &self.gate.tasks {
            rows.push(vec![
                t.task.clone(),
                t.shown().to_string(),
                t.true_accept.to_string(),
                t.false_accept.to_string(),
                t.false_accept_rate.map_or("-".to_string(), percent),
                t.true_reject.to_string(),
                t.false_escalation.to_string(),
            ]);
        }
        out.push_str(&align(&rows, 1));
        if !self.gate.checks.is_empty() {
            out.push('\n');
            let mut rows =
                vec![row(&["check", "task", "passed", "failed", "passed, test failed", "failed, test passed"])];
            for c in &self.gate.checks {
                rows.push(vec![
                    c.check.clone(),
                    c.task.clone(),
                    c.passed.to_string(),
                    c.failed.to_string(),
                    c.passed_but_test_failed.to_string(),
                    c.failed_but_test_passed.to_string(),
                ]);
            }
            out.push_str(&align(&rows, 2));
        }
        out
    }

    /// One row per test and route, RFC 4180 quoting.
    pub fn to_csv(&self) -> String {
        let mut out = CSV_HEADER.join(",");
        out.push('\n');
        for t in &self.tests {
            for r in &t.runs {
                let fields = [
                    t.test_index.to_string(),
                    t.description.clone().unwrap_or_default(),
                    t.task.clone(),
                    r.route.clone(),
                    r.model.clone(),
                    r.passed.to_string(),
                    r.score.map(|s| s.to_string()).unwrap_or_default(),
                    format!("{:.6}", r.cost_usd),
                    r.latency_ms.to_string(),
                    r.tokens.to_string(),
                    r.checks_passed.map(|c| c.to_string()).unwrap_or_default(),
                    r.reasons(),
                ];
                out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
                out.push('\n');
            }
        }
        out
    }
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// Columns padded to their widest cell; the first `left` columns are left-aligned (names),
/// the rest right-aligned (numbers).
fn align(rows: &[Vec<String>], left: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(
                |(c, cell)| {
                    if c < left {
                        format!("{cell:<w$}", w = widths[c])
                    } else {
                        format!("{cell:>w$}", w = widths[c])
                    }
                },
            )
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Quotes a field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{result, sample, Spec};

    #[test]
    fn table_has_routes_failures_and_the_gate() {
        let table = Report::new(&sample(), Some("Standups"), 0.0042).to_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "Standups");
        assert_eq!(
            lines[2],
            "route    tests  passed  pass rate    cost  $/passed  p50 ms  p95 ms  tokens  errors  not graded"
        );
        assert_eq!(
            lines[3],
            "local        5       2      40.0%  $0.001   $0.0005     200     900     100       1           1"
        );
        assert_eq!(
            lines[5],
            "economy      5       0       0.0%   $0.01         -     400     400       0       0           0"
        );
        assert!(table.contains("judge: $0.0042\n"));
        assert!(table.contains("\nFailed tests\n  test 1 on economy (economy-model): icontains: missing \"tom\"\n"));
        assert!(table.contains("\n  test 2 on local (local-model): contains: r\n"), "{table}");
        assert!(table.contains("  test 5 on local (local-model): error: model crashed\n"));
        assert!(table.contains(
            "task       shown  true accept  false accept  false-accept rate  true reject  false escalation\n"
        ));
        assert!(
            table.contains(
                "summarize     13            7             6              46.2%            0                 0\n"
            ),
            "{table}"
        );
        assert!(
            table.contains("\ngrounded  summarize       3       0                    1                    0\n"),
            "{table}"
        );
    }

    #[test]
    fn table_says_when_nothing_failed_and_no_gate() {
        let results = [result(Spec { passed: true, error: None, ..Spec::default() })];
        let mut report = Report::new(&results, None, 0.0);
        report.gate.tasks.clear();
        let table = report.to_table();
        assert!(table.starts_with("route "));
        assert!(table.contains("\nFailed tests: none\n") && table.contains("\nGate: no graded results with checks\n"));
        assert!(!table.contains("judge:"));
    }

    #[test]
    fn csv_rows_are_quoted() {
        let graded: &[(&str, Option<bool>, &str)] = &[("contains", Some(false), "missing \"a, b\"")];
        let results = [
            result(Spec {
                description: Some("multi\nline, \"quoted\""),
                graded,
                cost: 0.0123,
                latency: 5,
                tokens: 9,
                ..Spec::default()
            }),
            result(Spec { index: 2, error: Some("budget refused"), ..Spec::default() }),
        ];
        let csv = Report::new(&results, None, 0.0).to_csv();
        let expected = "test,description,task,route,model,passed,score,cost_usd,latency_ms,tokens,checks_passed,\
reasons\n1,\"multi\nline, \"\"quoted\"\"\",summarize,local,local-model,false,0,0.012300,5,9,true,\
\"contains: missing \"\"a, b\"\"\"\n\
2,,summarize,local,local-model,false,,0.000000,0,0,,error: budget refused\n";
        assert_eq!(csv, expected);
    }

    #[test]
    fn csv_field_quotes_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("a\r\nb"), "\"a\r\nb\"");
    }
}

//! Report tests, and the hand-built results the other report modules test with.

use super::*;
use crate::{CheckOutcome, TestGrade};

/// A result described by what matters to reports.
#[derive(Clone, Copy)]
pub(crate) struct Spec {
    pub index: usize,
    pub description: Option<&'static str>,
    pub task: &'static str,
    pub route: &'static str,
    pub passed: bool,
    pub error: Option<&'static str>,
    pub not_graded: bool,
    pub checks: &'static [(&'static str, bool)],
    /// Assertions as (kind, passed, reason); one passing `contains` when empty.
    pub graded: &'static [(&'static str, Option<bool>, &'static str)],
    pub cost: f64,
    pub latency: u64,
    pub tokens: u64,
    pub cached: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            index: 1,
            description: None,
            task: "summarize",
            route: "local",
            passed: false,
            error: None,
            not_graded: false,
            checks: &[],
            graded: &[],
            cost: 0.0,
            latency: 0,
            tokens: 0,
            cached: false,
        }
    }
}

pub(crate) fn result(s: Spec) -> TestResult {
    let outcome = match s.error {
        Some(e) => Outcome::Error(e.to_string()),
        None => {
            let mut graded: Vec<Graded> = s
                .graded
                .iter()
                .map(|(kind, passed, reason)| Graded {
                    kind: kind.to_string(),
                    passed: *passed,
                    score: f64::from(u8::from(*passed == Some(true))),
                    reason: reason.to_string(),
                    weight: 1.0,
                })
                .collect();
            if graded.is_empty() {
                let passed = Some(s.passed).filter(|_| !s.not_graded);
                graded.push(Graded { kind: "contains".into(), passed, score: 0.0, reason: "r".into(), weight: 1.0 });
            }
            let passed = s.passed && !s.not_graded;
            Outcome::Graded(TestGrade {
                passed,
                score: f64::from(u8::from(passed)),
                graded,
                not_graded: usize::from(s.not_graded),
            })
        }
    };
    TestResult {
        test_index: s.index,
        description: s.description.map(str::to_string),
        task: s.task.to_string(),
        route: s.route.to_string(),
        model: format!("{}-model", s.route),
        outcome,
        cost_usd: s.cost,
        latency_ms: s.latency,
        tokens: s.tokens,
        checks_passed: s.error.is_none().then(|| s.checks.iter().all(|(_, p)| *p)),
        checks: s
            .checks
            .iter()
            .map(|(name, passed)| CheckOutcome { name: name.to_string(), passed: *passed, detail: String::new() })
            .collect(),
        cached: s.cached,
    }
}

/// Five tests on three routes:
/// local passes 1 and 3, fails 2, cannot grade 4, errors on 5 (having spent $0.001);
/// premium passes all five for $0.06; economy fails all.
pub(crate) fn sample() -> Vec<TestResult> {
    let mut out = Vec::new();
    let local = [(true, 100, 10), (false, 300, 20), (true, 200, 30)];
    for (i, (passed, latency, tokens)) in local.into_iter().enumerate() {
        out.push(result(Spec {
            index: i + 1,
            passed,
            latency,
            tokens,
            checks: &[("grounded", true)],
            ..Spec::default()
        }));
    }
    out.push(result(Spec { index: 4, not_graded: true, latency: 900, tokens: 40, ..Spec::default() }));
    out.push(result(Spec { index: 5, error: Some("model crashed"), cost: 0.001, ..Spec::default() }));
    let premium = [(0.01, 1500), (0.02, 1200), (0.01, 1100), (0.01, 1300), (0.01, 5000)];
    for (i, (cost, latency)) in premium.into_iter().enumerate() {
        let cached = i == 0;
        out.push(result(Spec {
            index: i + 1,
            route: "premium",
            passed: true,
            cost,
            latency,
            tokens: 100,
            cached,
            ..Spec::default()
        }));
    }
    for i in 1..=5 {
        let graded: &[(&str, Option<bool>, &str)] =
            &[("icontains", Some(false), "missing \"tom\""), ("cost", Some(true), "ok")];
        out.push(result(Spec { index: i, route: "economy", cost: 0.002, latency: 400, graded, ..Spec::default() }));
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn route_figures_on_a_hand_built_set() {
    let report = Report::new(&sample(), Some("demo"), 0.0042);
    assert_eq!(report.description.as_deref(), Some("demo"));
    assert_eq!(report.judge_cost_usd, 0.0042);
    let names: Vec<&str> = report.routes.iter().map(|r| r.route.as_str()).collect();
    assert_eq!(names, ["local", "premium", "economy"]);

    let local = &report.routes[0];
    assert_eq!((local.tests, local.passed, local.errors, local.not_graded, local.tokens), (5, 2, 1, 1, 100));
    assert!(close(local.pass_rate, 0.4));
    assert!(close(local.cost_usd, 0.001));
    assert!(local.cost_per_passed.is_some_and(|c| close(c, 0.0005)));
    assert_eq!((local.p50_latency_ms, local.p95_latency_ms), (Some(200), Some(900)), "the error's 0 ms is left out");

    let premium = &report.routes[1];
    assert_eq!((premium.tests, premium.passed, premium.cached), (5, 5, 1));
    assert!(close(premium.pass_rate, 1.0));
    assert!(premium.cost_per_passed.is_some_and(|c| close(c, 0.012)));
    assert_eq!((premium.p50_latency_ms, premium.p95_latency_ms), (Some(1300), Some(5000)));

    let economy = &report.routes[2];
    assert_eq!((economy.passed, economy.cost_per_passed), (0, None));
    assert!(close(economy.cost_usd, 0.01));
}

#[test]
fn test_rows_hold_each_route_with_reasons() {
    let report = Report::new(&sample(), None, 0.0);
    assert_eq!(report.tests.len(), 5);
    let row = &report.tests[4];
    assert_eq!((row.test_index, row.task.as_str()), (5, "summarize"));
    let routes: Vec<&str> = row.runs.iter().map(|r| r.route.as_str()).collect();
    assert_eq!(routes, ["local", "premium", "economy"]);
    assert_eq!(row.runs[0].reasons(), "error: model crashed");
    assert_eq!((row.runs[0].score, row.runs[0].model.as_str()), (None, "local-model"));
    assert_eq!(row.runs[1].reasons(), "");
    assert_eq!(row.runs[2].reasons(), "icontains: missing \"tom\"");
}

#[test]
fn the_gate_is_part_of_the_report() {
    let report = Report::new(&sample(), None, 0.0);
    let task = &report.gate.tasks[0];
    // local 1–3 ran the grounded check (passing); premium and economy ran none (all pass).
    assert_eq!((task.true_accept, task.false_accept, task.true_reject, task.false_escalation), (7, 6, 0, 0));
    assert_eq!(report.gate.checks.len(), 1);
    assert_eq!(report.gate.checks[0].passed_but_test_failed, 1);
}

#[test]
fn nearest_rank_percentiles() {
    let values: Vec<u64> = (1..=20).collect();
    assert_eq!(nearest_rank(&values, 50.0), Some(10));
    assert_eq!(nearest_rank(&values, 95.0), Some(19));
    assert_eq!(nearest_rank(&values, 100.0), Some(20));
    assert_eq!(nearest_rank(&[7], 95.0), Some(7));
    assert_eq!(nearest_rank(&[7, 9], 0.0), Some(7));
    assert_eq!(nearest_rank(&[], 50.0), None);
}

#[test]
fn serializes_for_json_output() {
    let json = serde_json::to_value(Report::new(&sample(), None, 0.0)).unwrap();
    assert_eq!(json["routes"][0]["route"], "local");
    assert_eq!(json["routes"][2]["cost_per_passed"], serde_json::Value::Null);
    assert_eq!(json["tests"][0]["runs"][0]["graded"][0]["kind"], "contains");
}

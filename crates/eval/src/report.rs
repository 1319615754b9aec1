//! A suite run's numbers: per route, per test, and the gate.
//!
//! The headline figure is *cost per passed test*: a route that is cheap per call but fails
//! half the tests is not cheap. Latency is reported as nearest-rank p50/p95 over answers that
//! were produced (an error's zero latency would flatter a route). Money spent on a task that
//! then failed still counts in the route's cost. The judge's cost is reported apart, because
//! it is the price of the exam, not of the route.
//!
//! Printing lives next door: [`Report::to_table`] and [`Report::to_csv`] in `table.rs`,
//! [`Report::to_html`] in `html.rs`; `--json` is `serde_json` over the `Serialize` derive.

use serde::Serialize;

use crate::{Gate, Graded, Outcome, TestResult};

/// Everything a suite run's report shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The suite's description.
    pub description: Option<String>,
    /// What the `llm-rubric` judge cost, all tests together, USD.
    pub judge_cost_usd: f64,
    /// Per route, in order of first appearance.
    pub routes: Vec<RouteSummary>,
    /// Per test, by index.
    pub tests: Vec<TestRow>,
    /// The gate's confusion matrix.
    pub gate: Gate,
}

/// One route's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteSummary {
    /// The route as written.
    pub route: String,
    /// Tests run (errors included).
    pub tests: usize,
    /// Tests passed.
    pub passed: usize,
    /// `passed / tests`.
    pub pass_rate: f64,
    /// All the route's tasks together, USD.
    pub cost_usd: f64,
    /// `cost_usd / passed`; `None` when nothing passed.
    pub cost_per_passed: Option<f64>,
    /// Median latency of the answers produced, ms (nearest rank).
    pub p50_latency_ms: Option<u64>,
    /// 95th percentile latency of the answers produced, ms (nearest rank).
    pub p95_latency_ms: Option<u64>,
    /// Tokens, all tasks together.
    pub tokens: u64,
    /// Tasks that failed without an answer.
    pub errors: usize,
    /// Tests with an assertion that could not be graded.
    pub not_graded: usize,
    /// Results that came from the runner's cache.
    pub cached: usize,
}

/// One test across the routes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestRow {
    /// 1-based test index.
    pub test_index: usize,
    /// The test's description.
    pub description: Option<String>,
    /// The task's name.
    pub task: String,
    /// One entry per route that ran it, in route order.
    pub runs: Vec<RouteRun>,
}

/// One test on one route.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteRun {
    /// The route as written.
    pub route: String,
    /// The model that answered.
    pub model: String,
    /// Whether the test passed.
    pub passed: bool,
    /// The weighted score; `None` when the task failed.
    pub score: Option<f64>,
    /// The task's error, when it failed.
    pub error: Option<String>,
    /// Each assertion's grade and reason.
    pub graded: Vec<Graded>,
    /// USD.
    pub cost_usd: f64,
    /// Milliseconds.
    pub latency_ms: u64,
    /// Tokens.
    pub tokens: u64,
    /// Whether the task's own checks all passed.
    pub checks_passed: Option<bool>,
}

impl RouteRun {
    /// Why it did not pass, in one line: the error, or each assertion not passed
    /// (`contains: missing "Friday"; cost: cost $0.02 > $0.01`). Empty when everything
    /// passed.
    pub fn reasons(&self) -> String {
        if let Some(error) = &self.error {
            return format!("error: {error}");
        }
        let failed = self.graded.iter().filter(|g| g.passed != Some(true));
        failed.map(|g| format!("{}: {}", g.kind, g.reason)).collect::<Vec<_>>().join("; ")
    }
}

impl Report {
    /// Builds the report from the runner's results.
    pub fn new(results: &[TestResult], description: Option<&str>, judge_cost_usd: f64) -> Report {
        let mut route_names: Vec<&str> = Vec::new();
        for r in results {
            if !route_names.contains(&r.route.as_str()) {
                route_names.push(&r.route);
            }
        }
        let routes = route_names.iter().map(|route| summarize(route, results)).collect();

        let mut indexes: Vec<usize> = results.iter().map(|r| r.test_index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        let tests = indexes
            .into_iter()
            .filter_map(|index| {
                let mut of_test: Vec<&TestResult> = results.iter().filter(|r| r.test_index == index).collect();
                of_test.sort_by_key(|r| route_names.iter().position(|name| *name == r.route));
                let first = of_test.first()?;
                Some(TestRow {
                    test_index: index,
                    description: first.description.clone(),
                    task: first.task.clone(),
                    runs: of_test.into_iter().map(run).collect(),
                })
            })
            .collect();
        Report {
            description: description.map(str::to_string),
            judge_cost_usd,
            routes,
            tests,
            gate: Gate::from_results(results),
        }
    }
}

fn summarize(route: &str, results: &[TestResult]) -> RouteSummary {
    let of_route: Vec<&TestResult> = results.iter().filter(|r| r.route == route).collect();
    let tests = of_route.len();
    let passed = of_route.iter().filter(|r| r.passed()).count();
    let cost_usd: f64 = of_route.iter().map(|r| r.cost_usd).sum();
    let mut latencies: Vec<u64> = of_route.iter().filter(|r| r.error().is_none()).map(|r| r.latency_ms).collect();
    latencies.sort_unstable();
    RouteSummary {
        route: route.to_string(),
        tests,
        passed,
        pass_rate: if tests == 0 { 0.0 } else { passed as f64 / tests as f64 },
        cost_usd,
        cost_per_passed: (passed > 0).then(|| cost_usd / passed as f64),
        p50_latency_ms: nearest_rank(&latencies, 50.0),
        p95_latency_ms: nearest_rank(&latencies, 95.0),
        tokens: of_route.iter().map(|r| r.tokens).sum(),
        errors: of_route.iter().filter(|r| r.error().is_some()).count(),
        not_graded: of_route.iter().filter(|r| r.not_graded()).count(),
        cached: of_route.iter().filter(|r| r.cached).count(),
    }
}

fn run(r: &TestResult) -> RouteRun {
    let (score, error, graded) = match &r.outcome {
        Outcome::Graded(g) => (Some(g.score), None, g.graded.clone()),
        Outcome::Error(e) => (None, Some(e.clone()), Vec::new()),
    };
    RouteRun {
        route: r.route.clone(),
        model: r.model.clone(),
        passed: r.passed(),
        score,
        error,
        graded,
        cost_usd: r.cost_usd,
        latency_ms: r.latency_ms,
        tokens: r.tokens,
        checks_passed: r.checks_passed,
    }
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p`% of
/// the values at or below it. No interpolation, so it is always a latency that happened.
pub(crate) fn nearest_rank(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

#[cfg(test)]
#[path = "report_tests.rs"]
pub(crate) mod tests;

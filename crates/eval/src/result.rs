//! The runner's record of one test on one route: what reports are made of, and what the
//! runner caches so an unchanged test is not paid for twice.

use serde::{Deserialize, Serialize};

use crate::{Answer, CheckOutcome, Route, TestCase, TestGrade};

/// One test run on one route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The test's 1-based index ([`TestCase::index`]).
    pub test_index: usize,
    /// The test's description.
    pub description: Option<String>,
    /// The task's name (`summarize`…).
    pub task: String,
    /// The route as written (`local`, `premium`…).
    pub route: String,
    /// The model that answered (for `auto`, the one the router ended on).
    pub model: String,
    /// The grade, or why the task produced no answer.
    pub outcome: Outcome,
    /// What the task cost, USD (judge calls not included: reports total them apart).
    pub cost_usd: f64,
    /// How long the task took, milliseconds.
    pub latency_ms: u64,
    /// Prompt and completion tokens, all requests of the task together.
    pub tokens: u64,
    /// Whether the task's own quality checks all passed; `None` when the task errored.
    pub checks_passed: Option<bool>,
    /// The task's checks, one by one.
    pub checks: Vec<CheckOutcome>,
    /// Whether this came from the runner's cache rather than a fresh run.
    pub cached: bool,
}

/// Graded, or failed before there was anything to grade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The answer was graded.
    Graded(TestGrade),
    /// The task failed (the model crashed, the budget refused…): a failed test, reason kept.
    Error(String),
}

impl TestResult {
    /// A graded answer: cost, latency and checks are taken from the answer.
    pub fn graded(test: &TestCase, route: &Route, model: &str, answer: &Answer, grade: TestGrade, tokens: u64) -> Self {
        TestResult {
            test_index: test.index,
            description: test.description.clone(),
            task: test.task.name().to_string(),
            route: route.to_string(),
            model: model.to_string(),
            outcome: Outcome::Graded(grade),
            cost_usd: answer.cost_usd,
            latency_ms: answer.latency_ms,
            tokens,
            checks_passed: Some(answer.checks.iter().all(|c| c.passed)),
            checks: answer.checks.clone(),
            cached: false,
        }
    }

    /// A task that produced no answer; whatever it spent before failing still counts.
    pub fn failed(test: &TestCase, route: &Route, model: &str, error: impl Into<String>, cost_usd: f64) -> Self {
        TestResult {
            test_index: test.index,
            description: test.description.clone(),
            task: test.task.name().to_string(),
            route: route.to_string(),
            model: model.to_string(),
            outcome: Outcome::Error(error.into()),
            cost_usd,
            latency_ms: 0,
            tokens: 0,
            checks_passed: None,
            checks: Vec::new(),
            cached: false,
        }
    }

    /// Whether the test passed (an error never does).
    pub fn passed(&self) -> bool {
        matches!(&self.outcome, Outcome::Graded(g) if g.passed)
    }

    /// Whether an assertion could not be graded (the result is then neither a pass nor a
    /// trustworthy fail).
    pub fn not_graded(&self) -> bool {
        matches!(&self.outcome, Outcome::Graded(g) if g.not_graded > 0)
    }

    /// The task's error, if it failed.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Error(e) => Some(e),
            Outcome::Graded(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Graded, Task};

    fn test_case() -> TestCase {
        TestCase {
            index: 2,
            description: Some("d".into()),
            task: Task::Ask { question: "q".into() },
            asserts: vec![],
            threshold: None,
        }
    }

    #[test]
    fn builds_from_an_answer_or_an_error_and_round_trips() {
        let check = CheckOutcome { name: "grounded".into(), passed: false, detail: "x".into() };
        let answer = Answer { cost_usd: 0.002, latency_ms: 900, checks: vec![check], ..Answer::default() };
        let graded =
            Graded { kind: "contains".into(), passed: Some(true), score: 1.0, reason: "r".into(), weight: 1.0 };
        let grade = TestGrade { passed: true, score: 1.0, graded: vec![graded], not_graded: 0 };
        let r = TestResult::graded(&test_case(), &Route::Premium, "gpt-4o", &answer, grade, 1500);
        assert_eq!(
            (r.test_index, r.task.as_str(), r.route.as_str(), r.cost_usd, r.latency_ms),
            (2, "ask", "premium", 0.002, 900)
        );
        assert_eq!((r.checks_passed, r.passed(), r.not_graded(), r.error()), (Some(false), true, false, None));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<TestResult>(&json).unwrap(), r);

        let e = TestResult::failed(&test_case(), &Route::Local(None), "qwen", "budget refused", 0.0);
        assert_eq!((e.passed(), e.error(), e.checks_passed), (false, Some("budget refused"), None));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["outcome"], serde_json::json!({"error": "budget refused"}));
    }
}

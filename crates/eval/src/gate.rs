//! The gate's confusion matrix: do the tasks' own quality checks agree with the exam?
//!
//! In use, the checks are the gate: an answer whose checks pass is shown, one whose checks
//! fail is escalated to a cloud model. An eval knows the truth (the test's grade), so it can
//! count both ways the gate errs: a *false accept* shows the user a bad answer, a *false
//! escalation* pays for a cloud call the local answer did not need. The false-accept rate
//! (bad answers among those shown) is the number a user cares about; per check, the counts
//! point at which check to tighten or loosen.
//!
//! Only results that were graded in full and ran their checks count: a task that errored
//! has nothing to gate, and an assertion not graded leaves the truth unknown.

use serde::Serialize;

use crate::TestResult;

/// The matrix per task and per check.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Gate {
    /// Per task, in order of first appearance.
    pub tasks: Vec<TaskGate>,
    /// Per task and check name, in order of first appearance.
    pub checks: Vec<CheckGate>,
}

/// How a task's checks as a whole agreed with its tests.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TaskGate {
    /// The task's name.
    pub task: String,
    /// Checks passed and the test passed: a good answer shown.
    pub true_accept: usize,
    /// Checks passed but the test failed: a bad answer shown.
    pub false_accept: usize,
    /// Checks failed and the test failed: a bad answer escalated.
    pub true_reject: usize,
    /// Checks failed but the test passed: a good answer escalated, money spent for nothing.
    pub false_escalation: usize,
    /// `false_accept / (true_accept + false_accept)`: bad answers among those shown; `None`
    /// when nothing would have been shown.
    pub false_accept_rate: Option<f64>,
}

/// How one check agreed with the tests.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CheckGate {
    /// The task's name.
    pub task: String,
    /// The check's name.
    pub check: String,
    /// Times it passed.
    pub passed: usize,
    /// Times it failed.
    pub failed: usize,
    /// Times it passed but the test failed (it let a bad answer through).
    pub passed_but_test_failed: usize,
    /// Times it failed but the test passed (it escalated a good answer).
    pub failed_but_test_passed: usize,
}

impl TaskGate {
    /// Answers the gate would have shown.
    pub fn shown(&self) -> usize {
        self.true_accept + self.false_accept
    }
}

impl Gate {
    /// Counts over results that ran their checks and were graded in full.
    pub fn from_results(results: &[TestResult]) -> Gate {
        let mut gate = Gate::default();
        let counted = results.iter().filter(|r| r.error().is_none() && !r.not_graded());
        for r in counted {
            let Some(checks_passed) = r.checks_passed else { continue };
            let test_passed = r.passed();
            let index = match gate.tasks.iter().position(|t| t.task == r.task) {
                Some(i) => i,
                None => {
                    gate.tasks.push(TaskGate { task: r.task.clone(), ..TaskGate::default() });
                    gate.tasks.len() - 1
                }
            };
            let task = &mut gate.tasks[index];
            match (checks_passed, test_passed) {
                (true, true) => task.true_accept += 1,
                (true, false) => task.false_accept += 1,
                (false, false) => task.true_reject += 1,
                (false, true) => task.false_escalation += 1,
            }
            for check in &r.checks {
                let index = match gate.checks.iter().position(|c| c.task == r.task && c.check == check.name) {
                    Some(i) => i,
                    None => {
                        let new = CheckGate { task: r.task.clone(), check: check.name.clone(), ..CheckGate::default() };
                        gate.checks.push(new);
                        gate.checks.len() - 1
                    }
                };
                let c = &mut gate.checks[index];
                match (check.passed, test_passed) {
                    (true, true) => c.passed += 1,
                    (true, false) => {
                        c.passed += 1;
                        c.passed_but_test_failed += 1;
                    }
                    (false, true) => {
                        c.failed += 1;
                        c.failed_but_test_passed += 1;
                    }
                    (false, false) => c.failed += 1,
                }
            }
        }
        for task in &mut gate.tasks {
            task.false_accept_rate = (task.shown() > 0).then(|| task.false_accept as f64 / task.shown() as f64);
        }
        gate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{result, Spec};

    #[test]
    fn counts_each_cell_per_task_and_per_check() {
        let results = vec![
            // summarize: TA, FA, FA, TR, FE; one error and one not graded, both ignored.
            result(Spec { task: "summarize", passed: true, checks: &[("grounded", true)], ..Spec::default() }),
            result(Spec { task: "summarize", passed: false, checks: &[("grounded", true)], ..Spec::default() }),
            result(Spec {
                task: "summarize",
                passed: false,
                checks: &[("grounded", true), ("dates", true)],
                ..Spec::default()
            }),
            result(Spec { task: "summarize", passed: false, checks: &[("grounded", false)], ..Spec::default() }),
            result(Spec {
                task: "summarize",
                passed: true,
                checks: &[("grounded", true), ("dates", false)],
                ..Spec::default()
            }),
            result(Spec { task: "summarize", error: Some("crash"), ..Spec::default() }),
            result(Spec { task: "summarize", not_graded: true, checks: &[("grounded", true)], ..Spec::default() }),
            // ask: only false escalations, so nothing shown.
            result(Spec { task: "ask", passed: true, checks: &[("cites", false)], ..Spec::default() }),
        ];
        let gate = Gate::from_results(&results);
        let s = &gate.tasks[0];
        assert_eq!(
            (s.task.as_str(), s.true_accept, s.false_accept, s.true_reject, s.false_escalation),
            ("summarize", 1, 2, 1, 1)
        );
        assert_eq!((s.shown(), s.false_accept_rate), (3, Some(2.0 / 3.0)));
        let a = &gate.tasks[1];
        assert_eq!((a.task.as_str(), a.false_escalation, a.false_accept_rate), ("ask", 1, None));

        let names: Vec<(&str, &str)> = gate.checks.iter().map(|c| (c.task.as_str(), c.check.as_str())).collect();
        assert_eq!(names, [("summarize", "grounded"), ("summarize", "dates"), ("ask", "cites")]);
        let g = &gate.checks[0];
        assert_eq!((g.passed, g.failed, g.passed_but_test_failed, g.failed_but_test_passed), (4, 1, 2, 0));
        let d = &gate.checks[1];
        assert_eq!((d.passed, d.failed, d.passed_but_test_failed, d.failed_but_test_passed), (1, 1, 1, 1));
    }
}

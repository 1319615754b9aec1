//! `frugal eval SUITE.yaml`: exams of the user's own tasks, written in promptfoo's file format
//! so that one suite can be shared between promptfoo and Frugal.
//!
//! This crate holds everything about an eval that is not running a model, so it builds in
//! seconds and is tested without one:
//!
//! - [`Suite::load`] reads and validates a suite: the routes to compare, the tests
//!   (a Frugal task given through promptfoo `vars`) and their assertions. Every mistake is
//!   found at load time and reported as one [`EvalError`] line naming the file, the test and
//!   the field, before any money is spent on a run.
//! - [`grade_test`] grades one [`Answer`] against a test's assertions, each by [`grade`], with
//!   promptfoo's semantics (weights, test threshold, the `not-` prefix). An `llm-rubric`
//!   assertion asks a judge the caller provides; [`rubric_prompt`] and [`parse_verdict`] are
//!   the two ends of that conversation.
//! - The runner (in `frugal-core`) records one [`TestResult`] per test and route;
//!   [`Report::new`] turns them into pass rates, cost per passed test, latency percentiles and
//!   the gate's confusion matrix (do the tasks' own checks agree with the exam?), printable
//!   as a table, CSV, JSON or one self-contained HTML page. [`cheapest_routes`] answers the
//!   question the whole exercise is for: the cheapest route that is good enough, per task.
//!
//! ```
//! use frugal_eval::{grade_test, Answer, Suite};
//!
//! let yaml = r#"
//! providers: [local, premium]
//! tests:
//!   - description: capital
//!     vars: { task: chat, prompt: "What is the capital of France?" }
//!     assert:
//!       - { type: icontains, value: paris }
//!       - { type: cost, threshold: 0.01 }
//! "#;
//! let suite = Suite::parse(yaml, std::path::Path::new("."), "evals/demo.yaml")?;
//! assert_eq!(suite.routes.len(), 2);
//!
//! let answer = Answer { text: "Paris.".into(), cost_usd: 0.002, ..Answer::default() };
//! let mut no_judge = |_: &str, _: &str| Err("no judge".to_string());
//! let grade = grade_test(&suite.tests[0], &answer, &mut no_judge);
//! assert!(grade.passed);
//! # Ok::<(), frugal_eval::EvalError>(())
//! ```

mod assertion;
mod choose;
mod error;
mod format;
mod gate;
mod grade;
mod html;
mod judge;
mod matching;
mod report;
mod result;
mod route;
pub mod schema;
mod spec;
mod table;
mod task;
mod yaml;

pub use assertion::{Assertion, Expected, Rule, ASSERTION_TYPES};
pub use choose::{cheapest_routes, Choice};
pub use error::EvalError;
pub use gate::{CheckGate, Gate, TaskGate};
pub use grade::{grade, grade_test, Answer, CheckOutcome, Graded, TestGrade};
pub use judge::{parse_verdict, rubric_prompt, Verdict};
pub use report::{Report, RouteRun, RouteSummary, TestRow};
pub use result::{Outcome, TestResult};
pub use route::Route;
pub use spec::{Suite, TestCase};
pub use task::{Source, Task, KNOWN_VARS};

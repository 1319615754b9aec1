//! The answer an eval exists for: per task, the cheapest route that is good enough.

use serde::Serialize;

use crate::{Route, TestResult};

/// The route to use for one task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    /// The task's name.
    pub task: String,
    /// The cheapest route reaching the target pass rate; `None` when no route does.
    pub route: Option<String>,
    /// The chosen route's pass rate on the task, or the best rate seen when none was chosen.
    pub pass_rate: f64,
    /// That route's cost per passed test; `None` when it passed nothing.
    pub cost_per_passed: Option<f64>,
}

/// One route's record on one task.
struct Tally<'a> {
    route: &'a str,
    tests: usize,
    passed: usize,
    cost: f64,
}

impl Tally<'_> {
    fn rate(&self) -> f64 {
        if self.tests == 0 {
            0.0
        } else {
            self.passed as f64 / self.tests as f64
        }
    }

    fn is_local(&self) -> bool {
        Route::parse(self.route).is_ok_and(|r| r.is_local())
    }
}

/// Per task (in order of first appearance), the route with the lowest total cost whose pass
/// rate reaches `target` (0 to 1). Ties go to a local route (same money, nothing leaves the
/// machine), then to the route seen first. When no route reaches the target, the choice is
/// `None` with the best pass rate seen, so the user knows how far off the task is.
pub fn cheapest_routes(results: &[TestResult], target: f64) -> Vec<Choice> {
    let mut tasks: Vec<(&str, Vec<Tally<'_>>)> = Vec::new();
    for r in results {
        let index = match tasks.iter().position(|(task, _)| *task == r.task) {
            Some(i) => i,
            None => {
                tasks.push((&r.task, Vec::new()));
                tasks.len() - 1
            }
        };
        let tallies = &mut tasks[index].1;
        let index = match tallies.iter().position(|t| t.route == r.route) {
            Some(i) => i,
            None => {
                tallies.push(Tally { route: &r.route, tests: 0, passed: 0, cost: 0.0 });
                tallies.len() - 1
            }
        };
        let tally = &mut tallies[index];
        tally.tests += 1;
        tally.passed += usize::from(r.passed());
        tally.cost += r.cost_usd;
    }
    tasks
        .into_iter()
        .map(|(task, tallies)| {
            let good = tallies.iter().filter(|t| t.rate() + 1e-9 >= target);
            let cheapest = good.min_by(|a, b| a.cost.total_cmp(&b.cost).then(b.is_local().cmp(&a.is_local())));
            let shown = cheapest.or_else(|| {
                tallies.iter().max_by(|a, b| a.rate().total_cmp(&b.rate()).then(b.cost.total_cmp(&a.cost)))
            });
            Choice {
                task: task.to_string(),
                route: cheapest.map(|t| t.route.to_string()),
                pass_rate: shown.map_or(0.0, Tally::rate),
                cost_per_passed: shown.filter(|t| t.passed > 0).map(|t| t.cost / t.passed as f64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{result, Spec};

    fn spec(task: &'static str, route: &'static str, passed: bool, cost: f64) -> TestResult {
        result(Spec { task, route, passed, cost, ..Spec::default() })
    }

    #[test]
    fn picks_the_cheapest_route_good_enough_per_task() {
        let results = vec![
            // summarize: local 2/2 for free, premium 2/2 for $0.04.
            spec("summarize", "local", true, 0.0),
            spec("summarize", "local", true, 0.0),
            spec("summarize", "premium", true, 0.02),
            spec("summarize", "premium", true, 0.02),
            // ask: local 1/2, economy 2/2 for $0.01, premium 2/2 for $0.03.
            spec("ask", "local", true, 0.0),
            spec("ask", "local", false, 0.0),
            spec("ask", "economy", true, 0.005),
            spec("ask", "economy", true, 0.005),
            spec("ask", "premium", true, 0.015),
            spec("ask", "premium", true, 0.015),
            // draft: nobody reaches 0.9; premium is best at 1/2.
            spec("draft", "local", false, 0.0),
            spec("draft", "premium", true, 0.03),
            spec("draft", "premium", false, 0.03),
        ];
        let choices = cheapest_routes(&results, 0.9);
        assert_eq!(
            choices,
            vec![
                Choice {
                    task: "summarize".into(),
                    route: Some("local".into()),
                    pass_rate: 1.0,
                    cost_per_passed: Some(0.0)
                },
                Choice {
                    task: "ask".into(),
                    route: Some("economy".into()),
                    pass_rate: 1.0,
                    cost_per_passed: Some(0.005)
                },
                Choice { task: "draft".into(), route: None, pass_rate: 0.5, cost_per_passed: Some(0.06) },
            ]
        );
        let lenient = cheapest_routes(&results, 0.5);
        assert_eq!(lenient[1].route.as_deref(), Some("local"), "1/2 reaches 0.5 and costs nothing");
    }

    #[test]
    fn cost_ties_go_to_local() {
        let results = vec![spec("chat", "auto", true, 0.0), spec("chat", "local:small", true, 0.0)];
        assert_eq!(cheapest_routes(&results, 1.0)[0].route.as_deref(), Some("local:small"));
        let results = vec![spec("chat", "auto", true, 0.0), spec("chat", "mistral", true, 0.0)];
        assert_eq!(cheapest_routes(&results, 1.0)[0].route.as_deref(), Some("auto"), "then the first seen");
    }

    #[test]
    fn nothing_passed_means_no_cost_per_pass() {
        let choices = cheapest_routes(&[spec("chat", "local", false, 0.0)], 0.5);
        assert_eq!(choices[0], Choice { task: "chat".into(), route: None, pass_rate: 0.0, cost_per_passed: None });
        assert!(cheapest_routes(&[], 0.5).is_empty());
    }
}

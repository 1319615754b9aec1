//! What each answer was worth to the user: the other half of "dollars per useful outcome".
//! The requests table knows what a run cost; this table knows whether its answer was used
//! (copied, pasted back, saved, rated good) or not (regenerated, replaced by the cloud,
//! dismissed, rated bad). One outcome per run: the last thing the user did with it wins, except
//! that what a window records on its own (regenerated, cloud instead, dismissed) never
//! overwrites a use: an answer copied and then regenerated was still used.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{first_line, LedgerError, Result};
use crate::ledger::{Ledger, Outcome, Route, Row, State};

/// What the user did with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    /// Rated good (`frugal feedback RUN good`).
    Good,
    /// Rated bad.
    Bad,
    /// Copied to the clipboard.
    Copied,
    /// Pasted back into the window it was asked from.
    Pasted,
    /// Saved to a file.
    Saved,
    /// Asked again for another answer.
    Regenerated,
    /// Asked the cloud instead of using this answer.
    CloudInstead,
    /// Closed without using it.
    Dismissed,
}

const ALL: [Feedback; 8] = [
    Feedback::Good,
    Feedback::Bad,
    Feedback::Copied,
    Feedback::Pasted,
    Feedback::Saved,
    Feedback::Regenerated,
    Feedback::CloudInstead,
    Feedback::Dismissed,
];

impl Feedback {
    /// The name stored in the ledger and accepted on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Feedback::Good => "good",
            Feedback::Bad => "bad",
            Feedback::Copied => "copied",
            Feedback::Pasted => "pasted",
            Feedback::Saved => "saved",
            Feedback::Regenerated => "regenerated",
            Feedback::CloudInstead => "cloud_instead",
            Feedback::Dismissed => "dismissed",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<Feedback> {
        ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Recorded by a window as a side effect (the user moved on), not said by the user.
    pub fn automatic(&self) -> bool {
        matches!(self, Feedback::Regenerated | Feedback::CloudInstead | Feedback::Dismissed)
    }

    /// Whether the answer was of use: kept in some form, or rated good.
    pub fn useful(&self) -> bool {
        matches!(self, Feedback::Good | Feedback::Copied | Feedback::Pasted | Feedback::Saved)
    }
}

/// Useful outcomes and their cost for one task or one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsefulSpend {
    /// The task (`summarize`, …) or the route (`local`, `cloud`).
    pub name: String,
    /// Runs with an outcome recorded.
    pub rated: u64,
    /// Of which useful.
    pub useful: u64,
    /// What the rated runs cost.
    pub cost_micros: i64,
    /// That cost divided by the useful ones; `None` when none was useful.
    pub cost_per_useful_micros: Option<i64>,
}

/// The month's outcomes, as `frugal spend` and Spend review show them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeReport {
    /// Runs with an outcome recorded.
    pub rated_runs: u64,
    /// Of which useful.
    pub useful: u64,
    /// What the rated runs cost, divided by the useful ones: the product's own metric.
    pub cost_per_useful_micros: Option<i64>,
    /// Share of useful outcomes answered on this machine, 0 to 1.
    pub local_share_of_useful: f64,
    /// Runs that escalated to the cloud (a local answer rejected by its checks) and whose
    /// cloud answer was then used: what the escalations bought.
    pub escalations_used: u64,
    /// Per task, dearest first.
    pub by_task: Vec<UsefulSpend>,
    /// Per route (`local`: answered here; `cloud`: a cloud answer was used).
    pub by_route: Vec<UsefulSpend>,
}

impl Ledger {
    /// Records what the user did with the answer of `run_id`, replacing what was recorded
    /// before — unless that was a use and this is [`Feedback::automatic`]. A run id the ledger
    /// has never seen is refused: a typo must not count.
    pub fn record_feedback(&self, run_id: &str, feedback: Feedback, note: Option<&str>, at_ms: i64) -> Result<()> {
        let conn = self.conn();
        let known: i64 = conn
            .query_row("SELECT COUNT(*) FROM requests WHERE run_id = ?1", [run_id], |r| r.get(0))
            .map_err(self.db())?;
        if known == 0 {
            return Err(LedgerError::Invalid(format!(
                "no answer with run id \"{}\" in the spend ledger (the run id is in each answer's --json output)",
                first_line(run_id)
            )));
        }
        conn.execute(
            "INSERT INTO outcomes (run_id, feedback, useful, note, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (run_id) DO UPDATE SET feedback = ?2, useful = ?3, note = ?4, recorded_at = ?5
             WHERE NOT (outcomes.useful AND ?6)",
            params![run_id, feedback.as_str(), feedback.useful(), note.map(first_line), at_ms, feedback.automatic()],
        )
        .map_err(self.db())?;
        Ok(())
    }

    /// What was recorded for `run_id`, with its note.
    pub fn feedback(&self, run_id: &str) -> Result<Option<(Feedback, Option<String>)>> {
        let conn = self.conn();
        let row: Option<(String, Option<String>)> = conn
            .query_row("SELECT feedback, note FROM outcomes WHERE run_id = ?1", [run_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.db())?;
        Ok(row.and_then(|(f, note)| Feedback::parse(&f).map(|f| (f, note))))
    }

    /// What was recorded for each run of `month`, by run id (Spend review's "Used" column).
    pub fn outcomes_in(&self, month: crate::Month) -> Result<HashMap<String, Feedback>> {
        let (start, end) = month.bounds_ms();
        self.outcomes_between(start, end)
    }

    /// The outcomes recorded for runs that started in `[start, end)`.
    pub(crate) fn outcomes_between(&self, start: i64, end: i64) -> Result<HashMap<String, Feedback>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT run_id, feedback FROM outcomes WHERE run_id IN
                    (SELECT run_id FROM requests WHERE started_at >= ?1 AND started_at < ?2)",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![start, end], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.db())?;
        let mut out = HashMap::new();
        for row in rows {
            let (run, f) = row.map_err(self.db())?;
            if let Some(f) = Feedback::parse(&f) {
                out.insert(run, f);
            }
        }
        Ok(out)
    }
}

/// One run's rows summed up.
#[derive(Default)]
struct Run<'a> {
    task: &'a str,
    cost: i64,
    cloud_answered: bool,
    escalated: bool,
}

/// The outcome report over a month's rows and the outcomes recorded for them.
pub(crate) fn outcome_report(rows: &[Row], outcomes: &HashMap<String, Feedback>) -> OutcomeReport {
    let mut runs: BTreeMap<&str, Run> = BTreeMap::new();
    for r in rows.iter().filter(|r| outcomes.contains_key(&r.run_id)) {
        let run = runs.entry(&r.run_id).or_default();
        run.task = &r.task;
        if r.state == State::Settled {
            run.cost += r.cost_micros;
        }
        if r.route == Route::Cloud && r.outcome == Some(Outcome::Ok) {
            run.cloud_answered = true;
            run.escalated |= r.escalation.is_some();
        }
    }
    let mut by_task: BTreeMap<&str, UsefulSpend> = BTreeMap::new();
    let mut by_route: BTreeMap<&str, UsefulSpend> = BTreeMap::new();
    let mut total =
        UsefulSpend { name: String::new(), rated: 0, useful: 0, cost_micros: 0, cost_per_useful_micros: None };
    let mut escalations_used = 0;
    for (id, run) in &runs {
        let useful = outcomes.get(*id).is_some_and(Feedback::useful);
        let route = if run.cloud_answered { "cloud" } else { "local" };
        let blank = |name: &str| UsefulSpend {
            name: name.to_string(),
            rated: 0,
            useful: 0,
            cost_micros: 0,
            cost_per_useful_micros: None,
        };
        for s in [
            by_task.entry(run.task).or_insert_with(|| blank(run.task)),
            by_route.entry(route).or_insert_with(|| blank(route)),
        ] {
            add(s, run.cost, useful);
        }
        add(&mut total, run.cost, useful);
        escalations_used += u64::from(useful && run.escalated);
    }
    let local_useful = by_route.get("local").map_or(0, |s| s.useful);
    let mut by_task: Vec<UsefulSpend> = by_task.into_values().collect();
    by_task.sort_by(|a, b| b.cost_micros.cmp(&a.cost_micros).then(a.name.cmp(&b.name)));
    OutcomeReport {
        rated_runs: total.rated,
        useful: total.useful,
        cost_per_useful_micros: total.cost_per_useful_micros,
        local_share_of_useful: if total.useful == 0 { 0.0 } else { local_useful as f64 / total.useful as f64 },
        escalations_used,
        by_task,
        by_route: by_route.into_values().collect(),
    }
}

fn add(s: &mut UsefulSpend, cost: i64, useful: bool) {
    s.rated += 1;
    s.useful += u64::from(useful);
    s.cost_micros += cost;
    s.cost_per_useful_micros = (s.useful > 0).then(|| crate::report::div_round(s.cost_micros, s.useful as i64));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, Month, NewRequest, Settlement, TokenCounts};

    fn run(ledger: &Ledger, id: &str, task: &str, route: Route, cost: i64, escalation: Option<&str>) {
        let at = 1_777_600_000_000;
        let req = NewRequest {
            at_ms: at,
            run_id: id.into(),
            task: task.into(),
            route,
            provider: if route == Route::Cloud { "sim".into() } else { "local".into() },
            model: "m".into(),
            reserved_micros: cost,
            escalation: escalation.map(str::to_string),
            app: None,
            prefix_hash: None,
        };
        let t = ledger.begin(req, &Limits::default()).unwrap();
        let s = Settlement {
            finished_ms: at + 10,
            tokens: TokenCounts::default(),
            cost_micros: cost,
            reference_cost_micros: None,
            latency_ms: 10,
            outcome: Outcome::Ok,
            note: None,
            levers: Default::default(),
        };
        ledger.settle(t, s).unwrap();
    }

    #[test]
    fn useful_outcomes_are_counted_and_priced_per_task_and_route() {
        let l = Ledger::in_memory().unwrap();
        run(&l, "a", "summarize", Route::Local, 0, None);
        run(&l, "b", "summarize", Route::Local, 0, None);
        run(&l, "c", "draft", Route::Local, 0, None);
        run(&l, "c", "draft", Route::Cloud, 3000, Some("failed its checks"));
        run(&l, "d", "draft", Route::Cloud, 1000, None);
        run(&l, "e", "ask", Route::Local, 0, None); // never rated
        l.record_feedback("a", Feedback::Copied, None, 1).unwrap();
        l.record_feedback("b", Feedback::Good, None, 1).unwrap();
        l.record_feedback("b", Feedback::Bad, None, 2).unwrap(); // what the user says last wins
        l.record_feedback("b", Feedback::Regenerated, Some("too long"), 3).unwrap(); // so does a move after a non-use
        l.record_feedback("a", Feedback::Dismissed, None, 2).unwrap(); // but a move never undoes a use
        l.record_feedback("c", Feedback::Pasted, None, 1).unwrap();
        l.record_feedback("d", Feedback::Bad, Some("wrong\nname"), 1).unwrap();
        assert_eq!(l.feedback("b").unwrap(), Some((Feedback::Regenerated, Some("too long".into()))));
        assert_eq!(l.feedback("a").unwrap(), Some((Feedback::Copied, None)));
        assert_eq!(l.feedback("d").unwrap(), Some((Feedback::Bad, Some("wrong".into()))));
        assert_eq!(l.feedback("e").unwrap(), None);
        let e = l.record_feedback("nope", Feedback::Good, None, 1).unwrap_err().to_string();
        assert!(e.contains("no answer with run id \"nope\""), "{e}");

        let r = l.report(Month::containing(1_777_600_000_000), &Limits::default(), 1_777_600_000_000).unwrap().outcomes;
        assert_eq!((r.rated_runs, r.useful), (4, 2));
        assert_eq!(r.cost_per_useful_micros, Some(2000), "4000 spent on rated runs / 2 useful");
        assert_eq!(r.escalations_used, 1);
        assert!((r.local_share_of_useful - 0.5).abs() < 1e-9);
        let task = |n: &str| r.by_task.iter().find(|s| s.name == n).cloned().unwrap();
        assert_eq!(
            (task("draft").rated, task("draft").useful, task("draft").cost_per_useful_micros),
            (2, 1, Some(4000))
        );
        assert_eq!((task("summarize").rated, task("summarize").useful), (2, 1));
        assert!(r.by_task.iter().all(|s| s.name != "ask"));
        let route = |n: &str| r.by_route.iter().find(|s| s.name == n).cloned().unwrap();
        assert_eq!((route("local").useful, route("local").cost_per_useful_micros), (1, Some(0)));
        assert_eq!(
            (route("cloud").rated, route("cloud").useful, route("cloud").cost_per_useful_micros),
            (2, 1, Some(4000))
        );
    }

    #[test]
    fn every_feedback_name_round_trips() {
        for f in ALL {
            assert_eq!(Feedback::parse(f.as_str()), Some(f));
        }
        assert_eq!(Feedback::parse("great"), None);
        assert_eq!(ALL.iter().filter(|f| f.useful()).count(), 4);
    }
}

//! The monthly report and CSV export: computed in Rust from the month's rows, because days
//! are local-time days and SQLite's idea of the local zone need not match ours.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::error::Result;
use crate::ledger::{rows_between, Ledger, Limits, Outcome, Route, Row, State, ROW_COLUMNS};
use crate::month::{local_date, Month};

/// Spend of one provider and model in a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderSpend {
    /// Local or cloud.
    pub route: Route,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Requests (refused ones excluded).
    pub requests: u64,
    /// Settled cost.
    pub cost_micros: i64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
}

/// Spend of one task in a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskSpend {
    /// The task.
    pub task: String,
    /// Distinct runs.
    pub runs: u64,
    /// Requests (refused ones excluded).
    pub requests: u64,
    /// Of which local.
    pub local_requests: u64,
    /// Of which cloud.
    pub cloud_requests: u64,
    /// Settled cost.
    pub cost_micros: i64,
    /// Cost divided by runs, rounded to the nearest micro-dollar.
    pub cost_per_run_micros: i64,
}

/// Spend of one gateway app in a month (Frugal's own tasks are `app: None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppMonth {
    /// The app, or `None` for Frugal's own tasks.
    pub app: Option<String>,
    /// Requests (refused ones excluded).
    pub requests: u64,
    /// Of which local (answers from the gateway's response cache included).
    pub local_requests: u64,
    /// Requests the caps refused.
    pub refused: u64,
    /// Settled cost.
    pub cost_micros: i64,
    /// What its local requests would have cost on the reference cloud model.
    pub saved_micros: i64,
}

/// Spend of one provider on one local day, for a chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaySpend {
    /// `YYYY-MM-DD`, local.
    pub day: String,
    /// Provider name.
    pub provider: String,
    /// Settled cost.
    pub cost_micros: i64,
    /// Requests (refused ones excluded).
    pub requests: u64,
}

/// How often one escalation reason occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationCount {
    /// The router's reason.
    pub reason: String,
    /// Requests that escalated for it.
    pub count: u64,
}

/// A month of spending, as `frugal spend` and the tray app show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthReport {
    /// `YYYY-MM`.
    pub month: String,
    /// The monthly cap, if any.
    pub cap_micros: Option<i64>,
    /// Settled cost.
    pub spent_micros: i64,
    /// Reservations still pending.
    pub reserved_micros: i64,
    /// Cap minus spent and reserved, never below 0.
    pub remaining_micros: Option<i64>,
    /// Requests, refused ones excluded.
    pub requests: u64,
    /// Of which local.
    pub local_requests: u64,
    /// Of which cloud.
    pub cloud_requests: u64,
    /// Requests the budget refused.
    pub refused: u64,
    /// Requests that failed or were interrupted.
    pub failed: u64,
    /// Local share of requests, 0 to 1.
    pub local_share: f64,
    /// What the local requests would have cost on the reference cloud model.
    pub saved_micros: i64,
    /// What everything would have cost all-cloud: spent plus saved.
    pub all_cloud_micros: i64,
    /// Spend extrapolated to the whole month: current month only, after its first hour.
    pub projected_micros: Option<i64>,
    /// Runs with at least one successful request.
    pub completed_runs: u64,
    /// Spent divided by completed runs.
    pub cost_per_completed_run_micros: Option<i64>,
    /// By route, provider and model, dearest first.
    pub by_provider: Vec<ProviderSpend>,
    /// By task, dearest first.
    pub by_task: Vec<TaskSpend>,
    /// By gateway app, dearest first; empty when no app sent anything this month.
    pub by_app: Vec<AppMonth>,
    /// By local day and provider, in date order.
    pub daily: Vec<DaySpend>,
    /// Escalation reasons, most frequent first.
    pub escalations: Vec<EscalationCount>,
    /// What the answers were worth: useful outcomes and their cost.
    pub outcomes: crate::outcomes::OutcomeReport,
    /// What each cost lever saved this month.
    pub levers: LeverSavings,
}

/// What each cost lever saved in a month, against the same tokens at full interactive price.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeverSavings {
    /// Cloud prompt caching: cache reads at the cached rate, minus the write premium paid.
    pub cache_micros: i64,
    /// Cloud input tokens read from a provider's cache.
    pub cache_read_tokens: u64,
    /// Cloud input tokens written to a provider's cache (at a premium at some providers).
    pub cache_write_tokens: u64,
    /// Batch pricing.
    pub batch_micros: i64,
    /// Requests answered through a batch.
    pub batch_requests: u64,
    /// Local KV-cache reuse: prompt tokens the local engine did not compute again.
    pub local_reused_tokens: u64,
    /// What those tokens would have cost as fresh input on the reference cloud model.
    pub local_reuse_micros: i64,
    /// Context tokens pruning kept out of prompts (duplicates, passages without room).
    pub pruned_tokens: u64,
    /// What they would have cost as input to the model that answered (the reference model's
    /// price for a local answer).
    pub pruned_micros: i64,
}

/// `a / b` rounded to the nearest integer, for non-negative `b > 0`.
pub(crate) fn div_round(a: i64, b: i64) -> i64 {
    let (a, b) = (i128::from(a), i128::from(b));
    let q = if a >= 0 { (2 * a + b) / (2 * b) } else { -((-2 * a + b) / (2 * b)) };
    i64::try_from(q).unwrap_or(i64::MAX)
}

impl Ledger {
    /// The report for `month`; `now_ms` decides whether it is the current month (projection).
    pub fn report(&self, month: Month, limits: &Limits, now_ms: i64) -> Result<MonthReport> {
        let (start, end) = month.bounds_ms();
        // One query, so every figure below comes from the same snapshot.
        let rows = rows_between(&self.conn(), start, end).map_err(self.db())?;
        let outcomes = crate::outcomes::outcome_report(&rows, &self.outcomes_between(start, end)?);
        let spent: i64 = rows.iter().filter(|r| r.state == State::Settled).map(|r| r.cost_micros).sum();
        let reserved: i64 = rows.iter().filter(|r| r.state == State::Pending).map(|r| r.reserved_micros).sum();
        let counted: Vec<&Row> = rows.iter().filter(|r| r.outcome != Some(Outcome::Refused)).collect();
        let count = |f: &dyn Fn(&Row) -> bool| counted.iter().filter(|r| f(r)).count() as u64;
        let requests = counted.len() as u64;
        let local_requests = count(&|r| r.route == Route::Local);
        let saved: i64 = counted
            .iter()
            .filter(|r| r.route == Route::Local && r.state == State::Settled)
            .filter_map(|r| r.reference_cost_micros)
            .sum();
        let completed: BTreeSet<&str> =
            rows.iter().filter(|r| r.outcome == Some(Outcome::Ok)).map(|r| r.run_id.as_str()).collect();
        let projected = (now_ms >= start && now_ms < end && now_ms - start >= 3_600_000).then(|| {
            let p = i128::from(spent) * i128::from(end - start) / i128::from(now_ms - start);
            i64::try_from(p).unwrap_or(i64::MAX)
        });
        // Settled cost of a row (pending rows have none yet).
        let cost = |r: &Row| if r.state == State::Settled { r.cost_micros } else { 0 };
        let mut levers = LeverSavings::default();
        for r in counted.iter().filter(|r| r.state == State::Settled) {
            levers.pruned_tokens += r.pruned_tokens;
            levers.pruned_micros += r.pruned_micros;
            match r.route {
                Route::Cloud => {
                    levers.cache_micros += r.levers.cache_micros;
                    levers.cache_read_tokens += r.cached_tokens;
                    levers.cache_write_tokens += r.cache_write_tokens;
                    levers.batch_micros += r.levers.batch_micros;
                    levers.batch_requests += u64::from(r.batch_id.is_some() && r.outcome == Some(Outcome::Ok));
                }
                Route::Local => {
                    levers.local_reused_tokens += r.cached_tokens;
                    levers.local_reuse_micros += r.levers.cache_micros;
                }
            }
        }

        let mut by_provider: BTreeMap<(Route, &str, &str), ProviderSpend> = BTreeMap::new();
        let mut by_task: BTreeMap<&str, (TaskSpend, BTreeSet<&str>)> = BTreeMap::new();
        let mut daily: BTreeMap<(String, &str), DaySpend> = BTreeMap::new();
        let mut escalations: HashMap<&str, u64> = HashMap::new();
        let mut by_app: BTreeMap<Option<&str>, AppMonth> = BTreeMap::new();
        for r in &rows {
            let a = by_app.entry(r.app.as_deref()).or_insert_with(|| AppMonth {
                app: r.app.clone(),
                requests: 0,
                local_requests: 0,
                refused: 0,
                cost_micros: 0,
                saved_micros: 0,
            });
            if r.outcome == Some(Outcome::Refused) {
                a.refused += 1;
                continue;
            }
            a.requests += 1;
            a.cost_micros += cost(r);
            if r.route == Route::Local {
                a.local_requests += 1;
                if r.state == State::Settled {
                    a.saved_micros += r.reference_cost_micros.unwrap_or(0);
                }
            }
        }
        let mut by_app: Vec<AppMonth> =
            if by_app.keys().any(Option::is_some) { by_app.into_values().collect() } else { Vec::new() };
        by_app.sort_by(|a, b| b.cost_micros.cmp(&a.cost_micros).then(b.requests.cmp(&a.requests)));
        for r in &counted {
            let p = by_provider.entry((r.route, &r.provider, &r.model)).or_insert_with(|| ProviderSpend {
                route: r.route,
                provider: r.provider.clone(),
                model: r.model.clone(),
                requests: 0,
                cost_micros: 0,
                prompt_tokens: 0,
                completion_tokens: 0,
            });
            p.requests += 1;
            p.cost_micros += cost(r);
            p.prompt_tokens += r.prompt_tokens;
            p.completion_tokens += r.completion_tokens;

            let (t, runs) = by_task.entry(&r.task).or_insert_with(|| {
                let t = TaskSpend {
                    task: r.task.clone(),
                    runs: 0,
                    requests: 0,
                    local_requests: 0,
                    cloud_requests: 0,
                    cost_micros: 0,
                    cost_per_run_micros: 0,
                };
                (t, BTreeSet::new())
            });
            runs.insert(&r.run_id);
            t.requests += 1;
            match r.route {
                Route::Local => t.local_requests += 1,
                Route::Cloud => t.cloud_requests += 1,
            }
            t.cost_micros += cost(r);

            let day = local_date(r.started_at_ms).format("%Y-%m-%d").to_string();
            let d = daily.entry((day.clone(), &r.provider)).or_insert_with(|| DaySpend {
                day,
                provider: r.provider.clone(),
                cost_micros: 0,
                requests: 0,
            });
            d.cost_micros += cost(r);
            d.requests += 1;

            if let Some(reason) = r.escalation.as_deref() {
                *escalations.entry(reason).or_default() += 1;
            }
        }
        let mut by_provider: Vec<ProviderSpend> = by_provider.into_values().collect();
        by_provider.sort_by(|a, b| b.cost_micros.cmp(&a.cost_micros).then(b.requests.cmp(&a.requests)));
        let mut by_task: Vec<TaskSpend> = by_task
            .into_values()
            .map(|(mut t, runs)| {
                t.runs = runs.len() as u64;
                t.cost_per_run_micros = div_round(t.cost_micros, t.runs.max(1) as i64);
                t
            })
            .collect();
        by_task.sort_by(|a, b| b.cost_micros.cmp(&a.cost_micros).then(a.task.cmp(&b.task)));
        let mut escalations: Vec<EscalationCount> = escalations
            .into_iter()
            .map(|(reason, count)| EscalationCount { reason: reason.to_string(), count })
            .collect();
        escalations.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));

        Ok(MonthReport {
            month: month.to_string(),
            cap_micros: limits.monthly_micros,
            spent_micros: spent,
            reserved_micros: reserved,
            remaining_micros: limits.monthly_micros.map(|cap| (cap - spent - reserved).max(0)),
            requests,
            local_requests,
            cloud_requests: requests - local_requests,
            refused: (rows.len() - counted.len()) as u64,
            failed: count(&|r| matches!(r.outcome, Some(Outcome::Failed | Outcome::Interrupted))),
            local_share: if requests == 0 { 0.0 } else { local_requests as f64 / requests as f64 },
            saved_micros: saved,
            all_cloud_micros: spent + saved,
            projected_micros: projected,
            completed_runs: completed.len() as u64,
            cost_per_completed_run_micros: (!completed.is_empty()).then(|| div_round(spent, completed.len() as i64)),
            by_provider,
            by_task,
            by_app,
            daily: daily.into_values().collect(),
            escalations,
            outcomes,
            levers,
        })
    }

    /// Every row of one run (a task's local attempt and its escalations), oldest first.
    pub fn run_rows(&self, run_id: &str) -> Result<Vec<Row>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT {ROW_COLUMNS} FROM requests WHERE run_id = ?1 ORDER BY started_at, id"))
            .map_err(self.db())?;
        let rows = stmt.query_map([run_id], Row::from_sql).map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<Row>>>().map_err(self.db())
    }

    /// Every row that started in `month`, oldest first: the CSV export.
    pub fn rows(&self, month: Month) -> Result<Vec<Row>> {
        let (start, end) = month.bounds_ms();
        rows_between(&self.conn(), start, end).map_err(self.db())
    }
}

/// Micro-dollars as exact dollars with 6 decimals (`-0.000123`), from the integer.
pub fn usd_exact(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

/// CSV header, one column per [`Row`] field (money in USD).
const CSV_HEADER: &[&str] = &[
    "id",
    "started_at",
    "started_at_ms",
    "finished_at",
    "finished_at_ms",
    "run_id",
    "task",
    "route",
    "provider",
    "model",
    "prompt_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "reserved_usd",
    "cost_usd",
    "reference_cost_usd",
    "latency_ms",
    "state",
    "outcome",
    "escalation",
    "note",
    "owner_pid",
    "app",
];

/// Quotes a field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// Writes rows as CSV with a header line; money as exact USD with 6 decimals.
pub fn write_csv(rows: &[Row], out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "{}", CSV_HEADER.join(","))?;
    for r in rows {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let fields: [String; 25] = [
            r.id.to_string(),
            r.started_at.clone(),
            r.started_at_ms.to_string(),
            r.finished_at.clone().unwrap_or_default(),
            opt(r.finished_at_ms),
            r.run_id.clone(),
            r.task.clone(),
            r.route.as_str().into(),
            r.provider.clone(),
            r.model.clone(),
            r.prompt_tokens.to_string(),
            r.cached_tokens.to_string(),
            r.cache_write_tokens.to_string(),
            r.completion_tokens.to_string(),
            r.reasoning_tokens.to_string(),
            usd_exact(r.reserved_micros),
            usd_exact(r.cost_micros),
            r.reference_cost_micros.map(usd_exact).unwrap_or_default(),
            opt(r.latency_ms),
            r.state.as_str().into(),
            r.outcome.map(|o| o.as_str().to_string()).unwrap_or_default(),
            r.escalation.clone().unwrap_or_default(),
            r.note.clone().unwrap_or_default(),
            r.owner_pid.to_string(),
            r.app.clone().unwrap_or_default(),
        ];
        let line: Vec<_> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_dollars_from_integers() {
        assert_eq!(usd_exact(0), "0.000000");
        assert_eq!(usd_exact(1), "0.000001");
        assert_eq!(usd_exact(12_345_678), "12.345678");
        assert_eq!(usd_exact(-123), "-0.000123");
        assert_eq!(usd_exact(i64::MIN), "-9223372036854.775808");
    }

    #[test]
    fn rounding_division() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(0, 7), 0);
    }
}

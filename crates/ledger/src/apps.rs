//! The gateway's apps: each AI tool on the machine that calls `frugal serve` gets a name, a
//! token (only its hash is kept here), an optional monthly cap inside the global one, and
//! rules (local only, which models). Every request the gateway sends records its app, so a
//! cap is checked against the app's own spend in the same transaction as the global cap.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::error::{LedgerError, Result};
use crate::ledger::Ledger;
use crate::Month;

/// One app allowed to call the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct App {
    /// Its name (`continue`, `aider`…), unique.
    pub name: String,
    /// Its monthly cap on cloud spend; `None` leaves only the global caps.
    pub monthly_micros: Option<i64>,
    /// Its requests never leave the machine.
    pub local_only: bool,
    /// The models it may ask for (`frugal/local`, `openai/*`); empty: all.
    pub models: Vec<String>,
    /// Repeatable requests may be answered from the response cache.
    pub cache: bool,
    /// When it was added, unix ms.
    pub created_at_ms: i64,
}

impl App {
    /// Whether the app may ask for `model`: a pattern matches exactly or, ending in `*`, by
    /// its prefix.
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty()
            || self.models.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => model.starts_with(prefix),
                None => p == model,
            })
    }
}

/// An app with what it spent this month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppSpend {
    /// The app.
    #[serde(flatten)]
    pub app: App,
    /// Settled cloud spend this month.
    pub spent_micros: i64,
    /// Pending reservations.
    pub reserved_micros: i64,
    /// Requests this month (refused ones included).
    pub requests: u64,
    /// Of which answered on this machine.
    pub local_requests: u64,
    /// Local requests over all answered requests, 0 to 1.
    pub local_share: f64,
}

/// An app name: letters, digits, `-`, `_`, `.`; 1 to 40 of them (it shows in tables and
/// headers, and is typed on the command line).
pub fn check_app_name(name: &str) -> Result<()> {
    let ok = (1..=40).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(LedgerError::Invalid(format!(
            "`{}` is not an app name: use 1 to 40 letters, digits, '-', '_' or '.'",
            crate::error::first_line(name)
        )))
    }
}

const APP_COLUMNS: &str = "name, monthly_micros, local_only, models, cache, created_at";

fn app_from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<App> {
    let models: String = r.get(3)?;
    Ok(App {
        name: r.get(0)?,
        monthly_micros: r.get(1)?,
        local_only: r.get(2)?,
        models: models.split(' ').filter(|m| !m.is_empty()).map(str::to_string).collect(),
        cache: r.get(4)?,
        created_at_ms: r.get(5)?,
    })
}

impl Ledger {
    /// Adds `app`, reachable with the token whose hash is `token_hash`.
    pub fn add_app(&self, app: &App, token_hash: &str) -> Result<()> {
        check_app_name(&app.name)?;
        if app.monthly_micros.is_some_and(|m| m < 0) {
            return Err(LedgerError::Invalid("an app's budget cannot be negative".into()));
        }
        let conn = self.conn();
        let exists: bool = conn
            .query_row("SELECT COUNT(*) > 0 FROM apps WHERE name = ?1", [&app.name], |r| r.get(0))
            .map_err(self.db())?;
        if exists {
            return Err(LedgerError::Invalid(format!(
                "an app named `{}` exists: remove it first, or change its budget",
                app.name
            )));
        }
        conn.execute(
            "INSERT INTO apps (name, token_hash, monthly_micros, local_only, models, cache, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                app.name,
                token_hash,
                app.monthly_micros,
                app.local_only,
                app.models.join(" "),
                app.cache,
                app.created_at_ms
            ],
        )
        .map_err(self.db())?;
        Ok(())
    }

    /// The app whose token hashes to `token_hash`.
    pub fn app_by_token(&self, token_hash: &str) -> Result<Option<App>> {
        // Cached: the gateway asks this for every request.
        self.conn()
            .prepare_cached(&format!("SELECT {APP_COLUMNS} FROM apps WHERE token_hash = ?1"))
            .and_then(|mut stmt| stmt.query_row([token_hash], app_from_sql).optional())
            .map_err(self.db())
    }

    /// The app named `name`.
    pub fn app(&self, name: &str) -> Result<Option<App>> {
        self.conn()
            .query_row(&format!("SELECT {APP_COLUMNS} FROM apps WHERE name = ?1"), [name], app_from_sql)
            .optional()
            .map_err(self.db())
    }

    /// Every app with its spend in `month`, by name.
    pub fn apps(&self, month: Month) -> Result<Vec<AppSpend>> {
        let (start, end) = month.bounds_ms();
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {APP_COLUMNS},
                    (SELECT COALESCE(SUM(CASE WHEN state = 'settled' THEN cost_micros ELSE 0 END), 0)
                        FROM requests WHERE app = apps.name AND route = 'cloud' AND started_at >= ?1 AND started_at < ?2),
                    (SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN reserved_micros ELSE 0 END), 0)
                        FROM requests WHERE app = apps.name AND route = 'cloud' AND started_at >= ?1 AND started_at < ?2),
                    (SELECT COUNT(*) FROM requests WHERE app = apps.name AND started_at >= ?1 AND started_at < ?2),
                    (SELECT COUNT(*) FROM requests WHERE app = apps.name AND route = 'local'
                        AND started_at >= ?1 AND started_at < ?2),
                    (SELECT COUNT(*) FROM requests WHERE app = apps.name AND started_at >= ?1 AND started_at < ?2
                        AND (outcome IS NULL OR outcome != 'refused'))
                 FROM apps ORDER BY name"
            ))
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![start, end], |r| {
                let answered: i64 = r.get(10)?;
                let local: i64 = r.get(9)?;
                Ok(AppSpend {
                    app: app_from_sql(r)?,
                    spent_micros: r.get(6)?,
                    reserved_micros: r.get(7)?,
                    requests: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
                    local_requests: u64::try_from(local).unwrap_or(0),
                    local_share: if answered > 0 { local as f64 / answered as f64 } else { 0.0 },
                })
            })
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(self.db())
    }

    /// Sets (or with `None` lifts) an app's monthly cap.
    pub fn set_app_budget(&self, name: &str, monthly_micros: Option<i64>) -> Result<()> {
        if monthly_micros.is_some_and(|m| m < 0) {
            return Err(LedgerError::Invalid("an app's budget cannot be negative".into()));
        }
        let changed = self
            .conn()
            .execute("UPDATE apps SET monthly_micros = ?2 WHERE name = ?1", params![name, monthly_micros])
            .map_err(self.db())?;
        if changed == 0 {
            return Err(no_app(name));
        }
        Ok(())
    }

    /// Lets (or stops) an app's repeatable requests be answered from the response cache.
    pub fn set_app_cache(&self, name: &str, cache: bool) -> Result<()> {
        let changed = self
            .conn()
            .execute("UPDATE apps SET cache = ?2 WHERE name = ?1", params![name, cache])
            .map_err(self.db())?;
        if changed == 0 {
            return Err(no_app(name));
        }
        Ok(())
    }

    /// Removes an app: its token stops working at once; its rows stay in the ledger.
    pub fn remove_app(&self, name: &str) -> Result<()> {
        let changed = self.conn().execute("DELETE FROM apps WHERE name = ?1", [name]).map_err(self.db())?;
        if changed == 0 {
            return Err(no_app(name));
        }
        Ok(())
    }
}

fn no_app(name: &str) -> LedgerError {
    LedgerError::Invalid(format!("no app named `{}` (see `frugal apps list`)", crate::error::first_line(name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LimitKind, Limits, NewRequest, Outcome, Route, Settlement, TokenCounts};

    fn app(name: &str, cap: Option<i64>) -> App {
        App {
            name: name.into(),
            monthly_micros: cap,
            local_only: false,
            models: vec!["frugal/*".into(), "sim/sim-small".into()],
            cache: true,
            created_at_ms: 1,
        }
    }

    fn request(app: &str, reserve: i64) -> NewRequest {
        NewRequest {
            at_ms: 1_777_600_000_000,
            run_id: "r".into(),
            task: "gateway".into(),
            route: Route::Cloud,
            provider: "sim".into(),
            model: "sim-small".into(),
            reserved_micros: reserve,
            escalation: None,
            app: Some(app.into()),
            prefix_hash: None,
        }
    }

    #[test]
    fn apps_are_added_found_by_token_capped_and_removed() {
        let l = Ledger::in_memory().unwrap();
        l.add_app(&app("aider", Some(1_000)), "h1").unwrap();
        l.add_app(&app("webui", None), "h2").unwrap();
        assert!(l.add_app(&app("aider", None), "h3").unwrap_err().to_string().contains("exists"));
        assert!(l.add_app(&app("bad name", None), "h4").unwrap_err().to_string().contains("not an app name"));
        assert_eq!(l.app_by_token("h1").unwrap().unwrap().name, "aider");
        assert!(l.app_by_token("nope").unwrap().is_none());
        let a = l.app("aider").unwrap().unwrap();
        assert!(a.allows("frugal/local") && a.allows("sim/sim-small") && !a.allows("sim/sim-large"));

        // The app's cap holds inside a roomier global one; another app is not affected.
        let limits = Limits { monthly_micros: Some(10_000), app_monthly_micros: Some(1_000), ..Limits::default() };
        let t = l.begin(request("aider", 800), &limits).unwrap();
        let e = l.begin(request("aider", 300), &limits).unwrap_err();
        match e {
            LedgerError::Refused(r) => {
                assert_eq!(r.limit, LimitKind::App);
                assert!(r.to_string().contains("app's monthly budget of $0.001"), "{r}");
            }
            other => panic!("{other}"),
        }
        let other = Limits { app_monthly_micros: None, ..limits };
        let t2 = l.begin(request("webui", 300), &other).unwrap();
        let s = |cost| Settlement {
            finished_ms: 1_777_600_000_100,
            tokens: TokenCounts::default(),
            cost_micros: cost,
            reference_cost_micros: None,
            latency_ms: 1,
            outcome: Outcome::Ok,
            note: None,
            levers: Default::default(),
        };
        l.settle(t, s(500)).unwrap();
        l.settle(t2, s(300)).unwrap();
        let month = Month::containing(1_777_600_000_000);
        let apps = l.apps(month).unwrap();
        let aider = apps.iter().find(|a| a.app.name == "aider").unwrap();
        assert_eq!((aider.spent_micros, aider.requests), (500, 2), "the refused request is counted, not charged");
        assert_eq!(l.rows(month).unwrap().iter().filter(|r| r.app.as_deref() == Some("webui")).count(), 1);

        l.set_app_budget("aider", Some(5_000)).unwrap();
        assert_eq!(l.app("aider").unwrap().unwrap().monthly_micros, Some(5_000));
        l.remove_app("aider").unwrap();
        assert!(l.app_by_token("h1").unwrap().is_none());
        assert!(l.remove_app("aider").unwrap_err().to_string().contains("no app named"));
    }
}

//! The cloud money of the current month and day (and of each app this month), kept in memory
//! so that a reservation checks its caps without summing every row of the month: that sum
//! grew with the month and was the ledger's cost per request under load.
//!
//! Never stale: the totals are trusted only while `PRAGMA data_version` is unchanged — it
//! changes when *another* connection (another process: the CLI beside the tray app and the
//! gateway) commits — and while the request falls in the same month and day. This
//! connection's own changes keep them current: a reservation adds to `reserved`, a settlement
//! moves its reservation to `spent`, and anything else that changes rows drops them, so the
//! next check sums from the table again. Checks and updates happen under the connection's
//! lock, inside the reservation's `BEGIN IMMEDIATE`.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::month::{day_bounds_ms, Month};

/// Settled cost and pending reservations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Money {
    pub spent: i64,
    pub reserved: i64,
}

impl Money {
    fn add(&mut self, spent: i64, reserved: i64) {
        self.spent = self.spent.saturating_add(spent);
        self.reserved = self.reserved.saturating_add(reserved);
    }
}

/// The totals of one month and one day, as of `version`.
#[derive(Debug)]
pub(crate) struct Totals {
    version: i64,
    month: (i64, i64),
    day: (i64, i64),
    pub month_money: Money,
    pub day_money: Money,
    apps: HashMap<String, Money>,
}

const SUMS: &str = "COALESCE(SUM(CASE WHEN state = 'settled' THEN cost_micros ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN state = 'pending' THEN reserved_micros ELSE 0 END), 0)";

fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

impl Totals {
    /// The totals for a request at `at_ms`, summed again unless the ones in `slot` still hold.
    pub fn current<'a>(
        slot: &'a mut Option<Totals>,
        conn: &Connection,
        at_ms: i64,
    ) -> rusqlite::Result<&'a mut Totals> {
        let v = version(conn)?;
        let fresh = slot.as_ref().is_some_and(|t| {
            t.version == v && (t.month.0..t.month.1).contains(&at_ms) && (t.day.0..t.day.1).contains(&at_ms)
        });
        if !fresh {
            *slot = Some(Self::load(conn, at_ms, v)?);
        }
        // Just filled when it was not fresh.
        slot.as_mut().ok_or(rusqlite::Error::QueryReturnedNoRows)
    }

    fn load(conn: &Connection, at_ms: i64, version: i64) -> rusqlite::Result<Totals> {
        let month = Month::containing(at_ms).bounds_ms();
        let day = day_bounds_ms(at_ms);
        let sum = |start: i64, end: i64| {
            conn.query_row(
                &format!("SELECT {SUMS} FROM requests WHERE route = 'cloud' AND started_at >= ?1 AND started_at < ?2"),
                params![start, end],
                |r| Ok(Money { spent: r.get(0)?, reserved: r.get(1)? }),
            )
        };
        let (month_money, day_money) = (sum(month.0, month.1)?, sum(day.0, day.1)?);
        let mut apps = HashMap::new();
        let mut stmt = conn.prepare(&format!(
            "SELECT app, {SUMS} FROM requests WHERE route = 'cloud' AND app IS NOT NULL
                AND started_at >= ?1 AND started_at < ?2 GROUP BY app"
        ))?;
        let rows = stmt.query_map(params![month.0, month.1], |r| {
            Ok((r.get::<_, String>(0)?, Money { spent: r.get(1)?, reserved: r.get(2)? }))
        })?;
        for row in rows {
            let (app, money) = row?;
            apps.insert(app, money);
        }
        Ok(Totals { version, month, day, month_money, day_money, apps })
    }

    /// The app's money this month.
    pub fn app(&self, app: &str) -> Money {
        self.apps.get(app).copied().unwrap_or_default()
    }

    /// A cloud row started at `at_ms` moved `spent` and `reserved` by these amounts.
    pub fn apply(&mut self, at_ms: i64, app: Option<&str>, spent: i64, reserved: i64) {
        if (self.month.0..self.month.1).contains(&at_ms) {
            self.month_money.add(spent, reserved);
            if let Some(a) = app {
                self.apps.entry(a.to_string()).or_default().add(spent, reserved);
            }
        }
        if (self.day.0..self.day.1).contains(&at_ms) {
            self.day_money.add(spent, reserved);
        }
    }
}

//! Calendar months and days in the user's local time: a budget resets when the user's month
//! does, not UTC's. Rows store UTC milliseconds; only the bounds are computed locally.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, Local, LocalResult, NaiveDate, NaiveTime, SecondsFormat, TimeZone};

use crate::error::{LedgerError, Result};

/// A calendar month in local time, shown as `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// A month; `month` is 1 to 12.
    pub fn new(year: i32, month: u32) -> Result<Month> {
        if !(1..=12).contains(&month) || !(1..=9999).contains(&year) {
            return Err(LedgerError::Invalid(format!("{year:04}-{month:02} is not a month")));
        }
        Ok(Month { year, month })
    }

    /// Reads `YYYY-MM`, as typed after `frugal spend --month`.
    pub fn parse(text: &str) -> Result<Month> {
        let bad = || LedgerError::Invalid(format!("month must look like 2026-11, not `{}`", text.trim()));
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.is_empty() || m.len() > 2 || !(y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
            return Err(bad());
        }
        let (year, month) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        Month::new(year, month).map_err(|_| bad())
    }

    /// The local-time month containing the instant `ms` (unix milliseconds).
    pub fn containing(ms: i64) -> Month {
        let date = local_date(ms);
        Month { year: date.year(), month: date.month() }
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(&self) -> u32 {
        self.month
    }

    /// The first day of the month.
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The month after this one.
    pub fn next(&self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    /// Local midnight of the first day (inclusive) and of the next month's (exclusive), as
    /// unix milliseconds.
    pub fn bounds_ms(&self) -> (i64, i64) {
        (local_midnight_ms(self.first_day()), local_midnight_ms(self.next().first_day()))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The local calendar date of an instant.
pub(crate) fn local_date(ms: i64) -> NaiveDate {
    match Local.timestamp_millis_opt(ms) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.date_naive(),
        LocalResult::None => DateTime::from_timestamp_millis(ms).map(|t| t.date_naive()).unwrap_or_default(),
    }
}

/// The first instant of a local date. Where a DST change skips midnight, the day starts at
/// the first local time that exists.
pub(crate) fn local_midnight_ms(date: NaiveDate) -> i64 {
    let midnight = date.and_time(NaiveTime::MIN);
    for skip in 0..=4 {
        if let Some(t) = Local.from_local_datetime(&(midnight + Duration::minutes(30 * skip))).earliest() {
            return t.timestamp_millis();
        }
    }
    midnight.and_utc().timestamp_millis()
}

/// `[start, end)` of the local day containing `ms`.
pub fn day_bounds_ms(ms: i64) -> (i64, i64) {
    let day = local_date(ms);
    (local_midnight_ms(day), local_midnight_ms(day.succ_opt().unwrap_or(day)))
}

/// An instant as local ISO-8601 with milliseconds and offset, for CSV and JSON.
pub(crate) fn local_iso(ms: i64) -> String {
    match Local.timestamp_millis_opt(ms) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.to_rfc3339_opts(SecondsFormat::Millis, false),
        LocalResult::None => ms.to_string(),
    }
}

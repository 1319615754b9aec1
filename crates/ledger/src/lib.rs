//! The spend ledger: what every request cost, and the guarantee that a budget cap is never
//! crossed. Before a cloud call the router reserves the request's worst case
//! ([`Price::worst_case`]) with [`Ledger::begin`]; the check against the caps and the
//! reservation are one SQLite `BEGIN IMMEDIATE` transaction, so neither concurrent threads
//! nor a second Frugal process can both squeeze under the cap. After the call,
//! [`Ledger::settle`] records the real cost ([`Price::cost`]) and releases the rest. A
//! process that dies in between leaves a pending row; the next [`Ledger::open`] charges it at
//! its worst case, because we cannot know what the provider billed.
//!
//! Money is integer micro-dollars (`i64`) everywhere, prices are micro-dollars per million
//! tokens, and rounding is always up: floats only appear in [`usd`] for display.
//!
//! ```
//! use frugal_ledger::{Ledger, Limits, Month, NewRequest, Outcome, PriceTable, Route, Settlement, TokenCounts};
//!
//! let prices = PriceTable::builtin()?;
//! let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
//! let price = prices.lookup(&["openai", "api.openai.com"], "gpt-4o-mini", today).unwrap().price;
//!
//! let ledger = Ledger::in_memory()?;
//! let limits = Limits { monthly_micros: Some(5_000_000), ..Limits::default() }; // $5 a month
//! let now = 1_777_600_000_000; // unix ms
//! let request = NewRequest {
//!     at_ms: now,
//!     run_id: "run-1".into(),
//!     task: "ask".into(),
//!     route: Route::Cloud,
//!     provider: "openai".into(),
//!     model: "gpt-4o-mini".into(),
//!     reserved_micros: price.worst_case(2_000, 500),
//!     escalation: Some("local answer failed its check".into()),
//!     app: None,
//!     prefix_hash: None,
//! };
//! let ticket = ledger.begin(request, &limits)?;
//!
//! let tokens = TokenCounts { prompt: 1_800, completion: 240, ..TokenCounts::default() };
//! let settlement = Settlement {
//!     finished_ms: now + 900,
//!     tokens,
//!     cost_micros: price.cost(&tokens), // 1800 × $0.15/M + 240 × $0.60/M
//!     reference_cost_micros: None,
//!     latency_ms: 900,
//!     outcome: Outcome::Ok,
//!     note: None,
//!     levers: Default::default(),
//! };
//! ledger.settle(ticket, settlement)?;
//!
//! let report = ledger.report(Month::containing(now), &limits, now)?;
//! assert_eq!(report.spent_micros, 414);
//! assert_eq!(report.remaining_micros, Some(5_000_000 - 414));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod apps;
mod backup;
mod batches;
mod checkpoint;
mod error;
mod group;
mod ledger;
mod month;
mod outcomes;
mod prices;
mod report;
mod totals;

pub use apps::{check_app_name, App, AppSpend};
pub use backup::{backup_path, backup_taken, reset, restore};
pub use batches::{BatchRow, BatchState, NewBatch};
pub use error::{LedgerError, Result};
pub use group::GroupStats;
pub use ledger::{
    Ledger, Levers, LimitKind, Limits, NewRequest, Outcome, Refusal, Route, Row, Settlement, State, Ticket, MIGRATIONS,
};
pub use month::{day_bounds_ms, Month};
pub use outcomes::{Feedback, OutcomeReport, UsefulSpend};
pub use prices::{micros_from_usd, usd, Price, PriceEntry, PriceSource, PriceTable, TokenCounts};
pub use report::{
    usd_exact, write_csv, AppMonth, DaySpend, EscalationCount, LeverSavings, MonthReport, ProviderSpend, TaskSpend,
};

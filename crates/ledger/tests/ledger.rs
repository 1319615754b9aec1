#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use frugal_ledger::{
    write_csv, Ledger, LedgerError, LimitKind, Limits, Month, NewRequest, Outcome, Price, PriceSource, PriceTable,
    Route, Settlement, State, TokenCounts, MIGRATIONS,
};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Noon of the `day`-th day (0-based) of a month, local time.
fn at(month: Month, day: i64) -> i64 {
    month.bounds_ms().0 + day * DAY + 12 * HOUR
}

fn cloud(at_ms: i64, run: &str, task: &str, reserve: i64) -> NewRequest {
    NewRequest {
        at_ms,
        run_id: run.into(),
        task: task.into(),
        route: Route::Cloud,
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        reserved_micros: reserve,
        escalation: None,
        app: None,
        prefix_hash: None,
    }
}

fn local(at_ms: i64, run: &str, task: &str) -> NewRequest {
    NewRequest {
        route: Route::Local,
        provider: "local".into(),
        model: "qwen".into(),
        reserved_micros: 0,
        ..cloud(at_ms, run, task, 0)
    }
}

fn done(finished_ms: i64, cost: i64, outcome: Outcome) -> Settlement {
    Settlement {
        finished_ms,
        tokens: TokenCounts { prompt: 100, completion: 10, ..TokenCounts::default() },
        cost_micros: cost,
        reference_cost_micros: None,
        latency_ms: 50,
        outcome,
        note: None,
        levers: Default::default(),
    }
}

fn monthly(cap: i64) -> Limits {
    Limits { monthly_micros: Some(cap), ..Limits::default() }
}

fn one_line(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    assert!(!text.contains('\n'), "not one line: {text}");
    text
}

// ---------------------------------------------------------------- prices

#[test]
fn builtin_prices_parse_and_price_known_models() {
    let table = PriceTable::builtin().unwrap();
    let today = date(2026, 1, 1);
    let mini = table.lookup(&["openai", "api.openai.com"], "gpt-4o-mini", today).unwrap();
    assert_eq!(mini.price, Price { input: 150_000, cached_input: 75_000, cache_write: 150_000, output: 600_000 });
    assert_eq!(mini.source, PriceSource::Builtin);
    let haiku = table.lookup(&["anthropic"], "claude-3-5-haiku-20241022", today).unwrap();
    assert_eq!(haiku.price, Price { input: 800_000, cached_input: 80_000, cache_write: 1_000_000, output: 4_000_000 });
    for (vendor, model) in [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4.1"),
        ("openai", "gpt-4.1-mini"),
        ("openai", "gpt-4.1-nano"),
        ("anthropic", "claude-3-5-haiku-latest"),
        ("anthropic", "claude-sonnet-4-20250514"),
        ("anthropic", "claude-sonnet-4-0"),
        ("anthropic", "claude-3-7-sonnet-latest"),
        ("deepseek", "deepseek-chat"),
        ("groq", "llama-3.1-8b-instant"),
        ("google", "gemini-2.0-flash"),
        ("openrouter", "openai/gpt-4o-mini"),
    ] {
        let entry = table.lookup(&[vendor], model, today).unwrap_or_else(|| panic!("{model} unpriced"));
        assert_eq!(entry.vendor, vendor, "{model}");
        assert!(entry.price.input > 0 && entry.price.output > 0, "{model}");
    }
    let deepseek_2025 = table.lookup(&["deepseek"], "deepseek-chat", date(2025, 3, 1)).unwrap();
    assert_eq!(deepseek_2025.price.input, 270_000);
    assert_eq!(deepseek_2025.price.cached_input, 70_000);
    assert_eq!(deepseek_2025.price.output, 1_100_000);
}

#[test]
fn cost_counts_cached_and_cache_write_tokens_and_rounds_up() {
    let sonnet = Price { input: 3_000_000, cached_input: 300_000, cache_write: 3_750_000, output: 15_000_000 };
    let usage = TokenCounts { prompt: 10_000, cached: 6_000, cache_write: 2_000, completion: 500, reasoning: 100 };
    // 2000 uncached × $3 + 6000 × $0.30 + 2000 × $3.75 + 500 × $15, per million
    assert_eq!(sonnet.cost(&usage), 6_000 + 1_800 + 7_500 + 7_500);
    let mini = Price { input: 150_000, cached_input: 75_000, cache_write: 150_000, output: 600_000 };
    assert_eq!(mini.cost(&TokenCounts { prompt: 1, ..TokenCounts::default() }), 1, "never rounds to zero");
    assert_eq!(mini.cost(&TokenCounts::default()), 0);
    assert_eq!(mini.cost(&TokenCounts { prompt: 1_000_000, ..TokenCounts::default() }), 150_000);
    // More cached than prompt (a misreporting provider) does not go negative.
    let odd = TokenCounts { prompt: 10, cached: 20, ..TokenCounts::default() };
    assert_eq!(mini.cost(&odd), 2);
    let haiku = Price { input: 800_000, cached_input: 80_000, cache_write: 1_000_000, output: 4_000_000 };
    assert_eq!(haiku.worst_case(1_000, 100), 1_000 + 400, "prompt at the dearer cache-write rate");
    assert_eq!(haiku.worst_case(1, 0), 1);
    assert_eq!(haiku.worst_case(u64::MAX, u64::MAX), i64::MAX, "saturates");
}

const LOOKUP_TABLE: &str = r#"
[[price]]
vendor = "acme"
model = "m"
effective = "2025-01-01"
input = 1
output = 2

[[price]]
vendor = "acme"
model = "m"
effective = "2025-06-01"
input = 1.5
cached_input = 0.5
output = 3

[[price]]
vendor = "other"
model = "m"
effective = "2025-09-01"
input = 9
output = 9

[[price]]
vendor = "acme"
model = "m"
effective = "2099-01-01"
input = 100
output = 100
"#;

#[test]
fn lookup_prefers_override_then_vendor_then_latest_in_effect() {
    let mut table = PriceTable::parse(LOOKUP_TABLE).unwrap();
    let today = date(2026, 1, 1);
    let got = table.lookup(&["acme"], "m", today).unwrap();
    assert_eq!(got.effective, date(2025, 6, 1), "latest in effect, future entry ignored");
    assert_eq!(got.price, Price { input: 1_500_000, cached_input: 500_000, cache_write: 1_500_000, output: 3_000_000 });
    assert_eq!(table.lookup(&["api.acme.com"], "M", today).unwrap().effective, date(2025, 6, 1), "host and case");
    assert_eq!(table.lookup(&["nobody"], "m", today).unwrap().vendor, "other", "any vendor: the latest");
    assert_eq!(table.lookup(&["acme"], "m", date(2025, 3, 1)).unwrap().effective, date(2025, 1, 1));
    assert!(table.lookup(&["acme"], "m", date(2024, 1, 1)).is_none(), "nothing in effect yet");
    assert!(table.lookup(&["acme"], "unknown-model", today).is_none());

    let mine = Price { input: 1, cached_input: 1, cache_write: 1, output: 1 };
    table.with_override("m", Some("elsewhere"), mine);
    assert_eq!(table.lookup(&["acme"], "m", today).unwrap().source, PriceSource::Builtin, "scoped to another vendor");
    table.with_override("m", None, mine);
    let got = table.lookup(&["acme"], "m", today).unwrap();
    assert_eq!((got.source, got.price), (PriceSource::Override, mine));
    let newer = Price { output: 2, ..mine };
    table.with_override("m", None, newer);
    assert_eq!(table.lookup(&["x"], "m", date(2000, 1, 1)).unwrap().price, newer, "override ignores dates");
    table.with_override("new-model", Some("acme"), mine);
    assert_eq!(table.lookup(&["acme"], "NEW-MODEL", today).unwrap().price, mine);
}

#[test]
fn bad_price_files_give_one_line_errors_naming_the_model() {
    let negative = "[[price]]\nvendor = \"v\"\nmodel = \"gpt-x\"\neffective = \"2025-01-01\"\ninput = -1\noutput = 1\n";
    let e = PriceTable::parse(negative).unwrap_err();
    assert!(matches!(e, LedgerError::Price(_)));
    let text = one_line(&e);
    assert!(text.contains("gpt-x") && text.contains("input") && text.contains("negative"), "{text}");

    let typed = negative.replace("input = -1", "input = \"cheap\"");
    let text = one_line(&PriceTable::parse(&typed).unwrap_err());
    assert!(text.contains("gpt-x"), "{text}");

    let typo = negative.replace("input = -1", "input = 1\nouptut = 2");
    let text = one_line(&PriceTable::parse(&typo).unwrap_err());
    assert!(text.contains("gpt-x") && text.contains("ouptut"), "{text}");

    let date = negative.replace("input = -1", "input = 1").replace("2025-01-01", "January");
    assert!(one_line(&PriceTable::parse(&date).unwrap_err()).contains("gpt-x"));

    let inf = negative.replace("input = -1", "input = inf");
    assert!(one_line(&PriceTable::parse(&inf).unwrap_err()).contains("gpt-x"));

    let text = one_line(&PriceTable::parse("[[price]\nvendor = 1").unwrap_err());
    assert!(text.contains("line 1"), "{text}");

    let twice = format!("{}\n{}", negative.replace("-1", "1"), negative.replace("-1", "2"));
    assert!(one_line(&PriceTable::parse(&twice).unwrap_err()).contains("second price"));
}

// ---------------------------------------------------------------- reservations

#[test]
fn reservations_respect_the_monthly_cap_and_settling_releases_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, notice) = Ledger::open(dir.path().join("nested/spend.db")).unwrap();
    assert_eq!(notice, None);
    let month = Month::new(2026, 3).unwrap();
    let now = at(month, 4);
    let limits = monthly(10_000); // $0.01

    let first = ledger.begin(cloud(now, "r1", "ask", 6_000), &limits).unwrap();
    let e = ledger.begin(cloud(now + 1, "r2", "ask", 5_000), &limits).unwrap_err();
    let LedgerError::Refused(refusal) = &e else { panic!("{e}") };
    assert_eq!(refusal.limit, LimitKind::Monthly);
    assert_eq!(
        (refusal.cap_micros, refusal.spent_micros, refusal.reserved_micros, refusal.needed_micros),
        (10_000, 0, 6_000, 5_000)
    );
    let reason = one_line(&e);
    assert_eq!(
        reason,
        "the monthly budget of $0.01 has $0.0040 left (spent $0.0000, $0.0060 reserved); this request could cost up to $0.0050"
    );

    let rows = ledger.rows(month).unwrap();
    assert_eq!(rows.len(), 2);
    let refused = &rows[1];
    assert_eq!((refused.state, refused.outcome), (State::Settled, Some(Outcome::Refused)));
    assert_eq!((refused.cost_micros, refused.reserved_micros), (0, 0));
    assert_eq!(refused.note.as_deref(), Some(reason.as_str()));
    assert_eq!(rows[0].state, State::Pending);

    let report = ledger.report(month, &limits, now).unwrap();
    assert_eq!((report.spent_micros, report.reserved_micros, report.remaining_micros), (0, 6_000, Some(4_000)));

    ledger.settle(first, done(now + 100, 2_000, Outcome::Ok)).unwrap();
    let report = ledger.report(month, &limits, now).unwrap();
    assert_eq!((report.spent_micros, report.reserved_micros, report.remaining_micros), (2_000, 0, Some(8_000)));
    assert_eq!((report.requests, report.refused), (1, 1));

    let fits = ledger.begin(cloud(now + 2, "r3", "ask", 8_000), &limits).unwrap();
    assert!(matches!(ledger.begin(cloud(now + 3, "r4", "ask", 1), &limits), Err(LedgerError::Refused(_))));
    // Local requests reserve nothing and are never refused.
    let mine = ledger.begin(local(now + 4, "r4", "ask"), &monthly(0)).unwrap();
    ledger.settle(mine, done(now + 5, 0, Outcome::Ok)).unwrap();
    ledger.settle(fits, done(now + 6, 8_000, Outcome::Ok)).unwrap();
    // A new month starts from zero.
    let next = ledger.begin(cloud(at(month.next(), 0), "r5", "ask", 10_000), &limits).unwrap();
    assert_eq!(next.reserved_micros(), 10_000);
    assert!(ledger.begin(cloud(now, "r6", "ask", -1), &limits).is_err());
}

#[test]
fn per_request_and_daily_caps() {
    let ledger = Ledger::in_memory().unwrap();
    let month = Month::new(2026, 5).unwrap();
    let per = Limits { per_request_micros: Some(1_000), ..Limits::default() };
    let e = ledger.begin(cloud(at(month, 0), "r", "ask", 2_000), &per).unwrap_err();
    let LedgerError::Refused(r) = &e else { panic!("{e}") };
    assert_eq!(r.limit, LimitKind::PerRequest);
    assert_eq!(one_line(&e), "this request could cost up to $0.0020, over the per-request limit of $0.0010");
    let ok = ledger.begin(cloud(at(month, 0), "r", "ask", 1_000), &per).unwrap();
    ledger.settle(ok, done(at(month, 0), 900, Outcome::Ok)).unwrap();

    let daily = Limits { daily_micros: Some(3_000), monthly_micros: Some(1_000_000), ..Limits::default() };
    let a = ledger.begin(cloud(at(month, 1), "r", "ask", 2_500), &daily).unwrap();
    let e = ledger.begin(cloud(at(month, 1) + HOUR, "r", "ask", 1_000), &daily).unwrap_err();
    let LedgerError::Refused(r) = &e else { panic!("{e}") };
    assert_eq!((r.limit, r.reserved_micros), (LimitKind::Daily, 2_500));
    assert!(one_line(&e).starts_with("the daily budget of $0.003"), "{e}");
    let b = ledger.begin(cloud(at(month, 2), "r", "ask", 1_000), &daily).unwrap();
    ledger.settle(a, done(at(month, 1), 100, Outcome::Ok)).unwrap();
    ledger.settle(b, done(at(month, 2), 100, Outcome::Ok)).unwrap();
    let report = ledger.report(month, &daily, at(month, 30)).unwrap();
    assert_eq!((report.spent_micros, report.refused, report.requests), (1_100, 2, 3));
}

// ---------------------------------------------------------------- concurrency

/// Each worker reserves `reserve`, waits, and settles at a real cost at most that.
fn hammer(ledger: &Ledger, i: u64, month: Month, limits: &Limits, granted: &AtomicU64, refused: &AtomicU64) {
    const RESERVE: i64 = 1_000;
    match ledger.begin(cloud(at(month, (i % 20) as i64), &format!("run-{i}"), "ask", RESERVE), limits) {
        Ok(ticket) => {
            granted.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1 + i % 3));
            let cost = RESERVE - (i as i64 % 7) * 100;
            ledger.settle(ticket, done(at(month, 0), cost, Outcome::Ok)).unwrap();
        }
        Err(LedgerError::Refused(_)) => {
            refused.fetch_add(1, Ordering::SeqCst);
        }
        Err(e) => panic!("{e}"),
    }
}

fn check_after_hammer(ledger: &Ledger, month: Month, limits: &Limits, granted: u64, refused: u64) {
    let cap = limits.monthly_micros.unwrap();
    let report = ledger.report(month, limits, at(month, 40)).unwrap();
    assert!(report.spent_micros <= cap, "spent {} over cap {cap}", report.spent_micros);
    assert!(report.spent_micros > cap / 2, "most of the budget was used: {}", report.spent_micros);
    assert_eq!(granted + refused, 200);
    assert!(granted >= 30 && refused > 0, "granted {granted}, refused {refused}");
    assert_eq!((report.requests, report.refused), (granted, refused));
    assert_eq!(report.reserved_micros, 0);
    let rows = ledger.rows(month).unwrap();
    assert_eq!(rows.len(), 200);
    assert!(rows.iter().all(|r| r.state == State::Settled), "no pending rows left");
    assert_eq!(rows.iter().map(|r| r.id).collect::<HashSet<_>>().len(), 200, "ids unique");
}

#[test]
fn two_hundred_threads_on_one_ledger_never_cross_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path().join("spend.db")).unwrap();
    let ledger = Arc::new(ledger);
    let month = Month::new(2026, 2).unwrap();
    let limits = monthly(30_500);
    let (granted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let threads: Vec<_> = (0..200u64)
        .map(|i| {
            let (ledger, granted, refused) = (ledger.clone(), granted.clone(), refused.clone());
            std::thread::spawn(move || hammer(&ledger, i, month, &limits, &granted, &refused))
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    check_after_hammer(&ledger, month, &limits, granted.load(Ordering::SeqCst), refused.load(Ordering::SeqCst));
}

#[test]
fn four_connections_on_one_file_never_cross_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spend.db");
    let month = Month::new(2026, 2).unwrap();
    let limits = monthly(30_500);
    let (granted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let threads: Vec<_> = (0..4u64)
        .map(|c| {
            let (path, granted, refused) = (path.clone(), granted.clone(), refused.clone());
            std::thread::spawn(move || {
                let (ledger, _) = Ledger::open(&path).unwrap();
                let ledger = Arc::new(ledger);
                let workers: Vec<_> = (0..50u64)
                    .map(|i| {
                        let (ledger, granted, refused) = (ledger.clone(), granted.clone(), refused.clone());
                        std::thread::spawn(move || hammer(&ledger, c * 50 + i, month, &limits, &granted, &refused))
                    })
                    .collect();
                workers.into_iter().for_each(|t| t.join().unwrap());
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let (ledger, _) = Ledger::open(&path).unwrap();
    check_after_hammer(&ledger, month, &limits, granted.load(Ordering::SeqCst), refused.load(Ordering::SeqCst));
}

/// The cap check keeps running totals in memory; what another connection (another process)
/// spent or reserved meanwhile must still count, and so must a row changed behind its back.
#[test]
fn a_cap_check_sees_what_another_connection_spent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spend.db");
    let month = Month::new(2026, 2).unwrap();
    let limits = monthly(1_000);
    let (a, _) = Ledger::open(&path).unwrap();
    let (b, _) = Ledger::open(&path).unwrap();
    let t = a.begin(cloud(at(month, 2), "a1", "chat", 600), &limits).unwrap();
    a.settle(t, done(at(month, 2) + 1, 600, Outcome::Ok)).unwrap();
    // B reserves 300: 900 of 1,000 in use. A, whose totals said 600, must now refuse 200.
    let _held = b.begin(cloud(at(month, 2), "b1", "chat", 300), &limits).unwrap();
    let e = a.begin(cloud(at(month, 2), "a2", "chat", 200), &limits).unwrap_err();
    assert!(matches!(e, frugal_ledger::LedgerError::Refused(_)), "{e}");
    // A raw change by a third connection counts too: the 600 was really 100.
    raw(&path).execute("UPDATE requests SET cost_micros = 100 WHERE run_id = 'a1'", []).unwrap();
    let _a3 = a.begin(cloud(at(month, 2), "a3", "chat", 200), &limits).unwrap();
    // Its own reservations count at once, without another connection's commit.
    let e = a.begin(cloud(at(month, 2), "a4", "chat", 500), &limits).unwrap_err();
    assert!(e.to_string().contains("monthly budget"), "{e}");
}

// ---------------------------------------------------------------- crash recovery

fn dead_pid() -> i64 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    i64::from(pid)
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat`, field 22), as
/// the ledger records a row's owner.
fn start_of(pid: u32) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 1..].split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// A pid reused: by the next run of a server that always gets the same one (PID 1 in a
/// container, here this test's own pid), or by another process that is alive now (here the
/// test's parent). The killed owner's row is charged at its worst case all the same, where
/// before it stayed reserved for as long as the pid's new holder lived.
#[test]
fn a_killed_owners_reservation_is_charged_even_when_its_pid_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spend.db");
    let month = Month::new(2026, 6).unwrap();
    let (ledger, _) = Ledger::open(&path).unwrap();
    let mine = ledger.begin(cloud(at(month, 3), "r0", "ask", 1_000), &monthly(1_000_000)).unwrap();
    let same_pid = ledger.begin(cloud(at(month, 3), "r1", "ask", 2_000), &monthly(1_000_000)).unwrap();
    let other_pid = ledger.begin(cloud(at(month, 3), "r2", "ask", 4_000), &monthly(1_000_000)).unwrap();
    let parent = i64::from(std::os::unix::process::parent_id());
    let db = raw(&path);
    // Owned by an earlier process of this pid (it started at another time).
    db.execute("UPDATE requests SET owner_start = owner_start - 7 WHERE id = ?1", [same_pid.id()]).unwrap();
    // Owned by a process of the parent's pid that started at another time than the parent.
    db.execute("UPDATE requests SET owner_pid = ?1, owner_start = 1 WHERE id = ?2", [parent, other_pid.id()]).unwrap();

    let (reopened, notice) = Ledger::open(&path).unwrap();
    assert_eq!(notice.as_deref(), Some("settled 2 interrupted requests at their worst case ($0.0060)"));
    for (ticket, cost) in [(&same_pid, 2_000), (&other_pid, 4_000)] {
        let row = reopened.row(ticket.id()).unwrap().unwrap();
        assert_eq!((row.state, row.outcome, row.cost_micros), (State::Settled, Some(Outcome::Interrupted), cost));
    }
    // This process's own row stays pending for it to settle.
    let id = mine.id();
    assert_eq!(reopened.row(id).unwrap().unwrap().state, State::Pending);
    ledger.settle(mine, done(at(month, 3), 10, Outcome::Ok)).unwrap();
}

#[test]
fn a_dead_process_reservation_is_charged_at_its_worst_case_and_cannot_be_settled_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spend.db");
    let month = Month::new(2026, 6).unwrap();
    let (ledger, _) = Ledger::open(&path).unwrap();
    let orphan = ledger.begin(cloud(at(month, 3), "r1", "ask", 4_000), &monthly(1_000_000)).unwrap();
    let id = orphan.id();
    let pid = dead_pid();
    raw(&path).execute("UPDATE requests SET owner_pid = ?1 WHERE id = ?2", [pid, id]).unwrap();

    let (reopened, notice) = Ledger::open(&path).unwrap();
    assert_eq!(notice.as_deref(), Some("settled 1 interrupted request at its worst case ($0.0040)"));
    let row = reopened.row(id).unwrap().unwrap();
    assert_eq!((row.state, row.outcome, row.cost_micros), (State::Settled, Some(Outcome::Interrupted), 4_000));
    assert!(row.note.as_deref().unwrap().starts_with("interrupted"));

    // The original process "comes back" with its ticket: refused, and the row is unchanged.
    let e = ledger.settle(orphan, done(at(month, 3), 10, Outcome::Ok)).unwrap_err();
    assert!(matches!(e, LedgerError::NotPending(i) if i == id), "{e}");
    assert_eq!(reopened.row(id).unwrap().unwrap(), row);
    let report = reopened.report(month, &Limits::default(), at(month, 40)).unwrap();
    assert_eq!((report.spent_micros, report.failed), (4_000, 1));
}

#[test]
fn a_live_process_reservation_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spend.db");
    let month = Month::new(2026, 6).unwrap();
    let (ledger, _) = Ledger::open(&path).unwrap();
    let mine = ledger.begin(cloud(at(month, 3), "r1", "ask", 4_000), &monthly(1_000_000)).unwrap();
    // Another live process (init, PID 1) owns a second one.
    let other = ledger.begin(cloud(at(month, 3), "r2", "ask", 1_000), &monthly(1_000_000)).unwrap();
    raw(&path)
        .execute("UPDATE requests SET owner_pid = 1, owner_start = ?1 WHERE id = ?2", [start_of(1), other.id()])
        .unwrap();

    let (second, notice) = Ledger::open(&path).unwrap();
    assert_eq!(notice, None);
    assert_eq!(second.row(mine.id()).unwrap().unwrap().state, State::Pending);
    assert_eq!(second.row(other.id()).unwrap().unwrap().state, State::Pending);
    second.settle(mine, done(at(month, 3), 1_234, Outcome::Ok)).unwrap();
    assert_eq!(ledger.row(1).unwrap().unwrap().cost_micros, 1_234);
}

#[test]
fn settling_twice_is_refused_without_changing_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spend.db");
    let (ledger, _) = Ledger::open(&path).unwrap();
    let month = Month::new(2026, 6).unwrap();
    let ticket = ledger.begin(cloud(at(month, 0), "r", "ask", 500), &Limits::default()).unwrap();
    let id = ticket.id();
    // `Ticket` is not Clone, so a second settle of the same ticket cannot compile; the row
    // being settled by someone else (here: directly) is the runtime case.
    raw(&path)
        .execute("UPDATE requests SET state = 'settled', outcome = 'ok', cost_micros = 7 WHERE id = ?1", [id])
        .unwrap();
    let before = ledger.row(id).unwrap().unwrap();
    let e = ledger.settle(ticket, done(at(month, 0), 400, Outcome::Failed)).unwrap_err();
    assert_eq!(
        one_line(&e),
        format!("request {id} is no longer pending (already settled, or charged as interrupted after a restart)")
    );
    assert_eq!(ledger.row(id).unwrap().unwrap(), before);
}

// ---------------------------------------------------------------- migrations and damage

/// A ledger written before outcomes existed (schema 2) upgrades in place: its rows stay, its
/// spend reads the same, and feedback can be recorded on its old runs.
#[test]
fn an_old_ledger_upgrades_in_place_and_takes_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spend.db");
    let month = Month::new(2026, 6).unwrap();
    {
        let old = raw(&path);
        for m in &MIGRATIONS[..2] {
            old.execute_batch(m).unwrap();
        }
        old.pragma_update(None, "user_version", 2).unwrap();
        old.execute(
            "INSERT INTO requests (started_at, finished_at, run_id, task, route, provider, model, reserved_micros,
                cost_micros, state, outcome, owner_pid) VALUES (?1, ?1, 'old-run', 'draft', 'cloud', 'sim', 'm', 900,
                700, 'settled', 'ok', 1)",
            [at(month, 1)],
        )
        .unwrap();
    }
    let (ledger, _) = Ledger::open(&path).unwrap();
    let version: i64 = raw(&path).query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let report = ledger.report(month, &Limits::default(), at(month, 2)).unwrap();
    assert_eq!((report.spent_micros, report.outcomes.rated_runs), (700, 0));
    ledger.record_feedback("old-run", frugal_ledger::Feedback::Saved, None, at(month, 2)).unwrap();
    let report = ledger.report(month, &Limits::default(), at(month, 2)).unwrap();
    assert_eq!((report.outcomes.useful, report.outcomes.cost_per_useful_micros), (1, Some(700)));
}

#[test]
fn migrations_set_the_schema_version_and_newer_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spend.db");
    drop(Ledger::open(&path).unwrap());
    let version: i64 = raw(&path).query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let mode: String = raw(&path).query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    drop(Ledger::open(&path).unwrap()); // reopening is a no-op

    raw(&path).pragma_update(None, "user_version", 99).unwrap();
    let e = Ledger::open(&path).unwrap_err();
    assert!(matches!(e, LedgerError::Newer { found: 99, .. }));
    let text = one_line(&e);
    assert!(
        text.starts_with("the spend ledger was written by a newer Frugal (schema 99); refusing to touch it"),
        "{text}"
    );
}

#[test]
fn a_damaged_file_is_reported_with_its_path_and_never_changed() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("garbage.db", b"this is my spending history, not a database\n".repeat(200)),
        ("truncated.db", [b"SQLite format 3\0".as_slice(), &[0xAB; 5000]].concat()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let e = Ledger::open(&path).unwrap_err();
        assert!(matches!(e, LedgerError::Corrupt { .. }), "{name}: {e}");
        let text = one_line(&e);
        assert!(text.contains(&path.display().to_string()) && text.contains("untouched"), "{text}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} unchanged");
    }
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "no side files left: {names:?}");
}

// ---------------------------------------------------------------- report and export

#[test]
fn month_report_counts_savings_runs_days_and_projection() {
    let ledger = Ledger::in_memory().unwrap();
    let march = Month::parse("2026-03").unwrap();
    let april = Month::parse("2026-04").unwrap();
    let cap = monthly(100_000);
    let settle_local = |req: NewRequest, reference: i64, outcome: Outcome| {
        let t = ledger.begin(req, &cap).unwrap();
        let s = Settlement { reference_cost_micros: Some(reference), ..done(0, 0, outcome) };
        ledger.settle(t, s).unwrap();
    };
    let settle_cloud = |req: NewRequest, cost: i64| {
        let t = ledger.begin(req, &cap).unwrap();
        ledger.settle(t, done(0, cost, Outcome::Ok)).unwrap();
    };
    settle_local(local(at(march, 0), "r1", "ask"), 500, Outcome::Ok);
    let escalated = NewRequest {
        escalation: Some("local answer failed its check".into()),
        app: None,
        ..cloud(at(march, 0) + 1, "r1", "ask", 3_000)
    };
    settle_cloud(escalated, 2_000);
    settle_local(local(at(march, 1), "r2", "ask"), 300, Outcome::Failed);
    settle_cloud(cloud(at(march, 1), "r3", "summarize", 1_500), 1_000);
    assert!(ledger.begin(cloud(at(march, 2), "r4", "ask", 200_000), &cap).is_err());
    settle_cloud(cloud(at(april, 0), "r5", "ask", 9_000), 7_777);

    let report = ledger.report(march, &cap, at(april, 20)).unwrap();
    assert_eq!(report.month, "2026-03");
    assert_eq!((report.spent_micros, report.reserved_micros, report.remaining_micros), (3_000, 0, Some(97_000)));
    assert_eq!((report.requests, report.local_requests, report.cloud_requests), (4, 2, 2));
    assert_eq!((report.refused, report.failed), (1, 1));
    assert!((report.local_share - 0.5).abs() < 1e-9);
    assert_eq!((report.saved_micros, report.all_cloud_micros), (800, 3_800));
    assert_eq!(report.projected_micros, None, "past month");
    assert_eq!((report.completed_runs, report.cost_per_completed_run_micros), (2, Some(1_500)));

    let ask = report.by_task.iter().find(|t| t.task == "ask").unwrap();
    assert_eq!((ask.runs, ask.requests, ask.local_requests, ask.cloud_requests), (2, 3, 2, 1));
    assert_eq!((ask.cost_micros, ask.cost_per_run_micros), (2_000, 1_000));
    let summarize = report.by_task.iter().find(|t| t.task == "summarize").unwrap();
    assert_eq!((summarize.runs, summarize.cost_per_run_micros), (1, 1_000));
    assert_eq!(report.by_task[0].task, "ask", "dearest first");

    assert_eq!(report.by_provider[0].provider, "openai");
    assert_eq!((report.by_provider[0].requests, report.by_provider[0].cost_micros), (2, 3_000));
    assert_eq!((report.by_provider[1].route, report.by_provider[1].requests), (Route::Local, 2));
    assert_eq!(report.by_provider[1].prompt_tokens, 200);

    let days: Vec<_> =
        report.daily.iter().map(|d| (d.day.as_str(), d.provider.as_str(), d.cost_micros, d.requests)).collect();
    assert_eq!(
        days,
        [
            ("2026-03-01", "local", 0, 1),
            ("2026-03-01", "openai", 2_000, 1),
            ("2026-03-02", "local", 0, 1),
            ("2026-03-02", "openai", 1_000, 1),
        ]
    );
    assert_eq!(report.escalations.len(), 1);
    assert_eq!(
        (report.escalations[0].reason.as_str(), report.escalations[0].count),
        ("local answer failed its check", 1)
    );

    // The current month is projected once an hour has passed.
    let (start, end) = april.bounds_ms();
    let now = start + 10 * DAY;
    let current = ledger.report(april, &cap, now).unwrap();
    assert_eq!(current.spent_micros, 7_777);
    assert_eq!(current.projected_micros, Some((7_777i128 * i128::from(end - start) / i128::from(10 * DAY)) as i64));
    assert_eq!(ledger.report(april, &cap, start + HOUR / 2).unwrap().projected_micros, None, "too early");
    assert_eq!(ledger.report(Month::new(2026, 7).unwrap(), &cap, now).unwrap().requests, 0);
    let json = serde_json_like(&current);
    assert!(json.contains("2026-04"));
}

/// MonthReport is Serialize; check it through TOML (serde_json is not a dependency).
fn serde_json_like(report: &frugal_ledger::MonthReport) -> String {
    #[derive(serde::Serialize)]
    struct Wrap<'a> {
        report: &'a frugal_ledger::MonthReport,
    }
    toml::to_string(&Wrap { report }).unwrap()
}

#[test]
fn csv_export_quotes_notes_and_writes_exact_dollars() {
    let ledger = Ledger::in_memory().unwrap();
    let month = Month::new(2026, 8).unwrap();
    let t = ledger.begin(cloud(at(month, 0), "r1", "ask", 2_500), &Limits::default()).unwrap();
    let note = Some("bad \"gateway\", retry later\nsecond line dropped".to_string());
    ledger.settle(t, Settlement { note, ..done(at(month, 0) + 10, 1_234, Outcome::Failed) }).unwrap();
    let mut rows = ledger.rows(month).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].note.as_deref(), Some("bad \"gateway\", retry later"));
    let mut other = rows[0].clone();
    other.escalation = Some("two\nlines".into());
    rows.push(other);

    let mut out = Vec::new();
    write_csv(&rows, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("id,started_at,started_at_ms,"), "{header}");
    let columns = header.split(',').count();
    let first = lines.next().unwrap();
    assert!(first.contains(",\"bad \"\"gateway\"\", retry later\","), "{first}");
    assert!(first.contains(",0.002500,0.001234,,50,settled,failed,"), "{first}");
    assert!(first.contains(",r1,ask,cloud,openai,gpt-4o-mini,100,0,0,10,0,"), "{first}");
    assert!(text.contains(",\"two\nlines\","), "{text}");
    // Unquoted commas: exactly one per column boundary once quoted fields are removed.
    let unquoted: String = first.split('"').step_by(2).collect();
    assert_eq!(unquoted.matches(',').count(), columns - 1);
}

#[test]
fn months_parse_strictly() {
    assert_eq!(Month::parse("2026-11").unwrap().to_string(), "2026-11");
    assert_eq!(Month::parse(" 2026-1 ").unwrap().to_string(), "2026-01");
    for bad in ["2026-13", "2026", "26-11", "2026-00", "2026/11", "november", "2026-1x"] {
        let e = Month::parse(bad).unwrap_err();
        assert!(one_line(&e).contains("2026-11"), "{bad}: {e}");
    }
    let month = Month::new(2026, 12).unwrap();
    assert_eq!(month.next(), Month::new(2027, 1).unwrap());
    let (start, end) = month.bounds_ms();
    assert_eq!(Month::containing(start), month);
    assert_eq!(Month::containing(end - 1), month);
    assert_eq!(Month::containing(end), month.next());
}

/// The ledger's own connection never checkpoints (a request would pay the `fsync`); its
/// checkpointer thread does, shortly after writes: the rows reach the main database file
/// while the ledger is still open, and the WAL is reused rather than growing without end.
#[test]
fn the_wal_is_checkpointed_off_the_request_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let (ledger, _) = Ledger::open(&path).unwrap();
    let main_size = || std::fs::metadata(&path).unwrap().len();
    let before = main_size();
    let month = Month::containing(chrono::Utc::now().timestamp_millis());
    // Few enough pages that SQLite's own automatic checkpoint (at 1,000) would not run.
    for i in 0..20 {
        let t =
            ledger.begin(cloud(at(month, 1), &format!("run-{i}"), "gateway", 100), &monthly(1_000_000_000)).unwrap();
        ledger.settle(t, done(at(month, 1), 90, Outcome::Ok)).unwrap();
    }
    let start = std::time::Instant::now();
    while main_size() <= before {
        assert!(start.elapsed() < Duration::from_secs(5), "the rows never reached the database file");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(ledger);
    assert!(!dir.path().join("ledger.sqlite3-wal").exists(), "closing checkpointed and removed the WAL");
}

/// Under contention reservations and settlements share write transactions (group commit),
/// and the cap still holds to the micro-dollar: each reservation in a batch is checked
/// against the ones before it.
#[test]
fn writes_under_contention_share_transactions_and_the_cap_holds_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path().join("spend.db")).unwrap();
    let ledger = Arc::new(ledger);
    let month = Month::new(2026, 2).unwrap();
    // Room for 9,000 of the 12,800 reservations of 10 µ$ each, once each settles at 5.
    let limits = monthly(9_000 * 10 / 2 + 5);
    let (granted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let threads: Vec<_> = (0..64u64)
        .map(|i| {
            let (ledger, granted, refused) = (ledger.clone(), granted.clone(), refused.clone());
            std::thread::spawn(move || {
                for j in 0..200 {
                    match ledger.begin(cloud(at(month, 1), &format!("r{i}-{j}"), "ask", 10), &limits) {
                        Ok(t) => {
                            granted.fetch_add(1, Ordering::SeqCst);
                            ledger.settle(t, done(at(month, 1), 5, Outcome::Ok)).unwrap();
                        }
                        Err(LedgerError::Refused(_)) => {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let (granted, refused) = (granted.load(Ordering::SeqCst), refused.load(Ordering::SeqCst));
    let report = ledger.report(month, &limits, at(month, 40)).unwrap();
    assert_eq!(granted + refused, 12_800);
    assert_eq!(report.spent_micros, granted as i64 * 5);
    assert!(report.spent_micros <= limits.monthly_micros.unwrap());
    // Refused only when it would not fit: at the last refusal at most 63 other reservations
    // (10 each) were pending, and each settled at half, so at most 10 + 315 is left unused.
    let cap = limits.monthly_micros.unwrap();
    assert!(report.spent_micros > cap - 10 - 315, "spent {} of {cap}", report.spent_micros);
    assert_eq!(report.reserved_micros, 0);
    let stats = ledger.group_stats();
    assert_eq!(stats.writes, granted * 2 + refused);
    assert!(
        stats.commits * 2 < stats.writes,
        "64 threads wrote {} rows in {} transactions",
        stats.writes,
        stats.commits
    );
}

/// Tasks on an async runtime (the gateway's meters) await their writes and share batches
/// with threads that block on theirs: 256 tasks on two workers and 16 threads against one
/// cap. The cap holds exactly, every row is settled, and batches are shared.
#[test]
fn tasks_awaiting_their_writes_share_batches_with_threads_and_the_cap_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = Ledger::open(dir.path().join("spend.db")).unwrap();
    let ledger = Arc::new(ledger);
    let month = Month::new(2026, 2).unwrap();
    // 272 callers × 40 reservations of 10 µ$, settled at 5: room for 6,000 of 10,880.
    let limits = monthly(6_000 * 5 + 5);
    let (granted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let count = |r: Result<frugal_ledger::Ticket, LedgerError>, granted: &AtomicU64, refused: &AtomicU64| match r {
        Ok(t) => {
            granted.fetch_add(1, Ordering::SeqCst);
            Some(t)
        }
        Err(LedgerError::Refused(_)) => {
            refused.fetch_add(1, Ordering::SeqCst);
            None
        }
        Err(e) => panic!("{e}"),
    };
    let threads: Vec<_> = (0..16u64)
        .map(|i| {
            let (ledger, granted, refused) = (ledger.clone(), granted.clone(), refused.clone());
            std::thread::spawn(move || {
                for j in 0..40 {
                    let begun = ledger.begin(cloud(at(month, 1), &format!("t{i}-{j}"), "ask", 10), &limits);
                    if let Some(t) = count(begun, &granted, &refused) {
                        ledger.settle(t, done(at(month, 1), 5, Outcome::Ok)).unwrap();
                    }
                }
            })
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..256u64)
            .map(|i| {
                let (ledger, granted, refused) = (ledger.clone(), granted.clone(), refused.clone());
                tokio::spawn(async move {
                    for j in 0..40 {
                        let begun =
                            ledger.begin_async(cloud(at(month, 1), &format!("a{i}-{j}"), "ask", 10), &limits).await;
                        if let Some(t) = count(begun, &granted, &refused) {
                            ledger.settle_async(t, done(at(month, 1), 5, Outcome::Ok)).await.unwrap();
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    threads.into_iter().for_each(|t| t.join().unwrap());
    let (granted, refused) = (granted.load(Ordering::SeqCst), refused.load(Ordering::SeqCst));
    assert_eq!(granted + refused, 272 * 40);
    let cap = limits.monthly_micros.unwrap();
    let report = ledger.report(month, &limits, at(month, 40)).unwrap();
    assert_eq!(report.spent_micros, granted as i64 * 5);
    assert!(report.spent_micros <= cap, "spent {} over cap {cap}", report.spent_micros);
    assert!(refused > 0 && report.spent_micros > cap / 2, "granted {granted}, refused {refused}");
    assert_eq!(report.reserved_micros, 0);
    let rows = ledger.rows(month).unwrap();
    assert_eq!(rows.len() as u64, granted + refused);
    assert!(rows.iter().all(|r| r.state == State::Settled), "no pending rows left");
    let stats = ledger.group_stats();
    assert_eq!(stats.writes, granted * 2 + refused);
    assert!(stats.commits * 2 < stats.writes, "{} rows in {} transactions", stats.writes, stats.commits);
}

/// The backup due after a settled cloud request is taken by the checkpointer's thread while
/// the ledger stays open (its `VACUUM INTO` never holds the requests' connection), and it
/// holds the settled row; the settlements after it are in the backup taken at close.
#[test]
fn backups_after_requests_are_taken_while_open_and_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let backup = frugal_ledger::backup_path(&path);
    // A new ledger backs itself up as it opens; one opened again the same day does not.
    drop(Ledger::open(&path).unwrap());
    let (ledger, _) = Ledger::open(&path).unwrap();
    let month = Month::containing(chrono::Utc::now().timestamp_millis());
    let rows_in = |file: &Path| -> i64 {
        let conn = rusqlite::Connection::open(file).unwrap();
        conn.query_row("SELECT COUNT(*) FROM requests WHERE state = 'settled'", [], |r| r.get(0)).unwrap_or(0)
    };
    let request = |i: usize| {
        let t = ledger.begin(cloud(at(month, 1), &format!("run-{i}"), "gateway", 100), &monthly(1_000_000)).unwrap();
        ledger.settle(t, done(at(month, 1), 90, Outcome::Ok)).unwrap();
    };
    request(0);
    let start = std::time::Instant::now();
    while !backup.exists() || rows_in(&backup) < 1 {
        assert!(start.elapsed() < Duration::from_secs(5), "no backup was taken while the ledger was open");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Within the next 30 s no other backup is asked for; closing takes the last one.
    for i in 1..5 {
        request(i);
    }
    drop(ledger);
    assert_eq!(rows_in(&backup), 5, "the backup at close holds every settled row");
}

/// A task that stops waiting for its write (its future dropped: a timeout, a runtime
/// shutting down) never leaves the queue without a writer, even when it had just been told
/// to write the next batch; its write is still made by the next caller's batch.
#[test]
fn a_cancelled_task_never_stalls_the_queue_and_its_write_is_still_made() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let (ledger, _) = Ledger::open(&path).unwrap();
    let ledger = Arc::new(ledger);
    let month = Month::containing(chrono::Utc::now().timestamp_millis());
    let limits = monthly(1_000_000);
    // Another process holds the write lock: the first caller's batch waits on it.
    let other = raw(&path);
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let first = {
        let ledger = ledger.clone();
        std::thread::spawn(move || ledger.begin(cloud(at(month, 1), "first", "gateway", 10), &limits).unwrap())
    };
    std::thread::sleep(Duration::from_millis(200));
    // A task queues its reservation behind that batch; its runtime is then not driven.
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let task = {
        let ledger = ledger.clone();
        runtime.spawn(async move { ledger.begin_async(cloud(at(month, 1), "cancelled", "gateway", 10), &limits).await })
    };
    runtime.block_on(tokio::task::yield_now());
    other.execute_batch("COMMIT").unwrap();
    let _first = first.join().unwrap();
    // The first batch is written and its writer told the task to write the next; the task
    // goes away without ever running again.
    drop(task);
    drop(runtime);
    let (done, answer) = std::sync::mpsc::channel();
    {
        let ledger = ledger.clone();
        std::thread::spawn(move || {
            let _ = done.send(ledger.begin(cloud(at(month, 1), "next", "gateway", 10), &limits).map(drop));
        });
    }
    let next = answer.recv_timeout(Duration::from_secs(10)).expect("the next write waited for a writer that was gone");
    next.unwrap();
    let mut runs: Vec<String> = ledger.rows(month).unwrap().into_iter().map(|r| r.run_id).collect();
    runs.sort();
    assert_eq!(runs, ["cancelled", "first", "next"], "the cancelled task's reservation was still written");
}

pub mod apps;
pub mod ask;
pub mod batches;
pub mod bench;
pub mod bench_index;
pub mod bench_router;
pub mod budget;
pub mod chat;
pub mod draft;
pub mod embed;
pub mod eval;
pub mod feedback;
pub mod hw;
pub mod index;
pub mod keys;
pub mod models;
pub mod search;
pub mod serve;
pub mod spend;
pub mod summarize;
pub mod transcribe;

use std::path::{Path, PathBuf};

use frugal_core::{Assistant, DryRun, RouteOptions, RouteReport};

/// The global flags.
#[derive(Debug)]
pub struct Globals {
    pub config: Option<PathBuf>,
    pub model: Option<PathBuf>,
    pub json: bool,
    pub route: RouteOptions,
}

impl Globals {
    /// Opens the assistant and says once if the ledger settled requests a crash left open.
    pub fn open(&self) -> anyhow::Result<Assistant> {
        open(self.config.as_deref(), self.model.clone())
    }
}

/// Says how an answer was served when it matters: a cloud answer (who, what it cost, why)
/// or a note about the cloud not being used. A plain local answer says nothing.
pub fn print_route(assistant: &Assistant, route: &RouteReport) {
    if let Some(n) = assistant.spend().take_notice() {
        eprintln!("frugal: {n}");
    }
    if route.route == "cloud" {
        eprintln!(
            "frugal: answered by {} ({}) for ${:.4}{}",
            route.provider,
            route.model,
            route.cost_usd,
            route.escalated.as_ref().map(|w| format!(" — escalated: {w}")).unwrap_or_default()
        );
    }
    if let Some(n) = &route.note {
        eprintln!("frugal: note: {n}");
    }
}

/// Marks a failed answer as failed: what is wrong in plain words, then the next steps this
/// setup offers. `what` names the answer ("this draft"); `estimate` prices the cloud run of
/// the same task without sending anything, asked only when the cloud is a next step.
pub fn print_verdict(
    assistant: &Assistant,
    what: &str,
    quality: &frugal_core::tasks::Quality,
    route: &RouteReport,
    estimate: impl FnOnce() -> frugal_core::Result<Option<DryRun>>,
) {
    let mut estimate = Some(estimate);
    use frugal_core::verdict::NextStep;
    let v = assistant.verdict(quality, route);
    if !v.failed {
        return;
    }
    eprintln!("frugal: {what} failed its checks:");
    for p in &v.problems {
        eprintln!("frugal:   - it {p}");
    }
    for step in &v.next {
        match step {
            NextStep::AskCloud => match estimate.take().map_or(Ok(None), |f| f()) {
                Ok(Some(d)) => eprintln!(
                    "frugal: next: ask the cloud with --cloud: {} ({}), ≈ ${:.4}, at most ${:.4}",
                    d.provider, d.model, d.estimated_usd, d.worst_case_usd
                ),
                Ok(None) => {}
                Err(e) => eprintln!("frugal: next: the cloud cannot take it now: {e}"),
            },
            NextStep::AddProvider => eprintln!(
                "frugal: next: add a cloud provider ([[providers]] in {}, then `frugal keys set NAME`, or Settings → Providers in the tray app) so a failed answer can go to the cloud",
                assistant.paths().config_file.display()
            ),
            NextStep::PullModel { name, display, installed: true } => {
                eprintln!("frugal: next: `frugal models use {name}`: {display}, the model `frugal hw` recommends for this machine")
            }
            NextStep::PullModel { name, display, installed: false } => {
                eprintln!("frugal: next: `frugal models pull {name}`: {display}, the model `frugal hw` recommends for this machine")
            }
        }
    }
}

/// The dry run of a task's cloud route: what "ask the cloud" would cost.
pub fn cloud_estimate<T>(
    g: &Globals,
    run: impl FnOnce(&RouteOptions) -> frugal_core::Result<frugal_core::Routed<T>>,
) -> frugal_core::Result<Option<DryRun>> {
    let opts = RouteOptions { cloud: true, dry_run: true, ..g.route.clone() };
    Ok(match run(&opts)? {
        frugal_core::Routed::DryRun(d) => Some(*d),
        frugal_core::Routed::Done(..) | frugal_core::Routed::Queued(..) => None,
    })
}

/// Prints what `--dry-run` would send: the request as JSON on stdout, the cost on stderr.
pub fn print_dry_run(d: &DryRun) -> anyhow::Result<std::process::ExitCode> {
    print_json(d)?;
    eprintln!(
        "frugal: dry run — would send to {} ({}): ≈ ${:.4} (≈ {} prompt tokens, up to {} output tokens; worst case ${:.4}); nothing was sent",
        d.provider, d.model, d.estimated_usd, d.prompt_tokens_estimate, d.max_output_tokens, d.worst_case_usd
    );
    if let Some(n) = &d.note {
        eprintln!("frugal: note: {n}");
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// A JSON object with `route` added.
pub fn with_route<T: serde::Serialize>(value: &T, route: &RouteReport) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(value)?;
    if let Some(o) = v.as_object_mut() {
        // Top level too: `frugal feedback RUN_ID good|bad` takes it from here.
        o.insert("run_id".into(), route.run_id.clone().into());
        o.insert("route".into(), serde_json::to_value(route)?);
    }
    Ok(v)
}

/// Opens the assistant with the global flags.
pub fn open(config: Option<&Path>, model: Option<PathBuf>) -> anyhow::Result<Assistant> {
    Ok(Assistant::open(config, model)?)
}

/// A task's result, or `None` after telling the user it was cancelled (exit with
/// [`CANCELLED`]).
pub fn unless_cancelled<T>(result: frugal_core::Result<T>) -> anyhow::Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(frugal_core::CoreError::Task(frugal_core::tasks::TaskError::Cancelled)) => {
            eprintln!("frugal: cancelled");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The exit code after Ctrl-C, as shells expect.
pub const CANCELLED: u8 = 130;

/// Says once that the index was rebuilt (corrupt, or from another version).
pub fn index_notice(assistant: &Assistant) {
    if let Some(n) = assistant.library().take_notice() {
        eprintln!("frugal: {n}");
    }
}

/// A path for one line of output: control characters (a newline in a file name) are
/// escaped, so one result stays one line.
pub fn escaped(path: &Path) -> String {
    escaped_text(&path.to_string_lossy())
}

/// Text for one line of output, its control characters escaped (`\n`, `\u{1b}`).
pub fn escaped_text(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `YYYY-MM-DD` → Unix seconds at 00:00 UTC.
pub fn parse_date(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a date: use YYYY-MM-DD");
    let mut parts = s.trim().splitn(3, '-').map(|p| p.parse::<i64>());
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds → `2026-11-22 10:04 UTC (5 min ago)`.
pub fn describe_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let ago = now - secs;
    let ago = match ago {
        a if a < 60 => "just now".to_string(),
        a if a < 3600 => format!("{} min ago", a / 60),
        a if a < 86_400 => format!("{} h ago", a / 3600),
        a => format!("{} days ago", a / 86_400),
    };
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC ({ago})", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_round_trip() {
        assert_eq!(super::parse_date("1970-01-02"), Ok(86_400));
        assert_eq!(super::parse_date("2026-11-22"), Ok(1_795_305_600));
        assert!(super::describe_time(1_795_305_600 + 3_660).starts_with("2026-11-22 01:01 UTC"));
        assert!(super::parse_date("22/11/2026").unwrap_err().contains("YYYY-MM-DD"));
    }

    #[test]
    fn names_with_newlines_stay_on_one_line() {
        assert_eq!(super::escaped(std::path::Path::new("/n/a\nb.md")), "/n/a\\nb.md");
        assert_eq!(super::escaped_text("plain é"), "plain é");
    }
}

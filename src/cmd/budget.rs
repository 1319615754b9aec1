use std::process::ExitCode;

use clap::Subcommand;
use frugal_core::ledger::{usd, Month};

#[derive(Subcommand, Debug)]
pub enum BudgetCmd {
    /// Set the monthly cap in USD (0 keeps everything local).
    Set {
        /// Dollars per month, e.g. 20 or 7.50.
        usd: String,
    },
    /// The caps and what is left this month.
    Show,
}

/// `20`, `$20`, `7.50` → dollars.
pub fn parse_usd(s: &str) -> anyhow::Result<f64> {
    let v: f64 = s
        .trim()
        .trim_start_matches('$')
        .parse()
        .map_err(|_| anyhow::anyhow!("`{s}` is not an amount in dollars (e.g. 20 or 7.50)"))?;
    if !(v.is_finite() && v >= 0.0) || v > 1_000_000.0 {
        anyhow::bail!("the budget must be between $0 and $1,000,000");
    }
    // Budgets are shown and kept in cents: a fraction of a cent would print as a budget it is not.
    let cents = v * 100.0;
    if (cents - cents.round()).abs() > 1e-6 {
        anyhow::bail!("`{s}` has a fraction of a cent: give the budget in dollars and cents (e.g. 0.01 or 7.50)");
    }
    Ok(cents.round() / 100.0)
}

pub fn run(g: &super::Globals, cmd: BudgetCmd) -> anyhow::Result<ExitCode> {
    let assistant = g.open()?;
    if let BudgetCmd::Set { usd } = &cmd {
        let v = parse_usd(usd)?;
        assistant.spend().set_budget(v)?;
        eprintln!("frugal: monthly budget set to ${v:.2}");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let report = match (assistant.spend().report(Month::containing(now)), &cmd) {
        (Ok(r), _) => r,
        // The budget is saved whatever the ledger says; only this month's figures are missing.
        (Err(e), BudgetCmd::Set { .. }) => {
            eprintln!("frugal: warning: this month's spend cannot be shown: {e}");
            return Ok(ExitCode::SUCCESS);
        }
        (Err(e), BudgetCmd::Show) => return Err(e.into()),
    };
    let config = assistant.config();
    let b = &config.budget;
    if g.json {
        super::print_json(&serde_json::json!({
            "monthly_usd": b.monthly_usd,
            "daily_usd": b.daily_usd,
            "per_request_usd": b.per_request_usd,
            "month": report.month,
            "spent_usd": usd(report.spent_micros),
            "reserved_usd": usd(report.reserved_micros),
            "remaining_usd": report.remaining_micros.map(usd),
        }))?;
    } else if matches!(cmd, BudgetCmd::Show) {
        match b.monthly_usd {
            Some(cap) => println!(
                "Monthly budget: ${cap:.2} — {}: spent ${:.4}, reserved ${:.4}, ${:.4} left",
                report.month,
                usd(report.spent_micros),
                usd(report.reserved_micros),
                usd(report.remaining_micros.unwrap_or(0))
            ),
            None => {
                println!("No monthly budget: nothing is sent to a cloud model. Set one with `frugal budget set USD`.")
            }
        }
        if let Some(d) = b.daily_usd {
            println!("Daily cap: ${d:.2}");
        }
        if let Some(r) = b.per_request_usd {
            println!("Per-request cap: ${r:.2}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts() {
        assert_eq!(super::parse_usd("$7.50").unwrap(), 7.5);
        assert!(super::parse_usd("-1").is_err());
        assert!(super::parse_usd("ten").unwrap_err().to_string().contains("not an amount"));
        assert!(super::parse_usd("0.0000001").unwrap_err().to_string().contains("fraction of a cent"));
        assert_eq!(super::parse_usd("0.01").unwrap(), 0.01);
        assert_eq!(super::parse_usd("19.99").unwrap(), 19.99);
    }
}

//! `frugal apps`: the AI tools allowed to call `frugal serve`, each with its own token, its
//! own monthly cap inside the global one, and its rules.

use std::process::ExitCode;

use clap::Subcommand;
use frugal_core::ledger::{micros_from_usd, usd, App, Month};

#[derive(Subcommand, Debug)]
pub enum AppsCmd {
    /// Allow an app to call the gateway; prints its token once (only its hash is kept).
    Add {
        /// A name for it: letters, digits, '-', '_' or '.' (e.g. continue, aider, webui).
        name: String,
        /// Its monthly cap on cloud spend in USD, inside the global budget.
        #[arg(long, value_name = "USD")]
        monthly_usd: Option<String>,
        /// Its requests never leave this machine.
        #[arg(long)]
        local_only: bool,
        /// The models it may use (`frugal/local`, `openai/*`); all when not given.
        #[arg(long, num_args = 1.., value_name = "PATTERN")]
        models: Vec<String>,
        /// Never answer its requests from the response cache (by default a repeatable
        /// request — temperature 0 or a fixed seed — repeated within the TTL is, at $0).
        #[arg(long)]
        no_cache: bool,
    },
    /// Every app with this month's spend, requests and local share.
    List,
    /// Set an app's monthly cap in USD (`none` lifts it).
    Budget {
        /// The app.
        name: String,
        /// Dollars per month, or `none`.
        usd: String,
    },
    /// Turn the response cache on or off for an app.
    Cache {
        /// The app.
        name: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Remove an app: its token stops working at once (its rows stay in the ledger).
    Remove {
        /// The app.
        name: String,
    },
}

fn cap(s: &str) -> anyhow::Result<Option<i64>> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    Ok(Some(micros_from_usd(super::budget::parse_usd(s)?)?))
}

pub fn run(g: &super::Globals, cmd: AppsCmd) -> anyhow::Result<ExitCode> {
    let assistant = g.open()?;
    let spend = assistant.spend();
    match cmd {
        AppsCmd::Add { name, monthly_usd, local_only, models, no_cache } => {
            let app = App {
                name: name.clone(),
                monthly_micros: monthly_usd.as_deref().map(cap).transpose()?.flatten(),
                local_only,
                models,
                cache: !no_cache,
                created_at_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
            };
            let token = spend.add_app(&app)?;
            if g.json {
                super::print_json(&serde_json::json!({ "app": app, "token": token }))?;
            } else {
                println!("{token}");
            }
            eprintln!(
                "frugal: app `{name}` added; its token is above and is shown only this once (Frugal keeps only its hash). Use it as the API key of your tool, with base URL http://127.0.0.1:4141/v1"
            );
        }
        AppsCmd::List => {
            let apps = spend.apps(Month::containing(now_ms()))?;
            if g.json {
                super::print_json(&apps)?;
            } else if apps.is_empty() {
                println!("No apps yet: `frugal apps add NAME` allows one to call `frugal serve`.");
            } else {
                println!("{:<16} {:>10} {:>10} {:>9} {:>6}  rules", "app", "budget", "spent", "requests", "local");
                for a in &apps {
                    let mut rules = Vec::new();
                    if a.app.local_only {
                        rules.push("local only".to_string());
                    }
                    if !a.app.cache {
                        rules.push("no cache".to_string());
                    }
                    if !a.app.models.is_empty() {
                        rules.push(format!("models: {}", a.app.models.join(" ")));
                    }
                    println!(
                        "{:<16} {:>10} {:>10} {:>9} {:>5.0}%  {}",
                        a.app.name,
                        a.app.monthly_micros.map_or("—".into(), |m| format!("${:.2}", usd(m))),
                        format!("${:.4}", usd(a.spent_micros)),
                        a.requests,
                        a.local_share * 100.0,
                        rules.join(", ")
                    );
                }
            }
        }
        AppsCmd::Budget { name, usd: amount } => {
            let c = cap(&amount)?;
            spend.set_app_budget(&name, c)?;
            match c {
                Some(m) => eprintln!("frugal: app `{name}` may spend ${:.2} a month", usd(m)),
                None => eprintln!("frugal: app `{name}` has no cap of its own (the global budget still holds)"),
            }
        }
        AppsCmd::Cache { name, state } => {
            let on = state == "on";
            spend.set_app_cache(&name, on)?;
            eprintln!(
                "frugal: app `{name}`: {}",
                if on { "repeatable requests may be answered from the cache" } else { "no answers from the cache" }
            );
        }
        AppsCmd::Remove { name } => {
            spend.remove_app(&name)?;
            eprintln!("frugal: app `{name}` removed; its token no longer works");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

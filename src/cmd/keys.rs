use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use frugal_core::cloud::Secret;
use frugal_core::secrets::{self, KeySource};

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Store a provider's API key in the OS keychain (read from the terminal without echo,
    /// or from stdin; never from the command line, where it would land in shell history).
    Set {
        /// The provider's name, as in `[[providers]] name`.
        provider: String,
    },
    /// Delete a provider's key from the keychain.
    Remove {
        /// The provider's name.
        provider: String,
    },
    /// Which providers have a key and where it comes from (never the key itself).
    List {
        /// Only this provider.
        provider: Option<String>,
    },
}

pub fn run(g: &super::Globals, cmd: KeysCmd) -> anyhow::Result<ExitCode> {
    let assistant = g.open()?;
    match cmd {
        KeysCmd::Set { provider } => {
            let key = if std::io::stdin().is_terminal() {
                rpassword::prompt_password(format!("API key for {provider} (input hidden): "))
                    .context("cannot read the key from the terminal")?
            } else {
                let mut s = String::new();
                std::io::stdin().take(64 * 1024).read_to_string(&mut s).context("cannot read the key from stdin")?;
                s
            };
            let key = Secret::new(key);
            if key.is_empty() {
                anyhow::bail!("no key given: paste it, or pipe it on stdin");
            }
            if key.expose().contains(char::is_whitespace) {
                anyhow::bail!("the key contains spaces or line breaks: paste the key alone");
            }
            secrets::set_key(&provider, &key)?;
            eprintln!("frugal: key for {provider} stored in the OS keychain");
            if assistant.config().provider(&provider).is_none() {
                eprintln!("frugal: note: no [[providers]] entry is named {provider} yet");
            }
            if std::env::var_os(secrets::env_var(&provider)).is_some() {
                eprintln!("frugal: note: {} is set and overrides the keychain", secrets::env_var(&provider));
            }
        }
        KeysCmd::Remove { provider } => {
            if secrets::remove_key(&provider)? {
                eprintln!("frugal: key for {provider} removed from the OS keychain");
            } else {
                anyhow::bail!("no key for {provider} in the keychain");
            }
        }
        KeysCmd::List { provider } => {
            let mut names: Vec<String> = assistant.config().providers.iter().map(|p| p.name.clone()).collect();
            if let Some(p) = provider {
                names.retain(|n| n.eq_ignore_ascii_case(&p));
                if names.is_empty() {
                    names.push(p);
                }
            }
            let mut rows = Vec::new();
            for name in names {
                let config = assistant.config();
                let entry = config.provider(&name);
                let needs_key = entry.is_none_or(|e| e.needs_key);
                let (source, error) = match secrets::key_for(&name) {
                    Ok(Some((_, KeySource::Environment))) => (Some("environment"), None),
                    Ok(Some((_, KeySource::Keychain))) => (Some("keychain"), None),
                    Ok(None) => (None, None),
                    Err(e) => (None, Some(e.to_string())),
                };
                rows.push(serde_json::json!({
                    "provider": name,
                    "kind": entry.map(|e| e.kind.as_str()),
                    "model": entry.map(|e| e.model.clone()),
                    "needs_key": needs_key,
                    "key": source,
                    "env_var": secrets::env_var(&name),
                    "error": error,
                }));
            }
            if g.json {
                super::print_json(&rows)?;
            } else if rows.is_empty() {
                println!(
                    "No providers configured. Add a [[providers]] entry to {}",
                    assistant.paths().config_file.display()
                );
            } else {
                for r in &rows {
                    let status = match (r["key"].as_str(), r["needs_key"].as_bool(), r["error"].as_str()) {
                        (_, _, Some(e)) => format!("unknown: {e}"),
                        (Some(src), _, _) => format!("key set ({src})"),
                        (None, Some(false), _) => "no key needed".to_string(),
                        (None, _, _) => {
                            format!("no key: run `frugal keys set {}`", r["provider"].as_str().unwrap_or(""))
                        }
                    };
                    println!(
                        "{:<16} {:<10} {:<28} {status}",
                        r["provider"].as_str().unwrap_or(""),
                        r["kind"].as_str().unwrap_or("-"),
                        r["model"].as_str().unwrap_or("-")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

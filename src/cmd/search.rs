use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use frugal_core::index::{Hit, Kind, SearchQuery};
use frugal_core::meaning::SearchMode;

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// What to look for; "quoted words" must appear together.
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Only this kind of file: text, markdown, code, html, pdf, docx, email, transcript.
    #[arg(long)]
    kind: Option<Kind>,
    /// Only files in this folder.
    #[arg(long = "in", value_name = "DIR")]
    within: Option<PathBuf>,
    /// Only files changed on or after this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    since: Option<i64>,
    /// keyword (words), meaning (embeddings) or hybrid (both, fused); default: hybrid once
    /// passages have vectors.
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// How many passages (1 to 1000).
    #[arg(short = 'n', long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    limit: u16,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Mode {
    Keyword,
    Meaning,
    Hybrid,
}

pub fn run(config: Option<&Path>, json: bool, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let assistant = super::open(config, None)?;
    if assistant.library().folders().is_empty() {
        anyhow::bail!("no folders are indexed yet: run `frugal index add DIR` first");
    }
    let mut q = SearchQuery::new(args.query.join(" "));
    q.kind = args.kind;
    q.within = match args.within {
        Some(dir) => Some(within(&assistant, &dir)?),
        None => None,
    };
    q.since = args.since;
    q.limit = usize::from(args.limit);
    let mode = match args.mode {
        None => SearchMode::Auto,
        Some(Mode::Keyword) => SearchMode::Keyword,
        Some(Mode::Meaning) => SearchMode::Meaning,
        Some(Mode::Hybrid) => SearchMode::Hybrid,
    };
    let searched = assistant.library().search_with(&q, mode);
    super::index_notice(&assistant);
    let searched = searched?;
    if let Some(note) = &searched.note {
        eprintln!("frugal: {note}");
    }
    let hits = searched.hits;
    if json {
        super::print_json(&hits)?;
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        println!("no matches");
    }
    let color = std::io::stdout().is_terminal();
    for (i, h) in hits.iter().enumerate() {
        let heading = if h.heading_path.is_empty() || h.heading_path == h.title {
            String::new()
        } else {
            format!(" › {}", h.heading_path)
        };
        println!("{}. {}{heading}", i + 1, super::escaped_text(&h.title));
        println!(
            "   {}:{}-{}  ({}, {})",
            super::escaped(&h.path),
            h.line_start,
            h.line_end,
            h.kind,
            ranks(h, searched.mode)
        );
        println!("   {}", highlight(h, color));
    }
    Ok(ExitCode::SUCCESS)
}

/// How a hit ranked: its score for one retriever, its place in each list for hybrid.
fn ranks(h: &Hit, mode: SearchMode) -> String {
    if mode != SearchMode::Hybrid {
        return format!("score {:.2}", h.score);
    }
    let place = |r: Option<u32>| r.map_or_else(|| "-".to_string(), |r| format!("#{r}"));
    format!("words {}, meaning {}", place(h.keyword_rank), place(h.meaning_rank))
}

/// `--in DIR` as the index knows it: a folder that exists, inside an indexed folder. A typo
/// must not read as "no matches".
fn within(assistant: &frugal_core::Assistant, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.canonicalize().map_err(|e| anyhow::anyhow!("--in {}: {e}", super::escaped(dir)))?;
    if !path.is_dir() {
        anyhow::bail!("--in {}: not a folder", super::escaped(dir));
    }
    if !assistant.library().folders().iter().any(|f| path.starts_with(&f.path) || f.path.starts_with(&path)) {
        anyhow::bail!("--in {}: not inside an indexed folder (see `frugal index status`)", super::escaped(dir));
    }
    Ok(path)
}

/// The snippet on one line, with matches in bold on a terminal. Text from the user's files
/// is escaped: a control character in a file (a stray escape sequence) must not reach the
/// terminal as one.
fn highlight(h: &Hit, color: bool) -> String {
    let clean = |t: &str| super::escaped_text(&t.replace(['\n', '\r', '\t'], " "));
    if !color {
        return clean(&h.snippet);
    }
    let mut out = String::new();
    let mut at = 0;
    for &(s, e) in &h.highlights {
        if s < at || e > h.snippet.len() || !h.snippet.is_char_boundary(s) || !h.snippet.is_char_boundary(e) {
            continue;
        }
        out.push_str(&clean(&h.snippet[at..s]));
        out.push_str("\x1b[1m");
        out.push_str(&clean(&h.snippet[s..e]));
        out.push_str("\x1b[0m");
        at = e;
    }
    out.push_str(&clean(&h.snippet[at..]));
    out
}

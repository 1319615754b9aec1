//! Search: BM25 over title, headings and text (title and headings boosted), an extra score
//! for the words appearing as a phrase, a mild boost for recent files, filters for kind,
//! folder and date, and at most a few passages per file so one long file cannot fill the
//! page.

use std::ops::Bound;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Score, SegmentReader, TantivyDocument, Term};

use crate::{Index, IndexError, Kind, Result};

/// What to look for.
#[derive(Clone, Debug)]
pub struct SearchQuery {
    /// The user's words; `"quoted words"` must appear together.
    pub text: String,
    /// Only this kind of file.
    pub kind: Option<Kind>,
    /// Only files under this directory.
    pub within: Option<PathBuf>,
    /// Only files modified at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// How many passages.
    pub limit: usize,
    /// At most this many passages from one file.
    pub per_file: usize,
}

/// The most passages one search returns: more is not a reading list but a dump, and the
/// collector allocates for every candidate up front.
pub const MAX_LIMIT: usize = 1000;

impl SearchQuery {
    /// `text` with the defaults: 10 results, at most 2 per file.
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into(), kind: None, within: None, since: None, limit: 10, per_file: 2 }
    }
}

/// One ranked passage.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    /// The file.
    pub path: PathBuf,
    /// First line of the passage (1-based).
    pub line_start: u32,
    /// Last line.
    pub line_end: u32,
    /// The document's title (or file name).
    pub title: String,
    /// Headings above the passage, joined with " > ".
    pub heading_path: String,
    /// A short excerpt around the matches.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched.
    pub highlights: Vec<(usize, usize)>,
    /// Rank score (higher is better).
    pub score: f32,
    /// What sort of file.
    pub kind: String,
    /// Modified time, Unix seconds.
    pub modified: i64,
    /// From a local-only folder: must never be sent to a cloud model.
    pub local_only: bool,
    /// The folder it belongs to.
    pub folder: PathBuf,
    /// The whole passage.
    pub text: String,
    /// The share of the query's words found in the passage (title, headings, text), each
    /// weighted by its rarity (IDF): 1 when all are there, near 0 when only a common one is.
    /// Hybrid fusion weighs keyword evidence by it. 0 for hits found by meaning alone.
    pub coverage: f32,
    /// Its rank (1-based) among keyword results, when it was one.
    pub keyword_rank: Option<u32>,
    /// Its rank (1-based) among meaning results, when it was one.
    pub meaning_rank: Option<u32>,
}

/// Words that carry no meaning in a question ("what did we decide about …").
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "how", "i", "in", "is", "it",
    "me", "my", "of", "on", "or", "our", "so", "that", "the", "their", "there", "this", "to", "was", "we", "were",
    "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "about", "can", "should", "has",
    "have", "had",
];

impl Index {
    /// Ranked passages for `query`.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>> {
        let f = self.fields;
        let cleaned = clean(&query.text);
        if cleaned.trim().is_empty() {
            return Err(IndexError::Query("the search is empty: give some words to look for".into()));
        }
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.headings, f.body]);
        parser.set_field_boost(f.title, 2.0);
        parser.set_field_boost(f.headings, 1.5);
        let (text_query, _) = parser.parse_query_lenient(&cleaned);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query)];
        let words = self.terms(&cleaned);
        if words.len() >= 2 && !cleaned.contains('"') {
            let terms: Vec<Term> = words.iter().map(|w| Term::from_field_text(f.body, w)).collect();
            let phrase = PhraseQuery::new_with_offset_and_slop(terms.into_iter().enumerate().collect(), 1);
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(phrase), 2.0))));
        }
        clauses.extend(self.filters(query));
        let full = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let wanted = query.limit.clamp(1, MAX_LIMIT);
        let candidates = wanted * query.per_file.clamp(1, 10) * 3 + 20;
        let collector = TopDocs::with_limit(candidates).tweak_score(move |segment: &SegmentReader| {
            let modified = segment.fast_fields().i64("modified").ok();
            move |doc, score: Score| {
                let m = modified.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
                recency(score, now - m)
            }
        });
        let top: Vec<(Score, DocAddress)> =
            searcher.search(&full, &collector).map_err(IndexError::tantivy(&self.dir))?;
        let mut snippets =
            SnippetGenerator::create(&searcher, &full, f.body).map_err(IndexError::tantivy(&self.dir))?;
        snippets.set_max_num_chars(240);
        let weights = self.idf(&searcher, &words);
        let mut per_file: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut hits = Vec::new();
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(IndexError::tantivy(&self.dir))?;
            let path = doc.get_first(f.path).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let n = per_file.entry(path).or_default();
            if *n >= query.per_file.max(1) {
                continue;
            }
            *n += 1;
            let snippet = snippets.snippet_from_doc(&doc);
            let highlights = snippet.highlighted().iter().map(|r| (r.start, r.end)).collect();
            let mut hit = self.hit(&doc, score, snippet.fragment(), highlights);
            hit.keyword_rank = Some(hits.len() as u32 + 1);
            hit.coverage = self.coverage(&weights, &hit);
            hits.push(hit);
            if hits.len() >= wanted {
                break;
            }
        }
        Ok(hits)
    }

    /// The query's filters (kind, folder, date) as clauses that do not change scores.
    pub(crate) fn filters(&self, query: &SearchQuery) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(kind) = query.kind {
            clauses.push((Occur::Must, term_filter(Term::from_field_text(f.kind, kind.as_str()))));
        }
        if let Some(dir) = &query.within {
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            clauses.push((Occur::Must, term_filter(Term::from_field_text(f.dirs, &dir.to_string_lossy()))));
        }
        if let Some(since) = query.since {
            let range = RangeQuery::new(Bound::Included(Term::from_field_i64(f.modified, since)), Bound::Unbounded);
            clauses.push((Occur::Must, Box::new(tantivy::query::ConstScoreQuery::new(Box::new(range), 0.0))));
        }
        clauses
    }

    /// A stored passage as a hit; an empty `snippet` becomes the passage's first 240
    /// characters.
    pub(crate) fn hit(&self, doc: &TantivyDocument, score: f32, snippet: &str, highlights: Vec<(usize, usize)>) -> Hit {
        let f = self.fields;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let (snippet, highlights) = if snippet.trim().is_empty() {
            let body = text(f.body);
            let end = body.char_indices().nth(240).map_or(body.len(), |(i, _)| i);
            (body[..end].to_string(), Vec::new())
        } else {
            (snippet.to_string(), highlights)
        };
        let number = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        Hit {
            path: PathBuf::from(text(f.path)),
            line_start: number(f.line_start),
            line_end: number(f.line_end),
            title: text(f.title),
            heading_path: text(f.headings),
            snippet,
            highlights,
            score,
            kind: text(f.kind),
            modified: doc.get_first(f.modified).and_then(|v| v.as_i64()).unwrap_or(0),
            local_only: doc.get_first(f.local_only).and_then(|v| v.as_bool()).unwrap_or(false),
            folder: PathBuf::from(text(f.folder)),
            text: text(f.body),
            coverage: 0.0,
            keyword_rank: None,
            meaning_rank: None,
        }
    }

    /// Each distinct query term with its IDF in the passages' text.
    fn idf(&self, searcher: &tantivy::Searcher, words: &[String]) -> Vec<(String, f32)> {
        let n = searcher.num_docs() as f32;
        let mut out: Vec<(String, f32)> = Vec::new();
        for w in words {
            if out.iter().any(|(x, _)| x == w) {
                continue;
            }
            let df = searcher.doc_freq(&Term::from_field_text(self.fields.body, w)).unwrap_or(0) as f32;
            out.push((w.clone(), (1.0 + (n - df + 0.5) / (df + 0.5)).ln()));
        }
        out
    }

    /// IDF-weighted share of `weights`' terms that occur in the hit's title, headings or text.
    fn coverage(&self, weights: &[(String, f32)], hit: &Hit) -> f32 {
        let total: f32 = weights.iter().map(|(_, w)| w).sum();
        if total <= 0.0 {
            return 1.0;
        }
        let present = self.terms(&format!("{}\n{}\n{}", hit.title, hit.heading_path, hit.text));
        let found: f32 = weights.iter().filter(|(t, _)| present.contains(t)).map(|(_, w)| w).sum();
        found / total
    }

    /// The query's meaningful words as index terms (stemmed, lower-cased).
    fn terms(&self, text: &str) -> Vec<String> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(self.fields.body) else { return Vec::new() };
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            out.push(token.text.clone());
        }
        out
    }
}

/// A filter that matches without changing scores.
pub(crate) fn term_filter(term: Term) -> Box<dyn Query> {
    Box::new(tantivy::query::ConstScoreQuery::new(Box::new(TermQuery::new(term, IndexRecordOption::Basic)), 0.0))
}

/// Up to +15% for a file changed today, fading with a half-life of 90 days: recent notes
/// win ties, old reference material still ranks on its words.
fn recency(score: Score, age_secs: i64) -> Score {
    let days = (age_secs.max(0) as f32) / 86_400.0;
    score * (1.0 + 0.15 * 0.5f32.powf(days / 90.0))
}

/// The user's text without query syntax (`field:`, `+`, `-`, parentheses…, and the
/// operators `AND`, `OR`, `NOT`, `IN`, `TO` written in capitals, which become plain words:
/// "which invoices are NOT paid" must not exclude every passage that says "paid") and
/// without question words; double quotes are kept for phrases.
fn clean(text: &str) -> String {
    let plain: String =
        text.chars().map(|c| if c.is_alphanumeric() || c == '"' || c.is_whitespace() { c } else { ' ' }).collect();
    let plain = if plain.matches('"').count() % 2 == 1 { plain.replace('"', " ") } else { plain };
    let mut kept: Vec<String> = Vec::new();
    let mut in_quote = false;
    for word in plain.split_whitespace() {
        let opens = word.starts_with('"');
        let quotes = word.matches('"').count();
        let inside = in_quote || opens;
        if inside || !STOP.contains(&word.to_lowercase().as_str()) {
            let operator = matches!(word, "AND" | "OR" | "NOT" | "IN" | "TO");
            kept.push(if operator { word.to_lowercase() } else { word.to_string() });
        }
        if quotes % 2 == 1 {
            in_quote = !in_quote;
        }
    }
    if kept.iter().all(|w| w.trim_matches('"').is_empty()) {
        plain.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        kept.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_is_cleaned() {
        assert_eq!(clean("What did we decide about the venue?"), "decide venue");
        assert_eq!(clean("std::vec::Vec with_capacity"), "std vec Vec capacity");
        assert_eq!(clean("\"state of the art\" of it"), "\"state of the art\"");
        assert_eq!(clean("\"lake house\" budget"), "\"lake house\" budget");
        assert_eq!(clean("what is it"), "what is it");
        assert_eq!(clean("title:(x"), "title x");
        // Capitals are words, not operators: NOT would exclude every passage saying "paid".
        assert_eq!(clean("invoices NOT paid OR late"), "invoices not paid late");
        assert!(recency(1.0, 0) > recency(1.0, 86_400 * 365));
    }
}

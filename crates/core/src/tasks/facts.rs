//! Facts in a model's text — numbers and amounts, capitalised names, month and day names,
//! a negation — and whether a source states them. The checks of drafts and of `ask` share
//! it: a fact the source does not state is an invention, however well the rest reads.
//!
//! Matching is by whole words and whole numbers. Substrings let inventions through: "Ann"
//! was found in "announce", "$500" in "$12,500", and a number compared by its first five
//! characters let invoice 2024118 pass for 2024117.
//!
//! Summaries keep their own check (`grounded::claim_unsupported` with `grounded::numbers`):
//! a transcript says numbers in words too ("twelve"), and a range's ends apart. Here both
//! sides are written text, so numbers are compared in one normal form instead.

use std::collections::HashSet;

use frugal_index::text::remove_between;

use super::CALENDAR_WORDS;

/// Capitalised words that are not names: greetings, sign-offs, pronouns, answer words.
const COMMON: &[&str] = &[
    "i",
    "hi",
    "hello",
    "dear",
    "thanks",
    "thank",
    "best",
    "regards",
    "sincerely",
    "kind",
    "cheers",
    "please",
    "subject",
    "re",
    "team",
    "all",
    "everyone",
    "the",
    "a",
    "we",
    "you",
    "my",
    "our",
    "let",
    "looking",
    "warm",
    "warmest",
    "yours",
    "ok",
    "okay",
    "fw",
    "fwd",
    "am",
    "pm",
    "mr",
    "ms",
    "mrs",
    "dr",
    "yes",
    "no",
];

/// Words that turn a statement around.
const NEGATIONS: &[&str] =
    &["not", "never", "cannot", "no", "none", "nobody", "nothing", "neither", "nor", "without", "nowhere"];

/// What a text states, as whole words and whole numbers.
pub struct Stated {
    words: HashSet<String>,
    numbers: HashSet<String>,
    negates: bool,
}

impl Stated {
    /// The words and numbers of `text`.
    pub fn new(text: &str) -> Stated {
        let words =
            text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        let mut numbers = HashSet::new();
        for n in numbers_in(text) {
            // A date or a time states its parts too ("2026-05-12" says 12, "10:30" says 10),
            // and a range each end ("9:00-17:00" says 9:00).
            for side in n.split(['-', '/']).filter(|p| !p.is_empty()) {
                numbers.insert(side.to_string());
            }
            for part in n.split([':', '/', '-']).filter(|p| !p.is_empty()) {
                numbers.insert(part.to_string());
            }
            numbers.insert(n);
        }
        Stated { words, numbers, negates: negates(text, false) }
    }

    /// Whether the text has `word` (any case), or every part of it ("Sam's": "sam").
    pub fn word(&self, word: &str) -> bool {
        let lower = word.to_lowercase();
        self.words.contains(&lower)
            || lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|p| p.chars().count() >= 2)
                .all(|p| self.words.contains(p))
                && lower.chars().any(char::is_alphanumeric)
    }

    /// Whether the text has the number `n` (as [`numbers_in`] writes it).
    pub fn number(&self, n: &str) -> bool {
        self.numbers.contains(n)
    }

    /// Whether the text says "not" or another negation anywhere.
    pub fn negates(&self) -> bool {
        self.negates
    }
}

/// The numbers in `text`, whole: digits with the separators between them ("12,500" is
/// 12500, "3.5", "2026-05-12" is 2026-5-12, "10:30"), each part without leading zeros; an
/// ordinal's letters ("12th") are not part of it.
pub fn numbers_in(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut raw = String::new();
        while let Some(&c) = chars.get(i) {
            let joins = matches!(c, ',' | '.' | ':' | '/' | '-') && chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c.is_ascii_digit() || joins {
                raw.push(c);
                i += 1;
            } else {
                break;
            }
        }
        out.push(normalize(&raw));
    }
    out
}

/// Thousands separators out, leading zeros off each part of a date or time.
fn normalize(raw: &str) -> String {
    let mut out = String::new();
    let mut part = String::new();
    for c in raw.chars().filter(|&c| c != ',') {
        if matches!(c, ':' | '/' | '-') {
            push_part(&mut out, &part);
            out.push(c);
            part.clear();
        } else {
            part.push(c);
        }
    }
    push_part(&mut out, &part);
    out
}

/// One part without its leading zeros, nor a fraction's trailing ones: "2,000.00" is 2000,
/// "1.50" is 1.5, "09" is 9.
fn push_part(out: &mut String, part: &str) {
    let part = match part.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => part.to_string(),
    };
    let trimmed = part.trim_start_matches('0');
    if trimmed.is_empty() || trimmed.starts_with('.') {
        out.push('0');
    }
    out.push_str(trimmed);
}

/// Whether `text` says "not" (or another negation), leaving out an opening "No," or "No."
/// when `skip_first` (an answer's "No," answers a question; it is not a claim; "Not at the
/// lake house" and "Nothing was booked" still negate).
pub fn negates(text: &str, skip_first: bool) -> bool {
    let answer_word = |w: &str| matches!(w.to_lowercase().as_str(), "no," | "no.");
    let words: Vec<&str> = text.split_whitespace().collect();
    let skip = usize::from(skip_first && words.first().is_some_and(|w| answer_word(w)));
    words.into_iter().skip(skip).any(|raw| {
        let w = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’').to_lowercase();
        NEGATIONS.contains(&w.as_str()) || w.ends_with("n't") || w.ends_with("n’t")
    })
}

/// Words in `text` that state facts — capitalised names (not at a sentence start), numbers
/// and amounts, month and day names — that `source` does not state.
pub fn unsupported_facts(text: &str, source: &Stated) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut sentence_start = true;
    // Placeholders ("[Your Name]") are not facts; drafts report them separately.
    let text = remove_between(text, '[', ']');
    // Each line starts a sentence: greetings ("Hi Sam,") end lines, not sentences.
    for raw in text.lines().flat_map(|line| std::iter::once("\n").chain(line.split_whitespace())) {
        if raw == "\n" {
            sentence_start = true;
            continue;
        }
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '$' && c != '%' && c != '€' && c != '£');
        let ends_sentence = raw.ends_with(['.', '!', '?', ':']);
        if word.is_empty() || raw.starts_with('[') {
            sentence_start = ends_sentence || sentence_start;
            continue;
        }
        let lower = word.to_lowercase();
        if lower.starts_with("i'") || lower.starts_with("i’") {
            sentence_start = ends_sentence;
            continue;
        }
        let numbers = numbers_in(word);
        let is_fact = if !numbers.is_empty() {
            !numbers.iter().all(|n| source.number(n))
        } else if CALENDAR_WORDS.contains(&lower.as_str()) {
            !source.word(&lower)
        } else {
            let capital = word.chars().next().is_some_and(char::is_uppercase);
            capital && !sentence_start && !COMMON.contains(&lower.as_str()) && !source.word(&lower)
        };
        if is_fact && !out.contains(&word.to_string()) {
            out.push(word.to_string());
        }
        sentence_start = ends_sentence;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_whole_and_written_one_way() {
        assert_eq!(
            numbers_in("$12,500 on 2026-05-12 at 10:30, v1.2, the 3rd, 007"),
            ["12500", "2026-5-12", "10:30", "1.2", "3", "7"]
        );
        assert_eq!(numbers_in("0.5 and 0 and -4"), ["0.5", "0", "4"]);
        assert_eq!(numbers_in("$2,000.00, $1.50, 3.0"), ["2000", "1.5", "3"]);
        let s = Stated::new("Budget $12,500. Deposit $2,000. Cutover 2026-05-12.");
        for yes in ["12500", "2000", "12", "5", "2026-5-12"] {
            assert!(s.number(yes), "{yes}");
        }
        for no in ["500", "12000", "125", "05"] {
            assert!(!s.number(no), "{no}");
        }
    }

    #[test]
    fn names_and_numbers_are_matched_whole() {
        let s = Stated::new("We announce the review to Sam; invoice 2024117 is due.");
        assert_eq!(unsupported_facts("Send it to Ann and Sam's team.", &s), ["Ann"]);
        assert_eq!(unsupported_facts("Invoice 2024118 is due.", &s), ["2024118"]);
        assert!(unsupported_facts("Invoice 2024117 is due.", &s).is_empty());
    }

    #[test]
    fn a_negation_is_found_but_not_an_answers_first_word() {
        assert!(negates("The offsite is not at the lake house.", true));
        assert!(negates("It isn't booked.", true));
        assert!(!negates("No, the offsite is at the lake house.", true));
        assert!(negates("Not at the lake house.", true));
        assert!(negates("Nothing was booked.", true));
        assert!(!Stated::new("The offsite is at the lake house.").negates());
        assert!(Stated::new("The offsite is not at the lake house.").negates());
    }
}

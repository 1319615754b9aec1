//! Whether what a summary says comes from the meeting: owners, dates and tasks checked
//! against the transcript, in any script (Latin, Cyrillic, Greek words; Chinese, Japanese
//! and Thai, written without spaces, by characters).

use super::CALENDAR_WORDS;

/// The transcript as the checks read it, lowercased once: a long meeting is checked item by
/// item, and lowercasing 40 MB per item would cost minutes.
#[derive(Clone, Debug)]
pub struct Source {
    /// As written.
    pub text: String,
    /// Lowercased.
    pub lower: String,
}

impl Source {
    /// The transcript text.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let lower = text.to_lowercase();
        Self { text, lower }
    }
}

/// A character of a script written without spaces between words: Han, kana, Hangul
/// syllables, Thai, Lao, Khmer, Myanmar.
pub fn unspaced(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0EFF}' // Thai, Lao
        | '\u{1000}'..='\u{109F}' // Myanmar
        | '\u{1780}'..='\u{17FF}' // Khmer
        | '\u{3040}'..='\u{30FF}' // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}' // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK Unified Ideographs
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{F900}'..='\u{FAFF}' // CJK Compatibility Ideographs
    )
}

/// How many words a text has, in any script: words of three letters or more, plus one per
/// two characters of a script written without spaces. "The summary is empty" must not be
/// said of a Chinese summary.
pub fn word_count(text: &str) -> usize {
    let spaced = text
        .split(|c: char| c.is_whitespace() || unspaced(c))
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3)
        .count();
    spaced + text.chars().filter(|c| unspaced(*c)).count() / 2
}

/// Whether an owner is written like a name: a capital first letter, or a script without
/// capitals (Chinese 张伟, Arabic, Hindi).
fn starts_like_a_name(owner: &str) -> bool {
    owner.trim().chars().next().is_some_and(|c| c.is_uppercase() || (c.is_alphabetic() && !c.is_lowercase()))
}

pub(crate) fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether `owner` is a speaker (full name or first name) or a name written in the source.
pub fn owner_grounded(owner: &str, speakers: &[String], source: &Source) -> bool {
    let o = normalize(owner);
    if o.is_empty() {
        return false;
    }
    let first = o.split(' ').next().unwrap_or("");
    speakers.iter().any(|s| {
        let s = normalize(s);
        s == o || s.split(' ').next() == Some(first) && o.split(' ').count() == 1
    }) || (starts_like_a_name(owner) && contains_word(&source.text, owner.trim()))
}

/// Whether `due` looks like a date or a deadline at all ("Friday", "July 18", "next week",
/// "12/05", "3rd", "2026", "9am"). A bare number is not a date.
pub fn looks_like_date(due: &str) -> bool {
    // Besides day and month names: abbreviations and relative deadlines.
    const WORDS: &[&str] = &[
        "may",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "today",
        "tomorrow",
        "tonight",
        "week",
        "month",
        "quarter",
        "year",
        "eod",
        "eow",
        "asap",
        "morning",
        "afternoon",
        "evening",
        "weekend",
    ];
    due.to_lowercase().split_whitespace().any(|token| {
        let w = token.trim_matches(|c: char| !c.is_alphanumeric());
        let digits = w.chars().filter(char::is_ascii_digit).count();
        WORDS.contains(&w)
            || CALENDAR_WORDS.contains(&w)
            || (w.len() == 2 && w.starts_with('q') && digits == 1)
            || (digits > 0 && w.contains(['/', '-', '.', ':']))
            || (digits > 0 && ["st", "nd", "rd", "th", "am", "pm"].iter().any(|s| w.ends_with(s)))
            || (w.len() == 4 && digits == 4 && (w.starts_with("19") || w.starts_with("20")))
    })
}

/// Whether `due` is a date stated in the source: the phrase itself, or all its words.
pub fn date_grounded(due: &str, source: &Source) -> bool {
    if !looks_like_date(due) {
        return false;
    }
    let src = &source.lower;
    let d = normalize(due);
    if src.contains(&d) {
        return true;
    }
    let words: Vec<&str> = d
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !matches!(*w, "by" | "on" | "the" | "of" | "at" | "before" | "end"))
        .collect();
    !words.is_empty() && words.iter().all(|w| contains_word(src, w))
}

/// Whether a task is about something the meeting discussed: at least half of its content
/// words (four letters or more, not filler) occur in the source. Catches tasks copied from the
/// prompt's example or made up whole, while allowing paraphrase. Scripts written without
/// spaces (Chinese, Japanese, Thai) count pairs of characters instead of words.
pub fn task_grounded(task: &str, source: &Source) -> bool {
    const FILLER: &[&str] = &[
        "will", "with", "that", "this", "from", "have", "make", "need", "should", "about", "their", "them", "they",
        "what", "when", "into", "next", "your", "also", "then", "some",
    ];
    let mut words: Vec<String> = Vec::new();
    for w in task.split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase) {
        if w.chars().any(unspaced) {
            let chars: Vec<char> = w.chars().collect();
            words.extend(chars.windows(2).map(|p| p.iter().collect::<String>()));
        } else if w.chars().count() >= 4 && !FILLER.contains(&w.as_str()) {
            words.push(w);
        }
    }
    let found = words.iter().filter(|w| contains_word(&source.lower, w)).count();
    !words.is_empty() && found * 2 >= words.len()
}

/// Whether `word` occurs in `haystack` as a whole word. Next to a character of a script
/// written without spaces any position is a word boundary.
pub(crate) fn contains_word(haystack: &str, word: &str) -> bool {
    let edge = |c: char| !c.is_alphanumeric() || unspaced(c);
    let (first, last) = (word.chars().next(), word.chars().next_back());
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back().is_none_or(|c| edge(c) || first.is_some_and(unspaced));
        let after = haystack[i + word.len()..].chars().next().is_none_or(|c| edge(c) || last.is_some_and(unspaced));
        before && after
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speakers() -> Vec<String> {
        vec!["Ana Ruiz".into(), "Bo Chen".into()]
    }

    #[test]
    fn owners_must_be_speakers_or_names_in_the_transcript() {
        let src = &Source::new("Ana Ruiz: Priya from legal will review it.\nBo Chen: ok");
        assert!(owner_grounded("Ana Ruiz", &speakers(), src));
        assert!(owner_grounded("ana", &speakers(), src));
        assert!(owner_grounded("Priya", &speakers(), src));
        assert!(!owner_grounded("John Smith", &speakers(), src));
        assert!(!owner_grounded("Pri", &speakers(), src));
        assert!(!owner_grounded("", &speakers(), src));
    }

    #[test]
    fn dates_must_appear_in_the_transcript() {
        let src = &Source::new("Bo Chen: I'll send it by Friday, March 14.");
        assert!(date_grounded("Friday", src));
        assert!(date_grounded("by March 14", src));
        assert!(!date_grounded("Monday", src));
        assert!(!date_grounded("March 15", src));
        assert!(!date_grounded("Bo Chen", &Source::new("Bo Chen: hi")), "a name is not a date");
        assert!(looks_like_date("next week") && looks_like_date("Q3") && looks_like_date("12/05"));
        assert!(looks_like_date("the 3rd") && looks_like_date("9am") && looks_like_date("2026"));
        assert!(!looks_like_date(",.12,") && !looks_like_date("12") && !looks_like_date("Ben Okafor"));
    }

    #[test]
    fn tasks_copied_from_elsewhere_are_not_grounded() {
        let src = &Source::new("Maria: I finished the invoice export. Tom: staging database is down.");
        assert!(task_grounded("Fix the staging database", src));
        assert!(!task_grounded("Order a new printer", src));
        assert!(!task_grounded("Order a new printer and update the staging database staff in London", src));
    }

    #[test]
    fn scripts_without_spaces_are_read_by_characters() {
        let src = &Source::new("张伟: 我们下周五发布新版本。李娜: 我来准备发布说明。");
        assert!(word_count("团队决定下周五发布新版本，李娜准备发布说明。") >= 4, "a Chinese summary is not empty");
        assert!(word_count("ok") == 0 && word_count("The team moved the launch") == 5);
        assert!(task_grounded("准备发布说明", src));
        assert!(!task_grounded("购买新的打印机", src));
        assert!(owner_grounded("李娜", &[], src), "a name written in the transcript");
        assert!(!owner_grounded("王芳", &[], src));
        assert!(contains_word("привет мир", "мир") && !contains_word("примирение", "мир"));
    }
}

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

/// Words any summary of any meeting uses ("the team discussed…"): they say nothing about
/// whether this meeting said it, so they neither support nor undermine a claim.
const CLAIM_FILLER: &[&str] = &[
    "will",
    "with",
    "that",
    "this",
    "from",
    "have",
    "make",
    "need",
    "should",
    "about",
    "their",
    "them",
    "they",
    "what",
    "when",
    "into",
    "your",
    "also",
    "then",
    "some",
    "team",
    "meeting",
    "discussed",
    "discuss",
    "discussion",
    "discussing",
    "agreed",
    "agree",
    "decided",
    "decide",
    "decision",
    "talked",
    "mentioned",
    "noted",
    "said",
    "were",
    "been",
    "which",
    "there",
    "would",
    "could",
    "more",
    "other",
    "being",
    "each",
    "these",
    "those",
    "than",
    "over",
    "after",
    "before",
    "while",
    "members",
    "participants",
    "everyone",
    "group",
    "call",
    "session",
    "update",
    "updates",
    "going",
    "further",
    "regarding",
    "including",
    "nothing",
    "else",
    "came",
    "come",
    "raised",
    "issues",
    "items",
    "things",
    "everything",
    "today",
];

/// Small numbers as words: "five" in the transcript supports "5" in a summary.
const NUMBER_WORDS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// Why a sentence of a summary (or a decision, or an open question) is not supported by the
/// transcript, if it is not: a number the meeting never said, or fewer than half of its
/// content words in the transcript. A word counts when it or its stem occurs ("shipping"
/// for "shipped"), so paraphrase passes and invention does not. This is the check that
/// catches "the new order is not allowed to be placed at 5:27am" in a stand-up about a
/// release.
pub fn claim_unsupported(claim: &str, source: &Source) -> Option<String> {
    let src = &source.lower;
    for number in numbers(claim) {
        let spelled =
            number.parse::<usize>().ok().and_then(|n| NUMBER_WORDS.get(n)).is_some_and(|w| contains_word(src, w));
        if !contains_word(src, &number) && !contains_word(src, &number.replace(',', "")) && !spelled {
            return Some(format!("\"{number}\" is not in the transcript"));
        }
    }
    let mut words: Vec<String> = Vec::new();
    for w in claim.split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase) {
        if w.chars().any(unspaced) {
            let chars: Vec<char> = w.chars().collect();
            words.extend(chars.windows(2).map(|p| p.iter().collect::<String>()));
        } else if w.chars().count() >= 4
            && !w.chars().any(|c| c.is_ascii_digit())
            && !CLAIM_FILLER.contains(&w.as_str())
        {
            words.push(w);
        }
    }
    // Two content words or fewer ("Nothing else was raised") are too little to judge.
    if words.len() < 3 {
        return None;
    }
    let missing: Vec<&String> = words.iter().filter(|w| !word_supported(w, src)).collect();
    if missing.len() * 2 > words.len() {
        let shown: Vec<&str> = missing.iter().take(4).map(|w| w.as_str()).collect();
        return Some(format!("\"{}\" are not in the transcript", shown.join("\", \"")));
    }
    None
}

/// A word or its stem in the (lowercased) source: the word itself, or, for longer words,
/// the source holding a word that starts with all but its last three letters.
fn word_supported(word: &str, src: &str) -> bool {
    if contains_word(src, word) {
        return true;
    }
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 6 || chars.iter().any(|c| unspaced(*c)) {
        return false;
    }
    let stem: String = chars[..chars.len() - 3].iter().collect();
    let edge = |c: char| !c.is_alphanumeric();
    src.match_indices(stem.as_str()).any(|(i, _)| src[..i].chars().next_back().is_none_or(edge))
}

/// The numbers a text states: a word that starts with a digit, read up to its first
/// letter, with its inner separators ("5:27am" → "5:27", "$1,200" → "1,200", "12/05").
/// Words that start with a letter ("Q3", "v1.2", "mp4") are names, not quantities.
pub(crate) fn numbers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || c == '-' || c == '\u{2013}') {
        let token = token.trim_start_matches(|c: char| !c.is_alphanumeric());
        if !token.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let run: String =
            token.chars().take_while(|c| c.is_ascii_digit() || matches!(c, ':' | '.' | ',' | '/')).collect();
        let n = run.trim_end_matches([':', '.', ',', '/']).to_string();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The sentences of a summary: split after `.`, `!` or `?` followed by a space, at line
/// ends, and after the full-width stops of scripts without spaces.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let ends = match c {
            '。' | '！' | '？' | '\n' => true,
            '.' | '!' | '?' => chars.peek().is_none_or(|n| n.is_whitespace()),
            _ => false,
        };
        if ends {
            if !current.trim().is_empty() {
                out.push(current.trim().to_string());
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
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
    fn invented_claims_are_caught_and_paraphrase_is_not() {
        let src = &Source::new(
            "Maria: I finished the invoice export on Tuesday. Tom: the staging database is down again, \
             three times this week. Maria: let's ship the release on Friday at 10:30 anyway.",
        );
        assert_eq!(claim_unsupported("The team agreed to ship the release on Friday.", src), None);
        assert_eq!(claim_unsupported("Maria finished exporting the invoices.", src), None, "a stem counts");
        assert_eq!(claim_unsupported("The staging database went down 3 times.", src), None, "spelled numbers count");
        assert_eq!(claim_unsupported("The release ships at 10:30.", src), None);
        let e = claim_unsupported("The new order is not allowed to be placed at 5:27am.", src).unwrap_or_default();
        assert!(e.contains("5:27"), "{e}");
        assert!(claim_unsupported("There were 5 comments on the release.", src).is_some());
        let e = claim_unsupported("Marketing approved the holiday campaign budget.", src).unwrap_or_default();
        assert!(e.contains("marketing"), "{e}");
        assert_eq!(claim_unsupported("Nothing else came up.", src), None, "too little to judge");
    }

    #[test]
    fn sentences_and_numbers_are_split_as_written() {
        assert_eq!(
            sentences("We ship v1.2 on Friday. Tom fixes it! Why?\nDone"),
            ["We ship v1.2 on Friday.", "Tom fixes it!", "Why?", "Done"]
        );
        assert_eq!(sentences("我们下周五发布。李娜准备说明。"), ["我们下周五发布。", "李娜准备说明。"]);
        assert_eq!(
            numbers("at 5:27am, $1,200 and 3.5%; 10:30-11:00; Q3, v1.2 and mp4 are names"),
            ["5:27", "1,200", "3.5", "10:30", "11:00"]
        );
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

//! `frugal draft`: an email from bullet points, or a reply to an email.
//!
//! The output is a subject line (new mails) and a body, with no chatter ("Sure! Here is your
//! email:") — a grammar forces the `Subject:` line first, and a chatter filter drops a
//! preamble line or a closing offer the model adds anyway. Names, dates and amounts in the
//! draft are checked against the input; anything the model invented is reported.

use frugal_llm::{CacheMark, Completion, Constraint, Message, Request, Sampling};
use serde::Serialize;

use super::{repeated_ngram, Check, Task, CALENDAR_WORDS};
use crate::email::Email;

pub use super::chatter::{is_chatter, strip_chatter, ChatterFilter};

const SYSTEM: &str = include_str!("../../prompts/draft.system.md");
const NEW: &str = include_str!("../../prompts/draft.new.user.md");
const REPLY: &str = include_str!("../../prompts/draft.reply.user.md");

/// How the email should sound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Plain and polite.
    #[default]
    Neutral,
    /// Warm, personal.
    Friendly,
    /// Formal, for clients and officials.
    Formal,
    /// Clear and insistent, for deadlines and refusals.
    Firm,
}

impl Tone {
    fn describe(self) -> &'static str {
        match self {
            Self::Neutral => "neutral and polite",
            Self::Friendly => "friendly and warm",
            Self::Formal => "formal and courteous",
            Self::Firm => "firm, clear and direct, without being rude",
        }
    }
}

/// How long the email should be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Length {
    /// Two to four sentences.
    Short,
    /// One or two short paragraphs.
    #[default]
    Medium,
    /// Several paragraphs.
    Long,
}

impl Length {
    fn describe(self) -> &'static str {
        match self {
            Self::Short => "short: two to four sentences",
            Self::Medium => "medium: one or two short paragraphs",
            Self::Long => "long: three or four paragraphs",
        }
    }
    fn max_tokens(self) -> u32 {
        match self {
            Self::Short => 160,
            Self::Medium => 320,
            Self::Long => 560,
        }
    }
}

impl std::str::FromStr for Tone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "neutral" => Ok(Self::Neutral),
            "friendly" => Ok(Self::Friendly),
            "formal" => Ok(Self::Formal),
            "firm" => Ok(Self::Firm),
            _ => Err(format!("unknown tone {s:?} (neutral, friendly, formal, firm)")),
        }
    }
}

impl std::str::FromStr for Length {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "short" => Ok(Self::Short),
            "medium" => Ok(Self::Medium),
            "long" => Ok(Self::Long),
            _ => Err(format!("unknown length {s:?} (short, medium, long)")),
        }
    }
}

/// A finished draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Draft {
    /// Subject line (`Re: …` for replies).
    pub subject: String,
    /// The email body.
    pub body: String,
}

/// The draft task.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct DraftTask {
    /// The user's notes or bullet points (may be empty for a reply).
    pub notes: String,
    /// The email being answered.
    pub reply_to: Option<Email>,
    /// Tone.
    pub tone: Tone,
    /// Length.
    pub length: Length,
    /// Sampling seed: the same seed gives the same draft; another seed another take.
    pub seed: u32,
    /// Passages from the user's files related to the email (see
    /// [`crate::Assistant::draft_context`]); empty when nothing is indexed.
    pub related: crate::grounding::Grounding,
}

impl DraftTask {
    /// Everything the draft may take facts from.
    pub fn source(&self) -> String {
        let mut s = self.notes.clone();
        if let Some(e) = &self.reply_to {
            for part in [e.from.as_deref(), e.subject.as_deref()].into_iter().flatten() {
                s.push('\n');
                s.push_str(part);
            }
            for t in &e.to {
                s.push('\n');
                s.push_str(t);
            }
            s.push('\n');
            s.push_str(&e.body);
        }
        for r in &self.related.sources {
            s.push('\n');
            s.push_str(&r.text);
        }
        s
    }
}

/// Words in the draft that state facts — capitalised names (not at a sentence start),
/// numbers and amounts, month and day names — and are not in `source`, matched whole (see
/// `facts`).
pub fn unsupported_facts(draft: &str, source: &str) -> Vec<String> {
    super::facts::unsupported_facts(draft, &super::facts::Stated::new(source))
}

/// Fill-in-the-blank placeholders ("[Your Name]", "[Date]") left in a draft.
pub fn placeholders(draft: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = draft;
    while let Some(start) = rest.find('[') {
        let Some(len) = rest[start..].find(']') else { break };
        let p = rest[start..start + len + 1].to_string();
        if len > 1 && len < 40 && !out.contains(&p) {
            out.push(p);
        }
        rest = &rest[start + len + 1..];
    }
    out
}

impl Task for DraftTask {
    type Output = (Draft, bool);

    fn request(&self, attempt: u32) -> Request {
        let user = match &self.reply_to {
            None => NEW.replace("{notes}", self.notes.trim()),
            Some(e) => REPLY
                .replace("{from}", &e.from.as_ref().map_or(String::new(), |f| format!(" from {f}")))
                .replace("{subject}", &e.subject.as_ref().map_or(String::new(), |s| format!(" (subject: {s})")))
                .replace("{email}", e.body.trim())
                .replace(
                    "{notes}",
                    &if self.notes.trim().is_empty() {
                        String::new()
                    } else {
                        format!("What the reply should say:\n{}\n\n", self.notes.trim())
                    },
                ),
        }
        .replace(
            "{related}",
            &if self.related.sources.is_empty() {
                String::new()
            } else {
                format!(
                    "Related notes from the user's files (use them only where they help):\n{}",
                    self.related.render()
                )
            },
        )
        .replace("{tone}", self.tone.describe())
        .replace("{length}", self.length.describe());
        // New mails must open with the subject line: no room for a chatty preamble.
        let grammar = match self.reply_to {
            None => r#"root ::= "Subject: " [^\n]{3,90} "\n\n" [^\n] [^\x00]*"#,
            Some(_) => r#"root ::= [^\n] [^\x00]*"#,
        };
        let sampling = if attempt == 0 {
            Sampling { temperature: 0.4, repeat_penalty: 1.1, seed: Some(self.seed), ..Sampling::default() }
        } else {
            Sampling {
                temperature: 0.8,
                repeat_penalty: 1.3,
                seed: Some(self.seed.wrapping_add(96)),
                ..Sampling::default()
            }
        };
        // A reply's stable prefix is the email it answers (drafting again, in another tone,
        // re-sends it); a new mail's notes are all there is, and change each time.
        let marks = self
            .reply_to
            .as_ref()
            .and_then(|e| user.find(e.body.trim()).map(|i| i + e.body.trim().len()))
            .map(|at| vec![CacheMark { message: 1, at, shared: false }])
            .unwrap_or_default();
        Request::new(vec![Message::system(SYSTEM.trim()), Message::user(user)])
            .with_cache("frugal-draft", marks)
            .with_max_tokens(self.length.max_tokens())
            .with_sampling(sampling)
            .with_constraint(Constraint::Grammar(grammar.to_string()))
    }

    fn parse(&self, done: &Completion) -> Result<Self::Output, String> {
        let text = done.text.trim();
        let (subject, body) = match text.strip_prefix("Subject:") {
            Some(rest) => {
                let (s, b) = rest.split_once('\n').unwrap_or((rest, ""));
                (s.trim().to_string(), b.to_string())
            }
            None => (String::new(), text.to_string()),
        };
        let subject = match &self.reply_to {
            Some(e) => {
                let original = e.subject.clone().unwrap_or_default();
                if original.to_lowercase().starts_with("re:") || original.is_empty() {
                    original
                } else {
                    format!("Re: {original}")
                }
            }
            None => subject,
        };
        // Small models sometimes wrap the whole email in quotes.
        let body = body.trim().trim_matches(|c| c == '"' || c == '“' || c == '”').to_string();
        let (body, stripped) = strip_chatter(&body);
        Ok((Draft { subject, body: body.trim().to_string() }, stripped))
    }

    fn degenerate(&self, (draft, _): &Self::Output) -> Option<String> {
        if draft.body.split_whitespace().count() < 5 {
            return Some("the draft is empty".into());
        }
        repeated_ngram(&draft.body, 4, 3).map(|p| format!("the draft repeats \"{p}\""))
    }

    fn batched(&self) -> Option<crate::batches::Delivery> {
        let spec = serde_json::to_value(self).ok()?;
        Some(crate::batches::Delivery::Answer { task: "draft".into(), spec })
    }

    fn check(&self, (draft, stripped): &mut Self::Output) -> Vec<Check> {
        let text = format!("{}\n{}", draft.subject, draft.body);
        let invented = unsupported_facts(&text, &self.source());
        // The user's own name is unknown: one sign-off placeholder is expected, more are gaps.
        let blanks: Vec<String> =
            placeholders(&text).into_iter().filter(|p| !p.eq_ignore_ascii_case("[your name]")).collect();
        vec![
            Check::from_findings("no_placeholders", &blanks, "blanks left to fill"),
            Check::new("no_chatter", true, if *stripped { "removed a preamble or closing offer" } else { "" }),
            Check::from_findings("facts_grounded", &invented, "not in your input"),
            Check::from_findings("notes_covered", &missing_from_notes(&text, &self.notes), "left out of your notes"),
            Check::from_findings("signed_as_you", &signed_as_them(&draft.body, self.reply_to.as_ref()), "signed as"),
        ]
    }
}

/// The facts of the user's notes that the draft left out: every number, every month and day
/// name, and every capitalised word past a line's first (a name, a room, a product). A draft
/// that drops "20 frames on March 19" from a reply about a delivery has not done its job.
pub fn missing_from_notes(draft: &str, notes: &str) -> Vec<String> {
    let have = draft.to_lowercase();
    let mut wanted: Vec<String> = super::grounded::numbers(notes);
    for line in notes.lines() {
        let line = line.trim_start_matches(|c: char| c == '-' || c == '*' || c == '•' || c.is_whitespace());
        for (i, word) in line.split_whitespace().enumerate() {
            let w = word.trim_matches(|c: char| !c.is_alphanumeric());
            let lower = w.to_lowercase();
            let named = i > 0 && w.chars().next().is_some_and(char::is_uppercase) && w != "I" && !w.starts_with("I'");
            if (named || CALENDAR_WORDS.contains(&lower.as_str())) && !wanted.iter().any(|x| x.to_lowercase() == lower)
            {
                wanted.push(w.to_string());
            }
        }
    }
    wanted
        .into_iter()
        .filter(|w| {
            let w = w.to_lowercase();
            !super::grounded::contains_word(&have, &w) && !super::grounded::contains_word(&have, &w.replace(',', ""))
        })
        .collect()
}

/// A reply signed with the name of the person it answers: the model copied their signature.
fn signed_as_them(body: &str, reply_to: Option<&Email>) -> Vec<String> {
    let Some(first) = reply_to.and_then(|e| e.from.as_deref()).and_then(|f| f.split_whitespace().next()) else {
        return Vec::new();
    };
    let first = first.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    if first.chars().count() < 2 || first.contains('@') {
        return Vec::new();
    }
    let lines: Vec<&str> = body.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let greeting = |l: &str| {
        let l = l.to_lowercase();
        ["hi", "hello", "dear", "hey", "good morning", "thank"].iter().any(|g| l.starts_with(g))
    };
    lines
        .iter()
        .skip(1)
        .rev()
        .take(3)
        .filter(|l| !greeting(l) && l.split_whitespace().count() <= 4)
        .filter(|l| super::grounded::contains_word(&l.to_lowercase(), &first))
        .map(|l| format!("{l} (who wrote the email you are answering)"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatter_is_stripped_and_real_text_kept() {
        let (b, s) = strip_chatter("Sure! Here is your email:\n\nHi Sam,\n\nThe review moved to Friday.\n\nLet me know if you'd like any changes.");
        assert!(s);
        assert_eq!(b, "Hi Sam,\n\nThe review moved to Friday.");
        let (b, s) = strip_chatter("Hi Sam,\nHere is the report you asked for.");
        assert!(!s);
        assert!(b.contains("Here is the report"));
    }

    #[test]
    fn the_stream_filter_drops_chatter_and_streams_the_rest() {
        let mut f = ChatterFilter::default();
        let mut shown = String::new();
        for piece in [
            "Sure",
            "! Here is",
            " your email:\n",
            "\nHi ",
            "Sam,\nThe rev",
            "iew moved.\n",
            "Let me know if you",
            " want changes.",
        ] {
            shown.push_str(&f.push(piece));
        }
        shown.push_str(&f.finish());
        assert_eq!(shown, "Hi Sam,\nThe review moved.\n");
        // Text that is not chatter shows before its line ends.
        let mut f = ChatterFilter::default();
        assert_eq!(f.push("Hi Sam"), "Hi Sam");
    }

    #[test]
    fn a_draft_must_keep_the_facts_of_the_notes() {
        let notes = "- yes, 20 frames on March 19 is fine, rest on March 28\n- ask Lena to confirm the Leeds truck";
        let good = "Hi Lena,\nYes: 20 frames on March 19 and the rest on March 28. Could you confirm the Leeds truck?";
        assert!(missing_from_notes(good, notes).is_empty(), "{:?}", missing_from_notes(good, notes));
        let bad = "Hi Lena,\nThanks, shipping on March 28 works.";
        assert_eq!(missing_from_notes(bad, notes), vec!["20", "19", "Leeds"]);
        assert_eq!(missing_from_notes("The quote is 2300 euros.", "- send the 2,300 euro quote"), Vec::<String>::new());
    }

    #[test]
    fn a_reply_signed_as_the_sender_is_caught() {
        let email = crate::email::parse_email("From: Nora Field <nora@example.org>\nSubject: Offsite\n\nCan we meet?");
        let copied = "Hi Nora,\n\nMay 12 works.\n\nBest regards,\nNora";
        assert_eq!(signed_as_them(copied, Some(&email)).len(), 1);
        let fine = "Hi Nora,\n\nMay 12 works, Nora will love the lake.\n\nBest regards,\n[Your Name]";
        assert!(signed_as_them(fine, Some(&email)).is_empty());
        assert!(signed_as_them(copied, None).is_empty());
    }

    #[test]
    fn placeholders_are_gaps_not_facts() {
        let d = "Dear [Recipient],\nSee you on [Date] at [Your Company Name].\n[Your Name]";
        assert!(unsupported_facts(d, "").is_empty(), "{:?}", unsupported_facts(d, ""));
        assert_eq!(placeholders(d), vec!["[Recipient]", "[Date]", "[Your Company Name]", "[Your Name]"]);
    }

    #[test]
    fn invented_names_dates_and_amounts_are_found() {
        let src = "- tell Sam the review moved to Friday 10am\n- budget is $4,000";
        let draft = "Hi Sam,\nThe review moved to Friday at 10am. The budget is $4,000, approved by Karen on Tuesday. Best, [Your Name]";
        assert_eq!(unsupported_facts(draft, src), vec!["Karen", "Tuesday"]);
        assert!(unsupported_facts("Hi Sam,\nSee you Friday. I'm glad, and I'll bring it.", src).is_empty());
        assert_eq!(unsupported_facts("We need $9,000 by then.", src), vec!["$9,000"]);
        // Whole numbers: "$500" is not in "$4,500" (the 2nd is the 2 of "2pm").
        let src = "- tell Sam: budget is $4,500\n- review Friday 2pm";
        assert_eq!(unsupported_facts("Hi Sam,\nWe spent $500 by the 2nd.", src), vec!["$500"]);
    }
}

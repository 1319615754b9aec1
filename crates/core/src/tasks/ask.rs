//! Ask: a question answered from the user's files, with citations, or "not found".
//!
//! The model sees numbered sources (chosen and pruned by [`crate::grounding`]) and a grammar
//! that allows only `NOT FOUND` or short claims each ending in a source number, so every
//! answer carries citations by construction. Then the answer is checked: its content words
//! must come from the sources it cites. An answer that fails is not shown as an answer — the
//! user is told it was not found in their files, never given an invention.

use frugal_llm::{CacheMark, Completion, Constraint, Message, Request, Sampling};
use serde::Serialize;

use super::{facts, repeated_ngram, Check, Task};
use crate::grounding::{Grounding, Source};

const SYSTEM: &str = include_str!("../../prompts/ask.system.md");
const USER: &str = include_str!("../../prompts/ask.user.md");

/// Tokens of sources an answer may draw on.
pub const SOURCE_BUDGET: usize = 1_500;
/// Tokens for the answer itself.
const ANSWER_TOKENS: u32 = 200;
const NOT_FOUND: &str = "NOT FOUND";

/// The model's answer, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The answer text with its `[n]` markers (empty when not found).
    pub text: String,
    /// The source numbers it cites, in order of first use.
    pub cited: Vec<usize>,
    /// The model said the sources do not answer the question.
    pub not_found: bool,
}

/// The ask task.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct AskTask {
    /// The question.
    pub question: String,
    /// The sources.
    pub grounding: Grounding,
}

/// What `frugal ask` shows.
#[derive(Clone, Debug, Serialize)]
pub struct AskReport {
    /// The question.
    pub question: String,
    /// Whether the answer was found in the files (and passed the checks).
    pub found: bool,
    /// The answer, when found.
    pub answer: Option<String>,
    /// The sources the answer cites, when found.
    pub cited: Vec<Source>,
    /// Every source the model was shown.
    pub sources: Vec<Source>,
    /// An answer that was rejected by the checks (not shown as an answer).
    pub rejected: Option<String>,
    /// The checks.
    pub quality: super::Quality,
    /// Any source came from a local-only folder.
    pub local_only: bool,
}

impl AskReport {
    /// The report of a checked answer: shown with what it cites when it passed, kept as
    /// rejected when it failed (unless the model said the files do not answer).
    pub fn checked(task: AskTask, answer: Answer, quality: super::Quality) -> Self {
        let passed = quality.passed;
        AskReport {
            question: task.question,
            found: passed,
            cited: if passed {
                task.grounding.sources.iter().filter(|s| answer.cited.contains(&s.n)).cloned().collect()
            } else {
                Vec::new()
            },
            local_only: task.grounding.local_only(),
            sources: task.grounding.sources,
            rejected: (!passed && !answer.not_found).then(|| answer.text.clone()),
            answer: passed.then_some(answer.text),
            quality,
        }
    }
}

impl Task for AskTask {
    type Output = Answer;

    fn request(&self, attempt: u32) -> Request {
        // The sources before the question: asking again about the same files re-sends the
        // same prefix, which a cloud cache can keep (see `caching`).
        let (head, tail) = USER.split_once("{question}").unwrap_or((USER, ""));
        let head = head.replace("{sources}", &self.grounding.render());
        let user = format!("{head}{}{tail}", self.question.trim());
        let sources_end = head.len();
        let n = self.grounding.sources.len().max(1);
        let numbers: Vec<String> = (1..=n).map(|i| format!("\"{i}\"")).collect();
        let grammar = format!(
            "root ::= \"{NOT_FOUND}\" | claim (\" \" claim){{0,2}}\nclaim ::= [^\\[\\]\\n] [^\\[\\]\\n]{{7,240}} \"[\" num \"]\" \".\"?\nnum ::= {}",
            numbers.join(" | ")
        );
        let sampling = if attempt == 0 {
            Sampling { temperature: 0.2, repeat_penalty: 1.1, seed: Some(7), ..Sampling::default() }
        } else {
            Sampling { temperature: 0.7, repeat_penalty: 1.3, seed: Some(103), ..Sampling::default() }
        };
        Request::new(vec![Message::system(SYSTEM.trim()), Message::user(user)])
            .with_cache("frugal-ask", vec![CacheMark { message: 1, at: sources_end, shared: false }])
            .with_max_tokens(ANSWER_TOKENS)
            .with_sampling(sampling)
            .with_constraint(Constraint::Grammar(grammar))
    }

    fn parse(&self, done: &Completion) -> Result<Answer, String> {
        let text = done.text.trim();
        if text.is_empty() {
            return Err("empty answer".into());
        }
        if text.starts_with(NOT_FOUND) {
            return Ok(Answer { text: String::new(), cited: Vec::new(), not_found: true });
        }
        let mut cited = Vec::new();
        for part in text.split('[').skip(1) {
            if let Some(n) = part.split(']').next().and_then(|d| d.trim().parse::<usize>().ok()) {
                if (1..=self.grounding.sources.len()).contains(&n) && !cited.contains(&n) {
                    cited.push(n);
                }
            }
        }
        Ok(Answer { text: text.to_string(), cited, not_found: false })
    }

    fn degenerate(&self, a: &Answer) -> Option<String> {
        repeated_ngram(&a.text, 4, 3).map(|p| format!("the answer repeats \"{p}\""))
    }

    fn batched(&self) -> Option<crate::batches::Delivery> {
        let spec = serde_json::to_value(self).ok()?;
        Some(crate::batches::Delivery::Answer { task: "ask".into(), spec })
    }

    fn check(&self, a: &mut Answer) -> Vec<Check> {
        if a.not_found {
            return vec![Check::new("found", false, "the model found no answer in the sources")];
        }
        let source_text = |ns: &[usize]| -> String {
            self.grounding
                .sources
                .iter()
                .filter(|s| ns.contains(&s.n))
                .map(|s| format!("{}\n{}\n", s.title, s.text))
                .collect()
        };
        // Each claim against the source it cites (the grammar has one per claim): a fact
        // from another source, or from the question, is not what this source says. Names,
        // numbers and a "not" must be in that source; other words may come from the
        // question too (small models paraphrase; a third of new words is the most we accept).
        let (mut unsupported, mut invented, mut words) = (Vec::<String>::new(), Vec::<String>::new(), 0);
        for (claim, cites) in claims(&a.text, &a.cited) {
            let source = source_text(&cites);
            let stated = facts::Stated::new(&source);
            for f in facts::unsupported_facts(&claim, &stated) {
                if !invented.contains(&f) {
                    invented.push(f);
                }
            }
            if facts::negates(&claim, true) && !stated.negates() {
                invented.push("not".into());
            }
            for w in unsupported_words(&claim, &format!("{source} {}", self.question)) {
                if !unsupported.contains(&w) {
                    unsupported.push(w);
                }
            }
            words += content_words(&claim).len();
        }
        let grounded = unsupported.len() * 3 <= words.max(1) && invented.is_empty();
        let mut findings = invented.clone();
        findings.extend(unsupported.iter().filter(|w| !invented.contains(w)).cloned());
        vec![
            Check::new("found", true, ""),
            Check::new(
                "cites_sources",
                !a.cited.is_empty(),
                if a.cited.is_empty() { "no valid source number" } else { "" },
            ),
            Check {
                name: "grounded",
                passed: grounded,
                detail: if findings.is_empty() {
                    String::new()
                } else {
                    format!("not in the cited sources: {}", findings.join(", "))
                },
                findings: if grounded { Vec::new() } else { findings },
            },
        ]
    }
}

/// The answer's claims, each with the sources it cites: the text before each `[n]` (or
/// `[n, m]`, `[n][m]`) marker — or after it, when the answer puts its markers first
/// ("[1] The offsite…"). A bracket that holds no source number (`[note]`) is part of the
/// claim's text, never a place where text goes unchecked. Text after the last marker, or an
/// answer with none (a cloud model's prose), is checked against every source it cites.
fn claims(text: &str, cited: &[usize]) -> Vec<(String, Vec<usize>)> {
    let numbers = |inside: &str| -> Vec<usize> {
        let ns: Vec<Option<usize>> = inside.split(',').map(|n| n.trim().parse().ok()).collect();
        if ns.iter().all(Option::is_some) {
            ns.into_iter().flatten().collect()
        } else {
            Vec::new()
        }
    };
    // Markers first: each claim follows its marker.
    let leads = text
        .trim_start()
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .is_some_and(|(inside, _)| !numbers(inside).is_empty());
    let clean = |t: &str| t.trim().trim_start_matches(['.', '!', '?', ',', ';']).trim().to_string();
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    let mut pending = String::new();
    let mut lead: Vec<usize> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(len) = rest[open..].find(']') else { break };
        let ns = numbers(&rest[open + 1..open + len]);
        if ns.is_empty() {
            // Not a citation: it stays in the text.
            pending.push_str(&rest[..open + len + 1]);
            rest = &rest[open + len + 1..];
            continue;
        }
        pending.push_str(&rest[..open]);
        let claim = clean(&pending);
        pending.clear();
        if leads {
            if !claim.is_empty() {
                out.push((claim, std::mem::take(&mut lead)));
            }
            lead.extend(ns);
        } else if !claim.is_empty() {
            out.push((claim, ns));
        } else if let Some(last) = out.last_mut() {
            // "[1][2]": one claim, two sources.
            last.1.extend(ns);
        }
        rest = &rest[open + len + 1..];
    }
    pending.push_str(rest);
    let tail = clean(&pending);
    if !tail.is_empty() {
        let sources = if leads && !lead.is_empty() { lead } else { cited.to_vec() };
        out.push((tail, sources));
    }
    out
}

/// Lower-cased words of four letters or more, and every number.
fn content_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4 || w.chars().any(|c| c.is_ascii_digit()) && !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| {
            !matches!(
                w.as_str(),
                "that"
                    | "this"
                    | "with"
                    | "from"
                    | "have"
                    | "will"
                    | "were"
                    | "they"
                    | "their"
                    | "there"
                    | "about"
                    | "which"
                    | "would"
                    | "should"
                    | "could"
                    | "been"
                    | "into"
                    | "also"
                    | "than"
                    | "then"
                    | "when"
                    | "what"
            )
        })
        .collect()
}

/// Content words of `answer` that appear nowhere in `source` (prefix-matched on 5 letters,
/// a crude stem: "booked" matches "booking").
fn unsupported_words(answer: &str, source: &str) -> Vec<String> {
    let known: std::collections::HashSet<String> =
        content_words(source).into_iter().map(|w| w.chars().take(5).collect()).collect();
    let mut out: Vec<String> = Vec::new();
    for w in content_words(answer) {
        let stem: String = w.chars().take(5).collect();
        if !known.contains(&stem) && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grounding::Source;

    fn task() -> AskTask {
        let source = |n: usize, text: &str| Source {
            n,
            path: format!("/notes/{n}.md").into(),
            line_start: 3,
            line_end: 4,
            title: "Offsite".into(),
            heading_path: String::new(),
            text: text.into(),
            local_only: false,
        };
        AskTask {
            question: "Where is the offsite?".into(),
            grounding: Grounding {
                sources: vec![
                    source(1, "The offsite is at the lake house, booked for May 12."),
                    source(2, "Parking is free."),
                ],
                ..Grounding::default()
            },
        }
    }

    fn done(text: &str) -> Completion {
        Completion {
            text: text.into(),
            usage: frugal_llm::Usage::default(),
            reason: frugal_llm::FinishReason::Stop,
            statuses: Vec::new(),
            tool_calls: Vec::new(),
        }
    }

    #[test]
    fn grounded_answers_pass_and_inventions_do_not() {
        let t = task();
        let mut a = t.parse(&done("The offsite is at the lake house on May 12 [1].")).unwrap();
        assert_eq!(a.cited, vec![1]);
        assert!(t.check(&mut a).iter().all(|c| c.passed));
        let mut year = t.parse(&done("The offsite is at the lake house on May 12, 2024 [1].")).unwrap();
        assert!(!t.check(&mut year).iter().all(|c| c.passed), "an invented year passed");
        let mut bad = t.parse(&done("The offsite moved to Barcelona with catering from Pierre [2].")).unwrap();
        let checks = t.check(&mut bad);
        let grounded = checks.iter().find(|c| c.name == "grounded").unwrap();
        assert!(!grounded.passed && grounded.detail.contains("Barcelona"), "{grounded:?}");
        let mut nf = t.parse(&done("NOT FOUND")).unwrap();
        assert!(nf.not_found && !t.check(&mut nf)[0].passed);
        assert_eq!(t.parse(&done("It is there [9].")).unwrap().cited, Vec::<usize>::new());
    }

    /// What a leading question, a near number, a "not" or a fact from the other source must
    /// not get past: each was shown as Frugal's answer before.
    #[test]
    fn the_question_is_no_evidence_and_facts_are_matched_whole_per_claim() {
        let passes = |question: &str, sources: &[&str], answer: &str| {
            let mut t = task();
            t.question = question.into();
            for (s, text) in t.grounding.sources.iter_mut().zip(sources) {
                s.text = (*text).into();
            }
            let mut a = t.parse(&done(answer)).unwrap();
            t.check(&mut a).iter().all(|c| c.passed)
        };
        let lake = ["The offsite is at the lake house, booked for May 12.", "Parking is free."];
        assert!(passes("Where is the offsite?", &lake, "The offsite is at the lake house on May 12 [1]."));
        assert!(passes("Is the offsite at the Hilton?", &lake, "No, the offsite is at the lake house [1]."));
        assert!(!passes(
            "Did we book the Hilton for the offsite?",
            &lake,
            "Yes, the offsite is booked at the Hilton [1]."
        ));
        assert!(!passes("Where is the offsite?", &lake, "The offsite is not at the lake house [1]."));
        assert!(!passes("Where is the offsite?", &lake, "Parking is free at the lake house on May 12 [2]."));
        let money = ["Budget $12,500. Deposit $2,000. Invoice 2024117.", "Parking is free."];
        assert!(passes("What is the budget?", &money, "The budget is $12,500 [1]."));
        assert!(!passes("Is the budget $15,000?", &money, "Yes, the budget is $15,000 [1]."));
        assert!(!passes("What is the budget?", &money, "The budget is $12,000 [1]."));
        assert!(!passes("What is the budget?", &money, "The deposit is $500 [1]."));
        assert!(!passes("Which invoice?", &money, "Invoice 2024118 [1]."));
        let own = |v: &[(&str, &[usize])]| v.iter().map(|(t, n)| (t.to_string(), n.to_vec())).collect::<Vec<_>>();
        assert_eq!(claims("A [1]. B [1][2]. C", &[1, 2]), own(&[("A", &[1]), ("B", &[1, 2]), ("C", &[1, 2])]));
        // A bracket that is no citation stays in the claim's text; markers first work too.
        assert_eq!(
            claims("The budget is $99,999 [note]. It is at the lake house [1].", &[1]),
            own(&[("The budget is $99,999 [note]. It is at the lake house", &[1])])
        );
        assert_eq!(claims("[1] A. [2] B.", &[1, 2]), own(&[("A.", &[1]), ("B.", &[2])]));
        assert!(!passes("What is the budget?", &money, "The budget is $99,999 [note]. It is $12,500 [1]."));
        assert!(passes("Where is the offsite?", &lake, "[1] The offsite is at the lake house on May 12."));
        assert!(!passes("Where is the offsite?", &lake, "Not at the lake house [1]."));
        let money2 = ["Total: $2,000.00, open 9:00-17:00.", "Parking is free."];
        assert!(passes("What is the total?", &money2, "The total is $2,000 and it opens at 9:00 [1]."));
    }

    #[test]
    fn the_grammar_offers_one_number_per_source() {
        let r = task().request(0);
        let Some(Constraint::Grammar(g)) = r.constraint else { panic!("no grammar") };
        assert!(g.contains("num ::= \"1\" | \"2\""), "{g}");
        assert!(r.messages[1].content.contains("[1] Offsite\nThe offsite is at the lake house"));
    }
}

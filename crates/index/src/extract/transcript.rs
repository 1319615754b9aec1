//! Meeting transcripts as people have them — WebVTT and SRT exports (Zoom, Teams, Meet),
//! `Name: line` text, Markdown notes — reduced to speaker turns. Timestamps, cue numbers and
//! styling are stripped; consecutive cues of one speaker are merged.

use serde::Serialize;

use crate::text::remove_between;

/// The format a transcript was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// WebVTT (`.vtt`).
    WebVtt,
    /// SubRip (`.srt`).
    Srt,
    /// Plain text with `Name: line` speaker turns.
    SpeakerText,
    /// Markdown notes.
    Markdown,
    /// Text without recognisable speakers.
    Plain,
}

/// One speaker turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// Who spoke, when known.
    pub speaker: Option<String>,
    /// What they said.
    pub text: String,
}

/// A parsed transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transcript {
    /// How it was read.
    pub format: Format,
    /// The turns, in order.
    pub turns: Vec<Turn>,
    /// Notes for the user ("unknown format, read as plain text").
    pub notes: Vec<String>,
}

impl Transcript {
    /// Distinct speakers in order of first appearance.
    pub fn speakers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.turns {
            if let Some(s) = &t.speaker {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
                    out.push(s.clone());
                }
            }
        }
        out
    }

    /// The transcript as `Name: text` lines, the form prompts use.
    pub fn render(&self) -> String {
        render_turns(&self.turns)
    }
}

/// Renders turns as `Name: text` lines.
pub fn render_turns(turns: &[Turn]) -> String {
    let mut out = String::new();
    for t in turns {
        match &t.speaker {
            Some(s) => out.push_str(&format!("{s}: {}\n", t.text)),
            None => out.push_str(&format!("{}\n", t.text)),
        }
    }
    out
}

/// Parses `text`; `extension` (lower-case, no dot) is a hint, the content decides.
pub fn parse(text: &str, extension: Option<&str>) -> Transcript {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let mut notes = Vec::new();
    let (format, turns) = if first.starts_with("WEBVTT") || extension == Some("vtt") {
        (Format::WebVtt, cues(&text, true))
    } else if extension == Some("srt") || looks_like_srt(&text) {
        (Format::Srt, cues(&text, false))
    } else {
        let turns = speaker_lines(&text);
        let with_speaker = turns.iter().filter(|t| t.speaker.is_some()).count();
        let is_md = matches!(extension, Some("md" | "markdown"));
        if with_speaker >= 2 && with_speaker * 2 >= turns.len() {
            (if is_md { Format::Markdown } else { Format::SpeakerText }, turns)
        } else {
            if !is_md && !matches!(extension, Some("txt" | "text") | None) {
                notes.push(format!("unknown transcript format .{}: read as plain text", extension.unwrap_or_default()));
            }
            (if is_md { Format::Markdown } else { Format::Plain }, paragraphs(&text))
        }
    };
    Transcript { format, turns: merge(turns), notes }
}

fn looks_like_srt(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    matches!((lines.next(), lines.next()), (Some(a), Some(b))
        if a.trim().chars().all(|c| c.is_ascii_digit()) && b.contains("-->"))
}

/// Cue-based formats: drop headers, blocks, cue ids, timestamps; keep text and speakers.
fn cues(text: &str, vtt: bool) -> Vec<Turn> {
    let mut turns = Vec::new();
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let Some(ts) = lines.iter().position(|l| l.contains("-->")) else { continue };
        if vtt
            && lines.first().is_some_and(|l| l.starts_with("NOTE") || l.starts_with("STYLE") || l.starts_with("REGION"))
        {
            continue;
        }
        let body = lines[ts + 1..].join(" ");
        let (voice, body) = voice_tag(&body);
        let cleaned = clean(&remove_between(&body, '<', '>'));
        if cleaned.is_empty() {
            continue;
        }
        let (speaker, said) = match voice {
            Some(v) => (Some(v), cleaned),
            None => split_speaker(&cleaned).map_or((None, cleaned.clone()), |(s, t)| (Some(s), t)),
        };
        if !said.is_empty() {
            turns.push(Turn { speaker, text: said });
        }
    }
    turns
}

/// `<v Name>text` or `<v.class Name>text` (WebVTT voice spans; Teams exports use them).
fn voice_tag(body: &str) -> (Option<String>, String) {
    let Some(rest) = body.strip_prefix("<v") else { return (None, body.to_string()) };
    let Some(end) = rest.find('>') else { return (None, body.to_string()) };
    let inner = rest[..end].trim();
    // A leading `.class` annotation precedes the name.
    let name = if inner.starts_with('.') { inner.split_once(' ').map_or("", |(_, n)| n) } else { inner };
    let name = name.trim();
    if name.is_empty() {
        (None, rest[end + 1..].to_string())
    } else {
        (Some(name.to_string()), rest[end + 1..].to_string())
    }
}

/// Removes annotation tokens (`{vocalsound}`, `[laughter]`, `(inaudible)`-style markers in
/// braces), decodes the common HTML entities of caption files and squeezes whitespace.
fn clean(s: &str) -> String {
    let out = remove_between(s, '{', '}');
    let out = out.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Name: text` → (Name, text), for names that look like names: at most five words, no
/// sentence punctuation, starting with a capital letter or a word character.
fn split_speaker(line: &str) -> Option<(String, String)> {
    let line = line.trim_start_matches(['-', '*', '>', ' ']);
    let (name, rest) = line.split_once(':')?;
    let name = name.trim().trim_matches('*').trim();
    let rest = rest.trim_start_matches('*').trim();
    let words = name.split_whitespace().count();
    let plausible = (1..=5).contains(&words)
        && name.len() <= 40
        && name.chars().next().is_some_and(|c| c.is_alphabetic())
        && !name.chars().any(|c| matches!(c, '.' | ',' | '?' | '!' | ';' | '"' | '/' | '(' | '[' | '#'))
        && !name.chars().all(|c| c.is_ascii_digit())
        && !matches!(
            name.to_lowercase().as_str(),
            "http"
                | "https"
                | "note"
                | "notes"
                | "agenda"
                | "date"
                | "time"
                | "subject"
                | "re"
                | "todo"
                | "action"
                | "decision"
        );
    (plausible && !rest.is_empty()).then(|| (name.to_string(), rest.to_string()))
}

/// Text with `Name: line` turns; lines without a speaker continue the previous turn.
fn speaker_lines(text: &str) -> Vec<Turn> {
    let mut turns: Vec<Turn> = Vec::new();
    for raw in text.lines() {
        let line = clean(raw);
        if line.is_empty() {
            continue;
        }
        match split_speaker(&line) {
            Some((s, t)) => turns.push(Turn { speaker: Some(s), text: t }),
            None => match turns.last_mut() {
                Some(last) if last.speaker.is_some() && !raw.starts_with('#') => {
                    last.text.push(' ');
                    last.text.push_str(&line);
                }
                _ => turns.push(Turn { speaker: None, text: line }),
            },
        }
    }
    turns
}

fn paragraphs(text: &str) -> Vec<Turn> {
    text.split("\n\n").map(clean).filter(|p| !p.is_empty()).map(|text| Turn { speaker: None, text }).collect()
}

/// Merges consecutive turns of the same speaker (captions split sentences across cues).
fn merge(turns: Vec<Turn>) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::with_capacity(turns.len());
    for t in turns {
        match out.last_mut() {
            Some(last) if last.speaker.is_some() && last.speaker == t.speaker => {
                last.text.push(' ');
                last.text.push_str(&t.text);
            }
            _ => out.push(t),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webvtt_zoom_style_is_stripped_and_merged() {
        let vtt = "WEBVTT\r\n\r\n1\r\n00:00:01.000 --> 00:00:03.000\r\nAna Ruiz: Hello everyone.\r\n\r\n2\r\n00:00:03.500 --> 00:00:05.000\r\nAna Ruiz: Let's start.\r\n\r\n3\r\n00:00:05.000 --> 00:00:07.000\r\nBo Chen: Hi <b>Ana</b>.\r\n";
        let t = parse(vtt, Some("vtt"));
        assert_eq!(t.format, Format::WebVtt);
        assert_eq!(t.turns.len(), 2);
        assert_eq!(t.turns[0].text, "Hello everyone. Let's start.");
        assert_eq!(t.turns[1], Turn { speaker: Some("Bo Chen".into()), text: "Hi Ana.".into() });
        assert_eq!(t.speakers(), vec!["Ana Ruiz", "Bo Chen"]);
    }

    #[test]
    fn webvtt_voice_spans_and_notes() {
        let vtt = "WEBVTT\n\nNOTE exported by Teams\n\nabc-1\n00:00:01.000 --> 00:00:02.000 align:start\n<v Priya Patel>We ship Friday.</v>\n\n00:00:02.000 --> 00:00:03.000\n<v.loud Tom>Agreed.\n";
        let t = parse(vtt, None);
        assert_eq!(t.speakers(), vec!["Priya Patel", "Tom"]);
        assert_eq!(t.turns[0].text, "We ship Friday.");
    }

    #[test]
    fn srt_cue_numbers_and_timestamps_are_dropped() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nMaya: First point\ncontinues here.\n\n2\n00:00:02,500 --> 00:00:04,000\nLeo: Second.\n";
        let t = parse(srt, None);
        assert_eq!(t.format, Format::Srt);
        assert_eq!(t.turns[0].text, "First point continues here.");
        assert_eq!(t.speakers(), vec!["Maya", "Leo"]);
    }

    #[test]
    fn speaker_text_with_annotations_and_continuations() {
        let txt = "Project Manager: So {vocalsound} we start.\nIndustrial Designer: Right {disfmarker} okay.\nand one more thing.\nProject Manager: Good.\n";
        let t = parse(txt, Some("txt"));
        assert_eq!(t.format, Format::SpeakerText);
        assert_eq!(t.turns[0].text, "So we start.");
        assert_eq!(t.turns[1].text, "Right okay. and one more thing.");
    }

    #[test]
    fn markdown_notes_and_unknown_formats() {
        let md = "# Weekly sync\n\n- **Dana:** budget approved\n- **Eli:** hiring on hold\n";
        let t = parse(md, Some("md"));
        assert_eq!(t.format, Format::Markdown);
        assert_eq!(t.speakers(), vec!["Dana", "Eli"]);
        let odd = parse("Some notes without speakers.\n\nSecond paragraph.", Some("log"));
        assert_eq!(odd.format, Format::Plain);
        assert_eq!(odd.turns.len(), 2);
        assert!(odd.notes[0].contains("unknown transcript format .log"));
    }

    #[test]
    fn urls_and_labels_are_not_speakers() {
        let t = parse("Agenda: budget\nhttps://example.com/x\nNote: nothing", None);
        assert!(t.speakers().is_empty(), "{:?}", t.speakers());
    }
}

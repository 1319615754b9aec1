//! WebVTT out: the transcript format the rest of Frugal (summaries, the index, the
//! Meetings folder) already reads, with `<v Name>` voice spans when speakers are known.

use serde::Serialize;

/// One cue of the transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    pub text: String,
}

/// `HH:MM:SS.mmm`, as WebVTT wants it.
pub fn timestamp(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// The whole file; `note` goes in a NOTE block under the header (what made it, from what).
pub fn render(cues: &[Cue], note: &str) -> String {
    let mut out = String::from("WEBVTT\n\n");
    if !note.is_empty() {
        // A NOTE must not contain "-->"; the source's name could.
        out.push_str(&format!("NOTE {}\n\n", note.replace("-->", "->")));
    }
    for cue in cues {
        out.push_str(&format!("{} --> {}\n", timestamp(cue.start_ms), timestamp(cue.end_ms.max(cue.start_ms))));
        // Text is escaped so a "<" or "&" the recogniser wrote cannot open a tag.
        let text = cue.text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        match &cue.speaker {
            Some(name) => out.push_str(&format!("<v {name}>{text}\n\n")),
            None => out.push_str(&format!("{text}\n\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_render_as_webvtt_with_voices() {
        let cues = vec![
            Cue { start_ms: 0, end_ms: 2_500, speaker: Some("Me".into()), text: "Hello <all> & welcome".into() },
            Cue { start_ms: 3_723_004, end_ms: 3_725_000, speaker: None, text: "Bye.".into() },
        ];
        let text = render(&cues, "from call.wav --> model");
        assert_eq!(
            text,
            "WEBVTT\n\nNOTE from call.wav -> model\n\n00:00:00.000 --> 00:00:02.500\n<v Me>Hello &lt;all&gt; &amp; welcome\n\n01:02:03.004 --> 01:02:05.000\nBye.\n\n"
        );
    }
}

//! Emails to answer: `.eml` files (MIME, encodings, charsets via `mail-parser`) or pasted
//! text, reduced to the latest message — quoted history (`>` lines, "On … wrote:", Outlook
//! and Lotus Notes headers) is trimmed so the model answers what was actually asked.

use serde::{Deserialize, Serialize};

/// The message being answered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// Sender name (or address when there is no name).
    pub from: Option<String>,
    /// Recipient names or addresses.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: Option<String>,
    /// The latest message's text, quoted history removed.
    pub body: String,
    /// Whether quoted history was removed.
    pub trimmed_history: bool,
}

/// Parses an email from raw text: an RFC 5322 message when it starts with headers, otherwise
/// pasted body text.
pub fn parse_email(raw: &str) -> Email {
    if looks_like_headers(raw) {
        if let Some(m) = mail_parser::MessageParser::default().parse(raw.as_bytes()) {
            let names = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
                a.map(|a| {
                    a.iter()
                        .filter_map(|x| x.name().or(x.address()).map(|s| s.trim_matches('"').trim().to_string()))
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
            };
            let body = m.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
            let (body, trimmed) = trim_history(&body);
            return Email {
                from: names(m.from()).into_iter().next(),
                to: names(m.to()),
                subject: m.subject().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
                body,
                trimmed_history: trimmed,
            };
        }
    }
    let (body, trimmed) = trim_history(raw);
    Email { body, trimmed_history: trimmed, ..Email::default() }
}

fn looks_like_headers(raw: &str) -> bool {
    let head: Vec<&str> = raw.lines().take_while(|l| !l.trim().is_empty()).collect();
    head.first().is_some_and(|l| is_header(l))
        && head.iter().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("from:") || l.starts_with("subject:")
        })
}

fn is_header(line: &str) -> bool {
    line.split_once(':').is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// Cuts the body at the first line that starts quoted history. Returns the kept text and
/// whether anything was cut.
pub fn trim_history(body: &str) -> (String, bool) {
    let lines: Vec<&str> = body.lines().collect();
    let cut = (0..lines.len()).find(|&i| starts_history(&lines, i));
    let kept = match cut {
        Some(i) => lines[..i].join("\n"),
        None => lines.join("\n"),
    };
    (kept.trim().to_string(), cut.is_some())
}

fn starts_history(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    let lower = line.to_ascii_lowercase();
    let next = |k: usize| lines.get(i + k).map_or(String::new(), |l| l.trim().to_ascii_lowercase());
    line.starts_with('>')
        || (lower.starts_with("on ") && (lower.ends_with("wrote:") || next(1).ends_with("wrote:")))
        || lower.contains("original message-----")
        || lower.contains("forwarded message")
        || lower.starts_with("-----forwarded")
        || (line.starts_with("____") && line.chars().all(|c| c == '_'))
        // Outlook: a From: line followed shortly by Sent: or Date:.
        || (lower.starts_with("from:") && (1..=3).any(|k| next(k).starts_with("sent:") || next(k).starts_with("date:")))
        // Lotus Notes: `"Name" <addr> on 06/26/2000 02:01:26 PM` then `To:`.
        || (lower.contains(" on ") && has_numeric_date(&lower) && (1..=2).any(|k| next(k).starts_with("to:")))
}

fn has_numeric_date(s: &str) -> bool {
    s.split_whitespace().any(|w| {
        w.split('/').count() == 3 && w.split('/').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    })
}

/// One `.eml` message for the index: a header line (who, to whom) and the latest text, under
/// the subject as heading; quoted history is left out so a thread is not indexed many times.
pub fn extract_message(raw: &str) -> super::Extracted {
    let header_lines = raw.lines().take_while(|l| !l.trim().is_empty()).count() as u32;
    let blocks = message_blocks(raw, header_lines + 2);
    let title = parse_email(raw).subject;
    super::Extracted { title, blocks, note: None }
}

/// An mbox file: every message, each under its own subject.
pub fn extract_mbox(raw: &str) -> super::Extracted {
    let mut blocks = Vec::new();
    let mut line = 1u32;
    for message in split_mbox(raw) {
        let header_lines = message.lines().take_while(|l| !l.trim().is_empty()).count() as u32;
        blocks.extend(message_blocks(message, line + header_lines + 2));
        line += message.lines().count() as u32 + 1;
    }
    super::Extracted { title: None, blocks, note: None }
}

/// mbox messages: each starts at a `From ` line at the start of a line.
fn split_mbox(raw: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = raw.match_indices("\nFrom ").map(|(i, _)| i + 1).collect();
    if raw.starts_with("From ") {
        starts.insert(0, 0);
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(raw.len());
        // Skip the `From ` envelope line itself.
        let body = &raw[s..end];
        out.push(body.split_once('\n').map_or("", |(_, rest)| rest));
    }
    if out.is_empty() {
        out.push(raw);
    }
    out
}

fn message_blocks(raw: &str, body_line: u32) -> Vec<super::Block> {
    let mail = parse_email(raw);
    let subject = mail.subject.clone().unwrap_or_else(|| "(no subject)".into());
    let mut who = String::new();
    if let Some(from) = &mail.from {
        who.push_str(&format!("From: {from}"));
    }
    if !mail.to.is_empty() {
        who.push_str(&format!("{}To: {}", if who.is_empty() { "" } else { "; " }, mail.to.join(", ")));
    }
    let mut blocks = super::paragraphs(&mail.body, body_line);
    if !who.is_empty() {
        match blocks.first_mut() {
            Some(first) => first.text = format!("{who}\n{}", first.text),
            None => blocks.push(super::Block { text: who, line_start: 1, line_end: 1, ..Default::default() }),
        }
    }
    for b in &mut blocks {
        b.heading_path = vec![subject.clone()];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eml_headers_and_gmail_style_history() {
        let raw = "From: \"Nora Field\" <nora@example.com>\r\nTo: Sam Ortiz <sam@example.com>\r\nSubject: Venue for the offsite\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Sam,\r\n\r\nCan we book the lake venue for May 12?\r\n\r\nNora\r\n\r\nOn Tue, Apr 1, 2025 at 9:00 AM Sam Ortiz <sam@example.com> wrote:\r\n> Any venue ideas?\r\n";
        let e = parse_email(raw);
        assert_eq!(e.from.as_deref(), Some("Nora Field"));
        assert_eq!(e.to, vec!["Sam Ortiz"]);
        assert_eq!(e.subject.as_deref(), Some("Venue for the offsite"));
        assert!(e.body.ends_with("Nora"), "{}", e.body);
        assert!(e.trimmed_history);
    }

    #[test]
    fn outlook_and_lotus_history_is_trimmed() {
        let outlook = "Thanks, approved.\n\nFrom: Lee Park\nSent: Monday, May 5, 2025 10:00\nTo: Ana\nSubject: PO 4411\n\nPlease approve.";
        assert_eq!(trim_history(outlook).0, "Thanks, approved.");
        let notes = "Stan,\n\nOne question.\n\nKay\n\n\"Stan Jensen\" <sj@example.com> on 06/26/2000 02:01:26 PM\nTo: <kay@example.com>\n\nAttached is a redline.";
        assert_eq!(trim_history(notes).0, "Stan,\n\nOne question.\n\nKay");
    }

    #[test]
    fn quoted_printable_multipart_is_decoded() {
        let raw = "From: Ops <ops@example.com>\nSubject: =?utf-8?q?Caf=C3=A9_order?=\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nThe caf=C3=A9 order of =E2=82=AC240 ships Thursday.\n--b1\nContent-Type: text/html\n\n<p>html</p>\n--b1--\n";
        let e = parse_email(raw);
        assert_eq!(e.subject.as_deref(), Some("Café order"));
        assert_eq!(e.body, "The café order of €240 ships Thursday.");
    }

    #[test]
    fn mbox_messages_each_get_their_subject() {
        let raw = "From a@x Mon Jan 1 00:00:00 2024\nFrom: Ana <a@x>\nSubject: Budget\n\nThe budget is 5k.\n\nFrom b@x Mon Jan 1 00:00:00 2024\nFrom: Ben <b@x>\nSubject: Venue\n\nLake house booked.\n";
        let e = extract_mbox(raw);
        assert_eq!(e.blocks.len(), 2);
        assert_eq!(e.blocks[1].heading_path, vec!["Venue"]);
        assert!(e.blocks[1].text.contains("Lake house booked."), "{:?}", e.blocks);
        assert!(e.blocks[0].text.starts_with("From: Ana"));
    }

    #[test]
    fn pasted_text_is_a_body() {
        let e = parse_email("Hi team, the demo moved to 3pm.\n\n> old text");
        assert_eq!(e.body, "Hi team, the demo moved to 3pm.");
        assert_eq!(e.from, None);
    }
}

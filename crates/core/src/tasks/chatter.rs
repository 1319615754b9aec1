//! Chatter: the lines small models wrap an email in ("Sure! Here is your email:", "I hope
//! this helps!"), recognised while the draft streams so the user never sees them.

/// How chatter opens ("Sure! Here is your email:").
const OPENERS: &[&str] =
    &["sure", "certainly", "of course", "here is", "here's", "below is", "i hope this", "this email", "absolutely"];
/// How chatter closes ("Let me know if you want changes").
const CLOSERS: &[&str] =
    &["let me know if you", "feel free to adjust", "i hope this helps", "note:", "please note that this"];

/// Opening or closing lines that talk about the email instead of being it.
pub fn is_chatter(line: &str) -> bool {
    let l = line.trim().to_lowercase();
    (OPENERS.iter().any(|o| l.starts_with(o))
        && (l.contains("email") || l.contains("draft") || l.ends_with(':') || l.ends_with('!')))
        || CLOSERS.iter().any(|c| {
            l.starts_with(c)
                && (l.contains("change") || l.contains("adjust") || l.contains("help") || l.contains("draft"))
        })
}

/// Whether a line's start could still become chatter: such a line is held until complete.
fn may_be_chatter(prefix: &str) -> bool {
    OPENERS.iter().chain(CLOSERS).any(|p| p.starts_with(prefix) || prefix.starts_with(p))
}

/// Filters chatter out of a streamed draft without delaying the rest: text streams as it
/// arrives, except a line that starts like chatter, which is held until it is complete. Chatter
/// lines are dropped at the start and the end; in the middle they are released once real text
/// follows them.
#[derive(Debug, Default)]
pub struct ChatterFilter {
    line: String,
    line_streaming: bool,
    held: Vec<String>,
    started: bool,
}

impl ChatterFilter {
    /// Feeds a piece of text; returns what can be shown now.
    pub fn push(&mut self, text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            self.line.push(c);
            if c == '\n' {
                let line = std::mem::take(&mut self.line);
                if self.line_streaming {
                    out.push('\n');
                } else if is_chatter(&line) && !line.trim_start().to_lowercase().starts_with("subject:") {
                    self.held.push(line);
                } else if line.trim().is_empty() && !self.started {
                    // Leading blank lines are dropped.
                } else {
                    self.release_held(&mut out, &line);
                    out.push_str(&line);
                }
                self.line_streaming = false;
                continue;
            }
            if self.line_streaming {
                out.push(c);
            } else {
                let prefix = self.line.trim_start().to_lowercase();
                if !prefix.is_empty() && !may_be_chatter(&prefix) {
                    let line = self.line.clone();
                    self.release_held(&mut out, &line);
                    out.push_str(&line);
                    self.line_streaming = true;
                }
            }
        }
        out
    }

    fn release_held(&mut self, out: &mut String, next: &str) {
        if !next.trim().is_empty() {
            if self.started {
                for h in self.held.drain(..) {
                    out.push_str(&h);
                }
            } else {
                self.held.clear();
            }
            self.started = true;
        }
    }

    /// The end of the stream: a held chatter line at the end is dropped.
    pub fn finish(&mut self) -> String {
        let line = std::mem::take(&mut self.line);
        if self.line_streaming || (!is_chatter(&line) && !line.trim().is_empty()) {
            let mut out = String::new();
            if !self.line_streaming {
                self.release_held(&mut out, &line);
                out.push_str(&line);
            }
            return out;
        }
        String::new()
    }
}

/// Drops chatter lines at the start and end of a body.
pub fn strip_chatter(body: &str) -> (String, bool) {
    let mut lines: Vec<&str> = body.lines().collect();
    let mut stripped = false;
    while lines.first().is_some_and(|l| l.trim().is_empty() || is_chatter(l)) {
        stripped |= lines.first().is_some_and(|l| is_chatter(l));
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| l.trim().is_empty() || is_chatter(l)) {
        stripped |= lines.last().is_some_and(|l| is_chatter(l));
        lines.pop();
    }
    (lines.join("\n"), stripped)
}

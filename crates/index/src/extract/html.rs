//! HTML → text with html5ever's tokenizer (no DOM is built: pages the size of the Rust
//! standard library docs stream through at tokenizer speed). Scripts, styles, navigation and
//! forms are left out; headings build the heading path; `<pre>` keeps its line breaks.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, CharacterTokens, EndTag, StartTag, TagToken, Token, TokenSink, TokenSinkResult, Tokenizer,
    TokenizerOpts,
};

use super::{Block, Extracted};

/// Elements whose text is not content.
const SKIP: &[&str] = &["script", "style", "noscript", "template", "nav", "svg", "button", "select", "head", "iframe"];
/// Elements that end a paragraph.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "blockquote",
    "pre",
    "dt",
    "dd",
    "dl",
    "br",
    "hr",
    "summary",
    "details",
    "figure",
    "figcaption",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "body",
    "td",
    "th",
];

#[derive(Default)]
struct State {
    skip: Vec<String>,
    in_title: bool,
    title: String,
    heading: Option<(usize, String)>,
    headings: Vec<(usize, String)>,
    pre: usize,
    text: String,
    line_start: u32,
    line: u32,
    blocks: Vec<Block>,
}

impl State {
    fn flush(&mut self) {
        let text = if self.pre > 0 { self.text.trim_matches('\n').to_string() } else { self.text.trim().to_string() };
        self.text.clear();
        if !text.is_empty() {
            self.blocks.push(Block {
                heading_path: self.headings.iter().map(|(_, h)| h.clone()).collect(),
                text,
                line_start: self.line_start,
                line_end: self.line.max(self.line_start),
            });
        }
    }

    fn push_text(&mut self, s: &str) {
        if self.in_title {
            self.title.push_str(s);
            return;
        }
        if !self.skip.is_empty() {
            return;
        }
        if let Some((_, h)) = &mut self.heading {
            push_collapsed(h, s);
            return;
        }
        if self.text.is_empty() {
            self.line_start = self.line;
        }
        if self.pre > 0 {
            self.text.push_str(s);
        } else {
            push_collapsed(&mut self.text, s);
        }
    }
}

fn push_collapsed(out: &mut String, s: &str) {
    for (i, word) in s.split_whitespace().enumerate() {
        let starts_with_space = s.starts_with(char::is_whitespace);
        if (i > 0 || starts_with_space) && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push_str(word);
    }
    if s.ends_with(char::is_whitespace) && !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

struct Sink(RefCell<State>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, line: u64) -> TokenSinkResult<()> {
        let mut st = self.0.borrow_mut();
        st.line = u32::try_from(line).unwrap_or(u32::MAX);
        match token {
            CharacterTokens(t) => st.push_text(&t),
            TagToken(tag) => {
                let name: &str = &tag.name;
                match tag.kind {
                    StartTag => {
                        if name == "title" && !tag.self_closing {
                            st.in_title = true;
                            return TokenSinkResult::RawData(RawKind::Rcdata);
                        }
                        // `</head>` is optional: the body, or anything that can only be in
                        // it, ends the head (else a page without it read as empty).
                        let body_content = name == "body" || BLOCK.contains(&name) || heading(name).is_some();
                        if body_content && st.skip.last().is_some_and(|s| s == "head") {
                            st.skip.pop();
                        }
                        if SKIP.contains(&name) && !tag.self_closing {
                            st.skip.push(name.to_string());
                        }
                        if BLOCK.contains(&name) {
                            st.flush();
                        }
                        if let Some(level) = heading(name) {
                            st.heading = Some((level, String::new()));
                        }
                        if name == "pre" {
                            st.pre += 1;
                        }
                        match name {
                            "script" => return TokenSinkResult::RawData(RawKind::ScriptData),
                            "style" | "noscript" | "iframe" => return TokenSinkResult::RawData(RawKind::Rawtext),
                            "textarea" => return TokenSinkResult::RawData(RawKind::Rcdata),
                            _ => {}
                        }
                    }
                    EndTag => {
                        if name == "title" {
                            st.in_title = false;
                        }
                        if let Some(pos) = st.skip.iter().rposition(|s| s == name) {
                            st.skip.truncate(pos);
                        }
                        if let Some(level) = heading(name) {
                            if let Some((_, text)) = st.heading.take() {
                                let text = text.trim().trim_end_matches('§').trim().to_string();
                                st.headings.retain(|(l, _)| *l < level);
                                if !text.is_empty() {
                                    st.headings.push((level, text));
                                }
                            }
                        }
                        if name == "pre" {
                            st.pre = st.pre.saturating_sub(1);
                        }
                        if BLOCK.contains(&name) {
                            st.flush();
                        }
                    }
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn heading(name: &str) -> Option<usize> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Extracts the text of an HTML page.
pub fn extract(html: &str) -> Extracted {
    let sink = Sink(RefCell::new(State { line: 1, line_start: 1, ..State::default() }));
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut st = tokenizer.sink.0.take();
    st.flush();
    let title = collapse(&st.title);
    let title =
        if title.is_empty() { st.blocks.iter().find_map(|b| b.heading_path.first().cloned()) } else { Some(title) };
    Extracted { title, blocks: st.blocks, note: None }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_headings_and_no_scripts() {
        let html = "<!doctype html><html><head><title>Vec in std::vec - Rust</title><style>p{x:1}</style>\n<script>if (a < b) { x(); }</script></head>\n<body><nav class=sidebar><a>Skip me</a></nav>\n<h1>Struct Vec<a>§</a></h1>\n<p>A contiguous <b>growable</b>\narray type.</p>\n<h2 id=x>Examples</h2><pre>let v = vec![1];\nv.len();</pre><p>Caf&eacute; &amp; more</p></body></html>";
        let e = super::extract(html);
        assert_eq!(e.title.as_deref(), Some("Vec in std::vec - Rust"));
        let texts: Vec<&str> = e.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, vec!["A contiguous growable array type.", "let v = vec![1];\nv.len();", "Café & more"]);
        assert_eq!(e.blocks[0].heading_path, vec!["Struct Vec"]);
        assert_eq!(e.blocks[1].heading_path, vec!["Struct Vec", "Examples"]);
        assert_eq!((e.blocks[0].line_start, e.blocks[0].line_end), (5, 6));
    }

    #[test]
    fn a_head_left_open_ends_where_the_body_begins() {
        for html in [
            "<html><head><title>Notes</title><body><p>The heron survey starts in April.</p></body></html>",
            "<head><title>Notes</title><meta charset=utf-8><h1>Survey</h1><p>The heron survey starts in April.",
        ] {
            let e = super::extract(html);
            assert_eq!(e.title.as_deref(), Some("Notes"), "{html}");
            assert!(e.blocks.iter().any(|b| b.text.contains("heron survey")), "{html}: {:?}", e.blocks);
        }
    }
}

//! Small text helpers shared by the readers and the tasks.

/// `s` without the spans between `open` and `close` (nesting-aware): markup tags, caption
/// annotations, `[placeholders]`. An unclosed `open` drops the rest, as a reader would.
pub fn remove_between(s: &str, open: char, close: char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        if c == open {
            depth += 1;
        } else if c == close && depth > 0 {
            depth -= 1;
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_are_removed() {
        assert_eq!(super::remove_between("a <b>bold</b> c", '<', '>'), "a bold c");
        assert_eq!(super::remove_between("so {vocalsound} we", '{', '}'), "so  we");
        assert_eq!(super::remove_between("[Your [x] Name] hi", '[', ']'), " hi");
    }
}

use zeroize::Zeroize;

/// An API key in memory. It has no `Display`, its `Debug` prints `Secret(***)`, and its bytes
/// are zeroed when dropped: the only way to read it is [`Secret::expose`], called in one place
/// (building the auth header), so a key cannot slip into a log line or an error by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key, trimming the newline a pasted key often carries.
    pub fn new(key: impl Into<String>) -> Self {
        let mut key: String = key.into();
        let trimmed = key.trim().to_string();
        key.zeroize();
        Self(trimmed)
    }

    /// The key itself. Call only to put it in a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is empty (an empty environment variable, a blank paste).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every run of `text` that begins like the key (its first 8 characters) with
    /// `***`, as far as the run goes on agreeing with the key: the whole key, a prefix that
    /// providers echo in "incorrect API key sk-abc…" messages, and a key cut short where an
    /// error message was (a proxy echoing the `Authorization` header, cut at 200 characters,
    /// kept everything after a 12-character prefix before).
    pub fn redact(&self, text: &str) -> String {
        let key = self.0.as_str();
        let head_len = key.char_indices().nth(8).map_or(key.len(), |(i, _)| i);
        if key.chars().count() < 8 {
            return text.to_string();
        }
        let head = &key[..head_len];
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(head) {
            out.push_str(&rest[..at]);
            let mut run = rest[at..].bytes().zip(key.bytes()).take_while(|(a, b)| a == b).count();
            while !rest.is_char_boundary(at + run) {
                run -= 1;
            }
            out.push_str("***");
            rest = &rest[at + run..];
        }
        out.push_str(rest);
        out
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_and_redacts_echoes() {
        let s = Secret::new("sk-canary-1234567890abcdef\n");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "sk-canary-1234567890abcdef");
        assert_eq!(s.redact("bad key sk-canary-1234567890abcdef here"), "bad key *** here");
        assert_eq!(s.redact("Incorrect API key provided: sk-canary-12**cdef"), "Incorrect API key provided: *****cdef");
        // Cut short inside the key: all of what is there goes, not just its first characters.
        assert_eq!(
            s.redact("Invalid header Authorization: Bearer sk-canary-1234567"),
            "Invalid header Authorization: Bearer ***"
        );
        assert_eq!(s.redact("two: sk-canary-1234567890abcdef and sk-canary-12"), "two: *** and ***");
        assert_eq!(s.redact("too short to tell: sk-cana"), "too short to tell: sk-cana");
        // Keys shorter than 8 characters are not looked for (they would match ordinary words).
        assert_eq!(Secret::new("abc").redact("abc abc"), "abc abc");
        let odd = Secret::new("ключ-секрет-1234");
        assert_eq!(odd.redact("echo ключ-секрет-12"), "echo ***");
    }
}

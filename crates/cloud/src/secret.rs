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

    /// Replaces every occurrence of the key (or a long prefix of it, which providers echo in
    /// "incorrect API key sk-abc…" messages) in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 8 {
            return text.to_string();
        }
        let mut out = text.replace(&self.0, "***");
        let prefix: String = self.0.chars().take(12).collect();
        if prefix.len() >= 8 {
            out = out.replace(&prefix, "***");
        }
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
    }
}

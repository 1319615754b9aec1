//! Routes: which model (or which policy choosing one) answers a test.
//!
//! A suite compares routes because the question an eval answers is "what is the cheapest way
//! to get this task done well enough": the local model, a cloud tier, or the router deciding.
//! The same parser serves the suite's `providers` and the runner's `--routes a,b` override,
//! so both accept exactly the same words.

use std::fmt;

use crate::EvalError;

/// One way to answer a test.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `local`: the local model in use; `local:NAME`: a catalog model name or a `.gguf` path.
    Local(Option<String>),
    /// `economy`: the configured economy cloud tier.
    Economy,
    /// `premium`: the configured premium cloud tier.
    Premium,
    /// `auto`: the router as configured (local first, escalating when its checks fail).
    Auto,
    /// Any other name: a configured provider, checked by the runner.
    Provider(String),
}

impl Route {
    /// Parses one route as written in a suite or on the command line. The keywords are
    /// matched case-insensitively (a user writing `Local` means the local model, not a
    /// provider called `Local`); `Display` gives back the canonical form.
    pub fn parse(written: &str) -> Result<Route, EvalError> {
        let trimmed = written.trim();
        let fail = |reason: &str| EvalError::Route { written: written.to_string(), reason: reason.to_string() };
        if trimmed.is_empty() {
            return Err(fail("empty; use local, local:NAME, economy, premium, auto or a provider name"));
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(fail("a route has no spaces"));
        }
        let lower = trimmed.to_ascii_lowercase();
        let route = match lower.as_str() {
            "local" => Route::Local(None),
            "economy" => Route::Economy,
            "premium" => Route::Premium,
            "auto" => Route::Auto,
            _ if lower.starts_with("local:") => {
                let name = &trimmed["local:".len()..];
                if name.is_empty() {
                    return Err(fail("no model name after local: (a catalog name or a .gguf path)"));
                }
                Route::Local(Some(name.to_string()))
            }
            _ => Route::Provider(trimmed.to_string()),
        };
        Ok(route)
    }

    /// Parses a comma-separated list (`--routes local,premium`); empty items are errors, so a
    /// stray comma is caught instead of silently ignored.
    pub fn parse_list(written: &str) -> Result<Vec<Route>, EvalError> {
        written.split(',').map(Route::parse).collect()
    }

    /// Whether this route runs on the user's machine (it wins cost ties: same money, no
    /// data leaving the machine).
    pub fn is_local(&self) -> bool {
        matches!(self, Route::Local(_))
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Local(None) => f.write_str("local"),
            Route::Local(Some(name)) => write!(f, "local:{name}"),
            Route::Economy => f.write_str("economy"),
            Route::Premium => f.write_str("premium"),
            Route::Auto => f.write_str("auto"),
            Route::Provider(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_displays_it_back() {
        let cases = [
            ("local", Route::Local(None)),
            ("local:qwen2.5-3b", Route::Local(Some("qwen2.5-3b".into()))),
            ("local:/models/x.gguf", Route::Local(Some("/models/x.gguf".into()))),
            ("economy", Route::Economy),
            ("premium", Route::Premium),
            ("auto", Route::Auto),
            ("openrouter", Route::Provider("openrouter".into())),
            ("openai:gpt-4o-mini", Route::Provider("openai:gpt-4o-mini".into())),
        ];
        for (written, route) in cases {
            let parsed = Route::parse(written).map_err(|e| e.to_string());
            assert_eq!(parsed, Ok(route.clone()), "{written}");
            assert_eq!(route.to_string(), written);
        }
        assert_eq!(Route::parse(" Premium ").map_err(|e| e.to_string()), Ok(Route::Premium));
        assert!(Route::Local(None).is_local() && !Route::Auto.is_local());
    }

    #[test]
    fn rejects_empty_spaced_and_nameless_local() {
        let msg = |s: &str| Route::parse(s).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg("").starts_with("route \"\": empty"));
        assert_eq!(msg("my provider"), "route \"my provider\": a route has no spaces");
        assert!(msg("local:").contains("no model name after local:"));
    }

    #[test]
    fn parses_a_list_and_catches_stray_commas() {
        let routes = Route::parse_list("local,premium").map_err(|e| e.to_string());
        assert_eq!(routes, Ok(vec![Route::Local(None), Route::Premium]));
        assert!(Route::parse_list("local,,premium").is_err());
    }
}

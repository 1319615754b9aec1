//! Reading a parsed YAML tree by hand, so that every mistake is reported at its place.
//!
//! Deriving `Deserialize` for the suite would be shorter, but serde's messages name neither
//! the test nor the assertion, and cannot say "known keys: …". Walking `serde_yaml::Value`
//! keeps each message to one line that points at the exact field.

use serde_yaml::Value;

use crate::EvalError;

/// Where in the suite we are: the file and the test (`test 3 ("x")`, `defaultTest`, or none
/// for top-level fields). Fields are named when the error is made.
pub(crate) struct Site<'a> {
    pub file: &'a str,
    pub scope: Option<String>,
}

impl Site<'_> {
    /// An error at `field` (`assert[2].value`; empty for the scope itself).
    pub fn err(&self, field: &str, message: impl Into<String>) -> EvalError {
        let at = match (&self.scope, field.is_empty()) {
            (Some(scope), true) => scope.clone(),
            (Some(scope), false) => format!("{scope}: {field}"),
            (None, _) => field.to_string(),
        };
        EvalError::Invalid { file: self.file.to_string(), at, message: message.into() }
    }
}

/// What a value is, for "must be X, not Y" messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A scalar as text. Numbers and booleans are accepted (`contains: 42` means the text "42",
/// as in promptfoo); lists and mappings are not.
pub(crate) fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("must be text, not {}", kind(other))),
    }
}

/// Text that must not be empty (a question, a prompt, a pattern).
pub(crate) fn non_empty_text(value: &Value) -> Result<String, String> {
    let s = text(value)?;
    if s.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    Ok(s)
}

/// A finite number.
pub(crate) fn number(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err("must be a finite number".to_string()),
        },
        other => Err(format!("must be a number, not {}", kind(other))),
    }
}

/// The entries of a mapping, keys checked against `known`. Null values are dropped: in YAML
/// `description:` with nothing after it means "not given", and treating it so gives the
/// clearer "missing" message later instead of "must be text, not nothing".
pub(crate) fn fields<'a>(value: &'a Value, known: &[&str]) -> Result<Fields<'a>, String> {
    let Value::Mapping(map) = value else {
        return Err(format!("must be a mapping with keys {}, not {}", known.join(", "), kind(value)));
    };
    let mut pairs = Vec::with_capacity(map.len());
    for (key, val) in map {
        let Value::String(key) = key else {
            return Err(format!("keys must be text, found {}", kind(key)));
        };
        if !known.contains(&key.as_str()) {
            return Err(format!("unknown key {key:?} (known: {})", known.join(", ")));
        }
        if !val.is_null() {
            pairs.push((key.as_str(), val));
        }
    }
    Ok(Fields { pairs })
}

/// The non-null entries of a mapping, in file order.
pub(crate) struct Fields<'a> {
    pub pairs: Vec<(&'a str, &'a Value)>,
}

impl<'a> Fields<'a> {
    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// A YAML value as JSON (for `equals` on structured output and for `is-json` schemas).
pub(crate) fn to_json(value: &Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                let x = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(x)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| format!("{n} has no JSON equivalent"))?
            }
        }
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Sequence(items) => serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Mapping(map) => {
            let mut object = serde_json::Map::new();
            for (k, v) in map {
                object.insert(text(k).map_err(|_| format!("keys must be text, found {}", kind(k)))?, to_json(v)?);
            }
            serde_json::Value::Object(object)
        }
        Value::Tagged(tagged) => return Err(format!("YAML tags like {} are not supported", tagged.tag)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml::from_str(s).unwrap_or(Value::Null)
    }

    #[test]
    fn site_joins_scope_and_field() {
        let site = Site { file: "x.yaml", scope: Some("test 1".into()) };
        assert_eq!(site.err("vars.file", "bad").to_string(), "x.yaml: test 1: vars.file: bad");
        assert_eq!(site.err("", "bad").to_string(), "x.yaml: test 1: bad");
        let top = Site { file: "x.yaml", scope: None };
        assert_eq!(top.err("providers[1]", "bad").to_string(), "x.yaml: providers[1]: bad");
    }

    #[test]
    fn scalars_become_text_and_collections_do_not() {
        assert_eq!(text(&yaml("42")), Ok("42".to_string()));
        assert_eq!(text(&yaml("true")), Ok("true".to_string()));
        assert_eq!(text(&yaml("[a]")), Err("must be text, not a list".to_string()));
        assert_eq!(non_empty_text(&yaml("'  '")), Err("must not be empty".to_string()));
        assert_eq!(number(&yaml("0.5")), Ok(0.5));
        assert_eq!(number(&yaml("'0.5'")), Err("must be a number, not text".to_string()));
        assert_eq!(number(&yaml(".nan")), Err("must be a finite number".to_string()));
    }

    #[test]
    fn fields_checks_keys_and_drops_nulls() {
        let v = yaml("a: 1\nb:\n");
        let f = fields(&v, &["a", "b"]).map_err(|e| e.to_string());
        assert_eq!(f.map(|f| f.pairs.len()), Ok(1));
        let v = yaml("a: 1\nc: 2\n");
        assert_eq!(fields(&v, &["a", "b"]).err(), Some("unknown key \"c\" (known: a, b)".to_string()));
        let v = yaml("1: x");
        assert_eq!(fields(&v, &["a"]).err(), Some("keys must be text, found a number".to_string()));
        assert_eq!(fields(&yaml("[1]"), &["a"]).err(), Some("must be a mapping with keys a, not a list".to_string()));
    }

    #[test]
    fn converts_to_json() {
        let v = yaml("{a: [1, 2.5, x, true, null]}");
        assert_eq!(to_json(&v), Ok(serde_json::json!({"a": [1, 2.5, "x", true, null]})));
        assert!(to_json(&yaml("!foo x")).is_err());
    }
}

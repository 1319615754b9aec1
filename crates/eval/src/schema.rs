//! The practical subset of JSON Schema that `is-json` checks.
//!
//! A full validator would be a heavy dependency for what suites need: "the output is an
//! object with these fields of these types". The subset is `type`, `required`, `properties`,
//! `additionalProperties`, `items`, `enum`, `const`, `minItems`/`maxItems`,
//! `minLength`/`maxLength` and `minimum`/`maximum`; annotations (`title`, `description`…) are
//! ignored. Any other keyword is refused at load time rather than silently not checked, so a
//! schema never looks stricter than it is.

use serde_json::Value;

/// Keywords that are checked.
const CHECKED: [&str; 13] = [
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
];

/// Keywords that only document the schema.
const ANNOTATIONS: [&str; 7] = ["$schema", "$id", "$comment", "title", "description", "default", "examples"];

/// JSON Schema's type names.
const TYPES: [&str; 7] = ["object", "array", "string", "number", "integer", "boolean", "null"];

/// Checks that a schema only uses the subset, so validation cannot meet a surprise later.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    if !schema.is_object() {
        return Err("must be a mapping (a JSON schema)".to_string());
    }
    check_node(schema, "")
}

fn check_node(schema: &Value, path: &str) -> Result<(), String> {
    let here = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    let object = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(object) => object,
        _ => {
            return Err(format!(
                "{}: must be a schema (a mapping or true/false)",
                if path.is_empty() { "$" } else { path }
            ))
        }
    };
    for (key, value) in object {
        let at = here(key);
        match key.as_str() {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                for name in names {
                    if !name.as_str().is_some_and(|n| TYPES.contains(&n)) {
                        return Err(format!("{at}: unknown type {name} (known: {})", TYPES.join(", ")));
                    }
                }
            }
            "required" => {
                if !value.as_array().is_some_and(|items| items.iter().all(Value::is_string)) {
                    return Err(format!("{at}: must be a list of property names"));
                }
            }
            "properties" => {
                let Some(properties) = value.as_object() else {
                    return Err(format!("{at}: must be a mapping of property schemas"));
                };
                for (name, property) in properties {
                    check_node(property, &format!("{at}.{name}"))?;
                }
            }
            "additionalProperties" | "items" => check_node(value, &at)?,
            "enum" => {
                if !value.is_array() {
                    return Err(format!("{at}: must be a list of allowed values"));
                }
            }
            "minItems" | "maxItems" | "minLength" | "maxLength" => {
                if value.as_u64().is_none() {
                    return Err(format!("{at}: must be a whole number"));
                }
            }
            "minimum" | "maximum" => {
                if !value.is_number() {
                    return Err(format!("{at}: must be a number"));
                }
            }
            "const" => {}
            other if ANNOTATIONS.contains(&other) => {}
            other => {
                return Err(format!("keyword {other:?} is not supported (supported: {})", CHECKED.join(", ")));
            }
        }
    }
    Ok(())
}

/// Validates an instance; the error names the first failing place (`$.items[0].owner`) and
/// the rule, never the value found there: the gateway records the reason in the ledger, and
/// an answer's text has no place on disk.
/// Keywords outside the subset are not checked here (see [`check_schema`] to refuse them);
/// the gateway validates clients' schemas this way, after the engine's grammar.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    validate_at(schema, instance, "$")
}

fn validate_at(schema: &Value, instance: &Value, path: &str) -> Result<(), String> {
    let object = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{path}: not allowed")),
        Value::Object(object) => object,
        _ => return Ok(()),
    };
    if let Some(expected) = object.get("type") {
        let names: Vec<&str> = match expected {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            one => one.as_str().into_iter().collect(),
        };
        if !names.iter().any(|name| has_type(instance, name)) {
            return Err(format!("{path}: expected {}, got {}", names.join(" or "), type_of(instance)));
        }
    }
    if let Some(allowed) = object.get("enum").and_then(Value::as_array) {
        if !allowed.contains(instance) {
            return Err(format!("{path}: not one of {}", Value::Array(allowed.clone())));
        }
    }
    if let Some(constant) = object.get("const") {
        if constant != instance {
            return Err(format!("{path}: not the required value {constant}"));
        }
    }
    let limit = |key: &str| object.get(key).and_then(Value::as_f64);
    match instance {
        Value::Object(fields) => {
            for name in object.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                if !fields.contains_key(name) {
                    return Err(format!("{path}: missing required {name:?}"));
                }
            }
            let properties = object.get("properties").and_then(Value::as_object);
            for (name, value) in fields {
                let inner = format!("{path}.{name}");
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => validate_at(property, value, &inner)?,
                    None => match object.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            return Err(format!("{inner}: not allowed (additionalProperties: false)"))
                        }
                        Some(extra) => validate_at(extra, value, &inner)?,
                        None => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            let n = items.len() as f64;
            if limit("minItems").is_some_and(|min| n < min) || limit("maxItems").is_some_and(|max| n > max) {
                return Err(format!("{path}: {} items, outside the allowed count", items.len()));
            }
            if let Some(item_schema) = object.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(item_schema, item, &format!("{path}[{i}]"))?;
                }
            }
        }
        Value::String(s) => {
            let n = s.chars().count() as f64;
            if limit("minLength").is_some_and(|min| n < min) || limit("maxLength").is_some_and(|max| n > max) {
                return Err(format!("{path}: {} characters, outside the allowed length", s.chars().count()));
            }
        }
        Value::Number(x) => {
            let x = x.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = limit("minimum").filter(|min| x < *min) {
                return Err(format!("{path}: below the minimum {min}"));
            }
            if let Some(max) = limit("maximum").filter(|max| x > *max) {
                return Err(format!("{path}: above the maximum {max}"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether a value is of a JSON Schema type (an integer is also a number).
fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.as_i64().is_some() || value.as_u64().is_some() || value.as_f64().is_some_and(|x| x.fract() == 0.0)
        }
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary_schema() -> Value {
        json!({
            "type": "object",
            "required": ["summary", "actions"],
            "additionalProperties": false,
            "properties": {
                "summary": {"type": "string", "minLength": 1},
                "mood": {"enum": ["good", "bad"]},
                "count": {"type": "integer", "minimum": 0, "maximum": 10},
                "actions": {
                    "type": "array", "maxItems": 3,
                    "items": {
                        "type": "object",
                        "required": ["owner"],
                        "properties": {"owner": {"type": ["string", "null"]}}
                    }
                }
            }
        })
    }

    #[test]
    fn accepts_the_subset_and_refuses_the_rest() {
        assert_eq!(check_schema(&summary_schema()), Ok(()));
        assert_eq!(check_schema(&json!({"title": "x", "type": "object"})), Ok(()));
        assert_eq!(check_schema(&json!("object")), Err("must be a mapping (a JSON schema)".into()));
        assert_eq!(
            check_schema(&json!({"properties": {"a": {"type": "strin"}}})),
            Err("properties.a.type: unknown type \"strin\" \
                 (known: object, array, string, number, integer, boolean, null)"
                .into())
        );
        assert!(check_schema(&json!({"pattern": "x"}))
            .unwrap_err()
            .starts_with("keyword \"pattern\" is not supported"));
        assert_eq!(check_schema(&json!({"required": "a"})), Err("required: must be a list of property names".into()));
        assert_eq!(check_schema(&json!({"items": 3})), Err("items: must be a schema (a mapping or true/false)".into()));
    }

    #[test]
    fn validates_and_names_the_first_failure() {
        let s = summary_schema();
        let good = json!({"summary": "ok", "count": 3, "actions": [{"owner": "Tom"}, {"owner": null}]});
        assert_eq!(validate(&s, &good), Ok(()));
        let cases = [
            (json!([]), "$: expected object, got array"),
            (json!({"summary": "x"}), "$: missing required \"actions\""),
            (json!({"summary": 1, "actions": []}), "$.summary: expected string, got number"),
            (json!({"summary": "", "actions": []}), "$.summary: 0 characters, outside the allowed length"),
            (
                json!({"summary": "x", "actions": [{"owner": 1}]}),
                "$.actions[0].owner: expected string or null, got number",
            ),
            (json!({"summary": "x", "actions": [{}]}), "$.actions[0]: missing required \"owner\""),
            (json!({"summary": "x", "actions": [{}, {}, {}, {}]}), "$.actions: 4 items, outside the allowed count"),
            (json!({"summary": "x", "actions": [], "mood": "meh"}), "$.mood: not one of [\"good\",\"bad\"]"),
            (json!({"summary": "x", "actions": [], "count": 1.5}), "$.count: expected integer, got number"),
            (json!({"summary": "x", "actions": [], "count": 11}), "$.count: above the maximum 10"),
            (json!({"summary": "x", "actions": [], "extra": 1}), "$.extra: not allowed (additionalProperties: false)"),
        ];
        for (instance, expected) in cases {
            assert_eq!(validate(&s, &instance), Err(expected.to_string()), "{instance}");
        }
        assert_eq!(validate(&json!({"const": 2}), &json!(3)), Err("$: not the required value 2".into()));
    }
}

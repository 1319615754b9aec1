//! Tool calling in one shape for every engine: the functions a request offers the model, the
//! calls the model makes, and which of them it must make. OpenAI's `tools`/`tool_calls` and
//! Anthropic's `tool_use`/`tool_result` blocks both map onto these, so a request that came
//! in one protocol can go out in the other.

use serde::{Deserialize, Serialize};

use crate::{ErrorKind, ProviderError};

/// A function the model may call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// Its name, as the model will write it (`[A-Za-z0-9_-]{1,64}`, both protocols' rule).
    pub name: String,
    /// What it does, for the model to decide when to call it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// A JSON Schema of its arguments (an object), as JSON text.
    pub parameters: String,
}

/// Which tools the model must call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides (the default when tools are given).
    Auto,
    /// No tool: answer in text.
    None,
    /// At least one tool.
    Required,
    /// This tool.
    Named(String),
}

/// A call the model made: which function, with which arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id the tool's result refers back to.
    pub id: String,
    /// The function's name.
    pub name: String,
    /// Its arguments, a JSON object as text (as the model wrote it: the caller validates).
    pub arguments: String,
}

/// Whether `name` is a tool name both protocols accept.
pub fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks the tools and the choice among them, as [`crate::Request::validate`] does for the
/// rest: names valid and distinct, parameters a JSON object, a named choice one of them.
pub(crate) fn validate(tools: &[Tool], choice: Option<&ToolChoice>) -> crate::Result<()> {
    let invalid = |m: String| Err(ProviderError::new(ErrorKind::InvalidRequest, m));
    for (i, t) in tools.iter().enumerate() {
        if !valid_tool_name(&t.name) {
            return invalid(format!("tool {i}: its name must be 1 to 64 letters, digits, `_` or `-`"));
        }
        if tools[..i].iter().any(|o| o.name == t.name) {
            return invalid(format!("tool {i}: `{}` is offered twice", t.name));
        }
        if !serde_json::from_str::<serde_json::Value>(&t.parameters).is_ok_and(|v| v.is_object()) {
            return invalid(format!("tool `{}`: its parameters must be a JSON Schema object", t.name));
        }
    }
    match choice {
        Some(ToolChoice::Named(n)) if !tools.iter().any(|t| &t.name == n) => invalid(format!(
            "tool_choice names `{}`, which is not one of the tools",
            n.escape_debug().take(64).collect::<String>()
        )),
        Some(ToolChoice::Required | ToolChoice::Named(_)) if tools.is_empty() => {
            invalid("tool_choice asks for a tool call, but the request offers no tools".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, parameters: &str) -> Tool {
        Tool { name: name.into(), description: String::new(), parameters: parameters.into() }
    }

    #[test]
    fn tools_are_checked_before_they_reach_an_engine() {
        let ok = [tool("get_weather", r#"{"type":"object"}"#)];
        assert!(validate(&ok, Some(&ToolChoice::Named("get_weather".into()))).is_ok());
        assert!(validate(&ok, None).is_ok());
        for (tools, choice) in [
            (vec![tool("bad name", "{}")], None),
            (vec![tool("", "{}")], None),
            (vec![tool(&"x".repeat(65), "{}")], None),
            (vec![tool("f", "[]")], None),
            (vec![tool("f", "{not json")], None),
            (vec![tool("f", "{}"), tool("f", "{}")], None),
            (ok.to_vec(), Some(ToolChoice::Named("other".into()))),
            (vec![], Some(ToolChoice::Required)),
        ] {
            let e = validate(&tools, choice.as_ref()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
            assert!(!e.message().contains('\n'));
        }
    }
}

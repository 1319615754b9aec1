//! Why a suite could not be loaded, or a route not understood.
//!
//! Every message is one line that a user can act on without reading code: it names the
//! file, then the test (`test 3 ("standup owners")`, 1-based like every index in these
//! messages, or `defaultTest`), then the field (`assert[2].value`, `vars.file`,
//! `providers[1]`), then what is wrong.

use std::path::PathBuf;

/// A suite that cannot be used, or a route that cannot be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The suite file could not be read.
    #[error("{}: cannot read the suite: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error, quoted in the message (not a `source()`, or it would print twice).
        error: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{file}: YAML syntax error{}: {message}", at_line(*.line, *.column))]
    Syntax {
        /// The suite file as the user named it.
        file: String,
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// 1-based column, when the parser knows it.
        column: Option<usize>,
        /// The parser's message, without its own location suffix.
        message: String,
    },
    /// The YAML is well formed but is not a valid suite.
    #[error("{file}: {}{message}", prefix(.at))]
    Invalid {
        /// The suite file as the user named it.
        file: String,
        /// Where in the suite: `test 3 ("x"): assert[2].value`; empty for the whole file.
        at: String,
        /// What is wrong there.
        message: String,
    },
    /// A route (a `providers` entry or a `--routes` item) that cannot be parsed.
    #[error("route {written:?}: {reason}")]
    Route {
        /// The route as written.
        written: String,
        /// Why it is not a route.
        reason: String,
    },
}

/// ` at line 3, column 5`, or nothing when the position is unknown.
fn at_line(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

/// `at: `, or nothing for an error about the whole file.
fn prefix(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!("{at}: ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_with_file_place_and_reason() {
        let e = EvalError::Invalid {
            file: "evals/x.yaml".into(),
            at: "test 3 (\"standup owners\"): assert[2]".into(),
            message: "unknown assertion type \"contain\"".into(),
        };
        assert_eq!(
            e.to_string(),
            "evals/x.yaml: test 3 (\"standup owners\"): assert[2]: unknown assertion type \"contain\""
        );
        let e = EvalError::Invalid { file: "x.yaml".into(), at: String::new(), message: "no tests".into() };
        assert_eq!(e.to_string(), "x.yaml: no tests");
        let e = EvalError::Syntax { file: "x.yaml".into(), line: Some(3), column: Some(5), message: "bad".into() };
        assert_eq!(e.to_string(), "x.yaml: YAML syntax error at line 3, column 5: bad");
        let e = EvalError::Syntax { file: "x.yaml".into(), line: None, column: None, message: "bad".into() };
        assert_eq!(e.to_string(), "x.yaml: YAML syntax error: bad");
        let e = EvalError::Route { written: "local:".into(), reason: "no model name after local:".into() };
        assert_eq!(e.to_string(), "route \"local:\": no model name after local:");
    }
}

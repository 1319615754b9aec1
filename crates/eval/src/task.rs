//! The Frugal task a test runs, given through promptfoo `vars`.
//!
//! promptfoo feeds `vars` into a prompt template; Frugal runs its own tasks instead, so the
//! vars name the task and its inputs. Only known names are accepted: promptfoo would take any
//! var, but a misspelt `questoin` silently running an empty task would waste a paid run.
//! Files are resolved against the suite's folder and checked now, not mid-run.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::yaml;

/// Every var name a test may use.
pub const KNOWN_VARS: [&str; 7] = ["task", "file", "text", "reply_to", "question", "prompt", "tone"];

/// The task names, in the order messages list them.
const TASKS: [&str; 4] = ["summarize", "draft", "ask", "chat"];

/// What a test asks Frugal to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    /// `task: summarize`: a meeting transcript into summary, decisions and action items.
    Summarize(Source),
    /// `task: draft`: an email from bullets, or a reply to a mail, or both.
    Draft {
        /// `text`: the bullets.
        bullets: Option<String>,
        /// `reply_to`: the mail to answer, an absolute path that existed at load time.
        reply_to: Option<PathBuf>,
        /// `tone`: passed through to the task as written.
        tone: Option<String>,
    },
    /// `task: ask`: a question answered from the user's indexed folders, with citations.
    Ask {
        /// `question`.
        question: String,
    },
    /// `task: chat`: a plain prompt through the route.
    Chat {
        /// `prompt`.
        prompt: String,
    },
}

/// What a summary is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `file`: an absolute path that existed at load time.
    File(PathBuf),
    /// `text`: the transcript itself.
    Text(String),
}

impl Task {
    /// The task's name as written in `vars.task` (also its name in results and reports).
    pub fn name(&self) -> &'static str {
        match self {
            Task::Summarize(_) => "summarize",
            Task::Draft { .. } => "draft",
            Task::Ask { .. } => "ask",
            Task::Chat { .. } => "chat",
        }
    }
}

/// One var after `defaultTest` was merged in; `from_default` makes messages say where a var
/// that does not belong came from.
pub(crate) struct Var<'a> {
    pub name: &'a str,
    pub value: &'a Value,
    pub from_default: bool,
}

/// The vars a task takes (besides `task`).
fn takes(task: &str) -> &'static [&'static str] {
    match task {
        "summarize" => &["file", "text"],
        "draft" => &["text", "reply_to", "tone"],
        "ask" => &["question"],
        _ => &["prompt"],
    }
}

/// Builds the task from merged vars. Errors are `(field, message)`; the caller adds the file
/// and test.
pub(crate) fn from_vars(vars: &[Var<'_>], base_dir: &Path) -> Result<Task, (String, String)> {
    let field = |name: &str| format!("vars.{name}");
    for var in vars {
        if !KNOWN_VARS.contains(&var.name) {
            let message = format!("unknown var {:?}{} (known: {})", var.name, origin(var), KNOWN_VARS.join(", "));
            return Err((field(var.name), message));
        }
    }
    let get = |name: &str| vars.iter().find(|v| v.name == name);
    let Some(task_var) = get("task") else {
        return Err((field("task"), "missing; say which task: summarize, draft, ask or chat".to_string()));
    };
    let task = yaml::text(task_var.value).map_err(|m| (field("task"), m))?;
    let Some(task) = TASKS.iter().copied().find(|t| *t == task) else {
        return Err((field("task"), format!("unknown task {task:?} (known: {})", TASKS.join(", "))));
    };
    for var in vars.iter().filter(|v| v.name != "task") {
        if !takes(task).contains(&var.name) {
            let message =
                format!("{task} does not take {:?}{} (it takes: {})", var.name, origin(var), takes(task).join(", "));
            return Err((field(var.name), message));
        }
    }
    let text = |name: &str| -> Result<Option<String>, (String, String)> {
        get(name).map(|v| yaml::non_empty_text(v.value).map_err(|m| (field(name), m))).transpose()
    };
    let path = |name: &str| -> Result<Option<PathBuf>, (String, String)> {
        match get(name) {
            None => Ok(None),
            Some(v) => {
                let written = yaml::non_empty_text(v.value).map_err(|m| (field(name), m))?;
                resolve(base_dir, &written).map(Some).map_err(|m| (field(name), m))
            }
        }
    };
    let task = match task {
        "summarize" => match (path("file")?, text("text")?) {
            (Some(file), None) => Task::Summarize(Source::File(file)),
            (None, Some(text)) => Task::Summarize(Source::Text(text)),
            (Some(_), Some(_)) => {
                return Err((field("text"), "summarize takes vars.file or vars.text, not both".into()))
            }
            (None, None) => {
                return Err(("vars".into(), "summarize needs vars.file (a transcript) or vars.text".into()));
            }
        },
        "draft" => {
            let (bullets, reply_to, tone) = (text("text")?, path("reply_to")?, text("tone")?);
            if bullets.is_none() && reply_to.is_none() {
                return Err(("vars".into(), "draft needs vars.text (the bullets) or vars.reply_to (a mail)".into()));
            }
            Task::Draft { bullets, reply_to, tone }
        }
        "ask" => match text("question")? {
            Some(question) => Task::Ask { question },
            None => return Err(("vars".into(), "ask needs vars.question".into())),
        },
        _ => match text("prompt")? {
            Some(prompt) => Task::Chat { prompt },
            None => return Err(("vars".into(), "chat needs vars.prompt".into())),
        },
    };
    Ok(task)
}

/// ` (from defaultTest)` for a var the test itself did not write.
fn origin(var: &Var<'_>) -> &'static str {
    if var.from_default {
        " (from defaultTest)"
    } else {
        ""
    }
}

/// A path relative to the suite's folder, made absolute, that must be an existing file.
fn resolve(base_dir: &Path, written: &str) -> Result<PathBuf, String> {
    let joined = base_dir.join(written);
    let shown = std::path::absolute(&joined).unwrap_or_else(|_| joined.clone());
    match std::fs::metadata(&joined) {
        Err(_) => Err(format!("{written:?} not found (looked for {})", shown.display())),
        Ok(meta) if !meta.is_file() => Err(format!("{written:?} is not a file ({})", shown.display())),
        Ok(_) => Ok(std::fs::canonicalize(&joined).unwrap_or(shown)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(yaml_text: &str) -> Value {
        serde_yaml::from_str(yaml_text).unwrap()
    }

    fn build(yaml_text: &str, base: &Path) -> Result<Task, (String, String)> {
        let value = vars(yaml_text);
        let map = value.as_mapping().unwrap();
        let list: Vec<Var<'_>> =
            map.iter().map(|(k, v)| Var { name: k.as_str().unwrap(), value: v, from_default: false }).collect();
        from_vars(&list, base)
    }

    fn here() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn builds_each_task() {
        let t = build("{task: summarize, file: Cargo.toml}", &here()).unwrap();
        assert_eq!(t, Task::Summarize(Source::File(std::fs::canonicalize(here().join("Cargo.toml")).unwrap())));
        assert_eq!(t.name(), "summarize");
        let t = build("{task: summarize, text: 'Tom: hi'}", &here()).unwrap();
        assert_eq!(t, Task::Summarize(Source::Text("Tom: hi".into())));
        let t = build("{task: draft, text: '- ship it', reply_to: src/lib.rs, tone: formal}", &here()).unwrap();
        let Task::Draft { bullets, reply_to, tone } = t else { panic!("not a draft") };
        assert_eq!(bullets.as_deref(), Some("- ship it"));
        assert!(reply_to.unwrap().is_absolute());
        assert_eq!(tone.as_deref(), Some("formal"));
        assert_eq!(build("{task: ask, question: why?}", &here()).unwrap(), Task::Ask { question: "why?".into() });
        assert_eq!(build("{task: chat, prompt: hi}", &here()).unwrap(), Task::Chat { prompt: "hi".into() });
    }

    #[test]
    fn names_the_field_of_each_mistake() {
        let err = |y: &str| build(y, &here()).unwrap_err();
        assert_eq!(err("{question: x}").0, "vars.task");
        assert_eq!(
            err("{task: summarise, text: x}").1,
            "unknown task \"summarise\" (known: summarize, draft, ask, chat)"
        );
        let (field, msg) = err("{task: summarize, text: x, question: y}");
        assert_eq!(
            (field.as_str(), msg.as_str()),
            ("vars.question", "summarize does not take \"question\" (it takes: file, text)")
        );
        let (field, msg) = err("{task: ask, questoin: y}");
        assert_eq!(field, "vars.questoin");
        assert!(msg.starts_with("unknown var \"questoin\" (known: task, file, text"), "{msg}");
        assert_eq!(
            err("{task: summarize}"),
            ("vars".into(), "summarize needs vars.file (a transcript) or vars.text".into())
        );
        assert_eq!(err("{task: summarize, file: Cargo.toml, text: x}").0, "vars.text");
        assert_eq!(err("{task: draft, tone: warm}").1, "draft needs vars.text (the bullets) or vars.reply_to (a mail)");
        assert_eq!(err("{task: ask}").1, "ask needs vars.question");
        assert_eq!(err("{task: chat}").1, "chat needs vars.prompt");
        assert_eq!(err("{task: chat, prompt: [a]}"), ("vars.prompt".into(), "must be text, not a list".into()));
        assert_eq!(err("{task: [chat]}"), ("vars.task".into(), "must be text, not a list".into()));
    }

    #[test]
    fn files_must_exist_and_be_files() {
        let (field, msg) = build("{task: summarize, file: nope.txt}", &here()).unwrap_err();
        assert_eq!(field, "vars.file");
        assert!(msg.starts_with("\"nope.txt\" not found (looked for /"), "{msg}");
        let (field, msg) = build("{task: draft, reply_to: src}", &here()).unwrap_err();
        assert_eq!(field, "vars.reply_to");
        assert!(msg.starts_with("\"src\" is not a file"), "{msg}");
    }

    #[test]
    fn says_when_a_var_came_from_default_test() {
        let v = vars("x");
        let list = [
            Var { name: "task", value: &Value::String("ask".into()), from_default: false },
            Var { name: "question", value: &v, from_default: false },
            Var { name: "tone", value: &v, from_default: true },
        ];
        let (field, msg) = from_vars(&list, &here()).unwrap_err();
        assert_eq!(field, "vars.tone");
        assert_eq!(msg, "ask does not take \"tone\" (from defaultTest) (it takes: question)");
    }
}

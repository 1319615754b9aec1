use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::{Expected, Rule, Source};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh folder holding `meeting.txt`, `mail.eml` and a `notes/` folder.
fn fixture_dir() -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("frugal-eval-spec-{}-{n}", std::process::id()));
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    std::fs::write(dir.join("meeting.txt"), "Tom: I'll ship it Friday.").unwrap();
    std::fs::write(dir.join("mail.eml"), "Subject: hi").unwrap();
    dir
}

fn parse(text: &str) -> Result<Suite, EvalError> {
    Suite::parse(text, &fixture_dir(), "evals/x.yaml")
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("parsed:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const FULL: &str = r#"
description: Standups and mail
prompts: ["{{text}}"]
providers:
  - local
  - id: local:qwen2.5-3b
    label: small
  - premium
defaultTest:
  vars: { tone: friendly }
  assert:
    - { type: cost, threshold: 0.01 }
tests:
  - description: standup owners
    vars: { task: draft, text: "- ship Friday", tone: formal }
    threshold: 0.5
    assert:
      - { type: icontains, value: friday, weight: 2 }
      - { type: not-contains-any, value: [TODO, lorem] }
  - vars: { task: draft, reply_to: mail.eml }
"#;

#[test]
fn parses_every_top_level_field_and_merges_default_test() {
    let suite = parse(FULL).unwrap();
    assert_eq!(suite.file, "evals/x.yaml");
    assert_eq!(suite.description.as_deref(), Some("Standups and mail"));
    assert_eq!(suite.routes, vec![Route::Local(None), Route::Local(Some("qwen2.5-3b".into())), Route::Premium]);
    assert_eq!(suite.tests.len(), 2);

    let first = &suite.tests[0];
    assert_eq!((first.index, first.description.as_deref(), first.threshold), (1, Some("standup owners"), Some(0.5)));
    assert_eq!(first.label(), "test 1 (\"standup owners\")");
    let Task::Draft { bullets, tone, reply_to } = &first.task else { panic!("{:?}", first.task) };
    assert_eq!((bullets.as_deref(), tone.as_deref(), reply_to), (Some("- ship Friday"), Some("formal"), &None));
    let kinds: Vec<&str> = first.asserts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["icontains", "not-contains-any", "cost"], "default asserts are appended");
    assert_eq!(first.asserts[0].weight, 2.0);

    let second = &suite.tests[1];
    assert_eq!(second.label(), "test 2");
    let Task::Draft { tone, reply_to, .. } = &second.task else { panic!("{:?}", second.task) };
    assert_eq!(tone.as_deref(), Some("friendly"), "default vars apply when the test has none");
    assert!(reply_to.as_ref().is_some_and(|p| p.is_absolute() && p.ends_with("mail.eml")));
    assert_eq!(second.asserts.len(), 1);
}

#[test]
fn resolves_files_against_the_suite_folder() {
    let dir = fixture_dir();
    let suite = Suite::parse("tests:\n  - vars: {task: summarize, file: meeting.txt}\n", &dir, "s.yaml").unwrap();
    let expected = std::fs::canonicalize(dir.join("meeting.txt")).unwrap();
    assert_eq!(suite.tests[0].task, Task::Summarize(Source::File(expected)));
}

#[test]
fn load_reads_a_file_and_names_it() {
    let dir = fixture_dir();
    let path = dir.join("suite.yaml");
    std::fs::write(&path, "tests:\n  - vars: {task: summarize, file: meeting.txt}\n").unwrap();
    let suite = Suite::load(&path).unwrap();
    assert_eq!(suite.file, path.display().to_string());
    assert_eq!(suite.routes, vec![Route::Auto], "no providers means the router");
    let missing = dir.join("nope.yaml");
    let msg = Suite::load(&missing).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("{}: cannot read the suite: ", missing.display())), "{msg}");
}

#[test]
fn providers_take_strings_objects_or_one_string() {
    let one = parse("providers: economy\ntests: [{vars: {task: chat, prompt: hi}}]").unwrap();
    assert_eq!(one.routes, vec![Route::Economy]);
    let none = parse("providers: []\ntests: [{vars: {task: chat, prompt: hi}}]").unwrap();
    assert_eq!(none.routes, vec![Route::Auto]);
    let named = parse("providers: [auto, mistral]\ntests: [{vars: {task: chat, prompt: hi}}]").unwrap();
    assert_eq!(named.routes, vec![Route::Auto, Route::Provider("mistral".into())]);
}

/// Checks that each suite fails with a one-line message starting with `prefix` + expected.
fn assert_errors(prefix: &str, cases: &[(String, &str)]) {
    for (yaml_text, expected) in cases {
        let msg = error(yaml_text);
        let want = format!("{prefix}{expected}");
        assert!(msg.starts_with(&want), "\n got: {msg}\nwant: {want}…");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
}

#[test]
fn every_error_in_a_test_names_file_test_and_field() {
    let t = |body: &str| format!("tests:\n  - description: standup owners\n{body}");
    let chat = |asserts: &str| t(&format!("    vars: {{task: chat, prompt: hi}}\n    assert: {asserts}\n"));
    let cases = [
        (
            chat("[{type: contains, value: a}, {type: contain, value: b}]"),
            "assert[2]: unknown assertion type \"contain\" (known: equals, contains,",
        ),
        (chat("[{type: contains-all, value: x}]"), "assert[1].value: must be a list, not text"),
        (chat("[{type: regex, value: '[a'}]"), "assert[1].value: invalid regex /[a/: unclosed character class"),
        (chat("[{type: latency}]"), "assert[1].threshold: latency needs a threshold"),
        (chat("[{type: contains, value: a, weight: -1}]"), "assert[1].weight: must not be negative"),
        (chat("{type: contains}"), "assert: must be a list of assertions"),
        (t("    vars: {task: summarize, file: missing.txt}\n"), "vars.file: \"missing.txt\" not found (looked for /"),
        (t("    vars: {task: summarize, file: notes}\n"), "vars.file: \"notes\" is not a file"),
        (t("    vars: {task: draft, reply_to: gone.eml}\n"), "vars.reply_to: \"gone.eml\" not found"),
        (t("    vars: {prompt: hi}\n"), "vars.task: missing"),
        (
            t("    vars: {task: summarize, text: x, question: y}\n"),
            "vars.question: summarize does not take \"question\"",
        ),
        (t("    vars: {task: ask, question: x, topic: y}\n"), "vars.topic: unknown var \"topic\" (known: task, file,"),
        (t("    vars: [task]\n"), "vars: must be a mapping of names to values, not a list"),
        (t("    vars: {task: ask, question: x}\n    options: {}\n"), "unknown key \"options\""),
        (t("    vars: {task: ask, question: x}\n    threshold: 2\n"), "threshold: a weighted score is 0 to 1"),
    ];
    assert_errors("evals/x.yaml: test 1 (\"standup owners\"): ", &cases);
}

#[test]
fn every_error_elsewhere_names_file_and_field() {
    let with = |top: &str| format!("{top}\ntests: [{{vars: {{task: chat, prompt: hi}}}}]");
    let cases = [
        (with("providers: [local, 'local:']"), "providers[2]: route \"local:\": no model name after local:"),
        (with("providers: [local, LOCAL]"), "providers[2]: local is listed twice"),
        (with("providers: [{label: x}]"), "providers[1]: missing id"),
        (with("providers: [{id: local, config: {}}]"), "providers[1]: unknown key \"config\""),
        (with("providers: [[local]]"), "providers[1]: must be text, not a list"),
        (with("defaultTest: {assert: [{type: cost}]}"), "defaultTest: assert[1].threshold: cost needs a threshold"),
        (with("defaultTest: {options: 1}"), "defaultTest: unknown key \"options\""),
        (
            with("defaultTest: {vars: {question: q}}"),
            "test 1: vars.question: chat does not take \"question\" (from defaultTest)",
        ),
        (with("scenarios: []"), "unknown top-level key \"scenarios\" (known: description, providers, prompts,"),
        ("[1]".into(), "the top level must be a mapping with keys description, providers, prompts, defaultTest, tests"),
        ("description: x\n".into(), "no tests; add a tests list"),
        ("tests: []\n".into(), "tests: a suite needs at least one test"),
        (
            "tests: file://tests.csv\n".into(),
            "tests: must be a list of tests, not text (loading tests from another file",
        ),
        (
            "tests: [{vars: {task: chat, prompt: hi}}, 3]".into(),
            "test 2: must be a mapping with keys description, vars,",
        ),
    ];
    assert_errors("evals/x.yaml: ", &cases);
}

#[test]
fn yaml_syntax_errors_say_line_and_column() {
    let msg = error("tests:\n  - vars: {task: chat\n  - x: [\n");
    assert!(msg.starts_with("evals/x.yaml: YAML syntax error at line "), "{msg}");
    assert!(msg.contains(", column "), "{msg}");
    assert!(!msg.contains(" at line 3 column"), "position said once: {msg}");
    let msg = error("tests: [{vars: {task: chat, task: ask}}]");
    assert!(msg.starts_with("evals/x.yaml: YAML syntax error at line 1, column "), "{msg}");
    assert!(msg.contains("duplicate"), "{msg}");
    let msg = error("tests:\n\t- x\n");
    assert!(msg.starts_with("evals/x.yaml: YAML syntax error at line 2, column 1: "), "{msg}");
    assert!(msg.ends_with(" (YAML is indented with spaces, not tabs)"), "{msg}");
}

#[test]
fn anchors_and_merge_keys_work() {
    let text = "x: &base {task: chat, prompt: hi}\ntests: [{vars: {<<: *base, prompt: yo}}]\n";
    assert!(error(text).contains("unknown top-level key \"x\""));
    let text = "tests:\n  - vars: &v {task: chat, prompt: hi}\n  - vars: {<<: *v, prompt: yo}\n";
    let suite = parse(text).unwrap();
    assert_eq!(suite.tests[1].task, Task::Chat { prompt: "yo".into() });
}

#[test]
fn long_descriptions_are_cut_and_kept_on_one_line() {
    let long = "a".repeat(100);
    let msg = error(&format!("tests:\n  - description: \"{long}\\nsecond\"\n    vars: {{task: chat}}\n"));
    assert!(msg.starts_with(&format!("evals/x.yaml: test 1 (\"{}…\"): vars: chat needs", "a".repeat(59))), "{msg}");
}

#[test]
fn asserts_keep_their_parsed_values() {
    let suite =
        parse("tests:\n  - vars: {task: chat, prompt: hi}\n    assert: [{type: equals, value: [1, 2]}]\n").unwrap();
    let rule = &suite.tests[0].asserts[0].rule;
    assert!(matches!(rule, Rule::Equals(Expected::Json(j)) if *j == serde_json::json!([1, 2])));
}

#[test]
fn odd_inputs_are_errors_not_panics() {
    let inputs = [
        "",
        "   \n",
        "# only a comment\n",
        "- a\n- b\n",
        "42",
        "just text",
        "tests: 5",
        "tests: [[]]",
        "tests: [null]",
        "tests: [{vars: null}]",
        "tests: [{vars: {task: 5}}]",
        "tests: [{vars: {task: chat, prompt: 5}, assert: [{type: 5}]}]",
        "tests: [{vars: {task: chat, prompt: p}, assert: [null]}]",
        "tests: [{vars: {task: chat, prompt: p}, assert: [{type: contains, value: {a: b}}]}]",
        "tests: [{vars: {task: chat, prompt: p}, assert: [{type: is-json, value: [1]}]}]",
        "tests: [{vars: {task: chat, prompt: p}, assert: [{type: equals, value: !tag x}]}]",
        "tests: [{vars: {1: x}}]",
        "tests: [{description: [x], vars: {task: chat, prompt: p}}]",
        "description: {a: 1}\ntests: [{vars: {task: chat, prompt: p}}]",
        "providers: 7\ntests: [{vars: {task: chat, prompt: p}}]",
        "providers: [7, null]\ntests: [{vars: {task: chat, prompt: p}}]",
        "defaultTest: [1]\ntests: [{vars: {task: chat, prompt: p}}]",
        "tests: [{vars: {task: summarize, file: '\u{0}'}}]",
        "---\na: 1\n---\nb: 2\n",
        "tests: [{vars: {task: chat, prompt: p}, threshold: .nan}]",
        "{{{{",
        "tests: *nothing",
        "\u{feff}tests: x",
    ];
    for input in inputs {
        let outcome = std::panic::catch_unwind(|| parse(input));
        match outcome {
            Ok(Err(e)) => assert!(e.to_string().starts_with("evals/x.yaml: ") && !e.to_string().contains('\n'), "{e}"),
            Ok(Ok(suite)) => panic!("{input:?} loaded: {suite:?}"),
            Err(_) => panic!("panicked on {input:?}"),
        }
    }
}

use serde_json::json;

use super::*;
use crate::Task;

fn assertion(yaml: &str) -> Assertion {
    let value: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    crate::assertion::parse(&value).unwrap_or_else(|e| panic!("{yaml}: {e:?}"))
}

fn no_judge(_: &str, _: &str) -> Result<Verdict, String> {
    Err("no judge configured".into())
}

/// Grades and returns (passed, reason).
fn check(yaml: &str, answer: &Answer) -> (Option<bool>, String) {
    let g = grade(&assertion(yaml), answer, &mut no_judge);
    (g.passed, g.reason)
}

fn pass(reason: &str) -> (Option<bool>, String) {
    (Some(true), reason.to_string())
}

fn fail(reason: &str) -> (Option<bool>, String) {
    (Some(false), reason.to_string())
}

fn text(t: &str) -> Answer {
    Answer { text: t.into(), ..Answer::default() }
}

#[test]
fn equals_text_and_json() {
    let a = text("  Paris \n");
    assert_eq!(check("{type: equals, value: Paris}", &a), pass("equals \"Paris\""));
    assert_eq!(check("{type: equals, value: paris}", &a), fail("expected \"paris\", got \"Paris\""));
    assert_eq!(check("{type: not-equals, value: paris}", &a), (Some(true), "expected \"paris\", got \"Paris\"".into()));
    let j = Answer { text: "ignored".into(), json: Some(json!({"a": [1, 2]})), ..Answer::default() };
    assert_eq!(check("{type: equals, value: {a: [1, 2]}}", &j), pass("equals {\"a\":[1,2]}"));
    assert_eq!(check("{type: equals, value: {a: [2]}}", &j), fail("expected {\"a\":[2]}, got {\"a\":[1,2]}"));
    assert_eq!(check("{type: equals, value: [1]}", &text("[1]")), pass("equals [1]"));
    assert_eq!(check("{type: equals, value: [1]}", &text("one")), fail("expected JSON [1], the output is not JSON"));
}

#[test]
fn contains_family() {
    let a = text("Ship it on Friday, Tom.");
    assert_eq!(check("{type: contains, value: Friday}", &a), pass("contains \"Friday\""));
    assert_eq!(check("{type: contains, value: friday}", &a), fail("missing \"friday\""));
    assert_eq!(check("{type: icontains, value: FRIDAY}", &a), pass("contains \"FRIDAY\""));
    assert_eq!(check("{type: not-contains, value: Friday}", &a), fail("contains \"Friday\""));
    assert_eq!(check("{type: not-icontains, value: monday}", &a), pass("missing \"monday\""));
    assert_eq!(check("{type: contains-all, value: [Ship, Tom]}", &a), pass("contains all of \"Ship\", \"Tom\""));
    assert_eq!(check("{type: contains-all, value: [Ship, ana, Ana]}", &a), fail("missing \"ana\", \"Ana\""));
    assert_eq!(check("{type: icontains-all, value: [SHIP, tom]}", &a), pass("contains all of \"SHIP\", \"tom\""));
    assert_eq!(check("{type: not-contains-all, value: [Ship, Tom]}", &a).0, Some(false));
    assert_eq!(check("{type: contains-any, value: [Ana, Tom]}", &a), pass("contains \"Tom\""));
    assert_eq!(check("{type: contains-any, value: [Ana, Bo]}", &a), fail("contains none of \"Ana\", \"Bo\""));
    assert_eq!(check("{type: icontains-any, value: [ana, TOM]}", &a), pass("contains \"TOM\""));
    assert_eq!(
        check("{type: not-contains-any, value: [TODO, lorem]}", &a),
        pass("contains none of \"TODO\", \"lorem\"")
    );
    assert_eq!(check("{type: not-icontains-any, value: [friday]}", &a), fail("contains \"friday\""));
}

#[test]
fn regex_on_text_or_json_output() {
    let a = Answer { text: "Due 2024-05-03.".into(), json: Some(json!({"owner": "Tom"})), ..Answer::default() };
    assert_eq!(
        check(r"{type: regex, value: '\d{4}-\d\d-\d\d'}", &a),
        pass(r#"regex /\d{4}-\d\d-\d\d/ matched "2024-05-03""#)
    );
    assert_eq!(
        check(r#"{type: regex, value: '"owner":"Tom"'}"#, &a),
        pass(r#"regex /"owner":"Tom"/ matched the JSON output"#)
    );
    assert_eq!(check("{type: regex, value: '^Done'}", &a), fail("regex /^Done/ did not match"));
    assert_eq!(check("{type: not-regex, value: '^Done'}", &a), pass("regex /^Done/ did not match"));
}

#[test]
fn is_json_with_and_without_schema() {
    assert_eq!(check("{type: is-json}", &text(" {\"a\": 1} ")), pass("valid JSON"));
    let (passed, reason) = check("{type: is-json}", &text("```json\n{}\n```"));
    assert_eq!(passed, Some(false));
    assert!(reason.starts_with("not JSON: expected value at line 1 column 1"), "{reason}");
    assert_eq!(check("{type: not-is-json}", &text("hello")).0, Some(true));
    let j = Answer { text: "Summary…".into(), json: Some(json!({"actions": [{"owner": 3}]})), ..Answer::default() };
    let schema = "{type: is-json, value: {type: object, required: [actions], properties: \
        {actions: {type: array, items: {properties: {owner: {type: string}}}}}}}";
    assert_eq!(
        check(schema, &j),
        fail("JSON does not match the schema: $.actions[0].owner: expected string, got number")
    );
    let ok = Answer { json: Some(json!({"actions": [{"owner": "Tom"}]})), ..Answer::default() };
    assert_eq!(check(schema, &ok), pass("valid JSON matching the schema"));
}

#[test]
fn cost_and_latency_limits() {
    let a = Answer { cost_usd: 0.0123, latency_ms: 1200, ..Answer::default() };
    assert_eq!(check("{type: cost, threshold: 0.01}", &a), fail("cost $0.0123 > $0.01"));
    assert_eq!(check("{type: cost, threshold: 0.0123}", &a), pass("cost $0.0123 <= $0.0123"));
    assert_eq!(check("{type: latency, threshold: 1000}", &a), fail("latency 1200 ms > 1000 ms"));
    assert_eq!(check("{type: latency, threshold: 1500}", &a), pass("latency 1200 ms <= 1500 ms"));
}

#[test]
fn llm_rubric_asks_the_judge() {
    let a = text("Dear Tom, thanks!");
    let mut seen = Vec::new();
    let mut judge = |rubric: &str, output: &str| {
        seen.push((rubric.to_string(), output.to_string()));
        Ok(Verdict { pass: true, score: 0.6, reason: "polite enough".into() })
    };
    let g = grade(&assertion("{type: llm-rubric, value: is polite, weight: 3}"), &a, &mut judge);
    assert_eq!((g.passed, g.score, g.reason.as_str(), g.weight), (Some(true), 0.6, "polite enough", 3.0));
    let g = grade(&assertion("{type: llm-rubric, value: is polite, threshold: 0.7}"), &a, &mut judge);
    assert_eq!((g.passed, g.reason.as_str()), (Some(false), "score 0.60 < 0.70: polite enough"));
    let g = grade(&assertion("{type: llm-rubric, value: is polite, threshold: 0.6}"), &a, &mut judge);
    assert_eq!((g.passed, g.reason.as_str()), (Some(true), "score 0.60 >= 0.60: polite enough"));
    assert_eq!(seen[0], ("is polite".to_string(), "Dear Tom, thanks!".to_string()));

    let mut harsh = |_: &str, _: &str| Ok(Verdict { pass: false, score: 0.1, reason: String::new() });
    let g = grade(&assertion("{type: llm-rubric, value: x}"), &a, &mut harsh);
    assert_eq!((g.passed, g.score, g.reason.as_str()), (Some(false), 0.1, "judge: fail"));
}

#[test]
fn a_judge_error_is_not_graded_never_passed() {
    let g = grade(&assertion("{type: llm-rubric, value: is polite}"), &text("hi"), &mut no_judge);
    assert_eq!((g.passed, g.score, g.reason.as_str()), (None, 0.0, "not graded: judge failed: no judge configured"));
}

#[test]
fn checks_pass_all_or_named() {
    let c = |name: &str, passed: bool, detail: &str| CheckOutcome { name: name.into(), passed, detail: detail.into() };
    let a = Answer {
        checks: vec![
            c("not_degenerate", true, ""),
            c("tasks_grounded", false, "dropped: call Ana"),
            c("dates", false, ""),
        ],
        ..Answer::default()
    };
    assert_eq!(
        check("{type: checks-pass}", &a),
        fail("check tasks_grounded failed: dropped: call Ana; check dates failed")
    );
    assert_eq!(check("{type: checks-pass, value: not_degenerate}", &a), pass("checks not_degenerate passed"));
    assert_eq!(check("{type: checks-pass, value: [not_degenerate, dates]}", &a), fail("check dates failed"));
    assert_eq!(check("{type: checks-pass, value: nope}", &a), fail("check \"nope\" did not run"));
    assert_eq!(check("{type: not-checks-pass}", &a).0, Some(true));
    let good = Answer { checks: vec![c("a", true, ""), c("b", true, "")], ..Answer::default() };
    assert_eq!(check("{type: checks-pass}", &good), pass("all 2 checks passed"));
    assert_eq!(check("{type: checks-pass}", &Answer::default()), pass("no checks ran"));
}

#[test]
fn owners_include_with_first_names() {
    let a = Answer { owners: vec!["Tom Baker".into(), "Ana".into()], ..Answer::default() };
    assert_eq!(check("{type: owners-include, value: tom}", &a), pass("owners include tom"));
    assert_eq!(check("{type: owners-include, value: [Tom, ana silva]}", &a), pass("owners include Tom, ana silva"));
    assert_eq!(check("{type: owners-include, value: Maria}", &a), fail("owner \"Maria\" not among: Tom Baker, Ana"));
    assert_eq!(
        check("{type: owners-include, value: [Maria, Bo, Tom]}", &a),
        fail("owners \"Maria\", \"Bo\" not among: Tom Baker, Ana")
    );
    assert_eq!(check("{type: not-owners-include, value: Maria}", &a).0, Some(true));
    assert_eq!(
        check("{type: owners-include, value: Tom}", &Answer::default()),
        fail("owner \"Tom\" not among: (none)")
    );
}

#[test]
fn cites_by_substring_or_glob() {
    let a = Answer { cited_paths: vec!["/home/u/notes/plan.md".into(), "/home/u/a.pdf".into()], ..Answer::default() };
    assert_eq!(check("{type: cites, value: plan.md}", &a), pass("cites /home/u/notes/plan.md"));
    assert_eq!(check("{type: cites, value: '*.pdf'}", &a), pass("cites /home/u/a.pdf"));
    assert_eq!(
        check("{type: cites, value: '*.docx'}", &a),
        fail("no citation matches \"*.docx\" (cited: /home/u/notes/plan.md, /home/u/a.pdf)")
    );
    assert_eq!(check("{type: cites, value: x}", &Answer::default()), fail("no citation matches \"x\" (nothing cited)"));
    assert_eq!(check("{type: not-cites, value: '*.pdf'}", &a).0, Some(false));
}

fn test_case(asserts: &[&str], threshold: Option<f64>) -> TestCase {
    TestCase {
        index: 1,
        description: None,
        task: Task::Chat { prompt: "p".into() },
        asserts: asserts.iter().map(|y| assertion(y)).collect(),
        threshold,
    }
}

#[test]
fn a_test_passes_when_every_assertion_does() {
    let a = text("Friday");
    let t = test_case(&["{type: contains, value: Friday}", "{type: contains, value: Tom, weight: 3}"], None);
    let g = grade_test(&t, &a, &mut no_judge);
    assert_eq!((g.passed, g.score, g.not_graded, g.graded.len()), (false, 0.25, 0, 2));
    let t = test_case(&["{type: contains, value: Friday}"], None);
    assert!(grade_test(&t, &a, &mut no_judge).passed);
    let empty = grade_test(&test_case(&[], None), &a, &mut no_judge);
    assert_eq!((empty.passed, empty.score), (true, 1.0));
}

#[test]
fn a_test_threshold_uses_the_weighted_score() {
    let a = text("Friday Tom");
    let asserts = ["{type: contains, value: Friday, weight: 3}", "{type: contains, value: Ana}"];
    let g = grade_test(&test_case(&asserts, Some(0.75)), &a, &mut no_judge);
    assert_eq!((g.passed, g.score), (true, 0.75));
    let g = grade_test(&test_case(&asserts, Some(0.8)), &a, &mut no_judge);
    assert_eq!((g.passed, g.score), (false, 0.75));
    let mut judge = |_: &str, _: &str| Ok(Verdict { pass: false, score: 0.35, reason: String::new() });
    let scored = ["{type: llm-rubric, value: a}", "{type: llm-rubric, value: b}"];
    let g = grade_test(&test_case(&scored, Some(0.35)), &a, &mut judge);
    assert_eq!((g.passed, g.score), (true, 0.35));
    let zero = ["{type: contains, value: Friday, weight: 0}", "{type: contains, value: Ana, weight: 0}"];
    assert_eq!(grade_test(&test_case(&zero, None), &a, &mut no_judge).score, 0.0);
}

#[test]
fn a_not_graded_assertion_fails_the_test_but_not_its_score() {
    let a = text("Friday");
    let t = test_case(&["{type: contains, value: Friday}", "{type: llm-rubric, value: polite}"], Some(0.5));
    let g = grade_test(&t, &a, &mut no_judge);
    assert_eq!((g.passed, g.score, g.not_graded), (false, 1.0, 1));
    assert_eq!(g.graded[1].passed, None);
}

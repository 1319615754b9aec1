use super::*;

fn parse_yaml(text: &str) -> Result<Assertion, (&'static str, String)> {
    let value: Value = serde_yaml::from_str(text).unwrap();
    parse(&value)
}

fn ok(text: &str) -> Assertion {
    parse_yaml(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

fn err(text: &str) -> (&'static str, String) {
    parse_yaml(text).err().unwrap_or_else(|| panic!("{text} parsed"))
}

#[test]
fn parses_every_type() {
    assert!(matches!(ok("{type: equals, value: hi}").rule, Rule::Equals(Expected::Text(ref t)) if t == "hi"));
    assert!(matches!(ok("{type: equals, value: 42}").rule, Rule::Equals(Expected::Text(ref t)) if t == "42"));
    let a = ok("{type: equals, value: {a: [1]}}");
    assert!(matches!(a.rule, Rule::Equals(Expected::Json(ref j)) if *j == serde_json::json!({"a": [1]})));
    let a = ok("{type: contains, value: x}");
    assert!(matches!(a.rule, Rule::Contains { ref needle, ignore_case: false } if needle == "x"));
    assert!(matches!(ok("{type: icontains, value: x}").rule, Rule::Contains { ignore_case: true, .. }));
    let a = ok("{type: contains-all, value: [a, b]}");
    assert!(matches!(a.rule, Rule::ContainsAll { ref needles, ignore_case: false } if needles == &["a", "b"]));
    assert!(matches!(ok("{type: icontains-all, value: [a]}").rule, Rule::ContainsAll { ignore_case: true, .. }));
    assert!(matches!(ok("{type: contains-any, value: [a]}").rule, Rule::ContainsAny { ignore_case: false, .. }));
    assert!(matches!(ok("{type: icontains-any, value: [a]}").rule, Rule::ContainsAny { ignore_case: true, .. }));
    assert!(matches!(ok("{type: regex, value: '^a+$'}").rule, Rule::Regex(ref r) if r.as_str() == "^a+$"));
    assert!(matches!(ok("{type: is-json}").rule, Rule::IsJson { schema: None }));
    assert!(matches!(ok("{type: is-json, value: {type: object}}").rule, Rule::IsJson { schema: Some(_) }));
    let a = ok("{type: cost, threshold: 0.01}");
    assert!(matches!(a.rule, Rule::Cost { max_usd } if max_usd == 0.01));
    assert_eq!(a.threshold, Some(0.01));
    assert!(matches!(ok("{type: latency, threshold: 1500}").rule, Rule::Latency { max_ms } if max_ms == 1500.0));
    let a = ok("{type: llm-rubric, value: is polite, threshold: 0.7, weight: 2}");
    assert!(matches!(a.rule, Rule::LlmRubric { ref rubric } if rubric == "is polite"));
    assert_eq!((a.threshold, a.weight), (Some(0.7), 2.0));
    assert!(matches!(ok("{type: checks-pass}").rule, Rule::ChecksPass { ref names } if names.is_empty()));
    assert!(matches!(ok("{type: checks-pass, value: g}").rule, Rule::ChecksPass { ref names } if names == &["g"]));
    assert!(
        matches!(ok("{type: checks-pass, value: [a, b]}").rule, Rule::ChecksPass { ref names } if names.len() == 2)
    );
    assert!(
        matches!(ok("{type: owners-include, value: Tom}").rule, Rule::OwnersInclude { ref names } if names == &["Tom"])
    );
    let a = ok("{type: owners-include, value: [Tom, Ana]}");
    assert!(matches!(a.rule, Rule::OwnersInclude { ref names } if names == &["Tom", "Ana"]));
    assert!(matches!(ok("{type: cites, value: '*.md'}").rule, Rule::Cites { ref pattern } if pattern == "*.md"));
}

#[test]
fn weight_defaults_to_one_and_kind_is_kept_as_written() {
    let a = ok("{type: not-icontains, value: x}");
    assert_eq!((a.kind.as_str(), a.negate, a.weight, a.threshold), ("not-icontains", true, 1.0, None));
    assert_eq!(ok("{type: contains, value: x, weight: 0}").weight, 0.0);
}

#[test]
fn not_prefix_works_for_every_type_but_limits_and_rubrics() {
    for base in ["equals", "contains-all", "contains-any", "regex", "checks-pass", "owners-include", "cites"] {
        let value = if base.starts_with("contains") { "[a]" } else { "a" };
        let a = ok(&format!("{{type: not-{base}, value: {value}}}"));
        assert!(a.negate, "{base}");
    }
    assert!(ok("{type: not-is-json}").negate);
    assert!(ok("{type: not-icontains-any, value: [a]}").negate);
    assert_eq!(err("{type: not-cost, threshold: 1}"), ("", "cost cannot take the not- prefix".to_string()));
    assert_eq!(err("{type: not-llm-rubric, value: x}"), ("", "llm-rubric cannot take the not- prefix".to_string()));
    assert!(err("{type: not-not-contains, value: x}").1.starts_with("unknown assertion type \"not-not-contains\""));
}

#[test]
fn unknown_type_lists_the_known_ones() {
    let (field, msg) = err("{type: contain, value: x}");
    assert_eq!(field, "");
    assert!(msg.starts_with("unknown assertion type \"contain\" (known: equals, contains, icontains,"), "{msg}");
    assert!(msg.ends_with("owners-include, cites)"), "{msg}");
    assert!(err("{value: x}").1.starts_with("missing type (known: equals"));
    assert_eq!(err("{type: [contains]}"), ("type", "must be text, not a list".to_string()));
    assert!(err("{type: contains, value: x, metric: m}").1.starts_with("unknown key \"metric\""));
    assert!(err("contains").1.starts_with("must be a mapping"));
}

#[test]
fn values_must_have_the_right_shape() {
    assert_eq!(err("{type: contains}"), ("value", "contains needs a value".to_string()));
    assert_eq!(
        err("{type: contains, value: [a, b]}"),
        ("value", "must be text, not a list (use contains-any or contains-all for several)".to_string())
    );
    assert_eq!(err("{type: contains-all, value: a}"), ("value", "must be a list, not text".to_string()));
    assert_eq!(err("{type: contains-any, value: []}"), ("value", "must list at least one item".to_string()));
    assert_eq!(err("{type: contains-any, value: [a, [b]]}"), ("value", "item 2: must be text, not a list".to_string()));
    assert_eq!(err("{type: equals}"), ("value", "equals needs a value".to_string()));
    assert_eq!(err("{type: llm-rubric}"), ("value", "llm-rubric needs a value".to_string()));
    assert_eq!(
        err("{type: owners-include, value: {a: 1}}"),
        ("value", "must be text, not a mapping (or a list)".to_string())
    );
    assert_eq!(err("{type: cites, value: ''}"), ("value", "must not be empty".to_string()));
    let (field, msg) = err("{type: is-json, value: {type: objekt}}");
    assert_eq!(field, "value");
    assert!(msg.starts_with("schema: "), "{msg}");
}

#[test]
fn regexes_compile_at_load() {
    let (field, msg) = err("{type: regex, value: '(abc'}");
    assert_eq!((field, msg.as_str()), ("value", "invalid regex /(abc/: unclosed group"));
}

#[test]
fn thresholds_and_weights_are_checked() {
    assert_eq!(err("{type: cost}"), ("threshold", "cost needs a threshold (the most USD allowed)".to_string()));
    assert_eq!(
        err("{type: latency}"),
        ("threshold", "latency needs a threshold (the most milliseconds allowed)".to_string())
    );
    assert_eq!(err("{type: cost, threshold: -1}"), ("threshold", "must not be negative, got -1".to_string()));
    assert_eq!(err("{type: cost, value: 1}"), ("value", "cost takes its limit as threshold, not value".to_string()));
    assert_eq!(err("{type: cost, threshold: cheap}"), ("threshold", "must be a number, not text".to_string()));
    assert_eq!(
        err("{type: contains, value: a, threshold: 0.5}"),
        ("threshold", "contains does not use a threshold (only cost, latency and llm-rubric do)".to_string())
    );
    assert_eq!(
        err("{type: llm-rubric, value: a, threshold: 7}"),
        ("threshold", "a judge's score is 0 to 1, so the threshold must be too, got 7".to_string())
    );
    assert_eq!(err("{type: contains, value: a, weight: -2}"), ("weight", "must not be negative, got -2".to_string()));
    assert_eq!(err("{type: contains, value: a, weight: heavy}"), ("weight", "must be a number, not text".to_string()));
}

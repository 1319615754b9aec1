//! Unit tests of the summarize task: grounding, degenerate answers, the schema, scripts.
use super::*;

fn speakers() -> Vec<String> {
    vec!["Ana Ruiz".into(), "Bo Chen".into()]
}

#[test]
fn grounding_drops_invented_owners_and_dates() {
    let mut s = MeetingSummary {
        summary: "A meeting.".into(),
        action_items: vec![
            ActionItem { owner: "Bo".into(), task: "send the deck".into(), due: Some("Friday".into()) },
            ActionItem { owner: "Zed".into(), task: "buy cake".into(), due: None },
            ActionItem { owner: "Ana Ruiz".into(), task: "book room".into(), due: Some("June 3".into()) },
        ],
        ..MeetingSummary::default()
    };
    let mut dropped = Vec::new();
    let src = Source::new("Bo Chen: I'll send the deck Friday. Ana: book a room, cake?");
    let checks = ground(&mut s, &mut dropped, &speakers(), &src);
    assert_eq!(s.action_items.len(), 2);
    assert_eq!(s.action_items[1].due, None);
    assert_eq!(dropped[0].item.owner, "Zed");
    let passed = |name: &str| checks.iter().find(|c| c.name == name).map(|c| c.passed);
    assert_eq!(passed("owners_grounded"), Some(false));
    assert_eq!(passed("tasks_grounded"), Some(true));
    assert_eq!(passed("dates_grounded"), Some(false));
}

/// The answer the default model gave the stand-up fixture: a decision and a summary sentence
/// that nobody said. Both must fail their checks, and the invented decision must not be shown.
#[test]
fn invented_decisions_and_summary_sentences_fail() {
    let mut s = MeetingSummary {
        summary: "Bo will send the deck on Friday. There were 5 comments about the new order policy.".into(),
        decisions: vec![
            "Send the deck on Friday".into(),
            "$drow 5:27am the new order is not allowed to be placed at this time".into(),
        ],
        open_questions: vec!["Who approves the holiday catering invoices?".into()],
        ..MeetingSummary::default()
    };
    let src = Source::new("Bo Chen: I'll send the deck Friday. Ana Ruiz: and the room booking?");
    let checks = ground(&mut s, &mut Vec::new(), &speakers(), &src);
    let failed: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
    assert_eq!(failed, ["summary_grounded", "decisions_grounded", "questions_grounded"], "{checks:?}");
    assert_eq!(s.decisions, ["Send the deck on Friday"]);
    assert_eq!(s.summary, "Bo will send the deck on Friday.", "the invented sentence is not shown");
    assert!(s.open_questions.is_empty());
    let detail = &checks.iter().find(|c| c.name == "decisions_grounded").map(|c| c.detail.clone()).unwrap_or_default();
    assert!(detail.contains("5:27"), "{detail}");
}

#[test]
fn degenerate_answers_are_caught() {
    let looping = MeetingSummary { summary: "we agreed to agree ".repeat(5), ..MeetingSummary::default() };
    assert!(degenerate(&looping).is_some());
    assert!(degenerate(&MeetingSummary::default()).is_some());
    let fine = MeetingSummary { summary: "The team moved the launch to Friday.".into(), ..MeetingSummary::default() };
    assert!(degenerate(&fine).is_none());
}

/// A summary written in Chinese is a summary: not "empty", not retried, and its tasks and
/// owners are checked against the transcript by characters.
#[test]
fn a_chinese_meeting_keeps_its_chinese_summary() {
    let text = "张伟: 我们下周五发布新版本。\n李娜: 我来准备发布说明，周四之前完成。\n王强: 我周三开始测试。\n";
    let transcript = crate::transcript::parse(text, Some("txt"));
    let answer = serde_json::json!({
        "summary": "团队决定下周五发布新版本，李娜负责发布说明，王强周三开始测试。",
        "decisions": ["下周五发布新版本"],
        "action_items": [
            {"owner": "李娜", "task": "准备发布说明", "due": "周四"},
            {"owner": "赵六", "task": "购买新的打印机", "due": ""}
        ],
        "open_questions": []
    });
    let fake = frugal_llm::fake::FakeProvider::new("fake").with_reply(answer.to_string());
    let mut count = |s: &str| Ok::<_, TaskError>(s.chars().count());
    let report =
        summarize(&fake, &transcript, 8192, &mut count, &CancelToken::new(), &mut |_| {}, &mut |_| {}).unwrap();
    assert!(!report.quality.retried, "{:?}", report.quality);
    assert!(report.summary.summary.starts_with("团队决定"));
    assert_eq!(report.summary.action_items.len(), 1, "{:?}", report.summary.action_items);
    assert_eq!(report.summary.action_items[0].owner, "李娜");
    assert_eq!(report.dropped.len(), 1);
}

#[test]
fn the_schema_is_valid_json() {
    let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
    assert_eq!(v["required"].as_array().unwrap().len(), 4);
}

#[test]
fn a_summary_without_the_action_items_people_took_on_fails() {
    let part = "Lena: I can review the schema by Wednesday.\nBen: Sounds good.";
    let none = MeetingSummary { summary: "The schema was discussed.".into(), ..MeetingSummary::default() };
    let c = commitments_kept(part, &none);
    assert!(!c.passed && c.detail.contains("I can review the schema"), "{c:?}");
    let one = MeetingSummary {
        action_items: vec![ActionItem { owner: "Lena".into(), task: "review the schema".into(), due: None }],
        ..none.clone()
    };
    assert!(commitments_kept(part, &one).passed);
    assert!(commitments_kept("Ana: the numbers look fine.\nBo: agreed.", &none).passed, "nobody took anything on");
}

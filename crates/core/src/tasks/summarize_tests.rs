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
    assert!(!checks[0].passed && checks[1].passed && !checks[2].passed);
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

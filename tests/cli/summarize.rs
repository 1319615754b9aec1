use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use crate::harness::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meetings").join(name)
}

/// The structure every `summarize --json` answer must have, and the grounding invariants:
/// owners are speakers or names from the input; due dates appear in the input.
fn assert_grounded_structure(v: &serde_json::Value, source: &str) {
    assert!(v["summary"].as_str().is_some_and(|s| !s.trim().is_empty()), "{v}");
    assert!(v["decisions"].as_array().unwrap().iter().all(|d| d.is_string()));
    assert!(v["open_questions"].as_array().unwrap().iter().all(|d| d.is_string()));
    let speakers: Vec<String> =
        v["speakers"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_lowercase()).collect();
    let src = source.to_lowercase();
    for a in v["action_items"].as_array().unwrap() {
        let owner = a["owner"].as_str().unwrap().to_lowercase();
        assert!(
            speakers.iter().any(|s| *s == owner || s.split(' ').next() == Some(owner.as_str())) || src.contains(&owner),
            "owner {owner} not from the input"
        );
        assert!(!a["task"].as_str().unwrap().is_empty());
        match &a["due"] {
            serde_json::Value::Null => {}
            serde_json::Value::String(d) => {
                let words: Vec<String> = d
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty() && !["by", "on", "the", "of", "at", "before", "end"].contains(w))
                    .map(str::to_string)
                    .collect();
                assert!(words.iter().all(|w| src.contains(w.as_str())), "due {d} not in the input");
            }
            other => panic!("due must be a string or null, got {other}"),
        }
    }
    let checks = v["quality"]["checks"].as_array().unwrap();
    for name in ["not_degenerate", "owners_grounded", "tasks_grounded", "dates_grounded"] {
        assert!(checks.iter().any(|c| c["name"] == name && c["passed"].is_boolean()), "missing check {name}");
    }
    assert!(v["quality"]["passed"].is_boolean());
}

#[test]
fn every_fixture_gets_a_grounded_structured_summary() {
    let env = Env::new();
    for (name, format, speakers) in
        [("standup.vtt", "web_vtt", 3), ("one-on-one.srt", "srt", 2), ("planning.txt", "speaker_text", 3)]
    {
        let path = fixture(name);
        let v = json(&env.run_model(&["summarize", "--json", path.to_str().unwrap()]));
        assert_eq!(v["format"], format, "{name}");
        assert_eq!(v["speakers"].as_array().unwrap().len(), speakers, "{name}: {}", v["speakers"]);
        assert_eq!(v["chunks"], 1);
        assert_grounded_structure(&v, &std::fs::read_to_string(&path).unwrap());
    }
}

#[test]
fn markdown_has_the_four_sections_and_out_writes_a_file() {
    let env = Env::new();
    let out = ok(&env.run_model(&["summarize", fixture("standup.vtt").to_str().unwrap()]));
    for h in ["## Summary", "## Decisions", "## Action items", "## Open questions"] {
        assert!(out.contains(h), "{h} missing in {out}");
    }
    let target = env.path("summary.md");
    let o =
        env.run_model(&["summarize", fixture("one-on-one.srt").to_str().unwrap(), "--out", target.to_str().unwrap()]);
    assert!(ok(&o).is_empty());
    assert!(std::fs::read_to_string(target).unwrap().starts_with("## Summary"));
}

#[test]
fn a_long_meeting_is_split_summarized_and_merged() {
    let env = Env::new();
    // A small context forces the map-reduce path on the all-hands fixture.
    env.write_config("[model]\ncontext = 2048\n");
    let path = fixture("all-hands.md");
    let v = json(&env.run_model(&["summarize", "--json", path.to_str().unwrap()]));
    assert!(v["chunks"].as_u64().unwrap() >= 2, "chunks = {}", v["chunks"]);
    assert_eq!(v["format"], "markdown");
    assert_eq!(v["speakers"].as_array().unwrap().len(), 5);
    assert_grounded_structure(&v, &std::fs::read_to_string(&path).unwrap());
}

#[test]
fn stdin_is_a_transcript_too() {
    let env = Env::new();
    let m = model();
    let mut child = env
        .cmd()
        .args(["--model", m.to_str().unwrap(), "summarize", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(fixture("standup.vtt")).unwrap()).unwrap();
    let v = json(&child.wait_with_output().unwrap());
    assert_eq!(v["format"], "web_vtt");
}

#[test]
fn bad_transcripts_get_one_clear_line() {
    let env = Env::new();
    let write = |name: &str, bytes: &[u8]| {
        let p = env.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let cases: Vec<(PathBuf, &str)> = vec![
        (write("empty.txt", b""), "is empty"),
        (write("blank.vtt", b"  \n\n \t\n"), "is empty"),
        (write("recording.vtt", b"RIFF\x00\x00WAVEfmt \x10\x00"), "binary"),
        (write("only-times.vtt", b"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n\n"), "no text"),
        (env.path("missing.vtt"), "cannot read"),
        (env.dir.path().to_path_buf(), "is a folder"),
    ];
    for (path, expected) in cases {
        let line = one_line_error(&env.run_model(&["summarize", path.to_str().unwrap()]));
        assert!(line.contains(expected), "{}: {line}", path.display());
    }
    let huge = env.path("huge.txt");
    std::fs::File::create(&huge).unwrap().set_len(51 * 1024 * 1024).unwrap();
    let line = one_line_error(&env.run_model(&["summarize", huge.to_str().unwrap()]));
    assert!(line.contains("is 51 MB, over the 50 MB limit"), "{line}");
}

#[test]
fn odd_but_readable_input_is_summarized_with_a_warning() {
    let env = Env::new();
    let latin1 = env.path("notes.txt");
    std::fs::write(
        &latin1,
        b"Ren\xe9e Marchand: We approve the caf\xe9 budget.\nLouis Petit: I will book the venue by Friday.\n",
    )
    .unwrap();
    let o = env.run_model(&["summarize", "--json", latin1.to_str().unwrap()]);
    assert!(stderr(&o).contains("not valid UTF-8"), "{}", stderr(&o));
    json(&o);
    let log = env.path("meeting.log");
    std::fs::write(&log, "We talked about the roadmap for a while.\n\nThen we agreed to meet again soon.\n").unwrap();
    let o = env.run_model(&["summarize", "--json", log.to_str().unwrap()]);
    assert!(stderr(&o).contains("read as plain text"), "{}", stderr(&o));
    assert_eq!(json(&o)["format"], "plain");
}

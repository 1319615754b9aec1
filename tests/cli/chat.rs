use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;

#[test]
fn chat_answers_on_the_default_model() {
    let env = Env::new();
    let out =
        ok(&env.run_model(&["chat", "--temperature", "0", "--max-tokens", "24", "What is the capital of France?"]));
    assert!(out.contains("Paris"), "{out}");
}

#[test]
fn chat_json_reports_text_usage_and_reason() {
    let env = Env::new();
    let v = json(&env.run_model(&["chat", "--json", "--seed", "3", "--max-tokens", "6", "Say something."]));
    assert!(!v["text"].as_str().unwrap().is_empty());
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 3);
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() <= 6);
    assert!(["length", "stop"].contains(&v["finish_reason"].as_str().unwrap()));
}

#[test]
fn chat_reads_a_piped_prompt() {
    let env = Env::new();
    let m = model();
    let mut child = env
        .cmd()
        .args(["--model", m.to_str().unwrap(), "chat", "--temperature", "0", "--max-tokens", "24"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"What is the capital of France?").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(ok(&out).contains("Paris"));
}

#[test]
fn chat_reads_a_prompt_file_and_refuses_unreadable_ones() {
    let env = Env::new();
    let f = env.path("prompt.txt");
    std::fs::write(&f, "What is the capital of France?").unwrap();
    let out = ok(&env.run_model(&["chat", "--temperature", "0", "--max-tokens", "24", "--file", f.to_str().unwrap()]));
    assert!(out.contains("Paris"));

    let line = one_line_error(&env.run_model(&["chat", "--file", env.path("nope.txt").to_str().unwrap()]));
    assert!(line.contains("cannot read prompt file"), "{line}");

    let bin = env.path("blob.bin");
    std::fs::write(&bin, [0u8, 159, 146, 150, 0, 1]).unwrap();
    let line = one_line_error(&env.run_model(&["chat", "--file", bin.to_str().unwrap()]));
    assert!(line.contains("binary"), "{line}");
}

#[test]
fn invalid_utf8_prompt_is_decoded_with_a_warning() {
    let env = Env::new();
    let f = env.path("latin1.txt");
    std::fs::write(&f, b"Caf\xe9 au lait: what is it?").unwrap();
    let out = env.run_model(&["chat", "--max-tokens", "4", "--file", f.to_str().unwrap()]);
    ok(&out);
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
}

#[test]
fn an_empty_prompt_is_refused() {
    let env = Env::new();
    let line = one_line_error(&env.run_model(&["chat", "   "]));
    assert!(line.contains("empty"), "{line}");
}

#[test]
fn bad_model_files_fail_with_one_line() {
    let env = Env::new();
    let text = env.path("notes.gguf");
    std::fs::write(&text, "this is a note, not a model").unwrap();
    let line = one_line_error(&env.run(&["--model", text.to_str().unwrap(), "chat", "hi"]));
    assert!(line.contains("not a GGUF model file"), "{line}");

    let cut = env.path("cut.gguf");
    let bytes = std::fs::read(model()).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let line = one_line_error(&env.run(&["--model", cut.to_str().unwrap(), "chat", "hi"]));
    assert!(line.contains("truncated"), "{line}");

    let line = one_line_error(&env.run(&["--model", env.path("missing.gguf").to_str().unwrap(), "chat", "hi"]));
    assert!(line.contains("not found"), "{line}");

    let line = one_line_error(&env.run(&["--model", env.dir.path().to_str().unwrap(), "chat", "hi"]));
    assert!(line.contains("not a GGUF"), "{line}");
}

#[test]
fn without_a_model_chat_says_how_to_get_one() {
    let env = Env::new();
    let line = one_line_error(&env.run(&["chat", "hi"]));
    assert!(line.contains("frugal models pull smollm2-135m"), "{line}");
}

#[test]
fn ctrl_c_cancels_the_answer_cleanly() {
    let env = Env::new();
    let m = model();
    let mut child = env
        .cmd()
        .args(["--model", m.to_str().unwrap(), "chat", "--max-tokens", "4000", "--temperature", "0.8"])
        .arg("Write a very long story about a lighthouse keeper, with many chapters.")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("no output before Ctrl-C");
    let sent = Instant::now();
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(5), "cancel took {:?}", sent.elapsed());
    assert_eq!(out.status.code(), Some(130), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cancelled"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_repl_keeps_a_conversation_on_a_terminal() {
    // `script` gives frugal a real pseudo-terminal, so it starts the REPL, not one-shot mode.
    let env = Env::new();
    let m = model();
    let command = format!(
        "{} --config {} --model {} chat --temperature 0 --max-tokens 24",
        env!("CARGO_BIN_EXE_frugal"),
        env.config().display(),
        m.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("HOME", env.path("home"))
        .env("XDG_CONFIG_HOME", env.path("xdg-config"))
        .env("XDG_DATA_HOME", env.path("xdg-data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) is needed for the REPL test");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"What is the capital of France?\n").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    stdin.write_all(b"/reset\n/exit\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("frugal chat"), "no REPL banner: {text}");
    assert!(text.contains("Paris"), "{text}");
    assert!(text.contains("(conversation cleared)"), "{text}");
}

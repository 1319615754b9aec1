//! The llama.cpp engine on the real default model (SmolLM2-135M-Instruct).
//!
//! The model is looked up at `$FRUGAL_TEST_MODEL` or `<workspace>/models/`; the setup script
//! and `.ci/run` put it there. Tests share one engine where they can: loading is the
//! expensive part and 2 cores are all CI has.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use frugal_llm::{contract, CancelToken, Constraint, ErrorKind, Event, Message, Provider, Request, Sampling};
use frugal_local::{plan, read_gguf, EngineConfig, HardwareProfile, LocalEngine, PlanOptions};

fn model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FRUGAL_TEST_MODEL") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn config(idle: Duration, context: u32) -> EngineConfig {
    let info = read_gguf(&model_path()).expect("the default model is missing: run scripts/setup.sh");
    let opts = PlanOptions { context: Some(context), ..PlanOptions::default() };
    let plan = plan(&HardwareProfile::probe(), &info, &opts).expect("plan");
    EngineConfig { model_path: info.path, plan, idle_unload: idle }
}

fn shared() -> &'static LocalEngine {
    static ENGINE: OnceLock<LocalEngine> = OnceLock::new();
    ENGINE.get_or_init(|| LocalEngine::start(config(Duration::from_secs(600), 2048)).expect("engine"))
}

fn greedy(prompt: &str, max_tokens: u32) -> Request {
    Request::new(vec![Message::user(prompt)])
        .with_max_tokens(max_tokens)
        .with_sampling(Sampling { temperature: 0.0, ..Sampling::default() })
}

#[test]
fn local_engine_honours_the_provider_contract() {
    contract::run_all(shared());
}

#[test]
fn greedy_answers_are_reproducible_and_sensible() {
    let a =
        shared().stream(greedy("What is the capital of France?", 24), CancelToken::new()).collect_blocking().unwrap();
    let b =
        shared().stream(greedy("What is the capital of France?", 24), CancelToken::new()).collect_blocking().unwrap();
    assert_eq!(a.text, b.text);
    assert!(a.text.contains("Paris"), "unexpected answer: {}", a.text);
}

#[test]
fn seeded_sampling_is_reproducible() {
    let req = |seed| {
        Request::new(vec![Message::user("Write one sentence about the sea.")])
            .with_max_tokens(24)
            .with_sampling(Sampling { temperature: 0.9, seed: Some(seed), ..Sampling::default() })
    };
    let a = shared().stream(req(42), CancelToken::new()).collect_blocking().unwrap();
    let b = shared().stream(req(42), CancelToken::new()).collect_blocking().unwrap();
    assert_eq!(a.text, b.text);
}

#[test]
fn a_shared_prefix_is_served_from_the_kv_cache() {
    let engine = LocalEngine::start(config(Duration::from_secs(600), 2048)).unwrap();
    let system = "You are a meticulous assistant. ".repeat(40);
    let ask = |q: &str| {
        Request::new(vec![Message::system(system.clone()), Message::user(q)])
            .with_max_tokens(4)
            .with_sampling(Sampling { temperature: 0.0, ..Sampling::default() })
    };
    let first = engine.stream(ask("Name a color."), CancelToken::new()).collect_blocking().unwrap();
    let second = engine.stream(ask("Name an animal."), CancelToken::new()).collect_blocking().unwrap();
    assert_eq!(first.usage.cached_prompt_tokens, 0);
    assert!(
        second.usage.cached_prompt_tokens * 10 >= second.usage.prompt_tokens * 8,
        "expected most of the prompt reused: {:?}",
        second.usage
    );
}

#[test]
fn json_schema_constrains_the_output() {
    let schema = r#"{"type":"object","properties":{"city":{"type":"string"},"country":{"type":"string"}},"required":["city","country"]}"#;
    let req = greedy("Where is the Eiffel Tower? Answer as JSON.", 64)
        .with_constraint(Constraint::JsonSchema(schema.to_string()));
    let done = shared().stream(req, CancelToken::new()).collect_blocking().unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&done.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", done.text));
    assert!(v["city"].is_string() && v["country"].is_string(), "{v}");
}

#[test]
fn grammar_constrains_the_output() {
    let req = greedy("Is the sky blue?", 8).with_constraint(Constraint::Grammar(r#"root ::= "yes" | "no""#.into()));
    let done = shared().stream(req, CancelToken::new()).collect_blocking().unwrap();
    assert!(done.text == "yes" || done.text == "no", "{}", done.text);
}

#[test]
fn a_broken_grammar_is_an_invalid_request() {
    let req = greedy("hi", 8).with_constraint(Constraint::Grammar("root ::= (".into()));
    let err = shared().stream(req, CancelToken::new()).collect_blocking().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

#[test]
fn tools_are_an_invalid_request_the_template_cannot_carry() {
    let tool = frugal_llm::Tool { name: "f".into(), description: String::new(), parameters: "{}".into() };
    let req = greedy("hi", 8).with_tools(vec![tool], None);
    let err = shared().stream(req, CancelToken::new()).collect_blocking().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.message().contains("cannot call tools"), "{err}");
}

#[test]
fn a_prompt_larger_than_the_context_is_refused() {
    let engine = LocalEngine::start(config(Duration::from_secs(600), 1024)).unwrap();
    let huge = "word ".repeat(3000);
    let err = engine.stream(greedy(&huge, 8), CancelToken::new()).collect_blocking().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextOverflow, "{err}");
    // The engine is still usable afterwards.
    engine.stream(greedy("hi", 2), CancelToken::new()).collect_blocking().unwrap();
}

#[test]
fn the_model_unloads_when_idle_and_memory_drops() {
    let engine = LocalEngine::start(config(Duration::from_millis(700), 2048)).unwrap();
    assert!(!engine.is_loaded(), "loaded before first use");
    let mut stream = engine.stream(greedy("Say hello.", 8), CancelToken::new());
    let mut statuses = 0;
    while let Some(e) = stream.blocking_next() {
        if let Ok(Event::Status(_)) = e {
            statuses += 1;
        }
    }
    assert_eq!(statuses, 0);
    assert!(engine.is_loaded());
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.is_loaded() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!engine.is_loaded(), "still loaded after the idle timeout");
    // Loads again on demand.
    engine.stream(greedy("Say hello.", 2), CancelToken::new()).collect_blocking().unwrap();
    assert!(engine.is_loaded());
    engine.unload();
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.is_loaded() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!engine.is_loaded());
}

#[test]
fn bench_reports_positive_rates() {
    let engine = LocalEngine::start(config(Duration::from_secs(600), 1024)).unwrap();
    let f = engine.bench(64, 8, 1).unwrap();
    assert!(f.pp_tokens_per_s > 0.0 && f.tg_tokens_per_s > 0.0, "{f:?}");
    assert!(f.load_ms > 0.0);
}

#[test]
fn bad_model_files_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let info = read_gguf(&model_path()).unwrap();
    let plan = plan(&HardwareProfile::probe(), &info, &PlanOptions::default()).unwrap();
    let start = |p: PathBuf| {
        LocalEngine::start(EngineConfig { model_path: p, plan: plan.clone(), idle_unload: Duration::from_secs(1) })
    };

    let text = dir.path().join("notes.gguf");
    std::fs::write(&text, "definitely not a model").unwrap();
    let e = start(text).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModelUnavailable);
    assert!(e.message().contains("not a GGUF"), "{e}");

    let cut = dir.path().join("cut.gguf");
    let bytes = std::fs::read(model_path()).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = start(cut).unwrap_err();
    assert!(e.message().contains("truncated"), "{e}");

    let e = start(dir.path().join("missing.gguf")).unwrap_err();
    assert!(e.message().contains("not found"), "{e}");
    assert!(!e.message().contains('\n'));
}

#[test]
fn a_stop_sequence_ends_generation_where_it_appears() {
    let full =
        shared().stream(greedy("What is the capital of France?", 48), CancelToken::new()).collect_blocking().unwrap();
    let at = full.text.find("Paris").expect("the greedy answer names Paris");
    let stopped = shared()
        .stream(greedy("What is the capital of France?", 48).with_stop(vec!["Paris".into()]), CancelToken::new())
        .collect_blocking()
        .unwrap();
    // The engine stops on the piece that completes the stop text (the caller trims it).
    assert!(stopped.text.contains("Paris") && stopped.text.len() < at + 12, "{:?}", stopped.text);
    assert_eq!(stopped.reason, frugal_llm::FinishReason::Stop);
    if full.text.len() > at + 12 {
        assert!(stopped.usage.completion_tokens < full.usage.completion_tokens);
    }
}

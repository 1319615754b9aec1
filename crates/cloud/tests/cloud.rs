//! The real client against the simulated provider over real sockets: both wire protocols,
//! the shared provider contract, and every fault.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use frugal_cloud::sim::{Fault, SimServer};
use frugal_cloud::{CloudClient, CloudConfig, Kind, Secret, Timeouts};
use frugal_llm::{CancelToken, ErrorKind, Event, FinishReason, Message, Provider, Request};

const KEY: &str = "sk-canary-7f3a9c1e5b2d4680";

fn client(server: &SimServer, kind: Kind, timeouts: Timeouts) -> CloudClient {
    let config =
        CloudConfig { name: "sim".into(), kind, base_url: server.base_url(), model: "sim-model".into(), timeouts };
    CloudClient::new(config, Some(Secret::new(KEY))).unwrap()
}

fn quick() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(3),
        idle: Duration::from_millis(800),
        max_retries: 2,
        max_retry_wait: Duration::from_secs(3),
    }
}

fn ask(c: &CloudClient) -> frugal_llm::Result<frugal_llm::Completion> {
    c.stream(
        Request::new(vec![Message::system("be brief"), Message::user("Count to 100")]).with_max_tokens(500),
        CancelToken::new(),
    )
    .collect_blocking()
}

#[test]
fn both_protocols_pass_the_provider_contract() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let server = SimServer::start(kind).unwrap();
        server.set_token_delay(Duration::from_millis(5));
        frugal_llm::contract::run_all(&client(&server, kind, quick()));
        let r = &server.requests()[0];
        match kind {
            Kind::OpenAi => {
                assert_eq!(r.path, "/v1/chat/completions");
                assert_eq!(r.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
                assert!(r.body.contains("\"include_usage\":true"), "{}", r.body);
            }
            Kind::Anthropic => {
                assert_eq!(r.path, "/v1/messages");
                assert_eq!(r.header("x-api-key"), Some(KEY));
                assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
            }
        }
    }
}

#[test]
fn usage_reports_cached_tokens() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let server = SimServer::start(kind).unwrap();
        server.set_cached_tokens(4);
        let done = ask(&client(&server, kind, quick())).unwrap();
        assert_eq!(done.usage.cached_prompt_tokens, 4, "{kind:?}");
        assert!(done.usage.prompt_tokens > 4 && done.usage.completion_tokens == 100 && !done.usage.estimated);
        assert!(done.text.starts_with("1, 2, 3"));
    }
}

#[test]
fn rate_limits_and_server_errors_are_retried_honouring_retry_after() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    server.push_fault(Fault::RateLimited { retry_after: 1 });
    server.push_fault(Fault::ServerError);
    let started = Instant::now();
    let mut statuses = Vec::new();
    let done = client(&server, Kind::OpenAi, quick())
        .stream(Request::new(vec![Message::user("Count")]), CancelToken::new())
        .collect_blocking_with(|e| {
            if let Event::Status(s) = e {
                statuses.push(s.clone());
            }
        })
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not honoured");
    assert_eq!(server.requests().len(), 3);
    assert_eq!(done.reason, FinishReason::Stop);
    assert!(statuses[0].contains("rate limiting") && statuses[0].contains("retrying in 1.0 s"), "{statuses:?}");
}

#[test]
fn persistent_failures_give_one_line_errors() {
    let cases = [
        (Fault::ServerError, ErrorKind::Server, "HTTP 500", 3),
        (Fault::RateLimited { retry_after: 60 }, ErrorKind::RateLimited, "not waiting", 1),
        (Fault::Unauthorized, ErrorKind::Auth, "rejected the API key", 1),
    ];
    for (fault, kind, words, tries) in cases {
        let server = SimServer::start(Kind::Anthropic).unwrap();
        server.set_fault(Some(fault.clone()));
        let err = ask(&client(&server, Kind::Anthropic, quick())).unwrap_err();
        assert_eq!(err.kind(), kind, "{fault:?}: {err}");
        assert!(err.message().contains(words), "{fault:?}: {err}");
        assert!(!err.message().contains('\n') && !err.message().contains(KEY) && !err.message().contains("sk-canary"));
        assert!(!err.is_billable(), "nothing was accepted, nothing to bill");
        assert_eq!(server.requests().len(), tries, "{fault:?}");
    }
}

#[test]
fn broken_streams_are_billable_errors() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        for (fault, expect) in [(Fault::Malformed, "malformed"), (Fault::CutHalfway, "cut off")] {
            let server = SimServer::start(kind).unwrap();
            server.set_fault(Some(fault.clone()));
            let mut text = String::new();
            let err = client(&server, kind, quick())
                .stream(Request::new(vec![Message::user("Count")]), CancelToken::new())
                .collect_blocking_with(|e| {
                    if let Event::Text(t) = e {
                        text.push_str(t);
                    }
                })
                .unwrap_err();
            assert!(err.message().contains(expect), "{kind:?} {fault:?}: {err}");
            assert!(err.is_billable(), "{kind:?} {fault:?}: accepted, so the provider may bill");
            assert!(!text.is_empty(), "{kind:?} {fault:?}: part of the answer streamed first");
            assert_eq!(server.requests().len(), 1, "no retry once text has streamed");
        }
    }
}

#[test]
fn a_missing_usage_block_is_estimated_not_zero() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let server = SimServer::start(kind).unwrap();
        server.set_fault(Some(Fault::NoUsage));
        let done = ask(&client(&server, kind, quick())).unwrap();
        assert!(done.usage.estimated, "{kind:?}");
        assert!(done.usage.completion_tokens >= 100 && done.usage.prompt_tokens > 0, "{:?}", done.usage);
        assert!(done.statuses.iter().any(|s| s.contains("no token usage")));
    }
}

#[test]
fn hung_and_slow_servers_time_out_and_cancel_promptly() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    server.set_fault(Some(Fault::Hang));
    let started = Instant::now();
    let err = ask(&client(&server, Kind::OpenAi, quick())).unwrap_err();
    assert!(err.message().contains("stalled"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    // Slow but alive: each token inside the idle limit → the whole answer arrives.
    server.set_fault(Some(Fault::Slow(Duration::from_millis(30))));
    let c = client(&server, Kind::OpenAi, quick());
    let done = c
        .stream(Request::new(vec![Message::user("Count")]).with_max_tokens(20), CancelToken::new())
        .collect_blocking()
        .unwrap();
    assert_eq!(done.usage.completion_tokens, 20);

    // Cancelling a hung request returns within a moment, with Cancelled.
    server.set_fault(Some(Fault::Hang));
    let cancel = CancelToken::new();
    let stream = c.stream(Request::new(vec![Message::user("Count")]), cancel.clone());
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    cancel.cancel();
    let done = stream.collect_blocking().unwrap();
    assert_eq!(done.reason, FinishReason::Cancelled);
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[test]
fn nothing_listening_is_a_network_error() {
    let config = CloudConfig {
        name: "down".into(),
        kind: Kind::OpenAi,
        base_url: "http://127.0.0.1:9/v1".into(),
        model: "m".into(),
        timeouts: Timeouts { max_retries: 0, ..quick() },
    };
    let err = ask(&CloudClient::new(config, None).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.message().starts_with("down: cannot connect"), "{err}");
}

#[test]
fn outbound_preview_masks_the_key() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    let c = client(&server, Kind::OpenAi, quick());
    let o = c.outbound(&Request::new(vec![Message::user("hello")]));
    let shown = serde_json::to_string(&o).unwrap();
    assert!(!shown.contains(KEY) && shown.contains("Bearer ***") && shown.contains("hello"), "{shown}");
    assert!(format!("{c:?}").contains("Secret(***)") && !format!("{c:?}").contains(KEY));
}

#[test]
fn tool_calls_stream_back_whole_in_both_protocols_and_results_go_out() {
    use frugal_llm::{Tool, ToolChoice};
    let tool = Tool {
        name: "lookup".into(),
        description: "Looks a word up".into(),
        parameters: r#"{"type":"object","properties":{"word":{"type":"string"},"n":{"type":"integer"}}}"#.into(),
    };
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let server = SimServer::start(kind).unwrap();
        let c = client(&server, kind, quick());
        let ask = Request::new(vec![Message::user("Define frugal")])
            .with_tools(vec![tool.clone()], Some(ToolChoice::Named("lookup".into())));
        let done = c.stream(ask, CancelToken::new()).collect_blocking().unwrap();
        assert_eq!(done.reason, FinishReason::ToolCalls, "{kind:?}");
        assert_eq!(done.tool_calls.len(), 1, "{kind:?}");
        let call = &done.tool_calls[0];
        assert_eq!(call.name, "lookup");
        let args: serde_json::Value = serde_json::from_str(&call.arguments).unwrap();
        assert_eq!(args, serde_json::json!({ "word": "sim", "n": 1 }), "{kind:?}: the two pieces were joined");
        assert!(done.usage.completion_tokens > 0 && !done.usage.estimated);

        // The call and its result go back out; the model answers in text.
        let follow = Request::new(vec![
            Message::user("Define frugal"),
            Message::assistant_calls("", done.tool_calls.clone()),
            Message::tool_result(call.id.clone(), "sparing with money"),
        ])
        .with_tools(vec![tool.clone()], None)
        .with_max_tokens(500);
        let done = c.stream(follow, CancelToken::new()).collect_blocking().unwrap();
        assert_eq!((done.reason, done.tool_calls.len()), (FinishReason::Stop, 0), "{kind:?}");
        assert!(!done.text.is_empty());
        let sent: serde_json::Value = serde_json::from_str(&server.requests()[1].body).unwrap();
        let result = match kind {
            Kind::OpenAi => sent["messages"][2]["tool_call_id"].clone(),
            Kind::Anthropic => sent["messages"][2]["content"][0]["tool_use_id"].clone(),
        };
        assert_eq!(result, serde_json::json!(call.id), "{kind:?}: {sent}");
    }
}

//! One contract every [`Provider`] must honour, run against every implementation
//! (the fake here, the llama.cpp engine in `frugal-local`, the cloud clients later).
//!
//! Call [`run_all`] from a test of the implementation. The provider must be able to write
//! at least 40 tokens in answer to "Count from 1 to 100" so that cancellation and
//! `max_tokens` can be observed mid-answer.

use std::time::{Duration, Instant};

use crate::{CancelToken, ErrorKind, Event, FinishReason, Message, Provider, Request, Sampling};

fn counting_request(max_tokens: u32) -> Request {
    Request::new(vec![Message::user("Count from 1 to 100, separated by commas.")])
        .with_max_tokens(max_tokens)
        .with_sampling(Sampling { temperature: 0.0, seed: Some(7), ..Sampling::default() })
}

/// Runs every check, panicking (this is test support) on the first violation.
pub fn run_all(provider: &dyn Provider) {
    streams_text_then_usage_then_done(provider);
    respects_max_tokens(provider);
    cancel_before_start_ends_cancelled(provider);
    cancel_midway_stops_promptly(provider);
    empty_request_is_invalid(provider);
    dropped_stream_does_not_wedge_the_provider(provider);
}

/// Text events come first, then exactly one `Usage`, then exactly one `Done`, then nothing.
pub fn streams_text_then_usage_then_done(provider: &dyn Provider) {
    let mut stream = provider.stream(counting_request(16), CancelToken::new());
    let mut seen_text = String::new();
    let mut usage = None;
    let mut done = None;
    while let Some(item) = stream.blocking_next() {
        let event = item.unwrap_or_else(|e| panic!("{}: unexpected error: {e}", provider.name()));
        assert!(done.is_none(), "{}: event after Done: {event:?}", provider.name());
        match event {
            Event::Text(t) => {
                assert!(usage.is_none(), "{}: text after Usage", provider.name());
                seen_text.push_str(&t);
            }
            Event::Status(_) | Event::Queued { .. } | Event::ToolCall(_) => {}
            Event::Usage(u) => {
                assert!(usage.is_none(), "{}: two Usage events", provider.name());
                usage = Some(u);
            }
            Event::Done { reason } => {
                assert!(usage.is_some(), "{}: Done before Usage", provider.name());
                done = Some(reason);
            }
        }
    }
    let usage = usage.unwrap_or_else(|| panic!("{}: no Usage", provider.name()));
    assert!(done.is_some(), "{}: no Done", provider.name());
    assert!(!seen_text.trim().is_empty(), "{}: no text", provider.name());
    assert!(usage.prompt_tokens > 0, "{}: prompt_tokens is 0", provider.name());
    assert!(usage.completion_tokens > 0, "{}: completion_tokens is 0", provider.name());
    assert!(usage.cached_prompt_tokens <= usage.prompt_tokens, "{}: cached > prompt", provider.name());
}

/// A small `max_tokens` ends the answer with `Length` and no more tokens than asked.
pub fn respects_max_tokens(provider: &dyn Provider) {
    let done = provider
        .stream(counting_request(5), CancelToken::new())
        .collect_blocking()
        .unwrap_or_else(|e| panic!("{}: {e}", provider.name()));
    assert!(done.usage.completion_tokens <= 5, "{}: {} tokens > 5", provider.name(), done.usage.completion_tokens);
    assert_eq!(done.reason, FinishReason::Length, "{}: expected Length", provider.name());
}

/// A request cancelled before it starts still ends properly, with `Cancelled`.
pub fn cancel_before_start_ends_cancelled(provider: &dyn Provider) {
    let cancel = CancelToken::new();
    cancel.cancel();
    let done = provider
        .stream(counting_request(64), cancel)
        .collect_blocking()
        .unwrap_or_else(|e| panic!("{}: {e}", provider.name()));
    assert_eq!(done.reason, FinishReason::Cancelled, "{}", provider.name());
    assert_eq!(done.usage.completion_tokens, 0, "{}: generated after cancel", provider.name());
}

/// Cancelling after the first text stops the stream within a few tokens and within 5 s.
pub fn cancel_midway_stops_promptly(provider: &dyn Provider) {
    let cancel = CancelToken::new();
    let mut stream = provider.stream(counting_request(200), cancel.clone());
    let mut cancelled_at = None;
    let mut reason = None;
    let mut usage = None;
    while let Some(item) = stream.blocking_next() {
        match item.unwrap_or_else(|e| panic!("{}: {e}", provider.name())) {
            Event::Text(_) if cancelled_at.is_none() => {
                cancel.cancel();
                cancelled_at = Some(Instant::now());
            }
            Event::Usage(u) => usage = Some(u),
            Event::Done { reason: r } => reason = Some(r),
            _ => {}
        }
    }
    let at = cancelled_at.unwrap_or_else(|| panic!("{}: no text before the end", provider.name()));
    assert!(at.elapsed() < Duration::from_secs(5), "{}: cancel took too long", provider.name());
    assert_eq!(reason, Some(FinishReason::Cancelled), "{}", provider.name());
    let usage = usage.unwrap_or_else(|| panic!("{}: no usage after cancel", provider.name()));
    assert!(usage.completion_tokens < 200, "{}: ran to the end despite cancel", provider.name());
}

/// A request without messages is refused with `InvalidRequest`, inside the stream.
pub fn empty_request_is_invalid(provider: &dyn Provider) {
    let err = provider
        .stream(Request::new(Vec::new()), CancelToken::new())
        .collect_blocking()
        .expect_err("an empty request must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{}: {err}", provider.name());
    assert!(!err.message().contains('\n'));
}

/// Dropping a stream half-way must not block the provider: the next request still works.
pub fn dropped_stream_does_not_wedge_the_provider(provider: &dyn Provider) {
    let mut stream = provider.stream(counting_request(200), CancelToken::new());
    let _ = stream.blocking_next();
    drop(stream);
    let done = provider
        .stream(counting_request(3), CancelToken::new())
        .collect_blocking()
        .unwrap_or_else(|e| panic!("{}: after a dropped stream: {e}", provider.name()));
    assert!(done.usage.completion_tokens <= 3);
}

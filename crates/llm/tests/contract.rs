//! The provider contract, run against the fake provider.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use frugal_llm::fake::FakeProvider;
use frugal_llm::{contract, CancelToken, ErrorKind, Message, Provider, ProviderError, Request};

fn counting() -> FakeProvider {
    let reply: Vec<String> = (1..=100).map(|n| n.to_string()).collect();
    FakeProvider::new("fake").with_reply(reply.join(", ")).with_delay(Duration::from_millis(2))
}

#[test]
fn fake_provider_honours_the_contract() {
    contract::run_all(&counting());
}

#[test]
fn failing_provider_reports_one_line_error() {
    let p = FakeProvider::new("fake").failing(ProviderError::new(ErrorKind::Server, "boom\nsecond line"));
    let err = p.stream(Request::new(vec![Message::user("hi")]), CancelToken::new()).collect_blocking().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.message(), "boom second line");
}

#[test]
fn invalid_sampling_is_refused() {
    let mut r = Request::new(vec![Message::user("hi")]);
    r.sampling.temperature = f32::NAN;
    assert_eq!(r.validate().unwrap_err().kind(), ErrorKind::InvalidRequest);
    r.sampling.temperature = 0.5;
    r.sampling.top_p = 0.0;
    assert_eq!(r.validate().unwrap_err().kind(), ErrorKind::InvalidRequest);
}

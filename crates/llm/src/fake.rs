//! A scripted provider for unit tests of the code above the boundary.

use std::time::Duration;

use crate::{channel, CancelToken, Event, EventStream, FinishReason, Provider, ProviderError, Request, Usage};

/// Replies with a fixed text, one word per event, honouring `max_tokens` (a word counts as
/// a token) and cancellation. Can be told to fail instead.
#[derive(Clone, Debug)]
pub struct FakeProvider {
    name: String,
    reply: String,
    delay: Duration,
    failure: Option<ProviderError>,
}

impl FakeProvider {
    /// A provider that answers "ok".
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), reply: "ok".into(), delay: Duration::ZERO, failure: None }
    }

    /// Sets the scripted answer.
    pub fn with_reply(mut self, reply: impl Into<String>) -> Self {
        self.reply = reply.into();
        self
    }

    /// Waits this long between words (to test cancellation and streaming UIs).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Fails every request with this error.
    pub fn failing(mut self, error: ProviderError) -> Self {
        self.failure = Some(error);
        self
    }
}

impl Provider for FakeProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn stream(&self, request: Request, cancel: CancelToken) -> EventStream {
        if let Err(e) = request.validate() {
            return EventStream::failed(e);
        }
        if let Some(e) = &self.failure {
            return EventStream::failed(e.clone());
        }
        let (tx, rx) = channel();
        let reply = self.reply.clone();
        let delay = self.delay;
        std::thread::spawn(move || {
            let prompt_tokens: usize = request.messages.iter().map(|m| m.content.split_whitespace().count()).sum();
            let words: Vec<&str> = reply.split_inclusive(' ').collect();
            let mut produced = 0u32;
            let mut reason = FinishReason::Stop;
            for word in words {
                if cancel.is_cancelled() {
                    reason = FinishReason::Cancelled;
                    break;
                }
                if produced == request.max_tokens {
                    reason = FinishReason::Length;
                    break;
                }
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                if !tx.send(Event::Text(word.to_string())) {
                    return;
                }
                produced += 1;
            }
            if cancel.is_cancelled() {
                reason = FinishReason::Cancelled;
            }
            let usage = Usage {
                prompt_tokens: u32::try_from(prompt_tokens).unwrap_or(u32::MAX),
                completion_tokens: produced,
                ..Usage::default()
            };
            tx.send(Event::Usage(usage));
            tx.send(Event::Done { reason });
        });
        rx
    }
}

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{ErrorKind, ProviderError};

/// Token counts of one request, as the engine measured them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt (including cached ones).
    pub prompt_tokens: u32,
    /// Prompt tokens served from a cache (KV reuse locally, prompt caching in the cloud).
    pub cached_prompt_tokens: u32,
    /// Prompt tokens written to a provider's prompt cache (billed at their own price).
    #[serde(default)]
    pub cache_write_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Of the generated tokens, those spent on hidden reasoning.
    pub reasoning_tokens: u32,
    /// The engine did not report counts (a provider that sent no usage block); these are
    /// upper-bound estimates, and whoever turns usage into money should not trust them.
    #[serde(default)]
    pub estimated: bool,
}

/// Why a stream finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its answer.
    Stop,
    /// `max_tokens` or the context was reached.
    Length,
    /// The caller cancelled.
    Cancelled,
    /// The model called tools and waits for their results.
    ToolCalls,
}

/// One item of a provider's stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A piece of the answer (always valid UTF-8, possibly several tokens).
    Text(String),
    /// Something the user may want to know that is not part of the answer
    /// ("loading model…", "out of memory, retried with a 2048-token context").
    Status(String),
    /// A local engine with one worker took the request after it waited this long behind the
    /// ones ahead of it (sent first, by engines that queue).
    Queued {
        /// Milliseconds in the queue.
        waited_ms: u64,
    },
    /// A tool call, whole (engines gather a streamed call's arguments before sending it),
    /// after the answer's text.
    ToolCall(crate::ToolCall),
    /// Final token counts; sent exactly once, right before `Done`.
    Usage(Usage),
    /// The end of the stream.
    Done {
        /// Why it ended.
        reason: FinishReason,
    },
}

/// The producer half of a stream, held by the engine.
#[derive(Clone, Debug)]
pub struct EventSender(mpsc::UnboundedSender<crate::Result<Event>>);

impl EventSender {
    /// Sends an event; returns false once the consumer has gone away (so the engine can stop).
    pub fn send(&self, event: Event) -> bool {
        self.0.send(Ok(event)).is_ok()
    }

    /// Forwards an item from another stream (a wrapper passing events through); false once
    /// the consumer has gone away.
    pub fn send_item(&self, item: crate::Result<Event>) -> bool {
        self.0.send(item).is_ok()
    }

    /// Sends the terminal error.
    pub fn fail(&self, error: ProviderError) {
        let _ = self.0.send(Err(error));
    }

    /// Whether the consumer dropped its stream.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// The consumer half: usable from async code (`next`) and from plain threads (`blocking_next`).
#[derive(Debug)]
pub struct EventStream(mpsc::UnboundedReceiver<crate::Result<Event>>);

/// A new connected sender/stream pair. Unbounded because events are small and the producer
/// (a decode loop) must never block on a slow UI.
pub fn channel() -> (EventSender, EventStream) {
    let (tx, rx) = mpsc::unbounded_channel();
    (EventSender(tx), EventStream(rx))
}

impl EventStream {
    /// A stream that yields one error and ends.
    pub fn failed(error: ProviderError) -> Self {
        let (tx, rx) = channel();
        tx.fail(error);
        rx
    }

    /// Next item, awaiting it.
    pub async fn next(&mut self) -> Option<crate::Result<Event>> {
        self.0.recv().await
    }

    /// Next item, blocking the current thread. Must not be called inside an async runtime.
    pub fn blocking_next(&mut self) -> Option<crate::Result<Event>> {
        self.0.blocking_recv()
    }

    /// Drains the stream, calling `on_text` for each piece of text, and returns the whole.
    pub fn collect_blocking_with(mut self, mut on_event: impl FnMut(&Event)) -> crate::Result<Completion> {
        let mut text = String::new();
        let mut usage = None;
        let mut statuses = Vec::new();
        let mut tool_calls = Vec::new();
        while let Some(item) = self.blocking_next() {
            let event = item?;
            on_event(&event);
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::Status(s) => statuses.push(s),
                Event::Queued { .. } => {}
                Event::ToolCall(c) => tool_calls.push(c),
                Event::Usage(u) => usage = Some(u),
                Event::Done { reason } => {
                    let usage = usage.ok_or_else(|| {
                        ProviderError::new(ErrorKind::Protocol, "the stream ended without a usage report")
                    })?;
                    return Ok(Completion { text, usage, reason, statuses, tool_calls });
                }
            }
        }
        Err(ProviderError::new(ErrorKind::EngineStopped, "the stream ended before the answer was complete"))
    }

    /// Drains the stream and returns the whole answer.
    pub fn collect_blocking(self) -> crate::Result<Completion> {
        self.collect_blocking_with(|_| {})
    }
}

/// A whole answer, gathered from a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// All text events joined.
    pub text: String,
    /// The usage report.
    pub usage: Usage,
    /// Why it finished.
    pub reason: FinishReason,
    /// Status notes seen on the way.
    pub statuses: Vec<String>,
    /// The tools the model called, in order.
    pub tool_calls: Vec<crate::ToolCall>,
}

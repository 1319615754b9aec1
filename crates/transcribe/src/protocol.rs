//! The small protocol between Frugal and its speech-to-text helper, `frugal-whisper`.
//!
//! whisper.cpp carries its own copy of ggml, which collides with llama.cpp's when both are
//! linked into one binary, so speech recognition runs in a helper process. The protocol is
//! deliberately plain: Frugal writes a JSON header line and then the window's samples (f32,
//! little-endian, 16 kHz mono) to the helper's stdin; the helper answers with JSON lines on
//! stdout. Closing stdin ends the helper; killing it cancels the work in flight.

use serde::{Deserialize, Serialize};

/// The sample rate every window is sent at.
pub const SAMPLE_RATE: u32 = 16_000;

/// Header of one window of audio; `samples` f32 values follow it on stdin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WindowHeader {
    /// How many samples follow.
    pub samples: usize,
    /// Where the window starts in the recording, so segment times are absolute.
    pub offset_ms: u64,
}

/// One recognised stretch of speech.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    /// whisper's probability that the stretch held no speech at all.
    #[serde(default)]
    pub no_speech: f32,
}

/// One line the helper writes on stdout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The model is loaded; the helper reads windows from now on.
    Ready { model: String, threads: usize, engine: String },
    /// A segment of the current window, in order.
    Segment(Segment),
    /// How far into the current window recognition is, in percent.
    Progress(u8),
    /// The current window is finished.
    Done { samples: usize },
    /// One line saying what went wrong; after `Ready`, the helper goes on with the next window.
    Error(String),
}

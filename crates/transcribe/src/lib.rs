//! Meetings from sound: a recording in, a WebVTT transcript out, all on the machine.
//!
//! The pipeline streams: [`audio::Source`] decodes a piece at a time and resamples it to
//! 16 kHz mono, [`window::Windower`] gathers just under 30 s and cuts it in a pause, and
//! [`engine::Recognizer`] sends each window to `frugal-whisper` (whisper.cpp in its own
//! process, see [`protocol`]). Memory stays at one window whatever the recording's length,
//! and a helper that crashes costs one window (said in the notes), not the transcript.

pub mod audio;
pub mod engine;
pub mod protocol;
pub mod record;
pub mod resample;
pub mod vtt;
pub mod wav;
pub mod window;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub use vtt::Cue;

/// File extensions `transcribe`, `summarize` and the Meetings folder treat as recordings.
pub const AUDIO_EXTENSIONS: &[&str] =
    &["wav", "mp3", "m4a", "aac", "mp4", "ogg", "oga", "opus", "flac", "webm", "mka", "mkv", "caf", "aif", "aiff"];

/// Whether `path` looks like a recording (by its extension).
pub fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Everything that can stop a transcription, each one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{} is empty (0 bytes)", .0.display())]
    EmptyFile(PathBuf),
    #[error("{} is not audio Frugal can read (WAV, MP3, M4A/AAC, OGG, FLAC, WebM; others with ffmpeg installed)", .0.display())]
    NotAudio(PathBuf),
    #[error("{} has no audio track", .0.display())]
    NoAudioTrack(PathBuf),
    #[error("{} is damaged: {why}", path.display())]
    Damaged { path: PathBuf, why: String },
    #[error("{}: its audio is {codec}, which Frugal decodes only through ffmpeg; install ffmpeg and try again", path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("speech model: {0}")]
    Model(String),
    #[error("{0}")]
    Helper(String),
    #[error("{0}")]
    Record(String),
    #[error("cancelled")]
    Cancelled,
}

/// How to transcribe.
#[derive(Debug, Clone)]
pub struct Options {
    /// The whisper.cpp model file.
    pub model: PathBuf,
    /// The `frugal-whisper` binary.
    pub helper: PathBuf,
    /// Spoken language (`en` for the English-only models).
    pub language: String,
    pub threads: usize,
    /// Seconds per window sent to the recogniser.
    pub window_secs: u32,
    /// Names for the left and right channel when they hold different people (a Frugal
    /// recording: microphone left, the system's sound right); `None` to not tell speakers apart.
    pub channel_speakers: Option<[String; 2]>,
}

/// Where a transcription is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Audio recognised so far.
    pub done_ms: u64,
    /// The recording's length, when its header says.
    pub total_ms: Option<u64>,
}

/// The result.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Transcript {
    pub cues: Vec<Cue>,
    pub duration_ms: u64,
    /// What the user should know: a damaged tail, a window lost to a crash, no speech found.
    pub notes: Vec<String>,
    /// What recognised it ("whisper.cpp 1.8.3, ggml-tiny.en.bin").
    pub engine: String,
}

impl Transcript {
    /// The WebVTT file, with a note saying where it came from.
    pub fn to_vtt(&self, source: &Path) -> String {
        let name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        vtt::render(&self.cues, &format!("Transcribed by Frugal from {name} ({})", self.engine))
    }

    /// The words alone, for word error rates and quick looks.
    pub fn text(&self) -> String {
        self.cues.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ")
    }
}

/// Text whisper writes for sound that is not speech ("[BLANK_AUDIO]", "(music)", "*laughs*").
fn is_non_speech(text: &str) -> bool {
    let t = text.trim();
    t.is_empty()
        || (t.starts_with('[') && t.ends_with(']'))
        || (t.starts_with('(') && t.ends_with(')'))
        || (t.starts_with('*') && t.ends_with('*'))
}

/// Who spoke in `start..end`: the louder channel, if it is clearly louder.
fn speaker_by_channel(energies: &[[f32; 2]], start_ms: u64, end_ms: u64, names: &[String; 2]) -> Option<String> {
    let first = (start_ms / audio::ENERGY_BLOCK_MS) as usize;
    let last = (end_ms.div_ceil(audio::ENERGY_BLOCK_MS) as usize).min(energies.len());
    if first >= last {
        return None;
    }
    let (l, r) =
        energies[first..last].iter().fold((0f64, 0f64), |(l, r), e| (l + f64::from(e[0]), r + f64::from(e[1])));
    if l > 2.0 * r {
        Some(names[0].clone())
    } else if r > 2.0 * l {
        Some(names[1].clone())
    } else {
        None
    }
}

/// Transcribes the recording at `path`.
pub fn transcribe_file(
    path: &Path,
    opts: &Options,
    on_progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<Transcript, Error> {
    let mut source = audio::Source::open(path)?;
    if opts.channel_speakers.is_some() && source.channels != 2 {
        let n = source.channels;
        source.notes.push(format!(
            "speakers are told apart by channel, and this audio has {n} channel{}, not two",
            if n == 1 { "" } else { "s" }
        ));
    }
    let mut pipeline = Pipeline::start(opts, source.duration_ms)?;
    let mut piece = Vec::new();
    let mut more = true;
    while more {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        piece.clear();
        more = source.next_into(&mut piece)?;
        let energies = std::mem::take(&mut source.energies);
        pipeline.feed(&piece, &energies, on_progress, cancel)?;
    }
    let notes = std::mem::take(&mut source.notes);
    pipeline.finish(notes, on_progress, cancel)
}

/// Samples in, transcript out: the windowing and recognition shared by files and live
/// recordings.
#[derive(Debug)]
pub struct Pipeline {
    opts: Options,
    recognizer: engine::Recognizer,
    windower: window::Windower,
    transcript: Transcript,
    /// Per-channel loudness from the start, for telling the two speakers apart.
    energies: Vec<[f32; 2]>,
    samples: u64,
    total_ms: Option<u64>,
}

impl Pipeline {
    /// Starts the helper with the model loaded; `total_ms` is for progress, when known.
    pub fn start(opts: &Options, total_ms: Option<u64>) -> Result<Pipeline, Error> {
        if !opts.model.is_file() {
            return Err(Error::Model(format!(
                "no speech model at {}: run setup, or set [transcribe] model",
                opts.model.display()
            )));
        }
        let recognizer = engine::Recognizer::start(&opts.helper, &opts.model, &opts.language, opts.threads)?;
        let model_name = opts.model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let transcript = Transcript { engine: format!("{}, {model_name}", recognizer.engine), ..Transcript::default() };
        Ok(Pipeline {
            opts: opts.clone(),
            recognizer,
            windower: window::Windower::new(opts.window_secs, (opts.window_secs / 6).clamp(1, 10)),
            transcript,
            energies: Vec::new(),
            samples: 0,
            total_ms,
        })
    }

    /// Adds 16 kHz mono samples (and the per-channel loudness blocks that came with them);
    /// recognises each window as it fills.
    pub fn feed(
        &mut self,
        samples: &[f32],
        energies: &[[f32; 2]],
        on_progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<(), Error> {
        self.energies.extend_from_slice(energies);
        self.samples += samples.len() as u64;
        let mut next = self.windower.push(samples);
        while let Some(w) = next {
            self.recognize(&w, on_progress, cancel)?;
            next = self.windower.push(&[]);
        }
        Ok(())
    }

    /// The cues so far (a live recording shows them while it goes).
    pub fn cues(&self) -> &[Cue] {
        &self.transcript.cues
    }

    /// Recognises what is left and returns the transcript; `notes` come first in it.
    pub fn finish(
        mut self,
        notes: Vec<String>,
        on_progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<Transcript, Error> {
        if let Some(w) = self.windower.finish() {
            self.recognize(&w, on_progress, cancel)?;
        }
        let mut transcript = std::mem::take(&mut self.transcript);
        transcript.duration_ms = self.samples * 1000 / u64::from(protocol::SAMPLE_RATE);
        transcript.notes.splice(0..0, notes);
        if transcript.cues.is_empty() {
            transcript.notes.push(format!("no speech found in {} of audio", audio::clock(transcript.duration_ms)));
        }
        on_progress(Progress { done_ms: transcript.duration_ms, total_ms: Some(transcript.duration_ms) });
        Ok(transcript)
    }

    /// One window through the helper; a helper that dies costs this window, not the rest.
    fn recognize(
        &mut self,
        w: &window::Window,
        on_progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<(), Error> {
        let span_ms = w.samples.len() as u64 * 1000 / u64::from(protocol::SAMPLE_RATE);
        let offset = w.offset_ms();
        let total_ms = self.total_ms;
        let result = self.recognizer.window(
            w,
            &mut |p| on_progress(Progress { done_ms: offset + span_ms * u64::from(p) / 100, total_ms }),
            cancel,
        );
        let (segments, errors) = match result {
            Ok(r) => r,
            Err(Error::Helper(e)) => {
                self.transcript.notes.push(format!(
                    "could not transcribe {}–{} ({e}); the rest is transcribed",
                    audio::clock(offset),
                    audio::clock(offset + span_ms)
                ));
                self.recognizer = engine::Recognizer::start(
                    &self.opts.helper,
                    &self.opts.model,
                    &self.opts.language,
                    self.opts.threads,
                )?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        self.transcript.notes.extend(errors);
        for s in segments {
            if is_non_speech(&s.text) || s.no_speech > 0.9 {
                continue;
            }
            let speaker = self
                .opts
                .channel_speakers
                .as_ref()
                .and_then(|names| speaker_by_channel(&self.energies, s.start_ms, s.end_ms, names));
            self.transcript.cues.push(Cue {
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                speaker,
                text: s.text.trim().to_string(),
            });
        }
        on_progress(Progress { done_ms: offset + span_ms, total_ms });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_speech_markers_are_dropped_and_words_kept() {
        for t in ["[BLANK_AUDIO]", " (music) ", "*laughs*", ""] {
            assert!(is_non_speech(t), "{t:?}");
        }
        assert!(!is_non_speech("Book the venue (by Friday)."));
    }

    #[test]
    fn the_louder_channel_names_the_speaker() {
        let names = ["Me".to_string(), "Others".to_string()];
        let e = vec![[1.0, 0.01]; 10]
            .into_iter()
            .chain(vec![[0.01, 1.0]; 10])
            .chain(vec![[1.0, 1.0]; 10])
            .collect::<Vec<_>>();
        assert_eq!(speaker_by_channel(&e, 0, 1000, &names).as_deref(), Some("Me"));
        assert_eq!(speaker_by_channel(&e, 1000, 2000, &names).as_deref(), Some("Others"));
        assert_eq!(speaker_by_channel(&e, 2000, 3000, &names), None);
        assert_eq!(speaker_by_channel(&e, 5000, 6000, &names), None);
    }
}

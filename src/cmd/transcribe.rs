//! `frugal transcribe` and `frugal record`: recordings into WebVTT on this machine.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use frugal_core::speech::Asked;
use frugal_core::transcribe::audio::clock;
use frugal_core::transcribe::Transcript;
use frugal_core::Assistant;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct TranscribeArgs {
    /// The recording: WAV, MP3, M4A/AAC, OGG, FLAC, WebM (Opus and others through ffmpeg).
    file: PathBuf,
    /// Where to write the WebVTT (default: beside the recording, as NAME.vtt).
    #[arg(long, short = 'o', value_name = "FILE.vtt")]
    out: Option<PathBuf>,
    /// Spoken language code (default from [transcribe] language, else en).
    #[arg(long)]
    language: Option<String>,
    /// A two-channel call recording with one person per channel: their names, left first
    /// ("Me,Client"). Frugal's own recordings are told apart without it.
    #[arg(long, value_name = "LEFT,RIGHT")]
    speakers: Option<String>,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Folder for the recording (default: the Meetings folder, else the current one).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Stop after this many seconds (default: when you press Enter or Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    seconds: Option<u64>,
    /// Only record; transcribe later with `frugal transcribe`.
    #[arg(long)]
    no_transcribe: bool,
    /// The microphone, by sound-server source name (default: the default source).
    #[arg(long, value_name = "SOURCE")]
    microphone: Option<String>,
    /// The other side of calls, by source name (default: the default output's monitor).
    #[arg(long, value_name = "SOURCE")]
    system: Option<String>,
}

/// A cancel flag set by Ctrl-C.
fn ctrl_c_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let cancel = Arc::new(AtomicBool::new(false));
    let handler = cancel.clone();
    ctrlc::set_handler(move || handler.store(true, Ordering::Relaxed)).context("cannot install the Ctrl-C handler")?;
    Ok(cancel)
}

/// Transcribes `file` with a progress bar; `None` when cancelled (said to the user).
pub fn transcribe_with_bar(
    assistant: &Assistant,
    file: &Path,
    out: Option<&Path>,
    asked: &Asked,
    cancel: &AtomicBool,
) -> anyhow::Result<Option<(PathBuf, Transcript)>> {
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(100) } else { ProgressBar::hidden() };
    let style = ProgressStyle::with_template("{spinner} transcribing [{bar:24}] {msg} · {elapsed}, about {eta} left")
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    let result = assistant.transcribe(
        file,
        out,
        asked,
        &mut |p| {
            if let Some(total) = p.total_ms.filter(|t| *t > 0) {
                bar.set_length(total);
                bar.set_position(p.done_ms.min(total));
                bar.set_message(format!("{} of {}", clock(p.done_ms), clock(total)));
            } else {
                bar.set_message(clock(p.done_ms));
            }
        },
        cancel,
    );
    bar.finish_and_clear();
    match result {
        Ok(r) => Ok(Some(r)),
        Err(frugal_core::CoreError::Speech(frugal_core::transcribe::Error::Cancelled)) => {
            eprintln!("frugal: cancelled; no transcript written");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn report(out: &Path, transcript: &Transcript) {
    for n in &transcript.notes {
        eprintln!("frugal: note: {n}");
    }
    eprintln!(
        "frugal: transcript written to {} ({} cues, {} of audio, {})",
        out.display(),
        transcript.cues.len(),
        clock(transcript.duration_ms),
        transcript.engine
    );
}

pub fn run(g: &super::Globals, args: TranscribeArgs) -> anyhow::Result<ExitCode> {
    if let Some(l) = &args.language {
        if l.len() < 2 || l.len() > 8 || !l.chars().all(|c| c.is_ascii_alphabetic()) {
            anyhow::bail!("--language takes a language code such as en or de, not {l:?}");
        }
    }
    let speakers = match args.speakers.as_deref().map(|s| s.split(',').map(str::trim).collect::<Vec<_>>()) {
        None => None,
        Some(names) if names.len() == 2 && names.iter().all(|n| !n.is_empty() && !n.contains(['<', '>'])) => {
            Some([names[0].to_string(), names[1].to_string()])
        }
        Some(_) => anyhow::bail!("--speakers takes two names, left channel first: --speakers \"Me,Client\""),
    };
    let assistant = g.open()?;
    let cancel = ctrl_c_flag()?;
    let asked = Asked { language: args.language.clone(), channel_speakers: speakers };
    let Some((out, transcript)) = transcribe_with_bar(&assistant, &args.file, args.out.as_deref(), &asked, &cancel)?
    else {
        return Ok(ExitCode::from(super::CANCELLED));
    };
    if g.json {
        let value = serde_json::json!({ "file": out, "duration_ms": transcript.duration_ms, "engine": transcript.engine,
            "notes": transcript.notes, "cues": transcript.cues });
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    report(&out, &transcript);
    Ok(ExitCode::SUCCESS)
}

pub fn record(g: &super::Globals, args: RecordArgs) -> anyhow::Result<ExitCode> {
    let assistant = g.open()?;
    let stop = ctrl_c_flag()?;
    let recording = assistant.start_recording(
        args.dir.as_deref(),
        !args.no_transcribe,
        [args.microphone.clone(), args.system.clone()],
    )?;
    eprintln!("frugal: recording to {}", recording.path().display());
    // Notes (no microphone, a device gone, a full disk) are said as they happen.
    let mut said = 0;
    let mut say_notes = |recording: &frugal_core::transcribe::record::Recording, bar: &ProgressBar| {
        let notes = recording.notes();
        for n in notes.iter().skip(said) {
            bar.suspend(|| eprintln!("frugal: note: {n}"));
        }
        said = notes.len();
    };
    if args.seconds.is_none() && std::io::stdin().is_terminal() {
        eprintln!("frugal: press Enter (or Ctrl-C) to stop");
        let enter = stop.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            enter.store(true, Ordering::Relaxed);
        });
    }
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    // By the clock, not by audio written: a source that lags must not stretch the recording.
    let started = std::time::Instant::now();
    let deadline = args.seconds.map(Duration::from_secs);
    while !stop.load(Ordering::Relaxed) && !recording.has_ended() && deadline.is_none_or(|d| started.elapsed() < d) {
        say_notes(&recording, &bar);
        bar.set_message(format!("recording {}", clock(recording.elapsed_ms())));
        bar.tick();
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.set_message("finishing the transcript");
    let mut finished = recording.stop();
    bar.finish_and_clear();
    for n in finished.notes.iter().skip(said) {
        eprintln!("frugal: note: {n}");
    }
    eprintln!("frugal: recorded {} to {}", clock(finished.duration_ms), finished.path.display());
    if let Some(Err(e)) = &finished.transcript {
        eprintln!("frugal: the live transcript failed ({e}); transcribing the file");
    }
    // --no-transcribe: nothing to do. Ctrl-C stopped the recording, so the transcript gets
    // a fresh flag.
    if finished.transcript.is_some() {
        let (out, transcript) = assistant.recording_transcript(&mut finished, &mut |_| {}, &AtomicBool::new(false))?;
        report(&out, &transcript);
    }
    Ok(ExitCode::SUCCESS)
}

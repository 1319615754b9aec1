//! `frugal-whisper`: whisper.cpp in its own process.
//!
//! whisper.cpp links its own ggml, and two ggml copies in one binary collide with llama.cpp's
//! (llama-cpp-rs #263, #484), so Frugal runs speech recognition here and talks to it through
//! [`frugal_transcribe::protocol`]: a JSON header line plus raw f32 samples in, JSON lines
//! out. The model is loaded once; windows are decoded one after another on one state, each
//! on its own (no earlier text as a prompt: carrying the last words over measured as many
//! or more word errors, up to 8 points more where it set whisper skipping). Nothing but protocol lines goes to stdout
//! (whisper.cpp's own logging is routed away), and every failure is one `error` line.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;

use frugal_transcribe::protocol::{Reply, Segment, WindowHeader, SAMPLE_RATE};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

struct Args {
    model: PathBuf,
    threads: usize,
    language: String,
    beam: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { model: PathBuf::new(), threads: 2, language: "en".into(), beam: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => args.model = PathBuf::from(value()?),
            "--threads" => args.threads = value()?.parse().map_err(|_| "--threads takes a number".to_string())?,
            "--language" => args.language = value()?,
            "--beam" => args.beam = value()?.parse().map_err(|_| "--beam takes a number".to_string())?,
            "--version" => {
                println!(
                    "frugal-whisper {} (whisper.cpp {})",
                    env!("CARGO_PKG_VERSION"),
                    whisper_rs::WHISPER_CPP_VERSION
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.model.as_os_str().is_empty() {
        return Err("usage: frugal-whisper --model FILE [--threads N] [--language en] [--beam N]".into());
    }
    Ok(args)
}

fn send(reply: &Reply) {
    let mut out = std::io::stdout().lock();
    // A closed stdout means Frugal went away; the next read of stdin ends the helper.
    if let Ok(line) = serde_json::to_string(reply) {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            send(&Reply::Error(e));
            std::process::exit(2);
        }
    };
    whisper_rs::install_logging_hooks();
    if !args.model.is_file() {
        send(&Reply::Error(format!("no speech model at {}", args.model.display())));
        std::process::exit(1);
    }
    // Flash attention stays off: on 2 CPU cores it measured 10-15 % slower for tiny.en.
    let ctx = match WhisperContext::new_with_params(&args.model, WhisperContextParameters::default()) {
        Ok(ctx) => ctx,
        Err(e) => {
            send(&Reply::Error(format!(
                "{} is not a whisper.cpp model this build can load ({e:?})",
                args.model.display()
            )));
            std::process::exit(1);
        }
    };
    let mut state = match ctx.create_state() {
        Ok(state) => state,
        Err(e) => {
            send(&Reply::Error(format!("could not set up the speech model: {e:?}")));
            std::process::exit(1);
        }
    };
    send(&Reply::Ready {
        model: args.model.display().to_string(),
        threads: args.threads,
        engine: format!("whisper.cpp {}", whisper_rs::WHISPER_CPP_VERSION),
    });

    let mut input = BufReader::new(std::io::stdin().lock());
    let mut line = String::new();
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                send(&Reply::Error(format!("reading the request: {e}")));
                return;
            }
        }
        if line.trim().is_empty() {
            continue;
        }
        let header: WindowHeader = match serde_json::from_str(&line) {
            Ok(header) => header,
            Err(e) => {
                // The byte stream is out of step now; nothing after this can be trusted.
                send(&Reply::Error(format!("malformed window header: {e}")));
                return;
            }
        };
        let mut bytes = vec![0u8; header.samples * 4];
        if let Err(e) = input.read_exact(&mut bytes) {
            send(&Reply::Error(format!("the window's audio was cut short: {e}")));
            return;
        }
        let samples: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        drop(bytes);
        // whisper.cpp refuses less than a second of audio; pad short tails with silence.
        let mut samples = samples;
        let minimum = SAMPLE_RATE as usize + SAMPLE_RATE as usize / 10;
        if !samples.is_empty() && samples.len() < minimum {
            samples.resize(minimum, 0.0);
        }
        if !samples.is_empty() {
            let strategy = if args.beam > 1 {
                SamplingStrategy::BeamSearch { beam_size: args.beam as i32, patience: -1.0 }
            } else {
                SamplingStrategy::Greedy { best_of: 1 }
            };
            let mut params = FullParams::new(strategy);
            params.set_n_threads(args.threads.max(1) as i32);
            params.set_language(Some(&args.language));
            params.set_print_special(false);
            params.set_print_progress(false);
            params.set_print_realtime(false);
            params.set_print_timestamps(false);
            params.set_suppress_nst(true);
            params.set_progress_callback_safe(|p: i32| send(&Reply::Progress(p.clamp(0, 100) as u8)));
            if let Err(e) = state.full(params, &samples) {
                send(&Reply::Error(format!("speech recognition failed on this window: {e:?}")));
                send(&Reply::Done { samples: header.samples });
                continue;
            }
            for segment in state.as_iter() {
                let text = match segment.to_str_lossy() {
                    Ok(text) => text.trim().to_string(),
                    Err(_) => continue,
                };
                // Timestamps are in centiseconds from the window's start.
                let start = header.offset_ms + segment.start_timestamp().max(0) as u64 * 10;
                let end = header.offset_ms + segment.end_timestamp().max(0) as u64 * 10;
                send(&Reply::Segment(Segment {
                    start_ms: start,
                    end_ms: end.max(start),
                    text,
                    no_speech: segment.no_speech_probability(),
                }));
            }
        }
        send(&Reply::Done { samples: header.samples });
    }
}

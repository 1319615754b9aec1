use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use frugal_core::input::read_input;
use frugal_core::llm::{CancelToken, Event};
use frugal_core::tasks::summarize::Progress;
use frugal_core::Routed;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct SummarizeArgs {
    /// Transcript file (WebVTT, SRT, `Name: line` text, Markdown), a recording (WAV, MP3,
    /// M4A, OGG, FLAC, WebM: transcribed first, the transcript saved beside it), or - for stdin.
    file: PathBuf,
    /// Write the result to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(g: &super::Globals, mut args: SummarizeArgs) -> anyhow::Result<ExitCode> {
    let json = g.json;
    // One Ctrl-C handler for both stages: a recording's transcription, then the summary.
    let cancel = CancelToken::new();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (on_cancel, on_stop) = (cancel.clone(), stop.clone());
    ctrlc::set_handler(move || {
        on_cancel.cancel();
        on_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    })
    .context("cannot install the Ctrl-C handler")?;
    if frugal_core::transcribe::is_audio(&args.file) {
        // A recording: its transcript first (reused when it is newer than the recording).
        let transcript = frugal_core::speech::transcript_path(&args.file);
        if frugal_core::speech::transcript_is_current(&args.file) {
            eprintln!("frugal: using the transcript beside the recording, {}", transcript.display());
        } else {
            let assistant = g.open()?;
            let Some((out, t)) =
                super::transcribe::transcribe_with_bar(&assistant, &args.file, None, &Default::default(), &stop)?
            else {
                return Ok(ExitCode::from(super::CANCELLED));
            };
            if t.cues.is_empty() {
                anyhow::bail!(
                    "nothing to summarize: no speech was found in {} (an empty transcript is saved as {})",
                    args.file.display(),
                    out.display()
                );
            }
            for n in &t.notes {
                eprintln!("frugal: note: {n}");
            }
            eprintln!(
                "frugal: transcript written to {} ({} of audio)",
                out.display(),
                frugal_core::transcribe::audio::clock(t.duration_ms)
            );
        }
        args.file = transcript;
    }
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(1) } else { ProgressBar::hidden() };
    let style = |template: &str| -> anyhow::Result<ProgressStyle> {
        Ok(ProgressStyle::with_template(template).map_err(|e| anyhow::anyhow!("{e}"))?.progress_chars("=> "))
    };
    let turns_style = style("{spinner} {msg} [{bar:20}] {pos}/{len} turns · {elapsed}")?;
    let parts_style = style("{spinner} {msg} [{bar:20}] {pos}/{len} parts · {elapsed}, about {eta} left")?;
    let one_style = style("{spinner} {msg} · {elapsed}")?;
    bar.set_style(turns_style.clone());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    // The bar is up before the file is read: a very large transcript takes seconds to read.
    bar.set_message("reading the transcript");
    let input = read_input(&args.file);
    let input = match input {
        Ok(i) => i,
        Err(e) => {
            bar.finish_and_clear();
            return Err(e.into());
        }
    };
    for w in &input.warnings {
        bar.suspend(|| eprintln!("frugal: warning: {w}"));
    }
    let assistant = g.open()?;
    let mut tokens = 0u64;
    let result = assistant.summarize(
        &input,
        &g.route,
        &cancel,
        &mut |p| match p {
            Progress::Preparing { done, total } => {
                bar.set_style(turns_style.clone());
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message("measuring the transcript");
            }
            Progress::Chunk { done, total } => {
                if done == 0 {
                    // indicatif's estimate runs from here: per part, not per measured turn.
                    bar.set_style(if total > 1 { parts_style.clone() } else { one_style.clone() });
                    bar.reset();
                    if total > 1 {
                        bar.suspend(|| eprintln!("frugal: a long meeting: {total} parts, then a merge; the time left shows after the first part"));
                    }
                }
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(if total > 1 { "summarizing each part" } else { "summarizing" });
            }
            Progress::Merging => bar.set_message("merging the parts"),
        },
        &mut |e| match e {
            Event::Text(_) => {
                tokens += 1;
                bar.set_message(format!("writing ({tokens} pieces)"));
            }
            Event::Status(s) => bar.suspend(|| eprintln!("frugal: {s}")),
            _ => {}
        },
    );
    bar.finish_and_clear();
    let Some(routed) = super::unless_cancelled(result)? else { return Ok(ExitCode::from(super::CANCELLED)) };
    let (report, route) = match routed {
        Routed::Done(report, route) => (report, route),
        Routed::DryRun(d) => return super::print_dry_run(&d),
        Routed::Queued(local, route) => {
            // The local answer (if any) now; the cloud's replaces it when the batch is back.
            if let Some(report) = &local {
                let text = if json {
                    serde_json::to_string_pretty(&super::with_route(report, &route)?)? + "\n"
                } else {
                    report.to_markdown()
                };
                match &args.out {
                    Some(path) => {
                        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?
                    }
                    None => print!("{text}"),
                }
            }
            let dest = if input.path.is_some() {
                format!("written to {}", frugal_core::tasks::summarize::summary_path(&args.file).display())
            } else {
                "shown by `frugal batches`".to_string()
            };
            eprintln!(
                "frugal: {}; the cloud's summary will be {dest} when it is back (`frugal batches` checks)",
                route.note.as_deref().unwrap_or("queued")
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    for n in report.notes.iter().filter(|n| !input.warnings.contains(n)) {
        eprintln!("frugal: note: {n}");
    }
    let text = if json {
        serde_json::to_string_pretty(&super::with_route(&report, &route)?)? + "\n"
    } else {
        report.to_markdown()
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("frugal: summary written to {}", path.display());
        }
        None => print!("{text}"),
    }
    super::print_route(&assistant, &route);
    super::print_verdict(&assistant, "this summary", &report.quality, &route, || {
        super::cloud_estimate(g, |o| assistant.summarize(&input, o, &CancelToken::new(), &mut |_| {}, &mut |_| {}))
    });
    Ok(ExitCode::SUCCESS)
}

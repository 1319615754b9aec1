//! The pipeline on real files: a two-hour recording streams through in bounded memory, and
//! a speech helper that dies costs its window, not the transcript.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use frugal_transcribe::audio::Source;
use frugal_transcribe::wav::WavWriter;
use frugal_transcribe::window::Windower;
use frugal_transcribe::{Options, Pipeline};

/// Peak resident memory of this process so far, in MB (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<f64>().ok().map(|kb| kb / 1024.0)
}

#[test]
fn a_two_hour_recording_streams_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two-hours.wav");
    // 2 h at 16 kHz mono, 16-bit: 230 MB on disk, 460 MB as f32 if it were held whole.
    let mut w = WavWriter::create(&path, 1, 16_000, "").unwrap();
    let second: Vec<i16> = (0..16_000).map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16).collect();
    for _ in 0..(2 * 3600 / 10) {
        w.write(&second.repeat(10)).unwrap();
    }
    w.sync().unwrap();
    drop(w);
    let before = peak_rss_mb();
    let mut source = Source::open(&path).unwrap();
    assert_eq!(source.duration_ms, Some(7_200_000));
    let mut windower = Windower::new(30, 5);
    let (mut windows, mut samples, mut piece) = (0usize, 0usize, Vec::new());
    loop {
        piece.clear();
        let more = source.next_into(&mut piece).unwrap();
        let mut next = windower.push(&piece);
        while let Some(window) = next {
            windows += 1;
            samples += window.samples.len();
            next = windower.push(&[]);
        }
        if !more {
            break;
        }
    }
    if let Some(last) = windower.finish() {
        windows += 1;
        samples += last.samples.len();
    }
    assert_eq!(samples, 7200 * 16_000, "every sample reaches a window once");
    assert!((240..=300).contains(&windows), "{windows} windows");
    assert!(source.notes.is_empty(), "{:?}", source.notes);
    if let (Some(before), Some(after)) = (before, peak_rss_mb()) {
        assert!(after - before < 64.0, "peak memory grew by {:.0} MB streaming 2 h", after - before);
    }
}

/// A stand-in helper that loads, then dies on its first window (a crash mid-request).
fn crashing_helper(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("crashing-helper");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "#!/bin/sh\necho '{{\"ready\":{{\"model\":\"m\",\"threads\":1,\"engine\":\"stand-in\"}}}}'\nhead -c 100 >/dev/null\nexit 3").unwrap();
    drop(f);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

#[cfg(unix)]
#[test]
fn a_helper_that_crashes_costs_its_window_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.bin");
    std::fs::write(&model, b"stand-in").unwrap();
    let opts = Options {
        model,
        helper: crashing_helper(dir.path()),
        language: "en".into(),
        threads: 1,
        window_secs: 30,
        channel_speakers: None,
    };
    let cancel = AtomicBool::new(false);
    let mut pipeline = Pipeline::start(&opts, None).unwrap();
    pipeline.feed(&vec![0.1; 16_000 * 45], &[], &mut |_| {}, &cancel).unwrap();
    let transcript = pipeline.finish(Vec::new(), &mut |_| {}, &cancel).unwrap();
    assert!(transcript.cues.is_empty());
    let lost: Vec<&String> = transcript.notes.iter().filter(|n| n.starts_with("could not transcribe")).collect();
    assert_eq!(lost.len(), 2, "{:?}", transcript.notes);
    assert!(lost[0].contains("0:00–0:") && lost[0].contains("the speech helper stopped"), "{}", lost[0]);
    assert_eq!(transcript.duration_ms, 45_000);
}

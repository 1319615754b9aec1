//! Meetings from sound, end to end: speech made on the machine with espeak-ng from a script
//! written for these tests (tests/speech/planning-call.txt), mixed with sox, transcribed by
//! the real whisper.cpp helper on the default model, then summarized on the default LLM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::harness::*;

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The generated meeting, made once per test run: mono.wav, stereo.wav (Dana left, Sam
/// right), Dana.wav, Sam.wav and reference.txt.
fn meeting() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("frugal-speech-{}", std::process::id()));
        let status = Command::new(repo("tests/speech/make-meeting.sh"))
            .arg(repo("tests/speech/planning-call.txt"))
            .arg(&dir)
            .status()
            .expect("run make-meeting.sh (needs espeak-ng and sox: scripts/setup.sh installs them)");
        assert!(status.success(), "make-meeting.sh failed");
        dir
    })
}

/// The default speech model, converted by `scripts/setup.sh` / `.ci/run`.
fn speech_model() -> PathBuf {
    repo("models/ggml-tiny.en-q8_0.bin")
}

/// An environment whose config points at the default speech model (the data folder the
/// harness gives each test starts empty).
fn speech_env() -> Env {
    let env = Env::new();
    use_speech_model(&env);
    env
}

fn use_speech_model(env: &Env) {
    env.write_config(&format!("[transcribe]\nmodel = \"{}\"\n", toml_path(&speech_model())));
}

fn sox(args: &[&str]) {
    let status = Command::new("sox").args(args).status().expect("sox");
    assert!(status.success(), "sox {args:?}");
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('-', " ")
        .split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_alphanumeric() || *c == '\'').collect::<String>())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate: word-level edit distance over the reference's length.
fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (words(reference), words(hypothesis));
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rw != hw)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len().max(1) as f64
}

/// The cues of a WebVTT file as (voice, text).
fn cues(vtt: &str) -> Vec<(Option<String>, String)> {
    vtt.split("\n\n")
        .filter(|b| b.contains("-->"))
        .filter_map(|b| b.lines().nth(1))
        .map(|line| match line.strip_prefix("<v ").and_then(|r| r.split_once('>')) {
            Some((voice, text)) => (Some(voice.to_string()), text.to_string()),
            None => (None, line.to_string()),
        })
        .collect()
}

fn transcribe(env: &Env, audio: &Path, extra: &[&str]) -> (String, String) {
    let out = env.path("out.vtt");
    let _ = std::fs::remove_file(&out);
    let mut args = vec!["transcribe", audio.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = env.run(&args);
    ok(&o);
    (std::fs::read_to_string(&out).unwrap(), stderr(&o))
}

fn text_of(vtt: &str) -> String {
    cues(vtt).into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(" ")
}

#[test]
fn generated_speech_is_transcribed_within_a_word_error_rate() {
    let env = speech_env();
    let dir = meeting();
    let (vtt, err) = transcribe(&env, &dir.join("mono.wav"), &[]);
    assert!(vtt.starts_with("WEBVTT\n\nNOTE Transcribed by Frugal from mono.wav (whisper.cpp"), "{vtt}");
    let reference = std::fs::read_to_string(dir.join("reference.txt")).unwrap();
    let rate = wer(&reference, &text_of(&vtt));
    // Measured 11-14 % on this script; a broken resampler, window cut or model is far worse.
    assert!(rate < 0.25, "word error rate {rate:.2}:\n{vtt}");
    assert!(err.contains("transcript written to") && err.contains("1:02 of audio"), "{err}");
    // Cue times rise and stay inside the recording.
    let stamps: Vec<&str> = vtt.lines().filter(|l| l.contains("-->")).collect();
    assert!(stamps.len() >= 8, "{vtt}");
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    assert!(
        stamps.last().unwrap().ends_with(|c: char| c.is_ascii_digit()) && stamps.last().unwrap() < &"00:01:03",
        "{stamps:?}"
    );
}

#[test]
fn two_channels_become_two_speakers_and_the_summary_names_their_action_items() {
    let env = speech_env();
    let dir = meeting();
    let recording = env.path("call.wav");
    std::fs::copy(dir.join("stereo.wav"), &recording).unwrap();
    ok(&env.run(&["transcribe", recording.to_str().unwrap(), "--speakers", "Dana,Sam"]));
    let vtt = std::fs::read_to_string(recording.with_extension("vtt")).unwrap();
    // Each line of the script is one speaker's; the transcript's voices must follow them.
    // (whisper sometimes joins the end of one turn and the start of the next in one cue,
    // which then goes to the louder side: hence not every cue.)
    let script: Vec<(String, String)> = std::fs::read_to_string(repo("tests/speech/planning-call.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(": "))
        .map(|l| l.split_once(": ").map(|(a, b)| (a.to_string(), b.to_string())).unwrap())
        .collect();
    let mut right = 0;
    let all = cues(&vtt);
    for (voice, text) in &all {
        let said = words(text);
        let best =
            script.iter().max_by_key(|(_, line)| words(line).iter().filter(|w| said.contains(w)).count()).unwrap();
        if voice.as_deref() == Some(best.0.as_str()) {
            right += 1;
        }
    }
    assert!(right * 10 >= all.len() * 7, "{right} of {} cues have the right voice:\n{vtt}", all.len());

    // Bad names are refused in one line.
    let err = one_line_error(&env.run(&["transcribe", recording.to_str().unwrap(), "--speakers", "Dana"]));
    assert!(err.contains("--speakers takes two names"), "{err}");

    // summarize RECORDING: the transcript beside it (newer than the recording) is used…
    let o = env.run_model(&["summarize", "--json", "--local-only", recording.to_str().unwrap()]);
    assert!(stderr(&o).contains("using the transcript beside the recording"), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["format"], "web_vtt");
    let speakers: Vec<&str> = v["speakers"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    assert_eq!(speakers, ["Dana", "Sam"]);
    // The default 135M model's items vary from one CPU to the next (often it finds Sam's
    // seed order, sometimes it rambles and the checks drop it all); what must hold is that
    // every item it keeps belongs to a speaker the recording gave.
    for a in v["action_items"].as_array().unwrap() {
        let owner = a["owner"].as_str().unwrap_or_default();
        assert!(["Dana", "Sam"].contains(&owner), "owner {owner} is not a speaker of the recording: {v}");
    }

    // …and a recording without one is transcribed first, the transcript saved beside it.
    let plain = env.path("plain.mp3");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i", dir.join("mono.wav").to_str().unwrap(), plain.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = env.run_model(&["summarize", "--local-only", plain.to_str().unwrap()]);
    let out = ok(&o);
    assert!(stderr(&o).contains("transcript written to") && plain.with_extension("vtt").is_file(), "{}", stderr(&o));
    assert!(out.contains("## Summary") && out.contains("## Action items"), "{out}");
}

#[test]
fn every_common_format_is_read_and_opus_needs_ffmpeg() {
    let env = speech_env();
    let clip = env.path("clip.wav");
    // The first two lines, at 44.1 kHz stereo as a phone or a browser records.
    sox(&[
        meeting().join("mono.wav").to_str().unwrap(),
        "-r",
        "44100",
        "-c",
        "2",
        clip.to_str().unwrap(),
        "trim",
        "0",
        "10",
    ]);
    for (ext, codec) in [
        ("mp3", "libmp3lame"),
        ("m4a", "aac"),
        ("ogg", "libvorbis"),
        ("flac", "flac"),
        ("webm", "libopus"),
        ("opus", "libopus"),
    ] {
        let file = env.path(&format!("clip.{ext}"));
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i", clip.to_str().unwrap(), "-c:a", codec, file.to_str().unwrap()])
            .status()
            .expect("ffmpeg");
        assert!(status.success(), "ffmpeg to {ext}");
        let (vtt, err) = transcribe(&env, &file, &[]);
        let text = text_of(&vtt).to_lowercase();
        assert!(text.contains("community garden"), "{ext}: {vtt}");
        assert_eq!(err.contains("Opus audio decoded by ffmpeg"), codec == "libopus", "{ext}: {err}");
    }
    // 8 kHz (a phone line) is resampled up.
    let narrow = env.path("narrow.wav");
    sox(&[clip.to_str().unwrap(), "-r", "8000", "-c", "1", narrow.to_str().unwrap()]);
    let (vtt, _) = transcribe(&env, &narrow, &[]);
    assert!(text_of(&vtt).to_lowercase().contains("garden"), "8 kHz: {vtt}");

    // Without ffmpeg, Opus is refused in one line that says what to do.
    let o = env
        .cmd()
        .env("PATH", env.path("no-tools"))
        .args(["transcribe", env.path("clip.opus").to_str().unwrap()])
        .output()
        .unwrap();
    let err = one_line_error(&o);
    assert!(err.contains("its audio is Opus") && err.contains("install ffmpeg"), "{err}");
}

#[test]
fn bad_recordings_get_one_line_and_lose_nothing() {
    let env = speech_env();
    let empty = env.path("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    assert!(one_line_error(&env.run(&["transcribe", empty.to_str().unwrap()])).contains("is empty (0 bytes)"));

    let text = env.path("notes.mp3");
    std::fs::write(&text, "These are meeting notes, not a recording.\n".repeat(200)).unwrap();
    let err = one_line_error(&env.run(&["transcribe", text.to_str().unwrap()]));
    assert!(err.contains("is not audio Frugal can read"), "{err}");

    let missing = env.path("nowhere.wav");
    assert!(one_line_error(&env.run(&["transcribe", missing.to_str().unwrap()])).contains("cannot read"));

    // Silence only: a transcript with no cues and a note, not an error.
    let silence = env.path("silence.wav");
    sox(&["-n", "-r", "16000", "-c", "1", silence.to_str().unwrap(), "trim", "0", "20"]);
    let (vtt, err) = transcribe(&env, &silence, &[]);
    assert!(cues(&vtt).is_empty(), "{vtt}");
    assert!(err.contains("note: no speech found in 0:20 of audio"), "{err}");
    // …and summarizing it says so instead of inventing a meeting.
    let err = one_line_error(&env.run_model(&["summarize", silence.to_str().unwrap()]));
    assert!(err.contains("no speech was found"), "{err}");

    // A WAV cut short (its header promises 62 s): what is there is transcribed, with a note.
    let full = std::fs::read(meeting().join("mono.wav")).unwrap();
    let cut = env.path("cut.wav");
    std::fs::write(&cut, &full[..full.len() / 3]).unwrap();
    let (vtt, err) = transcribe(&env, &cut, &[]);
    assert!(text_of(&vtt).to_lowercase().contains("garden"), "{vtt}");
    assert!(err.contains("the file ends early, at 0:20 of 1:02"), "{err}");

    // A WAV header that says 0 Hz (the decoder panics on it) or 2 Hz: damaged, in one line.
    for (rate, says) in [(0u32, "its header cannot be decoded"), (2, "its header says 2 samples a second")] {
        let mut odd = full.clone();
        odd[24..28].copy_from_slice(&rate.to_le_bytes());
        let path = env.path(&format!("rate-{rate}.wav"));
        std::fs::write(&path, &odd).unwrap();
        let err = one_line_error(&env.run(&["transcribe", path.to_str().unwrap()]));
        assert!(err.contains("is damaged") && err.contains(says), "{err}");
    }

    // An MP3 with garbage in the middle: the rest is still read.
    let mp3 = env.path("clip.mp3");
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-i",
            meeting().join("mono.wav").to_str().unwrap(),
            "-t",
            "12",
            mp3.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let mut bytes = std::fs::read(&mp3).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 4000].iter_mut().for_each(|b| *b = 0x55);
    std::fs::write(&mp3, &bytes).unwrap();
    let (vtt, _) = transcribe(&env, &mp3, &[]);
    assert!(text_of(&vtt).to_lowercase().contains("garden"), "{vtt}");

    // No speech model: one line naming the fix.
    env.write_config(&format!("[transcribe]\nmodel = \"{}\"\n", toml_path(&env.path("missing.bin"))));
    let err = one_line_error(&env.run(&["transcribe", silence.to_str().unwrap()]));
    assert!(err.contains("no speech model at") && err.contains("[transcribe] model"), "{err}");
    // A model file that is not one: one line from the helper.
    std::fs::write(env.path("bad.bin"), vec![7u8; 4096]).unwrap();
    env.write_config(&format!("[transcribe]\nmodel = \"{}\"\n", toml_path(&env.path("bad.bin"))));
    let err = one_line_error(&env.run(&["transcribe", silence.to_str().unwrap()]));
    assert!(err.contains("is not a whisper.cpp model"), "{err}");
    use_speech_model(&env);

    // A disk that fills up while the transcript is written: one line, the recording and any
    // earlier transcript untouched (a shell's file-size limit stands in for a full disk).
    let clip = env.path("keep.wav");
    std::fs::copy(meeting().join("mono.wav"), &clip).unwrap();
    let before = std::fs::read(&clip).unwrap();
    // A transcript beside it that Frugal did not write is never replaced…
    std::fs::write(clip.with_extension("vtt"), "WEBVTT\n\n00:00.000 --> 00:01.000\nthe call's own captions\n").unwrap();
    let err = one_line_error(&env.run(&["transcribe", clip.to_str().unwrap()]));
    assert!(err.contains("exists and was not made by Frugal"), "{err}");
    let err = one_line_error(&env.run(&["transcribe", clip.to_str().unwrap(), "-o", clip.to_str().unwrap()]));
    assert!(err.contains("is the recording itself"), "{err}");
    assert_eq!(std::fs::read(&clip).unwrap(), before);
    // …while an earlier one of Frugal's is, when the disk allows.
    let earlier = "WEBVTT\n\nNOTE Transcribed by Frugal from keep.wav (earlier)\n\n";
    std::fs::write(clip.with_extension("vtt"), earlier).unwrap();
    let o = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1; exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_frugal"))
        .args(["--config", env.config().to_str().unwrap(), "transcribe", clip.to_str().unwrap()])
        .env("XDG_DATA_HOME", env.path("xdg-data"))
        .output()
        .unwrap();
    let err = one_line_error(&o);
    assert!(err.contains("cannot write the transcript") && err.contains("File too large"), "{err}");
    assert_eq!(std::fs::read(&clip).unwrap(), before);
    assert_eq!(std::fs::read_to_string(clip.with_extension("vtt")).unwrap(), earlier);
    assert!(!clip.with_extension("vtt.part").exists());
}

/// A private PulseAudio server with two null sinks: `frugal_test` (the default output, whose
/// monitor is the "system sound") and `fake_mic` (whose monitor is the default source, the
/// "microphone"). Killed on drop.
struct Pulse {
    child: Child,
    runtime: tempfile::TempDir,
}

impl Pulse {
    fn start() -> Option<Pulse> {
        if Command::new("pulseaudio").arg("--version").output().is_err() {
            eprintln!("skipping: pulseaudio is not installed (scripts/setup.sh installs it)");
            return None;
        }
        let runtime = tempfile::tempdir().unwrap();
        let child = Command::new("pulseaudio")
            .args(["-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr"])
            .args([
                "-L",
                "module-native-protocol-unix",
                "-L",
                "module-cli-protocol-unix",
                "-L",
                "module-null-sink sink_name=frugal_test",
            ])
            .args(["-L", "module-null-sink sink_name=fake_mic"])
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("PULSE_RUNTIME_PATH", runtime.path().join("pulse"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pulse = Pulse { child, runtime };
        for _ in 0..50 {
            if pulse.ctl(&["info"]) {
                assert!(pulse.ctl(&["set-default-sink", "frugal_test"]));
                assert!(pulse.ctl(&["set-default-source", "fake_mic.monitor"]));
                return Some(pulse);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the test PulseAudio server did not start");
    }

    fn env(&self, c: &mut Command) {
        c.env("XDG_RUNTIME_DIR", self.runtime.path()).env("PULSE_RUNTIME_PATH", self.runtime.path().join("pulse"));
    }

    fn ctl(&self, args: &[&str]) -> bool {
        let mut c = Command::new("pactl");
        self.env(&mut c);
        c.args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    }

    fn output(&self, args: &[&str]) -> String {
        let mut c = Command::new("pactl");
        self.env(&mut c);
        String::from_utf8(c.args(args).output().unwrap().stdout).unwrap()
    }

    fn play(&self, file: &Path, sink: &str) -> Child {
        let mut c = Command::new("paplay");
        self.env(&mut c);
        c.arg(format!("--device={sink}")).arg(file).spawn().unwrap()
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn record(env: &Env, pulse: &Pulse, dir: &Path, args: &[&str]) -> Child {
    let mut c = env.cmd();
    pulse.env(&mut c);
    c.args(["record", "--dir", dir.to_str().unwrap()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// "recorded 0:05" for `--seconds 5`, less what the sound server takes to start delivering
/// a new stream (0.7 s measured on an idle machine, more while the CPU is busy) and the
/// rounding down of the last second.
fn recorded_about(stderr: &str, seconds: u64) -> bool {
    [seconds - 2, seconds - 1, seconds].iter().any(|s| stderr.contains(&format!("recorded 0:{s:02}")))
}

fn recording_in(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wav"))
        .expect("a recording")
}

#[test]
fn records_the_microphone_and_the_system_sound_through_a_null_sink() {
    let Some(pulse) = Pulse::start() else { return };
    let env = speech_env();
    let dir = env.path("meetings");
    let rec = record(&env, &pulse, &dir, &["--seconds", "14"]);
    std::thread::sleep(Duration::from_millis(1500));
    // Dana speaks into the "microphone", Sam comes out of the speakers.
    let mut a = pulse.play(&meeting().join("Dana.wav"), "fake_mic");
    let mut b = pulse.play(&meeting().join("Sam.wav"), "frugal_test");
    let o = rec.wait_with_output().unwrap();
    let _ = (a.kill(), b.kill(), a.wait(), b.wait());
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let wav = recording_in(&dir);
    assert!(wav.file_name().unwrap().to_string_lossy().starts_with("Meeting "), "{}", wav.display());
    assert!(recorded_about(&err, 14), "{err}");
    // Two channels, 16 kHz, 14 s.
    let header = std::fs::read(&wav).unwrap();
    assert_eq!(u16::from_le_bytes([header[22], header[23]]), 2);
    assert_eq!(u32::from_le_bytes([header[24], header[25], header[26], header[27]]), 16_000);
    let seconds = (header.len() as f64 - 100.0) / 64_000.0;
    assert!((12.0..15.0).contains(&seconds), "{seconds} s");
    // Transcribed while recording: the first lines, each by the right side.
    let vtt = std::fs::read_to_string(wav.with_extension("vtt")).unwrap();
    let all = cues(&vtt);
    assert!(
        all.iter().any(|(v, t)| v.as_deref() == Some("Me") && t.to_lowercase().contains("community garden")),
        "{vtt}"
    );
    assert!(all.iter().any(|(v, t)| v.as_deref() == Some("Others") && t.to_lowercase().contains("finished")), "{vtt}");
    let reference: String =
        std::fs::read_to_string(meeting().join("reference.txt")).unwrap().lines().take(3).collect::<Vec<_>>().join(" ");
    let rate = wer(&reference, &text_of(&vtt));
    assert!(rate < 0.5, "word error rate {rate:.2} on the first lines:\n{vtt}");
    // The file itself transcribes the same way later (its layout is in the WAV).
    let (again, _) = transcribe(&env, &wav, &[]);
    assert!(cues(&again).iter().any(|(v, _)| v.as_deref() == Some("Me")), "{again}");
}

/// The capture code macOS and Windows run (cpal), exercised here through ALSA, which reaches
/// the same private sound server through its PulseAudio plugin: the microphone is recorded
/// and transcribed; the system's sound cannot be (ALSA has no monitors), said in one note.
#[test]
fn records_the_microphone_through_cpal_as_other_platforms_do() {
    let Some(pulse) = Pulse::start() else { return };
    let env = speech_env();
    let dir = env.path("alsa");
    let mut c = env.cmd();
    pulse.env(&mut c);
    let rec = c
        .env("FRUGAL_CAPTURE", "alsa")
        .args(["record", "--dir", dir.to_str().unwrap(), "--seconds", "12"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut a = pulse.play(&meeting().join("Dana.wav"), "fake_mic");
    let o = rec.wait_with_output().unwrap();
    let _ = (a.kill(), a.wait());
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("the system's sound cannot be recorded") && err.contains("no monitor sources"), "{err}");
    assert!(recorded_about(&err, 12), "{err}");
    let wav = recording_in(&dir);
    let vtt = std::fs::read_to_string(wav.with_extension("vtt")).unwrap();
    let said = cues(&vtt);
    assert!(said.iter().any(|(_, t)| t.to_lowercase().contains("community garden")), "{vtt}");
    let reference: String =
        std::fs::read_to_string(meeting().join("reference.txt")).unwrap().lines().take(1).collect::<Vec<_>>().join(" ");
    let rate = wer(
        &reference,
        &text_of(&vtt).split_whitespace().take(reference.split_whitespace().count()).collect::<Vec<_>>().join(" "),
    );
    assert!(rate < 0.5, "word error rate {rate:.2} on the first line:\n{vtt}");
}

#[test]
fn a_recording_survives_a_missing_microphone_a_lost_device_and_a_full_disk() {
    let Some(pulse) = Pulse::start() else { return };
    let env = speech_env();

    // No microphone: the system's sound alone, said in a note.
    let dir = env.path("no-mic");
    let o = record(&env, &pulse, &dir, &["--seconds", "2", "--no-transcribe", "--microphone", "no_such_source"])
        .wait_with_output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note: no microphone") && stderr(&o).contains("recording the system's sound only"),
        "{}",
        stderr(&o)
    );
    assert!(recording_in(&dir).is_file());

    // Nothing to record from at all: one line.
    let mut c = env.cmd();
    c.env("XDG_RUNTIME_DIR", env.path("no-server"))
        .env("PULSE_RUNTIME_PATH", env.path("no-server/pulse"))
        .env("PULSE_SERVER", "unix:/nonexistent");
    let o = c.args(["record", "--dir", env.path("none").to_str().unwrap(), "--seconds", "2"]).output().unwrap();
    let err = one_line_error(&o);
    assert!(err.contains("cannot record: no microphone"), "{err}");

    // The microphone's device is unplugged: the sound server moves the stream to another
    // source and the recording goes on, as long as asked.
    let dir = env.path("moved");
    let rec = record(&env, &pulse, &dir, &["--seconds", "5", "--no-transcribe"]);
    std::thread::sleep(Duration::from_millis(2000));
    let modules = pulse.output(&["list", "short", "modules"]);
    let id = modules
        .lines()
        .find(|l| l.contains("sink_name=fake_mic"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(pulse.ctl(&["unload-module", &id]));
    let o = rec.wait_with_output().unwrap();
    assert!(o.status.success() && recorded_about(&stderr(&o), 5), "{}", stderr(&o));

    // A device that goes away for good (its stream ended by the server): the rest is
    // recorded from the other source, a note says when.
    assert!(pulse.ctl(&["load-module", "module-null-sink", "sink_name=fake_mic"]));
    assert!(pulse.ctl(&["set-default-source", "fake_mic.monitor"]));
    let dir = env.path("lost");
    let rec = record(&env, &pulse, &dir, &["--seconds", "5", "--no-transcribe"]);
    std::thread::sleep(Duration::from_millis(2000));
    let outputs = pulse.output(&["list", "short", "source-outputs"]);
    let sources = pulse.output(&["list", "short", "sources"]);
    let monitor =
        sources.lines().find(|l| l.contains("frugal_test.monitor")).and_then(|l| l.split_whitespace().next()).unwrap();
    // The microphone's stream is the one not reading the output's monitor.
    let mic = outputs
        .lines()
        .find(|l| l.split_whitespace().nth(1) != Some(monitor))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    let mut c = Command::new("pacmd");
    pulse.env(&mut c);
    assert!(c.args(["kill-source-output", mic]).status().unwrap().success(), "{outputs}");
    let o = rec.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("note: the microphone went away at 0:0"), "{err}");
    assert!(recorded_about(&err, 5), "{err}");

    // The disk fills up: the recording stops there, what was written is kept and readable.
    let dir = env.path("full");
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = Command::new("bash");
    pulse.env(&mut c);
    let o = c
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 200; exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_frugal"))
        .args([
            "--config",
            env.config().to_str().unwrap(),
            "record",
            "--dir",
            dir.to_str().unwrap(),
            "--seconds",
            "10",
            "--no-transcribe",
        ])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("could not write the recording at 0:0") && err.contains("what was recorded is kept"), "{err}");
    let wav = recording_in(&dir);
    let (_, err) = transcribe(&env, &wav, &[]);
    assert!(err.contains("of audio"), "the cut recording is still a readable WAV: {err}");
}

//! Recording a meeting: the microphone and the system's sound together, written to disk as
//! it goes, transcribed while it records.
//!
//! On Linux both come from the sound server (PulseAudio, or PipeWire through its PulseAudio
//! interface): the default source for the microphone and the default sink's monitor for the
//! other side of a call (cpal's ALSA backend cannot see monitor sources, which is why this is
//! not cpal); with no sound server running, the microphone through ALSA. Elsewhere cpal
//! ([`devices`]): the microphone, and on Windows the system's sound by WASAPI loopback; on
//! macOS the microphone only, with the reason in a note.
//!
//! Each source is read on its own thread in 100 ms blocks; one writer thread puts them side
//! by side in a two-channel 16 kHz WAV (microphone left, system right) and hands the mixed
//! sound to a recognition thread, so the transcript is nearly done when the user presses
//! Stop. A source that goes away mid-meeting leaves silence on its channel and a note;
//! a disk that fills up ends the recording with what was written kept.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::protocol::SAMPLE_RATE;
use crate::wav::{WavWriter, LAYOUT_COMMENT};
use crate::{audio, Error, Options, Pipeline, Transcript};

/// Samples per block read from a source: 100 ms, the loudness block too.
const BLOCK: usize = (SAMPLE_RATE as u64 * audio::ENERGY_BLOCK_MS / 1000) as usize;

/// A source this many blocks (3 s) behind the other is taken as stalled and padded with
/// silence; more than any sound server's buffering, less than a user would notice.
const MAX_SKEW_BLOCKS: usize = 30;

/// What to record.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// Microphone device name; `None` for the default source.
    pub microphone: Option<String>,
    /// System-sound device name (a PulseAudio source, or on Windows an output device); `None`
    /// for the default output's monitor (loopback on Windows).
    pub system: Option<String>,
    /// Transcribe while recording with these options.
    pub live: Option<Options>,
}

/// A finished recording.
#[derive(Debug)]
pub struct Finished {
    pub path: PathBuf,
    pub duration_ms: u64,
    /// What the user should know: a source missing or lost, a full disk.
    pub notes: Vec<String>,
    /// The transcript made while recording, when asked for and it worked.
    pub transcript: Option<Result<Transcript, Error>>,
}

/// A recording in progress; [`Recording::stop`] ends it.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    writer: Option<JoinHandle<Finished>>,
    /// What the user should know, as it happens (a missing or lost source, a full disk).
    notes: Arc<Mutex<Vec<String>>>,
}

enum Msg {
    /// A block from source `.0`, and how much sound the server still held for it then: a
    /// block read from a backlog is late, one read with nothing held is on time.
    Block(usize, Vec<i16>, u64),
    Lost(usize, String),
}

/// Blocks queued for recognition while recording (60 s); past that, recognition has fallen
/// behind (a model slower than real time) and the file is transcribed after Stop instead.
const LIVE_QUEUE_BLOCKS: usize = 600;

/// After Stop, how long the writer waits for a source that delivers nothing and reports no
/// error (a stalled device) before it finishes without it.
const STOP_GRACE_MS: u64 = MAX_DRAIN_MS + 1_000;

/// Reads blocks of 16 kHz mono samples from one device.
trait Capture {
    fn read(&mut self, block: &mut [i16]) -> Result<(), String>;
    /// Milliseconds of sound the server holds for us and we have not read yet.
    fn buffered_ms(&self) -> u64;
}

/// At Stop, sound still buffered by the server is read, up to this much: it was said before
/// the user pressed Stop.
const MAX_DRAIN_MS: u64 = 3_000;

#[cfg(target_os = "linux")]
mod pulse {
    use libpulse_binding::def::BufferAttr;
    use libpulse_binding::sample::{Format, Spec};
    use libpulse_binding::stream::Direction;
    use libpulse_simple_binding::Simple;

    pub struct Pulse(Simple);

    /// Why a source would not open: no sound server to ask, or the server's refusal.
    pub enum OpenError {
        NoServer(String),
        Refused(String),
    }

    impl Pulse {
        pub fn open(device: Option<&str>, what: &str) -> Result<Pulse, OpenError> {
            let spec = Spec { format: Format::S16le, channels: 1, rate: super::SAMPLE_RATE };
            // 100 ms fragments: the writer sees sound promptly, the server is not woken often.
            let attr = BufferAttr {
                maxlength: u32::MAX,
                tlength: u32::MAX,
                prebuf: u32::MAX,
                minreq: u32::MAX,
                fragsize: (super::BLOCK * 2) as u32,
            };
            Simple::new(None, "Frugal", Direction::Record, device, what, &spec, None, Some(&attr)).map(Pulse).map_err(
                |e| {
                    use libpulse_binding::error::Code;
                    match Code::try_from(e) {
                        Ok(Code::ConnectionRefused | Code::InvalidServer | Code::ConnectionTerminated) => {
                            OpenError::NoServer(format!("{e}"))
                        }
                        _ => OpenError::Refused(format!("{e}")),
                    }
                },
            )
        }
    }

    impl super::Capture for Pulse {
        fn read(&mut self, block: &mut [i16]) -> Result<(), String> {
            let mut bytes = vec![0u8; block.len() * 2];
            self.0.read(&mut bytes).map_err(|e| format!("{e}"))?;
            for (s, b) in block.iter_mut().zip(bytes.chunks_exact(2)) {
                *s = i16::from_le_bytes([b[0], b[1]]);
            }
            Ok(())
        }

        fn buffered_ms(&self) -> u64 {
            self.0.get_latency().map_or(0, |l| l.0 / 1000)
        }
    }
}

/// Opens a device on its own thread (sound-server handles stay on the thread that made them)
/// and reads it until `stop`; `Err` if it could not be opened.
fn spawn_capture(
    index: usize,
    device: Option<String>,
    tx: mpsc::Sender<Msg>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, String> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let handle = std::thread::Builder::new()
        .name(format!("frugal-capture-{index}"))
        .spawn(move || {
            let what = if index == 0 { "microphone" } else { "system sound" };
            let mut capture: Box<dyn Capture> = match open_device(index, device.as_deref(), what) {
                Ok(c) => {
                    let _ = ready_tx.send(Ok(()));
                    c
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut drained_ms = 0;
            loop {
                if stop.load(Ordering::Relaxed) {
                    // Stop: read what the server still holds (its buffering lags the clock),
                    // then end.
                    if drained_ms >= MAX_DRAIN_MS || capture.buffered_ms() < audio::ENERGY_BLOCK_MS {
                        return;
                    }
                    drained_ms += audio::ENERGY_BLOCK_MS;
                }
                let mut block = vec![0i16; BLOCK];
                match capture.read(&mut block) {
                    Ok(()) => {
                        if tx.send(Msg::Block(index, block, capture.buffered_ms())).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Msg::Lost(index, e));
                        return;
                    }
                }
            }
        })
        .map_err(|e| format!("{e}"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the capture thread ended".into()),
    }
}

mod devices;

/// Linux: the sound server, which has monitors of what plays; with none running, the
/// microphone through ALSA. `FRUGAL_CAPTURE=alsa` takes the ALSA path regardless (a machine
/// whose sound server misbehaves, and the tests of the code the other platforms run).
#[cfg(target_os = "linux")]
fn open_device(index: usize, device: Option<&str>, what: &str) -> Result<Box<dyn Capture>, String> {
    if std::env::var_os("FRUGAL_CAPTURE").is_some_and(|v| v == "alsa") {
        return devices::open(index, device).map(|d| Box::new(d) as Box<dyn Capture>);
    }
    let source = match (index, device) {
        (_, Some(d)) => Some(d),
        (0, None) => None,
        (_, None) => Some("@DEFAULT_MONITOR@"),
    };
    match pulse::Pulse::open(source, what) {
        Ok(p) => Ok(Box::new(p)),
        Err(pulse::OpenError::Refused(e)) => Err(e),
        // No sound server: ALSA, which has the microphone but no monitor of what plays.
        Err(pulse::OpenError::NoServer(e)) => devices::open(index, device)
            .map(|d| Box::new(d) as Box<dyn Capture>)
            .map_err(|alsa| format!("no sound server ({e}); through ALSA: {alsa}")),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_device(index: usize, device: Option<&str>, _: &str) -> Result<Box<dyn Capture>, String> {
    devices::open(index, device).map(|d| Box::new(d) as Box<dyn Capture>)
}

/// Starts recording into `path` (a new `.wav`; an existing file is never replaced).
pub fn start(path: &Path, opts: RecordOptions) -> Result<Recording, Error> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let mic = spawn_capture(0, opts.microphone.clone(), tx.clone(), stop.clone());
    let system = spawn_capture(1, opts.system.clone(), tx, stop.clone());
    let mut notes = Vec::new();
    let mut alive = [true, true];
    match (&mic, &system) {
        (Err(m), Err(s)) => {
            return Err(Error::Record(format!("cannot record: no microphone ({m}) and no system sound ({s})")));
        }
        (Err(m), Ok(_)) => {
            notes.push(format!("no microphone ({m}): recording the system's sound only"));
            alive[0] = false;
        }
        (Ok(_), Err(s)) => {
            notes.push(format!("the system's sound cannot be recorded ({s}): recording the microphone only"));
            alive[1] = false;
        }
        _ => {}
    }
    let wav = match WavWriter::create(path, 2, SAMPLE_RATE, LAYOUT_COMMENT) {
        Ok(w) => w,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            return Err(Error::Record(format!("cannot create {}: {e}", path.display())));
        }
    };
    let frames = Arc::new(AtomicU64::new(0));
    let captures: Vec<JoinHandle<()>> = [mic, system].into_iter().flatten().collect();
    let notes = Arc::new(Mutex::new(notes));
    let writer = {
        let (stop, frames, path, notes) = (stop.clone(), frames.clone(), path.to_path_buf(), notes.clone());
        std::thread::Builder::new()
            .name("frugal-recorder".into())
            .spawn(move || write_loop(path, wav, rx, alive, notes, stop, frames, captures, opts.live))
            .map_err(|e| Error::Record(e.to_string()))?
    };
    Ok(Recording { path: path.to_path_buf(), stop, frames, writer: Some(writer), notes })
}

impl Recording {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Audio written so far.
    pub fn elapsed_ms(&self) -> u64 {
        self.frames.load(Ordering::Relaxed) * 1000 / u64::from(SAMPLE_RATE)
    }

    /// What the user should know so far (a missing microphone, a device gone, a full disk).
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether it ended by itself (both sources gone, the disk full).
    pub fn has_ended(&self) -> bool {
        self.writer.as_ref().is_none_or(|w| w.is_finished())
    }

    /// Ends the recording; returns once the file is complete and, when transcribing live,
    /// the last window is recognised.
    pub fn stop(mut self) -> Finished {
        self.stop.store(true, Ordering::Relaxed);
        match self.writer.take().map(|w| w.join()) {
            Some(Ok(finished)) => finished,
            _ => Finished {
                path: self.path.clone(),
                duration_ms: self.elapsed_ms(),
                notes: vec!["the recorder stopped unexpectedly; what was written is kept".into()],
                transcript: None,
            },
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

type Live = (Option<mpsc::SyncSender<(Vec<f32>, [f32; 2])>>, JoinHandle<Result<Transcript, Error>>);

fn start_live(opts: Option<Options>, notes: &Mutex<Vec<String>>) -> Option<Live> {
    let opts = opts?;
    let (tx, rx) = mpsc::sync_channel::<(Vec<f32>, [f32; 2])>(LIVE_QUEUE_BLOCKS);
    let handle = std::thread::Builder::new().name("frugal-live-transcribe".into()).spawn(move || {
        let cancel = AtomicBool::new(false);
        let mut pipeline = Pipeline::start(&opts, None)?;
        while let Ok((samples, energy)) = rx.recv() {
            pipeline.feed(&samples, &[energy], &mut |_| {}, &cancel)?;
        }
        pipeline.finish(Vec::new(), &mut |_| {}, &cancel)
    });
    match handle {
        Ok(h) => Some((Some(tx), h)),
        Err(e) => {
            push_note(notes, format!("cannot transcribe while recording ({e}); transcribe the file afterwards"));
            None
        }
    }
}

fn push_note(notes: &Mutex<Vec<String>>, note: String) {
    notes.lock().unwrap_or_else(PoisonError::into_inner).push(note);
}

#[allow(clippy::too_many_arguments)]
fn write_loop(
    path: PathBuf,
    mut wav: WavWriter,
    rx: mpsc::Receiver<Msg>,
    mut alive: [bool; 2],
    notes: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    captures: Vec<JoinHandle<()>>,
    live: Option<Options>,
) -> Finished {
    let mut live = start_live(live, &notes);
    let mut live_behind = false;
    let mut queues: [VecDeque<Vec<i16>>; 2] = [VecDeque::new(), VecDeque::new()];
    // Blocks of silence written for a source that fell behind. If it then delivers its
    // backlog (blocks read while the server still held more), as many late blocks are
    // dropped, so the channels stay in step with the clock; a block read with nothing held
    // is on time, and what is owed is forgiven (the source lost that time, it has no backlog).
    let mut owed = [0usize; 2];
    let mut blocks = 0u64;
    let mut failed = false;
    let mut stopping_since: Option<std::time::Instant> = None;
    loop {
        let msg = rx.recv_timeout(std::time::Duration::from_millis(200));
        match msg {
            Ok(Msg::Block(i, b, held_ms)) => {
                if owed[i] > 0 && held_ms >= 2 * audio::ENERGY_BLOCK_MS {
                    owed[i] -= 1;
                } else {
                    owed[i] = 0;
                    queues[i].push_back(b);
                }
            }
            Ok(Msg::Lost(i, e)) => {
                alive[i] = false;
                let what = if i == 0 { "the microphone" } else { "the system's sound" };
                push_note(
                    &notes,
                    format!(
                        "{what} went away at {} ({e}); recording went on without it",
                        audio::clock(wav.frames() * 1000 / u64::from(SAMPLE_RATE))
                    ),
                );
                if !alive[0] && !alive[1] {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Every capture thread has ended.
            Err(mpsc::RecvTimeoutError::Disconnected) => alive = [false, false],
        }
        // A source that neither delivers nor fails (a stalled device) must not hold up Stop.
        if stop.load(Ordering::Relaxed) {
            let since = *stopping_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= std::time::Duration::from_millis(STOP_GRACE_MS) {
                alive = [false, false];
            }
        }
        // Pair the blocks up; a source that is gone or far behind gets silence.
        loop {
            let ready = |i: usize, q: &[VecDeque<Vec<i16>>; 2]| {
                !q[i].is_empty() || !alive[i] || q[1 - i].len() > MAX_SKEW_BLOCKS
            };
            if (queues[0].is_empty() && queues[1].is_empty()) || !ready(0, &queues) || !ready(1, &queues) {
                break;
            }
            let mut take = |i: usize| {
                queues[i].pop_front().unwrap_or_else(|| {
                    if alive[i] {
                        owed[i] += 1;
                    }
                    vec![0; BLOCK]
                })
            };
            let (left, right) = (take(0), take(1));
            let interleaved: Vec<i16> = left.iter().zip(&right).flat_map(|(l, r)| [*l, *r]).collect();
            if let Err(e) = wav.write(&interleaved) {
                failed = true;
                push_note(
                    &notes,
                    format!(
                        "could not write the recording at {} ({e}); it stopped there, and what was recorded is kept",
                        audio::clock(wav.frames() * 1000 / u64::from(SAMPLE_RATE))
                    ),
                );
                stop.store(true, Ordering::Relaxed);
                break;
            }
            frames.store(wav.frames(), Ordering::Relaxed);
            blocks += 1;
            if blocks.is_multiple_of(10) {
                // Every second the header is true; every five the data is on disk.
                let r = if blocks.is_multiple_of(50) { wav.sync() } else { wav.update_header() };
                if let Err(e) = r {
                    failed = true;
                    push_note(
                        &notes,
                        format!("could not update the recording ({e}); it stopped, and what was recorded is kept"),
                    );
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
            let sent = match &live {
                Some((Some(tx), _)) => {
                    let energy = |b: &[i16]| {
                        (b.iter().map(|s| f64::from(*s) * f64::from(*s)).sum::<f64>()
                            / b.len().max(1) as f64
                            / 1.073_741_824e9) as f32
                    };
                    let mono: Vec<f32> =
                        left.iter().zip(&right).map(|(l, r)| (f32::from(*l) + f32::from(*r)) / 65_536.0).collect();
                    Some(tx.try_send((mono, [energy(&left), energy(&right)])))
                }
                _ => None,
            };
            if let Some(Err(e)) = sent {
                // Disconnected: recognition failed, its error is reported at the end. Full: a
                // minute behind, so it is fed no more and the file is transcribed after Stop.
                live_behind |= matches!(e, mpsc::TrySendError::Full(_));
                if let Some((tx, _)) = live.as_mut() {
                    *tx = None;
                }
            }
        }
        let drained = queues.iter().all(VecDeque::is_empty);
        // Stop ends the capture threads; their senders dropping ends the loop once drained.
        if failed || (!alive[0] && !alive[1] && drained) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Err(e) = wav.sync() {
        push_note(&notes, format!("could not finish the recording's header ({e}); the audio is kept"));
    }
    // A capture thread still blocked in a stalled device's read is left to end on its own.
    for c in captures.into_iter().filter(JoinHandle::is_finished) {
        let _ = c.join();
    }
    let duration_ms = wav.frames() * 1000 / u64::from(SAMPLE_RATE);
    let transcript = live.map(|(tx, h)| {
        drop(tx);
        let done = h.join().unwrap_or_else(|_| Err(Error::Helper("live transcription stopped unexpectedly".into())));
        if live_behind {
            // What it has covers only the start: the whole file must be transcribed.
            return Err(Error::Helper("recognition fell behind the recording".into()));
        }
        done
    });
    let notes = notes.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Finished { path, duration_ms, notes, transcript }
}

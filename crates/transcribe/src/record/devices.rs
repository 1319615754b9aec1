//! Capture through cpal: the microphone on every platform, and the system's sound where the
//! platform lends it to an ordinary audio API — Windows, whose WASAPI records an output
//! device in loopback mode when it is opened for input. macOS gives the system's sound only
//! to ScreenCaptureKit or a virtual device, and ALSA has no monitor of what plays, so there
//! the recording is the microphone's, and the reason is said in one line.
//!
//! cpal calls back on its own thread with the device's own rate, channels and sample
//! format; the callback mixes down to mono and queues the samples, and `read` resamples
//! them to 16 kHz and hands them out in blocks, as the PulseAudio source does.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{SampleFormat, SizedSample, StreamConfig};

use crate::protocol::SAMPLE_RATE;
use crate::resample::Resampler;

/// A microphone that delivers nothing for this long (a muted one still delivers silence) is
/// gone.
const SILENT_DEVICE: Duration = Duration::from_secs(10);

/// How long a loopback source may deliver nothing before that counts as silence: WASAPI
/// sends no buffers at all while nothing plays.
const LOOPBACK_QUIET: Duration = Duration::from_millis(200);

/// Buffers queued between cpal's thread and the reader (each a callback's worth, ~10 ms):
/// a minute of backlog before the oldest sound would be dropped.
const QUEUE_BUFFERS: usize = 6_000;

/// One open input stream. It must stay on the thread that opened it (cpal's streams are not
/// `Send` on every platform), which is the capture thread's.
pub(super) struct Device {
    _stream: cpal::Stream,
    rx: Receiver<Result<Vec<f32>, String>>,
    /// Device frames queued and not yet read, for [`super::Capture::buffered_ms`].
    queued: Arc<AtomicU64>,
    rate: u32,
    resampler: Resampler,
    ready: VecDeque<f32>,
    /// Resampled sound, reused from block to block.
    out: Vec<f32>,
    /// A loopback source: no data means nothing plays, never that the device is gone.
    loopback: bool,
}

/// Opens the microphone (`index` 0) or the system's sound (`index` 1): a device by name, or
/// the default one.
pub(super) fn open(index: usize, name: Option<&str>) -> Result<Device, String> {
    #[cfg(target_os = "linux")]
    quiet_alsa();
    let host = cpal::default_host();
    let (device, config) = if index == 0 {
        let device = match name {
            Some(n) => find(host.input_devices().map_err(|e| e.to_string())?, n)?,
            None => host.default_input_device().ok_or("no input device")?,
        };
        let config = device.default_input_config().map_err(|e| e.to_string())?;
        (device, config)
    } else {
        system_device(&host, name)?
    };
    let format = config.sample_format();
    let config: StreamConfig = config.into();
    let rate = config.sample_rate.0;
    let (tx, rx) = mpsc::sync_channel(QUEUE_BUFFERS);
    let queued = Arc::new(AtomicU64::new(0));
    let stream = match format {
        SampleFormat::F32 => build::<f32>(&device, &config, tx, queued.clone(), |s| s),
        SampleFormat::I16 => build::<i16>(&device, &config, tx, queued.clone(), |s| f32::from(s) / 32_768.0),
        SampleFormat::I32 => build::<i32>(&device, &config, tx, queued.clone(), |s| s as f32 / 2_147_483_648.0),
        SampleFormat::U16 => {
            build::<u16>(&device, &config, tx, queued.clone(), |s| (f32::from(s) - 32_768.0) / 32_768.0)
        }
        SampleFormat::U8 => build::<u8>(&device, &config, tx, queued.clone(), |s| (f32::from(s) - 128.0) / 128.0),
        other => return Err(format!("the device's sample format ({other}) is not supported")),
    }?;
    stream.play().map_err(|e| e.to_string())?;
    Ok(Device {
        _stream: stream,
        rx,
        queued,
        rate,
        resampler: Resampler::new(rate, SAMPLE_RATE),
        ready: VecDeque::new(),
        out: Vec::new(),
        loopback: index == 1,
    })
}

/// Windows: the default (or named) output device, which WASAPI records in loopback mode.
#[cfg(target_os = "windows")]
fn system_device(host: &cpal::Host, name: Option<&str>) -> Result<(cpal::Device, cpal::SupportedStreamConfig), String> {
    let device = match name {
        Some(n) => find(host.output_devices().map_err(|e| e.to_string())?, n)?,
        None => host.default_output_device().ok_or("no output device")?,
    };
    let config = device.default_output_config().map_err(|e| e.to_string())?;
    Ok((device, config))
}

/// Elsewhere the system's sound is out of cpal's reach; the caller records the microphone.
#[cfg(not(target_os = "windows"))]
fn system_device(_: &cpal::Host, _: Option<&str>) -> Result<(cpal::Device, cpal::SupportedStreamConfig), String> {
    Err(if cfg!(target_os = "macos") {
        "macOS lends it only to ScreenCaptureKit or a virtual audio device, which this version does not use".into()
    } else {
        "ALSA cannot record what plays (it has no monitor sources): that needs PulseAudio or PipeWire".into()
    })
}

fn find(devices: impl Iterator<Item = cpal::Device>, name: &str) -> Result<cpal::Device, String> {
    let mut names = Vec::new();
    for d in devices {
        match d.name() {
            Ok(n) if n == name => return Ok(d),
            Ok(n) => names.push(n),
            Err(_) => {}
        }
    }
    Err(format!("no device named {name:?} (there are: {})", names.join(", ")))
}

/// An input stream whose callback mixes each frame's channels into one sample.
fn build<T: SizedSample + Send + 'static>(
    device: &cpal::Device,
    config: &StreamConfig,
    tx: SyncSender<Result<Vec<f32>, String>>,
    queued: Arc<AtomicU64>,
    to_f32: fn(T) -> f32,
) -> Result<cpal::Stream, String> {
    let channels = usize::from(config.channels.max(1));
    let errors = tx.clone();
    device
        .build_input_stream(
            config,
            move |data: &[T], _: &cpal::InputCallbackInfo| {
                let mono: Vec<f32> = data
                    .chunks(channels)
                    .map(|frame| frame.iter().map(|&s| to_f32(s)).sum::<f32>() / frame.len() as f32)
                    .collect();
                let frames = mono.len() as u64;
                // Counted before it is sent, so the reader never takes away more than was
                // added. A reader a minute behind loses the newest sound rather than blocking
                // the device's thread (which some backends treat as a dead client).
                queued.fetch_add(frames, Ordering::Relaxed);
                if tx.try_send(Ok(mono)).is_err() {
                    queued.fetch_sub(frames, Ordering::Relaxed);
                }
            },
            // Only a device gone is the end: cpal reports the errors it recovers from
            // (an overrun, a poll that failed once) and keeps the stream going.
            move |e| {
                if matches!(e, cpal::StreamError::DeviceNotAvailable) {
                    let _ = errors.try_send(Err("the device went away".into()));
                }
            },
            None,
        )
        .map_err(|e| e.to_string())
}

impl super::Capture for Device {
    fn read(&mut self, block: &mut [i16]) -> Result<(), String> {
        let mut waited = Instant::now();
        while self.ready.len() < block.len() {
            match self.rx.recv_timeout(LOOPBACK_QUIET) {
                Ok(Ok(samples)) => {
                    self.queued.fetch_sub(samples.len() as u64, Ordering::Relaxed);
                    self.out.clear();
                    self.resampler.push(&samples, &mut self.out);
                    self.ready.extend(self.out.iter());
                    waited = Instant::now();
                }
                Ok(Err(e)) => return Err(e),
                // Nothing plays: silence for as long as nothing came.
                Err(RecvTimeoutError::Timeout) if self.loopback => {
                    let quiet = waited.elapsed().as_millis() as usize * SAMPLE_RATE as usize / 1000;
                    self.ready.extend(std::iter::repeat_n(0.0, quiet));
                    waited = Instant::now();
                }
                Err(RecvTimeoutError::Timeout) if waited.elapsed() < SILENT_DEVICE => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no sound from the device for {} s", SILENT_DEVICE.as_secs()))
                }
                Err(RecvTimeoutError::Disconnected) => return Err("the device went away".into()),
            }
        }
        for s in block.iter_mut() {
            let v = self.ready.pop_front().unwrap_or(0.0);
            *s = (v.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
        }
        Ok(())
    }

    fn buffered_ms(&self) -> u64 {
        let device_ms = self.queued.load(Ordering::Relaxed).saturating_mul(1000) / u64::from(self.rate.max(1));
        device_ms + self.ready.len() as u64 * 1000 / u64::from(SAMPLE_RATE)
    }
}

/// ALSA prints its own diagnostics to stderr (a missing card, an unknown PCM: eight lines
/// before cpal's error), which would break the one-line errors the user sees. Its
/// thread-local error handler takes them on the capture thread, where devices are opened;
/// cpal's error is what is reported.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn quiet_alsa() {
    use std::os::raw::{c_char, c_int};
    unsafe extern "C" fn drop_message(
        _: *const c_char,
        _: c_int,
        _: *const c_char,
        _: c_int,
        _: *const c_char,
        _: *mut alsa_sys::__va_list_tag,
    ) {
    }
    // SAFETY: sets this thread's handler to a function that reads none of its arguments;
    // alsa-lib keeps only the pointer.
    unsafe {
        alsa_sys::snd_lib_error_set_local(Some(drop_message));
    }
}

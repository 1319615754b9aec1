//! Reading a recording as a stream of 16 kHz mono samples.
//!
//! Symphonia (pure Rust) demuxes and decodes WAV, MP3, M4A/AAC/ALAC, OGG/Vorbis, FLAC and
//! WebM/MKV. It has no Opus decoder, and Opus is what most calls and browsers record, so a
//! file whose codec Symphonia lacks goes through `ffmpeg` when one is installed, and is
//! otherwise refused in one line that says so. Samples come out in pieces as they decode,
//! so a two-hour file takes no more memory than a few seconds of it. For two-channel files
//! the loudness of each channel is kept per 100 ms: a Frugal recording puts the microphone
//! on the left and the system's sound on the right, and that tells the two speakers apart.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CodecType, Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::protocol::SAMPLE_RATE;
use crate::resample::Resampler;
use crate::Error;

/// Loudness is kept per block of this many milliseconds, per channel.
pub const ENERGY_BLOCK_MS: u64 = 100;

/// Decode errors in a row after which the rest of the file is taken as damaged.
const MAX_BAD_PACKETS: usize = 64;

/// The sample rates a file may say it has: from under telephone quality (8 kHz) to above
/// any studio recorder's (384 kHz).
const MIN_RATE: u32 = 1_000;
const MAX_RATE: u32 = 768_000;

enum Inner {
    Native { format: Box<dyn FormatReader>, decoder: Box<dyn Decoder>, track: u32, buffer: Option<SampleBuffer<f32>> },
    Ffmpeg { child: Child, stdout: ChildStdout },
    Done,
}

/// An open recording.
pub struct Source {
    path: PathBuf,
    inner: Inner,
    /// Channels in the file (what `ffmpeg` reads comes out as one).
    pub channels: usize,
    pub sample_rate: u32,
    /// Length from the file's header, when it says.
    pub duration_ms: Option<u64>,
    /// What the user should know about the file (a damaged tail, a decoder fallback).
    pub notes: Vec<String>,
    resampler: Resampler,
    decoded_frames: u64,
    bad_in_row: usize,
    /// Per-channel mean square per [`ENERGY_BLOCK_MS`], for two-channel files.
    pub energies: Vec<[f32; 2]>,
    block: ([f64; 2], usize),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("path", &self.path).field("channels", &self.channels).finish()
    }
}

fn codec_name(codec: CodecType) -> String {
    use symphonia::core::codecs as c;
    let known = [
        (c::CODEC_TYPE_OPUS, "Opus"),
        (c::CODEC_TYPE_SPEEX, "Speex"),
        (c::CODEC_TYPE_WAVPACK, "WavPack"),
        (c::CODEC_TYPE_MP1, "MPEG-1 Layer I"),
        (c::CODEC_TYPE_ATRAC3, "ATRAC3"),
    ];
    known
        .iter()
        .find(|(t, _)| *t == codec)
        .map_or_else(|| format!("an audio codec ({codec})"), |(_, n)| (*n).to_string())
}

fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Source {
    /// Opens `path`; fails in one line if it is empty, unreadable or not audio.
    pub fn open(path: &Path) -> Result<Source, Error> {
        let file = File::open(path).map_err(|e| Error::Read { path: path.to_path_buf(), message: e.to_string() })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            return Err(Error::EmptyFile(path.to_path_buf()));
        }
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(&ext.to_ascii_lowercase());
        }
        let stream = MediaSourceStream::new(Box::new(file), Default::default());
        // The decoder panics on some headers (a WAV that says 0 Hz): a damaged file, said so.
        let probed = frugal_guard::quietly(|| {
            symphonia::default::get_probe().format(
                &hint,
                stream,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
        })
        .ok_or_else(|| Error::Damaged { path: path.to_path_buf(), why: "its header cannot be decoded".into() })?;
        let format = match probed {
            Ok(p) => p.format,
            // A container Symphonia does not know (WMA, AMR, …): ffmpeg may.
            Err(_) if ffmpeg_available() => return Source::through_ffmpeg(path, None),
            Err(_) => return Err(Error::NotAudio(path.to_path_buf())),
        };
        let Some(track) = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
        else {
            return Err(Error::NoAudioTrack(path.to_path_buf()));
        };
        let params = track.codec_params.clone();
        let track_id = track.id;
        // Below telephone quality or above any recorder's: a damaged header, which would
        // otherwise stretch a few seconds into days of "audio" to resample.
        if let Some(rate) = params.sample_rate.filter(|r| !(MIN_RATE..=MAX_RATE).contains(r)) {
            return Err(Error::Damaged {
                path: path.to_path_buf(),
                why: format!("its header says {rate} samples a second"),
            });
        }
        let made = frugal_guard::quietly(|| symphonia::default::get_codecs().make(&params, &DecoderOptions::default()))
            .ok_or_else(|| Error::Damaged { path: path.to_path_buf(), why: "its audio cannot be decoded".into() })?;
        let decoder = match made {
            Ok(d) => d,
            Err(_) => {
                let codec = codec_name(params.codec);
                if ffmpeg_available() {
                    return Source::through_ffmpeg(path, Some(codec));
                }
                return Err(Error::UnsupportedCodec { path: path.to_path_buf(), codec });
            }
        };
        let sample_rate = params.sample_rate.unwrap_or(SAMPLE_RATE);
        let channels = params.channels.map(|c| c.count()).unwrap_or(1).max(1);
        let duration_ms = params.n_frames.map(|n| n * 1000 / u64::from(sample_rate.max(1)));
        Ok(Source {
            path: path.to_path_buf(),
            inner: Inner::Native { format, decoder, track: track_id, buffer: None },
            channels,
            sample_rate,
            duration_ms,
            notes: Vec::new(),
            resampler: Resampler::new(sample_rate, SAMPLE_RATE),
            decoded_frames: 0,
            bad_in_row: 0,
            energies: Vec::new(),
            block: ([0.0; 2], 0),
        })
    }

    fn through_ffmpeg(path: &Path, codec: Option<String>) -> Result<Source, Error> {
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(path)
            .args(["-vn", "-f", "f32le", "-ac", "1", "-ar", "16000", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::Read { path: path.to_path_buf(), message: format!("cannot start ffmpeg: {e}") })?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(Error::NotAudio(path.to_path_buf()));
        };
        let mut notes = Vec::new();
        if let Some(codec) = codec {
            notes.push(format!("{codec} audio decoded by ffmpeg"));
        }
        Ok(Source {
            path: path.to_path_buf(),
            inner: Inner::Ffmpeg { child, stdout },
            channels: 1,
            sample_rate: SAMPLE_RATE,
            duration_ms: None,
            notes,
            resampler: Resampler::new(SAMPLE_RATE, SAMPLE_RATE),
            decoded_frames: 0,
            bad_in_row: 0,
            energies: Vec::new(),
            block: ([0.0; 2], 0),
        })
    }

    /// Milliseconds of audio decoded so far.
    pub fn position_ms(&self) -> u64 {
        self.decoded_frames * 1000 / u64::from(self.sample_rate.max(1))
    }

    /// Appends the next decoded piece, as 16 kHz mono, to `out`; `false` once the file is over.
    pub fn next_into(&mut self, out: &mut Vec<f32>) -> Result<bool, Error> {
        match &mut self.inner {
            Inner::Done => Ok(false),
            Inner::Ffmpeg { stdout, .. } => {
                let mut bytes = vec![0u8; 64 * 1024];
                let mut filled = 0;
                while filled < bytes.len() {
                    match stdout.read(&mut bytes[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::Read { path: self.path.clone(), message: e.to_string() }),
                    }
                }
                let samples = filled / 4;
                out.extend(bytes[..samples * 4].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
                self.decoded_frames += samples as u64;
                if filled < bytes.len() {
                    self.finish_ffmpeg()?;
                    return Ok(samples > 0);
                }
                Ok(true)
            }
            Inner::Native { .. } => self.next_native(out),
        }
    }

    fn finish_ffmpeg(&mut self) -> Result<(), Error> {
        if let Inner::Ffmpeg { mut child, .. } = std::mem::replace(&mut self.inner, Inner::Done) {
            let ok = child.wait().is_ok_and(|s| s.success());
            if !ok && self.decoded_frames == 0 {
                return Err(Error::NotAudio(self.path.clone()));
            }
            if !ok {
                self.notes.push(format!(
                    "the audio is damaged after {}; transcribed what came before",
                    clock(self.position_ms())
                ));
            }
        }
        Ok(())
    }

    fn next_native(&mut self, out: &mut Vec<f32>) -> Result<bool, Error> {
        let Inner::Native { format, decoder, track, buffer } = &mut self.inner else { return Ok(false) };
        loop {
            let packet = match format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => return self.end(out),
                Err(SymError::ResetRequired) => return self.end(out),
                Err(SymError::IoError(e)) => {
                    return Err(Error::Read { path: self.path.clone(), message: e.to_string() });
                }
                Err(_) => {
                    self.bad_in_row += 1;
                    if self.bad_in_row > MAX_BAD_PACKETS {
                        return self.damaged(out);
                    }
                    continue;
                }
            };
            if packet.track_id() != *track {
                continue;
            }
            let Some(decoded) = frugal_guard::quietly(|| decoder.decode(&packet)) else {
                return self.damaged(out);
            };
            let decoded = match decoded {
                Ok(d) => d,
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                    self.bad_in_row += 1;
                    if self.bad_in_row > MAX_BAD_PACKETS {
                        return self.damaged(out);
                    }
                    continue;
                }
                Err(_) => return self.damaged(out),
            };
            self.bad_in_row = 0;
            let spec = *decoded.spec();
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let needs_new = buffer.as_ref().is_none_or(|b| b.capacity() < decoded.capacity() * spec.channels.count());
            if needs_new {
                *buffer = Some(SampleBuffer::<f32>::new(decoded.capacity() as u64, spec));
            }
            let Some(buffer) = buffer.as_mut() else { continue };
            buffer.copy_interleaved_ref(decoded);
            let channels = spec.channels.count().max(1);
            let samples = &buffer.samples()[..frames * channels];
            let mono: Vec<f32> =
                samples.chunks_exact(channels).map(|f| f.iter().sum::<f32>() / channels as f32).collect();
            if channels == 2 {
                let per_block = (u64::from(self.sample_rate) * ENERGY_BLOCK_MS / 1000).max(1) as usize;
                for f in samples.chunks_exact(2) {
                    self.block.0[0] += f64::from(f[0]) * f64::from(f[0]);
                    self.block.0[1] += f64::from(f[1]) * f64::from(f[1]);
                    self.block.1 += 1;
                    if self.block.1 == per_block {
                        self.energies.push([
                            (self.block.0[0] / per_block as f64) as f32,
                            (self.block.0[1] / per_block as f64) as f32,
                        ]);
                        self.block = ([0.0; 2], 0);
                    }
                }
            }
            self.decoded_frames += frames as u64;
            self.resampler.push(&mono, out);
            return Ok(true);
        }
    }

    fn damaged(&mut self, out: &mut Vec<f32>) -> Result<bool, Error> {
        if self.decoded_frames == 0 {
            return Err(Error::NotAudio(self.path.clone()));
        }
        self.notes
            .push(format!("the audio is damaged after {}; transcribed what came before", clock(self.position_ms())));
        self.end(out)
    }

    fn end(&mut self, out: &mut Vec<f32>) -> Result<bool, Error> {
        self.inner = Inner::Done;
        self.resampler.finish(out);
        if self.decoded_frames == 0 {
            return Err(Error::NotAudio(self.path.clone()));
        }
        if let Some(expected) = self.duration_ms {
            let got = self.position_ms();
            // A header promising more than is there: a recording cut off (a crash, a copy
            // that stopped). What is there is still worth transcribing.
            if got + 1000 < expected && !self.notes.iter().any(|n| n.contains("damaged")) {
                self.notes.push(format!(
                    "the file ends early, at {} of {}; transcribed what was there",
                    clock(got),
                    clock(expected)
                ));
            }
        }
        Ok(true)
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Inner::Ffmpeg { child, .. } = &mut self.inner {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `H:MM:SS` or `M:SS`, for messages.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

//! Streaming sample-rate conversion to 16 kHz, the rate Whisper hears at.
//!
//! A windowed-sinc interpolator: each output sample is the input around it weighted by a
//! low-pass sinc (cut below the lower of the two Nyquist frequencies, so downsampling from
//! 44.1 or 48 kHz does not fold high frequencies into speech) under a Blackman window. It
//! keeps only the few dozen input samples the next output needs, so a two-hour file streams
//! through in constant memory. Quality beyond this buys Whisper nothing measurable; a
//! dependency buys a moving API.

/// Taps on each side of the centre at the cutoff's own scale.
const ZERO_CROSSINGS: f64 = 16.0;

#[derive(Debug)]
pub struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Normalised cutoff (1.0 = the input's Nyquist frequency).
    cutoff: f64,
    half: usize,
    /// Position of the next output sample in `history`.
    pos: f64,
    history: Vec<f32>,
    passthrough: bool,
}

impl Resampler {
    pub fn new(from_hz: u32, to_hz: u32) -> Self {
        let step = f64::from(from_hz.max(1)) / f64::from(to_hz.max(1));
        let cutoff = (1.0 / step).min(1.0) * 0.95;
        let half = (ZERO_CROSSINGS / cutoff).ceil() as usize;
        Resampler {
            step,
            cutoff,
            half,
            pos: half as f64,
            // Silence before the first sample, so the first outputs have a full kernel.
            history: vec![0.0; half],
            passthrough: from_hz == to_hz,
        }
    }

    /// Converts `input` and appends what can be computed so far to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.passthrough {
            out.extend_from_slice(input);
            return;
        }
        self.history.extend_from_slice(input);
        self.drain(out);
    }

    /// Flushes the last samples (the input is over).
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.passthrough {
            return;
        }
        let end = self.history.len() as f64;
        self.history.extend(std::iter::repeat_n(0.0, self.half + 1));
        while self.pos < end {
            out.push(self.sample_at(self.pos));
            self.pos += self.step;
        }
        self.history.clear();
    }

    fn drain(&mut self, out: &mut Vec<f32>) {
        while self.pos + (self.half as f64) + 1.0 < self.history.len() as f64 {
            out.push(self.sample_at(self.pos));
            self.pos += self.step;
        }
        let consumed = (self.pos.floor() as usize).saturating_sub(self.half);
        if consumed > 0 {
            self.history.drain(..consumed);
            self.pos -= consumed as f64;
        }
    }

    fn sample_at(&self, pos: f64) -> f32 {
        let centre = pos.floor() as isize;
        let first = (centre - self.half as isize + 1).max(0) as usize;
        let last = ((centre + self.half as isize) as usize).min(self.history.len().saturating_sub(1));
        let mut acc = 0.0f64;
        for i in first..=last {
            let x = i as f64 - pos;
            let w = x / (self.half as f64 + 1.0);
            if w.abs() >= 1.0 {
                continue;
            }
            let t = std::f64::consts::PI * self.cutoff * x;
            let sinc = if t.abs() < 1e-9 { 1.0 } else { t.sin() / t };
            // Blackman window over [-1, 1].
            let a = std::f64::consts::PI * (w + 1.0);
            let window = 0.42 - 0.5 * a.cos() + 0.08 * (2.0 * a).cos();
            acc += f64::from(self.history[i]) * self.cutoff * sinc * window;
        }
        acc as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n).map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() as f32 * 0.5).collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn length_follows_the_ratio_in_any_chunking() {
        for (from, chunk) in [(48_000u32, 1000usize), (44_100, 333), (8_000, 17), (22_050, 4096)] {
            let input = tone(440.0, from, 2.0);
            let mut r = Resampler::new(from, 16_000);
            let mut out = Vec::new();
            for c in input.chunks(chunk) {
                r.push(c, &mut out);
            }
            r.finish(&mut out);
            let expected = 32_000f64;
            assert!((out.len() as f64 - expected).abs() <= 2.0, "{from} Hz: {} samples", out.len());
        }
    }

    #[test]
    fn speech_band_tones_keep_their_level_and_high_tones_are_removed() {
        let mut r = Resampler::new(48_000, 16_000);
        let mut out = Vec::new();
        r.push(&tone(1000.0, 48_000, 1.0), &mut out);
        r.finish(&mut out);
        let kept = rms(&out[1000..15_000]);
        assert!((kept - 0.5 / 2f64.sqrt()).abs() < 0.02, "1 kHz came out at rms {kept}");

        // 12 kHz is above 16 kHz's Nyquist: it must not fold down into the speech band.
        let mut r = Resampler::new(48_000, 16_000);
        let mut out = Vec::new();
        r.push(&tone(12_000.0, 48_000, 1.0), &mut out);
        r.finish(&mut out);
        assert!(rms(&out[1000..15_000]) < 0.01, "12 kHz leaked through at rms {}", rms(&out[1000..15_000]));
    }

    #[test]
    fn sixteen_kilohertz_passes_through_untouched() {
        let input = tone(300.0, 16_000, 0.1);
        let mut r = Resampler::new(16_000, 16_000);
        let mut out = Vec::new();
        r.push(&input, &mut out);
        r.finish(&mut out);
        assert_eq!(out, input);
    }
}

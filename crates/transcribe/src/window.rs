//! Cutting a stream of samples into windows for the recogniser.
//!
//! Whisper hears 30 s at a time, so windows just under that are one pass of its encoder each
//! (core's `speech.rs` says what was measured), and memory stays at one window for any
//! length of recording. Each window is cut at the quietest moment near its end: a cut in a
//! pause splits no word.

use crate::protocol::SAMPLE_RATE;

/// Loudness is compared over frames this long when looking for a pause.
const FRAME: usize = SAMPLE_RATE as usize / 50;

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// First sample's position in the recording.
    pub offset: u64,
    pub samples: Vec<f32>,
}

impl Window {
    pub fn offset_ms(&self) -> u64 {
        self.offset * 1000 / u64::from(SAMPLE_RATE)
    }
}

#[derive(Debug)]
pub struct Windower {
    target: usize,
    search: usize,
    buffer: Vec<f32>,
    offset: u64,
}

impl Windower {
    /// Windows of about `target_secs`, cut at the quietest point of the last `search_secs`.
    pub fn new(target_secs: u32, search_secs: u32) -> Self {
        let target = (target_secs.max(2) * SAMPLE_RATE) as usize;
        let search = ((search_secs * SAMPLE_RATE) as usize).min(target / 2);
        Windower { target, search, buffer: Vec::with_capacity(target + SAMPLE_RATE as usize), offset: 0 }
    }

    /// Adds samples; returns a window once enough have gathered.
    pub fn push(&mut self, samples: &[f32]) -> Option<Window> {
        self.buffer.extend_from_slice(samples);
        if self.buffer.len() < self.target {
            return None;
        }
        let cut = self.quietest(self.target - self.search, self.target);
        let rest = self.buffer.split_off(cut);
        let window = Window { offset: self.offset, samples: std::mem::replace(&mut self.buffer, rest) };
        self.offset += cut as u64;
        Some(window)
    }

    /// The samples left at the end of the stream, if any.
    pub fn finish(&mut self) -> Option<Window> {
        if self.buffer.is_empty() {
            return None;
        }
        let samples = std::mem::take(&mut self.buffer);
        let window = Window { offset: self.offset, samples };
        self.offset += window.samples.len() as u64;
        Some(window)
    }

    /// Samples gathered and not yet sent.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// The start of the quietest frame in `from..to`: where a cut splits no word.
    fn quietest(&self, from: usize, to: usize) -> usize {
        let mut best = (f64::INFINITY, to);
        let mut start = from;
        while start + FRAME <= to {
            let energy: f64 = self.buffer[start..start + FRAME].iter().map(|s| f64::from(*s).powi(2)).sum();
            // Ties go to the later frame: longer windows, fewer cuts.
            if energy <= best.0 {
                best = (energy, start + FRAME / 2);
            }
            start += FRAME;
        }
        best.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_in_the_pause_and_loses_no_sample() {
        let rate = SAMPLE_RATE as usize;
        // 10 s of "speech" with a pause from 7.0 to 7.3 s.
        let mut audio = vec![0.5f32; 10 * rate];
        for s in &mut audio[7 * rate..7 * rate + rate * 3 / 10] {
            *s = 0.0;
        }
        let mut w = Windower::new(8, 2);
        let mut windows = Vec::new();
        for chunk in audio.chunks(1234) {
            windows.extend(w.push(chunk));
        }
        windows.extend(w.finish());
        let first = &windows[0];
        let cut = first.samples.len();
        assert!(cut > 7 * rate && cut < 7 * rate + rate * 3 / 10, "cut at {cut}, not in the pause");
        let total: usize = windows.iter().map(|w| w.samples.len()).sum();
        assert_eq!(total, audio.len());
        assert_eq!(windows[1].offset, cut as u64);
    }

    #[test]
    fn a_short_recording_is_one_window() {
        let mut w = Windower::new(60, 10);
        assert!(w.push(&[0.1; 16_000]).is_none());
        let last = w.finish().expect("one window");
        assert_eq!((last.offset, last.samples.len()), (0, 16_000));
        assert!(w.finish().is_none());
    }
}

//! A WAV file written as it records, readable at any moment.
//!
//! The header's sizes are rewritten every second and the data synced every few, so a crash
//! or a pulled plug costs seconds, not the meeting. A `LIST/INFO` comment marks the layout
//! of Frugal's own recordings (microphone left, the system's sound right), which is how a
//! transcript of one later tells the two speakers apart.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The comment Frugal's recordings carry.
pub const LAYOUT_COMMENT: &str = "frugal recording: left=microphone right=system";

#[derive(Debug)]
pub struct WavWriter {
    file: File,
    data_start: u64,
    data_bytes: u64,
    channels: u16,
}

impl WavWriter {
    /// Creates `path` (refusing to replace a file) with 16-bit samples.
    pub fn create(path: &Path, channels: u16, rate: u32, comment: &str) -> std::io::Result<WavWriter> {
        let mut file = File::options().write(true).create_new(true).open(path)?;
        let mut info = b"INFOICMT".to_vec();
        let mut text = comment.as_bytes().to_vec();
        text.push(0);
        if text.len() % 2 == 1 {
            text.push(0);
        }
        info.extend_from_slice(&(text.len() as u32).to_le_bytes());
        info.extend_from_slice(&text);
        let block_align = channels * 2;
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
        h.extend_from_slice(&block_align.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"LIST");
        h.extend_from_slice(&(info.len() as u32).to_le_bytes());
        h.extend_from_slice(&info);
        h.extend_from_slice(b"data");
        h.extend_from_slice(&0u32.to_le_bytes());
        file.write_all(&h)?;
        let mut w = WavWriter { file, data_start: h.len() as u64, data_bytes: 0, channels };
        w.update_header()?;
        Ok(w)
    }

    /// Appends interleaved frames.
    pub fn write(&mut self, samples: &[i16]) -> std::io::Result<()> {
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.file.seek(SeekFrom::Start(self.data_start + self.data_bytes))?;
        self.file.write_all(&bytes)?;
        self.data_bytes += bytes.len() as u64;
        Ok(())
    }

    /// Makes the sizes in the header match what is written, so the file reads as complete.
    pub fn update_header(&mut self) -> std::io::Result<()> {
        let data = u32::try_from(self.data_bytes).unwrap_or(u32::MAX);
        let riff = u32::try_from(self.data_start - 8 + self.data_bytes).unwrap_or(u32::MAX);
        self.file.seek(SeekFrom::Start(4))?;
        self.file.write_all(&riff.to_le_bytes())?;
        self.file.seek(SeekFrom::Start(self.data_start - 4))?;
        self.file.write_all(&data.to_le_bytes())?;
        Ok(())
    }

    /// Header updated and the data on disk.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.update_header()?;
        self.file.sync_data()
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.data_bytes / (u64::from(self.channels) * 2)
    }
}

/// Whether `path` is one of Frugal's two-speaker recordings (by its WAV comment).
pub fn is_frugal_recording(path: &Path) -> bool {
    let Ok(mut f) = File::open(path) else { return false };
    let mut head = vec![0u8; 512];
    let Ok(n) = f.read(&mut head) else { return false };
    head.truncate(n);
    head.starts_with(b"RIFF") && head.windows(LAYOUT_COMMENT.len()).any(|w| w == LAYOUT_COMMENT.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_cut_mid_recording_reads_up_to_its_last_header_update() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.wav");
        let mut w = WavWriter::create(&path, 2, 16_000, LAYOUT_COMMENT).expect("create");
        w.write(&vec![1000i16; 2 * 16_000]).expect("write");
        w.sync().expect("sync");
        // More written but the header never updated, as after a crash.
        w.write(&vec![1000i16; 2 * 8_000]).expect("write");
        drop(w);
        assert!(is_frugal_recording(&path));
        let mut source = crate::audio::Source::open(&path).expect("opens");
        let mut out = Vec::new();
        while source.next_into(&mut out).expect("decodes") {}
        assert_eq!(source.channels, 2);
        assert!(source.position_ms() >= 1000, "{} ms", source.position_ms());
        assert!(WavWriter::create(&path, 2, 16_000, "").is_err(), "an existing recording is never replaced");
    }
}

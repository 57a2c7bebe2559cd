//! 16-bit PCM mono WAV, written and read (the corpus' audio files).

use std::io::{Read, Write};
use std::path::Path;

use super::CorpusError;

fn io_err(path: &Path, e: std::io::Error) -> CorpusError {
    CorpusError::Io { path: path.to_path_buf(), source: e }
}

/// Write samples in -1..1 (clipped) as 16-bit PCM mono.
pub fn write_wav(path: &Path, sample_rate: u32, samples: &[f32]) -> Result<(), CorpusError> {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&sample_rate.to_le_bytes());
    b.extend_from_slice(&(sample_rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes());
    }
    let mut f = std::fs::File::create(path).map_err(|e| io_err(path, e))?;
    f.write_all(&b).map_err(|e| io_err(path, e))
}

/// Read a 16-bit PCM mono WAV written by [`write_wav`]: (sample rate, samples in -1..1).
pub fn read_wav(path: &Path) -> Result<(u32, Vec<f32>), CorpusError> {
    let mut b = Vec::new();
    std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut b)).map_err(|e| io_err(path, e))?;
    let bad = |msg: &str| CorpusError::Format { path: path.to_path_buf(), msg: msg.to_string() };
    if b.len() < 44 || &b[0..4] != b"RIFF" || &b[8..16] != b"WAVEfmt " {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let u16at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    if u16at(20) != 1 || u16at(22) != 1 || u16at(34) != 16 || &b[36..40] != b"data" {
        return Err(bad("expected 16-bit PCM mono with the data chunk right after fmt"));
    }
    let n = (u32at(40) as usize).min(b.len() - 44) / 2;
    let samples = (0..n).map(|i| i16::from_le_bytes([b[44 + 2 * i], b[45 + 2 * i]]) as f32 / 32767.0).collect();
    Ok((u32at(24), samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        write_wav(&p, 24_000, &[0.0, 0.5, -0.5, 1.0]).unwrap();
        let (sr, s) = read_wav(&p).unwrap();
        assert_eq!(sr, 24_000);
        assert!((s[1] - 0.5).abs() < 1e-4 && (s[3] - 1.0).abs() < 1e-6);
        std::fs::write(&p, b"nope").unwrap();
        assert!(read_wav(&p).unwrap_err().to_string().contains("a.wav"));
    }
}

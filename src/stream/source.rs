//! What feeds the outputs: the [`AvSource`] trait (one video frame and the audio that plays during it, per call)
//! and a built-in [`TestSource`] (moving test pattern or a still portrait, tone / looped WAV / silence, and a
//! sync-probe mode: an audio click and a white marker on the same frame, to measure A/V offset end to end).

use std::path::{Path, PathBuf};

use super::{Rates, StreamError, StreamFormat};

/// When a chunk plays: frame `index` and its PTS on the pipeline clock (`index / fps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkTime {
    pub index: u64,
    pub pts_ns: u64,
}

/// One video frame (packed RGB, `width * height * 3` bytes) and the mono f32 audio that plays during it
/// (exactly `samples_per_frame` samples at the stream's sample rate).
#[derive(Debug, Clone, Default)]
pub struct AvChunk {
    pub rgb: Vec<u8>,
    pub audio: Vec<f32>,
}

/// A producer of synchronized video + audio. The streamer calls [`AvSource::fill`] once per frame, in order,
/// with the frame's time; the source writes the frame and its audio into `out` (buffers are reused).
/// The model + renderer pipeline (audio front end, sampler, renderer) implements this to drive the outputs.
pub trait AvSource: Send {
    /// Frame size, rate and sample rate this source produces; fixed for its lifetime.
    fn format(&self) -> StreamFormat;
    /// Produce the chunk that plays at `time`. A source that falls behind must still return a frame (hold or
    /// extrapolate) so the stream never freezes; the streamer counts late chunks.
    fn fill(&mut self, time: ChunkTime, out: &mut AvChunk) -> Result<(), StreamError>;
}

/// Video of the test source.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoKind {
    /// Colour bars with a moving square (so a frozen stream is obvious).
    Pattern,
    /// A still image (resized to the stream size) with a thin moving bar along the bottom edge.
    Portrait(PathBuf),
}

/// Audio of the test source.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioKind {
    Silence,
    /// A sine tone (amplitude 0.2).
    Tone {
        hz: f32,
    },
    /// A WAV file at the stream's sample rate (any channel count, mixed to mono), played in a loop.
    Wav(PathBuf),
}

/// Settings of the [`TestSource`].
#[derive(Debug, Clone, PartialEq)]
pub struct TestSourceConfig {
    pub width: u32,
    pub height: u32,
    /// Frame and sample rate (the model package's, or the model defaults).
    pub rates: Rates,
    pub video: VideoKind,
    pub audio: AudioKind,
    /// Sync probe: every `period_frames` frames, a click in the audio starting at the first sample of the frame
    /// and a white marker over the top half of that frame; black and silent otherwise. Overrides video and audio.
    pub sync_probe: Option<u32>,
}

/// Samples of the sync-probe click (10 ms at 24 kHz; a 1 kHz burst survives AAC/Opus with a sharp onset).
const CLICK_MS: u32 = 10;

/// The built-in source: test pattern or portrait, tone / WAV / silence, or the sync probe.
pub struct TestSource {
    format: StreamFormat,
    cfg: TestSourceConfig,
    portrait: Option<Vec<u8>>,
    wav: Vec<f32>,
    wav_pos: usize,
    sample_index: u64,
}

impl TestSource {
    pub fn new(cfg: TestSourceConfig) -> Result<Self, StreamError> {
        let format = StreamFormat::new(cfg.width, cfg.height, cfg.rates);
        format.check()?;
        let portrait = match &cfg.video {
            VideoKind::Portrait(path) => Some(load_portrait(path, cfg.width, cfg.height)?),
            VideoKind::Pattern => None,
        };
        let wav = match &cfg.audio {
            AudioKind::Wav(path) => load_wav_mono(path, format.sample_rate)?,
            _ => Vec::new(),
        };
        Ok(Self { format, cfg, portrait, wav, wav_pos: 0, sample_index: 0 })
    }

    fn fill_video(&self, index: u64, rgb: &mut Vec<u8>) {
        let (w, h) = (self.cfg.width as usize, self.cfg.height as usize);
        rgb.resize(w * h * 3, 0);
        if let Some(period) = self.cfg.sync_probe {
            rgb.fill(0);
            if index % period as u64 == 0 {
                rgb[..w * (h / 2) * 3].fill(255);
            }
            return;
        }
        match &self.portrait {
            Some(img) => {
                rgb.copy_from_slice(img);
                // A bar sweeping along the bottom edge: the stream visibly moves.
                let bar_w = (w / 16).max(2);
                let x0 = (index as usize * 4) % w;
                for y in h.saturating_sub(h / 32).max(1)..h {
                    for x in x0..(x0 + bar_w).min(w) {
                        rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[255, 200, 0]);
                    }
                }
            }
            None => {
                const BARS: [[u8; 3]; 7] = [
                    [192, 192, 192],
                    [192, 192, 0],
                    [0, 192, 192],
                    [0, 192, 0],
                    [192, 0, 192],
                    [192, 0, 0],
                    [0, 0, 192],
                ];
                for y in 0..h {
                    for x in 0..w {
                        let c = BARS[x * BARS.len() / w];
                        rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
                    }
                }
                let side = (w.min(h) / 6).max(2);
                let x0 = (index as usize * 3) % (w - side + 1);
                let y0 = (index as usize * 2) % (h - side + 1);
                for y in y0..y0 + side {
                    for x in x0..x0 + side {
                        rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[255, 255, 255]);
                    }
                }
            }
        }
    }

    fn fill_audio(&mut self, index: u64, audio: &mut Vec<f32>) {
        let n = self.format.samples_per_frame();
        audio.resize(n, 0.0);
        let sr = self.format.sample_rate as f32;
        if let Some(period) = self.cfg.sync_probe {
            audio.fill(0.0);
            if index % period as u64 == 0 {
                let click = (self.format.sample_rate * CLICK_MS / 1000) as usize;
                for (i, s) in audio.iter_mut().take(click).enumerate() {
                    *s = 0.8 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / sr).sin();
                }
            }
        } else {
            match &self.cfg.audio {
                AudioKind::Silence => audio.fill(0.0),
                AudioKind::Tone { hz } => {
                    for (i, s) in audio.iter_mut().enumerate() {
                        let t = (self.sample_index + i as u64) as f64 / sr as f64;
                        *s = 0.2 * (2.0 * std::f64::consts::PI * *hz as f64 * t).sin() as f32;
                    }
                }
                AudioKind::Wav(_) => {
                    for s in audio.iter_mut() {
                        *s = if self.wav.is_empty() { 0.0 } else { self.wav[self.wav_pos] };
                        self.wav_pos = (self.wav_pos + 1) % self.wav.len().max(1);
                    }
                }
            }
        }
        self.sample_index += n as u64;
    }
}

impl AvSource for TestSource {
    fn format(&self) -> StreamFormat {
        self.format
    }

    fn fill(&mut self, time: ChunkTime, out: &mut AvChunk) -> Result<(), StreamError> {
        self.fill_video(time.index, &mut out.rgb);
        self.fill_audio(time.index, &mut out.audio);
        Ok(())
    }
}

/// Load an image file and resize it to exactly `width` x `height` packed RGB.
pub fn load_portrait(path: &Path, width: u32, height: u32) -> Result<Vec<u8>, StreamError> {
    let img = image::open(path)
        .map_err(|e| StreamError::File { path: path.to_path_buf(), message: format!("cannot read image: {e}") })?;
    let rgb = img.resize_exact(width, height, image::imageops::FilterType::Triangle).to_rgb8();
    Ok(rgb.into_raw())
}

/// Read a WAV file as mono f32 at `sample_rate` (channels averaged, resampled by the audio front end).
pub fn load_wav_mono(path: &Path, sample_rate: u32) -> Result<Vec<f32>, StreamError> {
    // The audio front end reads any PCM/float WAV, averages channels and resamples.
    crate::audio::wav::load_mono(path, sample_rate)
        .map_err(|e| StreamError::File { path: path.to_path_buf(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> TestSource {
        TestSource::new(TestSourceConfig {
            width: 32,
            height: 16,
            rates: crate::stream::tests::RATES,
            video: VideoKind::Pattern,
            audio: AudioKind::Silence,
            sync_probe: Some(25),
        })
        .unwrap()
    }

    #[test]
    fn sync_probe_marks_click_frames_only() {
        let mut s = probe();
        let mut c = AvChunk::default();
        s.fill(ChunkTime { index: 0, pts_ns: 0 }, &mut c).unwrap();
        assert_eq!(c.rgb.len(), 32 * 16 * 3);
        assert_eq!(c.audio.len(), 960);
        assert_eq!(c.rgb[0], 255);
        assert!(c.audio.iter().any(|s| s.abs() > 0.5));
        s.fill(ChunkTime { index: 1, pts_ns: 40_000_000 }, &mut c).unwrap();
        assert!(c.rgb.iter().all(|&b| b == 0));
        assert!(c.audio.iter().all(|&s| s == 0.0));
    }

    #[test]
    fn wav_is_mixed_to_mono_and_looped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("st.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 24000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for _ in 0..100 {
            w.write_sample(16384i16).unwrap(); // left 0.5
            w.write_sample(0i16).unwrap(); // right 0
        }
        w.finalize().unwrap();
        let mono = load_wav_mono(&p, 24000).unwrap();
        assert_eq!(mono.len(), 100);
        assert!((mono[0] - 0.25).abs() < 1e-6);
        let mut s = TestSource::new(TestSourceConfig {
            width: 16,
            height: 16,
            rates: crate::stream::tests::RATES,
            video: VideoKind::Pattern,
            audio: AudioKind::Wav(p),
            sync_probe: None,
        })
        .unwrap();
        let mut c = AvChunk::default();
        s.fill(ChunkTime { index: 0, pts_ns: 0 }, &mut c).unwrap();
        assert_eq!(c.audio.len(), 960, "a 100-sample file loops to fill a frame");
        assert!(c.audio.iter().all(|v| (v - 0.25).abs() < 1e-6));
    }

    #[test]
    fn wav_of_another_rate_is_resampled_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for _ in 0..1600 {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(load_wav_mono(&p, 24000).unwrap().len(), 2400);
        std::fs::write(&p, b"RIFF....not a wav").unwrap();
        let e = load_wav_mono(&p, 24000).unwrap_err().to_string();
        assert!(e.contains("a.wav"), "{e}");
    }
}

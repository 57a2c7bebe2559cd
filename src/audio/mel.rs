//! The F5-TTS / Vocos log-mel spectrogram, equal to `f5_tts.model.modules.get_vocos_mel_spectrogram`
//! (torchaudio `MelSpectrogram(power=1, center=True, pad_mode="reflect", norm=None, mel_scale="htk")`
//! followed by `log(clamp(x, 1e-5))`), computed in f64 and returned as f32 `[frames, n_mels]`.
//!
//! Like `torch.stft`, a centred reflect-padded STFT needs more than `n_fft / 2` samples; shorter signals are an
//! error ([`MelSpec::min_len`]). [`MelStream`] gives the same frames from a signal arriving in chunks.

use std::sync::Arc;

use super::stft::{too_short, Stft, C64};
use super::AudioError;
use crate::model::config::AudioConfig;

/// `log(clamp(x, LOG_FLOOR))`.
pub const LOG_FLOOR: f64 = 1e-5;

/// A log-mel spectrogram: row-major `[frames, n_mels]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mel {
    pub frames: usize,
    pub n_mels: usize,
    pub data: Vec<f32>,
}

impl Mel {
    /// One frame's `n_mels` values.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * self.n_mels..(t + 1) * self.n_mels]
    }
}

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// torchaudio's `melscale_fbanks(n_freqs, f_min=0, f_max=sr//2, n_mels, sr, norm=None, mel_scale="htk")`,
/// stored as `[n_mels][n_freqs]`.
pub fn mel_filterbank(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<Vec<f64>> {
    let n_freqs = n_fft / 2 + 1;
    let f_max = (sample_rate / 2) as f64;
    let all_freqs: Vec<f64> =
        (0..n_freqs).map(|i| if n_freqs == 1 { 0.0 } else { f_max * i as f64 / (n_freqs - 1) as f64 }).collect();
    let (m_min, m_max) = (hz_to_mel(0.0), hz_to_mel(f_max));
    let f_pts: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz(m_min + (m_max - m_min) * i as f64 / (n_mels + 1) as f64)).collect();
    (0..n_mels)
        .map(|m| {
            let (lo, c, hi) = (f_pts[m], f_pts[m + 1], f_pts[m + 2]);
            all_freqs
                .iter()
                .map(|&f| {
                    let down = (f - lo) / (c - lo);
                    let up = (hi - f) / (hi - c);
                    down.min(up).max(0.0)
                })
                .collect()
        })
        .collect()
}

/// Sparse filter: first bin and weights.
#[derive(Debug, Clone)]
struct Filter {
    start: usize,
    weights: Vec<f64>,
}

/// The mel transform of one [`AudioConfig`].
#[derive(Debug, Clone)]
pub struct MelSpec {
    cfg: AudioConfig,
    stft: Arc<Stft>,
    filters: Vec<Filter>,
}

impl MelSpec {
    pub fn new(cfg: &AudioConfig) -> Result<Self, AudioError> {
        if cfg.n_mels == 0 || cfg.sample_rate == 0 {
            return Err(AudioError::Signal(format!(
                "mel settings: expected n_mels > 0 and sample_rate > 0, got {} and {}",
                cfg.n_mels, cfg.sample_rate
            )));
        }
        let stft = Stft::new(cfg.n_fft, cfg.win_length, cfg.hop_length)?;
        let filters = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels)
            .into_iter()
            .map(|w| {
                let start = w.iter().position(|&v| v > 0.0).unwrap_or(0);
                let end = w.iter().rposition(|&v| v > 0.0).map(|e| e + 1).unwrap_or(start);
                Filter { start, weights: w[start..end].to_vec() }
            })
            .collect();
        Ok(Self { cfg: cfg.clone(), stft: Arc::new(stft), filters })
    }

    pub fn config(&self) -> &AudioConfig {
        &self.cfg
    }

    /// Shortest accepted signal (`n_fft / 2 + 1` samples).
    pub fn min_len(&self) -> usize {
        self.stft.min_len()
    }

    /// Frames of a signal of `len` samples (`1 + len / hop`).
    pub fn frames_for(&self, len: usize) -> usize {
        self.stft.frames(len)
    }

    /// The log-mel spectrogram of a mono signal at `cfg.sample_rate`.
    pub fn compute(&self, x: &[f32]) -> Result<Mel, AudioError> {
        if x.len() < self.min_len() {
            return Err(too_short(x.len(), self.min_len()));
        }
        let n = self.frames_for(x.len());
        let mut data = Vec::with_capacity(n * self.cfg.n_mels);
        let mut w = Work::new(&self.stft);
        for t in 0..n {
            self.stft.gather_frame(t, x.len(), |i| x[i] as f64, &mut w.frame);
            self.finish_frame(&mut w, &mut data);
        }
        Ok(Mel { frames: n, n_mels: self.cfg.n_mels, data })
    }

    /// Window + FFT + magnitude + mel + log of `w.frame`, appended to `out`.
    fn finish_frame(&self, w: &mut Work, out: &mut Vec<f32>) {
        self.stft.frame_spectrum(&mut w.frame, &mut w.spec);
        for (m, s) in w.mag.iter_mut().zip(&w.spec) {
            *m = s.norm();
        }
        for f in &self.filters {
            let e: f64 = f.weights.iter().zip(&w.mag[f.start..]).map(|(a, b)| a * b).sum();
            out.push(e.max(LOG_FLOOR).ln() as f32);
        }
    }

    /// Magnitudes `[frames][bins]` -> log-mel (used by tests of the vocoders).
    pub fn mel_of_magnitudes(&self, mags: &[Vec<f64>]) -> Mel {
        let mut data = Vec::with_capacity(mags.len() * self.cfg.n_mels);
        for mag in mags {
            for f in &self.filters {
                let e: f64 = f.weights.iter().zip(&mag[f.start..]).map(|(a, b)| a * b).sum();
                data.push(e.max(LOG_FLOOR).ln() as f32);
            }
        }
        Mel { frames: mags.len(), n_mels: self.cfg.n_mels, data }
    }

    /// The dense filterbank `[n_mels][bins]`.
    pub fn filterbank(&self) -> Vec<Vec<f64>> {
        let bins = self.stft.bins();
        self.filters
            .iter()
            .map(|f| {
                let mut row = vec![0.0; bins];
                row[f.start..f.start + f.weights.len()].copy_from_slice(&f.weights);
                row
            })
            .collect()
    }

    /// A streaming transform over this configuration.
    pub fn stream(&self) -> MelStream {
        MelStream { spec: self.clone(), buf: Vec::new(), buf_start: 0, received: 0, next: 0, done: false }
    }
}

struct Work {
    frame: Vec<f64>,
    spec: Vec<C64>,
    mag: Vec<f64>,
}

impl Work {
    fn new(s: &Stft) -> Self {
        Self { frame: vec![0.0; s.n_fft], spec: vec![C64::default(); s.bins()], mag: vec![0.0; s.bins()] }
    }
}

/// Streaming log-mel: frames are emitted as soon as every sample under their window has arrived; the last
/// frames (whose window reaches into the end's reflect padding) come from [`MelStream::finish`]. The frames
/// pushed + finished equal [`MelSpec::compute`] of the whole signal, bit for bit.
#[derive(Debug, Clone)]
pub struct MelStream {
    spec: MelSpec,
    /// Retained samples; `buf[0]` is sample `buf_start` of the stream.
    buf: Vec<f64>,
    buf_start: usize,
    received: usize,
    /// Next frame to emit.
    next: usize,
    done: bool,
}

impl MelStream {
    /// Samples received so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Frames emitted so far.
    pub fn emitted(&self) -> usize {
        self.next
    }

    /// Feed samples; returns the frames completed by them (possibly none) as `[frames, n_mels]`.
    pub fn push(&mut self, x: &[f32]) -> Result<Mel, AudioError> {
        if self.done {
            return Err(AudioError::Signal("mel stream: push after finish".into()));
        }
        self.buf.extend(x.iter().map(|&v| v as f64));
        self.received += x.len();
        let (hop, half) = (self.spec.cfg.hop_length, self.spec.cfg.n_fft / 2);
        // Frame t reads samples t*hop - half ..= t*hop + half - 1 (reflected at 0: 1 ..= half).
        let ready = |t: usize, received: usize| received >= (t * hop + half).max(half + 1);
        let mut data = Vec::new();
        let mut w = Work::new(&self.spec.stft);
        let start = self.next;
        while ready(self.next, self.received) {
            self.emit(self.next, usize::MAX, &mut w, &mut data);
            self.next += 1;
        }
        self.trim();
        Ok(Mel { frames: self.next - start, n_mels: self.spec.cfg.n_mels, data })
    }

    /// End of signal: the remaining frames (reflect-padded at the end). Errors if the whole signal is shorter
    /// than [`MelSpec::min_len`], exactly as the batch transform.
    pub fn finish(&mut self) -> Result<Mel, AudioError> {
        if self.done {
            return Err(AudioError::Signal("mel stream: finish called twice".into()));
        }
        self.done = true;
        let len = self.received;
        if len < self.spec.min_len() {
            return Err(too_short(len, self.spec.min_len()));
        }
        let mut data = Vec::new();
        let mut w = Work::new(&self.spec.stft);
        let total = self.spec.frames_for(len);
        let start = self.next;
        while self.next < total {
            self.emit(self.next, len, &mut w, &mut data);
            self.next += 1;
        }
        Ok(Mel { frames: total - start, n_mels: self.spec.cfg.n_mels, data })
    }

    /// Compute frame `t` of a signal of length `len` (`usize::MAX` while the end is unknown: no end reflection
    /// is needed then, because the frame's window lies inside the received samples).
    fn emit(&self, t: usize, len: usize, w: &mut Work, out: &mut Vec<f32>) {
        let len = if len == usize::MAX { self.received } else { len };
        let (buf, off) = (&self.buf, self.buf_start);
        self.spec.stft.gather_frame(t, len, |i| buf[i - off], &mut w.frame);
        self.spec.finish_frame(w, out);
    }

    /// Drop samples no future frame can read (frame `next` reaches back at most `n_fft` samples, including the
    /// end reflection).
    fn trim(&mut self) {
        let keep_from = (self.next * self.spec.cfg.hop_length).saturating_sub(self.spec.cfg.n_fft);
        if keep_from > self.buf_start {
            self.buf.drain(..keep_from - self.buf_start);
            self.buf_start = keep_from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.3 * (i as f32 * 0.05).sin() + 0.2 * (i as f32 * 0.31).cos()) * ((i % 97) as f32 / 97.0))
            .collect()
    }

    #[test]
    fn filterbank_is_triangular_htk() {
        let fb = mel_filterbank(24_000, 1024, 100);
        assert_eq!((fb.len(), fb[0].len()), (100, 513));
        // Every filter peaks below 1 and is non-negative; the first bin (0 Hz) is in no filter.
        for row in &fb {
            assert!(row.iter().all(|&v| (0.0..=1.0).contains(&v)));
            assert!(row.iter().any(|&v| v > 0.0));
        }
        assert!(fb.iter().all(|r| r[0] == 0.0));
    }

    #[test]
    fn frames_and_floor() {
        let m = MelSpec::new(&AudioConfig::default()).unwrap();
        let mel = m.compute(&vec![0.0; 1000]).unwrap();
        assert_eq!((mel.frames, mel.n_mels), (4, 100));
        assert!(mel.data.iter().all(|&v| v == (1e-5f64).ln() as f32));
    }

    #[test]
    fn too_short_is_an_error() {
        let m = MelSpec::new(&AudioConfig::default()).unwrap();
        assert!(m.compute(&[0.1; 512]).is_err());
        assert_eq!(m.compute(&[0.1; 513]).unwrap().frames, 3);
    }

    #[test]
    fn stream_equals_batch_for_any_chunking() {
        let m = MelSpec::new(&AudioConfig::default()).unwrap();
        for len in [513, 700, 2048, 5000, 7777] {
            let x = signal(len);
            let batch = m.compute(&x).unwrap();
            for chunk in [1, 7, 255, 256, 257, 1000, 10_000] {
                let mut s = m.stream();
                let mut data = Vec::new();
                for c in x.chunks(chunk) {
                    data.extend(s.push(c).unwrap().data);
                }
                let tail = s.finish().unwrap();
                data.extend(tail.data);
                assert_eq!(data, batch.data, "len {len} chunk {chunk}");
            }
        }
    }

    #[test]
    fn stream_emits_early() {
        let m = MelSpec::new(&AudioConfig::default()).unwrap();
        let mut s = m.stream();
        assert_eq!(s.push(&signal(512)).unwrap().frames, 0);
        assert_eq!(s.push(&signal(1)).unwrap().frames, 1);
        assert_eq!(s.push(&signal(2000)).unwrap().frames, 7); // 2513 >= t*256+512 for t <= 7
        assert!(s.finish().is_ok());
        assert!(s.push(&[0.0]).is_err());
    }

    #[test]
    fn short_stream_errors_like_batch() {
        let m = MelSpec::new(&AudioConfig::default()).unwrap();
        let mut s = m.stream();
        s.push(&[0.1; 100]).unwrap();
        assert!(s.finish().unwrap_err().to_string().contains("100 sample(s)"));
    }
}

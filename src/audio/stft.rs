//! Short-time Fourier transform with torch's conventions (`torch.stft` / `torch.istft`, `center=True`,
//! reflect padding, periodic Hann window zero-padded to `n_fft` when `win_length < n_fft`), computed in f64.
//! Shared by the mel spectrogram, Griffin-Lim and the Vocos ISTFT head.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::AudioError;

pub type C64 = Complex<f64>;

/// `torch.hann_window(win_length)` (periodic) centred in `n_fft` zeros, as `torch.stft` applies it.
pub fn hann_window(win_length: usize, n_fft: usize) -> Vec<f64> {
    let mut w = vec![0.0; n_fft];
    let left = (n_fft - win_length.min(n_fft)) / 2;
    for n in 0..win_length.min(n_fft) {
        w[left + n] = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / win_length as f64).cos();
    }
    w
}

/// Reflect index `i` (relative to a signal of length `len`) into `0..len`, as `F.pad(mode="reflect")`.
/// Valid for `-len < i < 2 len - 1`.
#[inline]
pub fn reflect(i: isize, len: usize) -> usize {
    let l = len as isize;
    let r = if i < 0 {
        -i
    } else if i >= l {
        2 * (l - 1) - i
    } else {
        i
    };
    r as usize
}

/// Planned FFTs of one size plus the analysis window.
#[derive(Clone)]
pub struct Stft {
    pub n_fft: usize,
    pub hop: usize,
    pub window: Vec<f64>,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stft {{ n_fft: {}, hop: {} }}", self.n_fft, self.hop)
    }
}

impl Stft {
    pub fn new(n_fft: usize, win_length: usize, hop: usize) -> Result<Self, AudioError> {
        if n_fft < 2 || hop == 0 || win_length == 0 || win_length > n_fft {
            return Err(AudioError::Signal(format!(
                "STFT settings: expected n_fft >= 2, 0 < win_length <= n_fft, hop > 0; got n_fft {n_fft}, \
                 win_length {win_length}, hop {hop}"
            )));
        }
        let mut planner = RealFftPlanner::<f64>::new();
        Ok(Self {
            n_fft,
            hop,
            window: hann_window(win_length, n_fft),
            r2c: planner.plan_fft_forward(n_fft),
            c2r: planner.plan_fft_inverse(n_fft),
        })
    }

    /// Number of frequency bins (`n_fft / 2 + 1`).
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames of a centred STFT of `len` samples (`1 + len / hop`).
    pub fn frames(&self, len: usize) -> usize {
        1 + len / self.hop
    }

    /// Shortest signal a centred reflect-padded STFT accepts (torch requires `n_fft / 2 < len`).
    pub fn min_len(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Spectrum of one frame of `n_fft` samples (windowed here); `scratch` and `out` are reused buffers.
    pub fn frame_spectrum(&self, frame: &mut [f64], out: &mut [C64]) {
        for (x, w) in frame.iter_mut().zip(&self.window) {
            *x *= w;
        }
        self.r2c.process(frame, out).expect("buffer sizes match the plan");
    }

    /// Frame `t` of the centred, reflect-padded signal `x` (full length `len`, `x[i]` read through `get`).
    pub fn gather_frame(&self, t: usize, len: usize, get: impl Fn(usize) -> f64, frame: &mut [f64]) {
        let half = (self.n_fft / 2) as isize;
        let start = (t * self.hop) as isize - half;
        for (k, v) in frame.iter_mut().enumerate() {
            *v = get(reflect(start + k as isize, len));
        }
    }

    /// `torch.stft(x, center=True, pad_mode="reflect", return_complex=True)`: `[frames][bins]`.
    pub fn forward(&self, x: &[f64]) -> Result<Vec<Vec<C64>>, AudioError> {
        if x.len() < self.min_len() {
            return Err(too_short(x.len(), self.min_len()));
        }
        let mut frame = vec![0.0; self.n_fft];
        (0..self.frames(x.len()))
            .map(|t| {
                self.gather_frame(t, x.len(), |i| x[i], &mut frame);
                let mut out = vec![C64::default(); self.bins()];
                self.frame_spectrum(&mut frame, &mut out);
                Ok(out)
            })
            .collect()
    }

    /// Inverse real FFT of one frame (`torch.fft.irfft(norm="backward")`: scaled by `1 / n_fft`). The imaginary
    /// parts of the DC and Nyquist bins are ignored, as irfft does.
    pub fn irfft(&self, spec: &[C64], out: &mut [f64]) {
        let mut s = spec.to_vec();
        s[0].im = 0.0;
        let last = s.len() - 1;
        if self.n_fft % 2 == 0 {
            s[last].im = 0.0;
        }
        self.c2r.process(&mut s, out).expect("buffer sizes match the plan");
        let scale = 1.0 / self.n_fft as f64;
        out.iter_mut().for_each(|v| *v *= scale);
    }

    /// Windowed overlap-add of the frames' inverse FFTs, normalised by the summed squared window, over the
    /// full padded range: `(frames - 1) * hop + n_fft` samples (`y`, `envelope`).
    fn overlap_add(&self, spec: &[Vec<C64>]) -> (Vec<f64>, Vec<f64>) {
        let total = (spec.len().saturating_sub(1)) * self.hop + self.n_fft;
        let mut y = vec![0.0; total];
        let mut env = vec![0.0; total];
        let mut buf = vec![0.0; self.n_fft];
        for (t, s) in spec.iter().enumerate() {
            self.irfft(s, &mut buf);
            let o = t * self.hop;
            for k in 0..self.n_fft {
                y[o + k] += buf[k] * self.window[k];
                env[o + k] += self.window[k] * self.window[k];
            }
        }
        (y, env)
    }

    /// `torch.istft(spec, center=True, length=len)` with this window.
    pub fn inverse_center(&self, spec: &[Vec<C64>], len: usize) -> Result<Vec<f64>, AudioError> {
        self.inverse_trimmed(spec, self.n_fft / 2, len)
    }

    /// Vocos' `ISTFT(padding="same")`: overlap-add trimmed by `(win_length - hop) / 2` at both ends
    /// (`frames * hop` samples).
    pub fn inverse_same(&self, spec: &[Vec<C64>], win_length: usize) -> Result<Vec<f64>, AudioError> {
        let pad = (win_length - self.hop.min(win_length)) / 2;
        self.inverse_trimmed(spec, pad, spec.len() * self.hop)
    }

    fn inverse_trimmed(&self, spec: &[Vec<C64>], start: usize, len: usize) -> Result<Vec<f64>, AudioError> {
        if spec.is_empty() {
            return Err(AudioError::Signal("inverse STFT of zero frames".into()));
        }
        if let Some(s) = spec.iter().find(|s| s.len() != self.bins()) {
            return Err(AudioError::Signal(format!(
                "inverse STFT: expected {} frequency bins per frame, got {}",
                self.bins(),
                s.len()
            )));
        }
        let (y, env) = self.overlap_add(spec);
        if start + len > y.len() {
            return Err(AudioError::Signal(format!(
                "inverse STFT: {} frames give {} samples, {len} requested",
                spec.len(),
                y.len().saturating_sub(2 * start)
            )));
        }
        (start..start + len)
            .map(|i| {
                if env[i] > 1e-11 {
                    Ok(y[i] / env[i])
                } else {
                    Err(AudioError::Signal(format!("inverse STFT: window envelope is zero at sample {i}")))
                }
            })
            .collect()
    }
}

pub(crate) fn too_short(len: usize, min: usize) -> AudioError {
    AudioError::Signal(format!(
        "signal of {len} sample(s) is too short: a centred reflect-padded STFT needs at least {min} samples \
         (n_fft / 2 + 1), as torch.stft does"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_numpy_pad() {
        // np.pad([0,1,2,3], 2, mode="reflect") = [2,1,0,1,2,3,2,1]
        let got: Vec<usize> = (-2..6).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![2, 1, 0, 1, 2, 3, 2, 1]);
    }

    #[test]
    fn stft_istft_round_trip() {
        let s = Stft::new(64, 64, 16).unwrap();
        let x: Vec<f64> = (0..500).map(|i| ((i as f64) * 0.37).sin() + 0.1 * ((i * i) as f64 * 0.01).cos()).collect();
        let spec = s.forward(&x).unwrap();
        assert_eq!(spec.len(), 1 + 500 / 16);
        let y = s.inverse_center(&spec, x.len()).unwrap();
        let err = x.iter().zip(&y).fold(0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-9, "round trip error {err}");
    }

    #[test]
    fn short_signal_is_an_error() {
        let s = Stft::new(1024, 1024, 256).unwrap();
        let e = s.forward(&[0.5]).unwrap_err().to_string();
        assert!(e.contains("1 sample(s)") && e.contains("513"), "{e}");
    }
}

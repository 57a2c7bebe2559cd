//! Griffin-Lim: the vocoder that needs no weights.
//!
//! Log-mel -> linear magnitude by the (ridge-regularised) pseudo-inverse of the mel filterbank, clipped at 0 and
//! refined by [`NNLS_ITERATIONS`] multiplicative non-negative least-squares updates (Lee & Seung); then "fast" Griffin-Lim (Perraudin et al. 2013, momentum 0.99, as torchaudio's `GriffinLim`): alternate the
//! inverse STFT and the STFT, keeping the target magnitude and the latest phase. Initial phase is seeded noise,
//! so output is reproducible.
//!
//! Quality bound (tested in `tests`): on a synthetic harmonic signal with vibrato (its exact STFT magnitude as the
//! target), spectral convergence `||S - |STFT(x)|||_F / ||S||_F` falls monotonically over 4 -> 16 -> 64
//! iterations and is below [`SC_BOUND_64`] after 64.

use super::mel::{Mel, MelSpec};
use super::stft::{Stft, C64};
use super::AudioError;
use crate::model::config::AudioConfig;
use crate::rng::Noise;

/// Documented spectral-convergence bound after 64 iterations on the test's harmonic signal.
pub const SC_BOUND_64: f64 = 0.1;
/// Default iterations of [`GriffinLim::vocode`].
pub const DEFAULT_ITERATIONS: usize = 64;
const MOMENTUM: f64 = 0.99;
/// Multiplicative NNLS refinements of the pseudo-inverse magnitude.
pub const NNLS_ITERATIONS: usize = 50;
/// Ridge of the filterbank pseudo-inverse, relative to the mean diagonal of `F F^T`.
const RIDGE: f64 = 1e-6;

/// Griffin-Lim vocoder for one [`AudioConfig`].
pub struct GriffinLim {
    stft: Stft,
    mel: MelSpec,
    /// Pseudo-inverse of the filterbank, `[bins][n_mels]`.
    pinv: Vec<Vec<f64>>,
    /// The filterbank, `[n_mels][bins]`.
    fb: Vec<Vec<f64>>,
    pub iterations: usize,
    pub seed: u64,
}

impl GriffinLim {
    pub fn new(cfg: &AudioConfig) -> Result<Self, AudioError> {
        let mel = MelSpec::new(cfg)?;
        let stft = Stft::new(cfg.n_fft, cfg.win_length, cfg.hop_length)?;
        let fb = mel.filterbank();
        let pinv = pseudo_inverse(&fb)?;
        Ok(Self { stft, mel, pinv, fb, iterations: DEFAULT_ITERATIONS, seed: 0 })
    }

    /// Linear magnitudes `[frames][bins]` of a log-mel spectrogram.
    pub fn mel_to_linear(&self, mel: &Mel) -> Result<Vec<Vec<f64>>, AudioError> {
        let m = self.mel.config().n_mels;
        if mel.n_mels != m || mel.frames == 0 {
            return Err(AudioError::Signal(format!(
                "Griffin-Lim: expected a mel spectrogram [frames > 0, {m}], got [{}, {}]",
                mel.frames, mel.n_mels
            )));
        }
        Ok((0..mel.frames)
            .map(|t| {
                let e: Vec<f64> = mel.frame(t).iter().map(|&v| (v as f64).exp()).collect();
                let mut s: Vec<f64> =
                    self.pinv.iter().map(|row| row.iter().zip(&e).map(|(a, b)| a * b).sum::<f64>().max(1e-8)).collect();
                // NNLS: s <- s * (F^T e) / (F^T F s).
                let fte: Vec<f64> = (0..s.len()).map(|k| self.fb.iter().zip(&e).map(|(r, e)| r[k] * e).sum()).collect();
                for _ in 0..NNLS_ITERATIONS {
                    let fs: Vec<f64> = self.fb.iter().map(|r| r.iter().zip(&s).map(|(a, b)| a * b).sum()).collect();
                    for (k, v) in s.iter_mut().enumerate() {
                        let ftfs: f64 = self.fb.iter().zip(&fs).map(|(r, f)| r[k] * f).sum();
                        *v *= fte[k] / (ftfs + 1e-12);
                    }
                }
                s
            })
            .collect())
    }

    /// Audio (`(frames - 1) * hop` samples) from a log-mel spectrogram.
    pub fn vocode(&self, mel: &Mel) -> Result<Vec<f32>, AudioError> {
        let mag = self.mel_to_linear(mel)?;
        Ok(self.reconstruct(&mag, self.iterations)?.into_iter().map(|v| v as f32).collect())
    }

    /// A signal whose STFT magnitude approximates `mag` (`[frames][bins]`), after `iterations` rounds.
    pub fn reconstruct(&self, mag: &[Vec<f64>], iterations: usize) -> Result<Vec<f64>, AudioError> {
        let frames = mag.len();
        if frames < 2 {
            return Err(AudioError::Signal(format!("Griffin-Lim needs at least 2 frames, got {frames}")));
        }
        let len = (frames - 1) * self.stft.hop;
        let mut noise = Noise::new(self.seed);
        let mut angles: Vec<Vec<C64>> = mag
            .iter()
            .map(|row| {
                row.iter().map(|_| C64::from_polar(1.0, std::f64::consts::TAU * (noise.normal() as f64))).collect()
            })
            .collect();
        let mut prev: Vec<Vec<C64>> = vec![vec![C64::default(); self.stft.bins()]; frames];
        let apply = |angles: &[Vec<C64>]| -> Vec<Vec<C64>> {
            mag.iter().zip(angles).map(|(m, a)| m.iter().zip(a).map(|(&m, &a)| a * m).collect()).collect()
        };
        for _ in 0..iterations {
            let x = self.stft.inverse_center(&apply(&angles), len)?;
            let rebuilt = self.stft.forward(&x)?;
            let k = MOMENTUM / (1.0 + MOMENTUM);
            for t in 0..frames {
                for f in 0..self.stft.bins() {
                    let a = rebuilt[t][f] - prev[t][f] * k;
                    angles[t][f] = a / (a.norm() + 1e-16);
                }
            }
            prev = rebuilt;
        }
        self.stft.inverse_center(&apply(&angles), len)
    }

    /// Spectral convergence of `x` against the target magnitude `mag`.
    pub fn spectral_convergence(&self, mag: &[Vec<f64>], x: &[f64]) -> Result<f64, AudioError> {
        let s = self.stft.forward(x)?;
        let (mut num, mut den) = (0.0, 0.0);
        for (m, r) in mag.iter().zip(&s) {
            for (&m, r) in m.iter().zip(r) {
                num += (m - r.norm()).powi(2);
                den += m * m;
            }
        }
        Ok((num / den.max(1e-30)).sqrt())
    }

    /// The STFT magnitude of a signal (the target a perfect vocoder would reproduce).
    pub fn magnitude(&self, x: &[f64]) -> Result<Vec<Vec<f64>>, AudioError> {
        Ok(self.stft.forward(x)?.into_iter().map(|r| r.into_iter().map(|c| c.norm()).collect()).collect())
    }
}

/// `F^T (F F^T + r I)^-1` of an `[m][n]` matrix `F` (m < n), as `[n][m]`.
fn pseudo_inverse(f: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, AudioError> {
    let (m, n) = (f.len(), f[0].len());
    let mut a = vec![vec![0.0; m]; m];
    for i in 0..m {
        for j in 0..m {
            a[i][j] = (0..n).map(|k| f[i][k] * f[j][k]).sum();
        }
    }
    let ridge = RIDGE * (0..m).map(|i| a[i][i]).sum::<f64>() / m as f64;
    (0..m).for_each(|i| a[i][i] += ridge);
    // Invert the SPD matrix by Gauss-Jordan with partial pivoting.
    let mut inv: Vec<Vec<f64>> = (0..m).map(|i| (0..m).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    for c in 0..m {
        let p = (c..m).max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs())).expect("non-empty");
        if a[p][c].abs() < 1e-300 {
            return Err(AudioError::Signal("mel filterbank is singular (an empty filter?)".into()));
        }
        a.swap(c, p);
        inv.swap(c, p);
        let d = a[c][c];
        for j in 0..m {
            a[c][j] /= d;
            inv[c][j] /= d;
        }
        for r in 0..m {
            if r != c && a[r][c] != 0.0 {
                let k = a[r][c];
                for j in 0..m {
                    a[r][j] -= k * a[c][j];
                    inv[r][j] -= k * inv[c][j];
                }
            }
        }
    }
    Ok((0..n).map(|k| (0..m).map(|j| (0..m).map(|i| f[i][k] * inv[i][j]).sum()).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0.6 s of a 150 Hz harmonic tone (8 partials, 1/h amplitudes) with 5 Hz vibrato.
    fn harmonic(sr: f64) -> Vec<f64> {
        let n = (0.6 * sr) as usize;
        let mut phase = 0.0;
        (0..n)
            .map(|i| {
                let t = i as f64 / sr;
                let f0 = 150.0 * (1.0 + 0.02 * (std::f64::consts::TAU * 5.0 * t).sin());
                phase += std::f64::consts::TAU * f0 / sr;
                (1..=8).map(|h| (h as f64 * phase).sin() / h as f64).sum::<f64>() * 0.2
            })
            .collect()
    }

    #[test]
    fn spectral_convergence_improves_and_meets_bound() {
        let gl = GriffinLim::new(&AudioConfig::default()).unwrap();
        let x = harmonic(24_000.0);
        let target = gl.magnitude(&x).unwrap();
        let sc: Vec<f64> = [4, 16, 64]
            .iter()
            .map(|&it| gl.spectral_convergence(&target, &gl.reconstruct(&target, it).unwrap()).unwrap())
            .collect();
        eprintln!("spectral convergence after 4/16/64 iterations: {sc:?}");
        assert!(sc[0] > sc[1] && sc[1] > sc[2], "{sc:?}");
        assert!(sc[2] < SC_BOUND_64, "{sc:?}");
    }

    #[test]
    fn mel_pseudo_inverse_recovers_mel() {
        let cfg = AudioConfig::default();
        let gl = GriffinLim::new(&cfg).unwrap();
        let mel_spec = MelSpec::new(&cfg).unwrap();
        let x: Vec<f32> = harmonic(24_000.0).iter().map(|&v| v as f32).collect();
        let mel = mel_spec.compute(&x).unwrap();
        let lin = gl.mel_to_linear(&mel).unwrap();
        let back = mel_spec.mel_of_magnitudes(&lin);
        // Mel of the pseudo-inverse's (clipped) magnitude is close to the input mel where there is energy.
        let diffs: Vec<f32> =
            mel.data.iter().zip(&back.data).filter(|(a, _)| **a > -5.0).map(|(a, b)| (a - b).abs()).collect();
        let max = diffs.iter().fold(0f32, |m, d| m.max(*d));
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        eprintln!("log-mel error of the NNLS inverse: mean {mean}, max {max}");
        assert!(mean < 0.05 && max < 1.0, "log-mel error of the inverse: mean {mean}, max {max}");
        let y = gl.vocode(&mel).unwrap();
        assert_eq!(y.len(), (mel.frames - 1) * cfg.hop_length);
        assert!(y.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn wrong_mel_width_is_an_error() {
        let gl = GriffinLim::new(&AudioConfig::default()).unwrap();
        let bad = Mel { frames: 3, n_mels: 80, data: vec![0.0; 240] };
        assert!(gl.vocode(&bad).unwrap_err().to_string().contains("80"));
    }
}

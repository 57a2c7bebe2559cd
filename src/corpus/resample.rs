//! Exact rational resampling (espeak-ng's 22050 Hz -> the model's 24 kHz) with a Blackman-windowed sinc,
//! polyphase: one kernel per output phase, precomputed. Deterministic; no state across utterances.

/// A resampler from `from` Hz to `to` Hz.
#[derive(Debug, Clone)]
pub struct Resampler {
    up: usize,
    down: usize,
    half: usize,
    /// `up` kernels of `2 * half` taps.
    table: Vec<f32>,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Resampler {
    /// `half` taps each side of the output instant (32 keeps the stop band below about -70 dB).
    pub fn new(from: u32, to: u32, half: usize) -> Self {
        let g = gcd(from as usize, to as usize);
        let (up, down) = (to as usize / g, from as usize / g);
        // Cut-off relative to the input Nyquist: the lower of the two rates, with a small guard band.
        let cutoff = 0.95 * (to as f64 / from as f64).min(1.0);
        let mut table = Vec::with_capacity(up * 2 * half);
        for phase in 0..up {
            let frac = phase as f64 / up as f64; // output instant lies `frac` input samples after tap `half - 1`
            let mut sum = 0.0;
            let start = table.len();
            for k in 0..2 * half {
                let x = k as f64 - (half as f64 - 1.0) - frac; // distance from the output instant
                let sinc = if x.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * cutoff * x).sin() / (std::f64::consts::PI * cutoff * x)
                };
                let w = x / (2.0 * half as f64) + 0.5; // 0..1 across the window
                let win =
                    0.42 - 0.5 * (2.0 * std::f64::consts::PI * w).cos() + 0.08 * (4.0 * std::f64::consts::PI * w).cos();
                let c = cutoff * sinc * win;
                sum += c;
                table.push(c as f32);
            }
            // Unit DC gain per phase.
            for c in &mut table[start..] {
                *c /= sum as f32;
            }
        }
        Self { up, down, half, table }
    }

    /// Output length for `n` input samples.
    pub fn output_len(&self, n: usize) -> usize {
        (n * self.up).div_ceil(self.down)
    }

    /// Resample a whole signal (zeros beyond its ends).
    pub fn process(&self, input: &[f32]) -> Vec<f32> {
        let n_out = self.output_len(input.len());
        let taps = 2 * self.half;
        (0..n_out)
            .map(|j| {
                let pos = j * self.down; // output instant in units of 1/up input samples
                let base = (pos / self.up) as isize;
                let phase = pos % self.up;
                let kernel = &self.table[phase * taps..(phase + 1) * taps];
                let first = base - (self.half as isize - 1);
                let mut acc = 0f32;
                for (k, c) in kernel.iter().enumerate() {
                    let i = first + k as isize;
                    if i >= 0 && (i as usize) < input.len() {
                        acc += c * input[i as usize];
                    }
                }
                acc
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_survives_22050_to_24000() {
        let r = Resampler::new(22_050, 24_000, 32);
        let f = 440.0;
        let x: Vec<f32> = (0..22_050).map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 22_050.0).sin()).collect();
        let y = r.process(&x);
        assert_eq!(y.len(), 24_000);
        let mut err = 0f32;
        for (j, v) in y.iter().enumerate().take(23_000).skip(1000) {
            let want = (2.0 * std::f32::consts::PI * f * j as f32 / 24_000.0).sin();
            err = err.max((v - want).abs());
        }
        assert!(err < 1e-3, "max error {err}");
    }

    #[test]
    fn dc_gain_is_one() {
        let r = Resampler::new(22_050, 24_000, 16);
        let y = r.process(&[1.0; 4000]);
        assert!(y[100..4000].iter().all(|v| (v - 1.0).abs() < 1e-4));
    }
}

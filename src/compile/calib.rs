//! Activation statistics -> INT8 thresholds.
//!
//! A [`Histogram`] of `|x|` is collected per tensor in one pass over the calibration set: it starts at the
//! first batch's range and doubles its range (merging bin pairs) whenever a larger value arrives, so no
//! second pass is needed. A [`CalibMethod`] turns it into a threshold `amax`; the symmetric INT8 scale is
//! `amax / 127`.
//! - `max`: the largest `|x|` seen (no clipping; outliers cost resolution);
//! - `percentile`: the `p`-th percentile of `|x|` (clips the rare tail);
//! - `entropy`: the threshold minimizing KL(P || Q) between the histogram and its 128-level quantized
//!   version, as TensorRT's entropy calibrator does.

/// Histogram bins (TensorRT's entropy calibrator uses 2048).
pub const BINS: usize = 2048;
/// Quantized levels of the positive half of symmetric INT8.
const LEVELS: usize = 128;

/// How a threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum CalibMethod {
    Max,
    Percentile { percentile: f64 },
    Entropy,
}

impl Default for CalibMethod {
    fn default() -> Self {
        CalibMethod::Percentile { percentile: 99.99 }
    }
}

impl std::fmt::Display for CalibMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CalibMethod::Max => f.write_str("max"),
            CalibMethod::Percentile { percentile } => write!(f, "percentile:{percentile}"),
            CalibMethod::Entropy => f.write_str("entropy"),
        }
    }
}

impl std::str::FromStr for CalibMethod {
    type Err = String;
    /// `max`, `entropy`, `percentile` (99.99) or `percentile:P`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, a) = s.split_once(':').unwrap_or((s, ""));
        match (k, a) {
            ("max", "") => Ok(CalibMethod::Max),
            ("entropy", "") => Ok(CalibMethod::Entropy),
            ("percentile", "") => Ok(CalibMethod::default()),
            ("percentile", p) => match p.parse::<f64>() {
                Ok(v) if v > 0.0 && v <= 100.0 => Ok(CalibMethod::Percentile { percentile: v }),
                _ => Err(format!("percentile `{p}`: expected a number in (0, 100]")),
            },
            _ => Err(format!("calibration method `{s}`: expected max, percentile[:P] or entropy")),
        }
    }
}

/// Histogram of `|x|` over `[0, range)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    pub range: f32,
    pub bins: Vec<u64>,
    pub max: f32,
    pub count: u64,
    /// Non-finite values seen (a broken graph or input; reported, never binned).
    pub non_finite: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { range: 0.0, bins: vec![0; BINS], max: 0.0, count: 0, non_finite: 0 }
    }
}

impl Histogram {
    /// Add values.
    pub fn add(&mut self, xs: &[f32]) {
        let batch_max = xs.iter().filter(|v| v.is_finite()).fold(0f32, |m, v| m.max(v.abs()));
        self.non_finite += xs.iter().filter(|v| !v.is_finite()).count() as u64;
        if batch_max <= 0.0 && self.range == 0.0 {
            // All zeros so far: they still count (into bin 0 once a range exists).
            self.bins[0] += xs.len() as u64;
            self.count += xs.len() as u64;
            return;
        }
        if self.range == 0.0 {
            self.range = batch_max * 1.0001;
        }
        while batch_max >= self.range {
            // Double the range: bins (2i, 2i+1) -> i.
            for i in 0..BINS / 2 {
                self.bins[i] = self.bins[2 * i] + self.bins[2 * i + 1];
            }
            self.bins[BINS / 2..].iter_mut().for_each(|b| *b = 0);
            self.range *= 2.0;
        }
        let w = self.range / BINS as f32;
        for v in xs.iter().filter(|v| v.is_finite()) {
            let b = ((v.abs() / w) as usize).min(BINS - 1);
            self.bins[b] += 1;
        }
        self.max = self.max.max(batch_max);
        self.count += xs.len() as u64;
    }

    fn width(&self) -> f32 {
        self.range / BINS as f32
    }

    /// The threshold `amax` of `method` (> 0; a tensor that was always zero gets a tiny threshold).
    pub fn threshold(&self, method: CalibMethod) -> f32 {
        if self.max <= 0.0 {
            return 1e-8;
        }
        let t = match method {
            CalibMethod::Max => self.max,
            CalibMethod::Percentile { percentile } => {
                let total: u64 = self.bins.iter().sum();
                let want = (total as f64 * percentile / 100.0).ceil() as u64;
                let mut acc = 0u64;
                let mut edge = self.max;
                for (i, &b) in self.bins.iter().enumerate() {
                    acc += b;
                    if acc >= want {
                        edge = (i + 1) as f32 * self.width();
                        break;
                    }
                }
                edge.min(self.max)
            }
            CalibMethod::Entropy => self.entropy_threshold(),
        };
        t.max(1e-8)
    }

    /// TensorRT-style KL-divergence threshold search.
    fn entropy_threshold(&self) -> f32 {
        let last = ((self.max / self.width()) as usize + 1).min(BINS);
        if last <= LEVELS {
            return self.max;
        }
        let hist: Vec<f64> = self.bins.iter().map(|&b| b as f64).collect();
        let mut best = (f64::INFINITY, last);
        let step = ((last - LEVELS) / 256).max(1);
        let mut i = LEVELS;
        while i <= last {
            // Reference P: bins [0, i) with the clipped tail folded into the last bin.
            let mut p: Vec<f64> = hist[..i].to_vec();
            p[i - 1] += hist[i..].iter().sum::<f64>();
            // Candidate Q: [0, i) merged into LEVELS levels, expanded back over the non-empty bins.
            let mut q = vec![0f64; i];
            let per = i as f64 / LEVELS as f64;
            for l in 0..LEVELS {
                let (a, b) = ((l as f64 * per) as usize, (((l + 1) as f64 * per) as usize).min(i));
                let b = b.max(a + 1).min(i);
                let sum: f64 = hist[a..b].iter().sum();
                let nz = hist[a..b].iter().filter(|&&v| v > 0.0).count();
                if nz > 0 {
                    for k in a..b {
                        if hist[k] > 0.0 {
                            q[k] = sum / nz as f64;
                        }
                    }
                }
            }
            let (ps, qs): (f64, f64) = (p.iter().sum(), q.iter().sum());
            if ps > 0.0 && qs > 0.0 {
                let mut kl = 0.0;
                for k in 0..i {
                    if p[k] > 0.0 {
                        let pk = p[k] / ps;
                        let qk = (q[k] / qs).max(1e-12);
                        kl += pk * (pk / qk).ln();
                    }
                }
                if kl < best.0 {
                    best = (kl, i);
                }
            }
            i += step;
        }
        ((best.1 as f32 + 0.5) * self.width()).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Noise;

    #[test]
    fn methods_order_and_growth() {
        let mut h = Histogram::default();
        let mut n = Noise::new(3);
        h.add(&n.vec(10_000)); // N(0, 1)
        let mut big = n.vec(10_000);
        big[0] = 40.0; // one outlier forces range doubling
        h.add(&big);
        assert_eq!(h.count, 20_000);
        assert_eq!(h.bins.iter().sum::<u64>(), 20_000);
        let max = h.threshold(CalibMethod::Max);
        let p = h.threshold(CalibMethod::Percentile { percentile: 99.9 });
        let e = h.threshold(CalibMethod::Entropy);
        assert_eq!(max, 40.0);
        assert!(p > 2.5 && p < 4.5, "99.9th percentile of |N(0,1)| is ~3.3, got {p}");
        assert!(e < max && e > 1.0, "entropy threshold clips the outlier: {e}");
    }

    #[test]
    fn method_parsing() {
        assert_eq!("max".parse::<CalibMethod>().unwrap(), CalibMethod::Max);
        assert_eq!("percentile:99.9".parse::<CalibMethod>().unwrap(), CalibMethod::Percentile { percentile: 99.9 });
        assert!("percentile:120".parse::<CalibMethod>().is_err());
        assert!("minmax".parse::<CalibMethod>().unwrap_err().contains("expected max"));
    }
}

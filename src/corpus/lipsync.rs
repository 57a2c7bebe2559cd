//! Lip-sync scores against the corpus truth (docs/training.md "Metrics"), the Rust side of `scripts/lipsync.py`
//! (same definitions; `tests` pins them to numbers that script computed): the pooled Pearson r of mouth opening
//! ([`super::articulation::opening`]) and the loudness-envelope baseline, the best any level meter can do.

use super::articulation::{opening, FRAME};

/// Floor of the envelope's RMS before the log (lipsync.py's `1e-4`).
const RMS_FLOOR: f64 = 1e-4;

/// Mouth opening of every `mouth4-2d` frame of `motion` (`[F * 12]`).
pub fn openings(motion: &[f32]) -> Vec<f32> {
    motion.chunks_exact(FRAME).map(opening).collect()
}

/// Pearson r of `a` and `b` (equal lengths; 0 when either is constant).
pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let mean = |x: &[f32]| x[..n].iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a[..n].iter().zip(&b[..n]) {
        let (x, y) = (*x as f64 - ma, *y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    let d = (saa * sbb).sqrt();
    if d > 0.0 {
        sab / d
    } else {
        0.0
    }
}

/// Smoothed log-RMS of `audio` at each of `n` motion frames (frame j covers `[j, j + 1) / fps`; 3-frame moving
/// mean with the ends repeated).
pub fn envelope(audio: &[f32], rate: u32, n: usize, fps: f64) -> Vec<f32> {
    let hop = rate as f64 / fps;
    let raw: Vec<f64> = (0..n)
        .map(|j| {
            let (a, b) =
                (((j as f64 * hop) as usize).min(audio.len()), (((j + 1) as f64 * hop) as usize).min(audio.len()));
            let seg = &audio[a..b.max(a)];
            if seg.is_empty() {
                return RMS_FLOOR.ln();
            }
            let ms = seg.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / seg.len() as f64;
            (ms.sqrt() + RMS_FLOOR).ln()
        })
        .collect();
    (0..n)
        .map(|j| {
            let at = |i: isize| raw[i.clamp(0, n as isize - 1) as usize];
            ((at(j as isize - 1) + at(j as isize) + at(j as isize + 1)) / 3.0) as f32
        })
        .collect()
}

/// The loudness baseline: one least-squares line envelope -> opening over all frames of all utterances, clipped
/// at 0 (a constant envelope maps to the truth's mean).
pub fn fit_envelope(envs: &[Vec<f32>], trues: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let x: Vec<f64> = envs.iter().flatten().map(|&v| v as f64).collect();
    let y: Vec<f64> = trues.iter().flatten().map(|&v| v as f64).collect();
    let n = x.len().min(y.len()).max(1) as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let (a, b) = if sxx > 0.0 { (sxy / sxx, my - sxy / sxx * mx) } else { (0.0, my) };
    envs.iter().map(|e| e.iter().map(|&v| (a * v as f64 + b).max(0.0) as f32).collect()).collect()
}

/// Pooled Pearson r over all frames of all utterances (`preds[i]` and `trues[i]` of equal length).
pub fn pooled_r(preds: &[Vec<f32>], trues: &[Vec<f32>]) -> f64 {
    let p: Vec<f32> = preds.iter().flatten().copied().collect();
    let t: Vec<f32> = trues.iter().flatten().copied().collect();
    pearson(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tone under a swell and two phase-shifted mouth tracks (built the same way by the snippet below).
    fn fixture() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let rate = 24_000usize;
        // 0.5 s: a 200 Hz tone under a 3 Hz amplitude swell, silent in its first 0.1 s.
        let audio: Vec<f32> = (0..rate / 2)
            .map(|i| {
                let t = i as f64 / rate as f64;
                let amp = if t < 0.1 { 0.0 } else { 0.5 * (1.0 - (2.0 * std::f64::consts::PI * 3.0 * t).cos()) };
                (amp * (2.0 * std::f64::consts::PI * 200.0 * t).sin()) as f32
            })
            .collect();
        // 12 frames of truth and prediction (only the lips' y matter for the opening).
        let frame = |open: f32| {
            let mut f = [0.0f32; FRAME];
            f[1] = -0.25 * open;
            f[4] = 0.75 * open;
            f
        };
        let truth: Vec<f32> = (0..12).flat_map(|j| frame((j as f32 * 0.7).sin().abs() * 0.2)).collect();
        let pred: Vec<f32> = (0..12).flat_map(|j| frame(((j as f32 + 0.5) * 0.7).sin().abs() * 0.15)).collect();
        (audio, truth, pred)
    }

    /// Numbers from scripts/lipsync.py on the same fixture:
    ///
    /// ```text
    /// import numpy as np, lipsync
    /// r = 24000; t = np.arange(r // 2) / r
    /// amp = np.where(t < 0.1, 0, 0.5 * (1 - np.cos(2 * np.pi * 3 * t)))
    /// audio = (amp * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    /// def fr(o): f = np.zeros(12, np.float32); f[1] = -0.25 * o; f[4] = 0.75 * o; return f
    /// j = np.arange(12, dtype=np.float32)
    /// truth = np.stack([fr(o) for o in np.abs(np.sin(j * 0.7)) * 0.2])
    /// pred = np.stack([fr(o) for o in np.abs(np.sin((j + 0.5) * 0.7)) * 0.15])
    /// env = lipsync.envelope(audio, r, 12, 25.0); tr = lipsync.opening(truth)
    /// print(lipsync.pearson(lipsync.opening(pred), tr), env, lipsync.pearson(lipsync.fit_envelope([env], [tr])[0], tr))
    /// ```
    #[test]
    fn metrics_agree_with_lipsync_py() {
        let (audio, truth, pred) = fixture();
        let (tr, pr) = (openings(&truth), openings(&pred));
        assert_eq!(tr.len(), 12);
        let r = pearson(&pr, &tr);
        assert!((r - PY_R).abs() < 1e-5, "r {r} vs lipsync.py {PY_R}");
        let env = envelope(&audio, 24_000, 12, 25.0);
        for (j, (a, b)) in env.iter().zip(PY_ENV).enumerate() {
            assert!((*a as f64 - b).abs() < 1e-4, "envelope frame {j}: {a} vs lipsync.py {b}");
        }
        let base = fit_envelope(&[env], std::slice::from_ref(&tr));
        let rb = pooled_r(&base, &[tr]);
        assert!((rb - PY_BASE_R).abs() < 1e-4, "baseline r {rb} vs lipsync.py {PY_BASE_R}");
    }

    #[test]
    fn pearson_edge_cases() {
        assert_eq!(pearson(&[1.0, 1.0], &[0.0, 1.0]), 0.0, "constant input");
        assert_eq!(pearson(&[], &[]), 0.0);
        assert!((pearson(&[0.0, 1.0, 2.0], &[5.0, 3.0, 1.0]) + 1.0).abs() < 1e-12);
        // An envelope shorter than the audio's frames reads silence as the floor.
        let e = envelope(&[], 24_000, 2, 25.0);
        assert!((e[0] as f64 - RMS_FLOOR.ln()).abs() < 1e-5);
    }

    const PY_R: f64 = 0.7436285614967346;
    const PY_ENV: [f64; 12] = [
        -9.21034037197618,
        -6.471114056902171,
        -3.540896762193767,
        -0.5952648465268948,
        -0.4682619031263775,
        -0.7314733152347288,
        -1.4214086532695107,
        -2.588048984948605,
        -2.8266284219172224,
        -2.332223621684208,
        -1.1277905528152323,
        -0.6521950027822598,
    ];
    const PY_BASE_R: f64 = 0.37101142534558307;
}

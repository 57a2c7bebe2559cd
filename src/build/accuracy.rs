//! Accuracy of a built graph against the FP32 graph, both executed by ONNX Runtime on the CPU:
//! - per layer: the residual-stream output of every DiT block and the velocity outputs, on recorded
//!   calibration inputs spread over the sampler's timesteps;
//! - end to end: the sampler's result (mel, motion) on the hold-out requests, same seed and noise.
//!
//! Errors are relative: `rel_rms = ||a - b|| / ||a||` and `rel_max = max|a - b| / max|a|`.
//!
//! # Error bounds (velocity `rel_rms` / end-to-end sample `rel_rms`)
//! | precision | velocity | sample |
//! |-----------|----------|--------|
//! | fp32      | 1e-5     | 1e-5   |
//! | fp16      | 5e-3     | 5e-3   |
//! | w8a16     | 2e-2     | 2e-2   |
//! | int8      | 6e-2     | 6e-2   |
//!
//! Set from measurements on random-weight packages (no trained model ships yet): the `small-mmdit`
//! preset measured about 5e-4 (fp16), 4e-3 (w8a16) and 8e-3 (int8, percentile 99.99) velocity rel_rms,
//! so each bound leaves a 5-10x margin. A build that exceeds its bound writes nothing unless
//! `--accept-accuracy`; the manifest records `within_bounds`.

use std::collections::BTreeMap;

use onnx_protobuf::ModelProto;
use serde::{Deserialize, Serialize};

use super::calibration::SamplerRef;
use super::{progress, BuildError};
use crate::compile::{probe, Precision};
use crate::model::{io, onnx, ModelConfig};
use crate::runtime::{Backend, NamedTensors, OrtBackend, OrtOptions, Provider};
use crate::sampler::{self, Request, SamplerOptions};

/// Documented bounds: (velocity rel_rms, end-to-end sample rel_rms).
pub fn bounds(p: Precision) -> (f32, f32) {
    match p {
        Precision::Fp32 => (1e-5, 1e-5),
        Precision::Fp16 => (5e-3, 5e-3),
        Precision::W8a16 => (2e-2, 2e-2),
        Precision::Int8 => (6e-2, 6e-2),
    }
}

/// Error of one compared tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorError {
    pub name: String,
    pub rel_rms: f32,
    pub rel_max: f32,
}

#[derive(Default)]
struct Acc {
    d2: f64,
    r2: f64,
    dmax: f32,
    rmax: f32,
    /// Values compared (rows the sampler generated, for end-to-end errors).
    n: usize,
}

impl Acc {
    /// Only the rows (of `row` values each) whose `known` flag is false: what the sampler generated. Known
    /// rows are copied from the conditioning by both graphs and would dilute the error towards 0.
    fn add_generated(&mut self, want: &[f32], got: &[f32], known: &[bool], row: usize) {
        if want.len() != got.len() || row == 0 {
            self.add(want, got);
            return;
        }
        for (r, (a, b)) in want.chunks(row).zip(got.chunks(row)).enumerate() {
            if !known.get(r).copied().unwrap_or(false) {
                self.add(a, b);
            }
        }
    }

    fn add(&mut self, want: &[f32], got: &[f32]) {
        for (a, b) in want.iter().zip(got) {
            let d = a - b;
            self.d2 += (d as f64).powi(2);
            self.r2 += (*a as f64).powi(2);
            self.dmax = self.dmax.max(if d.is_finite() { d.abs() } else { f32::INFINITY });
            self.rmax = self.rmax.max(a.abs());
        }
        if want.len() != got.len() {
            self.dmax = f32::INFINITY;
        }
        self.n += want.len().min(got.len());
    }
    fn result(&self, name: &str) -> TensorError {
        TensorError {
            name: name.into(),
            rel_rms: if self.r2 > 0.0 { (self.d2 / self.r2).sqrt() as f32 } else { self.d2.sqrt() as f32 },
            rel_max: if self.rmax > 0.0 { self.dmax / self.rmax } else { self.dmax },
        }
    }
}

/// Errors of final samples (mel, motion) of one backend against another, over the generated frames only.
#[derive(Default)]
pub struct SampleCompare {
    mel: Acc,
    motion: Option<Acc>,
}

impl SampleCompare {
    /// Add one request's samples: `want` from the reference, `got` from the backend under test.
    pub fn add(&mut self, cfg: &ModelConfig, req: &Request, want: &sampler::Output, got: &sampler::Output) {
        self.mel.add_generated(&want.mel, &got.mel, &req.mel_known, cfg.audio.n_mels);
        if let Some(m) = &cfg.motion {
            let k = m.layout.motion_dim();
            self.motion.get_or_insert_with(Acc::default).add_generated(&want.motion, &got.motion, &req.motion_known, k);
        }
    }

    /// The errors, and the streams that had no generated frame ("n/a").
    pub fn finish(&self) -> (Vec<TensorError>, Vec<String>) {
        let (mut errs, mut na) = (Vec::new(), Vec::new());
        for (name, acc) in [("mel", Some(&self.mel)), ("motion", self.motion.as_ref())] {
            match acc {
                Some(a) if a.n > 0 => errs.push(a.result(name)),
                Some(_) => na.push(name.to_string()),
                None => {}
            }
        }
        (errs, na)
    }
}

/// Errors of `got` against `want` for each name in `names` (float outputs of one evaluation).
pub fn compare_outputs(
    want: &NamedTensors,
    got: &NamedTensors,
    names: &[&str],
) -> Result<Vec<TensorError>, BuildError> {
    names
        .iter()
        .map(|n| {
            let mut a = Acc::default();
            a.add(f32s(want, n)?, f32s(got, n)?);
            Ok(a.result(n))
        })
        .collect()
}

/// The report stored in the build manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReport {
    pub precision: Precision,
    /// Recorded evaluations compared per layer.
    pub evaluations: usize,
    pub layers: Vec<TensorError>,
    pub velocity: Vec<TensorError>,
    pub holdout_requests: usize,
    /// Final mel / motion errors over the generated (unknown) frames of the hold-out requests.
    pub end_to_end: Vec<TensorError>,
    /// Streams with no generated frame in any hold-out request (all known): their error is "n/a", not 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub end_to_end_na: Vec<String>,
    pub bound_velocity_rel_rms: f32,
    pub bound_sample_rel_rms: f32,
    pub within_bounds: bool,
}

impl AccuracyReport {
    /// Human-readable table.
    pub fn render(&self) -> String {
        let mut s = format!(
            "accuracy of {} vs fp32 on ONNX Runtime CPU ({} recorded evaluations, {} hold-out requests)\n",
            self.precision, self.evaluations, self.holdout_requests
        );
        let row = |s: &mut String, kind: &str, e: &TensorError| {
            s.push_str(&format!(
                "  {kind:<10} {:<22} rel_rms {:>9.2e}  rel_max {:>9.2e}\n",
                e.name, e.rel_rms, e.rel_max
            ))
        };
        for e in &self.layers {
            row(&mut s, "layer", e);
        }
        for e in &self.velocity {
            row(&mut s, "velocity", e);
        }
        for e in &self.end_to_end {
            row(&mut s, "sample", e);
        }
        for name in &self.end_to_end_na {
            s.push_str(&format!("  {:<10} {name:<22} n/a (no generated frames in the hold-out requests)\n", "sample"));
        }
        s.push_str(&format!(
            "  bounds: velocity rel_rms <= {:.0e}, sample rel_rms <= {:.0e}: {}\n",
            self.bound_velocity_rel_rms,
            self.bound_sample_rel_rms,
            if self.within_bounds { "within" } else { "EXCEEDED" }
        ));
        s
    }
}

/// Up to `n` records spread evenly over `records` (so every timestep region is represented).
pub fn spread<T>(records: &[T], n: usize) -> Vec<&T> {
    if records.len() <= n {
        return records.iter().collect();
    }
    (0..n).map(|i| &records[i * (records.len() - 1) / (n - 1).max(1)]).collect()
}

fn session(m: &ModelProto, ort: &OrtOptions) -> Result<OrtBackend, BuildError> {
    let bytes = onnx::to_bytes(m)?;
    let opts = OrtOptions { provider: Provider::Cpu, ..ort.clone() };
    Ok(OrtBackend::from_bytes(&bytes, &opts)?)
}

/// Compare `built` (precision `p`) against `fp32`.
#[allow(clippy::too_many_arguments)]
pub fn report(
    cfg: &ModelConfig,
    fp32: &ModelProto,
    built: &ModelProto,
    p: Precision,
    records: &[NamedTensors],
    holdout: &[Request],
    sampler_ref: &SamplerRef,
    ort: &OrtOptions,
) -> Result<AccuracyReport, BuildError> {
    let layers = probe::layer_outputs(fp32)?;
    let tensors: Vec<String> = layers.iter().map(|(_, t)| t.clone()).collect();
    let (mut a, mut b) = (fp32.clone(), built.clone());
    let pa = probe::expose(&mut a, &tensors)?;
    let pb = probe::expose(&mut b, &tensors)?;
    let (mut sa, mut sb) = (session(&a, ort)?, session(&b, ort)?);
    let outs: Vec<&str> = io::outputs(cfg).iter().map(|d| d.name).collect();
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    let picked = spread(records, 6);
    let bar = progress((picked.len() + holdout.len()) as u64, "accuracy");
    for r in &picked {
        let (ra, rb) = (sa.run(r)?, sb.run(r)?);
        for (i, (label, _)) in layers.iter().enumerate() {
            acc.entry(format!("0:{label}")).or_default().add(f32s(&ra, &pa[i])?, f32s(&rb, &pb[i])?);
        }
        for o in &outs {
            acc.entry(format!("1:{o}")).or_default().add(f32s(&ra, o)?, f32s(&rb, o)?);
        }
        bar.inc(1);
    }
    let opts = SamplerOptions {
        steps: sampler_ref.steps,
        schedule: sampler_ref.schedule.clone(),
        cfg_strength: sampler_ref.cfg_strength,
        seed: sampler_ref.seed,
        guidance_baked: cfg.sampler.guidance_baked,
        noise_scale: cfg.sampler.noise_scale as f32,
    };
    let mut samples = SampleCompare::default();
    for (i, req) in holdout.iter().enumerate() {
        let o = SamplerOptions { seed: opts.seed.wrapping_add(1000 + i as u64), ..opts.clone() };
        let ya = sampler::sample(&mut sa, cfg, req, &o)?;
        let yb = sampler::sample(&mut sb, cfg, req, &o)?;
        samples.add(cfg, req, &ya, &yb);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut rep = AccuracyReport {
        precision: p,
        evaluations: picked.len(),
        layers: Vec::new(),
        velocity: Vec::new(),
        holdout_requests: holdout.len(),
        end_to_end: Vec::new(),
        end_to_end_na: Vec::new(),
        bound_velocity_rel_rms: bounds(p).0,
        bound_sample_rel_rms: bounds(p).1,
        within_bounds: true,
    };
    // Layers in graph order (BTreeMap sorts labels; keep the probe order instead).
    for (label, _) in &layers {
        if let Some(x) = acc.get(&format!("0:{label}")) {
            rep.layers.push(x.result(label));
        }
    }
    for o in &outs {
        rep.velocity.push(acc[&format!("1:{o}")].result(o));
    }
    (rep.end_to_end, rep.end_to_end_na) = samples.finish();
    let ok_v = rep.velocity.iter().all(|e| e.rel_rms <= rep.bound_velocity_rel_rms);
    let ok_s = rep.end_to_end.iter().all(|e| e.rel_rms <= rep.bound_sample_rel_rms);
    rep.within_bounds = ok_v && ok_s;
    Ok(rep)
}

fn f32s<'a>(t: &'a NamedTensors, name: &str) -> Result<&'a [f32], BuildError> {
    t.get(name)
        .and_then(|x| x.as_f32())
        .ok_or_else(|| BuildError::Accuracy(format!("the backend returned no float tensor `{name}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_to_end_errors_count_generated_rows_only() {
        // Two rows of 2 values; row 0 known (identical in both), row 1 generated (differs by 10 %).
        let want = [1.0, 1.0, 2.0, 2.0];
        let got = [1.0, 1.0, 2.2, 2.2];
        let mut a = Acc::default();
        a.add_generated(&want, &got, &[true, false], 2);
        let e = a.result("mel");
        assert!((e.rel_rms - 0.1).abs() < 1e-5, "error of the generated row alone: {}", e.rel_rms);
        assert_eq!(a.n, 2);
        // All known: nothing compared (reported as n/a, not 0).
        let mut b = Acc::default();
        b.add_generated(&want, &got, &[true, true], 2);
        assert_eq!(b.n, 0);
    }

    #[test]
    fn streams_without_generated_frames_render_as_na() {
        let rep = AccuracyReport {
            precision: Precision::Fp16,
            evaluations: 0,
            layers: vec![],
            velocity: vec![],
            holdout_requests: 1,
            end_to_end: vec![TensorError { name: "mel".into(), rel_rms: 1e-3, rel_max: 2e-3 }],
            end_to_end_na: vec!["motion".into()],
            bound_velocity_rel_rms: 5e-3,
            bound_sample_rel_rms: 5e-3,
            within_bounds: true,
        };
        let text = rep.render();
        assert!(text.contains("motion") && text.contains("n/a"), "{text}");
        let back: AccuracyReport = serde_json::from_str(&serde_json::to_string(&rep).unwrap()).unwrap();
        assert_eq!(back, rep);
    }
}

//! Per-NFE timing of the precisions on ONNX Runtime CPU (one run, same inputs) and the roofline beside it.

use std::time::Instant;

use onnx_protobuf::ModelProto;

use super::engine::{build_dir, calibrate, default_set, Target};
use super::manifest::{BuildManifest, MANIFEST_FILE};
use super::{sha256_file, BuildError};
use crate::compile::roofline::{nfe_cost, Device, Floors, NfeCost};
use crate::compile::{self, CalibMethod, Policy, Precision};
use crate::model::{onnx, Package};
use crate::runtime::{Backend, NamedTensors, OrtBackend, OrtOptions, Provider};

/// The graph of precision `p`: the valid `ort-cpu` build if there is one, else made in memory (INT8
/// calibrated on the built-in generated set). Returns the graph and where it came from.
pub fn graph_for(pkg: &mut Package, p: Precision, ort: &OrtOptions) -> Result<(ModelProto, String), BuildError> {
    let dir = build_dir(&pkg.dir, p, Target::OrtCpu);
    if let Ok(m) = BuildManifest::load(&dir.join(MANIFEST_FILE)) {
        let intact = m.artifacts.iter().all(|a| sha256_file(&dir.join(&a.path)).ok().as_deref() == Some(&a.sha256));
        if intact {
            let path = dir.join("model.onnx");
            let bytes = std::fs::read(&path).map_err(|e| super::file_err(&path, e))?;
            return Ok((onnx::from_bytes(&bytes)?, path.display().to_string()));
        }
    }
    let fp32 = pkg.graph()?;
    let scales = if p.needs_calibration() {
        let mut be = OrtBackend::from_bytes(&onnx::to_bytes(&fp32)?, ort)?;
        let set = default_set(pkg, &mut be)?;
        Some(calibrate(&fp32, &Policy::default(), &set.records, CalibMethod::default(), ort)?)
    } else {
        None
    };
    Ok((compile::apply(&fp32, p, &Policy::default(), scales.as_ref())?, "built in memory".into()))
}

/// Graph inputs for one packed cond+uncond evaluation over `frames` mel frames (deterministic values: a third
/// of the mel known, text over that third): what every per-NFE benchmark times.
pub fn nfe_inputs(cfg: &crate::model::ModelConfig, frames: usize) -> Result<NamedTensors, BuildError> {
    use crate::model::config::Schedule;
    use crate::sampler::{self, Request, SamplerOptions};
    let mut req = Request::new(cfg, frames);
    let mut noise = crate::rng::Noise::new(1);
    req.cond_mel = noise.vec(req.cond_mel.len());
    req.mel_known.iter_mut().take(frames / 3).for_each(|k| *k = true);
    if let Some(tc) = &cfg.text {
        req.text = (0..frames as i64 / 3).map(|i| i % tc.vocab_size as i64).collect();
    }
    let opts = SamplerOptions {
        steps: 1,
        schedule: Schedule::Uniform,
        cfg_strength: 2.0,
        seed: 0,
        guidance_baked: false,
        noise_scale: 1.0,
    };
    Ok(sampler::first_step_inputs(cfg, &req, &opts)?)
}

/// One precision's result.
pub struct BenchRow {
    pub precision: Precision,
    pub ms_per_nfe: f64,
    pub source: String,
    pub cost: NfeCost,
}

/// Time every precision in `ps` on the same `inputs` (warm-up + `iters` runs each).
pub fn bench_precisions(
    pkg: &mut Package,
    ps: &[Precision],
    inputs: &NamedTensors,
    iters: usize,
    seconds: f64,
    ort: &OrtOptions,
) -> Result<Vec<BenchRow>, BuildError> {
    let ort = OrtOptions { provider: Provider::Cpu, ..ort.clone() };
    let rows = inputs.get(crate::model::io::TIME).map_or(1, |t| t.len());
    let mut out = Vec::new();
    for &p in ps {
        let (g, source) = graph_for(pkg, p, &ort)?;
        let cost = nfe_cost(&pkg.config, &g, p, seconds, rows)?;
        let mut be = OrtBackend::from_bytes(&onnx::to_bytes(&g)?, &ort)?;
        be.run(inputs)?;
        let t0 = Instant::now();
        for _ in 0..iters.max(1) {
            be.run(inputs)?;
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3 / iters.max(1) as f64;
        out.push(BenchRow { precision: p, ms_per_nfe: ms, source, cost });
    }
    Ok(out)
}

/// Roofline lines for `device` beside what was measured here.
pub fn roofline_report(rows: &[BenchRow], device: Device, seconds: f64, steps: usize) -> String {
    let spec = device.spec();
    let mut s = format!(
        "roofline on {} ({} GB/s, FP32 {} TFLOPS, FP16 dense {} TFLOPS, INT8 dense {} TOPS), window {seconds:.2} s, {steps} NFEs per window\n",
        spec.name, spec.bandwidth_gbs, spec.fp32_tflops, spec.fp16_dense_tflops, spec.int8_dense_tops
    );
    s.push_str(&format!(
        "  {:<6} {:>10} {:>10} {:>13} {:>13} {:>8} {:>15} {:>14}\n",
        "prec", "GFLOP/NFE", "MB/NFE", "compute ms", "bandwidth ms", "bound", "floor ms/s audio", "here ms/NFE"
    ));
    for r in rows {
        let f = Floors::of(&r.cost, device, r.precision);
        let bound = if f.bandwidth_s >= f.compute_s { "memory" } else { "compute" };
        s.push_str(&format!(
            "  {:<6} {:>10.2} {:>10.2} {:>13.3} {:>13.3} {:>8} {:>15.2} {:>14.2}\n",
            r.precision.name(),
            r.cost.flops / 1e9,
            r.cost.bytes() / 1e6,
            f.compute_s * 1e3,
            f.bandwidth_s * 1e3,
            bound,
            f.nfe_s() * 1e3 * steps as f64 / seconds,
            r.ms_per_nfe
        ));
    }
    s
}

//! `jamflow device-check` (what scripts/device_check.sh runs on a GPU machine): for each package and precision,
//! build the native TensorRT engine, compare it with ONNX Runtime CPU FP32 (velocities of one evaluation, and
//! final samples over the generated frames of generated requests), time it per NFE and set the time beside the
//! roofline floor of the device. The per-block comparison of the graph itself is the build's accuracy report
//! (ONNX Runtime CPU, in the manifest); an engine exposes no per-layer outputs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::accuracy::{compare_outputs, SampleCompare, TensorError};
use super::calibration::{self, Source};
use super::engine::{build, BuildOptions};
use super::manifest::BuildManifest;
use super::open::{open, RunOptions};
use super::BuildError;
use crate::compile::roofline::{nfe_cost, Device, Floors};
use crate::compile::{Policy, Precision};
use crate::model::{io, onnx, Package};
use crate::runtime::{Backend, OrtBackend, OrtOptions, Provider, Target};
use crate::sampler::{self, SamplerOptions};

/// Environment variable that lets `jamflow build` make a w8a16 TensorRT engine anyway, to measure its weight
/// bytes (the device check sets it; see docs/build.md, "W8A16 under TensorRT").
pub const W8A16_MEASURE_ENV: &str = "JAMFLOW_TRT_W8A16_MEASURE";

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub precisions: Vec<Precision>,
    /// Calibration set for int8 (`calibration/NAME`); int8 is skipped without one.
    pub calibration: Option<PathBuf>,
    /// Mel frames of the timed window.
    pub frames: usize,
    pub iters: usize,
    /// Requests (generated) compared end to end.
    pub requests: usize,
    /// The device whose roofline floor the times are set against.
    pub device: Option<Device>,
    /// ORT CPU options of the FP32 reference.
    pub ort: OrtOptions,
}

/// One precision of one package.
#[derive(Debug, Clone)]
pub struct CheckRow {
    pub precision: Precision,
    pub build_s: f64,
    pub reused: bool,
    pub manifest: BuildManifest,
    pub velocity: Vec<TensorError>,
    pub sample: Vec<TensorError>,
    pub sample_na: Vec<String>,
    pub ms_per_nfe: f64,
    pub floor_ms: Option<f64>,
}

/// One precision's outcome: its row, or why it could not be checked.
pub type Checked = (Precision, Result<CheckRow, String>);

/// Check every precision of `opts` on `pkg_dir`; a precision that cannot be built is an `Err` row.
pub fn check_package(pkg_dir: &Path, opts: &CheckOptions) -> Result<Vec<Checked>, BuildError> {
    let mut pkg = Package::load(pkg_dir)?;
    let cpu = OrtOptions { provider: Provider::Cpu, ..opts.ort.clone() };
    let mut reference = OrtBackend::from_bytes(&onnx::to_bytes(&pkg.graph()?)?, &cpu)?;
    let inputs = super::bench::nfe_inputs(&pkg.config, opts.frames)?;
    let want = reference.run(&inputs)?;
    let sources = vec![Source::Generated { seed: 11, count: opts.requests, seconds: vec![2.0, 4.0] }];
    let reqs = calibration::requests(&pkg, pkg_dir, &sources)?;
    let sopts = SamplerOptions::from_config(&pkg.config, 0);
    let mut ref_samples = Vec::new();
    for r in &reqs {
        ref_samples.push(sampler::sample(&mut reference, &pkg.config, r, &sopts)?);
    }
    drop(reference);
    let mut rows = Vec::new();
    for &p in &opts.precisions {
        let row = check_one(&mut pkg, p, opts, &inputs, &want, &reqs, &ref_samples, &sopts);
        rows.push((p, row.map_err(|e| e.to_string())));
    }
    Ok(rows)
}

#[allow(clippy::too_many_arguments)]
fn check_one(
    pkg: &mut Package,
    p: Precision,
    opts: &CheckOptions,
    inputs: &crate::runtime::NamedTensors,
    want: &crate::runtime::NamedTensors,
    reqs: &[sampler::Request],
    ref_samples: &[sampler::Output],
    sopts: &SamplerOptions,
) -> Result<CheckRow, BuildError> {
    let calibration = if p.needs_calibration() {
        Some(opts.calibration.clone().ok_or_else(|| BuildError::Calibration {
            path: PathBuf::from("calibration/"),
            msg: "int8 needs --calibration calibration/NAME".into(),
        })?)
    } else {
        None
    };
    let bopts = BuildOptions {
        precision: p,
        target: Target::Tensorrt,
        calibration,
        method: Default::default(),
        shapes: None,
        policy: Policy::default(),
        ort: OrtOptions { provider: Provider::Cpu, ..opts.ort.clone() },
        force: false,
        accept_accuracy: true, // the check reports the errors; it does not gate on them
    };
    let t0 = Instant::now();
    let built = build(&pkg.dir, &bopts)?;
    let build_s = t0.elapsed().as_secs_f64();
    let mut be =
        open(pkg, &RunOptions { target: Target::Tensorrt, precision: p, ort: opts.ort.clone(), device: 0 })?.backend;
    let outs: Vec<&str> = io::outputs(&pkg.config).iter().map(|d| d.name).collect();
    let velocity = compare_outputs(want, &be.run(inputs)?, &outs)?;
    let mut cmp = SampleCompare::default();
    for (r, y) in reqs.iter().zip(ref_samples) {
        cmp.add(&pkg.config, r, y, &sampler::sample(be.as_mut(), &pkg.config, r, sopts)?);
    }
    let (sample, sample_na) = cmp.finish();
    let t1 = Instant::now();
    for _ in 0..opts.iters.max(1) {
        be.run(inputs)?;
    }
    let ms_per_nfe = t1.elapsed().as_secs_f64() * 1e3 / opts.iters.max(1) as f64;
    let floor_ms = match opts.device {
        Some(d) => {
            let path = built.dir.join("model.onnx");
            let g = onnx::from_bytes(&std::fs::read(&path).map_err(|e| super::file_err(&path, e))?)?;
            let rows = inputs.get(io::TIME).map_or(1, |t| t.len());
            let seconds = opts.frames as f64 / pkg.config.audio.mel_rate();
            let cost = nfe_cost(&pkg.config, &g, p, seconds, rows)?;
            Some(Floors::of(&cost, d, p).nfe_s() * 1e3)
        }
        None => None,
    };
    Ok(CheckRow {
        precision: p,
        build_s,
        reused: built.reused,
        manifest: built.manifest,
        velocity,
        sample,
        sample_na,
        ms_per_nfe,
        floor_ms,
    })
}

fn errs(v: &[TensorError], na: &[String]) -> String {
    let mut parts: Vec<String> = v.iter().map(|e| format!("{} {:.1e}", e.name, e.rel_rms)).collect();
    parts.extend(na.iter().map(|n| format!("{n} n/a")));
    parts.join(", ")
}

/// The table the device check prints for one package.
pub fn render(pkg: &Path, rows: &[Checked]) -> String {
    let mut s = format!("{}\n", pkg.display());
    s.push_str(&format!(
        "  {:<6} {:>9} {:>11} {:>11} {:>10} {:>10} {:>7}  {:<28} {}\n",
        "prec",
        "build s",
        "weights MB",
        "plan MB",
        "ms/NFE",
        "floor ms",
        "x floor",
        "velocity rel_rms vs fp32",
        "sample rel_rms (generated frames)"
    ));
    for (p, r) in rows {
        match r {
            Ok(r) => {
                let e = r.manifest.engine.as_ref();
                let mb = |b: Option<u64>| b.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1e6));
                s.push_str(&format!(
                    "  {:<6} {:>9} {:>11} {:>11} {:>10.3} {:>10} {:>7}  {:<28} {}\n",
                    p.name(),
                    if r.reused { "reused".to_string() } else { format!("{:.0}", r.build_s) },
                    mb(e.and_then(|e| e.weight_bytes)),
                    mb(e.map(|e| e.plan_bytes)),
                    r.ms_per_nfe,
                    r.floor_ms.map_or("-".into(), |f| format!("{f:.3}")),
                    r.floor_ms.map_or("-".into(), |f| format!("{:.2}", r.ms_per_nfe / f)),
                    errs(&r.velocity, &[]),
                    errs(&r.sample, &r.sample_na),
                ));
            }
            Err(e) => s.push_str(&format!("  {:<6} not checked: {e}\n", p.name())),
        }
    }
    if let Some((_, Ok(r))) = rows.iter().find(|(_, r)| r.is_ok()) {
        if let Some(e) = &r.manifest.engine {
            s.push_str(&format!(
                "  GPU {}, TensorRT {}\n",
                e.gpu,
                r.manifest.tensorrt_version.as_deref().unwrap_or("?")
            ));
        }
    }
    s
}

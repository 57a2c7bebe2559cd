//! `jamflow build`: package -> precision pass (calibrated for INT8) -> accuracy report -> artifacts for a
//! target, under `DIR/build/<precision>-<target>/` with a manifest. Re-running with identical inputs
//! reuses what is there when its manifest key matches and every artifact still has its recorded hash.

use std::path::{Path, PathBuf};

use onnx_protobuf::ModelProto;

use super::accuracy;
use super::calibration::{self, CalibrationSet, SamplerRef, Source};
use super::manifest::{
    Artifact, BuildManifest, CalibrationUse, EngineInfo, ShapeRanges, Sources, FORMAT, MANIFEST_FILE,
};
use super::{file_err, progress, sha256_file, sha256_hex, BuildError};
use crate::compile::quant::{self, ActivationScales};
use crate::compile::{self, probe, CalibMethod, Histogram, Policy, Precision};
use crate::model::{onnx, Package};
use crate::runtime::{ort_backend, Backend, NamedTensors, OrtBackend, OrtOptions, Provider};

pub use crate::runtime::Target;

/// The ORT TensorRT provider's engine cache of a package (the directory `jamflow --provider tensorrt` uses).
pub fn trt_cache_dir(pkg: &Path) -> PathBuf {
    pkg.join("build").join("trt-cache")
}

/// The build directory of a precision and target.
pub fn build_dir(pkg: &Path, p: Precision, t: Target) -> PathBuf {
    pkg.join("build").join(format!("{}-{}", p.name(), t.name()))
}

/// Build options.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub precision: Precision,
    pub target: Target,
    /// A calibration set directory (`calibration/NAME`); required for INT8.
    pub calibration: Option<PathBuf>,
    pub method: CalibMethod,
    /// `--shapes` spec (see [`ShapeRanges::parse`]); `None`: defaults.
    pub shapes: Option<String>,
    pub policy: Policy,
    /// Options of the ORT CPU sessions used for calibration and accuracy.
    pub ort: OrtOptions,
    /// Rebuild even when a valid build exists.
    pub force: bool,
    /// Write the artifacts even when the accuracy report exceeds the documented bounds.
    pub accept_accuracy: bool,
}

/// What a build did.
pub struct BuildOutcome {
    pub dir: PathBuf,
    pub manifest: BuildManifest,
    pub reused: bool,
}

/// Check up front that this build can make artifacts for `t` (before any expensive work).
/// A w8a16 graph is not built for native TensorRT: TensorRT 10 documents weight-only quantization for INT4 only
/// (docs/build.md, "W8A16 under TensorRT"), so INT8 weights behind a DequantizeLinear are expected to be folded
/// into FP16 constants: fp16's engine under another name, not 8-bit weights (the device check measures it).
pub const W8A16_TENSORRT: &str = "TensorRT 10 keeps quantized weights for INT8 weights with INT8 activations, \
     and documents weight-only quantization for INT4 only; an INT8 weight-only (w8a16) engine is expected to \
     hold FP16 weights (the fp16 engine's size). Build `--precision int8` (8-bit weights) or `--precision fp16` \
     for this target (docs/build.md, W8A16 under TensorRT)";

fn check_target(t: Target, p: Precision) -> Result<(), BuildError> {
    let err = |msg: String| BuildError::Target { target: t.name().into(), msg };
    // ort-cuda artifacts are the same ONNX: made (and checked on CPU) by any build.
    if t != Target::OrtCuda {
        t.compiled_in().map_err(err)?;
    }
    if t == Target::Tensorrt {
        if p == Precision::W8a16 && std::env::var_os(super::device_check::W8A16_MEASURE_ENV).is_none() {
            return Err(err(W8A16_TENSORRT.into()));
        }
        crate::runtime::trt_native::available().map_err(err)?;
    }
    Ok(())
}

/// Activation scales of `policy`'s quantized linears, from the FP32 graph run on ORT CPU over `records`.
pub fn calibrate(
    fp32: &ModelProto,
    policy: &Policy,
    records: &[NamedTensors],
    method: CalibMethod,
    ort: &OrtOptions,
) -> Result<ActivationScales, BuildError> {
    let tensors = quant::activation_tensors(fp32, policy)?;
    let mut m = fp32.clone();
    let outs = probe::expose(&mut m, &tensors)?;
    let mut be = OrtBackend::from_bytes(&onnx::to_bytes(&m)?, &OrtOptions { provider: Provider::Cpu, ..ort.clone() })?;
    let mut hists = vec![Histogram::default(); tensors.len()];
    let bar = progress(records.len() as u64, "calibrating");
    for r in records {
        let y = be.run(r)?;
        for (h, o) in hists.iter_mut().zip(&outs) {
            let v = y.get(o).and_then(|t| t.as_f32()).ok_or_else(|| BuildError::Accuracy(format!("no `{o}`")))?;
            h.add(v);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut scales = ActivationScales::new();
    for ((t, h), _) in tensors.iter().zip(&hists).zip(&outs) {
        if h.non_finite > 0 {
            return Err(BuildError::Accuracy(format!(
                "calibration: tensor `{t}` had {} non-finite values in the FP32 graph (bad inputs or weights)",
                h.non_finite
            )));
        }
        scales.insert(t.clone(), h.threshold(method) / 127.0);
    }
    Ok(scales)
}

/// An in-memory calibration set for accuracy reports when none was given: 3 generated requests
/// (seed 0, 2 s and 3 s), the last one held out, at most 8 sampler steps.
pub fn default_set(pkg: &Package, be: &mut dyn Backend) -> Result<CalibrationSet, BuildError> {
    let cfg = &pkg.config;
    let sources = vec![Source::Generated { seed: 0, count: 3, seconds: vec![2.0, 3.0] }];
    let reqs = calibration::requests(pkg, &pkg.dir, &sources)?;
    let sampler = SamplerRef {
        steps: cfg.sampler.steps.min(8),
        schedule: cfg.sampler.schedule.clone(),
        cfg_strength: cfg.sampler.cfg_strength as f32,
        seed: 0,
    };
    let records = calibration::record(be, cfg, &reqs[..2], &sampler)?;
    let manifest = calibration::CalibrationManifest {
        format: calibration::FORMAT.into(),
        name: "(built-in: 3 generated requests, seed 0)".into(),
        id: "builtin".into(),
        package: calibration::package_ref(pkg)?,
        sampler,
        sources,
        holdout: 1,
        records: calibration::RecordsRef { file: String::new(), sha256: String::new(), evaluations: records.len() },
    };
    Ok(CalibrationSet { dir: pkg.dir.clone(), manifest, records, holdout: reqs[2..].to_vec() })
}

pub(crate) fn sources(pkg: &Package) -> Result<Sources, BuildError> {
    Ok(Sources {
        config_sha256: sha256_file(&pkg.dir.join(crate::model::package::CONFIG_FILE))?,
        weights_sha256: sha256_file(&pkg.dir.join(crate::model::package::WEIGHTS_FILE))?,
        vocab_sha256: match &pkg.config.text {
            Some(tc) => Some(sha256_file(&pkg.dir.join(&tc.vocab_file))?),
            None => None,
        },
    })
}

fn artifact(dir: &Path, rel: &str) -> Result<Artifact, BuildError> {
    let p = dir.join(rel);
    let bytes = std::fs::metadata(&p).map_err(|e| file_err(&p, e))?.len();
    Ok(Artifact { path: rel.into(), sha256: sha256_file(&p)?, bytes })
}

/// Whether an existing build in `dir` is valid for `key`.
fn reusable(dir: &Path, key: &str) -> Option<BuildManifest> {
    let m = BuildManifest::load(&dir.join(MANIFEST_FILE)).ok()?;
    if m.key != key {
        return None;
    }
    for a in &m.artifacts {
        if sha256_file(&dir.join(&a.path)).ok()? != a.sha256 {
            return None;
        }
    }
    Some(m)
}

/// Build the package in `pkg_dir`.
pub fn build(pkg_dir: &Path, opts: &BuildOptions) -> Result<BuildOutcome, BuildError> {
    check_target(opts.target, opts.precision)?;
    let p = opts.precision;
    if p.needs_calibration() && opts.calibration.is_none() {
        return Err(BuildError::Calibration {
            path: PathBuf::from("calibration/"),
            msg: format!(
                "precision {p} needs --calibration calibration/NAME (make one with `jamflow calibration make`)"
            ),
        });
    }
    let mut pkg = Package::load(pkg_dir)?;
    let shapes = match &opts.shapes {
        Some(s) => ShapeRanges::parse(&pkg.config, s)?,
        None => ShapeRanges::default_for(&pkg.config),
    };
    let srcs = sources(&pkg)?;
    // The calibration manifest is read (and its records hash checked) before deciding on reuse.
    let cal_manifest = match &opts.calibration {
        Some(dir) => {
            let mp = dir.join(calibration::MANIFEST_FILE);
            let text = std::fs::read_to_string(&mp).map_err(|e| BuildError::Calibration {
                path: dir.clone(),
                msg: format!("cannot read {}: {e} (make the set with `jamflow calibration make`)", mp.display()),
            })?;
            Some(serde_json::from_str::<calibration::CalibrationManifest>(&text).map_err(|e| {
                BuildError::Calibration {
                    path: dir.clone(),
                    msg: format!("{}: not a calibration manifest: {e}", mp.display()),
                }
            })?)
        }
        None => None,
    };
    // An engine is specific to the TensorRT version and the GPU: either changing makes the build stale.
    let device = match opts.target {
        Target::Tensorrt => Some((
            crate::runtime::trt_native::available()
                .map_err(|msg| BuildError::Target { target: opts.target.name().into(), msg })?,
            crate::runtime::trt_native::device_name(0)?,
        )),
        _ => None,
    };
    let key_src = serde_json::json!({
        "device": device,
        "jamflow": env!("CARGO_PKG_VERSION"),
        "sources": srcs,
        "precision": p,
        "target": opts.target,
        "shapes": shapes,
        "calibration": cal_manifest.as_ref().map(|m| (&m.id, &m.records.sha256)),
        "method": if p.needs_calibration() { Some(opts.method) } else { None },
        "policy": opts.policy,
    });
    let key = sha256_hex(key_src.to_string().as_bytes());
    let dir = build_dir(pkg_dir, p, opts.target);
    if !opts.force {
        if let Some(m) = reusable(&dir, &key) {
            return Ok(BuildOutcome { dir, manifest: m, reused: true });
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| file_err(&dir, e))?;
    tracing::info!(package = %pkg.config.name, precision = %p, target = %opts.target, "building");

    let fp32 = pkg.graph()?;
    let ort = OrtOptions { provider: Provider::Cpu, ..opts.ort.clone() };
    let mut fp32_be = OrtBackend::from_bytes(&onnx::to_bytes(&fp32)?, &ort)?;
    let set = match &opts.calibration {
        Some(d) => calibration::load(d, &pkg, &mut fp32_be)?,
        None => default_set(&pkg, &mut fp32_be)?,
    };
    drop(fp32_be);
    let scales = if p.needs_calibration() {
        Some(calibrate(&fp32, &opts.policy, &set.records, opts.method, &ort)?)
    } else {
        None
    };
    let built = compile::apply(&fp32, p, &opts.policy, scales.as_ref())?;
    let quant_summary = match p {
        Precision::Int8 | Precision::W8a16 => {
            let mut m = fp32.clone();
            Some(quant::quantize(&mut m, &opts.policy, scales.as_ref())?)
        }
        _ => None,
    };
    tracing::info!("accuracy report against fp32 on ONNX Runtime CPU");
    let report =
        accuracy::report(&pkg.config, &fp32, &built, p, &set.records, &set.holdout, &set.manifest.sampler, &ort)?;
    if !report.within_bounds && !opts.accept_accuracy {
        return Err(BuildError::Accuracy(format!(
            "{p} exceeds its documented error bound; nothing written (--accept-accuracy writes it anyway):\n{}",
            report.render()
        )));
    }
    let opset = built.opset_import.iter().map(|o| o.version).max().unwrap_or(onnx::OPSET);
    let bar = progress(2, "writing artifacts");
    let onnx_rel = "model.onnx";
    onnx::save(built, &dir.join(onnx_rel), false)?;
    bar.inc(1);
    let mut rels = vec![onnx_rel.to_string()];
    if dir.join("model.onnx.data").exists() {
        rels.push("model.onnx.data".into());
    }
    let mut trt_version = None;
    let mut engine_info = None;
    match opts.target {
        Target::OrtCpu | Target::OrtCuda => {}
        Target::OrtTensorrt => {
            // Creating the session builds the engines into the package's cache (the same directory
            // `jamflow sample --provider tensorrt` uses).
            let o = OrtOptions {
                provider: Provider::Tensorrt,
                trt_cache: Some(trt_cache_dir(pkg_dir)),
                // Q/DQ graphs need the provider's INT8 kernels.
                trt_int8: opts.precision == Precision::Int8,
                ..opts.ort.clone()
            };
            let mut be = OrtBackend::from_file(&dir.join(onnx_rel), &o)?;
            // The provider builds engines lazily, per input shape: run the profile's min, opt and max
            // shapes once so the cache holds them before the daemon starts.
            let profile = crate::runtime::trt_native::profile_for(&pkg.config, &shapes);
            for k in 0..3 {
                be.run(&zeros_at(&pkg.config, &profile, k))?;
            }
        }
        Target::Tensorrt => {
            use crate::runtime::trt_native::{self, ENGINE_FILE, TIMING_CACHE_FILE};
            tracing::info!(dir = %dir.display(), "building the TensorRT engine (minutes on a Jetson)");
            let t0 = std::time::Instant::now();
            let gpu = device.as_ref().map(|(_, g)| g.clone()).unwrap_or_default();
            let b = trt_native::build_engine(
                &dir.join(onnx_rel),
                &dir.join(ENGINE_FILE),
                &dir.join(TIMING_CACHE_FILE),
                &trt_native::profile_for(&pkg.config, &shapes),
            )?;
            tracing::info!(
                seconds = t0.elapsed().as_secs_f64(),
                plan_bytes = b.plan_bytes,
                weight_bytes = ?b.weight_bytes,
                "TensorRT engine built"
            );
            trt_version = Some(b.tensorrt_version.clone());
            engine_info = Some(EngineInfo { gpu, plan_bytes: b.plan_bytes, weight_bytes: b.weight_bytes });
            rels.push(ENGINE_FILE.into());
        }
    }
    bar.inc(1);
    bar.finish_and_clear();
    let artifacts = rels.iter().map(|r| artifact(&dir, r)).collect::<Result<Vec<_>, _>>()?;
    let manifest = BuildManifest {
        format: FORMAT.into(),
        jamflow_version: env!("CARGO_PKG_VERSION").into(),
        package: pkg.config.name.clone(),
        precision: p,
        target: opts.target.name().into(),
        sources: srcs,
        onnx_opset: opset,
        ort_version: ort_backend::version(),
        tensorrt_version: trt_version,
        engine: engine_info,
        shapes,
        calibration: match (&cal_manifest, &scales) {
            (Some(m), Some(s)) => Some(CalibrationUse {
                name: m.name.clone(),
                id: m.id.clone(),
                method: opts.method,
                evaluations: set.records.len(),
                scales: s.clone(),
            }),
            _ => None,
        },
        policy: matches!(p, Precision::Int8 | Precision::W8a16).then(|| opts.policy.clone()),
        quant: quant_summary,
        artifacts,
        accuracy: Some(report),
        key,
    };
    manifest.save(&dir.join(MANIFEST_FILE))?;
    Ok(BuildOutcome { dir, manifest, reused: false })
}

/// Zero graph inputs at the `k`-th (0 min, 1 opt, 2 max) shape of `profile` (text ids -1 = padding, masks
/// true).
fn zeros_at(
    cfg: &crate::model::ModelConfig,
    profile: &[crate::runtime::trt_native::ProfileDim],
    k: usize,
) -> NamedTensors {
    use crate::model::io::{self, Elem};
    use crate::runtime::HostTensor;
    let mut t = NamedTensors::new();
    for (d, p) in io::inputs(cfg).iter().zip(profile) {
        let dims = [&p.min, &p.opt, &p.max][k];
        let shape: Vec<usize> = dims.iter().map(|&v| v as usize).collect();
        let n = shape.iter().product();
        let x = match d.elem {
            Elem::F32 => HostTensor::f32(shape, vec![0.0; n]),
            Elem::I64 => HostTensor::i64(shape, vec![-1; n]),
            Elem::Bool => HostTensor::bool(shape, vec![true; n]),
        };
        t.insert(d.name.to_string(), x);
    }
    t
}

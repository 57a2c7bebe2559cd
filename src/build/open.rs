//! Open the backend a run command or the daemon asked for: `--backend` / `[model] backend` ([`Target`]) and
//! `--precision`. FP32 on ONNX Runtime runs the package's graph as it is; any other precision runs the
//! artifacts of `jamflow build` (`DIR/build/<precision>-<target>/`), and native TensorRT always runs the
//! package's engine, after its manifest is checked against the package, this TensorRT and this GPU: a stale
//! build is refused with the command that rebuilds it.

use std::path::{Path, PathBuf};

use super::engine::{build_dir, sources, trt_cache_dir};
use super::manifest::{BuildManifest, ShapeRanges, Sources, MANIFEST_FILE};
use super::{file_err, BuildError};
use crate::compile::Precision;
use crate::model::{onnx, Package};
use crate::runtime::{trt_native, Backend, OrtBackend, OrtOptions, Target};

/// What to open.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: Target,
    pub precision: Precision,
    /// ONNX Runtime options (threads, library); the provider follows `target`.
    pub ort: OrtOptions,
    /// CUDA device (TensorRT).
    pub device: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { target: Target::default(), precision: Precision::Fp32, ort: OrtOptions::default(), device: 0 }
    }
}

/// An open backend and the shape ranges its artifacts were built for (`None`: any shape, the package's graph).
pub struct Opened {
    pub backend: Box<dyn Backend>,
    pub shapes: Option<ShapeRanges>,
}

/// The command that (re)builds what `opts` needs.
pub fn rebuild_command(pkg_dir: &Path, opts: &RunOptions) -> String {
    let cal = if opts.precision.needs_calibration() { " --calibration calibration/NAME" } else { "" };
    format!(
        "jamflow build {} --precision {} --target {}{cal} --force",
        pkg_dir.display(),
        opts.precision.name(),
        opts.target.name()
    )
}

/// Why a build's manifest does not serve this package / TensorRT / GPU (`None`: it does). `tensorrt` and `gpu`
/// are `None` for ONNX Runtime targets.
pub fn stale_reason(m: &BuildManifest, current: &Sources, tensorrt: Option<&str>, gpu: Option<&str>) -> Option<String> {
    if m.jamflow_version != env!("CARGO_PKG_VERSION") {
        return Some(format!("built by jamflow {}, this is {}", m.jamflow_version, env!("CARGO_PKG_VERSION")));
    }
    if &m.sources != current {
        return Some("the package's config, weights or vocabulary changed since the build".into());
    }
    if let Some(v) = tensorrt {
        match m.tensorrt_version.as_deref() {
            Some(b) if b == v => {}
            b => return Some(format!("engine built with TensorRT {}, this is TensorRT {v}", b.unwrap_or("(none)"))),
        }
    }
    if let Some(g) = gpu {
        match m.engine.as_ref().map(|e| e.gpu.as_str()) {
            Some(b) if b == g => {}
            b => return Some(format!("engine built on GPU {}, this is {g}", b.unwrap_or("(unknown)"))),
        }
    }
    None
}

/// The build of `opts` in `pkg`, checked; `Err` names what is wrong and the rebuild command.
fn checked_build(pkg: &Package, opts: &RunOptions) -> Result<(PathBuf, BuildManifest), BuildError> {
    let dir = build_dir(&pkg.dir, opts.precision, opts.target);
    let mp = dir.join(MANIFEST_FILE);
    let rebuild = rebuild_command(&pkg.dir, opts);
    if !mp.is_file() {
        return Err(file_err(&dir, format!("no {} build here: build it with `{rebuild}`", opts.target)));
    }
    let m = BuildManifest::load(&mp)?;
    let (trt, gpu) = if opts.target == Target::Tensorrt {
        let v = trt_native::available().map_err(|msg| BuildError::Target { target: opts.target.name().into(), msg })?;
        (Some(v), Some(trt_native::device_name(opts.device)?))
    } else {
        (None, None)
    };
    if let Some(why) = stale_reason(&m, &sources(pkg)?, trt.as_deref(), gpu.as_deref()) {
        return Err(file_err(&mp, format!("stale build: {why}; rebuild with `{rebuild}`")));
    }
    for a in &m.artifacts {
        let p = dir.join(&a.path);
        let len = std::fs::metadata(&p).map(|md| md.len()).unwrap_or(u64::MAX);
        if len != a.bytes {
            return Err(file_err(
                &p,
                format!("missing or not the size the manifest records; rebuild with `{rebuild}`"),
            ));
        }
    }
    Ok((dir, m))
}

/// Open the backend of `opts` over `pkg`.
pub fn open(pkg: &mut Package, opts: &RunOptions) -> Result<Opened, BuildError> {
    let t = opts.target;
    t.compiled_in().map_err(|msg| BuildError::Target { target: t.name().into(), msg })?;
    let Some(provider) = t.provider() else {
        let (dir, m) = checked_build(pkg, opts)?;
        let be = trt_native::TrtBackend::load(&dir.join(trt_native::ENGINE_FILE), opts.device)?;
        return Ok(Opened { backend: Box::new(be), shapes: Some(m.shapes) });
    };
    let ort = OrtOptions {
        provider,
        trt_cache: Some(trt_cache_dir(&pkg.dir)),
        trt_int8: opts.precision == Precision::Int8,
        device_id: opts.device as i32,
        ..opts.ort.clone()
    };
    if opts.precision == Precision::Fp32 {
        let bytes = onnx::to_bytes(&pkg.graph()?)?;
        return Ok(Opened { backend: Box::new(OrtBackend::from_bytes(&bytes, &ort)?), shapes: None });
    }
    let (dir, m) = checked_build(pkg, opts)?;
    let be = OrtBackend::from_file(&dir.join("model.onnx"), &ort)?;
    let shapes = (t == Target::OrtTensorrt).then_some(m.shapes);
    Ok(Opened { backend: Box::new(be), shapes })
}

/// Whether `shapes` admit a network input of `batch` rows and `mel` frames; `Err` says which range it misses.
pub fn check_window(shapes: &ShapeRanges, batch: usize, mel: usize) -> Result<(), String> {
    let within = |r: [usize; 3], v: usize| r[0] <= v && v <= r[2];
    if !within(shapes.batch, batch) {
        return Err(format!("batch {batch} outside the engine's B range {}..{}", shapes.batch[0], shapes.batch[2]));
    }
    if !within(shapes.mel, mel) {
        return Err(format!(
            "window of {mel} mel frames outside the engine's T range {}..{}",
            shapes.mel[0], shapes.mel[2]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::manifest::{EngineInfo, FORMAT};

    fn manifest() -> BuildManifest {
        BuildManifest {
            format: FORMAT.into(),
            jamflow_version: env!("CARGO_PKG_VERSION").into(),
            package: "p".into(),
            precision: Precision::Fp16,
            target: "tensorrt".into(),
            sources: Sources { config_sha256: "c".into(), weights_sha256: "w".into(), vocab_sha256: None },
            onnx_opset: 19,
            ort_version: "1.24.4".into(),
            tensorrt_version: Some("10.3.0".into()),
            engine: Some(EngineInfo { gpu: "Orin (sm_87)".into(), plan_bytes: 10, weight_bytes: None }),
            shapes: ShapeRanges { batch: [1, 2, 2], mel: [94, 469, 938], text: None, motion: None },
            calibration: None,
            policy: None,
            quant: None,
            artifacts: vec![],
            accuracy: None,
            key: "k".into(),
        }
    }

    #[test]
    fn stale_engines_are_named_by_what_changed() {
        let m = manifest();
        let src = m.sources.clone();
        assert_eq!(stale_reason(&m, &src, Some("10.3.0"), Some("Orin (sm_87)")), None);
        let why = stale_reason(&m, &src, Some("10.16.0"), Some("Orin (sm_87)")).unwrap();
        assert!(why.contains("TensorRT 10.3.0") && why.contains("10.16.0"), "{why}");
        let why = stale_reason(&m, &src, Some("10.3.0"), Some("RTX 4090 (sm_89)")).unwrap();
        assert!(why.contains("GPU Orin (sm_87)"), "{why}");
        let other = Sources { weights_sha256: "w2".into(), ..src.clone() };
        assert!(stale_reason(&m, &other, None, None).unwrap().contains("weights"));
        let old = BuildManifest { jamflow_version: "0.0.0".into(), ..m };
        assert!(stale_reason(&old, &src, None, None).unwrap().contains("jamflow 0.0.0"));
    }

    #[test]
    fn the_rebuild_command_names_precision_target_and_calibration() {
        let o = RunOptions { target: Target::Tensorrt, precision: Precision::Int8, ..RunOptions::default() };
        let c = rebuild_command(Path::new("engines/x"), &o);
        assert_eq!(
            c,
            "jamflow build engines/x --precision int8 --target tensorrt --calibration calibration/NAME --force"
        );
    }

    #[test]
    fn windows_outside_the_profile_are_refused() {
        let s = manifest().shapes;
        assert!(check_window(&s, 2, 469).is_ok());
        assert!(check_window(&s, 2, 2000).unwrap_err().contains("T range 94..938"));
        assert!(check_window(&s, 3, 469).unwrap_err().contains("B range"));
    }
}

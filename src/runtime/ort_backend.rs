//! The ONNX Runtime backend (crate `ort`, loaded at run time from `libonnxruntime.so`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{DynValue, Tensor};

use super::tensors::{HostTensor, NamedTensors, TensorData};
use super::{Backend, RuntimeError};

/// Environment variable naming the ONNX Runtime library to load (checked before `ORT_DYLIB_PATH`).
pub const LIB_ENV: &str = "JAMFLOW_ORT_LIB";
/// Where `scripts/setup.sh` puts the library, relative to the repository root.
pub const LOCAL_LIB: &str = ".ort/libonnxruntime.so";

/// Which ONNX Runtime execution provider runs the graph (chosen through [`super::Target`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    /// ONNX Runtime's CPU provider.
    #[default]
    Cpu,
    /// CUDA provider (build with `--features cuda`, ORT GPU build at run time).
    Cuda,
    /// TensorRT provider (build with `--features tensorrt`), engines cached beside the package.
    Tensorrt,
}

/// Backend options.
#[derive(Debug, Clone, Default)]
pub struct OrtOptions {
    pub provider: Provider,
    /// Intra-op threads (`None`: ORT's default, all cores).
    pub threads: Option<usize>,
    /// The library to load; `None`: [`find_library`].
    pub library: Option<PathBuf>,
    /// TensorRT engine cache directory.
    pub trt_cache: Option<PathBuf>,
    /// TensorRT provider: allow INT8 kernels (`trt_int8_enable`; needed by Q/DQ graphs).
    pub trt_int8: bool,
    pub device_id: i32,
}

/// Locate `libonnxruntime.so`: `$JAMFLOW_ORT_LIB`, `$ORT_DYLIB_PATH`, then `.ort/` in the current
/// directory or above the executable (the repository checkout), then the system library path.
pub fn find_library() -> Result<PathBuf, RuntimeError> {
    for var in [LIB_ENV, "ORT_DYLIB_PATH"] {
        if let Some(p) = std::env::var_os(var) {
            let p = PathBuf::from(p);
            if p.exists() {
                return Ok(p);
            }
            return Err(RuntimeError::LibraryNotFound(format!("${var} = {} does not exist", p.display())));
        }
    }
    let mut candidates = vec![PathBuf::from(LOCAL_LIB)];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|d| d.join(LOCAL_LIB)));
    }
    candidates.extend(["/usr/lib/libonnxruntime.so", "/usr/local/lib/libonnxruntime.so"].map(PathBuf::from));
    candidates.into_iter().find(|p| p.exists()).ok_or_else(|| {
        RuntimeError::LibraryNotFound(format!(
            "set ${LIB_ENV} to a libonnxruntime.so, or run scripts/setup.sh (puts it in {LOCAL_LIB})"
        ))
    })
}

static ENV: OnceLock<Result<(PathBuf, ort::environment::Environment), String>> = OnceLock::new();

/// Load the library once per process.
fn environment(lib: Option<&Path>) -> Result<&'static ort::environment::Environment, RuntimeError> {
    let r = ENV.get_or_init(|| {
        let path = match lib {
            Some(p) => p.to_path_buf(),
            None => find_library().map_err(|e| e.to_string())?,
        };
        let builder = ort::init_from(&path).map_err(|e| format!("{}: cannot load: {e}", path.display()))?;
        let env = builder.with_name("jamflow").build().map_err(|e| format!("{}: {e}", path.display()))?;
        Ok((path, env))
    });
    match r {
        Ok((_, env)) => Ok(env),
        Err(e) => Err(RuntimeError::LibraryNotFound(e.clone())),
    }
}

fn ort_err(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Ort(e.to_string())
}

/// A session over one ONNX graph.
pub struct OrtBackend {
    session: Session,
    outputs: Vec<String>,
    describe: String,
}

impl OrtBackend {
    /// A session from serialized ONNX bytes (weights inline).
    pub fn from_bytes(model: &[u8], opts: &OrtOptions) -> Result<Self, RuntimeError> {
        let mut b = Self::builder(opts)?;
        let session = b.commit_from_memory(model).map_err(ort_err)?;
        Ok(Self::wrap(session, opts))
    }

    /// A session from an ONNX file (external data beside it is found by ORT).
    pub fn from_file(path: &Path, opts: &OrtOptions) -> Result<Self, RuntimeError> {
        let mut b = Self::builder(opts)?;
        let session =
            b.commit_from_file(path).map_err(|e| RuntimeError::File { path: path.into(), msg: e.to_string() })?;
        Ok(Self::wrap(session, opts))
    }

    fn wrap(session: Session, opts: &OrtOptions) -> Self {
        let outputs = session.outputs().iter().map(|o| o.name().to_string()).collect();
        let describe = format!("onnxruntime {} {:?}", version(), opts.provider).to_lowercase();
        Self { session, outputs, describe }
    }

    fn builder(opts: &OrtOptions) -> Result<ort::session::builder::SessionBuilder, RuntimeError> {
        let env = environment(opts.library.as_deref())?;
        let mut b = Session::builder(env)
            .map_err(ort_err)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(ort_err)?;
        if let Some(n) = opts.threads {
            b = b.with_intra_threads(n).map_err(ort_err)?;
        }
        match opts.provider {
            Provider::Cpu => {}
            Provider::Cuda => b = with_cuda(b, opts)?,
            Provider::Tensorrt => b = with_tensorrt(b, opts)?,
        }
        Ok(b)
    }
}

#[cfg(feature = "cuda")]
fn with_cuda(
    b: ort::session::builder::SessionBuilder,
    opts: &OrtOptions,
) -> Result<ort::session::builder::SessionBuilder, RuntimeError> {
    let ep = ort::ep::CUDA::default().with_device_id(opts.device_id).build().error_on_failure();
    b.with_execution_providers([ep]).map_err(|e| RuntimeError::Provider { provider: "cuda".into(), msg: e.to_string() })
}

#[cfg(not(feature = "cuda"))]
fn with_cuda(
    _b: ort::session::builder::SessionBuilder,
    _opts: &OrtOptions,
) -> Result<ort::session::builder::SessionBuilder, RuntimeError> {
    Err(RuntimeError::Provider { provider: "cuda".into(), msg: "this build has no `cuda` feature".into() })
}

#[cfg(feature = "tensorrt")]
fn with_tensorrt(
    b: ort::session::builder::SessionBuilder,
    opts: &OrtOptions,
) -> Result<ort::session::builder::SessionBuilder, RuntimeError> {
    let mut ep = ort::ep::TensorRT::default().with_device_id(opts.device_id).with_fp16(true).with_int8(opts.trt_int8);
    if let Some(dir) = &opts.trt_cache {
        ep = ep
            .with_engine_cache(true)
            .with_engine_cache_path(dir.display())
            .with_timing_cache(true)
            .with_timing_cache_path(dir.display());
    }
    b.with_execution_providers([ep.build().error_on_failure()])
        .map_err(|e| RuntimeError::Provider { provider: "tensorrt".into(), msg: e.to_string() })
}

#[cfg(not(feature = "tensorrt"))]
fn with_tensorrt(
    _b: ort::session::builder::SessionBuilder,
    _opts: &OrtOptions,
) -> Result<ort::session::builder::SessionBuilder, RuntimeError> {
    Err(RuntimeError::Provider { provider: "tensorrt".into(), msg: "this build has no `tensorrt` feature".into() })
}

/// The loaded ONNX Runtime's version, read off the library's versioned file name
/// (`libonnxruntime.so.1.24.4`); "unknown" before a session was made or for unversioned names.
pub fn version() -> String {
    ENV.get()
        .and_then(|r| r.as_ref().ok())
        .and_then(|(p, _)| std::fs::canonicalize(p).ok())
        .and_then(|p| p.file_name()?.to_str()?.split_once(".so.").map(|(_, v)| v.to_string()))
        .unwrap_or_else(|| "unknown".into())
}

fn to_value(t: &HostTensor) -> Result<DynValue, RuntimeError> {
    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    Ok(match &t.data {
        TensorData::F32(v) => Tensor::from_array((shape, v.clone())).map_err(ort_err)?.into_dyn(),
        TensorData::I64(v) => Tensor::from_array((shape, v.clone())).map_err(ort_err)?.into_dyn(),
        TensorData::Bool(v) => Tensor::from_array((shape, v.clone())).map_err(ort_err)?.into_dyn(),
    })
}

impl Backend for OrtBackend {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn run(&mut self, inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError> {
        let values: Vec<(String, DynValue)> =
            inputs.iter().map(|(k, t)| Ok((k.clone(), to_value(t)?))).collect::<Result<_, RuntimeError>>()?;
        let outs = self.session.run(values).map_err(ort_err)?;
        let mut result = NamedTensors::new();
        for name in &self.outputs {
            let v = outs.get(name).ok_or_else(|| RuntimeError::Ort(format!("output `{name}` missing")))?;
            let (shape, data) = v.try_extract_tensor::<f32>().map_err(ort_err)?;
            let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            result.insert(name.clone(), HostTensor::f32(shape, data.to_vec()));
        }
        Ok(result)
    }
}

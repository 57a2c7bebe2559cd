//! Runtime: one backend trait that the sampler calls; ONNX Runtime behind it.
//!
//! Tensors cross the trait as [`HostTensor`]s named by `model::io`. [`Target`] is the one backend choice
//! (ONNX Runtime with a provider, or native TensorRT in [`trt_native`]). The ORT backend selects the CPU
//! execution provider here; CUDA and TensorRT execution providers (cargo features `cuda`, `tensorrt`) are
//! registered with `error_on_failure`: a missing GPU is an error, never a silent fall-back to CPU.

pub mod ort_backend;
pub mod target;
pub mod tensors;
pub mod trt_native;

pub use ort_backend::{OrtBackend, OrtOptions, Provider};
pub use target::Target;
pub use tensors::{HostTensor, NamedTensors, TensorData};

use std::path::PathBuf;

/// Runtime failures.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("ONNX Runtime library not found: {0}")]
    LibraryNotFound(String),
    #[error("ONNX Runtime: {0}")]
    Ort(String),
    #[error("execution provider {provider} is not available: {msg}")]
    Provider { provider: String, msg: String },
    #[error("input `{name}`: {msg}")]
    Input { name: String, msg: String },
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
}

/// One network evaluation on named tensors.
pub trait Backend: Send {
    /// A short description (`onnxruntime 1.22.1 cpu`).
    fn describe(&self) -> String;
    /// Evaluate the network: graph inputs in, graph outputs out.
    fn run(&mut self, inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError>;
}

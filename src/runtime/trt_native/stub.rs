//! No native TensorRT in this build: every entry point is an error naming the feature.

use std::path::Path;

use super::{EngineBuild, ProfileDim};
use crate::runtime::{Backend, NamedTensors, RuntimeError};

const MSG: &str = "this build has no native TensorRT: build with `--features tensorrt-native` on the Jetson \
                   (TensorRT 10 and CUDA headers; the libraries are opened at run time)";

fn err() -> RuntimeError {
    RuntimeError::Provider { provider: "tensorrt".into(), msg: MSG.into() }
}

/// Why TensorRT cannot be used (always, in this build).
pub fn available() -> Result<String, String> {
    Err(MSG.into())
}

/// The GPU the engines are built for (an error in this build).
pub fn device_name(_device: usize) -> Result<String, RuntimeError> {
    Err(err())
}

pub fn build_engine(
    _onnx: &Path,
    _engine: &Path,
    _timing_cache: &Path,
    _profile: &[ProfileDim],
) -> Result<EngineBuild, RuntimeError> {
    Err(err())
}

/// Never constructed in this build.
pub struct TrtBackend(std::convert::Infallible);

impl TrtBackend {
    pub fn load(_engine_path: &Path, _device: usize) -> Result<Self, RuntimeError> {
        Err(err())
    }
}

impl Backend for TrtBackend {
    fn describe(&self) -> String {
        match self.0 {}
    }
    fn run(&mut self, _inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError> {
        match self.0 {}
    }
}

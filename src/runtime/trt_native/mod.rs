//! Native TensorRT (10.x: 10.3 on JetPack 6.1/6.2, 10.x on JetPack 7) behind the C ABI of `csrc/jamflow_trt.h`.
//!
//! - cargo feature `tensorrt-native`: `csrc/jamflow_trt.cpp` (a thin C++ shim over NvInfer.h /
//!   NvOnnxParser.h) is compiled by `build.rs`; it opens `libnvinfer.so.10` (and `libnvonnxparser.so.10` to
//!   build) with `dlopen`, so the binary links and starts without them and reports their absence, or a
//!   TensorRT that is not 10.x, as an error. Device memory through `cudarc` (`libcuda.so.1`, also opened at
//!   run time and checked before use).
//! - cargo feature `tensorrt-mock`: `csrc/jamflow_trt_mock.cpp` implements the same ABI on the host (CI
//!   tests the Rust side against it).
//! - neither: every entry point is a clear error naming the feature.
//!
//! Every engine is built strongly typed with TF32 off: the ONNX's own types decide each layer's precision
//! (fp32: FP32; fp16/w8a16: the fp16 pass's FP16 with FP32 islands; int8: Q/DQ with FP32 elsewhere).
//! The shape profile ([`profile_for`]) is pure and always available.

use crate::compile::shapes::ShapeRanges;
use crate::model::{io, ModelConfig};

#[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
#[doc(hidden)]
pub mod ffi;
#[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
mod mem;
#[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
mod native;
#[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
pub use native::*;
#[cfg(not(any(feature = "tensorrt-native", feature = "tensorrt-mock")))]
mod stub;
#[cfg(not(any(feature = "tensorrt-native", feature = "tensorrt-mock")))]
pub use stub::*;

/// The engine file inside a `build/<precision>-tensorrt/` directory.
pub const ENGINE_FILE: &str = "model.engine";
/// The timing cache beside it.
pub const TIMING_CACHE_FILE: &str = "timing.cache";

/// One dynamic input's optimization-profile range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileDim {
    pub name: String,
    pub min: Vec<i64>,
    pub opt: Vec<i64>,
    pub max: Vec<i64>,
}

/// What an engine build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineBuild {
    /// `10.3.0`.
    pub tensorrt_version: String,
    /// Size of the serialized engine.
    pub plan_bytes: u64,
    /// Weights held by the engine (TensorRT >= 10.16 reports them; `None` with older headers).
    pub weight_bytes: Option<u64>,
    /// The timing cache on disk was unusable (corrupt, another TensorRT) and was replaced.
    pub timing_cache_discarded: bool,
}

/// The optimization profile of every graph input for `shapes`.
pub fn profile_for(cfg: &ModelConfig, shapes: &ShapeRanges) -> Vec<ProfileDim> {
    io::inputs(cfg)
        .iter()
        .map(|d| {
            let at = |k: usize| -> Vec<i64> {
                d.dims
                    .iter()
                    .map(|dim| {
                        (match dim {
                            io::Dim::Batch => shapes.batch[k],
                            io::Dim::Mel => shapes.mel[k],
                            io::Dim::Text => shapes.text.map_or(1, |r| r[k]),
                            io::Dim::Motion => shapes.motion.map_or(1, |r| r[k]),
                            io::Dim::Fixed(n) => *n,
                        }) as i64
                    })
                    .collect()
            };
            ProfileDim { name: d.name.to_string(), min: at(0), opt: at(1), max: at(2) }
        })
        .collect()
}

//! Compile: pure passes over the ONNX graph that `model::graph::build` writes (no runtime, no I/O).
//!
//! - [`fp16`]: half precision with FP32 islands (normalizations, softmax, RoPE/time tables, pre-softmax bias).
//! - [`quant`]: INT8 explicit quantization (Q/DQ, per-channel weights, per-tensor activations) and
//!   W8A16 weight-only quantization, with the policy of what stays unquantized ([`quant::Policy`]).
//! - [`calib`]: activation statistics -> INT8 thresholds (max, percentile, entropy).
//! - [`probe`]: expose inner tensors (layer outputs, calibration points) as graph outputs.
//! - [`roofline`]: FLOPs and bytes per NFE of a built graph and the floors they imply on a Jetson.
//!
//! Passes keep every original tensor name that still exists, so a tensor of the FP32 graph can be found
//! again in a transformed graph (the accuracy report compares layer outputs by name). Graph inputs and
//! outputs keep their names and FP32/I64/bool types: the sampler state stays FP32 outside the graph.

pub mod calib;
pub mod fp16;
pub mod graph;
pub mod probe;
pub mod quant;
pub mod roofline;
pub mod shapes;

use onnx_protobuf::ModelProto;

pub use calib::{CalibMethod, Histogram};
pub use quant::{ActivationScales, Policy};

/// Numeric precision of a built graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The graph as built: FP32 everywhere.
    #[default]
    Fp32,
    /// FP16 weights and activations, FP32 islands.
    Fp16,
    /// INT8 Q/DQ: per-channel INT8 weights, per-tensor INT8 activations (calibrated), FP32 elsewhere.
    Int8,
    /// Weight-only INT8 (DequantizeLinear on weights), FP16 activations with the FP16 pass's islands.
    W8a16,
}

impl Precision {
    pub const ALL: [Precision; 4] = [Precision::Fp32, Precision::Fp16, Precision::Int8, Precision::W8a16];

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
            Precision::W8a16 => "w8a16",
        }
    }

    /// Whether the pass needs activation scales from a calibration set.
    pub fn needs_calibration(self) -> bool {
        self == Precision::Int8
    }

    /// Bytes per activation element on the device (roofline).
    pub fn activation_bytes(self) -> f64 {
        match self {
            Precision::Fp32 => 4.0,
            Precision::Fp16 | Precision::W8a16 => 2.0,
            Precision::Int8 => 1.0,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What can go wrong in a pass.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("graph: {0}")]
    Graph(String),
    #[error("precision {precision}: {msg}")]
    Precision { precision: Precision, msg: String },
    #[error("--shapes: {0}")]
    Shapes(String),
    #[error("activation scales: tensor `{tensor}`: {msg}")]
    Scales { tensor: String, msg: String },
}

/// Apply `precision` to the FP32 graph `m`. INT8 needs activation scales (`scales`); the others ignore them.
pub fn apply(
    m: &ModelProto,
    precision: Precision,
    policy: &Policy,
    scales: Option<&ActivationScales>,
) -> Result<ModelProto, CompileError> {
    let mut out = m.clone();
    match precision {
        Precision::Fp32 => {}
        Precision::Fp16 => fp16::convert(&mut out)?,
        Precision::Int8 => {
            let s = scales.ok_or_else(|| CompileError::Precision {
                precision,
                msg: "needs activation scales from a calibration set (--calibration)".into(),
            })?;
            quant::quantize(&mut out, policy, Some(s))?;
        }
        Precision::W8a16 => {
            quant::quantize(&mut out, policy, None)?;
            fp16::convert(&mut out)?;
        }
    }
    if let Some(g) = out.graph.as_mut() {
        g.name = format!("jamflow-{}", precision.name());
    }
    Ok(out)
}

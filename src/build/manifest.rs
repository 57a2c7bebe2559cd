//! `build/<precision>-<target>/manifest.json`: what a build was made from and what it made.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::accuracy::AccuracyReport;
use super::{file_err, BuildError};
use crate::compile::quant::QuantSummary;
use crate::compile::{CalibMethod, Policy, Precision};

pub const FORMAT: &str = "jamflow-build/1";
pub const MANIFEST_FILE: &str = "manifest.json";

pub use crate::compile::shapes::{Range3, ShapeRanges};

/// Hashes of the package files a build read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    pub config_sha256: String,
    pub weights_sha256: String,
    pub vocab_sha256: Option<String>,
}

/// The calibration a build used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationUse {
    pub name: String,
    pub id: String,
    pub method: CalibMethod,
    pub evaluations: usize,
    /// Calibrated activation scales (`amax / 127`) by tensor.
    pub scales: std::collections::BTreeMap<String, f32>,
}

/// One file a build wrote (path relative to the build directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// What a native TensorRT engine is specific to, and its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineInfo {
    /// The GPU it was built on (`Orin (sm_87)`): an engine runs only on that GPU model.
    pub gpu: String,
    /// Size of the serialized engine.
    pub plan_bytes: u64,
    /// Weights the engine holds, as TensorRT reports them (`EngineStat::kTOTAL_WEIGHTS_SIZE`, TensorRT >= 10.16
    /// headers); `None` when built against older headers (`plan_bytes` bounds it from above).
    pub weight_bytes: Option<u64>,
}

/// `manifest.json` of one build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildManifest {
    pub format: String,
    pub jamflow_version: String,
    pub package: String,
    pub precision: Precision,
    pub target: String,
    pub sources: Sources,
    pub onnx_opset: i64,
    pub ort_version: String,
    pub tensorrt_version: Option<String>,
    /// Native TensorRT builds: the GPU and the engine's sizes.
    #[serde(default)]
    pub engine: Option<EngineInfo>,
    pub shapes: ShapeRanges,
    pub calibration: Option<CalibrationUse>,
    pub policy: Option<Policy>,
    pub quant: Option<QuantSummary>,
    pub artifacts: Vec<Artifact>,
    pub accuracy: Option<AccuracyReport>,
    /// Hash of every input that determines the artifacts; equal key + intact artifacts = reusable.
    pub key: String,
}

impl BuildManifest {
    pub fn load(path: &Path) -> Result<Self, BuildError> {
        let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e))?;
        let m: Self = serde_json::from_str(&text).map_err(|e| file_err(path, format!("not a build manifest: {e}")))?;
        if m.format != FORMAT {
            return Err(file_err(path, format!("format `{}`, expected `{FORMAT}`", m.format)));
        }
        Ok(m)
    }

    pub fn save(&self, path: &Path) -> Result<(), BuildError> {
        let text = serde_json::to_string_pretty(self).expect("manifest serializes");
        std::fs::write(path, text + "\n").map_err(|e| file_err(path, e))
    }
}

//! Roofline of one network evaluation (NFE) on a Jetson: FLOPs and bytes per NFE of a built graph, and
//! the compute and bandwidth floors they imply.
//!
//! FLOPs come from the one cost model of the network ([`crate::model::stats::flops_per_nfe`], per batch
//! row) times the rows of an NFE. Bytes are read off the built graph: every initializer at its stored
//! width (FP32 4, FP16 2, INT8 1 byte; scales included), plus the activations every linear reads and
//! writes at the precision's activation width. A floor is a lower bound: real kernels add launch
//! overhead, attention traffic and imperfect overlap.

use onnx_protobuf::ModelProto;

use super::graph::{self as gu, FLOAT, FLOAT16, INT8};
use super::{CompileError, Precision};
use crate::model::{stats, ModelConfig};

/// A Jetson module the roofline projects onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    OrinAgx,
    OrinNx,
    OrinNano,
}

/// Peak numbers of a device (GPU only; the DLAs are not used).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceSpec {
    pub name: &'static str,
    /// DRAM bandwidth, GB/s (DESIGN §5).
    pub bandwidth_gbs: f64,
    /// FP32 on CUDA cores, TFLOP/s.
    pub fp32_tflops: f64,
    /// Dense FP16 on tensor cores (FP32 accumulate), TFLOP/s.
    pub fp16_dense_tflops: f64,
    /// Dense INT8 on tensor cores, TOP/s.
    pub int8_dense_tops: f64,
}

// Sources (public datasheets; dense = NVIDIA's sparse figure / 2, Ampere FP16 tensor = INT8 / 2):
// - AGX Orin 64GB: "Jetson AGX Orin Series Technical Brief" v1.2: GPU 2048 CUDA cores (5.3 FP32 TFLOPS),
//   64 tensor cores, 170 sparse INT8 TOPS; NVIDIA/Deep-Learning-Accelerator-SW README: GPU sparse INT8
//   peak 171 TOPS at MAXN. -> 85 dense INT8 TOPS, 42.5 dense FP16 TFLOPS. 204.8 GB/s (DESIGN §5).
// - Orin NX 16GB: "Jetson Orin NX Series" datasheet: 100 TOPS (GPU + 2 DLA), GPU 1024 CUDA cores /
//   32 tensor cores at 918 MHz. GPU share = 32 TC x 0.918 GHz at AGX's per-TC rate (170 / (64 x 1.3 GHz))
//   = 60 sparse -> 30 dense INT8, 15 dense FP16; FP32 = 1024 x 2 x 0.918 GHz = 1.88 TFLOPS. 102 GB/s.
// - Orin Nano 8GB Super: "Jetson Orin Nano Super Developer Kit" datasheet (Dec 2024): 67 sparse INT8 TOPS
//   (GPU only, no DLA), 1024 CUDA cores / 32 tensor cores at 1.02 GHz -> 33.5 dense INT8, 16.75 dense
//   FP16; FP32 = 1024 x 2 x 1.02 GHz = 2.09 TFLOPS. 102 GB/s (DESIGN §5).
impl Device {
    pub fn spec(self) -> DeviceSpec {
        match self {
            Device::OrinAgx => DeviceSpec {
                name: "Jetson AGX Orin 64GB",
                bandwidth_gbs: 204.8,
                fp32_tflops: 5.3,
                fp16_dense_tflops: 42.5,
                int8_dense_tops: 85.0,
            },
            Device::OrinNx => DeviceSpec {
                name: "Jetson Orin NX 16GB",
                bandwidth_gbs: 102.0,
                fp32_tflops: 1.88,
                fp16_dense_tflops: 15.0,
                int8_dense_tops: 30.0,
            },
            Device::OrinNano => DeviceSpec {
                name: "Jetson Orin Nano 8GB (Super)",
                bandwidth_gbs: 102.0,
                fp32_tflops: 2.09,
                fp16_dense_tflops: 16.75,
                int8_dense_tops: 33.5,
            },
        }
    }

    /// The compute peak the bulk of a `precision` graph runs at, FLOP/s.
    pub fn peak_flops(self, precision: Precision) -> f64 {
        let s = self.spec();
        1e12 * match precision {
            Precision::Fp32 => s.fp32_tflops,
            // W8A16 dequantizes to FP16 and multiplies in FP16.
            Precision::Fp16 | Precision::W8a16 => s.fp16_dense_tflops,
            Precision::Int8 => s.int8_dense_tops,
        }
    }
}

/// Cost of one NFE.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NfeCost {
    pub flops: f64,
    pub weight_bytes: f64,
    pub activation_bytes: f64,
}

impl NfeCost {
    pub fn bytes(&self) -> f64 {
        self.weight_bytes + self.activation_bytes
    }
}

/// Bytes of every initializer of `m` at its stored width.
pub fn initializer_bytes(m: &ModelProto) -> Result<f64, CompileError> {
    let g = gu::graph(m)?;
    Ok(g.initializer
        .iter()
        .map(|t| {
            let n: i64 = t.dims.iter().product();
            let w = match t.data_type {
                FLOAT => 4,
                FLOAT16 => 2,
                INT8 => 1,
                gu::BOOL => 1,
                _ => 8,
            };
            (n.max(1) * w) as f64
        })
        .sum())
}

/// Rows a linear with weight `name` runs over: per batch row (time and modulation MLPs), per motion
/// frame, or per mel frame.
fn linear_rows(name: &str, mel: f64, motion: f64) -> f64 {
    if name.contains("time_embed.") || name.contains("attn_norm.linear") || name.contains("norm_out.linear") {
        1.0
    } else if name.starts_with("motion.") {
        motion
    } else {
        mel
    }
}

/// FLOPs and bytes of one NFE of the built graph `m` (precision `p`) over `seconds` of audio with `rows`
/// batch rows (2 with classifier-free guidance).
pub fn nfe_cost(
    cfg: &ModelConfig,
    m: &ModelProto,
    p: Precision,
    seconds: f64,
    rows: usize,
) -> Result<NfeCost, CompileError> {
    let mel = (seconds * cfg.audio.mel_rate()).ceil();
    let motion = cfg.motion_frames_for(mel as usize) as f64;
    let g = gu::graph(m)?;
    let mut act = 0.0;
    for t in g.initializer.iter().filter(|t| t.dims.len() == 2) {
        let base = t.name.trim_end_matches("_fp16").trim_end_matches("_int8");
        if !base.ends_with(".weight") || base.contains("text_embed.text_embed") {
            continue;
        }
        let (a, b) = (t.dims[0] as f64, t.dims[1] as f64);
        act += linear_rows(base, mel, motion) * (a + b) * p.activation_bytes();
    }
    Ok(NfeCost {
        flops: stats::flops_per_nfe(cfg, seconds) * rows as f64,
        weight_bytes: initializer_bytes(m)?,
        activation_bytes: act * rows as f64,
    })
}

/// Floors on `device`: seconds per NFE (compute, bandwidth) and the resulting real-time factor floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Floors {
    pub compute_s: f64,
    pub bandwidth_s: f64,
}

impl Floors {
    pub fn of(cost: &NfeCost, device: Device, p: Precision) -> Self {
        Self {
            compute_s: cost.flops / device.peak_flops(p),
            bandwidth_s: cost.bytes() / (device.spec().bandwidth_gbs * 1e9),
        }
    }
    /// The binding floor per NFE.
    pub fn nfe_s(&self) -> f64 {
        self.compute_s.max(self.bandwidth_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agx_is_twice_nx_bandwidth_and_int8_beats_fp16_compute() {
        let (a, n) = (Device::OrinAgx.spec(), Device::OrinNx.spec());
        assert!((a.bandwidth_gbs / n.bandwidth_gbs - 2.008).abs() < 0.01);
        for d in [Device::OrinAgx, Device::OrinNx, Device::OrinNano] {
            assert!(d.peak_flops(Precision::Int8) > d.peak_flops(Precision::Fp16));
            assert!(d.peak_flops(Precision::Fp16) > d.peak_flops(Precision::Fp32));
        }
        let c = NfeCost { flops: 85e9, weight_bytes: 204.8e6, activation_bytes: 0.0 };
        let f = Floors::of(&c, Device::OrinAgx, Precision::Int8);
        assert!((f.compute_s - 1e-3).abs() < 1e-9 && (f.bandwidth_s - 1e-3).abs() < 1e-9);
    }
}

#[cfg(test)]
mod graph_tests {
    use super::*;
    use crate::model::random::Preset;
    use crate::model::{graph, weights::SpecRecorder};

    #[test]
    fn fp16_halves_the_weight_bytes_of_the_built_graph() {
        let cfg = Preset::SmallMmdit.config();
        let m32 = graph::build(&cfg, &mut SpecRecorder::default()).unwrap();
        let mut m16 = m32.clone();
        crate::compile::fp16::convert(&mut m16).unwrap();
        let (b32, b16) = (initializer_bytes(&m32).unwrap(), initializer_bytes(&m16).unwrap());
        assert!(b16 / b32 > 0.49 && b16 / b32 < 0.56, "fp16 / fp32 weight bytes = {}", b16 / b32);
        let c32 = nfe_cost(&cfg, &m32, Precision::Fp32, 4.0, 2).unwrap();
        let c16 = nfe_cost(&cfg, &m16, Precision::Fp16, 4.0, 2).unwrap();
        assert_eq!(c32.flops, c16.flops);
        assert!((c16.activation_bytes / c32.activation_bytes - 0.5).abs() < 1e-9);
        assert_eq!(c32.flops, 2.0 * stats::flops_per_nfe(&cfg, 4.0));
    }
}

//! The network's graph inputs and outputs: names, element types and shapes, defined once.
//!
//! Every caller (graph builder, runtime, sampler, CLI, Python oracles through the docs) uses these.
//! Symbolic dimensions: `B` batch (cond and uncond rows packed), `T` mel frames, `Nt` text tokens,
//! `F` motion frames.

use super::config::ModelConfig;

/// Element type of a graph tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F32,
    I64,
    Bool,
}

/// One dimension of a graph tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// Batch rows (`B`).
    Batch,
    /// Mel frames (`T`).
    Mel,
    /// Text tokens (`Nt`).
    Text,
    /// Motion frames (`F`).
    Motion,
    /// A fixed size from the config.
    Fixed(usize),
}

impl Dim {
    /// ONNX symbolic name of a dynamic dimension.
    pub fn symbol(&self) -> Option<&'static str> {
        match self {
            Dim::Batch => Some("B"),
            Dim::Mel => Some("T"),
            Dim::Text => Some("Nt"),
            Dim::Motion => Some("F"),
            Dim::Fixed(_) => None,
        }
    }
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorDesc {
    pub name: &'static str,
    pub elem: Elem,
    pub dims: Vec<Dim>,
}

/// Noisy mel `x_t` [B, T, n_mels].
pub const NOISY_MEL: &str = "noisy_mel";
/// Known mel (zeros where unknown) [B, T, n_mels].
pub const COND_MEL: &str = "cond_mel";
/// Text token ids, -1 padded [B, Nt] (text models only).
pub const TEXT: &str = "text";
/// Valid (non-padding) mel frames [B, T].
pub const MEL_MASK: &str = "mel_mask";
/// Flow time in [0, 1] per row [B].
pub const TIME: &str = "time";
/// Rows that are the unconditional CFG pass: text, audio cond and motion cond dropped [B].
pub const UNCOND: &str = "uncond";
/// Noisy motion [B, F, motion_dim].
pub const NOISY_MOTION: &str = "noisy_motion";
/// Known motion (zeros where unknown) [B, F, motion_dim].
pub const COND_MOTION: &str = "cond_motion";
/// Per-frame conditioning of the motion stream that is never generated [B, F, rest_dim] (rest_dim > 0 only).
pub const REST: &str = "rest";
/// Valid (non-padding) motion frames [B, F].
pub const MOTION_MASK: &str = "motion_mask";
/// Known motion frames [B, F] (only with `motion.known_mask_channel`).
pub const MOTION_KNOWN: &str = "motion_known";

/// Predicted mel velocity `x1 - x0` [B, T, n_mels].
pub const MEL_VELOCITY: &str = "mel_velocity";
/// Predicted motion velocity [B, F, motion_dim].
pub const MOTION_VELOCITY: &str = "motion_velocity";

fn desc(name: &'static str, elem: Elem, dims: Vec<Dim>) -> TensorDesc {
    TensorDesc { name, elem, dims }
}

/// The graph inputs of a package, in graph order.
pub fn inputs(cfg: &ModelConfig) -> Vec<TensorDesc> {
    let mel = Dim::Fixed(cfg.audio.n_mels);
    let mut v = vec![
        desc(NOISY_MEL, Elem::F32, vec![Dim::Batch, Dim::Mel, mel]),
        desc(COND_MEL, Elem::F32, vec![Dim::Batch, Dim::Mel, mel]),
    ];
    if cfg.text.is_some() {
        v.push(desc(TEXT, Elem::I64, vec![Dim::Batch, Dim::Text]));
    }
    v.push(desc(MEL_MASK, Elem::Bool, vec![Dim::Batch, Dim::Mel]));
    v.push(desc(TIME, Elem::F32, vec![Dim::Batch]));
    v.push(desc(UNCOND, Elem::Bool, vec![Dim::Batch]));
    if let Some(m) = &cfg.motion {
        let k = Dim::Fixed(m.layout.motion_dim());
        v.push(desc(NOISY_MOTION, Elem::F32, vec![Dim::Batch, Dim::Motion, k]));
        v.push(desc(COND_MOTION, Elem::F32, vec![Dim::Batch, Dim::Motion, k]));
        if m.layout.rest_dim() > 0 {
            v.push(desc(REST, Elem::F32, vec![Dim::Batch, Dim::Motion, Dim::Fixed(m.layout.rest_dim())]));
        }
        v.push(desc(MOTION_MASK, Elem::Bool, vec![Dim::Batch, Dim::Motion]));
        if m.known_mask_channel {
            v.push(desc(MOTION_KNOWN, Elem::Bool, vec![Dim::Batch, Dim::Motion]));
        }
    }
    v
}

/// The graph outputs of a package, in graph order.
pub fn outputs(cfg: &ModelConfig) -> Vec<TensorDesc> {
    let mut v = vec![desc(MEL_VELOCITY, Elem::F32, vec![Dim::Batch, Dim::Mel, Dim::Fixed(cfg.audio.n_mels)])];
    if let Some(m) = &cfg.motion {
        v.push(desc(MOTION_VELOCITY, Elem::F32, vec![Dim::Batch, Dim::Motion, Dim::Fixed(m.layout.motion_dim())]));
    }
    v
}

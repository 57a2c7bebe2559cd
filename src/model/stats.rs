//! Size and cost of one network evaluation (NFE): parameters per stream, FLOPs, weight bytes.

use super::config::{DitConfig, ModelConfig};
use super::weights::ParamSpec;

/// Parameter counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParamCounts {
    pub audio: usize,
    pub motion: usize,
}

impl ParamCounts {
    pub fn total(&self) -> usize {
        self.audio + self.motion
    }
}

/// Count parameters per stream (motion = keys under `motion.`).
pub fn param_counts(spec: &[ParamSpec]) -> ParamCounts {
    let mut c = ParamCounts::default();
    for s in spec {
        let n: usize = s.shape.iter().product();
        if s.key.starts_with("motion.") {
            c.motion += n;
        } else {
            c.audio += n;
        }
    }
    c
}

/// Multiply-add FLOPs (2 per MAC) of one NFE for one batch row over a window of `seconds` of audio.
pub fn flops_per_nfe(cfg: &ModelConfig, seconds: f64) -> f64 {
    let t = (seconds * cfg.audio.mel_rate()).ceil();
    let f = cfg.motion_frames_for(t as usize) as f64;
    let joint = cfg.joint_layers();
    let window = cfg.joint_window_frames();
    let mut total = 0.0;
    // Text embedding (ConvNeXt blocks) and input embeddings.
    let mut din = 2.0 * cfg.audio.n_mels as f64;
    if let Some(tc) = &cfg.text {
        let (c, i) = (tc.dim as f64, (tc.dim * tc.conv_mult) as f64);
        total += tc.conv_layers as f64 * 2.0 * t * (c * 7.0 + 2.0 * c * i);
        din += c;
    }
    total += embed_flops(&cfg.audio_dit, t, din);
    if let Some(m) = &cfg.motion {
        let din = (2 * m.layout.motion_dim() + m.layout.rest_dim() + usize::from(m.known_mask_channel)) as f64;
        total += embed_flops(&m.dit, f, din);
    }
    for l in 0..cfg.audio_dit.depth {
        let is_joint = cfg.motion.is_some() && joint.contains(&l);
        // Keys an audio query sees: all mel frames, plus motion frames inside the window in joint layers.
        let cross_m = if is_joint { f.min(2.0 * window / cfg.motion_pos_scale().unwrap_or(1.0) + 1.0) } else { 0.0 };
        total += block_flops(&cfg.audio_dit, t, t + cross_m);
        if let Some(m) = &cfg.motion {
            let cross_a = if is_joint { t.min(2.0 * window + 1.0) } else { 0.0 };
            total += block_flops(&m.dit, f, f + cross_a);
        }
    }
    total += 2.0 * t * cfg.audio_dit.dim as f64 * cfg.audio.n_mels as f64;
    if let Some(m) = &cfg.motion {
        total += 2.0 * f * m.dit.dim as f64 * m.layout.motion_dim() as f64;
    }
    total
}

fn embed_flops(d: &DitConfig, n: f64, din: f64) -> f64 {
    let dim = d.dim as f64;
    2.0 * n * din * dim + 2.0 * 2.0 * n * dim * (dim / d.conv_pos_groups as f64) * d.conv_pos_kernel as f64
}

/// One block over `n` queries attending (on average) `keys` keys.
fn block_flops(d: &DitConfig, n: f64, keys: f64) -> f64 {
    let (dim, inner, ff) = (d.dim as f64, d.inner_dim() as f64, (d.dim * d.ff_mult) as f64);
    let proj = 2.0 * n * (3.0 * dim * inner + inner * dim + 2.0 * dim * ff);
    let attn = 2.0 * 2.0 * n * keys * inner;
    proj + attn
}

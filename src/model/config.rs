//! `model.json`: every size, rate and switch of a JAM-Flow (or pure F5-TTS) package.
//!
//! DESIGN §1 is the architecture; this file is its one configuration. Unknown fields are rejected, and
//! [`ModelConfig::validate`] rejects inconsistent values naming the field.

use serde::{Deserialize, Serialize};
use std::path::Path;

pub use super::alignment::TextAlignment;
use super::ModelError;

/// Format tag written into every package we produce.
pub const FORMAT: &str = "jamflow-model/1";

/// The whole package configuration (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Must be [`FORMAT`].
    pub format: String,
    /// Free-form name shown by `jamflow info`.
    #[serde(default)]
    pub name: String,
    /// Mel front end (DESIGN §3); also fixes the mel time axis.
    #[serde(default)]
    pub audio: AudioConfig,
    /// Text conditioning of the audio stream; `None` for models that take no text.
    pub text: Option<TextConfig>,
    /// The Audio-DiT (the F5-TTS `DiT`).
    pub audio_dit: DitConfig,
    /// The Motion-DiT; `None` for an audio-only (pure F5-TTS) package.
    #[serde(default)]
    pub motion: Option<MotionConfig>,
    /// Joint attention between the streams (ignored without `motion`).
    #[serde(default)]
    pub joint: Option<JointConfig>,
    /// Sampler defaults of this package.
    #[serde(default)]
    pub sampler: SamplerDefaults,
}

/// Mel spectrogram settings (Vocos/F5 layout by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub win_length: usize,
    pub hop_length: usize,
    pub n_mels: usize,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self { sample_rate: 24_000, n_fft: 1024, win_length: 1024, hop_length: 256, n_mels: 100 }
    }
}

impl AudioConfig {
    /// Mel frames per second (93.75 for 24 kHz / hop 256).
    pub fn mel_rate(&self) -> f64 {
        self.sample_rate as f64 / self.hop_length as f64
    }
}

/// F5-TTS `TextEmbedding` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// Number of vocabulary entries (lines of the vocab file); the embedding has `vocab_size + 1` rows.
    pub vocab_size: usize,
    /// Vocab file name inside the package.
    #[serde(default = "default_vocab_file")]
    pub vocab_file: String,
    /// Text embedding width (`text_dim`).
    pub dim: usize,
    /// ConvNeXtV2 blocks after the embedding (`conv_layers`).
    #[serde(default)]
    pub conv_layers: usize,
    /// Intermediate width multiplier of the ConvNeXtV2 blocks (`conv_mult`).
    #[serde(default = "default_conv_mult")]
    pub conv_mult: usize,
    /// Zero filler/padding tokens between blocks (`text_mask_padding`; true for F5TTS_v1).
    #[serde(default = "yes")]
    pub mask_padding: bool,
    /// Longest accepted text, in tokens (with `durations`: in mel frames).
    #[serde(default = "default_max_text_len")]
    pub max_len: usize,
    /// How the text lines up with the mel frames (DESIGN §7): `filler` (F5, the default) or `durations`.
    #[serde(default, skip_serializing_if = "TextAlignment::is_filler")]
    pub alignment: TextAlignment,
}

fn default_vocab_file() -> String {
    "vocab.txt".into()
}
fn default_conv_mult() -> usize {
    2
}
fn default_max_text_len() -> usize {
    4096
}
fn yes() -> bool {
    true
}

/// Query/key normalization inside attention (`qk_norm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QkNorm {
    RmsNorm,
}

/// One DiT stream: the F5-TTS block design (AdaLN-zero, RoPE attention, GELU-tanh feed-forward).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DitConfig {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub dim_head: usize,
    #[serde(default = "default_ff_mult")]
    pub ff_mult: usize,
    #[serde(default)]
    pub qk_norm: Option<QkNorm>,
    /// Apply RoPE to the first N heads only (`pe_attn_head`); `None` = all heads.
    #[serde(default)]
    pub pe_attn_head: Option<usize>,
    /// Mask padded keys in self-attention (`attn_mask_enabled`; false in F5TTS_v1_Base).
    #[serde(default)]
    pub attn_mask_enabled: bool,
    #[serde(default)]
    pub long_skip_connection: bool,
    /// Convolutional position embedding kernel and groups (F5: 31, 16).
    #[serde(default = "default_conv_pos_kernel")]
    pub conv_pos_kernel: usize,
    #[serde(default = "default_conv_pos_groups")]
    pub conv_pos_groups: usize,
}

fn default_ff_mult() -> usize {
    2
}
fn default_conv_pos_kernel() -> usize {
    31
}
fn default_conv_pos_groups() -> usize {
    16
}

impl DitConfig {
    /// Attention width `heads * dim_head`.
    pub fn inner_dim(&self) -> usize {
        self.heads * self.dim_head
    }
}

/// Which values a motion frame holds (DESIGN §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MotionLayout {
    /// LivePortrait expression deltas of 4 mouth keypoints, conditioned on the other 17 keypoints' deltas.
    LiveportraitMouth4 {
        /// Which 4 of LivePortrait's 21 implicit keypoints are generated (e.g. 4 of [6, 12, 14, 17, 19, 20]).
        keypoints: [usize; 4],
    },
    /// Displacement of 4 mouth points in inter-ocular units (x, y in the image plane, z = protrusion).
    #[serde(rename = "mouth4-2d")]
    Mouth4_2d,
}

/// Points per generated motion frame and coordinates per point.
pub const MOUTH_POINTS: usize = 4;
pub const POINT_DIMS: usize = 3;
/// The points of a `mouth4-2d` frame in order (each x, y, z): upper lip centre, lower lip centre, image-left
/// corner, image-right corner (DESIGN §2; inner lip line, inter-ocular units, y down, z = protrusion).
pub const MOUTH4_2D_POINTS: [&str; MOUTH_POINTS] = ["upper", "lower", "left", "right"];
/// LivePortrait's implicit keypoint count.
pub const LIVEPORTRAIT_KEYPOINTS: usize = 21;

impl MotionLayout {
    /// Values generated per frame (4 points x 3 = 12).
    pub fn motion_dim(&self) -> usize {
        MOUTH_POINTS * POINT_DIMS
    }
    /// Values of the conditioning `rest` per frame (LivePortrait: the other 17 keypoints x 3 = 51; mouth4-2d: 0).
    pub fn rest_dim(&self) -> usize {
        match self {
            MotionLayout::LiveportraitMouth4 { .. } => (LIVEPORTRAIT_KEYPOINTS - MOUTH_POINTS) * POINT_DIMS,
            MotionLayout::Mouth4_2d => 0,
        }
    }
    /// The name used in configs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            MotionLayout::LiveportraitMouth4 { .. } => "liveportrait-mouth4",
            MotionLayout::Mouth4_2d => "mouth4-2d",
        }
    }
}

/// The Motion-DiT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionConfig {
    pub layout: MotionLayout,
    /// Motion frames per second (25).
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// The stream's DiT; `depth` must equal the Audio-DiT's, `heads` and `dim_head` too (shared attention).
    pub dit: DitConfig,
    /// Feed the known-motion mask to the input projection as one extra channel (a zero delta is a valid
    /// motion value, unlike a zero log-mel, so the network may need to know what is given).
    #[serde(default)]
    pub known_mask_channel: bool,
    /// The network works on `(motion - mean) / std` per channel (a trained package's data statistics: mouth
    /// displacements of a few percent of the inter-ocular distance brought to the unit scale of the flow's noise).
    /// Absent: motion values are used as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<MotionNormalization>,
}

/// Per-channel affine map between motion values and the network's motion space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionNormalization {
    /// `[K]` channel means.
    pub mean: Vec<f32>,
    /// `[K]` channel standard deviations (positive).
    pub std: Vec<f32>,
}

impl MotionNormalization {
    /// Motion values `[F * K]` -> network space, in place.
    pub fn to_model(&self, motion: &mut [f32]) {
        let k = self.mean.len();
        for (i, v) in motion.iter_mut().enumerate() {
            *v = (*v - self.mean[i % k]) / self.std[i % k];
        }
    }

    /// Network space `[F * K]` -> motion values, in place.
    pub fn from_model(&self, motion: &mut [f32]) {
        let k = self.mean.len();
        for (i, v) in motion.iter_mut().enumerate() {
            *v = *v * self.std[i % k] + self.mean[i % k];
        }
    }
}

/// Motion frames per second of every package we make (DESIGN §1).
pub const MOTION_FPS: f64 = 25.0;

fn default_fps() -> f64 {
    MOTION_FPS
}

/// Joint attention between the two streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointConfig {
    /// Layer indices that attend jointly; `None` = the second half (`depth/2 .. depth`).
    #[serde(default)]
    pub layers: Option<Vec<usize>>,
    /// Cross-stream attention only between frames at most this many seconds apart.
    #[serde(default = "default_window_s")]
    pub window_s: f64,
}

fn default_window_s() -> f64 {
    0.5
}

/// Time-step schedules (DESIGN §1, Sampler).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `linspace(0, 1, steps + 1)`.
    Uniform,
    /// F5's sway sampling: `t + coef * (cos(pi/2 t) - 1 + t)` on the uniform grid.
    Sway {
        #[serde(default = "default_sway")]
        coef: f64,
    },
    /// F5's Empirically Pruned Step Sampling grids (5, 6, 7, 10, 12, 16 steps; uniform otherwise),
    /// optionally swayed as F5 does.
    Epss {
        #[serde(default)]
        sway: Option<f64>,
    },
    /// An explicit list of times from 0 to 1 (a distilled model's own steps).
    List { t: Vec<f64> },
}

fn default_sway() -> f64 {
    -1.0
}

/// What `sample` uses when the caller does not say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplerDefaults {
    pub steps: usize,
    pub schedule: Schedule,
    pub cfg_strength: f64,
    /// A distilled model with guidance baked in: no unconditional pass.
    pub guidance_baked: bool,
    /// Scale of the initial noise the sampler draws (1: the flow's N(0, I) prior; lower: closer to the mean answer,
    /// as Piper's `noise_scale` 0.667). Absent from `model.json` when 1.
    #[serde(skip_serializing_if = "is_one")]
    pub noise_scale: f64,
}

fn is_one(v: &f64) -> bool {
    *v == 1.0
}

impl Default for SamplerDefaults {
    fn default() -> Self {
        Self {
            steps: 32,
            schedule: Schedule::Sway { coef: -1.0 },
            cfg_strength: 2.0,
            guidance_baked: false,
            noise_scale: 1.0,
        }
    }
}

fn invalid(field: &str, msg: impl Into<String>) -> ModelError {
    ModelError::Config { file: None, field: field.to_string(), msg: msg.into() }
}

impl ModelConfig {
    /// Read and validate `model.json`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io { path: path.to_path_buf(), source: e })?;
        let cfg: ModelConfig = serde_json::from_str(&text)
            .map_err(|e| ModelError::Json { path: path.to_path_buf(), msg: e.to_string() })?;
        cfg.validate().map_err(|e| e.in_file(path))?;
        Ok(cfg)
    }

    /// Write pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let text = serde_json::to_string_pretty(self).expect("config serializes");
        std::fs::write(path, text + "\n").map_err(|e| ModelError::Io { path: path.to_path_buf(), source: e })
    }

    /// Motion frame position on the mel axis: motion frame j sits at mel position j * ratio (3.75).
    pub fn motion_pos_scale(&self) -> Option<f64> {
        self.motion.as_ref().map(|m| self.audio.mel_rate() / m.fps)
    }

    /// Motion frames that cover `mel_frames` mel frames.
    pub fn motion_frames_for(&self, mel_frames: usize) -> usize {
        match &self.motion {
            Some(m) => ((mel_frames as f64) * m.fps / self.audio.mel_rate()).ceil() as usize,
            None => 0,
        }
    }

    /// The joint layer indices (sorted, unique), empty for audio-only packages.
    pub fn joint_layers(&self) -> Vec<usize> {
        if self.motion.is_none() {
            return Vec::new();
        }
        let depth = self.audio_dit.depth;
        match self.joint.as_ref().and_then(|j| j.layers.clone()) {
            Some(mut l) => {
                l.sort_unstable();
                l.dedup();
                l
            }
            None => (depth / 2..depth).collect(),
        }
    }

    /// Cross-stream window in mel frames.
    pub fn joint_window_frames(&self) -> f64 {
        self.joint.as_ref().map(|j| j.window_s).unwrap_or_else(default_window_s) * self.audio.mel_rate()
    }

    /// Check every value and every cross-field constraint; errors name the field.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.format != FORMAT {
            return Err(invalid("format", format!("expected \"{FORMAT}\", found \"{}\"", self.format)));
        }
        let a = &self.audio;
        for (f, v) in [
            ("audio.sample_rate", a.sample_rate as usize),
            ("audio.n_fft", a.n_fft),
            ("audio.win_length", a.win_length),
            ("audio.hop_length", a.hop_length),
            ("audio.n_mels", a.n_mels),
        ] {
            if v == 0 {
                return Err(invalid(f, "must be > 0"));
            }
        }
        if a.win_length > a.n_fft {
            return Err(invalid("audio.win_length", format!("{} exceeds audio.n_fft {}", a.win_length, a.n_fft)));
        }
        if let Some(t) = &self.text {
            if t.vocab_size == 0 {
                return Err(invalid("text.vocab_size", "must be > 0"));
            }
            if t.dim == 0 {
                return Err(invalid("text.dim", "must be > 0"));
            }
            if t.conv_layers > 0 && t.dim % 2 != 0 {
                return Err(invalid("text.dim", format!("must be even for sinusoidal positions, found {}", t.dim)));
            }
            if t.conv_mult == 0 {
                return Err(invalid("text.conv_mult", "must be > 0"));
            }
            if t.max_len == 0 {
                return Err(invalid("text.max_len", "must be > 0"));
            }
            if t.vocab_file.is_empty() || t.vocab_file.contains('/') || t.vocab_file.contains('\\') {
                return Err(invalid("text.vocab_file", "must be a plain file name inside the package"));
            }
        }
        validate_dit("audio_dit", &self.audio_dit)?;
        if let Some(m) = &self.motion {
            validate_dit("motion.dit", &m.dit)?;
            if let Some(n) = &m.normalization {
                let k = m.layout.motion_dim();
                for (field, v) in [("motion.normalization.mean", &n.mean), ("motion.normalization.std", &n.std)] {
                    if v.len() != k {
                        return Err(invalid(
                            field,
                            format!("expected {k} values ({}), found {}", m.layout.name(), v.len()),
                        ));
                    }
                    if v.iter().any(|x| !x.is_finite()) {
                        return Err(invalid(field, "values must be finite"));
                    }
                }
                if n.std.iter().any(|&x| x <= 0.0) {
                    return Err(invalid("motion.normalization.std", "values must be positive"));
                }
            }
            if !(m.fps.is_finite() && m.fps > 0.0) {
                return Err(invalid("motion.fps", format!("must be a positive number, found {}", m.fps)));
            }
            let ad = &self.audio_dit;
            if m.dit.depth != ad.depth {
                return Err(invalid(
                    "motion.dit.depth",
                    format!("must equal audio_dit.depth ({}), found {}", ad.depth, m.dit.depth),
                ));
            }
            if m.dit.heads != ad.heads {
                return Err(invalid(
                    "motion.dit.heads",
                    format!("must equal audio_dit.heads ({}) for joint attention, found {}", ad.heads, m.dit.heads),
                ));
            }
            if m.dit.dim_head != ad.dim_head {
                return Err(invalid(
                    "motion.dit.dim_head",
                    format!(
                        "must equal audio_dit.dim_head ({}) for joint attention, found {}",
                        ad.dim_head, m.dit.dim_head
                    ),
                ));
            }
            if m.dit.pe_attn_head != ad.pe_attn_head {
                return Err(invalid("motion.dit.pe_attn_head", "must equal audio_dit.pe_attn_head"));
            }
            if m.dit.qk_norm != ad.qk_norm {
                return Err(invalid("motion.dit.qk_norm", "must equal audio_dit.qk_norm"));
            }
            if let MotionLayout::LiveportraitMouth4 { keypoints } = &m.layout {
                for (i, k) in keypoints.iter().enumerate() {
                    if *k >= LIVEPORTRAIT_KEYPOINTS {
                        return Err(invalid(
                            &format!("motion.layout.keypoints[{i}]"),
                            format!("must be < {LIVEPORTRAIT_KEYPOINTS}, found {k}"),
                        ));
                    }
                    if keypoints[..i].contains(k) {
                        return Err(invalid(&format!("motion.layout.keypoints[{i}]"), format!("{k} is repeated")));
                    }
                }
            }
            if let Some(j) = &self.joint {
                if !(j.window_s.is_finite() && j.window_s >= 0.0) {
                    return Err(invalid("joint.window_s", format!("must be >= 0 seconds, found {}", j.window_s)));
                }
                if let Some(layers) = &j.layers {
                    if let Some(bad) = layers.iter().find(|&&l| l >= ad.depth) {
                        return Err(invalid(
                            "joint.layers",
                            format!("layer {bad} is out of range for depth {}", ad.depth),
                        ));
                    }
                }
            }
        } else if self.joint.is_some() {
            return Err(invalid("joint", "given without a motion stream"));
        }
        let s = &self.sampler;
        if s.steps == 0 {
            return Err(invalid("sampler.steps", "must be > 0"));
        }
        if !s.cfg_strength.is_finite() {
            return Err(invalid("sampler.cfg_strength", "must be finite"));
        }
        if !(0.0..=2.0).contains(&s.noise_scale) {
            return Err(invalid("sampler.noise_scale", format!("{}: expected 0..=2", s.noise_scale)));
        }
        if let Schedule::List { t } = &s.schedule {
            check_time_list(t).map_err(|m| invalid("sampler.schedule.t", m))?;
        }
        Ok(())
    }
}

/// A time list must start at 0, end at 1 and increase.
pub fn check_time_list(t: &[f64]) -> Result<(), String> {
    if t.len() < 2 {
        return Err(format!("needs at least 2 times, found {}", t.len()));
    }
    if t[0] != 0.0 || t[t.len() - 1] != 1.0 {
        return Err(format!("must run from 0 to 1, found {} .. {}", t[0], t[t.len() - 1]));
    }
    if t.windows(2).any(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater)) {
        return Err("must be strictly increasing".into());
    }
    Ok(())
}

fn validate_dit(prefix: &str, d: &DitConfig) -> Result<(), ModelError> {
    let f = |name: &str| format!("{prefix}.{name}");
    for (name, v) in
        [("dim", d.dim), ("depth", d.depth), ("heads", d.heads), ("dim_head", d.dim_head), ("ff_mult", d.ff_mult)]
    {
        if v == 0 {
            return Err(invalid(&f(name), "must be > 0"));
        }
    }
    if d.dim_head % 2 != 0 {
        return Err(invalid(&f("dim_head"), format!("must be even for RoPE, found {}", d.dim_head)));
    }
    if d.conv_pos_kernel % 2 == 0 {
        return Err(invalid(&f("conv_pos_kernel"), format!("must be odd, found {}", d.conv_pos_kernel)));
    }
    if d.conv_pos_groups == 0 || d.dim % d.conv_pos_groups != 0 {
        return Err(invalid(
            &f("conv_pos_groups"),
            format!("must divide {prefix}.dim ({}), found {}", d.dim, d.conv_pos_groups),
        ));
    }
    if let Some(p) = d.pe_attn_head {
        if p == 0 || p > d.heads {
            return Err(invalid(&f("pe_attn_head"), format!("must be in 1..={}, found {p}", d.heads)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn small_json() -> serde_json::Value {
        serde_json::json!({
            "format": FORMAT,
            "text": {"vocab_size": 10, "dim": 16, "conv_layers": 1},
            "audio_dit": {"dim": 32, "depth": 2, "heads": 2, "dim_head": 8},
            "motion": {"layout": {"kind": "mouth4-2d"}, "dit": {"dim": 16, "depth": 2, "heads": 2, "dim_head": 8}},
        })
    }

    fn parse(v: serde_json::Value) -> Result<ModelConfig, String> {
        let c: ModelConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn small_config_parses_with_defaults() {
        let c = parse(small_json()).unwrap();
        assert_eq!(c.audio.n_mels, 100);
        assert_eq!(c.joint_layers(), vec![1]);
        assert!((c.motion_pos_scale().unwrap() - 3.75).abs() < 1e-12);
        assert_eq!(c.motion_frames_for(375), 100);
        assert!((c.joint_window_frames() - 46.875).abs() < 1e-9);
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let mut v = small_json();
        v["audio_dit"]["dimm"] = 3.into();
        let e = parse(v).unwrap_err();
        assert!(e.contains("dimm"), "{e}");
    }

    #[test]
    fn heads_mismatch_names_the_field() {
        let mut v = small_json();
        v["motion"]["dit"]["heads"] = 4.into();
        let e = parse(v).unwrap_err();
        assert!(e.contains("motion.dit.heads") && e.contains("audio_dit.heads"), "{e}");
        let mut v = small_json();
        v["motion"]["dit"]["dim_head"] = 4.into();
        let e = parse(v).unwrap_err();
        assert!(e.contains("motion.dit.dim_head"), "{e}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            ("/audio_dit/conv_pos_groups", serde_json::json!(5), "audio_dit.conv_pos_groups"),
            ("/joint", serde_json::json!({"layers": [7]}), "joint.layers"),
            ("/joint", serde_json::json!({"window_s": -1.0}), "joint.window_s"),
            ("/motion/fps", serde_json::json!(0.0), "motion.fps"),
            ("/motion/dit/depth", serde_json::json!(3), "motion.dit.depth"),
            ("/format", serde_json::json!("x"), "format"),
            (
                "/sampler",
                serde_json::json!({"schedule": {"kind": "list", "t": [0.0, 0.7, 0.5, 1.0]}}),
                "sampler.schedule.t",
            ),
        ];
        for (ptr, val, field) in cases {
            let mut v = small_json();
            let (parent, key) = ptr.rsplit_once('/').unwrap();
            v.pointer_mut(if parent.is_empty() { "" } else { parent }).unwrap()[key] = val;
            let e = parse(v).unwrap_err();
            assert!(e.contains(field), "{ptr}: {e}");
        }
    }

    #[test]
    fn text_alignment_defaults_to_filler_and_parses_durations() {
        let c = parse(small_json()).unwrap();
        assert_eq!(c.text.as_ref().unwrap().alignment, TextAlignment::Filler);
        // A filler package's model.json does not spell it out (files of existing packages stay byte-identical).
        assert!(!serde_json::to_string(&c).unwrap().contains("alignment"));
        let mut v = small_json();
        v["text"]["alignment"] = "durations".into();
        let c = parse(v).unwrap();
        assert_eq!(c.text.as_ref().unwrap().alignment, TextAlignment::Durations);
        let back: ModelConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let mut v = small_json();
        v["text"]["alignment"] = "phonemes".into();
        let e = parse(v).unwrap_err();
        assert!(e.contains("text.alignment") && e.contains("\"phonemes\"") && e.contains("\"filler\""), "{e}");
    }

    #[test]
    fn liveportrait_layout_dims() {
        let l = MotionLayout::LiveportraitMouth4 { keypoints: [6, 12, 14, 17] };
        assert_eq!((l.motion_dim(), l.rest_dim()), (12, 51));
        assert_eq!(MotionLayout::Mouth4_2d.rest_dim(), 0);
    }
}

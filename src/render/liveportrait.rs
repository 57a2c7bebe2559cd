//! The LivePortrait renderer (layout `liveportrait-mouth4`) over user-supplied ONNX files as FasterLivePortrait
//! names them, run through the runtime [`Backend`].
//!
//! Per portrait (once): the face crop (square, centred on the landmark face box, as the mesh-warp crop), resized
//! to 256x256 RGB in [0, 1]; `appearance_feature_extractor` -> `feature_3d` [1, 32, 16, 64, 64];
//! `motion_extractor` (always FP32) -> pitch/yaw/roll [1, 66] (bins), t [1, 3], exp [1, 63], scale [1, 1],
//! kp [1, 63] (canonical keypoints x_c); the source keypoints x_s = s (x_c R + exp) + t, with the angles the
//! softmax expectation over 66 bins of 3 degrees from -97.5 (R = (Rz Ry Rx)^T, t_z = 0).
//!
//! Per frame: the 12 generated values (4 keypoints x 3) are added to the source expression at the package's
//! keypoint indices, x_d = s (x_c R + exp_d) + t, `stitching` ([x_s, x_d] flat [1, 126] -> [1, 65]: 63 keypoint
//! deltas and an x/y shift) corrects x_d, `warping_spade(feature_3d, kp_driving, kp_source)` -> [1, 3, 512, 512]
//! in [0, 1], pasted back into the portrait with a soft (feathered) square mask.
//!
//! Only the wiring is tested here (stand-in ONNX files of the same signatures); no real LivePortrait weights.

use std::path::Path;

use image::RgbImage;

use super::landmarks::Landmarks;
use super::mesh::{resample_crop, CROP_FACE_RATIO};
use super::warp::{sample_bilinear_f, smoothstep, to_u8, Pt};
use super::{RenderError, Renderer};
use crate::model::config::{MotionLayout, LIVEPORTRAIT_KEYPOINTS, MOUTH_POINTS, POINT_DIMS};
use crate::runtime::{Backend, HostTensor, NamedTensors, OrtBackend, OrtOptions, Provider, RuntimeError};

/// FasterLivePortrait ONNX file stems and the tensor names our wiring uses.
pub mod files {
    pub const APPEARANCE: &str = "appearance_feature_extractor";
    pub const MOTION: &str = "motion_extractor";
    pub const WARPING: &str = "warping_spade";
    pub const STITCHING: &str = "stitching";
    /// Image input of the two source models, [1, 3, 256, 256] RGB in [0, 1].
    pub const IMG: &str = "img";
    /// Motion extractor outputs.
    pub const PITCH: &str = "pitch";
    pub const YAW: &str = "yaw";
    pub const ROLL: &str = "roll";
    pub const T: &str = "t";
    pub const EXP: &str = "exp";
    pub const SCALE: &str = "scale";
    pub const KP: &str = "kp";
    /// Warping inputs.
    pub const FEATURE_3D: &str = "feature_3d";
    pub const KP_DRIVING: &str = "kp_driving";
    pub const KP_SOURCE: &str = "kp_source";
    /// Stitching input [1, 126].
    pub const STITCH_IN: &str = "input";
}

/// Source crop side fed to the source models.
pub const SOURCE_SIZE: u32 = 256;
/// Generated frame side.
pub const GENERATED_SIZE: u32 = 512;
/// Head-pose bins of the motion extractor.
pub const POSE_BINS: usize = 66;
/// Feathered border of the paste-back mask, as a fraction of the crop side.
pub const FEATHER: f32 = 0.12;

/// The four (or three) networks.
pub struct LivePortraitModels {
    pub appearance: Box<dyn Backend>,
    pub motion: Box<dyn Backend>,
    pub warping: Box<dyn Backend>,
    pub stitching: Option<Box<dyn Backend>>,
}

impl LivePortraitModels {
    /// Open `DIR/{appearance_feature_extractor,motion_extractor,warping_spade}.onnx` and, when present,
    /// `DIR/stitching.onnx`. The motion extractor never runs in reduced precision: with the TensorRT provider
    /// (FP16) it runs on CUDA instead.
    pub fn open(dir: &Path, opts: &OrtOptions) -> Result<Self, RenderError> {
        let file = |stem: &str| dir.join(format!("{stem}.onnx"));
        let need = |stem: &str| -> Result<std::path::PathBuf, RenderError> {
            let p = file(stem);
            if p.exists() {
                Ok(p)
            } else {
                Err(RenderError::File {
                    path: p,
                    msg: "missing (the LivePortrait renderer needs FasterLivePortrait's ONNX files)".into(),
                })
            }
        };
        let mut fp32 = opts.clone();
        if fp32.provider == Provider::Tensorrt {
            fp32.provider = Provider::Cuda;
        }
        let open = |p: &Path, o: &OrtOptions| -> Result<Box<dyn Backend>, RenderError> {
            Ok(Box::new(OrtBackend::from_file(p, o)?))
        };
        let stitch = file(files::STITCHING);
        Ok(Self {
            appearance: open(&need(files::APPEARANCE)?, opts)?,
            motion: open(&need(files::MOTION)?, &fp32)?,
            warping: open(&need(files::WARPING)?, opts)?,
            stitching: if stitch.exists() { Some(open(&stitch, opts)?) } else { None },
        })
    }
}

/// Degrees from 66 head-pose bins: softmax expectation * 3 - 97.5.
pub fn pose_degrees(bins: &[f32]) -> f32 {
    let m = bins.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f32> = bins.iter().map(|&b| (b - m).exp()).collect();
    let z: f32 = e.iter().sum();
    e.iter().enumerate().map(|(i, v)| i as f32 * v / z).sum::<f32>() * 3.0 - 97.5
}

/// LivePortrait's rotation (pitch about x, yaw about y, roll about z; degrees): (Rz Ry Rx)^T, row-major.
pub fn rotation(pitch: f32, yaw: f32, roll: f32) -> [[f32; 3]; 3] {
    let (x, y, z) = (pitch.to_radians(), yaw.to_radians(), roll.to_radians());
    let rx = [[1.0, 0.0, 0.0], [0.0, x.cos(), -x.sin()], [0.0, x.sin(), x.cos()]];
    let ry = [[y.cos(), 0.0, y.sin()], [0.0, 1.0, 0.0], [-y.sin(), 0.0, y.cos()]];
    let rz = [[z.cos(), -z.sin(), 0.0], [z.sin(), z.cos(), 0.0], [0.0, 0.0, 1.0]];
    let mm = |a: [[f32; 3]; 3], b: [[f32; 3]; 3]| {
        let mut c = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                c[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
            }
        }
        c
    };
    let r = mm(mm(rz, ry), rx);
    let mut t = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            t[i][j] = r[j][i];
        }
    }
    t
}

/// x = s (x_c R + exp) + t (t_z = 0), keypoints [21, 3] row vectors.
pub fn transform_keypoints(xc: &[f32], r: &[[f32; 3]; 3], exp: &[f32], s: f32, t: [f32; 3]) -> Vec<f32> {
    let mut out = vec![0.0; xc.len()];
    for k in 0..xc.len() / 3 {
        for j in 0..3 {
            let rot: f32 = (0..3).map(|i| xc[k * 3 + i] * r[i][j]).sum();
            let tj = if j == 2 { 0.0 } else { t[j] };
            out[k * 3 + j] = s * (rot + exp[k * 3 + j]) + tj;
        }
    }
    out
}

fn output<'a>(out: &'a NamedTensors, name: &str, len: usize, model: &str) -> Result<&'a [f32], RenderError> {
    // A single-output model's output is taken whatever its name.
    let t = if out.len() == 1 { out.values().next() } else { out.get(name) };
    let t = t.ok_or_else(|| {
        RenderError::Runtime(RuntimeError::Ort(format!(
            "{model}: no output `{name}` (outputs: {})",
            out.keys().cloned().collect::<Vec<_>>().join(", ")
        )))
    })?;
    let v = t.as_f32().unwrap_or(&[]);
    if v.len() != len {
        return Err(RenderError::Runtime(RuntimeError::Ort(format!(
            "{model}: output `{name}` has shape {:?}; expected {len} values",
            t.shape
        ))));
    }
    Ok(v)
}

/// Source-side results, computed once per portrait.
struct Source {
    feature_3d: HostTensor,
    xc: Vec<f32>,
    r: [[f32; 3]; 3],
    exp: Vec<f32>,
    scale: f32,
    t: [f32; 3],
    xs: Vec<f32>,
}

/// The LivePortrait renderer over one portrait.
pub struct LivePortraitRenderer {
    models: LivePortraitModels,
    keypoints: [usize; MOUTH_POINTS],
    portrait: RgbImage,
    origin: Pt,
    side: f32,
    src: Source,
    generated: RgbImage,
    /// Source-model runs so far (1 per portrait: the per-portrait work is cached).
    pub source_runs: usize,
}

impl LivePortraitRenderer {
    /// Prepare a portrait: crop, source features and keypoints (the only runs of the two source models).
    /// `layout` is the package's; it must be `liveportrait-mouth4`.
    pub fn new(
        mut models: LivePortraitModels,
        layout: &MotionLayout,
        portrait: &RgbImage,
        lm: &Landmarks,
    ) -> Result<Self, RenderError> {
        let keypoints = match layout {
            MotionLayout::LiveportraitMouth4 { keypoints } => *keypoints,
            other => {
                return Err(RenderError::Layout {
                    package: other.name().into(),
                    renderer: "liveportrait".into(),
                    accepted: "liveportrait-mouth4".into(),
                })
            }
        };
        if let Some(k) = keypoints.iter().find(|&&k| k >= LIVEPORTRAIT_KEYPOINTS) {
            return Err(RenderError::Portrait(format!("keypoint index {k} is not one of LivePortrait's 21")));
        }
        lm.validate(portrait.dimensions()).map_err(|m| RenderError::Portrait(format!("landmarks: {m}")))?;
        let [x0, y0, x1, y1] = lm.face_box;
        let side = CROP_FACE_RATIO * (x1 - x0).max(y1 - y0);
        let origin = Pt::new((x0 + x1 - side) * 0.5, (y0 + y1 - side) * 0.5);
        let crop = resample_crop(portrait, origin, SOURCE_SIZE as f32 / side, SOURCE_SIZE);
        let n = (SOURCE_SIZE * SOURCE_SIZE) as usize;
        let mut img = vec![0.0f32; 3 * n];
        for (i, p) in crop.pixels().enumerate() {
            for c in 0..3 {
                img[c * n + i] = p[c] as f32 / 255.0;
            }
        }
        let mut input = NamedTensors::new();
        let s = SOURCE_SIZE as usize;
        input.insert(files::IMG.into(), HostTensor::f32(vec![1, 3, s, s], img));
        let feat = models.appearance.run(&input)?;
        let feature_3d = feat.values().next().filter(|t| t.shape == [1, 32, 16, 64, 64]).cloned().ok_or_else(|| {
            RenderError::Runtime(RuntimeError::Ort(format!(
                "{}: expected one output [1, 32, 16, 64, 64], got {:?}",
                files::APPEARANCE,
                feat.iter().map(|(k, v)| (k.clone(), v.shape.clone())).collect::<Vec<_>>()
            )))
        })?;
        let mo = models.motion.run(&input)?;
        let kp3 = LIVEPORTRAIT_KEYPOINTS * POINT_DIMS;
        let m = files::MOTION;
        let pitch = pose_degrees(output(&mo, files::PITCH, POSE_BINS, m)?);
        let yaw = pose_degrees(output(&mo, files::YAW, POSE_BINS, m)?);
        let roll = pose_degrees(output(&mo, files::ROLL, POSE_BINS, m)?);
        let t = output(&mo, files::T, 3, m)?;
        let t = [t[0], t[1], t[2]];
        let exp = output(&mo, files::EXP, kp3, m)?.to_vec();
        let scale = output(&mo, files::SCALE, 1, m)?[0];
        let xc = output(&mo, files::KP, kp3, m)?.to_vec();
        let r = rotation(pitch, yaw, roll);
        let xs = transform_keypoints(&xc, &r, &exp, scale, t);
        Ok(Self {
            models,
            keypoints,
            portrait: portrait.clone(),
            origin,
            side,
            src: Source { feature_3d, xc, r, exp, scale, t, xs },
            generated: RgbImage::new(GENERATED_SIZE, GENERATED_SIZE),
            source_runs: 1,
        })
    }

    /// The last generated 512x512 face (before paste-back).
    pub fn generated(&self) -> &RgbImage {
        &self.generated
    }

    /// The crop square in portrait pixels: (origin, side).
    pub fn crop_square(&self) -> (Pt, f32) {
        (self.origin, self.side)
    }

    /// Driving keypoints for one frame of generated mouth deltas (before stitching).
    pub fn driving_keypoints(&self, motion: &[f32]) -> Vec<f32> {
        let mut exp = self.src.exp.clone();
        for (p, &k) in self.keypoints.iter().enumerate() {
            for d in 0..POINT_DIMS {
                let v = motion[p * POINT_DIMS + d];
                exp[k * POINT_DIMS + d] += if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 };
            }
        }
        transform_keypoints(&self.src.xc, &self.src.r, &exp, self.src.scale, self.src.t)
    }

    fn paste_back(&self) -> RgbImage {
        let mut out = self.portrait.clone();
        let (w, h) = out.dimensions();
        let k = GENERATED_SIZE as f32 / self.side;
        let (gx0, gy0) = (self.origin.x.floor().max(0.0) as u32, self.origin.y.floor().max(0.0) as u32);
        let gx1 = ((self.origin.x + self.side).ceil() as u32).min(w);
        let gy1 = ((self.origin.y + self.side).ceil() as u32).min(h);
        let g = &self.generated;
        for y in gy0..gy1 {
            for x in gx0..gx1 {
                // Position in the crop, 0..1.
                let u = (x as f32 - self.origin.x) / self.side;
                let v = (y as f32 - self.origin.y) / self.side;
                let edge = u.min(v).min(1.0 - u).min(1.0 - v);
                let mask = smoothstep(0.0, FEATHER, edge);
                if mask <= 0.0 {
                    continue;
                }
                let s = sample_bilinear_f(
                    g.as_raw(),
                    GENERATED_SIZE,
                    GENERATED_SIZE,
                    u * self.side * k - 0.5,
                    v * self.side * k - 0.5,
                );
                let p = out.get_pixel_mut(x, y);
                for c in 0..3 {
                    p[c] = to_u8(p[c] as f32 + (s[c] - p[c] as f32) * mask);
                }
            }
        }
        out
    }
}

impl Renderer for LivePortraitRenderer {
    fn name(&self) -> &'static str {
        "liveportrait"
    }
    fn layouts(&self) -> Vec<MotionLayout> {
        vec![MotionLayout::LiveportraitMouth4 { keypoints: self.keypoints }]
    }
    fn frame_size(&self) -> (u32, u32) {
        self.portrait.dimensions()
    }
    fn render(&mut self, motion: &[f32], _index: u64) -> Result<RgbImage, RenderError> {
        let layout = MotionLayout::LiveportraitMouth4 { keypoints: self.keypoints };
        if motion.len() != layout.motion_dim() {
            return Err(RenderError::Frame {
                expected: layout.motion_dim(),
                got: motion.len(),
                layout: layout.name().into(),
            });
        }
        let n = LIVEPORTRAIT_KEYPOINTS;
        let mut xd = self.driving_keypoints(motion);
        if let Some(st) = self.models.stitching.as_mut() {
            let mut inp = NamedTensors::new();
            let mut v = self.src.xs.clone();
            v.extend_from_slice(&xd);
            inp.insert(files::STITCH_IN.into(), HostTensor::f32(vec![1, 2 * n * POINT_DIMS], v));
            let out = st.run(&inp)?;
            let d = output(&out, "", n * POINT_DIMS + 2, files::STITCHING)?;
            for k in 0..n {
                for j in 0..POINT_DIMS {
                    xd[k * 3 + j] += d[k * 3 + j];
                }
                xd[k * 3] += d[n * 3];
                xd[k * 3 + 1] += d[n * 3 + 1];
            }
        }
        let mut inp = NamedTensors::new();
        inp.insert(files::FEATURE_3D.into(), self.src.feature_3d.clone());
        inp.insert(files::KP_DRIVING.into(), HostTensor::f32(vec![1, n, 3], xd));
        inp.insert(files::KP_SOURCE.into(), HostTensor::f32(vec![1, n, 3], self.src.xs.clone()));
        let out = self.models.warping.run(&inp)?;
        let g = GENERATED_SIZE as usize;
        let img = output(&out, "", 3 * g * g, files::WARPING)?;
        for (i, p) in self.generated.pixels_mut().enumerate() {
            for c in 0..3 {
                p[c] = to_u8(img[c * g * g + i] * 255.0);
            }
        }
        Ok(self.paste_back())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pose_bins_and_rotation_follow_liveportrait_conventions() {
        // Uniform bins: the expectation is the middle bin, 0 degrees.
        assert!(pose_degrees(&[0.0; POSE_BINS]).abs() < 1e-4);
        // A sharp peak at bin 40: 40 * 3 - 97.5 = 22.5 degrees.
        let mut b = [0.0f32; POSE_BINS];
        b[40] = 100.0;
        assert!((pose_degrees(&b) - 22.5).abs() < 1e-3);
        let i = rotation(0.0, 0.0, 0.0);
        assert_eq!(i, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        // Roll 90: R = Rz^T, so the row vector x = (1, 0, 0) maps to x R = first column of Rz = (0, 1, 0).
        let r = rotation(0.0, 0.0, 90.0);
        let x = transform_keypoints(&[1.0, 0.0, 0.0], &r, &[0.0; 3], 1.0, [0.0; 3]);
        assert!(x[0].abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6 && x[2].abs() < 1e-6, "{x:?}");
        // Scale, expression and translation (t_z dropped).
        let x = transform_keypoints(&[1.0, 2.0, 3.0], &i, &[0.5, 0.5, 0.5], 2.0, [1.0, 1.0, 1.0]);
        assert_eq!(x, vec![4.0, 6.0, 7.0]);
    }
}

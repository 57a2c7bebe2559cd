//! The CPU mesh-warp renderer for the `mouth4-2d` layout: a stored portrait plus its landmark file.
//!
//! Per portrait (once): the working image (a face crop resampled to the output size, or the full portrait at its
//! own resolution), the landmarks in that space, and the source meshes. Per frame: the 4 mouth points are moved
//! by the motion (inter-ocular units, clamped), a ring mesh around the mouth is moved with them and the working
//! image is warped piecewise-affinely (bilinear sampling) inside the mesh only; everything outside the outer ring
//! is copied untouched.
//!
//! The mouth and eye meshes are in [`super::face_mesh`].

use std::path::Path;

use image::RgbImage;

use super::face_mesh::{EyeMesh, MouthMesh};
use super::idle::{Idle, IdleOptions, IdleState};
use super::landmarks::Landmarks;
use super::warp::{sample_bilinear_f, smoothstep, to_u8, Pt};
use super::{open_portrait, RenderError, Renderer};
use crate::model::config::{MotionLayout, MOUTH_POINTS, POINT_DIMS};

/// Default output side of the face crop.
pub const DEFAULT_SIZE: u32 = 512;
/// The crop is this many face-box sides wide (the face box's larger side).
pub const CROP_FACE_RATIO: f32 = 2.0;

/// Clamp ranges of `mouth4-2d` values per point (x, y, z), in inter-ocular units.
pub const CLAMP: [[(f32, f32); POINT_DIMS]; MOUTH_POINTS] = [
    [(-0.1, 0.1), (-0.12, 0.2), (-0.5, 0.5)],   // upper lip
    [(-0.1, 0.1), (-0.2, 0.4), (-0.5, 0.5)],    // lower lip
    [(-0.2, 0.15), (-0.15, 0.15), (-0.5, 0.5)], // image-left corner (x < 0 widens)
    [(-0.15, 0.2), (-0.15, 0.15), (-0.5, 0.5)], // image-right corner (x > 0 widens)
];

/// What the renderer outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// A square face crop (centred on the face box, [`CROP_FACE_RATIO`] face sides wide) of `size` x `size`.
    Crop { size: u32 },
    /// The full portrait at its own resolution with the animated face in place.
    Full,
}

impl Default for OutputMode {
    fn default() -> Self {
        OutputMode::Crop { size: DEFAULT_SIZE }
    }
}

/// Renderer options.
#[derive(Debug, Clone, Default)]
pub struct MeshWarpOptions {
    pub output: OutputMode,
    /// Blinks and head/breathing motion (`None`: a still face apart from the mouth).
    pub idle: Option<IdleOptions>,
}

/// Clamp one `mouth4-2d` frame (non-finite values become 0).
pub fn clamp_motion(m: &[f32]) -> [[f32; POINT_DIMS]; MOUTH_POINTS] {
    let mut out = [[0.0; POINT_DIMS]; MOUTH_POINTS];
    for (p, row) in out.iter_mut().enumerate() {
        for (d, v) in row.iter_mut().enumerate() {
            let x = m[p * POINT_DIMS + d];
            let (lo, hi) = CLAMP[p][d];
            *v = if x.is_finite() { x.clamp(lo, hi) } else { 0.0 };
        }
    }
    out
}

/// The CPU mesh-warp renderer (layout `mouth4-2d`).
pub struct MeshWarpRenderer {
    /// The still working image (crop or full portrait).
    base: RgbImage,
    mouth: MouthMesh,
    eyes: Option<[EyeMesh; 2]>,
    idle: Option<Idle>,
    /// Face centre and soft head mask radii (working space) for head motion.
    face_centre: Pt,
    head_radii: Pt,
    iod: f32,
    full: bool,
    frame: RgbImage,
    /// The factor the last frame's mouth motion was scaled by to avoid a fold (1 = as given).
    last_scale: f32,
    /// Reused copy of the frame for head motion.
    scratch: Vec<u8>,
}

impl MeshWarpRenderer {
    /// Open a portrait and its landmark file (default: `NAME.landmarks.json` beside the image; prepared with the
    /// face detector when missing).
    pub fn open(image: &Path, landmarks: Option<&Path>, opts: &MeshWarpOptions) -> Result<Self, RenderError> {
        let portrait = open_portrait(image)?;
        let lm = super::face::load_or_prepare(image, &portrait, landmarks)?;
        Self::new(&portrait.image, &lm, opts)
    }

    /// Prepare a portrait (all per-portrait work happens here).
    pub fn new(portrait: &RgbImage, lm: &Landmarks, opts: &MeshWarpOptions) -> Result<Self, RenderError> {
        let (w, h) = portrait.dimensions();
        lm.validate((w, h)).map_err(|m| RenderError::Portrait(format!("landmarks: {m}")))?;
        let (base, lm) = match opts.output {
            OutputMode::Full => (portrait.clone(), lm.clone()),
            OutputMode::Crop { size } => {
                if !(16..=4096).contains(&size) {
                    return Err(RenderError::Portrait(format!("crop size {size} must be within 16..=4096")));
                }
                let [x0, y0, x1, y1] = lm.face_box;
                let side = CROP_FACE_RATIO * (x1 - x0).max(y1 - y0);
                let origin = Pt::new((x0 + x1 - side) * 0.5, (y0 + y1 - side) * 0.5);
                let scale = size as f32 / side;
                (resample_crop(portrait, origin, scale, size), lm.mapped(origin, scale, (size, size)))
            }
        };
        let iod = lm.iod();
        if iod < super::landmarks::MIN_IOD {
            return Err(RenderError::Portrait(format!(
                "the face is too small in the output ({iod:.1} px between the eyes; need {})",
                super::landmarks::MIN_IOD
            )));
        }
        let mouth = MouthMesh::new(&lm)?;
        let eyes = match &lm.eyelids {
            Some(l) => Some([
                EyeMesh::new(l.left.outer, l.left.inner, l.left.upper, l.left.lower, iod)?,
                EyeMesh::new(l.right.inner, l.right.outer, l.right.upper, l.right.lower, iod)?,
            ]),
            None => None,
        };
        if let (Some(io), None) = (&opts.idle, &eyes) {
            if io.blink {
                return Err(RenderError::Portrait(
                    "blinking needs `eyelids` in the landmark file (or idle life without blinks)".into(),
                ));
            }
        }
        let [x0, y0, x1, y1] = lm.face_box;
        let face_centre = Pt::new((x0 + x1) * 0.5, (y0 + y1) * 0.5);
        let head_radii = Pt::new(0.85 * (x1 - x0), 0.8 * (y1 - y0));
        let frame = base.clone();
        Ok(Self {
            base,
            mouth,
            eyes,
            idle: opts.idle.clone().map(Idle::new),
            face_centre,
            head_radii,
            iod,
            full: opts.output == OutputMode::Full,
            frame,
            last_scale: 1.0,
            scratch: Vec::new(),
        })
    }

    /// The still frame (zero motion, no idle life).
    pub fn reference(&self) -> &RgbImage {
        &self.base
    }

    /// The factor the last frame's (clamped) mouth motion was scaled by so that the mesh does not fold
    /// (1 = rendered as given).
    pub fn last_motion_scale(&self) -> f32 {
        self.last_scale
    }

    /// Inter-ocular distance in output pixels.
    pub fn iod_px(&self) -> f32 {
        self.iod
    }

    /// Render one frame into the internal buffer and return it.
    pub fn render_ref(&mut self, motion: &[f32], index: u64) -> Result<&RgbImage, RenderError> {
        let layout = MotionLayout::Mouth4_2d;
        if motion.len() != layout.motion_dim() {
            return Err(RenderError::Frame {
                expected: layout.motion_dim(),
                got: motion.len(),
                layout: layout.name().into(),
            });
        }
        let mo = clamp_motion(motion);
        let state = self.idle.as_mut().map(|i| i.state(index)).unwrap_or_default();
        self.frame.as_mut().copy_from_slice(self.base.as_raw());
        // Scale the motion down until the mesh does not fold (extreme combinations of clamped values).
        let mut k = 1.0;
        let mut dst = self.mouth.dest(&mo, k);
        while self.mouth.mesh.folds(&dst) {
            k *= 0.5;
            if k < 0.05 {
                k = 0.0;
            }
            dst = self.mouth.dest(&mo, k);
            if k == 0.0 {
                break;
            }
        }
        self.last_scale = k;
        self.mouth.mesh.draw(&dst, &self.base, &mut self.frame);
        self.mouth.draw_interior(&dst[0], &self.base, &mut self.frame);
        if let Some(eyes) = &self.eyes {
            if state.blink > 1e-3 {
                for e in eyes {
                    e.draw(state.blink, &self.base, &mut self.frame);
                }
            }
        }
        if state.moves() {
            self.head_motion(&state);
        }
        Ok(&self.frame)
    }

    /// Small head rotation/translation/breathing scale about the face centre. In full-portrait mode only a soft
    /// ellipse around the head moves (the body stays).
    fn head_motion(&mut self, st: &IdleState) {
        let (w, h) = self.frame.dimensions();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(self.frame.as_raw());
        let buf = &scratch[..];
        let out = self.frame.as_mut();
        let (sn, cs) = st.roll.sin_cos();
        let inv_s = 1.0 / st.scale;
        let c = self.face_centre;
        let shift = st.shift * self.iod;
        // Region to touch: everything (crop) or the head ellipse's box (full).
        let (x0, y0, x1, y1) = if self.full {
            let r = self.head_radii * 1.2;
            (
                (c.x - r.x).floor().max(0.0) as usize,
                (c.y - r.y).floor().max(0.0) as usize,
                ((c.x + r.x).ceil() as usize).min(w as usize),
                ((c.y + r.y).ceil() as usize).min(h as usize),
            )
        } else {
            (0, 0, w as usize, h as usize)
        };
        let wi = w as usize;
        for y in y0..y1 {
            // q(x) = A (p - c - shift) / s + c is affine in x: start and step per row.
            let p = Pt::new(x0 as f32, y as f32) - c - shift;
            let mut q = Pt::new(cs * p.x + sn * p.y, -sn * p.x + cs * p.y) * inv_s + c;
            let dq = Pt::new(cs, -sn) * inv_s;
            for x in x0..x1 {
                let i = (y * wi + x) * 3;
                let mask = if self.full {
                    let r = Pt::new((x as f32 - c.x) / self.head_radii.x, (y as f32 - c.y) / self.head_radii.y).norm();
                    1.0 - smoothstep(0.85, 1.2, r)
                } else {
                    1.0
                };
                if mask > 0.0 {
                    if mask >= 1.0 && q.x >= 0.0 && q.y >= 0.0 && q.x < (w - 1) as f32 && q.y < (h - 1) as f32 {
                        // Interior: fixed-point bilinear (8-bit weights).
                        let (xf, yf) = (q.x.floor(), q.y.floor());
                        let (fx, fy) = (((q.x - xf) * 256.0) as u32, ((q.y - yf) * 256.0) as u32);
                        let j = (yf as usize * wi + xf as usize) * 3;
                        let k = j + wi * 3;
                        for ch in 0..3 {
                            let top = buf[j + ch] as u32 * (256 - fx) + buf[j + 3 + ch] as u32 * fx;
                            let bot = buf[k + ch] as u32 * (256 - fx) + buf[k + 3 + ch] as u32 * fx;
                            out[i + ch] = ((top * (256 - fy) + bot * fy + (1 << 15)) >> 16) as u8;
                        }
                    } else {
                        let v = sample_bilinear_f(buf, w, h, q.x, q.y);
                        for ch in 0..3 {
                            let old = buf[i + ch] as f32;
                            out[i + ch] = to_u8(old + (v[ch] - old) * mask);
                        }
                    }
                }
                q = q + dq;
            }
        }
        self.scratch = scratch;
    }
}

impl Renderer for MeshWarpRenderer {
    fn name(&self) -> &'static str {
        "mesh-warp"
    }
    fn layouts(&self) -> Vec<MotionLayout> {
        vec![MotionLayout::Mouth4_2d]
    }
    fn frame_size(&self) -> (u32, u32) {
        self.base.dimensions()
    }
    fn render(&mut self, motion: &[f32], index: u64) -> Result<RgbImage, RenderError> {
        self.render_ref(motion, index).cloned()
    }
    /// Draws into the internal frame, then swaps it with `out`: no copy of the frame.
    fn render_into(&mut self, motion: &[f32], index: u64, out: &mut RgbImage) -> Result<(), RenderError> {
        self.render_ref(motion, index)?;
        if out.dimensions() != self.frame.dimensions() {
            *out = RgbImage::new(self.frame.width(), self.frame.height());
        }
        std::mem::swap(&mut self.frame, out);
        Ok(())
    }
}

/// The square crop `[origin, origin + size/scale)` of `img` at `size` x `size` (bilinear; box-averaged
/// supersampling when shrinking).
pub fn resample_crop(img: &RgbImage, origin: Pt, scale: f32, size: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let n = (1.0 / scale).ceil().max(1.0) as usize;
    let mut out = RgbImage::new(size, size);
    let buf = img.as_raw();
    let step = 1.0 / scale;
    for y in 0..size {
        for x in 0..size {
            let mut acc = [0.0f32; 3];
            for j in 0..n {
                for i in 0..n {
                    let sx = origin.x + (x as f32 + (i as f32 + 0.5) / n as f32 - 0.5) * step;
                    let sy = origin.y + (y as f32 + (j as f32 + 0.5) / n as f32 - 0.5) * step;
                    let v = sample_bilinear_f(buf, w, h, sx, sy);
                    for c in 0..3 {
                        acc[c] += v[c];
                    }
                }
            }
            let k = 1.0 / (n * n) as f32;
            out.put_pixel(x, y, image::Rgb(acc.map(|v| to_u8(v * k))));
        }
    }
    out
}

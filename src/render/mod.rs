//! Renderers: a stored portrait + 25 fps motion frames -> RGB frames (DESIGN §2).
//!
//! The contract ([`Renderer`]): a renderer takes its portrait once, does all per-portrait work then (landmarks,
//! crop, meshes; for LivePortrait the source features and keypoints), and afterwards turns one motion frame at a
//! time into an RGB frame. It declares the motion layouts it accepts ([`MotionLayout`], the one definition of
//! layouts); [`check_layout`] turns a package/renderer mismatch into a clear start-up error.
//!
//! - [`mesh::MeshWarpRenderer`]: the CPU mesh-warp renderer for `mouth4-2d` (no weights; portrait + landmark file).
//! - [`liveportrait::LivePortraitRenderer`]: `liveportrait-mouth4` through the runtime backend (user-supplied ONNX).
//! - [`face`]: automatic landmarks (face detector + face mesh through the runtime backend).
//! - [`idle`]: blinks and small head/breathing motion so a silent avatar is never frozen.
//! - [`probe::ProbeRenderer`]: white markers for the live path's sync probe.
//! - [`output`]: frames to a PNG directory, an MP4 (ffmpeg) or a contact sheet.

pub mod face;
mod face_mesh;
pub mod idle;
pub mod landmarks;
pub mod liveportrait;
pub mod mesh;
pub mod output;
pub mod probe;
mod rings;
pub mod warp;

use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::model::config::MotionLayout;
use crate::runtime::tensors::read_safetensors;
use crate::runtime::RuntimeError;
use crate::sampler::names;
use landmarks::Landmarks;
use warp::Pt;

/// Motion frames per second every renderer consumes (the Motion-DiT's rate; `MotionConfig::fps` default).
pub const FPS: f64 = crate::model::config::MOTION_FPS;
/// Largest portrait side worked on: a larger photo is downscaled to it on load (landmark files stay in the file's
/// own pixels; see [`Portrait`]).
pub const MAX_PORTRAIT_SIDE: u32 = 8192;
/// Largest photo decoded at all (per side, and in pixels: about 750 MB of RGB), refused with a clear error beyond.
pub const MAX_DECODE_SIDE: u32 = 32768;
pub const MAX_DECODE_PIXELS: u64 = 250_000_000;

/// Renderer failures.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error("landmarks {path}: {msg}")]
    Landmarks { path: PathBuf, msg: String },
    #[error("{path}: {source}")]
    Face { path: PathBuf, source: face::FaceError },
    #[error("portrait: {0}")]
    Portrait(String),
    #[error("motion layout mismatch: the model package generates `{package}`, but the {renderer} renderer accepts {accepted}")]
    Layout { package: String, renderer: String, accepted: String },
    #[error("motion frame: expected {expected} values ({layout}), got {got}")]
    Frame { expected: usize, got: usize, layout: String },
    #[error("output: {0}")]
    Output(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// One renderer over one stored portrait.
pub trait Renderer {
    /// A short name for messages (`mesh-warp`, `liveportrait`).
    fn name(&self) -> &'static str;
    /// The motion layouts this renderer turns into frames.
    fn layouts(&self) -> Vec<MotionLayout>;
    /// Output frame size (width, height).
    fn frame_size(&self) -> (u32, u32);
    /// Render motion frame number `index` (25 fps; idle life is timed by it) from one frame of motion values
    /// (`layout.motion_dim()` values). Out-of-range values are clamped, never a panic.
    fn render(&mut self, motion: &[f32], index: u64) -> Result<RgbImage, RenderError>;
    /// [`Renderer::render`] into `out` (resized when its size differs), for callers that keep one output buffer
    /// per frame (the live path). Renderers that draw into a buffer of their own override it to avoid the copy.
    fn render_into(&mut self, motion: &[f32], index: u64, out: &mut RgbImage) -> Result<(), RenderError> {
        *out = self.render(motion, index)?;
        Ok(())
    }
}

/// Start-up check: the package's motion layout must be one the renderer accepts.
pub fn check_layout(renderer: &dyn Renderer, package: &MotionLayout) -> Result<(), RenderError> {
    let accepted = renderer.layouts();
    if accepted.contains(package) {
        return Ok(());
    }
    let list: Vec<String> = accepted.iter().map(describe_layout).collect();
    Err(RenderError::Layout {
        package: describe_layout(package),
        renderer: renderer.name().into(),
        accepted: list.join(", "),
    })
}

fn describe_layout(l: &MotionLayout) -> String {
    match l {
        MotionLayout::LiveportraitMouth4 { keypoints } => format!("{} (keypoints {keypoints:?})", l.name()),
        MotionLayout::Mouth4_2d => l.name().into(),
    }
}

/// Motion frames read from a file written by `jamflow sample` (tensor `motion`, `[F, K]`).
#[derive(Debug, Clone)]
pub struct MotionFrames {
    pub frames: usize,
    pub dim: usize,
    pub data: Vec<f32>,
}

impl MotionFrames {
    pub fn frame(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Read tensor [`names::MOTION`] `[F, K]` and check `K` against the layout.
    pub fn read(path: &Path, layout: &MotionLayout) -> Result<Self, RenderError> {
        let t = read_safetensors(path)?;
        let err = |msg: String| RenderError::File { path: path.to_path_buf(), msg };
        let m = t.get(names::MOTION).ok_or_else(|| {
            err(format!(
                "no tensor `{}` (found: {}); expected [frames, {}] f32 as written by `jamflow sample`",
                names::MOTION,
                t.keys().cloned().collect::<Vec<_>>().join(", "),
                layout.motion_dim()
            ))
        })?;
        let data = m.as_f32().ok_or_else(|| err(format!("tensor `{}` must be floating point", names::MOTION)))?;
        let k = layout.motion_dim();
        if m.shape.len() != 2 || m.shape[1] != k {
            return Err(err(format!(
                "tensor `{}` has shape {:?}; expected [frames, {k}] ({} layout)",
                names::MOTION,
                m.shape,
                layout.name()
            )));
        }
        Ok(Self { frames: m.shape[0], dim: k, data: data.to_vec() })
    }
}

/// A portrait as loaded: the working image and the size of the file's upright picture. Landmark files are in the
/// file's pixels (`original`); the image is downscaled when a side exceeds [`MAX_PORTRAIT_SIDE`].
#[derive(Debug, Clone)]
pub struct Portrait {
    pub image: RgbImage,
    /// Width and height of the upright picture in the file.
    pub original: (u32, u32),
}

impl Portrait {
    /// Working pixels per file pixel (1 unless the photo was downscaled).
    pub fn scale(&self) -> f32 {
        self.image.width() as f32 / self.original.0 as f32
    }

    /// Landmarks of the file's pixels in the working image's pixels.
    pub fn to_working(&self, lm: &Landmarks) -> Landmarks {
        self.rescaled(lm, self.scale(), self.image.dimensions())
    }

    /// Landmarks of the working image in the file's pixels (what a landmark file stores).
    pub fn to_original(&self, lm: &Landmarks) -> Landmarks {
        self.rescaled(lm, 1.0 / self.scale(), self.original)
    }

    /// `lm` scaled by `k` into an image of `size`; untouched (not even rounded) when the photo was not downscaled.
    fn rescaled(&self, lm: &Landmarks, k: f32, size: (u32, u32)) -> Landmarks {
        if self.image.dimensions() == self.original {
            return lm.clone();
        }
        lm.mapped(Pt::new(0.0, 0.0), k, size)
    }
}

/// Load a portrait image (PNG, JPEG or WebP) as RGB, upright as its EXIF orientation says (grayscale / alpha /
/// 16-bit are converted), downscaled to at most [`MAX_PORTRAIT_SIDE`] per side; non-images and photos beyond
/// [`MAX_DECODE_SIDE`] / [`MAX_DECODE_PIXELS`] are refused with a clear error before decoding.
pub fn open_portrait(path: &Path) -> Result<Portrait, RenderError> {
    use image::ImageDecoder;
    let err = |msg: String| RenderError::File { path: path.to_path_buf(), msg };
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| err(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(err("not an image this build can read (expected a PNG, JPEG or WebP portrait)".into()));
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(4 * MAX_DECODE_PIXELS); // RGBA8 of the largest photo decoded
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| err(format!("not a readable image: {e}")))?;
    let (w, h) = decoder.dimensions();
    if w > MAX_DECODE_SIDE || h > MAX_DECODE_SIDE || w as u64 * h as u64 > MAX_DECODE_PIXELS {
        return Err(err(format!(
            "{w}x{h} pixels is too large (at most {MAX_DECODE_SIDE} per side and {} megapixels)",
            MAX_DECODE_PIXELS / 1_000_000
        )));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| err(format!("not a readable image: {e}")))?;
    img.apply_orientation(orientation);
    let original = (img.width(), img.height());
    let mut image = img.to_rgb8();
    drop(img);
    let side = original.0.max(original.1);
    if side > MAX_PORTRAIT_SIDE {
        let k = MAX_PORTRAIT_SIDE as f64 / side as f64;
        let (nw, nh) =
            (((original.0 as f64 * k).round() as u32).max(1), ((original.1 as f64 * k).round() as u32).max(1));
        tracing::info!(
            "{}: {}x{} downscaled to {nw}x{nh} to work on (landmark files stay in the photo's own pixels)",
            path.display(),
            original.0,
            original.1
        );
        image = image::imageops::thumbnail(&image, nw, nh);
    }
    Ok(Portrait { image, original })
}

/// [`open_portrait`]'s working image, for callers that need no landmarks.
pub fn load_portrait(path: &Path) -> Result<RgbImage, RenderError> {
    Ok(open_portrait(path)?.image)
}

/// Save an RGB image as PNG.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<(), RenderError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| RenderError::File { path: dir.into(), msg: e.to_string() })?;
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| RenderError::File { path: path.to_path_buf(), msg: e.to_string() })
}

/// Synthetic syllable-like `mouth4-2d` motion (about 4 syllables/s with pauses, some rounded "oo" syllables and a
/// slow smile): for checking a portrait and for benchmarks, not speech.
pub fn test_motion(seconds: f64, seed: u64) -> MotionFrames {
    let frames = (seconds * FPS).round().max(1.0) as usize;
    let dim = MotionLayout::Mouth4_2d.motion_dim();
    let mut rng = seed ^ 0x00A1_1CE5;
    let mut next = move || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((rng >> 33) as f64) / (1u64 << 31) as f64
    };
    // Syllables: (start s, length s, openness 0..1, rounded).
    let mut syl = Vec::new();
    let mut t = 0.2;
    while t < seconds {
        if next() < 0.12 {
            t += 0.3 + 0.4 * next(); // pause
            continue;
        }
        let len = 0.18 + 0.14 * next();
        syl.push((t, len, 0.35 + 0.65 * next(), next() < 0.25));
        t += len;
    }
    let mut data = vec![0.0f32; frames * dim];
    for (i, row) in data.chunks_exact_mut(dim).enumerate() {
        let t = i as f64 / FPS;
        let (mut open, mut round) = (0.0f64, 0.0f64);
        for &(s, len, a, r) in &syl {
            if t >= s && t < s + len {
                let x = (t - s) / len;
                let env = (std::f64::consts::PI * x).sin().powf(0.8) * a;
                open = open.max(env);
                if r {
                    round = round.max(env);
                }
            }
        }
        let smile = 0.5 + 0.5 * (0.3 * t).sin();
        let m = [
            [0.0, -0.03 * open, 0.3 * round],
            [0.0, 0.30 * open, 0.3 * round],
            [-0.04 * smile + 0.08 * round, -0.03 * smile, 0.0],
            [0.04 * smile - 0.08 * round, -0.03 * smile, 0.0],
        ];
        for (p, v) in m.iter().enumerate() {
            for (d, x) in v.iter().enumerate() {
                row[p * 3 + d] = *x as f32;
            }
        }
    }
    MotionFrames { frames, dim, data }
}

//! Automatic portrait landmarks: a real face detector and face mesh run by our ONNX Runtime backend.
//!
//! MediaPipe's models (Apache-2.0), converted once to ONNX by `scripts/setup.sh` (scripts/tflite_to_onnx.py)
//! into `.face/`: the short-range BlazeFace detector ([`detect`]), the 468-point face mesh and the iris model
//! ([`facemesh`]). All pre- and post-processing is here, in Rust. [`FaceModels::prepare`] turns a photo into
//! the landmark file of the mesh-warp renderer ([`topology`] maps mesh points to our landmarks) and refuses a
//! fit that fails its own sanity checks, with the reason.
//!
//! Faces are numbered from 1 by size (largest first); the largest is used unless another is chosen.

pub mod detect;
pub mod facemesh;
pub mod sample;
pub mod symmetry;
pub mod topology;
pub mod truth;

use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::render::landmarks::{default_path, Landmarks};
use crate::render::{Portrait, RenderError};
use crate::runtime::{Backend, HostTensor, NamedTensors, OrtBackend, OrtOptions, RuntimeError};
use detect::{Detection, KP_EYE_IMAGE_LEFT, KP_EYE_IMAGE_RIGHT};
use facemesh::{MeshFit, Roi};
use sample::Pyramid;

/// Environment variable naming the directory of the converted face models.
pub const MODELS_ENV: &str = "JAMFLOW_FACE_MODELS";
/// Where `scripts/setup.sh` puts them, relative to the repository root.
pub const LOCAL_MODELS: &str = ".face";
pub const DETECTOR_FILE: &str = "face_detection_short_range.onnx";
pub const MESH_FILE: &str = "face_landmark.onnx";
pub const IRIS_FILE: &str = "iris_landmark.onnx";
/// Smallest face (detector box side, photo pixels) that is fitted: below it the mesh is unreliable.
pub const MIN_FACE_PX: f32 = 40.0;
/// Smallest face-presence score of a mesh fit.
pub const MIN_PRESENCE: f32 = 0.5;
/// Most detections verified per photo (largest first).
pub const MAX_FACES: usize = 32;

/// Face detection and fitting failures.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("face models: {0}")]
    Models(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("no face found (the detector needs a face of at least ~{MIN_FACE_PX} px, roughly frontal, within ~45 degrees of upright)")]
    NoFace,
    #[error("face {index} is only {px:.0} px wide (at least {MIN_FACE_PX} px): use a larger or closer photo")]
    TooSmall { index: usize, px: f32 },
    #[error("--face {index}: the photo has {count} face(s) (numbered 1.. by size)")]
    NoSuchFace { index: usize, count: usize },
    #[error("face {index}: the landmark fit failed its sanity check: {reason}{}", choose_hint(*.count))]
    BadFit { index: usize, count: usize, reason: String },
}

/// One ONNX graph through [`OrtBackend`].
pub struct Net {
    backend: OrtBackend,
    what: String,
}

impl Net {
    fn open(path: &Path, opts: &OrtOptions) -> Result<Self, FaceError> {
        if !path.exists() {
            return Err(FaceError::Models(format!(
                "{} is missing: run scripts/setup.sh (it converts MediaPipe's face models into {LOCAL_MODELS}/) \
                 or set ${MODELS_ENV}",
                path.display()
            )));
        }
        Ok(Self { backend: OrtBackend::from_file(path, opts)?, what: path.display().to_string() })
    }

    /// Run on one NHWC f32 input.
    pub fn run(&mut self, input: &str, shape: Vec<usize>, data: Vec<f32>) -> Result<NamedTensors, FaceError> {
        let mut t = NamedTensors::new();
        t.insert(input.into(), HostTensor::f32(shape, data));
        Ok(self.backend.run(&t)?)
    }

    /// Output `name` as f32 with exactly `len` values.
    pub fn output<'a>(&self, outs: &'a NamedTensors, name: &str, len: usize) -> Result<&'a [f32], FaceError> {
        let v = outs.get(name).and_then(|t| t.as_f32()).ok_or_else(|| {
            FaceError::Models(format!("{}: no f32 output `{name}` (re-run scripts/setup.sh)", self.what))
        })?;
        if v.len() != len {
            return Err(FaceError::Models(format!(
                "{}: output `{name}` has {} values, expected {len}",
                self.what,
                v.len()
            )));
        }
        Ok(v)
    }
}

/// The face-model directory: `$JAMFLOW_FACE_MODELS`, else `.face/` in the current directory or above the
/// executable (the repository checkout).
pub fn models_dir() -> Result<PathBuf, FaceError> {
    if let Some(p) = std::env::var_os(MODELS_ENV) {
        return Ok(PathBuf::from(p));
    }
    let mut candidates = vec![PathBuf::from(LOCAL_MODELS)];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|d| d.join(LOCAL_MODELS)));
    }
    candidates.into_iter().find(|d| d.join(DETECTOR_FILE).exists()).ok_or_else(|| {
        FaceError::Models(format!(
            "no {LOCAL_MODELS}/{DETECTOR_FILE} here or above the executable: run scripts/setup.sh or set ${MODELS_ENV}"
        ))
    })
}

/// A fitted face.
#[derive(Debug, Clone)]
pub struct Face {
    /// 1-based, by size.
    pub index: usize,
    pub detection: Detection,
    pub mesh: MeshFit,
    pub pupils: [crate::render::warp::Pt; 2],
    pub landmarks: Landmarks,
}

/// The result of [`FaceModels::prepare`]: every detected face (largest first) and the chosen one's fit.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub faces: Vec<Detection>,
    pub face: Face,
}

/// The three networks.
pub struct FaceModels {
    detector: Net,
    mesh: Net,
    iris: Net,
}

impl FaceModels {
    /// Open the models in `dir` (default [`models_dir`]) on ONNX Runtime's CPU provider, one thread.
    pub fn open(dir: Option<&Path>) -> Result<Self, FaceError> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => models_dir()?,
        };
        let opts = OrtOptions { threads: Some(1), ..OrtOptions::default() };
        Ok(Self {
            detector: Net::open(&dir.join(DETECTOR_FILE), &opts)?,
            mesh: Net::open(&dir.join(MESH_FILE), &opts)?,
            iris: Net::open(&dir.join(IRIS_FILE), &opts)?,
        })
    }

    /// Every detection, largest first (unverified: may include false positives).
    pub fn detect(&mut self, img: &Pyramid<'_>) -> Result<Vec<Detection>, FaceError> {
        let mut d = detect::detect(&mut self.detector, img)?;
        d.sort_by(|a, b| b.area().total_cmp(&a.area()));
        Ok(d)
    }

    /// The faces: detections big enough whose mesh fit says "face" (presence >= [`MIN_PRESENCE`]), one per face
    /// (two detections whose meshes put the eyes at the same place are one face: the better-scored is kept),
    /// largest first, with their fits. `Err(TooSmall)` when the only detections are too small to fit.
    pub fn faces(&mut self, img: &Pyramid<'_>) -> Result<Vec<(Detection, MeshFit)>, FaceError> {
        let mut out: Vec<(Detection, MeshFit)> = Vec::new();
        let mut smallest_rejected = None;
        let mut dets = detect::detect(&mut self.detector, img)?;
        dets.sort_by(|a, b| b.score.total_cmp(&a.score));
        for det in dets.into_iter().take(MAX_FACES) {
            let px = det.width().max(det.height());
            if px < MIN_FACE_PX {
                smallest_rejected.get_or_insert(px);
                continue;
            }
            let roi = Roi::from_box(det.bbox, det.keypoints[KP_EYE_IMAGE_LEFT], det.keypoints[KP_EYE_IMAGE_RIGHT]);
            let mesh = facemesh::fit_refined(&mut self.mesh, img, roi)?;
            if mesh.presence < MIN_PRESENCE {
                tracing::debug!(
                    "detection {:?} (score {:.2}): presence {:.2}: not a face",
                    det.bbox,
                    det.score,
                    mesh.presence
                );
                continue;
            }
            let (c, iod) = eye_centre(&mesh);
            if out.iter().any(|(_, m)| eye_centre(m).0.dist(c) < 0.5 * iod) {
                continue;
            }
            out.push((det, mesh));
        }
        out.sort_by(|a, b| b.0.area().total_cmp(&a.0.area()));
        match smallest_rejected {
            Some(px) if out.is_empty() => Err(FaceError::TooSmall { index: 1, px }),
            _ => Ok(out),
        }
    }

    /// The landmarks of one fitted face (`index` of `count`: its 1-based number, for messages), checked.
    pub fn finish(
        &mut self,
        img: &Pyramid<'_>,
        det: Detection,
        mesh: MeshFit,
        index: usize,
        count: usize,
    ) -> Result<Face, FaceError> {
        let mesh = facemesh::refit_mirrored(&mut self.mesh, img, &mesh)?;
        let pupils = facemesh::iris_centres(&mut self.iris, img, &mesh)?;
        let lm = topology::to_landmarks(&|i| mesh.pt(i), Some(pupils), img.photo().dimensions());
        check_fit(&lm, &mesh, pupils).map_err(|reason| FaceError::BadFit { index, count, reason })?;
        Ok(Face { index, detection: det, mesh, pupils, landmarks: lm })
    }

    /// Detect, verify, choose (`face`: 1-based; default the largest whose fit passes its checks) and fit.
    pub fn prepare(&mut self, img: &RgbImage, face: Option<usize>) -> Result<Prepared, FaceError> {
        let img = &Pyramid::new(img);
        let mut faces = self.faces(img)?;
        if faces.is_empty() {
            return Err(FaceError::NoFace);
        }
        let count = faces.len();
        let list = faces.iter().map(|f| f.0.clone()).collect();
        if let Some(index) = face {
            if index == 0 || index > count {
                return Err(FaceError::NoSuchFace { index, count });
            }
            let (det, mesh) = faces.swap_remove(index - 1);
            let face = self.finish(img, det, mesh, index, count)?;
            return Ok(Prepared { faces: list, face });
        }
        // No choice given: the largest face whose fit passes its checks (a turned head in a group photo is
        // skipped with a warning, not the end of the set-up).
        let mut first_err = None;
        for (i, (det, mesh)) in faces.into_iter().enumerate() {
            match self.finish(img, det, mesh, i + 1, count) {
                Ok(face) => {
                    if let Some(e) = &first_err {
                        tracing::warn!("{e}; using face {} instead", i + 1);
                    }
                    return Ok(Prepared { faces: list, face });
                }
                Err(e @ FaceError::BadFit { .. }) => {
                    first_err.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(first_err.expect("at least one face was tried"))
    }
}

/// How to pick another face, for messages about one face of several.
fn choose_hint(count: usize) -> String {
    if count > 1 {
        format!(" (the photo has {count} faces: choose another with --face N, 1..{count})")
    } else {
        String::new()
    }
}

/// The midpoint of a fit's outer eye corners and their distance.
fn eye_centre(m: &MeshFit) -> (crate::render::warp::Pt, f32) {
    let (a, b) = (m.pt(topology::EYE_IMAGE_LEFT_CORNERS[0]), m.pt(topology::EYE_IMAGE_RIGHT_CORNERS[0]));
    ((a + b) * 0.5, a.dist(b))
}

/// Sanity checks of a fit beyond the landmark file's own validation: a face-presence score, pupils inside their
/// eyes, a plausible face shape.
fn check_fit(lm: &Landmarks, mesh: &MeshFit, pupils: [crate::render::warp::Pt; 2]) -> Result<(), String> {
    if mesh.presence < MIN_PRESENCE {
        // The final fit (re-cropped, with its mirror image) must itself say "face": a false detection that
        // passed the verifying fit can fall apart on the re-crop.
        return Err(format!("the final mesh fit's face presence is {:.2} (at least {MIN_PRESENCE})", mesh.presence));
    }
    let size = (lm.image_size[0], lm.image_size[1]);
    lm.validate(size)?;
    let iod = lm.iod();
    let lids = lm.eyelids.as_ref().ok_or("no eyelids")?;
    for (name, p, e) in [("image-left", pupils[0], &lids.left), ("image-right", pupils[1], &lids.right)] {
        let mid = (e.outer + e.inner) * 0.5;
        if p.dist(mid) > 0.3 * iod {
            return Err(format!("the {name} pupil lies {:.2} IOD from its eye's centre", p.dist(mid) / iod));
        }
    }
    let width = lm.face_box[2] - lm.face_box[0];
    if !(1.2..=3.5).contains(&(width / iod)) {
        return Err(format!(
            "the face is {:.2} inter-ocular distances wide (expected 1.2-3.5): it is turned too far from the camera \
             for a talking portrait, or the fit is wrong",
            width / iod
        ));
    }
    if mesh.roi.side < 2.0 * iod {
        return Err("the mesh collapsed".into());
    }
    Ok(())
}

/// The landmarks of a portrait: read from `landmarks` (default `NAME.landmarks.json` beside the image); when that
/// file does not exist they are prepared with the face models (logged) and written there for next time (a
/// read-only directory only logs a warning). The file is in the photo's pixels; the landmarks returned are in
/// `portrait.image`'s (they differ when a huge photo was downscaled).
pub fn load_or_prepare(image: &Path, portrait: &Portrait, landmarks: Option<&Path>) -> Result<Landmarks, RenderError> {
    let path = landmarks.map(Path::to_path_buf).unwrap_or_else(|| default_path(image));
    if path.exists() {
        return Ok(portrait.to_working(&Landmarks::load(&path, portrait.original)?));
    }
    tracing::info!("{}: no landmark file {}: preparing it with the face detector", image.display(), path.display());
    let face_err = |source| RenderError::Face { path: image.to_path_buf(), source };
    let p = FaceModels::open(None).map_err(face_err)?.prepare(&portrait.image, None).map_err(face_err)?;
    if p.faces.len() > 1 {
        tracing::warn!(
            "{}: {} faces; using the largest (run `jamflow portrait prepare --face N` to choose another)",
            image.display(),
            p.faces.len()
        );
    }
    match std::fs::write(&path, to_json(&portrait.to_original(&p.face.landmarks))) {
        Ok(()) => tracing::info!("wrote {}", path.display()),
        Err(e) => tracing::warn!("cannot write {}: {e} (the landmarks are used without saving them)", path.display()),
    }
    Ok(p.face.landmarks)
}

/// A landmark file as JSON: pretty, points on one line each (`[x, y]`), coordinates rounded to 0.01 px.
pub fn to_json(lm: &Landmarks) -> String {
    let mut v = serde_json::to_value(lm).expect("landmarks serialize");
    round_numbers(&mut v);
    // Back through the struct so that the fields keep the documented order.
    let rounded: Landmarks = serde_json::from_value(v).expect("rounded landmarks deserialize");
    let pretty = serde_json::to_string_pretty(&rounded).expect("landmarks serialize");
    // Join `[`, two numbers and `]` on consecutive lines into `[x, y]`.
    let lines: Vec<&str> = pretty.lines().collect();
    let mut out = String::with_capacity(pretty.len());
    let mut i = 0;
    while i < lines.len() {
        let is_num = |s: &str| s.trim().trim_end_matches(',').parse::<f64>().is_ok();
        if lines[i].trim_end().ends_with('[')
            && i + 3 < lines.len()
            && is_num(lines[i + 1])
            && is_num(lines[i + 2])
            && lines[i + 3].trim().starts_with(']')
        {
            let head = lines[i].trim_end();
            out.push_str(&format!(
                "{head}{}, {}{}\n",
                lines[i + 1].trim().trim_end_matches(','),
                lines[i + 2].trim(),
                lines[i + 3].trim()
            ));
            i += 4;
        } else {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
        }
    }
    out
}

fn round_numbers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                *v = serde_json::json!((f * 100.0).round() / 100.0);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(round_numbers),
        serde_json::Value::Object(o) => o.values_mut().for_each(round_numbers),
        _ => {}
    }
}

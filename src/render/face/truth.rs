//! Landmark accuracy against ground truth: iBUG 68-point annotations (`.pts`) of real photos, the mapping of
//! that scheme onto the fields of our landmark file, and per-point errors in inter-ocular distances (IOD).
//!
//! **`.pts` convention.** A `.pts` file is `version: 1`, `n_points: 68`, `{`, 68 lines `x y`, `}`. Coordinates
//! are 1-based pixels (the iBUG 300-W convention: the first pixel's centre is (1, 1); menpo subtracts 1 on
//! import); [`Ibug68`] holds them in our convention (0-based, pixel centres at integers), i.e. minus 1.
//!
//! **Mapping** (0-based iBUG indices; iBUG's "right eye" 36-41 is the subject's right, image-left in an
//! unmirrored photo, like our `eyes.left`):
//!
//! | our field | iBUG | note |
//! | --- | --- | --- |
//! | `eyes.left` / `eyes.right` | mean of 36-41 / 42-47 | eye-contour centre; ours is the iris centre (a gaze off the eye's middle differs) |
//! | `mouth.left` / `mouth.right` | 48 / 54 | outer-contour corners; ours lie on the inner lip line (iBUG 60 / 64 are reported too) |
//! | `mouth.upper` / `mouth.lower` | 62 / 66 | inner lip line centres |
//! | `nose` | 33 | subnasale, the centre of the nose's lower edge |
//! | `chin` | 8 | menton, the jaw outline's lowest point |
//!
//! The target ([`TARGET_IOD`]) is the mean Euclidean error of those 8 points; the other rows of [`COMPARISONS`]
//! (outer lip centres 51 / 57, inner corners 60 / 64, `mouth.upper` against the outer 51) only show which
//! definition ours matches. IOD = distance between the two ground-truth eye centres.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use image::RgbImage;

use super::sample::Pyramid;
use super::{eye_centre, FaceError, FaceModels};
use crate::render::landmarks::Landmarks;
use crate::render::warp::Pt;

/// Points of an iBUG annotation.
pub const IBUG_POINTS: usize = 68;
/// The accuracy target: mean error of the target points, in IOD.
pub const TARGET_IOD: f32 = 0.08;
/// Image file extensions looked for beside a `.pts` file, in this order.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// Errors reading ground truth.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("{}: {msg}", path.display())]
    File { path: PathBuf, msg: String },
    #[error(transparent)]
    Face(#[from] FaceError),
    #[error("no detected face has its eyes within 0.5 IOD of the annotated ones at ({x:.0}, {y:.0}) ({found} face(s) found)")]
    NotFound { x: f32, y: f32, found: usize },
}

/// An iBUG 68-point annotation, 0-based pixel coordinates (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Ibug68(pub [Pt; IBUG_POINTS]);

impl Ibug68 {
    /// Parse the text of a `.pts` file (1-based coordinates).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty());
        let mut n_points = None;
        for (no, l) in lines.by_ref() {
            if l == "{" {
                break;
            }
            if let Some(v) = l.strip_prefix("n_points:") {
                n_points = Some(v.trim().parse::<usize>().map_err(|_| format!("line {no}: bad n_points {v:?}"))?);
            } else if !l.starts_with("version:") {
                return Err(format!("line {no}: expected `version:`, `n_points:` or `{{`, found {l:?}"));
            }
        }
        match n_points {
            Some(IBUG_POINTS) => {}
            Some(n) => return Err(format!("n_points is {n}; expected an iBUG 68-point annotation")),
            None => return Err("no `n_points:` header before `{`".into()),
        }
        let mut pts = Vec::with_capacity(IBUG_POINTS);
        let mut closed = false;
        for (no, l) in lines {
            if l == "}" {
                closed = true;
                break;
            }
            let v: Vec<f32> = l
                .split_whitespace()
                .map(str::parse::<f32>)
                .collect::<Result<_, _>>()
                .map_err(|_| format!("line {no}: expected two numbers `x y`, found {l:?}"))?;
            match v[..] {
                [x, y] if x.is_finite() && y.is_finite() => pts.push(Pt::new(x - 1.0, y - 1.0)),
                _ => return Err(format!("line {no}: expected two numbers `x y`, found {l:?}")),
            }
        }
        if !closed {
            return Err("no closing `}`".into());
        }
        let n = pts.len();
        let pts: [Pt; IBUG_POINTS] =
            pts.try_into().map_err(|_| format!("{n} points between `{{` and `}}`; n_points says {IBUG_POINTS}"))?;
        Ok(Self(pts))
    }

    /// Read a `.pts` file.
    pub fn read(path: &Path) -> Result<Self, TruthError> {
        let err = |msg: String| TruthError::File { path: path.to_path_buf(), msg };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::parse(&text).map_err(err)
    }

    /// The mean of some points.
    pub fn mean(&self, idx: &[usize]) -> Pt {
        idx.iter().fold(Pt::default(), |a, &i| a + self.0[i]) * (1.0 / idx.len() as f32)
    }

    /// The eye centres (image-left, image-right).
    pub fn eyes(&self) -> [Pt; 2] {
        [self.mean(&EYE_IMAGE_LEFT), self.mean(&EYE_IMAGE_RIGHT)]
    }

    /// Inter-ocular distance: between the eye centres.
    pub fn iod(&self) -> f32 {
        let [l, r] = self.eyes();
        l.dist(r)
    }

    /// Every point moved by `f`.
    pub fn map(&self, f: impl Fn(Pt) -> Pt) -> Self {
        Self(self.0.map(f))
    }

    /// Width of the face: the jaw outline's ends (iBUG 0 and 16, at the ears).
    pub fn face_width(&self) -> f32 {
        self.0[0].dist(self.0[16])
    }
}

const EYE_IMAGE_LEFT: [usize; 6] = [36, 37, 38, 39, 40, 41];
const EYE_IMAGE_RIGHT: [usize; 6] = [42, 43, 44, 45, 46, 47];

/// One compared point: our landmark against the mean of some iBUG points.
#[derive(Debug, Clone, Copy)]
pub struct Comparison {
    /// Our field (and, for a definition check, the iBUG point it is held against).
    pub name: &'static str,
    pub ours: fn(&Landmarks) -> Pt,
    pub ibug: &'static [usize],
    /// Counted in the target mean.
    pub target: bool,
}

const fn cmp(name: &'static str, ours: fn(&Landmarks) -> Pt, ibug: &'static [usize], target: bool) -> Comparison {
    Comparison { name, ours, ibug, target }
}

/// The compared points: the 8 of the target first, then definition checks.
pub const COMPARISONS: [Comparison; 13] = [
    cmp("eyes.left", |l| l.eyes.left, &EYE_IMAGE_LEFT, true),
    cmp("eyes.right", |l| l.eyes.right, &EYE_IMAGE_RIGHT, true),
    cmp("mouth.left", |l| l.mouth.left, &[48], true),
    cmp("mouth.right", |l| l.mouth.right, &[54], true),
    cmp("mouth.upper", |l| l.mouth.upper, &[62], true),
    cmp("mouth.lower", |l| l.mouth.lower, &[66], true),
    cmp("nose", |l| l.nose, &[33], true),
    cmp("chin", |l| l.chin, &[8], true),
    cmp("mouth.left~60", |l| l.mouth.left, &[60], false),
    cmp("mouth.right~64", |l| l.mouth.right, &[64], false),
    cmp("mouth.upper~51", |l| l.mouth.upper, &[51], false),
    cmp("upper_outer~51", |l| l.upper_outer(), &[51], false),
    cmp("lower_outer~57", |l| l.lower_outer(), &[57], false),
];

/// The error of one point, in IOD: the distance, and its components along the face's vertical (`down`, + =
/// ours lower, perpendicular to the eye line) and across (`right`, + = ours image-right).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointError {
    pub name: &'static str,
    pub target: bool,
    pub error: f32,
    pub down: f32,
    pub right: f32,
}

/// One face's errors against its annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    /// The ground-truth IOD in pixels.
    pub iod_px: f32,
    /// One per [`COMPARISONS`] entry, in that order.
    pub points: Vec<PointError>,
}

impl Accuracy {
    /// Compare `lm` with `truth` (same pixel space).
    pub fn of(lm: &Landmarks, truth: &Ibug68) -> Self {
        let iod = truth.iod();
        let [l, r] = truth.eyes();
        let e = (r - l).normalized();
        let n = Pt::new(-e.y, e.x);
        let points = COMPARISONS
            .iter()
            .map(|c| {
                let d = ((c.ours)(lm) - truth.mean(c.ibug)) * (1.0 / iod);
                PointError { name: c.name, target: c.target, error: d.norm(), down: d.dot(n), right: d.dot(e) }
            })
            .collect();
        Self { iod_px: iod, points }
    }

    /// Mean error of the target points (IOD).
    pub fn target_mean(&self) -> f32 {
        let t: Vec<f32> = self.points.iter().filter(|p| p.target).map(|p| p.error).collect();
        t.iter().sum::<f32>() / t.len() as f32
    }

    /// The error of one compared point by name.
    pub fn point(&self, name: &str) -> Option<&PointError> {
        self.points.iter().find(|p| p.name == name)
    }
}

/// The photo downscaled so that the annotated face is about `width` pixels wide (jaw end to jaw end), with its
/// annotation moved along; unchanged when the face is not wider than that.
pub fn downscale_face(img: &RgbImage, truth: &Ibug68, width: f32) -> (RgbImage, Ibug68) {
    let k = width / truth.face_width();
    if k >= 1.0 {
        return (img.clone(), truth.clone());
    }
    let (w, h) = img.dimensions();
    let (nw, nh) = (((w as f32 * k).round() as u32).max(1), ((h as f32 * k).round() as u32).max(1));
    let out = image::imageops::resize(img, nw, nh, image::imageops::FilterType::Triangle);
    let (kx, ky) = (nw as f32 / w as f32, nh as f32 / h as f32);
    // Pixel centres: x' + 0.5 = (x + 0.5) k.
    let moved = truth.map(|p| Pt::new((p.x + 0.5) * kx - 0.5, (p.y + 0.5) * ky - 0.5));
    (out, moved)
}

/// Detect the faces of `img`, take the one whose eyes are nearest the annotation's and fit its landmarks (the
/// same steps as [`FaceModels::prepare`], with the face chosen by the annotation instead of by size). Err when
/// no detected face lies within 0.5 IOD of the annotated eyes.
pub fn fit_annotated(models: &mut FaceModels, img: &RgbImage, truth: &Ibug68) -> Result<Landmarks, TruthError> {
    let pyr = Pyramid::new(img);
    let faces = models.faces(&pyr)?;
    let [l, r] = truth.eyes();
    let want = (l + r) * 0.5;
    let count = faces.len();
    let nearest = faces
        .into_iter()
        .enumerate()
        .map(|(i, (det, mesh))| (eye_centre(&mesh).0.dist(want), i, det, mesh))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    match nearest {
        Some((d, i, det, mesh)) if d <= 0.5 * truth.iod() => {
            Ok(models.finish(&pyr, det, mesh, i + 1, count)?.landmarks)
        }
        _ => Err(TruthError::NotFound { x: want.x, y: want.y, found: count }),
    }
}

/// The annotated photos of a folder: every `NAME.pts` with its image `NAME.{png,jpg,jpeg,webp}`, by name.
pub fn annotated_photos(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>, TruthError> {
    let err = |path: &Path, msg: String| TruthError::File { path: path.to_path_buf(), msg };
    let mut pts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pts"))
        .collect();
    pts.sort();
    if pts.is_empty() {
        return Err(err(dir, "no .pts annotation files here".into()));
    }
    pts.into_iter()
        .map(|p| {
            let img = IMAGE_EXTENSIONS.iter().map(|x| p.with_extension(x)).find(|i| i.exists()).ok_or_else(|| {
                err(&p, format!("no image beside it (looked for the same name with .{})", IMAGE_EXTENSIONS.join(", .")))
            })?;
            Ok((img, p))
        })
        .collect()
}

/// A table of per-photo, per-point errors (IOD; rows `name`, `Accuracy`), the target points' mean per photo and
/// over all, then each point's mean signed offset (`down` / `right`, + = ours lower / image-right) so that a
/// definitional offset stands out from noise.
pub fn table(rows: &[(String, Accuracy)]) -> String {
    let mut s = String::new();
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(5);
    let _ = write!(s, "{:<w$} {:>6}", "photo", "IOD px");
    for c in &COMPARISONS {
        let _ = write!(s, " {:>14}", c.name);
    }
    let _ = writeln!(s, " {:>8}", "mean(8)");
    for (name, a) in rows {
        let _ = write!(s, "{name:<w$} {:>6.1}", a.iod_px);
        for p in &a.points {
            let _ = write!(s, " {:>14.3}", p.error);
        }
        let _ = writeln!(s, " {:>8.3}", a.target_mean());
    }
    if rows.is_empty() {
        return s;
    }
    let n = rows.len() as f32;
    let avg = |f: &dyn Fn(&PointError) -> f32, k: usize| rows.iter().map(|r| f(&r.1.points[k])).sum::<f32>() / n;
    for (label, f) in [
        ("mean", &(|p: &PointError| p.error) as &dyn Fn(&PointError) -> f32),
        ("down", &|p: &PointError| p.down),
        ("right", &|p: &PointError| p.right),
    ] {
        let _ = write!(s, "{label:<w$} {:>6}", "");
        for k in 0..COMPARISONS.len() {
            let _ = write!(s, " {:>+14.3}", avg(f, k));
        }
        if label == "mean" {
            let _ = write!(s, " {:>8.3}", rows.iter().map(|r| r.1.target_mean()).sum::<f32>() / n);
        }
        let _ = writeln!(s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::landmarks::{Eyes, Mouth, FORMAT};

    fn pts_text(pts: &[Pt]) -> String {
        let body: String = pts.iter().map(|p| format!("{} {}\n", p.x, p.y)).collect();
        format!("version: 1\nn_points:  {}\n{{\n{body}}}\n", pts.len())
    }

    /// A face whose every iBUG point is where our landmark of the same meaning is (1-based in the file).
    fn face() -> (Ibug68, Landmarks) {
        let mut p = [Pt::new(50.0, 50.0); IBUG_POINTS];
        for (k, i) in EYE_IMAGE_LEFT.iter().enumerate() {
            p[*i] = Pt::new(30.0 + (k % 3) as f32, 40.0 + (k / 3) as f32);
        }
        for (k, i) in EYE_IMAGE_RIGHT.iter().enumerate() {
            p[*i] = Pt::new(69.0 + (k % 3) as f32, 40.0 + (k / 3) as f32);
        }
        (p[48], p[54], p[60], p[64]) =
            (Pt::new(35.0, 80.0), Pt::new(65.0, 80.0), Pt::new(36.0, 80.0), Pt::new(64.0, 80.0));
        (p[51], p[62], p[66], p[57]) =
            (Pt::new(50.0, 75.0), Pt::new(50.0, 79.0), Pt::new(50.0, 81.0), Pt::new(50.0, 86.0));
        (p[33], p[8], p[0], p[16]) =
            (Pt::new(50.0, 68.0), Pt::new(50.0, 100.0), Pt::new(10.0, 50.0), Pt::new(90.0, 50.0));
        let lm = Landmarks {
            format: FORMAT.into(),
            image_size: [200, 200],
            face_box: [10.0, 10.0, 90.0, 100.0],
            eyes: Eyes { left: Pt::new(31.0, 40.5), right: Pt::new(70.0, 40.5) },
            mouth: Mouth {
                upper: p[62],
                lower: p[66],
                left: p[48],
                right: p[54],
                upper_outer: Some(p[51]),
                lower_outer: Some(p[57]),
            },
            nose: p[33],
            chin: p[8],
            eyelids: None,
            contours: None,
        };
        let one_based: Vec<Pt> = p.iter().map(|&q| q + Pt::new(1.0, 1.0)).collect();
        (Ibug68::parse(&pts_text(&one_based)).unwrap(), lm)
    }

    #[test]
    fn pts_files_are_read_one_based_and_bad_ones_say_which_line() {
        let (t, _) = face();
        assert_eq!(t.0[8], Pt::new(50.0, 100.0));
        assert!((t.iod() - 39.0).abs() < 1e-4);
        let text = pts_text(&t.0.map(|q| q + Pt::new(1.0, 1.0)));
        assert!(Ibug68::parse(&text.replace("n_points:  68", "n_points: 19")).unwrap_err().contains("19"));
        let bad = text.replacen("51 101", "51 x", 1);
        assert!(Ibug68::parse(&bad).unwrap_err().contains("line 12"), "{}", Ibug68::parse(&bad).unwrap_err());
        assert!(Ibug68::parse(&text.replace("}", "")).unwrap_err().contains("closing"));
        let short: String = text.lines().filter(|l| *l != "51 101").map(|l| format!("{l}\n")).collect();
        assert!(Ibug68::parse(&short).unwrap_err().contains("67 points"));
    }

    #[test]
    fn errors_are_per_point_in_iod_with_signed_offsets_along_the_face() {
        let (t, mut lm) = face();
        let a = Accuracy::of(&lm, &t);
        assert!(a.points.iter().filter(|p| p.target).all(|p| p.error < 1e-5), "{a:?}");
        // The definition checks see the distance between definitions: the inner corners lie 1 px inside.
        assert!((a.point("mouth.left~60").unwrap().right + 1.0 / 39.0).abs() < 1e-5);
        // The inner upper lip 3.9 px (0.1 IOD) too low: only that point moves, downwards.
        lm.mouth.upper = lm.mouth.upper + Pt::new(0.0, 3.9);
        let a = Accuracy::of(&lm, &t);
        let up = a.point("mouth.upper").unwrap();
        assert!((up.error - 0.1).abs() < 1e-4 && (up.down - 0.1).abs() < 1e-4 && up.right.abs() < 1e-5);
        assert!((a.target_mean() - 0.1 / 8.0).abs() < 1e-5);
        // Against the outer 51 it sits 4 px + 3.9 px lower.
        assert!((a.point("mouth.upper~51").unwrap().down - 7.9 / 39.0).abs() < 1e-4);
        let tab = table(&[("synthetic".into(), a)]);
        assert!(tab.contains("mouth.upper") && tab.contains("synthetic") && tab.lines().count() == 5, "{tab}");
    }

    #[test]
    fn downscaling_moves_the_annotation_with_the_pixels() {
        let (t, _) = face();
        let img = RgbImage::new(200, 160);
        let (small, moved) = downscale_face(&img, &t, 40.0);
        assert_eq!(small.dimensions(), (100, 80));
        assert!((moved.face_width() - 40.0).abs() < 1e-3);
        assert!(moved.0[8].dist(Pt::new(24.75, 49.75)) < 1e-4);
        let (same, kept) = downscale_face(&img, &t, 100.0);
        assert_eq!((same.dimensions(), kept), ((200, 160), t));
    }
}

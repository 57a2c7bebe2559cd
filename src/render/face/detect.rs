//! Face detection with MediaPipe's short-range BlazeFace (`face_detection_short_range`): SSD anchors, box and
//! keypoint decoding, weighted non-maximum suppression, and a tiling over the photo so that faces from about
//! 80 px to full frame are found (the model itself sees faces of roughly 15-90 % of its 128 x 128 input).
//!
//! Pre/post-processing as in MediaPipe's `face_detection_short_range.pbtxt`: letterboxed input in [-1, 1];
//! anchors from `SsdAnchorsCalculator` (4 layers, strides 8/16/16/16, fixed anchor size, 2 anchors per cell on
//! each layer: 16x16x2 + 8x8x6 = 896); `TensorsToDetectionsCalculator` (16 values per anchor: box centre offset,
//! size, then 6 keypoints, all divided by 128 and relative to the anchor centre; score = sigmoid of the logit
//! clipped to +-100, kept at >= 0.5); `NonMaxSuppressionCalculator` (weighted, IoU 0.3).

use super::sample::{sample_affine, Affine, Pyramid};
use super::{FaceError, Net};
use crate::render::warp::Pt;

/// Detector input side (pixels).
pub const INPUT: usize = 128;
/// Anchors (= model output rows).
pub const ANCHORS: usize = 896;
/// Values per anchor: box (4) + 6 keypoints x 2.
pub const COORDS: usize = 16;
/// Detector keypoints, in MediaPipe's order (image-left = subject's right in a non-mirrored photo).
pub const KP_EYE_IMAGE_LEFT: usize = 0;
pub const KP_EYE_IMAGE_RIGHT: usize = 1;
/// Keypoints per detection.
pub const KEYPOINTS: usize = 6;
/// Graph tensor names of the converted model (scripts/tflite_to_onnx.py keeps the TFLite names).
pub const INPUT_NAME: &str = "input";
pub const BOXES_NAME: &str = "regressors";
pub const SCORES_NAME: &str = "classificators";
/// Minimum detection score (sigmoid).
pub const MIN_SCORE: f32 = 0.5;
/// Weighted NMS overlap threshold (IoU).
pub const NMS_IOU: f32 = 0.3;
/// Logits are clipped to +-this before the sigmoid.
const SCORE_CLIP: f32 = 100.0;
/// The smallest tile side (photo pixels) of the tiling: a face of ~80 px is ~30 % of it.
const MIN_TILE: f32 = 280.0;

/// One detected face in photo pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub score: f32,
    /// `[x0, y0, x1, y1]`.
    pub bbox: [f32; 4],
    /// 6 keypoints: eye (image-left), eye (image-right), nose tip, mouth centre, ear tragions.
    pub keypoints: [Pt; KEYPOINTS],
}

impl Detection {
    pub fn width(&self) -> f32 {
        self.bbox[2] - self.bbox[0]
    }
    pub fn height(&self) -> f32 {
        self.bbox[3] - self.bbox[1]
    }
    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }
    fn iou(&self, o: &Detection) -> f32 {
        let [a0, a1, a2, a3] = self.bbox;
        let [b0, b1, b2, b3] = o.bbox;
        let inter = (a2.min(b2) - a0.max(b0)).max(0.0) * (a3.min(b3) - a1.max(b1)).max(0.0);
        let union = self.area() + o.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// Anchor centres in normalised input coordinates (fixed anchor size 1: only centres matter).
pub fn anchors() -> Vec<Pt> {
    // (stride, anchors per cell): consecutive layers with the same stride share a feature map.
    const LAYERS: [(usize, usize); 2] = [(8, 2), (16, 6)];
    let mut out = Vec::with_capacity(ANCHORS);
    for (stride, per_cell) in LAYERS {
        let n = INPUT.div_ceil(stride);
        for y in 0..n {
            for x in 0..n {
                let c = Pt::new((x as f32 + 0.5) / n as f32, (y as f32 + 0.5) / n as f32);
                out.extend(std::iter::repeat_n(c, per_cell));
            }
        }
    }
    out
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-SCORE_CLIP, SCORE_CLIP)).exp())
}

/// Decode the model outputs into detections in normalised input coordinates (score >= [`MIN_SCORE`]).
pub fn decode(boxes: &[f32], scores: &[f32], anchors: &[Pt]) -> Vec<Detection> {
    let s = INPUT as f32;
    let mut out = Vec::new();
    for (i, a) in anchors.iter().enumerate() {
        let score = sigmoid(scores[i]);
        if score.is_nan() || score < MIN_SCORE {
            continue;
        }
        let r = &boxes[i * COORDS..(i + 1) * COORDS];
        let (cx, cy) = (r[0] / s + a.x, r[1] / s + a.y);
        let (w, h) = (r[2] / s, r[3] / s);
        let mut keypoints = [Pt::default(); KEYPOINTS];
        for (k, p) in keypoints.iter_mut().enumerate() {
            *p = Pt::new(r[4 + 2 * k] / s + a.x, r[5 + 2 * k] / s + a.y);
        }
        out.push(Detection { score, bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], keypoints });
    }
    out
}

/// MediaPipe's weighted NMS: the best remaining detection absorbs every one overlapping it by more than
/// [`NMS_IOU`]; box and keypoints become the score-weighted mean, the score stays the best one's.
pub fn weighted_nms(mut dets: Vec<Detection>) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while !dets.is_empty() {
        let best = dets[0].clone();
        let (group, rest): (Vec<Detection>, Vec<Detection>) = dets.into_iter().partition(|d| d.iou(&best) > NMS_IOU);
        dets = rest;
        let total: f32 = group.iter().map(|d| d.score).sum();
        let mut merged = best.clone();
        merged.bbox = [0.0; 4];
        merged.keypoints = [Pt::default(); KEYPOINTS];
        for d in &group {
            let w = d.score / total;
            for (m, v) in merged.bbox.iter_mut().zip(d.bbox) {
                *m += v * w;
            }
            for (m, v) in merged.keypoints.iter_mut().zip(d.keypoints) {
                *m = *m + v * w;
            }
        }
        out.push(merged);
    }
    out
}

/// Square tiles (origin, side) over a `w` x `h` photo: the whole photo letterboxed, then halving sides with
/// 50 % overlap down to [`MIN_TILE`] or 1/4 of the long side, whichever is larger (so the tile count stays
/// bounded: in big photos the smallest face searched for is ~1/25 of the long side, 80 px at 1080p).
pub fn tiles(w: u32, h: u32) -> Vec<(Pt, f32)> {
    let (wf, hf) = (w as f32, h as f32);
    let long = wf.max(hf);
    let mut out = vec![(Pt::new((wf - long) * 0.5, (hf - long) * 0.5), long)];
    let min_tile = MIN_TILE.max(long / 4.0);
    let mut side = long * 0.5;
    while side >= min_tile.min(long * 0.5) && side >= 64.0 {
        let starts = |len: f32| -> Vec<f32> {
            if len <= side {
                return vec![(len - side) * 0.5];
            }
            let n = ((len - side) / (side * 0.5)).ceil() as usize;
            (0..=n).map(|i| (len - side) * i as f32 / n as f32).collect()
        };
        for y in starts(hf) {
            for x in starts(wf) {
                out.push((Pt::new(x, y), side));
            }
        }
        if side < min_tile * 1.5 {
            break;
        }
        side *= 0.5;
    }
    out
}

/// Detect faces in `img` (photo pixels), best score first. Detections cut by a tile's inner edge are dropped
/// (another tile sees the whole face).
pub fn detect(net: &mut Net, img: &Pyramid<'_>) -> Result<Vec<Detection>, FaceError> {
    let (w, h) = img.photo().dimensions();
    let anchors = anchors();
    let mut all = Vec::new();
    for (origin, side) in tiles(w, h) {
        let scale = side / INPUT as f32;
        let map = Affine::scale_offset(scale, origin);
        let input = sample_affine(img, INPUT, INPUT, &map, |v| v / 127.5 - 1.0, [0.0; 3]);
        let outs = net.run(INPUT_NAME, vec![1, INPUT, INPUT, 3], input)?;
        let (boxes, scores) =
            (net.output(&outs, BOXES_NAME, ANCHORS * COORDS)?, net.output(&outs, SCORES_NAME, ANCHORS)?);
        let full = side >= w.max(h) as f32;
        for d in decode(boxes, scores, &anchors) {
            let inner_cut = !full && {
                let m = 0.02;
                let [x0, y0, x1, y1] = d.bbox;
                (x0 < m && origin.x > 0.5)
                    || (y0 < m && origin.y > 0.5)
                    || (x1 > 1.0 - m && origin.x + side < w as f32 - 0.5)
                    || (y1 > 1.0 - m && origin.y + side < h as f32 - 0.5)
            };
            if inner_cut {
                continue;
            }
            let to_img = |p: Pt| origin + p * side - Pt::new(0.5, 0.5);
            let (a, b) = (to_img(Pt::new(d.bbox[0], d.bbox[1])), to_img(Pt::new(d.bbox[2], d.bbox[3])));
            all.push(Detection { score: d.score, bbox: [a.x, a.y, b.x, b.y], keypoints: d.keypoints.map(to_img) });
        }
    }
    Ok(weighted_nms(all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_match_the_model_output_rows_and_layer_grids() {
        let a = anchors();
        assert_eq!(a.len(), ANCHORS);
        assert_eq!(a[0], Pt::new(0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], Pt::new(1.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[512], Pt::new(0.5 / 8.0, 0.5 / 8.0));
        assert_eq!(a[895], Pt::new(7.5 / 8.0, 7.5 / 8.0));
    }

    #[test]
    fn decode_offsets_from_the_anchor_and_thresholds_the_sigmoid() {
        let a = anchors();
        let mut boxes = vec![0.0; ANCHORS * COORDS];
        let mut scores = vec![-10.0; ANCHORS];
        scores[512] = 2.0;
        boxes[512 * COORDS..512 * COORDS + 6].copy_from_slice(&[12.8, -12.8, 64.0, 32.0, 6.4, 0.0]);
        let d = decode(&boxes, &scores, &a);
        assert_eq!(d.len(), 1);
        let c = a[512] + Pt::new(0.1, -0.1);
        assert!((d[0].bbox[0] - (c.x - 0.25)).abs() < 1e-6 && (d[0].bbox[3] - (c.y + 0.125)).abs() < 1e-6);
        assert!((d[0].keypoints[0].x - (a[512].x + 0.05)).abs() < 1e-6);
        assert!((d[0].score - sigmoid(2.0)).abs() < 1e-6);
    }

    #[test]
    fn weighted_nms_merges_overlaps_and_keeps_separate_faces() {
        let det =
            |x: f32, s: f32| Detection { score: s, bbox: [x, 0.0, x + 1.0, 1.0], keypoints: [Pt::new(x, 0.0); 6] };
        let out = weighted_nms(vec![det(0.0, 0.9), det(0.1, 0.6), det(5.0, 0.7)]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        assert!((out[0].bbox[0] - 0.04).abs() < 1e-5, "{:?}", out[0].bbox);
        assert_eq!(out[1].bbox[0], 5.0);
    }

    #[test]
    fn tiles_cover_the_photo_at_every_level() {
        assert!(tiles(8192, 8192).len() < 100, "huge photos: bounded tile count");
        for (w, h) in [(1920, 1080), (512, 512), (300, 900)] {
            let t = tiles(w, h);
            assert_eq!(t[0].1, w.max(h) as f32);
            let smallest = t.iter().map(|t| t.1).fold(f32::INFINITY, f32::min);
            assert!(smallest <= 480.0, "{w}x{h}: smallest tile {smallest}");
            for &(o, s) in &t[1..] {
                assert!(o.x >= -s && o.x + s <= w as f32 + s, "{w}x{h}: tile {o:?} {s}");
            }
        }
    }
}

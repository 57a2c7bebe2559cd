//! Ring meshes of the mesh-warp renderer: closed rings of `2 ARC` points sharing one parametrisation (index 0 =
//! the image-left corner, `ARC` = the image-right one, the upper arc between, the lower arc after), made from a
//! lens through 4 points, from dense contour lines, or as ellipses; the triangles between rings and inside ring 0;
//! and the piecewise-affine warp over them.

use image::RgbImage;

use super::warp::{bary, raster_triangle, sample_bilinear, Pt};
use super::RenderError;

/// Points per lens arc.
pub(super) const ARC: usize = 12;

/// A lens (two arcs between corners `a` and `b` through `up` and `lo`) as a ring of `2 ARC` points:
/// index 0 = `a`, `ARC` = `b`, upper arc in between, lower arc after.
pub(super) fn lens(a: Pt, b: Pt, up: Pt, lo: Pt) -> Vec<Pt> {
    let c = (a + b) * 0.5;
    let e = (b - a).normalized();
    let n = Pt::new(-e.y, e.x);
    let half = a.dist(b) * 0.5;
    let apex = |p: Pt| {
        let d = p - c;
        (d.dot(e).clamp(-0.4 * half, 0.4 * half), d.dot(n))
    };
    let (xu, vu) = apex(up);
    let (xl, vl) = apex(lo);
    let vl = vl.max(vu);
    let point = |s: f32, x0: f32, v0: f32| {
        let t = std::f32::consts::PI * s;
        let (sn, cs) = t.sin_cos();
        c + e * (-half * cs + x0 * sn * sn) + n * (v0 * sn * sn)
    };
    let mut r = Vec::with_capacity(2 * ARC);
    for k in 0..=ARC {
        r.push(point(k as f32 / ARC as f32, xu, vu));
    }
    for k in (1..ARC).rev() {
        r.push(point(k as f32 / ARC as f32, xl, vl));
    }
    r
}

/// A lip line (image-left corner to image-right corner) at the lens parameters `s = k / ARC`, k = 0..=ARC: the
/// point whose position along the corner axis is `(1 - cos(pi s)) / 2` of the way (first crossing; clamped).
pub(super) fn resample_line(line: &[Pt]) -> Vec<Pt> {
    let (a, b) = (line[0], line[line.len() - 1]);
    let len = a.dist(b).max(1e-3);
    let e = (b - a).normalized();
    let u: Vec<f32> = line.iter().map(|&p| (p - a).dot(e) / len).collect();
    (0..=ARC)
        .map(|k| {
            let t = 0.5 * (1.0 - (std::f32::consts::PI * k as f32 / ARC as f32).cos());
            if k == 0 {
                return a;
            }
            if k == ARC {
                return b;
            }
            for i in 0..line.len() - 1 {
                let (u0, u1) = (u[i], u[i + 1]);
                if (u0 <= t && t <= u1) || (u1 <= t && t <= u0) {
                    let f = if (u1 - u0).abs() > 1e-6 { (t - u0) / (u1 - u0) } else { 0.0 };
                    return line[i].lerp(line[i + 1], f);
                }
            }
            a.lerp(b, t)
        })
        .collect()
}

/// A ring with the lens parametrisation from an upper and a lower line (both image-left to image-right corner).
pub(super) fn contour_ring(upper: &[Pt], lower: &[Pt]) -> Vec<Pt> {
    let up = resample_line(upper);
    let lo = resample_line(lower);
    let mut r = up;
    r.extend((1..ARC).rev().map(|k| lo[k]));
    r
}

/// Arc parameter s in [0, 1] (left corner to right corner) and whether a ring index is on the upper arc.
pub(super) fn arc_param(k: usize) -> (f32, bool) {
    if k <= ARC {
        (k as f32 / ARC as f32, true)
    } else {
        ((2 * ARC - k) as f32 / ARC as f32, false)
    }
}

/// An ellipse-like ring around `c` in the frame (e, n) with the ring-0 parametrisation.
pub(super) fn ellipse(c: Pt, e: Pt, n: Pt, rx: f32, ry_top: f32, ry_bot: f32) -> Vec<Pt> {
    (0..2 * ARC)
        .map(|k| {
            let (s, upper) = arc_param(k);
            let (sn, cs) = (std::f32::consts::PI * s).sin_cos();
            let v = if upper { -ry_top * sn } else { ry_bot * sn };
            c + e * (-rx * cs) + n * v
        })
        .collect()
}

/// Triangles between consecutive rings as index triples ((ring, k) pairs).
pub(super) fn ring_triangles(rings: usize) -> Vec<[(usize, usize); 3]> {
    let n = 2 * ARC;
    let mut t = Vec::new();
    for j in 0..rings - 1 {
        for k in 0..n {
            let k1 = (k + 1) % n;
            t.push([(j, k), (j, k1), (j + 1, k1)]);
            t.push([(j, k), (j + 1, k1), (j + 1, k)]);
        }
    }
    t
}

/// Interior (inside ring 0) triangles as ring-0 index triples, column by column: (U_k, U_k+1, D_k+1), (U_k, D_k+1, D_k).
pub(super) fn interior_triangles() -> Vec<[usize; 3]> {
    let d = |k: usize| (2 * ARC - k) % (2 * ARC);
    let mut t = Vec::new();
    for k in 0..ARC {
        t.push([k, k + 1, d(k + 1)]);
        t.push([k, d(k + 1), d(k)]);
    }
    t
}

pub(super) fn area(t: [Pt; 3]) -> f32 {
    (t[1] - t[0]).cross(t[2] - t[0])
}

/// A ring mesh: source rings and the triangles between them, with their source orientation.
pub(super) struct RingMesh {
    pub(super) src: Vec<Vec<Pt>>,
    tris: Vec<[(usize, usize); 3]>,
    sign: f32,
}

impl RingMesh {
    pub(super) fn new(src: Vec<Vec<Pt>>, what: &str) -> Result<Self, RenderError> {
        let tris = ring_triangles(src.len());
        let areas: Vec<f32> = tris.iter().map(|t| area(t.map(|(j, k)| src[j][k]))).collect();
        let sign = if areas.iter().sum::<f32>() >= 0.0 { 1.0 } else { -1.0 };
        if let Some(i) = areas.iter().position(|a| a * sign <= 1e-3) {
            tracing::debug!("folded {what} triangle {:?}", tris[i].map(|(j, k)| src[j][k]));
            return Err(RenderError::Portrait(format!(
                "the {what} landmarks give a folded mesh (ring {} point {}): check them with `jamflow portrait check`",
                tris[i][0].0, tris[i][0].1
            )));
        }
        Ok(Self { src, tris, sign })
    }

    /// Whether moving to `dst` would fold a triangle (or make it nearly degenerate).
    pub(super) fn folds(&self, dst: &[Vec<Pt>]) -> bool {
        self.tris.iter().any(|t| {
            let a = area(t.map(|(j, k)| dst[j][k])) * self.sign;
            let min = 0.05 * area(t.map(|(j, k)| self.src[j][k])).abs().min(1.0);
            a.is_nan() || a <= min
        })
    }

    /// Warp the ring triangles: `frame` gets `base` sampled through the piecewise-affine map dst -> src.
    pub(super) fn draw(&self, dst: &[Vec<Pt>], base: &RgbImage, frame: &mut RgbImage) {
        let (w, h) = base.dimensions();
        let src_buf = base.as_raw();
        let out = frame.as_mut();
        for t in &self.tris {
            let d = t.map(|(j, k)| dst[j][k]);
            let s = t.map(|(j, k)| self.src[j][k]);
            raster_triangle(d, w, h, |x, y, l| {
                let p = bary(s, l);
                let c = sample_bilinear(src_buf, w, h, p.x, p.y);
                let i = (y * w as usize + x) * 3;
                out[i..i + 3].copy_from_slice(&c);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contour_along_a_lens_resamples_to_that_lens() {
        let (a, b) = (Pt::new(10.0, 20.0), Pt::new(50.0, 22.0));
        let c = (a + b) * 0.5;
        let n = Pt::new(-(b - a).normalized().y, (b - a).normalized().x);
        let ring = lens(a, b, c - n * 4.0, c + n * 6.0);
        // Upper and lower arcs as left-to-right lines, sampled differently (every other point + corners).
        let upper: Vec<Pt> = ring[..=ARC].to_vec();
        let mut lower: Vec<Pt> = vec![a];
        lower.extend((ARC + 1..2 * ARC).rev().map(|k| ring[k]));
        lower.push(b);
        let got = contour_ring(&upper, &lower);
        assert_eq!(got.len(), 2 * ARC);
        for (k, (g, w)) in got.iter().zip(&ring).enumerate() {
            assert!(g.dist(*w) < 1e-3, "point {k}: {g:?} vs {w:?}");
        }
        let coarse: Vec<Pt> = upper.iter().step_by(3).copied().chain(std::iter::once(b)).collect();
        let r = resample_line(&coarse);
        assert_eq!((r[0], r[ARC]), (a, b));
        assert!(r.windows(2).all(|w| (w[1] - w[0]).dot(b - a) > 0.0), "monotonic along the corner axis");
    }
}

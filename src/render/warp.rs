//! Geometry and pixel helpers of the mesh warp: points, bilinear sampling, triangle rasterization with
//! barycentric coordinates, affine maps.

use std::ops::{Add, Mul, Sub};

use serde::{Deserialize, Serialize};

/// A 2-D point or vector in pixels (JSON: `[x, y]`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "[f32; 2]", into = "[f32; 2]")]
pub struct Pt {
    pub x: f32,
    pub y: f32,
}

impl From<[f32; 2]> for Pt {
    fn from(a: [f32; 2]) -> Self {
        Pt::new(a[0], a[1])
    }
}
impl From<Pt> for [f32; 2] {
    fn from(p: Pt) -> Self {
        [p.x, p.y]
    }
}

impl Pt {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
    pub fn dot(self, o: Pt) -> f32 {
        self.x * o.x + self.y * o.y
    }
    pub fn norm(self) -> f32 {
        self.dot(self).sqrt()
    }
    pub fn dist(self, o: Pt) -> f32 {
        (self - o).norm()
    }
    pub fn normalized(self) -> Pt {
        let n = self.norm();
        if n > 0.0 {
            self * (1.0 / n)
        } else {
            Pt::new(1.0, 0.0)
        }
    }
    /// Cross product z (twice the signed area of the triangle (0, self, o)).
    pub fn cross(self, o: Pt) -> f32 {
        self.x * o.y - self.y * o.x
    }
    pub fn lerp(self, o: Pt, t: f32) -> Pt {
        self + (o - self) * t
    }
}

impl Add for Pt {
    type Output = Pt;
    fn add(self, o: Pt) -> Pt {
        Pt::new(self.x + o.x, self.y + o.y)
    }
}
impl Sub for Pt {
    type Output = Pt;
    fn sub(self, o: Pt) -> Pt {
        Pt::new(self.x - o.x, self.y - o.y)
    }
}
impl Mul<f32> for Pt {
    type Output = Pt;
    fn mul(self, k: f32) -> Pt {
        Pt::new(self.x * k, self.y * k)
    }
}

/// Bilinear sample of an RGB8 buffer at (x, y) (pixel centres at integers), clamped to the edges.
#[inline]
pub fn sample_bilinear(buf: &[u8], w: u32, h: u32, x: f32, y: f32) -> [u8; 3] {
    let f = sample_bilinear_f(buf, w, h, x, y);
    [to_u8(f[0]), to_u8(f[1]), to_u8(f[2])]
}

/// Bilinear sample as f32 (0..255).
#[inline]
pub fn sample_bilinear_f(buf: &[u8], w: u32, h: u32, x: f32, y: f32) -> [f32; 3] {
    let (wi, hi) = (w as i32, h as i32);
    let x = x.clamp(0.0, (wi - 1) as f32);
    let y = y.clamp(0.0, (hi - 1) as f32);
    let (x0, y0) = (x.floor() as i32, y.floor() as i32);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let x1 = (x0 + 1).min(wi - 1);
    let y1 = (y0 + 1).min(hi - 1);
    let i00 = ((y0 * wi + x0) * 3) as usize;
    let i01 = ((y0 * wi + x1) * 3) as usize;
    let i10 = ((y1 * wi + x0) * 3) as usize;
    let i11 = ((y1 * wi + x1) * 3) as usize;
    let (w00, w01, w10, w11) = ((1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy);
    let mut out = [0.0f32; 3];
    for (c, o) in out.iter_mut().enumerate() {
        *o = buf[i00 + c] as f32 * w00
            + buf[i01 + c] as f32 * w01
            + buf[i10 + c] as f32 * w10
            + buf[i11 + c] as f32 * w11;
    }
    out
}

#[inline]
pub fn to_u8(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// Call `f(x, y, [l0, l1, l2])` for every pixel centre inside the triangle `t` (barycentric weights of the
/// three corners), clipped to a `w` x `h` image. Degenerate triangles cover nothing.
pub fn raster_triangle(t: [Pt; 3], w: u32, h: u32, mut f: impl FnMut(usize, usize, [f32; 3])) {
    let area = (t[1] - t[0]).cross(t[2] - t[0]);
    if area.abs() < 1e-6 || !area.is_finite() {
        return;
    }
    let inv = 1.0 / area;
    let minx = t.iter().map(|p| p.x).fold(f32::INFINITY, f32::min).floor().max(0.0) as i64;
    let maxx = t.iter().map(|p| p.x).fold(f32::NEG_INFINITY, f32::max).ceil().min(w as f32 - 1.0) as i64;
    let miny = t.iter().map(|p| p.y).fold(f32::INFINITY, f32::min).floor().max(0.0) as i64;
    let maxy = t.iter().map(|p| p.y).fold(f32::NEG_INFINITY, f32::max).ceil().min(h as f32 - 1.0) as i64;
    const EPS: f32 = -1e-5;
    for y in miny..=maxy {
        for x in minx..=maxx {
            let p = Pt::new(x as f32, y as f32);
            let l1 = (p - t[0]).cross(t[2] - t[0]) * inv;
            let l2 = (t[1] - t[0]).cross(p - t[0]) * inv;
            let l0 = 1.0 - l1 - l2;
            if l0 >= EPS && l1 >= EPS && l2 >= EPS {
                f(x as usize, y as usize, [l0, l1, l2]);
            }
        }
    }
}

/// Barycentric interpolation of three points.
#[inline]
pub fn bary(p: [Pt; 3], l: [f32; 3]) -> Pt {
    Pt::new(p[0].x * l[0] + p[1].x * l[1] + p[2].x * l[2], p[0].y * l[0] + p[1].y * l[1] + p[2].y * l[2])
}

/// Smoothstep from `a` to `b` (either order).
#[inline]
pub fn smoothstep(a: f32, b: f32, x: f32) -> f32 {
    if a == b {
        return if x < a { 0.0 } else { 1.0 };
    }
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_is_exact_on_pixel_centres_and_blends_between() {
        let buf = vec![0, 0, 0, 200, 100, 50, 10, 10, 10, 20, 20, 20];
        assert_eq!(sample_bilinear(&buf, 2, 2, 1.0, 0.0), [200, 100, 50]);
        assert_eq!(sample_bilinear(&buf, 2, 2, 0.5, 0.0), [100, 50, 25]);
        assert_eq!(sample_bilinear(&buf, 2, 2, -5.0, 9.0), [10, 10, 10]);
    }

    #[test]
    fn two_triangles_of_a_square_cover_each_pixel_at_least_once() {
        let mut hits = vec![0u32; 100];
        let q = [Pt::new(1.0, 1.0), Pt::new(8.0, 1.0), Pt::new(8.0, 8.0), Pt::new(1.0, 8.0)];
        for t in [[q[0], q[1], q[2]], [q[0], q[2], q[3]]] {
            raster_triangle(t, 10, 10, |x, y, l| {
                assert!((l.iter().sum::<f32>() - 1.0).abs() < 1e-4);
                let p = bary(t, l);
                assert!((p.x - x as f32).abs() < 1e-3 && (p.y - y as f32).abs() < 1e-3, "{p:?} != ({x}, {y})");
                hits[y * 10 + x] += 1;
            });
        }
        for y in 0..10 {
            for x in 0..10 {
                let inside = (1..=8).contains(&x) && (1..=8).contains(&y);
                assert_eq!(hits[y * 10 + x] > 0, inside, "pixel {x},{y}");
            }
        }
    }
}

//! Network input crops: an affine map from tensor pixels to photo pixels, sampled bilinearly with box-averaged
//! supersampling when it shrinks (a 1080p photo into 128 x 128 must not alias).

use image::RgbImage;

use crate::render::warp::{sample_bilinear_f, Pt};

/// `photo = origin + ex * (i + 0.5) + ey * (j + 0.5) - (0.5, 0.5)` for tensor pixel (i, j): tensor pixel centres
/// to photo coordinates (pixel centres at integers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub origin: Pt,
    pub ex: Pt,
    pub ey: Pt,
}

impl Affine {
    /// An axis-aligned crop whose top-left corner is `origin`, `scale` photo pixels per tensor pixel.
    pub fn scale_offset(scale: f32, origin: Pt) -> Self {
        Self { origin, ex: Pt::new(scale, 0.0), ey: Pt::new(0.0, scale) }
    }

    /// A square crop of side `side` (photo pixels) centred on `centre` (pixel-centre coordinates), its x axis at `angle` (radians,
    /// clockwise in the photo since y points down), `n` tensor pixels wide.
    pub fn rotated_square(centre: Pt, side: f32, angle: f32, n: usize) -> Self {
        let (s, c) = angle.sin_cos();
        let k = side / n as f32;
        let (ex, ey) = (Pt::new(c, s) * k, Pt::new(-s, c) * k);
        let origin = centre + Pt::new(0.5, 0.5) - (ex + ey) * (n as f32 * 0.5);
        Self { origin, ex, ey }
    }

    /// Photo coordinates of tensor coordinates (continuous; `(i + 0.5, j + 0.5)` is pixel (i, j)'s centre).
    pub fn apply(&self, t: Pt) -> Pt {
        self.origin + self.ex * t.x + self.ey * t.y - Pt::new(0.5, 0.5)
    }

    /// Photo pixels per tensor pixel.
    pub fn scale(&self) -> f32 {
        self.ex.norm().max(self.ey.norm())
    }
}

/// An `h` x `w` x 3 (HWC, f32) tensor of `img` through `map`, each channel value `v` (0..255) as `norm(v)`;
/// outside the photo the value is `border` (already normalised).
pub fn sample_affine(
    img: &RgbImage,
    w: usize,
    h: usize,
    map: &Affine,
    norm: impl Fn(f32) -> f32,
    border: [f32; 3],
) -> Vec<f32> {
    let (iw, ih) = img.dimensions();
    let buf = img.as_raw();
    let n = map.scale().ceil().clamp(1.0, 16.0) as usize;
    let inv = 1.0 / (n * n) as f32;
    let (lo, hi) = (Pt::new(-0.5, -0.5), Pt::new(iw as f32 - 0.5, ih as f32 - 0.5));
    let mut out = Vec::with_capacity(w * h * 3);
    for j in 0..h {
        for i in 0..w {
            let mut acc = [0.0f32; 3];
            let mut inside = 0usize;
            for b in 0..n {
                for a in 0..n {
                    let t = Pt::new(i as f32 + (a as f32 + 0.5) / n as f32, j as f32 + (b as f32 + 0.5) / n as f32);
                    let p = map.apply(t);
                    if p.x < lo.x || p.y < lo.y || p.x > hi.x || p.y > hi.y {
                        continue;
                    }
                    inside += 1;
                    let v = sample_bilinear_f(buf, iw, ih, p.x, p.y);
                    for c in 0..3 {
                        acc[c] += v[c];
                    }
                }
            }
            let f = inside as f32 * inv;
            for c in 0..3 {
                let v = if inside > 0 { norm(acc[c] / inside as f32) } else { border[c] };
                out.push(v * f + border[c] * (1.0 - f));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_square_maps_the_tensor_centre_to_the_centre_and_turns_the_x_axis() {
        let m = Affine::rotated_square(Pt::new(100.0, 50.0), 64.0, std::f32::consts::FRAC_PI_2, 32);
        let c = m.apply(Pt::new(16.0, 16.0));
        assert!((c.x - 100.0).abs() < 1e-4 && (c.y - 50.0).abs() < 1e-4, "{c:?}");
        let r = m.apply(Pt::new(17.0, 16.0)) - c;
        assert!(r.x.abs() < 1e-4 && (r.y - 2.0).abs() < 1e-4, "{r:?}");
    }

    #[test]
    fn shrinking_averages_and_outside_is_border() {
        let mut img = RgbImage::new(4, 2);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([if x % 2 == 0 { 0 } else { 200 }; 3]);
        }
        let t = sample_affine(&img, 2, 1, &Affine::scale_offset(2.0, Pt::new(0.0, 0.0)), |v| v, [7.0; 3]);
        assert!((t[0] - 100.0).abs() < 1.0 && (t[3] - 100.0).abs() < 1.0, "{t:?}");
        let t = sample_affine(&img, 1, 1, &Affine::scale_offset(1.0, Pt::new(-10.0, 0.0)), |v| v, [7.0; 3]);
        assert_eq!(t, vec![7.0; 3]);
    }
}

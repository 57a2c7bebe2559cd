//! Network input crops: an affine map from tensor pixels to photo pixels, sampled bilinearly from a 2x box
//! pyramid of the photo with 2 x 2 supersampling (a 1080p photo into 128 x 128 must not alias, and must be fast).

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

    /// The same crop flipped left to right, `n` tensor pixels wide: tensor x -> n - x (it starts at the right
    /// edge and steps left).
    pub fn mirrored_x(&self, n: usize) -> Self {
        Self { origin: self.origin + self.ex * n as f32, ex: self.ex * -1.0, ey: self.ey }
    }

    /// Photo pixels per tensor pixel.
    pub fn scale(&self) -> f32 {
        self.ex.norm().max(self.ey.norm())
    }
}

/// The photo (borrowed) and its 2x box-filtered reductions (level k: 2^k photo pixels per pixel).
pub struct Pyramid<'a> {
    photo: &'a RgbImage,
    /// Levels 1.. (level 0 is the photo).
    reduced: Vec<RgbImage>,
}

impl<'a> Pyramid<'a> {
    pub fn new(photo: &'a RgbImage) -> Self {
        let mut reduced: Vec<RgbImage> = Vec::new();
        loop {
            let last = reduced.last().unwrap_or(photo);
            if last.width() < 32 || last.height() < 32 {
                break;
            }
            reduced.push(half(last));
        }
        Self { photo, reduced }
    }

    /// The photo itself.
    pub fn photo(&self) -> &RgbImage {
        self.photo
    }

    fn levels(&self) -> usize {
        1 + self.reduced.len()
    }

    fn level(&self, k: usize) -> &RgbImage {
        if k == 0 {
            self.photo
        } else {
            &self.reduced[k - 1]
        }
    }
}

fn half(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() / 2, img.height() / 2);
    let src = img.as_raw();
    let row = img.width() as usize * 3;
    RgbImage::from_fn(w, h, |x, y| {
        let i = y as usize * 2 * row + x as usize * 6;
        let px = |c: usize| {
            let s = src[i + c] as u32 + src[i + 3 + c] as u32 + src[i + row + c] as u32 + src[i + row + 3 + c] as u32;
            ((s + 2) / 4) as u8
        };
        image::Rgb([px(0), px(1), px(2)])
    })
}

/// An `h` x `w` x 3 (HWC, f32) tensor of the photo through `map`, each channel value `v` (0..255) as `norm(v)`;
/// outside the photo the value is `border` (already normalised).
pub fn sample_affine(
    pyr: &Pyramid<'_>,
    w: usize,
    h: usize,
    map: &Affine,
    norm: impl Fn(f32) -> f32,
    border: [f32; 3],
) -> Vec<f32> {
    let photo = pyr.photo();
    let (lo, hi) = (Pt::new(-0.5, -0.5), Pt::new(photo.width() as f32 - 0.5, photo.height() as f32 - 0.5));
    // The coarsest level where a tensor pixel still spans 1-2 level pixels; 2 x 2 bilinear samples there.
    let level = (map.scale().max(1.0).log2().floor() as usize).min(pyr.levels() - 1);
    let img = pyr.level(level);
    let k = 1.0 / (1u32 << level) as f32;
    let (iw, ih) = img.dimensions();
    let buf = img.as_raw();
    let n = if map.scale() * k > 1.0 { 2 } else { 1 };
    let inv = 1.0 / (n * n) as f32;
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
                    let q = (p + Pt::new(0.5, 0.5)) * k - Pt::new(0.5, 0.5);
                    let v = sample_bilinear_f(buf, iw, ih, q.x, q.y);
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
    fn mirrored_x_maps_tensor_x_to_the_width_minus_x() {
        let m = Affine::rotated_square(Pt::new(40.0, 30.0), 20.0, 0.3, 10);
        let f = m.mirrored_x(10);
        for t in [Pt::new(0.0, 0.0), Pt::new(2.5, 7.0), Pt::new(10.0, 4.0)] {
            assert!(f.apply(t).dist(m.apply(Pt::new(10.0 - t.x, t.y))) < 1e-4, "{t:?}");
        }
        assert!(f.mirrored_x(10).apply(Pt::new(3.0, 1.0)).dist(m.apply(Pt::new(3.0, 1.0))) < 1e-4);
    }

    #[test]
    fn pyramid_levels_average_and_large_shrinks_match_a_box_filter() {
        let img = RgbImage::from_fn(64, 64, |x, y| image::Rgb([((x * 4) ^ (y * 4)) as u8, 100, 0]));
        let pyr = Pyramid::new(&img);
        assert_eq!(pyr.levels(), 3);
        assert_eq!(pyr.level(1).dimensions(), (32, 32));
        // 64 -> 4: each output pixel is the mean of a 16 x 16 block.
        let t = sample_affine(&pyr, 4, 4, &Affine::scale_offset(16.0, Pt::new(0.0, 0.0)), |v| v, [0.0; 3]);
        for (k, v) in t.chunks(3).enumerate() {
            let (bx, by) = ((k % 4) as u32 * 16, (k / 4) as u32 * 16);
            let mean = (0..16)
                .flat_map(|y| (0..16).map(move |x| (x, y)))
                .map(|(x, y)| img.get_pixel(bx + x, by + y)[0] as f32)
                .sum::<f32>()
                / 256.0;
            assert!((v[0] - mean).abs() < 12.0 && (v[1] - 100.0).abs() < 0.5, "block {k}: {} vs {mean}", v[0]);
        }
    }

    #[test]
    fn shrinking_averages_and_outside_is_border() {
        let mut img = RgbImage::new(4, 2);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([if x % 2 == 0 { 0 } else { 200 }; 3]);
        }
        let pyr = Pyramid::new(&img);
        let t = sample_affine(&pyr, 2, 1, &Affine::scale_offset(2.0, Pt::new(0.0, 0.0)), |v| v, [7.0; 3]);
        assert!((t[0] - 100.0).abs() < 1.0 && (t[3] - 100.0).abs() < 1.0, "{t:?}");
        let t = sample_affine(&pyr, 1, 1, &Affine::scale_offset(1.0, Pt::new(-10.0, 0.0)), |v| v, [7.0; 3]);
        assert_eq!(t, vec![7.0; 3]);
    }
}

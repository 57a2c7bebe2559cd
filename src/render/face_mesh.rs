//! The mouth and eye meshes of the mesh-warp renderer ([`super::mesh`]).
//!
//! The mouth mesh is a set of nested closed rings of `2M` points, all parametrised alike (upper arc from the
//! left corner to the right one, then the lower arc back):
//! - ring 0: the inner lip line (a lens through the corners and the upper/lower inner points, or the dense inner lip
//!   contour of a format-2 file, moved by the change of that lens),
//! - ring 1: the outer lip edges (or the outer lip contour); it moves rigidly with ring 0 (the lips keep their
//!   shape),
//! - ring 2: cheeks, the skin above the upper lip, and the jaw through the chin: moves with a fraction of the lips'
//!   motion (jaw 0.85 of the lower lip's, upper skin 0.25, cheeks 0.3); with format-2 contours its lower arc lies
//!   on the real jaw line,
//! - ring 3: fixed (the base of the nose, the cheeks, under the chin).
//!
//! Inside ring 0 (the mouth opening) the content of the portrait's own opening (teeth) stays attached: its top half
//! to the upper lip, its bottom half to the lower lip; what opens between them is a dark mouth cavity (shaded,
//! redder towards the tongue, darker into the corners), blended over 1.5 px. A closing mouth squashes the opening.
//! Protrusion (z) thickens the lips (outer edges move out by 40 % per unit) and pulls the corners in.
//!
//! Blinks (idle life) use the same machinery on each eye: a lens between the eye corners through the lid centres;
//! the upper lid comes down to meet the lower one and the eye opening is squashed away.

use image::RgbImage;

use super::landmarks::Landmarks;
use super::rings::{arc_param, contour_ring, ellipse, interior_triangles, lens, RingMesh, ARC};
use super::warp::{bary, raster_triangle, sample_bilinear, sample_bilinear_f, smoothstep, to_u8, Pt};
use super::RenderError;
use crate::model::config::{MOUTH_POINTS, POINT_DIMS};

/// Share of the portrait's own mouth opening (upper teeth) that stays attached to the upper lip.
const UPPER_SHARE: f32 = 0.7;
/// A portrait whose own mouth opening is smaller than this (inter-ocular units) shows no teeth: opening it draws
/// a hint of upper teeth.
const TEETH_SHOWN: f32 = 0.05;
/// Colour of the teeth hint.
const TEETH: [f32; 3] = [226.0, 220.0, 206.0];
/// The mouth: ring mesh plus what the interior needs.
pub(super) struct MouthMesh {
    pub(super) mesh: RingMesh,
    /// The lens through the 4 source mouth points: a frame's ring 0 is the source ring 0 plus the change of this
    /// lens (equal to ring 0 without `contours`).
    lens0: Vec<Pt>,
    /// Source ring-1 offsets from ring 0 (outer lip edges).
    lip_offset: Vec<Pt>,
    /// Ring-2 displacement weights (fraction of the ring-0 point's displacement).
    w2: Vec<f32>,
    iod: f32,
    lm: Landmarks,
}

impl MouthMesh {
    /// From the dense lip contours where the file has them (falling back to the 4-point lens when they would
    /// fold the mesh), else from the 4 mouth points.
    pub(super) fn new(lm: &Landmarks) -> Result<Self, RenderError> {
        if lm.contours.is_some() {
            match Self::build(lm, true) {
                Ok(m) => return Ok(m),
                Err(e) => tracing::warn!("lip contours not used ({e}); shaping the mouth from its 4 points"),
            }
        }
        Self::build(lm, false)
    }

    fn build(lm: &Landmarks, use_contours: bool) -> Result<Self, RenderError> {
        let iod = lm.iod();
        let m = &lm.mouth;
        let lens0 = lens(m.left, m.right, m.upper, m.lower);
        let contours = lm.contours.as_ref().filter(|_| use_contours);
        let ring0 = match contours {
            Some(c) => contour_ring(&c.lips_inner_upper, &c.lips_inner_lower),
            None => lens0.clone(),
        };
        let c = (m.left + m.right) * 0.5;
        let e = (m.right - m.left).normalized();
        let n = lm.mouth_normal();
        let v = |p: Pt| (p - c).dot(n);
        let margin = 0.03 * iod;
        let th_u = (v(m.upper) - v(lm.upper_outer())).max(0.03 * iod) + margin;
        let th_l = (v(lm.lower_outer()) - v(m.lower)).max(0.03 * iod) + margin;
        let tc = 0.06 * iod;
        // Corners: outward along the bisector of the two lip lines leaving the corner.
        let half = m.left.dist(m.right) * 0.5;
        let vmean = 0.5 * (v(m.upper) + v(m.lower));
        let out_l = (e * (-0.5 * half) - n * vmean).normalized() * tc;
        let out_r = (e * (0.5 * half) - n * vmean).normalized() * tc;
        let lip_offset: Vec<Pt> = (0..2 * ARC)
            .map(|k| {
                let (s, upper) = arc_param(k);
                if k == 0 {
                    out_l
                } else if k == ARC {
                    out_r
                } else {
                    let prof = 0.35 + 0.65 * (std::f32::consts::PI * s).sin();
                    if upper {
                        n * (-th_u * prof)
                    } else {
                        n * (th_l * prof)
                    }
                }
            })
            .collect();
        let lip_offset = match contours {
            Some(c) => {
                let outer = contour_ring(&c.lips_outer_upper, &c.lips_outer_lower);
                outer.iter().zip(&ring0).map(|(&o, &i)| o - i).collect()
            }
            None => lip_offset,
        };
        let ring1: Vec<Pt> = ring0.iter().zip(&lip_offset).map(|(&p, &o)| p + o).collect();
        // Rings 2 and 3: ring 1 plus an ellipse-shaped margin (horizontal at the corners, vertical at the centre).
        let top1 = -v(ring1[ARC / 2]);
        let bot1 = v(ring1[ARC + ARC / 2]);
        let top3 = -v(lm.nose);
        let chin = v(lm.chin);
        if top3 <= top1 + 1.0 {
            return Err(RenderError::Portrait(
                "landmarks: the base of the nose (`nose`) is too close to the upper lip's outer edge".into(),
            ));
        }
        let grow = |mx: f32, my_top: f32, my_bot: f32| -> Vec<Pt> {
            (0..2 * ARC)
                .map(|k| {
                    let (s, upper) = arc_param(k);
                    let (sn, cs) = (std::f32::consts::PI * s).sin_cos();
                    let dv = if upper { -my_top * sn } else { my_bot * sn };
                    ring1[k] + e * (-mx * cs) + n * dv
                })
                .collect()
        };
        let mut ring2 = grow(0.25 * iod, 0.5 * (top3 - top1), (chin - bot1).max(0.1 * iod));
        let mut ring3 = grow(0.7 * iod, top3 - top1, (chin - bot1).max(0.1 * iod) + 0.45 * iod);
        if let Some(ct) = contours {
            // The jaw moves with the lower lip along the real jaw line: ring 2's lower arc down onto it, ring 3
            // at least 0.45 IOD below.
            for k in ARC + 1..2 * ARC {
                if let Some(jv) = jaw_depth(&ct.jaw, c, e, n, (ring2[k] - c).dot(e)) {
                    let lift = jv - v(ring2[k]);
                    if jv > v(ring1[k]) + 0.1 * iod && lift > 0.0 {
                        ring2[k] = ring2[k] + n * lift;
                    }
                }
                let need = v(ring2[k]) + 0.45 * iod - v(ring3[k]);
                if need > 0.0 {
                    ring3[k] = ring3[k] + n * need;
                }
            }
        }
        let w2 = (0..2 * ARC)
            .map(|k| {
                let (s, upper) = arc_param(k);
                let s2 = (std::f32::consts::PI * s).sin().powi(2);
                let end = if upper { 0.25 } else { 0.85 };
                0.3 + (end - 0.3) * s2
            })
            .collect();
        let mesh = RingMesh::new(vec![ring0, ring1, ring2, ring3], "mouth")?;
        Ok(Self { mesh, lens0, lip_offset, w2, iod, lm: lm.clone() })
    }

    /// Destination rings for one clamped motion frame scaled by `k` (0..1).
    pub(super) fn dest(&self, mo: &[[f32; POINT_DIMS]; MOUTH_POINTS], k: f32) -> Vec<Vec<Pt>> {
        let m = &self.lm.mouth;
        let s = self.iod * k;
        let d = |i: usize| Pt::new(mo[i][0], mo[i][1]) * s;
        let c = (m.left + m.right) * 0.5;
        // Protrusion pulls the corners towards the mouth centre.
        let pucker = |p: Pt, z: f32| (c - p) * (0.25 * (z * k).max(0.0));
        let lc = m.left + d(2) + pucker(m.left, mo[2][2]);
        let rc = m.right + d(3) + pucker(m.right, mo[3][2]);
        let up = m.upper + d(0);
        let lo = m.lower + d(1);
        let src0 = &self.mesh.src[0];
        let ring0: Vec<Pt> =
            lens(lc, rc, up, lo).iter().zip(&self.lens0).zip(src0).map(|((&n, &o), &s)| s + (n - o)).collect();
        let (zu, zl) = (1.0 + 0.4 * mo[0][2] * k, 1.0 + 0.4 * mo[1][2] * k);
        let ring1: Vec<Pt> = (0..2 * ARC)
            .map(|i| {
                let (_, upper) = arc_param(i);
                let z = if i == 0 || i == ARC {
                    1.0
                } else if upper {
                    zu
                } else {
                    zl
                };
                ring0[i] + self.lip_offset[i] * z
            })
            .collect();
        let src = &self.mesh.src;
        let ring2: Vec<Pt> = (0..2 * ARC).map(|i| src[2][i] + (ring0[i] - src[0][i]) * self.w2[i]).collect();
        vec![ring0, ring1, ring2, src[3].clone()]
    }

    /// The mouth opening: the portrait's own opening content stays attached to the lips, the new gap is cavity.
    pub(super) fn draw_interior(&self, dst0: &[Pt], base: &RgbImage, frame: &mut RgbImage) {
        let (w, h) = base.dimensions();
        let src0 = &self.mesh.src[0];
        let iod = self.iod;
        let buf = base.as_raw();
        let out = frame.as_mut();
        let col = |k: usize| (k, (2 * ARC - k) % (2 * ARC));
        // Per column: upper/lower vertex data.
        struct V {
            t: f32,
            g: f32,
            gd: f32,
            tu: Pt,
            tl: Pt,
            s: f32,
        }
        let vert = |k: usize, is_upper: bool| {
            let (u, d) = col(k);
            let g = src0[u].dist(src0[d]);
            let gd = dst0[u].dist(dst0[d]);
            V {
                t: if is_upper { 0.0 } else { gd },
                g,
                gd,
                tu: src0[u] - dst0[u],
                tl: src0[d] - dst0[d],
                s: k as f32 / ARC as f32,
            }
        };
        for tri in interior_triangles() {
            let d = tri.map(|i| dst0[i]);
            let s = tri.map(|i| src0[i]);
            let vs = tri.map(|i| {
                let upper = i <= ARC;
                let k = if upper { i } else { 2 * ARC - i };
                vert(k, upper)
            });
            raster_triangle(d, w, h, |x, y, l| {
                let li = |f: &dyn Fn(&V) -> f32| f(&vs[0]) * l[0] + f(&vs[1]) * l[1] + f(&vs[2]) * l[2];
                let (g, gd) = (li(&|v| v.g), li(&|v| v.gd));
                let i = (y * w as usize + x) * 3;
                if gd <= g + 0.5 {
                    let p = bary(s, l);
                    out[i..i + 3].copy_from_slice(&sample_bilinear(buf, w, h, p.x, p.y));
                    return;
                }
                let t = li(&|v| v.t);
                let p = Pt::new(x as f32, y as f32);
                let tu = Pt::new(li(&|v| v.tu.x), li(&|v| v.tu.y));
                let tl = Pt::new(li(&|v| v.tl.x), li(&|v| v.tl.y));
                // The portrait's own opening: its top 70 % (upper teeth) stays with the upper lip, the rest with the
                // lower lip.
                let half = UPPER_SHARE * g;
                let low = g - half;
                let top = sample_bilinear_f(buf, w, h, p.x + tu.x, p.y + tu.y);
                let bot = sample_bilinear_f(buf, w, h, p.x + tl.x, p.y + tl.y);
                let split = half + 0.5 * (gd - g);
                let to_bot = smoothstep(split - 0.5, split + 0.5, t);
                let a = smoothstep(half - 0.75, half + 0.75, t);
                let b = 1.0 - smoothstep(gd - low - 0.75, gd - low + 0.75, t);
                let wc = a * b * smoothstep(0.0, 2.0, gd - g);
                let q = ((t - half) / (gd - g).max(1e-3)).clamp(0.0, 1.0);
                let sc = li(&|v| v.s);
                let shade = 0.5 + 0.5 * (std::f32::consts::PI * sc).sin();
                let tongue = smoothstep(0.55, 1.0, q) * 0.6;
                let shadow = 1.0 - 0.35 * (1.0 - smoothstep(0.0, 0.3, q));
                let k = shade * shadow;
                let mut cav = [
                    (40.0 + (150.0 - 40.0) * tongue) * k,
                    (16.0 + (64.0 - 16.0) * tongue) * k,
                    (17.0 + (66.0 - 17.0) * tongue) * k,
                ];
                // A portrait that shows no teeth of its own gets a hint of upper teeth under the upper lip.
                let teeth = (1.0 - g / (TEETH_SHOWN * iod)).clamp(0.0, 1.0);
                if teeth > 0.0 {
                    let th = (0.07 * iod).min(0.35 * (gd - g));
                    let depth = t - half;
                    let across = smoothstep(0.12, 0.3, sc) * (1.0 - smoothstep(0.7, 0.88, sc));
                    let wt = teeth * across * (1.0 - smoothstep(th - 0.75, th + 0.75, depth));
                    let lit = shade * (0.8 + 0.2 * (1.0 - (depth / th.max(1.0)).clamp(0.0, 1.0)));
                    for (c, v) in cav.iter_mut().enumerate() {
                        *v += (TEETH[c] * lit - *v) * wt;
                    }
                }
                for c in 0..3 {
                    let lip = top[c] + (bot[c] - top[c]) * to_bot;
                    out[i + c] = to_u8(lip + (cav[c] - lip) * wc);
                }
            });
        }
    }
}

/// How far down (along `n` from `c`) the jaw line lies at `x` along `e` (first crossing), if it spans `x`.
fn jaw_depth(jaw: &[Pt], c: Pt, e: Pt, n: Pt, x: f32) -> Option<f32> {
    let uv: Vec<(f32, f32)> = jaw.iter().map(|&p| ((p - c).dot(e), (p - c).dot(n))).collect();
    uv.windows(2).find_map(|w| {
        let ((u0, v0), (u1, v1)) = (w[0], w[1]);
        let inside = (u0 <= x && x <= u1) || (u1 <= x && x <= u0);
        (inside && (u1 - u0).abs() > 1e-6).then(|| v0 + (v1 - v0) * (x - u0) / (u1 - u0))
    })
}

/// One eye's blink mesh.
pub(super) struct EyeMesh {
    pub(super) mesh: RingMesh,
}

impl EyeMesh {
    pub(super) fn new(a: Pt, b: Pt, up: Pt, lo: Pt, iod: f32) -> Result<Self, RenderError> {
        let ring0 = lens(a, b, up, lo);
        let c = (a + b) * 0.5;
        let e = (b - a).normalized();
        let n = Pt::new(-e.y, e.x);
        let half = a.dist(b) * 0.5;
        let (vu, vl) = ((up - c).dot(n), (lo - c).dot(n));
        let ring1 = ellipse(c, e, n, half + 0.1 * iod, (-vu).max(0.0) + 0.12 * iod, vl.max(0.0) + 0.05 * iod);
        let ring2 = ellipse(c, e, n, half + 0.25 * iod, (-vu).max(0.0) + 0.28 * iod, vl.max(0.0) + 0.15 * iod);
        Ok(Self { mesh: RingMesh::new(vec![ring0, ring1, ring2], "eyelid")? })
    }

    /// Destination rings for a blink amount `b` (0 open .. 1 closed).
    pub(super) fn dest(&self, b: f32) -> Vec<Vec<Pt>> {
        let src = &self.mesh.src;
        let mut r0 = src[0].clone();
        let mut disp = [Pt::default(); 2 * ARC];
        for k in 1..ARC {
            let (u, d) = (k, 2 * ARC - k);
            let meet = src[0][u].lerp(src[0][d], 0.8);
            r0[u] = src[0][u].lerp(meet, b);
            r0[d] = src[0][d].lerp(meet, b);
            disp[u] = r0[u] - src[0][u];
            disp[d] = r0[d] - src[0][d];
        }
        let r1 = (0..2 * ARC)
            .map(|k| {
                let (_, upper) = arc_param(k);
                src[1][k] + disp[k] * if upper { 0.45 } else { 0.2 }
            })
            .collect();
        vec![r0, r1, src[2].clone()]
    }

    pub(super) fn draw(&self, b: f32, base: &RgbImage, frame: &mut RgbImage) {
        let dst = self.dest(b);
        self.mesh.draw(&dst, base, frame);
        let (w, h) = base.dimensions();
        let buf = base.as_raw();
        let out = frame.as_mut();
        for tri in interior_triangles() {
            let d = tri.map(|i| dst[0][i]);
            let s = tri.map(|i| self.mesh.src[0][i]);
            raster_triangle(d, w, h, |x, y, l| {
                let p = bary(s, l);
                let i = (y * w as usize + x) * 3;
                out[i..i + 3].copy_from_slice(&sample_bilinear(buf, w, h, p.x, p.y));
            });
        }
    }
}

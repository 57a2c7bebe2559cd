//! The portrait landmark file: a small JSON document next to the image (`NAME.landmarks.json` beside
//! `NAME.png`) that the mesh-warp renderer needs. Coordinates are image pixels, x to the right, y down, pixel
//! centres at integer coordinates. "Left"/"right" are image-left/image-right (the viewer's), not the subject's.
//!
//! ```json
//! {
//!   "format": "jamflow-landmarks/2",
//!   "image_size": [512, 512],
//!   "face_box": [180, 68, 268, 180],
//!   "eyes": { "left": [204, 100], "right": [246.5, 102.5] },
//!   "mouth": {
//!     "upper": [223, 144.5],
//!     "lower": [223, 149.5],
//!     "left": [205, 141],
//!     "right": [241.5, 142],
//!     "upper_outer": [223, 140.3],
//!     "lower_outer": [223, 155]
//!   },
//!   "nose": [223, 133],
//!   "chin": [224, 176.5],
//!   "eyelids": {
//!     "left": { "outer": [192.5, 99.5], "inner": [211, 101], "upper": [204, 96.5], "lower": [204, 103.5] },
//!     "right": { "inner": [236, 101.5], "outer": [259.5, 103.5], "upper": [246.5, 98.5], "lower": [246.5, 106] }
//!   },
//!   "contours": {
//!     "lips_outer_upper": [[204, 141], "...", [242, 142]],
//!     "lips_outer_lower": ["..."], "lips_inner_upper": ["..."], "lips_inner_lower": ["..."],
//!     "jaw": [[181, 120], "...", [224, 176.5], "...", [267, 121]]
//!   }
//! }
//! ```
//!
//! - `face_box` `[x0, y0, x1, y1]`: forehead/hairline to chin, cheek to cheek; the crop is centred on it.
//! - `eyes`: pupil centres; their distance is the inter-ocular distance (IOD), the unit of `mouth4-2d` motion.
//! - `mouth`: the 4 points of `mouth4-2d` on the *inner* lip line (where the lips part): `upper` = centre of the
//!   upper lip's lower edge, `lower` = centre of the lower lip's upper edge (equal to `upper` for a closed
//!   mouth), `left`/`right` = the corners. `upper_outer`/`lower_outer` (optional): the lips' outer edges at the
//!   centre (default: 0.08 / 0.14 IOD beyond the inner points).
//! - `nose`: the base of the nose (subnasale): nothing above it moves with the mouth. `chin`: the chin's lowest
//!   point on the face outline at the face's midline (menton); the jaw moves with the lower lip.
//! - `eyelids` (optional; needed for blinks): per eye the two corners and the centres of the upper and lower lid
//!   edges.
//! - `contours` (optional, format 2; `jamflow portrait prepare` writes them): dense lines, each ordered from
//!   image-left to image-right: the outer and inner lip lines (upper and lower, from corner to corner, at least
//!   3 points each) and the jaw (ear to ear over the chin). The renderer shapes the lips and the mouth opening
//!   from them instead of from the 4 mouth points.
//!
//! Format 1 (`jamflow-landmarks/1`, no `contours`) files still load.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use super::warp::{sample_bilinear, Pt};
use super::RenderError;

/// The `format` string of the current landmark file version.
pub const FORMAT: &str = "jamflow-landmarks/2";
/// The first version (no `contours`), still read.
pub const FORMAT_V1: &str = "jamflow-landmarks/1";
/// Fewest points of a lip contour line.
pub const MIN_CONTOUR_POINTS: usize = 3;
/// Smallest inter-ocular distance (pixels) the mesh-warp renderer works with.
pub const MIN_IOD: f32 = 8.0;

/// Eye lids of one eye.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eyelids {
    pub outer: Pt,
    pub inner: Pt,
    pub upper: Pt,
    pub lower: Pt,
}

/// Both eyes' lids.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EyelidPair {
    pub left: Eyelids,
    pub right: Eyelids,
}

/// Pupil centres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eyes {
    pub left: Pt,
    pub right: Pt,
}

/// The mouth on the inner lip line (the 4 points of `mouth4-2d`) and the outer lip edges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mouth {
    pub upper: Pt,
    pub lower: Pt,
    pub left: Pt,
    pub right: Pt,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_outer: Option<Pt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_outer: Option<Pt>,
}

/// Dense contours (format 2), each line ordered image-left to image-right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contours {
    pub lips_outer_upper: Vec<Pt>,
    pub lips_outer_lower: Vec<Pt>,
    pub lips_inner_upper: Vec<Pt>,
    pub lips_inner_lower: Vec<Pt>,
    pub jaw: Vec<Pt>,
}

impl Contours {
    fn lines(&self) -> [(&'static str, &Vec<Pt>); 5] {
        [
            ("lips_outer_upper", &self.lips_outer_upper),
            ("lips_outer_lower", &self.lips_outer_lower),
            ("lips_inner_upper", &self.lips_inner_upper),
            ("lips_inner_lower", &self.lips_inner_lower),
            ("jaw", &self.jaw),
        ]
    }

    fn map(&self, f: impl Fn(Pt) -> Pt) -> Self {
        let m = |v: &Vec<Pt>| v.iter().map(|&p| f(p)).collect();
        Self {
            lips_outer_upper: m(&self.lips_outer_upper),
            lips_outer_lower: m(&self.lips_outer_lower),
            lips_inner_upper: m(&self.lips_inner_upper),
            lips_inner_lower: m(&self.lips_inner_lower),
            jaw: m(&self.jaw),
        }
    }
}

/// A portrait's landmarks (see the module documentation for the file format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Landmarks {
    pub format: String,
    /// Width and height of the image the coordinates refer to.
    pub image_size: [u32; 2],
    pub face_box: [f32; 4],
    pub eyes: Eyes,
    pub mouth: Mouth,
    pub nose: Pt,
    pub chin: Pt,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eyelids: Option<EyelidPair>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contours: Option<Contours>,
}

/// The landmark file that belongs to an image: `NAME.landmarks.json` beside `NAME.EXT`.
pub fn default_path(image: &Path) -> PathBuf {
    let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    image.with_file_name(format!("{stem}.landmarks.json"))
}

impl Landmarks {
    /// Read and validate a landmark file for an image of `size` (width, height).
    pub fn load(path: &Path, size: (u32, u32)) -> Result<Self, RenderError> {
        let err = |msg: String| RenderError::Landmarks { path: path.to_path_buf(), msg };
        let text = std::fs::read_to_string(path).map_err(|e| {
            err(format!("{e} (write one as documented in src/render/landmarks.rs; `jamflow portrait check` shows it)"))
        })?;
        let lm: Landmarks = serde_json::from_str(&text).map_err(|e| err(format!("not a valid landmark file: {e}")))?;
        lm.validate(size).map_err(err)?;
        Ok(lm)
    }

    /// Inter-ocular distance in pixels.
    pub fn iod(&self) -> f32 {
        self.eyes.left.dist(self.eyes.right)
    }

    /// The upper lip's outer edge (given, or 0.08 IOD above the inner point, perpendicular to the mouth).
    pub fn upper_outer(&self) -> Pt {
        self.mouth.upper_outer.unwrap_or_else(|| self.mouth.upper - self.mouth_normal() * (0.08 * self.iod()))
    }
    /// The lower lip's outer edge (given, or 0.14 IOD below the inner point).
    pub fn lower_outer(&self) -> Pt {
        self.mouth.lower_outer.unwrap_or_else(|| self.mouth.lower + self.mouth_normal() * (0.14 * self.iod()))
    }
    /// Unit vector perpendicular to the mouth corners' line, pointing down the face.
    pub fn mouth_normal(&self) -> Pt {
        let e = (self.mouth.right - self.mouth.left).normalized();
        Pt::new(-e.y, e.x)
    }

    /// Check every point against the image and the face's geometry; the message names the field.
    pub fn validate(&self, size: (u32, u32)) -> Result<(), String> {
        if self.format != FORMAT && self.format != FORMAT_V1 {
            return Err(format!("`format` is {:?}; expected {FORMAT:?} or {FORMAT_V1:?}", self.format));
        }
        if self.format == FORMAT_V1 && self.contours.is_some() {
            return Err(format!("`contours` need `format` {FORMAT:?}"));
        }
        if self.image_size != [size.0, size.1] {
            return Err(format!(
                "`image_size` is {:?} but the image is {}x{} (landmarks belong to another image or a resized copy)",
                self.image_size, size.0, size.1
            ));
        }
        let (w, h) = (size.0 as f32, size.1 as f32);
        let [x0, y0, x1, y1] = self.face_box;
        if !(x0 < x1 && y0 < y1 && x0 >= 0.0 && y0 >= 0.0 && x1 <= w && y1 <= h) {
            return Err(format!(
                "`face_box` {:?} must be [x0, y0, x1, y1] with x0 < x1, y0 < y1 inside {w}x{h}",
                self.face_box
            ));
        }
        let mut pts: Vec<(String, Pt)> = [
            ("eyes.left", self.eyes.left),
            ("eyes.right", self.eyes.right),
            ("mouth.upper", self.mouth.upper),
            ("mouth.lower", self.mouth.lower),
            ("mouth.left", self.mouth.left),
            ("mouth.right", self.mouth.right),
            ("nose", self.nose),
            ("chin", self.chin),
        ]
        .into_iter()
        .map(|(n, p)| (n.to_string(), p))
        .collect();
        if let Some(p) = self.mouth.upper_outer {
            pts.push(("mouth.upper_outer".into(), p));
        }
        if let Some(p) = self.mouth.lower_outer {
            pts.push(("mouth.lower_outer".into(), p));
        }
        if let Some(l) = &self.eyelids {
            for (side, e) in [("left", &l.left), ("right", &l.right)] {
                for (n, p) in [("outer", e.outer), ("inner", e.inner), ("upper", e.upper), ("lower", e.lower)] {
                    pts.push((format!("eyelids.{side}.{n}"), p));
                }
            }
        }
        if let Some(c) = &self.contours {
            for (name, line) in c.lines() {
                if line.len() < MIN_CONTOUR_POINTS {
                    return Err(format!(
                        "`contours.{name}` has {} points; expected at least {MIN_CONTOUR_POINTS}",
                        line.len()
                    ));
                }
                pts.extend(line.iter().enumerate().map(|(i, &p)| (format!("contours.{name}[{i}]"), p)));
            }
        }
        for (name, p) in &pts {
            if !(p.x.is_finite() && p.y.is_finite() && p.x >= 0.0 && p.y >= 0.0 && p.x <= w - 1.0 && p.y <= h - 1.0) {
                return Err(format!("`{name}` ({}, {}) lies outside the {w}x{h} image", p.x, p.y));
            }
        }
        let iod = self.iod();
        if iod < MIN_IOD {
            return Err(format!("the eyes are {iod:.1} px apart; the face is too small (at least {MIN_IOD} px)"));
        }
        if self.eyes.left.x >= self.eyes.right.x {
            return Err("`eyes.left` must be image-left of `eyes.right`".into());
        }
        let m = &self.mouth;
        let width = m.left.dist(m.right);
        if m.left.x >= m.right.x || width < 0.3 * iod {
            return Err(format!(
                "`mouth.left` must be image-left of `mouth.right` and the mouth at least 0.3 IOD wide (is {:.2} IOD)",
                width / iod
            ));
        }
        let n = self.mouth_normal();
        let c = (m.left + m.right) * 0.5;
        let v = |p: Pt| (p - c).dot(n);
        if v(m.lower) < v(m.upper) - 0.5 {
            return Err("`mouth.lower` must not be above `mouth.upper` (equal for a closed mouth)".into());
        }
        if v(self.upper_outer()) >= v(m.upper) || v(self.lower_outer()) <= v(m.lower) {
            return Err(
                "`mouth.upper_outer` must be above `mouth.upper` and `mouth.lower_outer` below `mouth.lower`".into()
            );
        }
        if v(self.nose) >= v(self.upper_outer()) {
            return Err("`nose` (base of the nose) must be above the upper lip".into());
        }
        if v(self.chin) <= v(self.lower_outer()) + 0.1 * iod {
            return Err("`chin` must be below the lower lip by at least 0.1 IOD".into());
        }
        if let Some(l) = &self.eyelids {
            for (side, e) in [("left", &l.left), ("right", &l.right)] {
                if e.lower.y < e.upper.y {
                    return Err(format!("`eyelids.{side}.lower` must not be above `eyelids.{side}.upper`"));
                }
                if e.outer.dist(e.inner) < 0.2 * iod {
                    return Err(format!("`eyelids.{side}`: the eye corners are closer than 0.2 IOD"));
                }
            }
        }
        Ok(())
    }

    /// The same landmarks in another image space: `p' = (p - origin) * scale`, image size `size`.
    pub fn mapped(&self, origin: Pt, scale: f32, size: (u32, u32)) -> Self {
        let f = |p: Pt| (p - origin) * scale;
        let fl = |e: Eyelids| Eyelids { outer: f(e.outer), inner: f(e.inner), upper: f(e.upper), lower: f(e.lower) };
        let [x0, y0, x1, y1] = self.face_box;
        let (a, b) = (f(Pt::new(x0, y0)), f(Pt::new(x1, y1)));
        Self {
            format: self.format.clone(),
            image_size: [size.0, size.1],
            face_box: [a.x, a.y, b.x, b.y],
            eyes: Eyes { left: f(self.eyes.left), right: f(self.eyes.right) },
            mouth: Mouth {
                upper: f(self.mouth.upper),
                lower: f(self.mouth.lower),
                left: f(self.mouth.left),
                right: f(self.mouth.right),
                upper_outer: Some(f(self.upper_outer())),
                lower_outer: Some(f(self.lower_outer())),
            },
            nose: f(self.nose),
            chin: f(self.chin),
            eyelids: self.eyelids.map(|l| EyelidPair { left: fl(l.left), right: fl(l.right) }),
            contours: self.contours.as_ref().map(|c| c.map(f)),
        }
    }
}

/// Colours of `portrait check` markers (documented in `jamflow portrait check --help`).
pub const CHECK_COLOURS: &str =
    "face box white, eyes cyan, mouth inner points red (upper/lower) and yellow (corners), \
outer lip edges magenta, nose blue, chin green, eyelids orange, contours (format 2) pink lips and pale green jaw";

/// Draw the landmarks over a zoomed copy of the face region (`side` x `side` pixels) for a person to verify.
pub fn draw_check(img: &RgbImage, lm: &Landmarks, side: u32) -> RgbImage {
    let [x0, y0, x1, y1] = lm.face_box;
    let half = 0.75 * (x1 - x0).max(y1 - y0);
    let c = Pt::new((x0 + x1) * 0.5, (y0 + y1) * 0.5);
    let origin = c - Pt::new(half, half);
    let scale = side as f32 / (2.0 * half);
    let mut out = RgbImage::new(side, side);
    let (w, h) = img.dimensions();
    for y in 0..side {
        for x in 0..side {
            let s = origin + Pt::new(x as f32, y as f32) * (1.0 / scale);
            out.put_pixel(x, y, Rgb(sample_bilinear(img.as_raw(), w, h, s.x, s.y)));
        }
    }
    let m = lm.mapped(origin, scale, (side, side));
    if let Some(c) = &m.contours {
        let (pink, pale) = (Rgb([255, 150, 200]), Rgb([150, 230, 150]));
        for (line_pts, col) in [
            (&c.lips_outer_upper, pink),
            (&c.lips_outer_lower, pink),
            (&c.lips_inner_upper, pink),
            (&c.lips_inner_lower, pink),
            (&c.jaw, pale),
        ] {
            for w in line_pts.windows(2) {
                line(&mut out, w[0], w[1], col);
            }
        }
    }
    let white = Rgb([255, 255, 255]);
    let [a, b, cc, d] = m.face_box;
    line(&mut out, Pt::new(a, b), Pt::new(cc, b), white);
    line(&mut out, Pt::new(cc, b), Pt::new(cc, d), white);
    line(&mut out, Pt::new(cc, d), Pt::new(a, d), white);
    line(&mut out, Pt::new(a, d), Pt::new(a, b), white);
    let (red, yellow, magenta) = (Rgb([255, 0, 0]), Rgb([255, 255, 0]), Rgb([255, 0, 255]));
    for p in [m.mouth.left, m.mouth.right] {
        line(&mut out, p, m.mouth.upper, red);
        line(&mut out, p, m.mouth.lower, red);
    }
    for (p, col) in [
        (m.eyes.left, Rgb([0, 255, 255])),
        (m.eyes.right, Rgb([0, 255, 255])),
        (m.mouth.upper, red),
        (m.mouth.lower, red),
        (m.mouth.left, yellow),
        (m.mouth.right, yellow),
        (m.upper_outer(), magenta),
        (m.lower_outer(), magenta),
        (m.nose, Rgb([40, 80, 255])),
        (m.chin, Rgb([0, 255, 0])),
    ] {
        cross(&mut out, p, col);
    }
    if let Some(l) = &m.eyelids {
        let orange = Rgb([255, 140, 0]);
        for e in [l.left, l.right] {
            for q in [e.upper, e.lower] {
                line(&mut out, e.outer, q, orange);
                line(&mut out, q, e.inner, orange);
            }
        }
    }
    out
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn line(img: &mut RgbImage, a: Pt, b: Pt, c: Rgb<u8>) {
    let n = (a.dist(b).ceil() as usize).max(1);
    for i in 0..=n {
        let p = a + (b - a) * (i as f32 / n as f32);
        put(img, p.x.round() as i64, p.y.round() as i64, c);
    }
}

fn cross(img: &mut RgbImage, p: Pt, c: Rgb<u8>) {
    let (x, y) = (p.x.round() as i64, p.y.round() as i64);
    for d in -4..=4 {
        put(img, x + d, y, c);
        put(img, x, y + d, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = include_str!("../../assets/portraits/astronaut.landmarks.json");

    fn line(y: f32) -> Vec<Pt> {
        (0..5).map(|i| Pt::new(205.0 + 9.0 * i as f32, y)).collect()
    }

    #[test]
    fn format_1_loads_and_format_2_contours_validate_and_map() {
        let v1: Landmarks = serde_json::from_str(V1).unwrap();
        assert_eq!(v1.format, FORMAT_V1);
        v1.validate((512, 512)).unwrap();
        let mut v2 = v1.clone();
        v2.format = FORMAT.into();
        v2.contours = Some(Contours {
            lips_outer_upper: line(139.0),
            lips_outer_lower: line(156.0),
            lips_inner_upper: line(144.0),
            lips_inner_lower: line(149.0),
            jaw: line(176.0),
        });
        v2.validate((512, 512)).unwrap();
        let m = v2.mapped(Pt::new(100.0, 50.0), 2.0, (1024, 1024));
        assert_eq!(m.contours.as_ref().unwrap().jaw[0], Pt::new(210.0, 252.0));
        let back: Landmarks = serde_json::from_str(&serde_json::to_string(&v2).unwrap()).unwrap();
        assert_eq!(back, v2);
        let mut short = v2.clone();
        short.contours.as_mut().unwrap().jaw.truncate(2);
        assert!(short.validate((512, 512)).unwrap_err().contains("contours.jaw"));
        let mut outside = v2.clone();
        outside.contours.as_mut().unwrap().lips_inner_lower[1] = Pt::new(600.0, 1.0);
        assert!(outside.validate((512, 512)).unwrap_err().contains("contours.lips_inner_lower[1]"));
        let mut old = v2;
        old.format = FORMAT_V1.into();
        assert!(old.validate((512, 512)).unwrap_err().contains("contours"));
    }
}

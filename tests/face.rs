//! Automatic landmarks (`jamflow portrait prepare`, src/render/face): the astronaut's automatic landmarks agree
//! with the hand-made file; landmarks follow synthetic transforms of the photo (rotation, scale, crop, flip,
//! grayscale, JPEG/WebP, EXIF orientation, a small face in a 1080p frame, a photo over the working size); a real
//! six-person photo from the PyPI insightface sdist (.face/photos/) finds every face; no face / tiny face / several faces /
//! unreadable files give clear messages; the command writes a loadable file; the renderer prepares a missing
//! file itself, and a render of a prepared portrait changes only around the mouth and eyes.
//!
//! Needs the face models of scripts/setup.sh (.face/) and ONNX Runtime (.ort/).

mod common;

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use jamflow::render::face::{FaceError, FaceModels};
use jamflow::render::landmarks::{Landmarks, FORMAT};
use jamflow::render::mesh::{MeshWarpOptions, MeshWarpRenderer, OutputMode};
use jamflow::render::warp::{sample_bilinear, Pt};
use jamflow::render::{load_portrait, Renderer};

/// Largest allowed deviation of a transformed photo's landmarks from the transformed original ones (IOD units).
const FOLLOW_TOL: f32 = 0.05;

fn astronaut() -> PathBuf {
    common::root().join("assets/portraits/astronaut.png")
}

fn models() -> FaceModels {
    FaceModels::open(None).expect("face models: run scripts/setup.sh")
}

/// The points the targets name: eyes, mouth corners, inner lips, nose base, chin.
fn key_points(lm: &Landmarks) -> Vec<(&'static str, Pt)> {
    vec![
        ("eyes.left", lm.eyes.left),
        ("eyes.right", lm.eyes.right),
        ("mouth.left", lm.mouth.left),
        ("mouth.right", lm.mouth.right),
        ("mouth.upper", lm.mouth.upper),
        ("mouth.lower", lm.mouth.lower),
        ("nose", lm.nose),
        ("chin", lm.chin),
    ]
}

/// Per-point errors (IOD units of `want`) of `got` against `want`. The chin counts by its height along the
/// face's vertical only: its place along a flat chin line is arbitrary, and the renderer uses only its height.
fn errors(got: &Landmarks, want: &Landmarks) -> Vec<(&'static str, f32)> {
    let iod = want.iod();
    let n = want.mouth_normal();
    key_points(got)
        .into_iter()
        .zip(key_points(want))
        .map(|((name, g), (_, w))| (name, if name == "chin" { (g - w).dot(n).abs() } else { g.dist(w) } / iod))
        .collect()
}

fn prepare(m: &mut FaceModels, img: &RgbImage) -> Landmarks {
    m.prepare(img, None).expect("a face").face.landmarks
}

/// `img` warped by `f` (output pixel -> source point) into a `w` x `h` grey canvas.
fn warp(img: &RgbImage, w: u32, h: u32, f: impl Fn(Pt) -> Pt) -> RgbImage {
    let (iw, ih) = img.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let s = f(Pt::new(x as f32, y as f32));
        if s.x < -0.5 || s.y < -0.5 || s.x > iw as f32 - 0.5 || s.y > ih as f32 - 0.5 {
            Rgb([110, 110, 110])
        } else {
            Rgb(sample_bilinear(img.as_raw(), iw, ih, s.x, s.y))
        }
    })
}

/// Landmarks moved by `g` (source point -> output point); `flip` swaps image-left and image-right.
fn moved(lm: &Landmarks, g: impl Fn(Pt) -> Pt, flip: bool) -> Landmarks {
    let mut o = lm.clone();
    o.eyes.left = g(lm.eyes.left);
    o.eyes.right = g(lm.eyes.right);
    o.mouth.left = g(lm.mouth.left);
    o.mouth.right = g(lm.mouth.right);
    o.mouth.upper = g(lm.mouth.upper);
    o.mouth.lower = g(lm.mouth.lower);
    o.nose = g(lm.nose);
    o.chin = g(lm.chin);
    if flip {
        std::mem::swap(&mut o.eyes.left, &mut o.eyes.right);
        std::mem::swap(&mut o.mouth.left, &mut o.mouth.right);
    }
    o
}

fn assert_follows(name: &str, got: &Landmarks, want: &Landmarks) {
    let e = errors(got, want);
    let worst = e.iter().copied().fold(("", 0.0f32), |a, b| if b.1 > a.1 { b } else { a });
    println!("{name}: worst {} {:.3} IOD", worst.0, worst.1);
    assert!(worst.1 <= FOLLOW_TOL, "{name}: {} off by {:.3} IOD (> {FOLLOW_TOL}); all: {e:?}", worst.0, worst.1);
}

#[test]
fn the_astronauts_automatic_landmarks_match_the_hand_made_file() {
    let img = load_portrait(&astronaut()).unwrap();
    let hand = Landmarks::load(&common::root().join("assets/portraits/astronaut.landmarks.json"), (512, 512)).unwrap();
    let p = models().prepare(&img, None).unwrap();
    assert_eq!(p.faces.len(), 1, "{:?}", p.faces);
    let lm = &p.face.landmarks;
    assert_eq!(lm.format, FORMAT);
    lm.validate((512, 512)).unwrap();
    let e = errors(lm, &hand);
    let mean = e.iter().map(|x| x.1).sum::<f32>() / e.len() as f32;
    println!("astronaut vs hand-made (IOD): mean {mean:.3}, {e:?}");
    for (n, v) in &e {
        // The hand-made `mouth.upper` sits on the upper teeth's edge, 2.7 px below the lip edge the file format
        // asks for (and the face mesh finds): allowed 0.07.
        let tol = if *n == "mouth.upper" { 0.07 } else { 0.05 };
        assert!(*v <= tol, "{n} is {v:.3} IOD from the hand-made point (> {tol})");
    }
    assert!(mean <= 0.05, "mean {mean}");
    let c = lm.contours.as_ref().expect("dense contours");
    assert_eq!(c.lips_inner_upper.len(), 11);
    assert!(c.jaw.iter().any(|p| p.dist(lm.chin) < 1.0));
}

#[test]
fn landmarks_follow_rotation_scale_crop_flip_and_grayscale() {
    let mut m = models();
    let img = load_portrait(&astronaut()).unwrap();
    let base = prepare(&mut m, &img);
    let c = (base.eyes.left + base.eyes.right) * 0.5;
    for deg in [-25.0f32, -10.0, 12.0, 25.0] {
        let (s, co) = deg.to_radians().sin_cos();
        let rot = |p: Pt, sign: f32| {
            let d = p - c;
            c + Pt::new(co * d.x - sign * s * d.y, sign * s * d.x + co * d.y)
        };
        let out = warp(&img, 512, 512, |p| rot(p, -1.0));
        assert_follows(&format!("rotated {deg} deg"), &prepare(&mut m, &out), &moved(&base, |p| rot(p, 1.0), false));
    }
    for k in [0.5f32, 1.8] {
        let n = (512.0 * k) as u32;
        let out = image::imageops::resize(&img, n, n, image::imageops::FilterType::Triangle);
        let g = |p: Pt| (p + Pt::new(0.5, 0.5)) * k - Pt::new(0.5, 0.5);
        assert_follows(&format!("scaled {k}"), &prepare(&mut m, &out), &moved(&base, g, false));
    }
    // Full frame: a tight crop around the face, enlarged to 900 x 900 (the face fills the photo).
    let (x0, y0, side) = (160u32, 50u32, 130u32);
    let tight = image::imageops::crop_imm(&img, x0, y0, side, side).to_image();
    let out = image::imageops::resize(&tight, 900, 900, image::imageops::FilterType::Triangle);
    let k = 900.0 / side as f32;
    let g = |p: Pt| (p - Pt::new(x0 as f32, y0 as f32) + Pt::new(0.5, 0.5)) * k - Pt::new(0.5, 0.5);
    assert_follows("full frame", &prepare(&mut m, &out), &moved(&base, g, false));
    // Off-centre crop: the face near the crop's left edge.
    let out = image::imageops::crop_imm(&img, 150, 40, 300, 260).to_image();
    let g = |p: Pt| p - Pt::new(150.0, 40.0);
    assert_follows("cropped", &prepare(&mut m, &out), &moved(&base, g, false));
    let out = image::imageops::flip_horizontal(&img);
    let g = |p: Pt| Pt::new(511.0 - p.x, p.y);
    assert_follows("flipped", &prepare(&mut m, &out), &moved(&base, g, true));
    let out = image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(img.clone()).to_luma8()).to_rgb8();
    assert_follows("grayscale", &prepare(&mut m, &out), &base);
    // A ~90 px face off-centre in a 1080p frame.
    let mut frame = RgbImage::from_pixel(1920, 1080, Rgb([90, 100, 110]));
    image::imageops::overlay(&mut frame, &img, 1300, 420);
    let g = |p: Pt| p + Pt::new(1300.0, 420.0);
    assert_follows("small face in 1080p", &prepare(&mut m, &frame), &moved(&base, g, false));
}

/// A baseline JPEG with an EXIF APP1 segment holding only the orientation tag.
fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 95).encode_image(img).unwrap();
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec(); // big-endian TIFF, IFD at 8, 1 entry
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]); // tag 0x0112 SHORT x1
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // value padding, no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpg[2..]);
    out
}

#[test]
fn jpeg_webp_and_exif_orientation_load_upright_with_the_same_landmarks() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = models();
    let img = image::imageops::crop_imm(&load_portrait(&astronaut()).unwrap(), 60, 0, 400, 512).to_image();
    let base = prepare(&mut m, &img);
    let webp = dir.path().join("a.webp");
    img.save(&webp).unwrap();
    let jpg = dir.path().join("a.jpg");
    img.save(&jpg).unwrap();
    // Stored turned 90 degrees counter-clockwise, EXIF orientation 6 ("rotate 90 CW to display").
    let exif = dir.path().join("exif.jpg");
    std::fs::write(&exif, jpeg_with_orientation(&image::imageops::rotate270(&img), 6)).unwrap();
    for p in [&webp, &jpg, &exif] {
        let l = load_portrait(p).unwrap();
        assert_eq!(l.dimensions(), (400, 512), "{}", p.display());
        assert_follows(&p.display().to_string(), &prepare(&mut m, &l), &base);
    }
}

#[test]
fn no_face_tiny_face_several_faces_and_unreadable_files_are_clear() {
    let mut m = models();
    let img = load_portrait(&astronaut()).unwrap();
    let blank = RgbImage::from_pixel(640, 480, Rgb([200, 180, 160]));
    let e = m.prepare(&blank, None).unwrap_err();
    assert!(matches!(e, FaceError::NoFace) && e.to_string().contains("no face"), "{e}");
    let tiny = image::imageops::resize(&img, 96, 96, image::imageops::FilterType::Triangle);
    let e = m.prepare(&tiny, None).unwrap_err().to_string();
    assert!(e.contains("no face") || e.contains("px wide"), "{e}");
    // Two faces: the larger is face 1 and the default; --face 2 is the other; --face 3 does not exist.
    let mut two = RgbImage::from_pixel(900, 512, Rgb([90, 100, 110]));
    image::imageops::overlay(&mut two, &img, 0, 0);
    let small = image::imageops::resize(&img, 320, 320, image::imageops::FilterType::Triangle);
    image::imageops::overlay(&mut two, &small, 560, 100);
    let p = m.prepare(&two, None).unwrap();
    assert_eq!(p.faces.len(), 2, "{:?}", p.faces);
    assert!(p.face.landmarks.eyes.left.x < 400.0);
    let p2 = m.prepare(&two, Some(2)).unwrap();
    assert!(p2.face.landmarks.eyes.left.x > 560.0);
    let e = m.prepare(&two, Some(3)).unwrap_err().to_string();
    assert!(e.contains("2 face"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("photo.jpg");
    std::fs::write(&bad, b"\xFF\xD8\xFF\xE0 truncated").unwrap();
    let e = common::jamflow_err(&["portrait", "prepare", common::s(&bad)]);
    assert!(e.contains("photo.jpg"), "{e}");
    let e = common::jamflow_err(&["portrait", "prepare", common::s(&dir.path().join("missing.png"))]);
    assert!(e.contains("missing.png"), "{e}");
}

fn copy_astronaut(dir: &Path) -> PathBuf {
    let p = dir.join("receptionist.png");
    std::fs::copy(astronaut(), &p).unwrap();
    p
}

#[test]
fn prepare_command_writes_a_loadable_file_and_a_check_image_and_keeps_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    let img = copy_astronaut(dir.path());
    let check = dir.path().join("check.png");
    let out = common::jamflow_ok(&["portrait", "prepare", common::s(&img), "--check", common::s(&check)]);
    let lm_path = dir.path().join("receptionist.landmarks.json");
    assert!(out.contains("receptionist.landmarks.json"), "{out}");
    let lm = Landmarks::load(&lm_path, (512, 512)).unwrap();
    assert!(lm.contours.is_some() && lm.eyelids.is_some());
    assert_eq!(image::open(&check).unwrap().to_rgb8().dimensions(), (768, 768));
    let e = common::jamflow_err(&["portrait", "prepare", common::s(&img)]);
    assert!(e.contains("--force"), "{e}");
    common::jamflow_ok(&["portrait", "prepare", common::s(&img), "--force", "--face", "1"]);
    common::jamflow_ok(&["portrait", "check", common::s(&img), "--out", common::s(&check)]);
}

#[test]
fn a_missing_landmark_file_is_prepared_and_the_render_changes_only_mouth_and_eyes() {
    let dir = tempfile::tempdir().unwrap();
    let img_path = copy_astronaut(dir.path());
    let opts = MeshWarpOptions { output: OutputMode::Full, idle: None };
    let mut r = MeshWarpRenderer::open(&img_path, None, &opts).unwrap();
    let lm = Landmarks::load(&dir.path().join("receptionist.landmarks.json"), (512, 512)).expect("written");
    let still = r.reference().clone();
    let open = [0.0, -0.02, 0.0, 0.0, 0.3, 0.0, -0.05, 0.0, 0.0, 0.05, 0.0, 0.0];
    let f = r.render(&open, 0).unwrap();
    let iod = lm.iod();
    let mouth = (lm.mouth.left + lm.mouth.right) * 0.5;
    let mut changed = 0;
    for (x, y, p) in f.enumerate_pixels() {
        let d = (0..3).map(|c| (p[c] as i32 - still.get_pixel(x, y)[c] as i32).abs()).max().unwrap();
        if d > 6 {
            changed += 1;
            let q = Pt::new(x as f32, y as f32);
            let near =
                q.dist(mouth) < 1.6 * iod || q.dist(lm.eyes.left) < 0.6 * iod || q.dist(lm.eyes.right) < 0.6 * iod;
            assert!(near, "pixel ({x}, {y}) changed by {d}, far from the mouth and eyes");
        }
    }
    assert!(changed > 100, "the open mouth changed only {changed} pixels");
}

#[test]
fn jamflowd_prepares_a_portrait_without_a_landmark_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = jamflow::daemon::config::Config::default();
    cfg.portrait.image = Some(copy_astronaut(dir.path()));
    let r = jamflow::daemon::renderer(&cfg).unwrap();
    assert_eq!(r.frame_size(), (cfg.portrait.width, cfg.portrait.width));
    Landmarks::load(&dir.path().join("receptionist.landmarks.json"), (512, 512)).expect("written beside the image");
}

/// A low-resolution "group photo": four copies of the astronaut at different sizes (face boxes ~50-90 px) and
/// rotations in a 1280x720 frame, JPEG quality 60. Ground truth: the hand-made landmarks moved along.
#[test]
fn a_low_resolution_group_photo_meets_the_accuracy_target_for_every_face() {
    let img = load_portrait(&astronaut()).unwrap();
    let hand = Landmarks::load(&common::root().join("assets/portraits/astronaut.landmarks.json"), (512, 512)).unwrap();
    let c0 = (hand.eyes.left + hand.eyes.right) * 0.5;
    // (centre in the frame, scale, roll degrees)
    let faces = [
        (Pt::new(220.0, 300.0), 1.0f32, 0.0f32),
        (Pt::new(560.0, 260.0), 0.8, 12.0),
        (Pt::new(860.0, 330.0), 0.6, -15.0),
        (Pt::new(1100.0, 280.0), 0.7, 5.0),
    ];
    let place = |p: Pt, (c, s, deg): (Pt, f32, f32), inverse: bool| {
        let (sn, co) = deg.to_radians().sin_cos();
        if inverse {
            let d = (p - c) * (1.0 / s);
            c0 + Pt::new(co * d.x + sn * d.y, -sn * d.x + co * d.y)
        } else {
            let d = p - c0;
            c + Pt::new(co * d.x - sn * d.y, sn * d.x + co * d.y) * s
        }
    };
    let frame = warp(&img, 1280, 720, |p| {
        for f in faces {
            if (p - f.0).norm() < 150.0 * f.1 {
                return place(p, f, true);
            }
        }
        Pt::new(-10.0, -10.0)
    });
    let mut jpg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 60).encode_image(&frame).unwrap();
    let frame = image::load_from_memory(&jpg).unwrap().to_rgb8();
    let mut m = models();
    let found = m.prepare(&frame, None).unwrap().faces;
    assert_eq!(found.len(), 4, "faces found: {:?}", found.iter().map(|d| (d.score, d.bbox)).collect::<Vec<_>>());
    let mut all = Vec::new();
    for k in 1..=4 {
        let lm = m.prepare(&frame, Some(k)).unwrap().face.landmarks;
        let f = *faces.iter().min_by(|a, b| a.0.dist(lm.eyes.left).total_cmp(&b.0.dist(lm.eyes.left))).unwrap();
        let want = moved(&hand, |p| place(p, f, false), false);
        let e = errors(&lm, &want);
        println!("face {k} (scale {}, roll {} deg, IOD {:.0} px): {e:?}", f.1, f.2, want.iod());
        all.extend(e.into_iter().map(|x| x.1));
    }
    let mean = all.iter().sum::<f32>() / all.len() as f32;
    println!("group photo: mean error {mean:.3} IOD over {} points", all.len());
    assert!(mean <= 0.08, "mean error {mean:.3} IOD > 0.08");
}

#[test]
fn a_huge_photo_is_downscaled_to_work_on_and_its_landmark_file_stays_in_the_photos_pixels() {
    let dir = tempfile::tempdir().unwrap();
    // The astronaut 4x (2048 px) far off-centre in a 9000 px wide photo (over the 8192 working side).
    let face = image::imageops::resize(&load_portrait(&astronaut()).unwrap(), 2048, 2048, image::imageops::Triangle);
    let (ox, oy) = (6500.0, 100.0);
    let mut canvas = RgbImage::from_pixel(9000, 2300, Rgb([120, 120, 120]));
    image::imageops::overlay(&mut canvas, &face, ox as i64, oy as i64);
    let path = dir.path().join("wide.png");
    canvas.save(&path).unwrap();
    common::jamflow_ok(&["portrait", "prepare", common::s(&path)]);
    let stored = Landmarks::load(&dir.path().join("wide.landmarks.json"), (9000, 2300)).expect("photo pixels");
    let base = prepare(&mut models(), &face);
    assert_follows("9000x2300 photo", &stored, &moved(&base, |p| p + Pt::new(ox, oy), false));
    // The renderer reads the same file against the downscaled working image.
    let opts = MeshWarpOptions { output: OutputMode::Crop { size: 256 }, idle: None };
    let mut r = MeshWarpRenderer::open(&path, None, &opts).unwrap();
    assert_eq!(r.render(&[0.0; 12], 0).unwrap().dimensions(), (256, 256));
}

/// A photo of real people from the PyPI insightface sdist (scripts/setup.sh --dev puts it in .face/photos/).
fn real_photo(name: &str) -> PathBuf {
    let p = common::root().join(".face/photos").join(name);
    assert!(p.exists(), "{}: run scripts/setup.sh --dev", p.display());
    p
}

#[test]
fn a_real_group_photo_finds_every_face_and_skips_a_turned_head_by_default() {
    let mut m = models();
    let img = load_portrait(&real_photo("t1.jpg")).unwrap();
    let p = m.prepare(&img, None).unwrap();
    assert_eq!(p.faces.len(), 6, "six people: {:?}", p.faces);
    // The largest face is turned away (its fit fails the width check, and says how to pick another); the default
    // falls back to the next largest that passes.
    let e = m.prepare(&img, Some(1)).unwrap_err().to_string();
    assert!(e.contains("face 1") && e.contains("--face N"), "{e}");
    assert_eq!(p.face.index, 2);
    for i in 2..=6 {
        let f = m.prepare(&img, Some(i)).unwrap().face;
        let lm = &f.landmarks;
        // Eyes above the mouth, the nose between, the chin below, in each face's own rotated frame.
        let (eyes, mouth) = ((lm.eyes.left + lm.eyes.right) * 0.5, (lm.mouth.left + lm.mouth.right) * 0.5);
        let down = lm.mouth_normal();
        let along = |q: Pt| (q - eyes).x * down.x + (q - eyes).y * down.y;
        let iod = lm.iod();
        assert!(iod > 25.0, "face {i}: {iod} px between the eyes");
        assert!(along(lm.nose) > 0.3 * iod && along(lm.nose) < along(mouth), "face {i}: nose");
        assert!(along(lm.chin) > along(mouth) + 0.3 * iod, "face {i}: chin");
    }
    // A 112x112 crop of one face works too.
    let small = load_portrait(&real_photo("Tom_Hanks_54745.png")).unwrap();
    assert!(m.prepare(&small, None).unwrap().face.landmarks.iod() > 25.0);
}

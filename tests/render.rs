//! The CPU mesh-warp renderer (`mouth4-2d`): zero motion is the portrait, an opening darkens the mouth and
//! nothing far away, widening corners widen the mouth, out-of-range motion is clamped, bad portraits give a
//! clear error, blinks close the eyes, and the `render` / `portrait check` commands write what they promise.

mod common;

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use jamflow::model::config::MotionLayout;
use jamflow::render::idle::{Idle, IdleOptions};
use jamflow::render::landmarks::{Landmarks, Mouth};
use jamflow::render::mesh::{MeshWarpOptions, MeshWarpRenderer, OutputMode, CLAMP};
use jamflow::render::warp::Pt;
use jamflow::render::{check_layout, load_portrait, RenderError, Renderer};
use jamflow::runtime::tensors::write_safetensors;
use jamflow::runtime::{HostTensor, NamedTensors};
use jamflow::sampler::names;

fn astronaut() -> PathBuf {
    common::root().join("assets/portraits/astronaut.png")
}

fn astronaut_landmarks() -> Landmarks {
    Landmarks::load(&common::root().join("assets/portraits/astronaut.landmarks.json"), (512, 512)).unwrap()
}

fn crop() -> MeshWarpOptions {
    MeshWarpOptions { output: OutputMode::Crop { size: 512 }, idle: None }
}

fn max_diff(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

/// One mouth4-2d frame from per-point (x, y, z).
fn frame(points: [[f32; 3]; 4]) -> Vec<f32> {
    points.iter().flatten().copied().collect()
}

fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
}

/// A drawn face (flat skin, dark eyes, red lips around a thin dark closed-mouth line) with its landmarks.
fn synthetic_face(size: u32) -> (RgbImage, Landmarks) {
    let s = size as f32 / 256.0;
    let mut img = RgbImage::from_pixel(size, size, Rgb([90, 110, 140]));
    let inside_ellipse =
        |x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32| ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2) <= 1.0;
    for y in 0..size {
        for x in 0..size {
            let (fx, fy) = (x as f32 / s, y as f32 / s);
            let mut c = [90u8, 110, 140];
            if inside_ellipse(fx, fy, 128.0, 120.0, 70.0, 95.0) {
                c = [222, 184, 160];
            }
            for ex in [100.0, 156.0] {
                if inside_ellipse(fx, fy, ex, 100.0, 12.0, 6.0) {
                    c = [245, 245, 245];
                }
                if inside_ellipse(fx, fy, ex, 100.0, 5.0, 5.0) {
                    c = [40, 30, 25];
                }
            }
            if inside_ellipse(fx, fy, 128.0, 162.0, 26.0, 9.0) {
                c = [185, 70, 75];
            }
            if inside_ellipse(fx, fy, 128.0, 162.0, 24.0, 1.2) {
                c = [70, 25, 30];
            }
            img.put_pixel(x, y, Rgb(c));
        }
    }
    let p = |x: f32, y: f32| Pt::new(x * s, y * s);
    let lm = Landmarks {
        format: jamflow::render::landmarks::FORMAT.into(),
        image_size: [size, size],
        face_box: [58.0 * s, 40.0 * s, 198.0 * s, 212.0 * s],
        eyes: jamflow::render::landmarks::Eyes { left: p(100.0, 100.0), right: p(156.0, 100.0) },
        mouth: Mouth {
            upper: p(128.0, 161.5),
            lower: p(128.0, 162.5),
            left: p(103.0, 162.0),
            right: p(153.0, 162.0),
            upper_outer: Some(p(128.0, 153.0)),
            lower_outer: Some(p(128.0, 171.0)),
        },
        nose: p(128.0, 140.0),
        chin: p(128.0, 212.0),
        eyelids: Some(jamflow::render::landmarks::EyelidPair {
            left: jamflow::render::landmarks::Eyelids {
                outer: p(88.0, 100.0),
                inner: p(112.0, 100.0),
                upper: p(100.0, 94.0),
                lower: p(100.0, 106.0),
            },
            right: jamflow::render::landmarks::Eyelids {
                inner: p(144.0, 100.0),
                outer: p(168.0, 100.0),
                upper: p(156.0, 94.0),
                lower: p(156.0, 106.0),
            },
        }),
        contours: None,
    };
    (img, lm)
}

#[test]
fn zero_motion_returns_the_portrait_within_one_lsb() {
    let portrait = load_portrait(&astronaut()).unwrap();
    let full = MeshWarpOptions { output: OutputMode::Full, idle: None };
    let mut r = MeshWarpRenderer::new(&portrait, &astronaut_landmarks(), &full).unwrap();
    let out = r.render(&[0.0; 12], 0).unwrap();
    assert!(max_diff(&out, &portrait) <= 1, "full portrait differs by {}", max_diff(&out, &portrait));
    // Face-crop output: zero motion gives the (cached) crop of the portrait back.
    let mut r = MeshWarpRenderer::new(&portrait, &astronaut_landmarks(), &crop()).unwrap();
    let out = r.render(&[0.0; 12], 0).unwrap();
    assert_eq!(out.dimensions(), (512, 512));
    assert!(max_diff(&out, r.reference()) <= 1);
    // The synthetic face too (closed mouth: a degenerate opening).
    let (img, lm) = synthetic_face(256);
    let mut r = MeshWarpRenderer::new(&img, &lm, &full).unwrap();
    assert!(max_diff(&r.render(&[0.0; 12], 0).unwrap(), &img) <= 1);
}

#[test]
fn an_opening_darkens_the_mouth_and_leaves_far_pixels_unchanged() {
    for (name, img, lm) in [
        ("astronaut", load_portrait(&astronaut()).unwrap(), astronaut_landmarks()),
        ("synthetic", synthetic_face(256).0, synthetic_face(256).1),
    ] {
        let full = MeshWarpOptions { output: OutputMode::Full, idle: None };
        let mut r = MeshWarpRenderer::new(&img, &lm, &full).unwrap();
        let open = r.render(&frame([[0.0; 3], [0.0, 0.3, 0.0], [0.0; 3], [0.0; 3]]), 0).unwrap();
        assert_eq!(r.last_motion_scale(), 1.0, "{name}: a plain opening must not be scaled down");
        let m = &lm.mouth;
        let iod = lm.iod();
        // Mouth region: between the corners, from the upper inner lip to 0.25 IOD below the lower inner lip.
        let (x0, x1) =
            ((m.left.x + 0.25 * (m.right.x - m.left.x)) as u32, (m.right.x - 0.25 * (m.right.x - m.left.x)) as u32);
        let (y0, y1) = (m.upper.y as u32 + 1, (m.lower.y + 0.25 * iod) as u32);
        let mean = |im: &RgbImage| {
            let mut s = 0.0;
            let mut n = 0.0;
            for y in y0..=y1 {
                for x in x0..=x1 {
                    s += luma(im.get_pixel(x, y));
                    n += 1.0;
                }
            }
            s / n
        };
        let (before, after) = (mean(&img), mean(&open));
        assert!(after < before - 40.0, "{name}: mouth region luma {before:.1} -> {after:.1}, expected much darker");
        // Far from the mouth (beyond the fixed outer ring, > 1.6 IOD from the mouth centre): untouched.
        let c = (m.left + m.right) * 0.5;
        let mut far = 0;
        for (x, y, p) in open.enumerate_pixels() {
            if Pt::new(x as f32, y as f32).dist(c) > 1.6 * iod {
                assert_eq!(p, img.get_pixel(x, y), "{name}: pixel ({x}, {y}) far from the mouth changed");
                far += 1;
            }
        }
        assert!(far > 1000);
    }
}

/// Horizontal extent of lip-red pixels on the mouth's row band of the synthetic face.
fn lip_width(img: &RgbImage, y0: u32, y1: u32) -> u32 {
    let mut xs = Vec::new();
    for y in y0..=y1 {
        for x in 0..img.width() {
            let p = img.get_pixel(x, y);
            if p[0] as i32 - p[1] as i32 > 80 {
                xs.push(x);
            }
        }
    }
    xs.iter().max().unwrap() - xs.iter().min().unwrap()
}

#[test]
fn corner_displacement_widens_the_mouth() {
    let (img, lm) = synthetic_face(256);
    let mut r = MeshWarpRenderer::new(&img, &lm, &MeshWarpOptions { output: OutputMode::Full, idle: None }).unwrap();
    let wide = r.render(&frame([[0.0; 3], [0.0; 3], [-0.15, 0.0, 0.0], [0.15, 0.0, 0.0]]), 0).unwrap();
    assert_eq!(r.last_motion_scale(), 1.0);
    let band = (lm.mouth.left.y as u32 - 3, lm.mouth.left.y as u32 + 3);
    let (w0, w1) = (lip_width(&img, band.0, band.1), lip_width(&wide, band.0, band.1));
    let expect = 0.3 * lm.iod();
    assert!(w1 as f32 >= w0 as f32 + 0.7 * expect, "mouth width {w0} -> {w1} px; expected about +{expect:.0} px");
    // Narrowing works the other way.
    let narrow = r.render(&frame([[0.0; 3], [0.0; 3], [0.15, 0.0, 0.0], [-0.15, 0.0, 0.0]]), 0).unwrap();
    assert!(lip_width(&narrow, band.0, band.1) < w0);
    // Protrusion (z) of the corners pulls them in as well.
    let pucker = r.render(&frame([[0.0; 3], [0.0; 3], [0.0, 0.0, 0.5], [0.0, 0.0, 0.5]]), 0).unwrap();
    assert!(lip_width(&pucker, band.0, band.1) < w0);
}

#[test]
fn out_of_range_motion_is_clamped_never_a_crash() {
    let portrait = load_portrait(&astronaut()).unwrap();
    let mut r = MeshWarpRenderer::new(&portrait, &astronaut_landmarks(), &crop()).unwrap();
    // Huge values render exactly like the clamp bounds.
    let hi: Vec<f32> = CLAMP.iter().flat_map(|p| p.iter().map(|r| r.1)).collect();
    let at_bound = r.render(&hi, 0).unwrap();
    let huge = r.render(&hi.iter().map(|v| v.signum() * 1e9).collect::<Vec<_>>(), 0).unwrap();
    assert_eq!(at_bound, huge);
    // Non-finite values count as zero.
    let nan = r.render(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0);
    assert!(max_diff(&nan.unwrap(), r.reference()) <= 1);
    // Random extreme frames: always a frame (the mesh is scaled down rather than folded).
    let mut state = 12345u64;
    for _ in 0..200 {
        let m: Vec<f32> = (0..12)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
            })
            .collect();
        let f = r.render(&m, 0).unwrap();
        assert_eq!(f.dimensions(), (512, 512));
        assert!((0.0..=1.0).contains(&r.last_motion_scale()));
    }
    // A frame of the wrong length is an error, not a panic.
    assert!(matches!(r.render(&[0.0; 5], 0), Err(RenderError::Frame { expected: 12, got: 5, .. })));
}

fn write_png(dir: &Path, name: &str, img: &RgbImage) -> PathBuf {
    let p = dir.join(name);
    img.save(&p).unwrap();
    p
}

#[test]
fn grayscale_tiny_huge_and_non_image_portraits_give_a_result_or_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let portrait = load_portrait(&astronaut()).unwrap();
    let lm = astronaut_landmarks();
    // Grayscale: loads as RGB, renders, zero motion is the grey portrait.
    let gray = image::DynamicImage::ImageRgb8(portrait.clone()).to_luma8();
    let gp = dir.path().join("gray.png");
    gray.save(&gp).unwrap();
    let g = load_portrait(&gp).unwrap();
    assert_eq!(g.get_pixel(223, 146)[0], g.get_pixel(223, 146)[1]);
    let mut r = MeshWarpRenderer::new(&g, &lm, &MeshWarpOptions { output: OutputMode::Full, idle: None }).unwrap();
    assert!(max_diff(&r.render(&[0.0; 12], 0).unwrap(), &g) <= 1);
    assert!(r.render(&frame([[0.0; 3], [0.0, 0.3, 0.0], [0.0; 3], [0.0; 3]]), 0).is_ok());
    // Tiny: the same face at 40x40 is too small, and says so.
    let tiny = image::imageops::resize(&portrait, 40, 40, image::imageops::FilterType::Triangle);
    let tlm = lm.mapped(Pt::new(0.0, 0.0), 40.0 / 512.0, (40, 40));
    let e = MeshWarpRenderer::new(&tiny, &tlm, &crop()).err().expect("tiny face must be refused").to_string();
    assert!(e.contains("too small"), "{e}");
    // A small portrait with a big enough face works (crop upsampled to 512).
    let small = image::imageops::resize(&portrait, 128, 128, image::imageops::FilterType::Triangle);
    let slm = lm.mapped(Pt::new(0.0, 0.0), 0.25, (128, 128));
    let mut r = MeshWarpRenderer::new(&small, &slm, &crop()).unwrap();
    assert_eq!(r.render(&[0.0; 12], 0).unwrap().dimensions(), (512, 512));
    // Huge: downscaled to the working side, the photo's own size kept for its landmark file.
    let big = write_png(dir.path(), "big.png", &RgbImage::new(9000, 900));
    let p = jamflow::render::open_portrait(&big).unwrap();
    assert_eq!((p.image.dimensions(), p.original), ((8192, 819), (9000, 900)));
    // Beyond what is decoded at all: refused before decoding, with the size in the message.
    let huge = write_png(dir.path(), "huge.png", &RgbImage::new(40000, 2));
    let e = load_portrait(&huge).unwrap_err().to_string();
    assert!(e.contains("too large") && e.contains("40000x2"), "{e}");
    // Not an image.
    let txt = dir.path().join("notes.png");
    std::fs::write(&txt, "this is not a picture").unwrap();
    let e = load_portrait(&txt).unwrap_err().to_string();
    assert!(e.contains("notes.png") && e.contains("image"), "{e}");
    // Landmarks of another image size are named as such.
    let e = MeshWarpRenderer::new(&small, &lm, &crop()).err().unwrap().to_string();
    assert!(e.contains("image_size"), "{e}");
    // A landmark outside the image names the field.
    let mut bad = lm.clone();
    bad.chin = Pt::new(224.0, 600.0);
    let e = MeshWarpRenderer::new(&portrait, &bad, &crop()).err().unwrap().to_string();
    assert!(e.contains("chin"), "{e}");
}

#[test]
fn a_layout_mismatch_is_a_clear_start_up_error() {
    let r = MeshWarpRenderer::open(&astronaut(), None, &crop()).unwrap();
    assert!(check_layout(&r, &MotionLayout::Mouth4_2d).is_ok());
    let e = check_layout(&r, &MotionLayout::LiveportraitMouth4 { keypoints: [6, 12, 14, 17] }).unwrap_err().to_string();
    assert!(e.contains("liveportrait-mouth4") && e.contains("mouth4-2d") && e.contains("mesh-warp"), "{e}");
}

#[test]
fn a_blink_closes_the_eyes_and_head_motion_moves_the_face() {
    let idle = IdleOptions { blink: true, head: false, seed: 1 };
    let mut probe = Idle::new(idle.clone());
    let closed = (0..500u64).find(|&i| probe.state(i).blink >= 0.99).expect("a full blink within 20 s");
    let mut r = MeshWarpRenderer::open(&astronaut(), None, &MeshWarpOptions { idle: Some(idle), ..crop() }).unwrap();
    let shut = r.render(&[0.0; 12], closed).unwrap();
    let lm = astronaut_landmarks().mapped(
        Pt::new((180.0 + 268.0 - 224.0) / 2.0, (68.0 + 180.0 - 224.0) / 2.0),
        512.0 / 224.0,
        (512, 512),
    );
    // The pupils (dark) are covered by the lids (skin): the eye boxes get brighter.
    for e in [lm.eyes.left, lm.eyes.right] {
        let mean = |im: &RgbImage| {
            let mut s = 0.0;
            for y in (e.y - 6.0) as u32..=(e.y + 6.0) as u32 {
                for x in (e.x - 6.0) as u32..=(e.x + 6.0) as u32 {
                    s += luma(im.get_pixel(x, y));
                }
            }
            s / 169.0
        };
        let (open, shut) = (mean(r.reference()), mean(&shut));
        assert!(shut > open + 30.0, "eye at {e:?}: luma {open:.0} open, {shut:.0} closed");
    }
    // Mouth far from the eyes is unchanged by the blink.
    let m = lm.mouth.upper;
    assert_eq!(shut.get_pixel(m.x as u32, m.y as u32 + 20), r.reference().get_pixel(m.x as u32, m.y as u32 + 20));
    // Head motion: frames differ over time even with zero mouth motion.
    let head = IdleOptions { blink: false, head: true, seed: 1 };
    let mut r = MeshWarpRenderer::open(&astronaut(), None, &MeshWarpOptions { idle: Some(head), ..crop() }).unwrap();
    let (a, b) = (r.render(&[0.0; 12], 0).unwrap(), r.render(&[0.0; 12], 50).unwrap());
    assert!(max_diff(&a, &b) > 20);
}

fn write_motion(path: &Path, frames: usize) {
    let mut data = vec![0.0f32; frames * 12];
    for f in 0..frames {
        data[f * 12 + 4] = 0.3 * ((f as f32 * 0.8).sin().max(0.0)); // lower lip y
    }
    let mut t = NamedTensors::new();
    t.insert(names::MOTION.into(), HostTensor::f32(vec![frames, 12], data));
    write_safetensors(path, &t).unwrap();
}

#[test]
fn render_command_writes_png_frames_an_mp4_and_a_contact_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let motion = dir.path().join("motion.safetensors");
    write_motion(&motion, 10);
    let portrait = astronaut();
    let frames = dir.path().join("frames");
    let sheet = dir.path().join("sheet.png");
    common::jamflow_ok(&[
        "render",
        "--portrait",
        portrait.to_str().unwrap(),
        "--motion",
        motion.to_str().unwrap(),
        "--out",
        frames.to_str().unwrap(),
        "--contact-sheet",
        sheet.to_str().unwrap(),
        "--size",
        "128",
        "--idle",
    ]);
    let pngs = std::fs::read_dir(&frames).unwrap().count();
    assert_eq!(pngs, 10);
    assert_eq!(image::open(frames.join("frame_000009.png")).unwrap().to_rgb8().dimensions(), (128, 128));
    let s = image::open(&sheet).unwrap().to_rgb8();
    assert!(s.width() > 256 && s.height() > 256);
    // MP4 through ffmpeg (a Debian package installed by scripts/setup.sh).
    let mp4 = dir.path().join("out.mp4");
    common::jamflow_ok(&[
        "render",
        "--portrait",
        portrait.to_str().unwrap(),
        "--motion",
        motion.to_str().unwrap(),
        "--out",
        mp4.to_str().unwrap(),
        "--size",
        "128",
    ]);
    let bytes = std::fs::read(&mp4).unwrap();
    assert!(bytes.len() > 1000 && &bytes[4..8] == b"ftyp", "not an MP4");
    // A motion file of the wrong width names the tensor and the expected shape.
    let bad = dir.path().join("bad.safetensors");
    let mut t = NamedTensors::new();
    t.insert(names::MOTION.into(), HostTensor::f32(vec![3, 63], vec![0.0; 189]));
    write_safetensors(&bad, &t).unwrap();
    let out = common::jamflow(&[
        "render",
        "--portrait",
        portrait.to_str().unwrap(),
        "--motion",
        bad.to_str().unwrap(),
        "--out",
        frames.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("[3, 63]") && err.contains("[frames, 12]"), "{err}");
}

#[test]
fn portrait_check_draws_the_landmarks_to_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("check.png");
    common::jamflow_ok(&["portrait", "check", astronaut().to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let img = image::open(&out).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (768, 768));
    // Marker colours are present (pure yellow corners, pure red inner lip points).
    assert!(img.pixels().any(|p| p.0 == [255, 255, 0]));
    assert!(img.pixels().any(|p| p.0 == [255, 0, 0]));
}

#[test]
fn render_refuses_a_package_whose_layout_the_renderer_does_not_accept_at_start_up() {
    use jamflow::model::random::{write_random_package, Preset};
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("lp");
    write_random_package(&Preset::SmallLiveportrait.config(), 0, &pkg).unwrap();
    let motion = dir.path().join("motion.safetensors");
    write_motion(&motion, 3);
    let portrait = astronaut();
    let err = common::jamflow_err(&[
        "render",
        "--portrait",
        portrait.to_str().unwrap(),
        "--motion",
        motion.to_str().unwrap(),
        "--package",
        pkg.to_str().unwrap(),
        "--out",
        dir.path().join("frames").to_str().unwrap(),
    ]);
    assert!(err.contains("liveportrait-mouth4") && err.contains("mesh-warp") && err.contains("mouth4-2d"), "{err}");
    assert!(!dir.path().join("frames").exists(), "nothing is rendered after a layout mismatch");
    // The matching package renders.
    let ok = dir.path().join("mm");
    write_random_package(&Preset::SmallMmdit.config(), 0, &ok).unwrap();
    common::jamflow_ok(&[
        "render",
        "--portrait",
        portrait.to_str().unwrap(),
        "--motion",
        motion.to_str().unwrap(),
        "--package",
        ok.to_str().unwrap(),
        "--out",
        dir.path().join("frames").to_str().unwrap(),
        "--size",
        "64",
    ]);
}

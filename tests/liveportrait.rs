//! LivePortrait renderer WIRING ONLY: stand-in ONNX files with FasterLivePortrait's input/output signatures
//! and random weights, generated here with the project's ONNX builder. They check shapes, that the source models
//! run once per portrait, that mouth deltas reach the driving keypoints, and the paste-back geometry. They say
//! nothing about image quality with real LivePortrait weights (none are available here).

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jamflow::model::config::MotionLayout;
use jamflow::model::io::{Dim, Elem, TensorDesc};
use jamflow::model::onnx::{self, Attr, Onnx};
use jamflow::render::landmarks::Landmarks;
use jamflow::render::liveportrait::{files, LivePortraitModels, LivePortraitRenderer};
use jamflow::render::{check_layout, load_portrait, Renderer};
use jamflow::runtime::{Backend, NamedTensors, OrtBackend, OrtOptions, RuntimeError};

fn desc(name: &'static str, dims: &[usize]) -> TensorDesc {
    TensorDesc { name, elem: Elem::F32, dims: dims.iter().map(|&d| Dim::Fixed(d)).collect() }
}

/// Deterministic pseudo-random weights in [-a, a].
fn rand(n: usize, seed: u64, a: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * a
        })
        .collect()
}

fn save(g: Onnx, dir: &Path, stem: &str) {
    onnx::save(g.into_model(stem), &dir.join(format!("{stem}.onnx")), false).unwrap();
}

/// Write the four stand-in models into `dir`.
fn write_stand_ins(dir: &Path) {
    // appearance_feature_extractor: img [1,3,256,256] -> [1,32,16,64,64] (channel mean, reshaped, scaled).
    let mut g = Onnx::new();
    let x = g.input(&desc(files::IMG, &[1, 3, 256, 256]));
    let m = g.op("ReduceMean", &[&x], vec![Attr::Ints("axes", vec![1]), Attr::Int("keepdims", 1)]); // [1,1,256,256]
    let r = g.reshape(&m, &[1, 1, 16, 64, 64]); // [1,1,16,64,64]
    let w = g.initializer("w", &[1, 32, 1, 1, 1], &rand(32, 1, 1.0));
    let y = g.mul(&r, &w); // [1,32,16,64,64]
    g.output(&y, &desc("output", &[1, 32, 16, 64, 64]));
    save(g, dir, files::APPEARANCE);

    // motion_extractor: img -> pitch/yaw/roll [1,66], t [1,3], exp [1,63], scale [1,1], kp [1,63].
    let mut g = Onnx::new();
    let x = g.input(&desc(files::IMG, &[1, 3, 256, 256]));
    let m = g.op("ReduceMean", &[&x], vec![Attr::Ints("axes", vec![1, 2, 3]), Attr::Int("keepdims", 0)]); // [1]
    let m = g.reshape(&m, &[1, 1]); // [1,1]
    for (i, (name, n, bias)) in [
        (files::PITCH, 66, 0.0),
        (files::YAW, 66, 0.0),
        (files::ROLL, 66, 0.0),
        (files::T, 3, 0.0),
        (files::EXP, 63, 0.0),
        (files::SCALE, 1, 1.0),
        (files::KP, 63, 0.0),
    ]
    .into_iter()
    .enumerate()
    {
        let w = g.initializer(&format!("w_{name}"), &[1, n], &rand(n, 10 + i as u64, 0.5));
        let b = g.initializer(&format!("b_{name}"), &[n], &vec![bias; n]);
        let y = g.matmul(&m, &w); // [1,n]
        let y = g.add(&y, &b);
        let d: &'static str = name;
        g.output(&y, &desc(d, &[1, n]));
    }
    save(g, dir, files::MOTION);

    // warping_spade: (feature_3d, kp_driving, kp_source) -> [1,3,512,512] in (0, 1), depending on both.
    let mut g = Onnx::new();
    let f = g.input(&desc(files::FEATURE_3D, &[1, 32, 16, 64, 64]));
    let kd = g.input(&desc(files::KP_DRIVING, &[1, 21, 3]));
    let ks = g.input(&desc(files::KP_SOURCE, &[1, 21, 3]));
    let fm = g.op("ReduceMean", &[&f], vec![Attr::Ints("axes", vec![1, 2, 3, 4]), Attr::Int("keepdims", 0)]); // [1]
    let dk = g.sub(&kd, &ks); // [1,21,3]
    let dm = g.op("ReduceMean", &[&dk], vec![Attr::Ints("axes", vec![1, 2]), Attr::Int("keepdims", 0)]); // [1]
    let k50 = g.scalar(50.0);
    let dm = g.mul(&dm, &k50);
    let s = g.add(&fm, &dm);
    let s = g.reshape(&s, &[1, 1, 1, 1]); // [1,1,1,1]
    let c = g.initializer("pattern", &[1, 3, 512, 512], &rand(3 * 512 * 512, 7, 2.0));
    let y = g.add(&c, &s); // [1,3,512,512]
    let y = g.unary("Sigmoid", &y);
    g.output(&y, &desc("out", &[1, 3, 512, 512]));
    save(g, dir, files::WARPING);

    // stitching: [1,126] -> [1,65].
    let mut g = Onnx::new();
    let x = g.input(&desc(files::STITCH_IN, &[1, 126]));
    let w = g.initializer("w", &[126, 65], &rand(126 * 65, 3, 0.01));
    let y = g.matmul(&x, &w); // [1,65]
    g.output(&y, &desc("output", &[1, 65]));
    save(g, dir, files::STITCHING);
}

/// A backend that counts its runs.
struct Counted(OrtBackend, Arc<AtomicUsize>);

impl Backend for Counted {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn run(&mut self, inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.run(inputs)
    }
}

fn counted(dir: &Path, stem: &str) -> (Box<dyn Backend>, Arc<AtomicUsize>) {
    let opts = OrtOptions { threads: Some(1), ..OrtOptions::default() };
    let c = Arc::new(AtomicUsize::new(0));
    let b = OrtBackend::from_file(&dir.join(format!("{stem}.onnx")), &opts).unwrap();
    (Box::new(Counted(b, c.clone())), c)
}

const LAYOUT: MotionLayout = MotionLayout::LiveportraitMouth4 { keypoints: [6, 14, 17, 19] };

#[test]
fn stand_in_wiring_runs_source_models_once_and_pastes_the_face_back_in_the_crop() {
    let dir = tempfile::tempdir().unwrap();
    write_stand_ins(dir.path());
    let (appearance, na) = counted(dir.path(), files::APPEARANCE);
    let (motion, nm) = counted(dir.path(), files::MOTION);
    let (warping, nw) = counted(dir.path(), files::WARPING);
    let (stitching, ns) = counted(dir.path(), files::STITCHING);
    let models = LivePortraitModels { appearance, motion, warping, stitching: Some(stitching) };
    let portrait_path = common::root().join("assets/portraits/astronaut.png");
    let portrait = load_portrait(&portrait_path).unwrap();
    let lm = Landmarks::load(&common::root().join("assets/portraits/astronaut.landmarks.json"), (512, 512)).unwrap();
    let mut r = LivePortraitRenderer::new(models, &LAYOUT, &portrait, &lm).unwrap();
    check_layout(&r, &LAYOUT).unwrap();
    let other = MotionLayout::LiveportraitMouth4 { keypoints: [6, 12, 14, 17] };
    assert!(check_layout(&r, &other).unwrap_err().to_string().contains("[6, 12, 14, 17]"));
    assert!(check_layout(&r, &MotionLayout::Mouth4_2d).is_err());

    // Zero deltas: the driving keypoints are the source keypoints.
    let zero = r.driving_keypoints(&[0.0; 12]);
    let mut m = [0.0f32; 12];
    m[4] = 0.05; // keypoint 14, y
    let moved = r.driving_keypoints(&m);
    let changed: Vec<usize> = (0..21).filter(|&k| (0..3).any(|j| zero[k * 3 + j] != moved[k * 3 + j])).collect();
    assert_eq!(changed, vec![14], "a delta of the second generated point moves keypoint 14 only");

    let frames: Vec<_> = (0..5).map(|i| r.render(if i % 2 == 0 { &[0.0; 12] } else { &m }, i).unwrap()).collect();
    assert_eq!(na.load(Ordering::SeqCst), 1, "appearance extractor runs once per portrait");
    assert_eq!(nm.load(Ordering::SeqCst), 1, "motion extractor runs once per portrait");
    assert_eq!(nw.load(Ordering::SeqCst), 5);
    assert_eq!(ns.load(Ordering::SeqCst), 5);
    assert_eq!(frames[0].dimensions(), portrait.dimensions());
    assert_eq!(r.generated().dimensions(), (512, 512));
    assert_ne!(frames[0], frames[1], "mouth deltas reach the generator");

    // Paste-back geometry: outside the crop square the portrait is untouched; at its centre the output is the
    // generated face's centre (mask 1).
    let (o, side) = r.crop_square();
    let f = &frames[4];
    for (x, y, p) in f.enumerate_pixels() {
        let (u, v) = ((x as f32 - o.x) / side, (y as f32 - o.y) / side);
        if !(-0.01..=1.01).contains(&u) || !(-0.01..=1.01).contains(&v) {
            assert_eq!(p, portrait.get_pixel(x, y), "pixel ({x}, {y}) outside the crop changed");
        }
    }
    let c = (o.x + side * 0.5, o.y + side * 0.5);
    let got = f.get_pixel(c.0.round() as u32, c.1.round() as u32);
    let u = ((c.0.round() - o.x) / side * 512.0 - 0.5).floor() as u32;
    let v = ((c.1.round() - o.y) / side * 512.0 - 0.5).floor() as u32;
    let want = r.generated().get_pixel(u, v);
    for ch in 0..3 {
        // Bilinear resampling of a noisy pattern: within the range of the 4 generated pixels around the sample.
        let lo = (0..2)
            .flat_map(|dy| (0..2).map(move |dx| (dx, dy)))
            .map(|(dx, dy)| r.generated().get_pixel((u + dx).min(511), (v + dy).min(511))[ch] as i32);
        let (mn, mx) = lo.fold((255, 0), |(a, b), x| (a.min(x), b.max(x)));
        let g = got[ch] as i32;
        assert!(
            g >= mn.min(want[ch] as i32) - 2 && g <= mx.max(want[ch] as i32) + 2,
            "centre pixel {got:?} vs {want:?}"
        );
    }
    // Near the crop's edge the mask feathers towards the portrait.
    let edge = f.get_pixel((o.x + 1.0).max(0.0) as u32, c.1 as u32);
    let base = portrait.get_pixel((o.x + 1.0).max(0.0) as u32, c.1 as u32);
    assert!(edge.0.iter().zip(base.0).all(|(a, b)| a.abs_diff(b) <= 2));
}

#[test]
fn open_names_the_missing_file_and_a_mesh_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = LivePortraitModels::open(dir.path(), &OrtOptions::default()).err().unwrap().to_string();
    assert!(e.contains("appearance_feature_extractor.onnx") && e.contains("missing"), "{e}");
    write_stand_ins(dir.path());
    let models =
        LivePortraitModels::open(dir.path(), &OrtOptions { threads: Some(1), ..OrtOptions::default() }).unwrap();
    let portrait = load_portrait(&common::root().join("assets/portraits/astronaut.png")).unwrap();
    let lm = Landmarks::load(&common::root().join("assets/portraits/astronaut.landmarks.json"), (512, 512)).unwrap();
    let e = LivePortraitRenderer::new(models, &MotionLayout::Mouth4_2d, &portrait, &lm).err().unwrap().to_string();
    assert!(e.contains("mouth4-2d") && e.contains("liveportrait"), "{e}");
}

#[test]
fn render_command_drives_stand_in_liveportrait_models_from_a_liveportrait_package() {
    use jamflow::model::random::{write_random_package, Preset};
    use jamflow::runtime::tensors::write_safetensors;
    use jamflow::runtime::HostTensor;
    use jamflow::sampler::names;
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("lp-onnx");
    std::fs::create_dir_all(&models).unwrap();
    write_stand_ins(&models);
    let pkg = dir.path().join("pkg");
    write_random_package(&Preset::SmallLiveportrait.config(), 0, &pkg).unwrap();
    let motion = dir.path().join("motion.safetensors");
    let mut t = NamedTensors::new();
    t.insert(names::MOTION.into(), HostTensor::f32(vec![3, 12], vec![0.01; 36]));
    write_safetensors(&motion, &t).unwrap();
    let frames = dir.path().join("frames");
    let portrait = common::root().join("assets/portraits/astronaut.png");
    let args = |pkg: &Path| {
        vec![
            "render".to_string(),
            "--portrait".into(),
            portrait.display().to_string(),
            "--motion".into(),
            motion.display().to_string(),
            "--package".into(),
            pkg.display().to_string(),
            "--liveportrait".into(),
            models.display().to_string(),
            "--threads".into(),
            "1".into(),
            "--out".into(),
            frames.display().to_string(),
        ]
    };
    let a = args(&pkg);
    common::jamflow_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(std::fs::read_dir(&frames).unwrap().count(), 3);
    let f = image::open(frames.join("frame_000002.png")).unwrap().to_rgb8();
    assert_eq!(f.dimensions(), (512, 512), "the full portrait with the face pasted back");
    // A mouth4-2d package cannot drive LivePortrait: a start-up error naming both layouts.
    let mm = dir.path().join("mm");
    write_random_package(&Preset::SmallMmdit.config(), 0, &mm).unwrap();
    let a = args(&mm);
    let err = common::jamflow_err(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("mouth4-2d") && err.contains("liveportrait"), "{err}");
}

//! The joint layers' local temporal mask, end to end through the ONNX graph on ONNX Runtime (no
//! oracle): with one joint layer as the only layer, an audio output can only depend on motion frames
//! within `window_s` of it (plus the motion stream's convolutional position embedding spread), and vice
//! versa. A perturbation far outside the window leaves outputs bit-identical; one inside changes them.

use std::collections::BTreeMap;

use jamflow::model::io;
use jamflow::model::random::{write_random_package, Preset};
use jamflow::model::{onnx, ModelConfig, Package};
use jamflow::rng::Noise;
use jamflow::runtime::{Backend, HostTensor, NamedTensors, OrtBackend, OrtOptions};

const T: usize = 600; // mel frames (6.4 s)
const K: usize = 12; // mouth4-2d values per frame

fn config() -> ModelConfig {
    let mut c = Preset::SmallMmdit.config();
    c.audio_dit.depth = 1;
    let m = c.motion.as_mut().unwrap();
    m.dit.depth = 1;
    m.dit.conv_pos_kernel = 7;
    c.joint.as_mut().unwrap().layers = Some(vec![0]);
    c
}

fn setup(cfg: &ModelConfig) -> (tempfile::TempDir, OrtBackend, NamedTensors) {
    let d = tempfile::tempdir().unwrap();
    write_random_package(cfg, 11, d.path()).unwrap();
    let mut pkg = Package::load(d.path()).unwrap();
    let bytes = onnx::to_bytes(&pkg.graph().unwrap()).unwrap();
    let be = OrtBackend::from_bytes(&bytes, &OrtOptions::default()).unwrap();
    let f = cfg.motion_frames_for(T);
    let mut n = Noise::new(3);
    let mut i: NamedTensors = BTreeMap::new();
    i.insert(io::NOISY_MEL.into(), HostTensor::f32(vec![1, T, 100], n.vec(T * 100)));
    i.insert(io::COND_MEL.into(), HostTensor::f32(vec![1, T, 100], n.vec(T * 100)));
    i.insert(io::TEXT.into(), HostTensor::i64(vec![1, 50], (0..50).map(|v| v % 40).collect()));
    i.insert(io::MEL_MASK.into(), HostTensor::bool(vec![1, T], vec![true; T]));
    i.insert(io::TIME.into(), HostTensor::f32(vec![1], vec![0.4]));
    i.insert(io::UNCOND.into(), HostTensor::bool(vec![1], vec![false]));
    i.insert(io::NOISY_MOTION.into(), HostTensor::f32(vec![1, f, K], n.vec(f * K)));
    i.insert(io::COND_MOTION.into(), HostTensor::f32(vec![1, f, K], vec![0.0; f * K]));
    i.insert(io::MOTION_MASK.into(), HostTensor::bool(vec![1, f], vec![true; f]));
    i.insert(io::MOTION_KNOWN.into(), HostTensor::bool(vec![1, f], vec![false; f]));
    (d, be, i)
}

/// Per-frame max |a - b| of output `name` with `width` values per frame.
fn frame_diffs(a: &NamedTensors, b: &NamedTensors, name: &str, width: usize) -> Vec<f32> {
    let (a, b) = (a[name].as_f32().unwrap(), b[name].as_f32().unwrap());
    a.chunks(width)
        .zip(b.chunks(width))
        .map(|(x, y)| x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs())))
        .collect()
}

fn perturb(t: &mut HostTensor, frame: usize, width: usize) {
    let HostTensor { data: jamflow::runtime::TensorData::F32(v), .. } = t else { panic!("f32") };
    v[frame * width..(frame + 1) * width].iter_mut().for_each(|x| *x += 3.0);
}

#[test]
fn motion_reaches_audio_only_within_the_window() {
    let cfg = config();
    let (_d, mut be, inputs) = setup(&cfg);
    let base = be.run(&inputs).unwrap();
    let ratio = cfg.motion_pos_scale().unwrap(); // 3.75
    let window = cfg.joint_window_frames(); // 46.875 mel frames
    let spread = 2.0 * 3.0 * ratio; // two k7 convs: +-6 motion frames, in mel frames
    let j = 150; // motion frame at mel position 562.5
    let mut p = inputs.clone();
    perturb(p.get_mut(io::NOISY_MOTION).unwrap(), j, K);
    let out = be.run(&p).unwrap();
    let d = frame_diffs(&base, &out, io::MEL_VELOCITY, 100);
    let pos = j as f64 * ratio;
    let mut far = 0;
    for (i, diff) in d.iter().enumerate() {
        if (i as f64 - pos).abs() > window + spread {
            assert_eq!(
                *diff,
                0.0,
                "audio frame {i} changed by a motion frame {:.1} mel frames away",
                (i as f64 - pos).abs()
            );
            far += 1;
        }
    }
    assert!(far > 400, "test covers too few far frames ({far})");
    let near = d[pos as usize];
    assert!(near > 1e-4, "audio frame at the perturbed motion frame did not change ({near})");
}

#[test]
fn audio_reaches_motion_only_within_the_window() {
    let cfg = config();
    let (_d, mut be, inputs) = setup(&cfg);
    let base = be.run(&inputs).unwrap();
    let ratio = cfg.motion_pos_scale().unwrap();
    let window = cfg.joint_window_frames();
    let spread = 2.0 * 15.0; // the audio stream's two k31 convs: +-30 mel frames
    let i = 300; // mel frame
    let mut p = inputs.clone();
    perturb(p.get_mut(io::NOISY_MEL).unwrap(), i, 100);
    let out = be.run(&p).unwrap();
    let d = frame_diffs(&base, &out, io::MOTION_VELOCITY, K);
    for (j, diff) in d.iter().enumerate() {
        if (j as f64 * ratio - i as f64).abs() > window + spread {
            assert_eq!(*diff, 0.0, "motion frame {j} changed by an audio frame outside the window");
        }
    }
    assert!(d[(i as f64 / ratio) as usize] > 1e-4, "motion frame at the perturbed audio frame did not change");
}

#[test]
fn without_the_window_motion_reaches_all_audio() {
    // The same perturbation with a window wider than the clip reaches every audio frame: the test above
    // is testing the mask, not a disconnected graph.
    let mut cfg = config();
    cfg.joint.as_mut().unwrap().window_s = 100.0;
    let (_d, mut be, inputs) = setup(&cfg);
    let base = be.run(&inputs).unwrap();
    let mut p = inputs.clone();
    perturb(p.get_mut(io::NOISY_MOTION).unwrap(), 150, K);
    let out = be.run(&p).unwrap();
    let d = frame_diffs(&base, &out, io::MEL_VELOCITY, 100);
    assert!(d[0] > 0.0 && d[T - 1] > 0.0, "wide window: far audio frames unchanged ({} / {})", d[0], d[T - 1]);
}

#[test]
fn padded_motion_frames_do_not_reach_audio() {
    // Key padding: a motion frame outside motion_mask must not influence audio outputs.
    let cfg = config();
    let (_d, mut be, mut inputs) = setup(&cfg);
    let f = cfg.motion_frames_for(T);
    let HostTensor { data: jamflow::runtime::TensorData::Bool(m), .. } = inputs.get_mut(io::MOTION_MASK).unwrap()
    else {
        panic!()
    };
    m[f - 20..].iter_mut().for_each(|v| *v = false);
    let base = be.run(&inputs).unwrap();
    let mut p = inputs.clone();
    perturb(p.get_mut(io::NOISY_MOTION).unwrap(), f - 1, K);
    let out = be.run(&p).unwrap();
    let d = frame_diffs(&base, &out, io::MEL_VELOCITY, 100);
    assert!(d.iter().all(|&x| x == 0.0), "a padded motion frame changed audio outputs");
}

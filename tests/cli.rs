//! The CLI tools other issues call: `info` reports what the package really holds; `random` + `sample`
//! reproduce from a seed.

mod common;
use common::*;

use jamflow::model::random::Preset;

#[test]
fn info_counts_parameters_per_stream() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("pkg");
    jamflow_ok(&["random", s(&p), "--preset", "small-liveportrait", "--seed", "3"]);
    let w = read(&p.join("model.safetensors"));
    let count = |motion: bool| -> usize {
        w.iter().filter(|(k, _)| k.starts_with("motion.") == motion).map(|(_, t)| t.len()).sum()
    };
    let out = jamflow_ok(&["info", s(&p)]);
    let millions = |n: usize| format!("{:.2} M params", n as f64 / 1e6);
    assert!(out.contains(&millions(count(false))), "audio params not reported:\n{out}");
    assert!(out.contains(&millions(count(true))), "motion params not reported:\n{out}");
    assert!(out.contains("liveportrait-mouth4 (12 values + 51 rest per frame)"), "{out}");
    assert!(out.contains("GFLOP per second of audio"), "{out}");
    let cfg = Preset::SmallLiveportrait.config();
    assert!(out.contains(&format!("layers {:?}", cfg.joint_layers())), "{out}");
}

#[test]
fn random_packages_and_sampling_reproduce_from_the_seed() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    jamflow_ok(&["random", s(&a), "--seed", "9"]);
    jamflow_ok(&["random", s(&b), "--seed", "9"]);
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap()
    );
    // The demo's request path: text -> mel + motion, twice with one seed, once with another.
    let req = d.path().join("req.safetensors");
    let mut t = std::collections::BTreeMap::new();
    use jamflow::runtime::HostTensor;
    t.insert("cond_mel".to_string(), HostTensor::f32(vec![40, 100], vec![0.0; 4000]));
    t.insert("mel_known".to_string(), HostTensor::bool(vec![40], vec![false; 40]));
    t.insert("text".to_string(), HostTensor::i64(vec![4], vec![5, 6, 7, 8]));
    t.insert("cond_motion".to_string(), HostTensor::f32(vec![11, 12], vec![0.0; 132]));
    t.insert("motion_known".to_string(), HostTensor::bool(vec![11], vec![false; 11]));
    jamflow::runtime::tensors::write_safetensors(&req, &t).unwrap();
    let run = |seed: &str, out: &str| {
        let o = d.path().join(out);
        jamflow_ok(&["sample", s(&a), "--inputs", s(&req), "--steps", "3", "--seed", seed, "--out", s(&o)]);
        read(&o)
    };
    let (x, y, z) = (run("1", "x.safetensors"), run("1", "y.safetensors"), run("2", "z.safetensors"));
    assert_eq!(x, y, "same seed, different result");
    assert_ne!(x["motion"], z["motion"], "different seeds, same result");
}

//! Bad input gets a clear error naming the file / tensor / field and what was expected; never a panic.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

use jamflow::model::random::{write_random_package, Preset};
use jamflow::model::weights::save_f32;
use jamflow::model::Package;
use jamflow::runtime::tensors::write_safetensors;
use jamflow::runtime::HostTensor;
use safetensors::Dtype;

fn package(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("pkg");
    write_random_package(&Preset::SmallMmdit.config(), 1, &p).unwrap();
    p
}

/// The package's weights as (shape, f32 data).
fn weights(p: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    read(&p.join("model.safetensors"))
        .into_iter()
        .map(|(k, t)| (k, (t.shape.clone(), t.as_f32().unwrap().to_vec())))
        .collect()
}

fn load_err(p: &Path) -> String {
    match Package::load(p) {
        Ok(_) => panic!("{} loaded, expected an error", p.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_tensor_is_named() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let mut w = weights(&p);
    w.remove("motion.transformer_blocks.1.attn.to_k.weight");
    w.remove("proj_out.bias");
    save_f32(&p.join("model.safetensors"), &w).unwrap();
    let e = load_err(&p);
    assert!(e.contains("model.safetensors") && e.contains("missing 2 tensor"), "{e}");
    assert!(e.contains("motion.transformer_blocks.1.attn.to_k.weight") && e.contains("proj_out.bias"), "{e}");
    // The CLI says the same, exit 1, no panic.
    let err = jamflow_err(&["export", s(&p), "--out", s(&d.path().join("x.onnx"))]);
    assert!(err.contains("proj_out.bias"), "{err}");
}

#[test]
fn extra_tensors_are_allowed_and_listed() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let mut w = weights(&p);
    w.insert("decoder.unused.weight".into(), (vec![2], vec![1.0, 2.0]));
    save_f32(&p.join("model.safetensors"), &w).unwrap();
    let pkg = Package::load(&p).unwrap();
    assert_eq!(pkg.weights.extra, vec!["decoder.unused.weight".to_string()]);
    let out = jamflow(&["export", s(&p), "--out", s(&d.path().join("x.onnx"))]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("decoder.unused.weight") && err.contains("not used"), "warning missing: {err}");
}

#[test]
fn wrong_shape_names_expected_and_found() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let mut w = weights(&p);
    w.insert("input_embed.proj.weight".into(), (vec![64, 3], vec![0.0; 192]));
    save_f32(&p.join("model.safetensors"), &w).unwrap();
    let e = load_err(&p);
    assert!(e.contains("input_embed.proj.weight") && e.contains("expected shape [64, 232], found [64, 3]"), "{e}");
}

#[test]
fn nan_and_inf_weights_are_rejected() {
    for bad in [f32::NAN, f32::INFINITY] {
        let d = tempfile::tempdir().unwrap();
        let p = package(d.path());
        let mut w = weights(&p);
        w.get_mut("transformer_blocks.0.ff.ff.2.weight").unwrap().1[7] = bad;
        save_f32(&p.join("model.safetensors"), &w).unwrap();
        let e = load_err(&p);
        assert!(
            e.contains("model.safetensors")
                && e.contains("transformer_blocks.0.ff.ff.2.weight")
                && e.contains("NaN/Inf")
                && e.contains("index 7"),
            "{e}"
        );
    }
}

#[test]
fn truncated_and_corrupt_files_are_rejected() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let f = p.join("model.safetensors");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(&p);
    assert!(e.contains("model.safetensors") && e.contains("not a readable safetensors file"), "{e}");
    std::fs::write(&f, b"this is not a safetensors file at all").unwrap();
    let e = load_err(&p);
    assert!(e.contains("not a readable safetensors file"), "{e}");
    std::fs::remove_file(&f).unwrap();
    let e = load_err(&p);
    assert!(e.contains("model.safetensors") && e.contains("No such file"), "{e}");
}

/// Re-encode the package weights in `dtype`.
fn save_as(p: &Path, dtype: Dtype) {
    let w = weights(p);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = w
        .iter()
        .map(|(k, (s, v))| {
            let b: Vec<u8> = match dtype {
                Dtype::F16 => v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect(),
                Dtype::BF16 => v.iter().flat_map(|x| half::bf16::from_f32(*x).to_le_bytes()).collect(),
                Dtype::I32 => v.iter().flat_map(|x| (*x as i32).to_le_bytes()).collect(),
                _ => unreachable!(),
            };
            (k.clone(), s.clone(), b)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(k, s, b)| (k.clone(), safetensors::tensor::TensorView::new(dtype, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &p.join("model.safetensors")).unwrap();
}

#[test]
fn f16_and_bf16_weights_load_and_int_weights_are_rejected() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let reference = weights(&p);
    for (dtype, tol) in [(Dtype::F16, 1e-3), (Dtype::BF16, 1e-2)] {
        save_as(&p, dtype);
        let pkg = Package::load(&p).unwrap();
        let (_, got) = pkg.weights.get("transformer_blocks.0.attn.to_q.weight").unwrap();
        let want = &reference["transformer_blocks.0.attn.to_q.weight"].1;
        let err = got.iter().zip(want).fold(0f32, |m, (a, b)| m.max((a - b).abs() / b.abs().max(1e-2)));
        assert!(err < tol, "{dtype:?}: rel err {err}");
    }
    save_as(&p, Dtype::I32);
    let e = load_err(&p);
    assert!(e.contains("expected dtype F32, F16 or BF16, found I32"), "{e}");
}

#[test]
fn bad_model_json_is_named() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let cfg_path = p.join("model.json");
    let good = std::fs::read_to_string(&cfg_path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["motion"]["dit"]["heads"] = 8.into();
    std::fs::write(&cfg_path, serde_json::to_string(&v).unwrap()).unwrap();
    let e = load_err(&p);
    assert!(e.contains("model.json") && e.contains("motion.dit.heads"), "{e}");
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["audio_dit"]["window"] = 1.into();
    std::fs::write(&cfg_path, serde_json::to_string(&v).unwrap()).unwrap();
    let e = load_err(&p);
    assert!(e.contains("model.json") && e.contains("unknown field `window`"), "{e}");
    std::fs::write(&cfg_path, "{ not json").unwrap();
    let e = load_err(&p);
    assert!(e.contains("model.json") && e.contains("not valid model JSON"), "{e}");
    let e = jamflow_err(&["info", s(&d.path().join("nowhere"))]);
    assert!(e.contains("nowhere") && e.contains("not a model package directory"), "{e}");
}

#[test]
fn vocab_mismatch_is_named() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    std::fs::write(p.join("vocab.txt"), " \na\nb\n").unwrap();
    let e = load_err(&p);
    assert!(e.contains("vocab.txt") && e.contains("3 entries") && e.contains("text.vocab_size"), "{e}");
}

#[test]
fn bad_forward_inputs_are_named() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let inputs = d.path().join("in.safetensors");
    let out = d.path().join("out.safetensors");
    let mut t = BTreeMap::new();
    t.insert("noisy_mel".to_string(), HostTensor::f32(vec![1, 10, 100], vec![0.0; 1000]));
    write_safetensors(&inputs, &t).unwrap();
    let e = jamflow_err(&["forward", s(&p), "--inputs", s(&inputs), "--out", s(&out)]);
    assert!(e.contains("in.safetensors") && e.contains("cond_mel") && e.contains("missing"), "{e}");
    t.insert("cond_mel".to_string(), HostTensor::f32(vec![1, 11, 100], vec![0.0; 1100]));
    write_safetensors(&inputs, &t).unwrap();
    let e = jamflow_err(&["forward", s(&p), "--inputs", s(&inputs), "--out", s(&out)]);
    assert!(e.contains("cond_mel") && e.contains("dimension T is 11") && e.contains("noisy_mel"), "{e}");
    t.insert("cond_mel".to_string(), HostTensor::i64(vec![1, 10, 100], vec![0; 1000]));
    write_safetensors(&inputs, &t).unwrap();
    let e = jamflow_err(&["forward", s(&p), "--inputs", s(&inputs), "--out", s(&out)]);
    assert!(e.contains("cond_mel") && e.contains("expected element type F32"), "{e}");
    assert!(!out.exists(), "no output on error");
}

#[test]
fn bad_sampler_requests_are_named() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let inputs = d.path().join("req.safetensors");
    let out = d.path().join("out.safetensors");
    let mut t = BTreeMap::new();
    t.insert("cond_mel".to_string(), HostTensor::f32(vec![20, 100], vec![0.0; 2000]));
    t.insert("mel_known".to_string(), HostTensor::bool(vec![20], vec![false; 20]));
    t.insert("text".to_string(), HostTensor::i64(vec![3], vec![1, 2, 3]));
    t.insert("cond_motion".to_string(), HostTensor::f32(vec![5, 12], vec![0.0; 60]));
    t.insert("motion_known".to_string(), HostTensor::bool(vec![5], vec![false; 5]));
    write_safetensors(&inputs, &t).unwrap();
    let e = jamflow_err(&["sample", s(&p), "--inputs", s(&inputs), "--out", s(&out), "--steps", "2"]);
    assert!(e.contains("cond_motion") && e.contains("expected 6 frames"), "{e}");
    t.insert("cond_motion".to_string(), HostTensor::f32(vec![6, 12], vec![0.0; 72]));
    t.insert("motion_known".to_string(), HostTensor::bool(vec![6], vec![false; 6]));
    t.insert("text".to_string(), HostTensor::i64(vec![2], vec![1, 400]));
    write_safetensors(&inputs, &t).unwrap();
    let e = jamflow_err(&["sample", s(&p), "--inputs", s(&inputs), "--out", s(&out), "--steps", "2"]);
    assert!(e.contains("text") && e.contains("id 400"), "{e}");
    let e = jamflow_err(&["sample", s(&p), "--inputs", s(&inputs), "--out", s(&out), "--schedule", "cosine"]);
    assert!(e.contains("--schedule") && e.contains("cosine"), "{e}");
    t.insert("text".to_string(), HostTensor::i64(vec![2], vec![1, 4]));
    write_safetensors(&inputs, &t).unwrap();
    jamflow_ok(&["sample", s(&p), "--inputs", s(&inputs), "--out", s(&out), "--steps", "2"]);
    let r = read(&out);
    assert_eq!(r["mel"].shape, vec![20, 100]);
    assert_eq!(r["motion"].shape, vec![6, 12]);
}

#[test]
fn unavailable_execution_provider_is_an_error_not_a_fallback() {
    let d = tempfile::tempdir().unwrap();
    let p = package(d.path());
    let inputs = d.path().join("in.safetensors");
    write_safetensors(&inputs, &BTreeMap::new()).unwrap();
    for (backend, feature) in [("ort-cuda", "cuda"), ("ort-tensorrt", "tensorrt"), ("tensorrt", "tensorrt-native")] {
        let mut t = BTreeMap::new();
        t.insert("cond_mel".to_string(), HostTensor::f32(vec![2, 100], vec![0.0; 200]));
        t.insert("mel_known".to_string(), HostTensor::bool(vec![2], vec![false; 2]));
        t.insert("text".to_string(), HostTensor::i64(vec![1], vec![1]));
        t.insert("cond_motion".to_string(), HostTensor::f32(vec![1, 12], vec![0.0; 12]));
        t.insert("motion_known".to_string(), HostTensor::bool(vec![1], vec![false]));
        write_safetensors(&inputs, &t).unwrap();
        let out = d.path().join("out.safetensors");
        let e = jamflow_err(&["sample", s(&p), "--inputs", s(&inputs), "--out", s(&out), "--backend", backend]);
        assert!(e.contains(&format!("backend `{backend}` needs a build with `--features {feature}`")), "{e}");
        assert!(!out.exists());
    }
}

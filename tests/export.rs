//! The exported ONNX file: valid per the ONNX checker (with shape inference), loadable by ONNX Runtime
//! from disk with external data, and equal to the in-memory graph.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::process::Command;

use jamflow::model::random::{write_random_package, Preset};
use jamflow::model::{io, onnx, Package};
use jamflow::rng::Noise;
use jamflow::runtime::{Backend, HostTensor, OrtBackend, OrtOptions};

#[test]
fn exported_graph_passes_onnx_checker_and_runs_from_file_with_external_data() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("pkg");
    write_random_package(&Preset::SmallLiveportrait.config(), 2, &p).unwrap();
    let file = d.path().join("model.onnx");
    jamflow_ok(&["export", s(&p), "--out", s(&file), "--external-data"]);
    assert!(d.path().join("model.onnx.data").exists(), "external data file missing");

    let check = Command::new(python())
        .args(["-c", "import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(m.opset_import[0].version)"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(check.status.success(), "onnx checker: {}", String::from_utf8_lossy(&check.stderr));
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), onnx::OPSET.to_string());

    let mut pkg = Package::load(&p).unwrap();
    let cfg = pkg.config.clone();
    let bytes = onnx::to_bytes(&pkg.graph().unwrap()).unwrap();
    let mut mem = OrtBackend::from_bytes(&bytes, &OrtOptions::default()).unwrap();
    let mut disk = OrtBackend::from_file(&file, &OrtOptions::default()).unwrap();
    let (t, f) = (40, cfg.motion_frames_for(40));
    let mut n = Noise::new(1);
    let mut i = BTreeMap::new();
    i.insert(io::NOISY_MEL.to_string(), HostTensor::f32(vec![2, t, 100], n.vec(2 * t * 100)));
    i.insert(io::COND_MEL.to_string(), HostTensor::f32(vec![2, t, 100], n.vec(2 * t * 100)));
    i.insert(io::TEXT.to_string(), HostTensor::i64(vec![2, 7], vec![3, 4, 5, 6, 7, -1, -1, 3, 4, 5, 6, 7, -1, -1]));
    i.insert(io::MEL_MASK.to_string(), HostTensor::bool(vec![2, t], vec![true; 2 * t]));
    i.insert(io::TIME.to_string(), HostTensor::f32(vec![2], vec![0.3, 0.3]));
    i.insert(io::UNCOND.to_string(), HostTensor::bool(vec![2], vec![false, true]));
    i.insert(io::NOISY_MOTION.to_string(), HostTensor::f32(vec![2, f, 12], n.vec(2 * f * 12)));
    i.insert(io::COND_MOTION.to_string(), HostTensor::f32(vec![2, f, 12], n.vec(2 * f * 12)));
    i.insert(io::REST.to_string(), HostTensor::f32(vec![2, f, 51], n.vec(2 * f * 51)));
    i.insert(io::MOTION_MASK.to_string(), HostTensor::bool(vec![2, f], vec![true; 2 * f]));
    i.insert(io::MOTION_KNOWN.to_string(), HostTensor::bool(vec![2, f], vec![true; 2 * f]));
    jamflow::runtime::tensors::check_inputs(&io::inputs(&cfg), &i).unwrap();
    let a = mem.run(&i).unwrap();
    let b = disk.run(&i).unwrap();
    assert_eq!(a, b, "graph from file differs from the in-memory graph");
    assert_eq!(a[io::MOTION_VELOCITY].shape, vec![2, f, 12]);
    // The uncond row differs from the cond row (conditioning is dropped there).
    let v = a[io::MEL_VELOCITY].as_f32().unwrap();
    assert_ne!(v[..t * 100], v[t * 100..]);
}

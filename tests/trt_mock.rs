//! The native TensorRT binding (src/runtime/trt_native.rs) against the host mock of its C ABI
//! (csrc/jamflow_trt_mock.c, feature `tensorrt-mock`): engine build with the shape profile, load, I/O
//! discovery, shapes, bindings, enqueue, copies back, and the errors. The mock's network doubles every
//! `noisy_<s>` input into `<s>_velocity`. Run: `cargo test --features tensorrt-mock --test trt_mock`.
#![cfg(feature = "tensorrt-mock")]

use jamflow::build::{self, BuildOptions, Target};
use jamflow::compile::shapes::ShapeRanges;
use jamflow::compile::{CalibMethod, Policy, Precision};
use jamflow::model::io;
use jamflow::model::random::{write_random_package, Preset};
use jamflow::runtime::trt_native::{available, build_engine, flags, profile_for, TrtBackend};
use jamflow::runtime::{Backend, HostTensor, NamedTensors, OrtOptions};

fn inputs(cfg: &jamflow::model::ModelConfig, b: usize, t: usize) -> NamedTensors {
    let mut x = NamedTensors::new();
    let f = cfg.motion_frames_for(t);
    for d in io::inputs(cfg) {
        let shape: Vec<usize> = d
            .dims
            .iter()
            .map(|dim| match dim {
                io::Dim::Batch => b,
                io::Dim::Mel => t,
                io::Dim::Text => 5,
                io::Dim::Motion => f,
                io::Dim::Fixed(n) => *n,
            })
            .collect();
        let n: usize = shape.iter().product();
        let tensor = match d.elem {
            io::Elem::F32 => HostTensor::f32(shape, (0..n).map(|i| i as f32 * 0.01).collect()),
            io::Elem::I64 => HostTensor::i64(shape, vec![1; n]),
            io::Elem::Bool => HostTensor::bool(shape, vec![true; n]),
        };
        x.insert(d.name.to_string(), tensor);
    }
    x
}

#[test]
fn engine_builds_loads_runs_and_reports_errors() {
    assert_eq!(available().unwrap(), "10.3.0");
    assert_eq!(flags(Precision::Int8), 3);
    assert_eq!(flags(Precision::W8a16), 4);
    assert_eq!(flags(Precision::Fp32), 0);
    let d = tempfile::tempdir().unwrap();
    let cfg = Preset::SmallMmdit.config();
    let shapes = ShapeRanges::parse(&cfg, "B=1:2:2,T=50:100:200").unwrap();
    let profile = profile_for(&cfg, &shapes);
    let noisy = profile.iter().find(|p| p.name == io::NOISY_MEL).unwrap();
    assert_eq!((noisy.min.clone(), noisy.max.clone()), (vec![1, 50, 100], vec![2, 200, 100]));
    // The ONNX file must exist.
    let onnx = d.path().join("model.onnx");
    let engine = d.path().join("model.engine");
    let cache = d.path().join("timing.cache");
    let err = build_engine(&onnx, &engine, &cache, Precision::Fp16, &profile).unwrap_err().to_string();
    assert!(err.contains("cannot open ONNX"), "{err}");
    std::fs::write(&onnx, b"onnx").unwrap();
    assert_eq!(build_engine(&onnx, &engine, &cache, Precision::Fp16, &profile).unwrap(), "10.3.0");
    assert!(cache.exists(), "timing cache written");

    let mut be = TrtBackend::load(&engine, 0).unwrap();
    let (ins, outs) = be.io_names();
    assert_eq!(ins.len(), io::inputs(&cfg).len());
    assert_eq!(outs, vec![io::MEL_VELOCITY.to_string(), io::MOTION_VELOCITY.to_string()]);
    let x = inputs(&cfg, 2, 120);
    let y = be.run(&x).unwrap();
    for (i, o) in [(io::NOISY_MEL, io::MEL_VELOCITY), (io::NOISY_MOTION, io::MOTION_VELOCITY)] {
        assert_eq!(y[o].shape, x[i].shape);
        let (a, b) = (x[i].as_f32().unwrap(), y[o].as_f32().unwrap());
        assert!(a.iter().zip(b).all(|(a, b)| (2.0 * a - b).abs() < 1e-6), "{o} = 2 x {i} through the buffers");
    }
    // A shape outside the profile, a missing input: clear errors naming the input.
    let err = be.run(&inputs(&cfg, 2, 300)).unwrap_err().to_string();
    assert!(err.contains(io::NOISY_MEL) && err.contains("outside the profile"), "{err}");
    let mut missing = inputs(&cfg, 1, 60);
    missing.remove(io::TIME);
    let err = be.run(&missing).unwrap_err().to_string();
    assert!(err.contains("time") && err.contains("missing"), "{err}");
    // A file that is not an engine.
    std::fs::write(d.path().join("bad.engine"), b"nope").unwrap();
    let err = TrtBackend::load(&d.path().join("bad.engine"), 0).err().unwrap().to_string();
    assert!(err.contains("not a (mock) engine"), "{err}");

    // `jamflow build --target tensorrt` writes the engine and records the TensorRT version.
    let pkg = d.path().join("pkg");
    write_random_package(&cfg, 1, &pkg).unwrap();
    let opts = BuildOptions {
        precision: Precision::Fp16,
        target: Target::Tensorrt,
        calibration: None,
        method: CalibMethod::default(),
        shapes: Some("T=50:100:200".into()),
        policy: Policy::default(),
        ort: OrtOptions::default(),
        force: false,
        accept_accuracy: false,
    };
    if std::env::var_os("JAMFLOW_ORT_LIB").is_none() {
        std::env::set_var("JAMFLOW_ORT_LIB", concat!(env!("CARGO_MANIFEST_DIR"), "/.ort/libonnxruntime.so"));
    }
    let out = build::build(&pkg, &opts).unwrap();
    assert_eq!(out.manifest.tensorrt_version.as_deref(), Some("10.3.0"));
    assert!(out.manifest.artifacts.iter().any(|a| a.path == "model.engine"));
    assert!(out.dir.join("timing.cache").exists());

    // Missing libraries: a clear error, from the build too.
    std::env::set_var("JFT_MOCK_NO_LIBRARY", "1");
    let err = available().unwrap_err();
    assert!(err.contains("libnvinfer.so.10"), "{err}");
    let err = build::build(&pkg, &BuildOptions { force: true, ..opts }).err().unwrap().to_string();
    assert!(err.contains("TensorRT libraries not usable"), "{err}");
    std::env::remove_var("JFT_MOCK_NO_LIBRARY");
}

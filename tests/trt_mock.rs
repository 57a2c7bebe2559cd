//! The native TensorRT binding (src/runtime/trt_native/) against the host mock of its C ABI
//! (csrc/jamflow_trt_mock.cpp, feature `tensorrt-mock`, which shares csrc/jamflow_trt_util.hpp with the real
//! shim): engine build with the shape profile, load, I/O discovery, shapes, bindings, enqueue, copies back,
//! buffer reuse, `jamflow build --target tensorrt` + `build::open` with the manifest checks, and the failures
//! the shim must turn into errors (missing library, TensorRT 8.6, NULL factories, ranks over 8, C++ exceptions,
//! a corrupt timing cache). The mock's network doubles every `noisy_<s>` input into `<s>_velocity`.
//! Run: `cargo test --features tensorrt-mock --test trt_mock`.
#![cfg(feature = "tensorrt-mock")]

use std::path::Path;
use std::sync::Mutex;

use jamflow::build::{self, BuildOptions, RunOptions, Target};
use jamflow::compile::shapes::ShapeRanges;
use jamflow::compile::{CalibMethod, Policy, Precision};
use jamflow::model::io;
use jamflow::model::random::{write_random_package, Preset};
use jamflow::model::Package;
use jamflow::runtime::trt_native::{self, available, build_engine, ffi, profile_for, ProfileDim, TrtBackend};
use jamflow::runtime::{Backend, HostTensor, NamedTensors, OrtOptions};

/// The mock reads its failure switches from the environment: tests take turns.
static ENV: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    let g = ENV.lock().unwrap_or_else(|e| e.into_inner());
    for v in ["JFT_MOCK_NO_LIBRARY", "JFT_MOCK_VERSION", "JFT_MOCK_NULL", "JFT_MOCK_THROW", "JAMFLOW_TRT_W8A16_MEASURE"]
    {
        std::env::remove_var(v);
    }
    if std::env::var_os("JAMFLOW_ORT_LIB").is_none() {
        std::env::set_var("JAMFLOW_ORT_LIB", concat!(env!("CARGO_MANIFEST_DIR"), "/.ort/libonnxruntime.so"));
    }
    g
}

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

/// An ONNX placeholder (the mock only checks it exists), the engine path, the timing cache and the profile.
fn setup(d: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf, Vec<ProfileDim>) {
    let cfg = Preset::SmallMmdit.config();
    let shapes = ShapeRanges::parse(&cfg, "B=1:2:2,T=50:100:200").unwrap();
    let onnx = d.join("model.onnx");
    std::fs::write(&onnx, b"onnx").unwrap();
    (onnx, d.join("model.engine"), d.join("timing.cache"), profile_for(&cfg, &shapes))
}

fn check_doubles(x: &NamedTensors, y: &NamedTensors) {
    for (i, o) in [(io::NOISY_MEL, io::MEL_VELOCITY), (io::NOISY_MOTION, io::MOTION_VELOCITY)] {
        assert_eq!(y[o].shape, x[i].shape);
        let (a, b) = (x[i].as_f32().unwrap(), y[o].as_f32().unwrap());
        assert!(a.iter().zip(b).all(|(a, b)| (2.0 * a - b).abs() < 1e-6), "{o} = 2 x {i} through the buffers");
    }
}

#[test]
fn engine_builds_loads_runs_and_reuses_its_buffers() {
    let _g = lock();
    assert_eq!(available().unwrap(), "10.3.0");
    let d = tempfile::tempdir().unwrap();
    let cfg = Preset::SmallMmdit.config();
    let (onnx, engine, cache, profile) = setup(d.path());
    let noisy = profile.iter().find(|p| p.name == io::NOISY_MEL).unwrap();
    assert_eq!((noisy.min.clone(), noisy.max.clone()), (vec![1, 50, 100], vec![2, 200, 100]));
    let err = build_engine(&d.path().join("none.onnx"), &engine, &cache, &profile).unwrap_err().to_string();
    assert!(err.contains("cannot open ONNX"), "{err}");
    let b = build_engine(&onnx, &engine, &cache, &profile).unwrap();
    assert_eq!(b.tensorrt_version, "10.3.0");
    assert_eq!(b.plan_bytes, std::fs::metadata(&engine).unwrap().len());
    assert_eq!(b.weight_bytes, Some(1000 * profile.len() as u64));
    assert!(!b.timing_cache_discarded && cache.exists(), "timing cache written");
    // Written atomically: no temporary file is left beside the engine.
    let names: Vec<String> =
        std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");

    let mut be = TrtBackend::load(&engine, 0).unwrap();
    let (ins, outs) = be.io_names();
    assert_eq!(ins.len(), io::inputs(&cfg).len());
    assert_eq!(outs, vec![io::MEL_VELOCITY.to_string(), io::MOTION_VELOCITY.to_string()]);
    // A large window, then a smaller one (the buffers are reused), then a larger one again (they grow).
    for t in [120, 60, 200] {
        let x = inputs(&cfg, 2, t);
        check_doubles(&x, &be.run(&x).unwrap());
    }
    // A shape outside the profile, a missing input: clear errors naming the input.
    let err = be.run(&inputs(&cfg, 2, 300)).unwrap_err().to_string();
    assert!(err.contains(io::NOISY_MEL) && err.contains("outside the profile"), "{err}");
    let mut missing = inputs(&cfg, 1, 60);
    missing.remove(io::TIME);
    let err = be.run(&missing).unwrap_err().to_string();
    assert!(err.contains("time") && err.contains("missing"), "{err}");
    // More than 8 dimensions: refused on the Rust side before the shim.
    let mut deep = inputs(&cfg, 1, 60);
    deep.insert(io::TIME.into(), HostTensor::f32(vec![1; 9], vec![0.5]));
    let err = be.run(&deep).unwrap_err().to_string();
    assert!(err.contains("rank 9"), "{err}");
    // A file that is not an engine.
    std::fs::write(d.path().join("bad.engine"), b"nope").unwrap();
    let err = TrtBackend::load(&d.path().join("bad.engine"), 0).err().unwrap().to_string();
    assert!(err.contains("cannot deserialize"), "{err}");
}

#[test]
fn missing_or_wrong_tensorrt_is_an_error_naming_library_and_version() {
    let _g = lock();
    let d = tempfile::tempdir().unwrap();
    let (onnx, engine, cache, profile) = setup(d.path());
    std::env::set_var("JFT_MOCK_NO_LIBRARY", "1");
    let err = available().unwrap_err();
    assert!(err.contains("libnvinfer.so.10"), "{err}");
    std::env::remove_var("JFT_MOCK_NO_LIBRARY");
    // JetPack 6.0's TensorRT 8.6.1 (getInferLibVersion 8601, no major-version entry point): refused.
    std::env::set_var("JFT_MOCK_VERSION", "8601");
    let err = available().unwrap_err();
    assert!(err.contains("TensorRT 8.6.1") && err.contains("needs TensorRT 10"), "{err}");
    let err = build_engine(&onnx, &engine, &cache, &profile).unwrap_err().to_string();
    assert!(err.contains("TensorRT 8.6.1"), "{err}");
    assert!(!engine.exists());
    // 10.2 is older than the 10.3 headers the mock stands for; TensorRT 11 is another ABI.
    std::env::set_var("JFT_MOCK_VERSION", "100200");
    let err = available().unwrap_err();
    assert!(err.contains("older than the TensorRT 10.3 headers"), "{err}");
    std::env::set_var("JFT_MOCK_VERSION", "110000");
    assert!(available().unwrap_err().contains("TensorRT 11.0.0"));
    std::env::set_var("JFT_MOCK_VERSION", "101600");
    assert_eq!(available().unwrap(), "10.16.0");
}

#[test]
fn null_factories_exceptions_and_bad_ranks_become_error_codes() {
    let _g = lock();
    let d = tempfile::tempdir().unwrap();
    let (onnx, engine, cache, profile) = setup(d.path());
    for f in ["createInferBuilder", "createNetworkV2", "createBuilderConfig", "createOptimizationProfile"] {
        std::env::set_var("JFT_MOCK_NULL", f);
        let err = build_engine(&onnx, &engine, &cache, &profile).unwrap_err().to_string();
        assert!(err.contains(&format!("{f} returned NULL")) && err.contains("code 3"), "{err}");
    }
    std::env::remove_var("JFT_MOCK_NULL");
    build_engine(&onnx, &engine, &cache, &profile).unwrap();
    for f in ["createInferRuntime", "createExecutionContext"] {
        std::env::set_var("JFT_MOCK_NULL", f);
        let err = TrtBackend::load(&engine, 0).err().unwrap().to_string();
        assert!(err.contains(&format!("{f} returned NULL")), "{err}");
    }
    std::env::remove_var("JFT_MOCK_NULL");
    // A C++ exception inside the shim comes back as JFT_ERR_INTERNAL with its message.
    std::env::set_var("JFT_MOCK_THROW", "build");
    let err = build_engine(&onnx, &engine, &cache, &profile).unwrap_err().to_string();
    assert!(err.contains("code 8") && err.contains("mock exception in build"), "{err}");
    std::env::set_var("JFT_MOCK_THROW", "load");
    assert!(TrtBackend::load(&engine, 0).err().unwrap().to_string().contains("exception inside the TensorRT shim"));
    std::env::set_var("JFT_MOCK_THROW", "enqueue");
    let mut be = TrtBackend::load(&engine, 0).unwrap();
    let cfg = Preset::SmallMmdit.config();
    let err = be.run(&inputs(&cfg, 1, 60)).unwrap_err().to_string();
    assert!(err.contains("mock exception in enqueue"), "{err}");
    std::env::remove_var("JFT_MOCK_THROW");
    // The profile's ranks are bounded by Dims::MAX_DIMS (8) on the Rust side ...
    let mut deep = profile.clone();
    deep[0] = ProfileDim { name: deep[0].name.clone(), min: vec![1; 9], opt: vec![1; 9], max: vec![1; 9] };
    let err = build_engine(&onnx, &engine, &cache, &deep).unwrap_err().to_string();
    assert!(err.contains("rank 9"), "{err}");
    // ... and in the shim, for callers of the raw ABI (set_input_shape with 9 dimensions, a NULL engine).
    let name = std::ffi::CString::new(io::NOISY_MEL).unwrap();
    let dims = [1i64; 9];
    let mut e = ffi::err_buf();
    let mut raw = std::ptr::null_mut();
    let path = std::ffi::CString::new(engine.to_str().unwrap()).unwrap();
    // SAFETY: valid pointers for each call; the engine is freed once.
    unsafe {
        assert_eq!(ffi::jft_engine_load(path.as_ptr(), &mut raw, e.as_mut_ptr(), ffi::ERR_LEN), ffi::OK);
        let rc = ffi::jft_engine_set_input_shape(raw, name.as_ptr(), dims.as_ptr(), 9, e.as_mut_ptr(), ffi::ERR_LEN);
        assert_eq!(rc, ffi::ERR_ARG);
        assert!(ffi::message(&e).contains("rank 9 (TensorRT allows 0..8"), "{}", ffi::message(&e));
        let rc = ffi::jft_engine_set_address(raw, name.as_ptr(), 3usize as *mut _, e.as_mut_ptr(), ffi::ERR_LEN);
        assert_eq!(rc, ffi::ERR_ARG, "a misaligned address is refused, and the refusal reported");
        ffi::jft_engine_free(raw);
        let rc = ffi::jft_engine_enqueue(std::ptr::null_mut(), std::ptr::null_mut(), e.as_mut_ptr(), ffi::ERR_LEN);
        assert_eq!(rc, ffi::ERR_ARG);
        assert_eq!(ffi::jft_engine_io_count(std::ptr::null()), -1);
        // Weakly typed flags of ABI 1 are refused.
        let rc = ffi::jft_build(
            path.as_ptr(),
            path.as_ptr(),
            std::ptr::null(),
            1,
            std::ptr::null(),
            0,
            0,
            std::ptr::null_mut(),
            e.as_mut_ptr(),
            ffi::ERR_LEN,
        );
        assert_eq!(rc, ffi::ERR_ARG);
        assert!(ffi::message(&e).contains("strongly typed"));
    }
}

#[test]
fn a_corrupt_timing_cache_is_replaced_not_fatal() {
    let _g = lock();
    let d = tempfile::tempdir().unwrap();
    let (onnx, engine, cache, profile) = setup(d.path());
    std::fs::write(&cache, b"\x00garbage from another TensorRT").unwrap();
    let b = build_engine(&onnx, &engine, &cache, &profile).unwrap();
    assert!(b.timing_cache_discarded);
    assert!(std::fs::read(&cache).unwrap().starts_with(b"JFTMOCK-TC1"), "a fresh cache written back");
    let b = build_engine(&onnx, &engine, &cache, &profile).unwrap();
    assert!(!b.timing_cache_discarded, "the fresh cache is used");
}

#[test]
fn build_target_tensorrt_then_open_checks_the_manifest() {
    let _g = lock();
    let d = tempfile::tempdir().unwrap();
    let cfg = Preset::SmallMmdit.config();
    let pkg_dir = d.path().join("pkg");
    write_random_package(&cfg, 1, &pkg_dir).unwrap();
    let run = RunOptions { target: Target::Tensorrt, precision: Precision::Fp16, ..RunOptions::default() };
    // No engine yet: the error names the command that builds it.
    let mut pkg = Package::load(&pkg_dir).unwrap();
    let err = build::open(&mut pkg, &run).err().unwrap().to_string();
    assert!(err.contains("jamflow build") && err.contains("--precision fp16 --target tensorrt"), "{err}");
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
    // w8a16 is not built for TensorRT (it would hold FP16 weights): refused up front, naming int8 / fp16.
    let err = build::build(&pkg_dir, &BuildOptions { precision: Precision::W8a16, ..opts.clone() })
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("weight-only quantization for INT4 only") && err.contains("--precision int8"), "{err}");
    let out = build::build(&pkg_dir, &opts).unwrap();
    let m = &out.manifest;
    assert_eq!(m.tensorrt_version.as_deref(), Some("10.3.0"));
    let e = m.engine.as_ref().unwrap();
    assert_eq!(e.gpu, "mock GPU (sm_00)");
    assert!(e.weight_bytes.is_some() && e.plan_bytes > 0);
    assert!(m.artifacts.iter().any(|a| a.path == trt_native::ENGINE_FILE));
    assert!(out.dir.join(trt_native::TIMING_CACHE_FILE).exists());
    // The run commands' path: the engine opens and runs.
    let mut opened = build::open(&mut pkg, &run).unwrap();
    assert_eq!(opened.shapes.as_ref().unwrap().mel, [50, 100, 200]);
    assert!(opened.backend.describe().contains("tensorrt 10.3.0"));
    let x = inputs(&cfg, 2, 80);
    check_doubles(&x, &opened.backend.run(&x).unwrap());
    // Another TensorRT: stale, refused with the rebuild command; the build rebuilds it (the key changed).
    std::env::set_var("JFT_MOCK_VERSION", "101600");
    let err = build::open(&mut pkg, &run).err().unwrap().to_string();
    assert!(err.contains("stale build") && err.contains("TensorRT 10.3.0") && err.contains("--force"), "{err}");
    let again = build::build(&pkg_dir, &opts).unwrap();
    assert!(!again.reused);
    assert_eq!(again.manifest.tensorrt_version.as_deref(), Some("10.16.0"));
    assert!(build::open(&mut pkg, &run).is_ok());
    assert!(build::build(&pkg_dir, &opts).unwrap().reused, "unchanged: reused");
    // Missing libraries: a clear error from the build too.
    std::env::set_var("JFT_MOCK_NO_LIBRARY", "1");
    let err = build::build(&pkg_dir, &BuildOptions { force: true, ..opts }).err().unwrap().to_string();
    assert!(err.contains("libnvinfer.so.10"), "{err}");
}

#[test]
fn device_check_builds_compares_times_and_reports_what_it_could_not_check() {
    use jamflow::build::device_check::{check_package, render, CheckOptions};
    let _g = lock();
    let d = tempfile::tempdir().unwrap();
    let pkg_dir = d.path().join("pkg");
    write_random_package(&Preset::SmallMmdit.config(), 2, &pkg_dir).unwrap();
    let opts = CheckOptions {
        precisions: vec![Precision::Fp16, Precision::Int8, Precision::W8a16],
        calibration: None,
        frames: 100,
        iters: 1,
        requests: 1,
        device: Some(jamflow::compile::roofline::Device::OrinNano),
        ort: OrtOptions::default(),
    };
    let rows = check_package(&pkg_dir, &opts).unwrap();
    let fp16 = rows[0].1.as_ref().unwrap();
    assert_eq!(fp16.velocity.len(), 2);
    assert!(fp16.velocity.iter().all(|e| e.rel_rms > 0.1), "the mock doubles its inputs: far from fp32");
    assert!(fp16.ms_per_nfe > 0.0 && fp16.floor_ms.unwrap() > 0.0);
    assert!(rows[1].1.as_ref().unwrap_err().contains("--calibration"));
    assert!(rows[2].1.as_ref().unwrap_err().contains("weight-only quantization for INT4 only"));
    let text = render(&pkg_dir, &rows);
    assert!(text.contains("fp16") && text.contains("not checked") && text.contains("mock GPU"), "{text}");
    // The device check's measurement switch lets w8a16 build, to record what TensorRT makes of its weights.
    std::env::set_var(jamflow::build::device_check::W8A16_MEASURE_ENV, "1");
    let opts = CheckOptions { precisions: vec![Precision::W8a16], ..opts };
    let rows = check_package(&pkg_dir, &opts).unwrap();
    std::env::remove_var(jamflow::build::device_check::W8A16_MEASURE_ENV);
    assert!(rows[0].1.as_ref().unwrap().manifest.engine.as_ref().unwrap().weight_bytes.is_some());
}

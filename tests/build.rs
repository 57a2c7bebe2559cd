//! `jamflow build` / `calibration make` / `bench --precision --project` on random-weight packages
//! (`model::random::write_random_package`; no trained model ships yet, so the error bounds are checked
//! on random weights).

mod common;

use std::path::{Path, PathBuf};

use common::{jamflow_err, jamflow_ok, s};
use jamflow::build::calibration::{self, MakeOptions, Source};
use jamflow::build::manifest::{BuildManifest, MANIFEST_FILE};
use jamflow::build::{self, BuildOptions, Target};
use jamflow::compile::graph::op_count;
use jamflow::compile::quant::scales_in_graph;
use jamflow::compile::{CalibMethod, Policy, Precision};
use jamflow::model::random::{write_random_package, Preset};
use jamflow::model::{onnx, Package};
use jamflow::runtime::{OrtBackend, OrtOptions};

fn ort_env() {
    if std::env::var_os("JAMFLOW_ORT_LIB").is_none() {
        std::env::set_var("JAMFLOW_ORT_LIB", common::root().join(".ort/libonnxruntime.so"));
    }
}

fn package(dir: &Path) -> PathBuf {
    let p = dir.join("pkg");
    write_random_package(&Preset::SmallMmdit.config(), 7, &p).unwrap();
    p
}

fn make_set(pkg: &Path, root: &Path, name: &str) -> PathBuf {
    let p = Package::load(pkg).unwrap();
    let mut p2 = Package::load(pkg).unwrap();
    let bytes = onnx::to_bytes(&p2.graph().unwrap()).unwrap();
    let mut be = OrtBackend::from_bytes(&bytes, &OrtOptions::default()).unwrap();
    let opts = MakeOptions {
        name: name.into(),
        sources: vec![Source::Generated { seed: 3, count: 4, seconds: vec![1.0, 2.0] }],
        holdout: 1,
        steps: Some(6),
        seed: 0,
    };
    let set = calibration::make(root, &p, &mut be, &opts).unwrap();
    assert_eq!(set.records.len(), 3 * 6, "3 calibration requests x 6 steps recorded");
    assert_eq!(set.holdout.len(), 1);
    root.join(name)
}

fn opts(p: Precision, cal: Option<PathBuf>) -> BuildOptions {
    BuildOptions {
        precision: p,
        target: Target::OrtCpu,
        calibration: cal,
        method: CalibMethod::default(),
        shapes: None,
        policy: Policy::default(),
        ort: OrtOptions::default(),
        force: false,
        accept_accuracy: false,
    }
}

#[test]
fn every_precision_runs_on_ort_cpu_within_its_bound() {
    ort_env();
    let d = tempfile::tempdir().unwrap();
    let pkg = package(d.path());
    let set = make_set(&pkg, &d.path().join("calibration"), "gen");
    for p in Precision::ALL {
        let out = build::build(&pkg, &opts(p, Some(set.clone()))).unwrap_or_else(|e| panic!("{p}: {e}"));
        let rep = out.manifest.accuracy.as_ref().expect("accuracy report");
        assert!(rep.within_bounds, "{p} exceeds its bound:\n{}", rep.render());
        assert_eq!(rep.layers.len(), 8, "4 audio + 4 motion block outputs compared");
        assert_eq!(rep.end_to_end.len(), 2, "mel and motion of the hold-out");
        let (bv, _) = jamflow::build::accuracy::bounds(p);
        for e in &rep.velocity {
            assert!(e.rel_rms <= bv && e.rel_rms.is_finite(), "{p} {}: {}", e.name, e.rel_rms);
        }
        if p != Precision::Fp32 {
            // A real change happened: not bit-identical to FP32.
            assert!(rep.velocity.iter().any(|e| e.rel_rms > 0.0), "{p} is identical to fp32");
        }
        let g = onnx::from_bytes(&std::fs::read(out.dir.join("model.onnx")).unwrap()).unwrap();
        match p {
            Precision::Int8 => {
                assert!(op_count(&g, "QuantizeLinear") > 0);
                // The graph's activation scales are exactly the calibrated ones recorded in the manifest.
                let in_graph = scales_in_graph(&g).unwrap();
                let cal = out.manifest.calibration.as_ref().expect("calibration recorded");
                assert_eq!(in_graph, cal.scales);
                assert!(cal.scales.values().all(|&v| v > 0.0 && v.is_finite()));
                // Every activation Q -> DQ pair feeds exactly one MatMul (TensorRT's dedicated pairs).
                let gr = g.graph.as_ref().unwrap();
                let cons = jamflow::compile::graph::consumers(gr);
                let pairs: Vec<_> = gr.node.iter().filter(|n| n.op_type == "QuantizeLinear").collect();
                assert!(pairs.len() > cal.scales.len(), "q/k/v share a tensor: more pairs than scales");
                for q in pairs {
                    let dq = &gr.node[cons[&q.output[0]][0]];
                    let users = &cons[&dq.output[0]];
                    assert_eq!(users.len(), 1, "{} feeds {} nodes", dq.name, users.len());
                    assert_eq!(gr.node[users[0]].op_type, "MatMul");
                }
                assert_eq!(cal.id.len(), 16);
            }
            Precision::W8a16 => {
                assert_eq!(op_count(&g, "QuantizeLinear"), 0, "weight-only: no activation quantization");
                assert!(op_count(&g, "DequantizeLinear") > 0);
            }
            Precision::Fp16 => assert_eq!(op_count(&g, "DequantizeLinear"), 0),
            Precision::Fp32 => {
                assert_eq!(op_count(&g, "Cast"), op_count(&Package::load(&pkg).unwrap().graph().unwrap(), "Cast"))
            }
        }
    }
}

#[test]
fn manifest_round_trips_and_identical_inputs_reuse_the_build() {
    ort_env();
    let d = tempfile::tempdir().unwrap();
    let pkg = package(d.path());
    let first = build::build(&pkg, &opts(Precision::Fp16, None)).unwrap();
    assert!(!first.reused);
    let path = first.dir.join(MANIFEST_FILE);
    let loaded = BuildManifest::load(&path).unwrap();
    assert_eq!(loaded, first.manifest);
    let again: BuildManifest = serde_json::from_str(&serde_json::to_string(&loaded).unwrap()).unwrap();
    assert_eq!(again, loaded);
    assert_eq!(loaded.sources.weights_sha256.len(), 64);
    assert_eq!(loaded.shapes.batch, [1, 2, 2]);
    assert!(loaded.ort_version.starts_with("1."), "{}", loaded.ort_version);
    // Same inputs: reused.
    let second = build::build(&pkg, &opts(Precision::Fp16, None)).unwrap();
    assert!(second.reused);
    // A damaged artifact is not reused.
    std::fs::write(first.dir.join("model.onnx"), b"garbage").unwrap();
    let third = build::build(&pkg, &opts(Precision::Fp16, None)).unwrap();
    assert!(!third.reused);
    // Different shapes: a new key.
    let mut o = opts(Precision::Fp16, None);
    o.shapes = Some("T=94:200:300".into());
    assert!(!build::build(&pkg, &o).unwrap().reused);
    // Through the CLI: the same inputs again say "up to date".
    let out = jamflow_ok(&["build", s(&pkg), "--precision", "fp16", "--shapes", "T=94:200:300"]);
    assert!(out.contains("up to date"), "{out}");
}

#[test]
fn missing_or_corrupt_calibration_is_a_clear_error() {
    ort_env();
    let d = tempfile::tempdir().unwrap();
    let pkg = package(d.path());
    // INT8 without a set.
    let err = jamflow_err(&["build", s(&pkg), "--precision", "int8"]);
    assert!(err.contains("needs --calibration") && err.contains("calibration make"), "{err}");
    // A set that does not exist.
    let nowhere = d.path().join("calibration/nope");
    let err = jamflow_err(&["build", s(&pkg), "--precision", "int8", "--calibration", s(&nowhere)]);
    assert!(err.contains("calibration/nope") && err.contains("manifest.json"), "{err}");
    // Through the CLI: make a set.
    let root = d.path().join("calibration");
    let out = jamflow_ok(&[
        "calibration",
        "make",
        s(&pkg),
        "--name",
        "cli",
        "--root",
        s(&root),
        "--generate",
        "3",
        "--seconds",
        "1",
        "--steps",
        "4",
    ]);
    assert!(out.contains("8 recorded evaluations"), "{out}");
    let set = root.join("cli");
    // Corrupt records: named, with the way out.
    let rec = set.join(calibration::RECORDS_FILE);
    let good = std::fs::read(&rec).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 5] ^= 0x55;
    std::fs::write(&rec, &bad).unwrap();
    let err = jamflow_err(&["build", s(&pkg), "--precision", "int8", "--calibration", s(&set)]);
    assert!(err.contains("records.safetensors") && err.contains("corrupt"), "{err}");
    // Missing records: re-recorded from the manifest, and the build succeeds.
    std::fs::remove_file(&rec).unwrap();
    jamflow_ok(&["build", s(&pkg), "--precision", "int8", "--calibration", s(&set)]);
    assert!(rec.exists());
    // A manifest that is not JSON.
    std::fs::write(set.join("manifest.json"), "{ not json").unwrap();
    let err = jamflow_err(&["build", s(&pkg), "--precision", "int8", "--calibration", s(&set), "--force"]);
    assert!(err.contains("not a calibration manifest"), "{err}");
    // A set recorded for other weights.
    let other = d.path().join("other");
    write_random_package(&Preset::SmallMmdit.config(), 8, &other).unwrap();
    let set2 = make_set(&pkg, &root, "gen2");
    let err = jamflow_err(&["build", s(&other), "--precision", "int8", "--calibration", s(&set2)]);
    assert!(err.contains("recorded with another package"), "{err}");
    // Native TensorRT on a build without it.
    let err = jamflow_err(&["build", s(&pkg), "--precision", "fp16", "--target", "tensorrt"]);
    assert!(err.contains("tensorrt-native"), "{err}");
}

#[test]
fn bench_prints_precision_ratios_and_roofline() {
    ort_env();
    let d = tempfile::tempdir().unwrap();
    let pkg = package(d.path());
    let out = jamflow_ok(&[
        "bench",
        s(&pkg),
        "--precision",
        "fp32,fp16,int8,w8a16",
        "--project",
        "orin-agx",
        "--frames",
        "94",
        "--iters",
        "2",
    ]);
    for p in ["fp32", "fp16", "int8", "w8a16"] {
        assert!(out.contains(&format!("  {p} ")), "{p} missing:\n{out}");
    }
    assert!(out.contains("ratio to fp32") && out.contains("Jetson AGX Orin") && out.contains("204.8 GB/s"), "{out}");
}

#[test]
fn calibration_from_request_files_checks_their_hashes() {
    ort_env();
    let d = tempfile::tempdir().unwrap();
    let pkg = package(d.path());
    let cfg = Package::load_config(&pkg).unwrap();
    let req = calibration::generated_request(&cfg, 11, 0, 1.0);
    let root = d.path().join("calibration");
    std::fs::create_dir_all(root.join("files")).unwrap();
    // Inside the set's directory: stored relative (the set moves as one directory).
    let file = root.join("files/req.safetensors");
    jamflow::runtime::tensors::write_safetensors(&file, &calibration::request_tensors(&cfg, &req)).unwrap();
    let out = jamflow_ok(&[
        "calibration",
        "make",
        s(&pkg),
        "--name",
        "files",
        "--root",
        s(&root),
        "--request",
        s(&file),
        "--generate",
        "1",
        "--seconds",
        "1",
        "--steps",
        "3",
    ]);
    assert!(out.contains("3 recorded evaluations, 1 hold-out"), "{out}");
    let manifest = std::fs::read_to_string(root.join("files/manifest.json")).unwrap();
    assert!(manifest.contains("\"kind\": \"request\"") && manifest.contains("\"kind\": \"generated\""), "{manifest}");
    assert!(manifest.contains("\"path\": \"req.safetensors\""), "{manifest}");
    // The request file changed after the set was made: named, with both hashes.
    let mut req2 = req.clone();
    req2.cond_mel[0] += 1.0;
    jamflow::runtime::tensors::write_safetensors(&file, &calibration::request_tensors(&cfg, &req2)).unwrap();
    let err = jamflow_err(&["build", s(&pkg), "--precision", "fp16", "--calibration", s(&root.join("files"))]);
    assert!(err.contains("req.safetensors changed"), "{err}");
    // WAV sources through the audio front end: a 48 kHz stereo file, its text; audio known, motion generated.
    let wav = root.join("hello.wav");
    let tone: Vec<f32> = (0..48_000).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    jamflow::audio::wav::write(&wav, 48_000, &tone, jamflow::audio::wav::WavFormat::Pcm16).unwrap();
    let out = jamflow_ok(&[
        "calibration",
        "make",
        s(&pkg),
        "--name",
        "wav",
        "--root",
        s(&root),
        "--wav",
        s(&wav),
        "--text",
        "abc",
        "--generate",
        "1",
        "--seconds",
        "1",
        "--steps",
        "2",
    ]);
    assert!(out.contains("recorded evaluations"), "{out}");
    let manifest = std::fs::read_to_string(root.join("wav/manifest.json")).unwrap();
    assert!(manifest.contains("\"kind\": \"wav\"") && manifest.contains("\"text\": \"abc\""), "{manifest}");
    let p = Package::load(&pkg).unwrap();
    let req = calibration::wav_request(&p, &wav, "abc", None).unwrap();
    assert_eq!(req.mel_frames, 94, "1 s at 24 kHz / hop 256 with center padding");
    assert!(req.mel_known.iter().all(|&k| k) && req.motion_known.iter().all(|&k| !k));
    assert_eq!(req.text.len(), 3);
    // A motion file of the wrong length is named with both shapes; a WAV that changed is named.
    let bad = root.join("bad_motion.safetensors");
    let mut t = std::collections::BTreeMap::new();
    t.insert("motion".to_string(), jamflow::runtime::HostTensor::f32(vec![3, 12], vec![0.0; 36]));
    jamflow::runtime::tensors::write_safetensors(&bad, &t).unwrap();
    let err = calibration::wav_request(&p, &wav, "abc", Some(&bad)).unwrap_err();
    let want = format!("[{}, 12]", cfg.motion_frames_for(req.mel_frames));
    assert!(err.contains("bad_motion.safetensors") && err.contains("[3, 12]") && err.contains(&want), "{err}");
    jamflow::audio::wav::write(&wav, 48_000, &tone[..24_000], jamflow::audio::wav::WavFormat::Pcm16).unwrap();
    let err = jamflow_err(&["build", s(&pkg), "--precision", "fp16", "--calibration", s(&root.join("wav"))]);
    assert!(err.contains("hello.wav changed"), "{err}");
    let err = jamflow_err(&["calibration", "make", s(&pkg), "--name", "x", "--root", s(&root), "--wav", s(&wav)]);
    assert!(err.contains("one --text per --wav"), "{err}");
}

#[test]
fn calibrated_scales_are_the_observed_activation_ranges_and_a_wrong_graph_fails_the_report() {
    use jamflow::build::accuracy;
    use jamflow::build::engine::calibrate;
    use jamflow::compile::{probe, quant};
    use jamflow::runtime::Backend;
    ort_env();
    let d = tempfile::tempdir().unwrap();
    let pkg = package(d.path());
    let set_dir = make_set(&pkg, &d.path().join("calibration"), "gen");
    let mut p = Package::load(&pkg).unwrap();
    let fp32 = p.graph().unwrap();
    let bytes = onnx::to_bytes(&fp32).unwrap();
    let mut be = OrtBackend::from_bytes(&bytes, &OrtOptions::default()).unwrap();
    let set = calibration::load(&set_dir, &p, &mut be).unwrap();
    // `max`: scale * 127 is the largest |x| the FP32 graph produced on the records, tensor by tensor.
    let scales = calibrate(&fp32, &Policy::default(), &set.records, CalibMethod::Max, &OrtOptions::default()).unwrap();
    let tensors = quant::activation_tensors(&fp32, &Policy::default()).unwrap();
    assert_eq!(scales.len(), tensors.len());
    let mut m = fp32.clone();
    let outs = probe::expose(&mut m, &tensors[..3]).unwrap();
    let mut pbe = OrtBackend::from_bytes(&onnx::to_bytes(&m).unwrap(), &OrtOptions::default()).unwrap();
    let mut amax = [0f32; 3];
    for r in &set.records {
        let y = pbe.run(r).unwrap();
        for (a, o) in amax.iter_mut().zip(&outs) {
            *a = y[o].as_f32().unwrap().iter().fold(*a, |m, v| m.max(v.abs()));
        }
    }
    for (t, a) in tensors.iter().zip(amax) {
        assert!((scales[t] * 127.0 - a).abs() <= 1e-5 * a, "{t}: scale {} vs observed max {a}", scales[t]);
    }
    // Percentile clips: never above max.
    let pct =
        calibrate(&fp32, &Policy::default(), &set.records, CalibMethod::default(), &OrtOptions::default()).unwrap();
    assert!(tensors.iter().all(|t| pct[t] <= scales[t] * (1.0 + 1e-6)));
    // The report catches a wrong graph: one output bias shifted.
    let mut wrong = fp32.clone();
    let g = wrong.graph.as_mut().unwrap();
    let b = g.initializer.iter_mut().find(|t| t.name == "proj_out.bias").unwrap();
    let mut v: Vec<f32> = b.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    v.iter_mut().for_each(|x| *x += 0.5);
    b.raw_data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let rep = accuracy::report(
        &p.config,
        &fp32,
        &wrong,
        Precision::Fp16,
        &set.records,
        &set.holdout,
        &set.manifest.sampler,
        &OrtOptions::default(),
    )
    .unwrap();
    assert!(!rep.within_bounds, "{}", rep.render());
    assert!(rep.layers.iter().all(|e| e.rel_rms == 0.0), "only the output layer differs: {}", rep.render());
}

//! Parity of the Rust-built ONNX graph on ONNX Runtime against PyTorch: F5-TTS itself (the `f5_tts`
//! package as oracle) and our MM-DiT reference (scripts/jamflow_ref.py, built on f5_tts modules),
//! plus the sampler. Tolerance: max |diff| / max |ref| <= 1e-4 in fp32.
//!
//! Mutation checks prove the comparisons are sensitive: the same fixture with the joint layers, the
//! motion RoPE scaling or the window changed must NOT match.

mod common;
use common::*;

use std::path::Path;

const TOL: f32 = 1e-4;

/// Run `jamflow forward` on an oracle directory; returns the relative error of the given outputs.
fn forward_err(dir: &Path, pkg: &Path, outputs: &[&str]) -> f32 {
    let out = dir.join(format!("got-{}.safetensors", pkg.file_name().unwrap().to_str().unwrap()));
    jamflow_ok(&["forward", s(pkg), "--inputs", s(&dir.join("inputs.safetensors")), "--out", s(&out)]);
    rel_err(&read(&dir.join("expected.safetensors")), &read(&out), outputs)
}

/// Write an oracle fixture with `args` (plus `--out DIR`) and check `jamflow forward` on its package.
fn oracle_parity(what: &str, args: &[&str], outputs: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let mut a = args.to_vec();
    a.extend(["--out", s(d.path())]);
    oracle(&a);
    let e = forward_err(d.path(), &d.path().join("pkg"), outputs);
    assert!(e <= TOL, "{what}: rel err {e}");
    d
}

/// Copy the fixture's package with `edit` applied to its model.json.
fn mutated(dir: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> std::path::PathBuf {
    let src = dir.join("pkg");
    let dst = dir.join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dst.join(f.file_name().unwrap())).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dst.join("model.json")).unwrap()).unwrap();
    edit(&mut cfg);
    std::fs::write(dst.join("model.json"), serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    dst
}

const MEL: &[&str] = &["mel_velocity"];
const BOTH: &[&str] = &["mel_velocity", "motion_velocity"];

#[test]
fn f5tts_small_matches_upstream_dit() {
    oracle_parity("F5 small", &["f5", "--preset", "small", "--seed", "1"], MEL);
}

#[test]
fn f5tts_small_variants_match_upstream_dit() {
    // qk RMSNorm, RoPE on the first head only (F5TTS v0), padded keys masked, long skip.
    let args =
        ["f5", "--preset", "small", "--seed", "4", "--qk-norm", "--pe-attn-head", "1", "--attn-mask", "--long-skip"];
    oracle_parity("F5 small variants", &args, MEL);
}

#[test]
fn f5tts_base_widths_depth2_match_upstream_dit() {
    oracle_parity("F5 base widths depth 2", &["f5", "--preset", "base2", "--seed", "2"], MEL);
}

#[test]
fn mmdit_matches_reference_and_detects_wrong_joint_layers_and_window() {
    let d = oracle_parity(
        "MM-DiT mouth4-2d",
        &["mmdit", "--preset", "small", "--layout", "mouth4-2d", "--seed", "3"],
        BOTH,
    );
    // Sensitivity: no joint layers, or a different window, must not match.
    let no_joint = mutated(d.path(), "no-joint", |c| c["joint"]["layers"] = serde_json::json!([]));
    let e = forward_err(d.path(), &no_joint, BOTH);
    assert!(e > 1e-3, "joint layers removed but outputs still match (rel err {e})");
    let narrow = mutated(d.path(), "narrow", |c| c["joint"]["window_s"] = serde_json::json!(0.2));
    let e = forward_err(d.path(), &narrow, BOTH);
    assert!(e > 1e-3, "window changed but outputs still match (rel err {e})");
}

#[test]
fn mmdit_liveportrait_with_known_channel_matches_reference() {
    let args = ["mmdit", "--preset", "small", "--layout", "liveportrait", "--known-channel", "--seed", "5"];
    oracle_parity("MM-DiT liveportrait", &args, BOTH);
}

#[test]
fn mmdit_explicit_joint_layers_match_reference() {
    let args = ["mmdit", "--preset", "small", "--layout", "liveportrait", "--joint-layers", "0,2", "--seed", "6"];
    oracle_parity("MM-DiT joint layers [0, 2]", &args, BOTH);
}

#[test]
fn motion_rope_scaling_matters_and_matches() {
    // A window wider than the clip makes the mask all-true, so only the RoPE positions of the motion
    // frames (j * 3.75 mel frames) tie the streams in time; changing fps (-> j * 3.90625) must break parity.
    let d = tempfile::tempdir().unwrap();
    oracle(&[
        "mmdit",
        "--preset",
        "small",
        "--layout",
        "mouth4-2d",
        "--window-s",
        "100",
        "--seed",
        "7",
        "--out",
        s(d.path()),
    ]);
    let outs = ["mel_velocity", "motion_velocity"];
    let e = forward_err(d.path(), &d.path().join("pkg"), &outs);
    assert!(e <= TOL, "MM-DiT wide window: rel err {e}");
    let wrong = mutated(d.path(), "fps24", |c| c["motion"]["fps"] = serde_json::json!(24.0));
    let e = forward_err(d.path(), &wrong, &outs);
    assert!(e > 1e-3, "motion RoPE scaling changed but outputs still match (rel err {e})");
}

#[test]
fn sampler_matches_reference_sampler() {
    let d = tempfile::tempdir().unwrap();
    oracle(&["sampler", "--seed", "8", "--out", s(d.path())]);
    let args: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("sampler_args.json")).unwrap()).unwrap();
    assert_eq!(args["schedule"]["kind"], "sway");
    let steps = args["steps"].as_u64().unwrap().to_string();
    let sched = format!("sway:{}", args["schedule"]["coef"].as_f64().unwrap());
    let cfg = args["cfg"].as_f64().unwrap().to_string();
    let out = d.path().join("got.safetensors");
    let pkg = d.path().join("pkg");
    let inputs = d.path().join("sampler_inputs.safetensors");
    jamflow_ok(&[
        "sample",
        s(&pkg),
        "--inputs",
        s(&inputs),
        "--steps",
        &steps,
        "--schedule",
        &sched,
        "--cfg",
        &cfg,
        "--out",
        s(&out),
    ]);
    let e = rel_err(&read(&d.path().join("sampler_expected.safetensors")), &read(&out), &["mel", "motion"]);
    assert!(e <= TOL, "sampler: rel err {e}");
    // Known regions are written back exactly.
    let got = read(&out);
    let inp = read(&inputs);
    let (mel, cond, known) =
        (got["mel"].as_f32().unwrap(), inp["cond_mel"].as_f32().unwrap(), inp["mel_known"].as_bool().unwrap());
    let m = got["mel"].shape[1];
    for (i, k) in known.iter().enumerate() {
        if *k {
            assert_eq!(mel[i * m..(i + 1) * m], cond[i * m..(i + 1) * m], "known mel frame {i} not written back");
        }
    }
}

#[test]
fn imported_upstream_checkpoint_runs_as_f5tts() {
    let d = tempfile::tempdir().unwrap();
    let ckpt = d.path().join("model_1250000.safetensors");
    oracle(&["f5ckpt", "--preset", "small", "--seed", "9", "--out", s(&ckpt)]);
    let pkg = d.path().join("imported");
    let vocab = d.path().join("model_1250000.vocab.txt");
    let out = jamflow_ok(&["import", "f5tts", s(&ckpt), "--vocab", s(&vocab), "-o", s(&pkg), "--dim-head", "16"]);
    assert!(out.contains("imported"), "{out}");
    let expected_dir = d.path().join("model_1250000.expected");
    // The imported config equals the oracle's (name aside).
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(expected_dir.join("model.json")).unwrap()).unwrap();
    let got: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pkg.join("model.json")).unwrap()).unwrap();
    for k in ["audio", "text", "audio_dit", "motion"] {
        assert_eq!(got[k], want[k], "imported config field `{k}`");
    }
    let e = forward_err(&expected_dir, &pkg, &["mel_velocity"]);
    assert!(e <= TOL, "imported checkpoint: rel err {e}");
}

//! Smoke test of the training pipeline (issue 5): a tiny corpus -> scripts/train.py (a few steps, then
//! --resume) -> a package that the Rust side loads unchanged (`jamflow info`, `jamflow sample` equal to the
//! PyTorch reference sampler on the trained f16 weights) -> scripts/eval.py metrics -> scripts/distill.py
//! student that `jamflow sample` runs in one step without a CFG pass.
//! Needs espeak-ng and the project virtualenv (scripts/setup.sh).

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

fn run_py(script: &str, args: &[&str]) -> std::process::Output {
    Command::new(python()).arg(root().join("scripts").join(script)).args(args).output().expect("python")
}

fn py(script: &str, args: &[&str]) -> String {
    let out = run_py(script, args);
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A script run that must fail: its stderr (the error it names).
fn py_fails(script: &str, args: &[&str]) -> String {
    let out = run_py(script, args);
    assert!(!out.status.success(), "{script} {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tiny_corpus(dir: &Path) -> std::path::PathBuf {
    let text = dir.join("sentences.txt");
    let mut s = String::new();
    for (i, w) in ["bright", "paper", "moon", "window", "bubble", "garden", "music", "pepper"].iter().enumerate() {
        s.push_str(&format!("Maybe the {w} was {} years old.\n%\n", ["two", "five", "nine", "ten"][i % 4]));
    }
    std::fs::write(&text, s).unwrap();
    let out = dir.join("corpus");
    // espeak-ng only, no recording conditions: the smoke test is about training, tests/corpus.rs about the corpus.
    let args = ["--seed", "1", "--hours", "0.004", "--text", s_(&text), "--engines", "espeak", "--augment", "0"];
    jamflow_ok(&[&["corpus", "make", "--out", s_(&out)][..], &args].concat());
    out
}

fn s_(p: &Path) -> &str {
    s(p)
}

#[test]
fn train_resume_package_loads_in_rust_and_evaluates() {
    let d = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(d.path());
    let run = d.path().join("run");
    let common =
        ["--corpus", s(&corpus), "--out", s(&run), "--size", "tiny", "--batch", "2", "--log-every", "1", "--f16"];
    let out = py("train.py", &[&common[..], &["--steps", "3", "--ckpt-every", "2"]].concat());
    assert!(out.contains("step 3:") && out.contains("saved step 3"), "{out}");
    let out = py("train.py", &[&common[..], &["--steps", "5", "--resume"]].concat());
    assert!(out.contains("step 3 -> 5") && out.contains("step 5:") && !out.contains("step 1:"), "{out}");
    let pkg = run.join("package");
    let utterances = |out: &str| -> usize {
        let line = out.lines().find(|l| l.starts_with("train: ")).unwrap_or_else(|| panic!("no train line: {out}"));
        line["train: ".len()..].split(' ').next().unwrap().parse().unwrap()
    };
    let n = utterances(&out);
    // Continuing from shipped package weights (fresh optimizer): what engines/jamflow-small supports; two corpora
    // (here the same one twice) are drawn from as one.
    let run2 = d.path().join("run2");
    let out = py(
        "train.py",
        &[
            "--corpus",
            s(&corpus),
            s(&corpus),
            "--out",
            s(&run2),
            "--init",
            s(&pkg),
            "--init-step",
            "5",
            "--steps",
            "6",
            "--batch",
            "2",
            "--log-every",
            "1",
        ],
    );
    assert!(out.contains("step 5 -> 6") && out.contains("saved step 6"), "{out}");
    assert_eq!(utterances(&out), 2 * n, "two corpora train as one: {out}");

    // A sentence one corpus holds out (here a copy whose manifest moves one training sentence to `val`, as two
    // seeds of one voice can draw it) is trained on in none of them.
    let copy = d.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("manifest.json")).unwrap()).unwrap();
    let mut manifest = original.clone();
    let utts = manifest["utterances"].as_array_mut().unwrap();
    let first = utts.iter_mut().find(|u| u["split"] == "train").unwrap();
    first["split"] = "val".into();
    let held = first["text"].as_str().unwrap().to_string();
    let trained_as_held = |m: &serde_json::Value| {
        m["utterances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["split"] == "train" && u["text"] == held.as_str())
            .count()
    };
    let in_copy = trained_as_held(&manifest);
    let in_original = trained_as_held(&original);
    std::fs::write(copy.join("manifest.json"), manifest.to_string()).unwrap();
    // The same audio and motion files: the copy's split folders link to the corpus's.
    for sub in ["train", "val", "test"] {
        if corpus.join(sub).is_dir() {
            std::os::unix::fs::symlink(corpus.join(sub), copy.join(sub)).unwrap();
        }
    }
    let run3 = d.path().join("run3");
    let args = ["--corpus", s(&corpus), s(&copy), "--out", s(&run3), "--init", s(&pkg), "--init-step", "5"];
    let out = py("train.py", &[&args[..], &["--steps", "6", "--batch", "2", "--log-every", "1"]].concat());
    let dropped = in_original + in_copy;
    assert!(out.contains(&format!("dropped {dropped} training utterances")), "{out}");
    assert_eq!(utterances(&out), 2 * n - 1 - dropped, "{held:?} trained on while held out: {out}");

    // Audio -> motion rows heard through fresh recording conditions and vocal-tract warps (train.py --augment,
    // --formant-warp: every a2m row warped here).
    let run4 = d.path().join("run4");
    let args = ["--corpus", s(&corpus), "--out", s(&run4), "--init", s(&pkg), "--init-step", "5", "--steps", "6"];
    let heard = ["--batch", "2", "--task-weights", "0", "1", "0", "0", "--augment", "0.5", "--formant-warp", "1"];
    let out = py("train.py", &[&args[..], &heard[..]].concat());
    assert!(out.contains("saved step 6"), "{out}");

    let info = jamflow_ok(&["info", s(&pkg)]);
    assert!(info.contains("mouth4-2d"), "{info}");

    // The reference sampler on the trained weights vs `jamflow sample` on the same request and noise.
    let dump = d.path().join("dump");
    let out = py(
        "eval.py",
        &[
            "--corpus",
            s(&corpus),
            "--package",
            s(&pkg),
            "--limit",
            "2",
            "--steps",
            "2",
            "--schedule",
            "uniform",
            "--with-text",
            "--dump",
            s(&dump),
            "--json",
            s(&d.path().join("m.json")),
        ],
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("m.json")).unwrap()).unwrap();
    let r = m["r_pooled"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&r), "{out}");
    assert_eq!(m["gt_closure_recall"].as_f64(), Some(1.0), "ground truth must close every bilabial: {out}");
    assert!(m["bilabials"].as_u64().unwrap() >= 2, "{out}");
    // The same utterances heard through a longer vocal tract (eval.py --formant-warp): a probe of voice dependence.
    let warped = d.path().join("warped.json");
    let args = ["--corpus", s(&corpus), "--package", s(&pkg), "--task", "a2m", "--limit", "2", "--steps", "2"];
    let out = py("eval.py", &[&args[..], &["--formant-warp", "0.8", "--json", s(&warped)]].concat());
    let w: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&warped).unwrap()).unwrap();
    assert_eq!(w["formant_warp"].as_f64(), Some(0.8), "{out}");
    assert_eq!(w["frames"], m["frames"], "a warp keeps every frame: {out}");

    let got = dump.join("got.safetensors");
    jamflow_ok(&[
        "sample",
        s(&pkg),
        "--inputs",
        s(&dump.join("request.safetensors")),
        "--steps",
        "2",
        "--schedule",
        "uniform",
        "--cfg",
        "2",
        "--out",
        s(&got),
    ]);
    let e = rel_err(&read(&dump.join("expected.safetensors")), &read(&got), &["mel", "motion"]);
    assert!(e <= 1e-3, "jamflow sample vs reference on the trained package: rel err {e}");

    // scripts/grow.py: a wider audio feed-forward and more text blocks that compute the same thing, so training
    // goes on from the trained function (`train.py --init`); the Rust graph runs the grown config unchanged.
    let grown = d.path().join("grown");
    let args = [s(&pkg), "--out", s(&grown), "--audio-ff-mult", "4", "--text-conv-layers", "3"];
    let out = py("grow.py", &args);
    assert!(out.contains("same outputs"), "{out}");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(grown.join("model.json")).unwrap()).unwrap();
    assert_eq!((cfg["audio_dit"]["ff_mult"].as_u64(), cfg["text"]["conv_layers"].as_u64()), (Some(4), Some(3)));
    let got_grown = dump.join("got-grown.safetensors");
    let request = dump.join("request.safetensors");
    let sample_args = ["--steps", "2", "--schedule", "uniform", "--cfg", "2", "--out", s(&got_grown)];
    jamflow_ok(&[&["sample", s(&grown), "--inputs", s(&request)][..], &sample_args].concat());
    let e = rel_err(&read(&got), &read(&got_grown), &["mel", "motion"]);
    assert!(e <= 1e-4, "the grown package samples differently from its original: rel err {e}");
    let run5 = d.path().join("run5");
    let args = ["--corpus", s(&corpus), "--out", s(&run5), "--init", s(&grown), "--init-step", "5"];
    let out = py("train.py", &[&args[..], &["--steps", "6", "--batch", "2"]].concat());
    assert!(out.contains("saved step 6"), "{out}");
    let shrunk = d.path().join("shrunk");
    let refused = py_fails("grow.py", &[s(&grown), "--out", s(&shrunk), "--audio-ff-mult", "2"]);
    assert!(refused.contains("--audio-ff-mult 2: the package has ff_mult 4; only growing"), "{refused}");
    let refused = py_fails("grow.py", &[s(&run5), "--out", s(&shrunk), "--text-conv-layers", "4"]);
    assert!(refused.contains("model.json: missing (expected a package"), "{refused}");

    // Few-step distillation (2 -> 1 step, guidance baked): the student package runs one pass per step in Rust.
    let distill = |out: &Path, extra: &[&str]| {
        let mut args = vec!["--corpus", s(&corpus), "--teacher", s(&pkg), "--out", s(out)];
        args.extend_from_slice(&["--teacher-steps", "2", "--student-steps", "1", "--iters-per-stage", "2"]);
        args.extend_from_slice(&["--batch", "2"]);
        args.extend_from_slice(extra);
        py("distill.py", &args)
    };
    let dist = d.path().join("distill");
    let out = distill(&dist, &["--f16"]);
    assert!(out.contains("student (1 steps, guidance baked)"), "{out}");
    // Live-shaped windows (0.64 s, the first 0.4 s of motion known, as jamflowd's history) on every batch.
    let a2m_windows = ["--task-weights", "0", "1", "0", "0", "--crop-s", "2", "--live", "1", "0.64", "0.4"];
    let live = distill(&d.path().join("distill-live"), &a2m_windows);
    assert!(live.contains("100% of batches, 16 motion frames, the first 10 known"), "{live}");
    assert!(live.contains("student (1 steps, guidance baked)"), "{live}");
    // The same windows, the teacher hearing each one's whole 2 s crop (privileged future context).
    let context = [&a2m_windows[..], &["--live-context", "0.32"]].concat();
    let ctx = distill(&d.path().join("distill-context"), &context);
    assert!(ctx.contains("hears each live window's 48-frame crop, 8 frames after it"), "{ctx}");
    assert!(ctx.contains("student (1 steps, guidance baked)"), "{ctx}");
    let bad = [&a2m_windows[..], &["--live-context", "1.5"]].concat();
    let bad_out = d.path().join("bad");
    let mut args = vec!["--corpus", s(&corpus), "--teacher", s(&pkg), "--out", s(&bad_out)];
    args.extend_from_slice(&bad);
    let refused = py_fails("distill.py", &args);
    assert!(refused.contains("WINDOW_S + FUTURE_S <= --crop-s"), "{refused}");
    // Every window's voice warped for the student, the teacher hearing it unwarped (--unwarped-teacher); refused
    // without a warp to undo.
    let warped = [&a2m_windows[..], &["--formant-warp", "1", "--unwarped-teacher"]].concat();
    let out = distill(&d.path().join("distill-warped"), &warped);
    assert!(out.contains("student (1 steps, guidance baked)"), "{out}");
    let mut args = vec!["--corpus", s(&corpus), "--teacher", s(&pkg), "--out", s(&bad_out)];
    args.extend_from_slice(&[&a2m_windows[..], &["--unwarped-teacher"]].concat());
    let refused = py_fails("distill.py", &args);
    assert!(refused.contains("--unwarped-teacher needs --crop-s and --formant-warp"), "{refused}");
    // Self-consistency (--consistency): the student's own sampler on each window as heard, pulled to a frozen
    // anchor's answer to the window as recorded, on the context-shaped windows; --distill-weight 0 runs no teacher.
    // Refused without an anchor.
    let heard = ["--augment", "1", "--consistency", "1", "--log-every", "1"];
    let consistent = [&context[..], &heard[..], &["--distill-weight", "0", "--anchor", s(&pkg)]].concat();
    let out = distill(&d.path().join("distill-consistency"), &consistent);
    assert!(out.contains("self-consistency x 1 against") && out.contains("distillation x 0"), "{out}");
    let logged: Vec<f64> =
        out.lines().filter_map(|l| l.split(" consistency ").nth(1)?.split_whitespace().next()?.parse().ok()).collect();
    assert_eq!(logged.len(), 2, "one consistency figure an iteration: {out}");
    assert!(logged.iter().all(|c| c.is_finite() && *c >= 0.0), "{logged:?}");
    assert!(out.contains("student (1 steps, guidance baked)"), "{out}");
    let mut args = vec!["--corpus", s(&corpus), "--teacher", s(&pkg), "--out", s(&bad_out)];
    args.extend_from_slice(&[&a2m_windows[..], &heard[..]].concat());
    let refused = py_fails("distill.py", &args);
    assert!(refused.contains("--consistency needs --crop-s, --anchor"), "{refused}");
    let mut args = vec!["--corpus", s(&corpus), "--teacher", s(&pkg), "--out", s(&bad_out)];
    args.extend_from_slice(&[&["--teacher-steps", "4", "--student-steps", "1"][..], &consistent[..]].concat());
    let refused = py_fails("distill.py", &args);
    assert!(refused.contains("--distill-weight 0 halves no steps: one stage"), "{refused}");
    let student = dist.join("package");
    // The live windows replayed offline (scripts/live_replay.py), known history cross-faded as the daemon's `known`.
    let replay = [&["--package", s(&student), "--corpus", s(&corpus), "--limit", "2"][..], &["--joined"]].concat();
    let out = py("live_replay.py", &[&replay[..], &["--history-motion", "known", "--cross-fade"]].concat());
    assert!(out.contains("history motion known, cross-faded") && out.contains("joined stream r"), "{out}");
    let refused = py_fails("live_replay.py", &[&replay[..], &["--cross-fade"]].concat());
    assert!(refused.contains("only with --history-motion known"), "{refused}");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(student.join("model.json")).unwrap()).unwrap();
    assert_eq!(cfg["sampler"]["guidance_baked"], serde_json::Value::Bool(true));
    let got = dist.join("got.safetensors");
    let log = jamflow_ok(&["sample", s(&student), "--inputs", s(&dump.join("request.safetensors")), "--out", s(&got)]);
    assert!(log.contains("1 steps") && log.contains("cfg 0"), "{log}");
    let t = read(&got);
    assert_eq!(t["motion"].shape, read(&dump.join("expected.safetensors"))["motion"].shape);
}

/// The vocal-tract warp of train.py --formant-warp (scripts/heard.py) scales frequencies: a formant-like peak at
/// 1 kHz moves to the mel bin nearest 1.2 kHz under a factor 1.2 (and to 0.9 kHz under 0.9), a factor 1 changes
/// nothing, frame count kept.
#[test]
fn formant_warp_moves_a_peak_by_its_factor() {
    let code = r#"
import sys, torch
sys.path.insert(0, sys.argv[1])
from heard import formant_warp, hz_to_mel, mel_to_hz, SAMPLE_RATE
import numpy as np
n = 100
centers = mel_to_hz(np.linspace(0.0, hz_to_mel(SAMPLE_RATE / 2), n + 2)[1:-1])
k = int(np.argmin(abs(centers - 1000.0)))
mel = torch.full((7, n), -5.0)
mel[:, k] = 2.0
assert torch.equal(formant_warp(mel, 1.0), mel), "factor 1 changed the mel"
for a in (1.2, 0.9):
    w = formant_warp(mel, a)
    assert w.shape == mel.shape, w.shape
    got = int(w[0].argmax())
    want = int(np.argmin(abs(centers - centers[k] * a)))
    assert abs(got - want) <= 1, (a, got, want)
    assert float(w[0].max()) > 0.0, float(w[0].max())
print("ok")
"#;
    let out = Command::new(python()).args(["-c", code, s(&root().join("scripts"))]).output().expect("python");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("ok"), "{stdout}\n{stderr}");
}

/// The shipped default model (engines/jamflow-small, trained by scripts/train.py) loads and runs the live
/// audio -> motion request: finite motion of the right shape. Quality is scripts/eval.py's job (model card).
#[test]
fn shipped_default_model_runs_audio_to_motion() {
    use jamflow::model::ModelConfig;
    use jamflow::runtime::tensors::{write_safetensors, HostTensor};
    use jamflow::runtime::NamedTensors;
    let pkg = root().join("engines/jamflow-small");
    let info = jamflow_ok(&["info", s(&pkg)]);
    assert!(info.contains("mouth4-2d"), "{info}");
    let cfg = ModelConfig::load(&pkg.join("model.json")).unwrap();
    let (t, m) = (188, cfg.audio.n_mels);
    let f = cfg.motion_frames_for(t);
    // A 2 s window of a synthetic log-mel (a slow ramp; only shapes and finiteness are checked here).
    let mel: Vec<f32> = (0..t * m).map(|i| -6.0 + 4.0 * ((i / m) as f32 / t as f32)).collect();
    let mut req = NamedTensors::new();
    req.insert("cond_mel".into(), HostTensor::f32(vec![t, m], mel));
    req.insert("mel_known".into(), HostTensor::bool(vec![t], vec![true; t]));
    req.insert("text".into(), HostTensor::i64(vec![0], vec![]));
    req.insert("cond_motion".into(), HostTensor::f32(vec![f, 12], vec![0.0; f * 12]));
    req.insert("motion_known".into(), HostTensor::bool(vec![f], vec![false; f]));
    let d = tempfile::tempdir().unwrap();
    write_safetensors(&d.path().join("req.safetensors"), &req).unwrap();
    let out = d.path().join("out.safetensors");
    jamflow_ok(&[
        "sample",
        s(&pkg),
        "--inputs",
        s(&d.path().join("req.safetensors")),
        "--steps",
        "4",
        "--out",
        s(&out),
    ]);
    let got = read(&out);
    assert_eq!(got["motion"].shape, vec![f, 12]);
    assert!(got["motion"].as_f32().unwrap().iter().all(|v| v.is_finite()));
}

/// CI bounds on the shipped models' quality (issues 5 and 11; the model cards have the full test-split numbers):
/// audio -> mouth motion on sentences the models never saw (written here), spoken by voices they never heard (the
/// held-out families festival:slt and espeak:en-gb-scotland, clean and with noise or a room), for the distilled
/// student at its own steps and the teacher at 8 steps with CFG, each beside the loudness-envelope baseline on the
/// same frames. The bounds are below what was measured here (model card), so a regressed model, package, loader,
/// sampler or corpus fails them, not sampling noise.
/// (group of scripts/lipsync.py, minimum mouth-opening r, minimum p/b/m closure recall). Measured here (9 held-out
/// utterances, 54 bilabials) with the v3 models: student r 0.727, closure 0.870; teacher r 0.739, closure 0.852;
/// baseline r 0.353 (v2: student 0.727 / 0.852, teacher 0.744 / 0.833).
const BOUNDS: [(&str, f64, f64); 1] = [("held_out/clean", 0.65, 0.75)];

#[test]
fn shipped_models_follow_unseen_voices() {
    let d = tempfile::tempdir().unwrap();
    let text = d.path().join("unseen.txt");
    let sentences = [
        "Please bring me a big bowl of warm soup.",
        "The robot waved and smiled at the people passing by.",
        "My favourite colour has always been a deep ocean blue.",
        "We moved the heavy boxes from the basement before lunch.",
        "Open the window, the room is far too warm.",
        "Bob bought maple syrup, bread, and bananas at the market.",
        "Every morning she walks along the beach with her dog.",
        "Maybe tomorrow will be a better day for a picnic.",
        "A bumble bee buzzed past the open map on the table.",
        "Mom made a promise to paint the boat by May.",
    ];
    std::fs::write(&text, sentences.iter().map(|s| format!("{s}\n%\n")).collect::<String>()).unwrap();
    let corpus = d.path().join("corpus");
    let args = ["--seed", "7", "--hours", "0.04", "--eval-fraction", "0.3", "--engines", "espeak,festival"];
    jamflow_ok(&[&["corpus", "make", "--out", s(&corpus), "--text", s(&text), "--augment", "0"][..], &args].concat());
    let eval = |pkg: &str, extra: &[&str]| -> serde_json::Value {
        let json = d.path().join(format!("{}.json", pkg.replace('/', "_")));
        let pkg_dir = root().join(pkg);
        let args = [
            &["--corpus", s(&corpus), "--package", s(&pkg_dir), "--task", "a2m", "--split", "test"][..],
            &["--limit", "0", "--threads", "2", "--json", s(&json)],
            extra,
        ]
        .concat();
        let out = py("eval.py", &args);
        eprintln!("{pkg}: {out}");
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
    };
    for (pkg, extra) in [("engines/jamflow-small-student", &[][..]), ("engines/jamflow-small", &["--steps", "8"][..])] {
        let m = eval(pkg, extra);
        for (group, r_min, closure_min) in BOUNDS {
            let g = &m["lipsync"][group];
            let (model, base) = (&g["model"], &g["baseline"]);
            let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            assert!(f(model, "bilabials") >= 8.0, "{pkg} {group}: {g}");
            let (r, rb, c) = (f(model, "r_pooled"), f(base, "r_pooled"), f(model, "closure_recall"));
            assert!(r >= r_min, "{pkg} {group}: mouth-opening r {r:.3} < {r_min} on unheard voices");
            assert!(r >= rb + 0.2, "{pkg} {group}: r {r:.3} is not clearly above the loudness baseline's {rb:.3}");
            assert!(c >= closure_min, "{pkg} {group}: bilabial closure recall {c:.3} < {closure_min}");
        }
    }
}

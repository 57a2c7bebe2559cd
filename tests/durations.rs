//! `text.alignment = "durations"` end to end (issue 12, DESIGN §7): a random-weights durations package
//! (`jamflow random --text-alignment durations`) speaks through `jamflow say --engine model` (with and without a
//! reference voice, at two speeds) and dubs motion with `jamflow dub`, the output lengths following the phoneme
//! durations; a few-step `scripts/train.py --text-alignment durations` on a tiny corpus writes a package the Rust
//! side loads and speaks with. Needs espeak-ng (and for the training test the project virtualenv).

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

use jamflow::model::alignment::{frames_for_seconds, TextAlignment, TimedPhone, PAUSE};
use jamflow::model::Package;
use jamflow::runtime::tensors::write_safetensors;
use jamflow::runtime::{HostTensor, NamedTensors};
use jamflow::speech::text_input::espeak_timeline;

const RATE: u32 = 24_000;

fn seconds(wav: &Path) -> f64 {
    let w = jamflow::audio::wav::read(wav).unwrap();
    assert_eq!(w.sample_rate, RATE);
    w.frames() as f64 / RATE as f64
}

/// Whether `got` seconds of speech match `want` from the durations: pieces are whole motion frames (40 ms), and
/// espeak-ng's durations of the same text vary a few percent with what it spoke before (`espeak_timeline`).
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 0.04 + 0.06 * want
}

/// Seconds the package generates for `text` at `speed`: espeak-ng's durations at the package's mel rate.
fn expected_s(pkg: &Package, text: &str, speed: f64) -> f64 {
    let rate = pkg.config.audio.mel_rate();
    frames_for_seconds(espeak_timeline(text).unwrap().seconds / speed, rate) as f64 / rate
}

#[test]
fn random_durations_package_says_and_dubs_with_lengths_from_the_durations() {
    let d = tempfile::tempdir().unwrap();
    let pkg_dir = d.path().join("pkg");
    jamflow_ok(&["random", s(&pkg_dir), "--preset", "small-mmdit", "--text-alignment", "durations", "--seed", "3"]);
    let pkg = Package::load(&pkg_dir).unwrap();
    let tc = pkg.config.text.as_ref().unwrap();
    assert_eq!(tc.alignment, TextAlignment::Durations);
    let vocab = pkg.vocab.as_ref().unwrap();
    assert_eq!(vocab.id(PAUSE), Some(0));
    assert!(vocab.id("aI").is_some() && vocab.id("@").is_some());
    let json = std::fs::read_to_string(pkg_dir.join("model.json")).unwrap();
    assert!(json.contains("\"alignment\": \"durations\""), "{json}");

    let say = |text: &str, out: &Path, extra: &[&str]| {
        let mut args = vec!["say", text, "--engine", "model", "--package", s(&pkg_dir), "--steps", "2"];
        args.extend_from_slice(&["--durations", "espeak", "--threads", "2", "--out", s(out)]);
        args.extend_from_slice(extra);
        jamflow_ok(&args);
        seconds(out)
    };
    let text = "Open the window please.";
    let want = expected_s(&pkg, text, 1.0);
    let got = say(text, &d.path().join("a.wav"), &[]);
    assert!(close(got, want), "{got:.3} s of speech, durations give {want:.3} s");
    let fast = say(text, &d.path().join("fast.wav"), &["--speed", "2"]);
    assert!(close(fast, expected_s(&pkg, text, 2.0)) && fast < 0.6 * got, "{fast:.3} vs {got:.3} s");
    let e =
        jamflow_err(&["say", "Hi.", "--engine", "model", "--package", s(&pkg_dir), "--speed", "0", "--out", "x.wav"]);
    assert!(e.contains("--speed"), "{e}");

    // Two pieces (sentences) with their motion and where their phones lie, as `corpus truth` reads them.
    let (two, motion, phones) = (d.path().join("two.wav"), d.path().join("two.safetensors"), d.path().join("p.json"));
    let secs = say("Open the window. Then close it.", &two, &["--motion-out", s(&motion), "--phones-out", s(&phones)]);
    let m = jamflow::runtime::tensors::read_safetensors(&motion).unwrap();
    assert_eq!(m["motion"].shape, vec![(secs * 25.0).round() as usize, 12]);
    let p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&phones).unwrap()).unwrap();
    assert_eq!(p["phone_set"], "espeak");
    let list = p["phones"].as_array().unwrap();
    let times: Vec<(f64, f64)> = list.iter().map(|x| (x[1].as_f64().unwrap(), x[2].as_f64().unwrap())).collect();
    assert!(times.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].0 <= w[0].1), "{times:?}");
    let first_k = list.iter().position(|x| x[0] == "k").expect("the k of close");
    assert!(times[first_k].0 > 0.4 * secs, "the second sentence's phones come after the first's: {times:?}");
    assert!((times.last().unwrap().1 - secs).abs() < 0.2, "{:?} vs {secs:.3} s", times.last());
    jamflow_ok(&[
        "corpus",
        "truth",
        "--phones",
        s(&phones),
        "--audio",
        s(&two),
        "--out",
        s(&d.path().join("t.safetensors")),
    ]);
    let e = jamflow_err(&[
        "say",
        "Hi.",
        "--engine",
        "model",
        "--package",
        s(&pkg_dir),
        "--motion-out",
        "m.json",
        "--out",
        "x.wav",
    ]);
    assert!(e.contains("--motion-out m.json"), "{e}");

    // A reference voice: its frames take the transcript's phonemes; it sets the tempo of the new words.
    let clip = d.path().join("ref.wav");
    let ok = Command::new("espeak-ng").args(["-s", "120", "-w"]).arg(&clip).arg("Good morning.").status().unwrap();
    assert!(ok.success());
    let with_ref = say(text, &d.path().join("r.wav"), &["--reference", s(&clip), "--reference-text", "Good morning."]);
    assert!(with_ref > 1.1 * want, "{with_ref:.3} s after a slow reference, {want:.3} s without");

    // Dub: 2 s of motion -> 2 s of speech, the phonemes stretched over it.
    let motion = d.path().join("m.safetensors");
    let mut t = NamedTensors::new();
    t.insert("motion".into(), HostTensor::f32(vec![50, 12], vec![0.0; 50 * 12])); // [F, K]
    write_safetensors(&motion, &t).unwrap();
    let dub = d.path().join("dub.wav");
    let args = ["dub", "--motion", s(&motion), "--text", text, "--package", s(&pkg_dir), "--steps", "2"];
    jamflow_ok(&[&args[..], &["--threads", "2", "--out", s(&dub)]].concat());
    let secs = seconds(&dub);
    assert!((secs - 2.0).abs() < 0.05, "{secs:.3} s of speech for 2 s of motion");
}

/// Rust's per-frame ids of a corpus motion file's phone timeline over `frames` mel frames.
fn frame_ids_of(motion: &Path, vocab: &jamflow::model::vocab::Vocab, rate: f64, frames: usize) -> Vec<i64> {
    let bytes = std::fs::read(motion).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let names = meta.metadata().as_ref().unwrap()["phonemes"].clone();
    let t = read(motion);
    let (start, end) = (t["ph_start"].as_f32().unwrap(), t["ph_end"].as_f32().unwrap());
    let phones: Vec<TimedPhone> = names
        .split(' ')
        .zip(start.iter().zip(end))
        .map(|(n, (&a, &b))| TimedPhone { name: n.into(), start: a as f64, end: b as f64 })
        .collect();
    assert_eq!(phones.len(), start.len());
    vocab.frame_ids(&phones, rate, frames).unwrap().ids
}

#[test]
fn train_py_writes_a_durations_package_that_speaks() {
    let d = tempfile::tempdir().unwrap();
    let text = d.path().join("sentences.txt");
    let mut sentences = String::new();
    for w in ["bright", "paper", "moon", "window", "bubble", "garden", "music", "pepper"] {
        sentences.push_str(&format!("Maybe the {w} was old.\n%\n"));
    }
    std::fs::write(&text, sentences).unwrap();
    let corpus = d.path().join("corpus");
    let make = ["corpus", "make", "--out", s(&corpus), "--seed", "1", "--hours", "0.004", "--text", s(&text)];
    jamflow_ok(&[&make[..], &["--engines", "espeak", "--augment", "0"]].concat());
    let run = d.path().join("run");
    let out = Command::new(python())
        .arg(root().join("scripts/train.py"))
        .args(["--corpus", s(&corpus), "--out", s(&run), "--size", "tiny", "--batch", "2", "--steps", "3"])
        .args(["--log-every", "1", "--text-alignment", "durations"])
        .output()
        .expect("python");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && log.contains("text durations"), "{log}");
    let pkg_dir = run.join("package");
    let pkg = Package::load(&pkg_dir).unwrap();
    assert_eq!(pkg.config.text.as_ref().unwrap().alignment, TextAlignment::Durations);
    let vocab = pkg.vocab.as_ref().unwrap();
    assert_eq!(vocab.entry(0), Some(PAUSE));
    for name in ["m", "u:", "b"] {
        assert!(vocab.id(name).is_some(), "{name} from \"moon\", \"bubble\" is in the corpus's vocabulary");
    }
    // Training's per-frame ids (scripts/train.py `frame_phonemes`) are the ones Rust's rule gives for the same
    // timeline and mel length (`Vocab::frame_ids`).
    let code = "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import train; \
                p = Path(sys.argv[3]); cfg = json.loads((p / 'model.json').read_text()); \
                vocab = (p / 'vocab.txt').read_text().split('\\n')[:-1]; \
                c = train.Corpus(Path(sys.argv[2]), 'train', vocab, cfg); \
                print(json.dumps([{'motion': u['motion'], 'ids': t.tolist()} for u, t in zip(c.utts, c.text)]))";
    let out = Command::new(python())
        .args(["-c", code, s(&root().join("scripts")), s(&corpus), s(&pkg_dir)])
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rate = pkg.config.audio.mel_rate();
    for row in rows.as_array().unwrap() {
        let py_ids: Vec<i64> = row["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let rs = frame_ids_of(&corpus.join(row["motion"].as_str().unwrap()), vocab, rate, py_ids.len());
        assert_eq!(rs, py_ids, "{}", row["motion"]);
        assert!(py_ids.iter().filter(|&&i| i != 0).count() > py_ids.len() / 2, "mostly phonemes: {py_ids:?}");
    }
    // eval.py builds a durations package's text the same way (its tts task runs).
    let out = Command::new(python())
        .arg(root().join("scripts/eval.py"))
        .args(["--corpus", s(&corpus), "--package", s(&pkg_dir), "--task", "tts", "--limit", "1", "--steps", "2"])
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The trained package speaks through the same request builder; the length follows the durations.
    let wav = d.path().join("t.wav");
    let args = ["say", "The moon was old.", "--engine", "model", "--package", s(&pkg_dir), "--steps", "2"];
    jamflow_ok(&[&args[..], &["--durations", "espeak", "--threads", "2", "--out", s(&wav)]].concat());
    let want = expected_s(&pkg, "The moon was old.", 1.0);
    let got = seconds(&wav);
    assert!(close(got, want), "{got:.3} vs {want:.3} s");
}

//! Shared helpers of the integration tests: the PyTorch oracle (scripts/oracle.py in the project's
//! virtualenv), the `jamflow` binary, and tensor comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jamflow::runtime::tensors::read_safetensors;
use jamflow::runtime::NamedTensors;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with torch + f5-tts: `$JAMFLOW_PYTHON` or `.venv/bin/python` (scripts/setup.sh).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("JAMFLOW_PYTHON") {
        return PathBuf::from(p);
    }
    let p = root().join(".venv/bin/python");
    assert!(p.exists(), "{} missing: run scripts/setup.sh (the parity oracles need PyTorch and f5-tts)", p.display());
    p
}

/// Run `scripts/oracle.py ARGS`; panics with its stderr on failure.
pub fn oracle(args: &[&str]) {
    let out = Command::new(python())
        .arg(root().join("scripts/oracle.py"))
        .args(args)
        .output()
        .expect("running scripts/oracle.py");
    assert!(out.status.success(), "oracle {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Run `scripts/audio_oracle.py ARGS` (mel, Griffin-Lim and Vocos fixtures); panics with its stderr on failure.
pub fn audio_oracle(args: &[&str]) {
    let out = Command::new(python())
        .arg(root().join("scripts/audio_oracle.py"))
        .args(args)
        .output()
        .expect("running scripts/audio_oracle.py");
    assert!(out.status.success(), "audio_oracle {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Random-weights Vocos (`charactr/vocos-mel-24khz` layout) converted to `DIR/vocos.safetensors`, with a 40-frame
/// `DIR/mel.safetensors` and the PyPI vocos audio `DIR/expected.safetensors`.
pub fn random_vocos(dir: &Path) {
    audio_oracle(&["vocos", dir.to_str().unwrap(), "--seed", "3", "--frames", "40"]);
    let conv = Command::new(python())
        .arg(root().join("scripts/vocos_convert.py"))
        .arg(dir.join("pytorch_model.bin"))
        .arg(dir.join("vocos.safetensors"))
        .output()
        .unwrap();
    assert!(conv.status.success(), "{}", String::from_utf8_lossy(&conv.stderr));
}

/// Run the `jamflow` binary.
pub fn jamflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jamflow")).args(args).output().expect("running jamflow")
}

/// Run `jamflow` and require success.
pub fn jamflow_ok(args: &[&str]) -> String {
    let out = jamflow(args);
    assert!(
        out.status.success(),
        "jamflow {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `jamflow`, require a clean failure (exit 1, not a panic) and return stderr.
pub fn jamflow_err(args: &[&str]) -> String {
    let out = jamflow(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "jamflow {args:?} should fail with exit 1, got {}:\n{err}", out.status);
    assert!(!err.contains("panicked"), "jamflow {args:?} panicked:\n{err}");
    err
}

pub fn read(p: &Path) -> NamedTensors {
    read_safetensors(p).unwrap_or_else(|e| panic!("{e}"))
}

/// max |got - want| / max |want| over every tensor of `want` (all must exist in `got`).
pub fn rel_err(want: &NamedTensors, got: &NamedTensors, names: &[&str]) -> f32 {
    let mut worst = 0f32;
    for n in names {
        let w = want.get(*n).unwrap_or_else(|| panic!("reference has no `{n}`"));
        let g = got.get(*n).unwrap_or_else(|| panic!("output has no `{n}`"));
        assert_eq!(w.shape, g.shape, "`{n}` shape");
        let (w, g) = (w.as_f32().unwrap(), g.as_f32().unwrap());
        let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = w.iter().zip(g).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(scale > 0.0 && diff.is_finite(), "`{n}`: degenerate reference or non-finite output");
        worst = worst.max(diff / scale);
    }
    worst
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

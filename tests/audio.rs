//! The audio/text front end against its oracles (scripts/audio_oracle.py in the project venv: f5_tts and the PyPI
//! `vocos` package), WAV errors, and the `jamflow mel` / `jamflow vocode` commands.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use jamflow::audio::mel::{Mel, MelSpec};
use jamflow::audio::vocos::Vocos;
use jamflow::audio::wav;
use jamflow::model::config::AudioConfig;
use jamflow::model::vocab::Vocab;
use jamflow::runtime::tensors::write_safetensors;
use jamflow::runtime::{HostTensor, NamedTensors, OrtOptions};

/// Deterministic pseudo-random values in [-1, 1].
fn lcg(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

/// Speech-like: a gliding harmonic voice (110-220 Hz, 30 partials with a formant-like envelope), syllable-rate
/// amplitude modulation, pauses and breath noise.
fn speech_like(n: usize) -> Vec<f32> {
    let noise = lcg(7, n);
    let sr = 24_000.0f64;
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let f0 = 110.0 + 110.0 * (0.5 + 0.5 * (std::f64::consts::TAU * 0.7 * t).sin());
            phase += std::f64::consts::TAU * f0 / sr;
            let voice: f64 = (1..=30)
                .map(|h| {
                    let f = h as f64 * f0;
                    let formant =
                        (-((f - 700.0) / 300.0).powi(2)).exp() + 0.5 * (-((f - 1800.0) / 400.0).powi(2)).exp();
                    (0.05 + formant) * (h as f64 * phase).sin() / h as f64
                })
                .sum();
            let syllable = (std::f64::consts::TAU * 4.0 * t).sin().max(0.0);
            (0.3 * voice * syllable + 0.01 * noise[i] as f64) as f32
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn mel_matches_f5_oracle_on_speech_and_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let mut signals: Vec<(&str, Vec<f32>)> = vec![
        ("speech_2s", speech_like(48_000)),
        ("silence", vec![0.0; 24_000]),
        ("clipping", speech_like(24_000).iter().map(|v| (v * 20.0).clamp(-1.0, 1.0)).collect()),
        ("full_scale_noise", lcg(3, 9_999)),
        ("min_len_513", lcg(4, 513)),
        ("odd_1001", speech_like(1_001)),
        ("odd_24001", speech_like(24_001)),
        ("tiny_level", speech_like(5_000).iter().map(|v| v * 1e-6).collect()),
        ("dc_offset", vec![0.25; 3_333]),
        ("single_sample", vec![0.5]),
        ("too_short_512", lcg(5, 512)),
    ];
    signals.push(("impulse", (0..4_000).map(|i| if i == 2_000 { 1.0 } else { 0.0 }).collect()));
    let mut t = NamedTensors::new();
    for (n, x) in &signals {
        t.insert(n.to_string(), HostTensor::f32(vec![x.len()], x.clone()));
    }
    let (inp, out) = (dir.path().join("signals.safetensors"), dir.path().join("mel.safetensors"));
    write_safetensors(&inp, &t).unwrap();
    audio_oracle(&["mel", s(&inp), s(&out)]);
    let want = read(&out);
    let errors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.errors.json", out.display())).unwrap()).unwrap();

    let spec = MelSpec::new(&AudioConfig::default()).unwrap();
    for (name, x) in &signals {
        match spec.compute(x) {
            Ok(mel) => {
                let w = want.get(*name).unwrap_or_else(|| panic!("{name}: oracle failed: {}", errors[*name]));
                assert_eq!(w.shape, vec![mel.frames, mel.n_mels], "{name}");
                let d = max_abs_diff(&mel.data, w.as_f32().unwrap());
                eprintln!("{name:>18}: {} frames, max |rust - f5| = {d:.2e}", mel.frames);
                assert!(d <= 1e-4, "{name}: max abs diff {d}");
            }
            Err(e) => {
                // Too short for reflect padding: torch rejects it as well.
                assert!(errors.get(*name).is_some(), "{name}: rust rejects ({e}) but f5 accepts");
                assert!(e.to_string().contains("too short"), "{e}");
            }
        }
    }
    assert!(errors.get("single_sample").is_some() && errors.get("too_short_512").is_some());
}

#[test]
fn streaming_mel_equals_batch_over_chunk_boundaries() {
    let spec = MelSpec::new(&AudioConfig::default()).unwrap();
    let x = speech_like(30_001);
    let batch = spec.compute(&x).unwrap();
    // Irregular chunk sizes, as a microphone delivers them.
    for sizes in [vec![1usize, 255, 256, 257, 511, 4096], vec![480], vec![441, 17, 1023]] {
        let mut st = spec.stream();
        let (mut data, mut frames, mut pos, mut k) = (Vec::new(), 0, 0, 0);
        while pos < x.len() {
            let n = sizes[k % sizes.len()].min(x.len() - pos);
            let m = st.push(&x[pos..pos + n]).unwrap();
            frames += m.frames;
            data.extend(m.data);
            pos += n;
            k += 1;
        }
        let tail = st.finish().unwrap();
        frames += tail.frames;
        data.extend(tail.data);
        assert_eq!(frames, batch.frames);
        assert_eq!(data, batch.data, "chunk sizes {sizes:?}");
    }
}

fn f5_vocab() -> PathBuf {
    let out = Command::new(python())
        .args([
            "-c",
            "from importlib.resources import files; print(files('f5_tts').joinpath('infer/examples/vocab.txt'))",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn tokenizer_matches_f5_list_str_to_idx() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        "Hello world, this is a test.",
        "Wait... what?! (Really) -- yes; \"quoted\" & 'single' 100% #1 @home",
        "Crème brûlée, naïve façade, Straße, ñandú",
        "你好，世界。こんにちは",
        "emoji 🙂 and tabs\tand\nnewlines",
        " leading and trailing spaces ",
        "",
    ];
    let vocab_path = f5_vocab();
    for (vname, vpath) in [("f5", vocab_path.clone()), ("tiny", dir.path().join("tiny.txt"))] {
        if vname == "tiny" {
            std::fs::write(&vpath, " \na\nb\ne\né\n,\n.\n").unwrap();
        }
        let tp = dir.path().join("texts.json");
        std::fs::write(&tp, serde_json::to_string(&texts).unwrap()).unwrap();
        let out = dir.path().join(format!("{vname}_ids.json"));
        audio_oracle(&["tokens", s(&vpath), s(&tp), s(&out)]);
        let want: Vec<Vec<i64>> = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let v = Vocab::load(&vpath).unwrap();
        for (t, w) in texts.iter().zip(&want) {
            assert_eq!(&v.encode(t), w, "vocab {vname}, text {t:?}");
        }
    }
    // The F5 vocab knows English letters and spaces: ids are not all 0 (the test is not vacuous).
    let v = Vocab::load(&vocab_path).unwrap();
    assert!(v.encode("Hello").iter().all(|&i| i > 0));
    assert!(v.encode_checked(&"a".repeat(5000), 4096).unwrap_err().to_string().contains("5000 characters"));
}

/// A valid 16-bit PCM WAV of `n` frames.
fn pcm16(path: &Path, rate: u32, channels: u16, n: usize) {
    let spec =
        hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let x = speech_like(n);
    for v in &x {
        for _ in 0..channels {
            w.write_sample((v * 32767.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// A WAV header with `format_tag` (6 = A-law) and 8-bit samples.
fn wav_with_format_tag(format_tag: u16, bits: u16) -> Vec<u8> {
    let data = vec![0u8; 100];
    let mut b = Vec::new();
    b.extend(b"RIFF");
    b.extend(&(36 + data.len() as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(&16u32.to_le_bytes());
    b.extend(&format_tag.to_le_bytes());
    b.extend(&1u16.to_le_bytes()); // channels
    b.extend(&8000u32.to_le_bytes()); // rate
    b.extend(&(8000 * bits as u32 / 8).to_le_bytes());
    b.extend(&(bits / 8).to_le_bytes());
    b.extend(&bits.to_le_bytes());
    b.extend(b"data");
    b.extend(&(data.len() as u32).to_le_bytes());
    b.extend(data);
    b
}

#[test]
fn bad_wav_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let good = p("good.wav");
    pcm16(&good, 44_100, 2, 4410);
    let bytes = std::fs::read(&good).unwrap();

    std::fs::write(p("empty.wav"), b"").unwrap();
    std::fs::write(p("corrupt.wav"), b"this is not a RIFF file at all, just text.........").unwrap();
    std::fs::write(p("truncated_header.wav"), &bytes[..30]).unwrap();
    std::fs::write(p("truncated_data.wav"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(p("alaw.wav"), wav_with_format_tag(6, 8)).unwrap();
    std::fs::write(p("float64.wav"), wav_with_format_tag(3, 64)).unwrap();
    pcm16(&p("no_samples.wav"), 24_000, 1, 0);

    let cases = [
        ("empty.wav", "empty"),
        ("corrupt.wav", "not a valid WAV"),
        ("truncated_header.wav", "truncated"),
        ("truncated_data.wav", "truncated"),
        ("alaw.wav", "unsupported"),
        ("float64.wav", "unsupported"),
        ("no_samples.wav", "no audio samples"),
        ("missing.wav", "No such file"),
    ];
    for (name, what) in cases {
        let e = wav::read(&p(name)).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(what), "{name}: {e}");
        // The CLI reports the same, with exit 1 and no panic.
        let out = p("out.safetensors");
        let cli = jamflow_err(&["mel", s(&p(name)), "--out", s(&out)]);
        assert!(cli.contains(name) && cli.contains(what), "jamflow mel {name}: {cli}");
    }
    // A good file still reads: 44.1 kHz stereo -> 24 kHz mono.
    assert_eq!(wav::load_mono(&good, 24_000).unwrap().len(), 2400);
}

#[test]
fn mel_command_writes_frames_by_100() {
    let dir = tempfile::tempdir().unwrap();
    let (inp, out) = (dir.path().join("in.wav"), dir.path().join("mel.safetensors"));
    pcm16(&inp, 48_000, 2, 48_000);
    jamflow_ok(&["mel", s(&inp), "--out", s(&out)]);
    let t = read(&out);
    let m = &t["mel"];
    let x = wav::load_mono(&inp, 24_000).unwrap();
    let want = MelSpec::new(&AudioConfig::default()).unwrap().compute(&x).unwrap();
    assert_eq!(m.shape, vec![want.frames, 100]);
    assert_eq!(m.as_f32().unwrap(), &want.data[..]);
}

#[test]
fn griffin_lim_vocode_command() {
    let dir = tempfile::tempdir().unwrap();
    let (inp, mel, out) = (dir.path().join("in.wav"), dir.path().join("mel.safetensors"), dir.path().join("gl.wav"));
    pcm16(&inp, 24_000, 1, 12_000);
    jamflow_ok(&["mel", s(&inp), "--out", s(&mel)]);
    jamflow_ok(&["vocode", s(&mel), "--vocoder", "griffin-lim", "--iterations", "8", "--out", s(&out)]);
    let w = wav::read(&out).unwrap();
    assert_eq!((w.sample_rate, w.channels, w.samples.len()), (24_000, 1, (1 + 12_000 / 256 - 1) * 256));
    let e = jamflow_err(&["vocode", s(&mel), "--vocoder", "hifigan", "--out", s(&out)]);
    assert!(e.contains("vocos:DIR"), "{e}");
    let mut t = NamedTensors::new();
    t.insert("mel".into(), HostTensor::f32(vec![5, 80], vec![0.0; 400]));
    write_safetensors(&mel, &t).unwrap();
    let e = jamflow_err(&["vocode", s(&mel), "--out", s(&out)]);
    assert!(e.contains("[5, 80]") && e.contains("[frames, 100]"), "{e}");
}

#[test]
fn vocos_matches_pypi_vocos_on_random_weights() {
    let dir = tempfile::tempdir().unwrap();
    let vdir = dir.path().join("vocos");
    random_vocos(&vdir);
    let mel_t = read(&vdir.join("mel.safetensors"));
    let m = &mel_t["mel"];
    let mel = Mel { frames: m.shape[0], n_mels: m.shape[1], data: m.as_f32().unwrap().to_vec() };
    let want = read(&vdir.join("expected.safetensors"));
    let want = want["audio"].as_f32().unwrap();
    let mut v = Vocos::load(&vdir, &AudioConfig::default(), &OrtOptions::default()).unwrap();
    assert_eq!((v.config.dim, v.config.intermediate_dim, v.config.num_layers), (512, 1536, 8));
    let got = v.vocode(&mel).unwrap();
    assert_eq!(got.len(), 40 * 256);
    let scale = want.iter().fold(0f32, |m, x| m.max(x.abs()));
    let d = max_abs_diff(&got, want);
    eprintln!("vocos: max |rust - pypi| = {d:.2e} (signal peak {scale:.3})");
    assert!(scale > 1e-2, "degenerate reference (peak {scale})");
    assert!(d <= 1e-4, "max abs diff {d}");

    // The CLI path.
    let out = dir.path().join("v.wav");
    let vocoder = format!("vocos:{}", vdir.display());
    jamflow_ok(&["vocode", s(&vdir.join("mel.safetensors")), "--vocoder", &vocoder, "--out", s(&out)]);
    assert_eq!(wav::read(&out).unwrap().samples.len(), 40 * 256);
}

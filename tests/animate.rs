//! `jamflow animate` (issue 11): anyone's recording (any rate, channels, length) -> mouth motion in windows ->
//! a talking video with the audio muxed in, or the motion; odd or corrupt audio gets the named errors of
//! `jamflow mel`. Uses the shipped default model and espeak-ng speech made here.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

/// ~11 s of speech as a 44.1 kHz stereo WAV (espeak-ng, resampled and duplicated to two channels by ffmpeg).
fn speech(dir: &Path) -> std::path::PathBuf {
    let mono = dir.join("mono.wav");
    let text = "Hello there, my name is Bob. I would like a big bowl of soup please. Maybe tomorrow we can walk \
                to the market and buy bread and pepper. Open the window, the room is too warm.";
    assert!(Command::new("espeak-ng").arg("-w").arg(&mono).arg(text).status().unwrap().success());
    let out = dir.join("speech44.wav");
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(&mono)
        .args(["-ar", "44100", "-ac", "2"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    out
}

fn opening(m: &[f32]) -> Vec<f32> {
    m.chunks_exact(12).map(|f| f[4] - f[1]).collect()
}

fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f32>() as f64 / n, b.iter().sum::<f32>() as f64 / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (*x as f64 - ma, *y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

#[test]
fn any_wav_becomes_motion_and_a_talking_video() {
    let d = tempfile::tempdir().unwrap();
    let wav = speech(d.path());
    let secs = {
        let w = jamflow::audio::wav::read(&wav).unwrap();
        w.frames() as f64 / w.sample_rate as f64
    };
    assert!(secs > 9.0, "the clip spans several windows: {secs} s");
    // Motion: one frame per 40 ms of the whole recording, in 4 s windows and in 8 s windows.
    let (m4, m8) = (d.path().join("m4.safetensors"), d.path().join("m8.safetensors"));
    jamflow_ok(&["animate", s(&wav), "--out", s(&m4), "--window-s", "4", "--threads", "2"]);
    jamflow_ok(&["animate", s(&wav), "--out", s(&m8), "--threads", "2"]);
    let (a, b) = (read(&m4), read(&m8));
    let (a, b) = (a["motion"].as_f32().unwrap(), b["motion"].as_f32().unwrap());
    let mel_frames = (secs * 24_000.0).round() as usize / 256 + 1;
    let want = (mel_frames as f64 * 25.0 / 93.75).ceil() as usize;
    assert!((a.len() / 12).abs_diff(want) <= 1 && a.len() == b.len(), "{} frames, want {want}", a.len() / 12);
    assert!(a.iter().all(|v| v.is_finite()));
    let (oa, ob) = (opening(a), opening(b));
    let max = oa.iter().cloned().fold(0.0f32, f32::max);
    assert!(max > 0.05, "the mouth opens on speech: max opening {max}");
    // Windows and seams change the sampling noise, not what the lips follow.
    let r = pearson(&oa, &ob);
    assert!(r > 0.8, "4 s and 8 s windows agree: r {r:.3}");

    // Video: H.264 + AAC, as long as the audio.
    let mp4 = d.path().join("talk.mp4");
    jamflow_ok(&["animate", s(&wav), "--out", s(&mp4), "--size", "256", "--threads", "2"]);
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name,duration", "-of", "csv=p=0"])
        .arg(&mp4)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&probe.stdout);
    let streams: Vec<(&str, f64)> =
        text.lines().filter_map(|l| l.split_once(',').map(|(c, t)| (c, t.trim().parse().unwrap_or(0.0)))).collect();
    assert_eq!(streams.iter().map(|s| s.0).collect::<Vec<_>>(), ["h264", "aac"], "{text}");
    for (c, t) in streams {
        assert!((t - secs).abs() < 0.1, "{c} lasts {t} s, the audio {secs} s");
    }
}

#[test]
fn bad_audio_and_outputs_are_named_errors() {
    let d = tempfile::tempdir().unwrap();
    let junk = d.path().join("junk.wav");
    std::fs::write(&junk, b"RIFF\x00\x00\x00\x00WAVEjunk").unwrap();
    let e = jamflow_err(&["animate", s(&junk), "--out", s(&d.path().join("o.mp4"))]);
    assert!(e.contains("junk.wav"), "{e}");
    let empty = d.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let e = jamflow_err(&["animate", s(&empty), "--out", s(&d.path().join("o.mp4"))]);
    assert!(e.contains("empty.wav") && e.contains("empty"), "{e}");
    let e = jamflow_err(&["animate", s(&empty), "--out", s(&d.path().join("o.txt"))]);
    assert!(e.contains("o.txt") && e.contains(".mp4"), "{e}");
    let short = d.path().join("short.wav");
    jamflow::audio::wav::write(&short, 16_000, &[0.0; 100], jamflow::audio::wav::WavFormat::Pcm16).unwrap();
    let e = jamflow_err(&["animate", s(&short), "--out", s(&d.path().join("o.safetensors"))]);
    assert!(e.contains("short") || e.contains("samples"), "{e}");
}

//! ALSA capture through the real alsa-lib code path, with no sound card: the ALSA `file` plugin reads the
//! "captured" data from `infile` (a raw file the test writes), configured in a `.asoundrc` in a temporary HOME.
//! alsa-lib reads its configuration once per process, so everything runs in one test function.

use std::io::Write;
use std::path::Path;

use jamflow::audio::capture::{Capture, CaptureConfig, CaptureEvent, MicStream, SampleFormat};
use jamflow::audio::resample::resample;

/// Known interleaved signal: `frames` x `channels`, distinct per channel, full range included.
fn known(frames: usize, channels: usize) -> Vec<f64> {
    (0..frames * channels)
        .map(|i| {
            let (t, c) = (i / channels, i % channels);
            let v = ((t as f64 * 0.013 * (c + 1) as f64).sin() * 1.1).clamp(-1.0, 1.0);
            if t % 1000 == 0 {
                -1.0
            } else {
                v
            }
        })
        .collect()
}

fn write_raw(path: &Path, format: SampleFormat, x: &[f64]) -> Vec<f32> {
    let mut f = std::fs::File::create(path).unwrap();
    let mut as_f32 = Vec::new();
    for &v in x {
        match format {
            SampleFormat::S16 => {
                let s = (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
                f.write_all(&s.to_ne_bytes()).unwrap();
                as_f32.push(s as f32 / 32_768.0);
            }
            SampleFormat::S32 => {
                let s = (v * 2_147_483_647.0).round() as i32;
                f.write_all(&s.to_ne_bytes()).unwrap();
                as_f32.push(s as f32 / 2_147_483_648.0);
            }
            SampleFormat::F32 => {
                let s = v as f32;
                f.write_all(&s.to_ne_bytes()).unwrap();
                as_f32.push(s);
            }
        }
    }
    as_f32
}

/// Read until `n` mono samples were captured.
fn capture_n(cap: &mut Capture, n: usize) -> Vec<f32> {
    let mut got = Vec::new();
    let mut start = None;
    let mut last_time = None;
    while got.len() < n {
        match cap.read().unwrap() {
            CaptureEvent::Audio(c) => {
                // Frame indices are contiguous; timestamps are monotonic.
                let s = *start.get_or_insert(c.frame_index);
                assert_eq!(c.frame_index, s + got.len() as u64);
                assert!(last_time.is_none_or(|t| c.timestamp >= t));
                last_time = Some(c.timestamp);
                got.extend(c.samples);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    got.truncate(n);
    got
}

#[test]
fn captures_known_signal_through_the_file_plugin() {
    let home = tempfile::tempdir().unwrap();
    let cases = [
        ("jf_s16_stereo", SampleFormat::S16, 2usize, 48_000u32),
        ("jf_s32_mono", SampleFormat::S32, 1, 44_100),
        ("jf_f32_stereo", SampleFormat::F32, 2, 16_000),
    ];
    let frames = 480 * 10;
    let mut asoundrc = String::new();
    let mut expected = Vec::new();
    for (name, fmt, ch, _) in cases {
        let raw = home.path().join(format!("{name}.raw"));
        // Twice the frames read: the plugin repeats stale data past the end of its input.
        let x = known(frames * 2, ch);
        let as_f32 = write_raw(&raw, fmt, &x);
        let mono: Vec<f32> = as_f32.chunks_exact(ch).map(|f| f.iter().sum::<f32>() / ch as f32).take(frames).collect();
        expected.push(mono);
        asoundrc.push_str(&format!(
            "pcm.{name} {{\n  type file\n  slave.pcm \"null\"\n  file \"/dev/null\"\n  infile \"{}\"\n  format \"raw\"\n}}\n",
            raw.display()
        ));
    }
    std::fs::write(home.path().join(".asoundrc"), asoundrc).unwrap();
    std::env::set_var("HOME", home.path());

    for ((name, fmt, ch, rate), want) in cases.iter().zip(&expected) {
        let cfg = CaptureConfig {
            device: name.to_string(),
            rate: *rate,
            channels: *ch as u32,
            format: Some(*fmt),
            ..Default::default()
        };
        let mut cap = Capture::open(&cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let neg = cap.negotiated();
        assert_eq!((neg.format, neg.channels, neg.rate), (*fmt, *ch as u32, *rate), "{name}");
        assert!(neg.period_frames > 0 && neg.buffer_frames >= 2 * neg.period_frames, "{name}: {neg:?}");
        let got = capture_n(&mut cap, frames);
        // Byte-exact after conversion to mono f32.
        let same = got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits());
        let first = got.iter().zip(want).position(|(a, b)| a.to_bits() != b.to_bits());
        assert!(same, "{name}: first mismatch at {first:?}");
        assert_eq!(cap.xruns().load(std::sync::atomic::Ordering::Relaxed), 0);

        // Reopen: negotiates again and reads the input from its start.
        cap.reopen().unwrap();
        let again = capture_n(&mut cap, 480);
        assert_eq!(&again[..], &want[..480], "{name} after reopen");
    }

    // Auto negotiation: no forced format picks the first of S16, S32, F32 the device offers.
    let auto = Capture::open(&CaptureConfig { device: "jf_s16_stereo".into(), ..Default::default() }).unwrap();
    assert_eq!(auto.negotiated().format, SampleFormat::S16);

    // The model-rate microphone: 48 kHz stereo S16 -> 24 kHz mono, equal to resampling the captured signal.
    let mut mic =
        MicStream::open(&CaptureConfig { device: "jf_s16_stereo".into(), channels: 2, ..Default::default() }, 24_000)
            .unwrap();
    let mut got = Vec::new();
    let mut next_index = 0;
    while got.len() < 2400 {
        match mic.read().unwrap() {
            CaptureEvent::Audio(c) => {
                assert_eq!(c.frame_index, next_index);
                next_index += c.samples.len() as u64;
                got.extend(c.samples);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // (The batch reference ends at sample 2400, where it is zero-padded: compare away from its end.)
    let want = resample(&expected[0], 48_000, 24_000).unwrap();
    let d = got[..2000].iter().zip(&want[..2000]).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(d < 1e-6, "streamed resampling differs from batch by {d}");

    // A missing device: the documented error, naming the device.
    let e = Capture::open(&CaptureConfig { device: "jamflow_no_such_mic".into(), ..Default::default() })
        .err()
        .expect("missing device must fail")
        .to_string();
    assert!(e.contains("jamflow_no_such_mic") && e.contains("cannot open capture device"), "{e}");
}

//! Tests of the live source: real-time playback through a running `LiveSource` with stub models.

use super::*;
use crate::audio::capture::CaptureEvent;
use crate::live::{ChunkPlan, HistoryMotion};
use crate::stream::Rates;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Motion = the RMS of each frame's audio in channel 0: what the timeline shows must match the audio it plays.
struct Energy {
    spf: usize,
}
impl MotionModel for Energy {
    fn motion_dim(&self) -> usize {
        2
    }
    fn window(&mut self, audio: &[f32], frames: usize, known: &[f32]) -> Result<Vec<f32>, StreamError> {
        assert_eq!(audio.len(), frames * self.spf);
        assert!(known.len() <= frames * 2);
        Ok(audio.chunks(self.spf).flat_map(|c| [rms(c), 0.0]).collect())
    }
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

struct Blank;
impl Renderer for Blank {
    fn name(&self) -> &'static str {
        "blank"
    }
    fn layouts(&self) -> Vec<crate::model::config::MotionLayout> {
        vec![crate::model::config::MotionLayout::Mouth4_2d]
    }
    fn frame_size(&self) -> (u32, u32) {
        (16, 16)
    }
    fn render(&mut self, _m: &[f32], _i: u64) -> Result<image::RgbImage, crate::render::RenderError> {
        Ok(image::RgbImage::new(16, 16))
    }
}

/// The test sources' options: 160 ms chunks, 80 ms of history and of look-ahead at 25 fps, 24 kHz audio.
fn options(input: AudioInput) -> LiveOptions {
    LiveOptions {
        input,
        plan: ChunkPlan::from_ms(160, 80, 80, 25),
        margin_frames: 2,
        motion_udp: None,
        rates: Rates { fps: 25, sample_rate: 24_000 },
    }
}

/// `x` (24 kHz) written to DIR/NAME, played looped.
fn looped_wav(dir: &std::path::Path, name: &str, x: &[f32]) -> AudioInput {
    let wav = dir.join(name);
    crate::audio::wav::write(&wav, 24_000, x, crate::audio::wav::WavFormat::F32).unwrap();
    AudioInput::Wav { path: wav, looped: true }
}

/// Frames 0..n pulled from `src` in real time (each at its PTS from now); `each` sees every filled frame.
fn play(src: &mut LiveSource, n: u64, mut each: impl FnMut(&LiveSource, u64, &AvChunk)) {
    let fmt = src.format();
    let t0 = Instant::now();
    let mut chunk = AvChunk::default();
    for i in 0..n {
        let due = t0 + Duration::from_nanos(fmt.frame_pts_ns(i));
        if let Some(w) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        src.fill(ChunkTime { index: i, pts_ns: fmt.frame_pts_ns(i) }, &mut chunk).unwrap();
        each(src, i, &chunk);
    }
}

#[test]
fn shown_motion_belongs_to_the_audio_played_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let sr = 24_000;
    // 3 s: bursts of different loudness, so a shift by any number of frames changes the pairing.
    let x: Vec<f32> = (0..3 * sr)
        .map(|i| {
            let f = i / 960;
            let amp = if f % 7 < 3 { 0.1 * (1 + f % 5) as f32 } else { 0.0 };
            amp * if i % 2 == 0 { 1.0 } else { -1.0 }
        })
        .collect();
    let opts = options(looped_wav(dir.path(), "bursts.wav", &x));
    let stats = Arc::new(LiveStats::default());
    let mut src =
        LiveSource::start(&opts, Box::new(Energy { spf: 960 }), None, Some(Box::new(Blank)), "test", stats.clone())
            .unwrap();
    let delay = src.delay_frames();
    let (mut checked, mut late) = (0, 0);
    play(&mut src, delay + 60, |src, n, chunk| {
        // (A frame shown late on a loaded machine holds the previous motion by design: not checked. Only `fill`
        // counts late frames, so a count unchanged since the previous frame means this one was on time.)
        let late_now = stats.late_frames.load(Ordering::Relaxed);
        if n >= delay + 4 && late_now == late {
            let want = rms(&chunk.audio);
            assert!((src.last[0] - want).abs() < 1e-4, "frame {n}: motion {} for audio rms {want}", src.last[0]);
            checked += 1;
        }
        late = late_now;
    });
    assert!(checked >= 40, "only {checked} frames on time");
    assert!(stats.windows.load(Ordering::Relaxed) >= 10);
    assert!(stats.latency_count.load(Ordering::Relaxed) > 0);
}

/// Each window's motion is its own call number (channel 0) on every frame; it records the known motion it was
/// given. A blend of two windows shows as a fraction.
struct Numbered {
    calls: u32,
    known: Arc<Mutex<Vec<usize>>>,
}
impl MotionModel for Numbered {
    fn motion_dim(&self) -> usize {
        2
    }
    fn window(&mut self, _audio: &[f32], frames: usize, known: &[f32]) -> Result<Vec<f32>, StreamError> {
        self.calls += 1;
        self.known.lock().unwrap().push(known.len() / 2);
        Ok((0..frames).flat_map(|_| [self.calls as f32, 0.0]).collect())
    }
}

/// The motion a live source put on its timeline over ~2 s of a looped WAV, and the known frames each window was
/// given.
fn shown_with(history_motion: HistoryMotion) -> (Vec<f32>, Vec<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f32> = (0..24_000).map(|i| if i % 2 == 0 { 0.2 } else { -0.2 }).collect();
    let mut opts = options(looped_wav(dir.path(), "tone.wav", &x));
    opts.plan = opts.plan.with_history_motion(history_motion);
    let known = Arc::new(Mutex::new(Vec::new()));
    let model = Box::new(Numbered { calls: 0, known: known.clone() });
    let stats = Arc::new(LiveStats::default());
    let mut src = LiveSource::start(&opts, model, None, Some(Box::new(Blank)), "test", stats).unwrap();
    let mut shown = Vec::new();
    let frames = src.delay_frames() + 40;
    play(&mut src, frames, |src, n, _| {
        // What the model thread put on the motion timeline for this frame (a late frame eases to rest instead).
        let m = n.checked_sub(src.shared.delay);
        if let Some(v) = m.and_then(|m| src.shared.motion.lock().unwrap().get(m).cloned()) {
            shown.push(v[0]);
        }
    });
    drop(src);
    let known = known.lock().unwrap().clone();
    (shown, known)
}

#[test]
fn a_generated_history_is_sampled_afresh_and_shown_uncut_a_known_one_is_given_and_cross_faded() {
    let (shown, known) = shown_with(HistoryMotion::Generated);
    assert!(known.iter().all(|&k| k == 0), "generated: no window is given motion: {known:?}");
    assert!(shown.len() > 20 && shown.iter().all(|v| v.fract() == 0.0), "generated: no blend: {shown:?}");

    let (shown, known) = shown_with(HistoryMotion::Known);
    assert!(known.iter().filter(|&&k| k == 2).count() > 5, "known: the 2 history frames are given: {known:?}");
    assert!(shown.iter().any(|v| v.fract() != 0.0), "known: seams cross-faded: {shown:?}");
}

/// A mic that delivers 1 s of a 0.5 square wave, is lost, refuses to open twice, then comes back.
#[derive(Default)]
struct Script {
    opens: u32,
    reads: u32,
    index: u64,
}
struct ScriptedMic(Arc<Mutex<Script>>);
impl Mic for ScriptedMic {
    fn read(&mut self) -> Result<CaptureEvent, crate::audio::AudioError> {
        let mut s = self.0.lock().unwrap();
        s.reads += 1;
        if s.opens == 1 && s.reads > 100 {
            return Ok(CaptureEvent::DeviceLost { reason: "unplugged (scripted)".into() });
        }
        let samples: Vec<f32> = (0..240).map(|i| if i % 2 == 0 { 0.5 } else { -0.5 }).collect();
        let frame_index = s.index;
        s.index += 240;
        Ok(CaptureEvent::Audio(crate::audio::capture::Chunk { samples, timestamp: Instant::now(), frame_index }))
    }
}

#[test]
fn a_lost_mic_leaves_the_stream_idle_and_is_reopened() {
    let script = Arc::new(Mutex::new(Script::default()));
    let (sc, mut attempts) = (script.clone(), 0);
    let open: MicOpener = Box::new(move || {
        attempts += 1;
        // Attempt 1 opens; 2 and 3 (after the loss) fail; 4 opens again.
        if attempts == 2 || attempts == 3 {
            return Err(crate::audio::AudioError::Capture { device: "scripted".into(), msg: "no such device".into() });
        }
        let mut s = sc.lock().unwrap();
        s.opens += 1;
        s.reads = 0;
        Ok(Box::new(ScriptedMic(sc.clone())) as Box<dyn Mic>)
    });
    let opts = options(AudioInput::Alsa { device: "scripted".into() });
    let stats = Arc::new(LiveStats::default());
    let model = Box::new(Energy { spf: 960 });
    let mut src = LiveSource::launch(
        &opts,
        Some(("scripted".into(), open)),
        model,
        None,
        Some(Box::new(Blank)),
        "test",
        stats.clone(),
    )
    .unwrap();
    let mut shown = Vec::new();
    play(&mut src, 125, |src, _, chunk| shown.push((src.last[0], rms(&chunk.audio))));
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!(script.lock().unwrap().opens, 2, "reopened once the device was back");
    assert_eq!(get(&stats.input_losses), 1);
    assert_eq!(get(&stats.input_opens), 2);
    // Speech, then a silent idle gap, then speech again: the stream never stopped.
    let loud: Vec<bool> = shown.iter().map(|&(_, a)| a > 0.4).collect();
    let first = loud.iter().position(|&l| l).expect("mic audio before the loss");
    let gap = (first..loud.len() - 10).find(|&i| loud[i..i + 10].iter().all(|&l| !l)).expect("a gap after the loss");
    assert!(loud[gap..].iter().any(|&l| l), "mic audio after the reopen");
    assert!(shown[gap..].iter().take(10).all(|&(m, _)| m < 0.45), "idle motion during the gap");
    assert!(get(&stats.windows) >= 8);
}

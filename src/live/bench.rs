//! Throughput of the live path without real-time pacing: chunked audio -> motion windows exactly as the live
//! source runs them, the renderer on every frame, and the real encoder pipeline (H.264 + AAC into an MP4), as fast
//! as the machine goes. Real-time factor = wall time / media time (<= 1 keeps up; the target is 0.35).

use std::path::Path;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use image::RgbImage;

use super::plan::ChunkPlan;
use super::window::MotionModel;
use crate::render::Renderer;
use crate::stream::pipeline::{self, EncoderSettings, Mp4Output, Outputs};
use crate::stream::streamer::{finish, push};
use crate::stream::{AvChunk, Rates, StreamError, StreamFormat};

/// What one throughput run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub media_s: f64,
    pub wall_s: f64,
    /// Time in the model (all windows), the renderer (all frames), and pushing/encoding (the rest).
    pub model_s: f64,
    pub render_s: f64,
    pub windows: usize,
    pub frames: u64,
}

impl Throughput {
    /// Wall time over media time.
    pub fn rtf(&self) -> f64 {
        self.wall_s / self.media_s
    }
    /// Mean model time per window (seconds).
    pub fn per_window_s(&self) -> f64 {
        self.model_s / self.windows.max(1) as f64
    }
}

/// Appsrc fill level above which the bench waits for the encoder (frames), so nothing is dropped.
const MAX_QUEUED_FRAMES: u64 = 4;

/// Run `audio` (mono, at `rates.sample_rate`) through the live path as fast as possible into an MP4 at `mp4`.
pub fn throughput(
    model: &mut dyn MotionModel,
    renderer: &mut dyn Renderer,
    audio: &[f32],
    rates: Rates,
    plan: ChunkPlan,
    enc: &EncoderSettings,
    mp4: &Path,
) -> Result<Throughput, StreamError> {
    crate::stream::init()?;
    let (w, h) = renderer.frame_size();
    let format = StreamFormat::new(w, h, rates);
    format.check()?;
    let spf = format.samples_per_frame();
    let k = model.motion_dim();
    let frames = audio.len() / spf;
    if frames < plan.chunk {
        return Err(StreamError::Config(format!("bench audio shorter than one chunk ({} frames)", plan.chunk)));
    }
    let outputs = Outputs { mp4: Some(Mp4Output::new(mp4)), ..Outputs::default() };
    let built = pipeline::build(&format, &outputs, enc, Some(mp4), false)?;
    built.pipeline.set_state(gst::State::Playing)?;
    let sample = |f: usize, i: usize| audio.get(f * spf + i).copied().unwrap_or(0.0);
    let mut shown: Vec<f32> = Vec::with_capacity(frames * k);
    let (mut model_s, mut render_s, mut windows) = (0.0, 0.0, 0);
    let mut chunk = AvChunk { rgb: vec![0; format.frame_bytes()], audio: Vec::new() };
    let t0 = Instant::now();
    let mut c0 = 0usize;
    while c0 < frames {
        let (h0, n) = plan.span(c0 as u64);
        let h0 = h0 as usize;
        let win: Vec<f32> = (0..n * spf).map(|i| sample(h0 + i / spf, i % spf)).collect();
        let t = Instant::now();
        let motion = model.window(&win, n, &shown[h0 * k..c0 * k])?; // [n, K]
        model_s += t.elapsed().as_secs_f64();
        windows += 1;
        let first = c0 - h0;
        for f in c0..(c0 + plan.chunk).min(frames) {
            let m = &motion[(first + f - c0) * k..(first + f - c0 + 1) * k];
            shown.extend_from_slice(m);
            let t = Instant::now();
            let mut img = RgbImage::from_raw(w, h, std::mem::take(&mut chunk.rgb)).expect("frame-sized buffer");
            renderer.render_into(m, f as u64, &mut img).map_err(|e| StreamError::Source(e.to_string()))?;
            chunk.rgb = img.into_raw();
            render_s += t.elapsed().as_secs_f64();
            chunk.audio.clear();
            chunk.audio.extend((0..spf).map(|i| sample(f, i)));
            while built.video_src.current_level_bytes() > MAX_QUEUED_FRAMES * format.frame_bytes() as u64 {
                std::thread::sleep(Duration::from_millis(1));
            }
            push(&built, &format, f as u64, &chunk)?;
        }
        c0 += plan.chunk;
    }
    let clean = finish(&built, Duration::from_secs(30));
    let wall_s = t0.elapsed().as_secs_f64();
    if !clean {
        return Err(StreamError::Gst("the encoder did not finish the bench stream".into()));
    }
    Ok(Throughput {
        media_s: frames as f64 / format.fps as f64,
        wall_s,
        model_s,
        render_s,
        windows,
        frames: frames as u64,
    })
}

/// What [`say_latency`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SayLatency {
    /// Request -> first frame of speech, per run (seconds).
    pub first_frame_s: Vec<f64>,
    /// Frames of silence between pieces of the one utterance played to its end (synthesis fell behind).
    pub gap_frames: u64,
    /// Seconds of that utterance.
    pub utterance_s: f64,
}

/// Longest wait for speech to start or end before the bench gives up.
const SAY_TIMEOUT: Duration = Duration::from_secs(60);

/// Request-to-first-speech-frame of `/say` through `source` driven on the system clock (one frame every 1/fps, as
/// the streamer pulls them, rendering included; no encoder): `text` is said `runs` times, each interrupted once it
/// speaks, then once played to its end to count gaps between its pieces. `progress(run)` after each run.
pub fn say_latency(
    source: &mut super::LiveSource,
    text: &str,
    runs: usize,
    mut progress: impl FnMut(usize),
) -> Result<SayLatency, StreamError> {
    use crate::stream::{AvSource, ChunkTime};
    use std::sync::atomic::Ordering;
    let control = source.speech_control();
    let stats = source.stats();
    let format = source.format();
    let mut chunk = AvChunk { rgb: Vec::new(), audio: Vec::new() };
    let t0 = Instant::now();
    let mut n = 0u64;
    // Pull the next frame at its slot on the system clock; returns the slot's instant.
    let mut frame = |source: &mut super::LiveSource| -> Result<Instant, StreamError> {
        let pts_ns = format.frame_pts_ns(n);
        let slot = t0 + Duration::from_nanos(pts_ns);
        if let Some(wait) = slot.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        source.fill(ChunkTime { index: n, pts_ns }, &mut chunk)?;
        n += 1;
        Ok(slot)
    };
    let say = |control: &super::SpeechControl| {
        control
            .say(super::SayRequest { text: text.to_string(), reference: None })
            .map_err(|e| StreamError::Config(format!("/say refused the bench text: {e}")))
    };
    let mut first_frame_s = Vec::with_capacity(runs);
    for run in 0..runs + 1 {
        // Settle: a few idle frames, nothing queued.
        let mut idle = 0;
        while control.busy() || idle < 5 {
            frame(source)?;
            idle += 1;
            if t0.elapsed() > SAY_TIMEOUT * (run as u32 + 2) {
                return Err(StreamError::Source("speech did not stop after an interrupt".into()));
            }
        }
        let before = stats.speech_frames.load(Ordering::Relaxed);
        let gaps_before = stats.speech_gap_frames.load(Ordering::Relaxed);
        let asked = Instant::now();
        say(&control)?;
        loop {
            let slot = frame(source)?;
            if stats.speech_frames.load(Ordering::Relaxed) > before {
                if run < runs {
                    first_frame_s.push(slot.saturating_duration_since(asked).as_secs_f64());
                    control.interrupt();
                    progress(run + 1);
                    break;
                }
            } else if asked.elapsed() > SAY_TIMEOUT {
                return Err(StreamError::Source("no speech within 60 s of the request".into()));
            }
            if run == runs && !control.busy() {
                let frames = stats.speech_frames.load(Ordering::Relaxed) - before;
                return Ok(SayLatency {
                    first_frame_s,
                    gap_frames: stats.speech_gap_frames.load(Ordering::Relaxed) - gaps_before,
                    utterance_s: frames as f64 / format.fps as f64,
                });
            }
        }
    }
    Err(StreamError::Source("the bench ended before its final run".into()))
}

//! Model windows: the [`MotionModel`] trait (audio -> motion over one `[history | chunk | look-ahead]` window),
//! the package-less models ([`RestModel`], the sync probe's [`ClickDetector`]), and the model thread that runs one
//! window per chunk as soon as its look-ahead audio has arrived (and, with a known history, cross-fades the seams).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::plan::{ChunkPlan, HistoryMotion};
use super::source::Shared;
use crate::model::alignment::TimedPhone;
use crate::stream::StreamError;

/// Audio -> motion over one window.
pub trait MotionModel: Send {
    /// Values per motion frame.
    fn motion_dim(&self) -> usize;
    /// Motion `[frames * K]` for `audio` (exactly `frames * samples_per_frame` samples at the stream rate) whose
    /// first `known.len() / K` frames of motion are given.
    fn window(&mut self, audio: &[f32], frames: usize, known: &[f32]) -> Result<Vec<f32>, StreamError>;
    /// [`MotionModel::window`] where the phones spoken in the window are known too (eSpeak names, seconds from the
    /// window's start): a model that reads them (a `durations` package) follows them; by default the audio alone.
    fn window_with_phones(
        &mut self,
        audio: &[f32],
        frames: usize,
        known: &[f32],
        phones: &[TimedPhone],
    ) -> Result<Vec<f32>, StreamError> {
        let _ = phones;
        self.window(audio, frames, known)
    }
}

/// Motion for a package-less daemon (input `none`): the rest pose.
pub struct RestModel {
    pub k: usize,
}

impl MotionModel for RestModel {
    fn motion_dim(&self) -> usize {
        self.k
    }
    fn window(&mut self, _audio: &[f32], frames: usize, _known: &[f32]) -> Result<Vec<f32>, StreamError> {
        Ok(vec![0.0; frames * self.k])
    }
}

/// Sync probe through the live path: the "model" marks every frame whose window audio holds a click (channel 0 =
/// 1), and [`crate::render::probe::ProbeRenderer`] flashes a white marker on those frames. Audio and marker then
/// travel the whole live path (input timeline, model thread, motion timeline, delay, pipeline) and their offset is
/// measured at the output.
pub struct ClickDetector {
    pub k: usize,
}

/// Sample magnitude that counts as a click.
pub const CLICK_LEVEL: f32 = 0.3;

impl MotionModel for ClickDetector {
    fn motion_dim(&self) -> usize {
        self.k
    }
    fn window(&mut self, audio: &[f32], frames: usize, _known: &[f32]) -> Result<Vec<f32>, StreamError> {
        let mut m = vec![0.0; frames * self.k];
        for (f, c) in audio.chunks(audio.len() / frames.max(1)).take(frames).enumerate() {
            if c.iter().any(|v| v.abs() > CLICK_LEVEL) {
                m[f * self.k] = 1.0;
            }
        }
        Ok(m)
    }
}

/// Cross-fade weight of frame `i` of `n` overlapping frames (new output's share).
fn fade(i: usize, n: usize) -> f32 {
    (i + 1) as f32 / (n + 1) as f32
}

pub(super) fn model_thread(sh: &Shared, plan: ChunkPlan, model: &mut dyn MotionModel) {
    let spf = sh.format.samples_per_frame() as u64;
    let k = sh.k;
    // Next chunk's first media frame; the previous window's look-ahead motion (for the cross-fade).
    let mut next: Option<u64> = None;
    let mut lookahead_prev: Vec<f32> = Vec::new();
    while !sh.stop.load(Ordering::SeqCst) {
        // Wait for the audio of [chunk | look-ahead].
        let audio_end = {
            let mut line = sh.audio.lock().expect("audio lock");
            loop {
                if sh.stop.load(Ordering::SeqCst) {
                    return;
                }
                if !line.data.is_empty() {
                    let c0 = *next.get_or_insert(line.start / spf);
                    if line.end() >= (c0 + (plan.chunk + plan.lookahead) as u64) * spf {
                        break line.end();
                    }
                }
                line = sh.audio_cv.wait_timeout(line, Duration::from_millis(100)).expect("audio lock").0;
            }
        };
        let mut c0 = next.expect("set while waiting");
        // Skip ahead when the chunk could no longer be shown in time (input gap, model too slow).
        let newest = audio_end / spf;
        let latest_start = newest.saturating_sub((plan.chunk + plan.lookahead) as u64);
        if latest_start > c0 + plan.chunk as u64 {
            let skipped = (latest_start - c0) / plan.chunk as u64;
            sh.stats.stream.late_chunks.fetch_add(skipped, Ordering::Relaxed);
            c0 += skipped * plan.chunk as u64;
            lookahead_prev.clear();
        }
        let (h0, frames) = plan.span(c0);
        let mut audio = vec![0.0; frames * spf as usize];
        sh.audio.lock().expect("audio lock").read(h0 * spf, &mut audio);
        // Motion known over the history (`HistoryMotion::Known`): what was (or will be) shown.
        let known_frames = plan.known_frames(h0, c0);
        let known: Vec<f32> = {
            let line = sh.motion.lock().expect("motion lock");
            let mut v = Vec::with_capacity(known_frames * k);
            for f in h0..h0 + known_frames as u64 {
                match line.get(f) {
                    Some(m) => v.extend_from_slice(m),
                    None => break,
                }
            }
            v
        };
        let known = if known.len() == known_frames * k { known } else { Vec::new() };
        // Without a known history the window still starts at h0, with all motion generated.
        let t0 = Instant::now();
        let result = model.window(&audio, frames, &known);
        let took = t0.elapsed();
        sh.stats.windows.fetch_add(1, Ordering::Relaxed);
        sh.stats.window_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        sh.stats.chunk_audio_us.fetch_add(plan.chunk as u64 * 1_000_000 / sh.format.fps as u64, Ordering::Relaxed);
        match result {
            Ok(motion) if motion.len() == frames * k => {
                let first = (c0 - h0) as usize;
                let mut out: Vec<Vec<f32>> =
                    (first..first + plan.chunk).map(|f| motion[f * k..(f + 1) * k].to_vec()).collect();
                // Cross-fade the seam with the previous window's look-ahead (kept with a known history only).
                let n = (lookahead_prev.len() / k).min(out.len());
                for (i, frame) in out.iter_mut().take(n).enumerate() {
                    let w = fade(i, n);
                    for (c, v) in frame.iter_mut().enumerate() {
                        *v = (1.0 - w) * lookahead_prev[i * k + c] + w * *v;
                    }
                }
                // A generated window's own chunk follows its audio better than a blend with the previous
                // look-ahead, which heard less of it: that look-ahead is kept for a known history only.
                if plan.history_motion == HistoryMotion::Known {
                    let la = first + plan.chunk;
                    lookahead_prev = motion[la * k..(la + plan.lookahead) * k].to_vec();
                }
                sh.motion.lock().expect("motion lock").put(c0, out);
            }
            Ok(motion) => {
                sh.stats.model_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(got = motion.len(), want = frames * k, "model window returned the wrong size");
                lookahead_prev.clear();
            }
            Err(e) => {
                sh.stats.model_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "model window failed; holding motion");
                lookahead_prev.clear();
            }
        }
        next = Some(c0 + plan.chunk as u64);
    }
}

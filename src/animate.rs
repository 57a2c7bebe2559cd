//! Whole recordings -> mouth motion (`jamflow animate`): any WAV, read a block at a time, resampled to the model
//! rate, turned into log-mel frames as they arrive, and sampled in overlapping windows of audio -> motion
//! inpainting, so a recording of any length runs in bounded memory.
//!
//! Window `k` covers mel frames `[s_k, s_k + T)` on the grid where mel and motion frames coincide (0.16 s at
//! 93.75 Hz / 25 fps). Its first `H` motion frames are known: the last `H` frames the previous window generated,
//! so the lips continue across the seam instead of jumping. Each motion frame is generated (and emitted) once.

use crate::audio::mel::MelSpec;
use crate::audio::resample::StreamResampler;
use crate::audio::wav::WavStream;
use crate::audio::AudioError;
use crate::model::config::ModelConfig;
use crate::runtime::Backend;
use crate::sampler::{self, Request, SampleError, SamplerOptions};

#[derive(Debug, thiserror::Error)]
pub enum AnimateError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error("{0}")]
    Invalid(String),
}

/// Window sizes in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Windows {
    /// Audio per model window.
    pub window_s: f64,
    /// Motion carried over (known) from the previous window.
    pub history_s: f64,
}

impl Default for Windows {
    fn default() -> Self {
        Self { window_s: 8.0, history_s: 1.0 }
    }
}

/// The grid where mel and motion frames coincide: (mel frames, motion frames) of one step.
fn grid(cfg: &ModelConfig) -> Result<(usize, usize), AnimateError> {
    let fps = cfg
        .motion
        .as_ref()
        .map(|m| m.fps)
        .ok_or_else(|| AnimateError::Invalid("the package generates no motion".into()))?;
    let ratio = cfg.audio.mel_rate() / fps; // mel frames per motion frame (3.75)
    (1..=100)
        .map(|k| (k, ratio * k as f64))
        .find(|(_, m)| (m - m.round()).abs() < 1e-9)
        .map(|(k, m)| (m.round() as usize, k))
        .ok_or_else(|| AnimateError::Invalid(format!("mel rate / motion fps = {ratio} has no small common grid")))
}

/// Window plan in frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// Mel frames per window and per motion frame grid step.
    mel: usize,
    /// Known motion frames at the start of each window after the first.
    history: usize,
    /// Mel frames the window start advances by.
    hop_mel: usize,
}

fn plan(cfg: &ModelConfig, w: &Windows) -> Result<Plan, AnimateError> {
    let (gm, gf) = grid(cfg)?;
    let steps = |s: f64| (s * cfg.audio.mel_rate() / gm as f64).round() as usize;
    let (win, hist) = (steps(w.window_s).max(2), steps(w.history_s));
    if !(w.window_s.is_finite() && w.history_s.is_finite()) || hist >= win {
        return Err(AnimateError::Invalid(format!(
            "window {} s / history {} s: the history must be shorter than the window",
            w.window_s, w.history_s
        )));
    }
    Ok(Plan { mel: win * gm, history: hist * gf, hop_mel: (win - hist) * gm })
}

/// Audio -> motion for the whole of `wav`: `emit` receives the motion frames (`[n * K]`) in order, `progress` the
/// seconds of audio done and in all. Returns the number of motion frames (`cfg.motion_frames_for` of the mel).
pub fn animate_wav(
    wav: &mut WavStream,
    backend: &mut dyn Backend,
    cfg: &ModelConfig,
    windows: &Windows,
    seed: u64,
    mut emit: impl FnMut(&[f32]) -> Result<(), AnimateError>,
    mut progress: impl FnMut(f64, f64),
) -> Result<usize, AnimateError> {
    let p = plan(cfg, windows)?;
    let k = cfg.motion.as_ref().map(|m| m.layout.motion_dim()).unwrap_or(0);
    let m = cfg.audio.n_mels;
    let spec = MelSpec::new(&cfg.audio)?;
    let mut mel_stream = spec.stream();
    let mut rs = StreamResampler::new(wav.sample_rate, cfg.audio.sample_rate)?;
    let total_s = wav.frames as f64 / wav.sample_rate as f64;
    let block = wav.sample_rate as usize; // one second per read
    let mut mel: Vec<f32> = Vec::new(); // mel frames from `mel_start` on, [frames * M]
    let mut mel_start = 0usize;
    let mut history: Vec<f32> = Vec::new(); // the last generated motion frames, [history * K]
    let mut emitted = 0usize;
    let mut window = 0u64;
    let mut ended = false;
    loop {
        if !ended {
            match wav.next_mono(block)? {
                Some(x) => {
                    let y = rs.push(&x)?;
                    mel.extend(mel_stream.push(&y)?.data);
                }
                None => {
                    let y = rs.finish()?;
                    mel.extend(mel_stream.push(&y)?.data);
                    mel.extend(mel_stream.finish()?.data);
                    ended = true;
                }
            }
        }
        // Run every window whose audio is complete (the last one when the audio has ended).
        while mel.len() / m >= p.mel || (ended && mel.len() / m > 0) {
            let t = (mel.len() / m).min(p.mel);
            let mut req = Request::audio_to_motion(cfg, &mel[..t * m]); // mel [T, M] known, motion [F, K] unknown
            let f = req.motion_known.len();
            let known = (history.len() / k.max(1)).min(f);
            req.cond_motion[..known * k].copy_from_slice(&history[..known * k]);
            req.motion_known[..known].iter_mut().for_each(|b| *b = true);
            let opts = SamplerOptions::from_config(cfg, seed.wrapping_add(window));
            let out = sampler::sample(backend, cfg, &req, &opts)?;
            let last = ended && mel.len() / m <= p.mel;
            // Frames of this window not emitted before; the next window re-reads the last `history` as known.
            emit(&out.motion[known * k..f * k])?;
            emitted += f - known;
            window += 1;
            progress(((mel_start + t) as f64 / cfg.audio.mel_rate()).min(total_s), total_s);
            if last {
                return Ok(emitted);
            }
            let keep = f - p.history;
            history = out.motion[keep * k..f * k].to_vec();
            mel.drain(..p.hop_mel * m);
            mel_start += p.hop_mel;
        }
        if ended {
            return Ok(emitted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_sit_on_the_common_grid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("engines/jamflow-small-student");
        let cfg = crate::model::Package::load_config(&dir).unwrap();
        let p = plan(&cfg, &Windows::default()).unwrap();
        // 8 s = 50 grid steps of 15 mel / 4 motion frames; 1 s history = 6 steps (0.96 s).
        assert_eq!(p, Plan { mel: 750, history: 24, hop_mel: 660 });
        assert_eq!(p.hop_mel % 15, 0);
        assert!(plan(&cfg, &Windows { window_s: 1.0, history_s: 1.0 }).is_err());
    }
}

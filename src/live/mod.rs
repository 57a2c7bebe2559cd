//! The model-driven source: live audio (ALSA mic, a WAV file played in real time, or none) -> chunked audio ->
//! motion inpainting -> renderer, plus text mode (`/say`: text -> speech + motion, played instead of the mic) and
//! a UDP stream of the motion parameters for robot faces.
//!
//! Timeline. Output frame `n` is pushed when the pipeline clock reaches `n / fps` (the [`crate::stream::Streamer`]); it
//! shows *media* frame `m = n - delay` of the input. Audio captured at wall time `w` is media sample
//! `(w - origin) * rate`, where `origin` is the instant of the first frame; so every captured sample plays exactly
//! `delay` frames after it was captured, together with the motion generated for it: lips and sound line up, and
//! the one pipeline clock stamps both.
//!
//! Chunked inpainting ([`ChunkPlan`]). Each model step takes the window `[history | chunk | look-ahead]`: audio
//! known over the whole window, motion known over the history (what was already shown), the chunk's motion (and
//! the look-ahead's, used only to cross-fade into the next chunk) generated. A step starts once the look-ahead
//! audio has arrived, so `delay` is chunk + look-ahead + the processing time measured at start-up (+ a margin).
//!
//! Falling behind: a frame whose motion is not ready holds the last motion easing to rest (counted in
//! `late_frames`; a window that starts too late to be shown is skipped and counted in `late_chunks`). Audio is
//! never stretched, so A/V never drifts. No audio (mic gone, nobody speaking): the renderer's idle life goes on.

//!
//! Layout: [`plan`] (the window plan and delay), [`timeline`] (input audio, motion and speech timelines; the
//! input anchor), [`input`] (mic / WAV threads), [`window`] (the motion-model trait, the package-less models and
//! the model thread), [`package`] (a model package behind the traits), [`speech`] (text mode), [`stats`]
//! (counters), [`source`] (the [`LiveSource`] itself) and [`bench`] (throughput of the same path, unpaced).
//! This layer sits on [`crate::stream`] (it implements its [`AvSource`](crate::stream::AvSource)); the stream layer
//! knows nothing about it.

pub mod bench;
pub mod input;
pub mod package;
pub mod plan;
pub mod source;
pub mod speech;
pub mod stats;
mod timeline;
pub mod voice;
pub mod window;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use input::{Mic, MicOpener};
pub use package::PackageModel;
pub use plan::{ChunkPlan, HistoryMotion};
pub use source::LiveSource;
pub use speech::{SayError, SayRequest, Speech, SpeechControl, SpeechModel};
pub use stats::LiveStats;
pub use window::{ClickDetector, MotionModel, RestModel, CLICK_LEVEL};

use crate::model::config::{AudioConfig, ModelConfig, MOTION_FPS};
use crate::stream::{Rates, StreamError};

/// The output frame rate: the motion rate of every package (DESIGN §1), as frames per second.
pub const OUTPUT_FPS: u32 = MOTION_FPS as u32;

/// The stream's rates for a model package (`None`: the model defaults, for sources without a package): the
/// package's sample rate, and its motion rate, which must be [`OUTPUT_FPS`].
pub fn rates(cfg: Option<&ModelConfig>) -> Result<Rates, StreamError> {
    let Some(cfg) = cfg else {
        return Ok(Rates { fps: OUTPUT_FPS, sample_rate: AudioConfig::default().sample_rate });
    };
    if let Some(m) = &cfg.motion {
        if m.fps != OUTPUT_FPS as f64 {
            return Err(StreamError::Config(format!(
                "the model package's motion.fps is {}; the live path streams at {OUTPUT_FPS} fps",
                m.fps
            )));
        }
    }
    Ok(Rates { fps: OUTPUT_FPS, sample_rate: cfg.audio.sample_rate })
}

/// Where the live audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioInput {
    /// An ALSA capture device (reopened after it disappears; streaming goes on idle meanwhile).
    Alsa { device: String },
    /// A WAV file played in real time, looped or once.
    Wav { path: PathBuf, looped: bool },
    /// No input: idle animation (and `/say`).
    None,
}

/// Settings of the live source (times in frames of the output rate).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveOptions {
    pub input: AudioInput,
    pub plan: ChunkPlan,
    /// Frames added to the measured processing time in the output delay.
    pub margin_frames: usize,
    /// Send each frame's motion as one JSON datagram here.
    pub motion_udp: Option<SocketAddr>,
    /// Frame and sample rate of the stream ([`rates`]).
    pub rates: Rates,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_the_package() {
        assert_eq!(rates(None).unwrap(), Rates { fps: 25, sample_rate: 24_000 });
        let mut cfg = crate::model::random::Preset::SmallMmdit.config();
        cfg.audio.sample_rate = 16_000;
        assert_eq!(rates(Some(&cfg)).unwrap().sample_rate, 16_000);
        if let Some(m) = cfg.motion.as_mut() {
            m.fps = 30.0;
        }
        assert!(rates(Some(&cfg)).unwrap_err().to_string().contains("motion.fps is 30"));
    }
}

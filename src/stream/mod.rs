//! The A/V output side of the live daemon: frames and audio from an [`AvSource`] are stamped on one clock and
//! pushed through GStreamer to any set of outputs (RTSP server, MP4 file, display, v4l2 virtual camera).
//!
//! Data order: a source ([`TestSource`] here; the model-driven source of [`crate::live`] implements the same
//! [`AvSource`] trait) -> [`Streamer`] (pacing, stamping, bus supervision and rebuild) -> the GStreamer pipeline of
//! [`pipeline`] (encoders, tee, outputs) -> [`rtsp`]. This layer knows nothing about the model: the frame and
//! sample rates come in with the source's [`StreamFormat`] (the model package's, carried by the caller).
//!
//! Timing: frame `n` has PTS `n / fps` and audio sample `k` has PTS `k / sample_rate`, both counted from the same
//! start, never from wall time. The streamer pushes frame `n` when the pipeline clock reaches that running time, so
//! output runs at exactly `fps` on the pipeline clock and audio and video cannot drift apart.

pub mod metrics;
pub mod pipeline;
pub mod preview;
pub mod rtsp;
pub mod source;
pub mod streamer;

pub use metrics::{Metrics, Prom};
pub use pipeline::{DisplaySink, Mp4Output, Outputs, RtspOutput, V4l2Output, VideoEncoder};
pub use source::{AudioKind, AvChunk, AvSource, ChunkTime, TestSource, TestSourceConfig, VideoKind};
pub use streamer::{StreamConfig, StreamHooks, Streamer};

/// Frame rate and audio sample rate of a stream (the model package's: the caller carries them here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub fps: u32,
    /// Mono f32 samples per second.
    pub sample_rate: u32,
}

/// The fixed shape of what a source delivers: frame size, frame rate and the audio sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Mono f32 samples per second (the model package's rate, 24 kHz).
    pub sample_rate: u32,
}

impl StreamFormat {
    /// `width` x `height` RGB at `rates`.
    pub fn new(width: u32, height: u32, rates: Rates) -> Self {
        Self { width, height, fps: rates.fps, sample_rate: rates.sample_rate }
    }

    /// A source without video (motion only: no renderer, no encoder), `0 x 0` at `rates`.
    pub fn without_video(rates: Rates) -> Self {
        Self::new(0, 0, rates)
    }

    /// Whether frames carry pictures (a motion-only source has none: it feeds no A/V output).
    pub fn has_video(&self) -> bool {
        self.width > 0 && self.height > 0
    }

    /// The frame and sample rates.
    pub fn rates(&self) -> Rates {
        Rates { fps: self.fps, sample_rate: self.sample_rate }
    }

    /// Audio samples that play during one video frame (24000 / 25 = 960).
    pub fn samples_per_frame(&self) -> usize {
        (self.sample_rate / self.fps) as usize
    }

    /// Bytes of one packed RGB frame.
    pub fn frame_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }

    /// PTS of video frame `index` in nanoseconds.
    pub fn frame_pts_ns(&self, index: u64) -> u64 {
        index * 1_000_000_000 / self.fps as u64
    }

    /// PTS of audio sample `index` in nanoseconds.
    pub fn sample_pts_ns(&self, index: u64) -> u64 {
        (index as u128 * 1_000_000_000 / self.sample_rate as u128) as u64
    }

    pub(crate) fn check(&self) -> Result<(), StreamError> {
        let no_video = self.width == 0 && self.height == 0;
        if !no_video && (self.width == 0 || self.height == 0 || self.width % 2 != 0 || self.height % 2 != 0) {
            return Err(StreamError::Config(format!(
                "video size must be positive and even (I420), found {}x{}",
                self.width, self.height
            )));
        }
        if self.fps == 0 || self.sample_rate % self.fps != 0 {
            return Err(StreamError::Config(format!(
                "sample rate {} must be a whole number of samples per frame at {} fps",
                self.sample_rate, self.fps
            )));
        }
        Ok(())
    }
}

/// Errors of the output side.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("stream configuration: {0}")]
    Config(String),
    #[error("GStreamer: {0}")]
    Gst(String),
    #[error("source: {0}")]
    Source(String),
    #[error("{path}: {message}")]
    File { path: std::path::PathBuf, message: String },
}

impl From<gstreamer::glib::Error> for StreamError {
    fn from(e: gstreamer::glib::Error) -> Self {
        StreamError::Gst(e.to_string())
    }
}

impl From<gstreamer::glib::BoolError> for StreamError {
    fn from(e: gstreamer::glib::BoolError) -> Self {
        StreamError::Gst(e.to_string())
    }
}

impl From<gstreamer::StateChangeError> for StreamError {
    fn from(e: gstreamer::StateChangeError) -> Self {
        StreamError::Gst(format!("state change failed: {e}"))
    }
}

/// Initialise GStreamer once (idempotent).
pub fn init() -> Result<(), StreamError> {
    gstreamer::init().map_err(StreamError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const RATES: Rates = Rates { fps: 25, sample_rate: 24_000 };

    #[test]
    fn format_counts_are_exact() {
        let f = StreamFormat::new(64, 48, RATES);
        assert_eq!(f.samples_per_frame(), 960);
        assert_eq!(f.frame_pts_ns(25), 1_000_000_000);
        assert_eq!(f.sample_pts_ns(960), f.frame_pts_ns(1));
        assert_eq!(f.frame_bytes(), 64 * 48 * 3);
        assert!(f.check().is_ok());
        assert!(StreamFormat::new(63, 48, RATES).check().is_err());
        assert!(StreamFormat::new(0, 48, RATES).check().is_err());
        let motion_only = StreamFormat::without_video(RATES);
        assert!(motion_only.check().is_ok() && !motion_only.has_video() && motion_only.frame_bytes() == 0);
    }
}

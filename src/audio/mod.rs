//! Audio front end: WAV I/O, resampling to the model rate, the F5/Vocos log-mel spectrogram (batch and
//! streaming), ALSA microphone capture, the vocoders (Vocos through the graph builder, Griffin-Lim) and the one
//! espeak-ng loader ([`espeak`]: corpus speech, Piper phonemes).
//!
//! Conventions (DESIGN §3) come from [`crate::model::config::AudioConfig`]: 24 kHz mono f32, n_fft 1024, Hann
//! window 1024, hop 256, 100 HTK mels, magnitude, centre reflect padding, `ln(max(x, 1e-5))`.

pub mod capture;
pub mod espeak;
pub mod griffin_lim;
pub mod mel;
pub mod resample;
pub mod stft;
pub mod vocoder;
pub mod vocos;
pub mod wav;

use std::path::PathBuf;

/// Everything that can go wrong in the audio front end.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A WAV file that cannot be read: corrupt, truncated, empty or in an unsupported format.
    #[error("{path}: {msg}")]
    Wav { path: PathBuf, msg: String },
    /// A signal or spectrogram that does not fit the operation.
    #[error("{0}")]
    Signal(String),
    #[error("resampling: {0}")]
    Resample(String),
    /// ALSA capture failures (see [`capture`]).
    #[error("ALSA device `{device}`: {msg}")]
    Capture { device: String, msg: String },
    #[error("vocoder: {0}")]
    Vocoder(String),
}

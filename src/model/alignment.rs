//! Text alignment of the audio stream's text input (DESIGN §7): `filler` (F5-TTS: character ids padded with
//! filler to the mel length, the network learns the alignment) or `durations` (one phoneme id per mel frame,
//! repeated for the phoneme's duration). Same embedding, same graph; only the request builder and the package's
//! vocabulary differ.
//!
//! A `durations` vocabulary holds eSpeak phoneme mnemonics (the names the corpus's motion files carry), one per
//! line, and must hold the pause [`PAUSE`]: the neutral id every frame without a phoneme gets (and every phoneme
//! the vocabulary does not know, with a warning).

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::vocab::Vocab;
use super::ModelError;

/// The pause name of the eSpeak phone set (silence; the rest pose). The corpus's phone sets map onto it.
pub const PAUSE: &str = "_";

/// How the text input lines up with the mel frames (`text.alignment` in `model.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextAlignment {
    /// Characters padded with filler to the mel length (F5-TTS, JAM-Flow; required for their checkpoints).
    #[default]
    Filler,
    /// One phoneme id per mel frame, from phoneme durations.
    Durations,
}

impl TextAlignment {
    /// Every value, in the order of [`TextAlignment::name`]'s documentation.
    pub const ALL: [TextAlignment; 2] = [TextAlignment::Filler, TextAlignment::Durations];

    /// The name in `model.json` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TextAlignment::Filler => "filler",
            TextAlignment::Durations => "durations",
        }
    }

    /// Whether this is the default (a `filler` package's `model.json` does not spell it out).
    pub fn is_filler(&self) -> bool {
        *self == TextAlignment::Filler
    }
}

impl std::fmt::Display for TextAlignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TextAlignment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<String> = Self::ALL.iter().map(|a| format!("\"{a}\"")).collect();
            format!("field `text.alignment`: unknown value {s:?}; expected {}", names.join(" or "))
        })
    }
}

impl Serialize for TextAlignment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TextAlignment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One phoneme on a timeline, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedPhone {
    pub name: String,
    pub start: f64,
    pub end: f64,
}

/// Per-frame ids of a `durations` package, and the phoneme names its vocabulary did not know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameIds {
    /// `[T]` one vocabulary id per mel frame.
    pub ids: Vec<i64>,
    /// Names mapped to the neutral (pause) id because the vocabulary lacks them.
    pub unknown: BTreeSet<String>,
}

/// The phoneme name at each of `frames` mel frames: frame `i` sits at `i / mel_rate` seconds (F5's centred
/// STFT) and takes the last phoneme that starts at or before it, [`PAUSE`] before the first phoneme and after
/// a phoneme's end (a gap, or past the timeline). `scripts/train.py` (`frame_phonemes`) applies the same rule.
pub fn frame_names(phones: &[TimedPhone], mel_rate: f64, frames: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(frames);
    let mut k = 0usize; // phones[..k] start at or before the current frame
    for i in 0..frames {
        let t = i as f64 / mel_rate;
        while k < phones.len() && phones[k].start <= t {
            k += 1;
        }
        let name = match k.checked_sub(1).map(|j| &phones[j]) {
            Some(p) if t < p.end => p.name.as_str(),
            _ => PAUSE,
        };
        out.push(name);
    }
    out
}

/// `phones` scaled in time by `factor` (a speed of 2 is a factor of 0.5).
pub fn scale_timeline(phones: &[TimedPhone], factor: f64) -> Vec<TimedPhone> {
    phones.iter().map(|p| TimedPhone { name: p.name.clone(), start: p.start * factor, end: p.end * factor }).collect()
}

/// How an eSpeak mnemonic of espeak-ng's English voices is spoken as the simple phones a vocabulary trained on IPA
/// timelines knows (a Piper voice's corpus: one phone per IPA letter, `aɪ` is `a` then `ɪ`). Derived from espeak-ng
/// `-v en-us -x` against `--ipa` on the corpus sentences, each IPA letter through the corpus's IPA table
/// (`corpus::phones`, whose test checks every row): `aI` is `aɪ`, so `a` `I`; `t#` is the flap `ɾ`, so `*`. An
/// empty list continues the phone before (`;`, palatalization, has no IPA of its own).
pub const SIMPLE_PHONES: &[(&str, &[&str])] = &[
    ("_:", &[PAUSE]),
    ("_!", &[PAUSE]),
    ("_^_", &[PAUSE]),
    (";", &[]),
    ("0", &["A:"]),
    ("@-", &["@"]),
    ("@2", &["@"]),
    ("@5", &["@"]),
    ("@L", &["@", "l"]),
    ("a#", &["@"]),
    ("aa", &["a"]),
    ("A@", &["A:", "r"]),
    ("I#", &["I"]),
    ("I2", &["I"]),
    ("O2", &["O"]),
    ("O@", &["O:", "r"]),
    ("o@", &["o", "r"]),
    ("OI", &["O", "I"]),
    ("U@", &["U", "r"]),
    ("aI", &["a", "I"]),
    ("aI3", &["a", "I", "3"]),
    ("aI@", &["a", "I", "@"]),
    ("aU", &["a", "U"]),
    ("eI", &["e", "I"]),
    ("oU", &["o", "U"]),
    ("e@", &["E", "r"]),
    ("i@", &["i", "@"]),
    ("i@3", &["I", "r"]),
    ("tS", &["t", "S"]),
    ("dZ", &["d", "Z"]),
    ("t#", &["*"]),
    ("t2", &["t"]),
    ("d#", &["d"]),
    ("d2", &["d"]),
    ("n-", &["n"]),
    ("l-", &["l"]),
    ("r-", &["r"]),
];

/// `phones` with every name `vocab` lacks but [`SIMPLE_PHONES`] lists replaced by its simple phones, each an equal
/// share of its time (an empty list lengthens the phone before). Names the vocabulary holds stay as they are.
pub fn simple_phones(phones: &[TimedPhone], vocab: &Vocab) -> Vec<TimedPhone> {
    let mut out: Vec<TimedPhone> = Vec::with_capacity(phones.len());
    for p in phones {
        let parts = match SIMPLE_PHONES.iter().find(|(n, _)| *n == p.name) {
            Some((_, parts)) if vocab.id(&p.name).is_none() => *parts,
            _ => {
                out.push(p.clone());
                continue;
            }
        };
        if parts.is_empty() {
            match out.last_mut() {
                Some(prev) if prev.end <= p.end => prev.end = p.end,
                _ => out.push(TimedPhone { name: PAUSE.to_string(), start: p.start, end: p.end }),
            }
            continue;
        }
        let share = (p.end - p.start) / parts.len() as f64;
        for (j, name) in parts.iter().enumerate() {
            let start = p.start + share * j as f64;
            out.push(TimedPhone { name: name.to_string(), start, end: start + share });
        }
    }
    out
}

/// Mel frames a timeline of `seconds` covers (at least one).
pub fn frames_for_seconds(seconds: f64, mel_rate: f64) -> usize {
    ((seconds * mel_rate).round() as usize).max(1)
}

impl Vocab {
    /// The id of phoneme `name`; a named error when the vocabulary does not hold it.
    pub fn phoneme_id(&self, name: &str) -> Result<i64, ModelError> {
        self.id(name).ok_or_else(|| ModelError::UnknownPhoneme { name: name.to_string() })
    }

    /// The neutral id of a `durations` vocabulary: the pause's.
    pub fn pause_id(&self) -> Result<i64, ModelError> {
        self.phoneme_id(PAUSE)
    }

    /// One id per mel frame for `phones` ([`frame_names`]) after [`simple_phones`]; names still unknown take the
    /// pause's id and are listed in [`FrameIds::unknown`] (the caller warns). Errors only when the vocabulary has
    /// no pause.
    pub fn frame_ids(&self, phones: &[TimedPhone], mel_rate: f64, frames: usize) -> Result<FrameIds, ModelError> {
        let pause = self.pause_id()?;
        let mut out = FrameIds { ids: Vec::with_capacity(frames), unknown: BTreeSet::new() };
        let phones = simple_phones(phones, self);
        for name in frame_names(&phones, mel_rate, frames) {
            let id = match self.phoneme_id(name) {
                Ok(id) => id,
                Err(_) => {
                    out.unknown.insert(name.to_string());
                    pause
                }
            };
            out.ids.push(id); // [T]
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(name: &str, start: f64, end: f64) -> TimedPhone {
        TimedPhone { name: name.into(), start, end }
    }

    #[test]
    fn names_parse_and_unknown_values_name_the_field() {
        for a in TextAlignment::ALL {
            assert_eq!(a.name().parse::<TextAlignment>().unwrap(), a);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        }
        let e = serde_json::from_str::<TextAlignment>("\"phonemes\"").unwrap_err().to_string();
        assert!(e.contains("text.alignment") && e.contains("phonemes") && e.contains("\"durations\""), "{e}");
        assert_eq!(TextAlignment::default(), TextAlignment::Filler);
    }

    #[test]
    fn frames_take_the_phoneme_they_fall_in() {
        // 10 frames/s: frame i at i/10 s. Gap 0.5..0.6 and past the end: pause.
        let t = [ph("h", 0.1, 0.3), ph("@", 0.3, 0.5), ph("l", 0.6, 0.7)];
        assert_eq!(frame_names(&t, 10.0, 9), ["_", "h", "h", "@", "@", "_", "l", "_", "_"]);
        // A zero-length phoneme between two frames takes no frame.
        let t = [ph("a", 0.0, 0.2), ph("b", 0.2, 0.2), ph("c", 0.2, 0.4)];
        assert_eq!(frame_names(&t, 10.0, 4), ["a", "a", "c", "c"]);
    }

    #[test]
    fn ids_per_frame_at_the_mel_rate_with_speed_scaling() {
        let (_d, v) = Vocab::for_test(&["_", "h", "@", "l", "oU"]);
        let rate = crate::model::config::AudioConfig::default().mel_rate(); // 93.75
        let t = [ph("_", 0.0, 0.085), ph("h", 0.085, 0.165), ph("oU", 0.165, 0.41)];
        let n = frames_for_seconds(0.41, rate);
        assert_eq!(n, 38);
        let f = v.frame_ids(&t, rate, n).unwrap();
        let count = |id: i64, ids: &[i64]| ids.iter().filter(|&&x| x == id).count();
        assert_eq!((count(0, &f.ids), count(1, &f.ids), count(4, &f.ids)), (8, 8, 22));
        assert!(f.unknown.is_empty());
        // Twice the speed: half the frames, the same order, each phoneme about half as long.
        let fast = scale_timeline(&t, 1.0 / 2.0);
        let n2 = frames_for_seconds(0.205, rate);
        let g = v.frame_ids(&fast, rate, n2).unwrap();
        assert_eq!(n2, 19);
        assert_eq!((count(0, &g.ids), count(1, &g.ids), count(4, &g.ids)), (4, 4, 11));
        assert!(g.ids.windows(2).all(|w| w[0] <= w[1]), "{:?}", g.ids);
    }

    #[test]
    fn a_vocabulary_of_simple_phones_hears_diphthongs_as_their_parts() {
        let (_d, v) = Vocab::for_test(&["_", "a", "I", "t", "S", "n"]);
        // "aI" over 0.2 s: `a` then `I`, 0.1 s each; `;` lengthens the `n` before it; `tS` is `t` `S`.
        let t = [ph("aI", 0.0, 0.2), ph("n", 0.2, 0.3), ph(";", 0.3, 0.4), ph("tS", 0.4, 0.6)];
        let s = simple_phones(&t, &v);
        let names: Vec<&str> = s.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "I", "n", "t", "S"]);
        assert!((s[1].start - 0.1).abs() < 1e-9 && (s[2].end - 0.4).abs() < 1e-9);
        let f = v.frame_ids(&t, 100.0, 60).unwrap();
        assert!(f.unknown.is_empty(), "{:?}", f.unknown);
        assert_eq!((f.ids[5], f.ids[15], f.ids[35], f.ids[55]), (1, 2, 5, 4));
        // A vocabulary that holds the mnemonic keeps it whole.
        let (_d, whole) = Vocab::for_test(&["_", "aI"]);
        assert_eq!(simple_phones(&t[..1], &whole), t[..1].to_vec());
    }

    #[test]
    fn unknown_phonemes_are_named_and_map_to_the_pause() {
        let (_d, v) = Vocab::for_test(&["_", "a"]);
        let e = v.phoneme_id("zz").unwrap_err().to_string();
        assert!(e.contains("\"zz\"") && e.contains("vocabulary"), "{e}");
        let f = v.frame_ids(&[ph("a", 0.0, 0.1), ph("zz", 0.1, 0.2)], 10.0, 2).unwrap();
        assert_eq!(f.ids, [1, 0]);
        assert_eq!(f.unknown.into_iter().collect::<Vec<_>>(), ["zz"]);
        let (_d, no_pause) = Vocab::for_test(&["a", "b"]);
        let e = no_pause.frame_ids(&[], 10.0, 1).unwrap_err().to_string();
        assert!(e.contains("\"_\""), "{e}");
    }
}

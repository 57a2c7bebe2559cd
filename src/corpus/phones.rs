//! Phone sets of the corpus engines, each mapped onto the eSpeak mnemonics whose articulatory targets
//! [`super::articulation::targets`] defines (docs/corpus.md, "Phone sets"). One table per set, so the mouth truth of
//! every engine comes from the same targets:
//!
//! - [`PhoneSet::Espeak`]: espeak-ng's own mnemonics (`aI`, `@`, `p`), used as they are;
//! - [`PhoneSet::Arpabet`]: the ARPAbet-style sets of festival's US voices (`radio`: `ay`, `ax`, `hh`, `pau`) and of
//!   pocketsphinx's en-us model (`AY`, `AX`, `HH`, `SIL`); case and stress digits are ignored;
//! - [`PhoneSet::Ipa`]: IPA as espeak-ng writes it for Piper (`aɪ`, `ə`, `ɹ`); length and stress marks are ignored.

use serde::{Deserialize, Serialize};

/// Which set a phone name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneSet {
    Espeak,
    Arpabet,
    Ipa,
}

/// The pause name of the eSpeak set (silence: the rest pose); defined with the text alignment.
pub use crate::model::alignment::PAUSE;

/// The eSpeak mnemonics of espeak-ng's English voices that [`super::articulation::targets`] knows, pauses first:
/// the vocabulary of a random-weights `durations` package (`jamflow random --text-alignment durations`); a trained
/// package takes its vocabulary from its corpus (scripts/train.py).
pub const ESPEAK_ENGLISH: &[&str] = &[
    PAUSE, "_:", "_!", "_^_", "i", "i:", "I", "I#", "I2", "e", "eI", "E", "e@", "a", "a#", "&", "aa", "A:", "A@", "V",
    "@", "@-", "@2", "@5", "3", "@L", "3:", "0", "O:", "O@", "O", "o@", "oU", "u:", "U", "aI", "aU", "OI", "i@", "i@3",
    "U@", "aI@", "aI3", "aU@", "p", "b", "m", "f", "v", "w", "W", "r", "r-", "*", "S", "Z", "tS", "dZ", "s", "z", "T",
    "D", "t", "d", "n", "l", "t#", "d#", "n-", "l-", "t2", "d2", "t[", "d[", "j", "k", "g", "N", "x", "h", "?", ";",
];

impl PhoneSet {
    /// The eSpeak mnemonic that carries `name`'s articulation; `None` for a name the set does not know (the
    /// articulator then gives it a neutral target and the manifest lists it).
    pub fn to_espeak(self, name: &str) -> Option<String> {
        match self {
            PhoneSet::Espeak => Some(name.to_string()),
            PhoneSet::Arpabet => arpabet(name).map(str::to_string),
            PhoneSet::Ipa => ipa(name).map(str::to_string),
        }
    }
}

/// ARPAbet (radio / CMU / pocketsphinx) -> eSpeak.
fn arpabet(name: &str) -> Option<&'static str> {
    let base: String = name.trim().trim_end_matches(|c: char| c.is_ascii_digit()).to_ascii_lowercase();
    Some(match base.as_str() {
        "pau" | "sil" | "h#" | "sp" | "#" | "" | "brth" | "+nsn+" | "+spn+" | "+breath+" | "+cough+" | "+noise+"
        | "+um+" | "+uh+" => PAUSE,
        "aa" => "A:",
        "ae" => "a",
        "ah" => "V",
        "ao" => "O:",
        "aw" => "aU",
        "ax" => "@",
        "axr" => "3",
        "ay" => "aI",
        "eh" => "E",
        "er" => "3:",
        "ey" => "eI",
        "ih" | "ix" => "I",
        "iy" => "i:",
        "ow" => "oU",
        "oy" => "OI",
        "uh" => "U",
        "uw" | "ux" => "u:",
        "b" => "b",
        "ch" => "tS",
        "d" => "d",
        "dh" => "D",
        "dx" => "*",
        "el" => "@L",
        "em" => "m",
        "en" => "n",
        "f" => "f",
        "g" => "g",
        "hh" | "h" => "h",
        "jh" => "dZ",
        "k" => "k",
        "l" => "l",
        "m" => "m",
        "n" => "n",
        "ng" | "nx" => "N",
        "p" => "p",
        "r" => "r",
        "s" => "s",
        "sh" => "S",
        "t" => "t",
        "th" => "T",
        "v" => "v",
        "w" => "w",
        "wh" => "W",
        "y" => "j",
        "z" => "z",
        "zh" => "Z",
        _ => return None,
    })
}

/// IPA (espeak-ng's IPA output, as Piper phonemizes) -> eSpeak.
fn ipa(name: &str) -> Option<&'static str> {
    // Stress, length, syllabicity and tie marks do not change the mouth shape here.
    let base: String = name.chars().filter(|c| !"ˈˌːˑ̩͡‿".contains(*c)).collect();
    let long = name.contains('ː');
    Some(match base.as_str() {
        "" | "_" | " " | "." | "," | "|" | "‖" => PAUSE,
        "i" if long => "i:",
        "i" => "i",
        "ɪ" | "ᵻ" | "ɨ" | "y" => "I",
        "e" => "e",
        "ɛ" => "E",
        "æ" | "a" => "a",
        "ɑ" if long => "A:",
        "ɑ" => "A",
        "ʌ" => "V",
        "ə" | "ɐ" => "@",
        "ɚ" => "3",
        "ɜ" | "ɝ" => "3:",
        "ɒ" => "0",
        "ɔ" if long => "O:",
        "ɔ" => "O",
        "o" => "o",
        "u" if long => "u:",
        "u" => "u",
        "ʊ" => "U",
        "aɪ" => "aI",
        "aʊ" => "aU",
        "eɪ" => "eI",
        "oʊ" | "əʊ" => "oU",
        "ɔɪ" => "OI",
        "ɛə" | "eə" => "e@",
        "ɪə" => "i@",
        "ʊə" => "U@",
        "p" => "p",
        "b" => "b",
        "m" => "m",
        "f" => "f",
        "v" => "v",
        "w" => "w",
        "ʍ" => "W",
        "ɹ" | "r" | "ɻ" => "r",
        "ɾ" => "*",
        "s" => "s",
        "z" => "z",
        "ʃ" => "S",
        "ʒ" => "Z",
        "tʃ" => "tS",
        "dʒ" => "dZ",
        "θ" => "T",
        "ð" => "D",
        "t" => "t",
        "d" => "d",
        "n" => "n",
        "l" | "ɫ" => "l",
        "j" => "j",
        "k" => "k",
        "ɡ" | "g" => "g",
        "ŋ" => "N",
        "x" => "x",
        "h" => "h",
        "ʔ" => "?",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::articulation::{targets, Class};
    use super::*;

    fn class(set: PhoneSet, name: &str) -> Class {
        targets(&set.to_espeak(name).unwrap_or_else(|| panic!("{set:?} {name} unmapped"))).0
    }

    /// Each row of the text input's `SIMPLE_PHONES` is what the IPA table makes of espeak-ng's IPA for that
    /// mnemonic (`espeak-ng -v en-us -x` against `--ipa`), one IPA letter (with its marks) per phone.
    #[test]
    fn simple_phones_follow_the_ipa_table() {
        use crate::model::alignment::SIMPLE_PHONES;
        let ipa_of = [
            ("0", "ɑː"),
            ("@-", "ə"),
            ("@2", "ə"),
            ("@5", "ə"),
            ("@L", "əl"),
            ("a#", "ɐ"),
            ("aa", "æ"),
            ("A@", "ɑːɹ"),
            ("I#", "ᵻ"),
            ("I2", "ɪ"),
            ("O2", "ɔ"),
            ("O@", "ɔːɹ"),
            ("o@", "oːɹ"),
            ("OI", "ɔɪ"),
            ("U@", "ʊɹ"),
            ("aI", "aɪ"),
            ("aI3", "aɪɚ"),
            ("aI@", "aɪə"),
            ("aU", "aʊ"),
            ("eI", "eɪ"),
            ("oU", "oʊ"),
            ("e@", "ɛɹ"),
            ("i@", "iə"),
            ("i@3", "ɪɹ"),
            ("tS", "tʃ"),
            ("dZ", "dʒ"),
            ("t#", "ɾ"),
            ("t2", "t"),
            ("d#", "d"),
            ("d2", "d"),
            ("n-", "n̩"),
            ("l-", "l̩"),
            ("r-", "ɹ"),
        ];
        for (name, parts) in SIMPLE_PHONES {
            for p in parts.iter() {
                assert_ne!(targets(p).0, Class::Unknown, "{name} -> {p}");
            }
            let Some((_, ipa)) = ipa_of.iter().find(|(n, _)| n == name) else {
                assert!(parts.iter().all(|p| *p == PAUSE), "{name}: a row without IPA is a pause or empty");
                continue;
            };
            let mut letters: Vec<String> = Vec::new();
            for c in ipa.chars() {
                match letters.last_mut() {
                    Some(l) if "ːˑ̩".contains(c) => l.push(c),
                    _ => letters.push(c.to_string()),
                }
            }
            let mapped: Vec<String> = letters.iter().map(|l| PhoneSet::Ipa.to_espeak(l).unwrap()).collect();
            assert_eq!(mapped, parts.iter().map(|p| p.to_string()).collect::<Vec<_>>(), "{name} ({ipa})");
        }
    }

    #[test]
    fn the_english_list_has_targets_and_no_repeats() {
        for (i, &name) in ESPEAK_ENGLISH.iter().enumerate() {
            assert_ne!(targets(name).0, Class::Unknown, "{name}");
            assert!(!ESPEAK_ENGLISH[..i].contains(&name), "{name} repeated");
        }
        assert_eq!(ESPEAK_ENGLISH[0], PAUSE);
    }

    #[test]
    fn every_set_knows_bilabials_open_vowels_and_pauses() {
        for (set, bilabials, open, pauses) in [
            (PhoneSet::Espeak, ["p", "b", "m"], ["A:", "a"], ["_", "_:"]),
            (PhoneSet::Arpabet, ["P", "b", "M"], ["AA1", "ae"], ["SIL", "pau"]),
            (PhoneSet::Ipa, ["p", "b", "m"], ["ɑː", "æ"], ["_", ""]),
        ] {
            for p in bilabials {
                assert_eq!(class(set, p), Class::Bilabial, "{set:?} {p}");
            }
            for v in open {
                assert_eq!(class(set, v), Class::Vowel, "{set:?} {v}");
            }
            for s in pauses {
                assert_eq!(class(set, s), Class::Pause, "{set:?} {s:?}");
            }
        }
    }

    #[test]
    fn arpabet_and_ipa_cover_the_english_inventory() {
        let arpa = "aa ae ah ao aw ax axr ay eh er ey ih ix iy ow oy uh uw b ch d dh dx el em en f g hh jh k l m n ng \
                    p r s sh t th v w y z zh";
        for p in arpa.split_whitespace() {
            assert_ne!(class(PhoneSet::Arpabet, p), Class::Unknown, "{p}");
        }
        let ipa = "i iː ɪ e ɛ æ ɑ ɑː ʌ ə ɚ ɜː ɒ ɔ ɔː o u uː ʊ aɪ aʊ eɪ oʊ ɔɪ p b m f v w ɹ ɾ s z ʃ ʒ tʃ dʒ θ ð t d n \
                   l j k ɡ ŋ h ʔ";
        for p in ipa.split_whitespace() {
            assert_ne!(class(PhoneSet::Ipa, p), Class::Unknown, "{p}");
        }
        assert_eq!(PhoneSet::Arpabet.to_espeak("qq"), None);
        assert_eq!(PhoneSet::Ipa.to_espeak("ʘ"), None);
    }
}

//! Text -> phoneme ids exactly as Piper (piper-tts 1.8, `phonemize_espeak.py` + `espeakbridge.c` +
//! `phoneme_ids.py`) makes them, on the Debian espeak-ng library ([`crate::audio::espeak`]):
//!
//! 1. espeak-ng IPA, clause by clause (`espeak_TextToPhonemes`), with the voice's espeak voice and the
//!    espeak-ng-data Piper ships (`.voices/espeak-ng-data`, installed by scripts/setup.sh);
//! 2. language-switch flags `(en)` removed; the clause's punctuation appended (`.` `?` `!` `,` `:` `;`; after
//!    `,` `:` `;` also a space); clauses that end a sentence close it;
//! 3. NFD, then one phoneme per code point (vowel clusters of the voice merged);
//! 4. ids: `^`, `_`, then each phoneme followed by `_`, then `$`. Phonemes the voice has no id for are dropped
//!    (Piper logs them; [`phonemes_to_ids`] returns them so callers can warn).
//!
//! Two things Piper's own espeak-ng build reports that the Debian library (1.51) does not:
//! - **the clause terminator** (`espeak_TextToPhonemesWithTerminator` is newer than 1.51). It is recovered from
//!   the text each call consumed ([`terminator`]): espeak-ng ends a clause at the punctuation mark it classifies
//!   (Unicode property tables of espeak-ng's ucd-tools) and reads one character past it;
//! - **the linking `ʲ`**: Piper's espeak-ng (2026) prints the linking phoneme `;` that follows an i-vowel before
//!   another vowel as `ʲ` (espeak-ng issue #2367: its IPA writer ignores the phoneme's `IF prevPh(#i) THEN ipa
//!   NULL`), where 1.51 prints nothing. The clause is phonemized a second time as eSpeak mnemonics with a
//!   separator between phonemes, and `ʲ` is written where that pass shows `;` ([`merge_linking`]).
//!
//! `[[ raw phonemes ]]` blocks in the text are taken as written, joined to the neighbouring sentences as Piper does.
//!
//! tests/say.rs compares the ids with Piper's own on the texts of `tests/fixtures/piper_ids.json`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use unicode_normalization::UnicodeNormalization;

use super::SpeechError;
use crate::audio::espeak::{self, Clause, PhonemeNames};

/// Piper's start, end and pad symbols (`piper/const.py`).
pub const BOS: &str = "^";
pub const EOS: &str = "$";
pub const PAD: &str = "_";
/// What Piper's espeak-ng prints for the linking phoneme `;`.
const LINKING_J: &str = "ʲ";
/// Written between the phonemes of a word in the analysis passes (Unicode private use: never in espeak output).
const SEPARATOR: char = '\u{E000}';

/// Phoneme (one code point, or a merged vowel cluster) -> ids, from a voice's `phoneme_id_map`.
pub type PhonemeIdMap = HashMap<String, Vec<i64>>;

/// espeak-ng phonemization as a Piper voice does it.
#[derive(Debug, Clone)]
pub struct Phonemizer {
    /// espeak-ng voice (`espeak.voice` of the voice config, e.g. `en-us`).
    pub voice: String,
    /// espeak-ng-data directory (`None`: the library's default, which may differ slightly from Piper's).
    pub data: Option<PathBuf>,
    /// Vowel clusters merged into one phoneme (`vowel_clusters` of the voice config; most voices have none).
    pub vowel_clusters: Vec<Vec<String>>,
}

/// How a clause ended, as `espeak_TextToPhonemesWithTerminator` reports it to Piper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminator {
    /// The punctuation Piper appends (`""` for none).
    pub mark: &'static str,
    /// Whether the clause ends a sentence.
    pub sentence: bool,
}

/// Clause class of a punctuation character (espeak-ng `clause_type_from_codepoint`, after Piper's
/// `terminator & 0x000FFFFF` and its comparison with the six plain clause types). `None`: not punctuation.
fn punctuation(c: char) -> Option<Terminator> {
    let t = |mark, sentence| Some(Terminator { mark, sentence });
    match c {
        '.' | '\u{0589}' | '\u{06D4}' | '\u{1362}' | '\u{FE52}' => t(".", true),
        '?' | '\u{037E}' | '\u{061F}' | '\u{FE56}' => t("?", true),
        '!' | '\u{203C}' | '\u{FE57}' => t("!", true),
        ',' | '\u{060C}' | '\u{FE50}' => t(",", false),
        ':' | '\u{FE55}' => t(":", false),
        ';' | '\u{061B}' | '\u{FE54}' => t(";", false),
        // Extended dashes are semicolons to espeak-ng.
        '\u{2013}' | '\u{2014}' | '\u{2E3A}' | '\u{2E3B}' => t(";", false),
        // "Optional space after" marks keep that flag in the masked value: no mark, but their clause type.
        '\u{3002}' | '\u{FF0E}' | '\u{FF1F}' | '\u{FF01}' | '\u{0964}' => t("", true),
        '\u{3001}' | '\u{FF0C}' | '\u{FF1A}' | '\u{FF1B}' => t("", false),
        // Inverted marks and the ellipsis: semicolon class with "optional space after".
        '\u{00BF}' | '\u{00A1}' | '\u{2026}' => t("", false),
        '\u{2029}' => t("", true),
        _ => None,
    }
}

fn is_question_or_exclamation(c: char) -> bool {
    punctuation(c).is_some_and(|t| t.mark == "?" || t.mark == "!")
}

/// The terminator of a clause from the text one `espeak_TextToPhonemes` call consumed (`at_end`: the call read to
/// the end of the text; otherwise `consumed` ends with espeak-ng's one character of look-ahead).
pub fn terminator(consumed: &str, at_end: bool) -> Terminator {
    let mut s = consumed;
    if !at_end {
        if let Some((i, _)) = s.char_indices().next_back() {
            s = &s[..i];
        }
    }
    let body = s.trim_end();
    let space = &s[body.len()..];
    let run_start =
        body.char_indices().rev().take_while(|&(_, c)| punctuation(c).is_some()).last().map_or(body.len(), |(i, _)| i);
    let run = &body[run_start..];
    let newlines = space.matches('\n').count();
    if run.is_empty() {
        // End of the text, a paragraph break, or (not for texts of a few hundred characters) a full buffer.
        return Terminator { mark: "", sentence: at_end || newlines > 0 };
    }
    if newlines >= 2 {
        return Terminator { mark: "", sentence: true }; // a paragraph: CLAUSE_PARAGRAPH
    }
    if run.ends_with("...") {
        return punctuation('\u{2026}').expect("ellipsis is punctuation");
    }
    // A run of ? and ! (and what follows them) is decided by its first ? or !; otherwise the last mark ends it.
    let decisive = run.chars().find(|&c| is_question_or_exclamation(c)).or_else(|| run.chars().last());
    decisive.and_then(punctuation).unwrap_or(Terminator { mark: "", sentence: at_end })
}

/// Remove espeak-ng's language-switch flags `(en)` (Piper: `re.sub(r"\([^)]+\)", "", ...)`).
fn strip_language_flags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('(') {
        match rest[i + 1..].find(')') {
            Some(j) if j > 0 => {
                out.push_str(&rest[..i]);
                rest = &rest[i + 1 + j + 1..];
            }
            _ => {
                out.push_str(&rest[..=i]);
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Phoneme tokens of a separated espeak-ng clause: (word starts here, token).
fn tokens(s: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut word_start = false;
    for (i, c) in s.char_indices() {
        if c == ' ' || c == SEPARATOR {
            out.push((word_start, &s[start..i]));
            start = i + c.len_utf8();
            word_start = c == ' ';
        }
    }
    out.push((word_start, &s[start..]));
    out
}

/// The IPA of a clause as Piper's espeak-ng prints it: the separated IPA pass `ipa` with `ʲ` wherever the
/// separated mnemonic pass `mnemonic` of the same clause has the linking phoneme `;` (and nothing else).
/// `None` when the passes do not line up (then the caller keeps 1.51's IPA).
pub fn merge_linking(ipa: &str, mnemonic: &str) -> Option<String> {
    let (a, b) = (tokens(ipa), tokens(mnemonic));
    if a.len() != b.len() {
        return None;
    }
    let mut out = String::with_capacity(ipa.len() + 8);
    for (&(word, p), &(_, m)) in a.iter().zip(&b) {
        if word {
            out.push(' ');
        }
        if p.is_empty() && m.trim_start_matches(['\'', ',', '=']) == ";" {
            out.push_str(LINKING_J);
        } else {
            out.push_str(p);
        }
    }
    Some(out)
}

/// Split `text` into plain parts and `[[ raw phonemes ]]` blocks (Piper's `re.split(r"(\[\[.*?\]\])", text)`).
fn split_raw_blocks(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("[[") {
        let Some(j) = rest[i + 2..].find("]]") else { break };
        let end = i + 2 + j + 2;
        parts.push(&rest[..i]);
        parts.push(&rest[i..end]);
        rest = &rest[end..];
    }
    parts.push(rest);
    parts
}

impl Phonemizer {
    /// Phonemes per sentence: Piper's `PiperVoice.phonemize` for espeak voices, `[[ raw phonemes ]]` blocks
    /// included (their code points taken as written); empty sentences dropped (Piper skips them when it speaks).
    pub fn phonemize(&self, text: &str) -> Result<Vec<Vec<String>>, SpeechError> {
        let parts = split_raw_blocks(text);
        let mut sentences: Vec<Vec<String>> = Vec::new();
        let mut prev_raw = false;
        for (i, part) in parts.iter().enumerate() {
            if let Some(raw) = part.strip_prefix("[[").and_then(|p| p.strip_suffix("]]")) {
                prev_raw = true;
                if sentences.is_empty() {
                    sentences.push(Vec::new());
                }
                let last = sentences.last_mut().expect("pushed above");
                if i > 0 && parts[i - 1].ends_with(' ') {
                    last.push(" ".into());
                }
                last.extend(raw.trim().chars().map(String::from));
                if parts.get(i + 1).is_some_and(|p| p.starts_with(' ')) {
                    last.push(" ".into());
                }
                continue;
            }
            let mut own = self.phonemize_espeak(part)?.into_iter();
            if prev_raw {
                if let (Some(first), Some(last)) = (own.next(), sentences.last_mut()) {
                    last.extend(first);
                }
            }
            sentences.extend(own);
            prev_raw = false;
        }
        sentences.retain(|s| !s.is_empty());
        Ok(sentences)
    }

    /// Piper's `EspeakPhonemizer.phonemize`: espeak-ng phonemes per sentence (a sentence may be empty).
    fn phonemize_espeak(&self, text: &str) -> Result<Vec<Vec<String>>, SpeechError> {
        if text.is_empty() {
            return Ok(vec![Vec::new()]); // one empty clause, as espeak-ng reads ""
        }
        let data = self.data.as_deref();
        let passes = [(PhonemeNames::Ipa, Some(SEPARATOR)), (PhonemeNames::Mnemonic, Some(SEPARATOR))];
        let mut both = espeak::text_to_phonemes(text, &self.voice, data, &passes)?.into_iter();
        let (ipa, mnemonic) = (both.next().unwrap_or_default(), both.next().unwrap_or_default());
        let mut sentences: Vec<Vec<String>> = Vec::new();
        let mut current: Vec<String> = Vec::new();
        for (i, clause) in ipa.iter().enumerate() {
            let consumed = text.get(clause.consumed.clone()).unwrap_or("");
            let term = terminator(consumed, clause.at_end);
            let clause_ipa = match mnemonic.get(i).filter(|m: &&Clause| m.consumed == clause.consumed) {
                Some(m) => merge_linking(&clause.phonemes, &m.phonemes),
                None => None,
            }
            .unwrap_or_else(|| {
                tracing::debug!(clause = consumed, "espeak-ng passes differ; no linking phonemes for this clause");
                clause.phonemes.replace(SEPARATOR, "")
            });
            let mut s = strip_language_flags(&clause_ipa);
            s.push_str(term.mark);
            if matches!(term.mark, "," | ":" | ";") {
                s.push(' ');
            }
            current.extend(s.nfd().map(String::from));
            if term.sentence {
                sentences.push(self.merge_clusters(std::mem::take(&mut current)));
            }
        }
        if !current.is_empty() {
            sentences.push(self.merge_clusters(current));
        }
        Ok(sentences)
    }

    /// Piper's `_merge_known_vowel_clusters`: the longest known cluster at each position becomes one phoneme.
    fn merge_clusters(&self, phones: Vec<String>) -> Vec<String> {
        if self.vowel_clusters.is_empty() {
            return phones;
        }
        let known: HashSet<&[String]> = self.vowel_clusters.iter().map(|c| c.as_slice()).collect();
        let longest = self.vowel_clusters.iter().map(Vec::len).max().unwrap_or(0);
        let mut out = Vec::with_capacity(phones.len());
        let mut i = 0;
        while i < phones.len() {
            let n = (2..=longest.min(phones.len() - i)).rev().find(|&n| known.contains(&phones[i..i + n]));
            match n {
                Some(n) => {
                    out.push(phones[i..i + n].concat());
                    i += n;
                }
                None => {
                    out.push(phones[i].clone());
                    i += 1;
                }
            }
        }
        out
    }
}

/// One sentence's phoneme ids, as Piper makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceIds {
    /// `^ _ (p _)* $`.
    pub ids: Vec<i64>,
    /// The phonemes in id order, each with how many of `ids` it has (`^` and every phoneme with the pad after it,
    /// `$` alone): what a voice's per-id durations are summed by ([`super::timing::phone_times`]).
    pub groups: Vec<(String, usize)>,
    /// Phonemes the map has no ids for (dropped).
    pub missing: Vec<String>,
}

/// Piper's `phonemes_to_ids`: `^ _ (p _)* $`, with the phonemes each id belongs to and those it dropped.
pub fn phonemes_to_ids(phonemes: &[String], map: &PhonemeIdMap) -> Result<SentenceIds, SpeechError> {
    let get = |s: &str| {
        map.get(s).ok_or_else(|| SpeechError::Voice(format!("phoneme_id_map has no `{s}` (Piper's {BOS} {PAD} {EOS})")))
    };
    let (bos, pad, eos) = (get(BOS)?, get(PAD)?, get(EOS)?);
    let mut out =
        SentenceIds { ids: Vec::with_capacity(2 * phonemes.len() + 3), groups: Vec::new(), missing: Vec::new() };
    let push = |out: &mut SentenceIds, name: &str, ids: &[i64], padded: bool| {
        out.ids.extend(ids);
        if padded {
            out.ids.extend(pad);
        }
        out.groups.push((name.to_string(), ids.len() + if padded { pad.len() } else { 0 }));
    };
    push(&mut out, BOS, bos, true);
    for p in phonemes {
        match map.get(p) {
            Some(v) => push(&mut out, p, v, true),
            None => out.missing.push(p.clone()),
        }
    }
    push(&mut out, EOS, eos, false);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(mark: &'static str, sentence: bool) -> Terminator {
        Terminator { mark, sentence }
    }

    #[test]
    fn terminators_from_consumed_text() {
        assert_eq!(terminator("Hello, w", false), t(",", false));
        assert_eq!(terminator("orld!", true), t("!", true));
        assert_eq!(terminator("Really?! T", false), t("?", true));
        assert_eq!(terminator("Wait... w", false), t("", false));
        assert_eq!(terminator("Wait\u{2026} i", false), t("", false));
        assert_eq!(terminator("The results \u{2014} s", false), t(";", false));
        assert_eq!(terminator("First paragraph.\n\nS", false), t("", true));
        assert_eq!(terminator("no stop at all", true), t("", true));
        assert_eq!(terminator("He said \"no!\"", false), t("!", true));
        assert_eq!(terminator("Note: t", false), t(":", false));
        assert_eq!(terminator("\u{00BF}Q", false), t("", false));
    }

    #[test]
    fn raw_phoneme_blocks_are_split_out() {
        assert_eq!(split_raw_blocks("Say [[hɛˈloʊ]] now"), vec!["Say ", "[[hɛˈloʊ]]", " now"]);
        assert_eq!(split_raw_blocks("[[a]][[b]]"), vec!["", "[[a]]", "", "[[b]]", ""]);
        assert_eq!(split_raw_blocks("no [[end"), vec!["no [[end"]);
    }

    #[test]
    fn language_flags_are_removed() {
        assert_eq!(strip_language_flags("(en)hˈɛloʊ(fr) mɔ̃d"), "hˈɛloʊ mɔ̃d");
        assert_eq!(strip_language_flags("a () b ("), "a () b (");
    }

    #[test]
    fn linking_j_where_the_mnemonics_show_it() {
        let s = SEPARATOR;
        let ipa = format!("ð{s}ɪ{s} ˈæ{s}n t{s}w{s}ˈɛ{s}n{s}t{s}i{s}{s} ɔːɹ");
        let mn = format!("D{s}I2{s}; 'a{s}n t{s}w{s}'E{s}n{s}t{s}i{s}_:{s}_: O@");
        assert_eq!(merge_linking(&ipa, &mn).unwrap(), "ðɪʲ ˈæn twˈɛnti ɔːɹ");
        assert_eq!(merge_linking("a b", "a"), None);
    }

    #[test]
    fn ids_are_padded_like_piper() {
        let map: PhonemeIdMap = [("_", 0), ("^", 1), ("$", 2), ("a", 14), ("b", 15)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), vec![v]))
            .collect();
        let p: Vec<String> = ["a", "x", "b"].iter().map(|s| s.to_string()).collect();
        let s = phonemes_to_ids(&p, &map).unwrap();
        assert_eq!(s.ids, vec![1, 0, 14, 0, 15, 0, 2]);
        assert_eq!(s.missing, vec!["x".to_string()]);
        let groups: Vec<(&str, usize)> = s.groups.iter().map(|(n, k)| (n.as_str(), *k)).collect();
        assert_eq!(groups, [("^", 2), ("a", 2), ("b", 2), ("$", 1)]);
    }

    #[test]
    fn vowel_clusters_merge_longest_first() {
        let ph = Phonemizer {
            voice: "en-us".into(),
            data: None,
            vowel_clusters: vec![vec!["a".into(), "ɪ".into()], vec!["a".into(), "ɪ".into(), "ə".into()]],
        };
        let p: Vec<String> = ["k", "a", "ɪ", "ə", "a", "ɪ"].iter().map(|s| s.to_string()).collect();
        assert_eq!(ph.merge_clusters(p), vec!["k", "aɪə", "aɪ"]);
    }
}

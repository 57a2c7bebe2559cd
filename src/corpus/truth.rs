//! Mouth truth for speech made anywhere: a phone timeline in any phone set ([`PhoneSet`]) -> the corpus motion file
//! (`mouth4-2d` at 25 fps, phone times and eSpeak names), through the same table and articulator as the corpus.
//! `jamflow corpus truth` uses it to score the lips of `jamflow say` against the phones of the speech it made
//! (`scripts/eval_say_lips.py`); `make_corpus` uses the same mapping for every engine.

use std::collections::BTreeSet;
use std::path::Path;

use super::articulation::{Articulator, Segment};
use super::phones::{PhoneSet, PAUSE};
use super::{write_motion, CorpusError};
use crate::model::config::{AudioConfig, MOTION_FPS};

/// Motion frames (25 fps) covering the mel frames of `samples` audio samples at the model rate (center=True:
/// samples / hop + 1 mel frames).
pub fn motion_frames(samples: usize, audio: &AudioConfig) -> usize {
    let mel_frames = samples / audio.hop_length + 1;
    ((mel_frames as f64) * MOTION_FPS / audio.mel_rate()).ceil() as usize
}

/// Map a timeline onto the eSpeak names of the articulator, a pause filling any leading gap; names the set does
/// not know keep their own name (a neutral target) and are added to `unknown`.
pub(crate) fn to_espeak(set: PhoneSet, raw: Vec<Segment>, unknown: &mut BTreeSet<String>) -> Vec<Segment> {
    let mut out = Vec::with_capacity(raw.len() + 1);
    if let Some(first) = raw.first().filter(|s| s.start > 0.0) {
        out.push(Segment { name: PAUSE.into(), start: 0.0, end: first.start });
    }
    for s in raw {
        let name = set.to_espeak(&s.name).unwrap_or_else(|| {
            unknown.insert(format!("{set:?}:{}", s.name).to_lowercase());
            s.name.clone()
        });
        out.push(Segment { name, ..s });
    }
    out
}

/// A phone timeline as `scripts/corpus_piper.py` prints it: `{"phone_set": "arpabet", "phones": [[name, start_s,
/// end_s], ...]}` (other keys ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub phone_set: PhoneSet,
    pub phones: Vec<Segment>,
}

impl Timeline {
    /// Parse and check the JSON of `path` (times finite, non-negative, end >= start, in order).
    pub fn parse(text: &str, path: &Path) -> Result<Self, CorpusError> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| CorpusError::Format { path: path.to_path_buf(), msg: format!("not JSON: {e}") })?;
        Self::from_value(&v, path)
    }

    /// [`Timeline::parse`] of JSON already read (a line `scripts/corpus_piper.py` printed; `path` names its source).
    pub fn from_value(v: &serde_json::Value, path: &Path) -> Result<Self, CorpusError> {
        let bad = |msg: String| CorpusError::Format { path: path.to_path_buf(), msg };
        let phone_set: PhoneSet = serde_json::from_value(v["phone_set"].clone()).map_err(|_| {
            bad(format!("`phone_set` is {}; expected \"espeak\", \"arpabet\" or \"ipa\"", v["phone_set"]))
        })?;
        let list = v["phones"].as_array().ok_or_else(|| bad("no `phones` array".into()))?;
        let mut phones = Vec::with_capacity(list.len());
        for (k, p) in list.iter().enumerate() {
            let seg =
                (|| Some(Segment { name: p[0].as_str()?.to_string(), start: p[1].as_f64()?, end: p[2].as_f64()? }))()
                    .ok_or_else(|| bad(format!("phones[{k}] is {p}; expected [name, start_s, end_s]")))?;
            let prev_start = phones.last().map_or(0.0, |s: &Segment| s.start);
            if !(seg.start.is_finite() && seg.end.is_finite() && seg.start >= 0.0 && seg.end >= seg.start)
                || seg.start < prev_start
            {
                return Err(bad(format!(
                    "phones[{k}] {:?} spans {}..{} s; expected 0 <= start <= end, starts in order",
                    seg.name, seg.start, seg.end
                )));
            }
            phones.push(seg);
        }
        if phones.is_empty() {
            return Err(bad("`phones` is empty".into()));
        }
        Ok(Timeline { phone_set, phones })
    }

    /// The JSON [`Timeline::from_value`] reads (what `jamflow say --phones-out` writes).
    pub fn to_value(&self) -> serde_json::Value {
        let phones: Vec<_> = self.phones.iter().map(|p| serde_json::json!([p.name, p.start, p.end])).collect();
        serde_json::json!({ "phone_set": self.phone_set, "phones": phones })
    }
}

/// What [`write_truth`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub frames: usize,
    pub phonemes: usize,
    /// `set:name` of phones without a mapping (neutral target).
    pub unknown: Vec<String>,
}

/// The truth motion file of `timeline` for `samples` samples of audio at the model rate, written to `out`.
pub fn write_truth(
    timeline: &Timeline,
    samples: usize,
    audio: &AudioConfig,
    art: &Articulator,
    out: &Path,
) -> Result<Truth, CorpusError> {
    let mut unknown = BTreeSet::new();
    let segs = to_espeak(timeline.phone_set, timeline.phones.clone(), &mut unknown);
    let frames = motion_frames(samples, audio);
    let motion = art.motion(&segs, MOTION_FPS, frames);
    write_motion(out, &motion, &segs)?;
    Ok(Truth { frames, phonemes: segs.len(), unknown: unknown.into_iter().collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::articulation::opening;
    use crate::corpus::articulation::FRAME;

    fn parse(s: &str) -> Result<Timeline, CorpusError> {
        Timeline::parse(s, Path::new("p.json"))
    }

    #[test]
    fn a_timeline_reads_back_what_it_writes() {
        let t = parse(r#"{"phone_set": "espeak", "phones": [["_", 0, 0.1], ["aI", 0.1, 0.35]]}"#).unwrap();
        assert_eq!(Timeline::from_value(&t.to_value(), Path::new("p.json")).unwrap(), t);
        assert_eq!(t.to_value()["phone_set"], "espeak");
    }

    #[test]
    fn arpabet_timeline_closes_on_b_and_opens_on_aa() {
        let t = parse(
            r#"{"phone_set": "arpabet", "phones": [["SIL", 0, 0.2], ["B", 0.2, 0.3], ["AA", 0.3, 0.6],
            ["SIL", 0.6, 1.0]]}"#,
        )
        .unwrap();
        let audio = AudioConfig::default();
        let dir = std::env::temp_dir().join(format!("jamflow-truth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("t.safetensors");
        let samples = audio.sample_rate as usize; // 1 s
        let r = write_truth(&t, samples, &audio, &Articulator::default(), &out).unwrap();
        assert_eq!(r.frames, motion_frames(samples, &audio));
        assert_eq!(r.phonemes, 4);
        assert!(r.unknown.is_empty());
        let f = crate::runtime::tensors::read_safetensors(&out).unwrap();
        let m = f[crate::corpus::names::MOTION].as_f32().unwrap().to_vec();
        let open = |t: f64| opening(&m[(t * MOTION_FPS) as usize * FRAME..][..FRAME]);
        assert!(open(0.45) > open(0.27) + 0.05, "open on AA {} vs closed on B {}", open(0.45), open(0.27));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_timelines_are_named_errors() {
        for (json, want) in [
            ("nope", "not JSON"),
            (r#"{"phone_set": "klingon", "phones": [["a", 0, 1]]}"#, "phone_set"),
            (r#"{"phone_set": "ipa"}"#, "no `phones`"),
            (r#"{"phone_set": "ipa", "phones": []}"#, "empty"),
            (r#"{"phone_set": "ipa", "phones": [["a", 0]]}"#, "phones[0]"),
            (r#"{"phone_set": "ipa", "phones": [["a", 0.5, 0.2]]}"#, "start <= end"),
            (r#"{"phone_set": "ipa", "phones": [["a", 0.5, 0.6], ["b", 0.1, 0.2]]}"#, "in order"),
        ] {
            let e = parse(json).unwrap_err().to_string();
            assert!(e.contains("p.json") && e.contains(want), "{json}: {e}");
        }
    }

    #[test]
    fn a_leading_gap_becomes_a_pause_and_unknown_names_are_listed() {
        let raw = vec![Segment { name: "zz".into(), start: 0.1, end: 0.2 }];
        let mut unknown = BTreeSet::new();
        let s = to_espeak(PhoneSet::Arpabet, raw, &mut unknown);
        assert_eq!(s[0], Segment { name: PAUSE.into(), start: 0.0, end: 0.1 });
        assert_eq!(unknown.into_iter().collect::<Vec<_>>(), vec!["arpabet:zz".to_string()]);
    }
}

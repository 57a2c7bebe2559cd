//! The many-voice corpus (`jamflow corpus make`, docs/corpus.md) on real engine output (espeak-ng, festival, Piper,
//! recording conditions): determinism, split by sentence and by voice family, manifest counts, phone timelines that
//! line up with the audio, and the articulatory mapping seen through the whole pipeline (a /p/ closes the lips, an
//! open vowel opens the jaw). Needs what `scripts/setup.sh --dev` installs (espeak-ng, festival + voices, the venv
//! with piper-tts, pocketsphinx, pyroomacoustics).

mod common;
use common::*;

use std::collections::HashSet;
use std::path::Path;

use jamflow::corpus::articulation::{opening, targets, Articulator, Class, FRAME};
use jamflow::corpus::espeak::VoiceSettings;
use jamflow::corpus::voices::HELD_OUT;
use jamflow::corpus::{utterance, Manifest};
use jamflow::model::config::AudioConfig;

/// A small text fixture, generated here: 12 distinct sentences.
fn text_file(dir: &Path) -> std::path::PathBuf {
    let words = ["apple", "river", "moon", "paper", "window", "garden", "bottle", "music", "yellow", "story"];
    let mut s = String::new();
    for i in 0..12 {
        s.push_str(&format!(
            "The {} and the {} met a {} today.\n%\n",
            words[i % 10],
            words[(i * 3 + 1) % 10],
            words[(i * 7 + 2) % 10]
        ));
    }
    let p = dir.join("sentences.txt");
    std::fs::write(&p, s).unwrap();
    p
}

fn make(out: &Path, text: &Path, seed: &str) -> Manifest {
    jamflow_ok(&[
        "corpus",
        "make",
        "--out",
        s(out),
        "--seed",
        seed,
        "--hours",
        "0.01",
        "--eval-fraction",
        "0.25",
        "--text",
        s(text),
        "--python",
        s(&python()),
    ]);
    Manifest::load(out).unwrap()
}

/// Mean RMS of `audio` over the frames of the phones whose eSpeak name satisfies `pick`.
fn rms_over(audio: &[f32], starts: &[f32], ends: &[f32], names: &[&str], pick: impl Fn(&str) -> bool) -> f64 {
    let (mut e, mut n) = (0.0f64, 0usize);
    for ((s, t), name) in starts.iter().zip(ends).zip(names) {
        if !pick(name) {
            continue;
        }
        let (a, b) = ((*s as f64 * 24_000.0) as usize, ((*t as f64 * 24_000.0) as usize).min(audio.len()));
        for x in &audio[a.min(b)..b] {
            e += (*x as f64) * (*x as f64);
            n += 1;
        }
    }
    (e / n.max(1) as f64).sqrt()
}

#[test]
fn corpus_is_deterministic_split_by_sentence_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let text = text_file(d.path());
    let a = make(&d.path().join("a"), &text, "3");
    let b = make(&d.path().join("b"), &text, "3");
    assert_eq!(a, b, "same seed, same manifest");
    for u in &a.utterances {
        for f in [&u.wav, &u.motion] {
            let (x, y) = (
                std::fs::read(d.path().join("a").join(f)).unwrap(),
                std::fs::read(d.path().join("b").join(f)).unwrap(),
            );
            assert!(x == y, "{f} differs between two runs with the same seed");
        }
    }
    let c = make(&d.path().join("c"), &text, "4");
    assert_ne!(a.utterances, c.utterances, "another seed, another corpus");

    // Splits: every split present, disjoint sentences, counts and hours add up.
    let mut seen: Vec<HashSet<&str>> = Vec::new();
    for split in ["train", "val", "test"] {
        let utts: Vec<_> = a.utterances.iter().filter(|u| u.split == split).collect();
        let st = &a.splits[split];
        assert!(!utts.is_empty(), "{split} is empty");
        assert_eq!(st.utterances, utts.len(), "{split} count");
        let secs: f64 = utts.iter().map(|u| u.samples as f64 / a.sample_rate as f64).sum();
        assert!((st.seconds - secs).abs() < 1e-6 && (st.hours - secs / 3600.0).abs() < 1e-9);
        let texts: HashSet<&str> = utts.iter().map(|u| u.text.as_str()).collect();
        assert_eq!(st.sentences, texts.len());
        for other in &seen {
            assert!(texts.is_disjoint(other), "a sentence is in two splits");
        }
        seen.push(texts);
    }
    assert!(a.splits["train"].seconds >= 0.01 * 3600.0 * 0.5 * 0.6, "train reaches its hours");

    // Voices: every engine speaks; held-out families only in the test split, which also has noisy and
    // reverberant copies of them; phone sets as each engine reports.
    let engines: HashSet<String> = a.utterances.iter().map(|u| format!("{:?}", u.engine.unwrap())).collect();
    assert_eq!(engines.len(), 3, "{engines:?}");
    for u in &a.utterances {
        let fam = u.family.as_deref().unwrap();
        assert_eq!(HELD_OUT.contains(&fam), u.held_out, "{}", u.id);
        if u.held_out {
            assert_eq!(u.split, "test", "{} of held-out family {fam} outside the test split", u.id);
        }
        assert!(["clean", "augmented", "noisy", "reverberant"].contains(&u.condition.as_str()), "{}", u.condition);
        if u.split != "test" {
            assert!(!["noisy", "reverberant"].contains(&u.condition.as_str()));
        }
    }
    assert!(a.utterances.iter().any(|u| u.held_out && u.condition == "clean"));
    for cond in ["noisy", "reverberant"] {
        let copies: Vec<_> = a.utterances.iter().filter(|u| u.condition == cond).collect();
        assert!(!copies.is_empty(), "no {cond} test copies");
        for c in copies {
            let orig = &c.id[..c.id.len() - cond.len() - 1];
            let o = a.utterances.iter().find(|u| u.id == orig).unwrap();
            assert!(o.held_out && o.text == c.text && o.condition == "clean", "{} is a copy of {orig}", c.id);
        }
    }
    assert!(a.utterances.iter().any(|u| u.condition == "augmented"), "training conditions are drawn");
    assert!(a.held_out_families.iter().all(|f| HELD_OUT.contains(&f.as_str())));

    // Each utterance: WAV at 24 kHz, motion [F, 12] covering the mel frames, timeline of P phonemes.
    for u in &a.utterances {
        let wav = jamflow::audio::wav::read(&d.path().join("a").join(&u.wav)).unwrap();
        assert_eq!((wav.sample_rate as usize, wav.channels, wav.samples.len()), (24_000, 1, u.samples));
        let t = read(&d.path().join("a").join(&u.motion));
        assert_eq!(t["motion"].shape, vec![u.frames, FRAME]);
        assert_eq!(u.frames, ((u.samples / 256 + 1) as f64 * 25.0 / 93.75).ceil() as usize);
        assert_eq!(t["ph_start"].shape, vec![u.phonemes]);
    }

    // Every engine's timeline lines up with its audio: the lips are shut on /p b m/ while open vowels sound.
    for engine in ["Espeak", "Festival", "Piper"] {
        let (mut closed, mut open) = (0.0, 0.0);
        for u in a.utterances.iter().filter(|u| format!("{:?}", u.engine.unwrap()) == engine && u.condition == "clean")
        {
            let dir = d.path().join("a");
            let wav = jamflow::audio::wav::read(&dir.join(&u.wav)).unwrap();
            let t = read(&dir.join(&u.motion));
            let names = safetensors_phonemes(&dir.join(&u.motion));
            let names: Vec<&str> = names.split(' ').collect();
            let (st, en) = (t["ph_start"].as_f32().unwrap(), t["ph_end"].as_f32().unwrap());
            closed += rms_over(&wav.samples, st, en, &names, |n| ["p", "b"].contains(&n));
            open += rms_over(&wav.samples, st, en, &names, |n| ["A:", "a", "aI", "aU", "V", "O:"].contains(&n));
        }
        assert!(open > 1.5 * closed, "{engine}: RMS on open vowels {open:.4} vs on /p b/ {closed:.4}");
    }
}

fn safetensors_phonemes(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().as_ref().unwrap()["phonemes"].clone()
}

#[test]
fn bilabials_close_and_open_vowels_open_on_espeak_speech() {
    let audio = AudioConfig::default();
    let art = Articulator::default();
    let voice = VoiceSettings { voice: "en-us".into(), rate: 160, pitch: 50, range: 50 };
    let spoken = utterance("Bob, pop a map at the bar.", &voice, &audio, &art).unwrap();
    let (y, segs, motion) = (spoken.audio, spoken.segments, spoken.motion);
    assert!(y.len() > 24_000 / 2, "speech is at least half a second");
    let frame_of = |t: f64| (((t - art.lead) * 25.0).round().max(0.0) as usize).min(motion.len() / FRAME - 1);
    let open_at = |t: f64| opening(&motion[frame_of(t) * FRAME..(frame_of(t) + 1) * FRAME]);
    let (mut closed, mut open) = (Vec::new(), Vec::new());
    for s in &segs {
        let mid = 0.5 * (s.start + s.end);
        match targets(&s.name).0 {
            Class::Bilabial => closed.push(open_at(mid)),
            Class::Vowel if ["A:", "a", "0", "aa", "A@"].contains(&s.name.as_str()) && s.end - s.start > 0.06 => {
                open.push(open_at(mid))
            }
            _ => {}
        }
    }
    let names: Vec<_> = segs.iter().map(|s| &s.name).collect();
    assert!(closed.len() >= 5 && open.len() >= 2, "phonemes seen: {names:?}");
    // Every /p b m/ closes the lips; every open vowel opens them well beyond any closure.
    assert!(closed.iter().all(|&o| o < 0.03), "bilabial openings {closed:?} ({names:?})");
    assert!(open.iter().all(|&o| o > 0.07), "open-vowel openings {open:?} ({names:?})");
    // The timeline is ordered and inside the audio.
    let dur = y.len() as f64 / 24_000.0;
    assert!(segs.windows(2).all(|w| w[0].start <= w[1].start) && segs.last().unwrap().end <= dur + 0.01);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let text = text_file(d.path());
    let e = jamflow_err(&["corpus", "make", "--out", s(&d.path().join("x")), "--hours=-1", "--text", s(&text)]);
    assert!(e.contains("--hours"), "{e}");
    let e = jamflow_err(&["corpus", "make", "--out", s(&d.path().join("x")), "--text", s(&d.path().join("none.txt"))]);
    assert!(e.contains("none.txt"), "{e}");
    // A missing engine is an error naming what to install, never a silently smaller corpus.
    let x = d.path().join("x");
    let out = s(&x);
    let e = jamflow_err(&["corpus", "make", "--out", out, "--text", s(&text), "--python", "/nonexistent/python"]);
    assert!(e.contains("/nonexistent/python") && e.contains("setup.sh --dev"), "{e}");
    let o = jamflow(&["corpus", "make", "--out", out, "--text", s(&text), "--engines", "espeak,klingon"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code() == Some(2) && e.contains("klingon") && e.contains("festival"), "{e}");
    let bogus =
        jamflow::corpus::festival::FestivalVoice { name: "zz", select: "voice_zz_diphone", package: "festvox-zz" };
    let e = jamflow::corpus::festival::check(&bogus).unwrap_err().to_string();
    assert!(e.contains("festvox-zz"), "{e}");
}

/// `jamflow corpus truth`: espeak-ng's own timeline of an utterance, given as JSON, gives back exactly the motion
/// `corpus make` derives (one phone table, one articulator); bad timelines and audio are named errors.
#[test]
fn truth_from_a_phone_timeline_matches_the_corpus_motion() {
    let d = tempfile::tempdir().unwrap();
    let audio = AudioConfig::default();
    let voice = VoiceSettings { voice: "en-us".into(), rate: 160, pitch: 50, range: 50 };
    let spoken = utterance("Bob, pop a map at the bar.", &voice, &audio, &Articulator::default()).unwrap();
    let wav = d.path().join("s.wav");
    jamflow::audio::wav::write(&wav, audio.sample_rate, &spoken.audio, jamflow::audio::wav::WavFormat::Pcm16).unwrap();
    let phones: Vec<_> = spoken.segments.iter().map(|s| serde_json::json!([s.name, s.start, s.end])).collect();
    let json = d.path().join("p.json");
    std::fs::write(&json, serde_json::json!({"phone_set": "espeak", "phones": phones}).to_string()).unwrap();
    let out = d.path().join("t.safetensors");
    jamflow_ok(&["corpus", "truth", "--phones", s(&json), "--audio", s(&wav), "--out", s(&out)]);
    let t = jamflow::runtime::tensors::read_safetensors(&out).unwrap();
    let got = t[jamflow::corpus::names::MOTION].as_f32().unwrap();
    assert_eq!(got.len(), spoken.motion.len(), "frame count");
    let worst = got.iter().zip(&spoken.motion).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "motion differs from the corpus's by {worst}");
    assert!(safetensors_phonemes(&out).starts_with(&spoken.segments[0].name));

    std::fs::write(&json, r#"{"phone_set": "arpabet", "phones": [["B", 0.3, 0.1]]}"#).unwrap();
    let e = jamflow_err(&["corpus", "truth", "--phones", s(&json), "--audio", s(&wav), "--out", s(&out)]);
    assert!(e.contains("p.json") && e.contains("start <= end"), "{e}");
    std::fs::write(&json, r#"{"phone_set": "arpabet", "phones": [["B", 0.1, 0.3]]}"#).unwrap();
    let not_wav = d.path().join("not-a.wav");
    std::fs::write(&not_wav, "hello").unwrap();
    let e = jamflow_err(&["corpus", "truth", "--phones", s(&json), "--audio", s(&not_wav), "--out", s(&out)]);
    assert!(e.contains("not-a.wav"), "a non-WAV audio file is named: {e}");
}

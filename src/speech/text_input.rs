//! The model engine's text input: the one place that turns words into the `text` ids of a sampling request and
//! the number of mel frames to generate, by the package's `text.alignment` (DESIGN §7):
//!
//! - `filler` (F5-TTS): the characters (reference transcript, a space, the text), the length guessed from the
//!   text (the reference's speaking rate when there is one, else [`CHARS_PER_SECOND`]) or given;
//! - `durations`: espeak-ng's phoneme events for the text ([`crate::audio::espeak::Speech::timeline`]), one
//!   phoneme id per mel frame, each repeated for its duration; the durations fix the length (scaled to the wanted
//!   speed), or are scaled to a given length (dubbing). A reference voice's frames get its transcript's phonemes,
//!   their espeak-ng durations stretched to the reference's real length; its tempo carries over to the new text.
//!
//! A `durations` package's phoneme durations come from a [`PhoneTimer`]: espeak-ng's ([`EspeakTimer`]), or a voice's
//! own ([`VoiceTimer`]: a Piper voice reports where each phone of its speech lies); [`phone_timer`] picks one by
//! [`Durations`].
//!
//! `live::PackageModel` (`say --engine model`, `/say`) and `jamflow dub` build their requests here.

use std::path::Path;

use crate::audio::espeak::{self, VoiceSettings};
use crate::model::alignment::{frames_for_seconds, scale_timeline, TextAlignment, TimedPhone, PAUSE};
use crate::model::config::ModelConfig;
use crate::model::vocab::Vocab;
use crate::sampler::estimate_frames;

use super::piper::{default_voice, PiperVoice};
use super::{Durations, Speaker, SpeechError};
use crate::runtime::OrtOptions;

/// Speaking rate that sizes generated speech of a `filler` package without a reference voice (the corpus'
/// espeak-ng voices speak 140-200 words/min, about 14 characters per second).
pub const CHARS_PER_SECOND: f64 = 14.0;
/// Shortest generated speech of a `filler` package (seconds).
pub const MIN_FILLER_S: f64 = 0.5;
/// Speeds accepted (1 = espeak-ng's own durations, or the reference's tempo).
pub const SPEED_RANGE: std::ops::RangeInclusive<f64> = 0.25..=4.0;
/// A reference voice's tempo against espeak-ng's, as carried over to the generated text, is kept in this range.
pub const TEMPO_RANGE: std::ops::RangeInclusive<f64> = 0.5..=2.0;

/// The espeak-ng voice whose phoneme durations time a `durations` package's text (its own default rate).
pub fn duration_voice() -> VoiceSettings {
    VoiceSettings { voice: "en-us".into(), rate: 175, pitch: 50, range: 50 }
}

/// How long the generated speech is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Length {
    /// Chosen by the text (durations, or a filler estimate) at this speed (1 = normal, 2 = twice as fast).
    Speed(f64),
    /// Exactly this many mel frames (dubbing: the motion's length).
    Frames(usize),
}

/// A reference voice (F5-style prompt): its transcript and its mel length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prompt<'a> {
    pub text: &'a str,
    pub frames: usize,
}

/// The text ids of a request and the frames to generate after the prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct TextInput {
    /// `[Nt]` ids (`durations`: `[prompt frames + gen_frames]`, one per mel frame).
    pub ids: Vec<i64>,
    /// Mel frames to generate after the prompt's.
    pub gen_frames: usize,
    /// `durations`: the phones the generated frames were given (seconds from the first generated frame, eSpeak
    /// names as espeak-ng spoke them): where each phone of the new speech lies. Empty for `filler`.
    pub phones: Vec<TimedPhone>,
}

/// A phoneme timeline and the length of the speech it times (seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub phones: Vec<TimedPhone>,
    pub seconds: f64,
}

/// espeak-ng's timeline of `text` with [`duration_voice`]; an error when nothing in it is a phoneme. The library
/// keeps state between utterances: the same text can come out a few percent longer or shorter depending on what
/// it spoke before (e.g. "The moon was old." 0.885 s or 0.93 s, the difference in the last phonemes).
pub fn espeak_timeline(text: &str) -> Result<Timeline, SpeechError> {
    let speech = espeak::synthesize(text, &duration_voice())?;
    let phones = speech.timeline();
    if !phones.iter().any(|p| !p.name.starts_with(PAUSE)) {
        return Err(SpeechError::Unsayable(text.to_string()));
    }
    Ok(Timeline { phones, seconds: speech.seconds() })
}

/// Where a `durations` package's phoneme durations come from.
pub trait PhoneTimer: Send {
    /// The phones of `text` (eSpeak names, seconds) and the length of the speech they time.
    fn timeline(&mut self, text: &str) -> Result<Timeline, SpeechError>;
}

/// espeak-ng's durations at its default rate ([`espeak_timeline`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct EspeakTimer;

impl PhoneTimer for EspeakTimer {
    fn timeline(&mut self, text: &str) -> Result<Timeline, SpeechError> {
        espeak_timeline(text)
    }
}

/// A voice's own durations: where each phone of the text would lie were the voice to speak it
/// ([`Speaker::time_text`]; [`phone_timer`] opens a Piper voice's duration predictor alone, so no audio is made). A
/// package trained on that voice's corpus learnt its rhythm, which espeak-ng's durations are not (docs/speech.md
/// "Durations").
pub struct VoiceTimer {
    voice: Box<dyn Speaker>,
}

impl VoiceTimer {
    pub fn new(voice: Box<dyn Speaker>) -> Self {
        Self { voice }
    }
}

impl PhoneTimer for VoiceTimer {
    fn timeline(&mut self, text: &str) -> Result<Timeline, SpeechError> {
        let (phones, seconds) = self.voice.time_text(text)?.ok_or_else(|| {
            SpeechError::Voice("the voice reports no phoneme durations; time the text with espeak-ng instead".into())
        })?;
        if !phones.iter().any(|p| !p.name.starts_with(PAUSE)) {
            return Err(SpeechError::Unsayable(text.to_string()));
        }
        Ok(Timeline { phones, seconds })
    }
}

/// The [`PhoneTimer`] of `durations`. The voice is `voice` (a Piper `VOICE.onnx`), else the installed one; one that
/// is named or installed but cannot be opened is an error. [`Durations::Voice`] needs a voice that reports its
/// durations; [`Durations::Auto`] takes espeak-ng's where there is none or it reports none.
pub fn phone_timer(
    durations: Durations,
    voice: Option<&Path>,
    ort: &OrtOptions,
) -> Result<Box<dyn PhoneTimer>, SpeechError> {
    let path = voice.map(Path::to_path_buf).or_else(default_voice);
    match (durations, path) {
        (Durations::Espeak, _) => Ok(Box::new(EspeakTimer)),
        (Durations::Voice, None) => Err(SpeechError::Voice(
            "durations = voice needs a Piper voice (VOICE.onnx with VOICE.onnx.json beside it); none is given and \
             none is installed"
                .into(),
        )),
        (Durations::Auto, None) => {
            tracing::info!("no Piper voice installed: phoneme durations from espeak-ng");
            Ok(Box::new(EspeakTimer))
        }
        (_, Some(path)) => match PiperVoice::open_durations_only(&path, ort)? {
            Some(v) => {
                tracing::info!(voice = %path.display(), "phoneme durations from the voice");
                Ok(Box::new(VoiceTimer::new(Box::new(v))))
            }
            None => {
                let msg = "the voice's graph does not expose its phoneme durations (no single Ceil node, which \
                           Piper's VITS exports have)";
                if durations == Durations::Voice {
                    return Err(SpeechError::VoiceFile { path, msg: msg.into() });
                }
                tracing::warn!(voice = %path.display(), "{msg}: phoneme durations from espeak-ng");
                Ok(Box::new(EspeakTimer))
            }
        },
    }
}

/// The request's text ids and generated length for `text` (after `prompt`), by the package's alignment; a
/// `durations` package's phonemes timed by `timer`.
pub fn text_input(
    cfg: &ModelConfig,
    vocab: &Vocab,
    text: &str,
    prompt: Option<Prompt>,
    length: Length,
    timer: &mut dyn PhoneTimer,
) -> Result<TextInput, SpeechError> {
    let tc = cfg.text.as_ref().ok_or_else(|| SpeechError::Invalid("the package has no text input".into()))?;
    if let Length::Speed(s) = length {
        if !SPEED_RANGE.contains(&s) {
            return Err(SpeechError::Invalid(format!(
                "speed {s} is outside {}..={}",
                SPEED_RANGE.start(),
                SPEED_RANGE.end()
            )));
        }
    }
    let rate = cfg.audio.mel_rate();
    match tc.alignment {
        TextAlignment::Filler => {
            let full = match prompt {
                Some(p) if !p.text.is_empty() => format!("{} {text}", p.text),
                _ => text.to_string(),
            };
            let ids = vocab.encode_checked(&full, tc.max_len)?;
            let gen_frames = match (length, prompt) {
                (Length::Frames(n), _) => n,
                (Length::Speed(s), Some(p)) => estimate_frames(p.frames, p.text, text, s as f32)
                    .saturating_sub(p.frames)
                    .max((MIN_FILLER_S * rate) as usize),
                (Length::Speed(s), None) => ((text.chars().count() as f64 / CHARS_PER_SECOND / s * rate).ceil()
                    as usize)
                    .max((MIN_FILLER_S * rate) as usize),
            };
            Ok(TextInput { ids, gen_frames, phones: Vec::new() })
        }
        TextAlignment::Durations => {
            let gen = timer.timeline(text)?;
            let reference = match prompt {
                Some(p) => Some((timer.timeline(p.text)?, p.frames)),
                None => None,
            };
            durations_input(vocab, rate, tc.max_len, &gen, reference.as_ref().map(|(t, f)| (t, *f)), length)
        }
    }
}

/// The `durations` ids from timelines (the testable core of [`text_input`]): the prompt's frames take its
/// timeline stretched to them; the text's timeline is scaled by the prompt's tempo (clamped to [`TEMPO_RANGE`])
/// over the speed, or stretched to a given length.
pub fn durations_input(
    vocab: &Vocab,
    mel_rate: f64,
    max_len: usize,
    gen: &Timeline,
    prompt: Option<(&Timeline, usize)>,
    length: Length,
) -> Result<TextInput, SpeechError> {
    let mut ids = Vec::new(); // [T_prompt + T_gen]
    let mut unknown = std::collections::BTreeSet::new();
    let mut tempo = 1.0;
    if let Some((t, frames)) = prompt {
        let stretch = frames as f64 / mel_rate / t.seconds.max(1e-6);
        tempo = stretch.clamp(*TEMPO_RANGE.start(), *TEMPO_RANGE.end());
        let f = vocab.frame_ids(&scale_timeline(&t.phones, stretch), mel_rate, frames)?;
        ids.extend(f.ids);
        unknown.extend(f.unknown);
    }
    let (factor, gen_frames) = match length {
        Length::Speed(s) => (tempo / s, frames_for_seconds(gen.seconds * tempo / s, mel_rate)),
        Length::Frames(n) => (n as f64 / mel_rate / gen.seconds.max(1e-6), n),
    };
    let phones = scale_timeline(&gen.phones, factor);
    let f = vocab.frame_ids(&phones, mel_rate, gen_frames)?;
    ids.extend(f.ids);
    unknown.extend(f.unknown);
    if !unknown.is_empty() {
        tracing::warn!(?unknown, "phonemes the package's vocabulary lacks take the pause's id");
    }
    if ids.len() > max_len {
        return Err(SpeechError::Invalid(format!(
            "{} mel frames of phonemes exceed the package's limit text.max_len = {max_len}; say less at once",
            ids.len()
        )));
    }
    Ok(TextInput { ids, gen_frames, phones })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::AudioConfig;

    fn timeline(parts: &[(&str, f64)]) -> Timeline {
        let mut t = 0.0;
        let phones = parts
            .iter()
            .map(|&(n, d)| {
                let p = TimedPhone { name: n.into(), start: t, end: t + d };
                t += d;
                p
            })
            .collect();
        Timeline { phones, seconds: t }
    }

    #[test]
    fn durations_give_the_length_and_follow_the_speed() {
        let (_d, v) = Vocab::for_test(&["_", "h", "aI"]);
        let rate = AudioConfig::default().mel_rate();
        let t = timeline(&[("_", 0.1), ("h", 0.1), ("aI", 0.3), ("_", 0.1)]);
        let x = durations_input(&v, rate, 4096, &t, None, Length::Speed(1.0)).unwrap();
        assert_eq!((x.gen_frames, x.ids.len()), (56, 56)); // 0.6 s * 93.75
        let fast = durations_input(&v, rate, 4096, &t, None, Length::Speed(2.0)).unwrap();
        assert_eq!(fast.gen_frames, 28);
        let count = |ids: &[i64], id| ids.iter().filter(|&&x| x == id).count();
        assert_eq!(count(&x.ids, 2), 28);
        assert_eq!(count(&fast.ids, 2), 14);
        // A given length (dubbing): the same phonemes stretched over it.
        let dub = durations_input(&v, rate, 4096, &t, None, Length::Frames(112)).unwrap();
        assert_eq!((dub.gen_frames, count(&dub.ids, 2)), (112, 56));
        // Over the limit: a named error.
        let e = durations_input(&v, rate, 50, &t, None, Length::Speed(1.0)).unwrap_err().to_string();
        assert!(e.contains("text.max_len = 50"), "{e}");
    }

    #[test]
    fn a_prompt_gets_its_transcripts_phonemes_and_passes_on_its_tempo() {
        let (_d, v) = Vocab::for_test(&["_", "h", "aI", "b"]);
        let rate = 100.0;
        let reference = timeline(&[("b", 0.5), ("aI", 0.5)]); // espeak-ng: 1 s; the real reference: 150 frames
        let t = timeline(&[("h", 0.2), ("aI", 0.2)]);
        let x = durations_input(&v, rate, 4096, &t, Some((&reference, 150)), Length::Speed(1.0)).unwrap();
        assert_eq!(x.ids.len(), 150 + x.gen_frames);
        assert_eq!(&x.ids[..75], &[3; 75][..]);
        assert_eq!(&x.ids[75..150], &[2; 75][..]);
        assert_eq!(x.gen_frames, 60, "0.4 s at the reference's tempo 1.5");
        // A reference 10 times slower than espeak-ng: the tempo carried over is clamped.
        let x = durations_input(&v, rate, 4096, &t, Some((&reference, 1000)), Length::Speed(1.0)).unwrap();
        assert_eq!(x.gen_frames, 80);
    }

    #[test]
    fn unknown_phonemes_are_the_pause_not_a_panic() {
        let (_d, v) = Vocab::for_test(&["_", "a"]);
        let t = timeline(&[("a", 0.1), ("zz", 0.1)]);
        let x = durations_input(&v, 10.0, 4096, &t, None, Length::Speed(1.0)).unwrap();
        assert_eq!(x.ids, [1, 0]);
    }

    #[test]
    fn filler_packages_keep_their_character_ids() {
        let (_d, v) = Vocab::for_test(&[" ", "a", "b"]);
        let mut cfg = crate::model::random::Preset::SmallMmdit.config();
        let x = text_input(&cfg, &v, "ab", None, Length::Speed(1.0), &mut EspeakTimer).unwrap();
        assert_eq!(x.ids, [1, 2]);
        assert_eq!(x.gen_frames, (MIN_FILLER_S * cfg.audio.mel_rate()) as usize);
        let p = Prompt { text: "ba", frames: 100 };
        let x = text_input(&cfg, &v, "ab ab", Some(p), Length::Speed(1.0), &mut EspeakTimer).unwrap();
        assert_eq!(x.ids, [2, 1, 0, 1, 2, 0, 1, 2]);
        assert_eq!(x.gen_frames, 250, "the reference's 50 frames per byte");
        let x = text_input(&cfg, &v, "ab", None, Length::Frames(7), &mut EspeakTimer).unwrap();
        assert_eq!(x.gen_frames, 7);
        let e = text_input(&cfg, &v, "ab", None, Length::Speed(0.0), &mut EspeakTimer).unwrap_err().to_string();
        assert!(e.contains("speed"), "{e}");
        cfg.text = None;
        assert!(text_input(&cfg, &v, "ab", None, Length::Speed(1.0), &mut EspeakTimer).is_err());
    }

    /// A voice that says every text in `seconds` and reports `phones` (or none).
    struct FakeVoice {
        phones: Option<Vec<TimedPhone>>,
        seconds: f64,
    }

    impl Speaker for FakeVoice {
        fn sample_rate(&self) -> u32 {
            1000
        }
        fn speak(&mut self, _text: &str) -> Result<Vec<f32>, SpeechError> {
            Ok(vec![0.0; (self.seconds * 1000.0) as usize])
        }
        fn speak_with_phones(&mut self, text: &str) -> Result<(Vec<f32>, Option<Vec<TimedPhone>>), SpeechError> {
            Ok((self.speak(text)?, self.phones.clone()))
        }
    }

    fn durations_config(v: &Vocab) -> ModelConfig {
        let mut cfg = crate::model::random::Preset::SmallMmdit.config();
        let tc = cfg.text.as_mut().unwrap();
        tc.alignment = TextAlignment::Durations;
        tc.vocab_size = v.len();
        cfg
    }

    #[test]
    fn a_voice_times_the_text_with_its_own_durations() {
        let (_d, v) = Vocab::for_test(&["_", "h", "aI"]);
        let cfg = durations_config(&v);
        let rate = cfg.audio.mel_rate();
        let t = timeline(&[("_", 0.1), ("h", 0.2), ("aI", 0.6), ("_", 0.1)]);
        let mut voice = VoiceTimer::new(Box::new(FakeVoice { phones: Some(t.phones.clone()), seconds: 1.2 }));
        let x = text_input(&cfg, &v, "hi", None, Length::Speed(1.0), &mut voice).unwrap();
        // The length is the voice's audio (1.2 s, its trailing silence included), the phones where it put them.
        assert_eq!(x.gen_frames, frames_for_seconds(1.2, rate));
        assert_eq!(x.phones, t.phones);
        let count = |id| x.ids.iter().filter(|&&i| i == id).count();
        assert_eq!((count(1), count(2)), (frames_for_seconds(0.2, rate), frames_for_seconds(0.6, rate)));
        let fast = text_input(&cfg, &v, "hi", None, Length::Speed(2.0), &mut voice).unwrap();
        assert_eq!(fast.gen_frames, frames_for_seconds(0.6, rate));
        // A voice that reports no durations, or only pauses: named errors, not espeak-ng's durations in disguise.
        let mut mute = VoiceTimer::new(Box::new(FakeVoice { phones: None, seconds: 1.0 }));
        let e = text_input(&cfg, &v, "hi", None, Length::Speed(1.0), &mut mute).unwrap_err().to_string();
        assert!(e.contains("reports no phoneme durations"), "{e}");
        let pauses = timeline(&[("_", 0.5)]).phones;
        let mut silent = VoiceTimer::new(Box::new(FakeVoice { phones: Some(pauses), seconds: 0.5 }));
        let e = text_input(&cfg, &v, "...", None, Length::Speed(1.0), &mut silent).unwrap_err();
        assert!(matches!(e, SpeechError::Unsayable(_)), "{e}");
    }

    #[test]
    fn the_timer_is_chosen_by_durations() {
        let ort = OrtOptions::default();
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nobody.onnx");
        // espeak-ng needs no voice; a named voice that is not there is an error for voice and auto alike.
        assert!(phone_timer(Durations::Espeak, Some(&missing), &ort).is_ok());
        for dur in [Durations::Voice, Durations::Auto] {
            let e = phone_timer(dur, Some(&missing), &ort).err().expect("a missing voice is refused").to_string();
            assert!(e.contains("nobody.onnx"), "{e}");
        }
    }

    #[test]
    fn espeak_times_real_text() {
        let (_d, v) = Vocab::for_test(crate::corpus::phones::ESPEAK_ENGLISH);
        let cfg = durations_config(&v);
        let x = text_input(&cfg, &v, "Hello there.", None, Length::Speed(1.0), &mut EspeakTimer).unwrap();
        let secs = x.gen_frames as f64 / cfg.audio.mel_rate();
        assert!((0.4..3.0).contains(&secs), "{secs} s");
        assert_eq!(x.ids.len(), x.gen_frames);
        let distinct: std::collections::BTreeSet<_> = x.ids.iter().collect();
        assert!(distinct.len() >= 5, "{distinct:?}");
        let slow = text_input(&cfg, &v, "Hello there.", None, Length::Speed(0.5), &mut EspeakTimer).unwrap();
        // (espeak-ng's durations vary a few percent with what it spoke before: espeak_timeline)
        let ratio = slow.gen_frames as f64 / x.gen_frames as f64;
        assert!((1.8..2.2).contains(&ratio), "{} vs {}", slow.gen_frames, x.gen_frames);
        let e = text_input(&cfg, &v, "...", None, Length::Speed(1.0), &mut EspeakTimer).unwrap_err();
        assert!(matches!(e, SpeechError::Unsayable(_)), "{e}");
    }
}

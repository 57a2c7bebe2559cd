//! Text mode through a voice engine (a [`Speaker`], e.g. a Piper voice): each piece of the text is spoken by the
//! voice, resampled to the stream rate, and its lips come from the live audio -> motion model, so `/say` speech
//! moves the mouth exactly as the same audio from the microphone would ([`Lips::Audio`]), or from a `durations`
//! package that also reads the phones the voice reports and where they lie ([`Lips::Phones`]).

use super::speech::{SayRequest, Speech, SpeechModel};
use super::window::MotionModel;
use crate::animate::Windows;
use crate::audio::resample::resample;
use crate::model::alignment::TimedPhone;
use crate::speech::{clauses, Lips, Speaker};
use crate::stream::{Rates, StreamError};

/// A [`Speaker`] with a motion model behind it: the live audio -> motion model ([`Lips::Audio`]), or a model that
/// also reads the phones the voice reports ([`Lips::Phones`]).
pub struct VoiceSpeech {
    speaker: Box<dyn Speaker>,
    motion: Box<dyn MotionModel>,
    /// Whether the voice's phones go to the model ([`Lips::Phones`]).
    read_phones: bool,
    windows: SpeechWindows,
}

impl VoiceSpeech {
    pub fn new(
        speaker: Box<dyn Speaker>,
        (motion, lips): (Box<dyn MotionModel>, Lips),
        rates: Rates,
        windows: Windows,
    ) -> Self {
        Self { speaker, motion, read_phones: lips == Lips::Phones, windows: SpeechWindows::new(rates, windows) }
    }
}

/// Model windows over speech (as `jamflow animate` runs them): `window` frames each, the last `history` of the
/// previous window known.
#[derive(Debug, Clone, Copy)]
pub struct SpeechWindows {
    rates: Rates,
    window: usize,
    history: usize,
}

impl SpeechWindows {
    pub fn new(rates: Rates, windows: Windows) -> Self {
        let frames = |s: f64| (s * rates.fps as f64).round() as usize;
        let window = frames(windows.window_s).max(2);
        let history = frames(windows.history_s).min(window - 1);
        Self { rates, window, history }
    }

    /// `model`'s motion `[frames * K]` for `audio` (stream rate, whole frames) with the phones said in it (eSpeak
    /// names, seconds from its start; `None`: the audio alone): the lips of `/say` for one utterance.
    pub fn lips(
        &self,
        model: &mut dyn MotionModel,
        audio: &[f32],
        phones: Option<&[TimedPhone]>,
    ) -> Result<Vec<f32>, StreamError> {
        self.motion_of(model, audio, phones, &Tail::default())
    }

    fn spf(&self) -> usize {
        (self.rates.sample_rate / self.rates.fps) as usize
    }

    /// Motion for `audio` (stream rate, whole frames) and its phones, continuing from `prev` (the previous piece's
    /// tail, known history): windows of `self.window` frames, each knowing the last `self.history` frames.
    fn motion_of(
        &self,
        model: &mut dyn MotionModel,
        audio: &[f32],
        phones: Option<&[TimedPhone]>,
        prev: &Tail,
    ) -> Result<Vec<f32>, StreamError> {
        let spf = self.spf();
        let k = model.motion_dim();
        // The timeline: the previous tail then this piece, [frames * spf] audio and [frames * K] motion.
        let h0 = prev.motion.len() / k;
        let all: Vec<f32> = prev.audio.iter().chain(audio).copied().collect();
        let frames = all.len() / spf;
        let fps = self.rates.fps as f64;
        let all_phones: Option<Vec<TimedPhone>> = phones.map(|p| {
            let at = h0 as f64 / fps; // this piece starts after the tail
            prev.phones.iter().cloned().chain(p.iter().map(|q| shifted(q, at))).collect()
        });
        let mut motion = prev.motion.clone();
        let mut c0 = h0; // first frame to generate
        while c0 < frames {
            let w0 = c0.saturating_sub(self.history);
            let n = (frames - w0).min(self.window);
            let (wa, known) = (&all[w0 * spf..(w0 + n) * spf], &motion[w0 * k..c0 * k]);
            let out = match &all_phones {
                Some(p) => {
                    let inside = phones_within(p, w0 as f64 / fps, (w0 + n) as f64 / fps);
                    model.window_with_phones(wa, n, known, &inside)? // [n, K]
                }
                None => model.window(wa, n, known)?, // [n, K]
            };
            motion.extend_from_slice(&out[(c0 - w0) * k..n * k]);
            c0 = w0 + n;
        }
        Ok(motion[h0 * k..].to_vec())
    }
}

/// `phone` `by` seconds later.
fn shifted(phone: &TimedPhone, by: f64) -> TimedPhone {
    TimedPhone { start: phone.start + by, end: phone.end + by, ..phone.clone() }
}

/// The phones said in `[t0, t1)` seconds, in seconds from `t0`.
fn phones_within(phones: &[TimedPhone], t0: f64, t1: f64) -> Vec<TimedPhone> {
    phones.iter().filter(|p| p.end > t0 && p.start < t1).map(|p| shifted(p, -t0)).collect()
}

/// The end of the previous piece, the known history of the next: audio `[H * spf]`, motion `[H * K]` and the
/// phones said in it (seconds from the tail's start).
#[derive(Default)]
struct Tail {
    audio: Vec<f32>,
    motion: Vec<f32>,
    phones: Vec<TimedPhone>,
}

impl SpeechModel for VoiceSpeech {
    fn takes_reference(&self) -> bool {
        false
    }

    fn speak(&mut self, req: &SayRequest, emit: &mut dyn FnMut(Speech) -> bool) -> Result<(), StreamError> {
        let (w, k) = (self.windows, self.motion.motion_dim());
        let (spf, fps) = (w.spf(), w.rates.fps as f64);
        let mut prev = Tail::default();
        for piece in clauses::pieces(&req.text) {
            let t0 = std::time::Instant::now();
            let (voice, phones) =
                self.speaker.speak_with_phones(&piece).map_err(|e| StreamError::Source(format!("speech: {e}")))?;
            let phones = if self.read_phones { phones } else { None };
            let voice_ms = t0.elapsed().as_secs_f64() * 1e3;
            let mut audio = resample(&voice, self.speaker.sample_rate(), w.rates.sample_rate)
                .map_err(|e| StreamError::Source(format!("speech resampling: {e}")))?;
            let frames = audio.len().div_ceil(spf);
            audio.resize(frames * spf, 0.0); // whole frames: pieces play back to back
            let motion = w.motion_of(self.motion.as_mut(), &audio, phones.as_deref(), &prev)?; // [frames, K]
            let lips_ms = t0.elapsed().as_secs_f64() * 1e3 - voice_ms;
            tracing::debug!(piece = %piece, frames, voice_ms, lips_ms, "piece synthesized");
            let keep = w.history.min(frames);
            let at = (frames - keep) as f64 / fps; // where the tail starts in this piece
            prev = Tail {
                audio: audio[(frames - keep) * spf..].to_vec(),
                motion: motion[(frames - keep) * k..].to_vec(),
                phones: phones.as_deref().map_or_else(Vec::new, |p| phones_within(p, at, f64::INFINITY)),
            };
            if !emit(Speech { audio, motion, phones: phones.unwrap_or_default() }) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech::SpeechError;
    use std::sync::{Arc, Mutex};

    /// A voice that says each word as 0.3 s of a 200 Hz tone at 16 kHz.
    struct Tone;
    impl Speaker for Tone {
        fn sample_rate(&self) -> u32 {
            16_000
        }
        fn speak(&mut self, text: &str) -> Result<Vec<f32>, SpeechError> {
            let n = text.split_whitespace().count() * 4800;
            Ok((0..n).map(|i| (i as f32 * 200.0 * std::f32::consts::TAU / 16_000.0).sin() * 0.3).collect())
        }
    }

    /// Motion = the frame's summed absolute audio in every value; records the windows it saw (frames, known).
    #[derive(Default, Clone)]
    struct Loudness(Arc<Mutex<Vec<(usize, usize)>>>);
    impl MotionModel for Loudness {
        fn motion_dim(&self) -> usize {
            2
        }
        fn window(&mut self, audio: &[f32], frames: usize, known: &[f32]) -> Result<Vec<f32>, StreamError> {
            self.0.lock().unwrap().push((frames, known.len() / 2));
            let spf = audio.len() / frames;
            Ok((0..frames * 2).map(|i| audio[i / 2 * spf..(i / 2 + 1) * spf].iter().map(|x| x.abs()).sum()).collect())
        }
    }

    #[test]
    fn pieces_are_whole_frames_at_the_stream_rate_with_motion_for_every_frame() {
        let rates = Rates { fps: 25, sample_rate: 24_000 };
        let windows = Windows { window_s: 2.0, history_s: 0.4 };
        let mut v = VoiceSpeech::new(Box::new(Tone), (Box::new(Loudness::default()), Lips::Audio), rates, windows);
        let req =
            SayRequest { text: "One two three four, five six seven eight nine ten eleven.".into(), reference: None };
        let mut got = Vec::new();
        v.speak(&req, &mut |s| {
            got.push(s);
            true
        })
        .unwrap();
        assert_eq!(got.len(), 2, "two pieces (clauses)");
        for (s, words) in got.iter().zip([4, 7]) {
            assert_eq!(s.audio.len() % 960, 0);
            let frames = s.audio.len() / 960;
            assert_eq!(frames, (words as f64 * 0.3 * 25.0).ceil() as usize, "0.3 s a word, resampled to 24 kHz");
            assert_eq!(s.motion.len(), frames * 2);
            assert!(s.motion.iter().all(|&m| m > 1.0), "every frame's motion comes from its own audio");
        }
    }

    #[test]
    fn a_stopped_request_synthesizes_no_further_pieces() {
        let rates = Rates { fps: 25, sample_rate: 24_000 };
        let mut v =
            VoiceSpeech::new(Box::new(Tone), (Box::new(Loudness::default()), Lips::Audio), rates, Windows::default());
        let req = SayRequest { text: "One two three. Four five six. Seven eight nine.".into(), reference: None };
        let mut n = 0;
        v.speak(&req, &mut |_| {
            n += 1;
            false
        })
        .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn windows_carry_known_history_across_pieces_and_seams() {
        let rates = Rates { fps: 25, sample_rate: 24_000 };
        let windows = Windows { window_s: 1.0, history_s: 0.2 };
        let model = Loudness::default();
        let mut v = VoiceSpeech::new(Box::new(Tone), (Box::new(model.clone()), Lips::Audio), rates, windows);
        // 6 words = 45 frames, then 4 words = 30 frames.
        let req = SayRequest { text: "One two three four five six. Seven eight nine ten.".into(), reference: None };
        v.speak(&req, &mut |_| true).unwrap();
        let seen = model.0.lock().unwrap().clone();
        assert!(seen.iter().all(|&(n, _)| n <= 25), "windows of at most 1 s: {seen:?}");
        assert_eq!(seen[0].1, 0, "the utterance starts with nothing known");
        assert!(seen[1..].iter().all(|&(_, known)| known == 5), "every later window knows 0.2 s: {seen:?}");
        let generated: usize = seen.iter().map(|&(n, known)| n - known).sum();
        assert_eq!(generated, 45 + 30, "each frame generated once");
    }

    /// A voice that says each word as 0.3 s of [`Tone`] and reports each word as one phone (its text).
    struct TimedTone;
    impl Speaker for TimedTone {
        fn sample_rate(&self) -> u32 {
            16_000
        }
        fn speak(&mut self, text: &str) -> Result<Vec<f32>, SpeechError> {
            Tone.speak(text)
        }
        fn speak_with_phones(&mut self, text: &str) -> Result<(Vec<f32>, Option<Vec<TimedPhone>>), SpeechError> {
            let words = text.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase());
            let at = |i: usize| i as f64 * 0.3;
            let phones = words.enumerate().map(|(i, name)| TimedPhone { name, start: at(i), end: at(i + 1) }).collect();
            Ok((self.speak(text)?, Some(phones)))
        }
    }

    /// Records the phones of each window (`None`: the window had the audio only).
    #[derive(Default, Clone)]
    struct PhoneLog(Arc<Mutex<Vec<Option<Vec<TimedPhone>>>>>);
    impl MotionModel for PhoneLog {
        fn motion_dim(&self) -> usize {
            1
        }
        fn window(&mut self, _audio: &[f32], frames: usize, _known: &[f32]) -> Result<Vec<f32>, StreamError> {
            self.0.lock().unwrap().push(None);
            Ok(vec![0.0; frames])
        }
        fn window_with_phones(
            &mut self,
            _audio: &[f32],
            frames: usize,
            _known: &[f32],
            phones: &[TimedPhone],
        ) -> Result<Vec<f32>, StreamError> {
            self.0.lock().unwrap().push(Some(phones.to_vec()));
            Ok(vec![0.0; frames])
        }
    }

    #[test]
    fn each_window_reads_the_phones_said_in_it_at_their_time_in_the_window() {
        let rates = Rates { fps: 25, sample_rate: 24_000 };
        let windows = Windows { window_s: 1.0, history_s: 0.2 };
        let text = "One two three four five six. Seven eight nine ten.";
        let req = SayRequest { text: text.into(), reference: None };
        let log = PhoneLog::default();
        let mut v = VoiceSpeech::new(Box::new(TimedTone), (Box::new(log.clone()), Lips::Phones), rates, windows);
        v.speak(&req, &mut |_| true).unwrap();
        let seen: Vec<Vec<TimedPhone>> = log.0.lock().unwrap().iter().map(|w| w.clone().unwrap()).collect();
        let first = |w: &[TimedPhone]| (w[0].name.clone(), (w[0].start * 1e6).round() / 1e6);
        // Piece 1 (45 frames): frames [0, 25), then [20, 45) from 0.8 s, where "three" (0.6-0.9 s) is still said.
        assert_eq!(first(&seen[0]), ("one".to_string(), 0.0));
        assert_eq!(first(&seen[1]), ("three".to_string(), -0.2));
        assert_eq!(seen[1].last().unwrap().name, "six");
        // Piece 2 starts with the 0.2 s tail of piece 1 ("six", 1.5-1.8 s, from 1.6 s), then its own words.
        let names: Vec<&str> = seen[2].iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["six", "seven", "eight", "nine"], "{:?}", seen[2]);
        assert_eq!(first(&seen[2]), ("six".to_string(), -0.1));
        assert!((seen[2][1].start - 0.2).abs() < 1e-9, "{:?}", seen[2]);
        // `Lips::Audio`: the same voice, the audio alone.
        let log = PhoneLog::default();
        let mut v = VoiceSpeech::new(Box::new(TimedTone), (Box::new(log.clone()), Lips::Audio), rates, windows);
        v.speak(&req, &mut |_| true).unwrap();
        assert!(log.0.lock().unwrap().iter().all(Option::is_none));
    }
}

//! Text mode through a voice engine (a [`Speaker`], e.g. a Piper voice): each piece of the text is spoken by the
//! voice, resampled to the stream rate, and its lips come from the live audio -> motion model, so `/say` speech
//! moves the mouth exactly as the same audio from the microphone would.

use super::speech::{SayRequest, Speech, SpeechModel};
use super::window::MotionModel;
use crate::animate::Windows;
use crate::audio::resample::resample;
use crate::speech::{clauses, Speaker};
use crate::stream::{Rates, StreamError};

/// A [`Speaker`] with the live motion model behind it.
pub struct VoiceSpeech {
    speaker: Box<dyn Speaker>,
    motion: Box<dyn MotionModel>,
    rates: Rates,
    /// Model windows over a piece (as `jamflow animate` runs them).
    window: usize,
    history: usize,
}

impl VoiceSpeech {
    pub fn new(speaker: Box<dyn Speaker>, motion: Box<dyn MotionModel>, rates: Rates, windows: Windows) -> Self {
        let frames = |s: f64| (s * rates.fps as f64).round() as usize;
        let window = frames(windows.window_s).max(2);
        let history = frames(windows.history_s).min(window - 1);
        Self { speaker, motion, rates, window, history }
    }

    /// Motion for `audio` (stream rate, whole frames), continuing from `prev` (the previous piece's audio and
    /// motion tail, known history): windows of `self.window` frames, each knowing the last `self.history` frames.
    fn motion_of(&mut self, audio: &[f32], prev: &(Vec<f32>, Vec<f32>)) -> Result<Vec<f32>, StreamError> {
        let spf = (self.rates.sample_rate / self.rates.fps) as usize;
        let k = self.motion.motion_dim();
        // The timeline: the previous tail then this piece, [frames * spf] audio and [frames * K] motion.
        let h0 = prev.1.len() / k;
        let all: Vec<f32> = prev.0.iter().chain(audio).copied().collect();
        let frames = all.len() / spf;
        let mut motion = prev.1.clone();
        let mut c0 = h0; // first frame to generate
        while c0 < frames {
            let w0 = c0.saturating_sub(self.history);
            let n = (frames - w0).min(self.window);
            let out = self.motion.window(&all[w0 * spf..(w0 + n) * spf], n, &motion[w0 * k..c0 * k])?; // [n, K]
            motion.extend_from_slice(&out[(c0 - w0) * k..n * k]);
            c0 = w0 + n;
        }
        Ok(motion[h0 * k..].to_vec())
    }
}

impl SpeechModel for VoiceSpeech {
    fn takes_reference(&self) -> bool {
        false
    }

    fn speak(&mut self, req: &SayRequest, emit: &mut dyn FnMut(Speech) -> bool) -> Result<(), StreamError> {
        let spf = (self.rates.sample_rate / self.rates.fps) as usize;
        let k = self.motion.motion_dim();
        let mut prev: (Vec<f32>, Vec<f32>) = (Vec::new(), Vec::new());
        for piece in clauses::pieces(&req.text) {
            let t0 = std::time::Instant::now();
            let voice = self.speaker.speak(&piece).map_err(|e| StreamError::Source(format!("speech: {e}")))?;
            let voice_ms = t0.elapsed().as_secs_f64() * 1e3;
            let mut audio = resample(&voice, self.speaker.sample_rate(), self.rates.sample_rate)
                .map_err(|e| StreamError::Source(format!("speech resampling: {e}")))?;
            let frames = audio.len().div_ceil(spf);
            audio.resize(frames * spf, 0.0); // whole frames: pieces play back to back
            let motion = self.motion_of(&audio, &prev)?; // [frames, K]
            let lips_ms = t0.elapsed().as_secs_f64() * 1e3 - voice_ms;
            tracing::debug!(piece = %piece, frames, voice_ms, lips_ms, "piece synthesized");
            let keep = self.history.min(frames);
            prev = (audio[(frames - keep) * spf..].to_vec(), motion[(frames - keep) * k..].to_vec());
            if !emit(Speech { audio, motion, phones: Vec::new() }) {
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
        let mut v = VoiceSpeech::new(Box::new(Tone), Box::new(Loudness::default()), rates, windows);
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
        let mut v = VoiceSpeech::new(Box::new(Tone), Box::new(Loudness::default()), rates, Windows::default());
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
        let mut v = VoiceSpeech::new(Box::new(Tone), Box::new(model.clone()), rates, windows);
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
}

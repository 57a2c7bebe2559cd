//! Text mode: the [`SpeechModel`] trait (text -> speech + motion), `/say` requests and their limits, the
//! [`SpeechControl`] handle the control API holds, and the speech thread that synthesizes queued requests
//! (playback replaces the input in the source while a clip plays).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::source::Shared;
use crate::model::alignment::TimedPhone;
use crate::stream::StreamError;

/// A synthesized utterance: audio at the stream rate and motion at the frame rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    pub audio: Vec<f32>,
    /// `[frames * K]`.
    pub motion: Vec<f32>,
    /// Where each phone of the speech lies (seconds from its start), when the engine knows (a `durations`
    /// package: the phones it was given); empty otherwise.
    pub phones: Vec<TimedPhone>,
}

/// A `/say` request.
#[derive(Debug, Clone, PartialEq)]
pub struct SayRequest {
    pub text: String,
    /// Optional reference voice: its audio (stream rate) and transcript (F5-style voice prompt).
    pub reference: Option<(Vec<f32>, String)>,
}

/// Text -> speech + motion, piece by piece: the text is cut into sentences and clauses
/// ([`crate::speech::clauses::pieces`]) and each piece is handed to `emit` as soon as it is synthesized, so the
/// first plays while the rest is made; pieces play back to back. `emit` returns false when the request was
/// interrupted: stop there.
pub trait SpeechModel: Send {
    /// Whether a reference voice (`/say` with `voice` / `reference_wav`) can be followed.
    fn takes_reference(&self) -> bool {
        true
    }
    fn speak(&mut self, req: &SayRequest, emit: &mut dyn FnMut(Speech) -> bool) -> Result<(), StreamError>;
}

/// All pieces of `req` joined into one utterance (offline use: `jamflow say`; audio at `sample_rate`).
pub fn speak_all(model: &mut dyn SpeechModel, req: &SayRequest, sample_rate: u32) -> Result<Speech, StreamError> {
    let mut all = Speech { audio: Vec::new(), motion: Vec::new(), phones: Vec::new() };
    let rate = f64::from(sample_rate);
    model.speak(req, &mut |piece| {
        // The piece's phones on the joined time axis, cut at its audio's end (whole frames: a trailing pause may
        // reach past it).
        let (t0, secs) = (all.audio.len() as f64 / rate, piece.audio.len() as f64 / rate);
        let inside = piece.phones.into_iter().filter(|p| p.start < secs);
        all.phones.extend(inside.map(|p| TimedPhone { start: p.start + t0, end: p.end.min(secs) + t0, ..p }));
        all.audio.extend(piece.audio);
        all.motion.extend(piece.motion);
        true
    })?;
    Ok(all)
}

/// Limits of `/say` (clear 4xx errors above them): defined once, in the speech layer.
pub use crate::speech::{MAX_REFERENCE_S, MAX_SAY_CHARS};
/// Requests waiting for synthesis at most.
pub const MAX_SAY_QUEUE: usize = 4;
/// Speaking rate that sizes a filler package's speech without a reference voice (defined in the speech layer).
pub use crate::speech::text_input::CHARS_PER_SECOND;

/// Why a `/say` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SayError {
    #[error("{0}")]
    Invalid(String),
    #[error("the model package has no text input; /say needs a text-to-speech model")]
    NoTextModel,
    #[error("{MAX_SAY_QUEUE} requests are already waiting; try again later")]
    Busy,
}

/// A handle for text mode (`/say`, `/interrupt`), shareable with the control API.
#[derive(Clone)]
pub struct SpeechControl {
    pub(super) shared: Arc<Shared>,
    pub(super) has_text: bool,
    pub(super) takes_reference: bool,
}

impl SpeechControl {
    /// Sample rate of the stream (reference voices are read at it).
    pub fn sample_rate(&self) -> u32 {
        self.shared.format.sample_rate
    }

    /// Queue `req` for synthesis; playback starts as soon as it is ready. Returns the request id.
    pub fn say(&self, req: SayRequest) -> Result<u64, SayError> {
        if !self.has_text {
            return Err(SayError::NoTextModel);
        }
        crate::speech::check_text(&req.text).map_err(|e| SayError::Invalid(format!("text: {e}")))?;
        if let Some((audio, text)) = &req.reference {
            if !self.takes_reference {
                return Err(SayError::Invalid(
                    "this speech engine speaks in its own voice: reference voices need [speech] engine = \"model\""
                        .into(),
                ));
            }
            let secs = audio.len() as f64 / self.shared.format.sample_rate as f64;
            if !(0.5..=MAX_REFERENCE_S).contains(&secs) {
                return Err(SayError::Invalid(format!(
                    "reference voice must last 0.5..={MAX_REFERENCE_S} s, found {secs:.1} s"
                )));
            }
            if text.trim().is_empty() {
                return Err(SayError::Invalid("reference_text is required with a reference voice".into()));
            }
        }
        let mut sp = self.shared.speech.lock().expect("speech lock");
        if sp.pending.len() >= MAX_SAY_QUEUE {
            return Err(SayError::Busy);
        }
        sp.next_id += 1;
        let id = sp.next_id;
        sp.pending.push_back((id, req));
        self.shared.stats.say_requests.fetch_add(1, Ordering::Relaxed);
        self.shared.speech_cv.notify_all();
        Ok(id)
    }

    /// Stop speaking now and drop queued requests; returns whether anything was stopped.
    pub fn interrupt(&self) -> bool {
        let mut sp = self.shared.speech.lock().expect("speech lock");
        let any = sp.playing.is_some() || !sp.ready.is_empty() || !sp.pending.is_empty() || sp.synthesizing.is_some();
        sp.pending.clear();
        sp.ready.clear();
        if sp.playing.take().is_some() {
            self.shared.stats.speech_interrupted.fetch_add(1, Ordering::Relaxed);
        }
        sp.generation += 1;
        any
    }

    /// Whether speech is playing or queued.
    pub fn busy(&self) -> bool {
        let sp = self.shared.speech.lock().expect("speech lock");
        sp.playing.is_some() || !sp.ready.is_empty() || !sp.pending.is_empty() || sp.synthesizing.is_some()
    }
}

pub(super) fn speech_thread(sh: &Shared, model: &mut dyn SpeechModel) {
    while !sh.stop.load(Ordering::SeqCst) {
        let (id, req, generation) = {
            let mut sp = sh.speech.lock().expect("speech lock");
            loop {
                if sh.stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Some((id, req)) = sp.pending.pop_front() {
                    sp.synthesizing = Some(id);
                    break (id, req, sp.generation);
                }
                sp = sh.speech_cv.wait_timeout(sp, Duration::from_millis(200)).expect("speech lock").0;
            }
        };
        let t0 = Instant::now();
        let mut pieces = 0usize;
        let mut emit = |clip: Speech| -> bool {
            let mut sp = sh.speech.lock().expect("speech lock");
            if sp.generation != generation {
                return false;
            }
            if !clip.motion.is_empty() {
                let secs = clip.audio.len() as f64 / sh.format.sample_rate as f64;
                let took_ms = t0.elapsed().as_millis() as u64;
                tracing::info!(id, piece = pieces, seconds = secs, took_ms, "speech piece ready");
                sp.ready.push_back((id, clip));
                pieces += 1;
            }
            true
        };
        let result = model.speak(&req, &mut emit);
        if let Err(e) = &result {
            sh.stats.speech_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(id, error = %e, "speech synthesis failed");
        } else if pieces == 0 && sh.speech.lock().expect("speech lock").generation == generation {
            sh.stats.speech_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(id, "speech synthesis produced nothing");
        }
        sh.speech.lock().expect("speech lock").synthesizing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{AudioInput, ChunkPlan, LiveOptions, LiveSource, LiveStats, RestModel};
    use crate::stream::{AvChunk, AvSource, ChunkTime, Rates};

    /// Speaks `n` pieces of `frames` frames, piece `i` with audio `i + 1` throughout, `delay` before each.
    struct Pieces {
        n: usize,
        frames: usize,
        delay: Duration,
    }

    impl SpeechModel for Pieces {
        fn speak(&mut self, _: &SayRequest, emit: &mut dyn FnMut(Speech) -> bool) -> Result<(), StreamError> {
            for i in 0..self.n {
                std::thread::sleep(self.delay);
                let v = (i + 1) as f32;
                let (audio, motion) = (vec![v; self.frames * 960], vec![v; self.frames * 2]);
                if !emit(Speech { audio, motion, phones: Vec::new() }) {
                    break;
                }
            }
            Ok(())
        }
    }

    /// Two pieces of 1 s whose phone timelines run 5-20 ms past their audio (a trailing pause of whole frames).
    struct Overrun;

    impl SpeechModel for Overrun {
        fn speak(&mut self, _: &SayRequest, emit: &mut dyn FnMut(Speech) -> bool) -> Result<(), StreamError> {
            let ph = |name: &str, start: f64, end: f64| TimedPhone { name: name.into(), start, end };
            for _ in 0..2 {
                let phones = vec![ph("a", 0.0, 0.5), ph("b", 0.5, 1.01), ph("_", 1.005, 1.02)];
                emit(Speech { audio: vec![0.0; 24_000], motion: vec![0.0; 50], phones });
            }
            Ok(())
        }
    }

    #[test]
    fn joined_phones_follow_the_audio_and_stay_in_order() {
        let req = SayRequest { text: "x".into(), reference: None };
        let all = speak_all(&mut Overrun, &req, 24_000).unwrap();
        let got: Vec<(&str, f64, f64)> = all.phones.iter().map(|p| (p.name.as_str(), p.start, p.end)).collect();
        assert_eq!(got, [("a", 0.0, 0.5), ("b", 0.5, 1.0), ("a", 1.0, 1.5), ("b", 1.5, 2.0)]);
    }

    fn source(model: Pieces) -> (LiveSource, Arc<LiveStats>) {
        let opts = LiveOptions {
            input: AudioInput::None,
            plan: ChunkPlan::from_ms(400, 800, 160, 25),
            margin_frames: 1,
            motion_udp: None,
            rates: Rates { fps: 25, sample_rate: 24_000 },
        };
        let stats = Arc::new(LiveStats::default());
        let src =
            LiveSource::start(&opts, Box::new(RestModel { k: 2 }), Some(Box::new(model)), None, "t", stats.clone());
        (src.expect("live source"), stats)
    }

    fn say(c: &SpeechControl) {
        c.say(SayRequest { text: "one two three, four five six.".into(), reference: None }).expect("queued");
    }

    /// Pull `n` frames from `from` on, `pace` apart; the first audio sample of each.
    fn pull(src: &mut LiveSource, from: u64, n: u64, pace: Duration) -> Vec<f32> {
        let mut out = AvChunk { rgb: Vec::new(), audio: Vec::new() };
        (from..from + n)
            .map(|i| {
                std::thread::sleep(pace);
                src.fill(ChunkTime { index: i, pts_ns: i * 40_000_000 }, &mut out).expect("frame");
                out.audio[0]
            })
            .collect()
    }

    #[test]
    fn pieces_of_one_utterance_play_back_to_back_as_one_utterance() {
        let (mut src, stats) = source(Pieces { n: 3, frames: 4, delay: Duration::ZERO });
        say(&src.speech_control());
        std::thread::sleep(Duration::from_millis(300)); // all three pieces ready
        let got = pull(&mut src, 0, 14, Duration::ZERO);
        let want: Vec<f32> = [1.0, 2.0, 3.0].iter().flat_map(|&v| [v; 4]).chain([0.0, 0.0]).collect();
        assert_eq!(got, want, "piece after piece with no frame between them, then silence");
        assert_eq!(stats.speech_started.load(Ordering::Relaxed), 1, "one utterance");
        assert_eq!(stats.speech_frames.load(Ordering::Relaxed), 12);
        assert_eq!(stats.speech_gap_frames.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_piece_still_being_synthesized_is_a_counted_gap_and_interrupt_stops_the_rest() {
        let (mut src, stats) = source(Pieces { n: 3, frames: 2, delay: Duration::from_millis(500) });
        let control = src.speech_control();
        say(&control);
        // The first piece comes after 0.5 s, the second 0.5 s later: real-time frames in between are gaps.
        let got = pull(&mut src, 0, 35, Duration::from_millis(40));
        assert!(got.contains(&1.0) && got.contains(&2.0), "{got:?}");
        assert!(stats.speech_gap_frames.load(Ordering::Relaxed) > 0);
        assert_eq!(stats.speech_started.load(Ordering::Relaxed), 1, "a gap does not start a new utterance");
        assert!(control.interrupt());
        std::thread::sleep(Duration::from_millis(700));
        let after = pull(&mut src, 35, 5, Duration::ZERO);
        assert!(after.iter().all(|&v| v == 0.0), "nothing of the interrupted utterance plays: {after:?}");
        assert!(!control.busy());
    }
}

//! Text mode: the [`SpeechModel`] trait (text -> speech + motion), `/say` requests and their limits, the
//! [`SpeechControl`] handle the control API holds, and the speech thread that synthesizes queued requests
//! (playback replaces the input in the source while a clip plays).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::source::Shared;
use crate::stream::StreamError;

/// A synthesized utterance: audio at the stream rate and motion at the frame rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    pub audio: Vec<f32>,
    /// `[frames * K]`.
    pub motion: Vec<f32>,
}

/// A `/say` request.
#[derive(Debug, Clone, PartialEq)]
pub struct SayRequest {
    pub text: String,
    /// Optional reference voice: its audio (stream rate) and transcript (F5-style voice prompt).
    pub reference: Option<(Vec<f32>, String)>,
}

/// Text -> speech + motion.
pub trait SpeechModel: Send {
    fn speak(&mut self, req: &SayRequest) -> Result<Speech, StreamError>;
}

/// Limits of `/say` (clear 4xx errors above them): defined once, in the speech layer.
pub use crate::speech::{MAX_REFERENCE_S, MAX_SAY_CHARS};
/// Requests waiting for synthesis at most.
pub const MAX_SAY_QUEUE: usize = 4;
/// Speaking rate used to size generated speech when no reference voice is given (the corpus' espeak-ng voices
/// speak 140-200 words/min, about 14 characters per second).
pub const CHARS_PER_SECOND: f64 = 14.0;

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
        let n = req.text.chars().count();
        if req.text.trim().is_empty() || n > MAX_SAY_CHARS {
            return Err(SayError::Invalid(format!("text must have 1..={MAX_SAY_CHARS} characters, found {n}")));
        }
        if let Some((audio, text)) = &req.reference {
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
        let any = sp.playing.is_some() || !sp.ready.is_empty() || !sp.pending.is_empty();
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
        sp.playing.is_some() || !sp.ready.is_empty() || !sp.pending.is_empty()
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
                    break (id, req, sp.generation);
                }
                sp = sh.speech_cv.wait_timeout(sp, Duration::from_millis(200)).expect("speech lock").0;
            }
        };
        let t0 = Instant::now();
        match model.speak(&req) {
            Ok(clip) if !clip.motion.is_empty() => {
                let secs = clip.audio.len() as f64 / sh.format.sample_rate as f64;
                tracing::info!(id, seconds = secs, took_ms = t0.elapsed().as_millis() as u64, "speech ready");
                let mut sp = sh.speech.lock().expect("speech lock");
                if sp.generation == generation {
                    sp.ready.push_back((id, clip));
                }
            }
            Ok(_) => {
                sh.stats.speech_errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                sh.stats.speech_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(id, error = %e, "speech synthesis failed");
            }
        }
    }
}

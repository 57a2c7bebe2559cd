//! The model package behind the live traits: audio -> motion windows ([`MotionModel`]) and text -> speech +
//! motion ([`SpeechModel`]) through the sampler on any runtime [`Backend`].

use super::speech::{SayRequest, Speech, SpeechModel};
use super::window::MotionModel;
use crate::audio::mel::{Mel, MelSpec};
use crate::audio::vocoder::{Vocoder, VocoderChoice};
use crate::model::alignment::{TextAlignment, TimedPhone};
use crate::model::config::ModelConfig;
use crate::model::vocab::Vocab;
use crate::runtime::Backend;
use crate::sampler::{self, Request, SamplerOptions};
use crate::speech::text_input::{text_input, EspeakTimer, Length, PhoneTimer, Prompt};
use crate::stream::StreamError;

/// Audio -> motion and text -> speech + motion with a model package through the sampler (any [`Backend`]).
pub struct PackageModel {
    backend: Box<dyn Backend>,
    cfg: ModelConfig,
    opts: SamplerOptions,
    mel: MelSpec,
    vocab: Option<Vocab>,
    /// Mel -> audio for text mode (Griffin-Lim until [`PackageModel::set_vocoder`]).
    vocoder: Option<Vocoder>,
    /// Speaking speed of text mode (1 = normal; [`PackageModel::set_speed`]).
    speed: f64,
    /// Where a `durations` package's phoneme durations come from (espeak-ng until [`PackageModel::set_timer`]).
    timer: Box<dyn PhoneTimer>,
}

impl PackageModel {
    pub fn new(
        backend: Box<dyn Backend>,
        cfg: ModelConfig,
        opts: SamplerOptions,
        vocab: Option<Vocab>,
    ) -> Result<Self, StreamError> {
        let k = cfg.motion.as_ref().map(|m| m.layout.motion_dim());
        if k.is_none() {
            return Err(StreamError::Config("the model package has no motion stream (audio-only F5 package?)".into()));
        }
        let mel = MelSpec::new(&cfg.audio).map_err(|e| StreamError::Config(e.to_string()))?;
        Ok(Self { backend, cfg, opts, mel, vocab, vocoder: None, speed: 1.0, timer: Box::new(EspeakTimer) })
    }

    /// The vocoder of text mode (Vocos where weights exist; Griffin-Lim otherwise, the default).
    pub fn set_vocoder(&mut self, vocoder: Vocoder) {
        self.vocoder = Some(vocoder);
    }

    /// Speaking speed of text mode (2 = twice as fast): scales a `durations` package's phoneme durations and a
    /// `filler` package's length estimate (checked when speaking: [`crate::speech::text_input::SPEED_RANGE`]).
    pub fn set_speed(&mut self, speed: f64) {
        self.speed = speed;
    }

    /// Where text mode's phoneme durations come from (a `durations` package; `speech::text_input::phone_timer`).
    pub fn set_timer(&mut self, timer: Box<dyn PhoneTimer>) {
        self.timer = timer;
    }

    /// Sampler steps from now on (e.g. [`crate::speech::PHONE_LIPS_STEPS`] for lips read from phones).
    pub fn set_steps(&mut self, steps: usize) {
        self.opts.steps = steps;
    }

    /// The package's configuration (its rates go to the stream: [`super::rates`]).
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Whether the package reads phone timings beside the audio (`text.alignment = "durations"` with its
    /// vocabulary): what [`crate::speech::Lips::Phones`] needs.
    pub fn reads_phones(&self) -> bool {
        self.vocab.is_some() && self.cfg.text.as_ref().is_some_and(|t| t.alignment == TextAlignment::Durations)
    }

    /// Whether the package takes text (so it can serve `/say`).
    pub fn has_text(&self) -> bool {
        self.cfg.text.is_some() && self.vocab.is_some()
    }

    fn k(&self) -> usize {
        self.cfg.motion.as_ref().map_or(0, |m| m.layout.motion_dim())
    }

    /// Mel frames that cover exactly `frames` motion frames.
    fn mel_frames_for(&self, frames: usize) -> usize {
        let mut t = (frames as f64 * self.cfg.audio.mel_rate() / self.fps()).floor() as usize;
        while self.cfg.motion_frames_for(t) > frames {
            t -= 1; // (only on floating-point rounding)
        }
        t
    }

    fn fps(&self) -> f64 {
        self.cfg.motion.as_ref().map_or(crate::model::config::MOTION_FPS, |m| m.fps)
    }

    fn mel_of(&self, audio: &[f32]) -> Result<Mel, StreamError> {
        self.mel.compute(audio).map_err(|e| StreamError::Source(format!("mel: {e}")))
    }
}

impl MotionModel for PackageModel {
    fn motion_dim(&self) -> usize {
        self.k()
    }

    fn window(&mut self, audio: &[f32], frames: usize, known: &[f32]) -> Result<Vec<f32>, StreamError> {
        self.motion_window(audio, frames, known, None)
    }

    fn window_with_phones(
        &mut self,
        audio: &[f32],
        frames: usize,
        known: &[f32],
        phones: &[TimedPhone],
    ) -> Result<Vec<f32>, StreamError> {
        let reads = self.reads_phones();
        self.motion_window(audio, frames, known, reads.then_some(phones))
    }
}

impl PackageModel {
    /// Audio (and, for a `durations` package, the phones said in it) -> motion over one window.
    fn motion_window(
        &mut self,
        audio: &[f32],
        frames: usize,
        known: &[f32],
        phones: Option<&[TimedPhone]>,
    ) -> Result<Vec<f32>, StreamError> {
        let k = self.k();
        let mel = self.mel_of(audio)?; // [T', n_mels]
        let t = self.mel_frames_for(frames).min(mel.frames);
        let n = self.cfg.audio.n_mels;
        let mut req = Request::audio_to_motion(&self.cfg, &mel.data[..t * n]); // mel [T, n_mels], all known
        if let (Some(phones), Some(vocab)) = (phones, self.vocab.as_ref()) {
            let ids = vocab
                .frame_ids(phones, self.cfg.audio.mel_rate(), t)
                .map_err(|e| StreamError::Config(e.to_string()))?;
            if !ids.unknown.is_empty() {
                tracing::warn!(unknown = ?ids.unknown, "phonemes the package's vocabulary lacks take the pause's id");
            }
            req.text = ids.ids; // [T] one phoneme id per mel frame
        }
        let f = req.motion_known.len(); // F = motion frames of T mel frames
        let kf = (known.len() / k).min(f);
        req.cond_motion[..kf * k].copy_from_slice(&known[..kf * k]); // [H, K] known history
        req.motion_known[..kf].iter_mut().for_each(|v| *v = true);
        let out = sampler::sample(self.backend.as_mut(), &self.cfg, &req, &self.opts)
            .map_err(|e| StreamError::Source(format!("sampler: {e}")))?;
        let mut motion = out.motion; // [F, K]
        motion.resize(frames * k, 0.0);
        if f < frames {
            // Hold the last generated frame over any frame the mel did not cover.
            for i in f..frames {
                let (a, b) = motion.split_at_mut(i * k);
                b[..k].copy_from_slice(&a[(f - 1) * k..f * k]);
            }
        }
        Ok(motion)
    }
}

impl SpeechModel for PackageModel {
    fn speak(&mut self, req: &SayRequest, emit: &mut dyn FnMut(Speech) -> bool) -> Result<(), StreamError> {
        // The reference voice's mel once: every piece takes it as its prompt.
        let reference = match &req.reference {
            Some((audio, text)) => Some((self.mel_of(audio)?, text.as_str())),
            None => None,
        };
        for piece in crate::speech::clauses::pieces(&req.text) {
            let clip = self.speak_piece(&piece, reference.as_ref())?;
            if !emit(clip) {
                break;
            }
        }
        Ok(())
    }
}

impl PackageModel {
    /// One piece of text -> speech + motion in one sampling run, with the reference voice (its mel and
    /// transcript) as its prompt.
    fn speak_piece(&mut self, text: &str, reference: Option<&(Mel, &str)>) -> Result<Speech, StreamError> {
        let vocab = self.vocab.as_ref().ok_or_else(|| StreamError::Config("no vocabulary".into()))?;
        let n = self.cfg.audio.n_mels;
        let ref_mel = reference.map(|(mel, _)| mel);
        let ref_frames = ref_mel.map_or(0, |m| m.frames);
        let prompt = reference.map(|(mel, text)| Prompt { text, frames: mel.frames });
        // Filler characters or per-frame phonemes, by the package's text.alignment; the generated length with it.
        let input = text_input(&self.cfg, vocab, text, prompt, Length::Speed(self.speed), self.timer.as_mut())
            .map_err(|e| StreamError::Source(e.to_string()))?;
        let gen = input.gen_frames;
        let empty = Vec::new();
        let ref_data = ref_mel.map_or(&empty, |m| &m.data);
        let r = Request::text_to_speech(&self.cfg, input.ids, ref_data, ref_frames + gen);
        let out = sampler::sample(self.backend.as_mut(), &self.cfg, &r, &self.opts)
            .map_err(|e| StreamError::Source(format!("sampler: {e}")))?;
        // The generated part: mel frames [ref, ref + gen) and the motion frames they cover.
        let gen_mel = Mel { frames: gen, n_mels: n, data: out.mel[ref_frames * n..(ref_frames + gen) * n].to_vec() };
        if self.vocoder.is_none() {
            let v = Vocoder::open(&VocoderChoice::GriffinLim, &self.cfg.audio, &Default::default())
                .map_err(|e| StreamError::Source(e.to_string()))?;
            self.vocoder = Some(v);
        }
        let vocoder = self.vocoder.as_mut().expect("set above");
        let audio = vocoder.vocode(&gen_mel).map_err(|e| StreamError::Source(format!("vocoder: {e}")))?;
        let k = self.k();
        let m0 = self.cfg.motion_frames_for(ref_frames).min(out.motion_frames);
        let frames = (audio.len() as f64 * self.fps() / self.cfg.audio.sample_rate as f64).ceil() as usize;
        let mut motion = out.motion[m0 * k..].to_vec();
        motion.resize(frames * k, 0.0);
        // Whole frames of audio, so pieces played (or joined) back to back stay in step with their motion.
        let mut audio = audio;
        audio.resize((frames as f64 * self.cfg.audio.sample_rate as f64 / self.fps()).round() as usize, 0.0);
        Ok(Speech { audio, motion, phones: input.phones })
    }
}

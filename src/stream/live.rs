//! The model-driven source: live audio (ALSA mic, a WAV file played in real time, or none) -> chunked audio ->
//! motion inpainting -> renderer, plus text mode (`/say`: text -> speech + motion, played instead of the mic) and
//! a UDP stream of the motion parameters for robot faces.
//!
//! Timeline. Output frame `n` is pushed when the pipeline clock reaches `n / fps` (the [`super::Streamer`]); it
//! shows *media* frame `m = n - delay` of the input. Audio captured at wall time `w` is media sample
//! `(w - origin) * rate`, where `origin` is the instant of the first frame; so every captured sample plays exactly
//! `delay` frames after it was captured, together with the motion generated for it: lips and sound line up, and
//! the one pipeline clock stamps both.
//!
//! Chunked inpainting ([`ChunkPlan`]). Each model step takes the window `[history | chunk | look-ahead]`: audio
//! known over the whole window, motion known over the history (what was already shown), the chunk's motion (and
//! the look-ahead's, used only to cross-fade into the next chunk) generated. A step starts once the look-ahead
//! audio has arrived, so `delay` is chunk + look-ahead + the processing time measured at start-up (+ a margin).
//!
//! Falling behind: a frame whose motion is not ready holds the last motion easing to rest (counted in
//! `late_frames`; a window that starts too late to be shown is skipped and counted in `late_chunks`). Audio is
//! never stretched, so A/V never drifts. No audio (mic gone, nobody speaking): the renderer's idle life goes on.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::source::{AvChunk, AvSource, ChunkTime};
use super::{StreamError, StreamFormat};
use crate::audio::capture::{CaptureConfig, CaptureEvent, MicStream};
use crate::audio::griffin_lim::GriffinLim;
use crate::audio::mel::{Mel, MelSpec};
use crate::model::config::ModelConfig;
use crate::model::vocab::Vocab;
use crate::render::Renderer;
use crate::runtime::Backend;
use crate::sampler::{self, Request, SamplerOptions};

/// Where the live audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioInput {
    /// An ALSA capture device (reopened after it disappears; streaming goes on idle meanwhile).
    Alsa { device: String },
    /// A WAV file played in real time, looped or once.
    Wav { path: PathBuf, looped: bool },
    /// No input: idle animation (and `/say`).
    None,
}

/// Settings of the live source (times in frames of the output rate).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveOptions {
    pub input: AudioInput,
    pub plan: ChunkPlan,
    /// Frames added to the measured processing time in the output delay.
    pub margin_frames: usize,
    /// Send each frame's motion as one JSON datagram here.
    pub motion_udp: Option<SocketAddr>,
}

/// Frames of one model window: `[history | chunk | lookahead]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    pub history: usize,
    pub chunk: usize,
    pub lookahead: usize,
}

impl ChunkPlan {
    /// From milliseconds at `fps` (each rounded down to whole frames; the chunk is at least one frame).
    pub fn from_ms(chunk_ms: u32, history_ms: u32, lookahead_ms: u32, fps: u32) -> Self {
        let f = |ms: u32| (ms as u64 * fps as u64 / 1000) as usize;
        Self { history: f(history_ms), chunk: f(chunk_ms).max(1), lookahead: f(lookahead_ms) }
    }

    /// The window of the chunk starting at frame `c0`: its first frame (the history is shorter at the start of
    /// the timeline) and its length in frames.
    pub fn span(&self, c0: u64) -> (u64, usize) {
        let h0 = c0.saturating_sub(self.history as u64);
        (h0, (c0 - h0) as usize + self.chunk + self.lookahead)
    }

    /// Frames of a full window.
    pub fn window(&self) -> usize {
        self.history + self.chunk + self.lookahead
    }

    /// Output delay (frames) for a processing time of `processing_frames`: the chunk's first frame waits for the
    /// chunk and its look-ahead to be captured, then for the model.
    pub fn delay(&self, processing_frames: usize, margin_frames: usize) -> usize {
        self.chunk + self.lookahead + processing_frames + margin_frames
    }
}

/// Audio -> motion over one window.
pub trait MotionModel: Send {
    /// Values per motion frame.
    fn motion_dim(&self) -> usize;
    /// Motion `[frames * K]` for `audio` (exactly `frames * samples_per_frame` samples at the stream rate) whose
    /// first `known.len() / K` frames of motion are given.
    fn window(&mut self, audio: &[f32], frames: usize, known: &[f32]) -> Result<Vec<f32>, StreamError>;
}

/// Motion for a package-less daemon (input `none`): the rest pose.
pub struct RestModel {
    pub k: usize,
}

impl MotionModel for RestModel {
    fn motion_dim(&self) -> usize {
        self.k
    }
    fn window(&mut self, _audio: &[f32], frames: usize, _known: &[f32]) -> Result<Vec<f32>, StreamError> {
        Ok(vec![0.0; frames * self.k])
    }
}

/// Sync probe through the live path: the "model" marks every frame whose window audio holds a click (channel 0 =
/// 1), and [`ProbeRenderer`] flashes a white marker on those frames. Audio and marker then travel the whole live
/// path (input timeline, model thread, motion timeline, delay, pipeline) and their offset is measured at the output.
pub struct ClickDetector {
    pub k: usize,
}

/// Sample magnitude that counts as a click.
pub const CLICK_LEVEL: f32 = 0.3;

impl MotionModel for ClickDetector {
    fn motion_dim(&self) -> usize {
        self.k
    }
    fn window(&mut self, audio: &[f32], frames: usize, _known: &[f32]) -> Result<Vec<f32>, StreamError> {
        let mut m = vec![0.0; frames * self.k];
        for (f, c) in audio.chunks(audio.len() / frames.max(1)).take(frames).enumerate() {
            if c.iter().any(|v| v.abs() > CLICK_LEVEL) {
                m[f * self.k] = 1.0;
            }
        }
        Ok(m)
    }
}

/// Black frames with the top half white where motion channel 0 is set (see [`ClickDetector`]).
pub struct ProbeRenderer {
    pub size: u32,
}

impl Renderer for ProbeRenderer {
    fn name(&self) -> &'static str {
        "sync-probe"
    }
    fn layouts(&self) -> Vec<crate::model::config::MotionLayout> {
        vec![crate::model::config::MotionLayout::Mouth4_2d]
    }
    fn frame_size(&self) -> (u32, u32) {
        (self.size, self.size)
    }
    fn render(&mut self, motion: &[f32], _index: u64) -> Result<image::RgbImage, crate::render::RenderError> {
        let mut img = image::RgbImage::new(self.size, self.size);
        if motion.first().is_some_and(|&v| v > 0.5) {
            for y in 0..self.size / 2 {
                for x in 0..self.size {
                    img.put_pixel(x, y, image::Rgb([255, 255, 255]));
                }
            }
        }
        Ok(img)
    }
}

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

/// Limits of `/say` (clear 4xx errors above them).
pub const MAX_SAY_CHARS: usize = 500;
/// Longest reference voice accepted (seconds).
pub const MAX_REFERENCE_S: f64 = 15.0;
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

/// Latencies kept for exact quantiles (10 minutes at 25 fps).
pub const MAX_LATENCY_SAMPLES: usize = 15_000;

/// Latency histogram bucket bounds (seconds) of mic-to-frame latency.
pub const LATENCY_BUCKETS: [f64; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 3.0];

/// Counters of the live source (exported by the daemon's `/metrics`).
#[derive(Debug, Default)]
pub struct LiveStats {
    /// The output side's counters (the daemon passes its own; a default one otherwise).
    pub stream: Arc<super::Metrics>,
    /// Mic-to-frame latency: buckets (cumulative at export), count and sum in microseconds.
    pub latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    pub latency_count: AtomicU64,
    pub latency_sum_us: AtomicU64,
    /// The first [`MAX_LATENCY_SAMPLES`] latencies (seconds), for exact quantiles in benchmarks.
    pub latency_samples: Mutex<Vec<f32>>,
    /// Model windows run, and their total compute time (RTF = compute / audio covered by the chunks).
    pub windows: AtomicU64,
    pub window_us: AtomicU64,
    pub chunk_frames: AtomicU64,
    /// Frames whose motion was not ready (held). Windows skipped because they started too late count in the
    /// stream's `late_chunks` (`jamflow_late_chunks_total`).
    pub late_frames: AtomicU64,
    /// Model errors (the window is skipped; streaming goes on).
    pub model_errors: AtomicU64,
    /// Input: samples received, frames played without input audio while the input was live, device opens,
    /// losses, xruns, re-anchors of the input timeline (gaps or clock drift).
    pub input_samples: AtomicU64,
    pub input_underruns: AtomicU64,
    pub input_opens: AtomicU64,
    pub input_losses: AtomicU64,
    pub xruns: AtomicU64,
    pub input_reanchors: AtomicU64,
    /// Text mode: requests accepted, utterances played (started), interrupted, frames of speech output, errors.
    pub say_requests: AtomicU64,
    pub speech_started: AtomicU64,
    pub speech_interrupted: AtomicU64,
    pub speech_frames: AtomicU64,
    pub speech_errors: AtomicU64,
    /// Output delay in frames (set once at start).
    pub delay_frames: AtomicU64,
    /// UDP motion datagrams sent / failed.
    pub udp_sent: AtomicU64,
    pub udp_errors: AtomicU64,
}

impl LiveStats {
    fn observe_latency(&self, secs: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| secs <= b) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
        let mut v = self.latency_samples.lock().expect("latency lock");
        if v.len() < MAX_LATENCY_SAMPLES {
            v.push(secs as f32);
        }
    }

    /// Exact latency quantile over the kept samples (`None` before any).
    pub fn latency_sample_quantile(&self, q: f64) -> Option<f64> {
        let mut v = self.latency_samples.lock().expect("latency lock").clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f32::total_cmp);
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        Some(v[i] as f64)
    }

    /// Real-time factor of the model so far (compute time / audio time of the chunks produced).
    pub fn rtf(&self, fps: u32) -> f64 {
        let audio_s = self.chunk_frames.load(Ordering::Relaxed) as f64 / fps as f64;
        if audio_s == 0.0 {
            return 0.0;
        }
        self.window_us.load(Ordering::Relaxed) as f64 / 1e6 / audio_s
    }

    /// Latency quantile (upper bucket bound) from the histogram; `None` before any observation.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        let n = self.latency_count.load(Ordering::Relaxed);
        if n == 0 {
            return None;
        }
        let want = (q * n as f64).ceil() as u64;
        let mut acc = 0;
        for (i, b) in self.latency_buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            if acc >= want {
                return Some(LATENCY_BUCKETS[i]);
            }
        }
        Some(f64::INFINITY)
    }

    /// Prometheus text.
    pub fn prometheus(&self, fps: u32) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        s += "# HELP jamflow_mic_to_frame_seconds Time from capturing a frame's audio to pushing the frame.\n";
        s += "# TYPE jamflow_mic_to_frame_seconds histogram\n";
        let mut acc = 0;
        for (b, c) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            acc += g(c);
            s += &format!("jamflow_mic_to_frame_seconds_bucket{{le=\"{b}\"}} {acc}\n");
        }
        let n = g(&self.latency_count);
        s += &format!("jamflow_mic_to_frame_seconds_bucket{{le=\"+Inf\"}} {n}\n");
        s += &format!("jamflow_mic_to_frame_seconds_sum {}\n", g(&self.latency_sum_us) as f64 / 1e6);
        s += &format!("jamflow_mic_to_frame_seconds_count {n}\n");
        s += &format!(
            "# HELP jamflow_model_rtf Model compute time over the audio time it covered.\n# TYPE jamflow_model_rtf \
             gauge\njamflow_model_rtf {:.4}\n",
            self.rtf(fps)
        );
        let mut put = |name: &str, kind: &str, help: &str, v: u64| {
            s += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
        };
        put("jamflow_model_windows_total", "counter", "Model windows run.", g(&self.windows));
        put("jamflow_model_errors_total", "counter", "Model windows that failed.", g(&self.model_errors));
        put(
            "jamflow_live_late_frames_total",
            "counter",
            "Frames shown before their motion was ready.",
            g(&self.late_frames),
        );
        put("jamflow_input_samples_total", "counter", "Input audio samples received.", g(&self.input_samples));
        put(
            "jamflow_input_underruns_total",
            "counter",
            "Frames without input audio while live.",
            g(&self.input_underruns),
        );
        put("jamflow_input_opens_total", "counter", "Input device opens.", g(&self.input_opens));
        put("jamflow_input_losses_total", "counter", "Input device losses.", g(&self.input_losses));
        put("jamflow_xruns_total", "counter", "Capture overruns recovered.", g(&self.xruns));
        put(
            "jamflow_input_reanchors_total",
            "counter",
            "Input timeline re-anchors (gaps, drift).",
            g(&self.input_reanchors),
        );
        put("jamflow_say_requests_total", "counter", "Accepted /say requests.", g(&self.say_requests));
        put("jamflow_speech_started_total", "counter", "Utterances started.", g(&self.speech_started));
        put("jamflow_speech_interrupted_total", "counter", "Utterances interrupted.", g(&self.speech_interrupted));
        put("jamflow_speech_frames_total", "counter", "Frames of generated speech output.", g(&self.speech_frames));
        put("jamflow_speech_errors_total", "counter", "Failed syntheses.", g(&self.speech_errors));
        put("jamflow_output_delay_frames", "gauge", "Input-to-output delay in frames.", g(&self.delay_frames));
        put("jamflow_motion_udp_sent_total", "counter", "Motion datagrams sent.", g(&self.udp_sent));
        put("jamflow_motion_udp_errors_total", "counter", "Motion datagrams that failed.", g(&self.udp_errors));
        s
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared timelines
// ---------------------------------------------------------------------------------------------------------------

/// Input audio by media sample index (unwritten gaps read as silence), with arrival times for latency.
#[derive(Debug, Default)]
struct AudioLine {
    /// Media sample index of `data[0]`.
    start: u64,
    data: VecDeque<f32>,
    /// (media sample index one past a written block, arrival instant), oldest first.
    arrivals: VecDeque<(u64, Instant)>,
}

/// Samples kept behind the newest one.
const KEEP_SAMPLES: usize = 30 * 24_000;

impl AudioLine {
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }

    /// Write `x` at media sample `at` (a gap before it becomes silence; samples before `start` are dropped).
    fn write(&mut self, at: u64, x: &[f32], arrival: Instant) {
        if self.data.is_empty() && self.start == 0 {
            self.start = at;
        }
        if at > self.end() + KEEP_SAMPLES as u64 {
            self.data.clear();
            self.start = at;
        }
        while self.end() < at {
            self.data.push_back(0.0);
        }
        for (i, &v) in x.iter().enumerate() {
            let pos = at + i as u64;
            if pos < self.start {
                continue;
            }
            let idx = (pos - self.start) as usize;
            if idx < self.data.len() {
                self.data[idx] = v;
            } else {
                self.data.push_back(v);
            }
        }
        self.arrivals.push_back((at + x.len() as u64, arrival));
        while self.data.len() > KEEP_SAMPLES {
            self.data.pop_front();
            self.start += 1;
        }
        while self.arrivals.len() > 4096 {
            self.arrivals.pop_front();
        }
    }

    /// Samples `[from, from + out.len())`; returns whether all of them had been written.
    fn read(&self, from: u64, out: &mut [f32]) -> bool {
        let mut all = true;
        for (i, o) in out.iter_mut().enumerate() {
            let pos = from + i as u64;
            if pos >= self.start && pos < self.end() {
                *o = self.data[(pos - self.start) as usize];
            } else {
                *o = 0.0;
                all = false;
            }
        }
        all
    }

    /// When the sample before `end` arrived.
    fn arrival_of(&self, end: u64) -> Option<Instant> {
        self.arrivals.iter().find(|(e, _)| *e >= end).map(|&(_, t)| t)
    }
}

/// Generated motion by media frame.
#[derive(Debug, Default)]
struct MotionLine {
    /// Media frame of `frames[0]`.
    start: u64,
    frames: VecDeque<Vec<f32>>,
}

impl MotionLine {
    fn get(&self, m: u64) -> Option<&Vec<f32>> {
        m.checked_sub(self.start).and_then(|i| self.frames.get(i as usize))
    }

    /// Append frames starting at media frame `at` (earlier frames already present are replaced).
    fn put(&mut self, at: u64, frames: Vec<Vec<f32>>) {
        if self.frames.is_empty() || at < self.start || at > self.start + self.frames.len() as u64 {
            self.start = at;
            self.frames.clear();
        }
        self.frames.truncate((at - self.start) as usize);
        self.frames.extend(frames);
        while self.frames.len() > 25 * 60 {
            self.frames.pop_front();
            self.start += 1;
        }
    }
}

/// Text-mode state: requests to synthesize and clips ready or playing.
#[derive(Debug, Default)]
struct SpeechLine {
    pending: VecDeque<(u64, SayRequest)>,
    ready: VecDeque<(u64, Speech)>,
    /// Playing clip and the next frame of it.
    playing: Option<(Speech, usize)>,
    /// Bumped by an interrupt: work for an older generation is discarded.
    generation: u64,
    next_id: u64,
}

struct Shared {
    format: StreamFormat,
    k: usize,
    origin: OnceLock<Instant>,
    audio: Mutex<AudioLine>,
    audio_cv: Condvar,
    motion: Mutex<MotionLine>,
    speech: Mutex<SpeechLine>,
    speech_cv: Condvar,
    stop: AtomicBool,
    /// Whether input audio is expected (device open / file playing).
    input_live: AtomicBool,
    delay: u64,
    stats: Arc<LiveStats>,
}

impl Shared {
    /// Media sample index of "now" (0 before the first frame).
    fn now_sample(&self) -> Option<u64> {
        self.origin.get().map(|o| (o.elapsed().as_secs_f64() * self.format.sample_rate as f64) as u64)
    }
}

/// A handle for text mode (`/say`, `/interrupt`), shareable with the control API.
#[derive(Clone)]
pub struct SpeechControl {
    shared: Arc<Shared>,
    has_text: bool,
}

impl SpeechControl {
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

// ---------------------------------------------------------------------------------------------------------------
// The source
// ---------------------------------------------------------------------------------------------------------------

/// The live source: implements [`AvSource`] for the [`super::Streamer`].
pub struct LiveSource {
    shared: Arc<Shared>,
    renderer: Box<dyn Renderer + Send>,
    threads: Vec<JoinHandle<()>>,
    udp: Option<(UdpSocket, SocketAddr)>,
    layout: &'static str,
    /// Last motion shown and the rest pose it eases to when motion is missing.
    last: Vec<f32>,
    rest: Vec<f32>,
    has_text: bool,
}

/// Seconds of silence for the start-up measurement of the model's processing time.
const WARMUP_RUNS: usize = 3;

impl LiveSource {
    /// Start the input and model threads. `motion` runs the windows; `speech` (optional) serves `/say`.
    /// The model's processing time is measured here on a silent window and sets the output delay.
    pub fn start(
        opts: &LiveOptions,
        motion: Box<dyn MotionModel>,
        speech: Option<Box<dyn SpeechModel>>,
        renderer: Box<dyn Renderer + Send>,
        layout: &'static str,
        stats: Arc<LiveStats>,
    ) -> Result<Self, StreamError> {
        let mic = match &opts.input {
            AudioInput::Alsa { device } => {
                let cfg = CaptureConfig { device: device.clone(), ..CaptureConfig::default() };
                let rate = crate::model::config::AudioConfig::default().sample_rate;
                let open: MicOpener =
                    Box::new(move || MicStream::open(&cfg, rate).map(|m| Box::new(m) as Box<dyn Mic>));
                Some((device.clone(), open))
            }
            _ => None,
        };
        Self::launch(opts, mic, motion, speech, renderer, layout, stats)
    }

    /// [`LiveSource::start`] with the capture device's opener given (`Some` for the alsa input).
    fn launch(
        opts: &LiveOptions,
        mic: Option<(String, MicOpener)>,
        mut motion: Box<dyn MotionModel>,
        speech: Option<Box<dyn SpeechModel>>,
        renderer: Box<dyn Renderer + Send>,
        layout: &'static str,
        stats: Arc<LiveStats>,
    ) -> Result<Self, StreamError> {
        let (w, h) = renderer.frame_size();
        let format = StreamFormat::new(w, h);
        format.check()?;
        let k = motion.motion_dim();
        let plan = opts.plan;
        let spf = format.samples_per_frame();
        // Measure one window on silence (also warms the backend up).
        let silent = vec![0.0; plan.window() * spf];
        let mut worst = Duration::ZERO;
        for _ in 0..WARMUP_RUNS {
            let t0 = Instant::now();
            motion.window(&silent, plan.window(), &vec![0.0; plan.history * k])?;
            worst = worst.max(t0.elapsed());
        }
        let frame_s = 1.0 / format.fps as f64;
        let processing = (worst.as_secs_f64() * 1.5 / frame_s).ceil() as usize;
        let delay = plan.delay(processing, opts.margin_frames);
        stats.delay_frames.store(delay as u64, Ordering::Relaxed);
        tracing::info!(
            window_ms = worst.as_millis() as u64,
            delay_ms = (delay as f64 * frame_s * 1000.0).round() as u64,
            history = plan.history,
            chunk = plan.chunk,
            lookahead = plan.lookahead,
            "live source: model window measured; output delayed by chunk + look-ahead + 1.5 x processing + margin"
        );
        let shared = Arc::new(Shared {
            format,
            k,
            origin: OnceLock::new(),
            audio: Mutex::new(AudioLine::default()),
            audio_cv: Condvar::new(),
            motion: Mutex::new(MotionLine::default()),
            speech: Mutex::new(SpeechLine::default()),
            speech_cv: Condvar::new(),
            stop: AtomicBool::new(false),
            input_live: AtomicBool::new(false),
            delay: delay as u64,
            stats,
        });
        let mut threads = Vec::new();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| StreamError::Source(format!("cannot start the {name} thread: {e}")))
        };
        match &opts.input {
            AudioInput::None => {}
            AudioInput::Alsa { .. } => {
                let (device, open) = mic.ok_or_else(|| StreamError::Config("alsa input without a device".into()))?;
                let s = shared.clone();
                threads.push(spawn("mic", Box::new(move || mic_thread(&s, &device, open)))?);
            }
            AudioInput::Wav { path, looped } => {
                let x = super::source::load_wav_mono(path, format.sample_rate)?;
                if x.is_empty() {
                    return Err(StreamError::File { path: path.clone(), message: "no audio samples".into() });
                }
                let (s, looped) = (shared.clone(), *looped);
                threads.push(spawn("wav-input", Box::new(move || wav_thread(&s, &x, looped)))?);
            }
        }
        if opts.input != AudioInput::None {
            let s = shared.clone();
            threads.push(spawn("model", Box::new(move || model_thread(&s, plan, motion.as_mut())))?);
        }
        let has_text = speech.is_some();
        if let Some(mut sp) = speech {
            let s = shared.clone();
            threads.push(spawn("speech", Box::new(move || speech_thread(&s, sp.as_mut())))?);
        }
        let udp = match opts.motion_udp {
            Some(addr) => {
                let bind = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                let sock = UdpSocket::bind(bind)
                    .map_err(|e| StreamError::Config(format!("motion UDP socket for {addr}: {e}")))?;
                sock.set_nonblocking(true).map_err(|e| StreamError::Config(format!("motion UDP socket: {e}")))?;
                Some((sock, addr))
            }
            None => None,
        };
        Ok(Self { shared, renderer, threads, udp, layout, last: vec![0.0; k], rest: vec![0.0; k], has_text })
    }

    /// The text-mode handle for the control API.
    pub fn speech_control(&self) -> SpeechControl {
        SpeechControl { shared: self.shared.clone(), has_text: self.has_text }
    }

    /// Output delay in frames.
    pub fn delay_frames(&self) -> u64 {
        self.shared.delay
    }

    /// Counters.
    pub fn stats(&self) -> Arc<LiveStats> {
        self.shared.stats.clone()
    }

    /// The motion and audio of output frame `n`, and what produced them.
    fn next_frame(&mut self, n: u64, audio: &mut [f32]) -> (Vec<f32>, &'static str) {
        let sh = &self.shared;
        // Text mode first: generated speech replaces the input while it plays.
        {
            let mut sp = sh.speech.lock().expect("speech lock");
            if sp.playing.is_none() {
                if let Some((_, clip)) = sp.ready.pop_front() {
                    sh.stats.speech_started.fetch_add(1, Ordering::Relaxed);
                    sp.playing = Some((clip, 0));
                }
            }
            if let Some((clip, pos)) = &mut sp.playing {
                let spf = audio.len();
                let frames = clip.motion.len() / sh.k;
                let a0 = *pos * spf;
                for (i, o) in audio.iter_mut().enumerate() {
                    *o = clip.audio.get(a0 + i).copied().unwrap_or(0.0);
                }
                let m = clip.motion[*pos * sh.k..(*pos + 1) * sh.k].to_vec();
                *pos += 1;
                if *pos >= frames {
                    sp.playing = None;
                }
                sh.stats.speech_frames.fetch_add(1, Ordering::Relaxed);
                return (m, "speech");
            }
        }
        let Some(m) = n.checked_sub(sh.delay) else {
            audio.fill(0.0);
            return (self.ease_to_rest(), "idle");
        };
        let spf = audio.len() as u64;
        let (have_audio, arrival) = {
            let line = sh.audio.lock().expect("audio lock");
            (line.read(m * spf, audio), line.arrival_of((m + 1) * spf))
        };
        let live = sh.input_live.load(Ordering::Relaxed);
        if !have_audio && live {
            sh.stats.input_underruns.fetch_add(1, Ordering::Relaxed);
        }
        if let (true, Some(t)) = (have_audio, arrival) {
            sh.stats.observe_latency(t.elapsed().as_secs_f64());
        }
        let got = sh.motion.lock().expect("motion lock").get(m).cloned();
        match got {
            Some(v) => (v, "mic"),
            None => {
                if have_audio {
                    sh.stats.late_frames.fetch_add(1, Ordering::Relaxed);
                }
                (self.ease_to_rest(), "idle")
            }
        }
    }

    /// Hold the last motion, easing to the rest pose (about 0.2 s time constant at 25 fps).
    fn ease_to_rest(&self) -> Vec<f32> {
        self.last.iter().zip(&self.rest).map(|(l, r)| r + (l - r) * 0.8).collect()
    }

    fn send_udp(&self, n: u64, motion: &[f32], source: &str) {
        let Some((sock, addr)) = &self.udp else { return };
        let msg = serde_json::json!({
            "frame": n,
            "t": n as f64 / self.shared.format.fps as f64,
            "layout": self.layout,
            "source": source,
            "motion": motion,
        });
        match sock.send_to(msg.to_string().as_bytes(), addr) {
            Ok(_) => self.shared.stats.udp_sent.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.shared.stats.udp_errors.fetch_add(1, Ordering::Relaxed),
        };
    }
}

impl AvSource for LiveSource {
    fn format(&self) -> StreamFormat {
        self.shared.format
    }

    fn fill(&mut self, time: ChunkTime, out: &mut AvChunk) -> Result<(), StreamError> {
        let _ = self.shared.origin.set(Instant::now() - Duration::from_nanos(time.pts_ns));
        out.audio.resize(self.shared.format.samples_per_frame(), 0.0);
        let (motion, source) = self.next_frame(time.index, &mut out.audio);
        let img = self.renderer.render(&motion, time.index).map_err(|e| StreamError::Source(e.to_string()))?;
        out.rgb.clear();
        out.rgb.extend_from_slice(img.as_raw());
        self.send_udp(time.index, &motion, source);
        self.last = motion;
        Ok(())
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.audio_cv.notify_all();
        self.shared.speech_cv.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------------------------

/// Place input blocks on the media timeline: `index + offset`, re-anchored to "now" after gaps or drift, and
/// paced to real time when a device delivers faster than it captures.
struct Anchor {
    offset: Option<i64>,
}

/// Re-anchor when the input is this far behind real time (a gap: device lost and back, stall).
const BEHIND_S: f64 = 0.15;
/// Sleep when the input is this far ahead of real time (a source that is not paced by a clock).
const AHEAD_S: f64 = 0.02;

impl Anchor {
    /// Media sample index for a block of `len` samples whose stream index is `index`; may sleep to pace.
    fn place(&mut self, sh: &Shared, index: u64, len: usize) -> Option<u64> {
        let sr = sh.format.sample_rate as f64;
        let now = sh.now_sample()? as i64;
        let end = index as i64 + len as i64;
        let off = *self.offset.get_or_insert(now - end);
        let pos_end = end + off;
        if pos_end < now - (BEHIND_S * sr) as i64 {
            self.offset = Some(now - end);
            sh.stats.input_reanchors.fetch_add(1, Ordering::Relaxed);
        } else if pos_end > now + (AHEAD_S * sr) as i64 {
            std::thread::sleep(Duration::from_secs_f64((pos_end - now) as f64 / sr));
        }
        Some((index as i64 + self.offset.expect("set")).max(0) as u64)
    }
}

fn push_audio(sh: &Shared, at: u64, x: &[f32]) {
    sh.audio.lock().expect("audio lock").write(at, x, Instant::now());
    sh.stats.input_samples.fetch_add(x.len() as u64, Ordering::Relaxed);
    sh.audio_cv.notify_all();
}

/// Back-off between attempts to (re)open a capture device.
const REOPEN_EVERY: Duration = Duration::from_millis(500);

/// A capture stream at the stream rate: the ALSA [`MicStream`] (or a scripted one in tests).
pub trait Mic: Send {
    fn read(&mut self) -> Result<CaptureEvent, crate::audio::AudioError>;
}

impl Mic for MicStream {
    fn read(&mut self) -> Result<CaptureEvent, crate::audio::AudioError> {
        MicStream::read(self)
    }
}

/// Opens the capture device; called again after the device was lost.
pub type MicOpener = Box<dyn FnMut() -> Result<Box<dyn Mic>, crate::audio::AudioError> + Send>;

fn mic_thread(sh: &Shared, device: &str, mut open: MicOpener) {
    let mut mic: Option<Box<dyn Mic>> = None;
    let mut anchor = Anchor { offset: None };
    let mut warned = false;
    // Open the device once the media timeline starts (the first frame): what a device captured before then
    // would be stale or, from a source without a clock, consumed ahead of time.
    while sh.origin.get().is_none() && !sh.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    while !sh.stop.load(Ordering::SeqCst) {
        let Some(m) = mic.as_mut() else {
            match open() {
                Ok(m) => {
                    tracing::info!(device, "capture device open");
                    sh.stats.input_opens.fetch_add(1, Ordering::Relaxed);
                    sh.input_live.store(true, Ordering::Relaxed);
                    anchor.offset = None;
                    mic = Some(m);
                    warned = false;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(device, error = %e, "capture device unavailable; idle until it appears");
                        warned = true;
                    }
                    std::thread::sleep(REOPEN_EVERY);
                }
            }
            continue;
        };
        match m.read() {
            Ok(CaptureEvent::Audio(c)) => {
                if c.samples.is_empty() {
                    continue;
                }
                if let Some(at) = anchor.place(sh, c.frame_index, c.samples.len()) {
                    push_audio(sh, at, &c.samples);
                }
            }
            Ok(CaptureEvent::Xrun { total }) => {
                sh.stats.xruns.store(total, Ordering::Relaxed);
            }
            Ok(CaptureEvent::DeviceLost { reason }) => {
                tracing::warn!(device, %reason, "capture device lost; streaming idle, reopening");
                sh.stats.input_losses.fetch_add(1, Ordering::Relaxed);
                sh.input_live.store(false, Ordering::Relaxed);
                mic = None;
                std::thread::sleep(REOPEN_EVERY);
            }
            Err(e) => {
                tracing::warn!(device, error = %e, "capture read failed; reopening");
                sh.stats.input_losses.fetch_add(1, Ordering::Relaxed);
                sh.input_live.store(false, Ordering::Relaxed);
                mic = None;
                std::thread::sleep(REOPEN_EVERY);
            }
        }
    }
}

/// Block size of the real-time WAV input (10 ms).
const WAV_BLOCK_S: f64 = 0.01;

fn wav_thread(sh: &Shared, x: &[f32], looped: bool) {
    let block = (sh.format.sample_rate as f64 * WAV_BLOCK_S) as usize;
    let mut anchor = Anchor { offset: None };
    let mut index = 0u64;
    // Wait for the first frame (the origin of the media timeline).
    while sh.origin.get().is_none() && !sh.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    sh.input_live.store(true, Ordering::Relaxed);
    sh.stats.input_opens.fetch_add(1, Ordering::Relaxed);
    let mut buf = vec![0.0; block];
    while !sh.stop.load(Ordering::SeqCst) {
        if !looped && index >= x.len() as u64 {
            // Played once: the input ends (idle from here on).
            sh.input_live.store(false, Ordering::Relaxed);
            return;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            let j = index + i as u64;
            *b = if looped || j < x.len() as u64 { x[(j % x.len() as u64) as usize] } else { 0.0 };
        }
        // A file is captured "as it plays": block k is available once its last sample's time has passed.
        let due = *sh.origin.get().expect("origin set")
            + Duration::from_secs_f64((index + block as u64) as f64 / sh.format.sample_rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if let Some(at) = anchor.place(sh, index, block) {
            push_audio(sh, at, &buf);
        }
        index += block as u64;
    }
}

/// Cross-fade weight of frame `i` of `n` overlapping frames (new output's share).
fn fade(i: usize, n: usize) -> f32 {
    (i + 1) as f32 / (n + 1) as f32
}

fn model_thread(sh: &Shared, plan: ChunkPlan, model: &mut dyn MotionModel) {
    let spf = sh.format.samples_per_frame() as u64;
    let k = sh.k;
    // Next chunk's first media frame; the previous window's look-ahead motion (for the cross-fade).
    let mut next: Option<u64> = None;
    let mut lookahead_prev: Vec<f32> = Vec::new();
    while !sh.stop.load(Ordering::SeqCst) {
        // Wait for the audio of [chunk | look-ahead].
        let audio_end = {
            let mut line = sh.audio.lock().expect("audio lock");
            loop {
                if sh.stop.load(Ordering::SeqCst) {
                    return;
                }
                if !line.data.is_empty() {
                    let c0 = *next.get_or_insert(line.start / spf);
                    if line.end() >= (c0 + (plan.chunk + plan.lookahead) as u64) * spf {
                        break line.end();
                    }
                }
                line = sh.audio_cv.wait_timeout(line, Duration::from_millis(100)).expect("audio lock").0;
            }
        };
        let mut c0 = next.expect("set while waiting");
        // Skip ahead when the chunk could no longer be shown in time (input gap, model too slow).
        let newest = audio_end / spf;
        let latest_start = newest.saturating_sub((plan.chunk + plan.lookahead) as u64);
        if latest_start > c0 + plan.chunk as u64 {
            let skipped = (latest_start - c0) / plan.chunk as u64;
            sh.stats.stream.late_chunks.fetch_add(skipped, Ordering::Relaxed);
            c0 += skipped * plan.chunk as u64;
            lookahead_prev.clear();
        }
        let (h0, frames) = plan.span(c0);
        let mut audio = vec![0.0; frames * spf as usize];
        sh.audio.lock().expect("audio lock").read(h0 * spf, &mut audio);
        // Motion known over the history: what was (or will be) shown.
        let known: Vec<f32> = {
            let line = sh.motion.lock().expect("motion lock");
            let mut v = Vec::with_capacity((c0 - h0) as usize * k);
            for f in h0..c0 {
                match line.get(f) {
                    Some(m) => v.extend_from_slice(m),
                    None => break,
                }
            }
            v
        };
        let known = if known.len() == (c0 - h0) as usize * k { known } else { Vec::new() };
        // Without a known history the window still starts at h0, with all motion generated.
        let t0 = Instant::now();
        let result = model.window(&audio, frames, &known);
        let took = t0.elapsed();
        sh.stats.windows.fetch_add(1, Ordering::Relaxed);
        sh.stats.window_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        sh.stats.chunk_frames.fetch_add(plan.chunk as u64, Ordering::Relaxed);
        match result {
            Ok(motion) if motion.len() == frames * k => {
                let first = (c0 - h0) as usize;
                let mut out: Vec<Vec<f32>> =
                    (first..first + plan.chunk).map(|f| motion[f * k..(f + 1) * k].to_vec()).collect();
                // Cross-fade the seam with the previous window's look-ahead.
                let n = (lookahead_prev.len() / k).min(out.len());
                for (i, frame) in out.iter_mut().take(n).enumerate() {
                    let w = fade(i, n);
                    for (c, v) in frame.iter_mut().enumerate() {
                        *v = (1.0 - w) * lookahead_prev[i * k + c] + w * *v;
                    }
                }
                let la = first + plan.chunk;
                lookahead_prev = motion[la * k..(la + plan.lookahead) * k].to_vec();
                sh.motion.lock().expect("motion lock").put(c0, out);
            }
            Ok(motion) => {
                sh.stats.model_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(got = motion.len(), want = frames * k, "model window returned the wrong size");
                lookahead_prev.clear();
            }
            Err(e) => {
                sh.stats.model_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "model window failed; holding motion");
                lookahead_prev.clear();
            }
        }
        next = Some(c0 + plan.chunk as u64);
    }
}

fn speech_thread(sh: &Shared, model: &mut dyn SpeechModel) {
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

// ---------------------------------------------------------------------------------------------------------------
// The model behind the traits: a package through the sampler
// ---------------------------------------------------------------------------------------------------------------

/// Audio -> motion and text -> speech + motion with a model package through the sampler (any [`Backend`]).
pub struct PackageModel {
    backend: Box<dyn Backend>,
    cfg: ModelConfig,
    opts: SamplerOptions,
    mel: MelSpec,
    vocab: Option<Vocab>,
    griffin_lim: Option<GriffinLim>,
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
        Ok(Self { backend, cfg, opts, mel, vocab, griffin_lim: None })
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
        self.cfg.motion.as_ref().map_or(25.0, |m| m.fps)
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
        let k = self.k();
        let mel = self.mel_of(audio)?; // [T', n_mels]
        let t = self.mel_frames_for(frames).min(mel.frames);
        let n = self.cfg.audio.n_mels;
        let mut req = Request::audio_to_motion(&self.cfg, &mel.data[..t * n]); // mel [T, n_mels], all known
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
    fn speak(&mut self, req: &SayRequest) -> Result<Speech, StreamError> {
        let vocab = self.vocab.as_ref().ok_or_else(|| StreamError::Config("no vocabulary".into()))?;
        let n = self.cfg.audio.n_mels;
        let (ref_mel, ref_text) = match &req.reference {
            Some((audio, text)) => (Some(self.mel_of(audio)?), text.as_str()),
            None => (None, ""),
        };
        let ref_frames = ref_mel.as_ref().map_or(0, |m| m.frames);
        let gen = match ref_mel {
            Some(_) => sampler::estimate_frames(ref_frames, ref_text, &req.text, 1.0) - ref_frames,
            None => (req.text.chars().count() as f64 / CHARS_PER_SECOND * self.cfg.audio.mel_rate()).ceil() as usize,
        }
        .max((0.5 * self.cfg.audio.mel_rate()) as usize);
        let full = if ref_text.is_empty() { req.text.clone() } else { format!("{ref_text} {}", req.text) };
        let max_len = self.cfg.text.as_ref().map_or(0, |t| t.max_len);
        let ids = vocab.encode_checked(&full, max_len).map_err(|e| StreamError::Source(e.to_string()))?;
        let empty = Vec::new();
        let ref_data = ref_mel.as_ref().map_or(&empty, |m| &m.data);
        let r = Request::text_to_speech(&self.cfg, ids, ref_data, ref_frames + gen);
        let out = sampler::sample(self.backend.as_mut(), &self.cfg, &r, &self.opts)
            .map_err(|e| StreamError::Source(format!("sampler: {e}")))?;
        // The generated part: mel frames [ref, ref + gen) and the motion frames they cover.
        let gen_mel = Mel { frames: gen, n_mels: n, data: out.mel[ref_frames * n..(ref_frames + gen) * n].to_vec() };
        if self.griffin_lim.is_none() {
            let gl = GriffinLim::new(&self.cfg.audio).map_err(|e| StreamError::Source(e.to_string()))?;
            self.griffin_lim = Some(gl);
        }
        let gl = self.griffin_lim.as_ref().expect("set above");
        let audio = gl.vocode(&gen_mel).map_err(|e| StreamError::Source(format!("vocoder: {e}")))?;
        let k = self.k();
        let m0 = self.cfg.motion_frames_for(ref_frames).min(out.motion_frames);
        let frames = (audio.len() as f64 * self.fps() / self.cfg.audio.sample_rate as f64).ceil() as usize;
        let mut motion = out.motion[m0 * k..].to_vec();
        motion.resize(frames * k, 0.0);
        Ok(Speech { audio, motion })
    }
}

/// Read a reference voice for `/say`.
pub fn load_reference(path: &Path, sample_rate: u32) -> Result<Vec<f32>, StreamError> {
    super::source::load_wav_mono(path, sample_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Motion = the RMS of each frame's audio in channel 0: what the timeline shows must match the audio it plays.
    struct Energy {
        spf: usize,
    }
    impl MotionModel for Energy {
        fn motion_dim(&self) -> usize {
            2
        }
        fn window(&mut self, audio: &[f32], frames: usize, known: &[f32]) -> Result<Vec<f32>, StreamError> {
            assert_eq!(audio.len(), frames * self.spf);
            assert!(known.len() <= frames * 2);
            Ok(audio.chunks(self.spf).flat_map(|c| [rms(c), 0.0]).collect())
        }
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    struct Blank;
    impl Renderer for Blank {
        fn name(&self) -> &'static str {
            "blank"
        }
        fn layouts(&self) -> Vec<crate::model::config::MotionLayout> {
            vec![crate::model::config::MotionLayout::Mouth4_2d]
        }
        fn frame_size(&self) -> (u32, u32) {
            (16, 16)
        }
        fn render(&mut self, _m: &[f32], _i: u64) -> Result<image::RgbImage, crate::render::RenderError> {
            Ok(image::RgbImage::new(16, 16))
        }
    }

    #[test]
    fn shown_motion_belongs_to_the_audio_played_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("bursts.wav");
        let sr = 24_000;
        // 3 s: bursts of different loudness, so a shift by any number of frames changes the pairing.
        let x: Vec<f32> = (0..3 * sr)
            .map(|i| {
                let f = i / 960;
                let amp = if f % 7 < 3 { 0.1 * (1 + f % 5) as f32 } else { 0.0 };
                amp * if i % 2 == 0 { 1.0 } else { -1.0 }
            })
            .collect();
        crate::audio::wav::write(&wav, sr as u32, &x, crate::audio::wav::WavFormat::F32).unwrap();
        let opts = LiveOptions {
            input: AudioInput::Wav { path: wav, looped: true },
            plan: ChunkPlan { history: 2, chunk: 4, lookahead: 2 },
            margin_frames: 2,
            motion_udp: None,
        };
        let stats = Arc::new(LiveStats::default());
        let mut src =
            LiveSource::start(&opts, Box::new(Energy { spf: 960 }), None, Box::new(Blank), "test", stats.clone())
                .unwrap();
        let delay = src.delay_frames();
        let fmt = src.format();
        let t0 = Instant::now();
        let mut chunk = AvChunk::default();
        let mut checked = 0;
        for n in 0..(delay + 60) {
            let due = t0 + Duration::from_nanos(fmt.frame_pts_ns(n));
            if let Some(w) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(w);
            }
            let late = stats.late_frames.load(Ordering::Relaxed);
            src.fill(ChunkTime { index: n, pts_ns: fmt.frame_pts_ns(n) }, &mut chunk).unwrap();
            // (A frame shown late on a loaded machine holds the previous motion by design: not checked.)
            if n >= delay + 4 && stats.late_frames.load(Ordering::Relaxed) == late {
                let want = rms(&chunk.audio);
                assert!((src.last[0] - want).abs() < 1e-4, "frame {n}: motion {} for audio rms {want}", src.last[0]);
                checked += 1;
            }
        }
        assert!(checked >= 40, "only {checked} frames on time");
        assert!(stats.windows.load(Ordering::Relaxed) >= 10);
        assert!(stats.latency_count.load(Ordering::Relaxed) > 0);
    }

    /// A mic that delivers 1 s of a 0.5 square wave, is lost, refuses to open twice, then comes back.
    #[derive(Default)]
    struct Script {
        opens: u32,
        reads: u32,
        index: u64,
    }
    struct ScriptedMic(Arc<Mutex<Script>>);
    impl Mic for ScriptedMic {
        fn read(&mut self) -> Result<CaptureEvent, crate::audio::AudioError> {
            let mut s = self.0.lock().unwrap();
            s.reads += 1;
            if s.opens == 1 && s.reads > 100 {
                return Ok(CaptureEvent::DeviceLost { reason: "unplugged (scripted)".into() });
            }
            let samples: Vec<f32> = (0..240).map(|i| if i % 2 == 0 { 0.5 } else { -0.5 }).collect();
            let frame_index = s.index;
            s.index += 240;
            Ok(CaptureEvent::Audio(crate::audio::capture::Chunk { samples, timestamp: Instant::now(), frame_index }))
        }
    }

    #[test]
    fn a_lost_mic_leaves_the_stream_idle_and_is_reopened() {
        let script = Arc::new(Mutex::new(Script::default()));
        let (sc, mut attempts) = (script.clone(), 0);
        let open: MicOpener = Box::new(move || {
            attempts += 1;
            // Attempt 1 opens; 2 and 3 (after the loss) fail; 4 opens again.
            if attempts == 2 || attempts == 3 {
                return Err(crate::audio::AudioError::Capture {
                    device: "scripted".into(),
                    msg: "no such device".into(),
                });
            }
            let mut s = sc.lock().unwrap();
            s.opens += 1;
            s.reads = 0;
            Ok(Box::new(ScriptedMic(sc.clone())) as Box<dyn Mic>)
        });
        let opts = LiveOptions {
            input: AudioInput::Alsa { device: "scripted".into() },
            plan: ChunkPlan { history: 2, chunk: 4, lookahead: 2 },
            margin_frames: 2,
            motion_udp: None,
        };
        let stats = Arc::new(LiveStats::default());
        let model = Box::new(Energy { spf: 960 });
        let mut src = LiveSource::launch(
            &opts,
            Some(("scripted".into(), open)),
            model,
            None,
            Box::new(Blank),
            "test",
            stats.clone(),
        )
        .unwrap();
        let fmt = src.format();
        let t0 = Instant::now();
        let mut chunk = AvChunk::default();
        let mut shown = Vec::new();
        for n in 0..125u64 {
            let due = t0 + Duration::from_nanos(fmt.frame_pts_ns(n));
            if let Some(w) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(w);
            }
            src.fill(ChunkTime { index: n, pts_ns: fmt.frame_pts_ns(n) }, &mut chunk).unwrap();
            shown.push((src.last[0], rms(&chunk.audio)));
        }
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        assert_eq!(script.lock().unwrap().opens, 2, "reopened once the device was back");
        assert_eq!(get(&stats.input_losses), 1);
        assert_eq!(get(&stats.input_opens), 2);
        // Speech, then a silent idle gap, then speech again: the stream never stopped.
        let loud: Vec<bool> = shown.iter().map(|&(_, a)| a > 0.4).collect();
        let first = loud.iter().position(|&l| l).expect("mic audio before the loss");
        let gap =
            (first..loud.len() - 10).find(|&i| loud[i..i + 10].iter().all(|&l| !l)).expect("a gap after the loss");
        assert!(loud[gap..].iter().any(|&l| l), "mic audio after the reopen");
        assert!(shown[gap..].iter().take(10).all(|&(m, _)| m < 0.45), "idle motion during the gap");
        assert!(get(&stats.windows) >= 8);
    }

    #[test]
    fn plan_from_ms_and_delay() {
        let p = ChunkPlan::from_ms(400, 800, 160, 25);
        assert_eq!((p.history, p.chunk, p.lookahead), (20, 10, 4));
        assert_eq!(p.window(), 34);
        assert_eq!(p.delay(3, 1), 18);
        assert_eq!(p.span(5), (0, 19), "a short history at the start");
        assert_eq!(p.span(30), (10, 34));
    }

    #[test]
    fn audio_line_fills_gaps_with_silence_and_tracks_arrivals() {
        let mut a = AudioLine::default();
        let t = Instant::now();
        a.write(100, &[1.0; 10], t);
        a.write(120, &[2.0; 10], t);
        let mut out = vec![9.0; 30];
        assert!(!a.read(95, &mut out), "samples before the first write are missing");
        assert_eq!(out[5..15], [1.0; 10]);
        assert_eq!(out[15..25], [0.0; 10], "the gap reads as silence");
        assert_eq!(out[25..30], [2.0; 5]);
        assert!(a.read(100, &mut out[..30]));
        assert_eq!(a.arrival_of(110), Some(t));
        assert_eq!(a.arrival_of(131), None);
    }

    #[test]
    fn motion_line_replaces_from_a_frame() {
        let mut m = MotionLine::default();
        m.put(10, vec![vec![1.0]; 5]);
        m.put(12, vec![vec![2.0]; 5]);
        assert_eq!(m.get(11), Some(&vec![1.0]));
        assert_eq!(m.get(12), Some(&vec![2.0]));
        assert_eq!(m.get(16), Some(&vec![2.0]));
        assert_eq!(m.get(17), None);
        assert_eq!(m.get(9), None);
    }

    #[test]
    fn latency_histogram_quantiles() {
        let s = LiveStats::default();
        assert_eq!(s.latency_quantile(0.5), None);
        for v in [0.05, 0.15, 0.15, 0.35, 2.0] {
            s.observe_latency(v);
        }
        assert_eq!(s.latency_quantile(0.5), Some(0.2));
        assert_eq!(s.latency_quantile(0.95), Some(3.0));
        assert!((s.latency_sample_quantile(0.5).unwrap() - 0.15).abs() < 1e-6);
        assert!((s.latency_sample_quantile(1.0).unwrap() - 2.0).abs() < 1e-6);
        let text = s.prometheus(25);
        assert!(text.contains("jamflow_mic_to_frame_seconds_bucket{le=\"0.2\"} 3"), "{text}");
        assert!(text.contains("jamflow_mic_to_frame_seconds_count 5"), "{text}");
    }
}

//! The live source ([`LiveSource`], an [`AvSource`]): starts the input, model and speech threads over the shared
//! timelines, measures the model at start-up to set the output delay, and per output frame picks the speech clip,
//! the generated motion or the idle pose, renders it and sends the motion over UDP.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use super::input::{mic_thread, wav_thread, Mic, MicOpener};
use super::speech::{speech_thread, SpeechControl, SpeechModel};
use super::stats::LiveStats;
use super::timeline::{AudioLine, MotionLine, SpeechLine};
use super::window::{model_thread, MotionModel};
use super::{AudioInput, LiveOptions};
use crate::audio::capture::{CaptureConfig, MicStream};
use crate::render::Renderer;
use crate::stream::source::load_wav_mono;
use crate::stream::{AvChunk, AvSource, ChunkTime, StreamError, StreamFormat};

/// What the source's threads share: the format, the timelines, the stop flag and the counters.
pub(super) struct Shared {
    pub(super) format: StreamFormat,
    pub(super) k: usize,
    /// The instant of media sample 0 (set by the first frame).
    pub(super) origin: OnceLock<Instant>,
    pub(super) audio: Mutex<AudioLine>,
    pub(super) audio_cv: Condvar,
    pub(super) motion: Mutex<MotionLine>,
    pub(super) speech: Mutex<SpeechLine>,
    pub(super) speech_cv: Condvar,
    pub(super) stop: AtomicBool,
    /// Whether input audio is expected (device open / file playing).
    pub(super) input_live: AtomicBool,
    pub(super) delay: u64,
    pub(super) stats: Arc<LiveStats>,
}

impl Shared {
    /// Media sample index of "now" (0 before the first frame).
    pub(super) fn now_sample(&self) -> Option<u64> {
        self.origin.get().map(|o| (o.elapsed().as_secs_f64() * self.format.sample_rate as f64) as u64)
    }
}

/// The live source: implements [`AvSource`] for the [`crate::stream::Streamer`].
pub struct LiveSource {
    shared: Arc<Shared>,
    /// `None`: motion only (no pictures; the stream has no A/V output).
    renderer: Option<Box<dyn Renderer + Send>>,
    threads: Vec<JoinHandle<()>>,
    udp: Option<(UdpSocket, SocketAddr)>,
    layout: &'static str,
    /// Last motion shown and the rest pose it eases to when motion is missing.
    last: Vec<f32>,
    rest: Vec<f32>,
    has_text: bool,
    /// Whether the speech engine follows reference voices.
    takes_reference: bool,
}

/// Windows timed at start-up (after one warm-up run); the slowest sets the processing part of the delay.
const MEASURED_RUNS: usize = 3;

impl LiveSource {
    /// Start the input and model threads. `motion` runs the windows; `speech` (optional) serves `/say`; without a
    /// `renderer` the source is motion only (frames without pictures, for the UDP motion stream).
    /// The model's processing time is measured here on a silent window and sets the output delay.
    pub fn start(
        opts: &LiveOptions,
        motion: Box<dyn MotionModel>,
        speech: Option<Box<dyn SpeechModel>>,
        renderer: Option<Box<dyn Renderer + Send>>,
        layout: &'static str,
        stats: Arc<LiveStats>,
    ) -> Result<Self, StreamError> {
        let mic = match &opts.input {
            AudioInput::Alsa { device } => {
                let cfg = CaptureConfig { device: device.clone(), ..CaptureConfig::default() };
                let rate = opts.rates.sample_rate;
                let open: MicOpener =
                    Box::new(move || MicStream::open(&cfg, rate).map(|m| Box::new(m) as Box<dyn Mic>));
                Some((device.clone(), open))
            }
            _ => None,
        };
        Self::launch(opts, mic, motion, speech, renderer, layout, stats)
    }

    /// [`LiveSource::start`] with the capture device's opener given (`Some` for the alsa input).
    pub(super) fn launch(
        opts: &LiveOptions,
        mic: Option<(String, MicOpener)>,
        mut motion: Box<dyn MotionModel>,
        speech: Option<Box<dyn SpeechModel>>,
        renderer: Option<Box<dyn Renderer + Send>>,
        layout: &'static str,
        stats: Arc<LiveStats>,
    ) -> Result<Self, StreamError> {
        let format = match &renderer {
            Some(r) => {
                let (w, h) = r.frame_size();
                StreamFormat::new(w, h, opts.rates)
            }
            None => StreamFormat::without_video(opts.rates),
        };
        format.check()?;
        let k = motion.motion_dim();
        let plan = opts.plan;
        let spf = format.samples_per_frame();
        // Measure a full window on silence, after one unmeasured run that warms the backend up (the first run of
        // a fresh session allocates and is several times slower than the steady state the delay must cover).
        let silent = vec![0.0; plan.window() * spf];
        let known = vec![0.0; plan.known_frames(0, plan.history as u64) * k];
        motion.window(&silent, plan.window(), &known)?;
        let mut worst = Duration::ZERO;
        for _ in 0..MEASURED_RUNS {
            let t0 = Instant::now();
            motion.window(&silent, plan.window(), &known)?;
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
            audio: Mutex::new(AudioLine::new(format.sample_rate)),
            audio_cv: Condvar::new(),
            motion: Mutex::new(MotionLine::new(format.fps)),
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
                let x = load_wav_mono(path, format.sample_rate)?;
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
        let takes_reference = speech.as_ref().is_some_and(|s| s.takes_reference());
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
        Ok(Self {
            shared,
            renderer,
            threads,
            udp,
            layout,
            last: vec![0.0; k],
            rest: vec![0.0; k],
            has_text,
            takes_reference,
        })
    }

    /// The text-mode handle for the control API.
    pub fn speech_control(&self) -> SpeechControl {
        SpeechControl { shared: self.shared.clone(), has_text: self.has_text, takes_reference: self.takes_reference }
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
                if let Some((id, clip)) = sp.ready.pop_front() {
                    if sp.finished != Some(id) {
                        sh.stats.speech_started.fetch_add(1, Ordering::Relaxed);
                    }
                    sp.playing = Some((id, clip, 0));
                } else if sp.finished.is_some() && sp.finished == sp.synthesizing {
                    // The next piece of the utterance is not ready: a gap in the speech.
                    sh.stats.speech_gap_frames.fetch_add(1, Ordering::Relaxed);
                }
            }
            if let Some((id, clip, pos)) = &mut sp.playing {
                let spf = audio.len();
                let frames = clip.motion.len() / sh.k;
                let a0 = *pos * spf;
                for (i, o) in audio.iter_mut().enumerate() {
                    *o = clip.audio.get(a0 + i).copied().unwrap_or(0.0);
                }
                let m = clip.motion[*pos * sh.k..(*pos + 1) * sh.k].to_vec();
                *pos += 1;
                if *pos >= frames {
                    sp.finished = Some(*id);
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
        let (have_audio, captured) = {
            let line = sh.audio.lock().expect("audio lock");
            (line.read(m * spf, audio), line.captured_by((m + 1) * spf))
        };
        let live = sh.input_live.load(Ordering::Relaxed);
        if !have_audio && live {
            sh.stats.input_underruns.fetch_add(1, Ordering::Relaxed);
        }
        // Mic-to-frame: from the capture of the frame's last sample to the frame's slot on the pipeline clock
        // (origin + PTS: when the streamer pushes it).
        if let (true, Some(t), Some(origin)) = (have_audio, captured, sh.origin.get()) {
            let shown = *origin + Duration::from_nanos(sh.format.frame_pts_ns(n));
            sh.stats.observe_latency(shown.saturating_duration_since(t).as_secs_f64());
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
        // Render straight into the chunk's buffer (the mesh renderer swaps its frame in: no copy).
        let f = self.shared.format;
        match self.renderer.as_mut() {
            Some(renderer) => {
                if out.rgb.len() != f.frame_bytes() {
                    out.rgb = vec![0; f.frame_bytes()];
                }
                let mut img = RgbImage::from_raw(f.width, f.height, std::mem::take(&mut out.rgb)).expect("sized");
                let rendered = renderer.render_into(&motion, time.index, &mut img);
                out.rgb = img.into_raw();
                rendered.map_err(|e| StreamError::Source(e.to_string()))?;
            }
            None => out.rgb.clear(),
        }
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

#[cfg(test)]
mod tests;

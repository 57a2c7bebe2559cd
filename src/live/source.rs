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
mod tests {
    use super::*;
    use crate::audio::capture::CaptureEvent;
    use crate::live::{ChunkPlan, HistoryMotion};
    use crate::stream::Rates;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

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
            plan: ChunkPlan::from_ms(160, 80, 80, 25),
            margin_frames: 2,
            motion_udp: None,
            rates: Rates { fps: 25, sample_rate: 24_000 },
        };
        let stats = Arc::new(LiveStats::default());
        let mut src =
            LiveSource::start(&opts, Box::new(Energy { spf: 960 }), None, Some(Box::new(Blank)), "test", stats.clone())
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

    /// Each window's motion is its own call number (channel 0) on every frame; it records the known motion it was
    /// given. A blend of two windows shows as a fraction.
    struct Numbered {
        calls: u32,
        known: Arc<Mutex<Vec<usize>>>,
    }
    impl MotionModel for Numbered {
        fn motion_dim(&self) -> usize {
            2
        }
        fn window(&mut self, _audio: &[f32], frames: usize, known: &[f32]) -> Result<Vec<f32>, StreamError> {
            self.calls += 1;
            self.known.lock().unwrap().push(known.len() / 2);
            Ok((0..frames).flat_map(|_| [self.calls as f32, 0.0]).collect())
        }
    }

    /// The motion a live source put on its timeline over ~2 s of a looped WAV, and the known frames each window was
    /// given.
    fn shown_with(history_motion: HistoryMotion) -> (Vec<f32>, Vec<usize>) {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("tone.wav");
        let x: Vec<f32> = (0..24_000).map(|i| if i % 2 == 0 { 0.2 } else { -0.2 }).collect();
        crate::audio::wav::write(&wav, 24_000, &x, crate::audio::wav::WavFormat::F32).unwrap();
        let opts = LiveOptions {
            input: AudioInput::Wav { path: wav, looped: true },
            plan: ChunkPlan::from_ms(160, 80, 80, 25).with_history_motion(history_motion),
            margin_frames: 2,
            motion_udp: None,
            rates: Rates { fps: 25, sample_rate: 24_000 },
        };
        let known = Arc::new(Mutex::new(Vec::new()));
        let model = Box::new(Numbered { calls: 0, known: known.clone() });
        let stats = Arc::new(LiveStats::default());
        let mut src = LiveSource::start(&opts, model, None, Some(Box::new(Blank)), "test", stats).unwrap();
        let fmt = src.format();
        let t0 = Instant::now();
        let mut chunk = AvChunk::default();
        let mut shown = Vec::new();
        for n in 0..(src.delay_frames() + 40) {
            let due = t0 + Duration::from_nanos(fmt.frame_pts_ns(n));
            if let Some(w) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(w);
            }
            src.fill(ChunkTime { index: n, pts_ns: fmt.frame_pts_ns(n) }, &mut chunk).unwrap();
            // What the model thread put on the motion timeline for this frame (a late frame eases to rest instead).
            let m = n.checked_sub(src.shared.delay);
            if let Some(v) = m.and_then(|m| src.shared.motion.lock().unwrap().get(m).cloned()) {
                shown.push(v[0]);
            }
        }
        drop(src);
        let known = known.lock().unwrap().clone();
        (shown, known)
    }

    #[test]
    fn a_generated_history_is_sampled_afresh_and_shown_uncut_a_known_one_is_given_and_cross_faded() {
        let (shown, known) = shown_with(HistoryMotion::Generated);
        assert!(known.iter().all(|&k| k == 0), "generated: no window is given motion: {known:?}");
        assert!(shown.len() > 20 && shown.iter().all(|v| v.fract() == 0.0), "generated: no blend: {shown:?}");

        let (shown, known) = shown_with(HistoryMotion::Known);
        assert!(known.iter().filter(|&&k| k == 2).count() > 5, "known: the 2 history frames are given: {known:?}");
        assert!(shown.iter().any(|v| v.fract() != 0.0), "known: seams cross-faded: {shown:?}");
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
            plan: ChunkPlan::from_ms(160, 80, 80, 25),
            margin_frames: 2,
            motion_udp: None,
            rates: Rates { fps: 25, sample_rate: 24_000 },
        };
        let stats = Arc::new(LiveStats::default());
        let model = Box::new(Energy { spf: 960 });
        let mut src = LiveSource::launch(
            &opts,
            Some(("scripted".into(), open)),
            model,
            None,
            Some(Box::new(Blank)),
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
}

//! The live daemon behind `jamflowd`: configuration ([`config`]), control API ([`control`]), systemd notify and
//! watchdog, and the run loop that drives a source into the outputs of [`crate::stream`].
//!
//! Sources: the built-in test source (pattern or portrait; tone, WAV or silence; sync probe), or the live source
//! of [`crate::live`] (mic / real-time WAV / none -> model package through the sampler -> mesh renderer,
//! with `/say` text mode and the UDP motion stream).

pub mod config;
pub mod console;
pub mod control;
pub mod guard;
pub mod voices;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::animate::Windows;
use crate::audio::vocoder::{Vocoder, VocoderChoice};
use crate::build::{self, BuildError, BuildOptions, RunOptions};
use crate::compile::Precision;
use crate::live::voice::VoiceSpeech;
use crate::live::{
    self, AudioInput, ChunkPlan, ClickDetector, LiveOptions, LiveSource, LiveStats, MotionModel, PackageModel,
    RestModel, SpeechModel, OUTPUT_FPS,
};
use crate::model::package::Package;
use crate::model::{onnx, ModelError};
use crate::render::mesh::{MeshWarpOptions, MeshWarpRenderer, OutputMode};
use crate::render::probe::ProbeRenderer;
use crate::render::{check_layout, idle::IdleOptions, RenderError};
use crate::runtime::{OrtBackend, OrtOptions, RuntimeError, Target};
use crate::sampler::SamplerOptions;
use crate::speech::piper::PiperVoice;
use crate::speech::text_input::phone_timer;
use crate::speech::{Lips, SpeechEngine};
use crate::stream::source::{AudioKind, TestSource, TestSourceConfig, VideoKind};
use crate::stream::{AvSource, Metrics, StreamConfig, StreamError, StreamHooks, Streamer};
pub use config::{Config, ConfigError};
use control::{ControlServer, ControlState};

/// Errors of the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error("model package: {0}")]
    Model(#[from] ModelError),
    #[error("model runtime: {0}")]
    Runtime(#[from] RuntimeError),
    #[error("model artifacts: {0}")]
    Build(#[from] BuildError),
    #[error("renderer: {0}")]
    Render(#[from] RenderError),
}

/// What the daemon did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub frames: u64,
    pub clean_eos: bool,
    /// The live source's counters (absent with the test source).
    pub live: Option<Arc<LiveStats>>,
}

/// The test source described by the config.
pub fn test_source(cfg: &Config) -> Result<TestSource, StreamError> {
    let video = match cfg.input.test_video {
        config::TestVideo::Pattern => VideoKind::Pattern,
        config::TestVideo::Portrait => VideoKind::Portrait(cfg.portrait.image.clone().unwrap_or_default()),
    };
    let audio = match cfg.input.test_audio {
        config::TestAudio::Tone => AudioKind::Tone { hz: cfg.input.tone_hz },
        config::TestAudio::Silence => AudioKind::Silence,
        config::TestAudio::Wav => AudioKind::Wav(cfg.input.wav.clone().unwrap_or_default()),
    };
    TestSource::new(TestSourceConfig {
        width: cfg.portrait.width,
        height: cfg.portrait.height,
        rates: live::rates(None)?,
        video,
        audio,
        sync_probe: cfg.input.sync_probe.then_some(cfg.input.sync_probe_period),
    })
}

/// Model packages shipped in `engines/`, preferred first: the distilled student, then its teacher.
pub const DEFAULT_PACKAGES: [&str; 2] = ["engines/jamflow-small-student", "engines/jamflow-small"];

/// The first of [`DEFAULT_PACKAGES`] present under `root`.
pub fn default_package(root: &std::path::Path) -> Option<std::path::PathBuf> {
    DEFAULT_PACKAGES.iter().map(|p| root.join(p)).find(|p| p.join(crate::model::package::CONFIG_FILE).is_file())
}

/// One model session over the package (the live path and text mode each get their own).
pub fn package_model(cfg: &Config, pkg: &mut Package) -> Result<PackageModel, DaemonError> {
    let bytes = onnx::to_bytes(&pkg.graph()?)?;
    session(cfg, pkg, &bytes)
}

/// Build what `[model] backend` / `precision` run from `pkg_dir` when it is missing or stale (the engines unit
/// runs this through `jamflowd --build-engines`; the daemon at start): a native TensorRT engine, or the ONNX of
/// a reduced precision. Progress goes to the log (the journal). INT8 needs a calibration set: never built here.
pub fn prepare_artifacts(cfg: &Config, pkg_dir: &std::path::Path) -> Result<(), DaemonError> {
    let (target, precision) = (cfg.model.backend, cfg.model.precision);
    if precision == Precision::Fp32 && target != Target::Tensorrt {
        return Ok(()); // the package's graph, built in memory
    }
    if precision.needs_calibration() {
        return Ok(()); // checked when opened; the error names the `jamflow build` command
    }
    let opts = BuildOptions {
        precision,
        target,
        calibration: None,
        method: Default::default(),
        shapes: None,
        policy: Default::default(),
        ort: ort_options(cfg),
        force: false,
        accept_accuracy: false,
    };
    tracing::info!(package = %pkg_dir.display(), %precision, %target, "checking the model artifacts");
    let t0 = Instant::now();
    let out = build::build(pkg_dir, &opts)?;
    if out.reused {
        tracing::info!(dir = %out.dir.display(), "model artifacts up to date");
    } else {
        tracing::info!(dir = %out.dir.display(), seconds = t0.elapsed().as_secs_f64(), "model artifacts built");
    }
    Ok(())
}

/// ONNX Runtime options of `[model]` (its threads) for every session the daemon opens.
fn ort_options(cfg: &Config) -> OrtOptions {
    OrtOptions { threads: cfg.model.threads, ..OrtOptions::default() }
}

/// The network backend of `[model]` over `pkg`: the in-memory `graph` for FP32 on ONNX Runtime, else the
/// package's build (made first when missing), checked against this package, TensorRT and GPU.
fn model_backend(
    cfg: &Config,
    pkg: &mut Package,
    graph: &[u8],
) -> Result<Box<dyn crate::runtime::Backend>, DaemonError> {
    let ort = ort_options(cfg);
    let (target, precision) = (cfg.model.backend, cfg.model.precision);
    if let (Some(provider), Precision::Fp32) = (target.provider(), precision) {
        target.compiled_in().map_err(|msg| BuildError::Target { target: target.name().into(), msg })?;
        let opts = OrtOptions { provider, trt_cache: Some(build::engine::trt_cache_dir(&pkg.dir)), ..ort };
        return Ok(Box::new(OrtBackend::from_bytes(graph, &opts)?));
    }
    prepare_artifacts(cfg, &pkg.dir)?;
    let opened = build::open(pkg, &RunOptions { target, precision, ort, device: 0 })?;
    if let Some(shapes) = &opened.shapes {
        let plan = chunk_plan(cfg);
        let mel = (plan.window() as f64 / OUTPUT_FPS as f64 * pkg.config.audio.mel_rate()).ceil() as usize;
        build::open::check_window(shapes, 2, mel).map_err(|msg| BuildError::Target {
            target: target.name().into(),
            msg: format!("{msg} ([streaming] needs it; rebuild with --shapes)"),
        })?;
    }
    Ok(opened.backend)
}

/// A model session over `pkg` from its serialized graph (built once when two sessions share a package).
fn session(cfg: &Config, pkg: &mut Package, graph: &[u8]) -> Result<PackageModel, DaemonError> {
    let backend = model_backend(cfg, pkg, graph)?;
    let mc = &pkg.config;
    // A distilled package brings its own steps, schedule and baked guidance; a teacher takes [sampler].
    let sampler = if mc.sampler.guidance_baked {
        SamplerOptions::from_config(mc, 0)
    } else {
        SamplerOptions {
            steps: cfg.sampler.steps as usize,
            cfg_strength: cfg.sampler.cfg,
            ..SamplerOptions::from_config(mc, 0)
        }
    };
    Ok(PackageModel::new(backend, mc.clone(), sampler, pkg.vocab.clone())?)
}

/// The mesh renderer of `[portrait]`.
pub fn renderer(cfg: &Config) -> Result<MeshWarpRenderer, DaemonError> {
    let image = cfg.portrait.image.clone().ok_or_else(|| ConfigError::Invalid {
        key: "portrait.image".into(),
        message: "the live source renders a portrait".into(),
    })?;
    let mesh_opts = MeshWarpOptions {
        output: OutputMode::Crop { size: cfg.portrait.width },
        idle: cfg.portrait.idle.then(IdleOptions::default),
    };
    Ok(MeshWarpRenderer::open(&image, cfg.portrait.landmarks.as_deref(), &mesh_opts)?)
}

/// What speaks `/say`, resolved from `[speech]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextEngine {
    /// This Piper voice (`VOICE.onnx`).
    Piper(std::path::PathBuf),
    Model,
}

/// The engine of `[speech]`: `engine` absent means `piper` when a voice is found (`speech.voice`, else
/// [`crate::speech::piper::default_voice`]), else `model`.
pub fn speech_engine(cfg: &Config) -> Result<TextEngine, ConfigError> {
    let voice = cfg.speech.voice.clone().or_else(crate::speech::piper::default_voice);
    match (cfg.speech.engine, voice) {
        (Some(SpeechEngine::Piper) | None, Some(voice)) => Ok(TextEngine::Piper(voice)),
        (Some(SpeechEngine::Piper), None) => Err(ConfigError::Invalid {
            key: "speech.voice".into(),
            message: "engine \"piper\" needs a Piper voice (VOICE.onnx with VOICE.onnx.json beside it); none is \
                      set and none is installed"
                .into(),
        }),
        (Some(SpeechEngine::Model), _) | (None, None) => Ok(TextEngine::Model),
    }
}

/// The chunk plan of `[streaming]`.
pub fn chunk_plan(cfg: &Config) -> ChunkPlan {
    let s = &cfg.streaming;
    ChunkPlan::from_ms(cfg.chunk_ms(), s.history_ms, s.lookahead_ms, OUTPUT_FPS).with_history_motion(s.history_motion)
}

/// The live source described by the config (input kind alsa, wav or none).
pub fn live_source(cfg: &Config, stats: Arc<LiveStats>) -> Result<LiveSource, DaemonError> {
    let input = match cfg.input.kind {
        config::InputKind::Alsa => AudioInput::Alsa { device: cfg.input.device.clone() },
        config::InputKind::Wav => {
            AudioInput::Wav { path: cfg.input.wav.clone().unwrap_or_default(), looped: cfg.input.loop_wav }
        }
        _ => AudioInput::None,
    };
    let s = &cfg.streaming;
    let opts = LiveOptions {
        input,
        plan: chunk_plan(cfg),
        margin_frames: (s.margin_ms as u64 * OUTPUT_FPS as u64).div_ceil(1000) as usize,
        motion_udp: cfg.motion_out.udp_addr()?,
        rates: live::rates(None)?,
    };
    let layout_dim = crate::model::config::MotionLayout::Mouth4_2d;
    if cfg.input.sync_probe {
        // Sync probe through the live path: clicks in the input -> marked frames -> white marker.
        let k = layout_dim.motion_dim();
        let motion = Box::new(ClickDetector { k });
        let probe = Box::new(ProbeRenderer { size: cfg.portrait.width });
        return Ok(LiveSource::start(&opts, motion, None, Some(probe), layout_dim.name(), stats)?);
    }
    // Motion only (a robot face): no A/V output, so no portrait, renderer or encoder.
    let renderer = if cfg.outputs.is_empty() { None } else { Some(renderer(cfg)?) };
    let (motion, speech, layout, rates): (Box<dyn MotionModel>, _, _, _) = match &cfg.model.package {
        Some(dir) => {
            let mut pkg = Package::load(dir)?;
            let layout = pkg.config.motion.as_ref().map(|m| m.layout.clone()).ok_or_else(|| ModelError::Config {
                file: Some(dir.join(crate::model::package::CONFIG_FILE)),
                field: "motion".into(),
                msg: "jamflowd needs a package with a motion stream".into(),
            })?;
            if let Some(r) = &renderer {
                check_layout(r, &layout)?;
            }
            let graph = onnx::to_bytes(&pkg.graph()?)?;
            let motion = session(cfg, &mut pkg, &graph)?;
            let rates = live::rates(Some(motion.config()))?;
            let speech = text_mode(cfg, &mut pkg, &graph, renderer.as_ref(), &layout, rates)?;
            (Box::new(motion) as _, speech, layout.name(), rates)
        }
        None => (Box::new(RestModel { k: layout_dim.motion_dim() }) as _, None, layout_dim.name(), opts.rates),
    };
    let opts = LiveOptions { rates, ..opts };
    let renderer = renderer.map(|r| Box::new(r) as Box<dyn crate::render::Renderer + Send>);
    Ok(LiveSource::start(&opts, motion, speech, renderer, layout, stats)?)
}

/// Text mode (`[speech]`) over the live package `pkg` (its serialized `graph`, its `layout`): a Piper voice with
/// a second session of the live model for its lips, or the joint model (the speech package when one is set, e.g.
/// the teacher of a student distilled for the live audio -> motion path, else a second session over the same
/// graph) with Vocos when the config or the package names weights, else Griffin-Lim. `None`: no text input.
fn text_mode(
    cfg: &Config,
    pkg: &mut Package,
    graph: &[u8],
    renderer: Option<&MeshWarpRenderer>,
    layout: &crate::model::config::MotionLayout,
    rates: crate::stream::Rates,
) -> Result<Option<Box<dyn SpeechModel>>, DaemonError> {
    match speech_engine(cfg)? {
        TextEngine::Piper(voice) => {
            let speaker = PiperVoice::open(&voice, &ort_options(cfg))
                .map_err(|e| ConfigError::Invalid { key: "speech.voice".into(), message: e.to_string() })?;
            let lips: Box<dyn MotionModel> = match cfg.speech.lips {
                Lips::Audio => Box::new(session(cfg, pkg, graph)?),
                Lips::Phones => Box::new(phone_lips(cfg, renderer)?),
            };
            let lips_from = cfg.speech.lips;
            tracing::info!(voice = %voice.display(), "text mode: a Piper voice, lips = {lips_from}");
            Ok(Some(Box::new(VoiceSpeech::new(Box::new(speaker), (lips, lips_from), rates, Windows::default()))))
        }
        TextEngine::Model => {
            let (mut speech_model, speech_layout, speech_dir) = match &cfg.model.speech_package {
                Some(d) => {
                    let mut sp = Package::load(d)?;
                    let l = sp.config.motion.as_ref().map(|m| m.layout.clone());
                    (package_model(cfg, &mut sp)?, l, d.clone())
                }
                None => (session(cfg, pkg, graph)?, None, pkg.dir.clone()),
            };
            if !speech_model.has_text() {
                tracing::warn!("the model package has no text input: /say is unavailable");
                return Ok(None);
            }
            if let Some(r) = renderer {
                check_layout(r, speech_layout.as_ref().unwrap_or(layout))?;
            }
            let explicit = cfg.speech.vocos.clone().map(VocoderChoice::Vocos);
            let choice = VocoderChoice::for_package(explicit.as_ref(), &speech_dir);
            let vocoder = Vocoder::open(&choice, &speech_model.config().audio, &ort_options(cfg))
                .map_err(|e| ConfigError::Invalid { key: "speech.vocos".into(), message: format!("{choice}: {e}") })?;
            tracing::info!(vocoder = %choice, "text mode: the joint model speaks");
            speech_model.set_vocoder(vocoder);
            if speech_model.reads_phones() {
                let timer = phone_timer(cfg.speech.durations, cfg.speech.voice.as_deref(), &ort_options(cfg))
                    .map_err(|e| ConfigError::Invalid { key: "speech.durations".into(), message: e.to_string() })?;
                speech_model.set_timer(timer);
            }
            Ok(Some(Box::new(speech_model)))
        }
    }
}

/// The lips of `[speech] lips = "phones"`: the `durations` package `model.speech_package` at `lips_steps` steps,
/// checked against the renderer's layout.
fn phone_lips(cfg: &Config, renderer: Option<&MeshWarpRenderer>) -> Result<PackageModel, DaemonError> {
    let dir = cfg
        .model
        .speech_package
        .as_ref()
        .ok_or_else(|| ConfigError::Invalid { key: "speech.lips".into(), message: config::PHONE_LIPS_NEED.into() })?;
    let mut sp = Package::load(dir)?;
    let mut model = package_model(cfg, &mut sp)?;
    model.set_steps(cfg.speech.lips_steps);
    if !model.reads_phones() {
        let message =
            format!("{}: speech.lips = \"phones\" needs a package with text.alignment = \"durations\"", dir.display());
        return Err(ConfigError::Invalid { key: "model.speech_package".into(), message }.into());
    }
    if let (Some(r), Some(m)) = (renderer, sp.config.motion.as_ref()) {
        check_layout(r, &m.layout)?;
    }
    Ok(model)
}

/// systemd notify + watchdog, control-state updates and the stop flag, called from the streaming loop.
struct Hooks {
    stop: Arc<AtomicBool>,
    state: Arc<ControlState>,
    /// Half the watchdog interval, when systemd asked for a watchdog.
    watchdog_every: Option<Duration>,
    last_watchdog: Instant,
}

impl StreamHooks for Hooks {
    fn playing(&mut self, rtsp_url: Option<&str>) {
        self.state.playing.store(true, Ordering::SeqCst);
        let status = match rtsp_url {
            Some(u) => format!("streaming; RTSP at {u}"),
            None => "streaming".to_string(),
        };
        if let Some(u) = rtsp_url {
            tracing::info!(url = %u, "serving RTSP");
        }
        if let Err(e) =
            sd_notify::notify(false, &[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(&status)])
        {
            tracing::warn!(error = %e, "systemd notify failed");
        }
    }

    fn frame(&mut self, _index: u64) {
        self.state.frame_pushed();
        // WATCHDOG=1 only from the loop that pushes frames: if frames stop, systemd restarts us.
        // (Only after READY=1: frames pushed while the pipeline prerolls don't count.)
        let playing = self.state.playing.load(Ordering::Relaxed);
        if let (Some(every), true) = (self.watchdog_every, playing) {
            if self.last_watchdog.elapsed() >= every {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                self.last_watchdog = Instant::now();
            }
        }
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Run the daemon until `stop` is set (SIGTERM/SIGINT) or `max_frames` frames were streamed; then EOS.
/// The config must have passed [`Config::check`].
pub fn run(cfg: &Config, max_frames: Option<u64>, stop: Arc<AtomicBool>) -> Result<Outcome, DaemonError> {
    cfg.check()?;
    let metrics = Arc::new(Metrics::default());
    let mut state = ControlState::new(metrics.clone());
    let mut live_stats = None;
    let mut source: Box<dyn AvSource> = if cfg.input.kind == config::InputKind::Test {
        tracing::info!("input: built-in test source");
        Box::new(test_source(cfg)?)
    } else {
        let stats = Arc::new(LiveStats { stream: metrics.clone(), ..LiveStats::default() });
        let live = live_source(cfg, stats.clone())?;
        live_stats = Some(stats.clone());
        state.live = Some(stats);
        state.speech = Some(live.speech_control());
        Box::new(live)
    };
    let preview = cfg.control.enabled.then(|| Arc::new(crate::stream::preview::Preview::default()));
    state.preview = preview.clone();
    state.guard = guard::Guard { token: cfg.control.token.clone(), loopback: cfg.control.is_loopback() };
    state.config = console::masked_config(cfg);
    state.voices_dir = cfg.control.voices_dir.clone();
    let state = Arc::new(state);
    let _control = if cfg.control.enabled {
        Some(ControlServer::start(&cfg.control.address, cfg.control.port, state.clone())?)
    } else {
        None
    };
    let mut usec = 0u64;
    let watchdog_every = sd_notify::watchdog_enabled(false, &mut usec)
        .then(|| Duration::from_micros(usec / 2).max(Duration::from_millis(100)));
    let mut hooks = Hooks { stop, state, watchdog_every, last_watchdog: Instant::now() };
    let streamer = Streamer::new(
        StreamConfig {
            outputs: cfg.outputs.clone(),
            encoder: cfg.encoder.video,
            bitrate_kbps: cfg.encoder.bitrate_kbps,
            latency_ms: cfg.streaming.latency_ms,
            max_frames,
            preview,
        },
        metrics,
    );
    let summary = streamer.run(source.as_mut(), &mut hooks)?;
    drop(source);
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    for f in &summary.mp4_files {
        tracing::info!(path = %f.display(), "MP4 written");
    }
    Ok(Outcome { frames: summary.frames, clean_eos: summary.clean_eos, live: live_stats })
}

//! The live daemon behind `jamflowd`: configuration ([`config`]), control API ([`control`]), systemd notify and
//! watchdog, and the run loop that drives a source into the outputs of [`crate::stream`].
//!
//! This build streams the built-in test source (pattern or portrait; tone, WAV or silence; sync probe). The
//! model-driven source (mic -> front end -> sampler -> renderer) plugs in as another [`crate::stream::AvSource`].

pub mod config;
pub mod control;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stream::source::{AudioKind, TestSource, TestSourceConfig, VideoKind};
use crate::stream::{Metrics, StreamConfig, StreamError, StreamHooks, Streamer};
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
}

/// What the daemon did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub frames: u64,
    pub clean_eos: bool,
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
        video,
        audio,
        sync_probe: cfg.input.sync_probe.then_some(cfg.input.sync_probe_period),
    })
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
    let state = Arc::new(ControlState::new(metrics.clone()));
    let _control = if cfg.control.enabled {
        Some(ControlServer::start(&cfg.control.address, cfg.control.port, state.clone())?)
    } else {
        None
    };
    let mut source = test_source(cfg)?;
    tracing::warn!(
        "input: built-in test source (the model-driven mic/WAV input is not in this build; [model], [sampler] and \
         [streaming] chunking are validated but unused)"
    );
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
        },
        metrics,
    );
    let summary = streamer.run(&mut source, &mut hooks)?;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    for f in &summary.mp4_files {
        tracing::info!(path = %f.display(), "MP4 written");
    }
    Ok(Outcome { frames: summary.frames, clean_eos: summary.clean_eos })
}

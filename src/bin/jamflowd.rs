//! `jamflowd`: the live daemon. Reads a TOML config (see `configs/demo.toml`), applies CLI overrides, checks every
//! path, then streams to the configured outputs until SIGTERM/SIGINT, finishing with EOS (MP4 finalized) and exit 0.
//! systemd: READY=1 once the pipeline plays, WATCHDOG=1 while frames flow (`systemd/jamflowd.service`).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;
use jamflow::daemon::config::InputKind;
use jamflow::daemon::{self, Config};
use jamflow::stream::{Mp4Output, RtspOutput};

#[derive(Parser, Debug)]
#[command(name = "jamflowd", version, about = "JAM-Flow live daemon: talking portrait -> RTSP / MP4 / display")]
struct Cli {
    /// TOML configuration (default /etc/jamflow/jamflowd.toml when it exists, else built-in defaults).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Check the configuration (keys, values, paths) and exit.
    #[arg(long)]
    check: bool,
    /// Build the model artifacts `[model] backend` / `precision` need (a TensorRT engine) when missing or stale,
    /// and exit (the first-boot engines unit).
    #[arg(long)]
    build_engines: bool,
    /// Write an MP4 file (overrides outputs.mp4.path).
    #[arg(long)]
    mp4: Option<PathBuf>,
    /// Serve RTSP on this port (enables outputs.rtsp; 0 = any free port, logged).
    #[arg(long)]
    rtsp_port: Option<u16>,
    /// RTSP bind address (enables outputs.rtsp).
    #[arg(long)]
    rtsp_address: Option<String>,
    /// Disable the RTSP output of the config.
    #[arg(long, conflicts_with_all = ["rtsp_port", "rtsp_address"])]
    no_rtsp: bool,
    /// Control API port (0 = any free port, logged).
    #[arg(long)]
    control_port: Option<u16>,
    /// Disable the control API.
    #[arg(long)]
    no_control: bool,
    /// Sync-probe test input: click + white marker on the same frame once a second.
    #[arg(long)]
    sync_probe: bool,
    /// Input kind (overrides input.kind).
    #[arg(long, value_enum)]
    input: Option<InputArg>,
    /// WAV file played in real time (sets input.kind = wav).
    #[arg(long)]
    wav: Option<PathBuf>,
    /// Play the WAV input once instead of looping.
    #[arg(long)]
    no_loop: bool,
    /// ALSA capture device (sets input.kind = alsa).
    #[arg(long)]
    device: Option<String>,
    /// Model package directory (overrides model.package).
    #[arg(long)]
    package: Option<PathBuf>,
    /// Portrait image (overrides portrait.image).
    #[arg(long)]
    portrait: Option<PathBuf>,
    /// Engine for /say: piper | model (overrides speech.engine).
    #[arg(long, value_enum)]
    speech_engine: Option<jamflow::speech::SpeechEngine>,
    /// Lips of the piper engine: audio | phones (overrides speech.lips).
    #[arg(long, value_enum)]
    lips: Option<jamflow::speech::Lips>,
    /// Speech package directory (overrides model.speech_package).
    #[arg(long)]
    speech_package: Option<PathBuf>,
    /// Piper voice VOICE.onnx (overrides speech.voice).
    #[arg(long)]
    voice: Option<PathBuf>,
    /// Send per-frame motion as JSON datagrams to host:port (overrides motion_out.udp).
    #[arg(long)]
    motion_udp: Option<String>,
    /// Stop after this many seconds of media (EOS, files finalized), e.g. for recordings and tests.
    #[arg(long)]
    duration_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum InputArg {
    Test,
    Alsa,
    Wav,
    None,
}

const DEFAULT_CONFIG: &str = "/etc/jamflow/jamflowd.toml";

fn main() {
    // ONNX Runtime logs every allocation at info: keep it at warn unless RUST_LOG asks for `ort` explicitly.
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = if filter.contains("ort") { filter } else { format!("{filter},ort=warn") };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stdout)
        .init();
    match real_main() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("jamflowd: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn real_main() -> Result<i32> {
    let cli = Cli::parse();
    let path = cli.config.clone().or_else(|| {
        let p = PathBuf::from(DEFAULT_CONFIG);
        p.is_file().then_some(p)
    });
    let mut cfg = match &path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(p) = &cli.mp4 {
        cfg.outputs.mp4 = Some(Mp4Output::new(p.clone()));
    }
    if cli.no_rtsp {
        cfg.outputs.rtsp = None;
    }
    if cli.rtsp_port.is_some() || cli.rtsp_address.is_some() {
        let r = cfg.outputs.rtsp.get_or_insert_with(RtspOutput::default);
        if let Some(p) = cli.rtsp_port {
            r.port = p;
        }
        if let Some(a) = &cli.rtsp_address {
            r.address = a.clone();
        }
    }
    if let Some(p) = cli.control_port {
        cfg.control.port = p;
    }
    if cli.no_control {
        cfg.control.enabled = false;
    }
    if cli.sync_probe {
        cfg.input.sync_probe = true;
    }
    if let Some(k) = cli.input {
        cfg.input.kind = match k {
            InputArg::Test => InputKind::Test,
            InputArg::Alsa => InputKind::Alsa,
            InputArg::Wav => InputKind::Wav,
            InputArg::None => InputKind::None,
        };
    }
    if let Some(w) = &cli.wav {
        cfg.input.kind = InputKind::Wav;
        cfg.input.wav = Some(w.clone());
    }
    if let Some(e) = cli.speech_engine {
        cfg.speech.engine = Some(e);
    }
    if let Some(l) = cli.lips {
        cfg.speech.lips = l;
    }
    if let Some(p) = &cli.speech_package {
        cfg.model.speech_package = Some(p.clone());
    }
    if let Some(v) = &cli.voice {
        cfg.speech.voice = Some(v.clone());
    }
    if cli.no_loop {
        cfg.input.loop_wav = false;
    }
    if let Some(d) = &cli.device {
        cfg.input.kind = InputKind::Alsa;
        cfg.input.device = d.clone();
    }
    if let Some(p) = &cli.package {
        cfg.model.package = Some(p.clone());
    }
    if let Some(p) = &cli.portrait {
        cfg.portrait.image = Some(p.clone());
    }
    if let Some(u) = &cli.motion_udp {
        cfg.motion_out.udp = Some(u.clone());
    }
    let origin = path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in defaults".into());
    cfg.check().with_context(|| format!("invalid configuration ({origin})"))?;
    if cli.check {
        println!("configuration OK ({origin})");
        return Ok(0);
    }
    if cli.build_engines {
        for p in cfg.model.package.iter().chain(&cfg.model.speech_package) {
            daemon::prepare_artifacts(&cfg, p).with_context(|| format!("model package {}", p.display()))?;
        }
        return Ok(0);
    }
    let max_frames = match cli.duration_s {
        Some(d) if !(d.is_finite() && d > 0.0) => bail!("--duration-s must be a positive number of seconds, found {d}"),
        Some(d) => Some((d * jamflow::live::OUTPUT_FPS as f64).round() as u64),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handlers")?;
    }
    tracing::info!(config = %origin, "jamflowd {} starting", env!("CARGO_PKG_VERSION"));
    let out = daemon::run(&cfg, max_frames, stop)?;
    if !out.clean_eos {
        tracing::error!(frames = out.frames, "stopped without a clean EOS");
        return Ok(1);
    }
    tracing::info!(frames = out.frames, "stopped cleanly");
    Ok(0)
}

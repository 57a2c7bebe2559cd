//! The sections of `jamflowd.toml`, one type each, with their defaults (the whole file: [`super::Config`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use crate::compile::Precision;
use crate::live::HistoryMotion;
use crate::runtime::Target;
use crate::speech::{Durations, Lips, SpeechEngine};
use crate::stream::VideoEncoder;

/// Where the audio comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// Built-in test source (pattern or portrait; tone, WAV or silence; optional sync probe). No model.
    #[default]
    Test,
    /// Live microphone via ALSA -> model -> renderer (the device is reopened whenever it disappears).
    Alsa,
    /// A WAV file played in real time (looped unless `loop_wav = false`) -> model -> renderer.
    Wav,
    /// No input: idle animation, and speech from `POST /say` when the package has a text input.
    None,
}

/// Video of the test source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestVideo {
    #[default]
    Pattern,
    /// The `portrait.image`.
    Portrait,
}

/// Audio of the test source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestAudio {
    #[default]
    Tone,
    Silence,
    /// `input.wav`, looped.
    Wav,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    #[serde(default)]
    pub kind: InputKind,
    /// ALSA capture device (kind = "alsa").
    #[serde(default = "default_alsa")]
    pub device: String,
    /// WAV file (kind = "wav", or test audio "wav").
    #[serde(default)]
    pub wav: Option<PathBuf>,
    #[serde(default)]
    pub test_video: TestVideo,
    #[serde(default)]
    pub test_audio: TestAudio,
    #[serde(default = "default_tone")]
    pub tone_hz: f32,
    /// Sync probe. Test input: a click and a white marker on the same frame every `sync_probe_period` frames.
    /// WAV/ALSA input: the clicks of the input go through the live path (timeline, model thread, delay) and the
    /// frames where it found them get the marker; no model or portrait is used.
    #[serde(default)]
    pub sync_probe: bool,
    #[serde(default = "default_probe_period")]
    pub sync_probe_period: u32,
    /// Loop the WAV input (kind = "wav"); when false it plays once, then silence.
    #[serde(default = "yes")]
    pub loop_wav: bool,
}

fn default_alsa() -> String {
    "default".into()
}
fn default_tone() -> f32 {
    440.0
}
fn default_probe_period() -> u32 {
    25
}

impl Default for InputConfig {
    fn default() -> Self {
        Self {
            kind: InputKind::Test,
            device: default_alsa(),
            wav: None,
            test_video: TestVideo::Pattern,
            test_audio: TestAudio::Tone,
            tone_hz: default_tone(),
            sync_probe: false,
            sync_probe_period: default_probe_period(),
            loop_wav: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Model package directory (needed by the alsa and wav inputs; with `none` it serves `/say`).
    #[serde(default)]
    pub package: Option<PathBuf>,
    /// Package for text mode (`/say`) when it should differ from `package` (e.g. a student distilled for the live
    /// audio -> motion path, with its teacher speaking). Default: `package`.
    #[serde(default)]
    pub speech_package: Option<PathBuf>,
    /// Where the network runs, as `jamflow build --target` names it: `ort-cpu` (alias `cpu`), `ort-cuda` (alias
    /// `cuda`), `ort-tensorrt` or `tensorrt` (native; the engine of `precision` is built at first start).
    #[serde(default)]
    pub backend: Target,
    /// Precision of the artifacts run (`fp32` on ONNX Runtime: the package's graph; else `jamflow build`'s).
    #[serde(default)]
    pub precision: Precision,
    /// Intra-op threads per model session (absent: ONNX Runtime's default, all cores).
    #[serde(default)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerConfig {
    #[serde(default = "default_steps")]
    pub steps: u32,
    #[serde(default = "default_cfg")]
    pub cfg: f32,
}

fn default_steps() -> u32 {
    8
}
fn default_cfg() -> f32 {
    2.0
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self { steps: default_steps(), cfg: default_cfg() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortraitConfig {
    /// Portrait image (used by the renderer, and by the test source with `test_video = "portrait"`).
    #[serde(default)]
    pub image: Option<PathBuf>,
    /// Landmark file of the portrait (default: `<image stem>.landmarks.json` beside the image).
    #[serde(default)]
    pub landmarks: Option<PathBuf>,
    #[serde(default)]
    pub renderer: RendererKind,
    /// Blinks and head/breathing motion (needs eyelids in the landmark file).
    #[serde(default = "yes")]
    pub idle: bool,
    #[serde(default = "default_size")]
    pub width: u32,
    #[serde(default = "default_size")]
    pub height: u32,
}

/// Which renderer turns motion into frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RendererKind {
    /// CPU mesh warp of the portrait (`mouth4-2d` packages).
    #[default]
    Mesh,
    /// LivePortrait through user-supplied ONNX models (`liveportrait-mouth4` packages; not wired into jamflowd).
    Liveportrait,
}

fn default_size() -> u32 {
    512
}

impl Default for PortraitConfig {
    fn default() -> Self {
        Self {
            image: None,
            landmarks: None,
            renderer: RendererKind::Mesh,
            idle: true,
            width: default_size(),
            height: default_size(),
        }
    }
}

/// Chunked streaming of audio -> motion (used by the model scheduler).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamingConfig {
    /// New audio per model window; absent: [`DEFAULT_CHUNK_MS`], or [`MOTION_ONLY_CHUNK_MS`] when no A/V output is
    /// configured ([`Config::chunk_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_ms: Option<u32>,
    #[serde(default = "default_history")]
    pub history_ms: u32,
    #[serde(default = "default_lookahead")]
    pub lookahead_ms: u32,
    /// What each window knows of its history's motion: `generated` (default) or `known`.
    #[serde(default)]
    pub history_motion: HistoryMotion,
    /// Latency the sources report to the pipeline (display sinks render this far behind).
    #[serde(default = "default_latency")]
    pub latency_ms: u32,
    /// Safety margin added to the output delay (chunk + look-ahead + measured processing).
    #[serde(default = "default_margin")]
    pub margin_ms: u32,
}

fn default_margin() -> u32 {
    0
}

/// Chunk, history, look-ahead and margin: the trade-off table of docs/daemon.md ("Benchmarks"): with the 2-step
/// student a window of 80 ms new audio, 400 ms of history (its motion generated) and 80 ms look-ahead costs ~0.21
/// of real time on one core, p95 mic-to-frame 160 ms, live lip-sync r 0.013 below the offline sampler's (student v7).
pub const DEFAULT_CHUNK_MS: u32 = 80;
/// The chunk of motion-only mode (`[motion_out]` and no A/V output: a robot face sharing its CPU): a window every
/// 240 ms costs under 0.1 of one core (docs/daemon.md, "Motion only"), at ~320 ms mic-to-motion.
pub const MOTION_ONLY_CHUNK_MS: u32 = 240;
fn default_history() -> u32 {
    400
}
fn default_lookahead() -> u32 {
    80
}
fn default_latency() -> u32 {
    100
}

impl Default for StreamingConfig {
    fn default() -> Self {
        Self {
            chunk_ms: None,
            history_ms: default_history(),
            lookahead_ms: default_lookahead(),
            history_motion: HistoryMotion::default(),
            latency_ms: default_latency(),
            margin_ms: default_margin(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    #[serde(default)]
    pub video: VideoEncoder,
    #[serde(default = "default_bitrate")]
    pub bitrate_kbps: u32,
}

fn default_bitrate() -> u32 {
    1500
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self { video: VideoEncoder::X264, bitrate_kbps: default_bitrate() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Bind address of the control API and web console: loopback by default. Any other address needs `token`.
    #[serde(default = "default_control_address")]
    pub address: String,
    #[serde(default = "default_control_port")]
    pub port: u16,
    /// Bearer token (`Authorization: Bearer TOKEN`, or the console's `jamflow_token` cookie) required on every
    /// endpoint but `/health` and the console's static page. Required when `address` is not loopback.
    #[serde(default)]
    pub token: Option<String>,
    /// Directory of reference voices for `/say` (`NAME.wav` + its transcript `NAME.txt`), chosen by name.
    #[serde(default)]
    pub voices_dir: Option<PathBuf>,
}

fn yes() -> bool {
    true
}
fn default_control_address() -> String {
    "127.0.0.1".into()
}
fn default_control_port() -> u16 {
    8620
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            address: default_control_address(),
            port: default_control_port(),
            token: None,
            voices_dir: None,
        }
    }
}

impl ControlConfig {
    /// Whether `address` only accepts connections from this machine.
    pub fn is_loopback(&self) -> bool {
        let a = self.address.trim_start_matches('[').trim_end_matches(']');
        a == "localhost" || a.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if let Some(t) = &self.token {
            if t.len() < 16 || t.chars().any(|c| !(c.is_ascii_alphanumeric() || "-._~+/=".contains(c))) {
                return Err(invalid(
                    "control.token",
                    "must be at least 16 characters of A-Z a-z 0-9 - . _ ~ + / = (it travels in a header and a cookie)",
                ));
            }
        }
        if self.enabled && self.token.is_none() && !self.is_loopback() {
            return Err(invalid(
                "control.token",
                format!(
                    "control.address {:?} is reachable beyond this machine: set control.token (e.g. `openssl rand \
                     -hex 24`) or bind 127.0.0.1",
                    self.address
                ),
            ));
        }
        if let Some(d) = &self.voices_dir {
            if !d.is_dir() {
                return Err(invalid("control.voices_dir", format!("directory {} does not exist", d.display())));
            }
        }
        Ok(())
    }
}

/// Text mode (`POST /say`): which engine speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    /// `piper` (a Piper voice speaks; its lips as `lips` says) or
    /// `model` (the joint model speaks and moves the lips in one run: `model.speech_package`, else
    /// `model.package`). Absent: `piper` when a voice is found (`voice`, else the one installed with jamflow),
    /// else `model`.
    pub engine: Option<SpeechEngine>,
    /// Piper voice: `VOICE.onnx` with `VOICE.onnx.json` beside it (default: `$JAMFLOW_VOICE`, else the voice
    /// scripts/setup.sh installs in `.voices/`).
    pub voice: Option<PathBuf>,
    /// Where the lips of the `piper` engine come from: `audio` (the live audio -> motion model hears the voice, as
    /// it hears the mic; the default) or `phones` (the `durations` package `model.speech_package` hears the audio
    /// and reads the phones the voice reports: closer lips, more model time per piece; docs/speech.md).
    pub lips: Lips,
    /// Sampler steps of `lips = "phones"` (default [`crate::speech::PHONE_LIPS_STEPS`], 4: its measured trade of
    /// lip sync against `/say`'s first-audio latency; docs/speech.md).
    pub lips_steps: usize,
    /// Vocos weights for the `model` engine (a directory converted as docs/audio.md says); default: the speech
    /// package's `vocos/` when it has one, else Griffin-Lim.
    pub vocos: Option<PathBuf>,
    /// The `model` engine's phoneme durations (a `durations` package): `auto` (the Piper voice's own, `voice` or
    /// the installed one, where one is found; else espeak-ng's), `voice` (an error without one) or `espeak`.
    pub durations: Durations,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        Self {
            engine: None,
            voice: None,
            lips: Lips::default(),
            lips_steps: crate::speech::PHONE_LIPS_STEPS,
            vocos: None,
            durations: Durations::default(),
        }
    }
}

/// Motion parameters out, for robot faces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionOutConfig {
    /// Send one JSON datagram per frame to this `host:port` (docs/daemon.md, "Motion over UDP").
    #[serde(default)]
    pub udp: Option<String>,
}

impl MotionOutConfig {
    /// The UDP target, resolved.
    pub fn udp_addr(&self) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        use std::net::ToSocketAddrs;
        let Some(t) = &self.udp else { return Ok(None) };
        let mut addrs = t
            .to_socket_addrs()
            .map_err(|e| invalid("motion_out.udp", format!("expected host:port, found {t:?} ({e})")))?;
        addrs.next().map(Some).ok_or_else(|| invalid("motion_out.udp", format!("{t:?} resolves to no address")))
    }
}

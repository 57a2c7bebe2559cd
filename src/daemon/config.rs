//! `jamflowd` configuration: one TOML file (unknown keys rejected, naming the key), CLI overrides applied on top,
//! then [`Config::check`] verifies every path before anything starts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compile::Precision;
use crate::runtime::Target;
use crate::speech::SpeechEngine;
use crate::stream::{Outputs, VideoEncoder};

/// Configuration errors: always name the file, key or path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}

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
/// student a window of 80 ms new audio, 400 ms of history and 80 ms look-ahead costs ~0.26 of real time on one core
/// (rendering included), p95 mic-to-frame 160 ms, live lip-sync r within 0.03 of the offline sampler's.
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

    fn check(&self) -> Result<(), ConfigError> {
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeechConfig {
    /// `piper` (a Piper voice speaks; the lips come from the live audio -> motion model of `model.package`) or
    /// `model` (the joint model speaks and moves the lips in one run: `model.speech_package`, else
    /// `model.package`). Absent: `piper` when a voice is found (`voice`, else the one installed with jamflow),
    /// else `model`.
    #[serde(default)]
    pub engine: Option<SpeechEngine>,
    /// Piper voice: `VOICE.onnx` with `VOICE.onnx.json` beside it (default: `$JAMFLOW_VOICE`, else the voice
    /// scripts/setup.sh installs in `.voices/`).
    #[serde(default)]
    pub voice: Option<PathBuf>,
    /// Vocos weights for the `model` engine (a directory converted as docs/audio.md says); default: the speech
    /// package's `vocos/` when it has one, else Griffin-Lim.
    #[serde(default)]
    pub vocos: Option<PathBuf>,
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

/// The whole daemon configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub input: InputConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub sampler: SamplerConfig,
    #[serde(default)]
    pub portrait: PortraitConfig,
    #[serde(default)]
    pub streaming: StreamingConfig,
    #[serde(default)]
    pub encoder: EncoderConfig,
    #[serde(default)]
    pub outputs: Outputs,
    #[serde(default)]
    pub control: ControlConfig,
    #[serde(default)]
    pub motion_out: MotionOutConfig,
    #[serde(default)]
    pub speech: SpeechConfig,
}

impl Config {
    /// `[streaming] chunk_ms`, else the default of the mode: [`MOTION_ONLY_CHUNK_MS`] without A/V outputs (no
    /// renderer, no encoder: the model is the whole cost, kept under 0.1 of a core), [`DEFAULT_CHUNK_MS`] otherwise.
    pub fn chunk_ms(&self) -> u32 {
        let motion_only = self.outputs.is_empty() && self.motion_out.udp.is_some();
        self.streaming.chunk_ms.unwrap_or(if motion_only { MOTION_ONLY_CHUNK_MS } else { DEFAULT_CHUNK_MS })
    }

    /// Parse TOML text; `origin` names the file in errors. Relative paths in the file are resolved against the
    /// file's directory.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: origin.to_path_buf(), message: e.to_string() })?;
        if let Some(dir) = origin.parent() {
            cfg.resolve_relative(dir);
        }
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::from_toml(&text, path)
    }

    fn resolve_relative(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() && !dir.as_os_str().is_empty() {
                *p = dir.join(&*p);
            }
        };
        let paths = [
            &mut self.input.wav,
            &mut self.model.package,
            &mut self.model.speech_package,
            &mut self.portrait.image,
            &mut self.portrait.landmarks,
            &mut self.control.voices_dir,
            &mut self.speech.voice,
            &mut self.speech.vocos,
        ];
        for p in paths.into_iter().flatten() {
            fix(p);
        }
        if let Some(m) = &mut self.outputs.mp4 {
            fix(&mut m.path);
        }
    }

    /// Check every value and path now, before the pipeline starts; the error names the key and the path.
    pub fn check(&self) -> Result<(), ConfigError> {
        let need_file = |key: &str, p: &Option<PathBuf>| -> Result<(), ConfigError> {
            match p {
                Some(p) if !p.is_file() => Err(invalid(key, format!("file {} does not exist", p.display()))),
                _ => Ok(()),
            }
        };
        need_file("input.wav", &self.input.wav)?;
        need_file("portrait.image", &self.portrait.image)?;
        self.model.backend.compiled_in().map_err(|m| invalid("model.backend", m))?;
        for (key, p) in [("model.package", &self.model.package), ("model.speech_package", &self.model.speech_package)] {
            if let Some(p) = p {
                if !p.exists() {
                    return Err(invalid(key, format!("{} does not exist", p.display())));
                }
            }
        }
        need_file("portrait.landmarks", &self.portrait.landmarks)?;
        need_file("speech.voice", &self.speech.voice)?;
        // (Motion only, without A/V outputs, renders nothing.)
        if self.input.kind != InputKind::Test && !self.input.sync_probe && !self.outputs.is_empty() {
            let kind = format!("{:?}", self.input.kind).to_lowercase();
            if self.portrait.image.is_none() {
                return Err(invalid(
                    "portrait.image",
                    format!("input kind \"{kind}\" renders a portrait: set portrait.image"),
                ));
            }
            if self.portrait.renderer == RendererKind::Liveportrait {
                return Err(invalid(
                    "portrait.renderer",
                    "jamflowd drives the mesh renderer; the LivePortrait renderer is available in `jamflow render` only",
                ));
            }
            if self.portrait.width != self.portrait.height {
                return Err(invalid(
                    "portrait.width",
                    format!(
                        "the mesh renderer outputs a square face crop; found {}x{}",
                        self.portrait.width, self.portrait.height
                    ),
                ));
            }
            if matches!(self.input.kind, InputKind::Alsa | InputKind::Wav) && self.model.package.is_none() {
                return Err(invalid("model.package", format!("input kind \"{kind}\" needs a model package")));
            }
            if self.input.kind == InputKind::Wav && self.input.wav.is_none() {
                return Err(invalid("input.wav", "input kind \"wav\" needs input.wav"));
            }
            if self.input.kind == InputKind::Alsa && self.input.device.trim().is_empty() {
                return Err(invalid("input.device", "must name an ALSA capture device"));
            }
        }
        if self.model.threads == Some(0) {
            return Err(invalid("model.threads", "must be at least 1 (or absent for ONNX Runtime's default)"));
        }
        self.motion_out.udp_addr()?;
        self.control.check()?;
        if self.input.test_audio == TestAudio::Wav && self.input.wav.is_none() {
            return Err(invalid("input.wav", "test_audio = \"wav\" needs input.wav"));
        }
        if self.input.test_video == TestVideo::Portrait && self.portrait.image.is_none() {
            return Err(invalid("portrait.image", "test_video = \"portrait\" needs portrait.image"));
        }
        if self.input.sync_probe_period == 0 {
            return Err(invalid("input.sync_probe_period", "must be at least 1 frame"));
        }
        if !(self.input.tone_hz > 0.0 && self.input.tone_hz < 12_000.0) {
            return Err(invalid("input.tone_hz", format!("must be in (0, 12000) Hz, found {}", self.input.tone_hz)));
        }
        let p = &self.portrait;
        if p.width == 0 || p.height == 0 || p.width % 2 != 0 || p.height % 2 != 0 || p.width > 4096 || p.height > 4096 {
            return Err(invalid(
                "portrait.width",
                format!("size must be even and in 2..=4096, found {}x{}", p.width, p.height),
            ));
        }
        if self.sampler.steps == 0 {
            return Err(invalid("sampler.steps", "must be at least 1"));
        }
        let s = &self.streaming;
        let chunk = self.chunk_ms();
        if chunk == 0 || chunk % 40 != 0 {
            return Err(invalid(
                "streaming.chunk_ms",
                format!("must be a positive multiple of 40 ms (one frame), found {chunk}"),
            ));
        }
        if s.history_ms % 40 != 0 || s.lookahead_ms % 40 != 0 {
            return Err(invalid("streaming.history_ms", "history_ms and lookahead_ms must be multiples of 40 ms"));
        }
        if self.encoder.bitrate_kbps == 0 {
            return Err(invalid("encoder.bitrate_kbps", "must be positive"));
        }
        if self.outputs.is_empty() && (self.motion_out.udp.is_none() || self.input.kind == InputKind::Test) {
            return Err(invalid(
                "outputs",
                "no output enabled: add [outputs.rtsp], [outputs.mp4], [outputs.display] or [outputs.v4l2], or \
                 [motion_out] udp with a live input (motion only)",
            ));
        }
        if self.outputs.is_empty() && self.input.sync_probe {
            return Err(invalid("input.sync_probe", "the sync probe needs an A/V output to measure"));
        }
        if let Some(m) = &self.outputs.mp4 {
            let dir = m.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(invalid("outputs.mp4.path", format!("directory {} does not exist", dir.display())));
            }
        }
        if let Some(r) = &self.outputs.rtsp {
            if !r.mount.starts_with('/') {
                return Err(invalid("outputs.rtsp.mount", format!("must start with '/', found {:?}", r.mount)));
            }
            if r.username.is_some() != r.password.is_some() {
                return Err(invalid("outputs.rtsp.password", "basic auth needs both username and password"));
            }
        }
        if let Some(v) = &self.outputs.v4l2 {
            if !v.device.exists() {
                return Err(invalid(
                    "outputs.v4l2.device",
                    format!("{} does not exist (load v4l2loopback?)", v.device.display()),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml("[outputs.rtsp]\nprot = 1\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(e.contains("prot") && e.contains("x.toml"), "{e}");
    }

    #[test]
    fn missing_paths_are_named() {
        let cfg = Config::from_toml(
            "[portrait]\nimage = \"/nonexistent/p.png\"\n[outputs.mp4]\npath = \"/tmp/o.mp4\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("portrait.image") && e.contains("/nonexistent/p.png"), "{e}");
        let cfg = Config::from_toml("[outputs.mp4]\npath = \"/nonexistent/d/o.mp4\"\n", Path::new("c.toml")).unwrap();
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("outputs.mp4.path") && e.contains("/nonexistent/d"), "{e}");
    }

    #[test]
    fn model_inputs_name_what_they_need() {
        let cfg = Config::from_toml("[input]\nkind = \"alsa\"\n[outputs.mp4]\npath = \"o.mp4\"\n", Path::new("c.toml"))
            .unwrap();
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("portrait.image"), "{e}");
        let img = std::env::current_exe().unwrap();
        let mut cfg = cfg;
        cfg.portrait.image = Some(img.clone());
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("model.package"), "{e}");
        cfg.model.package = Some(img.parent().unwrap().to_path_buf());
        cfg.motion_out.udp = Some("not an address".into());
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("motion_out.udp"), "{e}");
        cfg.motion_out.udp = Some("127.0.0.1:9870".into());
        cfg.check().unwrap();
        let e = Config::from_toml("[model]\nbackend = \"gpu\"\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("backend") || e.contains("gpu"), "{e}");
        let m = Config::from_toml("[model]\nbackend = \"cpu\"\nprecision = \"fp16\"\n", Path::new("c.toml")).unwrap();
        assert_eq!((m.model.backend, m.model.precision), (Target::OrtCpu, Precision::Fp16));
        let mut t = Config::from_toml("[model]\nbackend = \"tensorrt\"\n", Path::new("c.toml")).unwrap();
        assert_eq!(t.model.backend, Target::Tensorrt);
        if !cfg!(any(feature = "tensorrt-native", feature = "tensorrt-mock")) {
            t.portrait.image = None;
            let e = t.check().unwrap_err().to_string();
            assert!(e.contains("model.backend") && e.contains("tensorrt-native"), "{e}");
        }
    }

    #[test]
    fn motion_only_mode_takes_the_cheaper_chunk_unless_one_is_set() {
        let parse = |t: &str| Config::from_toml(t, Path::new("c.toml")).unwrap();
        assert_eq!(parse("[outputs.mp4]\npath = \"o.mp4\"\n").chunk_ms(), DEFAULT_CHUNK_MS);
        let robot = "[input]\nkind = \"alsa\"\n[motion_out]\nudp = \"127.0.0.1:9870\"\n";
        assert_eq!(parse(robot).chunk_ms(), MOTION_ONLY_CHUNK_MS);
        assert_eq!(parse(&format!("{robot}[streaming]\nchunk_ms = 80\n")).chunk_ms(), 80);
        let bad =
            parse("[outputs.mp4]\npath = \"o.mp4\"\n[streaming]\nchunk_ms = 50\n").check().unwrap_err().to_string();
        assert!(bad.contains("streaming.chunk_ms") && bad.contains("50"), "{bad}");
    }

    #[test]
    fn control_beyond_loopback_needs_a_token() {
        let mut cfg = Config::from_toml("[outputs.mp4]\npath = \"o.mp4\"\n", Path::new("c.toml")).unwrap();
        cfg.check().unwrap();
        for lo in ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"] {
            cfg.control.address = lo.into();
            cfg.check().unwrap_or_else(|e| panic!("{lo}: {e}"));
        }
        cfg.control.address = "0.0.0.0".into();
        let e = cfg.check().unwrap_err().to_string();
        assert!(e.contains("control.token") && e.contains("0.0.0.0"), "{e}");
        cfg.control.token = Some("short".into());
        assert!(cfg.check().unwrap_err().to_string().contains("16"));
        cfg.control.token = Some("0123456789abcdef0123".into());
        cfg.check().unwrap();
        cfg.control.voices_dir = Some("/nonexistent/voices".into());
        assert!(cfg.check().unwrap_err().to_string().contains("control.voices_dir"));
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let text = "[outputs.mp4]\npath = \"o.mp4\"\n[model]\npackage = \"p\"\nspeech_package = \"../s\"\n";
        let cfg = Config::from_toml(text, Path::new("/etc/jamflow/c.toml")).unwrap();
        assert_eq!(cfg.model.speech_package, Some(PathBuf::from("/etc/jamflow/../s")));
        assert_eq!(cfg.model.package, Some(PathBuf::from("/etc/jamflow/p")));
        assert_eq!(cfg.outputs.mp4.unwrap().path, PathBuf::from("/etc/jamflow/o.mp4"));
    }
}

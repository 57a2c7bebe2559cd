//! `jamflowd` configuration: one TOML file (unknown keys rejected, naming the key), CLI overrides applied on top,
//! then [`Config::check`] verifies every path before anything starts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::speech::Lips;
use crate::stream::Outputs;

/// Why `speech.lips = "phones"` needs a speech package (the config check and the daemon's start say it alike).
pub const PHONE_LIPS_NEED: &str =
    "\"phones\" needs model.speech_package (a durations package, e.g. engines/jamflow-speech)";

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

mod sections;
pub use sections::*;

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
        if self.speech.lips == Lips::Phones && self.model.speech_package.is_none() {
            return Err(invalid("speech.lips", PHONE_LIPS_NEED));
        }
        if !(1..=64).contains(&self.speech.lips_steps) {
            return Err(invalid("speech.lips_steps", format!("{}: expected 1..=64", self.speech.lips_steps)));
        }
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
mod tests;

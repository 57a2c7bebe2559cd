//! The vocoder choice (`--vocoder vocos:DIR|griffin-lim`, a package's `vocos/` weights) and the loaded vocoder:
//! Vocos where weights exist, Griffin-Lim as the no-weights fallback.

use std::path::{Path, PathBuf};

use super::griffin_lim::GriffinLim;
use super::mel::Mel;
use super::vocos::{Vocos, WEIGHTS_FILE};
use super::AudioError;
use crate::model::config::AudioConfig;
use crate::runtime::OrtOptions;

/// Directory inside a model package that holds its Vocos weights (`PACKAGE/vocos/vocos.safetensors`).
pub const PACKAGE_VOCOS_DIR: &str = "vocos";

/// Which vocoder turns mel into audio.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VocoderChoice {
    /// Griffin-Lim phase reconstruction (no weights; rough).
    #[default]
    GriffinLim,
    /// Vocos weights (`DIR/vocos.safetensors` or the file itself; docs/audio.md).
    Vocos(PathBuf),
}

impl std::str::FromStr for VocoderChoice {
    type Err = AudioError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "griffin-lim" => Ok(Self::GriffinLim),
            _ => match s.strip_prefix("vocos:") {
                Some(dir) if !dir.is_empty() => Ok(Self::Vocos(PathBuf::from(dir))),
                _ => Err(AudioError::Vocoder(format!("{s:?}: expected `vocos:DIR` or `griffin-lim`"))),
            },
        }
    }
}

impl std::fmt::Display for VocoderChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::GriffinLim => f.write_str("griffin-lim"),
            Self::Vocos(p) => write!(f, "vocos:{}", p.display()),
        }
    }
}

impl VocoderChoice {
    /// `explicit` if given, else the package's Vocos weights if it has them, else Griffin-Lim.
    pub fn for_package(explicit: Option<&VocoderChoice>, package: &Path) -> Self {
        if let Some(c) = explicit {
            return c.clone();
        }
        let dir = package.join(PACKAGE_VOCOS_DIR);
        if dir.join(WEIGHTS_FILE).is_file() {
            Self::Vocos(dir)
        } else {
            Self::GriffinLim
        }
    }
}

/// A loaded vocoder.
pub enum Vocoder {
    GriffinLim(GriffinLim),
    Vocos(Box<Vocos>),
}

impl Vocoder {
    pub fn open(choice: &VocoderChoice, cfg: &AudioConfig, opts: &OrtOptions) -> Result<Self, AudioError> {
        Ok(match choice {
            VocoderChoice::GriffinLim => Self::GriffinLim(GriffinLim::new(cfg)?),
            VocoderChoice::Vocos(p) => Self::Vocos(Box::new(Vocos::load(p, cfg, opts)?)),
        })
    }

    /// Audio at the model rate of a log-mel spectrogram.
    pub fn vocode(&mut self, mel: &Mel) -> Result<Vec<f32>, AudioError> {
        match self {
            Self::GriffinLim(g) => g.vocode(mel),
            Self::Vocos(v) => v.vocode(mel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_fall_back() {
        assert_eq!("griffin-lim".parse::<VocoderChoice>().unwrap(), VocoderChoice::GriffinLim);
        assert_eq!("vocos:w".parse::<VocoderChoice>().unwrap(), VocoderChoice::Vocos("w".into()));
        assert!("vocos:".parse::<VocoderChoice>().is_err());
        assert!("hifigan".parse::<VocoderChoice>().is_err());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(VocoderChoice::for_package(None, dir.path()), VocoderChoice::GriffinLim);
        std::fs::create_dir(dir.path().join(PACKAGE_VOCOS_DIR)).unwrap();
        std::fs::write(dir.path().join(PACKAGE_VOCOS_DIR).join(WEIGHTS_FILE), b"x").unwrap();
        assert_eq!(VocoderChoice::for_package(None, dir.path()), VocoderChoice::Vocos(dir.path().join("vocos")));
    }
}

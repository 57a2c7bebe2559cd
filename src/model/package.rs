//! A model package: a directory with `model.json`, `model.safetensors` and, for text models, the vocab.

use std::path::{Path, PathBuf};

use onnx_protobuf::ModelProto;

use super::alignment::{TextAlignment, PAUSE};
use super::config::ModelConfig;
use super::graph;
use super::vocab::Vocab;
use super::weights::Weights;
use super::ModelError;

/// Config file name inside a package.
pub const CONFIG_FILE: &str = "model.json";
/// Weights file name inside a package.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// A loaded, checked package.
pub struct Package {
    pub dir: PathBuf,
    pub config: ModelConfig,
    pub weights: Weights,
    pub vocab: Option<Vocab>,
}

impl Package {
    /// Read `dir/model.json` only.
    pub fn load_config(dir: &Path) -> Result<ModelConfig, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a model package directory"),
            });
        }
        ModelConfig::load(&dir.join(CONFIG_FILE))
    }

    /// Read and check the whole package: config, every tensor the config needs, the vocab.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let config = Self::load_config(dir)?;
        let spec = graph::param_spec(&config)?;
        let weights = Weights::load(&dir.join(WEIGHTS_FILE), &spec)?;
        let vocab = match &config.text {
            Some(tc) => {
                let path = dir.join(&tc.vocab_file);
                let v = Vocab::load(&path)?;
                if v.len() != tc.vocab_size {
                    return Err(ModelError::Vocab {
                        path,
                        msg: format!(
                            "has {} entries, but {} field `text.vocab_size` is {}",
                            v.len(),
                            dir.join(CONFIG_FILE).display(),
                            tc.vocab_size
                        ),
                    });
                }
                if tc.alignment == TextAlignment::Durations && v.pause_id().is_err() {
                    return Err(ModelError::Vocab {
                        path,
                        msg: format!(
                        "has no pause entry \"{PAUSE}\", which a package with text.alignment = \"durations\" needs \
                         (the id of frames without a phoneme)"
                    ),
                    });
                }
                Some(v)
            }
            None => None,
        };
        Ok(Self { dir: dir.to_path_buf(), config, weights, vocab })
    }

    /// The ONNX graph of one network evaluation, weights inline.
    pub fn graph(&mut self) -> Result<ModelProto, ModelError> {
        graph::build(&self.config, &mut self.weights)
    }
}

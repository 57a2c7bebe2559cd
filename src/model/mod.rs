//! The model: package configuration, weights, graph inputs/outputs and the ONNX graph definition.

pub mod alignment;
pub mod config;
pub mod graph;
pub mod import;
pub mod io;
pub mod onnx;
pub mod package;
pub mod random;
pub mod stats;
pub mod vocab;
pub mod weights;

use std::path::{Path, PathBuf};

pub use config::ModelConfig;
pub use package::Package;

/// Everything that can go wrong reading a model package or building its graph.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not valid model JSON: {msg}")]
    Json { path: PathBuf, msg: String },
    #[error("{}field `{field}`: {msg}", file_prefix(.file))]
    Config { file: Option<PathBuf>, field: String, msg: String },
    #[error("{path}: not a readable safetensors file: {msg}")]
    Safetensors { path: PathBuf, msg: String },
    #[error("{path}: tensor `{tensor}`: {msg}")]
    Tensor { path: PathBuf, tensor: String, msg: String },
    #[error("{path}: missing {} tensor(s) the config needs: {}", .names.len(), list(.names))]
    Missing { path: PathBuf, names: Vec<String> },
    #[error("{path}: {msg}")]
    Vocab { path: PathBuf, msg: String },
    #[error("graph: {0}")]
    Graph(String),
    #[error("phoneme \"{name}\" is not in the package's vocabulary (text.alignment = \"durations\")")]
    UnknownPhoneme { name: String },
    #[error("text of {len} characters is longer than the model's limit of {max} (text.max_len)")]
    TextTooLong { len: usize, max: usize },
}

fn file_prefix(file: &Option<PathBuf>) -> String {
    file.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default()
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut s = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

impl ModelError {
    /// A config error found while reading `path`.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            ModelError::Config { field, msg, .. } => ModelError::Config { file: Some(path.to_path_buf()), field, msg },
            e => e,
        }
    }
}

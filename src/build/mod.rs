//! Build: what `jamflow build` and `jamflow calibration make` do that needs to *execute* graphs
//! (calibration recording, activation statistics, accuracy reports) or touch files (manifests, reuse).
//! It sits after [`crate::runtime`] and [`crate::sampler`]; the pure graph passes are in [`crate::compile`].

pub mod accuracy;
pub mod bench;
pub mod calibration;
pub mod device_check;
pub mod engine;
pub mod manifest;
pub mod open;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::compile::CompileError;
use crate::model::ModelError;
use crate::runtime::RuntimeError;
use crate::sampler::SampleError;

pub use engine::{build, BuildOptions, Target};
pub use manifest::{BuildManifest, ShapeRanges};
pub use open::{open, Opened, RunOptions};

/// Everything that can go wrong building.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error("calibration set {path}: {msg}")]
    Calibration { path: PathBuf, msg: String },
    #[error("target {target}: {msg}")]
    Target { target: String, msg: String },
    #[error("accuracy: {0}")]
    Accuracy(String),
}

pub(crate) fn file_err(path: &Path, msg: impl std::fmt::Display) -> BuildError {
    BuildError::File { path: path.to_path_buf(), msg: msg.to_string() }
}

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex SHA-256 of a file (streamed).
pub fn sha256_file(path: &Path) -> Result<String, BuildError> {
    let mut f = std::fs::File::open(path).map_err(|e| file_err(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| file_err(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} {elapsed}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

//! Speech from text: engines behind one interface, and the pieces text is cut into for streaming.

pub mod clauses;
pub mod piper;

use std::path::{Path, PathBuf};

/// Environment variable naming a Piper voice (`VOICE.onnx`) to use when the configuration names none.
pub const VOICE_ENV: &str = "JAMFLOW_VOICE";

/// The Piper voice installed with jamflow, if any: `$JAMFLOW_VOICE`, else the first `*.onnx` with its `.onnx.json`
/// in a voice directory (`NAME/VOICE.onnx`) of `.voices/` beside the build (a source checkout), `../share/jamflow/voices`
/// beside the binary, or `/usr/share/jamflow/voices`.
pub fn installed_voice() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os(VOICE_ENV) {
        return Some(PathBuf::from(v));
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?;
    let dirs = [
        bin.join("../../.voices"), // target/{debug,release}/ in a checkout
        bin.join("../share/jamflow/voices"),
        PathBuf::from("/usr/share/jamflow/voices"),
    ];
    dirs.iter().find_map(|d| first_voice(d))
}

/// The first voice (by name) in `dir`'s subdirectories.
fn first_voice(dir: &Path) -> Option<PathBuf> {
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
    subdirs.sort();
    subdirs.iter().find_map(|d| {
        let mut onnx: Vec<PathBuf> = std::fs::read_dir(d)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "onnx") && p.with_extension("onnx.json").is_file())
            .collect();
        onnx.sort();
        onnx.into_iter().next()
    })
}

/// Text -> audio (mono f32 at [`Speaker::sample_rate`]).
pub trait Speaker: Send {
    fn sample_rate(&self) -> u32;
    fn speak(&mut self, text: &str) -> Result<Vec<f32>, SpeechError>;
}

/// Why speech could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("{0}")]
    Invalid(String),
}

/// Which engine speaks text: the joint model (text -> mel + motion in one run) or a Piper voice (text -> audio,
/// then the live audio -> motion model for the lips).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeechEngine {
    Model,
    Piper,
}

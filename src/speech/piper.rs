//! (Placeholder on this branch: the Piper engine lands from branch `piper`.)

use std::path::Path;

use super::{Speaker, SpeechError};
use crate::runtime::OrtOptions;

pub struct PiperVoice;

impl PiperVoice {
    pub fn open(onnx: &Path, _opts: &OrtOptions) -> Result<Self, SpeechError> {
        Err(SpeechError::Invalid(format!("{}: the Piper engine is not built in", onnx.display())))
    }
}

impl Speaker for PiperVoice {
    fn sample_rate(&self) -> u32 {
        22_050
    }
    fn speak(&mut self, _text: &str) -> Result<Vec<f32>, SpeechError> {
        Err(SpeechError::Invalid("the Piper engine is not built in".into()))
    }
}

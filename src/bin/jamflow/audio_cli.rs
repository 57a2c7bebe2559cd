//! Audio front end: `jamflow mel`, `jamflow vocode` (issue 3).

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::RuntimeArgs;
use jamflow::audio::griffin_lim::GriffinLim;
use jamflow::audio::mel::{Mel, MelSpec};
use jamflow::audio::vocoder::{Vocoder, VocoderChoice};
use jamflow::audio::wav::{self, WavFormat};
use jamflow::model::config::AudioConfig;
use jamflow::runtime::tensors::{read_safetensors, write_safetensors};
use jamflow::runtime::{HostTensor, NamedTensors, OrtOptions};

/// Tensor name of a mel file.
const MEL: &str = "mel";

pub fn mel(input: &Path, out: &Path) -> Result<()> {
    let cfg = AudioConfig::default();
    let x = wav::load_mono(input, cfg.sample_rate)?;
    let mel = MelSpec::new(&cfg)?.compute(&x).with_context(|| format!("{}", input.display()))?;
    let mut t = NamedTensors::new();
    t.insert(MEL.into(), HostTensor::f32(vec![mel.frames, mel.n_mels], mel.data));
    write_safetensors(out, &t)?;
    println!(
        "{}: {} samples at {} Hz -> mel [{}, {}] -> {}",
        input.display(),
        x.len(),
        cfg.sample_rate,
        mel.frames,
        mel.n_mels,
        out.display()
    );
    Ok(())
}

pub fn vocode(mel_path: &Path, vocoder: &VocoderChoice, iterations: usize, out: &Path, rt: &RuntimeArgs) -> Result<()> {
    let cfg = AudioConfig::default();
    let t = read_safetensors(mel_path)?;
    let m = t.get(MEL).with_context(|| format!("{}: no tensor `{MEL}`", mel_path.display()))?;
    let data = m.as_f32().with_context(|| format!("{}: `{MEL}` must be f32", mel_path.display()))?;
    if m.shape.len() != 2 || m.shape[1] != cfg.n_mels || m.shape[0] == 0 {
        bail!("{}: `{MEL}` has shape {:?}; expected [frames, {}]", mel_path.display(), m.shape, cfg.n_mels);
    }
    let mel = Mel { frames: m.shape[0], n_mels: m.shape[1], data: data.to_vec() };
    let audio = match vocoder {
        VocoderChoice::GriffinLim => {
            let mut gl = GriffinLim::new(&cfg)?;
            gl.iterations = iterations;
            gl.vocode(&mel)?
        }
        VocoderChoice::Vocos(_) => {
            let opts = OrtOptions { trt_cache: None, ..rt.options(Path::new("."))? };
            Vocoder::open(vocoder, &cfg, &opts)?.vocode(&mel)?
        }
    };
    wav::write(out, cfg.sample_rate, &audio, WavFormat::Pcm16)?;
    println!(
        "{}: mel [{}, {}] -> {} samples ({vocoder}) -> {}",
        mel_path.display(),
        mel.frames,
        mel.n_mels,
        audio.len(),
        out.display()
    );
    Ok(())
}

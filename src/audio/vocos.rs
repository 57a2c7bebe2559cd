//! The Vocos vocoder (`charactr/vocos-mel-24khz` layout): ConvNeXt backbone as an ONNX graph built with the model
//! core's builder ([`crate::model::onnx::Onnx`], upstream state-dict key paths via [`P::pp`], weights through
//! [`ParamSource`]), run by ONNX Runtime; the ISTFT head's inverse STFT (`padding="same"`) in Rust (f64).
//!
//! Sizes are read off the weights (`backbone.embed.weight` [D, M, 7], `backbone.convnext.N.*`,
//! `backbone.convnext.0.pwconv1.weight` [I, D], `head.out.weight` [n_fft + 2, D]); hop and sample rate are the
//! model's [`AudioConfig`] (one source of truth), and the mel width and `n_fft` must agree with it.
//! Weights: `DIR/vocos.safetensors` (from `scripts/vocos_convert.py` of the published `pytorch_model.bin`, keys
//! unchanged). Symbols in shape comments: `B` rows, `T` mel frames, `M` mel bins, `D` width, `I` intermediate
//! width, `K = n_fft / 2 + 1` frequency bins.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use onnx_protobuf::ModelProto;
use safetensors::SafeTensors;

use super::mel::Mel;
use super::stft::{Stft, C64};
use super::AudioError;
use crate::model::config::AudioConfig;
use crate::model::graph::{GraphBuilder, P};
use crate::model::io::{Dim, Elem, TensorDesc};
use crate::model::onnx;
use crate::model::weights::{to_f32, ParamSource, Weights};
use crate::model::ModelError;
use crate::runtime::{Backend, HostTensor, NamedTensors, OrtBackend, OrtOptions};

/// Vocos constants (upstream modules, not config).
const KERNEL: usize = 7;
const NORM_EPS: f32 = 1e-6;
/// `torch.clip(exp(mag), max=1e2)` in `ISTFTHead`.
const MAG_MAX: f32 = 100.0;
/// Weights file inside a Vocos directory.
pub const WEIGHTS_FILE: &str = "vocos.safetensors";

/// Graph input: log-mel `[B, T, M]`.
pub const MEL: &str = "mel";
/// Graph outputs: real and imaginary STFT parts `[B, T, K]`.
pub const SPEC_RE: &str = "spec_re";
pub const SPEC_IM: &str = "spec_im";

/// Backbone/head sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VocosConfig {
    pub input_channels: usize,
    pub dim: usize,
    pub intermediate_dim: usize,
    pub num_layers: usize,
    pub n_fft: usize,
    pub hop_length: usize,
}

impl VocosConfig {
    /// `charactr/vocos-mel-24khz`.
    pub fn mel_24khz(audio: &AudioConfig) -> Self {
        Self {
            input_channels: audio.n_mels,
            dim: 512,
            intermediate_dim: 1536,
            num_layers: 8,
            n_fft: audio.n_fft,
            hop_length: audio.hop_length,
        }
    }

    /// Read the sizes off a state dict's shapes, checked against the audio settings.
    pub fn infer(path: &Path, shapes: &HashMap<String, Vec<usize>>, audio: &AudioConfig) -> Result<Self, AudioError> {
        let bad = |msg: String| AudioError::Vocoder(format!("{}: {msg}", path.display()));
        let shape = |k: &str| shapes.get(k).ok_or_else(|| bad(format!("missing tensor `{k}`; not a Vocos state dict")));
        let embed = shape("backbone.embed.weight")?;
        let pw1 = shape("backbone.convnext.0.pwconv1.weight")?;
        let head = shape("head.out.weight")?;
        if embed.len() != 3 || pw1.len() != 2 || head.len() != 2 {
            return Err(bad("unexpected ranks of backbone.embed / pwconv1 / head.out weights".into()));
        }
        let num_layers =
            (0..).take_while(|i| shapes.contains_key(&format!("backbone.convnext.{i}.dwconv.weight"))).count();
        let cfg = Self {
            input_channels: embed[1],
            dim: embed[0],
            intermediate_dim: pw1[0],
            num_layers,
            n_fft: head[0].saturating_sub(2),
            hop_length: audio.hop_length,
        };
        if cfg.input_channels != audio.n_mels {
            return Err(bad(format!("expects {} mel bins, the audio config has {}", cfg.input_channels, audio.n_mels)));
        }
        if cfg.n_fft != audio.n_fft {
            return Err(bad(format!("head has n_fft {}, the audio config has {}", cfg.n_fft, audio.n_fft)));
        }
        Ok(cfg)
    }
}

/// The ONNX graph of `Vocos.decode` up to the complex spectrum: `mel` [B, T, M] -> `spec_re`, `spec_im` [B, T, K].
pub fn build(cfg: &VocosConfig, src: &mut dyn ParamSource) -> Result<ModelProto, ModelError> {
    let mut g = GraphBuilder::new(src);
    let (m, d, i) = (cfg.input_channels, cfg.dim, cfg.intermediate_dim);
    let k = cfg.n_fft / 2 + 1;
    let mel_desc = TensorDesc { name: MEL, elem: Elem::F32, dims: vec![Dim::Batch, Dim::Mel, Dim::Fixed(m)] };
    let mel = g.o.input(&mel_desc); // [B, T, M]

    // VocosBackbone.
    let bb = P::root().pp("backbone");
    let x = g.o.transpose(&mel, &[0, 2, 1]); // [B, M, T]
    let x = g.conv1d(&bb.pp("embed"), &x, (m, d), KERNEL, 1)?; // [B, D, T]
    let x = g.o.transpose(&x, &[0, 2, 1]); // [B, T, D]
    let mut x = g.layer_norm(&bb.pp("norm"), &x, d, NORM_EPS)?; // [B, T, D]
    for l in 0..cfg.num_layers {
        let p = bb.pp("convnext").pp(l);
        let h = g.o.transpose(&x, &[0, 2, 1]); // [B, D, T]
        let h = g.conv1d(&p.pp("dwconv"), &h, (d, d), KERNEL, d)?; // [B, D, T] depthwise
        let h = g.o.transpose(&h, &[0, 2, 1]); // [B, T, D]
        let h = g.layer_norm(&p.pp("norm"), &h, d, NORM_EPS)?; // [B, T, D]
        let h = g.linear(&p.pp("pwconv1"), &h, d, i, true)?; // [B, T, I]
        let h = g.o.gelu_erf(&h); // [B, T, I]
        let h = g.linear(&p.pp("pwconv2"), &h, i, d, true)?; // [B, T, D]
        let gamma = g.param(&p, "gamma", &[d])?; // [D]
        let h = g.o.mul(&h, &gamma); // [B, T, D]
        x = g.o.add(&x, &h); // [B, T, D]
    }
    let x = g.layer_norm(&bb.pp("final_layer_norm"), &x, d, NORM_EPS)?; // [B, T, D]

    // ISTFTHead up to the complex spectrum.
    let y = g.linear(&P::root().pp("head").pp("out"), &x, d, cfg.n_fft + 2, true)?; // [B, T, 2K]
    let parts = g.o.split_equal(&y, 2, 2, k); // 2 x [B, T, K]
    let mag = g.o.unary("Exp", &parts[0]); // [B, T, K]
    let max = g.o.scalar(MAG_MAX);
    let mag = g.o.op("Min", &[&mag, &max], vec![]); // [B, T, K]
    let cos = g.o.unary("Cos", &parts[1]); // [B, T, K]
    let sin = g.o.unary("Sin", &parts[1]); // [B, T, K]
    let re = g.o.mul(&mag, &cos); // [B, T, K]
    let im = g.o.mul(&mag, &sin); // [B, T, K]
    let out_dims = vec![Dim::Batch, Dim::Mel, Dim::Fixed(k)];
    g.o.output(&re, &TensorDesc { name: SPEC_RE, elem: Elem::F32, dims: out_dims.clone() });
    g.o.output(&im, &TensorDesc { name: SPEC_IM, elem: Elem::F32, dims: out_dims });
    Ok(g.o.into_model("Vocos backbone + ISTFT head spectrum (jamflow)"))
}

/// A loaded Vocos vocoder.
pub struct Vocos {
    pub config: VocosConfig,
    backend: OrtBackend,
    stft: Stft,
}

fn model_err(e: ModelError) -> AudioError {
    AudioError::Vocoder(e.to_string())
}

impl Vocos {
    /// Load `dir/vocos.safetensors` (or a `.safetensors` file given directly).
    pub fn load(path: &Path, audio: &AudioConfig, opts: &OrtOptions) -> Result<Self, AudioError> {
        let file: PathBuf = if path.is_dir() { path.join(WEIGHTS_FILE) } else { path.to_path_buf() };
        let bytes = std::fs::read(&file).map_err(|e| AudioError::Io { path: file.clone(), source: e })?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| AudioError::Vocoder(format!("{}: not a readable safetensors file: {e}", file.display())))?;
        let mut map = HashMap::new();
        for (name, view) in st.tensors() {
            let data = to_f32(view.dtype(), view.data())
                .map_err(|m| AudioError::Vocoder(format!("{}: tensor `{name}`: {m}", file.display())))?;
            map.insert(name, (view.shape().to_vec(), data));
        }
        let shapes = map.iter().map(|(k, (s, _))| (k.clone(), s.clone())).collect();
        let config = VocosConfig::infer(&file, &shapes, audio)?;
        let mut rec = crate::model::weights::SpecRecorder::default();
        build(&config, &mut rec).map_err(model_err)?;
        let mut weights = Weights::from_map(&file, map, &rec.specs).map_err(model_err)?;
        let model = build(&config, &mut weights).map_err(model_err)?;
        let bytes = onnx::to_bytes(&model).map_err(model_err)?;
        let backend = OrtBackend::from_bytes(&bytes, opts).map_err(|e| AudioError::Vocoder(e.to_string()))?;
        let stft = Stft::new(config.n_fft, config.n_fft, config.hop_length)?;
        Ok(Self { config, backend, stft })
    }

    /// Audio (`frames * hop` samples) of a log-mel spectrogram `[T, M]`.
    pub fn vocode(&mut self, mel: &Mel) -> Result<Vec<f32>, AudioError> {
        let (m, k) = (self.config.input_channels, self.config.n_fft / 2 + 1);
        if mel.n_mels != m || mel.frames == 0 {
            return Err(AudioError::Vocoder(format!(
                "expected a mel spectrogram [frames > 0, {m}], got [{}, {}]",
                mel.frames, mel.n_mels
            )));
        }
        let mut inputs = NamedTensors::new();
        inputs.insert(MEL.into(), HostTensor::f32(vec![1, mel.frames, m], mel.data.clone()));
        let out = self.backend.run(&inputs).map_err(|e| AudioError::Vocoder(e.to_string()))?;
        let get = |n: &str| {
            out.get(n)
                .and_then(|t| t.as_f32())
                .ok_or_else(|| AudioError::Vocoder(format!("graph output `{n}` missing")))
        };
        let (re, im) = (get(SPEC_RE)?, get(SPEC_IM)?);
        let spec: Vec<Vec<C64>> = (0..mel.frames)
            .map(|t| (0..k).map(|f| C64::new(re[t * k + f] as f64, im[t * k + f] as f64)).collect())
            .collect();
        let y = self.stft.inverse_same(&spec, self.config.n_fft)?;
        Ok(y.into_iter().map(|v| v as f32).collect())
    }
}

/// The parameter list of a config (key and shape), from the same definition that builds the graph.
pub fn param_spec(cfg: &VocosConfig) -> Result<BTreeMap<String, Vec<usize>>, ModelError> {
    let mut rec = crate::model::weights::SpecRecorder::default();
    build(cfg, &mut rec)?;
    Ok(rec.specs.into_iter().map(|s| (s.key, s.shape)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_uses_upstream_keys() {
        let cfg = VocosConfig::mel_24khz(&AudioConfig::default());
        let spec = param_spec(&cfg).unwrap();
        assert_eq!(spec["backbone.embed.weight"], vec![512, 100, 7]);
        assert_eq!(spec["backbone.convnext.7.dwconv.weight"], vec![512, 1, 7]);
        assert_eq!(spec["backbone.convnext.0.pwconv1.weight"], vec![1536, 512]);
        assert_eq!(spec["backbone.convnext.3.gamma"], vec![512]);
        assert_eq!(spec["head.out.weight"], vec![1026, 512]);
        assert!(spec.contains_key("backbone.final_layer_norm.bias"));
        assert_eq!(spec.len(), 4 + 8 * 9 + 2 + 2);
    }
}

//! `jamflow import f5tts`: an upstream F5-TTS checkpoint as published -> a jamflow package.
//!
//! Upstream keys are `ema_model.transformer.<DiT key>`; EMA bookkeeping (`initted`, `step`) and other
//! non-transformer entries are ignored. Sizes are read off the tensors; what the tensors cannot tell
//! (head split, text padding mask, RoPE heads) comes from the chosen upstream preset.

use std::collections::BTreeMap;
use std::path::PathBuf;

use safetensors::SafeTensors;

use super::config::{DitConfig, ModelConfig, SamplerDefaults, TextConfig, FORMAT};
use super::package::{Package, CONFIG_FILE, WEIGHTS_FILE};
use super::vocab::Vocab;
use super::ModelError;

/// Key prefix of the EMA transformer in upstream checkpoints.
pub const F5_PREFIX: &str = "ema_model.transformer.";

/// Upstream model families whose hidden switches differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum F5Preset {
    /// F5TTS_v1_Base (and v1 Small): text padding masked, RoPE on all heads.
    V1,
    /// The original F5TTS_Base: no text padding mask, RoPE on the first head only.
    V0,
}

/// Import options.
pub struct F5Import {
    pub checkpoint: PathBuf,
    pub vocab: PathBuf,
    pub out: PathBuf,
    pub preset: F5Preset,
    /// Width of one attention head (F5: 64); heads = attention width / dim_head.
    pub dim_head: usize,
}

/// Map a checkpoint key to a DiT key ("" = ignore).
fn dit_key(k: &str) -> String {
    if let Some(rest) = k.strip_prefix(F5_PREFIX) {
        return rest.to_string();
    }
    if k.starts_with("ema_model.") || k == "initted" || k == "step" || k.starts_with("model.") {
        return String::new();
    }
    // A bare DiT state dict is accepted as well.
    k.to_string()
}

/// Write a package from an upstream checkpoint; returns the loaded (checked) package.
pub fn import_f5tts(opts: &F5Import) -> Result<Package, ModelError> {
    let path = &opts.checkpoint;
    let bytes = std::fs::read(path).map_err(|e| ModelError::Io { path: path.clone(), source: e })?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| ModelError::Safetensors { path: path.clone(), msg: e.to_string() })?;
    let mut keep: BTreeMap<String, String> = BTreeMap::new(); // dit key -> file key
    let mut ignored = Vec::new();
    for name in st.names() {
        let k = dit_key(name);
        if k.is_empty() {
            ignored.push(name.to_string());
        } else {
            keep.insert(k, name.to_string());
        }
    }
    if !ignored.is_empty() {
        ignored.sort();
        tracing::info!(
            "{}: ignoring {} non-transformer entries: {}",
            path.display(),
            ignored.len(),
            ignored.join(", ")
        );
    }
    let shape = |k: &str| -> Result<Vec<usize>, ModelError> {
        let file_key = keep
            .get(k)
            .ok_or_else(|| ModelError::Missing { path: path.clone(), names: vec![format!("{F5_PREFIX}{k}")] })?;
        Ok(st
            .tensor(file_key)
            .map_err(|e| ModelError::Tensor { path: path.clone(), tensor: file_key.clone(), msg: e.to_string() })?
            .shape()
            .to_vec())
    };
    let count = |prefix: &str| -> usize {
        (0..).take_while(|i| keep.keys().any(|k| k.starts_with(&format!("{prefix}.{i}.")))).count()
    };
    let dim = shape("time_embed.time_mlp.0.weight")?[0];
    let emb = shape("text_embed.text_embed.weight")?;
    let inner = shape("transformer_blocks.0.attn.to_q.weight")?[0];
    let ff = shape("transformer_blocks.0.ff.ff.0.0.weight")?[0];
    let mel = shape("proj_out.weight")?[0];
    if opts.dim_head == 0 || inner % opts.dim_head != 0 {
        return Err(ModelError::Config {
            file: None,
            field: "--dim-head".into(),
            msg: format!("{} does not divide the attention width {inner}", opts.dim_head),
        });
    }
    let vocab = Vocab::load(&opts.vocab)?;
    if vocab.len() + 1 != emb[0] {
        return Err(ModelError::Vocab {
            path: opts.vocab.clone(),
            msg: format!(
                "has {} entries, but {} `{F5_PREFIX}text_embed.text_embed.weight` has {} rows (expected entries + 1)",
                vocab.len(),
                path.display(),
                emb[0]
            ),
        });
    }
    let v1 = opts.preset == F5Preset::V1;
    let config = ModelConfig {
        format: FORMAT.into(),
        name: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        audio: super::config::AudioConfig { n_mels: mel, ..Default::default() },
        text: Some(TextConfig {
            vocab_size: vocab.len(),
            vocab_file: "vocab.txt".into(),
            dim: emb[1],
            conv_layers: count("text_embed.text_blocks"),
            conv_mult: 2,
            mask_padding: v1,
            max_len: 4096,
            // F5 checkpoints are character models: filler, and their parity (DESIGN §7).
            alignment: super::alignment::TextAlignment::Filler,
        }),
        audio_dit: DitConfig {
            dim,
            depth: count("transformer_blocks"),
            heads: inner / opts.dim_head,
            dim_head: opts.dim_head,
            ff_mult: ff / dim,
            qk_norm: keep
                .contains_key("transformer_blocks.0.attn.q_norm.weight")
                .then_some(super::config::QkNorm::RmsNorm),
            pe_attn_head: if v1 { None } else { Some(1) },
            attn_mask_enabled: false,
            long_skip_connection: keep.contains_key("long_skip_connection.weight"),
            conv_pos_kernel: shape("input_embed.conv_pos_embed.conv1d.0.weight")?[2],
            conv_pos_groups: dim / shape("input_embed.conv_pos_embed.conv1d.0.weight")?[1],
        },
        motion: None,
        joint: None,
        sampler: SamplerDefaults::default(),
    };
    config.validate()?;
    std::fs::create_dir_all(&opts.out).map_err(|e| ModelError::Io { path: opts.out.clone(), source: e })?;
    // Weights: keys renamed, dtypes kept (f32/f16/bf16 are all accepted).
    let views: Vec<(String, safetensors::tensor::TensorView)> = keep
        .iter()
        .map(|(k, file_key)| st.tensor(file_key).map(|v| (k.clone(), v)))
        .collect::<Result<_, _>>()
        .map_err(|e| ModelError::Safetensors { path: path.clone(), msg: e.to_string() })?;
    let wpath = opts.out.join(WEIGHTS_FILE);
    safetensors::serialize_to_file(views, None, &wpath)
        .map_err(|e| ModelError::Safetensors { path: wpath.clone(), msg: e.to_string() })?;
    let vpath = opts.out.join("vocab.txt");
    std::fs::copy(&opts.vocab, &vpath).map_err(|e| ModelError::Io { path: vpath, source: e })?;
    config.save(&opts.out.join(CONFIG_FILE))?;
    Package::load(&opts.out)
}

//! Random-weight packages (for tests, benchmarks and the demo before a trained model exists).
//!
//! Every tensor the config needs is drawn from seeded normal noise, scaled so activations stay O(1):
//! matrices `N(0, 1/fan_in)`, vectors `0.1 N(0, 1)` (norm weights `1 + 0.1 N`). Nothing is zero, unlike
//! the upstream init, so a wrong wire shows up in a parity check.

use std::collections::BTreeMap;
use std::path::Path;

use super::alignment::TextAlignment;
use super::config::{AudioConfig, DitConfig, JointConfig, ModelConfig, MotionConfig, MotionLayout, TextConfig, FORMAT};
use super::graph;
use super::package::{CONFIG_FILE, WEIGHTS_FILE};
use super::weights::save_f32;
use super::ModelError;
use crate::rng::Noise;

/// Built-in random-package shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// A small MM-DiT (mouth4-2d layout): fast on CPU.
    SmallMmdit,
    /// A small MM-DiT with the LivePortrait layout (rest conditioning) and the known-mask channel.
    SmallLiveportrait,
    /// A small pure F5-TTS model.
    SmallF5,
    /// F5TTS_v1_Base widths at depth 2.
    F5BaseDepth2,
}

fn dit(dim: usize, depth: usize, heads: usize, dim_head: usize) -> DitConfig {
    DitConfig {
        dim,
        depth,
        heads,
        dim_head,
        ff_mult: 2,
        qk_norm: None,
        pe_attn_head: None,
        attn_mask_enabled: false,
        long_skip_connection: false,
        conv_pos_kernel: 31,
        conv_pos_groups: 16,
    }
}

fn text(vocab_size: usize, dim: usize, conv_layers: usize) -> TextConfig {
    TextConfig {
        vocab_size,
        vocab_file: "vocab.txt".into(),
        dim,
        conv_layers,
        conv_mult: 2,
        mask_padding: true,
        max_len: 4096,
        alignment: Default::default(),
    }
}

impl Preset {
    pub fn config(self) -> ModelConfig {
        let base = |name: &str, text: TextConfig, audio_dit: DitConfig, motion: Option<MotionConfig>| ModelConfig {
            format: FORMAT.into(),
            name: name.into(),
            audio: AudioConfig::default(),
            text: Some(text),
            audio_dit,
            joint: motion.as_ref().map(|_| JointConfig { layers: None, window_s: 0.5 }),
            motion,
            sampler: Default::default(),
        };
        let motion = |layout: MotionLayout, known: bool| MotionConfig {
            layout,
            fps: 25.0,
            dit: dit(32, 4, 4, 16),
            known_mask_channel: known,
            normalization: None,
        };
        match self {
            Preset::SmallMmdit => base(
                "random-small-mmdit",
                text(40, 32, 2),
                dit(64, 4, 4, 16),
                Some(motion(MotionLayout::Mouth4_2d, true)),
            ),
            Preset::SmallLiveportrait => base(
                "random-small-liveportrait",
                text(40, 32, 2),
                dit(64, 4, 4, 16),
                Some(motion(MotionLayout::LiveportraitMouth4 { keypoints: [6, 14, 17, 19] }, true)),
            ),
            Preset::SmallF5 => base("random-small-f5", text(40, 32, 2), dit(64, 3, 4, 16), None),
            Preset::F5BaseDepth2 => base("random-f5-base-depth2", text(2545, 512, 4), dit(1024, 2, 16, 64), None),
        }
    }
}

/// Write a package with random weights for `cfg` into `dir` (created if needed).
pub fn write_random_package(cfg: &ModelConfig, seed: u64, dir: &Path) -> Result<(), ModelError> {
    write_random_package_with_vocab(cfg, seed, dir, None)
}

/// [`write_random_package`] with the vocabulary's entries given (`text.vocab_size` of them; a `durations`
/// package needs its phoneme names, the pause among them); `None`: one character per line.
pub fn write_random_package_with_vocab(
    cfg: &ModelConfig,
    seed: u64,
    dir: &Path,
    vocab: Option<&[&str]>,
) -> Result<(), ModelError> {
    cfg.validate()?;
    let vocab_entries = vocab;
    if let (Some(tc), Some(v)) = (&cfg.text, vocab) {
        if v.len() != tc.vocab_size {
            return Err(ModelError::Config {
                file: None,
                field: "text.vocab_size".into(),
                msg: format!("is {}, but {} vocabulary entries were given", tc.vocab_size, v.len()),
            });
        }
    }
    if cfg.text.as_ref().is_some_and(|t| t.alignment == TextAlignment::Durations) && vocab.is_none() {
        return Err(ModelError::Config {
            file: None,
            field: "text.alignment".into(),
            msg: "a random \"durations\" package needs its phoneme vocabulary".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| ModelError::Io { path: dir.to_path_buf(), source: e })?;
    let mut noise = Noise::new(seed);
    let mut tensors = BTreeMap::new();
    for s in graph::param_spec(cfg)? {
        let n: usize = s.shape.iter().product();
        let leaf = s.key.rsplit('.').next().unwrap_or("");
        let data: Vec<f32> = if s.shape.len() >= 2 && !s.key.ends_with("grn.gamma") && !s.key.ends_with("grn.beta") {
            let fan_in: usize = s.shape[1..].iter().product();
            let std = if s.key.ends_with("text_embed.text_embed.weight") { 0.5 } else { 1.0 / (fan_in as f32).sqrt() };
            noise.vec(n).into_iter().map(|v| v * std).collect()
        } else if leaf == "weight" {
            noise.vec(n).into_iter().map(|v| 1.0 + 0.1 * v).collect()
        } else {
            noise.vec(n).into_iter().map(|v| 0.1 * v).collect()
        };
        tensors.insert(s.key, (s.shape, data));
    }
    save_f32(&dir.join(WEIGHTS_FILE), &tensors)?;
    if let Some(tc) = &cfg.text {
        let mut vocab = String::new();
        if let Some(v) = vocab_entries {
            for e in v {
                vocab.push_str(e);
                vocab.push('\n');
            }
        } else {
            // One distinct character per line; line 0 is a space, as in F5's vocab.
            vocab.push_str(" \n");
            let chars =
                "abcdefghijklmnopqrstuvwxyz.,!?'-:;\"()0123456789".chars().chain(('\u{00C0}'..).take(tc.vocab_size));
            for c in chars.take(tc.vocab_size - 1) {
                vocab.push(c);
                vocab.push('\n');
            }
        }
        let p = dir.join(&tc.vocab_file);
        std::fs::write(&p, vocab).map_err(|e| ModelError::Io { path: p, source: e })?;
    }
    cfg.save(&dir.join(CONFIG_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Package;

    #[test]
    fn random_packages_load_and_are_reproducible() {
        let d = tempfile::tempdir().unwrap();
        for p in [Preset::SmallMmdit, Preset::SmallLiveportrait, Preset::SmallF5] {
            let (a, b) = (d.path().join(format!("{p:?}a")), d.path().join(format!("{p:?}b")));
            write_random_package(&p.config(), 5, &a).unwrap();
            write_random_package(&p.config(), 5, &b).unwrap();
            let pa = Package::load(&a).unwrap();
            assert_eq!(std::fs::read(a.join(WEIGHTS_FILE)).unwrap(), std::fs::read(b.join(WEIGHTS_FILE)).unwrap());
            assert_eq!(pa.vocab.as_ref().unwrap().len(), 40);
            assert!(pa.weights.extra.is_empty());
        }
    }

    #[test]
    fn durations_package_needs_and_keeps_its_phoneme_vocab() {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = Preset::SmallMmdit.config();
        let tc = cfg.text.as_mut().unwrap();
        tc.alignment = TextAlignment::Durations;
        tc.vocab_size = 3;
        let e = write_random_package(&cfg, 1, d.path()).unwrap_err().to_string();
        assert!(e.contains("text.alignment"), "{e}");
        write_random_package_with_vocab(&cfg, 1, d.path(), Some(&["_", "a", "aI"])).unwrap();
        let p = Package::load(d.path()).unwrap();
        assert_eq!(p.config.text.as_ref().unwrap().alignment, TextAlignment::Durations);
        assert_eq!(p.vocab.as_ref().unwrap().id("aI"), Some(2));
        // Without the pause a durations package does not load.
        std::fs::write(d.path().join("vocab.txt"), "x\na\naI\n").unwrap();
        let e = Package::load(d.path()).err().expect("no pause: an error").to_string();
        assert!(e.contains("\"_\"") && e.contains("durations"), "{e}");
    }
}

//! The JAM-Flow MM-DiT as an ONNX graph, built from config + weights (no PyTorch).
//!
//! Parameter key paths mirror the upstream state dict (F5-TTS `DiT` for the audio stream, the same paths
//! under `motion.` for the motion stream; see `docs/model.md`), the way candle's `VarBuilder::pp` does:
//! a weight file from PyTorch maps with no renaming table. Symbols in shape comments: `B` rows, `T` mel
//! frames, `Nt` text tokens, `F` motion frames, `L = T + F`, `D` a stream's width, `H` heads,
//! `Dh` head width, `M` mel bins, `K` motion values, `R` rest values, `Dt` text width.

use std::fmt::Display;

use onnx_protobuf::ModelProto;

use super::config::{DitConfig, ModelConfig, QkNorm, TextConfig};
use super::io::{self, Elem};
use super::onnx::Onnx;
use super::weights::{ParamSource, ParamSpec, SpecRecorder};
use super::ModelError;

/// F5's fixed constants (from the upstream modules, not from the config).
const TIME_FREQ_DIM: usize = 256; // TimestepEmbedding(freq_embed_dim=256)
const TIME_SCALE: f32 = 1000.0; // SinusPositionEmbedding(scale=1000)
const ROPE_THETA: f32 = 10_000.0; // RotaryEmbedding / precompute_freqs_cis base
const NORM_EPS: f32 = 1e-6; // every LayerNorm / RMSNorm in the DiT
const GRN_EPS: f32 = 1e-6;
const CONVNEXT_KERNEL: usize = 7;
/// Additive attention bias for a masked key (exp underflows to exactly 0 in f32).
const MASKED: f32 = -1e9;

/// A state-dict path prefix (`transformer_blocks.3.attn`).
#[derive(Clone, Debug)]
pub struct P(String);

impl P {
    pub fn root() -> Self {
        P(String::new())
    }
    /// Push one path component.
    pub fn pp(&self, s: impl Display) -> Self {
        if self.0.is_empty() {
            P(s.to_string())
        } else {
            P(format!("{}.{}", self.0, s))
        }
    }
    /// The full key of a leaf tensor.
    pub fn key(&self, leaf: &str) -> String {
        self.pp(leaf).0
    }
}

/// Graph under construction plus where the weights come from: the builder every network (the MM-DiT,
/// the Vocos vocoder) is written with.
pub struct GraphBuilder<'a> {
    pub o: Onnx,
    src: &'a mut dyn ParamSource,
}

/// Short name inside this file.
type G<'a> = GraphBuilder<'a>;

impl<'a> GraphBuilder<'a> {
    pub fn new(src: &'a mut dyn ParamSource) -> Self {
        Self { o: Onnx::new(), src }
    }

    /// A weight initializer named by its state-dict key.
    pub fn param(&mut self, p: &P, leaf: &str, shape: &[usize]) -> Result<String, ModelError> {
        let key = p.key(leaf);
        let data = self.src.fetch(&key, shape)?;
        Ok(self.o.initializer(&key, shape, data.as_deref().unwrap_or(&[])))
    }

    /// `nn.Linear(din, dout)` on the last axis: `x W^T + b`.
    pub fn linear(&mut self, p: &P, x: &str, din: usize, dout: usize, bias: bool) -> Result<String, ModelError> {
        let w = self.param(p, "weight", &[dout, din])?; // [dout, din]
        let wt = self.o.transpose(&w, &[1, 0]); // [din, dout]
        let y = self.o.matmul(x, &wt); // [..., dout]
        if !bias {
            return Ok(y);
        }
        let b = self.param(p, "bias", &[dout])?; // [dout]
        Ok(self.o.add(&y, &b))
    }

    /// `nn.Conv1d(cin, cout, k, groups, padding=k/2)` on `[B, Cin, N]` -> `[B, Cout, N]`.
    pub fn conv1d(
        &mut self,
        p: &P,
        x: &str,
        (cin, cout): (usize, usize),
        k: usize,
        groups: usize,
    ) -> Result<String, ModelError> {
        let w = self.param(p, "weight", &[cout, cin / groups, k])?; // [Cout, Cin/g, k]
        let b = self.param(p, "bias", &[cout])?; // [Cout]
        let pad = (k / 2) as i64;
        Ok(self.o.op(
            "Conv",
            &[x, &w, &b],
            vec![
                super::onnx::Attr::Ints("kernel_shape", vec![k as i64]),
                super::onnx::Attr::Ints("pads", vec![pad, pad]),
                super::onnx::Attr::Int("group", groups as i64),
            ],
        ))
    }

    /// `nn.LayerNorm(dim, eps)` with its learned weight and bias, on the last axis.
    pub fn layer_norm(&mut self, p: &P, x: &str, dim: usize, eps: f32) -> Result<String, ModelError> {
        let w = self.param(p, "weight", &[dim])?; // [dim]
        let b = self.param(p, "bias", &[dim])?; // [dim]
        Ok(self.o.layer_norm(x, dim, eps, Some((&w, &b))))
    }
}

/// The parameter list a config needs (key and shape of every tensor), from the same definition that
/// builds the graph.
pub fn param_spec(cfg: &ModelConfig) -> Result<Vec<ParamSpec>, ModelError> {
    let mut rec = SpecRecorder::default();
    build_with(cfg, &mut rec)?;
    Ok(rec.specs)
}

/// Build the ONNX model of one network evaluation.
pub fn build(cfg: &ModelConfig, src: &mut dyn ParamSource) -> Result<ModelProto, ModelError> {
    let o = build_with(cfg, src)?;
    let doc = format!("jamflow MM-DiT ({}), built from model.json + model.safetensors", cfg.name);
    Ok(o.into_model(&doc))
}

/// One stream while its layers are being built.
struct Stream<'c> {
    /// State-dict prefix: root for audio, `motion` for motion.
    p: P,
    dit: &'c DitConfig,
    x: String,     // [B, N, D]
    t: String,     // [B, D] time embedding
    mask: String,  // [B, N] bool, valid frames
    maskf: String, // [B, N, 1] f32
    cos: String,   // [N, Dh]
    sin: String,   // [N, Dh]
    /// `[B, 1, 1, N]` key-padding bias for self-attention layers (if the stream masks padded keys).
    self_bias: Option<String>,
}

/// What the first half of a block hands to attention and to the second half.
struct PreAttn {
    q: String,         // [B, H, N, Dh]
    k: String,         // [B, H, N, Dh]
    v: String,         // [B, H, N, Dh]
    gate_msa: String,  // [B, 1, D]
    shift_mlp: String, // [B, 1, D]
    scale_mlp: String, // [B, 1, D]
    gate_mlp: String,  // [B, 1, D]
}

fn build_with(cfg: &ModelConfig, src: &mut dyn ParamSource) -> Result<Onnx, ModelError> {
    let mut g = G::new(src);
    let m_bins = cfg.audio.n_mels;
    let ad = &cfg.audio_dit;

    // Inputs (names and shapes from model::io).
    let mut names = std::collections::HashMap::new();
    for d in io::inputs(cfg) {
        names.insert(d.name, g.o.input(&d));
    }
    let inp = |n: &str| names.get(n).cloned().expect("declared input");
    let noisy_mel = inp(io::NOISY_MEL); // [B, T, M]
    let cond_mel = inp(io::COND_MEL); // [B, T, M]
    let mel_mask = inp(io::MEL_MASK); // [B, T] bool
    let time = inp(io::TIME); // [B]
    let uncond = inp(io::UNCOND); // [B] bool

    // keep[b] = 0 for unconditional rows: drops audio and motion conditioning.
    let uncond3 = g.o.unsqueeze(&uncond, &[1, 2]); // [B, 1, 1]
    let (zero, one) = (g.o.scalar(0.0), g.o.scalar(1.0));
    let keep3 = g.o.where_(&uncond3, &zero, &one); // [B, 1, 1]

    let t_len = g.o.dim(&noisy_mel, 1); // [1] = T
    let mel_pos = g.o.arange_f32(&t_len); // [T]

    // --- Audio stream: F5-TTS DiT.get_input_embed -------------------------------------------------
    let root = P::root();
    let t_a = time_embed(&mut g, &root, &time, ad.dim)?; // [B, Da]
    let mel_maskf = mask_f32(&mut g, &mel_mask); // [B, T, 1]
    let cond_kept = g.o.mul(&cond_mel, &keep3); // [B, T, M]
    let mut embed_parts = vec![noisy_mel.clone(), cond_kept];
    let mut embed_in = 2 * m_bins;
    if let Some(tc) = &cfg.text {
        let text = inp(io::TEXT); // [B, Nt] i64
        let te = text_embed(&mut g, &root.pp("text_embed"), tc, &text, &mel_mask, &uncond, &t_len, &mel_pos)?; // [B, T, Dt]
        embed_parts.push(te);
        embed_in += tc.dim;
    }
    let parts: Vec<&str> = embed_parts.iter().map(|s| s.as_str()).collect();
    let x_in = g.o.concat(&parts, -1); // [B, T, 2M + Dt]
    let x_a = input_embed(&mut g, &root.pp("input_embed"), &x_in, embed_in, ad, &mel_maskf)?; // [B, T, Da]
    let (cos_a, sin_a) = rope_tables(&mut g, &mel_pos, ad.dim_head); // [T, Dh] x2
    let mut audio = Stream {
        p: root.clone(),
        dit: ad,
        x: x_a,
        t: t_a,
        mask: mel_mask.clone(),
        maskf: mel_maskf,
        cos: cos_a,
        sin: sin_a,
        self_bias: if ad.attn_mask_enabled { Some(key_bias(&mut g, &mel_mask)) } else { None },
    };

    // --- Motion stream ------------------------------------------------------------------------------
    let mut motion = None;
    let mut motion_pos = None;
    if let Some(mc) = &cfg.motion {
        let md = &mc.dit;
        let mp = root.pp("motion");
        let noisy = inp(io::NOISY_MOTION); // [B, F, K]
        let cond = inp(io::COND_MOTION); // [B, F, K]
        let mmask = inp(io::MOTION_MASK); // [B, F] bool
        let t_m = time_embed(&mut g, &mp, &time, md.dim)?; // [B, Dm]
        let cond_kept = g.o.mul(&cond, &keep3); // [B, F, K]
        let mut parts = vec![noisy.clone(), cond_kept];
        let k_dim = mc.layout.motion_dim();
        let mut din = 2 * k_dim;
        if mc.known_mask_channel {
            let known = inp(io::MOTION_KNOWN); // [B, F] bool
            let knownf = mask_f32(&mut g, &known); // [B, F, 1]
            parts.push(g.o.mul(&knownf, &keep3)); // [B, F, 1]
            din += 1;
        }
        if mc.layout.rest_dim() > 0 {
            parts.push(inp(io::REST)); // [B, F, R]
            din += mc.layout.rest_dim();
        }
        let parts: Vec<&str> = parts.iter().map(|s| s.as_str()).collect();
        let h_in = g.o.concat(&parts, -1); // [B, F, 2K (+1) (+R)]
        let mmaskf = mask_f32(&mut g, &mmask); // [B, F, 1]
        let x_m = input_embed(&mut g, &mp.pp("input_embed"), &h_in, din, md, &mmaskf)?; // [B, F, Dm]
        let f_len = g.o.dim(&noisy, 1); // [1] = F
        let frame = g.o.arange_f32(&f_len); // [F]
        let scale = g.o.scalar(cfg.motion_pos_scale().expect("motion") as f32);
        let pos = g.o.mul(&frame, &scale); // [F] motion frame j at mel position j * mel_rate / fps
        let (cos_m, sin_m) = rope_tables(&mut g, &pos, md.dim_head); // [F, Dh] x2
        motion_pos = Some((pos, f_len));
        motion = Some(Stream {
            p: mp,
            dit: md,
            x: x_m,
            t: t_m,
            mask: mmask.clone(),
            maskf: mmaskf,
            cos: cos_m,
            sin: sin_m,
            self_bias: if md.attn_mask_enabled { Some(key_bias(&mut g, &mmask)) } else { None },
        });
    }

    // Joint attention bias over [audio; motion], shared by all joint layers.
    let joint_layers = cfg.joint_layers();
    let joint = match (&motion, &motion_pos) {
        (Some(ms), Some((pos_m, f_len))) if !joint_layers.is_empty() => {
            let bias = joint_bias(&mut g, &mel_pos, pos_m, &audio.mask, &ms.mask, cfg.joint_window_frames() as f32);
            let sizes = g.o.concat(&[&t_len, f_len], 0); // [2] = (T, F)
            Some((bias, sizes))
        }
        _ => None,
    };

    let residual_a = audio.x.clone();
    let residual_m = motion.as_ref().map(|m| m.x.clone());
    for i in 0..ad.depth {
        match (&mut motion, &joint) {
            (Some(ms), Some((bias, sizes))) if joint_layers.contains(&i) => {
                joint_block(&mut g, i, &mut audio, ms, bias, sizes)?;
            }
            _ => {
                block(&mut g, i, &mut audio)?;
                if let Some(ms) = &mut motion {
                    block(&mut g, i, ms)?;
                }
            }
        }
    }

    let mel_v = stream_out(&mut g, &audio, &residual_a, m_bins)?; // [B, T, M]
    let outs = io::outputs(cfg);
    g.o.output(&mel_v, &outs[0]);
    if let (Some(ms), Some(mc), Some(res)) = (&motion, &cfg.motion, &residual_m) {
        let mot_v = stream_out(&mut g, ms, res, mc.layout.motion_dim())?; // [B, F, K]
        g.o.output(&mot_v, &outs[1]);
    }
    Ok(g.o)
}

/// `[B, N]` bool -> `[B, N, 1]` f32.
fn mask_f32(g: &mut G, mask: &str) -> String {
    let f = g.o.cast(mask, Elem::F32); // [B, N]
    g.o.unsqueeze(&f, &[2]) // [B, N, 1]
}

/// `[B, N]` bool -> `[B, 1, 1, N]` additive bias (0 valid, MASKED padding).
fn key_bias(g: &mut G, mask: &str) -> String {
    let (z, m) = (g.o.scalar(0.0), g.o.scalar(MASKED));
    let b = g.o.where_(mask, &z, &m); // [B, N]
    g.o.unsqueeze(&b, &[1, 2]) // [B, 1, 1, N]
}

/// F5 `TimestepEmbedding`: sinusoidal(256, scale 1000) -> Linear -> SiLU -> Linear.
fn time_embed(g: &mut G, root: &P, time: &str, dim: usize) -> Result<String, ModelError> {
    let p = root.pp("time_embed");
    let half = TIME_FREQ_DIM / 2;
    let step = -((10_000f64).ln() / (half as f64 - 1.0)) as f32;
    let freqs: Vec<f32> = (0..half).map(|i| (i as f32 * step).exp()).collect();
    let fr = g.o.const_f32(&[1, half], &freqs); // [1, 128]
    let s = g.o.scalar(TIME_SCALE);
    let ts = g.o.mul(time, &s); // [B]
    let ts = g.o.unsqueeze(&ts, &[1]); // [B, 1]
    let arg = g.o.mul(&ts, &fr); // [B, 128]
    let (sin, cos) = (g.o.unary("Sin", &arg), g.o.unary("Cos", &arg));
    let emb = g.o.concat(&[&sin, &cos], -1); // [B, 256]
    let mlp = p.pp("time_mlp");
    let h = g.linear(&mlp.pp(0), &emb, TIME_FREQ_DIM, dim, true)?; // [B, D]
    let h = g.o.silu(&h); // [B, D]
    g.linear(&mlp.pp(2), &h, dim, dim, true) // [B, D]
}

/// Sinusoidal RoPE tables `cos, sin` `[N, Dh]` (interleaved pairs, as x_transformers) at real positions.
fn rope_tables(g: &mut G, pos: &str, dim_head: usize) -> (String, String) {
    let inv: Vec<f32> = (0..dim_head).map(|i| 1.0 / ROPE_THETA.powf((2 * (i / 2)) as f32 / dim_head as f32)).collect(); // [f0, f0, f1, f1, ...]
    let inv = g.o.const_f32(&[1, dim_head], &inv); // [1, Dh]
    let p = g.o.unsqueeze(pos, &[1]); // [N, 1]
    let ang = g.o.mul(&p, &inv); // [N, Dh]
    (g.o.unary("Cos", &ang), g.o.unary("Sin", &ang))
}

/// x_transformers `apply_rotary_pos_emb` on `[B, H, N, Dh]` with tables `[N, Dh]`.
fn apply_rope(g: &mut G, x: &str, cos: &str, sin: &str, dim_head: usize) -> String {
    let pairs = g.o.reshape(x, &[0, 0, 0, (dim_head / 2) as i64, 2]); // [B, H, N, Dh/2, 2]
    let x1 = g.o.slice(&pairs, 4, 0, 1); // [B, H, N, Dh/2, 1]
    let x2 = g.o.slice(&pairs, 4, 1, 2); // [B, H, N, Dh/2, 1]
    let nx2 = g.o.unary("Neg", &x2);
    let rot = g.o.concat(&[&nx2, &x1], 4); // [B, H, N, Dh/2, 2]
    let rot = g.o.reshape(&rot, &[0, 0, 0, dim_head as i64]); // [B, H, N, Dh]
    let a = g.o.mul(x, cos); // [B, H, N, Dh]
    let b = g.o.mul(&rot, sin); // [B, H, N, Dh]
    g.o.add(&a, &b)
}

/// F5 `TextEmbedding.forward(text, seq_len=mel_mask.sum(1), drop_text=uncond)` -> `[B, T, Dt]`.
#[allow(clippy::too_many_arguments)]
fn text_embed(
    g: &mut G,
    p: &P,
    tc: &TextConfig,
    text: &str,
    mel_mask: &str,
    uncond: &str,
    t_len: &str,
    mel_pos: &str,
) -> Result<String, ModelError> {
    let dt = tc.dim;
    let one_i = g.o.scalar_i64(1);
    let ids = g.o.add(text, &one_i); // [B, Nt], -1 padding -> filler 0
                                     // Pad with filler / truncate to T.
    let b_dim = g.o.dim(text, 0); // [1]
    let pad_shape = g.o.concat(&[&b_dim, t_len], 0); // [2] = (B, T)
    let zeros = g.o.op("ConstantOfShape", &[&pad_shape], vec![]); // [B, T] f32 zeros
    let zeros = g.o.cast(&zeros, Elem::I64); // [B, T]
    let padded = g.o.concat(&[&ids, &zeros], 1); // [B, Nt + T]
    let start = g.o.const_i64(&[0]);
    let ids = g.o.slice_dyn(&padded, 1, &start, t_len); // [B, T]
                                                        // Valid positions: arange(T) < sum(mel_mask).
    let mask_i = g.o.cast(mel_mask, Elem::I64); // [B, T]
    let axes = g.o.const_i64(&[1]);
    let seq_len = g.o.op("ReduceSum", &[&mask_i, &axes], vec![super::onnx::Attr::Int("keepdims", 1)]); // [B, 1]
    let seq_len_f = g.o.cast(&seq_len, Elem::F32); // [B, 1]
    let pos_row = g.o.unsqueeze(mel_pos, &[0]); // [1, T]
    let valid = g.o.op("Less", &[&pos_row, &seq_len_f], vec![]); // [B, T] bool
    let zero_i = g.o.scalar_i64(0);
    let ids = g.o.where_(&valid, &ids, &zero_i); // [B, T]
    let filler = g.o.op("Equal", &[&ids, &zero_i], vec![]); // [B, T] bool (text_mask)
    let unc = g.o.unsqueeze(uncond, &[1]); // [B, 1]
    let ids = g.o.where_(&unc, &zero_i, &ids); // [B, T] drop_text rows -> filler
    let table = g.param(&p.pp("text_embed"), "weight", &[tc.vocab_size + 1, dt])?; // [V+1, Dt]
    let emb = g.o.op("Gather", &[&table, &ids], vec![super::onnx::Attr::Int("axis", 0)]); // [B, T, Dt]
    let validf = mask_f32(g, &valid); // [B, T, 1]
    let mut x = g.o.mul(&emb, &validf); // [B, T, Dt]
    if tc.conv_layers == 0 {
        return Ok(x);
    }
    // Sinusoidal positions (precompute_freqs_cis: cat(cos, sin)), only within each row's valid range.
    let half = dt / 2;
    let inv: Vec<f32> = (0..half).map(|i| 1.0 / ROPE_THETA.powf((2 * i) as f32 / dt as f32)).collect();
    let inv = g.o.const_f32(&[1, half], &inv); // [1, Dt/2]
    let pcol = g.o.unsqueeze(mel_pos, &[1]); // [T, 1]
    let ang = g.o.mul(&pcol, &inv); // [T, Dt/2]
    let (c, s) = (g.o.unary("Cos", &ang), g.o.unary("Sin", &ang));
    let freqs = g.o.concat(&[&c, &s], -1); // [T, Dt]
    let freqs = g.o.mul(&freqs, &validf); // [B, T, Dt]
    x = g.o.add(&x, &freqs); // [B, T, Dt]
    let (zero, one) = (g.o.scalar(0.0), g.o.scalar(1.0));
    let keep = if tc.mask_padding {
        let k = g.o.where_(&filler, &zero, &one); // [B, T]
        Some(g.o.unsqueeze(&k, &[2])) // [B, T, 1]
    } else {
        None
    };
    if let Some(k) = &keep {
        x = g.o.mul(&x, k);
    }
    for i in 0..tc.conv_layers {
        x = convnext_block(g, &p.pp("text_blocks").pp(i), &x, dt, dt * tc.conv_mult)?; // [B, T, Dt]
        if let Some(k) = &keep {
            x = g.o.mul(&x, k);
        }
    }
    Ok(x)
}

/// ConvNeXt-V2 block on `[B, N, C]`: depthwise conv k7 -> LayerNorm -> Linear -> GELU -> GRN -> Linear, residual.
fn convnext_block(g: &mut G, p: &P, x: &str, c: usize, inter: usize) -> Result<String, ModelError> {
    let xt = g.o.transpose(x, &[0, 2, 1]); // [B, C, N]
    let h = g.conv1d(&p.pp("dwconv"), &xt, (c, c), CONVNEXT_KERNEL, c)?; // [B, C, N]
    let h = g.o.transpose(&h, &[0, 2, 1]); // [B, N, C]
    let h = g.layer_norm(&p.pp("norm"), &h, c, NORM_EPS)?; // [B, N, C]
    let h = g.linear(&p.pp("pwconv1"), &h, c, inter, true)?; // [B, N, I]
    let h = g.o.gelu_erf(&h); // [B, N, I]
                              // GRN: gamma * (x * Nx) + beta + x, Nx = ||x||_time / mean_channels(||x||_time)
    let gamma = g.param(&p.pp("grn"), "gamma", &[1, 1, inter])?; // [1, 1, I]
    let beta = g.param(&p.pp("grn"), "beta", &[1, 1, inter])?; // [1, 1, I]
    let gx = g.o.op(
        "ReduceL2",
        &[&h],
        vec![super::onnx::Attr::Ints("axes", vec![1]), super::onnx::Attr::Int("keepdims", 1)],
    ); // [B, 1, I]
    let gm = g.o.op(
        "ReduceMean",
        &[&gx],
        vec![super::onnx::Attr::Ints("axes", vec![-1]), super::onnx::Attr::Int("keepdims", 1)],
    ); // [B, 1, 1]
    let eps = g.o.scalar(GRN_EPS);
    let gm = g.o.add(&gm, &eps);
    let nx = g.o.div(&gx, &gm); // [B, 1, I]
    let xn = g.o.mul(&h, &nx); // [B, N, I]
    let gxn = g.o.mul(&gamma, &xn);
    let gxb = g.o.add(&gxn, &beta);
    let h = g.o.add(&gxb, &h); // [B, N, I]
    let h = g.linear(&p.pp("pwconv2"), &h, inter, c, true)?; // [B, N, C]
    Ok(g.o.add(x, &h))
}

/// F5 `InputEmbedding` body: `proj(concat) + ConvPositionEmbedding(proj(concat), mask)`.
fn input_embed(g: &mut G, p: &P, x_in: &str, din: usize, d: &DitConfig, maskf: &str) -> Result<String, ModelError> {
    let h = g.linear(&p.pp("proj"), x_in, din, d.dim, true)?; // [B, N, D]
    let cp = p.pp("conv_pos_embed").pp("conv1d");
    let mt = g.o.transpose(maskf, &[0, 2, 1]); // [B, 1, N]
    let xt = g.o.transpose(&h, &[0, 2, 1]); // [B, D, N]
    let xt = g.o.mul(&xt, &mt); // [B, D, N]
    let c0 = g.conv1d(&cp.pp(0), &xt, (d.dim, d.dim), d.conv_pos_kernel, d.conv_pos_groups)?; // [B, D, N]
    let c0 = g.o.mul(&c0, &mt);
    let c0 = g.o.mish(&c0);
    let c2 = g.conv1d(&cp.pp(2), &c0, (d.dim, d.dim), d.conv_pos_kernel, d.conv_pos_groups)?; // [B, D, N]
    let c2 = g.o.mul(&c2, &mt);
    let c2 = g.o.mish(&c2);
    let pe = g.o.transpose(&c2, &[0, 2, 1]); // [B, N, D]
    Ok(g.o.add(&pe, &h))
}

/// Split a `[B, n*D]` modulation into `n` tensors `[B, 1, D]`.
fn chunks(g: &mut G, emb: &str, n: usize, d: usize) -> Vec<String> {
    let e = g.o.unsqueeze(emb, &[1]); // [B, 1, n*D]
    g.o.split_equal(&e, 2, n, d) // n x [B, 1, D]
}

/// `norm(x) * (1 + scale) + shift`.
fn modulate(g: &mut G, x: &str, dim: usize, shift: &str, scale: &str) -> String {
    let n = g.o.layer_norm(x, dim, NORM_EPS, None); // [B, N, D]
    let one = g.o.scalar(1.0);
    let s1 = g.o.add(scale, &one); // [B, 1, D]
    let ns = g.o.mul(&n, &s1);
    g.o.add(&ns, shift)
}

/// RMSNorm over the last axis with a learned weight.
fn rms_norm(g: &mut G, p: &P, x: &str, dim: usize) -> Result<String, ModelError> {
    let w = g.param(p, "weight", &[dim])?; // [Dh]
    let sq = g.o.mul(x, x);
    let ms = g.o.op(
        "ReduceMean",
        &[&sq],
        vec![super::onnx::Attr::Ints("axes", vec![-1]), super::onnx::Attr::Int("keepdims", 1)],
    ); // [..., 1]
    let eps = g.o.scalar(NORM_EPS);
    let ms = g.o.add(&ms, &eps);
    let r = g.o.unary("Sqrt", &ms);
    let xn = g.o.div(x, &r);
    Ok(g.o.mul(&xn, &w))
}

/// Block part 1: AdaLN, q/k/v, q/k norm, RoPE (per stream, its own weights and positions).
fn pre_attention(g: &mut G, p: &P, s: &Stream) -> Result<PreAttn, ModelError> {
    let d = s.dit;
    let (dim, h, dh) = (d.dim, d.heads as i64, d.dim_head);
    let t = g.o.silu(&s.t); // [B, D]
    let emb = g.linear(&p.pp("attn_norm").pp("linear"), &t, dim, 6 * dim, true)?; // [B, 6D]
    let c = chunks(g, &emb, 6, dim); // 6 x [B, 1, D]
    let norm = modulate(g, &s.x, dim, &c[0], &c[1]); // [B, N, D]
    let ap = p.pp("attn");
    let mut qkv = Vec::with_capacity(3);
    for name in ["to_q", "to_k", "to_v"] {
        let y = g.linear(&ap.pp(name), &norm, dim, d.inner_dim(), true)?; // [B, N, H*Dh]
        let y = g.o.reshape(&y, &[0, 0, h, dh as i64]); // [B, N, H, Dh]
        qkv.push(g.o.transpose(&y, &[0, 2, 1, 3])); // [B, H, N, Dh]
    }
    let (mut q, mut k, v) = (qkv[0].clone(), qkv[1].clone(), qkv[2].clone());
    if let Some(QkNorm::RmsNorm) = d.qk_norm {
        q = rms_norm(g, &ap.pp("q_norm"), &q, dh)?;
        k = rms_norm(g, &ap.pp("k_norm"), &k, dh)?;
    }
    let rope = |g: &mut G, x: &str| -> String {
        match d.pe_attn_head {
            Some(pn) if pn < d.heads => {
                let head = g.o.slice(x, 1, 0, pn as i64); // [B, pn, N, Dh]
                let rest = g.o.slice(x, 1, pn as i64, d.heads as i64); // [B, H-pn, N, Dh]
                let head = apply_rope(g, &head, &s.cos, &s.sin, dh);
                g.o.concat(&[&head, &rest], 1) // [B, H, N, Dh]
            }
            _ => apply_rope(g, x, &s.cos, &s.sin, dh),
        }
    };
    q = rope(g, &q);
    k = rope(g, &k);
    Ok(PreAttn {
        q,
        k,
        v,
        gate_msa: c[2].clone(),
        shift_mlp: c[3].clone(),
        scale_mlp: c[4].clone(),
        gate_mlp: c[5].clone(),
    })
}

/// Scaled dot-product attention `[B, H, Nq, Dh]` with an optional additive bias.
fn attention(g: &mut G, q: &str, k: &str, v: &str, bias: Option<&str>, dim_head: usize) -> String {
    let kt = g.o.transpose(k, &[0, 1, 3, 2]); // [B, H, Dh, Nk]
    let sc = g.o.scalar(1.0 / (dim_head as f32).sqrt());
    let qs = g.o.mul(q, &sc); // [B, H, Nq, Dh]
    let mut s = g.o.matmul(&qs, &kt); // [B, H, Nq, Nk]
    if let Some(b) = bias {
        s = g.o.add(&s, b);
    }
    let a = g.o.softmax(&s, -1); // [B, H, Nq, Nk]
    g.o.matmul(&a, v) // [B, H, Nq, Dh]
}

/// Block part 2: merge heads, output projection, padding zeroed, gate, residual, feed-forward.
fn post_attention(g: &mut G, p: &P, s: &mut Stream, pre: &PreAttn, attn: &str) -> Result<(), ModelError> {
    let d = s.dit;
    let dim = d.dim;
    let o = g.o.transpose(attn, &[0, 2, 1, 3]); // [B, N, H, Dh]
    let o = g.o.reshape(&o, &[0, 0, d.inner_dim() as i64]); // [B, N, H*Dh]
    let o = g.linear(&p.pp("attn").pp("to_out").pp(0), &o, d.inner_dim(), dim, true)?; // [B, N, D]
    let o = g.o.mul(&o, &s.maskf); // [B, N, D]
    let go = g.o.mul(&pre.gate_msa, &o);
    let x = g.o.add(&s.x, &go); // [B, N, D]
    let norm = modulate(g, &x, dim, &pre.shift_mlp, &pre.scale_mlp); // [B, N, D]
    let ff = p.pp("ff").pp("ff");
    let h = g.linear(&ff.pp(0).pp(0), &norm, dim, dim * d.ff_mult, true)?; // [B, N, D*ff]
    let h = g.o.gelu_tanh(&h);
    let h = g.linear(&ff.pp(2), &h, dim * d.ff_mult, dim, true)?; // [B, N, D]
    let gh = g.o.mul(&pre.gate_mlp, &h);
    s.x = g.o.add(&x, &gh); // [B, N, D]
    Ok(())
}

/// F5 `DiTBlock` (one stream attending to itself).
fn block(g: &mut G, i: usize, s: &mut Stream) -> Result<(), ModelError> {
    let p = s.p.pp("transformer_blocks").pp(i);
    let pre = pre_attention(g, &p, s)?;
    let a = attention(g, &pre.q, &pre.k, &pre.v, s.self_bias.as_deref(), s.dit.dim_head); // [B, H, N, Dh]
    post_attention(g, &p, s, &pre, &a)
}

/// A joint layer: both streams' q/k/v concatenated, one masked attention, split back.
fn joint_block(
    g: &mut G,
    i: usize,
    audio: &mut Stream,
    motion: &mut Stream,
    bias: &str,
    sizes: &str,
) -> Result<(), ModelError> {
    let pa = audio.p.pp("transformer_blocks").pp(i);
    let pm = motion.p.pp("transformer_blocks").pp(i);
    let a = pre_attention(g, &pa, audio)?;
    let m = pre_attention(g, &pm, motion)?;
    let q = g.o.concat(&[&a.q, &m.q], 2); // [B, H, L, Dh]
    let k = g.o.concat(&[&a.k, &m.k], 2); // [B, H, L, Dh]
    let v = g.o.concat(&[&a.v, &m.v], 2); // [B, H, L, Dh]
    let o = attention(g, &q, &k, &v, Some(bias), audio.dit.dim_head); // [B, H, L, Dh]
    let parts = g.o.split_dyn(&o, 2, sizes, 2); // [B, H, T, Dh], [B, H, F, Dh]
    post_attention(g, &pa, audio, &a, &parts[0])?;
    post_attention(g, &pm, motion, &m, &parts[1])
}

/// Joint-attention bias `[B, 1, L, L]`: 0 where a query may see a key, MASKED elsewhere.
/// allowed(i, j) = key_valid(j) && (same stream || |pos_i - pos_j| <= window).
fn joint_bias(g: &mut G, mel_pos: &str, motion_pos: &str, mel_mask: &str, motion_mask: &str, window: f32) -> String {
    let pos = g.o.concat(&[mel_pos, motion_pos], 0); // [L] positions on the mel axis
    let (zero, one) = (g.o.scalar(0.0), g.o.scalar(1.0));
    let zeros_a = g.o.mul(mel_pos, &zero); // [T] 0 = audio
    let zeros_m = g.o.mul(motion_pos, &zero);
    let ones_m = g.o.add(&zeros_m, &one); // [F] 1 = motion
    let stream = g.o.concat(&[&zeros_a, &ones_m], 0); // [L]
    let (qi, kj) = (g.o.unsqueeze(&stream, &[1]), g.o.unsqueeze(&stream, &[0])); // [L, 1], [1, L]
    let same = g.o.op("Equal", &[&qi, &kj], vec![]); // [L, L]
    let (pi, pj) = (g.o.unsqueeze(&pos, &[1]), g.o.unsqueeze(&pos, &[0])); // [L, 1], [1, L]
    let dpos = g.o.sub(&pi, &pj);
    let dist = g.o.unary("Abs", &dpos); // [L, L]
    let w = g.o.scalar(window);
    let near = g.o.op("LessOrEqual", &[&dist, &w], vec![]); // [L, L]
    let qk = g.o.op("Or", &[&same, &near], vec![]); // [L, L]
    let key_valid = g.o.concat(&[mel_mask, motion_mask], 1); // [B, L]
    let key_valid = g.o.unsqueeze(&key_valid, &[1, 2]); // [B, 1, 1, L]
    let allowed = g.o.op("And", &[&qk, &key_valid], vec![]); // [B, 1, L, L]
    let (z, m) = (g.o.scalar(0.0), g.o.scalar(MASKED));
    g.o.where_(&allowed, &z, &m) // [B, 1, L, L]
}

/// Long skip (if any), AdaLayerNorm_Final, proj_out.
fn stream_out(g: &mut G, s: &Stream, residual: &str, out_dim: usize) -> Result<String, ModelError> {
    let dim = s.dit.dim;
    let mut x = s.x.clone(); // [B, N, D]
    if s.dit.long_skip_connection {
        let cat = g.o.concat(&[&x, residual], -1); // [B, N, 2D]
        x = g.linear(&s.p.pp("long_skip_connection"), &cat, 2 * dim, dim, false)?;
        // [B, N, D]
    }
    let t = g.o.silu(&s.t);
    let emb = g.linear(&s.p.pp("norm_out").pp("linear"), &t, dim, 2 * dim, true)?; // [B, 2D]
    let c = chunks(g, &emb, 2, dim); // scale, shift: [B, 1, D] each
    let x = modulate(g, &x, dim, &c[1], &c[0]); // [B, N, D]
    g.linear(&s.p.pp("proj_out"), &x, dim, out_dim, true) // [B, N, out]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: serde_json::Value) -> ModelConfig {
        let c: ModelConfig = serde_json::from_value(v).unwrap();
        c.validate().unwrap();
        c
    }

    #[test]
    fn audio_only_spec_has_f5_key_paths() {
        let c = cfg(serde_json::json!({
            "format": "jamflow-model/1",
            "text": {"vocab_size": 10, "dim": 16, "conv_layers": 1},
            "audio_dit": {"dim": 32, "depth": 2, "heads": 2, "dim_head": 8},
        }));
        let spec = param_spec(&c).unwrap();
        let keys: Vec<&str> = spec.iter().map(|s| s.key.as_str()).collect();
        for k in [
            "time_embed.time_mlp.0.weight",
            "text_embed.text_embed.weight",
            "text_embed.text_blocks.0.grn.gamma",
            "input_embed.proj.weight",
            "input_embed.conv_pos_embed.conv1d.2.bias",
            "transformer_blocks.1.attn.to_out.0.weight",
            "transformer_blocks.0.ff.ff.0.0.weight",
            "transformer_blocks.0.ff.ff.2.bias",
            "norm_out.linear.weight",
            "proj_out.bias",
        ] {
            assert!(keys.contains(&k), "missing {k}");
        }
        assert!(!keys.iter().any(|k| k.starts_with("motion.")));
        let emb = spec.iter().find(|s| s.key == "text_embed.text_embed.weight").unwrap();
        assert_eq!(emb.shape, vec![11, 16]);
        let proj = spec.iter().find(|s| s.key == "input_embed.proj.weight").unwrap();
        assert_eq!(proj.shape, vec![32, 2 * 100 + 16]);
        // No duplicates.
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), keys.len());
    }

    #[test]
    fn motion_stream_spec_mirrors_audio_under_prefix() {
        let c = cfg(serde_json::json!({
            "format": "jamflow-model/1",
            "text": {"vocab_size": 10, "dim": 16},
            "audio_dit": {"dim": 32, "depth": 2, "heads": 2, "dim_head": 8},
            "motion": {"layout": {"kind": "liveportrait-mouth4", "keypoints": [6, 12, 14, 17]},
                       "known_mask_channel": true,
                       "dit": {"dim": 16, "depth": 2, "heads": 2, "dim_head": 8}},
        }));
        let spec = param_spec(&c).unwrap();
        let get = |k: &str| spec.iter().find(|s| s.key == k).map(|s| s.shape.clone());
        assert_eq!(get("motion.input_embed.proj.weight"), Some(vec![16, 12 * 2 + 1 + 51]));
        assert_eq!(get("motion.transformer_blocks.1.attn.to_q.weight"), Some(vec![16, 16]));
        assert_eq!(get("motion.proj_out.weight"), Some(vec![12, 16]));
        assert_eq!(get("motion.time_embed.time_mlp.0.weight"), Some(vec![16, 256]));
    }
}

//! INT8 explicit quantization (Q/DQ) and W8A16 weight-only quantization.
//!
//! The unit of quantization is a *linear*: a `MatMul` whose second input is a weight (an initializer, or
//! the `Transpose` of one, the way `model::graph` writes `nn.Linear`). For each linear the policy admits:
//! - the weight becomes INT8, symmetric, **per output channel** (zero point 0, scale `max|w| / 127` per
//!   channel), stored already transposed to `[in, out]` and read through `DequantizeLinear(axis = 1)`;
//! - INT8 only: the activation entering the `MatMul` gets `QuantizeLinear -> DequantizeLinear`, symmetric,
//!   **per tensor**, with the scale calibrated on the FP32 graph (see [`super::calib`]). A tensor feeding
//!   several linears (q/k/v read the same normalized input) has one scale and one Q -> DQ pair per
//!   consumer (TensorRT expects a dedicated pair before each quantized layer).
//!
//! # Policy: what stays unquantized (documented in docs/build.md)
//! - the time embedding MLP (`time_embed.*`): a `[B, D]` vector, negligible cost, and its error would
//!   scale every gate/shift/scale of every block;
//! - the first layer of each stream (`input_embed.proj`), which sees raw mel/motion values, and the last
//!   (`proj_out`), which writes the velocity the sampler integrates;
//! - convolutions (ConvPositionEmbedding, ConvNeXt depthwise): grouped, small, and TensorRT fuses them;
//! - activation x activation products (attention scores and attention x values): softmax probabilities
//!   and RoPE'd q/k lose too much at 8 bits;
//! - everything that is not a `MatMul` (norms, softmax, RoPE, elementwise): float (FP32 in INT8 graphs,
//!   FP16 with the FP16 pass's islands in W8A16 graphs).

use std::collections::{BTreeMap, HashMap, HashSet};

use onnx_protobuf::{GraphProto, ModelProto};

use super::graph::{self as gu, FLOAT, INT8};
use super::CompileError;

/// Scale of each calibrated activation tensor (`amax / 127`), by tensor name.
pub type ActivationScales = BTreeMap<String, f32>;

/// Which linears are quantized.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// A linear whose weight name contains any of these stays float.
    pub keep_float: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self { keep_float: vec!["time_embed.".into(), "input_embed.proj.".into(), "proj_out.".into()] }
    }
}

impl Policy {
    pub fn admits(&self, weight: &str) -> bool {
        !self.keep_float.iter().any(|k| weight.contains(k.as_str()))
    }
}

/// One linear layer found in the graph.
#[derive(Debug, Clone)]
pub struct Linear {
    /// Index of the `MatMul` node.
    pub matmul: usize,
    /// The activation input (MatMul input 0).
    pub activation: String,
    /// The weight initializer's name.
    pub weight: String,
    /// The `Transpose` node between weight and MatMul (weights stored `[out, in]`), if any.
    pub transpose: Option<usize>,
}

/// All linears of the graph, in node order.
pub fn linears(g: &GraphProto) -> Vec<Linear> {
    let inits: HashMap<&str, &onnx_protobuf::TensorProto> =
        g.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let prod = gu::producers(g);
    let mut v = Vec::new();
    for (i, n) in g.node.iter().enumerate() {
        if n.op_type != "MatMul" || n.input.len() != 2 {
            continue;
        }
        let b = &n.input[1];
        if let Some(t) = inits.get(b.as_str()) {
            if t.dims.len() == 2 && t.data_type == FLOAT {
                v.push(Linear { matmul: i, activation: n.input[0].clone(), weight: b.clone(), transpose: None });
            }
            continue;
        }
        if let Some(&p) = prod.get(b) {
            let tn = &g.node[p];
            let perm = gu::attr_ints(tn, "perm");
            if tn.op_type == "Transpose" && perm.as_deref() == Some(&[1, 0]) {
                if let Some(t) = inits.get(tn.input[0].as_str()) {
                    if t.dims.len() == 2 && t.data_type == FLOAT {
                        v.push(Linear {
                            matmul: i,
                            activation: n.input[0].clone(),
                            weight: tn.input[0].clone(),
                            transpose: Some(p),
                        });
                    }
                }
            }
        }
    }
    v
}

/// The linears `policy` quantizes.
pub fn quantized_linears(m: &ModelProto, policy: &Policy) -> Result<Vec<Linear>, CompileError> {
    Ok(linears(gu::graph(m)?).into_iter().filter(|l| policy.admits(&l.weight)).collect())
}

/// The activation tensors an INT8 build calibrates (unique, in node order).
pub fn activation_tensors(m: &ModelProto, policy: &Policy) -> Result<Vec<String>, CompileError> {
    let mut seen = HashSet::new();
    Ok(quantized_linears(m, policy)?.into_iter().map(|l| l.activation).filter(|a| seen.insert(a.clone())).collect())
}

/// What a quantization pass did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuantSummary {
    pub weights: usize,
    pub activations: usize,
    /// INT8 weight bytes (plus scales) replacing FP32 weight bytes.
    pub int8_weight_bytes: usize,
    pub fp32_weight_bytes_replaced: usize,
}

/// Per-channel symmetric INT8 of `w` `[rows, cols]` along axis 0 (one scale per row):
/// returns (q `[rows, cols]`, scales `[rows]`).
pub fn quantize_rows(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = vec![0i8; w.len()];
    let mut scales = vec![1f32; rows];
    for r in 0..rows {
        let row = &w[r * cols..(r + 1) * cols];
        let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let s = if amax > 0.0 && amax.is_finite() { amax / 127.0 } else { 1.0 };
        scales[r] = s;
        for (c, &v) in row.iter().enumerate() {
            q[r * cols + c] = (v / s).round().clamp(-127.0, 127.0) as i8;
        }
    }
    (q, scales)
}

/// Quantize `m` in place: weights of every admitted linear; with `scales`, their activations too (INT8).
pub fn quantize(
    m: &mut ModelProto,
    policy: &Policy,
    scales: Option<&ActivationScales>,
) -> Result<QuantSummary, CompileError> {
    let lins = quantized_linears(m, policy)?;
    if let Some(s) = scales {
        for l in &lins {
            match s.get(&l.activation) {
                Some(v) if v.is_finite() && *v > 0.0 => {}
                Some(v) => {
                    return Err(CompileError::Scales {
                        tensor: l.activation.clone(),
                        msg: format!("scale {v} is not a positive finite number"),
                    })
                }
                None => {
                    return Err(CompileError::Scales {
                        tensor: l.activation.clone(),
                        msg: "not in the calibration scales (calibrated for another graph?)".into(),
                    })
                }
            }
        }
    }
    let g = gu::graph_mut(m)?;
    let mut summary = QuantSummary::default();
    let by_matmul: HashMap<usize, &Linear> = lins.iter().map(|l| (l.matmul, l)).collect();
    let drop_nodes: HashSet<usize> = lins.iter().filter_map(|l| l.transpose).collect();
    let init_idx: HashMap<String, usize> = g.initializer.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
    let mut new_inits = Vec::new();
    let mut dropped_inits = HashSet::new();
    let mut weight_dq: HashMap<String, String> = HashMap::new();
    let mut act_dq: HashMap<String, usize> = HashMap::new();
    let mut pre = Vec::new(); // weight DQ nodes (no inputs from the graph): first
    let mut nodes = Vec::with_capacity(g.node.len() + 3 * lins.len());
    for (i, n) in g.node.iter().enumerate() {
        if drop_nodes.contains(&i) {
            continue;
        }
        let mut n = n.clone();
        if let Some(l) = by_matmul.get(&i) {
            // Weight: INT8 [in, out] + per-output-channel scales, DequantizeLinear(axis 1).
            let wname = match weight_dq.get(&l.weight) {
                Some(w) => w.clone(),
                None => {
                    let t = &g.initializer[init_idx[&l.weight]];
                    let w = gu::f32_values(t)?;
                    let (d0, d1) = (t.dims[0] as usize, t.dims[1] as usize);
                    // Rows of `rows_major` are output channels.
                    let (rows_major, out, inn) = if l.transpose.is_some() {
                        (w, d0, d1) // stored [out, in]
                    } else {
                        (transpose(&w, d0, d1), d1, d0) // stored [in, out]
                    };
                    let (q, s) = quantize_rows(&rows_major, out, inn);
                    let qt = transpose_i8(&q, out, inn); // [in, out]
                    let base = &l.weight;
                    let (qn, sn, zn, dn) =
                        (format!("{base}_int8"), format!("{base}_scale"), format!("{base}_zero"), format!("{base}_dq"));
                    new_inits.push(gu::tensor(
                        &qn,
                        &[inn as i64, out as i64],
                        INT8,
                        qt.iter().map(|&v| v as u8).collect(),
                    ));
                    new_inits.push(gu::tensor(&sn, &[out as i64], FLOAT, gu::f32_bytes(&s)));
                    new_inits.push(gu::tensor(&zn, &[out as i64], INT8, vec![0u8; out]));
                    pre.push(gu::node(
                        &format!("dq_{base}"),
                        "DequantizeLinear",
                        &[&qn, &sn, &zn],
                        &dn,
                        vec![gu::int_attr("axis", 1)],
                    ));
                    summary.weights += 1;
                    summary.int8_weight_bytes += inn * out + 4 * out;
                    summary.fp32_weight_bytes_replaced += 4 * inn * out;
                    dropped_inits.insert(l.weight.clone());
                    weight_dq.insert(l.weight.clone(), dn.clone());
                    dn
                }
            };
            n.input[1] = wname;
            // Activation: per-tensor Q/DQ (INT8 only).
            if let Some(s) = scales {
                let a = &l.activation;
                // Scale and zero point are shared per tensor; each consuming MatMul gets its own
                // Q -> DQ pair (TensorRT fuses a pair into the one layer that follows it).
                let k = act_dq.entry(a.clone()).or_insert(0);
                *k += 1;
                let (sn, zn) = (format!("{a}_act_scale"), format!("{a}_act_zero"));
                if *k == 1 {
                    new_inits.push(gu::tensor(&sn, &[], FLOAT, gu::f32_bytes(&[s[a]])));
                    new_inits.push(gu::tensor(&zn, &[], INT8, vec![0u8]));
                    summary.activations += 1;
                }
                let (qn, dq) = (format!("{a}_q{k}"), format!("{a}_dq{k}"));
                nodes.push(gu::node(&format!("q{k}_{a}"), "QuantizeLinear", &[a, &sn, &zn], &qn, vec![]));
                nodes.push(gu::node(&format!("dq{k}_{a}"), "DequantizeLinear", &[&qn, &sn, &zn], &dq, vec![]));
                n.input[0] = dq;
            }
        }
        nodes.push(n);
    }
    pre.extend(nodes);
    g.node = pre;
    g.initializer.retain(|t| !dropped_inits.contains(&t.name));
    g.initializer.extend(new_inits);
    Ok(summary)
}

fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

fn transpose_i8(w: &[i8], rows: usize, cols: usize) -> Vec<i8> {
    let mut t = vec![0i8; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// The calibrated activation scales found in a Q/DQ graph (`QuantizeLinear` scale initializers), by the
/// activation tensor each quantizes.
pub fn scales_in_graph(m: &ModelProto) -> Result<ActivationScales, CompileError> {
    let g = gu::graph(m)?;
    let inits: HashMap<&str, &onnx_protobuf::TensorProto> =
        g.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut out = ActivationScales::new();
    for n in g.node.iter().filter(|n| n.op_type == "QuantizeLinear") {
        if let Some(t) = n.input.get(1).and_then(|s| inits.get(s.as_str())) {
            if let Some(&v) = gu::f32_values(t)?.first() {
                out.insert(n.input[0].clone(), v);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_rows_round_trip_within_half_a_step() {
        let w: Vec<f32> = (0..12).map(|i| (i as f32 - 5.0) * if i < 6 { 0.01 } else { 3.0 }).collect();
        let (q, s) = quantize_rows(&w, 2, 6);
        assert!(s[0] < s[1] / 100.0, "each row has its own scale: {s:?}");
        for r in 0..2 {
            for c in 0..6 {
                let back = q[r * 6 + c] as f32 * s[r];
                assert!((back - w[r * 6 + c]).abs() <= s[r] / 2.0 + 1e-7);
            }
        }
        assert!(q.iter().any(|&v| v == 127 || v == -127));
    }

    #[test]
    fn policy_keeps_first_last_and_time_layers() {
        let p = Policy::default();
        assert!(!p.admits("time_embed.time_mlp.0.weight"));
        assert!(!p.admits("motion.input_embed.proj.weight"));
        assert!(!p.admits("proj_out.weight"));
        assert!(p.admits("transformer_blocks.0.attn.to_q.weight"));
        assert!(p.admits("motion.transformer_blocks.3.ff.ff.2.weight"));
    }
}

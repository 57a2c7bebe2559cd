//! FP16 with FP32 islands.
//!
//! Every floating-point node runs in FP16 except the islands that accuracy needs (DESIGN §5):
//! - anchors: `LayerNormalization`, `Softmax`, reductions (`ReduceMean`, `ReduceL2`, `ReduceSum`), `Sqrt`,
//!   `Pow`, `Exp`, `Sin`, `Cos`, `Range` (norm statistics, softmax, RoPE and time tables);
//! - the additive bias before a softmax (the mask value -1e9 is not representable in FP16) and the square
//!   feeding a mean (RMSNorm statistics);
//! - every node whose non-constant inputs all come from FP32 sources (graph inputs, casts of masks, other
//!   islands): time/position arithmetic, the joint-attention mask, the conditioning inputs;
//! - the nodes that write graph outputs: inputs and outputs keep FP32 types, so the sampler's state is
//!   integrated in FP32 outside the graph.
//!
//! `MatMul`, `Conv` and `Gemm` always run in FP16 (their weights are stored as FP16 initializers), so
//! every weight of the network is FP16 after the pass. Casts are inserted where a tensor crosses a
//! boundary; a tensor used by both kinds of node is cast once.

use std::collections::{HashMap, HashSet};

use half::f16;
use onnx_protobuf::ModelProto;

use super::graph::{self as gu, FLOAT, FLOAT16};
use super::CompileError;

/// Ops that always stay FP32.
pub const FP32_ANCHORS: &[&str] = &[
    "LayerNormalization",
    "Softmax",
    "ReduceMean",
    "ReduceL2",
    "ReduceSum",
    "Sqrt",
    "Pow",
    "Exp",
    "Sin",
    "Cos",
    "Range",
];
/// Ops that always run in FP16 (the weight-heavy ones).
pub const FP16_ALWAYS: &[&str] = &["MatMul", "Conv", "Gemm", "DequantizeLinear"];

/// Ops over constants only that still convert: embedding tables, weight dequantization, weight transposes.
pub const FP16_FROM_CONSTANTS: &[&str] = &["Gather", "DequantizeLinear", "Transpose"];

/// Convert `m` in place (see the module docs).
pub fn convert(m: &mut ModelProto) -> Result<(), CompileError> {
    let has_dq = gu::op_count(m, "DequantizeLinear") > 0;
    let g = gu::graph_mut(m)?;
    let types = gu::infer_types(g);
    let cons = gu::consumers(g);
    let outputs = gu::output_names(g);
    let inits: HashMap<String, usize> = g.initializer.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
    let is_f = |x: &str| !x.is_empty() && types.get(x).copied().is_some_and(gu::is_float);

    // 1. Decide each node's precision: Some(FLOAT) / Some(FLOAT16) / None (no float data, or a Cast/Shape).
    let mut fp32_src: HashSet<String> =
        g.input.iter().filter(|i| gu::is_float(gu::value_info_type(i))).map(|i| i.name.clone()).collect();
    let mut target: Vec<Option<i32>> = Vec::with_capacity(g.node.len());
    for n in &g.node {
        let float_ins: Vec<&String> = n.input.iter().filter(|x| is_f(x)).collect();
        let float_outs = n.output.iter().any(|x| is_f(x));
        let op = n.op_type.as_str();
        let t = if float_ins.is_empty() && !float_outs {
            None
        } else if op == "Cast" || op == "ConstantOfShape" || op == "Constant" || op == "Shape" {
            // Fixed output type (a Cast to FLOAT is an FP32 source); inputs of any type are fine.
            if float_outs {
                fp32_src.extend(n.output.iter().cloned());
            }
            None
        } else if FP32_ANCHORS.contains(&op) || n.output.iter().any(|o| outputs.contains(o)) {
            Some(FLOAT)
        } else if FP16_ALWAYS.contains(&op) {
            Some(FLOAT16)
        } else if (op == "Add" || op == "Mul") && feeds_only(&cons, g, &n.output[0], &["Softmax", "ReduceMean"]) {
            Some(FLOAT)
        } else {
            let live: Vec<&&String> = float_ins.iter().filter(|x| !inits.contains_key(x.as_str())).collect();
            if live.iter().all(|x| fp32_src.contains(x.as_str())) && !FP16_FROM_CONSTANTS.contains(&op) {
                // FP32 sources only (or constants only: small tables, keep their precision).
                Some(FLOAT)
            } else {
                Some(FLOAT16)
            }
        };
        if t == Some(FLOAT) {
            fp32_src.extend(n.output.iter().cloned());
        }
        target.push(t);
    }

    // 2. Rewrite: cast inputs that cross a boundary; FP16 copies of initializers.
    let mut actual: HashMap<String, i32> = types.clone();
    let mut casts: HashMap<(String, i32), String> = HashMap::new();
    let mut half_inits: HashMap<String, String> = HashMap::new();
    let mut new_inits = Vec::new();
    let mut nodes = Vec::with_capacity(g.node.len() * 2);
    let old_nodes = std::mem::take(&mut g.node);
    for (n, t) in old_nodes.into_iter().zip(target) {
        let mut n = n;
        if let Some(t) = t {
            for x in n.input.iter_mut() {
                if x.is_empty() || !actual.get(x.as_str()).copied().is_some_and(gu::is_float) {
                    continue;
                }
                if actual[x.as_str()] == t {
                    continue;
                }
                if let (Some(&ii), FLOAT16) = (inits.get(x.as_str()), t) {
                    let name = half_inits.entry(x.clone()).or_insert_with(|| {
                        let src = &g.initializer[ii];
                        let v = gu::f32_values(src).unwrap_or_default();
                        let name = format!("{}_fp16", src.name);
                        let raw = v.iter().flat_map(|&f| f16_sat(f).to_le_bytes()).collect();
                        new_inits.push(gu::tensor(&name, &src.dims, FLOAT16, raw));
                        name
                    });
                    actual.insert(name.clone(), FLOAT16);
                    *x = name.clone();
                    continue;
                }
                let key = (x.clone(), t);
                let name = match casts.get(&key) {
                    Some(c) => c.clone(),
                    None => {
                        let c = format!("{x}_to{}", if t == FLOAT16 { "16" } else { "32" });
                        nodes.push(gu::node(
                            &format!("cast_{c}"),
                            "Cast",
                            &[x],
                            &c,
                            vec![gu::int_attr("to", t as i64)],
                        ));
                        actual.insert(c.clone(), t);
                        casts.insert(key, c.clone());
                        c
                    }
                };
                *x = name;
            }
            for o in &n.output {
                if types.get(o).copied().is_some_and(gu::is_float) {
                    actual.insert(o.clone(), t);
                }
            }
        }
        nodes.push(n);
    }
    g.node = nodes;
    g.initializer.extend(new_inits);
    // Drop FP32 initializers nothing reads any more.
    let used: HashSet<&str> = g.node.iter().flat_map(|n| n.input.iter().map(|s| s.as_str())).collect();
    let keep: Vec<bool> = g.initializer.iter().map(|t| used.contains(t.name.as_str())).collect();
    let mut k = keep.into_iter();
    g.initializer.retain(|_| k.next().unwrap_or(true));
    if has_dq {
        // DequantizeLinear with FP16 scales (FP16 output) needs opset 19.
        gu::require_opset(m, 19);
    }
    Ok(())
}

/// FP16 with saturation at the largest finite value (weights never become inf).
fn f16_sat(v: f32) -> f16 {
    f16::from_f32(v.clamp(-65504.0, 65504.0))
}

fn feeds_only(cons: &HashMap<String, Vec<usize>>, g: &onnx_protobuf::GraphProto, tensor: &str, ops: &[&str]) -> bool {
    match cons.get(tensor) {
        Some(c) if !c.is_empty() => c.iter().all(|&i| ops.contains(&g.node[i].op_type.as_str())),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::random::Preset;
    use crate::model::{graph, weights::SpecRecorder};

    #[test]
    fn weights_become_fp16_islands_stay_fp32_io_unchanged() {
        let cfg = Preset::SmallMmdit.config();
        // Structure only (empty initializers) is enough to check types.
        let mut m = graph::build(&cfg, &mut SpecRecorder::default()).unwrap();
        let before_io: Vec<(String, i32)> =
            m.graph.input.iter().chain(&m.graph.output).map(|v| (v.name.clone(), gu::value_info_type(v))).collect();
        convert(&mut m).unwrap();
        let g = gu::graph(&m).unwrap();
        let after_io: Vec<(String, i32)> =
            g.input.iter().chain(&g.output).map(|v| (v.name.clone(), gu::value_info_type(v))).collect();
        assert_eq!(before_io, after_io);
        let types = gu::infer_types(g);
        for n in &g.node {
            let t = |i: usize| types[&n.input[i]];
            match n.op_type.as_str() {
                "LayerNormalization" | "Softmax" => assert_eq!(t(0), FLOAT, "{} input must be FP32", n.name),
                "MatMul" => assert_eq!((t(0), t(1)), (FLOAT16, FLOAT16), "{}", n.name),
                "Sin" | "Cos" => assert_eq!(t(0), FLOAT, "{}", n.name),
                _ => {}
            }
        }
        // Every weight matrix is FP16; no FP32 copy of it is left.
        for init in &g.initializer {
            if init.dims.len() >= 2 && init.name.ends_with("weight_fp16") {
                assert_eq!(init.data_type, FLOAT16);
            }
            assert!(!(init.dims.len() >= 2 && init.name.ends_with(".weight")), "{} left in FP32", init.name);
        }
        // Graph outputs are written by FP32 Identity nodes fed through a Cast.
        let out_types: Vec<i32> = g.output.iter().map(|o| types[&o.name]).collect();
        assert!(out_types.iter().all(|&t| t == FLOAT));
    }
}

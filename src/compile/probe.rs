//! Inner tensors as extra graph outputs: calibration points and per-layer outputs for accuracy reports.

use std::collections::HashMap;

use onnx_protobuf::ModelProto;

use super::graph::{self as gu, FLOAT, FLOAT16};
use super::CompileError;

/// Prefix of the graph outputs [`expose`] adds.
pub const PROBE_PREFIX: &str = "probe:";

/// The residual-stream output of every DiT block, found in the FP32 graph from the block's last weight
/// (`{stream}transformer_blocks.{i}.ff.ff.2.weight`): `MatMul -> Add(bias) -> Mul(gate) -> Add(residual)`.
/// Returns `(label, tensor)` with labels `audio.3` / `motion.3`, in layer order.
pub fn layer_outputs(m: &ModelProto) -> Result<Vec<(String, String)>, CompileError> {
    let g = gu::graph(m)?;
    let cons = gu::consumers(g);
    let prod = gu::producers(g);
    let follow = |t: &str, op: &str| -> Option<String> {
        let c = cons.get(t)?;
        c.iter().map(|&i| &g.node[i]).find(|n| n.op_type == op).map(|n| n.output[0].clone())
    };
    let mut out = Vec::new();
    for n in g.node.iter().filter(|n| n.op_type == "MatMul") {
        // The weight: the initializer behind a Transpose, a DequantizeLinear, or direct.
        let w = match prod.get(&n.input[1]).map(|&i| &g.node[i]) {
            Some(p) if p.op_type == "Transpose" || p.op_type == "DequantizeLinear" => p.input[0].clone(),
            _ => n.input[1].clone(),
        };
        let Some(rest) = w.strip_suffix(".ff.ff.2.weight") else { continue };
        let (stream, layer) = match rest.rsplit_once("transformer_blocks.") {
            Some((s, l)) => (if s.starts_with("motion") { "motion" } else { "audio" }, l.to_string()),
            None => continue,
        };
        let t = follow(&n.output[0], "Add").and_then(|b| follow(&b, "Mul")).and_then(|gm| follow(&gm, "Add"));
        if let Some(t) = t {
            out.push((format!("{stream}.{layer}"), t));
        }
    }
    Ok(out)
}

/// Add `tensors` as FP32 graph outputs named `probe:<tensor>` (FP16 tensors through a Cast). Returns the
/// output names, in order. A tensor missing from the graph is an error.
pub fn expose(m: &mut ModelProto, tensors: &[String]) -> Result<Vec<String>, CompileError> {
    let g = gu::graph_mut(m)?;
    let types = gu::infer_types(g);
    let mut names = Vec::with_capacity(tensors.len());
    let mut done: HashMap<&str, String> = HashMap::new();
    for t in tensors {
        if let Some(n) = done.get(t.as_str()) {
            names.push(n.clone());
            continue;
        }
        let ty = *types.get(t).ok_or_else(|| CompileError::Graph(format!("no tensor `{t}` to probe")))?;
        let out = format!("{PROBE_PREFIX}{t}");
        let n = if ty == FLOAT16 {
            gu::node(&format!("probe_{t}"), "Cast", &[t], &out, vec![gu::int_attr("to", FLOAT as i64)])
        } else if ty == FLOAT {
            gu::node(&format!("probe_{t}"), "Identity", &[t], &out, vec![])
        } else {
            return Err(CompileError::Graph(format!("tensor `{t}` is not floating point (type {ty})")));
        };
        g.node.push(n);
        g.output.push(gu::value_info_untyped_shape(&out, FLOAT));
        done.insert(t.as_str(), out.clone());
        names.push(out);
    }
    Ok(names)
}

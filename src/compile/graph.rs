//! Graph utilities shared by the passes: element types of every tensor, producers and consumers, node and
//! initializer construction.

use std::collections::{HashMap, HashSet};

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, type_proto, AttributeProto, GraphProto, ModelProto,
    NodeProto, TensorProto, TypeProto, ValueInfoProto,
};

use super::CompileError;

pub const FLOAT: i32 = DataType::FLOAT as i32;
pub const FLOAT16: i32 = DataType::FLOAT16 as i32;
pub const INT8: i32 = DataType::INT8 as i32;
pub const INT64: i32 = DataType::INT64 as i32;
pub const BOOL: i32 = DataType::BOOL as i32;

/// Is `t` a floating-point element type we convert?
pub fn is_float(t: i32) -> bool {
    t == FLOAT || t == FLOAT16
}

pub fn graph(m: &ModelProto) -> Result<&GraphProto, CompileError> {
    m.graph.as_ref().ok_or_else(|| CompileError::Graph("model has no graph".into()))
}

pub fn graph_mut(m: &mut ModelProto) -> Result<&mut GraphProto, CompileError> {
    m.graph.as_mut().ok_or_else(|| CompileError::Graph("model has no graph".into()))
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

pub fn attr_int(n: &NodeProto, name: &str) -> Option<i64> {
    attr(n, name).map(|a| a.i)
}

pub fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

/// Element type of a value info (0 when unknown).
pub fn value_info_type(v: &ValueInfoProto) -> i32 {
    match v.type_.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => t.elem_type,
        _ => 0,
    }
}

/// A value info with an element type and unknown shape (for added graph outputs).
pub fn value_info_untyped_shape(name: &str, elem: i32) -> ValueInfoProto {
    let mut tt = type_proto::Tensor::new();
    tt.elem_type = elem;
    let mut tp = TypeProto::new();
    tp.value = Some(type_proto::Value::TensorType(tt));
    let mut vi = ValueInfoProto::new();
    vi.name = name.into();
    vi.type_ = Some(tp).into();
    vi
}

/// Element type of every tensor of the graph (inputs, initializers, node outputs), by forward inference
/// over the op set our graphs use. Unknown ops take their first input's type.
pub fn infer_types(g: &GraphProto) -> HashMap<String, i32> {
    let mut ty: HashMap<String, i32> = HashMap::new();
    for i in &g.input {
        ty.insert(i.name.clone(), value_info_type(i));
    }
    for t in &g.initializer {
        ty.insert(t.name.clone(), t.data_type);
    }
    for n in &g.node {
        let first = n.input.first().and_then(|i| ty.get(i)).copied().unwrap_or(0);
        let out = match n.op_type.as_str() {
            "Cast" => attr_int(n, "to").unwrap_or(0) as i32,
            "Shape" | "Size" => INT64,
            "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "Or" | "And" | "Not" | "Xor" => BOOL,
            "ConstantOfShape" => attr(n, "value").and_then(|a| a.t.as_ref()).map_or(FLOAT, |t| t.data_type),
            "Constant" => attr(n, "value").and_then(|a| a.t.as_ref()).map_or(FLOAT, |t| t.data_type),
            "Where" => n.input.get(1).and_then(|i| ty.get(i)).copied().unwrap_or(0),
            "DequantizeLinear" => n.input.get(1).and_then(|i| ty.get(i)).copied().unwrap_or(FLOAT),
            "QuantizeLinear" => n.input.get(2).and_then(|i| ty.get(i)).copied().unwrap_or(DataType::UINT8 as i32),
            _ => first,
        };
        for o in &n.output {
            ty.insert(o.clone(), out);
        }
    }
    ty
}

/// Which nodes (by index) read each tensor.
pub fn consumers(g: &GraphProto) -> HashMap<String, Vec<usize>> {
    let mut c: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for x in &n.input {
            c.entry(x.clone()).or_default().push(i);
        }
    }
    c
}

/// Which node (by index) writes each tensor.
pub fn producers(g: &GraphProto) -> HashMap<String, usize> {
    let mut p = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for o in &n.output {
            p.insert(o.clone(), i);
        }
    }
    p
}

/// Names of the graph outputs.
pub fn output_names(g: &GraphProto) -> HashSet<String> {
    g.output.iter().map(|o| o.name.clone()).collect()
}

/// A node with one output named `out`.
pub fn node(name: &str, op: &str, inputs: &[&str], out: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    let mut n = NodeProto::new();
    n.name = name.into();
    n.op_type = op.into();
    n.input = inputs.iter().map(|s| s.to_string()).collect();
    n.output = vec![out.into()];
    n.attribute = attrs;
    n
}

pub fn int_attr(name: &str, v: i64) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::INT.into();
    a.i = v;
    a
}

/// An initializer from raw little-endian bytes.
pub fn tensor(name: &str, dims: &[i64], data_type: i32, raw: Vec<u8>) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.into();
    t.dims = dims.to_vec();
    t.data_type = data_type;
    t.raw_data = raw;
    t
}

/// The f32 values of an FP32 initializer (raw or `float_data`).
pub fn f32_values(t: &TensorProto) -> Result<Vec<f32>, CompileError> {
    if t.data_type != FLOAT {
        return Err(CompileError::Graph(format!("initializer `{}` is not FP32 (type {})", t.name, t.data_type)));
    }
    if !t.raw_data.is_empty() {
        return Ok(t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect());
    }
    if !t.float_data.is_empty() {
        return Ok(t.float_data.clone());
    }
    let n: i64 = t.dims.iter().product();
    if n == 0 {
        return Ok(Vec::new());
    }
    Err(CompileError::Graph(format!(
        "initializer `{}` has no inline data (external data is not supported by the passes; build from the package)",
        t.name
    )))
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reductions whose `axes` became an input in opset 18.
const REDUCE_AXES_18: &[&str] = &[
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSumSquare",
];

/// Make the opset at least `version`, rewriting what changed on the way (opset 18: reduction `axes`
/// attribute -> input).
pub fn require_opset(m: &mut ModelProto, version: i64) {
    let old = m.opset_import.iter().filter(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).max();
    for o in m.opset_import.iter_mut() {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            o.version = o.version.max(version);
        }
    }
    if old.is_some_and(|v| v < 18) && version >= 18 {
        if let Some(g) = m.graph.as_mut() {
            let mut extra = Vec::new();
            for n in g.node.iter_mut().filter(|n| REDUCE_AXES_18.contains(&n.op_type.as_str())) {
                if let Some(i) = n.attribute.iter().position(|a| a.name == "axes") {
                    let axes = n.attribute.remove(i).ints;
                    let name = format!("{}_axes", n.name);
                    extra.push(tensor(
                        &name,
                        &[axes.len() as i64],
                        INT64,
                        axes.iter().flat_map(|a| a.to_le_bytes()).collect(),
                    ));
                    n.input.push(name);
                }
            }
            g.initializer.extend(extra);
        }
    }
    // IR 9 goes with opset 19+ (ONNX 1.14).
    if version >= 19 {
        m.ir_version = m.ir_version.max(9);
    }
}

/// Count nodes by op type.
pub fn op_count(m: &ModelProto, op: &str) -> usize {
    m.graph.as_ref().map_or(0, |g| g.node.iter().filter(|n| n.op_type == op).count())
}

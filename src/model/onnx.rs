//! A small typed layer over the ONNX protobuf messages (crate `onnx-protobuf`): nodes, constants,
//! initializers, graph inputs/outputs, and serialization (inline or with external data).
//!
//! Tensor values are referred to by their graph names (`String`).

use std::collections::HashMap;
use std::path::Path;

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataLocation, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use super::io::{Dim, Elem, TensorDesc};
use super::ModelError;

/// The ONNX opset our graphs are written for (LayerNormalization needs 17).
pub const OPSET: i64 = 17;
/// IR version matching opset 17 (ONNX 1.12).
pub const IR_VERSION: i64 = 8;
/// Protobuf messages cannot exceed 2 GiB; beyond this many weight bytes we write external data.
pub const EXTERNAL_DATA_THRESHOLD: usize = 1 << 30;

/// A node attribute.
pub enum Attr {
    Int(&'static str, i64),
    Ints(&'static str, Vec<i64>),
    Float(&'static str, f32),
}

/// ONNX element type number of an [`Elem`].
pub fn elem_type(e: Elem) -> i32 {
    match e {
        Elem::F32 => DataType::FLOAT as i32,
        Elem::I64 => DataType::INT64 as i32,
        Elem::Bool => DataType::BOOL as i32,
    }
}

/// Accumulates one ONNX graph.
#[derive(Default)]
pub struct Onnx {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    counter: usize,
    /// Small constants by value, so repeated ones are shared.
    const_cache: HashMap<String, String>,
    weight_bytes: usize,
}

impl Onnx {
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(&mut self, op: &str) -> String {
        self.counter += 1;
        format!("{op}_{}", self.counter)
    }

    /// Add a node with one output; returns the output name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<Attr>) -> String {
        self.op_n(op, inputs, attrs, 1).pop().expect("one output")
    }

    /// Add a node with `n` outputs.
    pub fn op_n(&mut self, op: &str, inputs: &[&str], attrs: Vec<Attr>, n: usize) -> Vec<String> {
        let name = self.fresh(op);
        let outputs: Vec<String> = (0..n).map(|i| format!("{name}:{i}")).collect();
        let mut node = NodeProto::new();
        node.name = name;
        node.op_type = op.to_string();
        node.input = inputs.iter().map(|s| s.to_string()).collect();
        node.output = outputs.clone();
        node.attribute = attrs.into_iter().map(attr_proto).collect();
        self.nodes.push(node);
        outputs
    }

    /// Declare a graph input.
    pub fn input(&mut self, d: &TensorDesc) -> String {
        self.inputs.push(value_info(d));
        d.name.to_string()
    }

    /// Declare a graph output, renaming the value `x` to the output's name.
    pub fn output(&mut self, x: &str, d: &TensorDesc) {
        let mut node = NodeProto::new();
        node.name = format!("output_{}", d.name);
        node.op_type = "Identity".into();
        node.input = vec![x.to_string()];
        node.output = vec![d.name.to_string()];
        self.nodes.push(node);
        self.outputs.push(value_info(d));
    }

    /// A named f32 initializer (a weight). `data` may be empty for a shape-only graph.
    pub fn initializer(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        let mut t = TensorProto::new();
        t.name = name.to_string();
        t.dims = dims.iter().map(|&d| d as i64).collect();
        t.data_type = DataType::FLOAT as i32;
        t.raw_data = f32_bytes(data);
        self.weight_bytes += t.raw_data.len();
        self.initializers.push(t);
        name.to_string()
    }

    /// An f32 constant tensor (shared by value).
    pub fn const_f32(&mut self, dims: &[usize], data: &[f32]) -> String {
        self.constant(dims, DataType::FLOAT, f32_bytes(data))
    }

    /// An f32 scalar constant.
    pub fn scalar(&mut self, v: f32) -> String {
        self.const_f32(&[], &[v])
    }

    /// An i64 constant vector (shapes, axes, indices).
    pub fn const_i64(&mut self, data: &[i64]) -> String {
        self.const_i64_shaped(&[data.len()], data)
    }

    /// An i64 scalar constant.
    pub fn scalar_i64(&mut self, v: i64) -> String {
        self.const_i64_shaped(&[], &[v])
    }

    fn const_i64_shaped(&mut self, dims: &[usize], data: &[i64]) -> String {
        self.constant(dims, DataType::INT64, data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// A constant initializer, shared with any earlier constant of the same type, shape and bytes.
    fn constant(&mut self, dims: &[usize], dtype: DataType, raw: Vec<u8>) -> String {
        let key = format!("{dtype:?}{dims:?}{raw:?}");
        if let Some(n) = self.const_cache.get(&key) {
            return n.clone();
        }
        let name = self.fresh("const");
        let mut t = TensorProto::new();
        t.name = name.clone();
        t.dims = dims.iter().map(|&d| d as i64).collect();
        t.data_type = dtype as i32;
        t.raw_data = raw;
        self.initializers.push(t);
        self.const_cache.insert(key, name.clone());
        name
    }

    /// Bytes of f32 weights added through [`Onnx::initializer`].
    pub fn weight_bytes(&self) -> usize {
        self.weight_bytes
    }

    /// Number of nodes so far.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The finished model.
    pub fn into_model(self, doc: &str) -> ModelProto {
        let mut g = GraphProto::new();
        g.name = "jamflow".into();
        g.node = self.nodes;
        g.initializer = self.initializers;
        g.input = self.inputs;
        g.output = self.outputs;
        let mut m = ModelProto::new();
        m.ir_version = IR_VERSION;
        m.producer_name = "jamflow".into();
        m.producer_version = env!("CARGO_PKG_VERSION").into();
        m.doc_string = doc.into();
        let mut opset = OperatorSetIdProto::new();
        opset.domain = String::new();
        opset.version = OPSET;
        m.opset_import = vec![opset];
        m.graph = Some(g).into();
        m
    }
}

/// Serialize a model to bytes (all data inline).
pub fn to_bytes(m: &ModelProto) -> Result<Vec<u8>, ModelError> {
    m.write_to_bytes().map_err(|e| ModelError::Graph(format!("cannot serialize ONNX: {e}")))
}

/// Parse a model from bytes.
pub fn from_bytes(b: &[u8]) -> Result<ModelProto, ModelError> {
    ModelProto::parse_from_bytes(b).map_err(|e| ModelError::Graph(format!("not an ONNX model: {e}")))
}

/// Write `path` (and, when the weights exceed [`EXTERNAL_DATA_THRESHOLD`] or `external` is set,
/// `path` + `.data` beside it holding the initializers, as ONNX external data).
pub fn save(mut m: ModelProto, path: &Path, external: bool) -> Result<(), ModelError> {
    let io_err = |p: &Path, e| ModelError::Io { path: p.to_path_buf(), source: e };
    let g = m.graph.as_mut().ok_or_else(|| ModelError::Graph("model has no graph".into()))?;
    let total: usize = g.initializer.iter().map(|t| t.raw_data.len()).sum();
    if external || total > EXTERNAL_DATA_THRESHOLD {
        let data_name = format!(
            "{}.data",
            path.file_name().and_then(|s| s.to_str()).ok_or_else(|| ModelError::Graph("bad output path".into()))?
        );
        let data_path = path.with_file_name(&data_name);
        let mut data = Vec::with_capacity(total);
        for t in g.initializer.iter_mut() {
            // Keep small constants inline; move weights out.
            if t.raw_data.len() < 1024 {
                continue;
            }
            while data.len() % 64 != 0 {
                data.push(0);
            }
            let offset = data.len();
            data.extend_from_slice(&t.raw_data);
            let len = t.raw_data.len();
            t.raw_data.clear();
            t.data_location = DataLocation::EXTERNAL.into();
            t.external_data =
                [("location", data_name.clone()), ("offset", offset.to_string()), ("length", len.to_string())]
                    .into_iter()
                    .map(|(k, v)| {
                        let mut e = StringStringEntryProto::new();
                        e.key = k.into();
                        e.value = v;
                        e
                    })
                    .collect();
        }
        std::fs::write(&data_path, &data).map_err(|e| io_err(&data_path, e))?;
    }
    let bytes = to_bytes(&m)?;
    std::fs::write(path, bytes).map_err(|e| io_err(path, e))
}

fn f32_bytes(data: &[f32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() * 4);
    for x in data {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

fn attr_proto(a: Attr) -> AttributeProto {
    let mut p = AttributeProto::new();
    match a {
        Attr::Int(n, v) => {
            p.name = n.into();
            p.type_ = AttributeType::INT.into();
            p.i = v;
        }
        Attr::Ints(n, v) => {
            p.name = n.into();
            p.type_ = AttributeType::INTS.into();
            p.ints = v;
        }
        Attr::Float(n, v) => {
            p.name = n.into();
            p.type_ = AttributeType::FLOAT.into();
            p.f = v;
        }
    }
    p
}

fn value_info(d: &TensorDesc) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    shape.dim = d
        .dims
        .iter()
        .map(|dim| {
            let mut x = tensor_shape_proto::Dimension::new();
            x.value = Some(match dim {
                Dim::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(*n as i64),
                other => tensor_shape_proto::dimension::Value::DimParam(other.symbol().unwrap_or("?").into()),
            });
            x
        })
        .collect();
    let mut tt = type_proto::Tensor::new();
    tt.elem_type = elem_type(d.elem);
    tt.shape = Some(shape).into();
    let mut tp = TypeProto::new();
    tp.value = Some(type_proto::Value::TensorType(tt));
    let mut vi = ValueInfoProto::new();
    vi.name = d.name.into();
    vi.type_ = Some(tp).into();
    vi
}

/// Elementwise and shape helpers, one ONNX op each (names as in the ONNX spec).
impl Onnx {
    pub fn add(&mut self, a: &str, b: &str) -> String {
        self.op("Add", &[a, b], vec![])
    }
    pub fn sub(&mut self, a: &str, b: &str) -> String {
        self.op("Sub", &[a, b], vec![])
    }
    pub fn mul(&mut self, a: &str, b: &str) -> String {
        self.op("Mul", &[a, b], vec![])
    }
    pub fn div(&mut self, a: &str, b: &str) -> String {
        self.op("Div", &[a, b], vec![])
    }
    pub fn matmul(&mut self, a: &str, b: &str) -> String {
        self.op("MatMul", &[a, b], vec![])
    }
    pub fn unary(&mut self, op: &str, a: &str) -> String {
        self.op(op, &[a], vec![])
    }
    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.op("Transpose", &[x], vec![Attr::Ints("perm", perm.to_vec())])
    }
    /// Reshape to `shape` (0 copies the input dim, -1 infers).
    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let s = self.const_i64(shape);
        self.op("Reshape", &[x, &s], vec![])
    }
    pub fn reshape_dyn(&mut self, x: &str, shape: &str) -> String {
        self.op("Reshape", &[x, shape], vec![])
    }
    pub fn concat(&mut self, xs: &[&str], axis: i64) -> String {
        self.op("Concat", xs, vec![Attr::Int("axis", axis)])
    }
    pub fn unsqueeze(&mut self, x: &str, axes: &[i64]) -> String {
        let a = self.const_i64(axes);
        self.op("Unsqueeze", &[x, &a], vec![])
    }
    pub fn squeeze(&mut self, x: &str, axes: &[i64]) -> String {
        let a = self.const_i64(axes);
        self.op("Squeeze", &[x, &a], vec![])
    }
    /// `x[start:end]` along `axis` (constant bounds).
    pub fn slice(&mut self, x: &str, axis: i64, start: i64, end: i64) -> String {
        let (s, e, a) = (self.const_i64(&[start]), self.const_i64(&[end]), self.const_i64(&[axis]));
        self.op("Slice", &[x, &s, &e, &a], vec![])
    }
    /// `x[start:end]` along `axis`, bounds given as 1-element i64 tensors.
    pub fn slice_dyn(&mut self, x: &str, axis: i64, start: &str, end: &str) -> String {
        let a = self.const_i64(&[axis]);
        self.op("Slice", &[x, start, end, &a], vec![])
    }
    /// Split `x` along `axis` into `n` equal parts.
    pub fn split_equal(&mut self, x: &str, axis: i64, n: usize, part: usize) -> Vec<String> {
        let sizes = self.const_i64(&vec![part as i64; n]);
        self.op_n("Split", &[x, &sizes], vec![Attr::Int("axis", axis)], n)
    }
    /// Split `x` along `axis` by sizes given as an i64 tensor of `n` elements.
    pub fn split_dyn(&mut self, x: &str, axis: i64, sizes: &str, n: usize) -> Vec<String> {
        self.op_n("Split", &[x, sizes], vec![Attr::Int("axis", axis)], n)
    }
    pub fn cast(&mut self, x: &str, to: Elem) -> String {
        self.op("Cast", &[x], vec![Attr::Int("to", elem_type(to) as i64)])
    }
    pub fn where_(&mut self, c: &str, a: &str, b: &str) -> String {
        self.op("Where", &[c, a, b], vec![])
    }
    pub fn softmax(&mut self, x: &str, axis: i64) -> String {
        self.op("Softmax", &[x], vec![Attr::Int("axis", axis)])
    }
    /// `x.shape[axis]` as a 1-element i64 tensor.
    pub fn dim(&mut self, x: &str, axis: i64) -> String {
        self.op("Shape", &[x], vec![Attr::Int("start", axis), Attr::Int("end", axis + 1)])
    }
    /// `[0, 1, ..., n-1]` as f32, `n` a 1-element i64 tensor.
    pub fn arange_f32(&mut self, n: &str) -> String {
        let n0 = self.squeeze(n, &[0]);
        let nf = self.cast(&n0, Elem::F32);
        let (zero, one) = (self.scalar(0.0), self.scalar(1.0));
        self.op("Range", &[&zero, &nf, &one], vec![])
    }
    /// `[0, 1, ..., n-1]` as i64, `n` a 1-element i64 tensor.
    pub fn arange_i64(&mut self, n: &str) -> String {
        let n0 = self.squeeze(n, &[0]);
        let (zero, one) = (self.scalar_i64(0), self.scalar_i64(1));
        self.op("Range", &[&zero, &n0, &one], vec![])
    }
    /// LayerNormalization over the last axis; without affine parameters when `affine` is `None`.
    pub fn layer_norm(&mut self, x: &str, dim: usize, eps: f32, affine: Option<(&str, &str)>) -> String {
        let (w, b) = match affine {
            Some((w, b)) => (w.to_string(), b.to_string()),
            None => (self.const_f32(&[dim], &vec![1.0; dim]), self.const_f32(&[dim], &vec![0.0; dim])),
        };
        self.op("LayerNormalization", &[x, &w, &b], vec![Attr::Int("axis", -1), Attr::Float("epsilon", eps)])
    }
    /// `x * sigmoid(x)`.
    pub fn silu(&mut self, x: &str) -> String {
        let s = self.unary("Sigmoid", x);
        self.mul(x, &s)
    }
    /// `x * tanh(softplus(x))`.
    pub fn mish(&mut self, x: &str) -> String {
        let sp = self.unary("Softplus", x);
        let t = self.unary("Tanh", &sp);
        self.mul(x, &t)
    }
    /// Exact GELU `0.5 x (1 + erf(x / sqrt 2))`.
    pub fn gelu_erf(&mut self, x: &str) -> String {
        let r = self.scalar(std::f32::consts::FRAC_1_SQRT_2);
        let xr = self.mul(x, &r);
        let e = self.unary("Erf", &xr);
        let one = self.scalar(1.0);
        let e1 = self.add(&e, &one);
        let half = self.scalar(0.5);
        let hx = self.mul(x, &half);
        self.mul(&hx, &e1)
    }
    /// GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    pub fn gelu_tanh(&mut self, x: &str) -> String {
        let x2 = self.mul(x, x);
        let x3 = self.mul(&x2, x);
        let c = self.scalar(0.044715);
        let cx3 = self.mul(&x3, &c);
        let inner = self.add(x, &cx3);
        let k = self.scalar((2.0f64 / std::f64::consts::PI).sqrt() as f32);
        let ki = self.mul(&inner, &k);
        let t = self.unary("Tanh", &ki);
        let one = self.scalar(1.0);
        let t1 = self.add(&t, &one);
        let half = self.scalar(0.5);
        let hx = self.mul(x, &half);
        self.mul(&hx, &t1)
    }
}

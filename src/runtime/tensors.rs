//! Host tensors and their safetensors files (how `jamflow forward`/`sample` read inputs and write outputs).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::RuntimeError;
use crate::model::io::{Dim, Elem, TensorDesc};

/// Typed tensor data.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

/// A tensor in host memory.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

/// Tensors by name.
pub type NamedTensors = BTreeMap<String, HostTensor>;

impl HostTensor {
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data: TensorData::F32(data) }
    }
    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data: TensorData::I64(data) }
    }
    pub fn bool(shape: Vec<usize>, data: Vec<bool>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data: TensorData::Bool(data) }
    }

    pub fn elem(&self) -> Elem {
        match self.data {
            TensorData::F32(_) => Elem::F32,
            TensorData::I64(_) => Elem::I64,
            TensorData::Bool(_) => Elem::Bool,
        }
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            TensorData::I64(v) => Some(v),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<&[bool]> {
        match &self.data {
            TensorData::Bool(v) => Some(v),
            _ => None,
        }
    }

    fn to_bytes(&self) -> (Dtype, Vec<u8>) {
        match &self.data {
            TensorData::F32(v) => (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            TensorData::I64(v) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            TensorData::Bool(v) => (Dtype::BOOL, v.iter().map(|&b| b as u8).collect()),
        }
    }
}

/// Read every tensor of a safetensors file (F32/F16/BF16 -> f32, I64/I32 -> i64, BOOL/U8 -> bool).
pub fn read_safetensors(path: &Path) -> Result<NamedTensors, RuntimeError> {
    let ferr = |msg: String| RuntimeError::File { path: path.to_path_buf(), msg };
    let bytes = std::fs::read(path).map_err(|e| ferr(e.to_string()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| ferr(format!("not a readable safetensors file: {e}")))?;
    let mut out = NamedTensors::new();
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let d = view.data();
        let data = match view.dtype() {
            Dtype::F32 | Dtype::F16 | Dtype::BF16 => TensorData::F32(
                crate::model::weights::to_f32(view.dtype(), d).map_err(|m| ferr(format!("tensor `{name}`: {m}")))?,
            ),
            Dtype::I64 => {
                TensorData::I64(d.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect())
            }
            Dtype::I32 => {
                TensorData::I64(d.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64).collect())
            }
            Dtype::BOOL | Dtype::U8 => TensorData::Bool(d.iter().map(|&b| b != 0).collect()),
            other => {
                return Err(ferr(format!(
                    "tensor `{name}`: dtype {other:?} not supported (expected F32/F16/BF16, I64/I32 or BOOL)"
                )))
            }
        };
        out.insert(name, HostTensor { shape, data });
    }
    Ok(out)
}

/// Write tensors to a safetensors file.
pub fn write_safetensors(path: &Path, tensors: &NamedTensors) -> Result<(), RuntimeError> {
    let ferr = |msg: String| RuntimeError::File { path: path.to_path_buf(), msg };
    let bytes: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = tensors
        .iter()
        .map(|(k, t)| {
            let (dt, b) = t.to_bytes();
            (k.clone(), t.shape.clone(), dt, b)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(k, s, dt, b)| {
            safetensors::tensor::TensorView::new(*dt, s.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| ferr(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize_to_file(views, None, path).map_err(|e| ferr(e.to_string()))
}

/// Check `tensors` against the graph's input descriptions: every input present with the right element
/// type and rank, fixed dims equal, symbolic dims consistent across inputs. Extra tensors are an error.
pub fn check_inputs(descs: &[TensorDesc], tensors: &NamedTensors) -> Result<(), RuntimeError> {
    let mut sym: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for d in descs {
        let t = tensors.get(d.name).ok_or_else(|| RuntimeError::Input {
            name: d.name.into(),
            msg: format!("missing (expected {:?} of shape {})", d.elem, shape_str(&d.dims)),
        })?;
        let err = |msg: String| RuntimeError::Input { name: d.name.into(), msg };
        if t.elem() != d.elem {
            return Err(err(format!("expected element type {:?}, found {:?}", d.elem, t.elem())));
        }
        if t.shape.len() != d.dims.len() {
            return Err(err(format!("expected shape {}, found {:?}", shape_str(&d.dims), t.shape)));
        }
        for (dim, &n) in d.dims.iter().zip(&t.shape) {
            match dim {
                Dim::Fixed(k) if *k != n => {
                    return Err(err(format!("expected shape {}, found {:?}", shape_str(&d.dims), t.shape)))
                }
                Dim::Fixed(_) => {}
                other => {
                    let s = other.symbol().unwrap_or("?");
                    match sym.get(s) {
                        Some((m, from)) if *m != n => {
                            return Err(err(format!("dimension {s} is {n}, but `{from}` has {s} = {m}")))
                        }
                        Some(_) => {}
                        None => {
                            sym.insert(s, (n, d.name));
                        }
                    }
                }
            }
        }
    }
    if let Some(extra) = tensors.keys().find(|k| !descs.iter().any(|d| d.name == k.as_str())) {
        let names: Vec<&str> = descs.iter().map(|d| d.name).collect();
        return Err(RuntimeError::Input {
            name: extra.clone(),
            msg: format!("not an input of this graph (inputs: {})", names.join(", ")),
        });
    }
    Ok(())
}

/// `[B, T, 100]`-style rendering of a description's dims.
pub fn shape_str(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            other => other.symbol().unwrap_or("?").to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

//! `model.safetensors`: loading, with every tensor the config needs checked (name, shape, dtype, finite).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

use super::ModelError;

/// Non-parameter buffers that upstream state dicts carry and the graph recomputes (ignored silently).
pub const UPSTREAM_BUFFERS: &[&str] = &["rotary_embed.inv_freq"];

/// A parameter the graph needs: its state-dict key and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    pub key: String,
    pub shape: Vec<usize>,
}

/// Where the graph builder gets parameter data from.
pub trait ParamSource {
    /// The data of `key` (row-major f32, already checked to have `shape`), or `None` when only the graph's
    /// structure is wanted.
    fn fetch(&mut self, key: &str, shape: &[usize]) -> Result<Option<Vec<f32>>, ModelError>;
}

/// Records what the builder asks for: the package's parameter list, derived from the one graph definition.
#[derive(Default)]
pub struct SpecRecorder {
    pub specs: Vec<ParamSpec>,
}

impl ParamSource for SpecRecorder {
    fn fetch(&mut self, key: &str, shape: &[usize]) -> Result<Option<Vec<f32>>, ModelError> {
        self.specs.push(ParamSpec { key: key.to_string(), shape: shape.to_vec() });
        Ok(None)
    }
}

/// Checked f32 weights of a package.
pub struct Weights {
    path: PathBuf,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    /// Tensors in the file that the config does not use (reported as a warning).
    pub extra: Vec<String>,
}

impl Weights {
    /// Read `path` and check it against `spec`. Extra tensors are allowed but listed in a warning.
    pub fn load(path: &Path, spec: &[ParamSpec]) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::Io { path: path.to_path_buf(), source: e })?;
        Self::from_bytes(path, &bytes, spec, |k| k.to_string())
    }

    /// Check the safetensors `bytes` (read from `path`) against `spec`; `rename` maps file keys to
    /// state-dict keys (identity for packages; strips a prefix for upstream checkpoints) and may return
    /// an empty string to ignore a key.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
        spec: &[ParamSpec],
        rename: impl Fn(&str) -> String,
    ) -> Result<Self, ModelError> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| ModelError::Safetensors { path: path.to_path_buf(), msg: e.to_string() })?;
        let mut by_key: BTreeMap<String, String> = BTreeMap::new();
        for name in st.names() {
            let key = rename(name);
            if !key.is_empty() {
                by_key.insert(key, name.to_string());
            }
        }
        let missing: Vec<String> =
            spec.iter().filter(|s| !by_key.contains_key(&s.key)).map(|s| s.key.clone()).collect();
        if !missing.is_empty() {
            return Err(ModelError::Missing { path: path.to_path_buf(), names: missing });
        }
        let mut tensors = HashMap::with_capacity(spec.len());
        for s in spec {
            let file_name = &by_key[&s.key];
            let view = st.tensor(file_name).map_err(|e| ModelError::Tensor {
                path: path.to_path_buf(),
                tensor: file_name.clone(),
                msg: e.to_string(),
            })?;
            let terr = |msg: String| ModelError::Tensor { path: path.to_path_buf(), tensor: file_name.clone(), msg };
            if view.shape() != s.shape.as_slice() {
                return Err(terr(format!("expected shape {:?}, found {:?}", s.shape, view.shape())));
            }
            let data = to_f32(view.dtype(), view.data()).map_err(terr)?;
            if let Some(i) = data.iter().position(|v| !v.is_finite()) {
                let n = data.iter().filter(|v| !v.is_finite()).count();
                return Err(terr(format!(
                    "expected finite values, found {n} NaN/Inf value(s) (first at flat index {i}: {})",
                    data[i]
                )));
            }
            tensors.insert(s.key.clone(), (s.shape.clone(), data));
        }
        let used: std::collections::HashSet<&str> = spec.iter().map(|s| s.key.as_str()).collect();
        let extra: Vec<String> = by_key
            .keys()
            .filter(|k| !used.contains(k.as_str()) && !UPSTREAM_BUFFERS.contains(&k.as_str()))
            .cloned()
            .collect();
        if !extra.is_empty() {
            tracing::warn!(
                file = %path.display(),
                "{} tensor(s) not used by the config are ignored: {}",
                extra.len(),
                extra.join(", ")
            );
        }
        Ok(Self { path: path.to_path_buf(), tensors, extra })
    }

    /// Build from in-memory tensors (already f32), checking shapes against `spec`.
    pub fn from_map(
        path: &Path,
        map: HashMap<String, (Vec<usize>, Vec<f32>)>,
        spec: &[ParamSpec],
    ) -> Result<Self, ModelError> {
        for s in spec {
            match map.get(&s.key) {
                None => return Err(ModelError::Missing { path: path.to_path_buf(), names: vec![s.key.clone()] }),
                Some((shape, data)) if shape != &s.shape || data.len() != s.shape.iter().product::<usize>() => {
                    return Err(ModelError::Tensor {
                        path: path.to_path_buf(),
                        tensor: s.key.clone(),
                        msg: format!("expected shape {:?}, found {:?}", s.shape, shape),
                    })
                }
                _ => {}
            }
        }
        Ok(Self { path: path.to_path_buf(), tensors: map, extra: Vec::new() })
    }

    /// The file the weights came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One tensor's shape and data.
    pub fn get(&self, key: &str) -> Option<(&[usize], &[f32])> {
        self.tensors.get(key).map(|(s, d)| (s.as_slice(), d.as_slice()))
    }

    /// All keys, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.tensors.keys().map(|s| s.as_str()).collect();
        k.sort_unstable();
        k
    }
}

impl ParamSource for Weights {
    fn fetch(&mut self, key: &str, shape: &[usize]) -> Result<Option<Vec<f32>>, ModelError> {
        match self.tensors.get(key) {
            Some((s, d)) if s.as_slice() == shape => Ok(Some(d.clone())),
            Some((s, _)) => Err(ModelError::Tensor {
                path: self.path.clone(),
                tensor: key.to_string(),
                msg: format!("expected shape {shape:?}, found {s:?}"),
            }),
            None => Err(ModelError::Missing { path: self.path.clone(), names: vec![key.to_string()] }),
        }
    }
}

/// Convert raw little-endian tensor bytes to f32.
pub fn to_f32(dtype: Dtype, data: &[u8]) -> Result<Vec<f32>, String> {
    Ok(match dtype {
        Dtype::F32 => data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => data.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => data.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        other => return Err(format!("expected dtype F32, F16 or BF16, found {other:?}")),
    })
}

/// Write f32 tensors as a safetensors file (sorted keys).
pub fn save_f32(path: &Path, tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) -> Result<(), ModelError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(k, (s, d))| (k.clone(), s.clone(), d.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(k, s, b)| {
            safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| ModelError::Tensor { path: path.to_path_buf(), tensor: k.clone(), msg: e.to_string() })
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize_to_file(views, None, path)
        .map_err(|e| ModelError::Safetensors { path: path.to_path_buf(), msg: e.to_string() })
}

//! The shim (or its mock) through [`super::ffi`]: engine builds and [`TrtBackend`].

use std::ffi::{c_void, CStr, CString};
use std::path::Path;

use super::ffi;
use super::mem::{DeviceMem, Mem};
use super::{EngineBuild, ProfileDim};
use crate::runtime::tensors::{HostTensor, NamedTensors, TensorData};
use crate::runtime::{Backend, RuntimeError};

fn trt_err(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::Provider { provider: "tensorrt".into(), msg: msg.into() }
}

fn cstr(s: &str) -> Result<CString, RuntimeError> {
    CString::new(s).map_err(|_| trt_err(format!("`{s}` contains a NUL byte")))
}

fn path_c(p: &Path) -> Result<CString, RuntimeError> {
    cstr(p.to_str().ok_or_else(|| trt_err(format!("{}: not UTF-8", p.display())))?)
}

/// The TensorRT version (`10.3.0`), or why TensorRT cannot be used (library missing, not TensorRT 10, older
/// than the headers this binary was built with).
pub fn available() -> Result<String, String> {
    // SAFETY: plain C calls with valid out-pointers.
    let abi = unsafe { ffi::jft_abi_version() };
    if abi != ffi::ABI_VERSION {
        return Err(format!("TensorRT shim ABI {abi}, expected {} (rebuild)", ffi::ABI_VERSION));
    }
    let mut v = 0i32;
    let mut e = ffi::err_buf();
    let rc = unsafe { ffi::jft_load(&mut v, e.as_mut_ptr(), ffi::ERR_LEN) };
    if rc != ffi::OK {
        return Err(format!("TensorRT libraries not usable: {}", ffi::message(&e)));
    }
    Ok(format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100))
}

/// `NAME (sm_XY)` of CUDA device `device` (what an engine is specific to); errors name `libcuda.so.1`.
pub fn device_name(device: usize) -> Result<String, RuntimeError> {
    Mem::new(device).and_then(|m| m.device_name()).map_err(trt_err)
}

fn c_profile(profile: &[ProfileDim], names: &[CString]) -> Result<Vec<ffi::ProfileDim>, RuntimeError> {
    let mut dims = Vec::with_capacity(profile.len());
    for (d, n) in profile.iter().zip(names) {
        let rank = d.min.len();
        if rank > ffi::MAX_DIMS || d.opt.len() != rank || d.max.len() != rank {
            return Err(trt_err(format!(
                "input `{}`: rank {rank} (min/opt/max {}/{}/{}; TensorRT allows at most {})",
                d.name,
                d.min.len(),
                d.opt.len(),
                d.max.len(),
                ffi::MAX_DIMS
            )));
        }
        let arr = |v: &[i64]| {
            let mut a = [0i64; ffi::MAX_DIMS];
            a[..v.len()].copy_from_slice(v);
            a
        };
        dims.push(ffi::ProfileDim {
            name: n.as_ptr(),
            nb_dims: rank as i32,
            min: arr(&d.min),
            opt: arr(&d.opt),
            max: arr(&d.max),
        });
    }
    Ok(dims)
}

/// Build and serialize an engine from `onnx` (strongly typed, TF32 off, one optimization profile, a timing
/// cache beside it); the engine file is replaced atomically.
pub fn build_engine(
    onnx: &Path,
    engine: &Path,
    timing_cache: &Path,
    profile: &[ProfileDim],
) -> Result<EngineBuild, RuntimeError> {
    let version = available().map_err(trt_err)?;
    let names: Vec<CString> = profile.iter().map(|d| cstr(&d.name)).collect::<Result<_, _>>()?;
    let dims = c_profile(profile, &names)?;
    let (o, e, c) = (path_c(onnx)?, path_c(engine)?, path_c(timing_cache)?);
    let mut err = ffi::err_buf();
    let mut info = ffi::BuildInfo::default();
    // SAFETY: every pointer is valid for the call; `dims` and `names` outlive it.
    let rc = unsafe {
        ffi::jft_build(
            o.as_ptr(),
            e.as_ptr(),
            c.as_ptr(),
            0,
            dims.as_ptr(),
            dims.len() as i32,
            0,
            &mut info,
            err.as_mut_ptr(),
            ffi::ERR_LEN,
        )
    };
    if rc != ffi::OK {
        return Err(trt_err(format!("engine build (code {rc}): {}", ffi::message(&err))));
    }
    if info.timing_cache_discarded != 0 {
        tracing::warn!(path = %timing_cache.display(), "timing cache unusable by this TensorRT: replaced");
    }
    if info.timing_cache_written == 0 {
        tracing::warn!(path = %timing_cache.display(), "timing cache not written");
    }
    Ok(EngineBuild {
        tensorrt_version: version,
        plan_bytes: info.plan_bytes.max(0) as u64,
        weight_bytes: u64::try_from(info.weight_bytes).ok(),
        timing_cache_discarded: info.timing_cache_discarded != 0,
    })
}

struct Io {
    name: CString,
    is_input: bool,
    dtype: i32,
}

/// One tensor's device buffer, kept between runs and grown when a larger shape needs it.
struct Slot<B> {
    buf: Option<B>,
    capacity: usize,
}

/// A serialized engine run with `enqueueV3` on a stream; device buffers persist across runs.
pub struct TrtBackend {
    engine: *mut ffi::Engine,
    io: Vec<Io>,
    slots: Vec<Slot<<Mem as DeviceMem>::Buf>>,
    mem: Mem,
    describe: String,
}

// SAFETY: the engine and its context are used from one thread at a time (`&mut self` in `run`).
unsafe impl Send for TrtBackend {}

impl Drop for TrtBackend {
    fn drop(&mut self) {
        // SAFETY: created by jft_engine_load, freed once (before the buffers it points at).
        unsafe { ffi::jft_engine_free(self.engine) };
    }
}

fn elem_size(dtype: i32) -> Result<usize, RuntimeError> {
    Ok(match dtype {
        ffi::F32 | ffi::I32 => 4,
        ffi::F16 => 2,
        ffi::BOOL => 1,
        ffi::I64 => 8,
        other => return Err(trt_err(format!("tensor element type {other} not supported"))),
    })
}

fn to_bytes(name: &str, t: &HostTensor, dtype: i32) -> Result<Vec<u8>, RuntimeError> {
    let bad = || trt_err(format!("input `{name}`: host type {:?} does not match the engine's ({dtype})", t.elem()));
    Ok(match (&t.data, dtype) {
        (TensorData::F32(v), ffi::F32) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        (TensorData::F32(v), ffi::F16) => v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect(),
        (TensorData::I64(v), ffi::I64) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        (TensorData::I64(v), ffi::I32) => v.iter().flat_map(|x| (*x as i32).to_le_bytes()).collect(),
        (TensorData::Bool(v), ffi::BOOL) => v.iter().map(|&b| b as u8).collect(),
        _ => return Err(bad()),
    })
}

impl TrtBackend {
    /// Load a serialized engine (built by [`build_engine`] on this GPU and TensorRT version).
    pub fn load(engine_path: &Path, device: usize) -> Result<Self, RuntimeError> {
        let version = available().map_err(trt_err)?;
        let mem = Mem::new(device).map_err(trt_err)?;
        let p = path_c(engine_path)?;
        let mut e = std::ptr::null_mut();
        let mut err = ffi::err_buf();
        // SAFETY: valid C string and out-pointers.
        let rc = unsafe { ffi::jft_engine_load(p.as_ptr(), &mut e, err.as_mut_ptr(), ffi::ERR_LEN) };
        if rc != ffi::OK || e.is_null() {
            return Err(RuntimeError::File { path: engine_path.into(), msg: ffi::message(&err) });
        }
        let n = unsafe { ffi::jft_engine_io_count(e) };
        let mut io = Vec::with_capacity(n.max(0) as usize);
        for i in 0..n {
            let (mut name, mut is_in, mut dt) = (std::ptr::null(), 0i32, 0i32);
            // SAFETY: index in range; the name stays valid while the engine lives (copied at once).
            let rc = unsafe { ffi::jft_engine_io(e, i, &mut name, &mut is_in, &mut dt) };
            if rc != ffi::OK || name.is_null() {
                unsafe { ffi::jft_engine_free(e) };
                return Err(trt_err(format!("engine I/O {i}: code {rc}")));
            }
            io.push(Io { name: unsafe { CStr::from_ptr(name) }.to_owned(), is_input: is_in != 0, dtype: dt });
        }
        let slots = io.iter().map(|_| Slot { buf: None, capacity: 0 }).collect();
        Ok(Self { engine: e, io, slots, mem, describe: format!("tensorrt {version} native") })
    }

    /// Names of the engine's inputs and outputs.
    pub fn io_names(&self) -> (Vec<String>, Vec<String>) {
        let name = |x: &Io| x.name.to_string_lossy().into_owned();
        (
            self.io.iter().filter(|x| x.is_input).map(name).collect(),
            self.io.iter().filter(|x| !x.is_input).map(name).collect(),
        )
    }

    /// The device buffer of tensor `k` with room for `bytes`, bound to the engine; reallocated only to grow.
    fn bind(&mut self, k: usize, bytes: usize) -> Result<(), RuntimeError> {
        let slot = &mut self.slots[k];
        if slot.buf.is_none() || slot.capacity < bytes {
            slot.buf = None; // free the old one first: device memory is tight on a Jetson
            slot.buf = Some(self.mem.alloc(bytes).map_err(trt_err)?);
            slot.capacity = bytes.max(1);
        }
        let ptr: *mut c_void = self.mem.ptr(slot.buf.as_mut().expect("allocated above"));
        let mut err = ffi::err_buf();
        // SAFETY: valid engine and C string; the buffer lives in `self.slots` as long as the engine uses it.
        let rc = unsafe {
            ffi::jft_engine_set_address(self.engine, self.io[k].name.as_ptr(), ptr, err.as_mut_ptr(), ffi::ERR_LEN)
        };
        if rc != ffi::OK {
            return Err(trt_err(ffi::message(&err)));
        }
        Ok(())
    }

    fn set_input(&mut self, k: usize, t: &HostTensor) -> Result<(), RuntimeError> {
        let name = self.io[k].name.to_string_lossy().into_owned();
        if t.shape.len() > ffi::MAX_DIMS {
            return Err(RuntimeError::Input {
                name,
                msg: format!("rank {} (TensorRT allows at most {})", t.shape.len(), ffi::MAX_DIMS),
            });
        }
        let dims: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
        let mut err = ffi::err_buf();
        // SAFETY: valid engine, C string and dims for the call.
        let rc = unsafe {
            ffi::jft_engine_set_input_shape(
                self.engine,
                self.io[k].name.as_ptr(),
                dims.as_ptr(),
                dims.len() as i32,
                err.as_mut_ptr(),
                ffi::ERR_LEN,
            )
        };
        if rc != ffi::OK {
            return Err(RuntimeError::Input { name, msg: ffi::message(&err) });
        }
        let bytes = to_bytes(&name, t, self.io[k].dtype)?;
        self.bind(k, bytes.len())?;
        self.mem.write(self.slots[k].buf.as_mut().expect("bound"), &bytes).map_err(trt_err)
    }

    fn output_shape(&self, k: usize) -> Result<Vec<usize>, RuntimeError> {
        let mut dims = [0i64; ffi::MAX_DIMS];
        let mut nb = 0i32;
        // SAFETY: valid engine and out-buffers of MAX_DIMS.
        let rc =
            unsafe { ffi::jft_engine_get_shape(self.engine, self.io[k].name.as_ptr(), dims.as_mut_ptr(), &mut nb) };
        if rc != ffi::OK || !(0..=ffi::MAX_DIMS as i32).contains(&nb) || dims[..nb as usize].iter().any(|&d| d < 0) {
            return Err(trt_err(format!("output `{}`: shape unresolved", self.io[k].name.to_string_lossy())));
        }
        Ok(dims[..nb as usize].iter().map(|&d| d as usize).collect())
    }
}

impl Backend for TrtBackend {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn run(&mut self, inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError> {
        for k in 0..self.io.len() {
            if !self.io[k].is_input {
                continue;
            }
            let name = self.io[k].name.to_string_lossy().into_owned();
            let t = inputs.get(&name).ok_or_else(|| RuntimeError::Input { name, msg: "missing".into() })?;
            self.set_input(k, t)?;
        }
        let mut outs = Vec::new();
        for k in 0..self.io.len() {
            if self.io[k].is_input {
                continue;
            }
            let shape = self.output_shape(k)?;
            let bytes = shape.iter().product::<usize>() * elem_size(self.io[k].dtype)?;
            self.bind(k, bytes)?;
            outs.push((k, shape, bytes));
        }
        let mut err = ffi::err_buf();
        // SAFETY: every I/O tensor has a bound buffer (in `self.slots`) that outlives the sync below.
        let rc = unsafe { ffi::jft_engine_enqueue(self.engine, self.mem.stream(), err.as_mut_ptr(), ffi::ERR_LEN) };
        if rc != ffi::OK {
            return Err(trt_err(ffi::message(&err)));
        }
        self.mem.sync().map_err(trt_err)?;
        let mut result = NamedTensors::new();
        for (k, shape, bytes) in outs {
            let raw = self.mem.read(self.slots[k].buf.as_ref().expect("bound"), bytes).map_err(trt_err)?;
            let data: Vec<f32> = match self.io[k].dtype {
                ffi::F32 => raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
                ffi::F16 => raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
                other => return Err(trt_err(format!("output element type {other}: expected float"))),
            };
            result.insert(self.io[k].name.to_string_lossy().into_owned(), HostTensor::f32(shape, data));
        }
        Ok(result)
    }
}

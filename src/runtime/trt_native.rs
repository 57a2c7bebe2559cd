//! Native TensorRT (10.x, as on JetPack 6) behind the C ABI of `csrc/jamflow_trt.h`.
//!
//! - cargo feature `tensorrt-native`: `csrc/jamflow_trt.cpp` (a thin C++ shim over NvInfer.h /
//!   NvOnnxParser.h) is compiled by `build.rs`; it opens libnvinfer / libnvonnxparser with `dlopen`, so
//!   the binary links and starts without them and reports their absence as an error.
//! - cargo feature `tensorrt-mock`: `csrc/jamflow_trt_mock.c` implements the same ABI on the host (CI
//!   tests the Rust side against it).
//! - neither: every entry point is a clear error.
//!
//! The shape profile ([`profile_for`]) is pure and always available.

use std::path::Path;

use crate::compile::shapes::ShapeRanges;
use crate::compile::Precision;
use crate::model::{io, ModelConfig};

/// One dynamic input's optimization-profile range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileDim {
    pub name: String,
    pub min: Vec<i64>,
    pub opt: Vec<i64>,
    pub max: Vec<i64>,
}

/// The optimization profile of every graph input for `shapes`.
pub fn profile_for(cfg: &ModelConfig, shapes: &ShapeRanges) -> Vec<ProfileDim> {
    io::inputs(cfg)
        .iter()
        .map(|d| {
            let at = |k: usize| -> Vec<i64> {
                d.dims
                    .iter()
                    .map(|dim| {
                        (match dim {
                            io::Dim::Batch => shapes.batch[k],
                            io::Dim::Mel => shapes.mel[k],
                            io::Dim::Text => shapes.text.map_or(1, |r| r[k]),
                            io::Dim::Motion => shapes.motion.map_or(1, |r| r[k]),
                            io::Dim::Fixed(n) => *n,
                        }) as i64
                    })
                    .collect()
            };
            ProfileDim { name: d.name.to_string(), min: at(0), opt: at(1), max: at(2) }
        })
        .collect()
}

#[cfg(not(any(feature = "tensorrt-native", feature = "tensorrt-mock")))]
mod imp {
    use super::*;
    use crate::runtime::RuntimeError;

    const MSG: &str = "this build has no native TensorRT: build with `--features tensorrt-native` on the Jetson \
                       (TensorRT 10 headers; the libraries are opened at run time)";

    pub fn available() -> Result<String, String> {
        Err(MSG.into())
    }

    pub fn build_engine(
        _onnx: &Path,
        _engine: &Path,
        _timing_cache: &Path,
        _p: Precision,
        _profile: &[ProfileDim],
    ) -> Result<String, RuntimeError> {
        Err(RuntimeError::Provider { provider: "tensorrt".into(), msg: MSG.into() })
    }
}

#[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
mod ffi {
    use std::ffi::{c_char, c_void};

    pub const MAX_DIMS: usize = 8;
    pub const FLAG_FP16: u32 = 1;
    pub const FLAG_INT8: u32 = 2;
    pub const FLAG_STRONGLY_TYPED: u32 = 4;
    pub const F32: i32 = 0;
    pub const F16: i32 = 1;
    pub const I32: i32 = 3;
    pub const BOOL: i32 = 4;
    pub const I64: i32 = 5;

    #[repr(C)]
    pub struct ProfileDim {
        pub name: *const c_char,
        pub nb_dims: i32,
        pub min: [i64; MAX_DIMS],
        pub opt: [i64; MAX_DIMS],
        pub max: [i64; MAX_DIMS],
    }

    #[repr(C)]
    pub struct Engine {
        _private: [u8; 0],
    }

    extern "C" {
        pub fn jft_abi_version() -> i32;
        pub fn jft_load(version: *mut i32, err: *mut c_char, err_len: usize) -> i32;
        #[allow(clippy::too_many_arguments)]
        pub fn jft_build(
            onnx_path: *const c_char,
            engine_path: *const c_char,
            timing_cache_path: *const c_char,
            flags: u32,
            dims: *const ProfileDim,
            n_dims: i32,
            workspace_bytes: u64,
            err: *mut c_char,
            err_len: usize,
        ) -> i32;
        pub fn jft_engine_load(path: *const c_char, out: *mut *mut Engine, err: *mut c_char, err_len: usize) -> i32;
        pub fn jft_engine_free(e: *mut Engine);
        pub fn jft_engine_io_count(e: *const Engine) -> i32;
        pub fn jft_engine_io(
            e: *const Engine,
            index: i32,
            name: *mut *const c_char,
            is_input: *mut i32,
            dtype: *mut i32,
        ) -> i32;
        pub fn jft_engine_set_input_shape(
            e: *mut Engine,
            name: *const c_char,
            dims: *const i64,
            nb_dims: i32,
            err: *mut c_char,
            err_len: usize,
        ) -> i32;
        pub fn jft_engine_get_shape(e: *const Engine, name: *const c_char, dims: *mut i64, nb_dims: *mut i32) -> i32;
        pub fn jft_engine_set_address(e: *mut Engine, name: *const c_char, ptr: *mut c_void) -> i32;
        pub fn jft_engine_enqueue(e: *mut Engine, stream: *mut c_void, err: *mut c_char, err_len: usize) -> i32;
    }
}

/// Device buffers and the stream the engine runs on.
#[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
trait DeviceMem {
    type Buf;
    fn upload(&self, bytes: &[u8]) -> Result<Self::Buf, String>;
    fn alloc(&self, n: usize) -> Result<Self::Buf, String>;
    fn ptr(&self, b: &mut Self::Buf) -> *mut std::ffi::c_void;
    fn download(&self, b: &Self::Buf, n: usize) -> Result<Vec<u8>, String>;
    fn stream(&self) -> *mut std::ffi::c_void;
    fn sync(&self) -> Result<(), String>;
}

/// The mock's "device": host memory (8-byte aligned), no stream.
#[cfg(all(feature = "tensorrt-mock", not(feature = "tensorrt-native")))]
struct HostMem;

#[cfg(all(feature = "tensorrt-mock", not(feature = "tensorrt-native")))]
impl DeviceMem for HostMem {
    type Buf = Vec<u64>;
    fn upload(&self, bytes: &[u8]) -> Result<Vec<u64>, String> {
        let mut v = vec![0u64; bytes.len().div_ceil(8).max(1)];
        // SAFETY: v holds at least bytes.len() bytes; u64 has no invalid bit patterns.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr() as *mut u8, bytes.len()) };
        Ok(v)
    }
    fn alloc(&self, n: usize) -> Result<Vec<u64>, String> {
        Ok(vec![0u64; n.div_ceil(8).max(1)])
    }
    fn ptr(&self, b: &mut Vec<u64>) -> *mut std::ffi::c_void {
        b.as_mut_ptr() as *mut std::ffi::c_void
    }
    fn download(&self, b: &Vec<u64>, n: usize) -> Result<Vec<u8>, String> {
        // SAFETY: b holds at least n bytes (allocated for them).
        Ok(unsafe { std::slice::from_raw_parts(b.as_ptr() as *const u8, n) }.to_vec())
    }
    fn stream(&self) -> *mut std::ffi::c_void {
        std::ptr::null_mut()
    }
    fn sync(&self) -> Result<(), String> {
        Ok(())
    }
}

/// CUDA device buffers and a stream through cudarc (libcuda loaded at run time).
#[cfg(feature = "tensorrt-native")]
struct CudaMem {
    stream: std::sync::Arc<cudarc::driver::CudaStream>,
}

#[cfg(feature = "tensorrt-native")]
impl CudaMem {
    fn new(device: usize) -> Result<Self, String> {
        let ctx = cudarc::driver::CudaContext::new(device).map_err(|e| format!("CUDA device {device}: {e:?}"))?;
        let stream = ctx.new_stream().map_err(|e| format!("CUDA stream: {e:?}"))?;
        Ok(Self { stream })
    }
}

#[cfg(feature = "tensorrt-native")]
impl DeviceMem for CudaMem {
    type Buf = cudarc::driver::CudaSlice<u8>;
    fn upload(&self, bytes: &[u8]) -> Result<Self::Buf, String> {
        self.stream.clone_htod(bytes).map_err(|e| format!("host -> device copy: {e:?}"))
    }
    fn alloc(&self, n: usize) -> Result<Self::Buf, String> {
        self.stream.alloc_zeros::<u8>(n.max(1)).map_err(|e| format!("device alloc of {n} bytes: {e:?}"))
    }
    fn ptr(&self, b: &mut Self::Buf) -> *mut std::ffi::c_void {
        use cudarc::driver::DevicePtr;
        let (p, _sync) = b.device_ptr(&self.stream);
        p as usize as *mut std::ffi::c_void
    }
    fn download(&self, b: &Self::Buf, n: usize) -> Result<Vec<u8>, String> {
        let mut v = self.stream.clone_dtoh(b).map_err(|e| format!("device -> host copy: {e:?}"))?;
        v.truncate(n);
        Ok(v)
    }
    fn stream(&self) -> *mut std::ffi::c_void {
        self.stream.cu_stream() as *mut std::ffi::c_void
    }
    fn sync(&self) -> Result<(), String> {
        self.stream.synchronize().map_err(|e| format!("stream sync: {e:?}"))
    }
}

#[cfg(feature = "tensorrt-native")]
type Mem = CudaMem;
#[cfg(all(feature = "tensorrt-mock", not(feature = "tensorrt-native")))]
type Mem = HostMem;

#[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
mod imp {
    use std::ffi::{c_char, CStr, CString};

    use super::ffi;
    use super::*;
    use crate::runtime::tensors::{HostTensor, NamedTensors, TensorData};
    use crate::runtime::{Backend, RuntimeError};

    const ERR_LEN: usize = 2048;

    fn trt_err(msg: impl Into<String>) -> RuntimeError {
        RuntimeError::Provider { provider: "tensorrt".into(), msg: msg.into() }
    }

    fn cstr(s: &str) -> Result<CString, RuntimeError> {
        CString::new(s).map_err(|_| trt_err(format!("`{s}` contains a NUL byte")))
    }

    fn path_c(p: &Path) -> Result<CString, RuntimeError> {
        cstr(p.to_str().ok_or_else(|| trt_err(format!("{}: not UTF-8", p.display())))?)
    }

    fn msg(buf: &[c_char]) -> String {
        // SAFETY: the shim writes a NUL-terminated string within the buffer (zero-initialized).
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
    }

    /// The TensorRT version (`10.3.0`), or why TensorRT cannot be used.
    pub fn available() -> Result<String, String> {
        // SAFETY: plain C calls with valid out-pointers.
        let abi = unsafe { ffi::jft_abi_version() };
        if abi != 1 {
            return Err(format!("TensorRT shim ABI {abi}, expected 1 (rebuild)"));
        }
        let mut v = 0i32;
        let mut e = [0 as c_char; ERR_LEN];
        let rc = unsafe { ffi::jft_load(&mut v, e.as_mut_ptr(), ERR_LEN) };
        if rc != 0 {
            return Err(format!("TensorRT libraries not usable: {}", msg(&e)));
        }
        Ok(format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100))
    }

    /// Builder flags of a precision. FP16 and W8A16 graphs carry their types (FP16 with the FP32 islands
    /// of `compile::fp16`, FP16-output weight dequantization): a strongly typed network keeps exactly those
    /// islands. INT8 graphs are FP32 + Q/DQ: weakly typed with FP16 + INT8, so TensorRT may run the
    /// unquantized layers in FP16. FP32: no flags.
    pub fn flags(p: Precision) -> u32 {
        match p {
            Precision::Fp32 => 0,
            Precision::Fp16 | Precision::W8a16 => ffi::FLAG_STRONGLY_TYPED,
            Precision::Int8 => ffi::FLAG_FP16 | ffi::FLAG_INT8,
        }
    }

    /// Build and serialize an engine from `onnx` (one optimization profile, a timing cache beside it).
    /// Returns the TensorRT version.
    pub fn build_engine(
        onnx: &Path,
        engine: &Path,
        timing_cache: &Path,
        p: Precision,
        profile: &[ProfileDim],
    ) -> Result<String, RuntimeError> {
        let version = available().map_err(trt_err)?;
        let names: Vec<CString> = profile.iter().map(|d| cstr(&d.name)).collect::<Result<_, _>>()?;
        let mut dims = Vec::with_capacity(profile.len());
        for (d, n) in profile.iter().zip(&names) {
            if d.min.len() > ffi::MAX_DIMS {
                return Err(trt_err(format!("input `{}`: rank {} > {}", d.name, d.min.len(), ffi::MAX_DIMS)));
            }
            let arr = |v: &[i64]| {
                let mut a = [0i64; ffi::MAX_DIMS];
                a[..v.len()].copy_from_slice(v);
                a
            };
            dims.push(ffi::ProfileDim {
                name: n.as_ptr(),
                nb_dims: d.min.len() as i32,
                min: arr(&d.min),
                opt: arr(&d.opt),
                max: arr(&d.max),
            });
        }
        let (o, e, c) = (path_c(onnx)?, path_c(engine)?, path_c(timing_cache)?);
        let mut err = [0 as c_char; ERR_LEN];
        // SAFETY: every pointer is valid for the call; `dims` and `names` outlive it.
        let rc = unsafe {
            ffi::jft_build(
                o.as_ptr(),
                e.as_ptr(),
                c.as_ptr(),
                flags(p),
                dims.as_ptr(),
                dims.len() as i32,
                0,
                err.as_mut_ptr(),
                ERR_LEN,
            )
        };
        if rc != 0 {
            return Err(trt_err(format!("engine build (code {rc}): {}", msg(&err))));
        }
        Ok(version)
    }

    struct Io {
        name: CString,
        is_input: bool,
        dtype: i32,
    }

    /// A serialized engine run with `enqueueV3` on a stream, device buffers per call.
    pub struct TrtBackend {
        engine: *mut ffi::Engine,
        io: Vec<Io>,
        mem: Mem,
        describe: String,
    }

    // SAFETY: the engine and its context are used from one thread at a time (`&mut self` in `run`).
    unsafe impl Send for TrtBackend {}

    impl Drop for TrtBackend {
        fn drop(&mut self) {
            // SAFETY: created by jft_engine_load, freed once.
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
        /// Load a serialized engine (built by [`build_engine`] on this device and TensorRT version).
        pub fn load(engine_path: &Path, device: usize) -> Result<Self, RuntimeError> {
            let version = available().map_err(trt_err)?;
            #[cfg(feature = "tensorrt-native")]
            let mem = CudaMem::new(device).map_err(trt_err)?;
            #[cfg(not(feature = "tensorrt-native"))]
            let mem = {
                let _ = device;
                HostMem
            };
            let p = path_c(engine_path)?;
            let mut e = std::ptr::null_mut();
            let mut err = [0 as c_char; ERR_LEN];
            // SAFETY: valid C string and out-pointers.
            let rc = unsafe { ffi::jft_engine_load(p.as_ptr(), &mut e, err.as_mut_ptr(), ERR_LEN) };
            if rc != 0 || e.is_null() {
                return Err(RuntimeError::File { path: engine_path.into(), msg: msg(&err) });
            }
            let n = unsafe { ffi::jft_engine_io_count(e) };
            let mut io = Vec::with_capacity(n.max(0) as usize);
            for i in 0..n {
                let (mut name, mut is_in, mut dt) = (std::ptr::null(), 0i32, 0i32);
                // SAFETY: index in range; the name stays valid while the engine lives (copied at once).
                let rc = unsafe { ffi::jft_engine_io(e, i, &mut name, &mut is_in, &mut dt) };
                if rc != 0 {
                    unsafe { ffi::jft_engine_free(e) };
                    return Err(trt_err(format!("engine I/O {i}: code {rc}")));
                }
                io.push(Io { name: unsafe { CStr::from_ptr(name) }.to_owned(), is_input: is_in != 0, dtype: dt });
            }
            Ok(Self { engine: e, io, mem, describe: format!("tensorrt {version} native") })
        }

        /// Names of the engine's inputs and outputs.
        pub fn io_names(&self) -> (Vec<String>, Vec<String>) {
            let name = |x: &Io| x.name.to_string_lossy().into_owned();
            (
                self.io.iter().filter(|x| x.is_input).map(name).collect(),
                self.io.iter().filter(|x| !x.is_input).map(name).collect(),
            )
        }
    }

    impl Backend for TrtBackend {
        fn describe(&self) -> String {
            self.describe.clone()
        }

        fn run(&mut self, inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError> {
            let mut bufs = Vec::with_capacity(self.io.len());
            let mut err = [0 as c_char; ERR_LEN];
            for x in self.io.iter().filter(|x| x.is_input) {
                let name = x.name.to_string_lossy();
                let t = inputs
                    .get(name.as_ref())
                    .ok_or_else(|| RuntimeError::Input { name: name.to_string(), msg: "missing".into() })?;
                let dims: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
                // SAFETY: valid engine, C string and dims for the call.
                let rc = unsafe {
                    ffi::jft_engine_set_input_shape(
                        self.engine,
                        x.name.as_ptr(),
                        dims.as_ptr(),
                        dims.len() as i32,
                        err.as_mut_ptr(),
                        ERR_LEN,
                    )
                };
                if rc != 0 {
                    return Err(RuntimeError::Input { name: name.to_string(), msg: msg(&err) });
                }
                let mut b = self.mem.upload(&to_bytes(&name, t, x.dtype)?).map_err(trt_err)?;
                let ptr = self.mem.ptr(&mut b);
                unsafe { ffi::jft_engine_set_address(self.engine, x.name.as_ptr(), ptr) };
                bufs.push(b);
            }
            let mut outs = Vec::new();
            for x in self.io.iter().filter(|x| !x.is_input) {
                let mut dims = [0i64; ffi::MAX_DIMS];
                let mut nb = 0i32;
                // SAFETY: valid engine and out-buffers of MAX_DIMS.
                let rc = unsafe { ffi::jft_engine_get_shape(self.engine, x.name.as_ptr(), dims.as_mut_ptr(), &mut nb) };
                if rc != 0 || nb < 0 || dims[..nb as usize].iter().any(|&d| d < 0) {
                    return Err(trt_err(format!("output `{}`: shape unresolved", x.name.to_string_lossy())));
                }
                let shape: Vec<usize> = dims[..nb as usize].iter().map(|&d| d as usize).collect();
                let bytes = shape.iter().product::<usize>() * elem_size(x.dtype)?;
                let mut b = self.mem.alloc(bytes).map_err(trt_err)?;
                let ptr = self.mem.ptr(&mut b);
                unsafe { ffi::jft_engine_set_address(self.engine, x.name.as_ptr(), ptr) };
                outs.push((x, shape, bytes, b));
            }
            // SAFETY: every I/O tensor has a bound buffer that lives until after the sync below.
            let rc = unsafe { ffi::jft_engine_enqueue(self.engine, self.mem.stream(), err.as_mut_ptr(), ERR_LEN) };
            if rc != 0 {
                return Err(trt_err(msg(&err)));
            }
            self.mem.sync().map_err(trt_err)?;
            let mut result = NamedTensors::new();
            for (x, shape, bytes, b) in &outs {
                let raw = self.mem.download(b, *bytes).map_err(trt_err)?;
                let data: Vec<f32> = match x.dtype {
                    ffi::F32 => raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
                    ffi::F16 => raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
                    other => return Err(trt_err(format!("output element type {other}: expected float"))),
                };
                result.insert(x.name.to_string_lossy().into_owned(), HostTensor::f32(shape.clone(), data));
            }
            drop(bufs);
            Ok(result)
        }
    }
}

pub use imp::*;

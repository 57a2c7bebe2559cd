//! Device memory and the stream an engine runs on: CUDA through `cudarc` (feature `tensorrt-native`) or
//! host memory for the mock.

use std::ffi::c_void;

/// Device buffers and the stream the engine runs on.
pub(super) trait DeviceMem {
    type Buf;
    /// A buffer of at least `n` bytes.
    fn alloc(&self, n: usize) -> Result<Self::Buf, String>;
    /// Copy `bytes` into the start of `b` (which holds at least as many).
    fn write(&self, b: &mut Self::Buf, bytes: &[u8]) -> Result<(), String>;
    /// The first `n` bytes of `b` (valid after [`DeviceMem::sync`]).
    fn read(&self, b: &Self::Buf, n: usize) -> Result<Vec<u8>, String>;
    fn ptr(&self, b: &mut Self::Buf) -> *mut c_void;
    fn stream(&self) -> *mut c_void;
    fn sync(&self) -> Result<(), String>;
    /// `NAME (sm_XY)` of the device.
    fn device_name(&self) -> Result<String, String>;
}

/// The mock's "device": host memory (8-byte aligned), no stream.
#[cfg(all(feature = "tensorrt-mock", not(feature = "tensorrt-native")))]
pub(super) struct HostMem;

#[cfg(all(feature = "tensorrt-mock", not(feature = "tensorrt-native")))]
impl HostMem {
    pub(super) fn new(_device: usize) -> Result<Self, String> {
        Ok(Self)
    }
}

#[cfg(all(feature = "tensorrt-mock", not(feature = "tensorrt-native")))]
impl DeviceMem for HostMem {
    type Buf = Vec<u64>;
    fn alloc(&self, n: usize) -> Result<Vec<u64>, String> {
        Ok(vec![0u64; n.div_ceil(8).max(1)])
    }
    fn write(&self, b: &mut Vec<u64>, bytes: &[u8]) -> Result<(), String> {
        if bytes.len() > b.len() * 8 {
            return Err(format!("write of {} bytes into a buffer of {}", bytes.len(), b.len() * 8));
        }
        // SAFETY: b holds at least bytes.len() bytes (checked); u64 has no invalid bit patterns.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), b.as_mut_ptr() as *mut u8, bytes.len()) };
        Ok(())
    }
    fn read(&self, b: &Vec<u64>, n: usize) -> Result<Vec<u8>, String> {
        if n > b.len() * 8 {
            return Err(format!("read of {n} bytes from a buffer of {}", b.len() * 8));
        }
        // SAFETY: b holds at least n bytes (checked).
        Ok(unsafe { std::slice::from_raw_parts(b.as_ptr() as *const u8, n) }.to_vec())
    }
    fn ptr(&self, b: &mut Vec<u64>) -> *mut c_void {
        b.as_mut_ptr() as *mut c_void
    }
    fn stream(&self) -> *mut c_void {
        std::ptr::null_mut()
    }
    fn sync(&self) -> Result<(), String> {
        Ok(())
    }
    fn device_name(&self) -> Result<String, String> {
        Ok("mock GPU (sm_00)".into())
    }
}

/// The NVIDIA driver's CUDA library, which `cudarc` opens on first use (and panics without).
#[cfg(feature = "tensorrt-native")]
pub(super) const LIBCUDA: &str = "libcuda.so.1";

/// CUDA device buffers and a stream through cudarc (libcuda loaded at run time).
#[cfg(feature = "tensorrt-native")]
pub(super) struct CudaMem {
    stream: std::sync::Arc<cudarc::driver::CudaStream>,
}

#[cfg(feature = "tensorrt-native")]
impl CudaMem {
    pub(super) fn new(device: usize) -> Result<Self, String> {
        // cudarc panics when it cannot open libcuda: look for it first, and contain any panic left.
        // SAFETY: only tries to dlopen the library names.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(format!("{LIBCUDA} not found (the NVIDIA driver's CUDA library; is this a GPU machine?)"));
        }
        let ctx = std::panic::catch_unwind(|| cudarc::driver::CudaContext::new(device))
            .map_err(|_| format!("{LIBCUDA}: the CUDA driver library could not be used"))?
            .map_err(|e| format!("CUDA device {device}: {e:?}"))?;
        let stream = ctx.new_stream().map_err(|e| format!("CUDA stream: {e:?}"))?;
        Ok(Self { stream })
    }
}

#[cfg(feature = "tensorrt-native")]
impl DeviceMem for CudaMem {
    type Buf = cudarc::driver::CudaSlice<u8>;
    fn alloc(&self, n: usize) -> Result<Self::Buf, String> {
        self.stream.alloc_zeros::<u8>(n.max(1)).map_err(|e| format!("device alloc of {n} bytes: {e:?}"))
    }
    fn write(&self, b: &mut Self::Buf, bytes: &[u8]) -> Result<(), String> {
        if bytes.len() > b.len() {
            return Err(format!("write of {} bytes into a buffer of {}", bytes.len(), b.len()));
        }
        let mut dst = b.slice_mut(0..bytes.len());
        self.stream.memcpy_htod(bytes, &mut dst).map_err(|e| format!("host -> device copy: {e:?}"))
    }
    fn read(&self, b: &Self::Buf, n: usize) -> Result<Vec<u8>, String> {
        if n > b.len() {
            return Err(format!("read of {n} bytes from a buffer of {}", b.len()));
        }
        let mut v = vec![0u8; n];
        self.stream.memcpy_dtoh(&b.slice(0..n), &mut v).map_err(|e| format!("device -> host copy: {e:?}"))?;
        self.sync()?;
        Ok(v)
    }
    fn ptr(&self, b: &mut Self::Buf) -> *mut c_void {
        use cudarc::driver::DevicePtr;
        let (p, _sync) = b.device_ptr(&self.stream);
        p as usize as *mut c_void
    }
    fn stream(&self) -> *mut c_void {
        self.stream.cu_stream() as *mut c_void
    }
    fn sync(&self) -> Result<(), String> {
        self.stream.synchronize().map_err(|e| format!("stream sync: {e:?}"))
    }
    fn device_name(&self) -> Result<String, String> {
        let ctx = self.stream.context();
        let name = ctx.name().map_err(|e| format!("CUDA device name: {e:?}"))?;
        let (major, minor) = ctx.compute_capability().map_err(|e| format!("CUDA compute capability: {e:?}"))?;
        Ok(format!("{name} (sm_{major}{minor})"))
    }
}

#[cfg(feature = "tensorrt-native")]
pub(super) type Mem = CudaMem;
#[cfg(all(feature = "tensorrt-mock", not(feature = "tensorrt-native")))]
pub(super) type Mem = HostMem;

//! The C ABI of `csrc/jamflow_trt.h` (ABI 2), declared once. Public only for the mock tests.

use std::ffi::{c_char, c_void};

pub const ABI_VERSION: i32 = 2;
pub const MAX_DIMS: usize = 8;
pub const FLAG_TF32: u32 = 8;

pub const OK: i32 = 0;
pub const ERR_LIBRARY: i32 = 1;
pub const ERR_BUILD: i32 = 3;
pub const ERR_ARG: i32 = 5;
pub const ERR_RUNTIME: i32 = 6;
pub const ERR_VERSION: i32 = 7;
pub const ERR_INTERNAL: i32 = 8;

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
#[derive(Debug, Default, Clone, Copy)]
pub struct BuildInfo {
    pub plan_bytes: i64,
    pub weight_bytes: i64,
    pub timing_cache_discarded: i32,
    pub timing_cache_written: i32,
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
        info: *mut BuildInfo,
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
    pub fn jft_engine_set_address(
        e: *mut Engine,
        name: *const c_char,
        ptr: *mut c_void,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    pub fn jft_engine_enqueue(e: *mut Engine, stream: *mut c_void, err: *mut c_char, err_len: usize) -> i32;
}

/// Room for the shim's messages.
pub const ERR_LEN: usize = 2048;

/// A zeroed message buffer.
pub fn err_buf() -> [c_char; ERR_LEN] {
    [0; ERR_LEN]
}

/// The message the shim wrote into `buf`.
pub fn message(buf: &[c_char]) -> String {
    // The buffer is zero-initialized and the shim NUL-terminates within it; the last byte stays NUL.
    let bytes: Vec<u8> = buf.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

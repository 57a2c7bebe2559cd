//! Compiles the native TensorRT shim (feature `tensorrt-native`) or its host mock (feature
//! `tensorrt-mock`); nothing otherwise.
//!
//! The shim needs TensorRT 10's headers (`NvInfer.h`, `NvOnnxParser.h`) and CUDA's (`cuda_runtime_api.h`,
//! `crt/host_defines.h`), never the libraries (they are `dlopen`'ed at run time): `TENSORRT_INCLUDE` and
//! `CUDA_INCLUDE` name the directories (default: where JetPack puts them). CI points them at
//! `../shared/tensorrt/10.3/include` and the `.cuda/include` of scripts/setup.sh.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
    shim();
}

#[cfg(any(feature = "tensorrt-native", feature = "tensorrt-mock"))]
fn shim() {
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-env-changed=TENSORRT_INCLUDE");
    println!("cargo:rerun-if-env-changed=CUDA_INCLUDE");
    println!("cargo:rerun-if-env-changed=JAMFLOW_TRT_CHECK_ONLY");
    let mut b = cc::Build::new();
    b.cpp(true).std("c++17").include("csrc").warnings(true).extra_warnings(true);
    if cfg!(feature = "tensorrt-native") && std::env::var_os("JAMFLOW_TRT_CHECK_ONLY").is_some() {
        // `JAMFLOW_TRT_CHECK_ONLY=1 cargo check --features tensorrt-native`: type-check the Rust side on a
        // machine without TensorRT headers (nothing is linked, so only `check` works).
        println!("cargo:warning=JAMFLOW_TRT_CHECK_ONLY: the TensorRT shim is not compiled");
        return;
    }
    if cfg!(feature = "tensorrt-native") {
        // JetPack puts NvInfer.h in /usr/include/aarch64-linux-gnu and CUDA in /usr/local/cuda/include.
        let trt = std::env::var("TENSORRT_INCLUDE").unwrap_or_else(|_| "/usr/include/aarch64-linux-gnu".into());
        let cuda = std::env::var("CUDA_INCLUDE").unwrap_or_else(|_| "/usr/local/cuda/include".into());
        for (dir, header, var, what) in [
            (&trt, "NvInfer.h", "TENSORRT_INCLUDE", "TensorRT 10's include directory"),
            (&cuda, "cuda_runtime_api.h", "CUDA_INCLUDE", "CUDA's include directory"),
        ] {
            if !std::path::Path::new(dir).join(header).exists() {
                panic!(
                    "feature tensorrt-native: {header} not found in {dir} (set {var} to {what}; scripts/setup.sh \
                     puts CUDA 12.6 headers in .cuda/include, ../shared/tensorrt/ has TensorRT's)"
                );
            }
        }
        // System headers (-isystem), as on a Jetson: their own deprecation warnings are not ours.
        b.flag("-isystem").flag(&trt).flag("-isystem").flag(&cuda).file("csrc/jamflow_trt.cpp");
        b.compile("jamflow_trt");
        println!("cargo:rustc-link-lib=dl");
    } else {
        b.file("csrc/jamflow_trt_mock.cpp");
        b.compile("jamflow_trt_mock");
    }
}

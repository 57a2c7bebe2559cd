//! Compiles the native TensorRT shim (feature `tensorrt-native`) or its host mock (feature
//! `tensorrt-mock`); nothing otherwise.

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
    let mut b = cc::Build::new();
    b.include("csrc").warnings(true);
    println!("cargo:rerun-if-env-changed=JAMFLOW_TRT_CHECK_ONLY");
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
        if !std::path::Path::new(&trt).join("NvInfer.h").exists() {
            panic!(
                "feature tensorrt-native: NvInfer.h not found in {trt} (set TENSORRT_INCLUDE to TensorRT 10's include \
                 directory, CUDA_INCLUDE to CUDA's)"
            );
        }
        b.cpp(true).std("c++17").include(trt).include(cuda).file("csrc/jamflow_trt.cpp");
        b.compile("jamflow_trt");
        println!("cargo:rustc-link-lib=dl");
    } else {
        b.file("csrc/jamflow_trt_mock.c");
        b.compile("jamflow_trt_mock");
    }
}

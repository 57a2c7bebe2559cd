#!/usr/bin/env bash
# The test command: set-up (idempotent), then formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export PATH="$HOME/.cargo/bin:$PATH"
export JAMFLOW_ORT_LIB="$PWD/.ort/libonnxruntime.so"
export JAMFLOW_PYTHON="$PWD/.venv/bin/python"
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
# The Debian package from the debug binaries `cargo test` just built (no release build; before the feature build
# below replaces them), checked in a clean root (~5 s).
bash scripts/deb.sh --profile debug
bash scripts/check-deb.sh
# The short soak (issue 15; the benchmark is `scripts/soak.py --minutes 30`): RSS, xruns and pipeline restarts stay
# flat over ~25 s of the live path with the debug jamflowd (late frames are noise on a loaded CI box).
.venv/bin/python scripts/soak.py --minutes 0.4 --interval 2 --jamflowd target/debug/jamflowd --checks rss,xruns,restarts
# The Jetson build (docs/jetson.md): jamflow + jamflowd cross-built for aarch64 with the GPU features against a
# cached arm64 sysroot, their symbols checked against Ubuntu 22.04 / JetPack 6 (glibc 2.35, GStreamer 1.20), run
# under qemu-user (info, sample equal to the x86-64 build's within 1e-4, render, jamflowd WAV -> MP4 through the
# arm64 GStreamer plugins), and the arm64 package built and checked. Before the feature builds below: its x86-64
# reference is the plain debug jamflow `cargo test` built.
bash scripts/cross.sh
# The native TensorRT binding against the host mock of its C ABI (csrc/jamflow_trt_mock.cpp).
cargo clippy --features tensorrt-mock --all-targets -- -D warnings
cargo test --features tensorrt-mock --test trt_mock
# The real TensorRT shim: -Werror against TensorRT 10.3 and 10.16 headers, linked, and its loading checked against
# a stand-in libnvinfer (scripts/check_trt_shim.sh); then the Rust side with the shim compiled in (`tensorrt-native`
# dlopens TensorRT and libcuda: nothing to link but libdl).
bash scripts/check_trt_shim.sh
TENSORRT_INCLUDE="$PWD/../shared/tensorrt/10.3/include" CUDA_INCLUDE="$PWD/.cuda/include" \
  cargo clippy --features tensorrt-native --all-targets -- -D warnings
# scripts/rtsp_stress.sh is a few minutes' benchmark, not run here: its syntax, lint and its refusal of a bad argument.
bash -n scripts/rtsp_stress.sh
if command -v shellcheck >/dev/null 2>&1; then shellcheck scripts/rtsp_stress.sh; fi
rc=0; bash scripts/rtsp_stress.sh --rounds 2>/dev/null || rc=$?
[ "$rc" = 64 ] || { echo "rtsp_stress.sh: --rounds without a value gave exit $rc, expected 64" >&2; exit 1; }
rc=0; bash scripts/rtsp_stress.sh --bogus 2>/dev/null || rc=$?
[ "$rc" = 64 ] || { echo "rtsp_stress.sh: a bad argument gave exit $rc, expected 64" >&2; exit 1; }
# scripts/device_check.sh runs only on a GPU machine: here its syntax, its argument handling and its refusal
# without a GPU (exit 2, not a half-run).
bash -n scripts/device_check.sh
if command -v shellcheck >/dev/null 2>&1; then shellcheck scripts/device_check.sh; fi
rc=0; bash scripts/device_check.sh --precisions fp8 2>/dev/null || rc=$?
[ "$rc" = 64 ] || { echo "device_check.sh: a bad --precisions gave exit $rc, expected 64" >&2; exit 1; }
if [ ! -f /etc/nv_tegra_release ] && ! nvidia-smi -L >/dev/null 2>&1; then
  rc=0; bash scripts/device_check.sh 2>/dev/null || rc=$?
  [ "$rc" = 2 ] || { echo "device_check.sh without a GPU gave exit $rc, expected 2" >&2; exit 1; }
fi

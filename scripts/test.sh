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
# The native TensorRT binding against the host mock of its C ABI (csrc/jamflow_trt_mock.c).
cargo clippy --features tensorrt-mock --all-targets -- -D warnings
cargo test --features tensorrt-mock --test trt_mock

#!/usr/bin/env bash
# The main job: set-up (idempotent), release build, then `jamflow demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export JAMFLOW_ORT_LIB="$PWD/.ort/libonnxruntime.so"
cargo build --release --bins
./target/release/jamflow demo --out target/demo "$@"

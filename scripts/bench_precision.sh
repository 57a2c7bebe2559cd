#!/usr/bin/env bash
# Benchmark (not a test): per-NFE time of the FP32, FP16, INT8 and W8A16 graphs of a random-weight package on
# ONNX Runtime CPU in one run, as ratios to FP32, with the Orin AGX roofline beside it.
#   scripts/bench_precision.sh [MEL_FRAMES] [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export JAMFLOW_ORT_LIB="$PWD/.ort/libonnxruntime.so"
frames=${1:-375}
preset=${2:-small-mmdit}
cargo build --release --bins -q
work=target/bench-precision
rm -rf "$work" && mkdir -p "$work"
./target/release/jamflow random "$work/pkg" --preset "$preset" --seed 1 >/dev/null
./target/release/jamflow calibration make "$work/pkg" --name bench --root "$work/calibration" --generate 6 --seconds 2,4 --steps 8
./target/release/jamflow build "$work/pkg" --precision int8 --calibration "$work/calibration/bench"
./target/release/jamflow bench "$work/pkg" --precision fp32,fp16,int8,w8a16 --project orin-agx --frames "$frames" --iters 10

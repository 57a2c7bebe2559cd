#!/usr/bin/env bash
# Benchmark (not a test): per-NFE time of our ONNX graph on ONNX Runtime vs PyTorch eager on the same
# weights and thread count, for the small config and for F5TTS_v1_Base widths at depth 2. Prints ratios.
#   scripts/bench_nfe.sh [THREADS] [MEL_FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export JAMFLOW_ORT_LIB="$PWD/.ort/libonnxruntime.so"
threads=${1:-2}
frames=${2:-375}
cargo build --release --bins -q
work=target/bench-nfe
mkdir -p "$work"
.venv/bin/python scripts/oracle.py mmdit --preset small --layout mouth4-2d --seed 1 --out "$work/small" >/dev/null
.venv/bin/python scripts/oracle.py f5 --preset base2 --seed 1 --out "$work/base2" >/dev/null
for pkg in "$work/small/pkg" "$work/base2/pkg"; do
  ./target/release/jamflow bench "$pkg" --threads "$threads" --frames "$frames" --iters 10 --torch-python .venv/bin/python
done

#!/usr/bin/env bash
# The first thing to run on a new Jetson (or any machine with an NVIDIA GPU and TensorRT 10): builds
# jamflow with native TensorRT, builds fp32/fp16/int8/w8a16 engines of the shipped packages, compares each with
# ONNX Runtime CPU FP32 (velocities of one evaluation; final samples over the generated frames; the per-block
# comparison of each graph is in its build manifest) and prints per-NFE times beside the roofline floor.
#
#   scripts/device_check.sh [--packages DIR[,DIR...]] [--precisions fp32,fp16,int8,w8a16]
#                           [--project orin-agx|orin-nx|orin-nano|none] [--frames N] [--iters N]
#                           [--out FILE] [--skip-build]
#
# Supported: JetPack 6.1 / 6.2 (TensorRT 10.3, CUDA 12.6), JetPack 7.x (TensorRT 10.x), x86 machines with
# TensorRT 10. JetPack 6.0 (TensorRT 8.6) is refused. Exit codes: 0 all checked, 1 a check failed, 2 no GPU,
# 3 no usable TensorRT/CUDA, 64 bad arguments. Needs scripts/setup.sh to have run (ONNX Runtime for the CPU
# reference).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="engines/jamflow-small-student,engines/jamflow-small"
PRECISIONS="fp32,fp16,int8,w8a16"
PROJECT=auto
FRAMES=469
ITERS=20
OUT=target/device-check/report.txt
SKIP_BUILD=0

say() { printf '[device-check] %s\n' "$*" >&2; }
die() { # die CODE MESSAGE
  local code=$1; shift
  say "ERROR: $*"; exit "$code"
}
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die 64 "$1 needs a value (see --help)"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --packages) need_value "$@"; PACKAGES=$2; shift 2 ;;
    --precisions) need_value "$@"; PRECISIONS=$2; shift 2 ;;
    --project) need_value "$@"; PROJECT=$2; shift 2 ;;
    --frames) need_value "$@"; FRAMES=$2; shift 2 ;;
    --iters) need_value "$@"; ITERS=$2; shift 2 ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die 64 "unknown argument '$1' (see --help)" ;;
  esac
done
case "$FRAMES$ITERS" in *[!0-9]*) die 64 "--frames and --iters take whole numbers" ;; esac
IFS=',' read -r -a PKGS <<<"$PACKAGES"
IFS=',' read -r -a PRECS <<<"$PRECISIONS"
for p in "${PRECS[@]}"; do
  case "$p" in fp32|fp16|int8|w8a16) ;; *) die 64 "--precisions: unknown precision '$p' (fp32, fp16, int8, w8a16)" ;; esac
done
for d in "${PKGS[@]}"; do [ -f "$d/model.json" ] || die 64 "--packages: $d is not a model package (no model.json)"; done
case "$PROJECT" in auto|none|orin-agx|orin-nx|orin-nano) ;; *) die 64 "--project: '$PROJECT' (orin-agx, orin-nx, orin-nano, none)" ;; esac

# --- the GPU ----------------------------------------------------------------------------------------------
JETPACK=""
if [ -f /etc/nv_tegra_release ]; then
  # "# R36 (release), REVISION: 4.3, ..." -> L4T 36.4.3
  l4t=$(sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\).*/\1.\2/p' /etc/nv_tegra_release)
  case "$l4t" in
    36.2*|36.3*) die 3 "L4T $l4t is JetPack 6.0 (TensorRT 8.6): not supported; upgrade to JetPack 6.1 or later" ;;
    36.4*) JETPACK="6.1/6.2 (L4T $l4t)" ;;
    3[89].*) JETPACK="7.x (L4T $l4t)" ;;
    *) die 3 "L4T ${l4t:-unknown} is not a supported JetPack (6.1, 6.2, 7.x)" ;;
  esac
  model=$(tr -d '\0' </proc/device-tree/model 2>/dev/null || true)
  say "Jetson: ${model:-unknown model}, JetPack $JETPACK"
  if [ "$PROJECT" = auto ]; then
    case "$model" in
      *"AGX Orin"*) PROJECT=orin-agx ;;
      *"Orin NX"*) PROJECT=orin-nx ;;
      *"Orin Nano"*) PROJECT=orin-nano ;;
      *) PROJECT=none ;;
    esac
  fi
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  say "GPU: $(nvidia-smi -L | head -n1)"
  [ "$PROJECT" = auto ] && PROJECT=none
else
  die 2 "no NVIDIA GPU here (no /etc/nv_tegra_release, no working nvidia-smi): run this on the Jetson or a GPU machine"
fi

# --- libraries the binary opens at run time -----------------------------------------------------------------
has_lib() { ldconfig -p 2>/dev/null | grep -q "$1" || [ -e "/usr/lib/aarch64-linux-gnu/tegra/$1" ]; }
has_lib libcuda.so.1 || die 3 "libcuda.so.1 not found (the NVIDIA driver's CUDA library)"
if ! has_lib libnvinfer.so.10; then
  if has_lib libnvinfer.so.8; then die 3 "TensorRT 8 found (libnvinfer.so.8), jamflow needs TensorRT 10 (JetPack 6.1+)"; fi
  die 3 "libnvinfer.so.10 not found (TensorRT 10: JetPack 6.1+, or the tensorrt-libs packages)"
fi
has_lib libnvonnxparser.so.10 || die 3 "libnvonnxparser.so.10 not found (TensorRT 10's ONNX parser, needed to build engines)"
if [ -z "${JAMFLOW_ORT_LIB:-}" ]; then
  [ -e .ort/libonnxruntime.so ] || die 3 "no ONNX Runtime for the CPU reference: run scripts/setup.sh first"
  export JAMFLOW_ORT_LIB="$PWD/.ort/libonnxruntime.so"
fi

# --- headers and the build --------------------------------------------------------------------------------
first_dir_with() { # first_dir_with FILE DIR... -> the first DIR holding FILE
  local f=$1; shift
  for d in "$@"; do if [ -n "$d" ] && [ -f "$d/$f" ]; then echo "$d"; return 0; fi; done
  return 1
}
BIN=target/release/jamflow
if [ "$SKIP_BUILD" = 0 ] || [ ! -x "$BIN" ]; then
  TENSORRT_INCLUDE=$(first_dir_with NvInfer.h "${TENSORRT_INCLUDE:-}" /usr/include/aarch64-linux-gnu \
    /usr/include/x86_64-linux-gnu /usr/include "${TENSORRT_ROOT:-}/include") ||
    die 3 "NvInfer.h not found: install TensorRT 10's headers (libnvinfer-dev) or set TENSORRT_INCLUDE"
  CUDA_INCLUDE=$(first_dir_with cuda_runtime_api.h "${CUDA_INCLUDE:-}" /usr/local/cuda/include "$PWD/.cuda/include") ||
    die 3 "cuda_runtime_api.h not found: set CUDA_INCLUDE (or run scripts/setup.sh for .cuda/include)"
  major=$(sed -n 's/^#define NV_TENSORRT_MAJOR \([0-9]*\).*/\1/p' "$TENSORRT_INCLUDE/NvInferVersion.h" | head -n1)
  case "$major" in 10|TRT_MAJOR_ENTERPRISE|"") ;; *) die 3 "$TENSORRT_INCLUDE holds TensorRT $major headers; jamflow needs 10" ;; esac
  say "building jamflow with native TensorRT (headers $TENSORRT_INCLUDE, CUDA $CUDA_INCLUDE)"
  export TENSORRT_INCLUDE CUDA_INCLUDE PATH="$HOME/.cargo/bin:$PATH"
  cargo build --release --features tensorrt-native --bin jamflow
fi

# --- the check --------------------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
proj=()
[ "$PROJECT" != none ] && proj=(--project "$PROJECT")
status=0
# w8a16: TensorRT 10 keeps quantized weights for INT8 weights + INT8 activations or INT4 weight-only only; the
# check builds the w8a16 engine anyway to record its weight bytes next to fp16's (docs/build.md).
export JAMFLOW_TRT_W8A16_MEASURE=1
for pkg in "${PKGS[@]}"; do
  cal=()
  if [[ ",$PRECISIONS," == *",int8,"* ]]; then
    name="device-check-$(basename "$pkg")"
    if [ ! -f "calibration/$name/manifest.json" ]; then
      say "$pkg: making calibration set calibration/$name (generated requests)"
      "$BIN" calibration make "$pkg" --name "$name" --generate 8 --seconds 2,4 --holdout 2
    fi
    cal=(--calibration "calibration/$name")
  fi
  say "$pkg: building and checking ${PRECISIONS} (engine builds take minutes each on a Jetson)"
  if ! "$BIN" device-check "$pkg" --precision "$PRECISIONS" "${cal[@]}" "${proj[@]}" --frames "$FRAMES" \
    --iters "$ITERS" | tee -a "$OUT"; then
    status=1
  fi
done
say "report: $OUT (engine manifests: <package>/build/<precision>-tensorrt/manifest.json)"
exit "$status"

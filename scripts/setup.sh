#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh Debian 12 machine for jamflow, as root or with sudo.
#   - Debian packages (with retries: apt fails transiently),
#   - a project-local Python virtualenv (.venv) for scripts/ (PyTorch, f5-tts oracle),
#   - libonnxruntime.so taken from the PyPI onnxruntime wheel into .ort/ (crate `ort`, feature load-dynamic).
# Everything lands inside the repository; re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# Pinned versions: one place. ORT_VERSION must match the `api-N` feature of `ort` in Cargo.toml.
ORT_VERSION=1.24.4
TORCH_VERSION=2.11.0
F5_TTS_VERSION=1.1.22
VOCOS_VERSION=0.1.0

log() { printf '[setup] %s\n' "$*" >&2; }

retry() { # retry N CMD...: run CMD up to N times with a growing pause
  local n=$1 i=1; shift
  until "$@"; do
    if [ "$i" -ge "$n" ]; then log "failed after $n tries: $*"; return 1; fi
    log "try $i failed: $*; retrying in $((i * 5)) s"; sleep $((i * 5)); i=$((i + 1))
  done
}

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(ca-certificates curl pkg-config build-essential python3 python3-venv python3-pip)
APT_PACKAGES+=(libasound2-dev) # crate `alsa` (src/audio/capture.rs); its tests use ALSA's `file` plugin, no sound card
# ffmpeg: `jamflow render --out OUT.mp4` pipes raw frames into it.
APT_PACKAGES+=(ffmpeg)
# jamflowd (stream/daemon): GStreamer dev headers + plugins (x264enc: ugly, avenc_aac: libav, opus/rtsp: base/good/bad),
# gst-rtsp-server, and ffmpeg/ffprobe as the real client in tests/daemon.rs.
APT_PACKAGES+=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools)
# Corpus generator (issue 5): espeak-ng speech + phoneme events, fortune-mod sentences.
APT_PACKAGES+=(espeak-ng libespeak-ng1 fortunes fortunes-min)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  retry 5 $SUDO apt-get update -q
  retry 5 $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; else
    log "no Rust toolchain: installing rustup (stable)"
    retry 3 sh -c 'curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy'
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# Python: a project-local virtualenv. Prefer Debian's python3 (3.11 on Debian 12).
PY=${JAMFLOW_SETUP_PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
VPY=.venv/bin/python
stamp=.venv/.jamflow-deps-$TORCH_VERSION-$F5_TTS_VERSION-$ORT_VERSION-vocos$VOCOS_VERSION
if [ ! -f "$stamp" ]; then
  log "installing Python packages (torch $TORCH_VERSION, f5-tts $F5_TTS_VERSION): a few minutes"
  retry 3 $VPY -m pip install -q --upgrade pip
  retry 3 $VPY -m pip install -q "torch==$TORCH_VERSION" "torchaudio==$TORCH_VERSION" "f5-tts==$F5_TTS_VERSION" \
    safetensors numpy "onnxruntime==$ORT_VERSION" onnx "vocos==$VOCOS_VERSION"
  touch "$stamp"
fi

# ONNX Runtime shared library from the PyPI wheel (the same build the venv has).
if [ ! -e .ort/libonnxruntime.so ] || [ ! -f ".ort/VERSION-$ORT_VERSION" ]; then
  log "fetching libonnxruntime $ORT_VERSION from the PyPI wheel"
  rm -rf .ort && mkdir -p .ort/wheel
  retry 3 $VPY -m pip download -q --no-deps --only-binary=:all: -d .ort/wheel "onnxruntime==$ORT_VERSION"
  $VPY - <<PYEOF
import glob, os, zipfile
whl = glob.glob(".ort/wheel/onnxruntime-*.whl")[0]
with zipfile.ZipFile(whl) as z:
    libs = [n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime.so")]
    if not libs:
        raise SystemExit(f"{whl}: no onnxruntime/capi/libonnxruntime.so* inside")
    for n in libs:
        with z.open(n) as src, open(os.path.join(".ort", os.path.basename(n)), "wb") as dst:
            dst.write(src.read())
PYEOF
  lib=$(ls .ort/libonnxruntime.so.* | head -n1)
  ln -sf "$(basename "$lib")" .ort/libonnxruntime.so
  rm -rf .ort/wheel
  touch ".ort/VERSION-$ORT_VERSION"
fi
# Face detector, 468-point face mesh and iris landmarks for `jamflow portrait prepare` (src/render/face/):
# MediaPipe's .tflite files (Apache-2.0) out of the PyPI mediapipe wheel, checked by SHA-256, converted to ONNX by scripts/tflite_to_onnx.py
# (PyPI `tflite` parses the flatbuffer) into .face/ (JAMFLOW_FACE_MODELS overrides the directory at run time).
MEDIAPIPE_VERSION=0.10.21
FACE_TFLITE=(
  "mediapipe/modules/face_detection/face_detection_short_range.tflite bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
  "mediapipe/modules/face_landmark/face_landmark.tflite 1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
  "mediapipe/modules/iris_landmark/iris_landmark.tflite d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f"
)
if [ ! -f ".face/VERSION-$MEDIAPIPE_VERSION-3" ]; then
  log "face models: MediaPipe $MEDIAPIPE_VERSION .tflite -> .face/*.onnx"
  retry 3 $VPY -m pip install -q "tflite==2.18.0" flatbuffers onnx numpy
  rm -rf .face && mkdir -p .face/wheel
  retry 3 $VPY -m pip download -q --no-deps --only-binary=:all: -d .face/wheel "mediapipe==$MEDIAPIPE_VERSION"
  for entry in "${FACE_TFLITE[@]}"; do
    read -r member sha <<<"$entry"
    name=$(basename "$member" .tflite)
    $VPY -c 'import glob, sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(glob.glob(".face/wheel/*.whl")[0]).read(sys.argv[1]))' \
      "$member" >".face/$name.tflite"
    echo "$sha  .face/$name.tflite" | sha256sum -c --quiet
    $VPY scripts/tflite_to_onnx.py ".face/$name.tflite" ".face/$name.onnx"
  done
  rm -rf .face/wheel
  touch ".face/VERSION-$MEDIAPIPE_VERSION-3"
fi
log "ready: ORT library $ROOT/.ort/libonnxruntime.so, Python $ROOT/.venv/bin/python"

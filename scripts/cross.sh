#!/usr/bin/env bash
# Jetson build (aarch64, JetPack 6.x / 7.x) cross-compiled here and exercised under emulation (run by scripts/test.sh;
# docs/jetson.md):
#   1. an arm64 sysroot: Debian 12's arm64 glibc, libstdc++, GStreamer + plugins, gst-rtsp-server and ALSA, unpacked
#      by `mmdebstrap --variant=extract` (nothing is installed on this machine) and cached outside the checkout in
#      $JAMFLOW_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/jamflow), keyed by its package list; the symbols files of
#      its packages are kept for step 3. The aarch64 libonnxruntime.so from the PyPI manylinux wheel beside it.
#   2. jamflow + jamflowd for aarch64-unknown-linux-gnu with the GPU features (cuda, tensorrt: ONNX Runtime
#      providers; tensorrt-native: the TensorRT 10.3 shim), all of which dlopen their libraries at run time.
#   3. scripts/check-abi.sh: nothing newer than JetPack 6's Ubuntu 22.04 (glibc 2.35, GStreamer 1.20, GLib 2.72,
#      ALSA 1.2.6) is required, from the binaries' dynamic symbol tables.
#   4. smoke run under qemu-user with the sysroot's libraries: `jamflow info`, `jamflow sample` on the shipped
#      student equal to this machine's x86-64 build within 1e-4 relative, `jamflow render` of a few frames, and
#      jamflowd writing a 3 s MP4 from a WAV through the arm64 GStreamer plugins, read by ffprobe.
#   5. the arm64 Debian package (scripts/deb.sh --target), checked by scripts/check-deb.sh (its binaries run under
#      qemu).
#   scripts/cross.sh [--profile debug|release] [--no-smoke] [--no-deb] [--live-model] [--sysroot-only]
# --sysroot-only: step 1 alone, then print the sysroot's path (e.g. to warm a CI cache). --live-model: jamflowd's
# smoke run through the model-driven WAV input (the student, live) instead of the test input with the WAV's audio:
# ~2 more CPU minutes under emulation, so not in CI.
# Needs scripts/setup.sh --dev (cross gcc, mmdebstrap, qemu-user-static, the rustup target, .venv, .cuda) and the
# TensorRT headers in ../shared/tensorrt/. Times are printed per stage; emulated times are not device times.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PROFILE=debug
SMOKE=1
DEB=1
SYSROOT_ONLY=0
LIVE_MODEL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=${2:-}; shift 2 ;;
    --no-smoke) SMOKE=0; shift ;;
    --no-deb) DEB=0; shift ;;
    --sysroot-only) SYSROOT_ONLY=1; shift ;;
    --live-model) LIVE_MODEL=1; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "cross.sh: unknown argument $1 (expected --profile debug|release, --no-smoke, --no-deb, --live-model, --sysroot-only)" >&2
      exit 64 ;;
  esac
done
case "$PROFILE" in debug | release) ;; *) echo "cross.sh: --profile $PROFILE (expected debug or release)" >&2; exit 64 ;; esac
export PATH="$HOME/.cargo/bin:$PATH"
TARGET=aarch64-unknown-linux-gnu
FEATURES=cuda,tensorrt,tensorrt-native
# The TensorRT headers of JetPack 6.1/6.2 (the oldest TensorRT 10 the shim accepts at run time is the one it was
# compiled with); CUDA 12.6 headers from scripts/setup.sh --dev.
TRT_INCLUDE=${TENSORRT_INCLUDE:-$ROOT/../shared/tensorrt/10.3/include}
CUDA_INC=${CUDA_INCLUDE:-$ROOT/.cuda/include}
ORT_VERSION=$(sed -n 's/^ORT_VERSION=\([0-9.]*\).*/\1/p' scripts/setup.sh)
CACHE=${JAMFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jamflow}
BIN=target/$TARGET/$PROFILE
HOST_BIN=target/$PROFILE

LOG_TAG=cross
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
fail() { printf '[cross] FAILED: %s\n' "$*" >&2; exit 1; }
T0=$SECONDS
STAGE_T=$SECONDS
TIMES=()
stage_done() { TIMES+=("$1 $((SECONDS - STAGE_T)) s"); log "$1: $((SECONDS - STAGE_T)) s"; STAGE_T=$SECONDS; }

for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ aarch64-linux-gnu-readelf aarch64-linux-gnu-strip mmdebstrap \
  qemu-aarch64-static ffprobe; do
  command -v "$tool" >/dev/null || fail "$tool not found (run scripts/setup.sh --dev)"
done
rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || fail "rust target $TARGET missing (scripts/setup.sh --dev)"
[ -f "$TRT_INCLUDE/NvInfer.h" ] || fail "no TensorRT headers in $TRT_INCLUDE (set TENSORRT_INCLUDE)"
[ -f "$CUDA_INC/cuda_runtime_api.h" ] || fail "no CUDA headers in $CUDA_INC (scripts/setup.sh --dev)"
[ -n "$ORT_VERSION" ] || fail "no ORT_VERSION in scripts/setup.sh"

# ---- 1. sysroot + aarch64 ONNX Runtime (cached) ----
SUITE=bookworm
MIRROR=${JAMFLOW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Build: glibc, libstdc++ (the TensorRT shim), GStreamer + gst-rtsp-server + ALSA headers. Run (smoke): the
# plugins jamflowd's pipelines use (the Debian package depends on the same ones).
SYSROOT_PKGS=(libc6-dev libstdc++-12-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgstrtspserver-1.0-dev libasound2-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
# v3: absolute symlinks made relative, BLAS/LAPACK alternatives; symbols files and package versions in .jamflow/.
KEY=$(printf '%s\n' v3 "$SUITE" "$MIRROR" "${SYSROOT_PKGS[@]}" | sha256sum | cut -c1-12)
# JAMFLOW_SYSROOT: use that one instead (made by this script before; it must hold .jamflow/).
SYSROOT=${JAMFLOW_SYSROOT:-$CACHE/sysroot-arm64-$KEY}

make_sysroot() { # DIR: unpack the arm64 packages into DIR (a fresh directory each try)
  local dir=$1 inc
  rm -rf "$dir"
  inc=$(IFS=,; echo "${SYSROOT_PKGS[*]}")
  # --skip=cleanup/apt/cache keeps the .debs for their symbols files (removed below).
  timeout 1200 mmdebstrap --quiet --arch=arm64 --variant=extract --skip=cleanup/apt/cache --include="$inc" \
    "$SUITE" "$dir" "$MIRROR"
}
if [ ! -f "$SYSROOT/.jamflow/complete" ]; then
  log "arm64 sysroot: unpacking ${#SYSROOT_PKGS[@]} Debian $SUITE packages and their dependencies into $SYSROOT"
  mkdir -p "$CACHE"
  tmp=$SYSROOT.tmp.$$
  retry 3 make_sysroot "$tmp"
  mkdir -p "$tmp/.jamflow/symbols"
  for deb in "$tmp"/var/cache/apt/archives/*.deb; do
    pkg=$(dpkg-deb --field "$deb" Package)
    echo "$pkg $(dpkg-deb --field "$deb" Version)" >>"$tmp/.jamflow/packages"
    c=$(mktemp -d)
    dpkg-deb --control "$deb" "$c"
    if [ -f "$c/symbols" ]; then cp "$c/symbols" "$tmp/.jamflow/symbols/$pkg"; fi
    rm -rf "$c"
  done
  rm -f "$tmp"/var/cache/apt/archives/*.deb
  # Absolute symlinks (libz.so -> /lib/aarch64-linux-gnu/libz.so.1.2.13) would point into this machine's root.
  find "$tmp" -type l -lname '/*' | while read -r l; do
    t=$(readlink "$l")
    if [ -e "$tmp$t" ]; then ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$tmp$t")" "$l"; fi
  done
  # Alternatives are set by maintainer scripts, which an extract does not run: libavcodec (avenc_aac) needs
  # libblas.so.3 / liblapack.so.3, which live in blas/ and lapack/ subdirectories.
  for lib in "$tmp"/usr/lib/aarch64-linux-gnu/blas/lib*.so.* "$tmp"/usr/lib/aarch64-linux-gnu/lapack/lib*.so.*; do
    [ -e "$lib" ] || continue
    dst=$tmp/usr/lib/aarch64-linux-gnu/$(basename "$lib")
    [ -e "$dst" ] || ln -s "$(basename "$(dirname "$lib")")/$(basename "$lib")" "$dst"
  done
  touch "$tmp/.jamflow/complete"
  rm -rf "$SYSROOT"
  mv "$tmp" "$SYSROOT"
fi
ORT_DIR=$CACHE/ort-arm64-$ORT_VERSION
ORT_ARM=$ORT_DIR/libonnxruntime.so
if [ ! -f "$ORT_DIR/complete" ]; then
  log "aarch64 libonnxruntime $ORT_VERSION from the PyPI manylinux wheel"
  rm -rf "$ORT_DIR" && mkdir -p "$ORT_DIR/wheel"
  retry 3 python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_aarch64 \
    --python-version 3.11 -d "$ORT_DIR/wheel" "onnxruntime==$ORT_VERSION"
  python3 - "$ORT_DIR" <<'PYEOF'
import glob, os, sys, zipfile
d = sys.argv[1]
whl = glob.glob(os.path.join(d, "wheel", "onnxruntime-*aarch64*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    libs = [n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime.so")]
    if not libs:
        raise SystemExit(f"{whl}: no onnxruntime/capi/libonnxruntime.so* inside")
    for n in libs:
        with z.open(n) as src, open(os.path.join(d, os.path.basename(n)), "wb") as dst:
            dst.write(src.read())
PYEOF
  lib=$(find "$ORT_DIR" -maxdepth 1 -name 'libonnxruntime.so.*' | head -n1)
  ln -sf "$(basename "$lib")" "$ORT_ARM"
  rm -rf "$ORT_DIR/wheel"
  touch "$ORT_DIR/complete"
fi
stage_done "sysroot + ORT"
if [ "$SYSROOT_ONLY" = 1 ]; then echo "$SYSROOT"; exit 0; fi

# ---- 2. cross build ----
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=--sysroot=$SYSROOT"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
# pkg-config for the target only (build scripts of the host are untouched).
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_SYSROOT_DIR_aarch64_unknown_linux_gnu=$SYSROOT
export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu=$SYSROOT/usr/lib/aarch64-linux-gnu/pkgconfig:$SYSROOT/usr/share/pkgconfig
export PKG_CONFIG_PATH_aarch64_unknown_linux_gnu=
export TENSORRT_INCLUDE=$TRT_INCLUDE CUDA_INCLUDE=$CUDA_INC
# No debug info in the cross build (the package strips it anyway): less to generate and link on CI's 2 cores.
export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-0}
cargo_args=(--target "$TARGET" --bins --features "$FEATURES")
if [ "$PROFILE" = release ]; then cargo_args+=(--release); fi
log "cargo build ${cargo_args[*]}"
cargo build "${cargo_args[@]}"
stage_done "cross build ($PROFILE)"

# ---- 3. ABI: what JetPack 6 (Ubuntu 22.04) provides ----
# gstreamer-rs API above 1.20 sits behind its v1_22.. features; none may be on (the symbol check below is the proof).
gst_features=$(cargo tree --target "$TARGET" --features "$FEATURES" -e features --prefix none 2>/dev/null |
  grep -oE '^gstreamer[a-z_-]* feature "v1_[0-9]+"' | sort -u || true)
if echo "$gst_features" | grep -E '"v1_(2[2-9]|[3-9][0-9])"'; then fail "a gstreamer-rs feature above v1_20 is enabled"; fi
gst_v=$(echo "$gst_features" | grep -oE 'v1_[0-9]+' | sort -uV | tr '\n' ' ' || true)
log "gstreamer-rs version features: ${gst_v:-none, i.e. the baseline API of GStreamer 1.14}"
bash scripts/check-abi.sh "$SYSROOT" "$BIN/jamflow" "$BIN/jamflowd"
stage_done "ABI check"

# ---- 4. smoke run under qemu-user ----
# Neoverse N1: ARMv8.2 with fp16 and dot product and no SVE, like Orin's Cortex-A78AE (qemu's default `max` CPU
# would let ONNX Runtime pick SVE kernels no Orin has).
arm() { QEMU_CPU=neoverse-n1 QEMU_LD_PREFIX="$SYSROOT" JAMFLOW_ORT_LIB="$ORT_ARM" qemu-aarch64-static "$@"; }
if [ "$SMOKE" = 1 ]; then
  W=$(mktemp -d)
  trap 'rm -rf "$W"' EXIT
  PY=${JAMFLOW_PYTHON:-$ROOT/.venv/bin/python}
  [ -x "$PY" ] || fail "no Python at $PY (scripts/setup.sh --dev)"
  file -L "$BIN/jamflow" | grep -q 'ARM aarch64' || fail "$BIN/jamflow is not an aarch64 executable"
  arm "$BIN/jamflow" --version
  out=$(arm "$BIN/jamflow" info engines/jamflow-small-student) || fail "jamflow info: $out"
  echo "$out" | grep -q mouth4-2d || fail "jamflow info: no motion layout in: $out"
  stage_done "smoke: jamflow info (emulated)"

  # The same request through the x86-64 build and the aarch64 one.
  if [ ! -x "$HOST_BIN/jamflow" ]; then
    if [ "$PROFILE" = release ]; then cargo build --release --bin jamflow; else cargo build --bin jamflow; fi
  fi
  "$PY" scripts/cross_smoke.py request "$W/req.safetensors"
  JAMFLOW_ORT_LIB=${JAMFLOW_ORT_LIB:-$ROOT/.ort/libonnxruntime.so} "$HOST_BIN/jamflow" sample \
    engines/jamflow-small-student --inputs "$W/req.safetensors" --seed 0 --out "$W/x86_64.safetensors" >/dev/null
  # One intra-op thread: qemu emulates floating point in software, and spinning ONNX Runtime workers only slow it.
  arm "$BIN/jamflow" sample engines/jamflow-small-student --inputs "$W/req.safetensors" --seed 0 --threads 1 \
    --out "$W/aarch64.safetensors" >/dev/null
  "$PY" scripts/cross_smoke.py compare "$W/x86_64.safetensors" "$W/aarch64.safetensors" --rel 1e-4
  stage_done "smoke: jamflow sample x86-64 vs aarch64 (emulated)"

  arm "$BIN/jamflow" render --portrait assets/portraits/astronaut.png --motion "$W/aarch64.safetensors" \
    --out "$W/frames" --size 128 --idle >/dev/null
  n=$(find "$W/frames" -name 'frame_*.png' | wc -l)
  [ "$n" -ge 3 ] || fail "jamflow render wrote $n frames"
  stage_done "smoke: jamflow render, $n frames (emulated)"

  # jamflowd: a 3 s WAV as the audio of the test input (portrait video), 128 px, through the arm64 GStreamer
  # plugins (x264enc, avenc_aac, mp4mux). The model-driven `kind = "wav"` input only with --live-model: under
  # emulation one model window takes ~40 s (software floating point; measured 3.4 min for the run on a loaded
  # machine), so CI covers the model by `sample` + `render` above.
  "$PY" scripts/cross_smoke.py wav "$W/speech.wav" 3
  if [ "$LIVE_MODEL" = 1 ]; then
    input="kind = \"wav\"
loop_wav = false
[model]
package = \"$ROOT/engines/jamflow-small-student\""
  else
    input="kind = \"test\"
test_video = \"portrait\"
test_audio = \"wav\""
  fi
  cat >"$W/jamflowd.toml" <<EOF
[input]
wav = "$W/speech.wav"
$input
[portrait]
image = "$ROOT/assets/portraits/astronaut.png"
width = 128
height = 128
[outputs.mp4]
path = "$W/out.mp4"
EOF
  GST_PLUGIN_SYSTEM_PATH="$SYSROOT/usr/lib/aarch64-linux-gnu/gstreamer-1.0" GST_PLUGIN_PATH="" \
    GST_REGISTRY="$W/gst-registry.bin" GST_REGISTRY_FORK=no HOME="$W" timeout 900 \
    env QEMU_CPU=neoverse-n1 QEMU_LD_PREFIX="$SYSROOT" JAMFLOW_ORT_LIB="$ORT_ARM" qemu-aarch64-static \
    "$BIN/jamflowd" --config "$W/jamflowd.toml" --no-rtsp --no-control --duration-s 3 >"$W/jamflowd.log" 2>&1 ||
    { tail -n 40 "$W/jamflowd.log" >&2; fail "jamflowd (emulated) failed"; }
  probe=$(ffprobe -v error -show_entries stream=codec_type,codec_name,duration -of csv=p=0 "$W/out.mp4") ||
    fail "ffprobe cannot read the MP4 jamflowd wrote"
  echo "$probe" | grep -q '^h264,video,' || fail "MP4 has no H.264 video: $probe"
  echo "$probe" | grep -q '^aac,audio,' || fail "MP4 has no AAC audio: $probe"
  vdur=$(echo "$probe" | sed -n 's/^h264,video,//p')
  adur=$(echo "$probe" | sed -n 's/^aac,audio,//p')
  awk -v d="$vdur" 'BEGIN { exit !(d >= 2.9 && d <= 3.1) }' || fail "MP4 video lasts $vdur s, expected 3"
  awk -v d="$adur" 'BEGIN { exit !(d >= 2.9 && d <= 3.1) }' || fail "MP4 audio lasts $adur s, expected 3"
  log "jamflowd MP4: $(echo "$probe" | tr '\n' ' ')"
  stage_done "smoke: jamflowd 3 s WAV -> MP4 (emulated)"
fi

# ---- 5. the arm64 Debian package ----
if [ "$DEB" = 1 ]; then
  deb=$(bash scripts/deb.sh --target "$TARGET" --profile "$PROFILE" --ort-lib "$ORT_ARM")
  JAMFLOW_SYSROOT="$SYSROOT" bash scripts/check-deb.sh "$deb"
  stage_done "arm64 package"
fi
log "done in $((SECONDS - T0)) s: ${TIMES[*]/%/;}"

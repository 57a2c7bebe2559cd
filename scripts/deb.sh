#!/usr/bin/env bash
# Build the Debian package jamflow_VERSION_ARCH.deb with dpkg-deb (no extra tools): the binaries, the default config
# in /etc/jamflow, the systemd units, the default model packages and the sample portrait, the ONNX Runtime library
# of .ort/ (scripts/setup.sh), and postinst/prerm/postrm maintainer scripts (`jamflow` system user).
#   scripts/deb.sh [--profile release|debug] [--target aarch64-unknown-linux-gnu] [--ort-lib LIB] [--out DIR]
# `--profile debug` packages the binaries the tests already built (CI: no release build); default release (built
# here, a no-op when up to date). Architecture: dpkg's (amd64 here), or with `--target aarch64-unknown-linux-gnu`
# arm64 from the cross build of scripts/cross.sh (which builds it first; the Jetson package, docs/jetson.md).
# `--ort-lib`: the libonnxruntime.so to ship (default .ort/'s; cross.sh passes the aarch64 one).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=release
OUT=target/deb
TARGET=""
ORT_LIB=.ort/libonnxruntime.so
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --target) TARGET=$2; shift 2 ;;
    --ort-lib) ORT_LIB=$2; shift 2 ;;
    *) echo "deb.sh: unknown argument $1 (expected --profile release|debug, --target TRIPLE, --ort-lib LIB, --out DIR)" >&2
      exit 2 ;;
  esac
done
export PATH="$HOME/.cargo/bin:$PATH"
case "$TARGET" in
  "")
    BIN=target/$PROFILE
    ARCH=$(dpkg --print-architecture)
    STRIP="strip"
    if [ "$PROFILE" = release ]; then
      cargo build --release --bins # a no-op when up to date
    elif [ ! -x "$BIN/jamflowd" ] || [ ! -x "$BIN/jamflow" ]; then
      cargo build --bins
    fi
    ;;
  aarch64-unknown-linux-gnu)
    # Built by scripts/cross.sh (it needs the arm64 sysroot), never here.
    BIN=target/$TARGET/$PROFILE
    ARCH=arm64
    STRIP="aarch64-linux-gnu-strip"
    for b in jamflowd jamflow; do
      [ -x "$BIN/$b" ] || { echo "deb.sh: $BIN/$b missing (scripts/cross.sh builds it)" >&2; exit 1; }
    done
    ;;
  *) echo "deb.sh: --target $TARGET (expected aarch64-unknown-linux-gnu)" >&2; exit 2 ;;
esac
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT

install -d "$ROOT/DEBIAN" "$ROOT/usr/bin" "$ROOT/usr/lib/jamflow" "$ROOT/lib/systemd/system" \
  "$ROOT/etc/jamflow/voices" "$ROOT/usr/share/jamflow/engines" "$ROOT/usr/share/jamflow/portraits" \
  "$ROOT/usr/share/doc/jamflow"
for b in jamflowd jamflow; do
  install -m 0755 "$BIN/$b" "$ROOT/usr/bin/$b"
  "$STRIP" --strip-debug "$ROOT/usr/bin/$b"
done
# ONNX Runtime (CPU build from the PyPI wheel, of the package's architecture). A Jetson may bring its own GPU
# build: docs/jetson.md.
if [ -e "$ORT_LIB" ]; then
  lib=$(readlink -f "$ORT_LIB")
  install -m 0644 "$lib" "$ROOT/usr/lib/jamflow/$(basename "$lib")"
  ln -s "$(basename "$lib")" "$ROOT/usr/lib/jamflow/libonnxruntime.so"
else
  echo "deb.sh: $ORT_LIB missing (run scripts/setup.sh); packaging without ONNX Runtime" >&2
fi
install -m 0644 systemd/jamflowd.service systemd/jamflow-engines.service "$ROOT/lib/systemd/system/"
install -m 0640 packaging/jamflowd.toml "$ROOT/etc/jamflow/jamflowd.toml"
# Default model packages: config, weights, vocabulary, card (no training logs or build outputs).
for pkg in engines/jamflow-small engines/jamflow-small-student engines/jamflow-speech; do
  dst="$ROOT/usr/share/jamflow/$pkg"
  install -d "$dst"
  for f in model.json model.safetensors vocab.txt MODEL_CARD.md; do install -m 0644 "$pkg/$f" "$dst/$f"; done
done
install -m 0644 assets/portraits/astronaut.png assets/portraits/astronaut.landmarks.json assets/portraits/README.md \
  "$ROOT/usr/share/jamflow/portraits/"
install -m 0644 README.md "$ROOT/usr/share/doc/jamflow/README.md"
install -m 0644 systemd/README.md "$ROOT/usr/share/doc/jamflow/systemd.md"
install -m 0644 configs/demo.toml "$ROOT/usr/share/doc/jamflow/demo.toml"
install -m 0644 packaging/debian/copyright "$ROOT/usr/share/doc/jamflow/copyright"

for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$ROOT/DEBIAN/$s"; done
install -m 0644 packaging/debian/conffiles "$ROOT/DEBIAN/conffiles"
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
# Shared-library dependencies from the binaries themselves (what dpkg-shlibdeps would find): the newest glibc
# version node, and libstdc++/libgcc when the TensorRT shim (C++) is linked in (the arm64 build).
GLIBC=$(for b in jamflowd jamflow; do readelf -V -W "$ROOT/usr/bin/$b"; done |
  sed -n 's/.*Name: GLIBC_\([0-9.]*\).*/\1/p' | sort -V | tail -n1)
[ -n "$GLIBC" ] || { echo "deb.sh: no GLIBC version node in the binaries" >&2; exit 1; }
CXX_DEPENDS=""
if readelf -d -W "$ROOT/usr/bin/jamflow" | grep -q 'NEEDED.*libstdc++'; then CXX_DEPENDS=", libstdc++6, libgcc-s1"; fi
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/g" -e "s/@SIZE@/$SIZE/" -e "s/@GLIBC@/$GLIBC/" \
  -e "s/@CXX_DEPENDS@/$CXX_DEPENDS/" packaging/debian/control.in >"$ROOT/DEBIAN/control"

mkdir -p "$OUT"
DEB="$OUT/jamflow_${VERSION}_${ARCH}.deb"
# gzip -1: the weights barely compress, and CI builds this on every run.
dpkg-deb --root-owner-group -Zgzip -z1 --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"

#!/usr/bin/env bash
# Build the Debian package jamflow_VERSION_ARCH.deb with dpkg-deb (no extra tools): the binaries, the default config
# in /etc/jamflow, the systemd units, the default model packages and the sample portrait, the ONNX Runtime library
# of .ort/ (scripts/setup.sh), and postinst/prerm/postrm maintainer scripts (`jamflow` system user).
#   scripts/deb.sh [--profile release|debug] [--out DIR]
# `--profile debug` packages the binaries the tests already built (CI: no release build); default release (built
# here, a no-op when up to date). Architecture: dpkg's (amd64 here; arm64 on a Jetson, see README "Debian package").
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=release
OUT=target/deb
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "deb.sh: unknown argument $1 (expected --profile release|debug, --out DIR)" >&2; exit 2 ;;
  esac
done
export PATH="$HOME/.cargo/bin:$PATH"
BIN=target/$PROFILE
if [ "$PROFILE" = release ]; then
  cargo build --release --bins # a no-op when up to date
elif [ ! -x "$BIN/jamflowd" ] || [ ! -x "$BIN/jamflow" ]; then
  cargo build --bins
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
ARCH=$(dpkg --print-architecture)
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT

install -d "$ROOT/DEBIAN" "$ROOT/usr/bin" "$ROOT/usr/lib/jamflow" "$ROOT/lib/systemd/system" \
  "$ROOT/etc/jamflow/voices" "$ROOT/usr/share/jamflow/engines" "$ROOT/usr/share/jamflow/portraits" \
  "$ROOT/usr/share/doc/jamflow"
for b in jamflowd jamflow; do
  install -m 0755 "$BIN/$b" "$ROOT/usr/bin/$b"
  strip --strip-debug "$ROOT/usr/bin/$b"
done
# ONNX Runtime (CPU build from the PyPI wheel). A Jetson brings its own GPU build: see README.
if [ -e .ort/libonnxruntime.so ]; then
  lib=$(readlink -f .ort/libonnxruntime.so)
  install -m 0644 "$lib" "$ROOT/usr/lib/jamflow/$(basename "$lib")"
  ln -s "$(basename "$lib")" "$ROOT/usr/lib/jamflow/libonnxruntime.so"
else
  echo "deb.sh: .ort/libonnxruntime.so missing (run scripts/setup.sh); packaging without ONNX Runtime" >&2
fi
install -m 0644 systemd/jamflowd.service systemd/jamflow-engines.service "$ROOT/lib/systemd/system/"
install -m 0640 packaging/jamflowd.toml "$ROOT/etc/jamflow/jamflowd.toml"
# Default model packages: config, weights, vocabulary, card (no training logs or build outputs).
for pkg in engines/jamflow-small engines/jamflow-small-student; do
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
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" packaging/debian/control.in \
  >"$ROOT/DEBIAN/control"

mkdir -p "$OUT"
DEB="$OUT/jamflow_${VERSION}_${ARCH}.deb"
# gzip -1: the weights barely compress, and CI builds this on every run.
dpkg-deb --root-owner-group -Zgzip -z1 --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"

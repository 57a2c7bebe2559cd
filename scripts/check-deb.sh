#!/usr/bin/env bash
# CI check of the Debian package in a clean root (dpkg -x into a temporary directory; nothing is installed on this
# machine): metadata, files in place, `systemd-analyze verify` on the units, `jamflowd --check` on the installed
# config (its absolute paths pointed into the temporary root), and the maintainer scripts' syntax. Both
# architectures: amd64 (scripts/deb.sh) and arm64 (scripts/cross.sh), whose binaries run under qemu-user with the
# arm64 sysroot named by JAMFLOW_SYSROOT; every ELF file must be of the package's architecture.
#   scripts/check-deb.sh [DEB]      (default: the newest target/deb/jamflow_*.deb)
set -euo pipefail
cd "$(dirname "$0")/.."
DEB=${1:-$(ls -t target/deb/jamflow_*.deb | head -n1)}
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
fail() { echo "check-deb: $*" >&2; exit 1; }

dpkg-deb --info "$DEB" >/dev/null || fail "$DEB: not a Debian package"
[ "$(dpkg-deb --field "$DEB" Package)" = jamflow ] || fail "$DEB: Package is not jamflow"
dpkg-deb --field "$DEB" Depends | grep -q libgstrtspserver || fail "$DEB: Depends lacks the GStreamer RTSP server"
dpkg-deb --field "$DEB" Depends | grep -qF 'libgstreamer1.0-0 (>= 1.20)' || fail "$DEB: Depends lacks libgstreamer1.0-0 (>= 1.20)"
ARCH=$(dpkg-deb --field "$DEB" Architecture)
case "$ARCH" in
  amd64) MACHINE="Advanced Micro Devices X86-64" ;;
  arm64) MACHINE=AArch64 ;;
  *) fail "$DEB: Architecture $ARCH (expected amd64 or arm64)" ;;
esac
# How this machine runs the package's binaries: natively, or an arm64 package under qemu-user with its sysroot.
RUN=()
if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
  if [ "$ARCH" != arm64 ] || [ ! -d "${JAMFLOW_SYSROOT:-}/usr/lib/aarch64-linux-gnu" ]; then
    fail "$DEB is $ARCH: set JAMFLOW_SYSROOT to the arm64 sysroot of scripts/cross.sh to run its binaries"
  fi
  RUN=(env "QEMU_LD_PREFIX=$JAMFLOW_SYSROOT" qemu-aarch64-static)
fi
dpkg -x "$DEB" "$ROOT"
dpkg-deb --control "$DEB" "$ROOT/DEBIAN"

for f in usr/bin/jamflowd usr/bin/jamflow; do [ -x "$ROOT/$f" ] || fail "$f missing or not executable"; done
for f in etc/jamflow/jamflowd.toml lib/systemd/system/jamflowd.service lib/systemd/system/jamflow-engines.service \
  usr/lib/jamflow/libonnxruntime.so usr/share/jamflow/portraits/astronaut.png \
  usr/share/jamflow/portraits/astronaut.landmarks.json usr/share/doc/jamflow/copyright; do
  [ -e "$ROOT/$f" ] || fail "$f missing"
done
[ -d "$ROOT/etc/jamflow/voices" ] || fail "etc/jamflow/voices missing"
for f in "$ROOT"/usr/bin/* "$ROOT"/usr/lib/jamflow/*.so.*; do
  m=$(readelf -h "$f" 2>/dev/null | sed -n 's/^ *Machine: *//p')
  [ "$m" = "$MACHINE" ] || fail "${f#"$ROOT"/}: machine '$m', expected $MACHINE for $ARCH"
done
for pkg in jamflow-small jamflow-small-student jamflow-speech; do
  for f in model.json model.safetensors vocab.txt MODEL_CARD.md; do
    cmp -s "engines/$pkg/$f" "$ROOT/usr/share/jamflow/engines/$pkg/$f" || fail "engines/$pkg/$f not shipped as is"
  done
done
grep -qx /etc/jamflow/jamflowd.toml "$ROOT/DEBIAN/conffiles" || fail "the config is not a conffile"
for s in postinst prerm postrm; do sh -n "$ROOT/DEBIAN/$s" || fail "DEBIAN/$s: syntax error"; done
# The maintainer scripts' flow, with every command they run replaced by a stub that logs it (nothing changes here):
# a fresh install creates the system user, owns its state directory, closes the config to others, enables the unit.
mkdir -p "$ROOT/stub"
for c in getent adduser install chgrp chmod systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/stub.log"\n[ %s != getent ]\n' "$c" "$ROOT" "$c" >"$ROOT/stub/$c"
  chmod +x "$ROOT/stub/$c"
done
PATH="$ROOT/stub:$PATH" sh "$ROOT/DEBIAN/postinst" configure || fail "postinst configure failed"
for want in "adduser --system --group --home /var/lib/jamflow" "install -d -o jamflow -g jamflow -m 0750 /var/lib/jamflow" \
  "chmod 0640 /etc/jamflow/jamflowd.toml"; do
  grep -qF -- "$want" "$ROOT/stub.log" || fail "postinst did not run: $want"
done
if [ -d /run/systemd/system ]; then
  grep -qF "systemctl enable jamflowd.service" "$ROOT/stub.log" || fail "postinst did not enable jamflowd"
fi
PATH="$ROOT/stub:$PATH" sh "$ROOT/DEBIAN/prerm" remove || fail "prerm remove failed"

# The units as systemd reads them, their ExecStart binaries pointed into the unpacked root (verify checks that they
# exist and are executable). User= names a user that only the postinst creates; verify does not look it up.
mkdir -p "$ROOT/verify"
for u in jamflowd.service jamflow-engines.service; do
  sed "s#^ExecStart=/usr/bin/#ExecStart=$ROOT/usr/bin/#" "$ROOT/lib/systemd/system/$u" >"$ROOT/verify/$u"
done
out=$(systemd-analyze verify "$ROOT/verify/jamflowd.service" "$ROOT/verify/jamflow-engines.service" 2>&1) ||
  fail "systemd-analyze verify: $out"
# Warnings about the units themselves fail too (ones about the host's other units are not ours).
if echo "$out" | grep -E "^(jamflowd|jamflow-engines)\.service|verify/" >&2; then fail "systemd-analyze verify warns"; fi

# The installed config as the daemon reads it, with /usr/share/jamflow and /etc/jamflow inside the root.
sed -e "s#\"/usr/share/jamflow/#\"$ROOT/usr/share/jamflow/#g" -e "s#\"/etc/jamflow/#\"$ROOT/etc/jamflow/#g" \
  "$ROOT/etc/jamflow/jamflowd.toml" >"$ROOT/check.toml"
JAMFLOW_ORT_LIB="$ROOT/usr/lib/jamflow/libonnxruntime.so" "${RUN[@]}" "$ROOT/usr/bin/jamflowd" --check --config "$ROOT/check.toml"
"${RUN[@]}" "$ROOT/usr/bin/jamflow" --version >/dev/null
echo "check-deb: $DEB OK ($ARCH, $(du -h "$DEB" | cut -f1))"

#!/usr/bin/env bash
# Do aarch64 binaries run on JetPack 6 (Ubuntu 22.04 arm64)? Checked from their dynamic sections alone (run by
# scripts/cross.sh; no device needed):
#   - every versioned symbol they import is at most what Ubuntu 22.04 ships: GLIBC_2.35 (glibc 2.35),
#     GLIBCXX_3.4.30 / CXXABI_1.3.13 (libstdc++ of GCC 12), GCC_12 (libgcc_s), ALSA_0.9.0; an unknown version
#     node fails;
#   - every unversioned symbol (GStreamer, GLib and ALSA export no version nodes) is looked up in the Debian
#     `symbols` control files of the sysroot's packages, which give for each exported symbol the first upstream
#     version that had it: GStreamer libraries < 1.21 (Ubuntu 22.04: 1.20.x), GLib < 2.73 (2.72.x), ALSA
#     <= 1.2.6.1; a symbol found in none of them fails (so does an imported library without a symbols file);
#   - it prints the libraries needed and the newest version required of each package (docs/jetson.md).
#   scripts/check-abi.sh SYSROOT BINARY...       (SYSROOT: the one scripts/cross.sh made, with .jamflow/symbols/)
# JetPack 7 (Ubuntu 24.04: glibc 2.39, GStreamer 1.24) provides a superset of all of these.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: check-abi.sh SYSROOT BINARY..." >&2; exit 64; }
SYSROOT=$1
shift
SYMS=$SYSROOT/.jamflow/symbols
[ -d "$SYMS" ] || { echo "check-abi: $SYMS missing (a sysroot made by scripts/cross.sh)" >&2; exit 64; }
READELF=${READELF:-aarch64-linux-gnu-readelf}
fail=0
bad() { echo "check-abi: $*" >&2; fail=1; }

# Per package the newest first-version allowed (dpkg ordering: "lt 1.21~" is anything 1.20.x).
limit_of() {
  case "$1" in
    libgstreamer1.0-0 | libgstreamer-plugins-base1.0-0 | libgstreamer-plugins-bad1.0-0 | libgstrtspserver-1.0-0)
      echo "lt 1.21~ GStreamer-1.20" ;;
    libglib2.0-0) echo "lt 2.73~ GLib-2.72" ;;
    libasound2) echo "le 1.2.6.1 ALSA-1.2.6.1" ;;
    *) echo "" ;;
  esac
}

# soname -> package, and soname+symbol -> first version, from every symbols file of the sysroot.
TABLE=$(mktemp)
trap 'rm -f "$TABLE"' EXIT
awk '
  /^[^ #*|]/ { soname = $1; pkg = $2; print "L", soname, pkg; next }
  /^ / && soname != "" {
    s = $1; v = $2
    if (s ~ /^\(/) { s = $2; v = $3 }          # "(optional)" or "(c++)" tags
    sub(/@Base$/, "", s)
    print "S", soname, s, v
  }' "$SYMS"/* >"$TABLE"

for bin in "$@"; do
  [ -f "$bin" ] || { bad "$bin: not found"; continue; }
  name=$(basename "$bin")
  mapfile -t needed < <("$READELF" -d -W "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  echo "$name: needs ${needed[*]}"
  # Version nodes: "Name: GLIBC_2.17" lines of .gnu.version_r.
  mapfile -t versions < <("$READELF" -V -W "$bin" | sed -n '/Version needs section/,$p' |
    sed -n 's/.*Name: \([A-Za-z_]*[0-9][0-9.]*\).*/\1/p' | sort -u)
  for v in "${versions[@]}"; do
    case "$v" in
      GLIBC_2.*) max=2.35; n=${v#GLIBC_} ;;
      GLIBCXX_3.4*) max=3.4.30; n=${v#GLIBCXX_} ;;
      CXXABI_1.3*) max=1.3.13; n=${v#CXXABI_} ;;
      GCC_*) max=12.0.0; n=${v#GCC_} ;;
      ALSA_0.9*) max=0.9.0; n=${v#ALSA_} ;; # alsa-lib's version nodes stopped at 0.9.0 (2003)
      *) bad "$name: unknown version node $v"; continue ;;
    esac
    dpkg --compare-versions "$n" le "$max" || bad "$name: needs $v (Ubuntu 22.04 has at most ${v%%_*}_$max)"
  done
  glibc_max=$(printf '%s\n' "${versions[@]}" | grep '^GLIBC_' | sort -V | tail -n1)
  echo "$name: newest glibc version node $glibc_max (limit GLIBC_2.35); others: $(printf '%s\n' "${versions[@]}" | grep -v '^GLIBC_' | sort -V | tr '\n' ' ')"
  # Unversioned undefined, non-weak symbols (readelf --dyn-syms: Num Value Size Type Bind Vis Ndx Name).
  mapfile -t unversioned < <("$READELF" --dyn-syms -W "$bin" |
    awk '$7 == "UND" && $5 != "WEAK" && $8 != "" && $8 !~ /@/ { print $8 }' | sort -u)
  # Resolve each in the symbols files of the libraries it needs.
  found=$(printf '%s\n' "${needed[@]}" | awk -v syms="$(printf '%s\n' "${unversioned[@]}")" -v table="$TABLE" '
    BEGIN { n = split(syms, s, "\n"); for (i = 1; i <= n; i++) want[s[i]] = 1 }
    { need[$1] = 1 }
    END {
      while ((getline line < table) > 0) {
        split(line, f, " ")
        if (f[1] == "L") pkg[f[2]] = f[3]
        else if (f[1] == "S" && (f[2] in need) && (f[3] in want) && !(f[3] in seen)) {
          seen[f[3]] = 1; print f[3], pkg[f[2]], f[4]
        }
      }
      for (x in want) if (x != "" && !(x in seen)) print x, "-", "-"
    }')
  # The newest first-version per package, and every symbol over its package's limit.
  declare -A newest_of=() sym_of=()
  while read -r sym pkg ver; do
    [ -n "$sym" ] || continue
    if [ "$pkg" = - ]; then bad "$name: $sym is in no symbols file of the libraries it needs"; continue; fi
    read -r op lim label <<<"$(limit_of "$pkg")" || true
    if [ -n "${op:-}" ] && ! dpkg --compare-versions "$ver" "$op" "$lim"; then
      bad "$name: $sym first appeared in $pkg $ver (Ubuntu 22.04 has ${label/-/ })"
    fi
    if [ -z "${newest_of[$pkg]:-}" ] || dpkg --compare-versions "$ver" gt "${newest_of[$pkg]}"; then
      newest_of[$pkg]=$ver
      sym_of[$pkg]=$sym
    fi
  done <<<"$found"
  echo "$name: ${#unversioned[@]} unversioned imports looked up; the newest first-version per package:"
  for pkg in $(printf '%s\n' "${!newest_of[@]}" | sort); do
    read -r op lim label <<<"$(limit_of "$pkg")" || true
    echo "  $pkg ${newest_of[$pkg]} (${sym_of[$pkg]})${label:+; limit ${label/-/ }}"
  done
  unset newest_of sym_of
done
if [ "$fail" = 1 ]; then echo "check-abi: FAILED" >&2; exit 1; fi
echo "check-abi: OK for Ubuntu 22.04 (JetPack 6) and newer"

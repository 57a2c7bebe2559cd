#!/usr/bin/env bash
# CI check of the real TensorRT shim (csrc/jamflow_trt.cpp) without a GPU or TensorRT (run by scripts/test.sh):
#   1. compiled with -Wall -Wextra -Werror against the TensorRT 10.3 (JetPack 6.1/6.2) and 10.16 (JetPack 7)
#      headers in ../shared/tensorrt/ and the CUDA 12.6 headers scripts/setup.sh puts in .cuda/include (headers as
#      -isystem, as on a Jetson), and linked as a shared object with no undefined symbol but libc/libdl's (it
#      resolves TensorRT with dlopen/dlsym only);
#   2. run against a stand-in libnvinfer.so.10 (csrc/check/fake_nvinfer.cpp): a missing library, TensorRT 8.6
#      (the old version encoding, no getInferLibMajorVersion), a 10.x older than the headers, and a usable
#      version whose factories return NULL must each give the shim's error code and message
#      (csrc/check/shim_check.c).
set -euo pipefail
cd "$(dirname "$0")/.."
CUDA_INC=${CUDA_INCLUDE:-$PWD/.cuda/include}
[ -f "$CUDA_INC/cuda_runtime_api.h" ] || { echo "no CUDA headers in $CUDA_INC (run scripts/setup.sh)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
CXX=(g++ -std=c++17 -Wall -Wextra -Werror -fPIC)
mkdir -p "$T/lib10" "$T/lib8"
"${CXX[@]}" -shared csrc/check/fake_nvinfer.cpp -o "$T/lib10/libnvinfer.so.10"
"${CXX[@]}" -shared -DFAKE_TRT_NO_MAJOR csrc/check/fake_nvinfer.cpp -o "$T/lib8/libnvinfer.so.10"
gcc -std=c11 -Wall -Wextra -Werror -Icsrc -c csrc/check/shim_check.c -o "$T/check.o"
"${CXX[@]}" -Icsrc csrc/jamflow_trt_mock.cpp -fsyntax-only
for v in 10.3 10.16; do
  inc=../shared/tensorrt/$v/include
  "${CXX[@]}" -Icsrc -isystem "$inc" -isystem "$CUDA_INC" -c csrc/jamflow_trt.cpp -o "$T/shim.o"
  g++ -shared -Wl,--no-undefined "$T/shim.o" -ldl -o "$T/libshim.so"
  g++ "$T/check.o" "$T/shim.o" -ldl -o "$T/shim_check"
  # (each run checked on its own: `set -e` does not apply inside a `||` list)
  ok=1
  # "missing" is skipped where a real TensorRT 10 is installed.
  if ! ldconfig -p 2>/dev/null | grep -q libnvinfer.so.10; then
    (cd "$T" && env -u LD_LIBRARY_PATH ./shim_check missing) >>"$T/log" 2>&1 || ok=0
  fi
  (cd "$T" && LD_LIBRARY_PATH="$T/lib8" FAKE_TRT_VERSION=8601 ./shim_check version) >>"$T/log" 2>&1 || ok=0
  (cd "$T" && LD_LIBRARY_PATH="$T/lib10" FAKE_TRT_VERSION=100200 ./shim_check old) >>"$T/log" 2>&1 || ok=0
  (cd "$T" && LD_LIBRARY_PATH="$T/lib10" FAKE_TRT_VERSION=101600 ./shim_check null) >>"$T/log" 2>&1 || ok=0
  if [ "$ok" = 0 ]; then
    cat "$T/log" >&2
    echo "shim check against TensorRT $v headers failed" >&2
    exit 1
  fi
  echo "TensorRT $v headers: the shim compiles (-Werror), links (dlopen only) and refuses what it must"
done

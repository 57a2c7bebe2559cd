#!/usr/bin/env bash
# RTSP stress (not a CI test; a few minutes): the reproduction of the shared-media starvation fixed on 2026-12-07
# (src/stream/rtsp.rs, module docs). Each round starts DAEMONS jamflowds at once (built-in test source, RTSP and
# control on free ports) and, as soon as each is healthy, a TCP and a UDP ffmpeg client together, each reading 3 s
# of media within 40 s, beside LOAD busy loops (a loaded CI machine). A daemon is served when both its clients
# finish. Before the fix 9 of 76 daemons served neither client under this load (this script with the jamflowd of
# 21c9b59: 28 of 30 served); after it, 80 of 80 (this script: 30 of 30).
#
#   bash scripts/rtsp_stress.sh                                   # 10 rounds x 2 daemons, 2 busy loops, debug build
#   bash scripts/rtsp_stress.sh --rounds 20 --jamflowd target/release/jamflowd --load 0
#
# Exit 0 when every daemon was served; 1 otherwise (the stuck daemons' logs are kept and named).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=10 daemons=2 load=2 jamflowd=target/debug/jamflowd
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds | --daemons | --load | --jamflowd)
      [ $# -ge 2 ] || { echo "rtsp_stress.sh: $1 needs a value" >&2; exit 64; } ;;
  esac
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --daemons) daemons=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --jamflowd) jamflowd=$2; shift 2 ;;
    *) echo "rtsp_stress.sh: unknown argument $1 (expected --rounds N, --daemons N, --load N, --jamflowd PATH)" >&2
       exit 64 ;;
  esac
done
for v in "rounds $rounds" "daemons $daemons" "load $load"; do
  [[ "${v#* }" =~ ^[0-9]+$ ]] || { echo "rtsp_stress.sh: --${v% *} ${v#* }: expected a whole number" >&2; exit 64; }
done
[ -x "$jamflowd" ] || { echo "rtsp_stress.sh: $jamflowd is not built (cargo build --bins)" >&2; exit 2; }
for tool in ffmpeg curl python3; do
  command -v "$tool" >/dev/null || { echo "rtsp_stress.sh: $tool not found (scripts/setup.sh installs it)" >&2; exit 2; }
done

logs=$(mktemp -d /tmp/jamflow-rtsp-stress.XXXXXX)
hogs=()
cleanup() { for p in "${hogs[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq 1 "$load"); do
  sh -c 'while :; do :; done' &
  hogs+=($!)
done

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# one daemon and its two clients; prints "served" or "STUCK <log prefix>"
one() {
  local rtsp control log d a b ok=1
  rtsp=$(free_port); control=$(free_port); log="$logs/$rtsp"
  GST_DEBUG="rtspmedia:4,appsrc:3" RUST_LOG=info,jamflow::stream::rtsp=debug \
    "$jamflowd" --rtsp-port "$rtsp" --control-port "$control" --duration-s 60 >"$log.out" 2>"$log.err" &
  d=$!
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$control/health" >/dev/null && break; sleep 0.1; done
  timeout 40 ffmpeg -v error -rtsp_transport tcp -i "rtsp://127.0.0.1:$rtsp/jamflow" -t 3 -f null - 2>"$log.tcp" &
  a=$!
  timeout 40 ffmpeg -v error -rtsp_transport udp -i "rtsp://127.0.0.1:$rtsp/jamflow" -t 3 -f null - 2>"$log.udp" &
  b=$!
  wait "$a" || ok=0
  wait "$b" || ok=0
  kill -TERM "$d" 2>/dev/null || true
  wait "$d" 2>/dev/null || true
  if [ "$ok" = 1 ]; then echo served; rm -f "$log".*; else echo "STUCK $log"; fi
}

results="$logs/results"
for r in $(seq 1 "$rounds"); do
  pids=()
  for _ in $(seq 1 "$daemons"); do
    one >>"$results" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  printf 'round %d/%d: %d served, %d stuck\n' "$r" "$rounds" "$(grep -c '^served' "$results" || true)" \
    "$(grep -c '^STUCK' "$results" || true)"
done
served=$(grep -c '^served' "$results" || true)
total=$((rounds * daemons))
echo "served $served of $total daemons (load: $load busy loops; $jamflowd)"
grep '^STUCK' "$results" | sed 's/^STUCK /  stuck, logs: /' || true
[ "$served" = "$total" ] || exit 1
rm -rf "$logs"

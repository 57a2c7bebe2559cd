# Shell helpers shared by scripts/setup.sh and scripts/cross.sh (sourced, not run). The caller sets LOG_TAG first.

log() { printf '[%s] %s\n' "${LOG_TAG:-jamflow}" "$*" >&2; }

retry() { # retry N CMD...: run CMD up to N times with a growing pause
  local n=$1 i=1; shift
  until "$@"; do
    if [ "$i" -ge "$n" ]; then log "failed after $n tries: $*"; return 1; fi
    log "try $i failed: $*; retrying in $((i * 5)) s"; sleep $((i * 5)); i=$((i + 1))
  done
}

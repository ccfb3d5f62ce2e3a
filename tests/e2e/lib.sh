# Shared helpers for the end-to-end tests (sourced). Each check prints what it found and
# fails loudly: a missing tool is an error, never a skip.
set -euo pipefail

CMAFENG=${1:?usage: $0 path/to/cmafeng}
SRC_DIR=${CME_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cmafeng-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0

for tool in ffmpeg ffprobe dav1d awk; do
  command -v "$tool" >/dev/null || { echo "FATAL: $tool is required (make deps installs it)"; exit 1; }
done

ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...
  local d=$1; shift
  if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# dav1d_frames X.mp4: extracts the AV1 track to X.ivf (the dav1d CLI reads no MP4),
# decodes it to X.y4m with the dav1d CLI, and prints how many frames it decoded.
dav1d_frames() {
  local base=${1%.mp4}
  ffmpeg -v error -y -i "$1" -c copy -f ivf "$base.ivf"
  dav1d -i "$base.ivf" -o "$base.y4m" 2>&1 | tr '\r' '\n' |
    awk '/Decoded/ { split($2, a, "/"); n = a[1] } END { print n + 0 }'
}

# interrupt_when FILE PID: waits (up to 30 s) for FILE to appear, sends SIGINT to PID (a
# background job of this shell) and sets rc to the exit status it then ends with. Not in a
# $(...) subshell: only this shell can wait for its child.
interrupt_when() {
  local file=$1 pid=$2
  for _ in $(seq 1 300); do
    [ -e "$file" ] && break
    sleep 0.1
  done
  kill -INT "$pid"
  set +e
  wait "$pid"
  rc=$?
  set -e
}

# validate_decode DIR: `cmafeng validate DIR --decode` (manifests against files, and every
# rendition decoded by libdav1d / libavcodec frame for frame) must exit 0; its findings are
# shown otherwise.
validate_decode() {
  local rc=0
  "$CMAFENG" validate --decode "$1" >"$WORK/validate_decode.out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    ok "validate --decode $(basename "$1"): clean ($(grep '^decode ' "$WORK/validate_decode.out" | sed 's/  */ /g'))"
  else
    sed 's/^/  | /' "$WORK/validate_decode.out"
    not_ok "validate --decode $(basename "$1") exits 0 (got $rc)"
  fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

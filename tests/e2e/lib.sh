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
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

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
# eq DESCRIPTION GOT WANT: ok when GOT is WANT, else says both.
eq() { if [ "$2" = "$3" ]; then ok "$1: $2"; else not_ok "$1: got '$2', want '$3'"; fi; }
# run_ok NAME RECIPE SOURCE OUT: cmafeng run must exit 0 (stderr in $WORK/NAME.err); the
# test ends there when it does not, as nothing after it could pass.
run_ok() {
  if "$CMAFENG" run "$2" -o "$4" -- "$3" 2>"$WORK/$1.err"; then
    ok "$1: cmafeng run exits 0"
  else
    cat "$WORK/$1.err"
    not_ok "$1: cmafeng run exits 0"
    finish
    exit 1
  fi
}
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

# has_event FILE TYPE PATTERN...: one JSON event line of that type (cmafeng run --events)
# matches every pattern; keys come sorted, so the patterns are matched one by one.
has_event() {
  local file=$1 type=$2
  shift 2
  local lines
  lines=$(grep "\"type\":\"$type\"" "$file" || true)
  for p in "$@"; do lines=$(printf '%s\n' "$lines" | grep -e "$p" || true); done
  [ -n "$lines" ]
}

# The job ended with every chunk done or failed by a decision (DESIGN.md section 3, chunk
# table): report.json's per-chunk records say so, one per segment of every rung, and the
# count of done chunks is the count of segment files. assert_chunks_settled REPORT LABEL
assert_chunks_settled() {
  cat >"$WORK/settled.lua" <<'LUA'
local json = require "cmafeng.json"
local f = assert(io.open(arg[1], "rb"))
local r = json.decode(f:read("*a"))
f:close()
local dir = arg[1]:match("^(.*)/[^/]*$") or "."
local bad, done, per = {}, 0, {}
for _, c in ipairs(r.chunks or {}) do
  if c.state == "done" then
    done = done + 1
  elseif c.state ~= "failed" then
    bad[#bad + 1] = c.rendition .. "#" .. c.index .. "=" .. c.state
  end
  per[c.rendition] = (per[c.rendition] or 0) + 1
end
local files = 0
for _, rep in ipairs(r.renditions or {}) do
  local p = io.popen('ls "' .. dir .. "/" .. rep.name .. '" 2>/dev/null')
  for l in p:lines() do if l:match("^seg_%d+%.m4s$") then files = files + 1 end end
  p:close()
  if (per[rep.name] or 0) == 0 then bad[#bad + 1] = rep.name .. ": no chunk records" end
end
if done ~= files then bad[#bad + 1] = done .. " done chunks but " .. files .. " segment files" end
print(#bad == 0 and "ok" or table.concat(bad, ", "))
LUA
  local out
  out=$(LUA_PATH="$SRC_DIR/lua/?.lua;;" luajit "$WORK/settled.lua" "$1" 2>&1) || true
  if [ "$out" = ok ]; then ok "$2: every chunk is done or failed by decision"
  else not_ok "$2: chunks not settled: $out"; fi
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

# players_modules: the npm packages of tests/players (players, playwright-core, mp4box.js),
# pinned by package-lock.json; installed once, and again whenever the lock file changes.
players_modules() {
  local players=$SRC_DIR/tests/players
  for tool in node npm; do
    command -v "$tool" >/dev/null ||
      { echo "FATAL: $tool is required (make deps installs nodejs and npm)"; exit 1; }
  done
  if [ ! -f "$players/node_modules/.package-lock.json" ] ||
    [ "$players/package-lock.json" -nt "$players/node_modules/.package-lock.json" ]; then
    echo "# npm ci in $players"
    (cd "$players" && npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) ||
      { cat "$WORK/npm.log"; echo "FATAL: npm ci failed in $players"; exit 1; }
  fi
}

# interop DIR: mp4box.js and MediaInfo read every init and media segment of DIR (each
# segment with its init) and report the codecs string, size or channels and rate, sample
# count, duration and sample bytes that `cmafeng inspect` reports (tests/players/interop.mjs);
# a disagreement fails with every reading shown.
interop() {
  command -v mediainfo >/dev/null ||
    { echo "FATAL: mediainfo is required (make deps installs it)"; exit 1; }
  players_modules
  local rc=0
  mkdir -p "$WORK/interop"
  node "$SRC_DIR/tests/players/interop.mjs" --cmafeng "$CMAFENG" --media "$1" \
    --work "$WORK/interop" >"$WORK/interop.log" 2>&1 || rc=$?
  local n
  n=$(grep -c '^ok - ' "$WORK/interop.log" || true)
  if [ "$rc" -eq 0 ] && [ "$n" -gt 0 ]; then
    ok "interop $(basename "$1"): cmafeng inspect, mp4box.js and MediaInfo agree on $n files"
  else
    grep -v '^ok - ' "$WORK/interop.log" | sed 's/^/  | /'
    not_ok "interop $(basename "$1"): the three readers agree on every file (exit $rc)"
  fi
}

# check_output DIR: validate --decode and the interop check.
check_output() {
  validate_decode "$1"
  interop "$1"
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

#!/usr/bin/env bash
# The sandbox through the real binary (issue 10): each escape a recipe tried exits 2 with a
# message naming the recipe file and writes nothing; the memory limit holds (8 x 1 GiB
# strings are refused, peak RSS stays far below); SIGINT and SIGTERM stop a recipe stuck in
# an endless loop (even one that pcall()s the loop) at the first signal, exit 130.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=128x72:r=25:d=1" -c:v libx264 -pix_fmt yuv420p "$SRC"
JOB='return { source = arg[1], output = arg[2], video = { ladder = { { width = 128, height = 72 } } } }'

escape() { # NAME PATTERN RECIPE-TEXT: the run exits 2, says PATTERN after "cmafeng: FILE", writes nothing
  local name=$1 pat=$2
  printf '%s\n' "$3" >"$WORK/$name.lua"
  set +e
  timeout 60 /usr/bin/time -f "%M" -o "$WORK/$name.rss" "$CMAFENG" run "$WORK/$name.lua" -- \
    "$SRC" "$WORK/out_$name" >"$WORK/$name.out" 2>"$WORK/$name.err"
  local rc=$?
  set -e
  check "$name: exit 2 (got $rc)" test "$rc" -eq 2
  check "$name: '$pat', naming the recipe" grep -q "^cmafeng: $WORK/$name.lua:.*$pat" "$WORK/$name.err" ||
    cat "$WORK/$name.err"
  check "$name: nothing written" test ! -e "$WORK/out_$name"
}

escape forge "cmafeng.json is read-only" \
  "require('cmafeng.json').encode = function() return '{\"ok\":true}' end
$JOB"
escape run "cmafeng.run is not available to recipes" \
  "require('cmafeng').run { source = arg[1], video = { ladder = { { width = 128, height = 72 } } } }
$JOB"
escape probe "cmafeng.probe: /etc/passwd was not named on the command line" \
  "local exists = require('cmafeng').probe('/etc/passwd')
$JOB"
escape dump "attempt to call field 'dump' (a nil value)\|attempt to call a nil value" \
  "local f = ('').dump(function() end)
$JOB"
escape index "source: expected a string" \
  "return setmetatable({}, { __index = function() while true do end end })"
escape tostring "error object is not a string: a table" \
  "error(setmetatable({}, { __tostring = function() while true do end end }))"
escape pattern "string.find: pattern .* too costly" \
  "local s = ('a'):rep(100000); s:find('.-.-.-.-.-b')
$JOB"
escape memory "exceeded its memory limit (512 MiB" \
  "local t = {}
for i = 1, 8 do t[i] = ('x'):rep(2^30) end
$JOB"
rss=$(tail -n 1 "$WORK/memory.rss")
check "memory: peak RSS stays under 1 GiB (${rss} KB)" test "$rss" -lt 1048576
escape memory_slow "exceeded its memory limit" \
  "local t = {}
for i = 1, 1e9 do t[i] = i .. 'abcdefghijklmnopqrstuvwxyz' end
$JOB"

# The first SIGINT or SIGTERM stops recipe code that never returns, cleanly, even when each
# of its VM instructions is a long C call (the count hook alone would take minutes), and
# even when the recipe pcall()s it.
printf 'local s = ("x"):rep(1e8)\nprint("started")\nwhile true do local _ = s:upper() end\n' \
  >"$WORK/endless_INT.lua"
printf 'local s = ("x"):rep(1e8)\nprint("started")\nwhile true do pcall(function() local _ = s:upper() end) end\n' \
  >"$WORK/endless_TERM.lua"
for sig in INT TERM; do
  "$CMAFENG" run "$WORK/endless_$sig.lua" -- "$SRC" "$WORK/out_sig" 2>"$WORK/sig.err" &
  pid=$!
  for _ in $(seq 1 200); do grep -q started "$WORK/sig.err" && break; sleep 0.05; done
  sleep 0.5
  kill "-$sig" "$pid"
  t0=$(date +%s%N)
  set +e
  wait "$pid"
  rc=$?
  set -e
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "SIG$sig during an endless recipe: exit 130 (got $rc) after ${ms} ms" test "$rc" -eq 130
  check "SIG$sig: it says so" \
    grep -q "^cmafeng: interrupted while loading the recipe: nothing was written" "$WORK/sig.err"
  check "SIG$sig: nothing written" test ! -e "$WORK/out_sig"
done

finish

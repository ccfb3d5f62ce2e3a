#!/usr/bin/env bash
# End to end: per-title probes on the job's devices (cme_probe_encodes_on), without loading
# the C module into luajit, so `make tsan` runs it: the probe encoders run on threads of
# their own, several at once, each holding a lease of the process-wide device pool.
#  - two declared SVT-AV1 devices of one session each: the probes run on both, two at once,
#    and report.json names the device of each;
#  - the probes given other devices than the job's: a warning;
#  - the shipped recipes/per_title.lua on a short clip: no warning, every probe on "cpu".
source "$(dirname "$0")/lib.sh"
export SVT_LOG=1

ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=1" -c:v libx264 -preset ultrafast \
  -crf 12 "$WORK/src.mkv"

# Declared devices: the probes lease the SVT-AV1 ones (one session each: both are used);
# a job whose workers differ from the probes' gets a warning.
cat >"$WORK/pt_dev.lua" <<'LUA'
local cmafeng = require "cmafeng"
local ladder = require "cmafeng.ladder"
local info = assert(cmafeng.probe(arg[1]))
local devices = { { backend = "svt", id = "left", sessions = 1 },
                  { backend = "svt", id = "right", sessions = 1 } }
return {
  source = arg[1], output = arg[2], segment_seconds = 1, devices = devices,
  video = { ladder = ladder.per_title {
    source = info, psnr = { 30 }, devices = devices,
    heights = { 360, 180 }, crfs = { 36, 56 }, windows = 1, window_seconds = 0.4,
    probe_preset = 12, preset = 12,
  } },
}
LUA
"$CMAFENG" run "$WORK/pt_dev.lua" -- "$WORK/src.mkv" "$WORK/out_dev" 2>"$WORK/run_dev.err" ||
  { cat "$WORK/run_dev.err"; not_ok "declared devices: cmafeng run exits 0"; finish; exit 1; }
ok "declared devices: cmafeng run exits 0"
got=$(luajit -e "
  package.path = '$SRC_DIR/lua/?.lua;' .. package.path
  local f = assert(io.open('$WORK/out_dev/report.json')); local r = require('cmafeng.json').decode(f:read('*a'))
  local on = {}
  for _, p in ipairs(r.per_title.probes) do on[p.device] = (on[p.device] or 0) + 1 end
  print(((on.left or 0) + (on.right or 0)) .. ' ' .. (on.left and on.right and 'both' or 'one') .. ' ' .. r.per_title.probe_parallel)")
eq "declared devices: 4 probes on left and right, 2 at once" "$got" "4 both 2"
cat >"$WORK/pt_mismatch.lua" <<'LUA'
local cmafeng = require "cmafeng"
local ladder = require "cmafeng.ladder"
local info = assert(cmafeng.probe(arg[1]))
return {
  source = arg[1], output = arg[2], segment_seconds = 1, workers = 3,
  video = { ladder = ladder.per_title {
    source = info, psnr = { 30 }, devices = { { backend = "svt", id = "left", sessions = 1 } },
    heights = { 360, 180 }, crfs = { 36, 56 }, windows = 1, window_seconds = 0.4,
    probe_preset = 12, preset = 12,
  } },
}
LUA
"$CMAFENG" run "$WORK/pt_mismatch.lua" -- "$WORK/src.mkv" "$WORK/out_mismatch" 2>"$WORK/run_mismatch.err" ||
  { cat "$WORK/run_mismatch.err"; not_ok "mismatch: cmafeng run exits 0"; finish; exit 1; }
check "probes on other devices than the job's: a warning ($(grep -m1 per_title "$WORK/run_mismatch.err"))" \
  grep -q "ladder.per_title: the probes ran on leftx1 but the job uses cpux3" "$WORK/run_mismatch.err"


ffmpeg -v error -y -f lavfi -i "testsrc=s=640x360:r=25:d=2" -c:v libx264 -preset ultrafast \
  "$WORK/simple.mkv"
"$CMAFENG" run "$SRC_DIR/recipes/per_title.lua" -o "$WORK/out_recipe" -- "$WORK/simple.mkv" \
  2>"$WORK/run_recipe.err" ||
  { cat "$WORK/run_recipe.err"; not_ok "recipes/per_title.lua: cmafeng run exits 0"; finish; exit 1; }
ok "recipes/per_title.lua: cmafeng run exits 0"
check "recipes/per_title.lua: no warning" sh -c "! grep -q warning '$WORK/run_recipe.err'"
got=$(luajit -e "
  package.path = '$SRC_DIR/lua/?.lua;' .. package.path
  local f = assert(io.open('$WORK/out_recipe/report.json')); local r = require('cmafeng.json').decode(f:read('*a'))
  local n = 0
  for _, p in ipairs(r.per_title.probes) do if p.device == 'cpu' then n = n + 1 end end
  print(n .. '/' .. r.per_title.probe_count .. ' at ' .. r.per_title.probe_parallel)")
eq "recipes/per_title.lua: every probe on cpu, 2 at once" "$got" "12/12 at 2"
finish

#!/usr/bin/env bash
# End to end: scene-aligned chunking (recipes/scene_chunks.lua, cmafeng.chunking.scene)
# against an independent detector. A clip of four shots with cuts at known times (1.6, 4.0
# and 5.2 s; film grain on every shot) must give the cut list {1.6, 4.0, 5.2}, which must
# also be what FFmpeg's select='gt(scene,0.3)' finds. A recipe function returning an
# unsorted list must fail with exit 2 naming the field and the value.
source "$(dirname "$0")/lib.sh"

BIN_DIR=${CME_BINARY_DIR:-$(dirname "$CMAFENG")}
# cuts RECIPE SOURCE: the cut list recipe.load resolves (job.video.cuts), comma-separated.
cuts() {
  (cd "$SRC_DIR" && luajit -e "
    package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path
    package.cpath = '$BIN_DIR/lua/?.so;' .. package.cpath
    local job = assert(require('cmafeng.recipe').load('$1', { '$2' }))
    local out = {}
    for i, c in ipairs(job.video.cuts or {}) do out[i] = string.format('%.2f', c) end
    io.write(table.concat(out, ','), '\n')")
}

ffmpeg -v error -y \
  -f lavfi -i "testsrc2=s=480x270:r=25:d=1.6" \
  -f lavfi -i "smptehdbars=s=480x270:r=25:d=2.4" \
  -f lavfi -i "mandelbrot=s=480x270:r=25" \
  -f lavfi -i "rgbtestsrc=s=480x270:r=25:d=2.8" \
  -filter_complex "[2]trim=duration=1.2,setpts=PTS-STARTPTS[m];[0][1][m][3]concat=n=4:v=1:a=0,noise=alls=10:allf=t[v]" \
  -map "[v]" -c:v libx264 -preset ultrafast -crf 18 "$WORK/shots.mkv"

start=$(date +%s.%N)
ours=$(cuts recipes/scene_chunks.lua "$WORK/shots.mkv")
end=$(date +%s.%N)
echo "# scene pre-pass + probe of an 8 s 480x270 clip: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s"
theirs=$(ffmpeg -v info -i "$WORK/shots.mkv" -vf "select='gt(scene,0.3)',showinfo" -f null - 2>&1 |
  grep -o 'pts_time:[0-9.]*' | cut -d: -f2 | awk '{ printf "%s%.2f", (NR > 1 ? "," : ""), $1 }')
eq_check() { if [ "$2" = "$3" ]; then ok "$1: $2"; else not_ok "$1: got '$2', want '$3'"; fi; }
eq_check "cuts at the known shot changes" "$ours" "1.60,4.00,5.20"
eq_check "cuts = ffmpeg select='gt(scene,0.3)'" "$ours" "$theirs"

# The engine honours the cuts: every rung's segments start exactly there (EXTINF and tfdt),
# each starts with a key frame, and the output decodes and validates.
cat >"$WORK/cut_job.lua" <<LUA
local chunking = require "cmafeng.chunking"
return {
  source = arg[1], output = arg[2], workers = 2,
  chunking = chunking.scene { min = 1, max = 4, threshold = 0.3 },
  video = { ladder = { { width = 320, height = 180, crf = 40, preset = 12 },
                       { width = 160, height = 90, crf = 40, preset = 12 } } },
}
LUA
"$CMAFENG" run "$WORK/cut_job.lua" --events "$WORK/cut.jsonl" -- "$WORK/shots.mkv" "$WORK/cut" \
  2>"$WORK/cut.err" || { cat "$WORK/cut.err"; not_ok "the scene-chunked job exits 0"; }
for r in 180p 90p; do
  starts=$(awk '/^#EXTINF:/ { split($0, a, ":"); t += prev; prev = a[2] + 0; n++;
                 if (n > 1) printf "%s%.2f", (n > 2 ? "," : ""), t }' "$WORK/cut/$r/index.m3u8")
  eq_check "$r: segments start at the scene cuts (EXTINF)" "$starts" "$ours"
done
tfdt=$("$CMAFENG" inspect "$WORK/cut/180p/seg_00002.m4s" --json | grep -o '"dts":[0-9]*' |
  head -1 | cut -d: -f2)
eq_check "segment 2's tfdt is the first cut" "$(awk -v t="$tfdt" 'BEGIN { printf "%.2f", t / 90000 }')" \
  "${ours%%,*}"
validate_decode "$WORK/cut"

# A cut function that returns an unsorted list: exit 2 before anything is written.
cat >"$WORK/bad_cuts.lua" <<LUA
return {
  source = arg[1],
  output = arg[2],
  chunking = function(src) return { 3.0, 1.0 } end,
  video = { ladder = { { width = 160, height = 90, crf = 40, preset = 12 } } },
}
LUA
set +e
"$CMAFENG" run "$WORK/bad_cuts.lua" -- "$WORK/shots.mkv" "$WORK/out" 2>"$WORK/bad.err"
rc=$?
set -e
eq_check "unsorted cuts: exit 2" "$rc" "2"
check "unsorted cuts: message names line, field and value ($(head -n 1 "$WORK/bad.err"))" \
  grep -q "bad_cuts.lua:4: chunking\[2\]: 1 is not after cut 1 (3): cuts must be sorted" "$WORK/bad.err"
check "unsorted cuts: nothing written" test ! -e "$WORK/out"

finish

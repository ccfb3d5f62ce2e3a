#!/usr/bin/env bash
# Backpressure (DESIGN.md section 2): peak memory depends on the queue depth, not on the
# length of the input. The same 640x360 source at 4 s and at 16 s goes to one small rung;
# holding every decoded frame would add 12 s x 25 fps x 345 KB = ~100 MB for the long one,
# so its peak RSS (GNU time) must stay within 30 MB of the short one's.
source "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] && /usr/bin/time --version 2>&1 | grep -q GNU ||
  { echo "FATAL: GNU time is required at /usr/bin/time (make deps installs it)"; exit 1; }

cat >"$WORK/mem.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 0.4, workers = 2,
  threads_per_worker = 1, queue_depth = 2, audio = { enabled = false },
  video = { ladder = { { width = 128, height = 72, preset = 12 } } } }
LUA
declare -A rss
for d in 4 16; do
  ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=$d" -c:v libx264 -preset ultrafast \
    -pix_fmt yuv420p "$WORK/src$d.mkv"
  /usr/bin/time -f "%M" -o "$WORK/rss$d" "$CMAFENG" run "$WORK/mem.lua" -- "$WORK/src$d.mkv" \
    "$WORK/out$d" 2>"$WORK/stderr$d" || { cat "$WORK/stderr$d"; not_ok "$d s run exits 0"; }
  rss[$d]=$(tail -n 1 "$WORK/rss$d")
  check "$d s: all $((d * 5 / 2)) segments written (10 frames each)" \
    test "$(ls "$WORK/out$d"/72p/seg_*.m4s | wc -l)" -eq $((d * 5 / 2))
  check_output "$WORK/out$d"
done
echo "# peak RSS: 4 s ${rss[4]} KB, 16 s ${rss[16]} KB"
check "peak RSS for 16 s (${rss[16]} KB) within 30 MB of 4 s (${rss[4]} KB)" \
  test "${rss[16]}" -lt $((rss[4] + 30 * 1024))

finish

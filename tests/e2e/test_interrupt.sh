#!/usr/bin/env bash
# Ctrl-C: the first SIGINT cancels the job cleanly. cmafeng exits 130 with a message,
# leaves no temporary file, and every segment it did write is complete (a killed run never
# leaves a half-written file under its final name, DESIGN.md section 5).
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=20,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SRC"
cat >"$WORK/slow.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 2,
  video = { ladder = { { width = 640, height = 360, preset = 6 } } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/slow.lua" -- "$SRC" "$OUT" 2>"$WORK/stderr" &
interrupt_when "$OUT/360p/seg_00001.m4s" $!
check "exit code 130 after SIGINT (got $rc)" test "$rc" -eq 130
check "stderr says it was interrupted" grep -q "^cmafeng: interrupted" "$WORK/stderr"
check "no temporary file is left" test -z "$(find "$OUT" -name '*.tmp*')"
check "the job stopped early (fewer than 20 segments)" \
  test "$(ls "$OUT"/360p/seg_*.m4s | wc -l)" -lt 20
bad=0
for seg in "$OUT"/360p/seg_*.m4s; do
  cat "$OUT/360p/init.mp4" "$seg" >"$WORK/one.mp4"
  n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$WORK/one.mp4")
  [ "$n" = 25 ] || { echo "  $seg: $n frames"; bad=1; }
done
check "every segment written is complete (25 frames each)" test "$bad" -eq 0
# validate --decode on the interrupted output: no manifests were written, and it says so.
rc=0; "$CMAFENG" validate --decode "$OUT" >"$WORK/v.out" 2>&1 || rc=$?
check "validate --decode on the interrupted output exits 1 (got $rc)" test "$rc" -eq 1
check "and names the missing manifests" grep -q 'master\.m3u8: .*missing' "$WORK/v.out"
# The segments it did write read alike in cmafeng inspect, mp4box.js and MediaInfo.
interop "$OUT"

finish

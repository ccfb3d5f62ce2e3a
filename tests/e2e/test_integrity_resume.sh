#!/usr/bin/env bash
# Resume you can trust (issue 10): the journal records each segment's size and checksum, so
# a segment overwritten with zeros of the same size is encoded again, not kept; the same
# source reached through another path is the same job; and a job killed with SIGKILL at five
# random points, resumed each time, ends as one whole output (validate, dav1d decodes every
# frame, no temp file left).
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=10,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SRC"
ln -s "$SRC" "$WORK/alias.mkv"
cat >"$WORK/job.lua" <<'LUA'
-- One encoder instance: segments come one after another, so the interrupt below lands
-- while segments are still missing.
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 2,
  video = { ladder = { { width = 320, height = 180, preset = 8, instances = 1 } } } }
LUA

total_frames() { # the whole rendition through dav1d
  cat "$1/180p/init.mp4" "$1"/180p/seg_*.m4s >"$WORK/all.mp4"
  dav1d_frames "$WORK/all.mp4"
}

OUT=$WORK/out
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$OUT" 2>"$WORK/err1" &
interrupt_when "$OUT/180p/seg_00004.m4s" $!
check "the first run is interrupted (exit $rc)" test "$rc" -eq 130
kept=$(grep -c '^seg ' "$OUT/.cmafeng-journal" || true)
check "the journal lists $kept segments with a size and a checksum" \
  test "$(grep -cE '^seg 180p [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9a-f]{16}$' "$OUT/.cmafeng-journal")" -eq "$kept"
size=$(stat -c %s "$OUT/180p/seg_00002.m4s")
head -c "$size" /dev/zero >"$OUT/180p/seg_00002.m4s"
"$CMAFENG" run "$WORK/job.lua" --resume --events "$WORK/events.jsonl" -- "$WORK/alias.mkv" "$OUT" \
  2>"$WORK/err2" || { cat "$WORK/err2"; not_ok "the resumed run exits 0"; finish; exit 1; }
ok "the resume through another path to the same source is accepted and exits 0"
resumed=$(grep '"type":"segment"' "$WORK/events.jsonl" | grep -c '"resumed":true' || true)
check "it kept $((kept - 1)) segments (got $resumed): not the zeroed one" test "$resumed" -eq $((kept - 1))
check "segment 2 was encoded again" \
  grep -q '"index":2[,}]' <(grep '"type":"segment"' "$WORK/events.jsonl" | grep -v '"resumed":true')
check "segment 2 is no longer zeros" test "$(head -c 8 "$OUT/180p/seg_00002.m4s" | od -An -tx1 | tr -d ' ')" != 0000000000000000
check "validate finds the output whole" "$CMAFENG" validate "$OUT"
n=$(total_frames "$OUT")
check "dav1d decodes all 250 frames (got $n)" test "$n" -eq 250

# kill -9 at five random points, --resume after each, then to the end.
OUT=$WORK/killed
RANDOM=7 # a fixed sequence: the points vary within the run, not between test runs
opt=()
for i in 1 2 3 4 5; do
  "$CMAFENG" run "$WORK/job.lua" "${opt[@]}" -- "$SRC" "$OUT" 2>"$WORK/kill$i.err" &
  pid=$!
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "# kill $i: $(grep -cs '^seg ' "$OUT/.cmafeng-journal" || true) journaled," \
    "$(find "$OUT" -name '*.tmp.*' 2>/dev/null | wc -l) temp files"
  opt=(--resume)
done
"$CMAFENG" run "$WORK/job.lua" --resume -- "$SRC" "$OUT" 2>"$WORK/final.err" ||
  { cat "$WORK/final.err"; not_ok "the final --resume exits 0"; finish; exit 1; }
ok "the final --resume after five SIGKILLs exits 0"
check "no temp file is left" test -z "$(find "$OUT" -name '*.tmp.*')"
check "validate finds the output whole" "$CMAFENG" validate "$OUT"
n=$(total_frames "$OUT")
check "dav1d decodes all 250 frames (got $n)" test "$n" -eq 250

finish

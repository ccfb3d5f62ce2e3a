#!/usr/bin/env bash
# --resume (DESIGN.md section 5): a run stopped by Ctrl-C leaves a journal; the same job
# run again with --resume keeps the journaled segments, encodes only the rest, and the
# result is one whole, consistent output (validate, ffprobe, dav1d), the journal gone. A
# journal written for another job is refused with exit 2.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=10,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SRC"
cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 2,
  -- One encoder instance: the interrupt below must land while segments are still missing.
  video = { ladder = { { width = 640, height = 360, preset = tonumber(arg[3] or "8"),
                         instances = 1 } } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$OUT" 2>"$WORK/stderr1" &
interrupt_when "$OUT/360p/seg_00003.m4s" $!
check "the first run is interrupted (exit $rc)" test "$rc" -eq 130
kept=$(grep -c '^seg ' "$OUT/.cmafeng-journal" || true)
check "the journal lists the segments written so far ($kept)" test "$kept" -ge 3 -a "$kept" -lt 10

set +e
"$CMAFENG" run "$WORK/job.lua" --resume -- "$SRC" "$OUT" 10 2>"$WORK/stderr_other"
rc=$?
set -e
check "--resume with another preset is refused (exit $rc)" test "$rc" -eq 2
check "the refusal says the journal belongs to another job" \
  grep -q "^cmafeng: --resume: .*written for another job" "$WORK/stderr_other"

"$CMAFENG" run "$WORK/job.lua" --resume --events "$WORK/events.jsonl" -- "$SRC" "$OUT" \
  2>"$WORK/stderr2" || { cat "$WORK/stderr2"; not_ok "the resumed run exits 0"; finish; exit 1; }
ok "the resumed run exits 0"
resumed=$(grep '"type":"segment"' "$WORK/events.jsonl" | grep -c '"resumed":true' || true)
fresh=$(grep '"type":"segment"' "$WORK/events.jsonl" | grep -vc '"resumed":true' || true)
check "it kept the $kept journaled segments ($resumed resumed)" test "$resumed" -eq "$kept"
check "and encoded only the other $((10 - kept)) ($fresh encoded)" test "$fresh" -eq $((10 - kept))
check "the journal is gone after success" test ! -e "$OUT/.cmafeng-journal"
"$CMAFENG" validate "$OUT" >"$WORK/validate.txt" && valid=1 || { cat "$WORK/validate.txt"; valid=0; }
check "cmafeng validate finds the output whole" test "$valid" -eq 1
cat "$OUT/360p/init.mp4" "$OUT"/360p/seg_*.m4s >"$WORK/r.mp4"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
  -of csv=p=0 "$WORK/r.mp4")
check "ffprobe decodes all 250 frames (got $frames)" test "$frames" -eq 250
decoded=$(dav1d_frames "$WORK/r.mp4")
check "dav1d decodes all 250 frames (got $decoded)" test "$decoded" -eq 250

check_output "$OUT"

finish

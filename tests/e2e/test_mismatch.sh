#!/usr/bin/env bash
# The codec invariant with real encoders (DESIGN.md section 3 and 6): two SVT-AV1 devices,
# the second configured to signal AV1 level 6.3, share one rung. Whichever device's first
# packet sets the rung's invariant, the other one's chunks must be dropped, requeued
# without that device and re-encoded, the device excluded from the rung, and the output
# must be one consistent rendition: every segment from one device, every frame decodable.
# Which device takes which chunk is a race, so the job runs up to 3 times until a
# requeue happens (each run alone is a valid check of "nothing lost").
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SRC"
cat >"$WORK/mismatch.lua" <<'LUA'
return {
  source = arg[1], output = arg[2], segment_seconds = 0.5,
  devices = {
    { backend = "svt", id = "cpu-a", sessions = 1, threads = 1 },
    { backend = "svt", id = "cpu-b", sessions = 2, threads = 1, level = 63 },
  },
  video = { ladder = { { width = 320, height = 180, preset = 12, crf = 40 } } },
}
LUA

requeues=0
for attempt in 1 2 3; do
  OUT=$WORK/out$attempt
  "$CMAFENG" run "$WORK/mismatch.lua" --events "$WORK/events$attempt.jsonl" \
    -- "$SRC" "$OUT" 2>"$WORK/stderr" || { cat "$WORK/stderr"; not_ok "run $attempt exits 0"; break; }
  ok "run $attempt exits 0"
  requeues=$(grep -c '"type":"requeue"' "$WORK/events$attempt.jsonl" || true)
  devices=$(grep '"type":"segment"' "$WORK/events$attempt.jsonl" | grep -v '"audio":true' |
    grep -o '"device":"[^"]*"' | sort -u | wc -l)
  check "run $attempt: all 8 segments come from one device" \
    test "$(grep '"type":"segment"' "$WORK/events$attempt.jsonl" | grep -vc '"audio":true')" -eq 8 -a "$devices" -eq 1
  cat "$OUT/180p/init.mp4" "$OUT"/180p/seg_*.m4s >"$WORK/r.mp4"
  frames=$(ffprobe -v error -count_frames -select_streams v:0 \
    -show_entries stream=nb_read_frames -of csv=p=0 "$WORK/r.mp4")
  check "run $attempt: ffprobe decodes all 100 frames (got $frames)" test "$frames" -eq 100
  decoded=$(dav1d_frames "$WORK/r.mp4")
  check "run $attempt: dav1d decodes all 100 frames (got $decoded)" test "$decoded" -eq 100
  # The CODECS the manifest announces is the level of the device that won the rung.
  level=$(grep -o 'CODECS="av01\.0\.[0-9][0-9]' "$OUT/master.m3u8" | sed 's/.*\.//')
  winner=$(grep '"type":"init"' "$WORK/events$attempt.jsonl" | grep -v '"audio":true' |
    grep -o '"device":"[^"]*"' | sed 's/.*:"//; s/"//')
  want=00
  [ "$winner" = cpu-b ] && want=19
  check "run $attempt: CODECS level $level is the one of $winner" test "$level" = "$want"
  check_output "$OUT"
  [ "$requeues" -gt 0 ] && break
done
check "a mismatching device's chunks were requeued ($requeues requeue events)" \
  test "$requeues" -gt 0
check "the requeue names the differing field" \
  grep -q 'seq_level_idx\[0\] [0-9]* != [0-9]*' "$WORK"/events*.jsonl

finish

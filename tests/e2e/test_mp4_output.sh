#!/usr/bin/env bash
# output_mode = "both": beside the CMAF output, one progressive MP4 per rung (OUT/<rung>.mp4)
# stitched from the chunk-parallel segments: moov before mdat (fast start), every frame of
# the rung (ffprobe and the dav1d CLI count them), the audio muxed in with its priming
# trimmed, and validate --decode holds each file against its CMAF track.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4" -f lavfi -i "sine=d=4" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$SRC"
cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 2, output_mode = "both",
  video = { ladder = { { width = 320, height = 180, preset = 12 }, { width = 160, height = 90, preset = 12 } } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$OUT" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"
for rung in 180p 90p; do
  f=$OUT/$rung.mp4
  check "$rung.mp4 exists beside the CMAF rendition" test -s "$f" -a -s "$OUT/$rung/init.mp4"
  moov=$(grep -obUa moov "$f" | head -n 1 | cut -d: -f1)
  mdat=$(grep -obUa mdat "$f" | head -n 1 | cut -d: -f1)
  check "$rung.mp4: moov ($moov) before mdat ($mdat)" test "$moov" -lt "$mdat"
  got=$(ffprobe -v error -show_entries stream=codec_name,nb_frames -of csv=p=0 "$f" | tr '\n' ' ')
  check "$rung.mp4: ffprobe finds AV1 with 100 frames and AAC with 190 ($got)" \
    test "$got" = "av1,100 aac,190 "
  check "$rung.mp4: the dav1d CLI decodes 100 frames" test "$(dav1d_frames "$f")" -eq 100
  dur=$(ffprobe -v error -select_streams a:0 -show_entries stream=duration -of csv=p=0 "$f")
  check "$rung.mp4: the audio lasts the source's 4 s, the priming trimmed ($dur s)" \
    awk -v d="$dur" 'BEGIN { exit !(d > 3.99 && d < 4.03) }'
done
check_output "$OUT"
check "validate --decode decoded the two MP4 files too" \
  grep -q '^decode .*ok (5 renditions' "$WORK/validate_decode.out"

finish

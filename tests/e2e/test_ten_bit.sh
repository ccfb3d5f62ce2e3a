#!/usr/bin/env bash
# 10-bit and colour: a BT.2020 PQ 10-bit source to a 10-bit rung and an 8-bit rung. The
# colour description travels from the source through SVT-AV1's sequence header into colr,
# av1C and the CODECS string (AV1-ISOBMFF annex A full form), checked with ffprobe and dav1d.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src10.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=2,format=yuv420p10le" \
  -c:v libx264 -preset ultrafast -profile:v high10 -color_primaries bt2020 \
  -color_trc smpte2084 -colorspace bt2020nc "$SRC"
cat >"$WORK/ten.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1,
  video = { ladder = {
    { width = 320, height = 180, preset = 12, bit_depth = 10 },
    { width = 160, height = 90, preset = 12 },
  } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/ten.lua" -- "$SRC" "$OUT" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"

for spec in 180p:yuv420p10le:10 90p:yuv420p:08; do
  IFS=: read -r name pixfmt depth <<<"$spec"
  cat "$OUT/$name/init.mp4" "$OUT/$name"/seg_*.m4s >"$WORK/$name.mp4"
  got=$(ffprobe -v error -select_streams v:0 -show_entries \
    stream=codec_name,pix_fmt,color_primaries,color_transfer,color_space -of csv=p=0 \
    "$WORK/$name.mp4")
  check "$name: ffprobe reads av1 $pixfmt BT.2020 PQ (got $got)" \
    test "$got" = "av1,$pixfmt,bt2020nc,smpte2084,bt2020"
  check "$name: CODECS is the full form with BT.2020 PQ, $depth bit" \
    grep -q "CODECS=\"av01\\.0\\.[0-9][0-9]M\\.$depth\\.0\\.110\\.09\\.16\\.09\\.0[,\"]" "$OUT/master.m3u8"
  decoded=$(dav1d_frames "$WORK/$name.mp4")
  check "$name: dav1d decodes 50 frames (got $decoded)" test "$decoded" -eq 50
done
check "10-bit y4m from dav1d is 10-bit" grep -q "C420p10" <(head -c 100 "$WORK/180p.y4m")

check_output "$OUT"

finish

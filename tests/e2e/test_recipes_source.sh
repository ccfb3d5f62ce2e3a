#!/usr/bin/env bash
# End to end: recipes that see their source, through `cmafeng run`.
#  - recipes/hdr10.lua on an HEVC 10-bit PQ source with mastering display: 10-bit rungs,
#    BT.2020 PQ in the bitstream (ffprobe), VIDEO-RANGE=PQ in the HLS multivariant playlist
#    and the CICP transfer descriptor in the MPD; an SDR source is refused (exit 2).
#  - recipes/abr_ladder.lua on a 2.4:1 source: rungs keep the display aspect (ffprobe sizes).
#  - an explicit ladder that upscales and stretches a 4:3 source: warnings on stderr and
#    in report.json, and the job still runs.
source "$(dirname "$0")/lib.sh"

eq() { if [ "$2" = "$3" ]; then ok "$1: $2"; else not_ok "$1: got '$2', want '$3'"; fi; }
run_ok() { # run_ok NAME RECIPE SOURCE OUT
  if "$CMAFENG" run "$2" -o "$4" -- "$3" 2>"$WORK/$1.err"; then
    ok "$1: cmafeng run exits 0"
  else
    cat "$WORK/$1.err"
    not_ok "$1: cmafeng run exits 0"
    finish
    exit 1
  fi
}

# --- HDR10 ---
ffmpeg -v error -y -f lavfi -i testsrc2=s=320x180:r=25:d=1 -c:v libx265 -preset ultrafast \
  -pix_fmt yuv420p10le -x265-params "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400" \
  "$WORK/pq.mkv"
run_ok hdr10 "$SRC_DIR/recipes/hdr10.lua" "$WORK/pq.mkv" "$WORK/hdr"
check "hdr10: the recipe logs what the probe saw" \
  grep -q "hdr10: .*pq.mkv PQ, 10-bit, mastering 0.0050..1000 cd/m2, MaxCLL 1000 MaxFALL 400" "$WORK/hdr10.err"
cat "$WORK/hdr/180p/init.mp4" "$WORK/hdr/180p"/seg_*.m4s >"$WORK/hdr180.mp4"
eq "hdr10: 10-bit BT.2020 PQ AV1 (ffprobe)" \
  "$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,pix_fmt,color_transfer,color_primaries -of csv=p=0 "$WORK/hdr180.mp4")" \
  "av1,yuv420p10le,smpte2084,bt2020"
check "hdr10: VIDEO-RANGE=PQ in master.m3u8" grep -q ",VIDEO-RANGE=PQ$" "$WORK/hdr/master.m3u8"
check "hdr10: CICP TransferCharacteristics 16 in manifest.mpd" \
  grep -q 'urn:mpeg:mpegB:cicp:TransferCharacteristics" value="16"' "$WORK/hdr/manifest.mpd"
ffmpeg -v error -y -f lavfi -i testsrc2=s=320x180:r=25:d=0.4 -c:v libx264 -preset ultrafast "$WORK/sdr.mkv"
set +e
"$CMAFENG" run "$SRC_DIR/recipes/hdr10.lua" -o "$WORK/sdr_out" -- "$WORK/sdr.mkv" 2>"$WORK/sdr.err"
rc=$?
set -e
eq "hdr10: an SDR source exits 2" "$rc" "2"
check "hdr10: ... saying why ($(cat "$WORK/sdr.err"))" grep -q "not an HDR source" "$WORK/sdr.err"

# --- a 2.4:1 source through abr_ladder ---
ffmpeg -v error -y -f lavfi -i testsrc2=s=960x400:r=25:d=1 -c:v libx264 -preset ultrafast "$WORK/wide.mkv"
run_ok wide "$SRC_DIR/recipes/abr_ladder.lua" "$WORK/wide.mkv" "$WORK/wide"
got=$(for d in "$WORK/wide"/*/init.mp4; do
  ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$d"; done | sort -t, -k1 -rn | tr '\n' ' ')
eq "wide: 960x400 at its own size, then 2.4:1 rungs (ffprobe)" "$got" "960,400 854,356 640,266 "
check "wide: no warning" sh -c "! grep -q warning '$WORK/wide.err'"

# --- explicit ladder on a 4:3 source ---
ffmpeg -v error -y -f lavfi -i testsrc2=s=320x240:r=25:d=1 -c:v libx264 -preset ultrafast "$WORK/43.mkv"
cat >"$WORK/explicit.lua" <<'LUA'
return {
  source = arg[1],
  video = { ladder = {
    { width = 640, height = 360, crf = 40, preset = 12 },
  } },
}
LUA
run_ok explicit "$WORK/explicit.lua" "$WORK/43.mkv" "$WORK/explicit"
check "explicit: stderr warns about upscaling" \
  grep -q "cmafeng: warning: video.ladder\[1\] (360p): 640x360 is larger than the source's display size 320x240" "$WORK/explicit.err"
check "explicit: stderr warns about stretching" \
  grep -q "cmafeng: warning: video.ladder\[1\] (360p): 640x360, aspect 1.778 differs from the source's display size 320x240 (aspect 1.333)" "$WORK/explicit.err"
check "explicit: report.json has both warnings" \
  test "$(grep -c 'video.ladder\[1\] (360p)' "$WORK/explicit/report.json")" -eq 2

finish

#!/usr/bin/env bash
# End to end: recipes that see their source, through `cmafeng run`.
#  - recipes/hdr10.lua on an HEVC 10-bit PQ source with mastering display: 10-bit rungs,
#    BT.2020 PQ in the bitstream (ffprobe), VIDEO-RANGE=PQ in the HLS multivariant playlist
#    and the CICP transfer descriptor in the MPD; the source's mastering display and light
#    level as AV1 metadata OBUs and mdcv/clli (ffprobe, inspect), also through abr_ladder by
#    default, none with hdr_metadata = false, the recipe's own when it sets them, a bad value
#    refused; an SDR source is refused (exit 2).
#  - recipes/abr_ladder.lua on a 2.4:1 source: rungs keep the display aspect (ffprobe sizes).
#  - an explicit ladder that upscales and stretches a 4:3 source: warnings on stderr and
#    in report.json, and the job still runs.
source "$(dirname "$0")/lib.sh"


# --- HDR10 ---
ffmpeg -v error -y -f lavfi -i testsrc2=s=320x180:r=25:d=1 -c:v libx265 -preset ultrafast \
  -pix_fmt yuv420p10le -x265-params "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400" \
  "$WORK/pq.mkv"
run_ok hdr10 "$SRC_DIR/recipes/hdr10.lua" "$WORK/pq.mkv" "$WORK/hdr"
check "hdr10: the recipe logs what the probe saw" \
  grep -q "hdr10: .*pq.mkv PQ, 10-bit, mastering 0.0050..1000 cd/m2, MaxCLL 1000 MaxFALL 400" "$WORK/hdr10.err"
cat "$WORK/hdr/180p/init.mp4" "$WORK/hdr/180p"/seg_*.m4s >"$WORK/hdr180.mp4"
eq "hdr10: 10-bit BT.2020 PQ AV1 (ffprobe)" \
  "$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,pix_fmt,color_transfer,color_primaries -of csv=p=0 "$WORK/hdr180.mp4" | head -1 | sed 's/,*$//')" \
  "av1,yuv420p10le,smpte2084,bt2020"
check "hdr10: VIDEO-RANGE=PQ in master.m3u8" grep -q ",VIDEO-RANGE=PQ$" "$WORK/hdr/master.m3u8"
check "hdr10: CICP TransferCharacteristics 16 in manifest.mpd" \
  grep -q 'urn:mpeg:mpegB:cicp:TransferCharacteristics" value="16"' "$WORK/hdr/manifest.mpd"
# HDR10 metadata: the source's mastering display and light level (x265 SEI) reach the
# bitstream as AV1 metadata OBUs (libdav1d exports them as frame side data to ffprobe) and
# the init segment as mdcv/clli (ffprobe's MP4 demuxer and our inspect read them).
eq "hdr10: mdcv and clli in the init segment (ffprobe)" \
  "$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=red_x,green_y,white_point_x,min_luminance,max_luminance,max_content,max_average -of csv=p=0 "$WORK/hdr/180p/init.mp4" | grep -v '^$' | tr '\n' ' ')" \
  "34000/50000,34500/50000,15635/50000,50/10000,10000000/10000 1000,400 "
eq "hdr10: metadata OBUs in the bitstream (ffprobe -show_frames, libdav1d)" \
  "$(ffprobe -v error -select_streams v:0 -read_intervals '%+#1' -show_frames -show_entries frame_side_data=red_x,max_luminance,min_luminance,max_content,max_average -of compact=p=0:nk=1 "$WORK/hdr180.mp4" | grep -v '^$' | tr '\n' ' ' | sed 's/^.*|unspecified|//')" \
  "44564/65536|82/16384|256000/256 1000|400 "
"$CMAFENG" inspect "$WORK/hdr/180p/init.mp4" >"$WORK/hdr_inspect.txt"
check "hdr10: inspect shows mdcv" grep -q "mdcv: R 0.6800,0.3200 G 0.2650,0.6900 B 0.1500,0.0600 WP 0.3127,0.3290, luminance 0.0050..1000.0000 cd/m2" "$WORK/hdr_inspect.txt"
check "hdr10: inspect shows clli" grep -q "clli: MaxCLL 1000, MaxFALL 400" "$WORK/hdr_inspect.txt"
check "hdr10: inspect --json has both" sh -c "'$CMAFENG' inspect '$WORK/hdr/180p/init.mp4' --json | tr -d ' \n' | grep -q '\"clli\":{\"max_cll\":1000,\"max_fall\":400}.*\"mdcv\":{'"
# abr_ladder.lua says nothing about HDR metadata: the source's is carried by default; a
# recipe that sets hdr_metadata = false gets none, one that sets its own gets its own.
run_ok hdr_abr "$SRC_DIR/recipes/abr_ladder.lua" "$WORK/pq.mkv" "$WORK/hdr_abr"
eq "abr_ladder on PQ: mdcv/clli by default" \
  "$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=max_luminance,max_content -of csv=p=0 "$WORK/hdr_abr/180p/init.mp4" | grep -v '^$' | tr '\n' ' ')" \
  "10000000/10000 1000 "
cat >"$WORK/hdr_off.lua" <<'LUA'
return { source = arg[1], video = { hdr_metadata = false,
  ladder = { { width = 320, height = 180, crf = 40, preset = 12, bit_depth = 10 } } } }
LUA
run_ok hdr_off "$WORK/hdr_off.lua" "$WORK/pq.mkv" "$WORK/hdr_off"
cat "$WORK/hdr_off/180p/init.mp4" "$WORK/hdr_off/180p"/seg_*.m4s >"$WORK/hdr_off.mp4"
eq "hdr_metadata = false: no mdcv/clli, no metadata OBU (side data in ffprobe)" \
  "$(ffprobe -v error -select_streams v:0 -show_frames -show_streams -of compact "$WORK/hdr_off.mp4" | grep -c 'side_data_type=' || true)" "0"
cat >"$WORK/hdr_own.lua" <<'LUA'
return { source = arg[1], segment_seconds = 0.4, video = {
  mastering_display = { red = { 0.708, 0.292 }, green = { 0.17, 0.797 }, blue = { 0.131, 0.046 },
                        white_point = { 0.3127, 0.329 }, min_luminance = 0.0001, max_luminance = 4000 },
  content_light_level = { max_cll = 2000, max_fall = 500 },
  ladder = { { width = 320, height = 180, crf = 40, preset = 12, bit_depth = 10 } } } }
LUA
run_ok hdr_own "$WORK/hdr_own.lua" "$WORK/pq.mkv" "$WORK/hdr_own"
eq "recipe's own metadata: mdcv/clli (ffprobe)" \
  "$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=red_x,max_luminance,min_luminance,max_content,max_average -of csv=p=0 "$WORK/hdr_own/180p/init.mp4" | grep -v '^$' | tr '\n' ' ')" \
  "35400/50000,1/10000,40000000/10000 2000,500 "
# Each segment carries the OBUs itself: the last one decoded alone after the init segment.
last=$(ls "$WORK/hdr_own/180p"/seg_*.m4s | tail -1)
cat "$WORK/hdr_own/180p/init.mp4" "$last" >"$WORK/hdr_own_last.mp4"
eq "recipe's own metadata: $(basename "$last") alone has the metadata OBUs" \
  "$(ffprobe -v error -select_streams v:0 -read_intervals '%+#1' -show_frames -show_entries frame_side_data=red_x,max_luminance,min_luminance,max_content,max_average -of compact=p=0:nk=1 "$WORK/hdr_own_last.mp4" | grep -v '^$' | tr '\n' ' ' | sed 's/^.*|unspecified|//')" \
  "46399/65536|2/16384|1024000/256 2000|500 "
cat >"$WORK/hdr_bad.lua" <<'LUA'
return { source = arg[1], video = {
  content_light_level = { max_cll = 70000, max_fall = 500 },
  ladder = { { width = 320, height = 180, crf = 40, preset = 12, bit_depth = 10 } } } }
LUA
set +e
"$CMAFENG" run "$WORK/hdr_bad.lua" -o "$WORK/hdr_bad" -- "$WORK/pq.mkv" 2>"$WORK/hdr_bad.err"
rc=$?
set -e
eq "max_cll 70000: exit 2" "$rc" "2"
check "max_cll 70000: names the field ($(head -1 "$WORK/hdr_bad.err"))" \
  grep -q "video.content_light_level.max_cll: expected an integer .*65535" "$WORK/hdr_bad.err"

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

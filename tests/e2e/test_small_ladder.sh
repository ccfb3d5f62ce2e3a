#!/usr/bin/env bash
# End to end: a 4 s 320x180 clip to 2 rungs with 2 workers, checked with independent tools:
# ffprobe reads every rendition (av1, size, frame count), the dav1d CLI decodes init + all
# segments of every rendition, tfdt values are continuous, and the HLS and DASH segment
# durations each add up to the input duration within one frame.
source "$(dirname "$0")/lib.sh"

FPS=25
FRAMES=100
SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=$FPS:d=4,noise=alls=20:allf=t" \
  -f lavfi -i "sine=frequency=440:duration=4" -c:v libx264 -preset ultrafast -crf 20 \
  -pix_fmt yuv420p -c:a aac -shortest "$SRC"
OUT=$WORK/out
"$CMAFENG" run "$SRC_DIR/recipes/small_test.lua" -o "$OUT" --events "$WORK/events.jsonl" \
  -- "$SRC" 2>"$WORK/stderr" || { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"

check "master.m3u8, manifest.mpd and report.json exist" \
  test -s "$OUT/master.m3u8" -a -s "$OUT/manifest.mpd" -a -s "$OUT/report.json"
check "no temporary file is left behind" \
  test -z "$(find "$OUT" -name '*.tmp*')"
check "8 video segment events in the JSON event log" \
  test "$(grep '"type":"segment"' "$WORK/events.jsonl" | grep -vc '"audio":true')" -eq 8
check "one audio segment event per audio segment file" \
  test "$(grep '"type":"segment"' "$WORK/events.jsonl" | grep -c '"audio":true')" -eq \
  "$(ls "$OUT"/audio/seg_*.m4s | wc -l)"
check "the job_done event closes the log" \
  test "$(tail -n 1 "$WORK/events.jsonl" | grep -c '"type":"done"')" -eq 1

input_dur=$(ffprobe -v error -select_streams v:0 -count_frames \
  -show_entries stream=nb_read_frames -of csv=p=0 "$SRC")
check "the source has $FRAMES frames" test "$input_dur" -eq "$FRAMES"

for spec in 180p:320:180 90p:160:90; do
  IFS=: read -r name w h <<<"$spec"
  dir=$OUT/$name
  nseg=$(ls "$dir"/seg_*.m4s | wc -l)
  check "$name: 4 segments" test "$nseg" -eq 4
  cat "$dir/init.mp4" "$dir"/seg_*.m4s >"$WORK/$name.mp4"
  probe=$(ffprobe -v error -count_frames -select_streams v:0 \
    -show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$WORK/$name.mp4")
  check "$name: ffprobe reads av1 ${w}x${h} with $FRAMES frames (got $probe)" \
    test "$probe" = "av1,$w,$h,$FRAMES"

  decoded=$(dav1d_frames "$WORK/$name.mp4")
  check "$name: dav1d decodes $FRAMES frames (got $decoded)" test "$decoded" -eq "$FRAMES"

  # tfdt continuity: in the stitched rendition every frame follows the previous one by
  # exactly one frame duration (3600 at 90 kHz, 25 fps), and each segment on its own
  # (init + seg, so its pts comes from its tfdt) starts at the pts of its first frame in
  # the stitched file.
  ffprobe -v error -select_streams v:0 -show_entries packet=pts -of csv=p=0 \
    "$WORK/$name.mp4" >"$WORK/$name.pts"
  cont=1
  awk 'NR > 1 && $1 - p != 3600 { exit 1 } { p = $1 }' "$WORK/$name.pts" ||
    { echo "  $name: frame timestamps are not evenly spaced"; cont=0; }
  idx=1
  for seg in "$dir"/seg_*.m4s; do
    cat "$dir/init.mp4" "$seg" >"$WORK/one.mp4"
    ffprobe -v error -select_streams v:0 -show_entries packet=pts -of csv=p=0 \
      "$WORK/one.mp4" >"$WORK/one.pts"
    first=$(head -n 1 "$WORK/one.pts")
    expected=$(sed -n "${idx}p" "$WORK/$name.pts")
    [ "$first" = "$expected" ] || { echo "  $seg starts at $first, expected $expected"; cont=0; }
    idx=$((idx + $(wc -l <"$WORK/one.pts")))
  done
  [ "$idx" -eq $((FRAMES + 1)) ] || { echo "  $name: segments hold $((idx - 1)) frames"; cont=0; }
  check "$name: tfdt values are continuous" test "$cont" -eq 1

  # HLS: EXTINF durations add up to the input duration within one frame.
  hls_sum=$(awk -F'[:,]' '/^#EXTINF/ { s += $2 } END { printf "%.6f", s }' "$dir/index.m3u8")
  check "$name: HLS EXTINF sum $hls_sum is 4 s within one frame" \
    awk -v s="$hls_sum" 'BEGIN { d = s - 4; if (d < 0) d = -d; exit !(d <= 1 / 25) }'
done

# DASH: per Representation, sum of SegmentTimeline durations (with repeats) / timescale.
awk '
  /<Representation/ { match($0, /id="[^"]*"/); id = substr($0, RSTART + 4, RLENGTH - 5); sum = 0 }
  /<SegmentTemplate/ { match($0, /timescale="[0-9]+"/); ts = substr($0, RSTART + 11, RLENGTH - 12) }
  /<S / { match($0, /d="[0-9]+"/); d = substr($0, RSTART + 3, RLENGTH - 4); r = 0
          if (match($0, /r="[0-9]+"/)) r = substr($0, RSTART + 3, RLENGTH - 4)
          sum += d * (r + 1) }
  /<\/Representation>/ { printf "%s %.6f\n", id, sum / ts }
' "$OUT/manifest.mpd" >"$WORK/dash_durations"
check "DASH lists both video representations and the audio" \
  test "$(wc -l <"$WORK/dash_durations")" -eq 3
while read -r id dur; do
  [ "$id" = audio ] && continue
  check "$id: DASH timeline sum $dur is 4 s within one frame" \
    awk -v s="$dur" 'BEGIN { d = s - 4; if (d < 0) d = -d; exit !(d <= 1 / 25) }'
done <"$WORK/dash_durations"

# The audio rendition: AAC-LC stereo 48 kHz in its own CMAF track, as long as the
# source's audio within one AAC frame, announced in both manifests.
cat "$OUT/audio/init.mp4" "$OUT"/audio/seg_*.m4s >"$WORK/audio.mp4"
aprobe=$(ffprobe -v error -select_streams a:0 \
  -show_entries stream=codec_name,profile,sample_rate,channels -of csv=p=0 "$WORK/audio.mp4")
check "audio: ffprobe reads AAC LC 48 kHz stereo (got $aprobe)" test "$aprobe" = "aac,LC,48000,2"
src_adur=$(ffprobe -v error -select_streams a:0 -show_entries packet=duration_time -of csv=p=0 \
  "$SRC" | awk '{ s += $1 } END { printf "%.6f", s }')
out_adur=$(ffprobe -v error -select_streams a:0 -show_entries packet=duration_time -of csv=p=0 \
  "$WORK/audio.mp4" | awk '{ s += $1 } END { printf "%.6f", s }')
check "audio: $out_adur s muxed for $src_adur s of source audio (within 2 AAC frames)" \
  awk -v a="$out_adur" -v b="$src_adur" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 2048 / 48000) }'
# The AAC encoder delay (1024 samples) is trimmed by an edit list, so the first audible
# sample presents at 0 with the first video frame: ffprobe shows the priming before 0.
astart=$(ffprobe -v error -select_streams a:0 -show_entries stream=start_time -of csv=p=0 \
  "$WORK/audio.mp4")
check "audio: the edit list trims the AAC priming (start_time $astart = -1024/48000)" \
  test "$astart" = "-0.021333"
check "master.m3u8 has the audio group and each variant uses it" \
  grep -q '^#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio".*URI="audio/index.m3u8"' "$OUT/master.m3u8"
check "every variant lists AV1 and AAC codecs" \
  test "$(grep -c 'CODECS="av01\.[^"]*,mp4a\.40\.2".*AUDIO="audio"' "$OUT/master.m3u8")" -eq 2
check "manifest.mpd has an audio AdaptationSet" \
  grep -q '<AdaptationSet[^>]*contentType="audio"' "$OUT/manifest.mpd"

check "master.m3u8 carries the AV1 CODECS from the bitstream" \
  grep -q 'CODECS="av01\.0\.[0-9][0-9]M\.08[,"]' "$OUT/master.m3u8"
check "ffprobe opens the HLS multivariant playlist" \
  ffprobe -v error -show_entries stream=codec_name -of csv=p=0 -o /dev/null "$OUT/master.m3u8"
check "ffprobe opens the DASH manifest" \
  ffprobe -v error -show_entries stream=codec_name -of csv=p=0 -o /dev/null "$OUT/manifest.mpd"

check_output "$OUT"

finish

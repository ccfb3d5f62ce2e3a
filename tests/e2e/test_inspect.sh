#!/usr/bin/env bash
# End to end: `cmafeng inspect` on files made by independent tools and by cmafeng itself.
# FFmpeg + SVT-AV1 encode a small clip into .mp4, then remux it to .ivf and .obu; cmafeng
# runs recipes/small_test.lua for an init segment and media segments. For each file the
# --json frame count must equal ffprobe's packet count and the sync sample count ffprobe's
# K flags; the codec string must equal the one in cmafeng's HLS multivariant playlist; and
# unreadable or malformed input must exit 2 with "cmafeng: FILE: why".
source "$(dirname "$0")/lib.sh"

jnum() { grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; } # jnum KEY < json
jstr() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }
probe_packets() {
  ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets \
    -of csv=p=0 "$1"
}
probe_keys() {
  ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$1" | grep -c K
}

# Checks one file's --json against ffprobe; $2 is the expected format.
check_file() {
  local f=$1 fmt=$2 name
  name=$(basename "$f")
  if ! "$CMAFENG" inspect --json "$f" >"$WORK/$name.json" 2>"$WORK/$name.err"; then
    cat "$WORK/$name.err"
    not_ok "$name: cmafeng inspect --json exits 0"
    return
  fi
  ok "$name: cmafeng inspect --json exits 0"
  local got_fmt frames packets sync keys
  got_fmt=$(jstr format <"$WORK/$name.json")
  check "$name: format $fmt (got $got_fmt)" test "$got_fmt" = "$fmt"
  frames=$(jnum frames <"$WORK/$name.json")
  packets=$(probe_packets "$f")
  check "$name: $frames samples = ffprobe's $packets packets" test "$frames" -eq "$packets"
  sync=$(jnum sync_samples <"$WORK/$name.json")
  keys=$(probe_keys "$f")
  check "$name: $sync sync samples = ffprobe's $keys key packets" test "$sync" -eq "$keys"
}

# ---- FFmpeg + SVT-AV1: .mp4, .ivf, .obu ------------------------------------------------
ffmpeg -v error -y -f lavfi -i "testsrc2=s=64x64:r=25:d=2" -pix_fmt yuv420p \
  -c:v libsvtav1 -preset 12 -g 12 "$WORK/clip.mp4" 2>/dev/null
ffmpeg -v error -y -i "$WORK/clip.mp4" -c copy "$WORK/clip.ivf"
ffmpeg -v error -y -i "$WORK/clip.mp4" -c copy -f obu "$WORK/clip.obu"
check_file "$WORK/clip.mp4" mp4
check_file "$WORK/clip.ivf" ivf
check_file "$WORK/clip.obu" obu
for f in clip.mp4 clip.ivf clip.obu; do
  check "$f: 50 samples" test "$(jnum frames <"$WORK/$f.json")" -eq 50
done
mp4_cs=$(jstr codec_string <"$WORK/clip.mp4.json")
check "the .mp4, .ivf and .obu agree on the codec string $mp4_cs" \
  test "$mp4_cs" = "$(jstr codec_string <"$WORK/clip.ivf.json")" -a \
       "$mp4_cs" = "$(jstr codec_string <"$WORK/clip.obu.json")"
check "the .mp4's sequence header comes from av1C" \
  test "$(jstr sequence_header_source <"$WORK/clip.mp4.json")" = av1C

"$CMAFENG" inspect "$WORK/clip.mp4" >"$WORK/clip.txt"
check "the text report names the codec string" grep -q "codec string: $mp4_cs" "$WORK/clip.txt"
check "the text report has one line per sample" \
  test "$(grep -cE '^ +[0-9]+ +[0-9.]+ +[0-9]+ +[0-9]+  (KEY|INTER|INTRA_ONLY|SWITCH|-)' \
    "$WORK/clip.txt")" -eq 50

# ---- cmafeng's own CMAF output ----------------------------------------------------------
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=2" -c:v libx264 -preset ultrafast \
  -pix_fmt yuv420p "$WORK/src.mkv"
OUT=$WORK/out
if "$CMAFENG" run "$SRC_DIR/recipes/small_test.lua" -o "$OUT" -- "$WORK/src.mkv" \
  2>"$WORK/run.err"; then
  ok "cmafeng run exits 0"
  dir=$OUT/180p
  hls_cs=$(grep -o 'CODECS="[^"]*"' "$OUT/master.m3u8" | head -n 1 | cut -d'"' -f2)
  hls_cs=${hls_cs%%,*} # the video codec (an audio codec may follow)
  "$CMAFENG" inspect --json "$dir/init.mp4" >"$WORK/init.json"
  check "init.mp4: format init" test "$(jstr format <"$WORK/init.json")" = init
  check "init.mp4: codec string equals the HLS CODECS $hls_cs" \
    test "$(jstr codec_string <"$WORK/init.json")" = "$hls_cs"
  check "init.mp4: timescale 90000" test "$(jnum timescale <"$WORK/init.json")" -eq 90000
  check "init.mp4: no samples" test "$(jnum frames <"$WORK/init.json")" -eq 0
  nseg=0
  for seg in "$dir"/seg_*.m4s; do
    nseg=$((nseg + 1))
    "$CMAFENG" inspect --json "$seg" >"$WORK/seg.json"
    check "$(basename "$seg"): codec string from its first sync sample equals $hls_cs" \
      test "$(jstr codec_string <"$WORK/seg.json")" = "$hls_cs"
    check "$(basename "$seg"): format segment, one sync sample" \
      test "$(jstr format <"$WORK/seg.json")" = segment -a \
           "$(jnum sync_samples <"$WORK/seg.json")" -eq 1
  done
  cat "$dir/init.mp4" "$dir"/seg_*.m4s >"$WORK/rendition.mp4"
  check_file "$WORK/rendition.mp4" fmp4
  check "rendition.mp4: $nseg fragments" \
    test "$(jnum fragments <"$WORK/rendition.mp4.json")" -eq "$nseg"
  check "rendition.mp4: every in-band sequence header matches av1C" \
    test "$(grep -c in_band_sequence_header_differs "$WORK/rendition.mp4.json")" -eq 0
  # A source without audio gives a video-only ladder: no audio rendition anywhere.
  check "no audio rendition for a source without audio" \
    test ! -e "$OUT/audio" -a -z "$(grep -l 'TYPE=AUDIO' "$OUT/master.m3u8")" \
      -a -z "$(grep -l 'contentType="audio"' "$OUT/manifest.mpd")"
  check_output "$OUT"
else
  cat "$WORK/run.err"
  not_ok "cmafeng run exits 0"
fi

# ---- unreadable and malformed input: exit 2, "cmafeng: FILE: why" ------------------------
expect_exit2() { # expect_exit2 DESCRIPTION FILE PATTERN
  local rc=0
  "$CMAFENG" inspect "$2" >/dev/null 2>"$WORK/bad.err" || rc=$?
  if [ "$rc" -eq 2 ] && grep -q "^cmafeng: $2: $3" "$WORK/bad.err"; then
    ok "$1"
  else
    echo "  exit $rc, stderr: $(cat "$WORK/bad.err")"
    not_ok "$1"
  fi
}
expect_exit2 "a missing file exits 2" "$WORK/missing.mp4" "No such file"
head -c 1000 "$WORK/clip.mp4" >"$WORK/truncated.mp4"
expect_exit2 "a truncated .mp4 exits 2 naming the box" "$WORK/truncated.mp4" ".*box size"
echo "not a video at all" >"$WORK/text.obu"
expect_exit2 "a text file exits 2" "$WORK/text.obu" "not IVF, ISO BMFF or an AV1 OBU stream"
ffmpeg -v error -y -f lavfi -i "testsrc2=s=64x64:r=25:d=0.2" -c:v libx264 "$WORK/h264.mp4"
expect_exit2 "an H.264 .mp4 exits 2" "$WORK/h264.mp4" ".*not AV1"
rc=0
"$CMAFENG" inspect >/dev/null 2>&1 || rc=$?
check "inspect without a FILE exits 2" test "$rc" -eq 2

finish

#!/usr/bin/env bash
# Audio ends exactly: a 10 s source with 2 s segments gives five audio segments beside the
# five video ones (no 21.7 ms sixth sliver), each starting within one AAC frame of its video
# segment, the last one absorbing the remainder. `inspect` reads the audio track with the
# one MP4 reader: codec string (the one HLS announces), channels, rate, and per segment the
# sample count ffprobe counts. validate --decode decodes it with libavcodec.
# Then a 5.1 source tagged French: Opus keeping the 5.1 layout (Opus sample entry with dOps,
# codecs "opus") and AAC downmixed to stereo, each with LANGUAGE/lang "fra", checked by
# ffprobe, the manifests and validate --decode.
source "$(dirname "$0")/lib.sh"
jnum() { grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }
jstr() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x90:r=25:d=10" -f lavfi -i "sine=d=10" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac 2 "$SRC"
cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 2,
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$OUT" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"

nv=$(grep -c '^#EXTINF' "$OUT/90p/index.m3u8")
na=$(grep -c '^#EXTINF' "$OUT/audio/index.m3u8")
check "as many audio segments as video segments ($na, $nv)" test "$na" -eq "$nv" -a "$nv" -eq 5
shortest=$(grep '^#EXTINF' "$OUT/audio/index.m3u8" | cut -d: -f2 | cut -d, -f1 | sort -g | head -n 1)
check "no audio segment shorter than half the 2 s target (shortest $shortest s)" \
  awk -v s="$shortest" 'BEGIN { exit !(s >= 1.0) }'
# Segment ends in presentation time: the audio's EXTINF sums against the video's, less the
# 1024 samples of encoder delay the edit list hides at the start of the audio track.
paste <(grep '^#EXTINF' "$OUT/90p/index.m3u8" | cut -d: -f2 | cut -d, -f1) \
  <(grep '^#EXTINF' "$OUT/audio/index.m3u8" | cut -d: -f2 | cut -d, -f1) >"$WORK/durs"
worst=$(awk '{ v += $1; a += $2 - (NR == 1 ? 1024 / 48000 : 0); d = v - a; if (d < 0) d = -d; if (NR < 5 && d > m) m = d }
  END { printf "%.6f", m }' "$WORK/durs")
check "every audio segment ends within one AAC frame of its video segment (worst $worst s)" \
  awk -v w="$worst" 'BEGIN { exit !(w <= 1024 / 48000 + 1e-6) }'

# inspect reads the audio track through the same reader as the video.
hls_audio=$(grep -o 'CODECS="[^"]*"' "$OUT/master.m3u8" | head -n 1 | cut -d'"' -f2 | cut -d, -f2)
"$CMAFENG" inspect --json "$OUT/audio/init.mp4" >"$WORK/ainit.json"
check "audio init: kind audio, sample entry mp4a" \
  test "$(jstr kind <"$WORK/ainit.json")" = audio -a "$(jstr sample_entry <"$WORK/ainit.json")" = mp4a
check "audio init: codec string equals the HLS CODECS entry $hls_audio" \
  test "$(jstr codec_string <"$WORK/ainit.json")" = "$hls_audio"
check "audio init: 2 channels, 48000 Hz, edit list trims the priming" \
  test "$(jnum channels <"$WORK/ainit.json")" -eq 2 -a "$(jnum sample_rate <"$WORK/ainit.json")" -eq 48000 \
    -a "$(jnum media_time <"$WORK/ainit.json")" -eq 1024
for seg in "$OUT"/audio/seg_*.m4s; do
  "$CMAFENG" inspect --json "$seg" >"$WORK/aseg.json"
  cat "$OUT/audio/init.mp4" "$seg" >"$WORK/one.mp4"
  want=$(ffprobe -v error -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$WORK/one.mp4")
  got=$(jnum frames <"$WORK/aseg.json")
  check "$(basename "$seg"): inspect lists the $want samples ffprobe counts (got $got)" \
    test "$got" -eq "$want" -a "$(jstr format <"$WORK/aseg.json")" = segment
done
check_output "$OUT"

SRC51=$WORK/s51.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x90:r=25:d=3" -f lavfi -i "sine=d=3" \
  -filter_complex "[1:a]pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0[a]" -map 0:v -map "[a]" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -metadata:s:a:0 language=fra "$SRC51"
for want in "opus 0 6 opus" "aac 2 2 mp4a.40.2"; do
  read -r codec channels nch codecs <<<"$want"
  cat >"$WORK/j_$codec.lua" <<LUA
return { source = arg[1], output = arg[2], segment_seconds = 1,
  audio = { codec = "$codec", channels = $channels, bitrate = 192000 },
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
LUA
  O=$WORK/o_$codec
  "$CMAFENG" run "$WORK/j_$codec.lua" -- "$SRC51" "$O" 2>"$WORK/stderr_$codec" ||
    { cat "$WORK/stderr_$codec"; not_ok "$codec: cmafeng run exits 0"; continue; }
  ok "$codec: cmafeng run exits 0"
  got=$(ffprobe -v error -show_entries stream=codec_name,channels:stream_tags=language \
    -of csv=p=0 "$O/audio/init.mp4")
  check "$codec: ffprobe reads ${codecs%%.*}, $nch channels, language fra (got $got)" \
    test "$got" = "$([ "$codec" = opus ] && echo opus || echo aac),$nch,fra"
  check "$codec: HLS EXT-X-MEDIA has LANGUAGE=\"fra\", CHANNELS=\"$nch\"" \
    grep -q "^#EXT-X-MEDIA:TYPE=AUDIO,.*LANGUAGE=\"fra\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"$nch\"" "$O/master.m3u8"
  check "$codec: CODECS carries $codecs" grep -q "CODECS=\"av01[^\"]*,$codecs\"" "$O/master.m3u8"
  check "$codec: the DASH audio AdaptationSet has lang=\"fra\" and $nch channels" \
    test -n "$(grep 'contentType="audio".*lang="fra"' "$O/manifest.mpd")" -a \
      -n "$(grep "codecs=\"$codecs\"" "$O/manifest.mpd")" -a \
      -n "$(grep "audio_channel_configuration:2011\" value=\"$nch\"" "$O/manifest.mpd")"
  check_output "$O"
done

finish

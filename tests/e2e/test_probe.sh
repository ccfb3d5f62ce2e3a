#!/usr/bin/env bash
# End to end: `cmafeng probe FILE --json` against ffprobe on sources generated with the
# properties a recipe must see: an anamorphic 720x576 16:9 clip (SAR 64:45), a display
# matrix (rotation), three audio streams with languages and layouts, a subtitle stream, HEVC
# 10-bit PQ with SMPTE ST 2086 mastering display and content light level SEI (x265), HLG, a
# variable frame rate, an audio-only file and a file that is not media.
source "$(dirname "$0")/lib.sh"

# jget FILE.json LUA: evaluates an expression (or a body with `return`) with `j` = the
# decoded JSON and prints the value.
jget() {
  local body=$2
  [[ $body == *return* ]] || body="return $body"
  luajit -e "package.path = '$SRC_DIR/lua/?.lua;' .. package.path
    local json = require 'cmafeng.json'
    local f = assert(io.open('$1')); local j = assert(json.decode(f:read('*a'))); f:close()
    local v = (function() $body end)()
    io.write(tostring(v), '\n')"
}
fprobe() { # fprobe FILE STREAM ENTRY
  ffprobe -v error -select_streams "$2" -show_entries "$3" -of csv=p=0 "$1" | head -n 1
}
probe_json() { # probe_json NAME: runs cmafeng probe --json on $WORK/NAME into NAME.json
  "$CMAFENG" probe --json "$WORK/$1" >"$WORK/$1.json"
}
ff() { ffmpeg -v error -y "$@"; }

# Anamorphic PAL 16:9: 720x576 stored, SAR 64:45, shown 1024x576.
ff -f lavfi -i testsrc2=s=720x576:r=25:d=2 -aspect 16:9 -c:v libx264 -preset ultrafast \
  "$WORK/anam.mp4"
probe_json anam.mp4
eq "anamorphic: coded size" "$(jget "$WORK/anam.mp4.json" 'j.video.width .. "x" .. j.video.height')" \
  "$(fprobe "$WORK/anam.mp4" v:0 stream=width,height | tr , x)"
eq "anamorphic: SAR = ffprobe's" "$(jget "$WORK/anam.mp4.json" 'j.video.sar_num .. ":" .. j.video.sar_den')" \
  "$(fprobe "$WORK/anam.mp4" v:0 stream=sample_aspect_ratio)"
eq "anamorphic: display size" \
  "$(jget "$WORK/anam.mp4.json" 'j.video.display_width .. "x" .. j.video.display_height')" "1024x576"
eq "anamorphic: frames = ffprobe's packets" "$(jget "$WORK/anam.mp4.json" 'j.video.frames')" \
  "$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets \
     -of csv=p=0 "$WORK/anam.mp4")"
eq "anamorphic: constant frame rate" "$(jget "$WORK/anam.mp4.json" 'tostring(j.video.vfr) .. " " .. j.video.fps_num .. "/" .. j.video.fps_den')" \
  "false 25/1"
eq "anamorphic: SDR 8-bit 4:2:0" "$(jget "$WORK/anam.mp4.json" 'j.video.hdr .. " " .. j.video.bit_depth .. " " .. j.video.chroma_format .. " " .. j.video.pix_fmt')" \
  "sdr 8 420 yuv420p"

# A display matrix: left half white, right half black, tagged with FFmpeg 5.1's
# `rotate` (which writes a matrix that turns the picture a quarter counter-clockwise).
ff -f lavfi -i "color=white:s=64x32:r=25:d=0.4,drawbox=x=32:y=0:w=32:h=32:color=black:t=fill" \
  -c:v libx264 -preset ultrafast "$WORK/flat.mp4"
ff -i "$WORK/flat.mp4" -c copy -metadata:s:v:0 rotate=90 "$WORK/rot.mp4"
probe_json rot.mp4
ffrot=$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 \
  "$WORK/rot.mp4" | grep -v '^$' | head -n 1)
eq "rotation: clockwise degrees = -(ffprobe's counter-clockwise $ffrot) mod 360" \
  "$(jget "$WORK/rot.mp4.json" 'j.video.rotation')" "$(( (360 - ffrot) % 360 ))"
# ffmpeg's own autorotation gives the display size and shows which way the picture turns.
ff -i "$WORK/rot.mp4" -frames:v 1 -f rawvideo -pix_fmt gray "$WORK/rot.gray"
ffmpeg -v error -y -i "$WORK/rot.mp4" -frames:v 1 -f yuv4mpegpipe -pix_fmt yuv420p "$WORK/rot.y4m"
y4m=$(head -c 30 "$WORK/rot.y4m" |
  awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^W/) w = substr($i, 2); if ($i ~ /^H/) h = substr($i, 2) } } END { print w "x" h }')
eq "rotation: display size = ffmpeg autorotate's frame" \
  "$(jget "$WORK/rot.mp4.json" 'j.video.display_width .. "x" .. j.video.display_height')" "$y4m"
# 270 clockwise = 90 counter-clockwise: the left (white) half ends at the bottom.
top=$(od -An -tu1 -v -j 0 -N 1 "$WORK/rot.gray" | tr -d ' ')
bottom=$(od -An -tu1 -v -j 2047 -N 1 "$WORK/rot.gray" | tr -d ' ')
check "rotation 270 clockwise agrees with ffmpeg's picture: top black ($top), bottom white ($bottom)" \
  test "$top" -lt 64 -a "$bottom" -gt 192
eq "no rotation on the untagged file" "$(probe_json flat.mp4 && jget "$WORK/flat.mp4.json" 'j.video.rotation')" "0"

# Three audio streams: English mono AAC, French 5.1 AAC, German stereo AC-3 at 44.1 kHz.
printf '1\n00:00:00,000 --> 00:00:00,500\nhello\n' >"$WORK/sub.srt"
ff -f lavfi -i testsrc2=s=320x240:r=25:d=1 -f lavfi -i "sine=d=1:sample_rate=48000" \
  -f lavfi -i "anullsrc=cl=5.1:r=48000" -f lavfi -i "anullsrc=cl=stereo:r=44100" \
  -i "$WORK/sub.srt" \
  -map 0 -map 1 -map 2 -map 3 -map 4 -t 1 -c:v libx264 -preset ultrafast -c:a:0 aac -c:a:1 aac \
  -c:a:2 ac3 -c:s srt -metadata:s:a:0 language=eng -metadata:s:a:1 language=fra \
  -metadata:s:a:2 language=deu -metadata:s:s:0 language=spa "$WORK/audio.mkv"
probe_json audio.mkv
eq "audio: three streams" "$(jget "$WORK/audio.mkv.json" '#j.audio')" "3"
for i in 0 1 2; do
  n=$((i + 1))
  want=$(ffprobe -v error -select_streams a:$i -show_entries stream=codec_name,channels,channel_layout,sample_rate:stream_tags=language -of csv=p=0 "$WORK/audio.mkv" | head -n 1)
  got=$(jget "$WORK/audio.mkv.json" "return (function(a) return table.concat({a.codec, a.sample_rate, a.channels, a.layout, a.language}, ',') end)(j.audio[$n])")
  # ffprobe's column order: codec_name, sample_rate, channels, channel_layout, language.
  eq "audio[$n] = ffprobe's a:$i" "$got" "$want"
done

eq "subtitles: one SRT stream in Spanish" \
  "$(jget "$WORK/audio.mkv.json" '#j.subtitles .. " " .. j.subtitles[1].codec .. " " .. j.subtitles[1].language')" \
  "1 subrip spa"

# HEVC Main 10, BT.2020 PQ, mastering display and content light level in SEI.
ff -f lavfi -i testsrc2=s=320x240:r=25:d=1 -c:v libx265 -preset ultrafast -pix_fmt yuv420p10le \
  -x265-params "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400" \
  "$WORK/pq.mkv"
probe_json pq.mkv
eq "PQ: hdr kind, depth, colour" \
  "$(jget "$WORK/pq.mkv.json" 'table.concat({j.video.hdr, j.video.bit_depth, j.video.color.primaries, j.video.color.transfer, j.video.color.matrix, j.video.color.range}, " ")')" \
  "pq 10 bt2020 smpte2084 bt2020nc limited"
eq "PQ: colour = ffprobe's" \
  "$(jget "$WORK/pq.mkv.json" 'table.concat({j.video.color.primaries, j.video.color.transfer, j.video.color.matrix}, ",")')" \
  "$(fprobe "$WORK/pq.mkv" v:0 stream=color_primaries,color_transfer,color_space | awk -F, '{print $3","$2","$1}')"
md=$(jget "$WORK/pq.mkv.json" 'local m = j.video.mastering_display; return string.format("%.4f %.4f %.4f %.4f %.4f %.4f %.4f %.4f %.4f %g", m.red[1], m.red[2], m.green[1], m.green[2], m.blue[1], m.blue[2], m.white_point[1], m.white_point[2], m.min_luminance, m.max_luminance)')
eq "PQ: mastering display (x265 units / 50000 and / 10000)" "$md" \
  "0.6800 0.3200 0.2650 0.6900 0.1500 0.0600 0.3127 0.3290 0.0050 1000"
eq "PQ: content light level" \
  "$(jget "$WORK/pq.mkv.json" 'j.video.content_light_level.max_cll .. "/" .. j.video.content_light_level.max_fall')" \
  "1000/400"
ffmd=$(ffprobe -v error -select_streams v:0 -read_intervals '%+#1' -show_frames \
  -show_entries frame_side_data=max_luminance,max_content "$WORK/pq.mkv" | grep -E 'max_luminance|max_content' | tr '\n' ' ')
check "PQ: ffprobe sees the same side data ($ffmd)" \
  grep -q 'max_luminance=10000000/10000 max_content=1000' <<<"$ffmd"

ff -f lavfi -i testsrc2=s=320x240:r=25:d=1 -c:v libx265 -preset ultrafast -pix_fmt yuv420p10le \
  -x265-params "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc" \
  "$WORK/hlg.mkv"
probe_json hlg.mkv
eq "HLG: hdr kind, no mastering display" \
  "$(jget "$WORK/hlg.mkv.json" 'j.video.hdr .. " " .. tostring(j.video.mastering_display)')" "hlg nil"

# Variable frame rate: 25 fps for a second, then 10 fps.
ff -f lavfi -i testsrc2=s=320x240:r=25:d=3 \
  -vf "select='lt(n,25)+not(mod(n,2))',settb=1/1000,setpts='if(lt(N,25),N*0.04,1+(N-25)*0.1)/TB'" \
  -fps_mode vfr -c:v libx264 -preset ultrafast "$WORK/vfr.mkv"
probe_json vfr.mkv
eq "VFR: flagged, shortest frame 0.04 s, longest >= 0.08 s" \
  "$(jget "$WORK/vfr.mkv.json" 'string.format("%s %.2f %s", tostring(j.video.vfr), j.video.min_frame_duration, tostring(j.video.max_frame_duration >= 0.08))')" \
  "true 0.04 true"
# 29.97 fps in Matroska: 1 ms timestamps make frames of 33 and 34 ms; that is not VFR.
ff -f lavfi -i testsrc2=s=320x240:r=30000/1001:d=2 -c:v libx264 -preset ultrafast "$WORK/ntsc.mkv"
probe_json ntsc.mkv
eq "29.97 fps Matroska: constant" \
  "$(jget "$WORK/ntsc.mkv.json" 'tostring(j.video.vfr) .. " " .. j.video.fps_num .. "/" .. j.video.fps_den')" \
  "false 30000/1001"

# No video: probe succeeds without `video`; text output says so.
ff -f lavfi -i sine=d=1 -c:a aac "$WORK/audio_only.m4a"
probe_json audio_only.m4a
eq "audio only: no video table" "$(jget "$WORK/audio_only.m4a.json" 'tostring(j.video) .. " " .. #j.audio')" "nil 1"
check "audio only: text says video: none" grep -q "video: none" <("$CMAFENG" probe "$WORK/audio_only.m4a")

# Not media, missing: exit 2 with the file named.
echo "not media" >"$WORK/junk.mkv"
set +e
"$CMAFENG" probe "$WORK/junk.mkv" 2>"$WORK/junk.err"; rc=$?
set -e
eq "junk: exit 2" "$rc" "2"
check "junk: message names the file" grep -q "cmafeng: $WORK/junk.mkv: " "$WORK/junk.err"

finish

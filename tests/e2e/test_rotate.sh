#!/usr/bin/env bash
# End to end: a source with a display matrix comes out upright (engine/media/rotate.c).
#  - a 640x360 clip given a rotation with `-c copy -metadata:s:v:0 rotate=90` (the tkhd
#    matrix; ffprobe shows it as side data) through recipes/abr_ladder.lua: one 360x640 rung,
#    no warning, no display matrix in the output, and the decoded picture matches ffmpeg's own
#    autorotate of the source (PSNR > 30 dB) but not the unturned picture squeezed to that size;
#  - rotate=180 and rotate=270 with a ladder written by hand: sizes and PSNR as above;
#  - a mirroring matrix and a transposing one (tkhd patched): the same against ffmpeg;
#  - a 30-degree matrix (tkhd patched): refused, exit 2, naming the angle, nothing written;
#  - a 4:2:2 source turned a quarter: refused, naming the pixel format.
source "$(dirname "$0")/lib.sh"

# psnr A B SIZE: mean luma+chroma PSNR of two files' frames, both scaled to SIZE (the first
# file is decoded without autorotate: it is our output and has no matrix).
psnr() {
  ffmpeg -v info -noautorotate -i "$1" -i "$2" -lavfi \
    "[0:v]scale=$3:flags=bicubic,format=yuv420p[a];[1:v]scale=$3:flags=bicubic,format=yuv420p[b];[a][b]psnr" \
    -f null - 2>&1 | awk '/PSNR y:/ { for (i = 1; i <= NF; i++) if ($i ~ /^average:/) { sub("average:", "", $i); print $i } }'
}
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

# testsrc2 has text and a moving pattern: no turn of it looks like another.
ffmpeg -v error -y -f lavfi -i testsrc2=s=640x360:r=25:d=1 -c:v libx264 -preset ultrafast \
  -pix_fmt yuv420p "$WORK/flat.mp4"
for deg in 90 180 270; do
  ffmpeg -v error -y -i "$WORK/flat.mp4" -c copy -metadata:s:v:0 rotate=$deg "$WORK/rot$deg.mp4"
done
check "fixture: ffprobe sees a display matrix on rot90.mp4" \
  sh -c "ffprobe -v error -select_streams v:0 -show_entries stream_side_data=side_data_type,rotation -of compact '$WORK/rot90.mp4' | grep -q 'Display Matrix|rotation=[-0-9]'"

# --- rotate=90 through abr_ladder: portrait, upright ---
"$CMAFENG" probe "$WORK/rot90.mp4" --json >"$WORK/probe90.json"
check "probe: display 360x640, rotation 270 (FFmpeg 5.1 stores rotate=90 as a quarter turn counter-clockwise)" \
  sh -c "tr -d ' \n' <'$WORK/probe90.json' | grep -q '\"display_height\":640,\"display_width\":360,.*\"rotation\":270'"
run_ok rot90 "$SRC_DIR/recipes/abr_ladder.lua" "$WORK/rot90.mp4" "$WORK/out90"
got=$(for d in "$WORK/out90"/*/init.mp4; do
  ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$d"; done | tr '\n' ' ')
eq "rot90: one rung, 360x640 (ffprobe)" "$got" "360,640 "
check "rot90: no warning on stderr" sh -c "! grep -q warning '$WORK/rot90.err'"
check "rot90: no warning in report.json" sh -c "! grep -q 'rotat' '$WORK/out90/report.json'"
rung=$(dirname "$(ls "$WORK/out90"/*/init.mp4 | head -1)")
cat "$rung/init.mp4" "$rung"/seg_*.m4s >"$WORK/out90.mp4"
eq "rot90: the output has no display matrix" \
  "$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=side_data_type -of csv=p=0 "$WORK/out90.mp4")" ""
eq "rot90: every frame decodes (dav1d)" "$(dav1d_frames "$WORK/out90.mp4")" "25"
# ffmpeg's autorotate of the source is what a player shows.
p_right=$(psnr "$WORK/out90.mp4" "$WORK/rot90.mp4" 360x640)
check "rot90: matches ffmpeg's autorotate of the source (PSNR $p_right dB > 30)" above "$p_right" 30
p_wrong=$(ffmpeg -v info -noautorotate -i "$WORK/out90.mp4" -noautorotate -i "$WORK/rot90.mp4" -lavfi \
  "[0:v]format=yuv420p[a];[1:v]scale=360x640,format=yuv420p[b];[a][b]psnr" -f null - 2>&1 |
  awk '/PSNR y:/ { for (i = 1; i <= NF; i++) if ($i ~ /^average:/) { sub("average:", "", $i); print $i } }')
check "rot90: ... and not the stored picture squeezed to 360x640 (PSNR $p_wrong dB < 20)" above 20 "$p_wrong"

# --- a retry decodes its chunk again (the pump let its frames go): turned upright too ---
cat >"$WORK/retry.lua" <<'LUA'
return {
  source = arg[1], segment_seconds = 0.4,
  devices = { { backend = "fault", id = "f", sessions = 1, threads = 1, options = "fail_once@2" } },
  video = { ladder = { { name = "r", width = 360, height = 640, crf = 30, preset = 12 } } },
}
LUA
run_ok retry "$WORK/retry.lua" "$WORK/rot90.mp4" "$WORK/outretry"
check "retry: segment 2 was encoded twice (report.json attempts)" \
  sh -c "tr -d ' \n' <'$WORK/outretry/report.json' | grep -q '\"attempts\":2'"
cat "$WORK/outretry/r/init.mp4" "$WORK/outretry/r"/seg_*.m4s >"$WORK/oretry.mp4"
eq "retry: every frame decodes (dav1d)" "$(dav1d_frames "$WORK/oretry.mp4")" "25"
p=$(psnr "$WORK/oretry.mp4" "$WORK/rot90.mp4" 360x640)
check "retry: the re-decoded segment is upright too (PSNR $p dB > 30)" above "$p" 30

# --- 180 and 270 with a ladder written by hand ---
cat >"$WORK/small.lua" <<'LUA'
local info = require("cmafeng").probe(arg[1])
local w, h = math.floor(info.video.display_width / 2), math.floor(info.video.display_height / 2)
return {
  source = arg[1],
  video = { ladder = { { name = "half", width = w, height = h, crf = 30, preset = 12 } } },
}
LUA
for deg in 180 270; do
  run_ok "rot$deg" "$WORK/small.lua" "$WORK/rot$deg.mp4" "$WORK/out$deg"
  cat "$WORK/out$deg/half/init.mp4" "$WORK/out$deg/half"/seg_*.m4s >"$WORK/o$deg.mp4"
  size=$(ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x "$WORK/o$deg.mp4")
  want=$([ "$deg" = 180 ] && echo 320x180 || echo 180x320)
  eq "rot$deg: size" "$size" "$want"
  p=$(psnr "$WORK/o$deg.mp4" "$WORK/rot$deg.mp4" "$want")
  check "rot$deg: matches ffmpeg's autorotate (PSNR $p dB > 30)" above "$p" 30
done

# The tkhd matrix sits 40 bytes into a version-0 tkhd's payload (ISO/IEC 14496-12 8.3.2):
# patch_matrix FILE A B C D writes a, b, u = 0, c, d (16.16) there.
be32() { printf '%08x' $(( $1 & 0xffffffff )) | sed 's/../\\x&/g'; }
patch_matrix() {
  local off
  off=$(grep -obUaP 'tkhd' "$1" | head -1 | cut -d: -f1)
  printf '%b' "$(be32 "$2")$(be32 "$3")$(be32 0)$(be32 "$4")$(be32 "$5")" |
    dd of="$1" bs=1 seek=$((off + 4 + 40)) conv=notrunc status=none
}

# --- mirrors: a plain mirror and a transpose (a mirrored quarter turn) ---
cp "$WORK/flat.mp4" "$WORK/mirror.mp4"
patch_matrix "$WORK/mirror.mp4" -65536 0 0 65536
cp "$WORK/flat.mp4" "$WORK/transpose.mp4"
patch_matrix "$WORK/transpose.mp4" 0 65536 65536 0
for m in mirror transpose; do
  "$CMAFENG" probe "$WORK/$m.mp4" --json | tr -d ' \n' >"$WORK/probe_$m.json"
  check "$m: probe says hflip" grep -q '"hflip":true' "$WORK/probe_$m.json"
  run_ok "$m" "$WORK/small.lua" "$WORK/$m.mp4" "$WORK/out_$m"
  cat "$WORK/out_$m/half/init.mp4" "$WORK/out_$m/half"/seg_*.m4s >"$WORK/o_$m.mp4"
  size=$(ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x "$WORK/o_$m.mp4")
  want=$([ "$m" = mirror ] && echo 320x180 || echo 180x320)
  eq "$m: size" "$size" "$want"
  p=$(psnr "$WORK/o_$m.mp4" "$WORK/$m.mp4" "$want")
  check "$m: matches ffmpeg's autorotate (PSNR $p dB > 30)" above "$p" 30
done
p=$(psnr "$WORK/o_mirror.mp4" "$WORK/flat.mp4" 320x180)
check "mirror: ... and not the unmirrored picture (PSNR $p dB < 20)" above 20 "$p"

# --- a matrix that is no quarter turn: refused before anything is written ---
# A 30-degree turn: a = d = cos, b = -c = sin in 16.16.
cp "$WORK/rot90.mp4" "$WORK/rot30.mp4"
patch_matrix "$WORK/rot30.mp4" 56756 32768 -32768 56756
check "fixture: ffprobe reads a -30 degree matrix (it prints -29.99 truncated)" \
  sh -c "ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 '$WORK/rot30.mp4' | grep -qE '^-(29|30)$'"
set +e
"$CMAFENG" run "$WORK/small.lua" -o "$WORK/out30" -- "$WORK/rot30.mp4" 2>"$WORK/rot30.err"
rc=$?
set -e
eq "rot30: exit 2" "$rc" "2"
check "rot30: says why ($(tail -1 "$WORK/rot30.err"))" \
  grep -q "display matrix turns the picture by 30.0 degrees; only quarter turns" "$WORK/rot30.err"
check "rot30: nothing written" sh -c "! ls '$WORK/out30'/*/seg_*.m4s 2>/dev/null"

# --- a quarter turn of 4:2:2 would be 4:4:0: refused, naming the format ---
ffmpeg -v error -y -f lavfi -i testsrc2=s=320x180:r=25:d=0.4 -c:v libx264 -preset ultrafast \
  -pix_fmt yuv422p "$WORK/flat422.mp4"
ffmpeg -v error -y -i "$WORK/flat422.mp4" -c copy -metadata:s:v:0 rotate=90 "$WORK/rot422.mp4"
set +e
"$CMAFENG" run "$WORK/small.lua" -o "$WORK/out422" -- "$WORK/rot422.mp4" 2>"$WORK/rot422.err"
rc=$?
set -e
eq "4:2:2 turned: exit 2" "$rc" "2"
check "4:2:2 turned: says why ($(tail -1 "$WORK/rot422.err"))" \
  grep -q "cannot be applied to yuv422p frames" "$WORK/rot422.err"

finish

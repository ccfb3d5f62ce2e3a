#!/usr/bin/env bash
# Rate caps (capped CRF): a rung with max_bitrate stays under it while the same rung without
# a cap, at the same CRF, does not; BANDWIDTH in the playlist stays the measured peak.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4,noise=alls=40:allf=t" \
  -c:v libx264 -preset ultrafast -crf 10 -pix_fmt yuv420p "$SRC"
cat >"$WORK/cap.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 1,
  video = { ladder = {
    { name = "capped", width = 320, height = 180, preset = 12, crf = 20,
      max_bitrate = 150000, buffer_size = 300000 },
    { name = "free", width = 320, height = 180, preset = 12, crf = 20 },
  } } }
LUA
"$CMAFENG" run "$WORK/cap.lua" -- "$SRC" "$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }
kbps() { # RUNG: average kbit/s of its media segments
  local bytes
  bytes=$(cat "$WORK/out/$1"/seg_*.m4s | wc -c)
  echo $((bytes * 8 / 4 / 1000))
}
capped=$(kbps capped)
free=$(kbps free)
echo "# capped $capped kbit/s, uncapped $free kbit/s"
check "the capped rung stays near its 150 kbit/s cap (got $capped)" test "$capped" -le 200
check "the same rung uncapped is far above it (got $free)" test "$free" -ge $((capped * 3))
check "no warning about caps" bash -c "! grep -q 'rate caps' '$WORK/err'"
bw=$(grep -B1 '^capped/index.m3u8' "$WORK/out/master.m3u8" |
  sed -n 's/.*[:,]BANDWIDTH=\([0-9]*\).*/\1/p')
check "BANDWIDTH of the capped rung is its measured peak, at least the average (got $bw)" \
  test "${bw:-0}" -ge $((capped * 1000))
validate_decode "$WORK/out"
finish

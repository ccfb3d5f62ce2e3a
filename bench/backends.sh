#!/usr/bin/env bash
# bench/backends.sh: the software encoder backends side by side on the same 720p rung, so a
# user can choose: wall time and frames per second, bitrate and PSNR for each.
#
#   bench/backends.sh                        # svt, aom, rav1e at their default speeds
#   BACKENDS="svt:10 aom:8" bench/backends.sh  # backend:preset pairs
#   DUR=4 bench/backends.sh                  # source length in seconds (default 3)
#
# Default speeds: SVT-AV1 enc_mode 10 and rav1e speed 6 are the libraries' own defaults.
# libaom's own default (cpu-used 0, FFmpeg's wrapper 1) runs at well under 1 frame/s at
# 720p on two cores, so the bench uses cpu-used 6, the speed most AV1 guides recommend for
# libaom's good-quality mode; BACKENDS changes any of them.
#
# Source: a generated 1280x720 25 fps clip (testsrc2 + temporal noise, x264 CRF 12), made once
# and cached. Each backend gets two devices of its kind, one encoder thread each (the engine
# keeps one encoder per device and rung), 1 s segments, CRF 35 (rav1e: qindex 140). Bitrate is
# from init + segments; PSNR is ffmpeg's psnr filter against the source. Every number printed
# is from this run, on this machine.
#
# Environment: CMAFENG (default build/cmafeng), BACKENDS, DUR, BENCH_RESULTS (default
# bench/results), BENCH_CACHE. Outputs go to $BENCH_RESULTS/backends/, the report also to
# $BENCH_RESULTS/backends/report.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
CACHE=${BENCH_CACHE:-$RESULTS/cache}
CME=${CMAFENG:-$ROOT/build/cmafeng}
BACKENDS=${BACKENDS:-svt:10 aom:6 rav1e:6}
DUR=${DUR:-3}
CRF=35
OUT=$RESULTS/backends

die() { echo "backends.sh: error: $*" >&2; exit 1; }
command -v ffmpeg >/dev/null || die "ffmpeg not found (apt-get install -y ffmpeg)"
[ -x /usr/bin/time ] || die "GNU time not found at /usr/bin/time (apt-get install -y time)"
[ -x "$CME" ] || die "$CME not built (make build)"

mkdir -p "$CACHE" "$OUT"
SRC=$CACHE/src720_${DUR}s.mkv
if [ ! -f "$SRC" ]; then
  echo "== generating $SRC"
  ffmpeg -v error -y -f lavfi -i "testsrc2=s=1280x720:r=25:d=$DUR,noise=alls=12:allf=t" \
    -c:v libx264 -preset veryfast -crf 12 -pix_fmt yuv420p "$SRC.tmp.mkv"
  mv "$SRC.tmp.mkv" "$SRC"
fi
FRAMES=$((DUR * 25))

report=$OUT/report.txt
{
  echo "cmafeng backends bench: 1280x720 25 fps, $DUR s ($FRAMES frames), CRF $CRF, 1 s segments"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$CME" version | sed -n '2,4p'
  printf '%-8s %-8s %8s %8s %8s %10s %9s\n' backend preset wall_s fps cpu_s kbit/s psnr_dB
} | tee "$report"

for pair in $BACKENDS; do
  b=${pair%%:*}
  p=${pair##*:}
  dir=$OUT/$b
  rm -rf "$dir"
  cat >"$OUT/$b.lua" <<LUA
return {
  source = arg[1], output = arg[2], segment_seconds = 1,
  audio = { enabled = false },
  devices = {
    { backend = "$b", id = "$b-a", sessions = 1, threads = 1 },
    { backend = "$b", id = "$b-b", sessions = 1, threads = 1 },
  },
  video = { ladder = { { name = "720p", width = 1280, height = 720, crf = $CRF, preset = $p } } },
}
LUA
  /usr/bin/time -f '%e %U %S' -o "$OUT/$b.time" "$CME" run "$OUT/$b.lua" -- "$SRC" "$dir" \
    >/dev/null 2>"$OUT/$b.log" || { cat "$OUT/$b.log"; die "$b run failed"; }
  read -r wall user sys <"$OUT/$b.time"
  cat "$dir/720p/init.mp4" "$dir"/720p/seg_*.m4s >"$OUT/$b.mp4"
  bytes=$(cat "$dir"/720p/init.mp4 "$dir"/720p/seg_*.m4s | wc -c)
  psnr=$(ffmpeg -v info -i "$OUT/$b.mp4" -i "$SRC" -lavfi "[0:v][1:v]psnr" -f null - 2>&1 |
    sed -n 's/.*PSNR.* average:\([0-9.inf]*\).*/\1/p' | tail -1)
  awk -v b="$b" -v p="$p" -v w="$wall" -v u="$user" -v s="$sys" -v f="$FRAMES" -v by="$bytes" \
    -v d="$DUR" -v q="$psnr" 'BEGIN {
      printf "%-8s %-8s %8.1f %8.1f %8.1f %10.0f %9.2f\n", b, p, w, f / w, u + s, by * 8 / d / 1000, q
    }' | tee -a "$report"
done
echo "outputs: $OUT (report.txt, one directory per backend)"

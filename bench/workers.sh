#!/usr/bin/env bash
# bench/workers.sh: what N workers buy on one rung and on a ladder (issue 6, point 3).
#
#   bench/workers.sh                                  # 10 s 1920x1080 25 fps, the issue's bench
#   BENCH_SECONDS=3 BENCH_SIZE=1280x720 bench/workers.sh   # a quick run
#
# Source: a y4m clip generated into a temp dir (testsrc2 + temporal noise, raw 4:2:0), so that
# decoding costs next to nothing and the workers' encoding is what is measured. Runs, all with
# threads_per_worker = 1 and the default device ("cpu"), 2 s segments, SVT-AV1 preset 10, CRF 35:
#   single_wN   one rung at the source size, workers = 1 and 2 (BENCH_SINGLE_WORKERS)
#   ladder_wN   three rungs (source size, 2/3 and 1/3 of it: 1080p/720p/360p from 1080p),
#               workers = 1, 2 and 4 (BENCH_LADDER_WORKERS)
# For every run and rung one table row: wall s, CPU s (user + sys) and peak RSS from GNU time,
# throughput against the same job with one worker (wall_w1 / wall_wN), bitrate (bytes of the
# media segments * 8 / duration) and PSNR (the rung decoded with libdav1d from init.mp4 +
# segments, against the source scaled bicubic to the rung, frames paired by index), and the
# bitrate and PSNR change against one worker. The issue's target is printed last: 2 workers
# >= 1.8x one worker on the single rung, bitrate within +1% at equal PSNR.
#
# Chunks are segments: N workers on one rung can at best divide the chunks evenly, so a
# 10 s clip in 2 s segments (5 chunks) on 2 workers tops out at 5/3 = 1.67x however fast the
# engine is; BENCH_SEGMENT=1 (10 chunks, 5 each) lets 2x be reached.
#
# Environment: CMAFENG (binary, default build/cmafeng), BENCH_SECONDS (10), BENCH_SEGMENT (2), BENCH_SIZE
# (1920x1080), BENCH_FPS (25), BENCH_PRESET (10), BENCH_CRF (35), BENCH_SINGLE_WORKERS ("1 2"),
# BENCH_LADDER_WORKERS ("1 2 4"; "" skips the ladder), BENCH_RECIPE_EXTRA (Lua fields added to every job table, e.g.
# "queue_depth = 4,"), BENCH_TMP (work directory; default a fresh mktemp -d, removed at the end
# unless BENCH_KEEP=1; a source already there is reused), BENCH_RESULTS (default bench/results:
# the report is copied to $BENCH_RESULTS/workers/report.txt). Exit status: 0, or 1 when a run
# failed or a number could not be measured. A missed target is reported, not an error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CME=${CMAFENG:-$ROOT/build/cmafeng}
SECONDS_=${BENCH_SECONDS:-10}
SIZE=${BENCH_SIZE:-1920x1080}
FPS=${BENCH_FPS:-25}
PRESET=${BENCH_PRESET:-10}
CRF=${BENCH_CRF:-35}
SINGLE_WORKERS=${BENCH_SINGLE_WORKERS-1 2}
LADDER_WORKERS=${BENCH_LADDER_WORKERS-1 2 4}
EXTRA=${BENCH_RECIPE_EXTRA:-}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
SEGMENT=${BENCH_SEGMENT:-2}

die() { echo "workers.sh: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }

need ffmpeg "install ffmpeg (apt-get install -y ffmpeg)"
need ffprobe "install ffmpeg (apt-get install -y ffmpeg)"
need awk "install gawk or mawk"
[ -x /usr/bin/time ] && [[ $(/usr/bin/time --version 2>&1) == *GNU* ]] \
  || die "GNU time not found at /usr/bin/time (apt-get install -y time)"
decoders=$(ffmpeg -hide_banner -decoders 2>/dev/null || true)
grep -q libdav1d <<<"$decoders" \
  || die "this ffmpeg has no libdav1d decoder (needed to decode the outputs for PSNR)"
[ -x "$CME" ] || die "$CME not found: run 'make build' first, or set CMAFENG"
[[ $SIZE =~ ^([0-9]+)x([0-9]+)$ ]] || die "BENCH_SIZE must be WIDTHxHEIGHT, got '$SIZE'"
W=${BASH_REMATCH[1]}; H=${BASH_REMATCH[2]}
[ $((W % 2)) -eq 0 ] && [ $((H % 2)) -eq 0 ] && [ "$H" -ge 96 ] \
  || die "BENCH_SIZE needs even dimensions and a height >= 96 (the 1/3 rung), got '$SIZE'"
[[ $SECONDS_ =~ ^[0-9]+$ ]] && [ "$SECONDS_" -ge 1 ] \
  || die "BENCH_SECONDS must be a whole number of seconds >= 1, got '$SECONDS_'"
[[ $SEGMENT =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_SEGMENT must be a number of seconds, got '$SEGMENT'"
[[ $FPS =~ ^[0-9]+$ ]] && [ "$FPS" -ge 1 ] || die "BENCH_FPS must be an integer, got '$FPS'"

# Rungs: the source size, 2/3 and 1/3 of it (even, the aspect kept).
even() { echo $(( ($1 + 1) / 2 * 2 )); }
RUNGS=("${W}x${H}" "$(even $((W * 2 / 3)))x$(even $((H * 2 / 3)))" "$(even $((W / 3)))x$(even $((H / 3)))")

if [ -n "${BENCH_TMP:-}" ]; then
  WORK=$BENCH_TMP
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/cmafeng-workers.XXXXXX")
  if [ "${BENCH_KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$WORK"' EXIT
  fi
fi
mkdir -p "$WORK/logs" "$WORK/concat" "$RESULTS/workers"
REPORT=$RESULTS/workers/report.txt
exec > >(tee "$REPORT") 2>&1
TIMES=$WORK/times.txt
: >"$TIMES"
export SVT_LOG=1   # keep SVT-AV1's Svt[info] banner out of the logs (errors still print)

# ---------------------------------------------------------------------------------------------
echo "== machine"
cpu_model=$(awk -F: '/model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo)
echo "date        $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "nproc       $(nproc)   cpu $cpu_model"
# How busy the cores are right now (2 s of /proc/stat), as bench/ladder.sh reports it.
cpu_busy() {
  local a b
  a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat); sleep 2
  b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " ");
    busy = y[1] - x[1]; tot = busy + y[2] - x[2]; printf "%.0f", (tot > 0 ? 100 * busy / tot : 0)}'
}
busy=$(cpu_busy)
echo "loadavg     $(cut -d' ' -f1-3 /proc/loadavg); cores ${busy}% busy just before the runs (should be ~0)"
[ "$busy" -le 10 ] || echo "WARNING     something else is using the CPU: timings and ratios are unreliable"
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
echo "cmafeng     $("$CME" version 2>/dev/null | head -n 1) (git $rev)"
echo "settings    ${SECONDS_} s ${SIZE} ${FPS} fps y4m; SVT-AV1 preset $PRESET, CRF $CRF, threads_per_worker 1, ${SEGMENT} s segments"
echo "work dir    $WORK"

# ---------------------------------------------------------------------------------------------
SRC=$WORK/src_${SIZE}_${FPS}fps_${SECONDS_}s.y4m
if [ ! -s "$SRC" ]; then
  echo "== generating the source: $SRC"
  ffmpeg -hide_banner -nostdin -loglevel error -y \
    -f lavfi -i "testsrc2=s=$SIZE:r=$FPS:d=$SECONDS_" \
    -vf "noise=alls=12:allf=t,format=yuv420p" -f yuv4mpegpipe "$SRC.tmp"
  mv "$SRC.tmp" "$SRC"
fi
cat "$SRC" >/dev/null   # into the page cache, so the first run pays no disk read
FRAMES=$((SECONDS_ * FPS))

# recipe NAME WORKERS NRUNGS: writes $WORK/NAME.lua.
recipe() {
  local name=$1 workers=$2 nrungs=$3 i
  {
    echo "-- bench/workers.sh: $name"
    echo "return {"
    echo "  source = [==[$SRC]==],"
    echo "  output = [==[$WORK/$name]==],"
    echo "  segment_seconds = $SEGMENT,"
    echo "  workers = $workers,"
    echo "  threads_per_worker = 1,"
    echo "  audio = { enabled = false },"
    [ -z "$EXTRA" ] || echo "  $EXTRA"
    echo "  video = { ladder = {"
    for ((i = 0; i < nrungs; i++)); do
      echo "    { width = ${RUNGS[$i]%x*}, height = ${RUNGS[$i]#*x}, crf = $CRF, preset = $PRESET },"
    done
    echo "  } },"
    echo "}"
  } >"$WORK/$name.lua"
}

# timed NAME CMD...: GNU time around CMD; appends "NAME rc wall user sys maxrss_kib" to $TIMES.
FAILED=0
timed() {
  local name=$1; shift
  local tf=$WORK/logs/$name.time log=$WORK/logs/$name.log rc=0
  echo "-- $name"
  /usr/bin/time -o "$tf" -f "%e %U %S %M" "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    FAILED=1
    echo "!! $name FAILED (exit $rc); log $log:"
    tail -n 5 "$log" | sed 's/^/!!   /' || true
  fi
  echo "$name $rc $(tail -n 1 "$tf")" >>"$TIMES"
}

echo
echo "== encoding (back to back)"
RUNS=()
for w in $SINGLE_WORKERS; do
  RUNS+=("single_w$w"); recipe "single_w$w" "$w" 1
done
for w in $LADDER_WORKERS; do
  RUNS+=("ladder_w$w"); recipe "ladder_w$w" "$w" 3
done
for name in "${RUNS[@]}"; do
  rm -rf "${WORK:?}/$name"
  timed "$name" "$CME" run "$WORK/$name.lua"
done

# ---------------------------------------------------------------------------------------------
echo
echo "== quality (decoding every rung with libdav1d; PSNR against the source scaled to the rung)"
QUAL=$WORK/quality.txt
: >"$QUAL"
for name in "${RUNS[@]}"; do
  nrungs=1; [[ $name == ladder_* ]] && nrungs=3
  for ((i = 0; i < nrungs; i++)); do
    r=${RUNGS[$i]}; rw=${r%x*}; rh=${r#*x}
    d=$WORK/$name/${rh}p
    kbps="?"; psnr="?"; frames="?"
    if [ -s "$d/init.mp4" ] && compgen -G "$d/seg_*.m4s" >/dev/null; then
      seg_bytes=$(cat "$d"/seg_*.m4s | wc -c)
      kbps=$(awk -v b="$seg_bytes" -v s="$SECONDS_" 'BEGIN {printf "%.1f", b * 8 / s / 1000}')
      mp4=$WORK/concat/${name}_${rh}p.mp4
      cat "$d/init.mp4" "$d"/seg_*.m4s >"$mp4"
      frames=$(ffprobe -v error -count_packets -select_streams v:0 \
        -show_entries stream=nb_read_packets -of csv=p=0 "$mp4" 2>/dev/null || echo '?')
      plog=$WORK/logs/psnr_${name}_${rh}p.log
      ffmpeg -hide_banner -nostdin -c:v libdav1d -i "$mp4" -i "$SRC" -lavfi \
        "[0:v]settb=1/$FPS,setpts=N[d];[1:v]scale=$rw:$rh:flags=bicubic,settb=1/$FPS,setpts=N[r];[d][r]psnr" \
        -f null - >"$plog" 2>&1 </dev/null || true
      psnr=$(awk '/Parsed_psnr/ && /average:/ {for (j = 1; j <= NF; j++) if ($j ~ /^average:/) {sub(/average:/, "", $j); print $j}}' "$plog" | tail -n 1)
      [ -n "$psnr" ] || psnr="?"
    fi
    if [ "$kbps" = "?" ] || [ "$psnr" = "?" ] || [ "$frames" != "$FRAMES" ]; then
      FAILED=1
    fi
    echo "$name ${rh}p $frames $kbps $psnr" >>"$QUAL"
  done
done

# ---------------------------------------------------------------------------------------------
echo
echo "== results ($(nproc) cores; throughput = wall of the same job with 1 worker / wall;"
echo "   dkbit/s and dPSNR against 1 worker, same rung; $FRAMES frames expected per rung)"
awk -v nproc="$(nproc)" -v want="$FRAMES" '
  FNR == NR { rc[$1] = $2; wall[$1] = $3; cpu[$1] = $4 + $5; rss[$1] = $6; next }
  { q[++n] = $0 }
  END {
    printf "%-10s %7s %6s %7s %7s %5s %7s %10s %6s %9s %8s %9s %8s\n", "run", "workers", "rung",
      "wall s", "CPU s", "CPU%", "RSS MiB", "throughput", "frames", "kbit/s", "PSNR dB", "dkbit/s",
      "dPSNR"
    for (i = 1; i <= n; i++) {
      split(q[i], f, " ")
      name = f[1]; rung = f[2]; frames = f[3]; kb = f[4]; ps = f[5]
      group = name; sub(/_w[0-9]+$/, "", group)
      w = name; sub(/^.*_w/, "", w)
      base = group "_w1"
      thr = "-"
      if (rc[name] == 0 && rc[base] == 0 && (base in wall) && wall[name] > 0)
        thr = sprintf("%.2fx", wall[base] / wall[name])
      key = group SUBSEP rung
      if (w == 1) { bkb[key] = kb; bps[key] = ps }
      dkb = "-"
      if (w != 1 && (key in bkb) && bkb[key] + 0 > 0 && kb != "?")
        dkb = sprintf("%+.2f%%", 100 * (kb / bkb[key] - 1))
      dps = "-"
      if (w != 1 && (key in bps) && bps[key] != "?" && ps != "?" && ps != "inf")
        dps = sprintf("%+.3f", ps - bps[key])
      st = rc[name] == 0 ? "" : sprintf("  FAILED (exit %d)", rc[name])
      if (frames != want) st = st "  frames!"
      pct = 0
      if (wall[name] > 0) pct = 100 * cpu[name] / wall[name]
      if (name != last) {
        printf "%-10s %7s %6s %7.2f %7.2f %4.0f%% %7.0f %10s %6s %9s %8s %9s %8s%s\n", name, w,
          rung, wall[name], cpu[name], pct, rss[name] / 1024, thr, frames, kb, ps, dkb, dps, st
      } else {
        printf "%-10s %7s %6s %7s %7s %5s %7s %10s %6s %9s %8s %9s %8s%s\n", "", "", rung,
          "", "", "", "", "", frames, kb, ps, dkb, dps, st
      }
      last = name
    }
  }' "$TIMES" "$QUAL"

# ---------------------------------------------------------------------------------------------
echo
awk '
  FNR == NR { rc[$1] = $2; wall[$1] = $3; next }
  { kb[$1] = $4; ps[$1] = $5 }
  END {
    if (!("single_w1" in wall) || !("single_w2" in wall) || rc["single_w1"] || rc["single_w2"]) {
      print "TARGET: not measured (needs single_w1 and single_w2 to succeed)"; exit
    }
    t = wall["single_w1"] / wall["single_w2"]
    d = (kb["single_w1"] > 0) ? 100 * (kb["single_w2"] / kb["single_w1"] - 1) : 0
    dp = ps["single_w2"] - ps["single_w1"]
    speed = "NOT met"; if (t >= 1.8) speed = "met"
    quality = "NOT met"; if (d <= 1 && dp >= -0.05) quality = "met"
    printf "TARGET single rung, 2 workers vs 1: throughput %.2fx (target >= 1.80x): %s; ", t, speed
    printf "bitrate %+.2f%% (target <= +1%%) at PSNR %+.3f dB (equal: >= -0.05): %s\n", d, dp, quality
  }' "$TIMES" "$QUAL"
echo "(report: $REPORT; work dir: $WORK$([ -n "${BENCH_TMP:-}" ] || [ "${BENCH_KEEP:-0}" = 1 ] || echo ', removed at exit'))"
exit "$FAILED"

#!/usr/bin/env bash
# bench/ladder.sh: cmafeng against one ffmpeg process on the same 3-rung AV1 ladder.
#
#   bench/ladder.sh                       # threads_per_worker = 0 (library default) and 1
#   CME_THREADS=0 bench/ladder.sh         # only threads_per_worker = 0
#   FLOOR=0 bench/ladder.sh               # skip the raw SvtAv1EncApp encoder floor
#
# Source: a generated 1080p25 10 s clip (testsrc2 + temporal noise, x264 CRF 12), made once
# and cached. Both tools encode 1920x1080, 1280x720 and 640x360 with SVT-AV1 preset 10,
# CRF 35, a closed-GOP key frame every 2 s (50 frames), hierarchical levels 5, 2 s segments,
# bicubic scaling. The runs are back to back on the same machine; every number printed is from
# this run. Quality: bitrate from the media files (init + segments) and PSNR against the source
# scaled to each rung (ffmpeg's psnr filter), so a speed gain bought with quality shows.
#
# Environment: CMAFENG (binary, default build/cmafeng, built if missing), CME_THREADS,
# FLOOR (1/0), BENCH_RESULTS (default bench/results), BENCH_CACHE (default
# $BENCH_RESULTS/cache). Outputs go to $BENCH_RESULTS/ladder/, the printed report also to
# $BENCH_RESULTS/ladder/report.txt. See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
CACHE=${BENCH_CACHE:-$RESULTS/cache}
CME=${CMAFENG:-$ROOT/build/cmafeng}
CME_THREADS=${CME_THREADS:-0 1}
FLOOR=${FLOOR:-1}
RECIPE=$ROOT/bench/recipes/ladder_1080.lua

PRESET=10
CRF=35
GOP=50          # 2 s at 25 fps
FPS=25
DUR=10
RUNGS=(1920x1080 1280x720 640x360)

die() { echo "ladder.sh: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }

need ffmpeg "install ffmpeg (apt-get install -y ffmpeg)"
need ffprobe "install ffmpeg (apt-get install -y ffmpeg)"
need awk "install gawk or mawk"
[ -x /usr/bin/time ] && [[ $(/usr/bin/time --version 2>&1) == *GNU* ]] \
  || die "GNU time not found at /usr/bin/time (apt-get install -y time)"
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null || true)
grep -q libsvtav1 <<<"$encoders" || die "this ffmpeg has no libsvtav1 encoder"
grep -q libx264 <<<"$encoders" \
  || die "this ffmpeg has no libx264 encoder (needed to generate the source)"
if [ "$FLOOR" = 1 ]; then
  need SvtAv1EncApp "install svt-av1 (apt-get install -y svt-av1), or run with FLOOR=0"
fi
[ -f "$RECIPE" ] || die "missing $RECIPE"

if [ ! -x "$CME" ]; then
  need cmake "install cmake, or point CMAFENG at a built binary"
  echo "== building cmafeng ($CME missing)"
  cmake -S "$ROOT" -B "$ROOT/build" >/dev/null
  cmake --build "$ROOT/build" -j"$(nproc)" --target cmafeng
  CME=$ROOT/build/cmafeng
  [ -x "$CME" ] || die "build finished but $CME is missing"
fi

RUN=$RESULTS/ladder
rm -rf "$RUN"
mkdir -p "$RUN/logs" "$RUN/concat" "$CACHE"
exec > >(tee "$RUN/report.txt") 2>&1
TIMES=$RUN/times.txt
: >"$TIMES"

# Silence SVT-AV1's Svt[info] banner in every tool (errors still print).
export SVT_LOG=1

# ---------------------------------------------------------------------------------------------
echo "== machine"
cpu_model=$( (lscpu 2>/dev/null | awk -F: '/Model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}') || true)
[ -n "$cpu_model" ] || cpu_model=$(awk -F: '/model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo)
echo "date        $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "nproc       $(nproc)"
echo "cpu         $cpu_model"
echo "memory      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "kernel      $(uname -sr)"
# How busy the cores are right now (2 s sample of /proc/stat), independent of the slowly
# decaying load average.
cpu_busy() {
  local a b
  a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat); sleep 2
  b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " ");
    busy = y[1] - x[1]; tot = busy + y[2] - x[2]; printf "%.0f", (tot > 0 ? 100 * busy / tot : 0)}'
}
busy=$(cpu_busy)
echo "loadavg     $(cut -d' ' -f1-3 /proc/loadavg); cores ${busy}% busy just before the run (should be ~0)"
if [ "$busy" -gt 10 ]; then
  echo "WARNING     something else is using the CPU: timings are upper bounds"
fi
echo "ffmpeg      $(ffmpeg -hide_banner -version | head -n 1)"
echo "libsvtav1   $(dpkg-query -W -f='${Version}' libsvtav1enc1 2>/dev/null || echo '?')   libdav1d $(dpkg-query -W -f='${Version}' libdav1d6 2>/dev/null || echo '?')"
if [ "$FLOOR" = 1 ]; then
  echo "SvtAv1App   $(SvtAv1EncApp --version 2>&1 | head -n 1)"
fi
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
echo "cmafeng     $("$CME" version 2>/dev/null | head -n 1) (git $rev); $("$CME" version 2>/dev/null | grep -m1 'svt ' | sed 's/^ *//')"
echo "settings    SVT-AV1 preset $PRESET, CRF $CRF, key frame every $GOP frames (closed GOP), hierarchical levels 5, 2 s segments"

# ---------------------------------------------------------------------------------------------
SRC=$CACHE/src_1080p25_10s.mkv
if [ ! -s "$SRC" ]; then
  echo "== generating the source (once): $SRC"
  ffmpeg -hide_banner -nostdin -loglevel error -y \
    -f lavfi -i "testsrc2=s=1920x1080:r=$FPS:d=$DUR" \
    -vf "noise=alls=12:allf=t,format=yuv420p" \
    -c:v libx264 -crf 12 -preset veryfast "$SRC.tmp.mkv"
  mv "$SRC.tmp.mkv" "$SRC"
fi
src_bytes=$(stat -c %s "$SRC")
echo
echo "== source"
echo "$SRC: 1920x1080 ${FPS} fps ${DUR} s, x264 $(awk -v b="$src_bytes" -v d="$DUR" 'BEGIN {printf "%.1f", b*8/d/1e6}') Mbit/s (testsrc2 + noise)"
cat "$SRC" >/dev/null   # warm the page cache so neither tool pays the first read

# timed NAME CMD...: runs CMD under GNU time, output in logs/NAME.log, appends
# "NAME rc wall user sys maxrss_kib" to $TIMES. A failure is reported, not fatal, so the other
# side still gets measured; the script exits non-zero at the end.
FAILED=0
timed() {
  local name=$1; shift
  local tf=$RUN/logs/$name.time log=$RUN/logs/$name.log rc=0
  echo "-- $name"
  /usr/bin/time -o "$tf" -f "%e %U %S %M" "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    FAILED=1
    echo "!! $name FAILED (exit $rc; $(head -n 1 "$tf"))"
    printf '!! command:'; printf ' %q' "$@"; echo
    echo "!! log: $log"
    grep -v 'Svt\[' "$log" | tail -n 5 | sed 's/^/!!   /' || true
  fi
  echo "$name $rc $(tail -n 1 "$tf")" >>"$TIMES"
}

# ---------------------------------------------------------------------------------------------
echo
echo "== encoding (back to back)"
FF_OUT=$RUN/ffmpeg
mkdir -p "$FF_OUT"
fc="[0:v]split=3[s0][s1][s2]"
for i in 0 1 2; do
  fc="$fc;[s$i]scale=${RUNGS[$i]%x*}:${RUNGS[$i]#*x}:flags=bicubic[v$i]"
done
timed ffmpeg ffmpeg -hide_banner -nostdin -loglevel error -y -i "$SRC" \
  -filter_complex "$fc" -map "[v0]" -map "[v1]" -map "[v2]" \
  -c:v libsvtav1 -preset "$PRESET" -crf "$CRF" -g "$GOP" \
  -svtav1-params "scd=0:irefresh-type=2:hierarchical-levels=5" \
  -f hls -hls_segment_type fmp4 -hls_time 2 -hls_playlist_type vod \
  -master_pl_name master.m3u8 -hls_segment_filename "$FF_OUT/v%v/seg_%05d.m4s" \
  -var_stream_map "v:0 v:1 v:2" "$FF_OUT/v%v/index.m3u8"

CME_NAMES=()
for t in $CME_THREADS; do
  name=cmafeng_t$t
  CME_NAMES+=("$name")
  timed "$name" "$CME" run "$RECIPE" -o "$RUN/$name" -- "$SRC" "$RUN/$name" "$t"
done

# ---------------------------------------------------------------------------------------------
FLOOR_OK=0
if [ "$FLOOR" = 1 ]; then
  echo
  echo "== encoder floor (SvtAv1EncApp on pre-scaled y4m, one rung at a time, --pin 0)"
  for r in "${RUNGS[@]}"; do
    if [ ! -s "$CACHE/src_$r.y4m" ]; then
      echo "-- pre-scaling the source to y4m (once)"
      fc="[0:v]split=3[s0][s1][s2]"; maps=()
      for i in 0 1 2; do
        fc="$fc;[s$i]scale=${RUNGS[$i]%x*}:${RUNGS[$i]#*x}:flags=bicubic[v$i]"
        maps+=(-map "[v$i]" -pix_fmt yuv420p -f yuv4mpegpipe "$CACHE/src_${RUNGS[$i]}.y4m.tmp")
      done
      ffmpeg -hide_banner -nostdin -loglevel error -y -i "$SRC" -filter_complex "$fc" "${maps[@]}"
      for i in 0 1 2; do mv "$CACHE/src_${RUNGS[$i]}.y4m.tmp" "$CACHE/src_${RUNGS[$i]}.y4m"; done
      break
    fi
  done
  # Decode + scale cost of the whole ladder (what both tools pay besides encoding).
  fc="[0:v]split=3[s0][s1][s2]"; maps=()
  for i in 0 1 2; do
    fc="$fc;[s$i]scale=${RUNGS[$i]%x*}:${RUNGS[$i]#*x}:flags=bicubic[v$i]"
    maps+=(-map "[v$i]" -f null -)
  done
  timed floor_decode_scale ffmpeg -hide_banner -nostdin -loglevel error -i "$SRC" -filter_complex "$fc" "${maps[@]}"
  for r in "${RUNGS[@]}"; do
    timed "floor_svt_${r#*x}p" SvtAv1EncApp -i "$CACHE/src_$r.y4m" -b "$RUN/floor_${r#*x}p.ivf" \
      --preset "$PRESET" --crf "$CRF" --keyint "$GOP" --irefresh-type 2 --scd 0 \
      --hierarchical-levels 5 --pin 0 --progress 0
  done
  FLOOR_OK=1
fi

# ---------------------------------------------------------------------------------------------
echo
echo "== quality (bitrate from init + segments; PSNR vs the source scaled bicubic to the rung)"
# Concatenate each rung into one fragmented mp4; list "label|file" per rung.
declare -A OUTS
for i in 0 1 2; do
  r=${RUNGS[$i]}; h=${r#*x}
  list=()
  d=$FF_OUT/v$i
  if [ -s "$d/init_$i.mp4" ] && compgen -G "$d/seg_*.m4s" >/dev/null; then
    cat "$d/init_$i.mp4" "$d"/seg_*.m4s >"$RUN/concat/ffmpeg_${h}p.mp4"
    list+=("ffmpeg|$RUN/concat/ffmpeg_${h}p.mp4")
  fi
  for name in "${CME_NAMES[@]}"; do
    d=$RUN/$name/${h}p
    if [ -s "$d/init.mp4" ] && compgen -G "$d/seg_*.m4s" >/dev/null; then
      cat "$d/init.mp4" "$d"/seg_*.m4s >"$RUN/concat/${name}_${h}p.mp4"
      list+=("$name|$RUN/concat/${name}_${h}p.mp4")
    fi
  done
  if [ "$FLOOR_OK" = 1 ] && [ -s "$RUN/floor_${h}p.ivf" ]; then
    list+=("svt_floor|$RUN/floor_${h}p.ivf")
  fi
  OUTS[$i]=$(printf '%s\n' "${list[@]}")
done

QUAL=$RUN/quality.txt
: >"$QUAL"
printf '%-16s %-6s %7s %10s %9s\n' "output" "rung" "frames" "kbit/s" "PSNR dB"
for i in 0 1 2; do
  r=${RUNGS[$i]}; w=${r%x*}; h=${r#*x}
  mapfile -t list <<<"${OUTS[$i]}"
  [ -n "${list[0]:-}" ] || { echo "(no outputs for ${h}p)"; FAILED=1; continue; }
  n=${#list[@]}
  # Frames are paired by index (settb=1/25,setpts=N on every side): the tools use different
  # time bases, and a dropped or extra frame shows in the frames column and drags PSNR down.
  ins=(); split="[$n:v]scale=$w:$h:flags=bicubic,settb=1/$FPS,setpts=N,split=$n"; cmp=""; maps=()
  for k in $(seq 0 $((n - 1))); do
    ins+=(-i "${list[$k]#*|}")
    split="$split[r$k]"
    cmp="$cmp;[$k:v]settb=1/$FPS,setpts=N[d$k];[d$k][r$k]psnr[o$k]"
    maps+=(-map "[o$k]")
  done
  plog=$RUN/logs/psnr_${h}p.log
  # Filter instance names: scale_0 settb_1 setpts_2 split_3, then per output settb, setpts,
  # psnr: output k's psnr is Parsed_psnr_(6 + 3k).
  ffmpeg -hide_banner -nostdin "${ins[@]}" -i "$SRC" \
    -lavfi "$split$cmp" "${maps[@]}" -f null - >"$plog" 2>&1 </dev/null || true
  for k in $(seq 0 $((n - 1))); do
    label=${list[$k]%%|*}; f=${list[$k]#*|}
    if [ "$label" = svt_floor ]; then
      bytes=$(stat -c %s "$f")        # ivf: 32-byte file header + 12 bytes per frame
    elif [ "$label" = ffmpeg ]; then
      bytes=$(cat "$FF_OUT/v$i/init_$i.mp4" "$FF_OUT/v$i"/seg_*.m4s | wc -c)
    else
      bytes=$(stat -c %s "$f")
    fi
    frames=$(ffprobe -v error -count_packets -select_streams v:0 \
      -show_entries stream=nb_read_packets -of csv=p=0 "$f" 2>/dev/null || echo '?')
    psnr=$(awk -v want="Parsed_psnr_$((6 + 3 * k))" \
      'index($0, want " ") && /average:/ {for (j = 1; j <= NF; j++) if ($j ~ /^average:/) {sub(/average:/, "", $j); print $j}}' "$plog")
    [ -n "$psnr" ] || { psnr="?"; FAILED=1; }
    kbps=$(awk -v b="$bytes" -v d="$DUR" 'BEGIN {printf "%.0f", b*8/d/1000}')
    printf '%-16s %-6s %7s %10s %9s\n' "$label" "${h}p" "$frames" "$kbps" "$psnr"
    echo "$label $h $frames $kbps $psnr" >>"$QUAL"
  done
done
echo "(expected frames: $((FPS * DUR)); svt_floor is one continuous SvtAv1EncApp encode per rung, the"
echo " quality reference for a continuous encoder with the same settings)"

# ---------------------------------------------------------------------------------------------
echo
echo "== speed (wall and CPU from GNU time; CPU = user + sys; $(nproc) cores)"
printf '%-20s %8s %8s %7s %9s %11s %10s\n' "tool" "wall s" "CPU s" "CPU %" "RSS MiB" "wall/ffmpeg" "CPU/ffmpeg"
ff_line=$(awk '$1 == "ffmpeg"' "$TIMES")
ff_wall=$(echo "$ff_line" | awk '{print $3}')
ff_cpu=$(echo "$ff_line" | awk '{print $4 + $5}')
row() { # name rc wall user sys rss
  awk -v n="$1" -v rc="$2" -v w="$3" -v u="$4" -v s="$5" -v m="$6" -v fw="$ff_wall" -v fc="$ff_cpu" 'BEGIN {
    c = u + s
    if (rc != 0) { printf "%-20s %8.2f %8.2f %6.0f%% %9.0f %11s %10s  FAILED (exit %d)\n", n, w, c, 100*c/w, m/1024, "-", "-", rc; exit }
    st = ""
    if (n == "ffmpeg") printf "%-20s %8.2f %8.2f %6.0f%% %9.0f %11s %10s%s\n", n, w, c, 100*c/w, m/1024, "1.00", "1.00", st
    else printf "%-20s %8.2f %8.2f %6.0f%% %9.0f %11.2f %10.2f%s\n", n, w, c, 100*c/w, m/1024, w/fw, c/fc, st }'
}
while read -r name rc wall user sys rss; do
  case $name in ffmpeg|cmafeng_*) row "$name" "$rc" "$wall" "$user" "$sys" "$rss" ;; esac
done <"$TIMES"

if [ "$FLOOR_OK" = 1 ]; then
  echo
  awk -v nproc="$(nproc)" -v fw="$ff_wall" '
    $1 == "floor_decode_scale" { ds = $4 + $5; dsw = $3 }
    $1 ~ /^floor_svt_/ { enc += $4 + $5; encw += $3; printf "%-20s %8.2f %8.2f  (SvtAv1EncApp, pre-scaled y4m)\n", $1, $3, $4 + $5 }
    $1 ~ /^cmafeng_/ && $2 == 0 { cw[++nc] = $3; cn[nc] = $1 }
    END {
      printf "%-20s %8.2f %8.2f  (ffmpeg decode + split + scale to null)\n", "floor_decode_scale", dsw, ds
      fe = enc / nproc; ff = (enc + ds) / nproc
      printf "floor: encode only %.1f CPU-s / %d cores = %.2f s; decode + scale + encode = %.2f s\n", enc, nproc, fe, ff
      printf "%-20s wall / floor %.2f (encode-only floor %.2f)\n", "ffmpeg", fw / ff, fw / fe
      for (i = 1; i <= nc; i++) printf "%-20s wall / floor %.2f (encode-only floor %.2f)\n", cn[i], cw[i] / ff, cw[i] / fe
    }' "$TIMES"
fi

# ---------------------------------------------------------------------------------------------
echo
summary=$(awk -v ffw="$ff_wall" -v ffc="$ff_cpu" '
  FNR == NR { if ($1 ~ /^cmafeng_/) { w[$1] = $3; c[$1] = $4 + $5; rc[$1] = $2; order[++n] = $1 } next }
  { kb[$1, $2] = $4; ps[$1, $2] = $5 }
  END {
    s = sprintf("ffmpeg %.1f s", ffw)
    for (i = 1; i <= n; i++) {
      k = order[i]
      if (rc[k] != 0) { s = s sprintf("; %s FAILED", k); continue }
      s = s sprintf("; %s %.1f s = %.2fx wall, %.2fx CPU", k, w[k], w[k] / ffw, c[k] / (ffc ? ffc : 1))
      if (kb["ffmpeg", 1080] > 0 && kb[k, 1080] > 0)
        s = s sprintf(" (1080p bitrate %+.1f%%, PSNR %+.2f dB vs ffmpeg)",
                      100 * (kb[k, 1080] / kb["ffmpeg", 1080] - 1), ps[k, 1080] - ps["ffmpeg", 1080])
    }
    print s
  }' "$TIMES" "$QUAL")
echo "SUMMARY: $summary"
echo "(report: $RUN/report.txt)"
exit "$FAILED"

#!/usr/bin/env bash
# Timing truth: variable-frame-rate sources that start at 1.5 s (Matroska and MP4) keep every
# frame's time: the output's frame times (ffprobe on init + segments) equal the source's
# (ffprobe), frame for frame within 1 ms, counted from the first frame. No truncation warning
# for them (the check compares decoded timestamps, not duration x nominal rate), and a
# source really cut short still gets one (test_bad_input.sh). validate --decode is clean.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1,
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
LUA
# 25 fps for 40 frames, then every third frame (8.33 fps), from 1.5 s; audio beside it.
vfr_source() { # vfr_source OUT.ext
  ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=6" -f lavfi -i "sine=d=6" \
    -vf "select='lt(n\,40)+not(mod(n\,3))',setpts=PTS+1.5/TB" -af "asetpts=PTS+1.5/TB" \
    -fps_mode vfr -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$1"
}
# times FILE: the video frames' presentation times in s, from the first frame, one a line.
times() {
  ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time \
    -of csv=p=0 "$1" | awk 'NF { if (n++ == 0) t0 = $1; printf "%.6f\n", $1 - t0 }'
}
for ext in mkv mp4; do
  vfr_source "$WORK/vfr.$ext"
  OUT=$WORK/out_$ext
  "$CMAFENG" run "$WORK/job.lua" -- "$WORK/vfr.$ext" "$OUT" 2>"$WORK/stderr_$ext" ||
    { cat "$WORK/stderr_$ext"; not_ok "$ext: cmafeng run exits 0"; continue; }
  ok "$ext: cmafeng run exits 0"
  check "$ext: no truncation warning for a complete VFR source" \
    test -z "$(grep 'may be truncated' "$WORK/stderr_$ext")"
  cat "$OUT/90p/init.mp4" "$OUT"/90p/seg_*.m4s >"$WORK/r_$ext.mp4"
  times "$WORK/vfr.$ext" >"$WORK/src_$ext.t"
  times "$WORK/r_$ext.mp4" >"$WORK/out_$ext.t"
  n_src=$(wc -l <"$WORK/src_$ext.t")
  n_out=$(wc -l <"$WORK/out_$ext.t")
  check "$ext: as many frames out as in ($n_out of $n_src)" test "$n_src" -eq "$n_out" -a "$n_src" -gt 60
  worst=$(paste "$WORK/src_$ext.t" "$WORK/out_$ext.t" |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) { m = d; at = NR } } END { printf "%.6f at frame %d\n", m, at }')
  check "$ext: every frame's time within 1 ms of the source's (worst $worst)" \
    awk -v w="${worst%% *}" 'BEGIN { exit !(w <= 0.001) }'
  check_output "$OUT"
done

finish

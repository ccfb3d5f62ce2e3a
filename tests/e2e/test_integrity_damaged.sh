#!/usr/bin/env bash
# Damaged sources degrade, not die (issue 10): a faststart MP4 cut at 30% and 80% encodes
# what is there (exit 0, a truncation warning, valid output); a few corrupted video packets
# are skipped and counted (stderr and report.json); corrupted audio packets are skipped; a
# source damaged beyond the limit (50%) fails with the share named; a source with no
# decodable frame is refused with exit 2 and nothing written. inspect and validate refuse
# /dev/zero and FIFOs instead of reading forever.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 2,
  video = { ladder = { { width = 320, height = 180, preset = 12 } } } }
LUA
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=8,noise=alls=30:allf=t" \
  -f lavfi -i "sine=f=440:d=8" -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p \
  -c:a aac -movflags +faststart "$WORK/fs.mp4"
ffmpeg -v error -y -i "$WORK/fs.mp4" -c copy "$WORK/av.mkv"

run_job() { # NAME SOURCE: sets rc
  set +e
  "$CMAFENG" run "$WORK/job.lua" -- "$2" "$WORK/out_$1" >"$WORK/$1.out" 2>"$WORK/$1.err"
  rc=$?
  set -e
}

size=$(stat -c %s "$WORK/fs.mp4")
for pct in 30 80; do
  head -c $((size * pct / 100)) "$WORK/fs.mp4" >"$WORK/cut$pct.mp4"
  run_job "cut$pct" "$WORK/cut$pct.mp4"
  check "faststart MP4 cut at $pct%: exit 0 (got $rc)" test "$rc" -eq 0 || cat "$WORK/cut$pct.err"
  check "cut at $pct%: warns that the file may be truncated" \
    grep -q "^cmafeng: warning: $WORK/cut$pct.mp4: decoded [0-9]* frames lasting [0-9.]* s where the container lasts" \
    "$WORK/cut$pct.err"
  check "cut at $pct%: the output validates" "$CMAFENG" validate "$WORK/out_cut$pct"
done

# A few corrupted bytes in the video: skipped, counted, reported.
ffmpeg -v error -y -i "$WORK/av.mkv" -c copy -bsf:v noise=amount=300000 "$WORK/few.mkv"
run_job few "$WORK/few.mkv"
check "a few damaged video packets: exit 0 (got $rc)" test "$rc" -eq 0 || cat "$WORK/few.err"
check "stderr counts them" \
  grep -q "^cmafeng: warning: $WORK/few.mkv: [1-9][0-9]* damaged packets or frames were skipped or concealed" \
  "$WORK/few.err"
check "report.json counts them" grep -q "damaged packets or frames" "$WORK/out_few/report.json"
check "the output validates" "$CMAFENG" validate "$WORK/out_few"

# Corrupted audio packets: skipped; the audio rendition is still written whole.
ffmpeg -v error -y -i "$WORK/av.mkv" -c copy -bsf:a noise=amount=50 "$WORK/badaudio.mkv"
run_job badaudio "$WORK/badaudio.mkv"
check "corrupted audio: exit 0 (got $rc)" test "$rc" -eq 0 || cat "$WORK/badaudio.err"
check "the audio rendition is there" test -s "$WORK/out_badaudio/audio/index.m3u8"
check "stderr counts the damaged audio" \
  grep -q "^cmafeng: warning: $WORK/badaudio.mkv: [1-9][0-9]* damaged packets or frames" "$WORK/badaudio.err"
check "report.json counts it" grep -q "damaged packets or frames" "$WORK/out_badaudio/report.json"
check "the output validates" "$CMAFENG" validate "$WORK/out_badaudio"

# Damaged beyond the limit: the job fails and names the share.
ffmpeg -v error -y -i "$WORK/av.mkv" -c copy -bsf:v noise=amount=20000 "$WORK/much.mkv"
run_job much "$WORK/much.mkv"
check "mostly damaged video: exit 1 (got $rc)" test "$rc" -eq 1
check "it names the damaged share and the limit" \
  grep -q "^cmafeng: $WORK/much.mkv: too much of the video is damaged: [0-9]* of [0-9]* packets and frames (the limit is 50%)" \
  "$WORK/much.err"

# Nothing decodes: refused as bad input, nothing written.
ffmpeg -v error -y -i "$WORK/av.mkv" -c copy -bsf:v noise=amount=3 "$WORK/none.mkv"
run_job none "$WORK/none.mkv"
check "no decodable frame: exit 2 (got $rc)" test "$rc" -eq 2
check "it says why" grep -q "^cmafeng: $WORK/none.mkv: .*\(no decodable frame\|damaged\)" "$WORK/none.err" ||
  cat "$WORK/none.err"
check "nothing written" test ! -e "$WORK/out_none"

# inspect and validate read regular files only.
mkfifo "$WORK/fifo.mp4"
for f in /dev/zero "$WORK/fifo.mp4"; do
  set +e
  timeout 10 "$CMAFENG" inspect "$f" 2>"$WORK/inspect.err"
  rc=$?
  set -e
  check "inspect $f: exit 2 at once (got $rc)" test "$rc" -eq 2
  check "inspect $f: not a regular file" grep -q "^cmafeng: $f: not a regular file" "$WORK/inspect.err"
done
rm "$WORK/out_few/180p/seg_00002.m4s"
ln -s /dev/zero "$WORK/out_few/180p/seg_00002.m4s"
set +e
timeout 10 "$CMAFENG" validate "$WORK/out_few" >/dev/null 2>"$WORK/validate.err"
rc=$?
set -e
check "validate with /dev/zero behind a segment name: exit 2 at once (got $rc)" test "$rc" -eq 2
check "it names the file" grep -q "seg_00002.m4s: not a regular file (a char)" "$WORK/validate.err"

finish

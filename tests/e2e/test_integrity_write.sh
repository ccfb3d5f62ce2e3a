#!/usr/bin/env bash
# Output integrity (issue 10): every file is complete under its final name, even when the
# disk fills (ENOSPC on a small tmpfs, at a range of sizes around the job's footprint);
# --events to a full device fails the run; one job per output directory (a second job is
# refused naming the holder's pid); a directory holding another job's output is refused
# unless --overwrite, which removes the old presentation first and leaves no stale file.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "FATAL: this test mounts a small tmpfs and must run as root (make test does)"
  exit 1
fi
command -v python3 >/dev/null || { echo "FATAL: python3 is required"; exit 1; }

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x90:r=25:d=12" -c:v libx264 -preset ultrafast \
  -pix_fmt yuv420p "$SRC"
# One worker: a job run twice writes identical segments, so every file a failed run left
# under its final name can be compared byte for byte with the reference.
cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 1,
  video = { ladder = { { width = 160, height = 90, crf = 45, preset = 12 },
                       { width = 128, height = 72, crf = 45, preset = 12 } } } }
LUA
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$WORK/ref" 2>"$WORK/ref.err"
ok "the reference run exits 0"
# tmpfs counts whole pages: the job's footprint in pages, plus the lock file.
pages=$(find "$WORK/ref" -type f -printf '%s\n' | awk '{ p += int(($1 + 4095) / 4096) } END { print p + 1 }')
report_pages=$(( ($(stat -c %s "$WORK/ref/report.json") + 4095) / 4096 ))
echo "# footprint: $pages pages, report.json $report_pages pages"

MNT=$WORK/mnt
mkdir -p "$MNT"
cleanup_mnt() { umount "$MNT" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup_mnt EXIT

json_ok() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }

bad_files=0 failed_report=0 succeeded=0 failed=0
for p in 1 2 $((pages / 4)) $((pages / 2)) $((pages * 3 / 4)) $(seq $((pages - 5)) $((pages + 1))); do
  mount -t tmpfs -o size=$((p * 4))k tmpfs "$MNT"
  set +e
  "$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$MNT/out" 2>"$WORK/err"
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    succeeded=$((succeeded + 1))
    "$CMAFENG" validate "$MNT/out" >/dev/null || { echo "# $p pages: exit 0 but validate fails"; bad_files=$((bad_files + 1)); }
  elif [ "$rc" -eq 1 ] && grep -q "^cmafeng: $MNT/out/.*No space left on device" "$WORK/err"; then
    failed=$((failed + 1))
    grep -q "^cmafeng: $MNT/out/report.json: .*No space left on device" "$WORK/err" &&
      failed_report=$((failed_report + 1))
  else
    echo "# $p pages: exit $rc, stderr:"; cat "$WORK/err"
    bad_files=$((bad_files + 1))
  fi
  # Whatever is under a final name is whole: identical to the reference, or valid JSON.
  while IFS= read -r f; do
    rel=${f#"$MNT/out/"}
    case "$rel" in
      report.json) json_ok "$f" || { echo "# $p pages: report.json is not whole JSON"; bad_files=$((bad_files + 1)); } ;;
      .cmafeng-journal) ;;
      *.tmp.*) echo "# $p pages: temp file left: $rel"; bad_files=$((bad_files + 1)) ;;
      *) cmp -s "$f" "$WORK/ref/$rel" || { echo "# $p pages: $rel differs from the reference ($(stat -c %s "$f") bytes)"; bad_files=$((bad_files + 1)); } ;;
    esac
  done < <(find "$MNT/out" -type f 2>/dev/null)
  echo "# $p pages: exit $rc: $(head -n 1 "$WORK/err")"
  umount "$MNT"
done
check "no truncated or foreign file under a final name, no exit 0 with a bad output, no temp file left ($bad_files problems)" \
  test "$bad_files" -eq 0
check "a full disk fails the run (exit 1, the path and 'No space left on device'): $failed runs" test "$failed" -ge 3
check "a full disk while report.json is written fails the run naming report.json ($failed_report runs)" \
  test "$failed_report" -ge 1
check "with room enough the run succeeds ($succeeded runs)" test "$succeeded" -ge 1

set +e
"$CMAFENG" run "$WORK/job.lua" --events /dev/full -- "$SRC" "$WORK/ev" 2>"$WORK/err"
rc=$?
set -e
check "--events /dev/full fails the run (exit $rc)" test "$rc" -eq 1
check "and says why" grep -q "^cmafeng: /dev/full: cannot write events: No space left on device" "$WORK/err"
set +e
"$CMAFENG" run "$WORK/job.lua" --events - -- "$SRC" "$WORK/ev2" >/dev/full 2>"$WORK/err"
rc=$?
set -e
check "--events - into a full stdout fails the run (exit $rc)" test "$rc" -eq 1
check "and says why" grep -q "^cmafeng: stdout: cannot write events: No space left on device" "$WORK/err"

# One job per directory: a second job while the first runs is refused, naming its pid.
cat >"$WORK/slow.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 1,
  video = { ladder = { { name = "slow", width = 160, height = 90, crf = 30, preset = 4 } } } }
LUA
"$CMAFENG" run "$WORK/slow.lua" -- "$SRC" "$WORK/shared" 2>"$WORK/first.err" &
first=$!
for _ in $(seq 1 100); do [ -e "$WORK/shared/.cmafeng-lock" ] && break; sleep 0.05; done
set +e
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$WORK/shared" 2>"$WORK/second.err"
rc=$?
"$CMAFENG" run "$WORK/job.lua" --overwrite -- "$SRC" "$WORK/shared" 2>"$WORK/third.err"
rc3=$?
wait "$first"
rc1=$?
set -e
check "a second job into a busy directory exits 2 (got $rc)" test "$rc" -eq 2
check "and names the holder's pid ($first)" grep -q "another cmafeng job (pid $first)" "$WORK/second.err"
check "--overwrite does not take a busy directory either (exit $rc3)" test "$rc3" -eq 2
check "the first job still succeeds (exit $rc1)" test "$rc1" -eq 0
check "its output validates" "$CMAFENG" validate "$WORK/shared"
check "the lock is gone with the job" test ! -e "$WORK/shared/.cmafeng-lock"

# Another job's output: refused without --overwrite, untouched.
sum_before=$(cd "$WORK/shared" && find . -type f | sort | xargs md5sum | md5sum)
set +e
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$WORK/shared" 2>"$WORK/err"
rc=$?
set -e
check "a run into another job's output exits 2 (got $rc)" test "$rc" -eq 2
check "and points at --overwrite" grep -q "holds the output of another job.*--overwrite" "$WORK/err"
check "the earlier output is untouched" \
  test "$sum_before" = "$(cd "$WORK/shared" && find . -type f | sort | xargs md5sum | md5sum)"

# --overwrite with a shorter source: the old presentation goes first, no stale segment stays.
ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x90:r=25:d=3" -c:v libx264 -preset ultrafast \
  -pix_fmt yuv420p "$WORK/short.mkv"
"$CMAFENG" run "$WORK/job.lua" --overwrite -- "$WORK/short.mkv" "$WORK/shared" 2>"$WORK/err"
ok "--overwrite exits 0"
check "it says what it removed" grep -q "overwrite: removed the earlier job's master.m3u8" "$WORK/err"
check "3 segments per rung, none stale ($(ls "$WORK/shared/90p" | grep -c m4s))" \
  test "$(ls "$WORK/shared/90p" | grep -c m4s)" -eq 3
check "nothing of the old job is left (no .cmafeng-old.*)" test -z "$(ls -A "$WORK/shared" | grep old || true)"
check "the new output validates" "$CMAFENG" validate "$WORK/shared"

# An interrupted --overwrite never shows the old manifests beside new segments.
"$CMAFENG" run "$WORK/slow.lua" --overwrite -- "$SRC" "$WORK/shared" 2>"$WORK/err" &
interrupt_when "$WORK/shared/slow/seg_00001.m4s" $!
check "the interrupted --overwrite exits 130 (got $rc)" test "$rc" -eq 130
check "no old manifest is left beside the new segments" \
  test ! -e "$WORK/shared/master.m3u8" -a ! -e "$WORK/shared/manifest.mpd" -a ! -e "$WORK/shared/72p" \
    -a ! -e "$WORK/shared/90p"

# Temp files of a killed run are removed by the next run; --resume without a journal says so.
touch "$WORK/shared/slow/seg_00007.m4s.tmp.999999" "$WORK/shared/report.json.tmp.999998"
mkdir -p "$WORK/shared/.cmafeng-old.999997/90p" # an --overwrite killed while it deleted
touch "$WORK/shared/.cmafeng-old.999997/90p/seg_00001.m4s"
rm -f "$WORK/shared/.cmafeng-journal"
set +e
"$CMAFENG" run "$WORK/job.lua" --resume --overwrite -- "$SRC" "$WORK/shared" 2>"$WORK/err"
rc=$?
set -e
check "--resume with --overwrite is a usage error (exit $rc)" test "$rc" -eq 2
"$CMAFENG" run "$WORK/job.lua" --resume -- "$SRC" "$WORK/fresh" 2>"$WORK/err"
check "--resume without a journal starts a normal run and says so" \
  grep -q "^cmafeng: --resume: $WORK/fresh has no journal .*starting a normal run" "$WORK/err"
check "that run's output validates" "$CMAFENG" validate "$WORK/fresh"
"$CMAFENG" run "$WORK/job.lua" --overwrite -- "$SRC" "$WORK/shared" 2>"$WORK/err"
check "the next run removes the killed run's temp files" \
  grep -q "removed 3 temp files of a killed run" "$WORK/err"
check "no temp file is left" test -z "$(find "$WORK/shared" -name '*.tmp.*' -o -name '.cmafeng-old.*')"

finish

#!/usr/bin/env bash
# Bad input: a missing source, a file that is not media, and a recipe with a syntax error
# each exit 2 with "cmafeng: <file>: <why>" on stderr and write nothing under the output
# directory.
source "$(dirname "$0")/lib.sh"

expect_bad() { # DESCRIPTION PATTERN OUTDIR cmafeng-args...
  local d=$1 pat=$2 out=$3; shift 3
  set +e
  "$CMAFENG" "$@" >"$WORK/stdout" 2>"$WORK/stderr"
  local rc=$?
  set -e
  check "$d: exit code 2 (got $rc)" test "$rc" -eq 2
  check "$d: stderr names the problem" grep -q -- "$pat" "$WORK/stderr" || cat "$WORK/stderr"
  check "$d: nothing written under $out" test ! -e "$out"
}

RECIPE=$SRC_DIR/recipes/small_test.lua
expect_bad "missing source" "^cmafeng: $WORK/nope.mkv: No such file or directory" \
  "$WORK/o1" run "$RECIPE" -o "$WORK/o1" -- "$WORK/nope.mkv"

head -c 20000 /dev/urandom >"$WORK/noise.mkv"
expect_bad "not media" "^cmafeng: $WORK/noise.mkv: " "$WORK/o2" \
  run "$RECIPE" -o "$WORK/o2" -- "$WORK/noise.mkv"

: >"$WORK/empty.mp4"
expect_bad "empty file" "^cmafeng: $WORK/empty.mp4: " "$WORK/o3" \
  run "$RECIPE" -o "$WORK/o3" -- "$WORK/empty.mp4"

printf 'return {\n  source = arg[1],\n  video = { ladder = { { width = 320 height = 180 } } }\n}\n' \
  >"$WORK/syntax.lua"
expect_bad "recipe syntax error" "^cmafeng: $WORK/syntax.lua:3: " "$WORK/o4" \
  run "$WORK/syntax.lua" -o "$WORK/o4" -- "$WORK/noise.mkv"

printf 'return { source = arg[1], output = "%s", video = { ladder = { { width = 320, height = 181 } } } }\n' \
  "$WORK/o5" >"$WORK/odd.lua"
expect_bad "invalid rung" "^cmafeng: $WORK/odd.lua:1: video.ladder\[1\].height: expected an even integer" \
  "$WORK/o5" run "$WORK/odd.lua" -- "$WORK/noise.mkv"

expect_bad "missing recipe" "^cmafeng: $WORK/none.lua: cannot read recipe" "$WORK/o6" \
  run "$WORK/none.lua" -o "$WORK/o6"

# Hardware backends probe their runtime lazily and refuse with the reason when no device
# can encode AV1 (this machine has no GPU; a GPU without AV1 NVENC is refused too).
ffmpeg -v error -y -f lavfi -i testsrc2=s=128x72:r=10:d=1 -c:v libx264 -pix_fmt yuv420p \
  "$WORK/ok.mkv"
for backend in nvenc qsv vaapi; do
  printf 'return { source = arg[1], output = "%s", devices = { { backend = "%s" } },\n  video = { ladder = { { width = 128, height = 72 } } } }\n' \
    "$WORK/hw_$backend" "$backend" >"$WORK/hw_$backend.lua"
  expect_bad "$backend device" "^cmafeng: devices\[1\] ($backend:0): .*\(no .* device\|not implemented\|needs NVENC API 12\)" \
    "$WORK/hw_$backend" run "$WORK/hw_$backend.lua" -- "$WORK/ok.mkv"
done

# SVT-AV1 1.4.1 shares one block-geometry table across a process: a preset 4 rung beside
# a preset 12 one used to hang forever (engine/enc/svtav1.c). The encoders refuse such a
# mix before anything is written; presets of one group (6 and 12) still run together.
printf 'return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 1,\n  video = { ladder = { { name = "slow", width = 128, height = 72, preset = 4 },\n    { name = "fast", width = 128, height = 72, preset = 12 } } } }\n' \
  >"$WORK/geom_bad.lua"
expect_bad "SVT-AV1 presets 4 and 12 in one job" \
  "^cmafeng: fast: cannot open the svt encoder on cpu: SVT-AV1 1.4.1 cannot run preset 12 at 128x72 (presets 6..13) in a process whose open SVT-AV1 encoders use presets 3..5.*block-geometry table" \
  "$WORK/geom_bad_out" run "$WORK/geom_bad.lua" -- "$WORK/ok.mkv" "$WORK/geom_bad_out"
sed 's/preset = 4/preset = 6/' "$WORK/geom_bad.lua" >"$WORK/geom_ok.lua"
set +e
timeout 120 "$CMAFENG" run "$WORK/geom_ok.lua" -- "$WORK/ok.mkv" "$WORK/geom_ok_out" 2>"$WORK/stderr"
rc=$?
set -e
check "SVT-AV1 presets 6 and 12 in one job: exit 0 (got $rc)" test "$rc" -eq 0
check_output "$WORK/geom_ok_out"

# Damaged sources encode what decodes, exit 0, and say so on stderr and in report.json.
ffmpeg -v error -y -f lavfi -i testsrc2=s=128x72:r=25:d=4 -c:v libx264 -pix_fmt yuv420p \
  "$WORK/long.mkv"
head -c "$(( $(stat -c %s "$WORK/long.mkv") / 3 ))" "$WORK/long.mkv" >"$WORK/truncated.mkv"
printf 'return { source = arg[1], output = arg[2], segment_seconds = 1,\n  video = { ladder = { { width = 128, height = 72, preset = 12 } } } }\n' \
  >"$WORK/tiny.lua"
set +e
"$CMAFENG" run "$WORK/tiny.lua" -- "$WORK/truncated.mkv" "$WORK/trunc_out" 2>"$WORK/stderr"
rc=$?
set -e
check "truncated source: exit 0 (got $rc)" test "$rc" -eq 0
check "truncated source: stderr warns that the file may be truncated" \
  grep -q "^cmafeng: warning: $WORK/truncated.mkv: decoded [0-9]* frames lasting [0-9.]* s where the container lasts 4.000 s.*may be truncated" \
  "$WORK/stderr"
check "truncated source: report.json lists the warning" \
  grep -q '"warnings": \[' "$WORK/trunc_out/report.json"
check_output "$WORK/trunc_out"

expect_bad "unknown option" "unknown option --bogus" "$WORK/o7" run "$RECIPE" --bogus

finish

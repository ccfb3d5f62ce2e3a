#!/usr/bin/env bash
# Limits agree (issue 10): what the schema accepts the engine encodes; each refusal is
# exit 2, names the recipe file and writes nothing; no input reaches an "internal error".
source "$(dirname "$0")/lib.sh"

ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=2" -c:v libx264 -pix_fmt yuv420p \
  "$WORK/src.mkv"
refused() { # NAME PATTERN RECIPE-TEXT [OUTPUT]
  local name=$1 pat=$2 out=${4:-$WORK/out_$1}
  printf '%s\n' "$3" >"$WORK/$name.lua"
  set +e
  "$CMAFENG" run "$WORK/$name.lua" -- "$WORK/src.mkv" "$out" >/dev/null 2>"$WORK/$name.err"
  local rc=$?
  set -e
  check "$name: exit 2 (got $rc)" test "$rc" -eq 2
  check "$name: names the recipe: $pat" grep -q "^cmafeng: $WORK/$name.lua:\([0-9]*:\)\? .*$pat" "$WORK/$name.err" ||
    cat "$WORK/$name.err"
  check "$name: no internal error" test -z "$(grep -i 'internal error\|traceback' "$WORK/$name.err")"
  check "$name: nothing written" test ! -e "$out"
}
ladder='video = { ladder = { { width = 320, height = 180, preset = 12 } } }'
refused segment "segment_seconds: 0.04 s is 1 frames .* at least 4 frames" \
  "return { source = arg[1], output = arg[2], segment_seconds = 0.04, $ladder }"
refused small_rung "video.ladder\[1\].height: expected an even integer >= 64, got 40" \
  "return { source = arg[1], output = arg[2], video = { ladder = { { width = 40, height = 40 } } } }"
refused devices "devices: expected at most 16 entries" \
  "local d = {} for i = 1, 17 do d[i] = { backend = 'svt' } end
return { source = arg[1], output = arg[2], devices = d, $ladder }"
long=$WORK/$(printf 'd%.0s' $(seq 1 1100))
refused long_output "output: expected at most 1023 bytes" \
  "return { source = arg[1], output = arg[2], $ladder }" "$long"
refused erroring_index "source: expected a string" \
  "return setmetatable({}, { __index = function() error('boom') end })"
refused queue_depth "queue_depth: expected an integer <= 16" \
  "return { source = arg[1], output = arg[2], queue_depth = 17, $ladder }"

# The boundary values the schema accepts are encoded.
printf 'return { source = arg[1], output = arg[2], segment_seconds = 0.16, video = { ladder = { { width = 64, height = 64, preset = 12 } } } }\n' \
  >"$WORK/edge.lua"
"$CMAFENG" run "$WORK/edge.lua" -- "$WORK/src.mkv" "$WORK/edge" 2>"$WORK/edge.err" ||
  { cat "$WORK/edge.err"; not_ok "4-frame segments of 64x64 encode"; finish; exit 1; }
ok "4-frame segments of 64x64 encode"
check "and validate" "$CMAFENG" validate "$WORK/edge"

finish

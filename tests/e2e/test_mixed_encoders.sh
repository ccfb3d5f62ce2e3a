#!/usr/bin/env bash
# Two different encoders in one rendition (DESIGN.md section 3, codec invariant; issue 9):
# an SVT-AV1 device beside a libaom-av1 or rav1e device, all on the CPU.
#  1. SVT-AV1 + rav1e at their default levels: rav1e 0.5 signals seq_level_idx 31 and a
#     colour description, SVT-AV1 the level it computes and none. In `cmaf` mode the
#     device that loses the rung has its chunks requeued to the other; the requeue event
#     names the fields; the output is one consistent rendition.
#  2. SVT-AV1 with level 6.3 forced + libaom: the same with the level as the only difference.
#  3. SVT-AV1 with level 2.0 forced (what libaom signals at 320x180 25 fps) + libaom: the
#     sequence headers agree, both devices contribute segments to one rendition, which
#     dav1d decodes frame by frame and `cmafeng validate` accepts.
# Which device takes which chunk is a race, so each case runs up to 3 times until the
# interesting thing happens (every run alone is checked for "nothing lost").
source "$(dirname "$0")/lib.sh"

ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$WORK/src4.mkv"
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=8,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$WORK/src8.mkv"

# recipe NAME BACKEND SVT_LEVEL: two devices, one 180p rung at a preset both accept.
recipe() {
  cat >"$WORK/$1.lua" <<LUA
return {
  source = arg[1], output = arg[2], segment_seconds = 0.5,
  devices = {
    { backend = "svt", id = "svt", sessions = 1, threads = 1, level = $3 },
    { backend = "$2", id = "$2", sessions = 1, threads = 1 },
  },
  video = { ladder = { { width = 320, height = 180, preset = 8, crf = 40 } } },
}
LUA
}

# one_rendition RUN OUT FRAMES [mixed]: the rendition decodes completely with ffprobe and
# dav1d and passes validate.
one_rendition() {
  local run=$1 out=$2 frames=$3 mixed=${4:-}
  cat "$out/180p/init.mp4" "$out"/180p/seg_*.m4s >"$WORK/$run.mp4"
  local n
  n=$(ffprobe -v error -count_frames -select_streams v:0 \
    -show_entries stream=nb_read_frames -of csv=p=0 "$WORK/$run.mp4")
  check "$run: ffprobe decodes all $frames frames (got $n)" test "$n" -eq "$frames"
  n=$(dav1d_frames "$WORK/$run.mp4")
  check "$run: dav1d decodes all $frames frames (got $n)" test "$n" -eq "$frames"
  if [ -z "$mixed" ]; then
    check "$run: cmafeng validate accepts the output" "$CMAFENG" validate "$out"
    return
  fi
  # Two encoders' sequence headers agree in every field a CMAF AV1 track fixes
  # (AV1-ISOBMFF section 3: seq_profile, still_picture, seq_level_idx[0], seq_tier[0],
  # color_config, initial_presentation_delay) but not in coding-tool flags: libaom 3.6
  # always writes enable_interintra_compound = enable_jnt_comp = 0, SVT-AV1 1.4.1 1, and
  # enable_restoration depends on the content. `validate` compares every field of the
  # in-band header with av1C: its only complaints may be such enable_* flags.
  "$CMAFENG" validate --json "$out" >"$WORK/$run.validate.json" || true
  cat >"$WORK/only_tools.lua" <<'LUA'
local d = io.open(arg[1]):read("*a")
local n = 0
for msg in d:gmatch('"message": *"([^"]*)"') do
  n = n + 1
  -- Only a coding-tool flag (enable_*) may differ: never a field a CMAF AV1 track fixes.
  local field = msg:match("^in%-band sequence header differs from .* configOBUs in ([%w_.%[%]]+)$")
  if not field or not field:match("^enable_") then
    io.stderr:write("unexpected problem: ", msg, "\n")
    os.exit(1)
  end
end
io.stderr:write(n, " coding-tool differences reported\n")
LUA
  check "$run: validate finds nothing but the coding-tool flags of the other encoder" \
    luajit "$WORK/only_tools.lua" "$WORK/$run.validate.json"
}

# mismatch CASE BACKEND SVT_LEVEL FIELD: runs until a requeue happens.
mismatch() {
  local case=$1 backend=$2 level=$3 field=$4 requeues=0
  recipe "$case" "$backend" "$level"
  for attempt in 1 2 3; do
    local run=$case$attempt out=$WORK/$case$attempt
    "$CMAFENG" run "$WORK/$case.lua" --events "$WORK/$run.jsonl" -- "$WORK/src4.mkv" "$out" \
      2>"$WORK/stderr" || { cat "$WORK/stderr"; not_ok "$run exits 0"; return; }
    ok "$run exits 0"
    local segs devices
    segs=$(grep -c '"type":"segment"' "$WORK/$run.jsonl" || true)
    devices=$(grep '"type":"segment"' "$WORK/$run.jsonl" | grep -o '"device":"[^"]*"' | sort -u |
      wc -l)
    check "$run: all 8 segments, from one device ($devices)" test "$segs" -eq 8 -a "$devices" -eq 1
    one_rendition "$run" "$out" 100
    # The device is excluded before encoding when its backend tells its header up front,
    # else its first chunk fails with reason invariant and the policy moves it.
    requeues=$(grep -c '"type":"device_excluded"' "$WORK/$run.jsonl" || true)
    if [ "$requeues" -gt 0 ]; then
      check "$case: the requeue names $field" grep -q "$field" "$WORK/$run.jsonl"
      check "$case: the requeue names the device that lost the rung" \
        grep -qE '"device":"[a-z0-9]+",.*( [a-z0-9]+ produced an incompatible sequence header|: [a-z0-9]+.s sequence header differs from the rung)' \
        "$WORK/$run.jsonl"
      break
    fi
  done
  check "$case: a mismatching device's chunks were requeued ($requeues)" test "$requeues" -gt 0
}

mismatch rav1e_default rav1e 0 'seq_level_idx\[0\] [0-9]* != [0-9]*'
mismatch aom_level63 aom 63 'seq_level_idx\[0\] [0-9]* != [0-9]*'

# 3. Matching headers: both encoders in one rendition.
recipe mixed aom 20
both=0
for attempt in 1 2 3; do
  run=mixed$attempt
  out=$WORK/$run
  "$CMAFENG" run "$WORK/mixed.lua" --events "$WORK/$run.jsonl" -- "$WORK/src8.mkv" "$out" \
    2>"$WORK/stderr" || { cat "$WORK/stderr"; not_ok "$run exits 0"; break; }
  ok "$run exits 0"
  check "$run: no device excluded, no chunk failed" \
    test "$(grep -c '"type":"device_excluded"\|"type":"chunk_failed"' "$WORK/$run.jsonl" || true)" -eq 0
  check "$run: 16 segments" test "$(grep -c '"type":"segment"' "$WORK/$run.jsonl")" -eq 16
  one_rendition "$run" "$out" 200 mixed
  svt=$(grep '"type":"segment"' "$WORK/$run.jsonl" | grep -c '"device":"svt"' || true)
  aom=$(grep '"type":"segment"' "$WORK/$run.jsonl" | grep -c '"device":"aom"' || true)
  echo "# $run: $svt segments from SVT-AV1, $aom from libaom"
  if [ "$svt" -gt 0 ] && [ "$aom" -gt 0 ]; then
    both=1
    # Segments of both encoders: each starts with a key frame carrying the sequence
    # header, and the manifest announces the level both signal.
    seg=$(grep '"type":"segment"' "$WORK/$run.jsonl" | grep '"device":"aom"' | head -1 |
      grep -o '"index":[0-9]*' | cut -d: -f2)
    check "$run: libaom's segment $seg starts with a key frame and a sequence header" \
      bash -c "\"$CMAFENG\" inspect \"$out/180p/$(printf 'seg_%05d.m4s' "$seg")\" |
        grep -m1 -E '^ +1 ' | grep -q 'KEY.*sync seq'"
    check "$run: CODECS announces level 2.0" grep -q 'CODECS="av01\.0\.00M\.08"' "$out/master.m3u8"
    break
  fi
done
check "SVT-AV1 and libaom both contributed segments to one rendition" test "$both" -eq 1

# Bad input: a preset outside the encoder's range fails before anything is written.
cat >"$WORK/badpreset.lua" <<'LUA'
return {
  source = arg[1], output = arg[2],
  devices = { { backend = "aom", id = "aom" } },
  video = { ladder = { { width = 320, height = 180, preset = 12, crf = 40 } } },
}
LUA
set +e
"$CMAFENG" run "$WORK/badpreset.lua" -- "$WORK/src4.mkv" "$WORK/bad" 2>"$WORK/stderr"
rc=$?
set -e
check "a preset out of libaom's range exits 2 (got $rc)" test "$rc" -eq 2
check "the message names the range" \
  grep -q 'preset 12 is out of range for libaom-av1 (cpu-used 0\.\.[0-9])' "$WORK/stderr"
check "nothing was written" test ! -e "$WORK/bad"

finish

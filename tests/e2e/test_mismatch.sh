#!/usr/bin/env bash
# The codec invariant with real encoders (DESIGN.md section 3 and 6), deterministic.
#
# 1. Two SVT-AV1 devices share one rung, the second configured to signal AV1 level 6.3.
#    Their sequence headers are compared before the first frame, so the second device is
#    excluded from the rung up front, with an event naming seq_level_idx[0]: every segment
#    comes from the first device and the CODECS level is its level, on every run.
# 2. A device whose stream changes its sequence header in the middle (the fault backend's
#    seqhdr@all on a device that takes a chunk at the start): its chunk fails with reason
#    "invariant", the device is excluded from the rung, the policy moves the chunk to the
#    other device, and the rendition is complete and decodes.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SRC"
cat >"$WORK/mismatch.lua" <<'LUA'
return {
  source = arg[1], output = arg[2], segment_seconds = 0.5,
  devices = {
    { backend = "svt", id = "cpu-a", sessions = 1, threads = 1 },
    { backend = "svt", id = "cpu-b", sessions = 2, threads = 1, level = 63 },
  },
  video = { ladder = { { width = 320, height = 180, preset = 12, crf = 40 } } },
}
LUA


decodes_all() { # OUT RUNG
  cat "$1/$2/init.mp4" "$1/$2"/seg_*.m4s >"$WORK/r.mp4"
  local frames decoded
  frames=$(ffprobe -v error -count_frames -select_streams v:0 \
    -show_entries stream=nb_read_frames -of csv=p=0 "$WORK/r.mp4")
  check "$3: ffprobe decodes all 100 frames (got $frames)" test "$frames" -eq 100
  decoded=$(dav1d_frames "$WORK/r.mp4")
  check "$3: dav1d decodes all 100 frames (got $decoded)" test "$decoded" -eq 100
}

for run in 1 2; do
  OUT=$WORK/out$run
  EV=$WORK/events$run.jsonl
  "$CMAFENG" run "$WORK/mismatch.lua" --events "$EV" -- "$SRC" "$OUT" 2>"$WORK/stderr" ||
    { cat "$WORK/stderr"; not_ok "run $run exits 0"; continue; }
  ok "run $run exits 0"
  check "run $run: cpu-b is excluded before encoding, naming the level" \
    has_event "$EV" device_excluded '"device":"cpu-b"' 'seq_level_idx\[0\] 0 != 19'
  check "run $run: the exclusion happened before encoding" \
    has_event "$EV" device_excluded 'before encoding' 
  check "run $run: cpu-b encodes nothing" \
    test "$(grep -c '"type":"chunk_failed"' "$EV")" -eq 0
  devices=$(grep '"type":"segment"' "$EV" | grep -v '"audio":true' |
    grep -o '"device":"[^"]*"' | sort -u)
  check "run $run: all 8 segments come from cpu-a ($devices)" \
    test "$(grep '"type":"segment"' "$EV" | grep -vc '"audio":true')" -eq 8 -a "$devices" = '"device":"cpu-a"'
  level=$(grep -o 'CODECS="av01\.0\.[0-9][0-9]' "$OUT/master.m3u8" | sed 's/.*\.//')
  check "run $run: CODECS level is cpu-a's (got $level)" test "$level" = 00
  decodes_all "$OUT" 180p "run $run"
  assert_chunks_settled "$OUT/report.json" "run $run"
  check_output "$OUT"
done

# 2. A sequence header that changes in the stream: the fault device flips the level in the
# first packet of every segment it encodes (its header read at start was the rung's), and it
# surely takes a chunk when both devices claim at the start.
cat >"$WORK/midstream.lua" <<'LUA'
return {
  source = arg[1], output = arg[2], segment_seconds = 0.5,
  devices = {
    { backend = "fault", id = "flaky", sessions = 1, threads = 1, options = "seqhdr@all" },
    { backend = "fault", id = "cpu-slow", sessions = 1, threads = 1, options = "delay@2" },
  },
  video = { ladder = { { width = 320, height = 180, preset = 12, crf = 40 } } },
}
LUA
OUT=$WORK/out-mid
EV=$WORK/events-mid.jsonl
"$CMAFENG" run "$WORK/midstream.lua" --events "$EV" -- "$SRC" "$OUT" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "mid-stream run exits 0"; }
check "mid-stream: a chunk fails on flaky with reason invariant, naming the field" \
  has_event "$EV" chunk_failed '"device":"flaky"' '"reason":"invariant"' 'seq_level_idx\[0\]'
check "mid-stream: flaky is excluded from the rung" \
  has_event "$EV" device_excluded '"device":"flaky"'
check "mid-stream: the policy retried it on cpu-slow" \
  has_event "$EV" decision '"decision":"retry"' '"device":"cpu-slow"'
check "mid-stream: every segment was written by cpu-slow" \
  test "$(grep '"type":"segment"' "$EV" | grep -c '"device":"cpu-slow"')" -eq 8 
check "mid-stream: 8 segments written" \
  test "$(grep '"type":"segment"' "$EV" | grep -vc '"audio":true')" -eq 8
decodes_all "$OUT" 180p "mid-stream"
assert_chunks_settled "$OUT/report.json" "mid-stream"

finish

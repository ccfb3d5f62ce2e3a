#!/usr/bin/env bash
# Failures decided by policy (DESIGN.md section 3, decisions), with the fault-injection
# backend (engine/enc/fault.c: a real SVT-AV1 encoder with faults on named segments). Each
# fault must end with the right decision, the output must decode fully with dav1d, and no
# chunk may be lost or duplicated: every chunk ends done or failed by a decision, and the
# segment files are exactly the done chunks. Several jobs run 4 workers (TSan runs them).
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SRC"

count_events() { grep "\"type\":\"$2\"" "$1" | grep -c -e "${3:-.}" || true; }

# job NAME DEVICES [EXTRA]: writes a recipe with these device tables and runs it.
job() {
  local name=$1 devices=$2 extra=${3:-}
  cat >"$WORK/$name.lua" <<LUA
return {
  source = arg[1], output = arg[2], segment_seconds = 0.5, $extra
  devices = { $devices },
  video = { ladder = { { width = 320, height = 180, preset = 12, crf = 40 } } },
}
LUA
  set +e
  "$CMAFENG" run "$WORK/$name.lua" --events "$WORK/$name.jsonl" -- "$SRC" "$WORK/$name" \
    2>"$WORK/$name.err"
  RC=$?
  set -e
}

complete() { # NAME: 8 segments, every frame decodes, every chunk settled
  local n
  n=$(ls "$WORK/$1/180p" 2>/dev/null | grep -c '^seg_.*\.m4s$' || true)
  check "$1: 8 segment files (got $n)" test "$n" -eq 8
  check "$1: 8 segment events, no duplicate" \
    test "$(grep '"type":"segment"' "$WORK/$1.jsonl" | grep -v '"audio":true' |
      grep -o '"index":[0-9]*' | sort -u | wc -l)" -eq 8 -a \
    "$(grep '"type":"segment"' "$WORK/$1.jsonl" | grep -vc '"audio":true')" -eq 8
  cat "$WORK/$1/180p/init.mp4" "$WORK/$1"/180p/seg_*.m4s >"$WORK/$1.mp4" 2>/dev/null || true
  local decoded
  decoded=$(dav1d_frames "$WORK/$1.mp4")
  check "$1: dav1d decodes all 100 frames (got $decoded)" test "$decoded" -eq 100
  assert_chunks_settled "$WORK/$1/report.json" "$1"
  validate_decode "$WORK/$1"
}

# 1. A send failure once: retried on the same device, which then succeeds.
job once '{ backend = "fault", id = "f", sessions = 4, threads = 1, options = "fail_once@3" }'
check "once: exit 0 (got $RC)" test "$RC" -eq 0
check "once: segment 3 failed with reason send" \
  has_event "$WORK/once.jsonl" chunk_failed '"index":3,' '"reason":"send"' '"device":"f"'
check "once: the default policy retried it on the same device" \
  has_event "$WORK/once.jsonl" decision '"index":3,' '"decision":"retry"' '"device":"f"'
check "once: segment 3 was written at attempt 2" \
  has_event "$WORK/once.jsonl" segment '"index":3,' '"attempts":2'
complete once

# 2. A send failure every time, one device: two retries on it, no other device, no backend
# that can change preset mid-job: the policy fails the job, naming the segment.
job always '{ backend = "fault", id = "f", sessions = 2, threads = 1, options = "fail@3" }'
check "always: exit 1 (got $RC)" test "$RC" -eq 1
check "always: stderr names segment 3" grep -q "180p segment 3" "$WORK/always.err"
check "always: three attempts failed" \
  test "$(count_events "$WORK/always.jsonl" chunk_failed '"index":3,')" -eq 3
check "always: two retries, then abort" \
  test "$(count_events "$WORK/always.jsonl" decision '"decision":"retry"')" -eq 2 -a \
  "$(count_events "$WORK/always.jsonl" decision '"decision":"abort"')" -eq 1
check "always: no manifest for a failed job" test ! -e "$WORK/always/master.m3u8"
check "always: the done event says ok = false" has_event "$WORK/always.jsonl" done '"ok":false'

# 3. A device that fails every chunk next to a healthy one (which starts 1 s late, so the
# failing one surely takes chunks): every chunk ends on the healthy device.
job move '{ backend = "fault", id = "bad", sessions = 2, threads = 1, options = "fail@all" },
  { backend = "fault", id = "good", sessions = 2, threads = 1, options = "delay@1" }'
check "move: exit 0 (got $RC)" test "$RC" -eq 0
check "move: chunks failed on bad" has_event "$WORK/move.jsonl" chunk_failed '"device":"bad"'
check "move: the policy moved a chunk to good, avoiding bad" \
  has_event "$WORK/move.jsonl" decision '"device":"good"' '"avoid":"bad"'
check "move: every segment comes from good" \
  test "$(grep '"type":"segment"' "$WORK/move.jsonl" | grep -c '"device":"good"')" -eq 8
complete move

# 4. A stall: no packet for longer than stall_seconds. The chunk is retried; the late
# packets of the stalled attempt are dropped, never written over the retry's segment.
job stall '{ backend = "fault", id = "f", sessions = 1, threads = 1, options = "stall@2:3" }' \
  'stall_seconds = 1,'
check "stall: exit 0 (got $RC)" test "$RC" -eq 0
check "stall: segment 2 failed with reason stall" \
  has_event "$WORK/stall.jsonl" chunk_failed '"index":2,' '"reason":"stall"'
check "stall: segment 2 was written once, by the retry" \
  test "$(count_events "$WORK/stall.jsonl" segment '"index":2,')" -eq 1 -a \
  "$(count_events "$WORK/stall.jsonl" segment '"attempts":2')" -ge 1
complete stall

# An encoder that never returns (a wedged library: SVT-AV1 1.4.1 once blocked in
# send_picture forever) must not hang the job: after 5 x stall_seconds inside one call
# the worker is given up and the job fails, naming the rung and the device.
SECONDS=0
job wedged '{ backend = "fault", id = "f", sessions = 1, threads = 1, options = "stall@2:3600" }' \
  'stall_seconds = 1,'
check "wedged: exit 1 within seconds, not an hour (got $RC after ${SECONDS} s)" \
  test "$RC" -eq 1 -a "$SECONDS" -lt 60
check "wedged: stderr names the rung, the device and the wait" \
  grep -q "^cmafeng: 180p: the encoder on f has not returned from a call for [0-9]* s (stall_seconds = 1): worker 1 is given up" \
  "$WORK/wedged.err"
check "wedged: the done event says ok = false" has_event "$WORK/wedged.jsonl" done '"ok":false'
check "wedged: no manifest for a failed job" test ! -e "$WORK/wedged/master.m3u8"

# SIGTERM on a job whose encoder is wedged: the cancelled job gives the worker up as soon as
# its call is a stall (stall_seconds = 2), not after 5 x stall_seconds (10 s).
cat >"$WORK/wedged_term.lua" <<LUA
return {
  source = arg[1], output = arg[2], segment_seconds = 0.5, stall_seconds = 2,
  devices = { { backend = "fault", id = "f", sessions = 1, threads = 1, options = "stall@2:3600" } },
  video = { ladder = { { width = 320, height = 180, preset = 12, crf = 40 } } },
}
LUA
SECONDS=0
"$CMAFENG" run "$WORK/wedged_term.lua" -- "$SRC" "$WORK/wedged_term" 2>"$WORK/wedged_term.err" &
pid=$!
sleep 3
kill -TERM "$pid"
set +e
wait "$pid"
RC=$?
set -e
check "wedged + SIGTERM: exit 130 before the 10 s give-up (got $RC after ${SECONDS} s)" \
  test "$RC" -eq 130 -a "$SECONDS" -lt 9
check "wedged + SIGTERM: stderr says it was interrupted" \
  grep -q "^cmafeng: interrupted" "$WORK/wedged_term.err"

# 5. Garbage instead of a temporal unit: a malformed bitstream fails the attempt. One
# instance, and an early segment: its packets come back while later chunks still encode.
# (A failure found while the last open instance of a rung drains at the very end cannot be
# retried on SVT-AV1, which opens no encoder mid-job: the job then fails, naming it.)
job garbage '{ backend = "fault", id = "f", sessions = 1, threads = 1, options = "garbage@2" }'
check "garbage: exit 0 (got $RC)" test "$RC" -eq 0
check "garbage: segment 2 failed with reason bitstream" \
  has_event "$WORK/garbage.jsonl" chunk_failed '"index":2,' '"reason":"bitstream"'
complete garbage

# 6. An encoder that fails returning a packet breaks its instance: its chunks go to the
# other device (bad fails the first packet of whatever it takes; it takes at least one chunk
# at the start, when both devices claim).
job receive '{ backend = "fault", id = "bad", sessions = 1, threads = 1, options = "receive_fail@all" },
  { backend = "fault", id = "good", sessions = 1, threads = 1, options = "delay@1" }'
check "receive: exit 0 (got $RC)" test "$RC" -eq 0
check "receive: a chunk failed with reason receive on bad" \
  has_event "$WORK/receive.jsonl" chunk_failed '"reason":"receive"' '"device":"bad"'
check "receive: every segment comes from good" \
  test "$(count_events "$WORK/receive.jsonl" segment '"device":"good"')" -eq 8
complete receive

# 7. A device that disappears in the middle of the job (gone@3).
job gone '{ backend = "fault", id = "gpu", sessions = 2, threads = 1, options = "gone@3" },
  { backend = "fault", id = "cpu", sessions = 2, threads = 1, options = "delay@1" }'
check "gone: exit 0 (got $RC)" test "$RC" -eq 0
check "gone: a chunk failed on the vanished device" \
  has_event "$WORK/gone.jsonl" chunk_failed '"device":"gpu"'
complete gone

# 8. A recipe's own policy: on_chunk_failed skips; the job then fails naming the chunk.
job skip '{ backend = "fault", id = "f", sessions = 2, threads = 1, options = "fail_once@5" }' \
  'on_chunk_failed = function(ev) return "skip" end,'
check "skip: exit 1 (got $RC)" test "$RC" -eq 1
check "skip: the message names segment 5 and the skip" \
  grep -q "180p: segment 5 failed (skipped by the policy" "$WORK/skip.err"
check "skip: the other 7 segments were written" \
  test "$(count_events "$WORK/skip.jsonl" segment '"rung":1')" -eq 7
assert_chunks_settled "$WORK/skip/report.json" "skip"

# 9. A hook answer that is not a decision: exit 2 naming the recipe and what was expected.
job notdecision '{ backend = "fault", id = "f", sessions = 1, threads = 1, options = "fail_once@2" }' \
  'on_chunk_failed = function(ev) return 42 end,'
check "not a decision: exit 2 (got $RC)" test "$RC" -eq 2
check "not a decision: the message names the hook and what was expected" \
  grep -q "notdecision.lua: on_chunk_failed: expected a decision" "$WORK/notdecision.err"
job baddevice '{ backend = "fault", id = "f", sessions = 1, threads = 1, options = "fail_once@2" }' \
  'on_chunk_failed = function(ev) return { action = "retry", device = "nope" } end,'
check "unknown device in a decision: exit 2 (got $RC)" test "$RC" -eq 2
check "unknown device in a decision: named" grep -q '"nope" is not a device of this job' \
  "$WORK/baddevice.err"

# 10. A retry with another preset on a backend that can open an encoder mid-job (libaom):
# the chunk gets an encoder of its own with those settings; the rung's instances keep theirs.
# The fault device fails every chunk it takes (it surely takes some: libaom is slow).
cat >"$WORK/preset.lua" <<'LUA'
local policy = require "cmafeng.policy"
return {
  source = arg[1], output = arg[2], segment_seconds = 0.5,
  devices = {
    { backend = "fault", id = "f", sessions = 1, threads = 1, options = "fail@all", level = 0 },
    { backend = "aom", id = "aom", sessions = 1, threads = 1 },
  },
  video = { ladder = { { width = 320, height = 180, preset = 8, crf = 40 } } },
  on_chunk_failed = function(ev)
    if ev.device == "f" then return policy.retry { device = "aom", preset = 7 } end
    return policy.abort("unexpected failure " .. ev.reason)
  end,
}
LUA
set +e
"$CMAFENG" run "$WORK/preset.lua" --events "$WORK/preset.jsonl" -- "$SRC" "$WORK/preset" 2>"$WORK/preset.err"
RC=$?
set -e
check "preset: the retry with preset 7 on aom was applied" \
  has_event "$WORK/preset.jsonl" decision '"device":"aom"' '"preset":7'
# SVT-AV1 and libaom headers differ in cmaf fields here unless levels agree: either the
# rung took aom's chunk (exit 0) or the invariant refused it; both end by decision.
if [ "$RC" -eq 0 ]; then
  check "preset: a segment f failed was written by aom at attempt 2" \
    has_event "$WORK/preset.jsonl" segment '"device":"aom"' '"attempts":2'
  check "preset: the chunk record says preset 7" \
    grep -q '"preset": 7' "$WORK/preset/report.json"
  complete preset
else
  check "preset: a refusal names the invariant (exit $RC)" grep -q "invariant\|seq_level_idx" "$WORK/preset.err"
fi

# 11. Four workers on one rung keep four instances busy (no fault): every instance encodes.
job four '{ backend = "svt", id = "cpu", sessions = 4, threads = 1 }'
check "four: exit 0 (got $RC)" test "$RC" -eq 0
inst=$(grep '"type":"segment"' "$WORK/four.jsonl" | grep -o '"instance":[0-9]*' | sort -u | wc -l)
check "four: segments come from more than one instance ($inst)" test "$inst" -ge 2
check "four: the plan announces 4 instances" has_event "$WORK/four.jsonl" plan '"instances":4'
complete four

finish

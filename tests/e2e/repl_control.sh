#!/usr/bin/env bash
# PREPARED, NOT YET REGISTERED: rename to test_repl_control.sh once the engine binding has
# pause/resume/queue/chunks/devices/leases/requeue/set (engine/lua/engine.c; the Lua side is
# lua/cmafeng/live.lua). Until then every check below would fail with "not supported by this
# engine build", which tests/e2e/test_repl.sh already asserts.
#
# Live control of a job from the REPL (piped input, the same code paths as the terminal):
# pause stops progress and resume restores it (progress checked before and after); a
# requeued segment with another CRF is re-encoded, its file changes and still decodes;
# chunks/devices/leases answer; requeue of a chunk that does not exist is a message.
#
# Engine methods this test expects (1-based rung and segment numbers):
#   eng:pause() / eng:resume()        -> true   (workers stop claiming; encoding chunks finish)
#   eng:queue(rung)                   -> { {index=, attempts=}, ... } the queued chunks, in order
#   eng:chunks{state=, rung=}         -> { {rung=, index=, state=, device=, attempt=}, ... }
#   eng:devices()                     -> { {id=, backend=, sessions=}, ... }
#   eng:leases()                      -> { {device=, rung=}, ... }
#   eng:requeue(rung, index)          -> true | nil, message, code
#   eng:set(rung, {crf=, preset=})    -> true | nil, message, code (chunks not yet claimed)
source "$(dirname "$0")/lib.sh"

export CMAFENG_HISTORY=
SLOW=$WORK/slow.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=12,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SLOW"
OUT=$WORK/out
set +e
"$CMAFENG" repl >"$WORK/o" 2>"$WORK/e" <<LUA
run = cme.start{ source = "$SLOW", output = "$OUT", workers = 1, segment_seconds = 1,
  video = { ladder = { { width = 640, height = 360, preset = 8 } } } }
function segs() run:poll(0) return run:status().segments_done end
function sleep(s) local t = os.time() + s while os.time() < t do run:poll(100) end end
while segs() < 2 do run:poll(100) end
assert(run:pause())
sleep(3)  -- the chunk being encoded finishes
local before = segs()
sleep(3)
print("paused", before, segs())
#run:chunks{ state = "done" } >= 2, #run:devices() >= 1, type(run:leases())
before_bytes = io.open("$OUT/360p/seg_00001.m4s", "rb"):read("*a")
assert(run:set(1, { crf = 55 }))
assert(run:requeue(1, 1))
print("bad requeue", run:requeue(1, 999))
assert(run:resume())
sleep(3)
print("resumed", segs() > before)
run:wait().ok
after_bytes = io.open("$OUT/360p/seg_00001.m4s", "rb"):read("*a")
print("requeued segment changed", before_bytes ~= after_bytes)
LUA
rc=$?
set -e
cat "$WORK/o" "$WORK/e"
read -r _ p1 p2 < <(grep "^paused" "$WORK/o")
check "no progress while paused ($p1 -> $p2)" test "${p1:-x}" = "${p2:-y}"
check "progress after resume" grep -qx "resumed	true" "$WORK/o"
check "chunks, devices and leases answer" grep -qx 'true	true	"table"' "$WORK/o"
check "requeue of a chunk that does not exist is a message" grep -q "^bad requeue	nil	" "$WORK/o"
check "the requeued segment changed" grep -qx "requeued segment changed	true" "$WORK/o"
cat "$OUT/360p/init.mp4" "$OUT"/360p/seg_*.m4s >"$WORK/all.mp4"
check "the rendition with the requeued segment decodes (300 frames)" \
  test "$(dav1d_frames "$WORK/all.mp4")" = 300
check "the job ended well (rc $rc)" test "$rc" -eq 0
finish

#!/usr/bin/env bash
# Live control of a job from the REPL (piped input: the code paths of the terminal without
# the terminal, which tests/e2e/test_repl_tty.sh drives):
#   1. SVT-AV1: pause stops progress and resume restores it (checked before and after);
#      chunks/devices/leases answer; run:requeue of a finished segment while paused puts it
#      back in the queue, and after resume it is encoded again: the file under the same name
#      is replaced (a new inode: written to a temp name and renamed), its report record says
#      requeued with a second attempt, and the rendition still validates and decodes frame
#      for frame (cmafeng validate --decode, the dav1d CLI). A requeue of a segment that does
#      not exist, of one not done, twice, or after the job ended: a message, the prompt back.
#      run:set on an SVT-AV1 rung: an error naming the backend and why.
#   2. libaom (a lavc backend, encoders may open mid-job): run:set{crf=} changes the crf of
#      the chunks claimed afterwards (the chunk table says so, and their segments shrink);
#      out-of-range and unknown settings are errors.
#   3. libaom: run:set{crf = 1} then run:requeue of segment 1: it grows, report.json has
#      its new size, and the HLS BANDWIDTH (peak) and the MPD written at the end are those of
#      the files as they lie.
#   4. A requeue on a rung that has drained its encoder instances: refused, with the reason.
source "$(dirname "$0")/lib.sh"

export CMAFENG_HISTORY=
SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=8,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SRC"

# 1. SVT-AV1: pause, resume, requeue.
OUT=$WORK/out
set +e
"$CMAFENG" repl >"$WORK/o" 2>"$WORK/e" <<LUA
run = cme.start{ source = "$SRC", output = "$OUT", workers = 1, segment_seconds = 1,
  video = { ladder = { { width = 320, height = 180, preset = 10 } } } }
function segs() run:poll(0) return run:status().segments_done end
function sleep(s) local t = os.time() + s while os.time() < t do run:poll(100) end end
function inode(p) local f = io.popen("stat -c %i " .. p) local v = f:read("*l") f:close() return v end
while segs() < 2 do run:poll(50) end
function enc() run:poll(0) return run.engine:stats().rungs[1].frames_encoded end
assert(run:pause())
-- The chunk being encoded finishes: wait until no packet has come for a second.
last, t = -1, os.time() + 60
while os.time() < t do local e = enc() if e == last then break end last = e sleep(1) end
before = segs()
sleep(2)
print("paused", before, segs())
print("tables", #run:chunks{ state = "done" } >= 2, #run:devices() >= 1, type(run:leases()))
SEG = "$OUT/180p/seg_00001.m4s"
old_bytes, old_inode = io.open(SEG, "rb"):read("*a"), inode(SEG)
print("requeue", run:requeue("180p", 1))
q = run:queue(1)[1]
print("queued", q.index, q.requeues, q.state)
print("requeue 2", run:requeue(1, 2)) -- starts after 0: the source is seeked
print("twice", pcall(run.requeue, run, 1, 1))
print("missing", pcall(run.requeue, run, 1, 999))
qs = run:queue(1)
print("not done", pcall(run.requeue, run, 1, qs[#qs].index))
print("set svt", pcall(run.set, run, 1, { crf = 40 }))
run:requeue(1, 999)
print("prompt back")
assert(run:resume())
enc_before, t = enc(), os.time() + 60
while enc() <= enc_before and os.time() < t do run:poll(100) end
print("resumed", enc() > enc_before)
report = run:wait()
print("ok", report.ok)
new_bytes, new_inode = io.open(SEG, "rb"):read("*a"), inode(SEG)
print("replaced", new_inode ~= old_inode, #new_bytes > 0)
for _, s in ipairs(report.segments) do
  if s.index == 1 then print("record", s.requeued, s.attempts, s.bytes == #new_bytes) end
  if s.index == 2 then print("record 2", s.requeued, s.attempts, s.frames, s.start) end
end
print("after the end", pcall(run.requeue, run, 1, 2))
LUA
rc=$?
set -e
cat "$WORK/o" "$WORK/e"
read -r _ p1 p2 < <(grep "^paused" "$WORK/o")
check "no progress while paused ($p1 -> $p2)" test "${p1:-x}" = "${p2:-y}"
check "progress after resume (packets come again)" grep -qx "resumed	true" "$WORK/o"
check "chunks, devices and leases answer" grep -qx 'tables	true	true	table' "$WORK/o"
check "requeue of a done segment returns true" grep -qx "requeue	true" "$WORK/o"
check "requeue of a second one returns true" grep -qx "requeue 2	true" "$WORK/o"
check "the requeued chunk heads the queue" grep -qx 'queued	1	1	queued' "$WORK/o"
check "a notice says it was requeued" grep -q '^\[run 1\] requeued 180p segment 1' "$WORK/o"
check "a second requeue while it is queued is a message" \
  grep -q "^twice	false	run:requeue: 180p: segment 1 is queued: only a finished segment" "$WORK/o"
check "requeue of a chunk that does not exist is a message" \
  grep -q "^missing	false	run:requeue: 180p: segment 999: no such segment" "$WORK/o"
check "requeue of a chunk not done is a message" \
  grep -q "^not done	false	run:requeue: 180p: segment [2-9] is queued: only a finished" "$WORK/o"
check "run:set on an SVT-AV1 rung names the backend and why" \
  grep -q "^set svt	false	run:set: 180p: cpu (backend svt) cannot change crf or preset mid-job: SVT-AV1 1.4.1" "$WORK/o"
check "a failed statement prints its message on stderr" \
  grep -q "run:requeue: 180p: segment 999: no such segment" "$WORK/e"
check "and the prompt comes back" grep -qx "prompt back" "$WORK/o"
check "the job ended well" grep -qx "ok	true" "$WORK/o"
check "the segment was replaced under its name (new inode)" grep -qx "replaced	true	true" "$WORK/o"
check "report.json: the record is the new segment's (requeued, attempt 2)" \
  grep -qx "record	true	2	true" "$WORK/o"
check "segment 2 too (decoded again from a seek): 25 frames from 1 s" \
  grep -qx "record 2	true	2	25	1" "$WORK/o"
check "report.json on disk says requeued" grep -q '"requeued": *true' "$OUT/report.json"
check "requeue after the end names why" \
  grep -q "^after the end	false	run:requeue: run 1 has finished (done): its encoder instances are closed" "$WORK/o"
check "piped input with a failed statement exits 1 (got $rc)" test "$rc" -eq 1
check "no temporary file is left" test -z "$(find "$OUT" -name '*.tmp*')"
validate_decode "$OUT"
cat "$OUT/180p/init.mp4" "$OUT"/180p/seg_*.m4s >"$WORK/all.mp4"
check "dav1d decodes the rendition with the requeued segment (200 frames)" \
  test "$(dav1d_frames "$WORK/all.mp4")" = 200

# 2. libaom: run:set changes the crf of the chunks claimed afterwards.
OUT2=$WORK/out2
set +e
"$CMAFENG" repl >"$WORK/o2" 2>"$WORK/e2" <<LUA
crf, bytes = {}, {}
run = cme.start{ source = "$SRC", output = "$OUT2", segment_seconds = 1,
  devices = { { backend = "aom", id = "aom", sessions = 1, threads = 1 } },
  video = { ladder = { { width = 160, height = 90, crf = 20, preset = 8 } } },
  on_segment = function(ev)
    crf[ev.index] = run:chunks{ rung = 1 }[ev.index].crf
    bytes[ev.index] = ev.bytes
  end }
while run:status().segments_done < 1 do run:poll(50) end
print("set", run:set("90p", { crf = 63 }))
print("bad crf", pcall(run.set, run, 1, { crf = 99 }))
print("bad preset", pcall(run.set, run, 1, { preset = 12 }))
print("unknown", pcall(run.set, run, 1, { qp = 3 }))
print("ok", run:wait().ok)
print("first", crf[1], "last", crf[8], "smaller", bytes[8] * 3 < bytes[1])
LUA
rc=$?
set -e
cat "$WORK/o2" "$WORK/e2"
check "run:set on a libaom rung returns true" grep -qx "set	true" "$WORK/o2"
check "crf out of range is an error" \
  grep -q "^bad crf	false	run:set: 90p: crf: expected 1..63, got 99" "$WORK/o2"
check "a preset out of the backend's range is an error naming it" \
  grep -q "^bad preset	false	run:set: 90p: aom: .*preset 12 is out of range for libaom-av1" "$WORK/o2"
check "an unknown setting is an error" \
  grep -q "^unknown	false	run:set: unknown setting qp (crf, preset)" "$WORK/o2"
check "the job ended well (rc $rc)" test "$rc" -eq 0
check "the first chunk kept crf 20, the last used crf 63, and its segment is smaller" \
  grep -qx "first	20	last	63	smaller	true" "$WORK/o2"
validate_decode "$OUT2"

# 3. libaom: a requeue after run:set{crf=} re-encodes segment 1 at the new crf; the
# manifests written at the end carry its size (its bit rate is the rendition's peak).
OUT3=$WORK/out3
set +e
"$CMAFENG" repl >"$WORK/o3" 2>"$WORK/e3" <<LUA
run = cme.start{ source = "$SRC", output = "$OUT3", segment_seconds = 1,
  devices = { { backend = "aom", id = "aom", sessions = 1, threads = 1 } },
  video = { ladder = { { width = 160, height = 90, crf = 63, preset = 8 } } } }
while (run:chunks{ rung = 1 }[1] or {}).state ~= "done" do run:poll(50) end
old = run:chunks{ rung = 1 }[1].bytes
print("set", run:set(1, { crf = 1 }), "requeue", run:requeue(1, 1))
report = run:wait()
for _, s in ipairs(report.segments) do
  if s.index == 1 then print("seg1", s.requeued, s.bytes > 3 * old, s.bytes, s.duration) end
end
LUA
rc=$?
set -e
cat "$WORK/o3" "$WORK/e3"
check "run:set then run:requeue on libaom" grep -qx "set	true	requeue	true" "$WORK/o3"
check "segment 1 was encoded again at crf 1 (more than 3x the bytes)" \
  grep -q "^seg1	true	true	" "$WORK/o3"
check "the job ended well (rc $rc)" test "$rc" -eq 0
read -r _ _ _ b1 _ < <(grep "^seg1" "$WORK/o3")
check "report.json's size of segment 1 is the file's" \
  test "${b1:-0}" -eq "$(stat -c %s "$OUT3/90p/seg_00001.m4s")"
# Every segment lasts 1 s: the peak is the largest file's size in bits.
peak=$(stat -c %s "$OUT3"/90p/seg_*.m4s | sort -n | tail -1)
peak=$((peak * 8))
bw=$(grep -o 'BANDWIDTH=[0-9]*' "$OUT3/master.m3u8" | head -1 | cut -d= -f2)
check "master.m3u8 BANDWIDTH ($bw) is the peak of the files as they are ($peak)" \
  test "${bw:-0}" -eq "$peak"
check "the MPD lists the rendition at that bandwidth too" \
  grep -q "bandwidth=\"$bw\"" "$OUT3/manifest.mpd"
validate_decode "$OUT3"

# 4. A rung that wrote its last segment has drained and closed its encoder instances (the
# second worker drains the small rung while the first still encodes the big one): its
# requeue is refused with that reason, the job goes on and ends well.
set +e
"$CMAFENG" repl >"$WORK/o4" 2>"$WORK/e4" <<LUA
run = cme.start{ source = "$SRC", output = "$WORK/out4", segment_seconds = 1, workers = 2,
  video = { ladder = { { width = 320, height = 180, preset = 8 },
                       { width = 160, height = 90, preset = 12 } } } }
while run.state == "running" and run.engine:stats().rungs[2].instances > 0 do run:poll(20) end run:pause()
print("state", run.state, run.engine:stats().rungs[2].instances)
print("drained", pcall(run.requeue, run, "90p", 1))
run:resume()
print("ok", run:wait().ok)
LUA
rc=$?
set -e
cat "$WORK/o4" "$WORK/e4"
check "the small rung drained while the job ran" grep -qx "state	running	0" "$WORK/o4"
check "a requeue on a drained rung says why not" \
  grep -q "^drained	false	run:requeue: 90p: segment 1: no encoder instance of the rung is left" "$WORK/o4"
check "the job still ends well (rc $rc)" grep -qx "ok	true" "$WORK/o4"
finish

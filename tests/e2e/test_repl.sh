#!/usr/bin/env bash
# The REPL with piped input (no terminal): the evaluator, live jobs started with cme.start
# and pumped while input is read, methods on a finished job, run:set refused on SVT-AV1,
# cme.av1.parse on an init segment and a media segment, quitting with a job still
# running (exit 130, finished segments kept), `run --repl` and `run --repl-on-error`.
# Requeue and run:set on live jobs: tests/e2e/test_repl_control.sh.
# The terminal (line editing, completion, Ctrl-C) is tests/e2e/test_repl_tty.sh.
source "$(dirname "$0")/lib.sh"

export CMAFENG_HISTORY= # no history file from piped sessions
SMALL=$WORK/small.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4" -c:v libx264 -preset ultrafast \
  -pix_fmt yuv420p "$SMALL"
SLOW=$WORK/slow.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=20,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SLOW"

# 1. The evaluator: locals persist, expressions print, errors go to stderr with a traceback.
set +e
"$CMAFENG" repl >"$WORK/o1" 2>"$WORK/e1" <<'LUA'
local x = 40
x + 2
function twice(n)
  return n * 2
end
twice(x)
error("boom")
=nil
LUA
rc=$?
set -e
check "evaluator output (got: $(tr '\n' '|' <"$WORK/o1"))" \
  test "$(cat "$WORK/o1")" = "$(printf '42\n80\nnil')"
check "the error is on stderr with a traceback" \
  grep -qx "stdin:1: boom" "$WORK/e1"
check "the traceback ends at the user's chunk" \
  test "$(tail -n 1 "$WORK/e1")" = "$(printf '\tstdin:1: in main chunk')"
check "piped input with an error exits 1 (got $rc)" test "$rc" -eq 1

# 2. A live job: started at once, pumped until done; methods on the finished job.
OUT=$WORK/out
set +e
"$CMAFENG" repl >"$WORK/o2" 2>"$WORK/e2" <<LUA
run = cme.start{ source = "$SMALL", output = "$OUT", workers = 1,
  video = { ladder = { { width = 320, height = 180, preset = 12 } } } }
run:status().state
report = run:wait()
report.ok, #report.segments
run:status().state, run:rungs()[1].segments_done, run:rungs()[1].codecs
run:cancel()
cme.av1.parse("$OUT/180p/init.mp4").max_frame_width_minus_1
cme.av1.parse("$OUT/180p/seg_00001.m4s").color_config.bit_depth
cme.inspect("$OUT/180p/seg_00002.m4s").frames
run2 = cme.start{ source = "$SMALL", output = "$OUT/2", workers = 1,
  video = { ladder = { { width = 320, height = 180, preset = 12 } } } }
run2:pause()
run2:status().state, #run2:devices(), run2:devices()[1].id
run2:resume()
#run2:chunks{ rung = "180p" } >= 0
run2:set("180p", { crf = 30 })
run2:requeue("nope", 1)
run2:wait() ~= nil
-- two jobs at once
a = cme.start{ source = "$SMALL", output = "$OUT/a", workers = 1,
  video = { ladder = { { width = 320, height = 180, preset = 12 } } } }
b = cme.start{ source = "$SMALL", output = "$OUT/b", workers = 1,
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
#runs(), a:status().state, b:status().state
a:wait().ok and b:wait().ok and "both done"
run
LUA
rc=$?
set -e
cat "$WORK/o2" "$WORK/e2"
check "cme.start returns a running job" grep -qx '"running"' "$WORK/o2"
check "run:wait() returns the report" grep -qx "true	2" "$WORK/o2"
check "status and rungs after the end" grep -qx '"done"	2	"av01.0.00M.08"' "$WORK/o2"
check "a notice says the job is done" grep -q "^\[run 1\] done in" "$WORK/o2"
check "the job wrote its manifests" test -s "$OUT/master.m3u8"
check "run:cancel() on a finished job is a message" \
  grep -q "run:cancel: run 1 has finished (done)" "$WORK/e2"
check "cme.av1.parse reads an init segment" grep -qx "319" "$WORK/o2"
check "cme.av1.parse reads a media segment" grep -qx "8" "$WORK/o2"
check "cme.inspect reads a segment" grep -qx "50" "$WORK/o2"
check "pause, devices and resume reach the engine" grep -qx '"running"	1	"cpu"' "$WORK/o2"
check "the chunk table is readable" grep -qx 'true' "$WORK/o2"
check "run:set on an SVT-AV1 rung says why it cannot" \
  grep -q "run:set: 180p: cpu (backend svt) cannot change crf or preset mid-job" "$WORK/e2"
check "a rung that does not exist is a message" grep -q 'run:requeue: no rung nope' "$WORK/e2"
check "the second job still ran to its end" grep -qx "true" "$WORK/o2"
check "two jobs run at once" grep -qx '4	"running"	"running"' "$WORK/o2"
check "both finish" grep -qx '"both done"' "$WORK/o2"
check "a run prints as one line" grep -q "^<run 1: done " "$WORK/o2"
check "exit status 1 after errors in piped input (got $rc)" test "$rc" -eq 1

# 3. End of input with a job running: it is canceled cleanly, exit 130.
OUT3=$WORK/out3
set +e
"$CMAFENG" repl >"$WORK/o3" 2>"$WORK/e3" <<LUA
run = cme.start{ source = "$SLOW", output = "$OUT3", workers = 1, segment_seconds = 1,
  video = { ladder = { { width = 640, height = 360, preset = 8 } } } }
while run:status().segments_done < 1 do run:poll(100) end
run:status().state
LUA
rc=$?
set -e
cat "$WORK/o3" "$WORK/e3"
check "quitting with a running job exits 130 (got $rc)" test "$rc" -eq 130
check "stderr says the job is canceled" grep -q "canceling run 1" "$WORK/e3"
check "the job was running when input ended" grep -qx '"running"' "$WORK/o3"
check "finished segments are kept" test -s "$OUT3/360p/seg_00001.m4s"
check "no temporary file is left" test -z "$(find "$OUT3" -name '*.tmp*')"
check "the job stopped early" test "$(ls "$OUT3"/360p/seg_*.m4s | wc -l)" -lt 20

# exit() with a job running: the same.
set +e
"$CMAFENG" repl >"$WORK/o3b" 2>"$WORK/e3b" <<LUA
run = cme.start{ source = "$SLOW", output = "$WORK/out3b", workers = 1,
  video = { ladder = { { width = 640, height = 360, preset = 8 } } } }
exit(0)
print("not reached")
LUA
rc=$?
set -e
check "exit() with a running job exits 130 (got $rc)" test "$rc" -eq 130
check "exit() canceled the job" grep -q "canceling run 1" "$WORK/e3b"
check "nothing runs after exit()" test "$(grep -c "not reached" "$WORK/o3b")" -eq 0
check "one notice says the job was canceled" \
  test "$(grep -c '^\[run 1\] canceled; the segments it finished are kept' "$WORK/o3b")" -eq 1

# SIGINT stops a script in an endless loop: the statement is interrupted, nothing after it
# runs, the job it started is canceled, exit 130. (ThreadSanitizer delivers a signal only
# when the program enters libc: under TSan the loop calls os.time().)
LOOP="while true do end"
grep -qa __tsan_init "$CMAFENG" && LOOP="while true do os.time() end"
"$CMAFENG" repl >"$WORK/o3c" 2>"$WORK/e3c" <<LUA &
run = cme.start{ source = "$SLOW", output = "$WORK/out3c", workers = 1,
  video = { ladder = { { width = 640, height = 360, preset = 8 } } } }
io.open("$WORK/looping", "w"):close()
$LOOP
print("not reached")
LUA
interrupt_when "$WORK/looping" $!
check "SIGINT in a piped script's endless loop exits 130 (got $rc)" test "$rc" -eq 130
check "the loop was interrupted" grep -qx "interrupted" "$WORK/e3c"
check "the script stopped there" test "$(grep -c "not reached" "$WORK/o3c")" -eq 0
check "its job was canceled" grep -q "canceling run 1" "$WORK/e3c"

# 4. run --repl: the job is `run`; it ends while the REPL is open.
cat >"$WORK/r.lua" <<'LUA'
return { source = arg[1], output = arg[2], workers = 1,
  video = { ladder = { { width = 320, height = 180, preset = 12 } } } }
LUA
set +e
"$CMAFENG" run --repl "$WORK/r.lua" -- "$SMALL" "$WORK/out4" >"$WORK/o4" 2>"$WORK/e4" <<'LUA'
run:wait().ok
job.output
LUA
rc=$?
set -e
cat "$WORK/o4" "$WORK/e4"
check "run --repl: the job is in run" grep -qx "true" "$WORK/o4"
check "run --repl: the job table is in job" grep -qx "\"$WORK/out4\"" "$WORK/o4"
check "run --repl exits with the job's status (got $rc)" test "$rc" -eq 0

# 5. run --repl-on-error: a hook aborts the job; the REPL opens with the event in ev.
cat >"$WORK/abort.lua" <<'LUA'
return { source = arg[1], output = arg[2], workers = 1,
  video = { ladder = { { width = 320, height = 180, preset = 12 } } },
  on_segment = function(ev) return "abort" end }
LUA
set +e
"$CMAFENG" run --repl-on-error "$WORK/abort.lua" -- "$SMALL" "$WORK/out5" \
  >"$WORK/o5" 2>"$WORK/e5" <<'LUA'
ev.type
ev.message
run:status().state
LUA
rc=$?
set -e
cat "$WORK/o5" "$WORK/e5"
check "repl-on-error: ev is the failing event" grep -qx '"failed"' "$WORK/o5"
check "repl-on-error: its message names the hook" grep -q "aborted by the recipe's segment hook" "$WORK/o5"
check "repl-on-error: run is the job" grep -qx '"running"' "$WORK/o5"
check "repl-on-error: the job still fails afterwards (got $rc)" test "$rc" -eq 1

finish

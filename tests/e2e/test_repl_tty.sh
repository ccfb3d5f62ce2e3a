#!/usr/bin/env bash
# The REPL on a terminal, driven through tmux (send-keys, capture-pane): cursor movement,
# history (within a session, across sessions through the history file, Ctrl-R), Tab
# completion of fields and methods, multi-line input, Ctrl-C in `while true do end`, in
# run:wait() and at the prompt, the status line of a running job, pause + requeue of a
# finished segment + resume (it is written again), and Ctrl-D with a job
# running (canceled cleanly, exit 130).
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "FATAL: tmux is required (make deps installs it)"; exit 1; }

SLOW=$WORK/slow.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=20,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SLOW"

CMAFENG=$(cd "$(dirname "$CMAFENG")" && pwd)/$(basename "$CMAFENG") # the pane starts in $WORK
SOCK=cme-repl-$$
T=
cleanup() {
  for s in s1 s2; do tmux -L "$SOCK-$s" kill-server 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_STATE_HOME=$WORK/state
unset CMAFENG_HISTORY

start_repl() { # start_repl NAME: a fresh REPL in a 100x40 pane; its exit status goes to NAME.rc
  [ -n "$T" ] && { $T kill-server 2>/dev/null || true; }
  T="tmux -L $SOCK-$1" # a server per session: a server being killed cannot take the new one
  $T -f /dev/null new-session -d -s repl -x 100 -y 40 \
    "cd '$WORK' && XDG_STATE_HOME='$XDG_STATE_HOME' TERM=tmux-256color '$CMAFENG' repl; echo \$? >'$WORK/$1.rc'; sleep 60"
  wait_for "Ctrl-D quits"
}
screen() { $T capture-pane -p -J -t repl -S -200; }
# wait_for REGEX [SECONDS]: until the pane shows a line matching REGEX (grep -E).
wait_for() {
  local i
  for i in $(seq 1 $((${2:-10} * 10))); do
    screen | grep -qE -- "$1" && return 0
    sleep 0.1
  done
  echo "  timed out waiting for /$1/; the pane shows:"
  screen | sed 's/^/  | /'
  return 1
}
count() { screen | grep -cE -- "$1" || true; }
# wait_count REGEX N: until N lines of the pane match REGEX.
wait_count() {
  local i
  for i in $(seq 1 100); do
    [ "$(count "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "  timed out waiting for $2 lines matching /$1/"
  return 1
}
# type_line TEXT: types TEXT literally (so "end" is not the End key) and presses Enter.
type_line() { $T send-keys -t repl -l "$1"; $T send-keys -t repl Enter; }
keys() { $T send-keys -t repl "$@"; }

start_repl s1
type_line "local x = 40"
type_line "x + 2"
check "a local persists and the expression prints" wait_for "^42$"

# Cursor movement: "0 + x", five times Left, "1" -> "10 + x".
keys -l "0 + x"; keys Left Left Left Left Left; keys -l "1"; keys Enter
check "Left moves the cursor (10 + x = 50)" wait_for "^50$"

# History: Up twice recalls "x + 2".
sleep 0.2
keys Up Up; sleep 0.2; keys Enter
check "Up recalls earlier lines: the recalled line ran again (42 twice)" wait_count '^42$' 2

# Completion: a field, then the listing of a table's fields, then a method.
keys -l "cme.ver"; keys Tab; sleep 0.3; keys -l "()"; keys Enter
check "Tab completes cme.ver to cme.version" wait_for '^"0\.1\.0"$'
keys -l "cme."; keys Tab; sleep 0.3
check "Tab lists the fields of cme" wait_for "inspect +probe +run +start +version"
keys C-u
type_line 'r = cme.start{ source = "'"$SLOW"'", output = "'"$WORK"'/out", workers = 1, segment_seconds = 1, video = { ladder = { { width = 640, height = 360, preset = 8 } } } }'
sleep 0.3
keys -l "r:sta"; keys Tab; sleep 0.3; keys -l ").state"; keys Enter
check "Tab completes a method of a running job (r:status()" wait_for '^"running"$'

# The status line shows the running job in the prompt.
type_line "statusline()"
check "the status line shows the running job" wait_for '^\[run 1 running [0-9?]+/[0-9?]+ seg'
type_line "statusline()"

# Ctrl-C in run:wait() returns to the prompt; the job keeps running.
type_line "r:wait()"
sleep 1
keys C-c
check "Ctrl-C interrupts run:wait()" wait_for "interrupted"
type_line "r:status().state"
check "the job still runs after the interrupted wait" wait_count '^"running"$' 2

# Requeue by hand: pause, requeue segment 1 (done by then), resume; a notice says so, the
# chunk table counts the requeue, and the segment is written again under its name (a new
# inode: a temp file renamed over the old one) by a second attempt.
type_line "while r:status().segments_done < 1 do r:poll(100) end print('seg1-' .. 'done')"
check "segment 1 is done" wait_for "^seg1-done$" 60
INODE=$(stat -c %i "$WORK/out/360p/seg_00001.m4s")
type_line "r:pause()"
type_line "r:requeue('360p', 1)"
check "run:requeue prints a notice" wait_for "requeued 360p segment 1"
type_line "'requeues=' .. r:chunks{ rung = 1 }[1].requeues"
check "the chunk table counts the requeue" wait_for '^"requeues=1"$'
type_line "r:requeue(1, 999)"
check "a requeue of a segment that does not exist is a message" \
  wait_for "segment 999: no such segment"
type_line "r:resume()"
type_line "while r:chunks{ rung = 1 }[1].state ~= 'done' do r:poll(100) end print('attempts-' .. r:chunks{ rung = 1 }[1].attempts)"
check "the requeued segment is encoded again (attempt 2)" wait_for "^attempts-2$" 60
check "the segment file was replaced under its name" \
  test "$(stat -c %i "$WORK/out/360p/seg_00001.m4s")" != "$INODE"

# Multi-line input with the continuation prompt.
type_line "function twice(n)"
check "an open function asks for more (>>)" wait_for "^>> ?$"
type_line "  return n * 2"
type_line "end"
type_line "twice(21)"
check "the multi-line function works (42 three times)" wait_count '^42$' 3

# Ctrl-C in an endless loop. ThreadSanitizer (make tsan) defers a signal until the program
# next enters libc, which `while true do end` never does; under TSan the loop calls os.time()
# so the signal arrives, and the plain build tests the empty loop itself.
LOOP="while true do end"
if grep -qa __tsan_init "$CMAFENG"; then
  LOOP="while true do os.time() end"
  echo "# ThreadSanitizer build: the endless loop calls os.time() (signals wait for libc)"
fi
type_line "$LOOP"
sleep 1
keys C-c
check "Ctrl-C interrupts while true do end" wait_count "interrupted" 2
type_line "1 + 1"
check "the prompt is back after the interrupt" wait_for "^2$"

# Ctrl-C at the prompt clears the line.
keys -l "this would be a syntax error"; sleep 0.2; keys C-c; sleep 0.2
type_line "3 + 4"
check "Ctrl-C clears the line" wait_for "^7$"
check "(the cleared line never ran)" test "$(count "syntax error near|unexpected symbol")" -eq 0

# Ctrl-R: reverse search for "twice".
keys C-r; keys -l "twice"; sleep 0.3; keys Enter; sleep 0.3; keys Enter
check "Ctrl-R finds twice(21) in the history (42 four times)" wait_count '^42$' 4

# Ctrl-D with the job still running: canceled cleanly, exit 130.
keys C-d
check "Ctrl-D cancels the running job" wait_for "canceling run 1" 20
for _ in $(seq 1 300); do [ -s "$WORK/s1.rc" ] && break; sleep 0.1; done
check "the REPL exits 130 after canceling a job (got $(cat "$WORK/s1.rc" 2>/dev/null))" \
  test "$(cat "$WORK/s1.rc" 2>/dev/null)" = 130
check "no temporary file is left" test -z "$(find "$WORK/out" -name '*.tmp*')"
check "the history file was written" grep -q "twice(21)" "$XDG_STATE_HOME/cmafeng/repl_history"

# A new session recalls the last one's history; Ctrl-D on an idle REPL exits 0.
start_repl s2
keys Up; sleep 0.3
check "history is kept across sessions" wait_for "^> 3 \+ 4$|^> twice\(21\)$"
keys C-u; keys C-d
for _ in $(seq 1 100); do [ -s "$WORK/s2.rc" ] && break; sleep 0.1; done
check "Ctrl-D on an idle REPL exits 0" test "$(cat "$WORK/s2.rc" 2>/dev/null)" = 0

finish

#!/usr/bin/env bash
# Discovered devices in the lease pool, on this GPU-less machine: devices = "auto" finds no
# hardware AV1 encoder, says why for every backend on stderr and encodes on the CPU (the plan
# event's pool device "cpu", svt, `workers` sessions); a hardware backend named without an id
# resolves through discovery too, and with nothing discovered fails naming the backend's
# answer ("no nvenc device: ..."), or is skipped with a warning when optional. `cmafeng
# devices` shows what "auto" resolves to and the lease pool; in the REPL, cme.devices() shows
# the devices a job registered, with their session caps.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x90:r=25:d=2" -c:v libx264 -preset ultrafast \
  -pix_fmt yuv420p "$SRC"
cat >"$WORK/auto.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, devices = "auto", workers = 3,
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/auto.lua" --events "$WORK/events.jsonl" -- "$SRC" "$OUT" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "devices = \"auto\": cmafeng run exits 0"; finish; exit 1; }
ok "devices = \"auto\": cmafeng run exits 0"
cat "$WORK/stderr" | head -n 1
check "stderr says no hardware AV1 encoder was found and the job runs on the CPU" \
  grep -q '^cmafeng: warning: devices = "auto": no hardware AV1 encoder here (.*); encoding on the CPU (SVT-AV1, 3 sessions)$' "$WORK/stderr"
for b in nvenc qsv vaapi amf; do
  check "the reason names $b's own answer" grep -q "no $b device: " "$WORK/stderr"
done
check "the NVENC reason is the loader's (libcuda not found)" \
  grep -q 'no nvenc device: no NVENC device: libcuda not found' "$WORK/stderr"
check "the plan's pool device is the CPU: cpu, svt, 3 sessions" \
  has_event "$WORK/events.jsonl" plan '"devices":\[{"backend":"svt","id":"cpu",' '"sessions":3,'
check "the segments were encoded on cpu" \
  test "$(grep '"type":"segment"' "$WORK/events.jsonl" | grep -c '"device":"cpu"')" -eq 2
check_output "$OUT"

# A hardware backend without an id: every device of it that discovery finds; none here.
cat >"$WORK/nvenc.lua" <<'LUA'
return { source = arg[1], output = arg[2], devices = { { backend = "nvenc" } },
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
LUA
rc=0
"$CMAFENG" run "$WORK/nvenc.lua" -- "$SRC" "$WORK/nv" 2>"$WORK/stderr_nv" || rc=$?
check "{ backend = \"nvenc\" } with no NVENC device exits 2 (got $rc)" test "$rc" -eq 2
check "and says why ($(head -n 1 "$WORK/stderr_nv"))" \
  grep -q '^cmafeng: devices\[1\] (nvenc:0): no nvenc device: no NVENC device: libcuda not found$' "$WORK/stderr_nv"
cat >"$WORK/optional.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1,
  devices = { { backend = "vaapi", optional = true }, { backend = "svt", id = "cpu", sessions = 2 } },
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
LUA
"$CMAFENG" run "$WORK/optional.lua" -- "$SRC" "$WORK/opt" 2>"$WORK/stderr_opt" ||
  { cat "$WORK/stderr_opt"; not_ok "an optional vaapi device: cmafeng run exits 0"; }
check "an optional vaapi device with nothing discovered is skipped with the reason" \
  grep -q '^cmafeng: warning: devices\[1\] (vaapi:0): skipped: no vaapi device: no VA-API device: ' "$WORK/stderr_opt"

# cmafeng devices: what "auto" resolves to, and the (empty) pool of a fresh process.
"$CMAFENG" devices >"$WORK/devices.txt"
check "cmafeng devices: devices = \"auto\" falls back to the CPU, with the reason" \
  grep -Pzq 'devices = "auto":\n  the CPU \(SVT-AV1, `workers` sessions\): no nvenc device: ' "$WORK/devices.txt"
check "cmafeng devices: the lease pool of this process is empty" \
  grep -Pzq 'Lease pool \(this process\):\n  empty' "$WORK/devices.txt"
check "cmafeng devices: av1_nvenc is not in this FFmpeg build (needs FFmpeg >= 6.0)" \
  grep -q '^  av1_nvenc: not in this FFmpeg build (libavcodec [0-9.]*; needs FFmpeg >= 6.0)$' "$WORK/devices.txt"
"$CMAFENG" devices --json >"$WORK/devices.json"
check "cmafeng devices --json: auto.reason and pool" \
  grep -q '"auto":{"devices":\[\],"reason":"no nvenc device: ' "$WORK/devices.json"

# The REPL: after a job, the process's pool holds its device with its session cap.
printf 'run = cme.start("%s", { args = { "%s", "%s" } })\nrun:wait()\nfor _, d in ipairs(cme.devices().pool) do print("pool", d.id, d.backend, d.sessions, d.in_use) end\n' \
  "$WORK/auto.lua" "$SRC" "$WORK/repl_out" | "$CMAFENG" repl >"$WORK/repl.out" 2>&1 || true
check "REPL: cme.devices().pool lists the job's device cpu (svt, 3 sessions, none in use now)" \
  grep -Pq '^pool\tcpu\tsvt\t3\t0$' "$WORK/repl.out"

finish

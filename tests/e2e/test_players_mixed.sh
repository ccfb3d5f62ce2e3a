#!/usr/bin/env bash
# Real players on renditions made by two different encoders at once (issue 9): an SVT-AV1
# device and a libaom device serve a 2-rung ladder (1 s segments, so both take chunks of
# both rungs), and the HLS and DASH output is played in headless Chromium by Shaka Player,
# hls.js and dash.js through tests/players/run_players.mjs, as tests/e2e/test_players.sh
# does for the SVT-AV1-only ladder. Each player must play past 3 s with no error, at a
# ladder size, having parsed both renditions.
source "$(dirname "$0")/lib.sh"

PLAYERS=$SRC_DIR/tests/players
CHROMIUM=${CME_CHROMIUM:-/usr/bin/chromium}
for tool in node npm; do
  command -v "$tool" >/dev/null ||
    { echo "FATAL: $tool is required for the player tests (make deps installs nodejs and npm)"; exit 1; }
done
[ -x "$CHROMIUM" ] ||
  { echo "FATAL: $CHROMIUM is required for the player tests (make deps installs Debian's chromium)"; exit 1; }
if [ ! -f "$PLAYERS/node_modules/.package-lock.json" ] ||
  [ "$PLAYERS/package-lock.json" -nt "$PLAYERS/node_modules/.package-lock.json" ]; then
  echo "# npm ci in $PLAYERS"
  (cd "$PLAYERS" && npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) ||
    { cat "$WORK/npm.log"; echo "FATAL: npm ci failed in $PLAYERS"; exit 1; }
fi

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=6,noise=alls=20:allf=t" \
  -c:v libx264 -preset ultrafast -crf 20 -pix_fmt yuv420p "$SRC"
cat >"$WORK/mixed.lua" <<'LUA'
return {
  source = arg[1], output = arg[2], segment_seconds = 1,
  devices = {
    { backend = "svt", id = "svt", sessions = 1, threads = 1 },
    { backend = "aom", id = "aom", sessions = 1, threads = 1 },
  },
  video = { ladder = {
    { width = 640, height = 360, crf = 40, preset = 8 },
    { width = 320, height = 180, crf = 40, preset = 8 },
  } },
}
LUA

# Which device takes which chunk is a race: up to 3 runs until both encoders wrote
# segments of one rendition (each run alone must succeed).
mixed=0
for attempt in 1 2 3; do
  OUT=$WORK/out$attempt
  "$CMAFENG" run "$WORK/mixed.lua" --events "$WORK/ev$attempt.jsonl" -- "$SRC" "$OUT" \
    2>"$WORK/stderr" || { cat "$WORK/stderr"; not_ok "run $attempt exits 0"; finish; exit 1; }
  ok "run $attempt exits 0"
  for r in 360p 180p; do
    n=$(grep '"type":"segment"' "$WORK/ev$attempt.jsonl" | grep "\"rendition\":\"$r\"" |
      grep -o '"device":"[^"]*"' | sort -u | wc -l)
    if [ "$n" -eq 2 ]; then mixed=1; fi
  done
  [ "$mixed" -eq 1 ] && break
done
check "one rendition holds segments of both SVT-AV1 and libaom" test "$mixed" -eq 1
for r in 360p 180p; do
  for dev in svt aom; do
    echo "# $r: $(grep '"type":"segment"' "$WORK/ev$attempt.jsonl" | grep "\"rendition\":\"$r\"" |
      grep -c "\"device\":\"$dev\"" || true) segments from $dev"
  done
done

set +e
node "$PLAYERS/run_players.mjs" --media "$OUT" --sizes 640x360,320x180 \
  --timeout "${CME_PLAYER_TIMEOUT_S:-30}" >"$WORK/players.log" 2>&1
rc=$?
set -e
cat "$WORK/players.log"
while IFS= read -r line; do
  case $line in
    "ok - "*) PASSED=$((PASSED + 1)) ;;
    "not ok - "*) FAILED=$((FAILED + 1)) ;;
  esac
done <"$WORK/players.log"
if [ "$rc" -ne 0 ] && ! grep -q '^not ok - ' "$WORK/players.log"; then
  not_ok "run_players.mjs exits 0 (exit status $rc)"
fi
check "all 4 player runs reported (Shaka HLS + DASH, hls.js, dash.js)" \
  test "$(grep -cE '^(ok|not ok) - (Shaka Player (HLS|DASH)|hls\.js HLS|dash\.js DASH):' "$WORK/players.log")" -eq 4

finish

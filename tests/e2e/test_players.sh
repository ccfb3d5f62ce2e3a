#!/usr/bin/env bash
# Real players (and the DASH on-demand output, ondemand/manifest.mpd, in Shaka Player and
# dash.js): a 6 s 640x360 clip (with a sine audio track and English SubRip subtitles in
# the source, which become a WebVTT rendition: Shaka Player must show the cue) is encoded to a
# 2-rung ladder with 2 s segments, and the HLS and DASH output is played in headless Debian
# Chromium by Shaka Player (HLS and DASH), hls.js (HLS) and dash.js (DASH), driven by
# tests/players/run_players.mjs (playwright-core, a static server on 127.0.0.1). Each player
# must play past 3 s with no player error event, at a ladder size, having parsed both
# renditions. Chromium must play AV1 in MSE; if it cannot, that is a failure, never a skip.
source "$(dirname "$0")/lib.sh"

PLAYERS=$SRC_DIR/tests/players
CHROMIUM=${CME_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] ||
  { echo "FATAL: $CHROMIUM is required for the player tests (make deps installs Debian's chromium)"; exit 1; }

# The players and playwright-core (lib.sh players_modules). The browser is Debian's:
# nothing downloads one.
players_modules

SRC=$WORK/src.mkv
# English subtitles (SubRip) beside the audio: Shaka Player must show their cue.
printf '1\n00:00:00,300 --> 00:00:04,500\nHello from cmafeng\n' >"$WORK/en.srt"
ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=6,noise=alls=20:allf=t" \
  -f lavfi -i "sine=frequency=440:duration=6" -i "$WORK/en.srt" -map 0 -map 1 -map 2 \
  -c:v libx264 -preset ultrafast -crf 20 -pix_fmt yuv420p -c:a aac -c:s srt \
  -metadata:s:s:0 language=eng "$SRC"
OUT=$WORK/out
"$CMAFENG" run "$PLAYERS/players_test.lua" -o "$OUT" -- "$SRC" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"

SIZES=640x360,320x180
check "master.m3u8 lists both ladder sizes" \
  test "$(grep -cE 'RESOLUTION=(640x360|320x180)' "$OUT/master.m3u8")" -eq 2
if grep -q 'TYPE=AUDIO' "$OUT/master.m3u8"; then
  echo "# the output has an audio rendition: the players play it too (the video is muted)"
fi

set +e
node "$PLAYERS/run_players.mjs" --media "$OUT" --sizes "$SIZES" --cue "Hello from cmafeng" --ondemand \
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
# The runner exits non-zero on any failed check; if it died before printing one, say so.
if [ "$rc" -ne 0 ] && ! grep -q '^not ok - ' "$WORK/players.log"; then
  not_ok "run_players.mjs exits 0 (exit status $rc)"
fi
check "all 6 player runs reported (Shaka HLS + DASH + DASH on demand, hls.js, dash.js DASH + DASH on demand)" \
  test "$(grep -cE '^(ok|not ok) - (Shaka Player (HLS|DASH|DASH on demand)|hls\.js HLS|dash\.js (DASH|DASH on demand)):' "$WORK/players.log")" -eq 6

check_output "$OUT"

finish

#!/usr/bin/env bash
# examples/embed.c (built as the CMake target `embed`) on a source with audio and subtitles:
# the audio events (rung -1) are printed as "audio" and the subtitle segments as "subs", never as a ladder rung read out of bounds, and the
# output it leaves validates and decodes (validate --decode).
source "$(dirname "$0")/lib.sh"
EMBED=$(dirname "$CMAFENG")/examples/embed
[ -x "$EMBED" ] || { not_ok "the embed example is built ($EMBED)"; finish; exit 1; }

SRC=$WORK/src.mkv
printf '1\n00:00:00,500 --> 00:00:02,000\nHello\n' >"$WORK/en.srt"
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4" -f lavfi -i "sine=d=4" \
  -i "$WORK/en.srt" -map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
  -c:a aac -c:s srt "$SRC"
"$EMBED" "$SRC" "$WORK/out" 12 >"$WORK/embed.out" 2>"$WORK/embed.err" ||
  { cat "$WORK/embed.out" "$WORK/embed.err"; not_ok "embed exits 0"; finish; exit 1; }
ok "embed exits 0"
check "the audio init event is named audio, with its codecs" \
  grep -q '^audio: init.mp4 written, codecs=mp4a\.40\.2$' "$WORK/embed.out"
check "two audio segment events are named audio" \
  test "$(grep -c '^audio: segment [12],' "$WORK/embed.out")" -eq 2
check "the subtitle rendition's two segment events are named subs" \
  test "$(grep -c '^subs: segment [12],' "$WORK/embed.out")" -eq 2
check "every event line names a rendition of the job" \
  test -z "$(grep -v '^\.\.\. ' "$WORK/embed.out" | grep -Ev '^(720p|360p|audio|subs): ')"
check "both rungs wrote their segments" \
  test "$(grep -c '^720p: segment' "$WORK/embed.out")" -eq 2 -a "$(grep -c '^360p: segment' "$WORK/embed.out")" -eq 2
check_output "$WORK/out"

finish

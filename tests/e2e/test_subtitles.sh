#!/usr/bin/env bash
# Subtitles: SubRip (English) and ASS (French) streams of a Matroska source, and a mov_text
# stream of an MP4 source, become WebVTT renditions: an HLS SUBTITLES group (one EXT-X-MEDIA
# per stream with LANGUAGE; SUBTITLES="subs" on each variant) whose media playlists list one
# .vtt per video segment with X-TIMESTAMP-MAP and the cues of that span, and a DASH text/vtt
# AdaptationSet per stream with the whole track as a sidecar file. The cue times and texts
# are the source's (markup removed, '&' escaped); ffprobe reads the sidecar; validate checks
# the .vtt files and names a broken cue. Each subtitle rendition's segments are events
# (--events) and report.json lists the renditions (language, codec, segments, bytes, duration).
source "$(dirname "$0")/lib.sh"

printf '1\n00:00:00,500 --> 00:00:01,800\nHello <i>world</i> & more\n\n2\n00:00:01,900 --> 00:00:02,600\nTwo\nlines\n\n3\n00:00:03,000 --> 00:00:03,900\nThird\n' \
  >"$WORK/en.srt"
printf '1\n00:00:00,200 --> 00:00:02,200\nBonjour\n' >"$WORK/fr.srt"
ffmpeg -v error -y -i "$WORK/fr.srt" "$WORK/fr.ass"
SRC=$WORK/subs.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x90:r=25:d=4" -f lavfi -i "sine=d=4" \
  -i "$WORK/en.srt" -i "$WORK/fr.ass" -map 0 -map 1 -map 2 -map 3 -c:v libx264 -preset ultrafast \
  -pix_fmt yuv420p -c:a aac -c:s:0 srt -c:s:1 ass -metadata:s:s:0 language=eng \
  -metadata:s:s:1 language=fra "$SRC"
cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1,
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/job.lua" --events "$WORK/events.jsonl" -- "$SRC" "$OUT" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"

check "HLS: a SUBTITLES rendition per stream, with its language" \
  test -n "$(grep '^#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="eng",LANGUAGE="eng",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subs/index.m3u8"$' "$OUT/master.m3u8")" -a \
    -n "$(grep '^#EXT-X-MEDIA:TYPE=SUBTITLES,.*LANGUAGE="fra",.*URI="subs_2/index.m3u8"$' "$OUT/master.m3u8")"
check "HLS: the variant names the SUBTITLES group" grep -q 'SUBTITLES="subs"$' "$OUT/master.m3u8"
nv=$(grep -c '^#EXTINF' "$OUT/90p/index.m3u8")
check "HLS: one .vtt per video segment ($nv), no EXT-X-MAP" \
  test "$(grep -c '^seg_[0-9]*\.vtt$' "$OUT/subs/index.m3u8")" -eq "$nv" -a \
    -z "$(grep EXT-X-MAP "$OUT/subs/index.m3u8")"
check "every .vtt segment maps cue time to media time (X-TIMESTAMP-MAP)" \
  test "$(grep -l '^X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000$' "$OUT"/subs/seg_*.vtt | wc -l)" -eq "$nv"
check "segment 1 holds the first cue with the source's times and escaped text" \
  grep -Pzq '00:00:00\.500 --> 00:00:01\.800\nHello world &amp; more\n' "$OUT/subs/seg_00001.vtt"
check "a cue spanning a segment boundary is in both segments" \
  test -n "$(grep '00:00:00.500 --> 00:00:01.800' "$OUT/subs/seg_00002.vtt")"
check "segment 2 does not hold the cue at 3 s" test -z "$(grep '00:00:03.000' "$OUT/subs/seg_00002.vtt")"
check "the ASS stream's text comes without its markup" \
  grep -Pzq '00:00:00\.200 --> 00:00:02\.200\nBonjour\n' "$OUT/subs_2/subtitles.vtt"
check "DASH: a text/vtt AdaptationSet per stream with the sidecar file" \
  test -n "$(grep 'contentType="text" mimeType="text/vtt" lang="eng"' "$OUT/manifest.mpd")" -a \
    -n "$(grep '<BaseURL>subs_2/subtitles.vtt</BaseURL>' "$OUT/manifest.mpd")"
times=$(ffprobe -v error -show_entries packet=pts_time,duration_time -of csv=p=0 "$OUT/subs/subtitles.vtt" | tr '\n' ' ')
check "ffprobe reads the sidecar's three cues at the source's times ($times)" \
  test "$times" = "0.500000,1.300000 1.900000,0.700000 3.000000,0.900000 "
# Every subtitle rendition is observable: one segment event per .vtt segment (rendition,
# language, text = true, no rung) before "done", and report.json's subtitles section.
for r in subs:eng subs_2:fra; do
  name=${r%%:*} lang=${r##*:}
  n=$(grep '"type":"segment"' "$WORK/events.jsonl" | grep "\"rendition\":\"$name\"" |
    grep "\"language\":\"$lang\"" | grep '"text":true' | grep -vc '"rung"' || true)
  check "--events: $n segment events of $name ($lang), one per .vtt segment ($nv)" test "$n" -eq "$nv"
done
check "--events: done is the last event, after the subtitle segments" \
  test "$(grep -v '"type":"progress"' "$WORK/events.jsonl" | tail -n 1 | grep -c '"type":"done"')" -eq 1
cat >"$WORK/report_subs.lua" <<'LUA'
local json = require "cmafeng.json"
local dir, want = arg[1], tonumber(arg[2])
local f = assert(io.open(dir .. "/report.json", "rb"))
local r = json.decode(f:read("*a"))
f:close()
local bad = {}
local langs = { subs = "eng", subs_2 = "fra" }
if #(r.subtitles or {}) ~= 2 then bad[#bad + 1] = "subtitles has " .. #(r.subtitles or {}) .. " entries" end
for _, t in ipairs(r.subtitles or {}) do
  local bytes = 0
  for i = 1, want do
    local g = io.open(string.format("%s/%s/seg_%05d.vtt", dir, t.name, i), "rb")
    if g then bytes = bytes + #g:read("*a"); g:close() end
  end
  if t.language ~= langs[t.name] or t.codecs ~= "wvtt" or t.format ~= "webvtt" or t.segments ~= want
      or t.bytes ~= bytes or math.abs(t.duration - 4) > 0.05 then
    bad[#bad + 1] = string.format("%s: language %s codecs %s segments %s bytes %s (files %d) duration %s",
      tostring(t.name), tostring(t.language), tostring(t.codecs), tostring(t.segments),
      tostring(t.bytes), bytes, tostring(t.duration))
  end
end
print(#bad == 0 and "ok" or table.concat(bad, "; "))
LUA
got=$(LUA_PATH="$SRC_DIR/lua/?.lua;;" luajit "$WORK/report_subs.lua" "$OUT" "$nv" 2>&1 || true)
check "report.json: subtitles lists subs (eng) and subs_2 (fra), codec wvtt, $nv segments, their bytes and 4 s ($got)" \
  test "$got" = ok
check_output "$OUT"

# mov_text in an MP4 source.
ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x90:r=25:d=3" -i "$WORK/en.srt" -map 0 -map 1 \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:s mov_text -metadata:s:s:0 language=eng \
  "$WORK/subs.mp4"
"$CMAFENG" run "$WORK/job.lua" -- "$WORK/subs.mp4" "$WORK/mp4out" 2>"$WORK/stderr_mp4" ||
  { cat "$WORK/stderr_mp4"; not_ok "mov_text: cmafeng run exits 0"; }
check "mov_text: the cue comes through" \
  grep -Pzq '00:00:01\.900 --> 00:00:02\.600\nTwo\nlines\n' "$WORK/mp4out/subs/subtitles.vtt"
check_output "$WORK/mp4out"

# A broken cue timing is found and named.
rm -rf "$WORK/broken"; cp -r "$OUT" "$WORK/broken"
sed -i 's/^00:00:00.500 --> 00:00:01.800$/00:00:01.800 --> 00:00:00.500/' "$WORK/broken/subs/seg_00001.vtt"
rc=0; "$CMAFENG" validate "$WORK/broken" >"$WORK/broken.out" 2>&1 || rc=$?
check "broken: validate exits 1 (got $rc)" test "$rc" -eq 1
check "broken: names the file, the line and the spec" \
  grep -q 'broken/subs/seg_00001.vtt: line [0-9]*: cue ends before it starts \[WebVTT; .*RFC 8216 3.5' "$WORK/broken.out"

finish

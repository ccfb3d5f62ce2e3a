#!/usr/bin/env bash
# Several audio streams: a source with English, French and German tracks (the same tone at
# 0, -6 and -12 dB, so each rendition's content can be told apart) and audio.streams =
# "fra,deu" give two audio renditions: "audio" (French, the default) and "audio_2" (German),
# each with its language in HLS (EXT-X-MEDIA LANGUAGE, DEFAULT only on the first,
# AUTOSELECT) and DASH (one AdaptationSet per language with lang, Role main on the default),
# each holding its own stream's sound, cut at the video's segments. "all" takes all three; a
# language the source lacks is a usage error naming it. Every rendition's segments are events
# (--events) and report.json lists every audio rendition (language, codec, segments, bytes).
source "$(dirname "$0")/lib.sh"

SRC=$WORK/multi.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=160x90:r=25:d=4" \
  -f lavfi -i "sine=f=440:d=4" -f lavfi -i "sine=f=440:d=4,volume=0.5" \
  -f lavfi -i "sine=f=440:d=4,volume=0.25" -map 0 -map 1 -map 2 -map 3 \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 128k \
  -metadata:s:a:0 language=eng -metadata:s:a:1 language=fra -metadata:s:a:2 language=deu "$SRC"
cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, audio = { streams = arg[3] },
  video = { ladder = { { width = 160, height = 90, preset = 12 } } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/job.lua" --events "$WORK/events.jsonl" -- "$SRC" "$OUT" "fra,deu" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"

check "HLS: French is the default audio rendition" \
  grep -q '^#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="fra",LANGUAGE="fra",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"$' "$OUT/master.m3u8"
check "HLS: German is the second, not default" \
  grep -q '^#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="deu",LANGUAGE="deu",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio_2/index.m3u8"$' "$OUT/master.m3u8"
check "HLS: two audio renditions, no English" \
  test "$(grep -c '^#EXT-X-MEDIA:TYPE=AUDIO' "$OUT/master.m3u8")" -eq 2 -a -z "$(grep -l 'LANGUAGE="eng"' "$OUT/master.m3u8")"
check "DASH: an AdaptationSet with lang fra holding audio, with Role main" \
  grep -A1 'contentType="audio".*lang="fra"' "$OUT/manifest.mpd" -q
check "DASH: Role main once, in the French set" \
  test "$(grep -c 'value="main"' "$OUT/manifest.mpd")" -eq 1 -a \
    "$(grep -A1 'lang="fra"' "$OUT/manifest.mpd" | grep -c 'value="main"')" -eq 1
check "DASH: an AdaptationSet with lang deu holding audio_2" \
  test -n "$(grep 'contentType="audio".*lang="deu"' "$OUT/manifest.mpd")" -a \
    -n "$(grep 'initialization="audio_2/init.mp4"' "$OUT/manifest.mpd")"
# Each rendition holds its own stream: mean volume -6 dB apart.
mean() {
  cat "$OUT/$1/init.mp4" "$OUT/$1"/seg_*.m4s >"$WORK/$1.mp4"
  ffmpeg -v info -i "$WORK/$1.mp4" -af volumedetect -f null - 2>&1 |
    sed -n 's/.*mean_volume: \(-[0-9.]*\) dB.*/\1/p'
}
fra=$(mean audio)
deu=$(mean audio_2)
check "audio is the French stream and audio_2 the German one (mean $fra dB, $deu dB: 6 dB apart)" \
  awk -v a="$fra" -v b="$deu" 'BEGIN { d = a - b; exit !(d > 5 && d < 7) }'
check "both audio renditions have as many segments as the video" \
  test "$(grep -c EXTINF "$OUT/audio/index.m3u8")" -eq "$(grep -c EXTINF "$OUT/90p/index.m3u8")" -a \
    "$(grep -c EXTINF "$OUT/audio_2/index.m3u8")" -eq "$(grep -c EXTINF "$OUT/90p/index.m3u8")"
# Every audio rendition is observable: init and segment events (rung -1: no rung key; the
# rendition and its language) before "done", and report.json's audio_renditions.
nseg=$(grep -c EXTINF "$OUT/90p/index.m3u8")
for r in audio:fra audio_2:deu; do
  name=${r%%:*} lang=${r##*:}
  n=$(grep '"type":"segment"' "$WORK/events.jsonl" | grep "\"rendition\":\"$name\"" |
    grep '"audio":true' | grep -vc '"rung"' || true)
  check "--events: $n segment events of $name, one per segment ($nseg)" test "$n" -eq "$nseg"
done
check "--events: the init event of audio_2 names its codecs and language deu" \
  has_event "$WORK/events.jsonl" init '"rendition":"audio_2"' '"language":"deu"' '"codecs":"mp4a.40.2"'
check "--events: audio_2's segments carry language deu" \
  test "$(grep '"type":"segment"' "$WORK/events.jsonl" | grep '"rendition":"audio_2"' | grep -c '"language":"deu"')" -eq "$nseg"
cat >"$WORK/report_audio.lua" <<'LUA'
local json = require "cmafeng.json"
local dir, want = arg[1], tonumber(arg[2])
local f = assert(io.open(dir .. "/report.json", "rb"))
local r = json.decode(f:read("*a"))
f:close()
local bad = {}
local langs = { audio = "fra", audio_2 = "deu" }
local list = r.audio_renditions or {}
if #list ~= 2 or list[1].name ~= "audio" or list[2].name ~= "audio_2" then
  bad[#bad + 1] = "audio_renditions: " .. #list .. " entries"
end
for _, t in ipairs(list) do
  local bytes = 0
  for i = 1, want do
    local g = io.open(string.format("%s/%s/seg_%05d.m4s", dir, t.name, i), "rb")
    if g then bytes = bytes + #g:read("*a"); g:close() end
  end
  if t.language ~= langs[t.name] or t.codecs ~= "mp4a.40.2" or t.segments ~= want
      or t.bytes ~= bytes or math.abs(t.duration - 4) > 0.05 then
    bad[#bad + 1] = string.format("%s: language %s codecs %s segments %s bytes %s (files %d) duration %s",
      tostring(t.name), tostring(t.language), tostring(t.codecs), tostring(t.segments),
      tostring(t.bytes), bytes, tostring(t.duration))
  end
end
local n2 = 0
for _, s in ipairs(r.segments or {}) do if s.rendition == "audio_2" then n2 = n2 + 1 end end
if n2 ~= want then bad[#bad + 1] = "segments lists " .. n2 .. " of audio_2" end
print(#bad == 0 and "ok" or table.concat(bad, "; "))
LUA
got=$(LUA_PATH="$SRC_DIR/lua/?.lua;;" luajit "$WORK/report_audio.lua" "$OUT" "$nseg" 2>&1 || true)
check "report.json: audio_renditions lists audio (fra) and audio_2 (deu) with codecs, $nseg segments, their bytes and 4 s; segments lists audio_2's ($got)" \
  test "$got" = ok
check_output "$OUT"

"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$WORK/all" all 2>"$WORK/stderr_all" ||
  { cat "$WORK/stderr_all"; not_ok "all: cmafeng run exits 0"; }
check "all: three audio renditions (eng default, fra, deu)" \
  test "$(grep -c '^#EXT-X-MEDIA:TYPE=AUDIO' "$WORK/all/master.m3u8")" -eq 3 -a \
    -n "$(grep 'LANGUAGE="eng",DEFAULT=YES' "$WORK/all/master.m3u8")"

rc=0
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$WORK/spa" spa 2>"$WORK/stderr_spa" || rc=$?
check "a language the source lacks exits 2 (got $rc)" test "$rc" -eq 2
check "and names it" grep -q 'audio.streams: "spa" names no audio stream of the source (it has 3' \
  "$WORK/stderr_spa"

finish

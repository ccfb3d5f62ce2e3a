#!/usr/bin/env bash
# dash_ondemand = true: beside the CMAF output, OUT/ondemand/ holds one file per video and
# audio rendition (its init segment, a sidx with one reference per fragment, the fragments),
# the subtitles as a sidecar .vtt and manifest.mpd in the isoff-on-demand profile with
# BaseURL + SegmentBase. ffprobe counts every frame of each file, mp4box.js reads the sidx
# (references, sizes adding up to the file, durations adding up to the track, SAP type 1),
# validate --decode holds the ranges and the index against the files, and a wrong indexRange
# or a wrong subsegment_duration is found.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
printf '1\n00:00:00,500 --> 00:00:02,000\nHello on demand\n' >"$WORK/en.srt"
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4" -f lavfi -i "sine=d=4" \
  -i "$WORK/en.srt" -map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
  -c:a aac -c:s srt -metadata:s:s:0 language=eng "$SRC"
cat >"$WORK/job.lua" <<'LUA'
return { source = arg[1], output = arg[2], segment_seconds = 1, workers = 2, dash_ondemand = true,
  video = { ladder = { { width = 320, height = 180, preset = 12 }, { width = 160, height = 90, preset = 12 } } } }
LUA
OUT=$WORK/out
"$CMAFENG" run "$WORK/job.lua" -- "$SRC" "$OUT" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"
OD=$OUT/ondemand
check "ondemand/ holds 180p.mp4, 90p.mp4, audio.mp4, subs.vtt and manifest.mpd" \
  test -s "$OD/180p.mp4" -a -s "$OD/90p.mp4" -a -s "$OD/audio.mp4" -a -s "$OD/subs.vtt" -a -s "$OD/manifest.mpd"
check "the on-demand MPD announces the isoff-on-demand profile" \
  grep -q 'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"' "$OD/manifest.mpd"
check "every Representation has a BaseURL and SegmentBase indexRange + Initialization range" \
  test "$(grep -c '<SegmentBase timescale="[0-9]*" indexRange="[0-9]*-[0-9]*"' "$OD/manifest.mpd")" -eq 3 -a \
  "$(grep -c '<Initialization range="0-[0-9]*"/>' "$OD/manifest.mpd")" -eq 3 -a \
  "$(grep -c '<BaseURL>' "$OD/manifest.mpd")" -eq 4
check "the text Representation names the sidecar subs.vtt" grep -q '<BaseURL>subs.vtt</BaseURL>' "$OD/manifest.mpd"
check "subs.vtt is the rendition's whole track" cmp -s "$OD/subs.vtt" "$OUT/subs/subtitles.vtt"
for f in 180p 90p audio; do
  got=$(ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames -of csv=p=0 "$OD/$f.mp4")
  want="av1,100"; [ "$f" = audio ] && want="aac,190"
  check "ffprobe reads ondemand/$f.mp4: $want ($got)" test "$got" = "$want"
done
# The index range of the MPD is the sidx mp4box.js finds.
players_modules
node "$SRC_DIR/tests/players/sidx_check.mjs" "$OD/180p.mp4" "$OD/90p.mp4" "$OD/audio.mp4" >"$WORK/sidx.json" ||
  { cat "$WORK/sidx.json"; not_ok "mp4box.js finds a sidx in every on-demand file"; }
cat "$WORK/sidx.json"
for f in 180p 90p audio; do
  line=$(grep "/$f.mp4\"" "$WORK/sidx.json" || true)
  range=$(awk -v f="$f.mp4" '$0 ~ "<BaseURL>"f"</BaseURL>" { getline; match($0, /indexRange="[0-9]+-[0-9]+"/);
      print substr($0, RSTART + 12, RLENGTH - 13) }' "$OD/manifest.mpd")
  check "mp4box.js: ondemand/$f.mp4 has a sidx at indexRange $range with 4 references of SAP type 1, sizes adding up to the file and durations to the track" \
    node -e '
      const j = JSON.parse(process.argv[1]); const [a, b] = process.argv[2].split("-").map(Number);
      const s = j.sidx;
      process.exit(s.start === a && s.start + s.size - 1 === b && s.references === 4 && s.all_sap1 &&
        s.start + s.size + s.sizes_sum === j.size && s.durations_sum === j.track.ticks &&
        s.timescale === j.track.timescale && s.ept === 0 && j.moofs === 4 ? 0 : 1);' "$line" "$range"
done
check_output "$OUT"
check "validate --decode decoded the three on-demand files too (3 CMAF renditions + 3 files, 780 frames)" \
  grep -q '^decode .*ok (6 renditions, 780 frames' "$WORK/validate_decode.out"

# Broken on purpose: validate must find a wrong indexRange and a wrong subsegment_duration.
BAD=$WORK/bad
cp -r "$OUT" "$BAD"
sed -i '0,/indexRange="[0-9]*-/s/indexRange="\([0-9]*\)-/indexRange="1\1-/' "$BAD/ondemand/manifest.mpd"
set +e
"$CMAFENG" validate "$BAD" >"$WORK/bad1.out" 2>&1
rc=$?
set -e
check "validate exits 1 on a wrong indexRange ($(grep -m1 'indexRange says' "$WORK/bad1.out" | sed 's/^ *//'))" \
  test "$rc" -eq 1 -a -n "$(grep 'indexRange says' "$WORK/bad1.out")"
cp "$OUT/ondemand/manifest.mpd" "$BAD/ondemand/manifest.mpd"
# The first reference's subsegment_duration: sidx start + 8 (header) + 4 (version, flags) +
# 8 (reference_ID, timescale) + 8 (v0 times) + 4 (reserved, count) + 4 (referenced_size).
start=$(node -e 'const j = JSON.parse(process.argv[1]); console.log(j.sidx.start)' "$(grep '/90p.mp4"' "$WORK/sidx.json")")
printf '\x00\x00\x00\x01' | dd of="$BAD/ondemand/90p.mp4" bs=1 seek=$((start + 36)) conv=notrunc status=none
set +e
"$CMAFENG" validate "$BAD" >"$WORK/bad2.out" 2>&1
rc=$?
set -e
check "validate exits 1 on a wrong subsegment_duration ($(grep -m1 'subsegment_duration' "$WORK/bad2.out" | sed 's/^ *//'))" \
  test "$rc" -eq 1 -a -n "$(grep 'ondemand/90p.mp4.*reference 1: subsegment_duration 1,' "$WORK/bad2.out")"

# --overwrite replaces the earlier on-demand directory as a whole: no stale file survives.
echo stale >"$OD/stale.mp4"
"$CMAFENG" run "$WORK/job.lua" --overwrite -- "$SRC" "$OUT" 2>"$WORK/stderr2" ||
  { cat "$WORK/stderr2"; not_ok "cmafeng run --overwrite exits 0"; }
check "--overwrite removed the earlier ondemand/ with its stale file" \
  test ! -e "$OD/stale.mp4" -a -s "$OD/manifest.mpd"

finish

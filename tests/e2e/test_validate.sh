#!/usr/bin/env bash
# End to end: `cmafeng validate DIR` passes a fresh output directory (exit 0) and, on copies
# broken in distinct ways, exits 1 and names the problem and the file it concerns: a deleted
# segment, a truncated segment, a wrong EXTINF, a wrong CODECS string, two swapped segments
# (tfdt continuity), a missing master.m3u8; bad usage and a missing DIR exit 2.
source "$(dirname "$0")/lib.sh"

SRC=$WORK/src.mkv
ffmpeg -v error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=4" \
  -f lavfi -i "sine=frequency=440:duration=4" -c:v libx264 -preset ultrafast -crf 20 \
  -pix_fmt yuv420p -c:a aac -shortest "$SRC"
OUT=$WORK/out
"$CMAFENG" run "$SRC_DIR/recipes/small_test.lua" -o "$OUT" -- "$SRC" 2>"$WORK/stderr" ||
  { cat "$WORK/stderr"; not_ok "cmafeng run exits 0"; finish; exit 1; }
ok "cmafeng run exits 0"

# validate_case NAME EXPECTED_RC PATTERN...: runs validate on $WORK/NAME; every PATTERN
# (an extended regex) must appear in its output.
validate_case() {
  local name=$1 want=$2 rc=0 pat; shift 2
  "$CMAFENG" validate "$WORK/$name" >"$WORK/$name.out" 2>&1 || rc=$?
  if [ "$rc" -ne "$want" ]; then
    sed 's/^/  | /' "$WORK/$name.out"
    not_ok "$name: validate exits $want (got $rc)"
    return
  fi
  ok "$name: validate exits $want"
  for pat in "$@"; do
    if grep -Eq -- "$pat" "$WORK/$name.out"; then ok "$name: output matches /$pat/"
    else sed 's/^/  | /' "$WORK/$name.out"; not_ok "$name: output matches /$pat/"; fi
  done
}
broken() { rm -rf "${WORK:?}/$1"; cp -r "$OUT" "$WORK/$1"; }

# A fresh output is clean, in text and JSON.
rm -rf "$WORK/good"; cp -r "$OUT" "$WORK/good"
validate_case good 0 '^master\.m3u8 +ok' '^media playlists +ok' '^segments +ok' \
  '^manifest\.mpd +ok' '^report\.json +ok' 'good: ok$'
json=$("$CMAFENG" validate --json "$OUT")
check "--json reports ok with no problems" grep -q '"ok":true.*"problems":\[\]' <<<"$json"
check "--json counts 2 variants and 3 representations" \
  grep -q '"representations":3.*"variants":2' <<<"$json"

broken deleted; rm "$WORK/deleted/180p/seg_00002.m4s"
validate_case deleted 1 'deleted/180p/index\.m3u8: .*seg_00002\.m4s does not exist' \
  'deleted/manifest\.mpd: Representation 180p: .*seg_00002\.m4s\) does not exist' \
  'deleted/report\.json: rendition 180p: segment count .*expected 3 on disk, got 4'

broken truncated; truncate -s 3000 "$WORK/truncated/90p/seg_00003.m4s"
validate_case truncated 1 'truncated/90p/seg_00003\.m4s: cannot parse the segment' \
  'truncated/report\.json: 90p/seg_00003\.m4s: size does not match'

broken extinf; sed -i '0,/^#EXTINF:.*/s//#EXTINF:1.250000,/' "$WORK/extinf/90p/index.m3u8"
validate_case extinf 1 \
  'extinf/90p/index\.m3u8: line [0-9]+: EXTINF of seg_00001\.m4s .*expected 1\.000000, got 1\.250000'

broken codecs; sed -i '0,/CODECS="av01\.[^,"]*/s//CODECS="av01.0.13H.10/' "$WORK/codecs/master.m3u8"
validate_case codecs 1 \
  "codecs/master\.m3u8: line 5 .*CODECS' AV1 entry .*expected av01\.0\.[0-9]{2}M\.08, got av01\.0\.13H\.10"

broken swapped
mv "$WORK/swapped/180p/seg_00002.m4s" "$WORK/swapped/tmp.m4s"
mv "$WORK/swapped/180p/seg_00003.m4s" "$WORK/swapped/180p/seg_00002.m4s"
mv "$WORK/swapped/tmp.m4s" "$WORK/swapped/180p/seg_00003.m4s"
validate_case swapped 1 \
  'swapped/180p/seg_00002\.m4s: tfdt does not continue seg_00001\.m4s \(expected 90000 = 0 \+ 90000, got 180000\)' \
  'swapped/manifest\.mpd: Representation 180p: SegmentTimeline t of 180p/seg_00002\.m4s'

# --decode: the fresh output decodes frame for frame; damaged bytes inside an mdat (sizes
# intact, so every box still parses) are found only by decoding, and named.
check_output "$OUT"
broken garbled
# 400 bytes of a fixed pseudo-random pattern over the mdat payload, 300 bytes in.
for i in $(seq 1 400); do printf "\\x$(printf %02x $(( (i * 73 + i * i * 29 + 41) % 256 )))"; done \
  >"$WORK/garbage"
mdat=$(grep -obUaP 'mdat' "$WORK/garbled/180p/seg_00002.m4s" | head -n 1 | cut -d: -f1)
dd if="$WORK/garbage" of="$WORK/garbled/180p/seg_00002.m4s" bs=1 seek=$((mdat + 4 + 300)) \
  conv=notrunc status=none
rc=0; "$CMAFENG" validate "$WORK/garbled" >/dev/null 2>&1 || rc=$?
check "garbled: validate without --decode does not see it (exit $rc)" test "$rc" -eq 0
rc=0; "$CMAFENG" validate --decode "$WORK/garbled" >"$WORK/garbled.out" 2>&1 || rc=$?
check "garbled: validate --decode exits 1 (got $rc)" test "$rc" -eq 1
check "garbled: the finding names the file, the box, the rule and the spec" \
  grep -Eq 'garbled/180p/seg_00002\.m4s: .*\[(mdat|trun); every sample decodes.*; AV1-ISOBMFF 2\.4' \
  "$WORK/garbled.out"
broken channels; sed -i 's/CHANNELS="2"/CHANNELS="6"/' "$WORK/channels/master.m3u8"
rc=0; "$CMAFENG" validate --decode --json "$WORK/channels" >"$WORK/channels.out" 2>&1 || rc=$?
check "channels: validate --decode --json exits 1 (got $rc)" test "$rc" -eq 1
check "channels: the decoded channel count is held against CHANNELS, with its spec" \
  grep -q '"element":"EXT-X-MEDIA CHANNELS".*decodes to 2 channels (master.m3u8 CHANNELS=6).*"spec":"RFC 8216 4.3.4.1"' \
  "$WORK/channels.out"

broken nomaster; rm "$WORK/nomaster/master.m3u8"
validate_case nomaster 1 'nomaster/master\.m3u8: missing'

# More than one problem: all of them are reported, not just the first.
broken several; rm "$WORK/several/master.m3u8" "$WORK/several/90p/seg_00004.m4s"
validate_case several 1 'several/master\.m3u8: missing' 'several/90p/index\.m3u8: .*seg_00004' \
  'several: [0-9]+ problems$'

rc=0; "$CMAFENG" validate "$WORK/does-not-exist" 2>"$WORK/nodir.err" || rc=$?
check "a missing DIR exits 2 (got $rc)" test "$rc" -eq 2
check "a missing DIR is named on stderr" grep -q "cmafeng: .*does-not-exist: No such file" "$WORK/nodir.err"
rc=0; "$CMAFENG" validate >/dev/null 2>&1 || rc=$?
check "validate without DIR exits 2 (got $rc)" test "$rc" -eq 2

finish

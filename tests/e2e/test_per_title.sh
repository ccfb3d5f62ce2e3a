#!/usr/bin/env bash
# End to end: per-title ladders (ladder.per_title, cmafeng.per_title, cme_probe_encodes).
# Two 640x360 sources of very different complexity (clean test pattern; the same kind of
# pattern under heavy temporal grain) get probe-encoded at three sizes and four CRFs on two
# windows; their ladders must differ, each per-title rung must sit on or above the fixed
# ladder's rate-quality curve (640x360 and 426x240 at CRF 35, measured by the same probes on
# the same windows), and the bit rate saved at equal PSNR is printed. Then `cmafeng run`
# encodes each source with its per-title ladder: the probes lease the job's devices (2 at
# once), report.json carries per_title (curves, hull, choice, probe cost, the device of every
# probe), per_title.svg is written, and the probe cost is printed as a fraction of the
# encode. (test_per_title_devices.sh: declared devices, under TSan too.)
source "$(dirname "$0")/lib.sh"

BIN_DIR=${CME_BINARY_DIR:-$(dirname "$CMAFENG")}
export SVT_LOG=1

ffmpeg -v error -y -f lavfi -i "testsrc=s=640x360:r=25:d=3" -c:v libx264 -preset ultrafast \
  -crf 12 "$WORK/simple.mkv"
ffmpeg -v error -y -f lavfi -i "testsrc2=s=640x360:r=25:d=3,noise=alls=30:allf=t+u" \
  -c:v libx264 -preset ultrafast -crf 12 "$WORK/grain.mkv"

cat >"$WORK/pt.lua" <<'LUA'
local cmafeng = require "cmafeng"
local ladder = require "cmafeng.ladder"
local info = assert(cmafeng.probe(arg[1]))
return {
  source = arg[1], output = arg[2] or "out", segment_seconds = 1, workers = 2,
  video = { ladder = ladder.per_title {
    source = info, bitrates = { 1500000, 500000, 150000 }, workers = 2,
    heights = { 360, 270, 180 }, crfs = { 26, 36, 46, 56 },
    windows = 2, window_seconds = 0.6, probe_preset = 12, preset = 12,
  } },
}
LUA

cat >"$WORK/check.lua" <<'LUA'
package.path = SRC .. "/lua/?.lua;" .. SRC .. "/lua/?/init.lua;" .. package.path
package.cpath = BIN .. "/lua/?.so;" .. package.cpath
local recipe = require "cmafeng.recipe"
local core = require "cmafeng.core"
local out = {}
for _, name in ipairs { "simple", "grain" } do
  local src = WORK .. "/" .. name .. ".mkv"
  local job = assert(recipe.load(WORK .. "/pt.lua", { src }))
  local a = job.per_title
  local rungs = {}
  for i, r in ipairs(job.video.ladder) do rungs[i] = string.format("%dx%d@crf%d", r.width, r.height, r.crf) end
  print(string.format("# %s: ladder %s (probes: %d encodes, %.1f s)", name,
                      table.concat(rungs, " "), a.probe_count, a.probe_seconds))
  -- The fixed ladder on the same windows, measured the same way.
  local fixed = {}
  local bytes, seconds, mse = {}, 0, {}
  for w, start in ipairs(a.window_starts) do
    local res = assert(core.probe_encodes(src, { start = start, frames = a.window_frames,
      ref_width = a.reference.width, ref_height = a.reference.height, preset = a.probe_preset,
      probes = { { width = 640, height = 360, crf = 35 }, { width = 426, height = 240, crf = 35 } } }))
    seconds = seconds + res.seconds
    for i, p in ipairs(res.probes) do
      bytes[i] = (bytes[i] or 0) + p.bytes
      mse[i] = (mse[i] or 0) + p.frames * 255 * 255 / 10 ^ (p.psnr / 10)
      fixed[i] = fixed[i] or { frames = 0, size = p.width .. "x" .. p.height .. " crf 35" }
      fixed[i].frames = fixed[i].frames + p.frames
    end
  end
  for i, f in ipairs(fixed) do
    f.rate = bytes[i] * 8 / seconds
    f.psnr = 10 * math.log10(255 * 255 / (mse[i] / f.frames))
    print(string.format("# %s: fixed %s: %.0f kbit/s, %.2f dB", name, f.size, f.rate / 1000, f.psnr))
  end
  table.sort(fixed, function(x, y) return x.rate < y.rate end)
  -- PSNR of the fixed curve at a rate (linear between its points, as the hull is built).
  local function fixed_at(rate)
    local lo, hi = fixed[1], fixed[#fixed]
    if rate < lo.rate or rate > hi.rate then return nil end
    local t = (rate - lo.rate) / (hi.rate - lo.rate)
    return lo.psnr + t * (hi.psnr - lo.psnr)
  end
  local ok, compared = true, 0
  for _, pk in ipairs(a.choices) do
    local q = fixed_at(pk.point.rate)
    if q then
      compared = compared + 1
      if pk.point.psnr < q - 0.05 then
        ok = false
        print(string.format("# %s: %dx%d crf %d: %.2f dB under the fixed curve's %.2f dB", name,
                            pk.point.width, pk.point.height, pk.point.crf, pk.point.psnr, q))
      end
    end
    -- Above the fixed ladder's range: at least the top fixed rung's quality for more bits
    -- is the hull's job; below it: compare with the cheapest fixed rung's quality at a
    -- lower rate is not meaningful. Every hull point dominates every probe by construction.
  end
  -- Bit rate the hull needs for each fixed rung's PSNR (linear between hull points).
  local h = a.hull
  for i, f in ipairs(fixed) do
    for j = 1, #h - 1 do
      if h[j].psnr <= f.psnr and h[j + 1].psnr >= f.psnr then
        local t = (f.psnr - h[j].psnr) / (h[j + 1].psnr - h[j].psnr)
        local rate = h[j].rate + t * (h[j + 1].rate - h[j].rate)
        print(string.format("# %s: fixed %s (%.2f dB): the hull needs %.0f kbit/s instead of %.0f (%.0f%% saved)",
                            name, f.size, f.psnr, rate / 1000, f.rate / 1000, 100 * (1 - rate / f.rate)))
        break
      end
    end
  end
  print(string.format("%s_onabove=%s", name, tostring(ok)))
  print(string.format("%s_compared=%d", name, compared))
  print(string.format("%s_ladder=%s", name, table.concat(rungs, ",")))
end
LUA
luajit -e "SRC='$SRC_DIR' BIN='$BIN_DIR' WORK='$WORK'" "$WORK/check.lua" | tee "$WORK/check.out"
val() { grep "^$1=" "$WORK/check.out" | cut -d= -f2; }
check "the two sources get different ladders ($(val simple_ladder) vs $(val grain_ladder))" \
  test "$(val simple_ladder)" != "$(val grain_ladder)"
check "simple source: per-title rungs on or above the fixed ladder's curve" test "$(val simple_onabove)" = true
check "grainy source: per-title rungs on or above the fixed ladder's curve ($(val grain_compared) compared)" \
  test "$(val grain_onabove)" = true
check "grainy source: at least one per-title rung compared with the fixed curve" test "$(val grain_compared)" -ge 1

# The whole job: probes, then the encode of the chosen ladder, for both sources. The probes
# lease the job's devices (here its 2 workers on "cpu") and run 2 at a time; report.json
# names the device of every probe.
for name in simple grain; do
  out="$WORK/out_$name"
  "$CMAFENG" run "$WORK/pt.lua" -- "$WORK/$name.mkv" "$out" 2>"$WORK/run_$name.err" ||
    { cat "$WORK/run_$name.err"; not_ok "$name: cmafeng run with a per-title ladder exits 0"; finish; exit 1; }
  ok "$name: cmafeng run with a per-title ladder exits 0"
  check "$name: report.json has per_title with the hull and the choices" \
    grep -q '"per_title"' "$out/report.json"
  check "$name: per_title.svg is written" grep -q "<svg " "$out/per_title.svg"
  check "$name: no probe output left in the output directory" \
    test "$(ls "$out" | grep -vcE '^(master.m3u8|manifest.mpd|report.json|per_title.svg|[0-9]+p(-[0-9]+k)?)$')" -eq 0
  check "$name: no warning (the probes used the job's devices)" sh -c "! grep -q warning '$WORK/run_$name.err'"
  luajit -e "
    package.path = '$SRC_DIR/lua/?.lua;' .. package.path
    local f = assert(io.open('$out/report.json')); local r = require('cmafeng.json').decode(f:read('*a'))
    local pt = r.per_title
    local on = {}
    for _, p in ipairs(pt.probes) do on[p.device] = (on[p.device] or 0) + 1 end
    print(string.format('# $name: probe cost: %.2f s of probes (%d encodes, %d at once on %s), %.2f s of encoding: %.0f%% of the encode',
      pt.probe_seconds, pt.probe_count, pt.probe_parallel, pt.probe_devices[1].id, r.elapsed,
      100 * pt.probe_seconds / r.elapsed))
    print('devices=' .. (on.cpu or 0) .. '/' .. pt.probe_count .. '/' .. #pt.probes .. '/' .. pt.probe_parallel)" |
    tee "$WORK/cost_$name.out"
  eq "$name: every probe in report.json ran on the job's device cpu, 2 at a time (on cpu/count/listed/parallel)" \
    "$(grep '^devices=' "$WORK/cost_$name.out" | cut -d= -f2)" "24/24/24/2"
done

finish

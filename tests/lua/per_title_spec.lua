-- cmafeng.per_title on synthetic measurements: the hull, the choice per target, errors for
-- targets out of reach, and the SVG. (tests/e2e/test_per_title.sh runs real probes.)
local pt = require "cmafeng.per_title"
local ladder = require "cmafeng.ladder"

local function pt_(w, h, crf, kbps, psnr) return { width = w, height = h, crf = crf, rate = kbps * 1000, psnr = psnr } end

local big = { pt_(1280, 720, 40, 300, 33), pt_(1280, 720, 30, 900, 38), pt_(1280, 720, 20, 3000, 42) }
local small = { pt_(640, 360, 40, 100, 31), pt_(640, 360, 30, 350, 34), pt_(640, 360, 20, 1000, 35) }

local function analysis()
  local all = {}
  for _, p in ipairs(big) do all[#all + 1] = p end
  for _, p in ipairs(small) do all[#all + 1] = p end
  return { source = "x.mkv", reference = { width = 1280, height = 720 },
           curves = { { width = 1280, height = 720, points = big },
                      { width = 640, height = 360, points = small } },
           hull = pt.hull(all) }
end

describe("per_title.hull", function()
  it("keeps the points no mix of two others beats, up to the best quality", function()
    local h = pt.hull(analysis().curves[1].points)
    assert.are.equal(3, #h)
    h = analysis().hull
    local got = {}
    for i, p in ipairs(h) do got[i] = string.format("%dx%d@%d", p.width, p.height, p.crf) end
    -- 640x360 crf 30 (350 kbit/s, 34 dB) lies above the chord from 360p crf 40 to 720p
    -- crf 30; 720p crf 40 (300 kbit/s, 33 dB) lies under it; 640x360 crf 20 (1000 kbit/s,
    -- 35 dB) is beaten by 720p crf 30 (900 kbit/s, 38 dB).
    assert.are.same({ "640x360@40", "640x360@30", "1280x720@30", "1280x720@20" }, got)
  end)
end)

describe("per_title.choose", function()
  it("picks the best hull point under each target bit rate, one rung per distinct point", function()
    local rungs, picks = pt.choose(analysis(), { bitrates = { 3500000, 1000000, 400000 } }, 10)
    local got = {}
    for i, r in ipairs(rungs) do got[i] = string.format("%s %dx%d crf%d p%d", r.name, r.width, r.height, r.crf, r.preset) end
    assert.are.same({ "720p 1280x720 crf20 p10", "720p-900k 1280x720 crf30 p10", "360p 640x360 crf30 p10" }, got)
    assert.are.equal(3, #picks)
  end)

  it("picks the cheapest hull point that reaches each target PSNR", function()
    local rungs = pt.choose(analysis(), { psnr = { 40, 33 } }, 8)
    assert.are.same({ { name = "720p", width = 1280, height = 720, crf = 20, preset = 8 },
                      { name = "360p", width = 640, height = 360, crf = 30, preset = 8 } }, rungs)
  end)

  it("names a target no rung can reach", function()
    assert.has_error(function() pt.choose(analysis(), { bitrates = { 3000000, 50000 } }, 10) end,
      "ladder.per_title: bitrates[2]: 50000 bit/s is below every probe (the cheapest is " ..
      "640x360 crf 40: 100 kbit/s, 31.00 dB); lower the target or add a higher CRF")
    assert.has_error(function() pt.choose(analysis(), { psnr = { 45 } }, 10) end,
      "ladder.per_title: psnr[1]: 45.00 dB is above every probe (the best is 1280x720 crf " ..
      "20: 3000 kbit/s, 42.00 dB); lower the target or add a lower CRF")
  end)

  it("draws the curves, the hull and the choice as SVG", function()
    local a = analysis()
    pt.choose(a, { bitrates = { 1000000 } }, 10)
    local svg = pt.svg(a)
    assert.matches("^<svg ", svg)
    local _, lines = svg:gsub("<polyline", "")
    assert.are.equal(3, lines) -- two curves and the hull
    assert.matches("chosen: 1280x720 crf 30: 900 kbit/s, 38.00 dB", svg)
  end)
end)

describe("ladder.per_title", function()
  it("needs targets and a source with video", function()
    assert.has_error(function() ladder.per_title { source = { video = {} } } end,
      "ladder.per_title: give target bitrates = {...} (bit/s) or psnr = {...} (dB)")
    assert.has_error(function() ladder.per_title { source = { path = "a" }, bitrates = { 1e6 } } end,
      "ladder.per_title: source.video: expected a table, got nil")
  end)
end)

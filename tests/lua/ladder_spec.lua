local ladder = require "cmafeng.ladder"

local function sizes(rungs)
  local out = {}
  for i, r in ipairs(rungs) do out[i] = string.format("%s %dx%d", r.name, r.width, r.height) end
  return out
end

describe("ladder.standard", function()
  it("assumes 16:9 and rounds widths to even", function()
    assert.are.same({ "720p 1280x720", "480p 854x480", "360p 640x360" },
                    sizes(ladder.standard { heights = { 720, 480, 360 } }))
  end)

  it("has a default set of heights", function()
    assert.are.same({ "1080p 1920x1080", "720p 1280x720", "480p 854x480", "360p 640x360" },
                    sizes(ladder.standard()))
  end)

  it("keeps the source aspect ratio and does not upscale", function()
    assert.are.same({ "528p 720x528", "480p 654x480", "360p 490x360" },
                    sizes(ladder.standard { heights = { 1080, 720, 480, 360 },
                                            source_width = 720, source_height = 528 }))
    assert.are.same({ "720p 982x720" },
                    sizes(ladder.standard { heights = { 720 }, upscale = true,
                                            source_width = 720, source_height = 528 }))
  end)

  it("makes one rung at the source size when every height is above it", function()
    assert.are.same({ "240p 320x240" },
                    sizes(ladder.standard { source_width = 320, source_height = 240 }))
  end)

  it("copies crf and preset into every rung only when given", function()
    local r = ladder.standard { heights = { 360 }, crf = 30, preset = 8 }
    assert.are.same({ { name = "360p", width = 640, height = 360, crf = 30, preset = 8 } }, r)
    assert.is_nil(ladder.standard({ heights = { 360 } })[1].crf)
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() ladder.standard { heights = { 721 } } end,
                     "ladder.standard: heights[1]: expected an even integer >= 64, got 721")
    assert.has_error(function() ladder.standard { height = { 720 } } end,
                     "ladder.standard: height: unknown key (did you mean \"heights\"?)")
    assert.has_error(function() ladder.standard { source_width = 1920 } end,
                     "ladder.standard: give both source_width and source_height, or neither")
    assert.has_error(function() ladder.standard { crf = 64 } end,
                     "ladder.standard: crf: expected an integer <= 63, got 64")
  end)
end)

describe("ladder.even", function()
  it("rounds to the nearest even integer", function()
    assert.are.same({ 854, 852, 640, 2 }, { ladder.even(853.3), ladder.even(852.9), ladder.even(640), ladder.even(1) })
  end)
end)

-- A probe table as cmafeng.probe returns it, with only what the ladder reads.
local function src(w, h, o)
  o = o or {}
  local sar_num, sar_den = o.sar_num or 1, o.sar_den or 1
  local dw = math.floor(w * sar_num / sar_den + 0.5)
  local rot = o.rotation or 0
  local v = { width = w, height = h, sar_num = sar_num, sar_den = sar_den, rotation = rot,
              display_width = (rot == 90 or rot == 270) and h or dw,
              display_height = (rot == 90 or rot == 270) and dw or h,
              hdr = o.hdr or "sdr", hflip = false }
  return { path = "src.mkv", video = v }
end

describe("ladder.standard{source = probe}", function()
  it("keeps a wide source's width: 1920x800 gets a 1920-wide top rung", function()
    assert.are.same({ "800p 1920x800", "534p 1280x534", "356p 854x356", "266p 640x266" },
                    sizes(ladder.standard { source = src(1920, 800) }))
  end)

  it("resizes an anamorphic source by its SAR: 720x576 at 64:45 shows 1024x576", function()
    assert.are.same({ "576p 1024x576", "480p 854x480", "360p 640x360" },
                    sizes(ladder.standard { source = src(720, 576, { sar_num = 64, sar_den = 45 }) }))
  end)

  it("fits 4:3 into the 16:9 boxes by height", function()
    assert.are.same({ "1080p 1440x1080", "720p 960x720", "480p 640x480", "360p 480x360" },
                    sizes(ladder.standard { source = src(1440, 1080) }))
  end)

  it("never goes above the display size and drops duplicates", function()
    assert.are.same({ "540p 960x540", "480p 854x480", "360p 640x360" },
                    sizes(ladder.standard { source = src(960, 540) }))
    -- An odd display size rounds down, never up.
    assert.are.same({ "574p 1022x574" },
                    sizes(ladder.standard { source = src(1023, 575), heights = { 1080, 720 } }))
  end)

  it("turns the boxes for a rotated (portrait) source", function()
    assert.are.same({ "1080p 1080x1920", "720p 720x1280", "480p 480x854", "360p 360x640" },
                    sizes(ladder.standard { source = src(1920, 1080, { rotation = 90 }) }))
  end)

  it("gives PQ and HLG sources 10-bit rungs, SDR the job's default", function()
    for _, kind in ipairs { "pq", "hlg" } do
      for _, r in ipairs(ladder.standard { source = src(1280, 720, { hdr = kind }) }) do
        assert.are.equal(10, r.bit_depth)
      end
    end
    assert.is_nil(ladder.standard({ source = src(1280, 720) })[1].bit_depth)
    assert.are.equal(8, ladder.standard({ source = src(1280, 720, { hdr = "pq" }),
                                          bit_depth = 8 })[1].bit_depth)
  end)

  it("takes explicit boxes", function()
    assert.are.same({ "1080p 1440x1080", "240p 320x240" },
                    sizes(ladder.standard { source = src(1440, 1080),
                                            boxes = { { 1920, 1080 }, { 320, 320 } } }))
  end)

  it("raises on a source without video and on conflicting sizes", function()
    assert.has_error(function() ladder.standard { source = { path = "a.m4a", audio = {} } } end,
                     "ladder.standard: source: a.m4a has no video stream")
    assert.has_error(function()
      ladder.standard { source = src(640, 360), source_width = 640, source_height = 360 }
    end, "ladder.standard: give source or source_width/source_height, not both")
    assert.has_error(function() ladder.standard { heights = { 720 }, boxes = { { 1280, 720 } } } end,
                     "ladder.standard: give heights or boxes, not both")
  end)
end)

describe("ladder.check", function()
  it("says nothing about a ladder built from the source", function()
    local s = src(1920, 800)
    assert.are.same({}, ladder.check(ladder.standard { source = s }, s))
  end)

  it("warns about upscaling, stretching and 8-bit HDR, naming the rung", function()
    local s = src(960, 720, { hdr = "pq" })
    local w = ladder.check({ { name = "1080p", width = 1920, height = 1080, bit_depth = 10 },
                             { name = "540p", width = 720, height = 540, bit_depth = 8 } }, s)
    assert.are.equal(3, #w)
    assert.matches("^video.ladder%[1%] %(1080p%): 1920x1080 is larger than the source's " ..
                   "display size 960x720", w[1])
    assert.matches("^video.ladder%[1%] %(1080p%): 1920x1080, aspect 1.778 differs from the " ..
                   "source's display size 960x720 %(aspect 1.333%): the picture will be stretched", w[2])
    assert.matches("^video.ladder%[2%] %(540p%): 8%-bit rung for a PQ %(HDR%) source", w[3])
  end)

  it("explains an anamorphic source's sizes; a rotated source is judged by its display", function()
    local w = ladder.check({ { name = "576p", width = 720, height = 576 } },
                           src(720, 576, { sar_num = 64, sar_den = 45 }))
    assert.are.equal(1, #w)
    assert.matches("coded 720x576, SAR 64:45", w[1])
    -- The engine turns the pixels: a portrait rung for a 90-degree source is right ...
    assert.is_true(ladder.ENGINE_ROTATES)
    w = ladder.check({ { name = "360p", width = 360, height = 640 } },
                     src(640, 360, { rotation = 90 }))
    assert.are.same({}, w)
    -- ... and a rung sized for the stored picture is too wide and stretched.
    w = ladder.check({ { name = "360p", width = 640, height = 360 } },
                     src(640, 360, { rotation = 90 }))
    assert.are.equal(2, #w)
    assert.matches("640x360 is larger than the source's display size 360x640 %(coded 640x360, "
                   .. "SAR 1:1, rotation 90%)", w[1])
    assert.matches("will be stretched", w[2])
  end)
end)

describe("ladder.hdr_metadata", function()
  local md = { red = { 0.68, 0.32 }, green = { 0.265, 0.69 }, blue = { 0.15, 0.06 },
               white_point = { 0.3127, 0.329 }, min_luminance = 0.005, max_luminance = 1000 }
  it("returns a PQ or HLG source's mastering display and light level, as copies", function()
    for _, hdr in ipairs { "pq", "hlg" } do
      local info = { video = { hdr = hdr, mastering_display = md,
                               content_light_level = { max_cll = 1000, max_fall = 400 } } }
      local m, c = ladder.hdr_metadata(info)
      assert.are.same(md, m)
      assert.are_not.equal(md, m)
      assert.are.same({ max_cll = 1000, max_fall = 400 }, c)
    end
  end)
  it("returns nothing for SDR, for a source that says nothing, or without luminance", function()
    assert.are.same({}, { ladder.hdr_metadata { video = { hdr = "sdr", mastering_display = md } } })
    assert.are.same({}, { ladder.hdr_metadata { video = { hdr = "pq" } } })
    assert.are.same({}, { ladder.hdr_metadata { video = { hdr = "pq", mastering_display = {
      red = md.red, green = md.green, blue = md.blue, white_point = md.white_point } } } })
    assert.are.same({}, { ladder.hdr_metadata {} })
  end)
end)

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
    assert.are.same({ "480p 654x480", "360p 490x360" },
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
                     "ladder.standard: heights[1]: expected an even integer >= 16, got 721")
    assert.has_error(function() ladder.standard { height = { 720 } } end,
                     "ladder.standard: height: unknown key")
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

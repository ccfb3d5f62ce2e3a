-- cmafeng.chunking: the policies, the scene picker on synthetic scores, cut-list checks.
local chunking = require "cmafeng.chunking"

-- A score table at `fps` for `seconds`, with score 1 at the given cut times and `noise`
-- elsewhere.
local function scores(fps, seconds, cuts, noise)
  local s = { times = {}, scores = {}, fps = fps, duration = seconds }
  local n = math.floor(seconds * fps + 0.5)
  for i = 1, n do
    local t = (i - 1) / fps
    s.times[i] = t
    s.scores[i] = noise or 0
    for _, c in ipairs(cuts) do
      if math.abs(c - t) < 0.5 / fps then s.scores[i] = type(cuts[c]) == "number" and cuts[c] or 1 end
    end
  end
  return s
end

describe("chunking.fixed and chunking.scene", function()
  it("fill defaults and check their options", function()
    assert.are.same({ kind = "fixed", seconds = 2 }, chunking.fixed())
    assert.are.same({ kind = "scene", min = 1, max = 4, threshold = 0.3, width = 160 },
                    chunking.scene())
    assert.has_error(function() chunking.fixed { seconds = 0 } end,
                     "chunking.fixed: seconds: expected a number > 0, got 0")
    assert.has_error(function() chunking.scene { min = 5, max = 2 } end,
                     "chunking.scene: min (5) is greater than max (2)")
    assert.has_error(function() chunking.scene { treshold = 0.5 } end,
                     'chunking.scene: treshold: unknown key (did you mean "threshold"?)')
  end)
end)

describe("chunking.pick", function()
  local o = { min = 1, max = 4, threshold = 0.3 }

  it("cuts at every scene change spaced at least min apart", function()
    local cuts = chunking.pick(scores(25, 10, { 1.6, 4.0, 5.2 }), o)
    -- The last 4.8 s have no scene change: two segments of 2.4 s.
    assert.are.same({ 1.6, 4.0, 5.2, 7.6 }, cuts)
  end)

  it("skips scene changes closer than min and keeps the strongest of a burst", function()
    local s = scores(25, 10, { 2.0, 2.4, 2.6, 6.0 })
    s.scores[math.floor(2.4 * 25 + 1.5)] = 0.9 -- the middle of the burst is the strongest
    s.scores[math.floor(2.0 * 25 + 1.5)] = 0.5
    s.scores[math.floor(2.6 * 25 + 1.5)] = 0.5
    local cuts = chunking.pick(s, o)
    assert.are.same({ 2.4, 6.0 }, cuts)
  end)

  it("splits a gap without scene changes into equal segments of at most max", function()
    local cuts, decisions = chunking.pick(scores(25, 10, {}), o)
    assert.are.equal(2, #cuts)
    assert.is_true(decisions[1].forced)
    local prev = 0
    for _, c in ipairs { cuts[1], cuts[2], 10 } do
      assert.is_true(c - prev <= 4 and c - prev >= 3.2, "segment " .. prev .. ".." .. c)
      prev = c
    end
    -- Up to the next scene change only: 0..6 has none, 6 is a cut.
    assert.are.same({ 3.0, 6.0 }, chunking.pick(scores(25, 8, { 6.0 }), o))
    cuts = chunking.pick(scores(25, 8.5, {}), { min = 2, max = 4, threshold = 0.3 })
    assert.are.same({ 2.84, 5.68 }, cuts)
  end)

  it("ignores a scene change that would make the last segment shorter than min", function()
    assert.are.same({ 3.0 }, chunking.pick(scores(25, 5, { 3.0, 4.6 }), o))
  end)

  it("takes a frame rate's exact frame times", function()
    local cuts = chunking.pick(scores(30000 / 1001, 6, { 2.5 }), o)
    assert.are.equal(1, #cuts)
    assert.is_true(math.abs(cuts[1] - 75 * 1001 / 30000) < 1e-9)
  end)
end)

describe("chunking.check_cuts", function()
  it("accepts a sorted list inside the source", function()
    assert.are.same({ 1, 2.5 }, chunking.check_cuts({ 1, 2.5 }, 4))
  end)

  it("names every bad cut", function()
    local _, errs = chunking.check_cuts({ 0, 2, 2, "x", 5 }, 4)
    local msgs = {}
    for i, e in ipairs(errs) do msgs[i] = e.path .. ": " .. e.message end
    assert.are.same({
      "chunking[1]: expected a time > 0 (the first segment starts at 0), got 0",
      "chunking[3]: 2 is not after cut 2 (2): cuts must be sorted and distinct",
      'chunking[4]: expected a time in seconds, got "x"',
      "chunking[5]: 5 is not before the end of the source (4.000 s)",
    }, msgs)
    _, errs = chunking.check_cuts({ 1, x = 2 }, 4)
    assert.are.equal("chunking.x", errs[1].path)
  end)

  it("is what the recipe schema runs on a literal list", function()
    local recipe = require "cmafeng.recipe"
    local _, err = recipe.validate({ source = "a.mkv", chunking = { 3, 1 },
                                     video = { ladder = { { width = 320, height = 180 } } } })
    assert.are.equal("chunking[2]: 1 is not after cut 1 (3): cuts must be sorted and distinct", err)
    _, err = recipe.validate({ source = "a.mkv", chunking = "scene",
                               video = { ladder = { { width = 320, height = 180 } } } })
    assert.matches('^chunking: expected chunking.fixed{...}, chunking.scene{...}, a function', err)
    _, err = recipe.validate({ source = "a.mkv", chunking = { 1 }, segment_seconds = 2,
                               video = { ladder = { { width = 320, height = 180 } } } })
    assert.are.equal("segment_seconds: give segment_seconds or chunking, not both", err)
  end)

  it("refuses a segment longer than the engine accepts", function()
    local job = { chunking = { 40 }, video = {} }
    local ok, errs = chunking.resolve(job, { video = { duration = 60 } })
    assert.is_nil(ok)
    assert.are.equal("the segment from 0.000 s to 40.000 s is longer than 30 s", errs[1].message)
  end)
end)

describe("rate caps in the recipe schema", function()
  local recipe = require "cmafeng.recipe"
  local function rung(t)
    t.width, t.height = 320, 180
    return { source = "a.mkv", video = { ladder = { t } } }
  end

  it("accepts max_bitrate with or without buffer_size", function()
    local job = assert(recipe.validate(rung { max_bitrate = 800000, buffer_size = 1600000 }))
    assert.are.equal(800000, job.video.ladder[1].max_bitrate)
    assert(recipe.validate(rung { max_bitrate = 800000 }))
  end)

  it("refuses buffer_size alone and tiny caps", function()
    local _, err = recipe.validate(rung { buffer_size = 1600000 })
    assert.are.equal("video.ladder[1].buffer_size: buffer_size needs max_bitrate (a capped CRF sets both)", err)
    _, err = recipe.validate(rung { max_bitrate = 100 })
    assert.are.equal("video.ladder[1].max_bitrate: expected an integer >= 10000 (bit/s, capped CRF), got 100", err)
  end)

  it("warns while the engine does not pass caps on", function()
    local job = assert(recipe.validate(rung { max_bitrate = 800000 }))
    job = assert(recipe.prepare(job, "x.lua"))
    assert.are.equal(recipe.ENGINE_RATE_CAPS and 0 or 1, #job.warnings)
  end)
end)

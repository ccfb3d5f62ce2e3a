-- Recipes that see their source: cmafeng.probe on generated files, recipes/abr_ladder.lua
-- fitted to them, recipe.load's warnings for hand-written ladders, and chunking resolved
-- against a real file (the scene pre-pass in C).
local cmafeng = require "cmafeng"
local recipe = require "cmafeng.recipe"
local probe = require "cmafeng.probe"

local dir
local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. p) == 0)
  return p
end
local function ffmpeg(args, name)
  local out = dir .. "/" .. name
  assert.are.equal(0, os.execute("ffmpeg -v error -y " .. args .. " " .. out))
  return out
end
local function write(name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

setup(function() dir = tmpdir() end)
teardown(function() os.execute("rm -rf " .. dir) end)

describe("cmafeng.probe", function()
  it("describes a wide source and is the module's probe", function()
    local f = ffmpeg("-f lavfi -i testsrc2=s=1920x800:r=24:d=0.25 -c:v libx264 -preset ultrafast",
                     "wide.mkv")
    local info = assert(cmafeng.probe(f))
    assert.are.equal(1920, info.video.display_width)
    assert.are.equal(800, info.video.display_height)
    assert.are.equal(6, info.video.frames)
    assert.is_true(info.video.frames_exact)
    assert.are.equal("12:5", probe.aspect(info.video))
    assert.matches("display 1920x800 %(12:5%)", probe.text(info))
  end)

  it("returns nil, message, code for a missing file and raises on a non-string", function()
    local info, err, code = cmafeng.probe(dir .. "/none.mkv")
    assert.is_nil(info)
    assert.matches("none.mkv: No such file or directory$", err)
    assert.are.equal("CME_EIO", code)
    assert.has_error(function() cmafeng.probe(42) end,
                     "cmafeng.probe: expected a file name, got number")
  end)
end)

describe("recipes/abr_ladder.lua", function()
  local function sizes(job)
    local out = {}
    for i, r in ipairs(job.video.ladder) do
      out[i] = string.format("%s %dx%d %d-bit", r.name, r.width, r.height, r.bit_depth)
    end
    return out
  end

  it("fits a 1920x800 source by width and warns about nothing", function()
    local job = assert(recipe.load("recipes/abr_ladder.lua", { dir .. "/wide.mkv" }))
    assert.are.same({ "534p 1280x534 8-bit", "356p 854x356 8-bit", "266p 640x266 8-bit" },
                    sizes(job))
    assert.are.same({}, job.warnings)
    assert.are.equal(0, job.video.rotation)
    assert.is_false(job.video.hflip)
  end)

  it("resizes an anamorphic source and does not upscale a small one", function()
    local f = ffmpeg("-f lavfi -i testsrc2=s=720x576:r=25:d=0.2 -aspect 16:9 -c:v libx264 " ..
                     "-preset ultrafast", "anam.mp4")
    local job = assert(recipe.load("recipes/abr_ladder.lua", { f }))
    assert.are.same({ "576p 1024x576 8-bit", "480p 854x480 8-bit", "360p 640x360 8-bit" },
                    sizes(job))
    f = ffmpeg("-f lavfi -i testsrc2=s=640x480:r=25:d=0.2 -c:v libx264 -preset ultrafast",
               "small.mp4")
    job = assert(recipe.load("recipes/abr_ladder.lua", { f }))
    assert.are.same({ "480p 640x480 8-bit", "360p 480x360 8-bit" }, sizes(job))
  end)

  it("gives a PQ source 10-bit rungs", function()
    local f = ffmpeg("-f lavfi -i testsrc2=s=640x360:r=25:d=0.2 -c:v libx265 -preset ultrafast " ..
                     "-pix_fmt yuv420p10le -x265-params log-level=error:colorprim=bt2020:" ..
                     "transfer=smpte2084:colormatrix=bt2020nc", "pq.mkv")
    local job = assert(recipe.load("recipes/abr_ladder.lua", { f }))
    assert.are.same({ "360p 640x360 10-bit" }, sizes(job))
    assert.is_nil(job.video.mastering_display) -- the source says none
    assert.is_nil(job.video.content_light_level)
  end)

  it("carries a PQ source's mastering display and light level unless told not to", function()
    local f = ffmpeg("-f lavfi -i testsrc2=s=640x360:r=25:d=0.2 -c:v libx265 -preset ultrafast " ..
                     "-pix_fmt yuv420p10le -x265-params 'log-level=error:colorprim=bt2020:" ..
                     "transfer=smpte2084:colormatrix=bt2020nc:master-display=G(13250,34500)" ..
                     "B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400'",
                     "pq_md.mkv")
    local job = assert(recipe.load("recipes/abr_ladder.lua", { f }))
    local md = job.video.mastering_display
    assert.are.same({ 0.68, 0.32 }, md.red)
    assert.are.same({ 0.265, 0.69 }, md.green)
    assert.are.same({ 0.15, 0.06 }, md.blue)
    assert.are.same({ 0.3127, 0.329 }, md.white_point)
    assert.are.same({ 0.005, 1000 }, { md.min_luminance, md.max_luminance })
    assert.are.same({ max_cll = 1000, max_fall = 400 }, job.video.content_light_level)
    local path = write("off.lua", "return { source = arg[1], video = { hdr_metadata = false, "
                       .. "ladder = { { width = 640, height = 360, bit_depth = 10 } } } }\n")
    job = assert(recipe.load(path, { f }))
    assert.is_nil(job.video.mastering_display)
    assert.is_nil(job.video.content_light_level)
  end)

  it("refuses a source without video, naming it", function()
    local f = ffmpeg("-f lavfi -i sine=d=0.2 -c:a aac", "audio.m4a")
    local job, err = recipe.load("recipes/abr_ladder.lua", { f })
    assert.is_nil(job)
    assert.are.equal("recipes/abr_ladder.lua: " .. f .. ": no video stream: nothing to encode", err)
  end)
end)

describe("recipe.load with a real source", function()
  it("warns when an explicit ladder upscales or stretches", function()
    local r = write("explicit.lua", string.format([[
return {
  source = %q,
  video = { ladder = {
    { width = 1280, height = 720 },
    { width = 854, height = 356 },
  } },
}
]], dir .. "/anam.mp4"))
    local job = assert(recipe.load(r, {}))
    assert.are.equal(2, #job.warnings)
    assert.matches("^video.ladder%[1%] %(720p%): 1280x720 is larger than the source's display " ..
                   "size 1024x576 %(coded 720x576, SAR 64:45, rotation 0%)", job.warnings[1])
    assert.matches("^video.ladder%[2%] %(356p%): 854x356, aspect 2.399 differs", job.warnings[2])
  end)

  it("resolves scene chunking into video.cuts and a cut function through the sandbox", function()
    -- Three shots: 1.2 s of testsrc2, 0.8 s of SMPTE bars, 1 s of a mandelbrot zoom.
    local f = ffmpeg("-f lavfi -i testsrc2=s=320x180:r=25:d=1.2 -f lavfi -i smptebars=s=320x180:r=25:d=0.8 " ..
                     "-f lavfi -i mandelbrot=s=320x180:r=25 -filter_complex " ..
                     "\"[2]trim=duration=1[m];[0][1][m]concat=n=3:v=1:a=0\" -c:v libx264 -preset ultrafast",
                     "shots.mkv")
    local r = write("scene.lua", string.format([[
local chunking = require "cmafeng.chunking"
return {
  source = %q,
  chunking = chunking.scene { min = 0.5, max = 2, threshold = 0.3 },
  video = { ladder = { { width = 320, height = 180 } } },
}
]], f))
    local job = assert(recipe.load(r, {}))
    assert.are.same({ 1.2, 2.0 }, job.video.cuts)
    assert.is_false(not not job.chunking_decisions[1].forced)

    r = write("fn.lua", string.format([[
return {
  source = %q,
  chunking = function(src) return { src.video.duration / 2 } end,
  video = { ladder = { { width = 320, height = 180 } } },
}
]], f))
    job = assert(recipe.load(r, {}))
    assert.are.same({ 1.5 }, job.video.cuts)

    r = write("bad_cuts.lua", string.format([[
return {
  source = %q,
  chunking = function() return { 2, 1, 9 } end,
  video = { ladder = { { width = 320, height = 180 } } },
}
]], f))
    local _, err = recipe.load(r, {})
    assert.are.equal(r .. ":3: chunking[2]: 1 is not after cut 1 (2): cuts must be sorted and distinct\n" ..
                     r .. ":3: chunking[3]: 9 is not before the end of the source (3.000 s)", err)

    r = write("fixed.lua", string.format([[
local chunking = require "cmafeng.chunking"
return {
  source = %q,
  chunking = chunking.fixed { seconds = 1.5 },
  video = { ladder = { { width = 320, height = 180 } } },
}
]], f))
    job = assert(recipe.load(r, {}))
    assert.are.equal(1.5, job.segment_seconds)
    assert.is_nil(job.video.cuts)
  end)
end)

describe("recipes/abr_ladder.lua on a 16:9 source", function()
  it("makes the 720/480/360 ladder with the documented settings", function()
    local f = ffmpeg("-f lavfi -i testsrc2=s=1280x720:r=25:d=0.2 -c:v libx264 -preset ultrafast",
                     "hd.mp4")
    local job = assert(recipe.load("recipes/abr_ladder.lua", { f }))
    assert.are.equal("out", job.output)
    assert.are.equal(2, job.segment_seconds)
    assert.are.equal(2, job.workers)
    local sizes = {}
    for i, r in ipairs(job.video.ladder) do
      sizes[i] = string.format("%s %dx%d crf%d p%d", r.name, r.width, r.height, r.crf, r.preset)
    end
    assert.are.same({ "720p 1280x720 crf35 p10", "480p 854x480 crf35 p10",
                      "360p 640x360 crf35 p10" }, sizes)
  end)
end)

describe("a rotated source", function()
  it("gets portrait rungs, job.video.rotation as the engine applies it, and no warning", function()
    local flat = ffmpeg("-f lavfi -i testsrc2=s=640x360:r=25:d=0.2 -c:v libx264 -preset ultrafast",
                        "flat.mp4")
    local f = ffmpeg("-i " .. flat .. " -c copy -metadata:s:v:0 rotate=90", "rot.mp4")
    local job = assert(recipe.load("recipes/abr_ladder.lua", { f }))
    local out = {}
    for i, r in ipairs(job.video.ladder) do out[i] = r.width .. "x" .. r.height end
    assert.are.same({ "360x640" }, out) -- every box holds the whole 360x640 display
    -- FFmpeg 5.1 stores rotate=90 as a matrix its own autorotate turns 90 degrees
    -- counter-clockwise (av_display_rotation_set(-90)): 270 clockwise.
    assert.are.equal(270, job.video.rotation)
    assert.are.same({}, job.warnings)
  end)
end)

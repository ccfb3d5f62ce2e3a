-- The C bindings (build/lua/cmafeng/core.so, loaded by plain luajit) and the pure-Lua
-- library on top of them: version, backends, probe, av1, and a real engine run.
local cmafeng = require "cmafeng"
local core = require "cmafeng.core"
local json = require "cmafeng.json"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. p) == 0)
  return p
end

describe("cmafeng.core", function()
  it("reports its version and the svt backend", function()
    assert.matches("^%d+%.%d+%.%d+$", core.version())
    local svt
    for _, b in ipairs(core.backends(true)) do
      if b.name == "svt" then svt = b end
    end
    assert.is_true(svt.built)
    assert.is_true(svt.available)
    assert.matches("SVT%-AV1", svt.status)
  end)

  it("probe returns nil, message, code for a missing file", function()
    local info, err, code = core.probe("/nonexistent/clip.mkv")
    assert.is_nil(info)
    assert.are.equal("/nonexistent/clip.mkv: No such file or directory", err)
    assert.are.equal("CME_EIO", code)
  end)

  it("engine.new refuses a source that is not media, writing nothing", function()
    local dir = tmpdir()
    local bad = dir .. "/bad.mkv"
    local f = assert(io.open(bad, "wb"))
    f:write(string.rep("not a video ", 1000))
    f:close()
    local eng, err, code = core.engine.new {
      source = bad, output = dir .. "/out", segment_seconds = 1, workers = 1,
      threads_per_worker = 1, queue_depth = 2, invariant = "cmaf",
      video = { ladder = { { name = "a", width = 64, height = 64, crf = 40, preset = 12 } } },
    }
    assert.is_nil(eng)
    assert.matches("^" .. bad:gsub("%p", "%%%0") .. ": ", err)
    assert.are.equal("CME_EMEDIA", code)
    assert.is_nil(io.open(dir .. "/out"))
  end)
end)

describe("cmafeng.av1", function()
  it("parses a real SVT-AV1 sequence header", function()
    local s = assert(cmafeng.av1.parse(read("tests/fixtures/av1/svt_8bit_bt709.obu")))
    assert.are.equal(0, s.seq_profile)
    assert.are.equal(8, s.color_config.bit_depth)
    assert.are.equal(1, s.color_config.color_primaries)
    assert.is_string(s.codec_string)
    assert.matches("^av01%.0%.%d%dM%.08", s.codec_string)
  end)

  it("compares two headers field by field", function()
    local a = read("tests/fixtures/av1/svt_8bit_bt709.obu")
    local b = read("tests/fixtures/av1/svt_10bit_pq_full.obu")
    local same = cmafeng.av1.invariant(a, a, "cmaf")
    assert.is_true(same)
    local ok, diffs = cmafeng.av1.invariant(a, b, "cmaf")
    assert.is_false(ok)
    local fields = {}
    for _, d in ipairs(diffs) do fields[d.field] = d end
    assert.is_table(fields["color_config.bit_depth"])
    assert.are.equal(8, fields["color_config.bit_depth"].a)
    assert.are.equal(10, fields["color_config.bit_depth"].b)
  end)

  it("returns nil, message for bytes without a sequence header", function()
    local s, err = cmafeng.av1.parse("\18\0")
    assert.is_nil(s)
    assert.is_string(err)
  end)
end)

describe("cmafeng.run", function()
  it("encodes a clip on two workers and reports every segment", function()
    local dir = tmpdir()
    local src = dir .. "/src.mkv"
    assert.are.equal(0, os.execute("ffmpeg -v error -y -f lavfi -i testsrc2=s=128x72:r=10:d=2 " ..
      "-c:v libx264 -preset ultrafast -pix_fmt yuv420p " .. src))
    local seen = {}
    local report, err = cmafeng.run({
      source = src, output = dir .. "/out", segment_seconds = 0.5, workers = 2,
      threads_per_worker = 1, queue_depth = 2, invariant = "cmaf",
      video = { ladder = {
        { name = "a", width = 128, height = 72, crf = 45, preset = 12 },
        { name = "b", width = 112, height = 64, crf = 45, preset = 12 },
      } },
      on_segment = function(ev) seen[#seen + 1] = ev.rendition .. ":" .. ev.index end,
    }, {})
    assert.is_nil(err)
    assert.is_table(report)
    assert.are.equal(8, #report.segments)
    assert.are.equal(8, #seen)
    for _, r in ipairs(report.renditions) do
      assert.are.equal(4, r.segments)
      assert.matches("^av01%.", r.codecs)
    end
    local on_disk = json.decode(read(dir .. "/out/report.json"))
    assert.is_true(on_disk.ok)
    assert.are.equal(8, #on_disk.segments)
    assert.truthy(read(dir .. "/out/a/seg_00004.m4s"))
    assert.truthy(read(dir .. "/out/master.m3u8"):find("a/index.m3u8", 1, true))
  end)
end)

describe("require \"cmafeng.av1\"", function()
  it("is the C module's av1 functions; parse also takes a file's path", function()
    local av1 = require "cmafeng.av1"
    assert.are.equal(core.av1.codec_string, av1.codec_string)
    assert.are.equal(core.av1.invariant, av1.invariant)
    local path = "tests/fixtures/av1/svt_8bit_bt709.obu"
    local f = assert(io.open(path, "rb"))
    local bytes = f:read("*a")
    f:close()
    assert.are.same(core.av1.parse(bytes), av1.parse(bytes))
    assert.are.same(core.av1.parse(bytes), av1.parse(path))
    local none, err = av1.parse("/nonexistent/seg.m4s")
    assert.is_nil(none)
    assert.is_string(err)
  end)
end)

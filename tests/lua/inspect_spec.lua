-- cmafeng.core.inspect (the C binding) and cmafeng.inspect (text and JSON) on the committed
-- AV1 fixtures; the containers themselves are covered by tests/c/test_inspect.c and
-- tests/e2e/test_inspect.sh.
local core = require "cmafeng.core"
local inspect = require "cmafeng.inspect"
local json = require "cmafeng.json"

local FIXTURE = "tests/fixtures/av1/svt_8bit_bt709.obu"

describe("cmafeng.core.inspect", function()
  it("reads an OBU stream: format, codec string, sequence header, samples", function()
    local info = assert(core.inspect(FIXTURE))
    assert.are.equal("obu", info.format)
    assert.are.equal("av01.0.00M.08", info.codec_string)
    assert.are.equal("sample", info.sequence_header_source)
    assert.are.equal(63, info.sequence_header.max_frame_width_minus_1)
    assert.are.equal(1, info.sequence_header.color_config.color_primaries)
    assert.are.equal(3, #info.samples)
    assert.are.equal("KEY", info.samples[1].frame_type)
    assert.is_true(info.samples[1].sync)
    assert.is_true(info.samples[1].has_seq_hdr)
    assert.is_false(info.samples[2].sync)
    assert.is_nil(info.samples[1].dts) -- no timing_info: no time
    assert.is_nil(info.av1c)
  end)

  it("returns nil, message, code for a missing or malformed file", function()
    local info, err, code = core.inspect("/nonexistent/x.mp4")
    assert.is_nil(info)
    assert.are.equal("/nonexistent/x.mp4: No such file or directory", err)
    assert.are.equal("CME_EIO", code)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("\0\0\19\136moov", string.rep("\0", 40)) -- moov claiming 5000 bytes
    f:close()
    info, err, code = core.inspect(path)
    os.remove(path)
    assert.is_nil(info)
    assert.matches("moov: box size 5000 exceeds its parent", err, 1, true)
    assert.are.equal("CME_EBITSTREAM", code)
  end)

  it("raises on a bad argument", function()
    assert.has_error(function() core.inspect() end)
  end)
end)

describe("cmafeng.inspect", function()
  it("summarises and formats text and JSON", function()
    local info = assert(inspect.read(FIXTURE))
    assert.are.equal(3, info.frames)
    assert.are.equal(1, info.sync_samples)
    assert.are.equal(1, info.key_frames)
    local text = inspect.text(info)
    assert.matches("codec string: av01.0.00M.08", text, 1, true)
    assert.matches("profile 0 (Main), level 2.0", text, 1, true)
    assert.matches("KEY        sync seq\n", text, 1, true)
    local back = assert(json.decode(inspect.json(info)))
    assert.are.equal("av01.0.00M.08", back.codec_string)
    assert.are.equal(3, #back.samples)
  end)

  it("names levels as in AV1 annex A.3", function()
    assert.are.equal("2.0", inspect.level_name(0))
    assert.are.equal("5.1", inspect.level_name(13))
    assert.are.equal("max", inspect.level_name(31))
  end)
end)

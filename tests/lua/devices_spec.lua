-- cmafeng.core.devices() (engine/lua/devices.c) and `cmafeng devices`: discovery on this
-- machine, which has SVT-AV1, libaom and rav1e, and no GPU.
local core = require "cmafeng.core"
local json = require "cmafeng.json"

describe("cmafeng.core.devices", function()
  local r = core.devices()

  it("lists the software encoders as devices that can run", function()
    local ids = {}
    for _, d in ipairs(r.devices) do
      ids[d.id] = d
      assert.is_string(d.backend)
      assert.is_string(d.status)
      assert.is_number(d.max_width)
    end
    for _, id in ipairs { "cpu-svt", "cpu-aom", "cpu-rav1e" } do
      assert.is_table(ids[id], id)
      assert.is_true(ids[id].can_run)
      assert.is_true(ids[id].ten_bit)
      assert.equals(0, ids[id].sessions) -- bounded by the cores
    end
    assert.matches("every encoder opened before the first frame", ids["cpu-svt"].status)
    assert.matches("cpu%-used 0%.%.%d", ids["cpu-aom"].status)
  end)

  it("has one line per backend, and says what the FFmpeg build lacks", function()
    local seen, ffmpeg = {}, {}
    for _, b in ipairs(r.backends) do
      assert.is_boolean(b.built)
      assert.is_boolean(b.available)
      if b.backend == "ffmpeg" then ffmpeg[#ffmpeg + 1] = b.status else seen[b.backend] = b end
    end
    for _, name in ipairs { "svt", "aom", "rav1e", "nvenc", "qsv", "vaapi", "amf" } do
      assert.is_table(seen[name], name)
      assert.is_true(#seen[name].status > 0)
    end
    assert.is_true(seen.svt.available)
    local nvenc = table.concat(ffmpeg, "\n"):match("av1_nvenc[^\n]*")
    assert.is_string(nvenc)
    -- Either this FFmpeg has it, or the line says which version does.
    assert.is_truthy(nvenc:match("through FFmpeg") or nvenc:match("needs FFmpeg >= 6%.0"))
  end)

  it("encodes as JSON for `cmafeng devices --json`", function()
    local back = json.decode(json.encode(r))
    assert.equals(#r.devices, #back.devices)
  end)
end)

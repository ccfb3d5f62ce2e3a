-- hdr10.lua: an HDR10 (PQ) or HLG source to 10-bit AV1 rungs that stay HDR.
--
--   cmafeng run recipes/hdr10.lua -- input_pq.mkv
--
-- The colour description (BT.2020 primaries and matrix, the PQ or HLG transfer) is copied
-- from the source into every rung's sequence header, so the codecs string carries it
-- ("av01.0.04M.10.0.110.09.16.09.0") and the HLS playlist marks the variants VIDEO-RANGE=PQ
-- (or HLG). 8-bit HDR bands visibly; this recipe refuses an SDR source rather than encode
-- it as if it were HDR.

local cmafeng = require "cmafeng"
local ladder = require "cmafeng.ladder"

local source = arg[1]
if not source then
  error("usage: cmafeng run recipes/hdr10.lua -- SOURCE", 0)
end
local info, err = cmafeng.probe(source)
if not info then error(err, 0) end
local v = info.video
if not v then error(source .. ": no video stream: nothing to encode", 0) end
if v.hdr == "sdr" then
  error(string.format("%s: not an HDR source (transfer %s); use recipes/abr_ladder.lua",
                      source, v.color.transfer), 0)
end

-- What the source says about its mastering display, for the log.
local md = v.mastering_display
local cll = v.content_light_level
print(string.format("hdr10: %s %s, %d-bit%s%s", source, v.hdr:upper(), v.bit_depth,
  md and string.format(", mastering %.4f..%.0f cd/m2", md.min_luminance, md.max_luminance) or "",
  cll and string.format(", MaxCLL %d MaxFALL %d", cll.max_cll, cll.max_fall) or ""))

-- In the shape video.mastering_display / content_light_level take (nil when absent).
local hdr_md, hdr_cll = ladder.hdr_metadata(info)

return {
  source = source,
  output = "out",
  segment_seconds = 2,
  workers = 2,
  video = {
    -- bit_depth = 10 is what ladder.standard picks for PQ/HLG anyway; said here for the reader.
    ladder = ladder.standard { source = info, heights = { 1080, 720, 480 }, crf = 30,
                               preset = 10, bit_depth = 10 },
    -- The source's mastering display and content light level go into every rung: AV1
    -- metadata OBUs in the bitstream and mdcv/clli boxes in the init segments (this is also
    -- what happens when these two keys are left out; set them to override the source).
    mastering_display = hdr_md,
    content_light_level = hdr_cll,
  },
}

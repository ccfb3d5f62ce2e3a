-- per_title.lua: a ladder chosen for this source from probe encodes of it.
--
--   cmafeng run recipes/per_title.lua -- input.mkv
--
-- Before the job, short sample windows spread over the source are encoded at every
-- candidate size and at several CRFs, decoded, and measured (luma PSNR and SSIM against
-- the source at the top size, where the player shows every rung). The best quality for
-- each bit rate across all sizes (the convex hull) decides the rungs: for each target bit
-- rate, the hull point with the highest rate not above it. A cartoon gets full-size rungs
-- at low rates; grain and motion move the low rungs to smaller sizes. report.json keeps
-- the curves, the hull and the choice (per_title); per_title.svg plots them.

local cmafeng = require "cmafeng"
local ladder = require "cmafeng.ladder"

local source = arg[1]
if not source then
  error("usage: cmafeng run recipes/per_title.lua -- SOURCE", 0)
end
local info, err = cmafeng.probe(source)
if not info then error(err, 0) end
if not info.video then error(source .. ": no video stream: nothing to encode", 0) end

-- The probes run on the job's own devices, as many at once as its workers: give
-- ladder.per_title the same `workers` (or `devices`) as the job.
local workers = 2

return {
  source = source,
  output = "out",
  segment_seconds = 2,
  workers = workers,
  video = {
    ladder = ladder.per_title {
      source = info,
      workers = workers,
      -- Target peak-ish rates for the rungs, bit/s: one rung per target.
      bitrates = { 2500000, 1000000, 400000 },
      -- Candidate sizes (16:9 boxes fitted to the source) and the CRF grid of the probes.
      heights = { 1080, 720, 540, 360 },
      crfs = { 26, 34, 42, 50 },
      -- Three 1 s windows, probed at SVT-AV1's fastest preset (the curves' shape holds);
      -- the rungs are encoded at preset 10. The cost is fixed per source (windows x sizes x
      -- CRFs): 11.9 s for these 36 probes of a 720p source on 2 cores run one at a time,
      -- 30% of the 39.3 s encode of a 40 s clip, ~2% of a 10 min one (two at a time: less);
      -- report.json per_title.probe_seconds, and per_title.probes says where each ran.
      -- Probes carry a key frame per window and a faster preset, so their rates run above
      -- the final encode's: the targets are met with room to spare.
      windows = 3,
      window_seconds = 1,
      probe_preset = 12,
      preset = 10,
    },
  },
}

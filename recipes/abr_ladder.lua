-- abr_ladder.lua: the standard three-rung AV1 ladder, packaged as CMAF (HLS + DASH).
--
--   cmafeng run recipes/abr_ladder.lua -- input.mkv
--
-- Copy this file and change what you need; every field is checked when the job starts, so a
-- typo such as `segment_second` is an error, not a silently ignored setting.

-- The words after `--` on the command line arrive in `arg`.
local source = arg[1]
if not source then
  error("usage: cmafeng run recipes/abr_ladder.lua -- SOURCE", 0)
end

return {
  source = source,

  -- Output directory: master.m3u8, manifest.mpd and one directory per rung.
  output = "out",

  -- 2 s segments: short enough for quick start-up and bitrate switching, long enough that
  -- the key frame at every segment start does not cost much compression.
  segment_seconds = 2,

  -- Two workers feed the encoders (one per rung, opened before the job starts); each
  -- SVT-AV1 encoder sizes its own thread pool (threads_per_worker = 0), which kept both
  -- cores busiest on the 1080p benchmark (bench/ladder.sh). A fixed 1 thread per encoder
  -- uses ~20% less memory and runs ~4% longer there.
  workers = 2,
  threads_per_worker = 0,

  video = {
    -- Highest quality first; players list renditions in this order. Sizes are 16:9 and even
    -- (4:2:0 chroma): 480 * 16 / 9 = 853.3 rounds to 854. For other aspect ratios use
    --   ladder = require("cmafeng.ladder").standard { heights = { 720, 480, 360 },
    --                                                source_width = 1920, source_height = 800 }
    -- Names default to "<height>p" and become the directory names (out/720p/...).
    --
    -- CRF 35: lower is better quality and bigger files (1..63). Preset 10 is SVT-AV1's own
    -- default and fast; preset 8 compresses better but took ~1.6x as long on our baseline
    -- ladder. Always compare bitrate and quality, not only speed, when changing it.
    ladder = {
      { width = 1280, height = 720, crf = 35, preset = 10 },
      { width = 854,  height = 480, crf = 35, preset = 10 },
      { width = 640,  height = 360, crf = 35, preset = 10 },
    },
  },
}

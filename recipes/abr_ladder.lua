-- abr_ladder.lua: a standard AV1 ladder fitted to the source, packaged as CMAF (HLS + DASH).
--
--   cmafeng run recipes/abr_ladder.lua -- input.mkv
--
-- The ladder is built from what the source is: never above its display size, its display
-- aspect kept (a 2.4:1 film keeps its width, an anamorphic DVD is resized by its sample
-- aspect ratio, a phone video turned by its display matrix is portrait), even sizes, no two
-- rungs alike; a PQ or HLG source gets 10-bit rungs. `cmafeng probe input.mkv` shows what
-- the recipe sees. Copy this file and change what you need; every field is checked when
-- the job starts, so a typo such as `segment_second` is an error, not a silently ignored
-- setting.

local cmafeng = require "cmafeng"
local ladder = require "cmafeng.ladder"

-- The words after `--` on the command line arrive in `arg`.
local source = arg[1]
if not source then
  error("usage: cmafeng run recipes/abr_ladder.lua -- SOURCE", 0)
end

-- What the source is: sizes, SAR, rotation, frame rate, colour/HDR, audio streams.
local info, err = cmafeng.probe(source)
if not info then error(err, 0) end
if not info.video then error(source .. ": no video stream: nothing to encode", 0) end

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
    -- Boxes of 1280x720, 854x480 and 640x360 (16:9) the picture is fitted into; names are
    -- "<short side>p" and become the directory names (out/720p/...). A 1920x800 source
    -- gives 1280x534, 854x356, 640x266; a 4:3 one 960x720, 640x480, 480x360.
    --
    -- CRF 35: lower is better quality and bigger files (1..63). Preset 10 is SVT-AV1's own
    -- default and fast; preset 8 compresses better but took ~1.6x as long on our baseline
    -- ladder. Always compare bitrate and quality, not only speed, when changing it.
    ladder = ladder.standard {
      source = info,
      heights = { 720, 480, 360 },
      crf = 35,
      preset = 10,
    },
  },
}

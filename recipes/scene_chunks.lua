-- scene_chunks.lua: segments that start at scene changes, the same cuts in every rung.
--
--   cmafeng run recipes/scene_chunks.lua -- input.mkv
--
-- Before the encode, a fast pre-pass decodes the source once at 160 pixels wide and scores
-- every frame against the previous one (FFmpeg's `scene` measure: the same threshold works
-- with `ffmpeg -vf "select='gt(scene,0.3)'"`). A segment starts at the first scene change
-- at least `min` seconds after the previous cut (the strongest one within the next `min`
-- seconds wins); when none comes within `max` seconds, the segment is cut at `max`. Every
-- segment starts with a key frame, so a player can switch renditions at every boundary and
-- no key frame is wasted in the middle of a shot.

local cmafeng = require "cmafeng"
local chunking = require "cmafeng.chunking"
local ladder = require "cmafeng.ladder"

local source = arg[1]
if not source then
  error("usage: cmafeng run recipes/scene_chunks.lua -- SOURCE", 0)
end
local info, err = cmafeng.probe(source)
if not info then error(err, 0) end
if not info.video then error(source .. ": no video stream: nothing to encode", 0) end

return {
  source = source,
  output = "out",
  -- Segments of 1 to 4 seconds; a score of 0.3 or more is a scene change.
  chunking = chunking.scene { min = 1, max = 4, threshold = 0.3 },
  workers = 2,
  video = {
    ladder = ladder.standard { source = info, heights = { 720, 360 }, crf = 35, preset = 10 },
  },
}

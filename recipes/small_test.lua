-- small_test.lua: a tiny, fast job for the end-to-end tests.
--
--   cmafeng run recipes/small_test.lua -- SOURCE [OUTPUT]
--
-- Two small rungs at the fastest settings, 1 s segments so a few seconds of input give
-- several segments per rung, and two workers so chunks really are encoded in parallel.

local source = arg[1]
if not source then
  error("usage: cmafeng run recipes/small_test.lua -- SOURCE [OUTPUT]", 0)
end

return {
  source = source,
  output = arg[2] or "out",
  segment_seconds = 1,
  workers = 2,
  video = {
    ladder = {
      { width = 320, height = 180, crf = 40, preset = 12 },
      { width = 160, height = 90,  crf = 40, preset = 12 },
    },
  },
}

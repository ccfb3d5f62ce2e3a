-- ladder_1080.lua: the benchmark ladder (bench/ladder.sh).
--
--   cmafeng run bench/recipes/ladder_1080.lua -- SOURCE [OUTPUT [THREADS_PER_WORKER]]
--
-- Three rungs, 1080p / 720p / 360p, at the same SVT-AV1 preset and CRF as the ffmpeg side of
-- the benchmark, 2 s segments (key frame every 50 frames at 25 fps, closed GOP). Two workers
-- fill the 2-core reference machine. THREADS_PER_WORKER (default 0) lets the bench compare
-- one SVT-AV1 thread per encoder against the library default (0 = all cores).

local source = arg[1]
if not source then
  error("usage: cmafeng run bench/recipes/ladder_1080.lua -- SOURCE [OUTPUT [THREADS_PER_WORKER]]", 0)
end

local threads = tonumber(arg[3] or "0")
if not threads then
  error("THREADS_PER_WORKER must be a number, got " .. tostring(arg[3]), 0)
end

return {
  source = source,
  output = arg[2] or "out",
  segment_seconds = 2,
  workers = 2,
  threads_per_worker = threads,
  video = {
    ladder = {
      { width = 1920, height = 1080, crf = 35, preset = 10 },
      { width = 1280, height = 720,  crf = 35, preset = 10 },
      { width = 640,  height = 360,  crf = 35, preset = 10 },
    },
  },
}

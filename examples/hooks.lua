-- Lua snippets for recipes. Copy what you need into a recipe that returns a job table.
--
--   cmafeng run examples/hooks.lua -- input.mkv out

local ladder = require "cmafeng.ladder"

-- A ladder for any aspect ratio: heights above the source are dropped, widths are even.
local rungs = ladder.standard { heights = { 720, 480, 360 }, source_width = 1920,
                                source_height = 800, crf = 34, preset = 10 }

local slow = 0

return {
  source = arg[1],
  output = arg[2] or "out",
  segment_seconds = 2,
  workers = 2,
  video = { ladder = rungs },

  -- Called on the policy thread after every segment is written. Returning "abort" stops
  -- the job (exit code 1); anything else continues.
  on_segment = function(ev)
    if ev.encode_seconds > 4 * ev.duration then
      slow = slow + 1
      print(string.format("%s segment %d took %.1fx real time", ev.rendition, ev.index,
                          ev.encode_seconds / ev.duration))
    end
  end,

  -- A chunk went back to the queue because a device produced an incompatible sequence
  -- header; ev.message names the fields that differed.
  on_requeue = function(ev)
    print("requeued: " .. ev.message)
  end,

  on_failure = function(ev)
    print("job failed: " .. ev.message)
  end,

  on_finish = function(report)
    print(string.format("%d segments in %.1f s, %d slow", #report.segments, report.elapsed,
                        slow))
  end,
}

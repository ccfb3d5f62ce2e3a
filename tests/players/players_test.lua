-- players_test.lua: the job tests/e2e/test_players.sh plays in real players.
--
--   cmafeng run tests/players/players_test.lua -- SOURCE [OUTPUT]
--
-- Two rungs at the fastest settings with 2 s segments, so a 6 s source gives three
-- segments per rung: enough for a player to start, switch and play past 3 s. The DASH
-- on-demand output (one sidx-indexed file per rendition) is played as well.

local source = arg[1]
if not source then
  error("usage: cmafeng run tests/players/players_test.lua -- SOURCE [OUTPUT]", 0)
end

return {
  source = source,
  output = arg[2] or "out",
  segment_seconds = 2,
  workers = 2,
  dash_ondemand = true, -- ondemand/manifest.mpd: Shaka Player and dash.js play it too
  video = {
    ladder = {
      { width = 640, height = 360, crf = 40, preset = 12 },
      { width = 320, height = 180, crf = 40, preset = 12 },
    },
  },
}

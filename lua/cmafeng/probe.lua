-- cmafeng.probe: what a recipe can know about its source before it builds a ladder.
--
--   local info = cmafeng.probe(arg[1])     -- or require("cmafeng.probe").probe(path)
--   info.video.display_width, info.video.hdr, info.audio[1].language, ...
--
-- probe(path) -> info | nil, message, code   (code "CME_EIO" / "CME_EMEDIA")
-- text(info) -> the human-readable lines of `cmafeng probe FILE`
--
-- Every field is described in docs/recipes.md ("The probe"). Absent means unknown. An
-- audio-only file has no `video`; M.video(info) turns that into an error that names the file.

local core = require "cmafeng.core"

local M = {}

function M.probe(path)
  if type(path) ~= "string" then
    error("cmafeng.probe: expected a file name, got " .. type(path), 2)
  end
  return core.media_probe(path)
end

-- probe.video(info) -> info.video, raising "<path>: no video stream" when there is none.
-- For recipes that cannot do anything with an audio-only file.
function M.video(info, level)
  if not info.video then error(info.path .. ": no video stream", (level or 1) + 1) end
  return info.video
end

local function ratio(n, d)
  return string.format("%d:%d", n, d)
end

-- Display aspect as W:H reduced, e.g. 16:9, 2.4:1 shown as 12:5.
local function gcd(a, b)
  while b ~= 0 do a, b = b, a % b end
  return a
end

function M.aspect(v)
  local g = gcd(v.display_width, v.display_height)
  if g == 0 then return "?" end
  return ratio(v.display_width / g, v.display_height / g)
end

function M.text(info)
  local out = {}
  local function add(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  add("%s: %s, %s, %s", info.path, info.format,
      info.duration and string.format("%.3f s", info.duration) or "duration unknown",
      info.bit_rate and string.format("%.0f kbit/s", info.bit_rate / 1000) or "bit rate unknown")
  local v = info.video
  if not v then
    add("  video: none")
  else
    add("  video #%d: %s%s %s, %dx%d coded, SAR %s, display %dx%d (%s)%s%s",
        v.index, v.codec, v.profile and (" (" .. v.profile .. ")") or "",
        v.pix_fmt or "?", v.width, v.height, ratio(v.sar_num, v.sar_den), v.display_width,
        v.display_height, M.aspect(v),
        v.rotation ~= 0 and string.format(", rotated %d deg clockwise", v.rotation) or "",
        v.hflip and ", mirrored" or "")
    add("    %s fps (%d/%d)%s, %s, %s",
        string.format("%.3f", v.fps), v.fps_num, v.fps_den,
        v.vfr and string.format(", variable: frame durations %.4f..%.4f s",
                                v.min_frame_duration, v.max_frame_duration) or "",
        v.duration and string.format("%.3f s", v.duration) or "duration unknown",
        v.frames and string.format("%d frames%s", v.frames,
                                   v.frames_exact and "" or " (estimated)") or "frames unknown")
    local c = v.color
    add("    %d-bit, colour %s/%s/%s, %s range, %s", v.bit_depth, c.primaries, c.transfer,
        c.matrix, c.range, v.hdr == "sdr" and "SDR" or v.hdr:upper())
    local m = v.mastering_display
    if m then
      add("    mastering display: R(%.4f,%.4f) G(%.4f,%.4f) B(%.4f,%.4f) WP(%.4f,%.4f), " ..
          "%.4f..%.0f cd/m2", m.red[1], m.red[2], m.green[1], m.green[2], m.blue[1],
          m.blue[2], m.white_point[1], m.white_point[2], m.min_luminance, m.max_luminance)
    end
    local l = v.content_light_level
    if l then add("    content light level: MaxCLL %d, MaxFALL %d cd/m2", l.max_cll, l.max_fall) end
  end
  for _, a in ipairs(info.audio) do
    add("  audio #%d: %s, %d ch%s, %d Hz%s%s%s", a.index, a.codec, a.channels,
        a.layout and (" (" .. a.layout .. ")") or "", a.sample_rate,
        a.bit_rate and string.format(", %.0f kbit/s", a.bit_rate / 1000) or "",
        a.language and (", " .. a.language) or "", a.default and ", default" or "")
  end
  for _, s in ipairs(info.subtitles) do
    add("  subtitle #%d: %s%s", s.index, s.codec, s.language and (", " .. s.language) or "")
  end
  return table.concat(out, "\n") .. "\n"
end

return M

-- cmafeng.ladder: ABR ladders built from the source, and checks of ladders written by hand.
--
--   local cmafeng = require "cmafeng"
--   local ladder = require "cmafeng.ladder"
--   local src = cmafeng.probe(arg[1])
--   video = { ladder = ladder.standard { source = src, crf = 35 } }
--
-- ladder.standard fits the source's display size (SAR and rotation applied) into a list of
-- boxes (16:9 by default: 1920x1080, 1280x720, 854x480, 640x360), never scaling up, keeping
-- the display aspect, with even sizes, and drops rungs that would duplicate another. A PQ
-- or HLG source gets 10-bit rungs. ladder.check(rungs, info) lists what is wrong with a
-- ladder written by hand (upscaling, stretching, 8-bit HDR); recipe.load runs it on every
-- job and the warnings reach stderr and report.json.
--
-- ladder.per_title{source =, bitrates = {...} | psnr = {...}, ...} chooses rungs on the
-- rate-quality convex hull of probe encodes of the source (cmafeng.per_title).

local schema = require "cmafeng.schema"

local S = schema
local M = {}

local floor, abs, min, max = math.floor, math.abs, math.min, math.max

-- The default heights of ladder.standard: a common 16:9 web ladder.
M.DEFAULT_HEIGHTS = { 1080, 720, 480, 360 }

-- Whether the engine turns the pixels of a source with a display matrix (rotation and
-- mirror): the decode pump applies it to every frame (engine/media/rotate.c), so rungs are
-- sized for the display (probe's display_width/height) and the output carries no matrix.
M.ENGINE_ROTATES = true

-- Display aspects closer than this (relative) count as the same: even-size rounding of a
-- 16:9 rung moves its aspect by well under 1% (480 * 16 / 9 = 853.3 -> 854: 0.08%).
M.ASPECT_TOLERANCE = 0.02

-- The engine's limits (engine/core/limits.h), the ones the recipe schema reads.
local L = require("cmafeng.core").limits
local height = S.integer { min = L.MIN_DIMENSION, max = L.MAX_DIMENSION, even = true }

local standard_opts = S.record {
  heights = S.array(height, { min = 1, max = L.MAX_RUNGS, of_desc = "even heights",
                              optional = true }),
  -- Boxes {width, height} the picture is fitted into; the default is 16:9 boxes of `heights`.
  boxes = S.array(S.array(S.integer { min = 16, max = 8192 }, { min = 2, max = 2 }),
                  { min = 1, max = 16, optional = true, of_desc = "{width, height} pairs" }),
  -- What cmafeng.probe returned; its video's display size, rotation and HDR kind are used.
  source = S.record({
    video = S.record({}, { open = true, optional = true }),
  }, { open = true, optional = true, desc = "the table cmafeng.probe returns" }),
  -- Display size of the source (after sample aspect ratio and rotation); 16:9 when neither
  -- this nor `source` is given.
  source_width = S.integer { min = 16, max = 65536, optional = true },
  source_height = S.integer { min = 16, max = 65536, optional = true },
  crf = S.integer { min = 1, max = 63, optional = true },
  preset = S.integer { min = -1, max = 13, optional = true },
  bit_depth = S.enum({ 8, 10 }, { optional = true,
                                  desc = "default: 10 for PQ/HLG sources, else the job's" }),
  upscale = S.boolean { default = false, desc = "keep boxes larger than the source" },
}

-- Nearest even integer: 4:2:0 needs even sizes, and rounding (not truncating) keeps the
-- aspect error under one pixel: 480 * 16 / 9 = 853.3 -> 854.
local function even(x)
  return 2 * floor(x / 2 + 0.5)
end
M.even = even

-- The source's display size and facts from a probe table, or from explicit sizes.
-- Returns {width, height, rotation, hdr, sar} or raises at the recipe's level.
local function display_of(o, level)
  if o.source then
    local v = o.source.video
    if not v then
      error("ladder.standard: source: " .. tostring(o.source.path or "the source")
            .. " has no video stream", level + 1)
    end
    if o.source_width or o.source_height then
      error("ladder.standard: give source or source_width/source_height, not both", level + 1)
    end
    return { width = v.display_width, height = v.display_height, rotation = v.rotation or 0,
             hdr = v.hdr or "sdr" }
  end
  if (o.source_width == nil) ~= (o.source_height == nil) then
    error("ladder.standard: give both source_width and source_height, or neither", level + 1)
  end
  if o.source_width then
    return { width = o.source_width, height = o.source_height, rotation = 0, hdr = "sdr",
             known = true }
  end
  return { width = 16, height = 9, rotation = 0, hdr = "sdr", unknown_size = true }
end

-- Fits a w x h display into a box, never above the display size (unless upscale), even
-- sizes, at least 16 pixels: returns width, height.
local function fit(w, h, bw, bh, upscale)
  local s = min(bw / w, bh / h)
  if not upscale then s = min(s, 1) end
  local rw, rh = even(w * s), even(h * s)
  if not upscale then
    -- Rounding up an odd display size would scale up by a pixel.
    rw = min(rw, 2 * floor(w / 2))
    rh = min(rh, 2 * floor(h / 2))
  end
  return max(16, rw), max(16, rh)
end
M.fit = fit

-- ladder.standard{source=, heights=|boxes=, source_width=, source_height=, crf=, preset=,
--                 bit_depth=, upscale=} -> rungs
-- Rungs {name = "<short side>p", width, height[, crf][, preset][, bit_depth]}, largest
-- first. With `source` (or source_width/height) each box is fitted to the display aspect:
-- a 1920x800 source in the 1920x1080 box stays 1920x800 (width-constrained), a 4:3 source
-- becomes 1440x1080. A portrait source (display height > width) uses the boxes turned a
-- quarter. Without any source size the boxes are used as they are (16:9). Bad arguments
-- raise at the caller's line.
function M.standard(opts)
  local o, err = schema.check(standard_opts, opts or {}, "")
  if not o then error("ladder.standard: " .. err, 2) end
  if o.heights and o.boxes then error("ladder.standard: give heights or boxes, not both", 2) end
  local d = display_of(o, 2)
  local boxes = {}
  if o.boxes then
    for i, b in ipairs(o.boxes) do boxes[i] = { b[1], b[2] } end
  else
    for i, h in ipairs(o.heights or M.DEFAULT_HEIGHTS) do boxes[i] = { even(h * 16 / 9), h } end
  end
  local portrait = d.height > d.width
  local rungs, seen = {}, {}
  for _, b in ipairs(boxes) do
    local bw, bh = b[1], b[2]
    if portrait and bw > bh then bw, bh = bh, bw end
    local w, h
    if d.unknown_size then
      w, h = even(bw), even(bh)
    else
      w, h = fit(d.width, d.height, bw, bh, o.upscale)
    end
    local key = w .. "x" .. h
    if not seen[key] then
      seen[key] = true
      rungs[#rungs + 1] = {
        name = string.format("%dp", min(w, h)),
        width = w,
        height = h,
        crf = o.crf,
        preset = o.preset,
        bit_depth = o.bit_depth or ((d.hdr == "pq" or d.hdr == "hlg") and 10 or nil),
      }
    end
  end
  table.sort(rungs, function(a, b) return a.width * a.height > b.width * b.height end)
  return rungs
end

-- ladder.hdr_metadata(info) -> mastering_display, content_light_level
-- What a PQ or HLG source (info = cmafeng.probe's table) says about its mastering display
-- (SMPTE ST 2086) and content light level, in the shape video.mastering_display and
-- video.content_light_level take; nil for an SDR source or one that says nothing. recipe
-- preparation applies it by default; a recipe may pass it on itself or change it.
function M.hdr_metadata(info)
  local v = info and info.video
  if not v or (v.hdr ~= "pq" and v.hdr ~= "hlg") then return nil, nil end
  local md, cll
  local m = v.mastering_display
  -- A mastering display needs its luminance range; primaries alone do not make an mdcv.
  if m and m.red and m.green and m.blue and m.white_point and (m.max_luminance or 0) > 0 then
    md = { red = { m.red[1], m.red[2] }, green = { m.green[1], m.green[2] },
           blue = { m.blue[1], m.blue[2] }, white_point = { m.white_point[1], m.white_point[2] },
           min_luminance = m.min_luminance or 0, max_luminance = m.max_luminance }
  end
  local c = v.content_light_level
  if c then cll = { max_cll = floor(c.max_cll or 0), max_fall = floor(c.max_fall or 0) } end
  return md, cll
end

local function aspect_text(w, h)
  return string.format("%dx%d, aspect %.3f", w, h, w / h)
end

-- ladder.check(rungs, info [, path]) -> { "warning", ... }
-- What is wrong with a ladder for the probed source (info = cmafeng.probe's table): a rung
-- larger than the display size (upscaling only costs bits), a rung whose aspect is not
-- the display aspect (the engine scales to the rung's size: the picture is stretched), an
-- 8-bit rung for a PQ/HLG source (banding). path names the ladder in the messages
-- ("video.ladder"). Never raises on a source without video: that is the engine's error.
function M.check(rungs, info, path)
  path = path or "video.ladder"
  local out = {}
  local v = info and info.video
  if not v then return out end
  local dw, dh = v.display_width, v.display_height
  local src = string.format("the source's display size %dx%d", dw, dh)
  if v.sar_num ~= v.sar_den or v.rotation ~= 0 then
    src = src .. string.format(" (coded %dx%d, SAR %d:%d, rotation %d)", v.width, v.height,
                               v.sar_num, v.sar_den, v.rotation)
  end
  local aspect = dw / dh
  if v.rotation ~= 0 and not M.ENGINE_ROTATES then
    out[#out + 1] = string.format("%s: the source is shown rotated %d degrees clockwise, but the "
                                  .. "engine does not rotate pixels yet: rungs sized for the "
                                  .. "display (%dx%d) come out stretched", path, v.rotation,
                                  dw, dh)
  end
  if v.hflip and not M.ENGINE_ROTATES then
    out[#out + 1] = path .. ": the source's display matrix mirrors the picture; the engine "
                    .. "encodes it unmirrored"
  end
  for i, r in ipairs(rungs) do
    local where = string.format("%s[%d] (%s)", path, i, r.name or (r.height .. "p"))
    if r.width > dw + 1 or r.height > dh + 1 then
      out[#out + 1] = string.format("%s: %dx%d is larger than %s: upscaling costs bits and "
                                    .. "adds nothing; ladder.standard{source = ...} never "
                                    .. "upscales", where, r.width, r.height, src)
    end
    local ra = r.width / r.height
    if abs(ra / aspect - 1) > M.ASPECT_TOLERANCE then
      out[#out + 1] = string.format("%s: %s differs from %s (aspect %.3f): the picture "
                                    .. "will be stretched", where,
                                    aspect_text(r.width, r.height), src, aspect)
    end
    if (v.hdr == "pq" or v.hdr == "hlg") and (r.bit_depth or 8) < 10 then
      out[#out + 1] = string.format("%s: 8-bit rung for a %s (HDR) source: expect banding; "
                                    .. "set bit_depth = 10", where, v.hdr:upper())
    end
  end
  return out
end

-- ladder.per_title{source =, bitrates = {...} | psnr = {...}, heights =, crfs =, windows =,
--                  window_seconds =, preset =, probe_preset =} -> rungs
-- Probe encodes of the source (cmafeng.per_title.analyse), then one rung per target on the
-- convex hull across sizes. PQ/HLG sources get 10-bit rungs (the probes themselves are
-- 8-bit). The analysis is kept for report.json and per_title.svg.
function M.per_title(opts)
  local pt = require "cmafeng.per_title"
  if type(opts) ~= "table" or (opts.bitrates == nil and opts.psnr == nil) then
    error("ladder.per_title: give target bitrates = {...} (bit/s) or psnr = {...} (dB)", 2)
  end
  local a = pt.analyse(opts, 2)
  local rungs = pt.choose(a, { bitrates = opts.bitrates, psnr = opts.psnr }, opts.preset or 10, 2)
  local hdr = opts.source.video.hdr
  if hdr == "pq" or hdr == "hlg" then
    for _, r in ipairs(rungs) do r.bit_depth = 10 end
  end
  pt.last = a
  return rungs
end

return M

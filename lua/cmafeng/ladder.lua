-- cmafeng.ladder: helpers for building ABR ladders in recipes.
--
--   local ladder = require "cmafeng.ladder"
--   video = { ladder = ladder.standard { heights = { 720, 480, 360 } } }
--
-- A per-title ladder (rungs chosen from a complexity analysis of the source) needs encoder
-- statistics the engine does not expose yet; it is deliberately not faked here.

local schema = require "cmafeng.schema"

local S = schema
local M = {}

local floor = math.floor

-- The default heights of ladder.standard: a common 16:9 web ladder.
M.DEFAULT_HEIGHTS = { 1080, 720, 480, 360 }

local height = S.integer { min = 16, max = 8192, even = true }

local standard_opts = S.record {
  heights = S.array(height, { min = 1, max = 16, of_desc = "even heights",
                              default = M.DEFAULT_HEIGHTS }),
  -- Display size of the source (after sample aspect ratio); 16:9 when not given.
  source_width = S.integer { min = 16, max = 65536, optional = true },
  source_height = S.integer { min = 16, max = 65536, optional = true },
  crf = S.integer { min = 1, max = 63, optional = true },
  preset = S.integer { min = -1, max = 13, optional = true },
  upscale = S.boolean { default = false, desc = "keep heights above the source's" },
}

-- Nearest even integer: 4:2:0 needs even sizes, and rounding (not truncating) keeps the
-- aspect error under one pixel: 480 * 16 / 9 = 853.3 -> 854.
local function even(x)
  return 2 * floor(x / 2 + 0.5)
end
M.even = even

-- ladder.standard{heights=, source_width=, source_height=, crf=, preset=, upscale=} -> rungs
-- Returns rungs {name = "720p", width =, height =[, crf =][, preset =]}, in the order of
-- `heights`, with widths that keep the source's aspect ratio. Heights above the source's are
-- dropped (upscaling only costs bits) unless upscale = true; if none is left, one rung at
-- the source's own size is made. crf and preset are copied into every rung when given;
-- otherwise the job's defaults apply. Bad arguments raise at the caller's line.
function M.standard(opts)
  local o, err = schema.check(standard_opts, opts or {}, "")
  if not o then error("ladder.standard: " .. err, 2) end
  if (o.source_width == nil) ~= (o.source_height == nil) then
    error("ladder.standard: give both source_width and source_height, or neither", 2)
  end
  local sw, sh = o.source_width or 16, o.source_height or 9
  local heights = {}
  for _, h in ipairs(o.heights) do
    if o.upscale or not o.source_height or h <= sh then heights[#heights + 1] = h end
  end
  if #heights == 0 then heights[1] = math.min(even(sh), 8192) end

  local rungs = {}
  for i, h in ipairs(heights) do
    rungs[i] = {
      name = string.format("%dp", h),
      width = math.max(16, even(h * sw / sh)),
      height = h,
      crf = o.crf,
      preset = o.preset,
    }
  end
  return rungs
end

return M

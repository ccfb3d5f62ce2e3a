-- cmafeng.chunking: where segments start. Every rung gets the same cuts: a key frame and a
-- segment boundary at each, so players switch renditions at every boundary.
--
--   local chunking = require "cmafeng.chunking"
--   chunking = chunking.fixed { seconds = 2 }                         -- the default
--   chunking = chunking.scene { min = 1, max = 4, threshold = 0.3 }    -- cut at scene changes
--   chunking = function(src) return { 2.0, 4.5, 7.25 } end            -- the recipe decides
--   chunking = { 2.0, 4.5, 7.25 }                                     -- a fixed list
--
-- A cut list is the start time in seconds of every segment after the first, measured from
-- the source's first video frame (the output timeline's origin), strictly increasing and
-- inside the source. recipe.load turns the recipe's `chunking` into `job.video.cuts` (the
-- field the engine reads) or, for fixed, into `segment_seconds`.
--
-- Scene scores come from a pre-pass in C (cme_scene_scores: one fast decode at 160 pixels
-- wide) whose score is FFmpeg's `scene` measure, so `threshold` means what it means in
-- `ffmpeg -vf "select='gt(scene,0.3)'"`.

local core = require "cmafeng.core"
local schema = require "cmafeng.schema"

local S = schema
local M = {}

-- The longest segment the engine accepts (recipe.lua's segment_seconds bound).
M.MAX_SEGMENT = 30

local fixed_opts = S.record {
  seconds = S.number { gt = 0, max = M.MAX_SEGMENT, default = 2 },
}

local scene_opts = S.record {
  min = S.number { gt = 0, max = M.MAX_SEGMENT, default = 1,
                   desc = "shortest segment, seconds" },
  max = S.number { gt = 0, max = M.MAX_SEGMENT, default = 4,
                   desc = "longest segment, seconds" },
  threshold = S.number { min = 0, max = 1, default = 0.3,
                         desc = "scene score that makes a cut, 0..1" },
  width = S.integer { min = 16, max = 4096, default = 160,
                      desc = "width the pre-pass scores frames at" },
}

local function checked(spec, opts, what, level)
  local o, err = schema.check(spec, opts or {}, "")
  if not o then error("chunking." .. what .. ": " .. err, level + 1) end
  return o
end

-- chunking.fixed{seconds = 2} -> policy: one segment every `seconds` (rounded to frames).
function M.fixed(opts)
  local o = checked(fixed_opts, opts, "fixed", 2)
  o.kind = "fixed"
  return o
end

-- chunking.scene{min = 1, max = 4, threshold = 0.3, width = 160} -> policy: cut at the
-- scene changes (score >= threshold) no closer than `min` seconds to the previous cut; when
-- none comes within `max` seconds, the gap is split into equal segments of at most `max`.
function M.scene(opts)
  local o = checked(scene_opts, opts, "scene", 2)
  if o.min > o.max then
    error(string.format("chunking.scene: min (%s) is greater than max (%s)", schema.show(o.min),
                        schema.show(o.max)), 2)
  end
  o.kind = "scene"
  return o
end

-- chunking.scores(path [, width]) -> { times = {...}, scores = {...}, fps =, duration = }
-- The pre-pass, for recipes that pick their own cuts. Raises when the file does not decode.
function M.scores(path, width)
  local s, err = core.scene_scores(path, width)
  if not s then error(err, 2) end
  return s
end

-- chunking.pick(scores, {min =, max =, threshold =}) -> cuts, decisions
-- The scene policy on a score table (pure Lua; see M.scene). From the last cut, the first
-- frame at or after last + min whose score reaches the threshold starts a window of `min`
-- seconds; the best-scoring frame of that window is the cut (a flash or a dissolve makes
-- several high scores in a row: the strongest wins). When no scene change comes within
-- `max` seconds, the gap up to the next one (or the end) is split into equal segments of
-- at most `max`. No segment is shorter than `min`, the last one included, and none longer
-- than `max` unless the frames themselves are further apart.
-- decisions[i] = { time =, score =, forced = bool } for each cut.
function M.pick(s, o)
  local times, scores, n = s.times, s.scores, #s.times
  local duration = s.duration
  local cuts, decisions = {}, {}
  local last = 0
  local i = 2
  local eps = 1e-9
  while true do
    local lo, hi = last + o.min, last + o.max
    local limit = duration - o.min -- a cut later than this leaves a short last segment
    -- Frames before lo cannot be cuts.
    while i <= n and times[i] < lo - eps do i = i + 1 end
    local first
    for j = i, n do
      local t = times[j]
      if t > hi + eps or t > limit + eps then break end
      if scores[j] >= o.threshold then first = j break end
    end
    local cut, forced
    if first then
      cut = first
      local wend = math.min(times[first] + o.min, hi, limit)
      for j = first + 1, n do
        if times[j] > wend + eps then break end
        if scores[j] > scores[cut] then cut = j end
      end
    elseif duration - last > o.max + eps then
      -- No scene change within reach: split the gap up to the next scene change (or the
      -- end) into equal segments no longer than max, and cut at the first of them.
      local gap_end = duration
      for j = i, n do
        local t = times[j]
        if t > limit + eps then break end
        if t > hi + eps and scores[j] >= o.threshold then gap_end = t break end
      end
      local k = math.ceil((gap_end - last) / o.max - 1e-6)
      local target = math.max(lo, last + (gap_end - last) / k)
      forced = true
      for j = i, n do
        local t = times[j]
        if t > hi + eps then break end
        if not cut or math.abs(t - target) < math.abs(times[cut] - target) then cut = j end
        if t > target then break end
      end
      if not cut then
        -- Frames further apart than max (a still image, VFR): cut at the next frame.
        cut = i <= n and i or nil
      end
    end
    if not cut then break end
    cuts[#cuts + 1] = times[cut]
    decisions[#decisions + 1] = { time = times[cut], score = scores[cut], forced = forced }
    last = times[cut]
    i = cut + 1
  end
  return cuts, decisions
end

-- chunking.check_cuts(cuts, duration [, path]) -> cuts | nil, { {path =, message =}, ... }
-- A cut list must be numbers, strictly increasing, each > 0 and < duration (when known).
function M.check_cuts(cuts, duration, path)
  path = path or "chunking"
  local errs = {}
  local function bad(p, msg) errs[#errs + 1] = { path = p, message = msg } end
  if type(cuts) ~= "table" then
    bad(path, "expected a list of cut times in seconds, got " .. schema.show(cuts))
    return nil, errs
  end
  local n = 0
  for k in pairs(cuts) do
    if type(k) ~= "number" or k < 1 or k ~= math.floor(k) then
      bad(schema.join(path, k), "unknown key (a cut list is an array of seconds)")
    elseif k > n then
      n = k
    end
  end
  local prev
  for i = 1, n do
    local p = schema.join(path, i)
    local t = cuts[i]
    if type(t) ~= "number" or t ~= t or t == math.huge or t == -math.huge then
      bad(p, "expected a time in seconds, got " .. schema.show(t))
      t = nil
    elseif t <= 0 then
      bad(p, "expected a time > 0 (the first segment starts at 0), got " .. schema.show(t))
    elseif duration and duration > 0 and t >= duration then
      bad(p, string.format("%s is not before the end of the source (%.3f s)", schema.show(t),
                           duration))
    elseif prev and t <= prev then
      bad(p, string.format("%s is not after cut %d (%s): cuts must be sorted and distinct",
                           schema.show(t), i - 1, schema.show(prev)))
    end
    if t then prev = t end
  end
  if #errs > 0 then return nil, errs end
  local out = {}
  for i = 1, n do out[i] = cuts[i] end
  return out
end

-- chunking.spec: the recipe key's schema. `chunking` is a policy table (fixed/scene), a
-- function (called with the probe table, returns a cut list) or a cut list.
function M.validate_policy(v, path)
  local tv = type(v)
  if tv == "function" then return nil end
  if tv ~= "table" then
    return "expected chunking.fixed{...}, chunking.scene{...}, a function or a list of cut "
           .. "times, got " .. schema.show(v)
  end
  if v.kind == "fixed" then
    local _, err = schema.check(fixed_opts, { seconds = v.seconds }, path)
    return err
  elseif v.kind == "scene" then
    local o = {}
    for k, x in pairs(v) do if k ~= "kind" then o[k] = x end end
    local _, err = schema.check(scene_opts, o, path)
    return err
  elseif v.kind ~= nil then
    return "unknown chunking kind " .. schema.show(v.kind) .. ' (expected "fixed" or "scene")'
  end
  local _, errs = M.check_cuts(v, nil, path)
  if errs then return errs[1].message, errs[1].path end
end

-- chunking.resolve(job, info [, call]) -> true | nil, { {path =, message =}, ... }
-- Turns job.chunking into job.segment_seconds (fixed) or job.video.cuts (everything else)
-- for the probed source `info`. `call(fn, ...)` runs a recipe function under the sandbox's
-- budget (default: pcall). job.chunking_decisions keeps the scene policy's reasons.
function M.resolve(job, info, call)
  local c = job.chunking
  if c == nil then return true end
  call = call or pcall
  local duration = info and info.video and (info.video.duration or info.duration)
  local cuts
  if type(c) == "function" then
    local ok, res = call(c, info)
    if not ok then
      return nil, { { path = "chunking", message = "the chunking function failed: "
                      .. tostring(res) } }
    end
    cuts = res
  elseif c.kind == "fixed" then
    job.segment_seconds = c.seconds
    return true
  elseif c.kind == "scene" then
    local s, err = core.scene_scores(job.source, c.width)
    if not s then return nil, { { path = "chunking", message = err } } end
    local decisions
    cuts, decisions = M.pick(s, c)
    job.chunking_decisions = decisions
    duration = s.duration
  else
    cuts = c
  end
  local ok, errs = M.check_cuts(cuts, duration, "chunking")
  if not ok then return nil, errs end
  -- The engine's limit on a segment holds for cut lists too.
  local prev = 0
  for i = 1, #ok + 1 do
    local t = ok[i] or duration
    if t and t - prev > M.MAX_SEGMENT + 1e-9 then
      return nil, { { path = "chunking", message = string.format(
        "the segment from %.3f s to %.3f s is longer than %d s", prev, t, M.MAX_SEGMENT) } }
    end
    prev = t or prev
  end
  job.video.cuts = ok
  return true
end

return M

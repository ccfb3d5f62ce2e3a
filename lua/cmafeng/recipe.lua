-- cmafeng.recipe: the job schema, and loading a recipe file into a validated job.
--
--   recipe.load(path, args [, opts]) -> job | nil, message
--   recipe.validate(tbl [, filename [, lines]]) -> job | nil, message
--   recipe.prepare(job, filename) -> job | nil, message      (probe, warnings, chunking)
--
-- A job is a fresh table with every default filled in; the recipe's own table is not
-- modified. Messages name the file, the line and the field, one line per problem:
-- "recipes/x.lua:42: video.ladder[3].height: expected an even integer >= 16, got 721". Hook functions are kept as given; call them
-- through sandbox.pcall so they run under the hook instruction budget.

local schema = require "cmafeng.schema"
local sandbox = require "cmafeng.sandbox"
local srcmap = require "cmafeng.srcmap"

local S = schema
local M = {}

-- Frame sizes must be even: 4:2:0 chroma is subsampled by two in both directions.
local function dimension(desc)
  return S.integer { min = 16, max = 8192, even = true, desc = desc }
end

local rung_fields = {
  -- Used for the output directory and playlist names; defaults to "<height>p".
  name = S.string { optional = true, pattern = "^[%w_%-]+$",
                    pattern_desc = "a name of letters, digits, '_' and '-'" },
  width = dimension(),
  height = dimension(),
  crf = S.integer { min = 1, max = 63, default = 35 },
  preset = S.integer { min = -1, max = 13, default = 10 },
  -- 10-bit for HDR (PQ/HLG sources) or less banding; the colour description comes from the
  -- source either way.
  bit_depth = S.enum({ 8, 10 }, { default = 8 }),
  -- Capped CRF: the encoder keeps CRF quality but holds the rate under max_bitrate over a
  -- buffer of buffer_size bits (a VBV, as ffmpeg's -maxrate/-bufsize). BANDWIDTH in the
  -- playlists stays the measured peak.
  max_bitrate = S.integer { min = 10000, max = 1000000000, optional = true,
                            desc = "bit/s, capped CRF" },
  buffer_size = S.integer { min = 10000, max = 4000000000, optional = true,
                            desc = "bits; needs max_bitrate" },
  -- No keyint: key frames at segment starts are the engine's job, never the recipe's.
}
local rung = S.record(rung_fields, {
  check = function(r, path)
    if r.buffer_size and not r.max_bitrate then
      return "buffer_size needs max_bitrate (a capped CRF sets both)",
             schema.join(path, "buffer_size")
    end
  end,
})

local device = S.record {
  backend = S.enum { "svt", "nvenc", "qsv", "vaapi" },
  id = S.string { optional = true, non_empty = true },
  sessions = S.integer { min = 1, max = 64, default = 1,
                         desc = "concurrent encoders on this device" },
  threads = S.integer { min = 0, max = 64, optional = true,
                        desc = "encoder threads per session; 0 = library default" },
  -- Forces the AV1 level an encoder signals (x10: 51 = level 5.1). Encoders whose
  -- sequence headers disagree cannot share a rendition; the engine keeps the first one
  -- and requeues the other device's chunks (DESIGN.md section 3, codec invariant).
  level = S.integer { min = 0, max = 73, optional = true,
                      desc = "AV1 level x10, 0 = the encoder's choice" },
}

local hook = S.func { optional = true }

-- The audio rendition: the source's audio as AAC-LC in its own CMAF track (directory
-- "audio", an HLS audio group and a DASH audio AdaptationSet). Sources without audio get
-- none; `enabled = false` leaves it out.
local AUDIO_DEFAULTS = { enabled = true, bitrate = 128000, channels = 2, sample_rate = 48000 }
local audio = S.record({
  enabled = S.boolean { default = AUDIO_DEFAULTS.enabled },
  bitrate = S.integer { min = 16000, max = 512000, default = AUDIO_DEFAULTS.bitrate,
                        desc = "AAC bit rate in bit/s" },
  channels = S.integer { min = 1, max = 2, default = AUDIO_DEFAULTS.channels },
  sample_rate = S.enum({ 44100, 48000 }, { default = AUDIO_DEFAULTS.sample_rate }),
}, { default = AUDIO_DEFAULTS, desc = "audio = { bitrate = ..., channels = ... }" })

-- Two rungs writing to the same directory would overwrite each other's segments.
local function unique_names(ladder, path)
  local seen = {}
  for i, r in ipairs(ladder) do
    if seen[r.name] then
      return 'duplicate rendition name "' .. r.name .. '"',
             schema.join(schema.join(path, i), "name")
    end
    seen[r.name] = true
  end
end

local function default_names(ladder)
  for _, r in ipairs(ladder) do
    r.name = r.name or (string.format("%dp", r.height))
  end
end

M.job_schema = S.record {
  source = S.string { non_empty = true, desc = "the input media file" },
  output = S.string { non_empty = true, default = "out", desc = "the output directory" },
  segment_seconds = S.number { gt = 0, max = 30, default = 2 },
  workers = S.integer { min = 1, max = 64, default = 2 },
  threads_per_worker = S.integer { min = 0, max = 64, default = 0,
                                   desc = "SVT-AV1 threads per encoder; 0 = library default" },
  invariant = S.enum({ "cmaf", "strict" }, { default = "cmaf" }),
  queue_depth = S.integer { min = 1, max = 16, default = 2, desc = "chunks buffered per rung" },
  video = S.record({
    ladder = S.array(rung, {
      min = 1, max = 16, of_desc = "renditions",
      check = function(ladder, path)
        default_names(ladder)
        return unique_names(ladder, path)
      end,
    }),
  }, { desc = "video = { ladder = { ... } }" }),
  audio = audio,
  -- Where segments start: chunking.fixed{...}, chunking.scene{...}, a function returning a
  -- cut list, or a cut list (cmafeng.chunking). Resolved by recipe.load into
  -- segment_seconds or video.cuts.
  chunking = S.any { optional = true, check = function(v, path)
    return require("cmafeng.chunking").validate_policy(v, path)
  end },
  devices = S.array(device, { optional = true, min = 1, max = 64, of_desc = "device tables" }),
  on_segment = hook,
  on_requeue = hook,
  on_failure = hook,
  on_finish = hook,
}

-- Formats problems {path =, message =} as "file:line: path: message" lines; the line is the
-- one that wrote the field (or its nearest enclosing field), from the recipe's text.
local function format_problems(errs, filename, lines)
  local out = {}
  for i, e in ipairs(errs) do
    local where = ""
    if filename then
      local line = lines and srcmap.line(lines, e.path)
      where = filename .. (line and (":" .. line) or "") .. ": "
    end
    out[i] = where .. schema.format_error(e)
  end
  return table.concat(out, "\n")
end
M.format_problems = format_problems

-- recipe.validate(tbl [, filename [, lines]]) -> job | nil, message
-- The message lists every problem, one per line: "filename:line: field: message"; lines is
-- a srcmap of the recipe's text (recipe.load builds it), without it lines are left out.
function M.validate(tbl, filename, lines)
  local prefix = filename and (filename .. ": ") or ""
  if type(tbl) ~= "table" then
    return nil, prefix .. "expected the recipe to return a job table, got "
      .. schema.show(tbl)
  end
  local job, errs = schema.check_all(M.job_schema, tbl)
  if not job then return nil, format_problems(errs, filename, lines) end
  if tbl.chunking ~= nil and tbl.segment_seconds ~= nil then
    return nil, format_problems({ { path = "segment_seconds",
      message = "give segment_seconds or chunking, not both" } }, filename, lines)
  end
  return job
end

-- Whether the engine hands a rung's max_bitrate/buffer_size to its encoder (the SVT-AV1
-- backend caps CRF; the job settings do not carry the fields yet). Until then a capped rung
-- gets a warning instead of silence.
M.ENGINE_RATE_CAPS = false

-- recipe.prepare(job, filename [, lines]) -> job | nil, message
-- What needs the source: probes it once, sets job.video.rotation/hflip from its display
-- matrix, lists what is wrong with the ladder for it (job.warnings: upscaling, stretching,
-- 8-bit HDR, rotation; cmafeng.ladder.check) and resolves `chunking` into segment_seconds
-- or video.cuts. A source that does not probe is
-- left to the engine, which reports it with its own message (exit 2).
function M.prepare(job, filename, lines)
  local info = require("cmafeng.probe").probe(job.source)
  job.warnings = job.warnings or {}
  if info and info.video then
    -- The display matrix, for the engine's scaler: clockwise quarter turns and a mirror.
    -- Rungs are sized for the display (ladder.standard turns its boxes for portrait).
    job.video.rotation = info.video.rotation
    job.video.hflip = info.video.hflip
  end
  if info then
    for _, w in ipairs(require("cmafeng.ladder").check(job.video.ladder, info)) do
      job.warnings[#job.warnings + 1] = w
    end
  end
  if not M.ENGINE_RATE_CAPS then
    for i, r in ipairs(job.video.ladder) do
      if r.max_bitrate then
        job.warnings[#job.warnings + 1] = string.format(
          "video.ladder[%d].max_bitrate: the engine does not pass rate caps to the encoder yet; "
          .. "%s is encoded with plain CRF", i, r.name)
      end
    end
  end
  -- A per-title ladder leaves its analysis behind (curves, hull, choices, cost) for
  -- report.json and per_title.svg.
  local pt = package.loaded["cmafeng.per_title"]
  if pt and pt.last then
    job.per_title = pt.last
    pt.last = nil
  end
  if job.chunking ~= nil then
    local ok, errs = require("cmafeng.chunking").resolve(job, info, function(fn, ...)
      return sandbox.pcall(sandbox.RECIPE_BUDGET, fn, ...)
    end)
    if not ok then return nil, format_problems(errs, filename, lines) end
  end
  return job
end

-- recipe.load(path, args [, opts]) -> job | nil, message
-- args: the words after `--` on the command line (the recipe's `arg`).
-- opts are passed to sandbox.load_recipe (budget, print); opts.prepare = false skips
-- recipe.prepare (no probe of the source).
function M.load(path, args, opts)
  local value, err = sandbox.load_recipe(path, args, opts)
  if err then return nil, err end
  if value == nil then
    return nil, path .. ": the recipe returned nothing; end it with "
      .. "return { source = ..., video = { ladder = { ... } } }"
  end
  local lines
  local f = io.open(path, "rb")
  if f then
    local ok, map = pcall(srcmap.build, f:read("*a") or "")
    f:close()
    lines = ok and map or nil
  end
  local job, verr = M.validate(value, path, lines)
  if not job then return nil, verr end
  if opts and opts.prepare == false then return job end
  return M.prepare(job, path, lines)
end

return M

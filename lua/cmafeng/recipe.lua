-- cmafeng.recipe: the job schema, and loading a recipe file into a validated job.
--
--   recipe.load(path, args [, opts]) -> job | nil, message
--   recipe.validate(tbl [, filename]) -> job | nil, message
--
-- A job is a fresh table with every default filled in; the recipe's own table is not
-- modified. Messages name the file and the field: "recipes/x.lua: video.ladder[3].height:
-- expected an even integer >= 16, got 721". Hook functions are kept as given; call them
-- through sandbox.pcall so they run under the hook instruction budget.

local schema = require "cmafeng.schema"
local sandbox = require "cmafeng.sandbox"

local S = schema
local M = {}

-- The engine's limits (engine/core/limits.h): one table for C and the schema.
local L = require("cmafeng.core").limits

-- Frame sizes must be even: 4:2:0 chroma is subsampled by two in both directions.
local function dimension(desc)
  return S.integer { min = L.MIN_DIMENSION, max = L.MAX_DIMENSION, even = true, desc = desc }
end

local rung = S.record {
  -- Used for the output directory and playlist names; defaults to "<height>p".
  name = S.string { optional = true, pattern = "^[%w_%-]+$", max_len = L.MAX_NAME,
                    pattern_desc = "a name of letters, digits, '_' and '-'" },
  width = dimension(),
  height = dimension(),
  crf = S.integer { min = L.MIN_CRF, max = L.MAX_CRF, default = 35 },
  preset = S.integer { min = L.MIN_PRESET, max = L.MAX_PRESET, default = 10 },
  -- 10-bit for HDR (PQ/HLG sources) or less banding; the colour description comes from the
  -- source either way.
  bit_depth = S.enum({ 8, 10 }, { default = 8 }),
  -- Encoder instances per device for this rung (each one a whole encoder, opened before
  -- the job starts); by default enough for every worker on a one-rung job.
  instances = S.integer { min = 1, max = L.MAX_INSTANCES, optional = true,
                          desc = "encoder instances per device" },
  -- No keyint: key frames at segment starts are the engine's job, never the recipe's.
}

local device = S.record {
  backend = S.enum { "svt", "nvenc", "qsv", "vaapi", "fault" },
  id = S.string { optional = true, non_empty = true },
  sessions = S.integer { min = 1, max = L.MAX_SESSIONS, default = 1,
                         desc = "concurrent encoders on this device" },
  threads = S.integer { min = 0, max = L.MAX_THREADS, optional = true,
                        desc = "encoder threads per session; 0 = library default" },
  -- Forces the AV1 level an encoder signals (x10: 51 = level 5.1). Encoders whose
  -- sequence headers disagree cannot share a rendition; the engine keeps the first one
  -- and requeues the other device's chunks (DESIGN.md section 3, codec invariant).
  level = S.integer { min = 0, max = 73, optional = true,
                      desc = "AV1 level x10, 0 = the encoder's choice" },
  -- Backend-specific options; the fault backend (test builds) reads its fault list here.
  instances = S.integer { min = 1, max = L.MAX_INSTANCES, optional = true,
                          desc = "encoder instances per rung on this device" },
  -- A device that cannot be used here (no such GPU) is skipped with a warning instead of
  -- failing the job.
  optional = S.boolean { default = false },
  options = S.string { optional = true, pattern = "^[%w_@:%.,=%-]+$",
                       pattern_desc = "an option list such as \"fail@3,stall@5:2\"" },
}

local hook = S.func { optional = true }

-- The audio rendition: the source's audio as AAC-LC in its own CMAF track (directory
-- "audio", an HLS audio group and a DASH audio AdaptationSet). Sources without audio get
-- none; `enabled = false` leaves it out.
local AUDIO_DEFAULTS = { enabled = true, bitrate = 128000, channels = 2, sample_rate = 48000 }
local audio = S.record({
  enabled = S.boolean { default = AUDIO_DEFAULTS.enabled },
  bitrate = S.integer { min = L.MIN_AUDIO_BITRATE, max = L.MAX_AUDIO_BITRATE,
                        default = AUDIO_DEFAULTS.bitrate,
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
  source = S.string { non_empty = true, max_len = L.MAX_PATH, desc = "the input media file" },
  output = S.string { non_empty = true, max_len = L.MAX_PATH, default = "out",
                      desc = "the output directory" },
  -- At least L.MIN_SEGMENT_FRAMES frames: checked against the source's frame rate once it
  -- is probed (recipe.check_source).
  segment_seconds = S.number { gt = 0, max = L.MAX_SEGMENT_SECONDS, default = 2 },
  workers = S.integer { min = 1, max = L.MAX_WORKERS, default = 2 },
  threads_per_worker = S.integer { min = 0, max = L.MAX_THREADS, default = 0,
                                   desc = "SVT-AV1 threads per encoder; 0 = library default" },
  invariant = S.enum({ "cmaf", "strict" }, { default = "cmaf" }),
  queue_depth = S.integer { min = 1, max = L.MAX_QUEUE_DEPTH, default = 2,
                            desc = "chunks buffered per rung" },
  video = S.record({
    ladder = S.array(rung, {
      min = 1, max = L.MAX_RUNGS, of_desc = "renditions",
      check = function(ladder, path)
        default_names(ladder)
        return unique_names(ladder, path)
      end,
    }),
  }, { desc = "video = { ladder = { ... } }" }),
  audio = audio,
  devices = S.array(device, {
    optional = true, min = 1, max = L.MAX_DEVICES, of_desc = "device tables",
    check = function(devices, path)
      local seen = {}
      for i, d in ipairs(devices) do
        local id = d.id or (d.backend .. ":" .. (i - 1))
        if seen[id] then
          return string.format('duplicate device id "%s" (also devices[%d])', id, seen[id]),
                 schema.join(schema.join(path, i), "id")
        end
        seen[id] = i
      end
    end,
  }),
  -- Limits the policy works within: an attempt that returns no packet for stall_seconds
  -- fails (reason "stall"); a chunk is never attempted more than max_attempts times.
  stall_seconds = S.number { gt = 0, max = L.MAX_STALL_SECONDS, default = 120 },
  max_attempts = S.integer { min = 1, max = L.MAX_ATTEMPTS, default = 6 },
  -- on_chunk_failed(ev, ctx) -> decision: see cmafeng.policy (default: policy.default).
  on_chunk_failed = hook,
  -- pick_rung(state) -> rung number or nil: the rung idle workers help first.
  pick_rung = hook,
  on_segment = hook,
  on_requeue = hook,
  on_failure = hook,
  on_finish = hook,
}

-- recipe.validate(tbl [, filename]) -> job | nil, "filename: field: message"
function M.validate(tbl, filename)
  local prefix = filename and (filename .. ": ") or ""
  if type(tbl) ~= "table" then
    return nil, prefix .. "expected the recipe to return a job table, got "
      .. schema.show(tbl)
  end
  local job, err = schema.check(M.job_schema, tbl)
  if not job then return nil, prefix .. err end
  return job
end

-- recipe.check_source(job, info [, filename]) -> true | nil, message
-- The checks that need the probed source (cmafeng.probe's info): a segment holds at least
-- L.MIN_SEGMENT_FRAMES frames.
function M.check_source(job, info, filename)
  local prefix = filename and (filename .. ": ") or ""
  local fps = info.fps_num / info.fps_den
  local frames = job.segment_seconds * fps
  if frames + 1e-9 < L.MIN_SEGMENT_FRAMES then
    return nil, string.format("%ssegment_seconds: %g s is %.3g frames of %s at %.3g fps; a " ..
      "segment needs at least %d frames (segment_seconds >= %.3g)", prefix, job.segment_seconds,
      frames, job.source, fps, L.MIN_SEGMENT_FRAMES, L.MIN_SEGMENT_FRAMES / fps)
  end
  return true
end

-- recipe.load(path, args [, opts]) -> job | nil, message
-- args: the words after `--` on the command line (the recipe's `arg`).
-- opts are passed to sandbox.load_recipe (budget, print).
function M.load(path, args, opts)
  local value, err = sandbox.load_recipe(path, args, opts)
  if err then return nil, err end
  if value == nil then
    return nil, path .. ": the recipe returned nothing; end it with "
      .. "return { source = ..., video = { ladder = { ... } } }"
  end
  return M.validate(value, path)
end

return M

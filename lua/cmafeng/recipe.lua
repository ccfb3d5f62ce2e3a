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

-- Frame sizes must be even: 4:2:0 chroma is subsampled by two in both directions.
local function dimension(desc)
  return S.integer { min = 16, max = 8192, even = true, desc = desc }
end

local rung = S.record {
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
  -- No keyint: key frames at segment starts are the engine's job, never the recipe's.
}

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

-- The audio rendition: the source's audio as AAC-LC or Opus in its own CMAF track
-- (directory "audio", an HLS audio group and a DASH audio AdaptationSet, with the source
-- stream's language). Sources without audio get none; `enabled = false` leaves it out.
-- channels: 1..6 down/upmixes (6 = 5.1), 0 keeps the source's layout (5.1 at most).
local AUDIO_DEFAULTS = { enabled = true, bitrate = 128000, channels = 2, sample_rate = 48000,
                         codec = "aac" }
local audio = S.record({
  enabled = S.boolean { default = AUDIO_DEFAULTS.enabled },
  bitrate = S.integer { min = 16000, max = 512000, default = AUDIO_DEFAULTS.bitrate,
                        desc = "AAC bit rate in bit/s" },
  channels = S.integer { min = 0, max = 6, default = AUDIO_DEFAULTS.channels,
                         desc = "output channels, 0 = as the source (5.1 at most)" },
  codec = S.enum({ "aac", "opus" }, { default = AUDIO_DEFAULTS.codec }),
  -- Which audio streams become renditions (directories "audio", "audio_2", ...): absent,
  -- the best one; "all"; or 1-based stream numbers and ISO 639-2 languages, "1,3" or
  -- "eng,fra". The first is the default rendition.
  streams = S.string { optional = true, pattern = "^[%w,]+$",
                       desc = '"all", or audio stream numbers and languages, e.g. "eng,fra"' },
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
  -- "cmaf": CMAF segments and manifests; "both": also one progressive MP4 per rung
  -- (OUT/<rung>.mp4, fast start, the first audio rendition muxed in).
  output_mode = S.enum({ "cmaf", "both" }, { default = "cmaf" }),
  devices = S.array(device, { optional = true, min = 1, max = 64, of_desc = "device tables" }),
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

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

-- The engine's limits (engine/core/limits.h): one table for C and the schema.
local L = require("cmafeng.core").limits

-- Frame sizes must be even: 4:2:0 chroma is subsampled by two in both directions.
local function dimension(desc)
  return S.integer { min = L.MIN_DIMENSION, max = L.MAX_DIMENSION, even = true, desc = desc }
end

local rung_fields = {
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

-- A device's backend is the encoder that serves it (README "Encoder backends"):
--   svt    SVT-AV1 (software, the default)
--   aom    libaom-av1 through libavcodec (software); preset = cpu-used 0..8
--   rav1e  librav1e through libavcodec (software); preset = speed 0..10, crf -> qindex 4*crf
--   nvenc  NVIDIA GPU: av1_nvenc through libavcodec (FFmpeg >= 6.0); preset = p1..p7
--   qsv    Intel GPU: oneVPL (libvpl); preset = TargetUsage 1..7
--   vaapi  VA-API GPU: av1_vaapi through libavcodec (FFmpeg >= 6.0); preset 1..7
--   amf    AMD GPU: av1_amf through libavcodec (FFmpeg >= 6.0); preset 1..7
-- The rung's preset and crf are read in the backend's own range, checked before the job
-- starts ("preset 10 is out of range for libaom-av1 (cpu-used 0..8)").
local device = S.record {
  backend = S.enum { "svt", "aom", "rav1e", "nvenc", "qsv", "vaapi", "amf", "fault" },
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

-- The audio rendition: the source's audio as AAC-LC or Opus in its own CMAF track
-- (directory "audio", an HLS audio group and a DASH audio AdaptationSet, with the source
-- stream's language). Sources without audio get none; `enabled = false` leaves it out.
-- channels: 1..6 down/upmixes (6 = 5.1), 0 keeps the source's layout (5.1 at most).
local AUDIO_DEFAULTS = { enabled = true, bitrate = 128000, channels = 2, sample_rate = 48000,
                         codec = "aac" }
local audio = S.record({
  enabled = S.boolean { default = AUDIO_DEFAULTS.enabled },
  bitrate = S.integer { min = L.MIN_AUDIO_BITRATE, max = L.MAX_AUDIO_BITRATE,
                        default = AUDIO_DEFAULTS.bitrate,
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

-- A CIE 1931 chromaticity {x, y}.
local xy = S.array(S.number { min = 0, max = 1 }, { min = 2, max = 2, of_desc = "{x, y}" })

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
  frame_memory_mb = S.integer { min = L.MIN_FRAME_MEMORY_MB, max = L.MAX_FRAME_MEMORY_MB,
                                default = 32,
                                desc = "MiB of decoded source frames held at most" },
  video = S.record({
    ladder = S.array(rung, {
      min = 1, max = L.MAX_RUNGS, of_desc = "renditions",
      check = function(ladder, path)
        default_names(ladder)
        return unique_names(ladder, path)
      end,
    }),
    -- HDR10 static metadata for every rung: AV1 metadata OBUs from the encoder and mdcv/clli
    -- in the init segments. The shapes cmafeng.probe returns; absent: the source's, when it
    -- is PQ or HLG and says them (hdr_metadata = false: none).
    mastering_display = S.record({
      red = xy, green = xy, blue = xy, white_point = xy,
      min_luminance = S.number { min = 0, max = 100, desc = "cd/m2" },
      max_luminance = S.number { gt = 0, max = 10000, desc = "cd/m2" },
    }, { optional = true, desc = "SMPTE ST 2086: {red = {x, y}, green, blue, white_point, "
                                 .. "min_luminance, max_luminance}" }),
    content_light_level = S.record({
      max_cll = S.integer { min = 0, max = 65535, desc = "cd/m2" },
      max_fall = S.integer { min = 0, max = 65535, desc = "cd/m2" },
    }, { optional = true, desc = "{max_cll, max_fall}" }),
    hdr_metadata = S.boolean { default = true,
                               desc = "carry the source's mastering display and light level" },
  }, { desc = "video = { ladder = { ... } }" }),
  audio = audio,
  -- "cmaf": CMAF segments and manifests; "both": also one progressive MP4 per rung
  -- (OUT/<rung>.mp4, fast start, the first audio rendition muxed in).
  output_mode = S.enum({ "cmaf", "both" }, { default = "cmaf" }),
  -- Also DASH on demand: OUT/ondemand/<rendition>.mp4 (init + sidx + fragments, one file per
  -- rendition) and OUT/ondemand/manifest.mpd (isoff-on-demand profile, SegmentBase).
  dash_ondemand = S.boolean { default = false },
  -- Where segments start: chunking.fixed{...}, chunking.scene{...}, a function returning a
  -- cut list, or a cut list (cmafeng.chunking). Resolved by recipe.load into
  -- segment_seconds or video.cuts.
  chunking = S.any { optional = true, check = function(v, path)
    return require("cmafeng.chunking").validate_policy(v, path)
  end },
  -- "auto": every hardware AV1 encoder discovery finds (NVENC, oneVPL, VA-API), each with
  -- its session cap; none: the CPU (SVT-AV1, `workers` sessions), with the reason on stderr.
  devices = S.array(device, {
    optional = true, min = 1, max = L.MAX_DEVICES, of_desc = "device tables",
    or_values = { "auto" },
    check = function(devices, path)
      if devices == "auto" then return end
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

-- Whether the engine hands a rung's max_bitrate/buffer_size to its encoder (it does: the
-- SVT-AV1 backend caps CRF; a backend that cannot refuses to open). Were it false, a capped
-- rung would get a warning instead of silence.
M.ENGINE_RATE_CAPS = true

-- recipe.prepare(job, filename [, lines]) -> job | nil, message
-- What needs the source: probes it once, sets job.video.rotation/hflip from its display
-- matrix, lists what is wrong with the ladder for it (job.warnings: upscaling, stretching,
-- 8-bit HDR; cmafeng.ladder.check) and resolves `chunking` into segment_seconds
-- or video.cuts. A source that does not probe is
-- left to the engine, which reports it with its own message (exit 2).
function M.prepare(job, filename, lines)
  local info = require("cmafeng.probe").probe(job.source)
  job.warnings = job.warnings or {}
  if info and info.video then
    -- The display matrix, as the engine applies it to every decoded frame (media/rotate.c):
    -- clockwise quarter turns and a mirror.
    -- Rungs are sized for the display (ladder.standard turns its boxes for portrait).
    job.video.rotation = info.video.rotation
    job.video.hflip = info.video.hflip
    -- HDR10 metadata of a PQ/HLG source goes to every rung unless the recipe gave its own
    -- or said hdr_metadata = false (ladder.hdr_metadata is the same choice, made early).
    if job.video.hdr_metadata ~= false then
      local md, cll = require("cmafeng.ladder").hdr_metadata(info)
      job.video.mastering_display = job.video.mastering_display or md
      job.video.content_light_level = job.video.content_light_level or cll
    else
      job.video.mastering_display, job.video.content_light_level = nil, nil
    end
  end
  if job.video.mastering_display or job.video.content_light_level then
    -- Only SVT-AV1 writes the metadata OBUs: FFmpeg 5.1's libaom and librav1e wrappers drop
    -- frame side data. The init segments' mdcv/clli boxes carry it whatever the encoder.
    for i, d in ipairs(job.devices or {}) do
      local b = d.backend or "svt"
      if b ~= "svt" and b ~= "fault" then
        job.warnings[#job.warnings + 1] = string.format(
          "devices[%d] (%s): this encoder writes no HDR metadata OBUs; segments it encodes "
          .. "carry the mastering display and light level only in the init segment's "
          .. "mdcv/clli", i, b)
      end
    end
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
    -- The probes leased the devices ladder.per_title was given; the job leases its own. When
    -- they differ the probes ran beside, not within, the job's capacity (and a device they
    -- registered first keeps their session cap): say so.
    local want = pt.probe_devices { workers = job.workers, devices = job.devices,
                                    threads_per_worker = job.threads_per_worker }
    local function key(list)
      local k = {}
      for i, d in ipairs(list or {}) do k[i] = d.id .. "x" .. d.sessions end
      return table.concat(k, ",")
    end
    if key(want) ~= key(job.per_title.probe_devices) then
      job.warnings[#job.warnings + 1] = string.format(
        "ladder.per_title: the probes ran on %s but the job uses %s: pass the job's workers "
        .. "and devices to ladder.per_title", key(job.per_title.probe_devices), key(want))
    end
  end
  if job.chunking ~= nil then
    local ok, errs = require("cmafeng.chunking").resolve(job, info, function(fn, ...)
      return sandbox.pcall(sandbox.RECIPE_BUDGET, fn, ...)
    end)
    if not ok then return nil, format_problems(errs, filename, lines) end
  end
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

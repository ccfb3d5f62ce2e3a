-- cmafeng.inspect: `cmafeng inspect FILE [--json]` on top of cmafeng.core.inspect.
--
--   inspect.read(path [, init]) -> info | nil, message, code
--                         core.inspect plus a summary: frames, sync_samples, key_frames,
--                         duration (seconds, when known). A media segment is read with its
--                         init segment: init, else init.mp4 beside it when it does not parse
--                         alone (an audio or text segment says nothing of its track alone).
--   inspect.text(info) -> string                      the human-readable report
--   inspect.json(info) -> string                      one JSON object (json.encode)
local core = require "cmafeng.core"
local json = require "cmafeng.json"

local M = {}

local format, concat = string.format, table.concat

local FORMATS = {
  obu = "AV1 OBU stream (low-overhead format)",
  ivf = "IVF",
  mp4 = "MP4 (progressive)",
  init = "CMAF/fMP4 init segment",
  segment = "CMAF/fMP4 media segment",
  fmp4 = "fragmented MP4 (init + segments)",
}

local PROFILES = { [0] = "Main", [1] = "High", [2] = "Professional" }

-- ISO/IEC 23091-2 (H.273) code points that AV1 shares (AV1 spec 6.4.2).
local PRIMARIES = { [1] = "BT.709", [2] = "unspecified", [4] = "BT.470M", [5] = "BT.470BG",
  [6] = "BT.601", [7] = "SMPTE 240", [8] = "film", [9] = "BT.2020", [10] = "XYZ",
  [11] = "SMPTE 431", [12] = "SMPTE 432 (P3)", [22] = "EBU 3213" }
local TRANSFER = { [1] = "BT.709", [2] = "unspecified", [4] = "BT.470M", [5] = "BT.470BG",
  [6] = "BT.601", [7] = "SMPTE 240", [8] = "linear", [9] = "log100", [10] = "log100 sqrt10",
  [11] = "IEC 61966", [12] = "BT.1361", [13] = "sRGB", [14] = "BT.2020 10-bit",
  [15] = "BT.2020 12-bit", [16] = "PQ (SMPTE 2084)", [17] = "SMPTE 428", [18] = "HLG" }
local MATRIX = { [0] = "identity", [1] = "BT.709", [2] = "unspecified", [4] = "FCC",
  [5] = "BT.470BG", [6] = "BT.601", [7] = "SMPTE 240", [8] = "YCgCo", [9] = "BT.2020 NCL",
  [10] = "BT.2020 CL", [11] = "SMPTE 2085", [12] = "chroma NCL", [13] = "chroma CL",
  [14] = "ICtCp" }
local CSP = { [0] = "unknown", [1] = "vertical", [2] = "colocated" }

local function named(t, v)
  return t[v] and format("%d (%s)", v, t[v]) or tostring(v)
end

-- seq_level_idx -> "X.Y" (AV1 spec annex A.3): X = 2 + (idx >> 2), Y = idx & 3.
function M.level_name(idx)
  if idx == 31 then return "max" end
  return format("%d.%d", 2 + math.floor(idx / 4), idx % 4)
end

local function chroma(c)
  if c.mono_chrome == 1 then return "4:0:0 (monochrome)" end
  if c.subsampling_x == 1 and c.subsampling_y == 1 then return "4:2:0" end
  if c.subsampling_x == 1 then return "4:2:2" end
  return "4:4:4"
end

function M.read(path, init)
  local info, err, code = core.inspect(path, init)
  if not info and not init and path:match("%.m4s$") then
    local beside = (path:match("^(.*)/[^/]*$") or ".") .. "/init.mp4"
    local f = io.open(beside, "rb")
    if f then
      f:close()
      local again = core.inspect(path, beside)
      if again then info, err, code = again, nil, nil end
    end
  end
  if not info then return nil, err, code end
  local frames, sync, key, dur = #info.samples, 0, 0, 0
  local timed = info.timescale ~= nil
  for _, s in ipairs(info.samples) do
    if s.sync then sync = sync + 1 end
    if s.frame_type == "KEY" then key = key + 1 end
    if s.duration then dur = dur + s.duration else timed = false end
  end
  info.frames = frames
  info.sync_samples = sync
  info.key_frames = key
  if timed and frames > 0 then info.duration = dur / info.timescale end
  return info
end

function M.json(info)
  return json.encode(info)
end

local function seq_lines(out, s, source)
  local c = s.color_config
  local op = s.operating_points[1]
  out[#out + 1] = format("  sequence header (from %s):", source == "av1C" and "av1C configOBUs"
    or "the first sample that has one")
  out[#out + 1] = format("    profile %s, level %s (seq_level_idx %d), tier %s%s",
    named(PROFILES, s.seq_profile), M.level_name(op.seq_level_idx), op.seq_level_idx,
    op.seq_tier == 1 and "High" or "Main",
    s.still_picture == 1 and ", still picture" or "")
  out[#out + 1] = format("    bit depth %d, chroma %s, chroma sample position %s",
    c.bit_depth, chroma(c), named(CSP, c.chroma_sample_position))
  if c.color_description_present_flag == 1 then
    out[#out + 1] = format("    colour primaries %s, transfer %s, matrix %s",
      named(PRIMARIES, c.color_primaries), named(TRANSFER, c.transfer_characteristics),
      named(MATRIX, c.matrix_coefficients))
  else
    out[#out + 1] = "    no colour description (primaries, transfer, matrix unspecified)"
  end
  out[#out + 1] = format("    range %s, max frame %dx%d, %d operating point%s",
    c.color_range == 1 and "full" or "limited", s.max_frame_width_minus_1 + 1,
    s.max_frame_height_minus_1 + 1, s.operating_points_cnt_minus_1 + 1,
    s.operating_points_cnt_minus_1 == 0 and "" or "s")
  if s.timing_info_present_flag == 1 then
    local t = format("    timing info: %d/%d s per tick", s.num_units_in_display_tick,
      s.time_scale)
    if s.equal_picture_interval == 1 then
      t = t .. format(", %d tick%s per picture", s.num_ticks_per_picture_minus_1 + 1,
        s.num_ticks_per_picture_minus_1 == 0 and "" or "s")
    end
    if s.decoder_model_info_present_flag == 1 then t = t .. ", decoder model info" end
    out[#out + 1] = t
  else
    out[#out + 1] = "    timing info: none"
  end
  local tools = {}
  for _, k in ipairs { "use_128x128_superblock", "enable_order_hint", "enable_superres",
                       "enable_cdef", "enable_restoration", "film_grain_params_present" } do
    if s[k] == 1 then tools[#tools + 1] = k end
  end
  if #tools > 0 then out[#out + 1] = "    " .. concat(tools, ", ") end
end

function M.text(info)
  local out = {}
  local head = format("%s: %s", info.path, FORMATS[info.format] or info.format)
  local extra = {}
  if info.brand then extra[#extra + 1] = "brand " .. info.brand end
  if info.fragments then
    extra[#extra + 1] = format("%d fragment%s", info.fragments, info.fragments == 1 and "" or "s")
  end
  if info.sidx then
    extra[#extra + 1] = format("sidx at %d: %d references%s", info.sidx.start, info.sidx.references,
      info.sidx.problem and (" (" .. info.sidx.problem .. ")") or "")
  end
  if info.track_id then extra[#extra + 1] = "track " .. info.track_id end
  if info.init then extra[#extra + 1] = "with " .. info.init end
  if info.kind ~= "av1" and info.sample_entry then extra[#extra + 1] = info.sample_entry end
  if info.width and info.height then extra[#extra + 1] = info.width .. "x" .. info.height end
  if info.channels then
    extra[#extra + 1] = format("%d channel%s, %d Hz", info.channels,
      info.channels == 1 and "" or "s", info.sample_rate)
  end
  if info.timescale then extra[#extra + 1] = "timescale " .. info.timescale end
  if #extra > 0 then head = head .. " (" .. concat(extra, ", ") .. ")" end
  out[#out + 1] = head
  out[#out + 1] = "  codec string: " .. (info.codec_string or (info.kind == "av1"
    and "unknown (no sequence header)" or "unknown"))
  if info.codec_config then
    out[#out + 1] = format("  %s: %s", info.sample_entry == "Opus" and "dOps"
      or "AudioSpecificConfig", info.codec_config)
  end
  if info.edit then
    out[#out + 1] = format("  edit list: media_time %d, duration %d (movie timescale)",
      info.edit.media_time, info.edit.duration)
  end
  if info.sequence_header then
    seq_lines(out, info.sequence_header, info.sequence_header_source)
  end
  local d = info.in_band_sequence_header_differs
  if d then
    out[#out + 1] = format("  note: the sequence header in sample %d differs from av1C's (%s)",
      d.sample, d.field)
  end
  local a = info.av1c
  if a then
    out[#out + 1] = format("  av1C: profile %d, level idx %d, tier %d, high_bitdepth %d, " ..
      "twelve_bit %d, monochrome %d, subsampling %d/%d, chroma sample position %d,",
      a.seq_profile, a.seq_level_idx_0, a.seq_tier_0, a.high_bitdepth, a.twelve_bit,
      a.monochrome, a.chroma_subsampling_x, a.chroma_subsampling_y, a.chroma_sample_position)
    out[#out + 1] = format("        initial presentation delay %s, configOBUs %d bytes",
      a.initial_presentation_delay_present == 1
        and tostring(a.initial_presentation_delay_minus_one + 1) or "absent",
      a.config_obus_size)
  end
  local c = info.colr
  if c then
    out[#out + 1] = format("  colr nclx: primaries %d, transfer %d, matrix %d, %s range",
      c.colour_primaries, c.transfer_characteristics, c.matrix_coefficients,
      c.full_range and "full" or "limited")
  end
  local m = info.mdcv
  if m then
    out[#out + 1] = format("  mdcv: R %.4f,%.4f G %.4f,%.4f B %.4f,%.4f WP %.4f,%.4f, " ..
      "luminance %.4f..%.4f cd/m2", m.red[1], m.red[2], m.green[1], m.green[2], m.blue[1],
      m.blue[2], m.white_point[1], m.white_point[2], m.min_luminance, m.max_luminance)
  end
  if info.clli then
    out[#out + 1] = format("  clli: MaxCLL %d, MaxFALL %d cd/m2", info.clli.max_cll,
      info.clli.max_fall)
  end
  local summary = info.kind == "av1"
    and format("  samples: %d (%d sync, %d key frames)", info.frames, info.sync_samples,
      info.key_frames)
    or format("  samples: %d (%d sync)", info.frames, info.sync_samples)
  if info.duration then summary = summary .. format(", %.3f s", info.duration) end
  out[#out + 1] = summary
  if info.frames > 0 then
    out[#out + 1] = format("  %6s %12s %10s %10s  %-10s %s", "#", info.timescale and "time (s)"
      or "dts", "offset", "size", "type", "flags")
    for _, s in ipairs(info.samples) do
      local t = "-"
      if s.time then t = format("%.3f", s.time) elseif s.dts then t = tostring(s.dts) end
      local flags = {}
      if s.sync then flags[#flags + 1] = "sync" end
      if s.has_seq_hdr then flags[#flags + 1] = "seq" end
      if s.show_existing_frame then flags[#flags + 1] = "show_existing" end
      if s.av1_sync ~= nil and s.sync ~= s.av1_sync then
        flags[#flags + 1] = s.av1_sync and "(AV1 sync, not flagged)"
          or "(flagged sync, not an AV1 sync sample)"
      end
      out[#out + 1] = (format("  %6d %12s %10d %10d  %-10s %s", s.index, t, s.offset, s.size,
        s.frame_type or "-", concat(flags, " ")):gsub("%s+$", ""))
    end
  end
  return concat(out, "\n") .. "\n"
end

return M

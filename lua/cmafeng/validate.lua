-- cmafeng.validate: `cmafeng validate DIR [--json]`, an independent check of an output
-- directory (DESIGN.md section 5): the manifests are parsed from their text and every claim
-- they make is compared with the files on disk, read back with cmafeng.core.inspect: the one
-- fuzzed ISO BMFF reader (engine/mux/mp4_reader.c) for every track kind (AV1, AAC, Opus,
-- text); a media segment is read with its init segment.
--
--   validate.run(dir [, opts]) -> result | nil, message  nil only when DIR cannot be read
--     opts.decode: also decode every rendition (cmafeng.core.decode: libdav1d for AV1,
--     libavcodec for AAC and Opus) from init + segments in playlist order and hold the
--     frames against the manifests (`cmafeng validate DIR --decode`)
--     result = { ok = bool, dir = dir, problems = { {check=, file=, message=, element=,
--                rule=, spec=}, ... },
--                checked = { counts }, groups = { {name=, problems=n}, ... } }
--   validate.text(result) -> string                   one line per check group, then problems
--   validate.json(result) -> string                   {ok, problems=[{file, message, check}], checked}
--
-- Helpers, exported for the specs:
--   parse_attributes(s) -> {NAME = value}             RFC 8216 4.2 attribute lists
--   parse_m3u8(text) -> playlist | nil, message       multivariant or media playlist
--   parse_xml(text) -> root element | nil, message    the subset of XML an MPD uses
--   parse_mpd(text) -> {representations} | nil, msg   SegmentTemplate + SegmentTimeline
--   expand_template(tmpl, vars) -> string | nil, msg  ISO/IEC 23009-1 5.3.9.4.4 identifiers
--   expand_timeline(S list) -> {{t=, d=}, ...}        SegmentTimeline with t defaults and r
--   peak_bitrate(sizes, durations, target) -> bit/s   RFC 8216 4.3.4.2 peak segment bit rate
local json = require "cmafeng.json"

local M = {}

local format, concat, floor = string.format, table.concat, math.floor

local CHECKS = {
  { key = "master", name = "master.m3u8" },
  { key = "media", name = "media playlists" },
  { key = "segments", name = "segments" },
  { key = "mpd", name = "manifest.mpd" },
  { key = "report", name = "report.json" },
  { key = "decode", name = "decode" },
}

-- Where each check group's rules come from, for findings that do not name their own.
local GROUP = {
  master = { element = "EXT-X-STREAM-INF", rule = "the multivariant playlist describes the files",
             spec = "RFC 8216 4.3.4" },
  media = { element = "EXTINF", rule = "the media playlist describes the segments",
            spec = "RFC 8216 4.3.2, 4.3.3" },
  segments = { element = "moof", rule = "CMAF segment structure",
               spec = "ISO/IEC 23000-19 7.3; AV1-ISOBMFF 2.4" },
  mpd = { element = "Representation", rule = "the MPD describes the files",
          spec = "ISO/IEC 23009-1 5.3.9; DASH-IF IOP 3.2" },
  report = { element = "segments", rule = "report.json matches the files",
             spec = "cmafeng report.json" },
  decode = { element = "mdat", rule = "every sample decodes", spec = "ISO/IEC 23000-19 7.3" },
}

---------------------------------------------------------------------------------------------
-- Small file helpers

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data, rerr = f:read("*a")
  f:close()
  if not data then return nil, path .. ": " .. tostring(rerr) end
  return data
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = f:seek("end")
  f:close()
  return size
end

local function dirname(p)
  return p:match("^(.*)/[^/]*$") or ""
end

-- Joins a relative URI to the directory of the file that names it; "" is DIR itself.
-- Returns nil for URIs that are not local relative paths.
local function join(base, uri)
  if uri:match("^%a[%w+.-]*:") or uri:sub(1, 1) == "/" then return nil end
  uri = uri:gsub("[?#].*$", "")
  local parts = {}
  for part in ((base ~= "" and base .. "/" or "") .. uri):gmatch("[^/]+") do
    if part == ".." then
      if #parts == 0 then return nil end
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return concat(parts, "/")
end
M.join = join

local function round(x) return floor(x + 0.5) end

---------------------------------------------------------------------------------------------
-- HLS (RFC 8216)

-- 4.2: AttributeName=AttributeValue, comma separated; quoted strings may hold commas.
function M.parse_attributes(s)
  local attrs, pos = {}, 1
  while pos <= #s do
    local name, npos = s:match("^%s*([A-Z0-9%-]+)=()", pos)
    if not name then return nil, "malformed attribute list at " .. s:sub(pos) end
    local value
    if s:sub(npos, npos) == '"' then
      local close = s:find('"', npos + 1, true)
      if not close then return nil, "unterminated quoted string in " .. name end
      value = s:sub(npos + 1, close - 1)
      pos = close + 1
    else
      local stop = s:find(",", npos, true) or (#s + 1)
      value = s:sub(npos, stop - 1)
      pos = stop
    end
    attrs[name] = value
    local comma = s:match("^%s*(,?)", pos)
    if comma == "," then
      pos = s:find(",", pos, true) + 1
    elseif s:match("^%s*$", pos) then
      break
    else
      return nil, "expected ',' after " .. name
    end
  end
  return attrs
end

-- Parses a playlist. Returns { kind = "master"|"media", variants = {{attrs, uri, line}},
-- media = {{attrs, line}}, segments = {{uri, duration, line}}, map = {uri}, target_duration,
-- endlist, media_sequence, errors = {messages} } or nil, message when it is not a playlist.
function M.parse_m3u8(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = (line:gsub("\r$", "")) end
  if lines[1] ~= "#EXTM3U" then
    return nil, "the first line is not #EXTM3U (RFC 8216 4.3.1.1)"
  end
  local p = { variants = {}, media = {}, segments = {}, errors = {} }
  local function err(n, msg) p.errors[#p.errors + 1] = format("line %d: %s", n, msg) end
  local pending_inf, pending_extinf
  for n = 2, #lines do
    local line = lines[n]
    if line:match("^%s*$") then
      -- blank lines are ignored (4.1)
    elseif line:sub(1, 1) == "#" then
      local tag, value = line:match("^#(EXT[%w%-]+):?(.*)$")
      if tag == "EXT-X-STREAM-INF" then
        if pending_inf then err(pending_inf.line, "EXT-X-STREAM-INF is not followed by a URI") end
        local attrs, aerr = M.parse_attributes(value)
        if not attrs then err(n, "EXT-X-STREAM-INF: " .. aerr); attrs = {} end
        pending_inf = { attrs = attrs, line = n }
      elseif tag == "EXT-X-MEDIA" then
        local attrs, aerr = M.parse_attributes(value)
        if not attrs then err(n, "EXT-X-MEDIA: " .. aerr) else
          p.media[#p.media + 1] = { attrs = attrs, line = n }
        end
      elseif tag == "EXTINF" then
        local d = tonumber(value:match("^([^,]*)"))
        if not d or not value:find(",", 1, true) then
          err(n, "malformed EXTINF (expected #EXTINF:<duration>,[<title>])")
        end
        if pending_extinf then err(pending_extinf.line, "EXTINF is not followed by a URI") end
        pending_extinf = { duration = d, line = n }
      elseif tag == "EXT-X-TARGETDURATION" then
        p.target_duration = tonumber(value:match("^%d+$"))
        if not p.target_duration then err(n, "malformed EXT-X-TARGETDURATION " .. value) end
      elseif tag == "EXT-X-MEDIA-SEQUENCE" then
        p.media_sequence = tonumber(value)
      elseif tag == "EXT-X-MAP" then
        local attrs, aerr = M.parse_attributes(value)
        if not attrs or not attrs.URI then
          err(n, "EXT-X-MAP without a URI" .. (aerr and ": " .. aerr or ""))
        else
          p.map = { uri = attrs.URI, line = n }
        end
      elseif tag == "EXT-X-ENDLIST" then
        p.endlist = true
      elseif tag == "EXT-X-VERSION" then
        p.version = tonumber(value)
      end
    else
      if pending_inf then
        p.variants[#p.variants + 1] = { attrs = pending_inf.attrs, uri = line, line = n }
        pending_inf = nil
      elseif pending_extinf then
        p.segments[#p.segments + 1] = { uri = line, duration = pending_extinf.duration, line = n,
                                        extinf_line = pending_extinf.line }
        pending_extinf = nil
      else
        err(n, "URI " .. line .. " follows neither EXT-X-STREAM-INF nor EXTINF")
      end
    end
  end
  if pending_inf then err(pending_inf.line, "EXT-X-STREAM-INF is not followed by a URI") end
  if pending_extinf then err(pending_extinf.line, "EXTINF is not followed by a URI") end
  local is_master = #p.variants > 0 or #p.media > 0
  if is_master and (#p.segments > 0 or p.target_duration) then
    err(1, "the playlist mixes multivariant and media playlist tags (RFC 8216 4.1)")
  end
  p.kind = is_master and "master" or "media"
  return p
end

-- RFC 8216 4.3.4.2: the peak segment bit rate is the largest bit rate of any contiguous set of
-- segments whose total duration is between 0.5 and 1.5 times the target duration. When no set
-- qualifies (a very short playlist), the largest single-segment rate is used.
function M.peak_bitrate(sizes, durations, target)
  local peak, any = 0, false
  local n = #sizes
  if target and target > 0 then
    for i = 1, n do
      local bytes, dur = 0, 0
      for j = i, n do
        bytes, dur = bytes + sizes[j], dur + durations[j]
        if dur > 1.5 * target then break end
        if dur >= 0.5 * target and dur > 0 then
          any = true
          peak = math.max(peak, bytes * 8 / dur)
        end
      end
    end
  end
  if not any then
    for i = 1, n do
      if durations[i] > 0 then peak = math.max(peak, sizes[i] * 8 / durations[i]) end
    end
  end
  return peak
end

---------------------------------------------------------------------------------------------
-- XML (the subset an MPD uses: elements, attributes, comments, declarations) and DASH

local ENTITIES = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'" }
local function unescape(s)
  return (s:gsub("&(#?x?)(%w+);", function(kind, v)
    if kind == "" then return ENTITIES[v] end
    local code = tonumber(v, kind == "#x" and 16 or 10)
    return code and code < 128 and string.char(code) or nil
  end))
end

function M.parse_xml(text)
  local root = { name = "#document", attrs = {}, children = {} }
  local stack = { root }
  local pos = 1
  while true do
    local s = text:find("<", pos, true)
    if not s then break end
    if s > pos then -- character data: kept on the open element (BaseURL needs it)
      local top = stack[#stack]
      top.text = (top.text or "") .. unescape(text:sub(pos, s - 1))
    end
    if text:sub(s, s + 3) == "<!--" then
      local e = text:find("-->", s + 4, true)
      if not e then return nil, "unterminated comment" end
      pos = e + 3
    elseif text:sub(s, s + 1) == "<?" or text:sub(s, s + 1) == "<!" then
      local e = text:find(">", s, true)
      if not e then return nil, "unterminated declaration" end
      pos = e + 1
    else
      local e = s + 1
      -- find the closing '>' outside quoted attribute values
      local quote
      while e <= #text do
        local c = text:sub(e, e)
        if quote then
          if c == quote then quote = nil end
        elseif c == '"' or c == "'" then
          quote = c
        elseif c == ">" then
          break
        end
        e = e + 1
      end
      if e > #text then return nil, "unterminated tag at byte " .. s end
      local body = text:sub(s + 1, e - 1)
      pos = e + 1
      if body:sub(1, 1) == "/" then
        local name = body:match("^/%s*([%w:_%.%-]+)")
        local top = stack[#stack]
        if #stack == 1 or top.name ~= name then
          return nil, format("</%s> does not close <%s>", tostring(name), top.name)
        end
        stack[#stack] = nil
      else
        local name, rest = body:match("^([%w:_%.%-]+)(.*)$")
        if not name then return nil, "malformed tag <" .. body .. ">" end
        local selfclose = rest:match("/%s*$") ~= nil
        if selfclose then rest = rest:gsub("/%s*$", "") end
        local el = { name = name, attrs = {}, children = {} }
        for k, _, v in rest:gmatch("([%w:_%.%-]+)%s*=%s*(['\"])(.-)%2") do
          el.attrs[k] = unescape(v)
        end
        local parent = stack[#stack]
        parent.children[#parent.children + 1] = el
        el.parent = parent
        if not selfclose then stack[#stack + 1] = el end
      end
    end
  end
  if #stack > 1 then return nil, "<" .. stack[#stack].name .. "> is not closed" end
  return root
end

local function local_name(n) return n:match("([^:]+)$") end
local function child(el, name)
  for _, c in ipairs(el.children) do
    if local_name(c.name) == name then return c end
  end
end
local function children(el, name)
  local out = {}
  for _, c in ipairs(el.children) do
    if local_name(c.name) == name then out[#out + 1] = c end
  end
  return out
end

-- ISO/IEC 23009-1 5.3.9.4.4: $RepresentationID$, $Number$, $Time$, $Bandwidth$ with an
-- optional %0<width>d format tag, and $$ for a literal dollar sign.
function M.expand_template(tmpl, vars)
  local bad
  local out = tmpl:gsub("%$([^%$]*)%$", function(inner)
    if inner == "" then return "$" end
    local name, fmt = inner:match("^(%a+)(.*)$")
    local v = name and vars[name]
    if v == nil then bad = bad or "unknown or unset identifier $" .. inner .. "$"; return "" end
    if fmt == "" then return tostring(v) end
    if name == "RepresentationID" or not fmt:match("^%%0?%d*d$") then
      bad = bad or "bad format tag in $" .. inner .. "$"
      return ""
    end
    return format(fmt, v)
  end)
  if bad then return nil, bad end
  if tmpl:gsub("%$[^%$]*%$", ""):find("$", 1, true) then return nil, "unbalanced $ in " .. tmpl end
  return out
end

-- SegmentTimeline S elements ({t=, d=, r=} numbers, t and r optional) to one {t, d} per
-- segment. r < 0 (repeat until the next S or the end) is resolved only up to the next t.
function M.expand_timeline(S)
  local out, t = {}, 0
  for i, s in ipairs(S) do
    if s.t then t = s.t end
    local r = s.r or 0
    if r < 0 then
      local nxt = S[i + 1] and S[i + 1].t
      if not nxt then return nil, "S@r=-1 on the last S element is not supported" end
      r = math.ceil((nxt - t) / s.d) - 1
    end
    for _ = 0, r do
      out[#out + 1] = { t = t, d = s.d }
      t = t + s.d
    end
  end
  return out
end

-- Returns { {id, codecs, bandwidth, width, height, content, timescale, initialization,
-- media, start_number, timeline = {{t, d}}, line}, ... }, or nil, message.
function M.parse_mpd(text)
  local doc, err = M.parse_xml(text)
  if not doc then return nil, err end
  local mpd = child(doc, "MPD")
  if not mpd then return nil, "no MPD element" end
  local reps = { profiles = mpd.attrs.profiles }
  for _, period in ipairs(children(mpd, "Period")) do
    for _, as in ipairs(children(period, "AdaptationSet")) do
      for _, rep in ipairs(children(as, "Representation")) do
        local function attr(k) return rep.attrs[k] or as.attrs[k] end
        local st = child(rep, "SegmentTemplate") or child(as, "SegmentTemplate")
        local r = {
          id = rep.attrs.id, codecs = attr("codecs"), bandwidth = tonumber(rep.attrs.bandwidth),
          width = tonumber(attr("width")), height = tonumber(attr("height")),
          content = as.attrs.contentType or (attr("mimeType") or ""):match("^(%a+)/"),
          sampling_rate = tonumber(attr("audioSamplingRate")), lang = as.attrs.lang,
          mime = attr("mimeType"),
        }
        local base = child(rep, "BaseURL")
        r.base_url = base and base.text and base.text:match("^%s*(.-)%s*$")
        -- On demand (ISO/IEC 23009-1 5.3.9.2): the file's sidx and init byte ranges.
        local sb = child(rep, "SegmentBase") or child(as, "SegmentBase")
        if sb then
          r.index_range = sb.attrs.indexRange
          local ini = child(sb, "Initialization")
          r.init_range = ini and ini.attrs.range
          r.timescale = tonumber(sb.attrs.timescale) or 1
        end
        local acc = child(rep, "AudioChannelConfiguration") or child(as, "AudioChannelConfiguration")
        r.channels = acc and tonumber(acc.attrs.value)
        if st then
          local ast = child(as, "SegmentTemplate")
          local function tattr(k) return st.attrs[k] or (ast and ast.attrs[k]) end
          r.timescale = tonumber(tattr("timescale")) or 1
          r.initialization = tattr("initialization")
          r.media = tattr("media")
          r.start_number = tonumber(tattr("startNumber")) or 1
          local tl = child(st, "SegmentTimeline") or (ast and child(ast, "SegmentTimeline"))
          if tl then
            local S = {}
            for _, s in ipairs(children(tl, "S")) do
              S[#S + 1] = { t = tonumber(s.attrs.t), d = tonumber(s.attrs.d),
                            r = tonumber(s.attrs.r) }
              if not S[#S].d then return nil, "S element without d in " .. tostring(r.id) end
            end
            local expanded, terr = M.expand_timeline(S)
            if not expanded then return nil, terr end
            r.timeline = expanded
          end
        end
        reps[#reps + 1] = r
      end
    end
  end
  return reps
end

---------------------------------------------------------------------------------------------
-- Reading the tracks, cached: each file is parsed once however many manifests name it.

local function new_ctx(dir)
  local core = require "cmafeng.core"
  local ctx = { dir = dir, core = core, inits = {}, segs = {}, problems = {},
                checked = { variants = 0, media_playlists = 0, segments = 0,
                            representations = 0, renditions = 0, files = 0, decoded = 0,
                            frames = 0 } }
  function ctx.path(rel) return dir .. "/" .. rel end
  -- where: { element =, rule =, spec = }, each defaulting to the check group's.
  function ctx.problem(check, rel, msg, where)
    local g, w = GROUP[check] or {}, where or {}
    ctx.problems[#ctx.problems + 1] = { check = check, file = rel, message = msg,
      element = w.element or g.element, rule = w.rule or g.rule, spec = w.spec or g.spec }
  end
  return ctx
end

-- {err, rel, kind = "av1"|"audio"|"text", codec, width, height, timescale, track_id, seq,
--  channels, sample_rate, edit}
local function load_init(ctx, rel)
  local c = ctx.inits[rel]
  if c then return c end
  local path = ctx.path(rel)
  c = { size = file_size(path), rel = rel }
  ctx.inits[rel] = c
  if not c.size then c.err = "missing"; return c end
  ctx.checked.files = ctx.checked.files + 1
  local info, ierr = ctx.core.inspect(path)
  if info and info.format == "init" then
    c.kind, c.codec, c.width, c.height = info.kind, info.codec_string, info.width, info.height
    c.timescale, c.track_id, c.seq = info.timescale, info.track_id, info.sequence_header
    c.channels, c.sample_rate, c.edit = info.channels, info.sample_rate, info.edit
    c.sample_entry = info.sample_entry
    return c
  end
  c.err = ierr or ("not an init segment (" .. tostring(info.format) .. ")")
  return c
end

-- {size, err, tfdt, duration (ticks), samples = n, info (core.inspect of the segment, read
-- with its init segment when that one parsed)}
local function load_seg(ctx, rel, init)
  local c = ctx.segs[rel]
  if c then return c end
  local path = ctx.path(rel)
  c = { size = file_size(path) }
  ctx.segs[rel] = c
  if not c.size then c.err = "missing"; return c end
  ctx.checked.files = ctx.checked.files + 1
  local with = init and not init.err and ctx.path(init.rel) or nil
  local info, ierr = ctx.core.inspect(path, with)
  if not info then c.parse_err = ierr; return c end
  if info.format ~= "segment" then c.parse_err = "not a media segment (" .. info.format .. ")"; return c end
  c.info = info
  c.samples = #info.samples
  local first = info.samples[1]
  c.tfdt = first and first.dts
  local dur = 0
  for _, s in ipairs(info.samples) do dur = dur + (s.duration or 0) end
  c.duration = dur
  return c
end

---------------------------------------------------------------------------------------------
-- The checks

local function seconds(c, init)
  if c.duration and init and init.timescale then return c.duration / init.timescale end
end

-- Media playlist of a rendition: { rel, init_rel, segs = {rel...}, durations, parsed }
local function check_media_playlist(ctx, rel, renditions)
  local P = "media"
  local text = read_file(ctx.path(rel))
  if not text then ctx.problem(P, rel, "missing"); return nil end
  local pl, perr = M.parse_m3u8(text)
  if not pl then ctx.problem(P, rel, perr); return nil end
  ctx.checked.media_playlists = ctx.checked.media_playlists + 1
  for _, e in ipairs(pl.errors) do ctx.problem(P, rel, e) end
  if pl.kind ~= "media" then ctx.problem(P, rel, "expected a media playlist, got a multivariant playlist") end
  local base = dirname(rel)
  local r = { rel = rel, segs = {}, extinf = {}, dir = base }
  if not pl.map then
    ctx.problem(P, rel, "no EXT-X-MAP (fMP4 segments need the init section, RFC 8216 4.3.2.5)")
  else
    r.init_rel = join(base, pl.map.uri)
    if not r.init_rel then
      ctx.problem(P, rel, "EXT-X-MAP URI " .. pl.map.uri .. " is not a local relative path")
    else
      local init = load_init(ctx, r.init_rel)
      if init.err == "missing" then
        ctx.problem(P, rel, format("EXT-X-MAP names %s, which does not exist", pl.map.uri))
      end
    end
  end
  if not pl.target_duration then ctx.problem(P, rel, "no EXT-X-TARGETDURATION (required, RFC 8216 4.3.3.1)") end
  if not pl.endlist then ctx.problem(P, rel, "no EXT-X-ENDLIST (a finished VOD playlist must end with it)") end
  if #pl.segments == 0 then ctx.problem(P, rel, "lists no segments") end
  local init = r.init_rel and load_init(ctx, r.init_rel)
  for _, s in ipairs(pl.segments) do
    local srel = join(base, s.uri)
    if not srel then
      ctx.problem(P, rel, format("line %d: segment URI %s is not a local relative path", s.line, s.uri))
    else
      r.segs[#r.segs + 1] = srel
      r.extinf[#r.extinf + 1] = s.duration or 0
      ctx.checked.segments = ctx.checked.segments + 1
      local seg = load_seg(ctx, srel, init)
      if seg.err == "missing" then
        ctx.problem(P, rel, format("line %d: segment %s does not exist", s.line, s.uri))
      elseif s.duration then
        local actual = seconds(seg, init)
        if actual and math.abs(actual - s.duration) > 0.001 + 1e-9 then
          ctx.problem(P, rel, format("line %d: EXTINF of %s does not match the segment's " ..
            "duration (expected %.6f, got %.6f)", s.extinf_line, s.uri, actual, s.duration))
        end
      end
      if s.duration and pl.target_duration and round(s.duration) > pl.target_duration then
        ctx.problem(P, rel, format("line %d: EXTINF %.6f rounds above EXT-X-TARGETDURATION " ..
          "(expected <= %d, got %d)", s.extinf_line, s.duration, pl.target_duration, round(s.duration)))
      end
    end
  end
  r.target = pl.target_duration
  renditions[base] = renditions[base] or { dir = base }
  renditions[base].playlist = r
  return r
end

-- WebVTT (W3C WebVTT 4.1): the "WEBVTT" signature, for an HLS segment the
-- X-TIMESTAMP-MAP header (RFC 8216 3.5), cue timing lines "hh:mm:ss.ttt --> hh:mm:ss.ttt"
-- with end after start, and for a segment [from, to) seconds every cue overlapping it.
local function vtt_time(s)
  local h, m, sec, ms = s:match("^(%d+):(%d%d):(%d%d)%.(%d%d%d)$")
  if not h then
    m, sec, ms = s:match("^(%d%d):(%d%d)%.(%d%d%d)$")
    h = m and 0
  end
  if not h then return nil end
  return tonumber(h) * 3600 + tonumber(m) * 60 + tonumber(sec) + tonumber(ms) / 1000
end
function M.parse_vtt(text)
  local lines = {}
  for line in (text:gsub("\r\n", "\n") .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  if not (lines[1] or ""):match("^\239?\187?\191?WEBVTT") then
    return nil, "does not start with WEBVTT (W3C WebVTT 4.1)"
  end
  local v = { cues = {} }
  local i = 2
  while i <= #lines and lines[i] ~= "" do
    local map = lines[i]:match("^X%-TIMESTAMP%-MAP=(.*)$")
    if map then v.timestamp_map = map end
    i = i + 1
  end
  for n = i, #lines do
    local a, b = lines[n]:match("^(%S+)%s+%-%->%s+(%S+)")
    if a then
      local s, e = vtt_time(a), vtt_time(b)
      if not s or not e then return nil, format("line %d: malformed cue timing %s", n, lines[n]) end
      if e <= s then return nil, format("line %d: cue ends before it starts", n) end
      v.cues[#v.cues + 1] = { start = s, stop = e, line = n }
    end
  end
  return v
end

function M.check_vtt_file(ctx, P, rel, from, to, segment)
  local text = read_file(ctx.path(rel))
  local where = { element = "WebVTT", rule = "the WebVTT file parses",
                  spec = segment and "RFC 8216 3.5; W3C WebVTT" or "DASH-IF IOP 6.4.5; W3C WebVTT" }
  if not text then ctx.problem(P, rel, "missing", where); return end
  ctx.checked.files = ctx.checked.files + 1
  local v, err = M.parse_vtt(text)
  if not v then ctx.problem(P, rel, err, where); return end
  if segment and not v.timestamp_map then
    ctx.problem(P, rel, "no X-TIMESTAMP-MAP header", { element = "X-TIMESTAMP-MAP",
      rule = "WebVTT segments map cue time to media time", spec = "RFC 8216 3.5" })
  end
  for _, c in ipairs(v.cues) do
    if from and to and (c.stop <= from + 1e-9 or c.start >= to - 1e-9) then
      ctx.problem(P, rel, format("line %d: the cue %.3f-%.3f s lies outside the segment " ..
        "(%.3f-%.3f s)", c.line, c.start, c.stop, from, to), { element = "cue",
        rule = "a segment holds the cues of its time span", spec = "RFC 8216 3.5" })
    end
  end
  return v
end

-- A SUBTITLES media playlist: WebVTT segments, no EXT-X-MAP, each covering its EXTINF span.
local function check_text_playlist(ctx, rel)
  local P = "media"
  local text = read_file(ctx.path(rel))
  if not text then ctx.problem(P, rel, "missing"); return end
  local pl, perr = M.parse_m3u8(text)
  if not pl then ctx.problem(P, rel, perr); return end
  ctx.checked.media_playlists = ctx.checked.media_playlists + 1
  for _, e in ipairs(pl.errors) do ctx.problem(P, rel, e) end
  if not pl.endlist then ctx.problem(P, rel, "no EXT-X-ENDLIST (a finished VOD playlist must end with it)") end
  if #pl.segments == 0 then ctx.problem(P, rel, "lists no segments") end
  local base, t = dirname(rel), 0
  for _, s in ipairs(pl.segments) do
    local srel = join(base, s.uri)
    ctx.checked.segments = ctx.checked.segments + 1
    if not srel then
      ctx.problem(P, rel, format("line %d: segment URI %s is not a local relative path", s.line, s.uri))
    else
      M.check_vtt_file(ctx, P, srel, t, t + (s.duration or 0), true)
    end
    t = t + (s.duration or 0)
  end
end

local function check_master(ctx, renditions)
  local P = "master"
  local rel = "master.m3u8"
  local text = read_file(ctx.path(rel))
  if not text then ctx.problem(P, rel, "missing (no HLS multivariant playlist)"); return end
  local pl, perr = M.parse_m3u8(text)
  if not pl then ctx.problem(P, rel, perr); return end
  for _, e in ipairs(pl.errors) do ctx.problem(P, rel, e) end
  if pl.kind ~= "master" then ctx.problem(P, rel, "is not a multivariant playlist (no EXT-X-STREAM-INF)") end
  local media_pl = {}
  local function playlist(uri, line)
    local prel = join("", uri)
    if not prel then
      ctx.problem(P, rel, format("line %d: URI %s is not a local relative path", line, uri))
      return nil
    end
    if media_pl[prel] == nil then
      if not file_size(ctx.path(prel)) then
        ctx.problem(P, rel, format("line %d: media playlist %s does not exist", line, uri))
        media_pl[prel] = false
      else
        media_pl[prel] = check_media_playlist(ctx, prel, renditions) or false
      end
    end
    return media_pl[prel] or nil
  end
  -- EXT-X-MEDIA renditions: the audio groups
  local groups = {}
  for _, m in ipairs(pl.media) do
    local a = m.attrs
    for _, k in ipairs { "TYPE", "GROUP-ID", "NAME" } do
      if not a[k] then ctx.problem(P, rel, format("line %d: EXT-X-MEDIA without %s", m.line, k)) end
    end
    if a.TYPE == "SUBTITLES" and a.URI then
      local prel = join("", a.URI)
      if not prel then
        ctx.problem(P, rel, format("line %d: URI %s is not a local relative path", m.line, a.URI))
      else
        check_text_playlist(ctx, prel)
      end
    end
    if a.TYPE == "AUDIO" and a["GROUP-ID"] then
      local g = groups[a["GROUP-ID"]] or {}
      groups[a["GROUP-ID"]] = g
      if a.URI then
        local mp = playlist(a.URI, m.line)
        if mp then
          g[#g + 1] = mp
          renditions[mp.dir].channels = tonumber((a.CHANNELS or ""):match("^%d+"))
        end
      end
    end
  end
  local function peak_of(mp)
    local init = mp.init_rel and load_init(ctx, mp.init_rel)
    local sizes, durs = {}, {}
    for i, srel in ipairs(mp.segs) do
      local seg = load_seg(ctx, srel, init)
      if not seg.size then return nil end
      sizes[i], durs[i] = seg.size, mp.extinf[i]
    end
    return M.peak_bitrate(sizes, durs, mp.target)
  end
  for _, v in ipairs(pl.variants) do
    ctx.checked.variants = ctx.checked.variants + 1
    local a = v.attrs
    local where = format("line %d (%s)", v.line - 1, v.uri)
    local bw = tonumber(a.BANDWIDTH)
    if not bw then ctx.problem(P, rel, where .. ": EXT-X-STREAM-INF without a numeric BANDWIDTH") end
    local mp = playlist(v.uri, v.line)
    if mp then renditions[mp.dir].resolution = a.RESOLUTION end
    local init = mp and mp.init_rel and load_init(ctx, mp.init_rel)
    local codecs = {}
    for c in (a.CODECS or ""):gmatch("[^,%s]+") do codecs[#codecs + 1] = c end
    if not a.CODECS then ctx.problem(P, rel, where .. ": no CODECS attribute") end
    local av1
    for _, c in ipairs(codecs) do if c:match("^av01%.") then av1 = c end end
    if init and init.kind == "av1" then
      if a.CODECS and av1 ~= init.codec then
        ctx.problem(P, rel, format("%s: CODECS' AV1 entry does not match %s (expected %s, got %s)",
          where, mp.init_rel, tostring(init.codec), tostring(av1 or a.CODECS)))
      end
      local res = init.width and format("%dx%d", init.width, init.height)
      if a.RESOLUTION ~= res then
        ctx.problem(P, rel, format("%s: RESOLUTION does not match %s (expected %s, got %s)",
          where, mp.init_rel, tostring(res), tostring(a.RESOLUTION)))
      end
    end
    -- audio group
    local audio_peak = 0
    if a.AUDIO then
      local g = groups[a.AUDIO]
      if not g then
        ctx.problem(P, rel, format("%s: AUDIO=\"%s\" names no EXT-X-MEDIA TYPE=AUDIO group", where, a.AUDIO))
      else
        for _, amp in ipairs(g) do
          local ainit = amp.init_rel and load_init(ctx, amp.init_rel)
          if ainit and ainit.codec and a.CODECS then
            local found = false
            for _, c in ipairs(codecs) do if c == ainit.codec then found = true end end
            if not found then
              ctx.problem(P, rel, format("%s: CODECS lacks the audio codec of %s (expected %s, got %s)",
                where, amp.init_rel, ainit.codec, a.CODECS))
            end
          end
          audio_peak = math.max(audio_peak, peak_of(amp) or 0)
        end
      end
    end
    if bw and mp then
      local vpeak = peak_of(mp)
      if vpeak then
        local peak = vpeak + audio_peak
        if peak > bw * (1 + 1e-6) + 1 then
          ctx.problem(P, rel, format("%s: BANDWIDTH is below the peak segment bit rate " ..
            "(RFC 8216 4.3.4.2; expected >= %d, got %d)", where, math.ceil(peak), bw))
        end
      end
    end
  end
end

-- Segment checks per rendition: parse, continuity, sync/key, sequence header vs av1C.
local SEQ_SKIP = {}
local cmaf_diff
local function first_diff(a, b, prefix)
  if type(a) ~= type(b) then return prefix end
  if type(a) ~= "table" then return a ~= b and prefix or nil end
  for k, v in pairs(a) do
    if not SEQ_SKIP[k] then
      local d = first_diff(v, b[k], prefix == "" and tostring(k) or prefix .. "." .. tostring(k))
      if d then return d end
    end
  end
  for k in pairs(b) do
    if a[k] == nil then return prefix == "" and tostring(k) or prefix .. "." .. tostring(k) end
  end
end
M.first_diff = first_diff

-- The sequence header fields a CMAF AV1 track keeps from its sample entry to every sample
-- (AV1-ISOBMFF section 3, CMAF AV1 track format, with the single sample entry of ISO/IEC
-- 23000-19 7.3.2.4): profile, still picture, level and tier of operating point 0, the whole
-- colour configuration, the initial presentation delay and the maximum frame size. Coding
-- tool flags (enable_*) may differ between the encoders that made a rendition; the
-- engine's `cmaf` invariant mode is the same rule (DESIGN.md section 3).
local CMAF_SEQ_FIELDS = { "seq_profile", "still_picture", "color_config",
                          "max_frame_width_minus_1", "max_frame_height_minus_1",
                          "initial_display_delay_present_flag" }
local CMAF_OP_FIELDS = { "seq_level_idx", "seq_tier", "initial_display_delay_minus_1" }
cmaf_diff = function(a, b)
  for _, k in ipairs(CMAF_SEQ_FIELDS) do
    local d = first_diff(a[k], b[k], k)
    if d then return d end
  end
  local oa = a.operating_points and a.operating_points[1] or {}
  local ob = b.operating_points and b.operating_points[1] or {}
  for _, k in ipairs(CMAF_OP_FIELDS) do
    local d = first_diff(oa[k], ob[k], "operating_points[1]." .. k)
    if d then return d end
  end
end
M.cmaf_diff = cmaf_diff

local function check_segments(ctx, renditions, order)
  local P = "segments"
  for _, key in ipairs(order) do
    local rd = renditions[key]
    local list = rd.playlist and rd.playlist.segs or rd.dash_segs
    local init_rel = rd.playlist and rd.playlist.init_rel or rd.dash_init
    if list and init_rel then
      ctx.checked.renditions = ctx.checked.renditions + 1
      local init = load_init(ctx, init_rel)
      if init.err then
        ctx.problem(P, init_rel, init.err == "missing" and "missing" or "cannot read the init segment: " .. init.err)
      end
      local prev, prev_rel
      for _, srel in ipairs(list) do
        local seg = load_seg(ctx, srel, not init.err and init or nil)
        if seg.parse_err then
          ctx.problem(P, srel, "cannot parse the segment: " .. seg.parse_err)
          prev = nil
        elseif seg.size and not init.err then
          if seg.samples == 0 then ctx.problem(P, srel, "holds no samples") end
          if prev and prev.tfdt and seg.tfdt and seg.tfdt ~= prev.tfdt + prev.duration then
            ctx.problem(P, srel, format("tfdt does not continue %s (expected %d = %d + %d, got %d)",
              prev_rel:match("[^/]+$"), prev.tfdt + prev.duration, prev.tfdt, prev.duration, seg.tfdt))
          end
          local info = seg.info
          if info and info.kind == "av1" then
            if init.track_id and info.track_id and info.track_id ~= init.track_id then
              ctx.problem(P, srel, format("track_ID differs from %s (expected %d, got %d)",
                init_rel, init.track_id, info.track_id))
            end
            for i, s in ipairs(info.samples) do
              if i == 1 and not s.sync then
                ctx.problem(P, srel, "the first sample is not a sync sample")
              end
              if i == 1 and s.frame_type ~= "KEY" then
                ctx.problem(P, srel, format("the first sample is not a key frame (expected KEY, got %s)", s.frame_type))
              end
              if s.frame_type == "-" and not s.show_existing_frame then
                ctx.problem(P, srel, format("sample %d has no frame header", i))
              end
              if s.sync and not s.av1_sync then
                ctx.problem(P, srel, format("sample %d is flagged sync but is not an AV1 sync sample " ..
                  "(key frame shown, with a sequence header)", i))
              end
            end
            if info.samples[1] and not info.samples[1].has_seq_hdr then
              ctx.problem(P, srel, "the first sample carries no sequence header OBU")
            end
            if info.codec_string ~= init.codec then
              ctx.problem(P, srel, format("in-band sequence header gives another codec string than %s's av1C " ..
                "(expected %s, got %s)", init_rel, tostring(init.codec), tostring(info.codec_string)))
            elseif init.seq and info.sequence_header then
              local d = cmaf_diff(init.seq, info.sequence_header)
              if d then
                ctx.problem(P, srel, format("in-band sequence header differs from %s's av1C " ..
                  "configOBUs in %s", init_rel, d))
              end
            end
          end
          prev, prev_rel = seg, srel
        else
          prev = nil
        end
      end
    end
  end
end

local function check_mpd(ctx, renditions)
  local P = "mpd"
  local rel = "manifest.mpd"
  local text = read_file(ctx.path(rel))
  if not text then ctx.problem(P, rel, "missing (no DASH manifest)"); return end
  local reps, err = M.parse_mpd(text)
  if not reps then ctx.problem(P, rel, "cannot parse: " .. err); return end
  if #reps == 0 then ctx.problem(P, rel, "has no Representation") end
  for _, r in ipairs(reps) do
    ctx.checked.representations = ctx.checked.representations + 1
    local who = format("Representation %s", tostring(r.id))
    local vars = { RepresentationID = r.id, Bandwidth = r.bandwidth }
    if r.content == "text" and r.mime == "text/vtt" then
      -- A sidecar WebVTT file (DASH-IF IOP 6.4.5): BaseURL names the whole track.
      local vrel = r.base_url and join("", r.base_url)
      if not vrel then
        ctx.problem(P, rel, who .. ": a text/vtt Representation without a relative BaseURL",
          { element = "BaseURL", rule = "sidecar WebVTT", spec = "DASH-IF IOP 6.4.5" })
      else
        M.check_vtt_file(ctx, P, vrel, nil, nil, false)
      end
    elseif not r.codecs then ctx.problem(P, rel, who .. ": no codecs attribute") end
    if r.content == "text" and r.mime == "text/vtt" then
      -- checked above
    elseif not r.initialization or not r.media then
      ctx.problem(P, rel, who .. ": no SegmentTemplate with initialization and media")
    elseif not r.timeline then
      ctx.problem(P, rel, who .. ": SegmentTemplate without a SegmentTimeline (validate needs one)")
    else
      local irel, ierr = M.expand_template(r.initialization, vars)
      irel = irel and join("", irel)
      local init
      if not irel then
        ctx.problem(P, rel, who .. ": initialization " .. r.initialization .. ": " .. (ierr or "not a relative path"))
      else
        init = load_init(ctx, irel)
        if init.err == "missing" then
          ctx.problem(P, rel, format("%s: initialization %s does not exist", who, irel))
        elseif init.err then
          init = nil
        else
          if r.codecs and init.codec and r.codecs ~= init.codec then
            ctx.problem(P, rel, format("%s: codecs does not match %s (expected %s, got %s)",
              who, irel, init.codec, r.codecs))
          end
          if init.width and r.width and (r.width ~= init.width or r.height ~= init.height) then
            ctx.problem(P, rel, format("%s: width x height does not match %s (expected %dx%d, got %sx%s)",
              who, irel, init.width, init.height, tostring(r.width), tostring(r.height)))
          end
        end
      end
      local segs = {}
      for i, e in ipairs(r.timeline) do
        vars.Number, vars.Time = r.start_number + i - 1, e.t
        local srel, serr = M.expand_template(r.media, vars)
        srel = srel and join("", srel)
        if not srel then
          ctx.problem(P, rel, who .. ": media " .. r.media .. ": " .. (serr or "not a relative path"))
          break
        end
        segs[#segs + 1] = srel
        local seg = load_seg(ctx, srel, init)
        if seg.err == "missing" then
          ctx.problem(P, rel, format("%s: segment %d (%s) does not exist", who, vars.Number, srel))
        elseif init and init.timescale and seg.tfdt then
          local ts = r.timescale
          local t = seg.tfdt * ts / init.timescale
          local d = seg.duration * ts / init.timescale
          if t ~= e.t then
            ctx.problem(P, rel, format("%s: SegmentTimeline t of %s does not match its tfdt " ..
              "(expected %s, got %d)", who, srel, tostring(t), e.t))
          end
          if d ~= e.d then
            ctx.problem(P, rel, format("%s: SegmentTimeline d of %s does not match its duration " ..
              "(expected %s, got %d)", who, srel, tostring(d), e.d))
          end
        end
      end
      if irel then
        local key = dirname(irel)
        renditions[key] = renditions[key] or { dir = key }
        renditions[key].dash_segs = renditions[key].dash_segs or segs
        renditions[key].dash_init = renditions[key].dash_init or irel
        renditions[key].dash = renditions[key].dash or r
      end
    end
  end
end

-- Audio segments follow the video's (DASH-IF IOP 3.2, segment alignment across adaptation
-- sets; ISO/IEC 23000-19 7.3.2): as many segments, each starting within one audio frame of
-- the video segment with the same number, and none shorter than half the target duration
-- (the last one absorbs the remainder).
local function check_audio_alignment(ctx, renditions, order)
  local P = "segments"
  local video, audios = nil, {}
  for _, key in ipairs(order) do
    local rd = renditions[key]
    local init_rel = rd.playlist and rd.playlist.init_rel or rd.dash_init
    local init = init_rel and load_init(ctx, init_rel)
    local list = rd.playlist and rd.playlist.segs or rd.dash_segs
    if init and not init.err and list then
      if init.kind == "av1" and not video then video = { rd = rd, init = init, list = list }
      elseif init.kind == "audio" then audios[#audios + 1] = { rd = rd, init = init, list = list } end
    end
  end
  if not video then return end
  -- Presentation times: the media time less the edit list's start (the audio priming).
  local function starts(x)
    local out = {}
    local shift = x.init.edit and x.init.edit.media_time > 0 and x.init.edit.media_time or 0
    for i, srel in ipairs(x.list) do
      local seg = load_seg(ctx, srel, x.init)
      if not seg.tfdt or not x.init.timescale then return nil end
      out[i] = { t = (seg.tfdt - (i > 1 and shift or 0)) / x.init.timescale,
                 d = seg.duration / x.init.timescale, rel = srel }
    end
    return out
  end
  local vs = starts(video)
  if not vs or #vs == 0 then return end
  local target = video.rd.playlist and video.rd.playlist.target
  for _, a in ipairs(audios) do
    local as = starts(a)
    if as and #as > 0 then
      local frame = 1024 / (a.init.timescale or 48000)
      if #as ~= #vs then
        ctx.problem(P, a.rd.playlist and a.rd.playlist.rel or a.list[1], format(
          "%d audio segments for %d video segments in %s (expected one per video segment)",
          #as, #vs, video.rd.dir), { element = "segment list", rule = "audio segments follow the video's",
          spec = "DASH-IF IOP 3.2 (segment alignment); ISO/IEC 23000-19 7.3.2" })
      end
      for i = 2, math.min(#as, #vs) do
        local off = math.abs(as[i].t - vs[i].t)
        if off > frame + 1e-6 then
          ctx.problem(P, as[i].rel, format("starts %.6f s from %s (expected within one audio " ..
            "frame, %.6f s)", off, vs[i].rel, frame), { element = "tfdt",
            rule = "audio segments follow the video's", spec = "DASH-IF IOP 3.2; ISO/IEC 23000-19 7.3.2" })
        end
      end
      -- The last audio segment is judged against the video's last one: when the video
      -- itself ends with a short segment, the audio follows it.
      local nominal = math.min(vs[1].d, vs[#vs].d)
      for i, x in ipairs(as) do
        if i == #as and #as > 1 and x.d < 0.5 * nominal - 1e-9 then
          ctx.problem(P, x.rel, format("lasts %.6f s, less than half the %.6f s video segment " ..
            "(the last segment absorbs the remainder)", x.d, nominal), { element = "trun",
            rule = "no sliver segment", spec = "DASH-IF IOP 3.2 (segment duration variation); " ..
            "RFC 8216 4.3.3.1" .. (target and format(" (target %d s)", target) or "") })
        end
      end
    end
  end
end

-- `validate --decode`: every rendition decoded by an independent decoder from its init and
-- its segments in playlist order; what comes out is held against the container and the
-- manifests, frame for frame.
local function check_decode(ctx, renditions, order)
  local P = "decode"
  for _, key in ipairs(order) do
    local rd = renditions[key]
    local list = rd.playlist and rd.playlist.segs or rd.dash_segs
    local init_rel = rd.playlist and rd.playlist.init_rel or rd.dash_init
    local init = init_rel and load_init(ctx, init_rel)
    if list and init and not init.err and (init.kind == "av1" or init.kind == "audio") then
      local paths = { ctx.path(init_rel) }
      local present = true
      for i, srel in ipairs(list) do
        paths[i + 1] = ctx.path(srel)
        if not file_size(paths[i + 1]) then present = false end
      end
      ctx.checked.decoded = ctx.checked.decoded + 1
      local res, err = present and ctx.core.decode(paths)
      if not present then
        -- a missing segment is reported by the media and mpd checks
      elseif not res then
        ctx.problem(P, init_rel, "cannot decode the rendition: " .. tostring(err),
          { element = "moov", rule = "the rendition decodes from init + segments",
            spec = "ISO/IEC 23000-19 7.3.1 (CMAF track = header + fragments)" })
      else
        local is_video = res.kind == "video"
        local spec_sample = is_video and "AV1-ISOBMFF 2.4 (a sample is one temporal unit with one shown frame)"
          or (init.sample_entry == "Opus" and "Opus in ISO BMFF 4.3 / ISO/IEC 23000-19 10.5"
              or "ISO/IEC 14496-3 / ISO/IEC 23000-19 10.3 (AAC)")
        ctx.checked.frames = ctx.checked.frames + #res.frames
        if res.decode_errors > 0 then
          local fname = res.first_error and res.first_error:match("%(([^)]+)%)")
          ctx.problem(P, fname and join(rd.dir, fname) or init_rel, format("%s refused %d sample%s; " ..
            "the first: %s", res.decoder, res.decode_errors, res.decode_errors == 1 and "" or "s",
            tostring(res.first_error)), { element = "mdat", rule = "every sample decodes", spec = spec_sample })
        end
        -- Per segment: as many frames as samples, the frames' timestamps those of the
        -- samples, each segment continuing the one before.
        local fi = 1
        local expect_t
        local extinf_start
        local ts = res.timescale
        for i, srel in ipairs(list) do
          local f = res.files[i + 1]
          if f.frames ~= f.samples then
            ctx.problem(P, srel, format("%d %s decoded from %d samples (expected one per sample)",
              f.frames, is_video and "pictures" or "audio frames", f.samples),
              { element = "trun", rule = "every sample decodes to one frame", spec = spec_sample })
          end
          local n = 0
          while res.frames[fi] and res.frames[fi].file == i + 1 do
            local fr = res.frames[fi]
            n = n + 1
            if n == 1 and f.first_dts and fr.pts ~= f.first_dts then
              ctx.problem(P, srel, format("the first decoded frame has timestamp %d (expected " ..
                "the tfdt, %d)", fr.pts, f.first_dts), { element = "tfdt",
                rule = "decoded timestamps are the container's", spec = "ISO/IEC 14496-12 8.8.12" })
            end
            if is_video then
              if init.width and (fr.width ~= init.width or fr.height ~= init.height) then
                ctx.problem(P, srel, format("frame %d decodes to %dx%d (expected the sample " ..
                  "entry's %dx%d)", n, fr.width, fr.height, init.width, init.height),
                  { element = "av01", rule = "pictures have the announced size",
                    spec = "AV1-ISOBMFF 2.2.4; ISO/IEC 14496-12 12.1.3" })
                break
              end
              if rd.resolution and format("%dx%d", fr.width, fr.height) ~= rd.resolution then
                ctx.problem(P, srel, format("frame %d decodes to %dx%d (master.m3u8 RESOLUTION=%s)",
                  n, fr.width, fr.height, rd.resolution), { element = "EXT-X-STREAM-INF RESOLUTION",
                  rule = "pictures have the announced size", spec = "RFC 8216 4.3.4.2" })
                break
              end
              if rd.dash and rd.dash.width and (fr.width ~= rd.dash.width or fr.height ~= rd.dash.height) then
                ctx.problem(P, srel, format("frame %d decodes to %dx%d (manifest.mpd %dx%d)", n,
                  fr.width, fr.height, rd.dash.width, rd.dash.height), { element = "Representation@width/@height",
                  rule = "pictures have the announced size", spec = "ISO/IEC 23009-1 5.3.7; DASH-IF IOP 3.2.4" })
                break
              end
            end
            fi = fi + 1
          end
          -- The segment's start as the manifests tell it.
          if f.first_dts and ts and ts > 0 then
            local t = f.first_dts
            if expect_t and t ~= expect_t then
              ctx.problem(P, srel, format("decoding starts at %d, not where the previous segment " ..
                "ended (%d)", t, expect_t), { element = "tfdt", rule = "segments are continuous",
                spec = "ISO/IEC 23000-19 7.3.2.2 (tfdt)" })
            end
            expect_t = t + f.duration
            local pl = rd.playlist
            if pl and pl.extinf[i] then
              extinf_start = extinf_start or t / ts
              local decoded_d = f.duration / ts
              if math.abs(decoded_d - pl.extinf[i]) > 0.001 + 1e-9 then
                ctx.problem(P, srel, format("the decoded frames last %.6f s, EXTINF says %.6f",
                  decoded_d, pl.extinf[i]), { element = "EXTINF", rule = "EXTINF is the decoded duration",
                  spec = "RFC 8216 4.3.2.1" })
              end
              local sum = 0
              for k = 1, i - 1 do sum = sum + pl.extinf[k] end
              if math.abs(extinf_start + sum - t / ts) > 0.001 + i * 1e-6 then
                ctx.problem(P, srel, format("the first frame is at %.6f s, the EXTINF sum puts the " ..
                  "segment at %.6f s", t / ts, extinf_start + sum), { element = "EXTINF",
                  rule = "playlist time is decoded time", spec = "RFC 8216 3 (media segment timing), 4.3.2.1" })
              end
            end
            local tl = rd.dash and rd.dash.timeline and rd.dash.timeline[i]
            if tl then
              local dts = rd.dash.timescale or 1
              if tl.t * ts ~= t * dts or tl.d * ts ~= f.duration * dts then
                ctx.problem(P, srel, format("decoded %d + %d (timescale %d), the SegmentTimeline " ..
                  "says t=%d d=%d (timescale %d)", t, f.duration, ts, tl.t, tl.d, dts),
                  { element = "SegmentTimeline/S", rule = "the timeline is decoded time",
                    spec = "ISO/IEC 23009-1 5.3.9.6; DASH-IF IOP 3.2.7" })
              end
            end
          end
        end
        if not is_video then
          local total = 0
          for i = 2, #res.files do total = total + res.files[i].duration end
          -- Every frame decodes to its full length; the durations may cut the last one short
          -- (the end of the stream), never more than one frame's worth.
          local want = total * (res.sample_rate or 0) / (ts or 1)
          local last = res.frames[#res.frames]
          local slack = last and last.nb_samples or 0
          if res.pcm_samples < want or res.pcm_samples - want >= math.max(slack, 1) then
            ctx.problem(P, init_rel, format("%d PCM samples decoded, the sample durations add " ..
              "up to %d", res.pcm_samples, want), { element = "trun",
              rule = "sample durations are the decoded lengths", spec = spec_sample })
          end
          if init.channels and res.channels ~= init.channels then
            ctx.problem(P, init_rel, format("decodes to %d channels (expected the sample entry's %d)",
              res.channels, init.channels), { element = init.sample_entry .. " channelcount",
              rule = "channels as announced", spec = "ISO/IEC 14496-12 12.2.3" })
          end
          if rd.channels and res.channels ~= rd.channels then
            ctx.problem(P, init_rel, format("decodes to %d channels (master.m3u8 CHANNELS=%d)",
              res.channels, rd.channels), { element = "EXT-X-MEDIA CHANNELS",
              rule = "channels as announced", spec = "RFC 8216 4.3.4.1" })
          end
          if rd.dash and rd.dash.channels and res.channels ~= rd.dash.channels then
            ctx.problem(P, init_rel, format("decodes to %d channels (manifest.mpd " ..
              "AudioChannelConfiguration %d)", res.channels, rd.dash.channels),
              { element = "AudioChannelConfiguration", rule = "channels as announced",
                spec = "ISO/IEC 23009-1 5.8.4.7; DASH-IF IOP 6.3" })
          end
          if rd.dash and rd.dash.sampling_rate and res.sample_rate ~= rd.dash.sampling_rate then
            ctx.problem(P, init_rel, format("decodes at %d Hz (manifest.mpd audioSamplingRate %d)",
              res.sample_rate, rd.dash.sampling_rate), { element = "Representation@audioSamplingRate",
              rule = "sample rate as announced", spec = "ISO/IEC 23009-1 5.3.7" })
          end
        end
      end
    end
  end
end

-- Single-file MP4s (output_mode = "both"): DIR/<rung>.mp4 beside a video rendition holds the
-- same samples as its segments (count, codec, size), with moov before mdat (fast start);
-- with --decode, every frame decodes.
local function check_mp4_files(ctx, renditions, order, decode)
  local P = "segments"
  for _, key in ipairs(order) do
    local rd = renditions[key]
    local init_rel = rd.playlist and rd.playlist.init_rel or rd.dash_init
    local list = rd.playlist and rd.playlist.segs or rd.dash_segs
    local init = init_rel and load_init(ctx, init_rel)
    local rel = key .. ".mp4"
    if init and not init.err and init.kind == "av1" and list and file_size(ctx.path(rel)) then
      ctx.checked.files = ctx.checked.files + 1
      local where = { element = "moov", rule = "the MP4 holds the rendition's samples",
                      spec = "ISO/IEC 14496-12 8.6, 8.7" }
      local info, err = ctx.core.inspect(ctx.path(rel))
      if not info then
        ctx.problem(P, rel, "cannot read: " .. tostring(err), where)
      else
        local n = 0
        for _, srel in ipairs(list) do n = n + (load_seg(ctx, srel, init).samples or 0) end
        if info.format ~= "mp4" then
          ctx.problem(P, rel, "is not a progressive MP4 (" .. info.format .. ")", where)
        elseif #info.samples ~= n then
          ctx.problem(P, rel, format("%d samples, the segments of %s hold %d", #info.samples, key, n), where)
        end
        if info.codec_string ~= init.codec or info.width ~= init.width or info.height ~= init.height then
          ctx.problem(P, rel, format("%s %sx%s, the CMAF track is %s %sx%s", tostring(info.codec_string),
            tostring(info.width), tostring(info.height), tostring(init.codec), tostring(init.width),
            tostring(init.height)), where)
        end
        local head = read_file(ctx.path(rel)) or ""
        local moov, mdat = head:find("moov", 1, true), head:find("mdat", 1, true)
        if not moov or not mdat or moov > mdat then
          ctx.problem(P, rel, "moov does not come before mdat (not fast start)", { element = "moov",
            rule = "fast start", spec = "ISO/IEC 14496-12 6.2.3 (box order)" })
        end
        if decode then
          ctx.checked.decoded = ctx.checked.decoded + 1
          local res, derr = ctx.core.decode({ ctx.path(rel) })
          if not res then
            ctx.problem("decode", rel, "cannot decode: " .. tostring(derr), where)
          else
            ctx.checked.frames = ctx.checked.frames + #res.frames
            if res.decode_errors > 0 or #res.frames ~= #info.samples then
              ctx.problem("decode", rel, format("%d pictures from %d samples, %d refused (%s)",
                #res.frames, #info.samples, res.decode_errors, tostring(res.first_error)),
                { element = "mdat", rule = "every sample decodes to one frame",
                  spec = "AV1-ISOBMFF 2.4" })
            end
          end
        end
      end
    end
  end
end

-- DASH on demand (dash_ondemand = true): ondemand/manifest.mpd in the on-demand profile names
-- one file per rendition; each must start with its init segment (Initialization range), hold a
-- sidx exactly at indexRange that indexes every fragment (the reader's check: references land
-- on the moofs, durations and earliest presentation time match the samples, SAPs are sync
-- samples), and carry the same samples as the rendition's CMAF segments; with --decode,
-- every sample decodes.
local function check_ondemand(ctx, renditions, decode)
  local P = "mpd"
  local rel = "ondemand/manifest.mpd"
  local text = read_file(ctx.path(rel))
  if not text then return end
  local SB = { element = "SegmentBase", rule = "the on-demand file is indexed as announced",
               spec = "ISO/IEC 23009-1 5.3.9.2, 8.3; ISO/IEC 14496-12 8.16.3" }
  local reps, err = M.parse_mpd(text)
  if not reps then ctx.problem(P, rel, "cannot parse: " .. err); return end
  if not (reps.profiles or ""):find("urn:mpeg:dash:profile:isoff-on-demand:2011", 1, true) then
    ctx.problem(P, rel, "does not announce the on-demand profile (profiles " ..
      tostring(reps.profiles) .. ")", { element = "MPD@profiles", rule = "on-demand profile",
      spec = "ISO/IEC 23009-1 8.3.1" })
  end
  if #reps == 0 then ctx.problem(P, rel, "has no Representation") end
  for _, r in ipairs(reps) do
    ctx.checked.representations = ctx.checked.representations + 1
    local who = format("Representation %s", tostring(r.id))
    local frel = r.base_url and join("ondemand", r.base_url)
    if not frel then
      ctx.problem(P, rel, who .. ": no relative BaseURL", SB)
    elseif r.content == "text" then
      M.check_vtt_file(ctx, P, frel, nil, nil, false)
    else
      local i0, i1 = (r.index_range or ""):match("^(%d+)%-(%d+)$")
      local n0, n1 = (r.init_range or ""):match("^(%d+)%-(%d+)$")
      i0, i1, n0, n1 = tonumber(i0), tonumber(i1), tonumber(n0), tonumber(n1)
      local info, ierr = file_size(ctx.path(frel)) and ctx.core.inspect(ctx.path(frel))
      if not (i0 and n0) then
        ctx.problem(P, rel, who .. ": SegmentBase without indexRange and Initialization range", SB)
      elseif not info then
        ctx.problem(P, frel, "cannot read: " .. tostring(ierr or "missing"), SB)
      else
        ctx.checked.files = ctx.checked.files + 1
        if info.format ~= "fmp4" then
          ctx.problem(P, frel, "is not init + fragments (" .. info.format .. ")", SB)
        end
        if not info.sidx then
          ctx.problem(P, frel, "has no sidx", SB)
        else
          local s = info.sidx
          if s.start ~= i0 or s.start + s.size - 1 ~= i1 then
            ctx.problem(P, frel, format("the sidx is bytes %d-%d, indexRange says %d-%d", s.start,
              s.start + s.size - 1, i0, i1), SB)
          end
          if n0 ~= 0 or n1 ~= s.start - 1 then
            ctx.problem(P, frel, format("Initialization range %d-%d, the init segment is bytes 0-%d",
              n0, n1, s.start - 1), SB)
          end
          if s.problem then ctx.problem(P, frel, s.problem, SB) end
          if s.references ~= info.fragments then
            ctx.problem(P, frel, format("the sidx has %d references for %d fragments",
              s.references, info.fragments), SB)
          end
        end
        if r.codecs and info.codec_string ~= r.codecs then
          ctx.problem(P, frel, format("codecs %s, the MPD says %s", tostring(info.codec_string),
            r.codecs), SB)
        end
        -- The same samples as the rendition's CMAF segments.
        local rd = renditions[r.id]
        local list = rd and (rd.playlist and rd.playlist.segs or rd.dash_segs)
        local init_rel = rd and (rd.playlist and rd.playlist.init_rel or rd.dash_init)
        local init = init_rel and load_init(ctx, init_rel)
        if list and init and not init.err then
          local n = 0
          for _, srel in ipairs(list) do n = n + (load_seg(ctx, srel, init).samples or 0) end
          if #info.samples ~= n then
            ctx.problem(P, frel, format("%d samples, the segments of %s hold %d", #info.samples,
              r.id, n), SB)
          end
        end
        if decode then
          ctx.checked.decoded = ctx.checked.decoded + 1
          local res, derr = ctx.core.decode({ ctx.path(frel) })
          local D = { element = "mdat", rule = "every sample decodes", spec = "ISO/IEC 23009-1 8.3" }
          if not res then
            ctx.problem("decode", frel, "cannot decode: " .. tostring(derr), D)
          else
            ctx.checked.frames = ctx.checked.frames + #res.frames
            if res.decode_errors > 0 or (res.kind == "video" and #res.frames ~= #info.samples) then
              ctx.problem("decode", frel, format("%d frames from %d samples, %d refused (%s)",
                #res.frames, #info.samples, res.decode_errors, tostring(res.first_error)), D)
            end
          end
        end
      end
    end
  end
end

-- Counts seg_%05d.m4s (or .EXT) files in a rendition directory: every index up to the highest one any
-- manifest names, then onwards while the next one exists (Lua cannot list a directory).
local function count_on_disk(ctx, dir, highest, ext)
  local n, i = 0, 1
  while true do
    local exists = file_size(ctx.path(join(dir, format("seg_%05d.%s", i, ext or "m4s")))) ~= nil
    if exists then n = n + 1 elseif i > highest then break end
    i = i + 1
  end
  return n
end

local function check_report(ctx)
  local P = "report"
  local rel = "report.json"
  local text = read_file(ctx.path(rel))
  -- report.json is written by `cmafeng run`; a program embedding the engine through the C
  -- API (examples/embed.c) writes the media and manifests only.
  if not text then ctx.checked.report_absent = true; return end
  local rep, err = json.decode(text)
  if not rep then ctx.problem(P, rel, "does not parse as JSON: " .. tostring(err)); return end
  if type(rep) ~= "table" then ctx.problem(P, rel, "is not a JSON object"); return end
  local list, ext, pass = {}, {}, {} -- pass[r]: written by a pass after the video
  for _, r in ipairs(type(rep.renditions) == "table" and rep.renditions or {}) do list[#list + 1] = r end
  -- Every audio rendition (audio_renditions; older reports: the one audio table) and every
  -- subtitle rendition (WebVTT segments, .vtt).
  if type(rep.audio_renditions) == "table" and #rep.audio_renditions > 0 then
    for _, r in ipairs(rep.audio_renditions) do
      list[#list + 1] = r
      pass[r] = r.name ~= "audio"
    end
  elseif type(rep.audio) == "table" then
    list[#list + 1] = rep.audio
  end
  for _, r in ipairs(type(rep.subtitles) == "table" and rep.subtitles or {}) do
    list[#list + 1] = r
    ext[r], pass[r] = "vtt", true
  end
  if #list == 0 then ctx.problem(P, rel, "lists no renditions") end
  for _, r in ipairs(list) do
    if type(r.name) ~= "string" or type(r.segments) ~= "number" then
      ctx.problem(P, rel, "a rendition without a name or a segment count")
    elseif join("", r.name) then
      local n = count_on_disk(ctx, r.name, r.segments, ext[r])
      if n ~= r.segments then
        ctx.problem(P, rel, format("rendition %s: segment count does not match the seg_*.%s " ..
          "files in %s/ (expected %d on disk, got %d in the report)", r.name, ext[r] or "m4s",
          r.name, n, r.segments))
      end
      -- The renditions of the source's other streams are listed in the manifests too.
      if pass[r] and r.segments > 0 and not file_size(ctx.path(join(r.name, "index.m3u8"))) then
        ctx.problem(P, rel, format("rendition %s: no %s/index.m3u8", r.name, r.name))
      end
    end
  end
  for _, s in ipairs(type(rep.segments) == "table" and rep.segments or {}) do
    if type(s) == "table" and type(s.rendition) == "string" and type(s.index) == "number"
        and type(s.bytes) == "number" and join("", s.rendition) then
      local srel = join(s.rendition, format("seg_%05d.m4s", s.index))
      if not file_size(ctx.path(srel)) then
        srel = join(s.rendition, format("seg_%05d.vtt", s.index)) -- a subtitle segment
      end
      local size = file_size(ctx.path(srel))
      if size and size ~= s.bytes then
        ctx.problem(P, rel, format("%s: size does not match the report (expected %d, got %d on disk)",
          srel, s.bytes, size))
      end
    end
  end
end

function M.run(dir, opts)
  opts = opts or {}
  dir = dir:gsub("(.)/+$", "%1")
  local present = false
  for _, f in ipairs { "master.m3u8", "manifest.mpd", "report.json" } do
    if file_size(dir .. "/" .. f) then present = true end
  end
  if not present then
    local f, err = io.open(dir, "rb")
    if not f then return nil, tostring(err) end
    local data, rerr = f:read(1)
    f:close()
    if data or not tostring(rerr):find("directory", 1, true) then
      return nil, dir .. ": not a directory"
    end
    return nil, dir .. ": not a cmafeng output directory (no master.m3u8, manifest.mpd or report.json)"
  end
  local ctx = new_ctx(dir)
  local renditions = {}
  check_master(ctx, renditions)
  check_mpd(ctx, renditions)
  local order = {}
  for k in pairs(renditions) do order[#order + 1] = k end
  table.sort(order)
  -- Renditions only the MPD named (master.m3u8 missing or incomplete): their index.m3u8.
  for _, k in ipairs(order) do
    local prel = join(k, "index.m3u8")
    if not renditions[k].playlist and prel and file_size(ctx.path(prel)) then
      check_media_playlist(ctx, prel, renditions)
    end
  end
  check_segments(ctx, renditions, order)
  check_audio_alignment(ctx, renditions, order)
  check_mp4_files(ctx, renditions, order, opts.decode)
  check_ondemand(ctx, renditions, opts.decode)
  check_report(ctx)
  if opts.decode then check_decode(ctx, renditions, order) end
  local counts = {}
  for _, p in ipairs(ctx.problems) do counts[p.check] = (counts[p.check] or 0) + 1 end
  local groups, sorted = {}, {}
  for gi, c in ipairs(CHECKS) do
    if c.key ~= "decode" or opts.decode then
      groups[#groups + 1] = { name = c.name, key = c.key, problems = counts[c.key] or 0 }
    end
    for i, p in ipairs(ctx.problems) do
      if p.check == c.key then sorted[#sorted + 1] = { gi, i, p } end
    end
  end
  local problems = {}
  for i, e in ipairs(sorted) do problems[i] = e[3] end
  return { ok = #problems == 0, dir = dir, problems = problems, checked = ctx.checked,
           groups = groups }
end

function M.text(res)
  local out = {}
  local c = res.checked
  local what = {
    master = format("%d variants", c.variants),
    media = format("%d playlists, %d segment references", c.media_playlists, c.segments),
    segments = format("%d renditions", c.renditions),
    mpd = format("%d representations", c.representations),
    report = c.report_absent and "absent: written by cmafeng run only" or "segment counts",
    decode = format("%d renditions, %d frames decoded", c.decoded, c.frames),
  }
  for _, g in ipairs(res.groups) do
    out[#out + 1] = format("%-16s %s (%s)", g.name, g.problems == 0 and "ok"
      or format("%d problem%s", g.problems, g.problems == 1 and "" or "s"), what[g.key])
  end
  for _, p in ipairs(res.problems) do
    out[#out + 1] = format("%s/%s: %s [%s; %s; %s]", res.dir, p.file, p.message,
      p.element or "-", p.rule or "-", p.spec or "-")
  end
  out[#out + 1] = res.ok and format("%s: ok", res.dir)
    or format("%s: %d problem%s", res.dir, #res.problems, #res.problems == 1 and "" or "s")
  return concat(out, "\n") .. "\n"
end

function M.json(res)
  local problems = {}
  for i, p in ipairs(res.problems) do
    problems[i] = { file = res.dir .. "/" .. p.file, message = p.message, check = p.check,
                    element = p.element, rule = p.rule, spec = p.spec }
  end
  return json.encode({ ok = res.ok, dir = res.dir, problems = json.array(problems),
                       checked = json.object(res.checked) })
end

return M

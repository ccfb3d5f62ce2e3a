-- cmafeng.runloop: runs a job on the policy thread. It pulls engine events, calls the
-- recipe's hooks (under the sandbox budget), writes JSON event lines or a progress line,
-- and at the end has the engine write the manifests and writes report.json.
--
--   runloop.run(job, opts) -> summary | nil, message, exit_code
--   opts: events = file handle for JSON lines (or nil), progress = bool,
--         stderr = handle for progress and notes (default io.stderr),
--         on_event = function(ev) called for every event before the recipe's hooks
--
-- The same loop one step at a time, for the REPL, which pumps a job while it waits for input:
--   runloop.open(job, opts) -> session | nil, message, exit_code   (the engine is started)
--   session:pump(timeout_ms) -> true while the job runs, false once every event was handled
--   session:stats()          -> the engine's counters (the last ones once the job ended)
--   session:close()          -> what runloop.run returns; writes report.json and manifests
local core = require "cmafeng.core"
local json = require "cmafeng.json"
local sandbox = require "cmafeng.sandbox"

local M = {}

local function write_atomic(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  f:close()
  if not ok then
    os.remove(tmp)
    return nil, werr
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end
M.write_atomic = write_atomic

local function fmt_eta(s)
  if not s or s ~= s or s == math.huge or s < 0 then return "--:--" end
  s = math.floor(s + 0.5)
  return string.format("%d:%02d", math.floor(s / 60), s % 60)
end

-- One status line per refresh: per rung "name segs fps", then overall ETA.
local function progress_line(job, stats, total_segments)
  local parts = {}
  local done_frames, all_frames = 0, 0
  local total = stats.total_frames > 0 and stats.total_frames or stats.frames_decoded
  for i, r in ipairs(stats.rungs) do
    local name = job.video.ladder[i].name
    local fps = stats.elapsed > 0 and r.frames_encoded / stats.elapsed or 0
    parts[#parts + 1] = string.format("%s %d/%s seg %.1f fps", name, r.segments_done,
      total_segments and tostring(total_segments) or "?", fps)
    done_frames = done_frames + r.frames_encoded
    all_frames = all_frames + total
  end
  local eta
  if done_frames > 0 and all_frames > 0 then
    eta = stats.elapsed * (all_frames - done_frames) / done_frames
  end
  return string.format("\r%s | %.1fs elapsed, ETA %s ", table.concat(parts, " | "),
    stats.elapsed, fmt_eta(eta))
end

-- Calls a recipe hook; returns its decision, or nil, message when the hook failed.
local function call_hook(fn, ...)
  if not fn then return true end
  local ok, decision = sandbox.pcall(sandbox.HOOK_BUDGET, fn, ...)
  if not ok then return nil, decision end
  return true, decision
end

local Session = {}
Session.__index = Session

function M.open(job, opts)
  opts = opts or {}
  local stderr = opts.stderr or io.stderr
  local eng, err, code = core.engine.new(job)
  if not eng then return nil, err, 2 end
  local info = eng:info()
  local ok, serr = eng:start()
  if not ok then
    eng:close()
    return nil, serr, 2
  end

  -- Segments per rung: estimated from the container until the source is fully decoded,
  -- exact after.
  local k = math.max(1, math.floor(job.segment_seconds * info.fps_num / info.fps_den + 0.5))
  local total_segments
  if info.frames and info.frames > 0 then total_segments = math.ceil(info.frames / k) end
  local function segments_of(stats)
    if stats.decode_done then return math.ceil(stats.frames_decoded / k) end
    return total_segments
  end
  local report = {
    source = job.source,
    output = job.output,
    segment_seconds = job.segment_seconds,
    renditions = {},
    segments = {},
    requeues = {},
  }
  if info.has_audio and job.audio.enabled then
    report.audio = { name = "audio", bitrate = job.audio.bitrate, channels = job.audio.channels,
                     sample_rate = job.audio.sample_rate, segments = 0, bytes = 0,
                     duration = 0 }
  end
  for i, r in ipairs(job.video.ladder) do
    report.renditions[i] = { name = r.name, width = r.width, height = r.height,
                             crf = r.crf, preset = r.preset, segments = 0, bytes = 0,
                             duration = 0 }
  end
  return setmetatable({
    engine = eng, job = job, info = info, opts = opts, stderr = stderr, report = report,
    segments_of = segments_of, last_progress = 0,
  }, Session)
end

function Session:stats()
  if self.engine and not self.closed then self.last_stats = self.engine:stats() end
  return self.last_stats
end

-- The progress line's text (no carriage return): per rung segments and fps, then the ETA.
function Session:progress_text()
  local stats = self:stats()
  return progress_line(self.job, stats, self.segments_of(stats)):sub(2)
end

function Session:pump(timeout_ms)
  if self.ended then return false end
  local eng, job, opts, report = self.engine, self.job, self.opts, self.report
  local evs = eng:events(timeout_ms or 250)
  if not evs then
    self.ended = true
    return false
  end
  -- Ctrl-C (cmafeng's main installs the flag): stop cleanly, keep what is written.
  local sig = core.interrupted and core.interrupted()
  if sig and not self.interrupted then
    self.interrupted = sig
    eng:cancel("interrupted by signal " .. sig)
  end
  for _, ev in ipairs(evs) do
    if ev.rung then ev.rendition = job.video.ladder[ev.rung].name end
    if ev.audio then ev.rendition = "audio" end
    if opts.events then
      opts.events:write(json.encode(ev), "\n")
      opts.events:flush()
    end
    if opts.on_event then opts.on_event(ev) end
    local hook_ok, decision, hook_msg = true, nil, nil
    if ev.type == "segment" and ev.audio then
      local rep = report.audio
      rep.segments = rep.segments + 1
      rep.bytes = rep.bytes + ev.bytes
      rep.duration = rep.duration + ev.duration
      report.segments[#report.segments + 1] = {
        rendition = "audio", index = ev.index, bytes = ev.bytes, start = ev.start,
        duration = ev.duration, frames = ev.frames,
      }
    elseif ev.type == "segment" then
      local rep = report.renditions[ev.rung]
      rep.segments = rep.segments + 1
      rep.bytes = rep.bytes + ev.bytes
      rep.duration = rep.duration + ev.duration
      report.segments[#report.segments + 1] = {
        rendition = ev.rendition, index = ev.index, device = ev.device,
        attempts = ev.attempts, bytes = ev.bytes, start = ev.start,
        duration = ev.duration, frames = ev.frames, encode_seconds = ev.encode_seconds,
        resumed = ev.resumed,
      }
      hook_ok, decision = call_hook(job.on_segment, ev)
      if not hook_ok then hook_msg = decision end
    elseif ev.type == "init" and ev.audio then
      report.audio.codecs = ev.codecs
    elseif ev.type == "init" then
      report.renditions[ev.rung].codecs = ev.codecs
    elseif ev.type == "requeue" then
      report.requeues[#report.requeues + 1] = ev
      hook_ok, decision = call_hook(job.on_requeue, ev)
      if not hook_ok then hook_msg = decision end
    elseif ev.type == "failed" then
      self.failure = ev.message
      hook_ok, decision = call_hook(job.on_failure, ev)
      if not hook_ok then hook_msg = decision end
    end
    if not hook_ok and not self.hook_error then
      self.hook_error = "recipe hook failed: " .. tostring(hook_msg)
      eng:cancel(self.hook_error)
    elseif decision == "abort" and not self.hook_error then
      self.hook_error = "aborted by the recipe's " .. ev.type .. " hook"
      eng:cancel(self.hook_error)
    end
  end
  if opts.progress then
    local now = os.clock()
    if now - self.last_progress > 0.2 or #evs > 0 then
      self.last_progress = now
      local stats = eng:stats()
      self.stderr:write(progress_line(job, stats, self.segments_of(stats)))
      self.stderr:flush()
    end
  end
  return true
end

function Session:close()
  local eng, job, opts, report, stderr = self.engine, self.job, self.opts, self.report, self.stderr
  local info, hook_error, failure, interrupted = self.info, self.hook_error, self.failure,
    self.interrupted
  local stats = self:stats()
  if opts.progress then stderr:write(progress_line(job, stats, self.segments_of(stats)), "\n") end
  local fok, ferr = eng:finish()
  self.closed = true
  eng:close()

  report.elapsed = stats.elapsed
  report.frames = stats.frames_decoded
  -- Damaged or short sources still encode what decodes, but never silently.
  report.warnings = {}
  if stats.decode_errors > 0 then
    report.warnings[#report.warnings + 1] = string.format(
      "%s: %d damaged packets or frames were skipped or concealed by the decoder",
      job.source, stats.decode_errors)
  end
  -- Only a job that decoded to the end can tell a short file from a stopped one.
  if fok and info.frames and info.frames > 0 and stats.frames_decoded < 0.95 * info.frames then
    report.warnings[#report.warnings + 1] = string.format(
      "%s: decoded %d frames where the container announces %d (%.1f s of %.1f s): the file " ..
      "may be truncated", job.source, stats.frames_decoded, info.frames,
      stats.frames_decoded * info.fps_den / info.fps_num, info.duration)
  end
  for _, w in ipairs(report.warnings) do stderr:write("cmafeng: warning: ", w, "\n") end
  report.ok = fok and true or false
  report.error = hook_error or (not fok and (ferr or failure)) or nil
  table.sort(report.segments, function(a, b)
    if a.rendition ~= b.rendition then return a.rendition < b.rendition end
    return a.index < b.index
  end)
  local wok, werr = write_atomic(job.output .. "/report.json",
                                 json.encode(report, { indent = "  " }) .. "\n")
  if interrupted then
    return nil, "interrupted: finished segments are kept; the manifests were not written", 130
  end
  if not fok then return nil, hook_error or ferr or failure or "job failed", 1 end
  if not wok then return nil, job.output .. "/report.json: " .. tostring(werr), 1 end
  local hok, herr = call_hook(job.on_finish, report)
  if not hok then return nil, "recipe hook on_finish failed: " .. tostring(herr), 1 end
  return report
end

function M.run(job, opts)
  local session, err, code = M.open(job, opts)
  if not session then return nil, err, code end
  while session:pump(250) do end
  return session:close()
end

return M

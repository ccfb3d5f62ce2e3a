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
local policy = require "cmafeng.policy"
local tracks = require "cmafeng.report"

local M = {}

-- Temp file, write, fsync, close, rename, fsync of the directory, every step checked
-- (engine/core/file.c): report.json is never cut short under its final name.
local function write_atomic(path, text)
  return core.fs.write_atomic(path, text)
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

-- The state a recipe's pick_rung hook sees: per rung its name, media seconds written and
-- chunks in each state.
local function rung_state(job, stats)
  local rungs = {}
  for i, r in ipairs(stats.rungs) do
    rungs[i] = { name = job.video.ladder[i].name, seconds_done = r.seconds_done,
                 segments_done = r.segments_done, chunks = r.chunks,
                 instances = r.instances, busy = r.busy }
  end
  return { rungs = rungs, elapsed = stats.elapsed }
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
  local ok, serr, scode = eng:start()
  if not ok then
    eng:close()
    -- A write that fails (a full disk) is a failed job, not a bad recipe.
    return nil, serr, scode == "CME_EIO" and 1 or 2
  end

  -- Segments per rung: estimated from the container until the source is fully decoded,
  -- exact after.
  local k = math.max(1, math.floor(job.segment_seconds * info.fps_num / info.fps_den + 0.5))
  local total_segments
  if info.frames and info.frames > 0 then total_segments = math.ceil(info.frames / k) end
  local cuts = job.video and job.video.cuts
  if cuts then total_segments = #cuts + 1 end -- segments start at the chunking's cuts
  local function segments_of(stats)
    if cuts then return total_segments end
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
  tracks.new_tracks(report) -- audio_renditions, subtitles (cmafeng.report)
  for i, r in ipairs(job.video.ladder) do
    report.renditions[i] = { name = r.name, width = r.width, height = r.height,
                             crf = r.crf, preset = r.preset, segments = 0, bytes = 0,
                             duration = 0 }
  end
  report.chunks = {}
  report.decisions = {}
  local devices = eng:devices()
  local pol = {
    device_ids = {}, midjob = {},
    excluded = {}, -- [rung][device id] = true after a device_excluded event
    tried = {},    -- ["rung:index"] = the decisions taken for the chunk
    rule = job.on_chunk_failed or policy.default,
    name = job.on_chunk_failed and "on_chunk_failed" or "policy.default",
  }
  for i, d in ipairs(devices) do
    pol.device_ids[i] = d.id
    if d.midjob_open then pol.midjob[#pol.midjob + 1] = d.id end
  end
  local session = setmetatable({
    engine = eng, job = job, info = info, opts = opts, stderr = stderr, report = report,
    segments_of = segments_of, last_progress = 0, last_tick = 0, policy = pol,
  }, Session)
  -- The plan first: what will be encoded where, with which limits.
  local plan = { type = "plan", time = os.time(), source = job.source, rungs = {},
                 devices = devices, segments = total_segments,
                 segment_seconds = job.segment_seconds, max_attempts = job.max_attempts,
                 stall_seconds = job.stall_seconds }
  local st = eng:stats()
  for i, r in ipairs(job.video.ladder) do
    plan.rungs[i] = { name = r.name, width = r.width, height = r.height, crf = r.crf,
                      preset = r.preset, instances = st.rungs[i].instances }
  end
  session:emit(plan)
  return session
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

-- Asks the policy about a failed chunk and applies its answer (DESIGN.md section 3,
-- decisions). Returns nil, message, exit code when the job must stop: a hook that failed
-- or answered something that is not a decision (2), a decision the engine refused (1).
function Session:chunk_failed(ev)
  local eng, job, opts, report, pol = self.engine, self.job, self.opts, self.report, self.policy
  local key = ev.rung .. ":" .. ev.index
  pol.tried[key] = pol.tried[key] or {}
  -- Answered by hand already (the REPL opened on this event): nothing left to decide.
  local now = eng:chunks(ev.rung, ev.index, 1)[1]
  if now and now.state ~= "awaiting_policy" then return true end
  local serving = {}
  for _, id in ipairs(pol.device_ids) do
    if not (pol.excluded[ev.rung] and pol.excluded[ev.rung][id]) then serving[#serving + 1] = id end
  end
  local ctx = { job = job, rung = job.video.ladder[ev.rung], devices = serving,
                midjob = pol.midjob, tried = pol.tried[key] }
  local ok, answer
  if job.on_chunk_failed then
    ok, answer = call_hook(pol.rule, ev, ctx)
  else
    ok, answer = pcall(pol.rule, ev, ctx)
  end
  local prefix = (opts.recipe and (opts.recipe .. ": ") or "") .. pol.name .. ": "
  if not ok then return nil, prefix .. "failed: " .. tostring(answer), 2 end
  local d, verr = policy.validate(answer)
  if not d then return nil, prefix .. verr, 2 end
  -- A decision naming a device the job does not have raises in the binding: that is an
  -- answer that is not a decision of this job (exit 2), like a malformed one.
  local dok, applied, derr = pcall(eng.decide, eng, ev.rung, ev.index, d)
  if not dok then return nil, prefix .. tostring(applied):gsub("^[^:]*:%d+: ", ""), 2 end
  local record = { rendition = ev.rendition, index = ev.index, attempt = ev.attempt,
                   reason = ev.reason, device = ev.device, decision = d.action,
                   retry_device = d.device, avoid = d.avoid, crf = d.crf,
                   preset = d.preset, why = d.why, by = pol.name }
  if not applied then
    record.refused = derr
    report.decisions[#report.decisions + 1] = record
    self:emit { type = "decision", time = os.time(), rung = ev.rung, rendition = ev.rendition,
                index = ev.index, decision = d.action, refused = derr }
    -- The engine refuses what it cannot do (the attempt limit, a device that does not serve
    -- the rung): the chunk cannot go on, so neither can the job.
    eng:cancel(derr)
    return nil, derr, 1
  end
  pol.tried[key][#pol.tried[key] + 1] = d
  report.decisions[#report.decisions + 1] = record
  self:emit { type = "decision", time = os.time(), rung = ev.rung, rendition = ev.rendition,
              index = ev.index, attempt = ev.attempt, decision = d.action, device = d.device,
              avoid = d.avoid, crf = d.crf, preset = d.preset, why = d.why }
  if d.action == "retry" and job.on_requeue then
    local hok, herr = call_hook(job.on_requeue, ev, d)
    if not hok then return nil, "recipe hook on_requeue failed: " .. tostring(herr), 2 end
  end
  return true
end

-- Writes one JSON event line when the caller asked for them; nil, message when it fails.
function Session:emit(ev)
  local out = self.opts.events
  if not out then return true end
  local ok, werr = out:write(json.encode(ev), "\n")
  if ok then ok, werr = out:flush() end
  if not ok then return nil, werr end
  return true
end

-- Stops the job with a message and exit code (the first reason wins).
function Session:stop(msg, code)
  if self.hook_error then return end
  self.hook_error, self.exit_code = msg, code
  self.engine:cancel(msg)
end

-- Once a second: a progress event, and the recipe's pick_rung hook asked which rung idle
-- workers should help.
function Session:tick()
  local eng, job = self.engine, self.job
  local stats = eng:stats()
  local prog = { type = "progress", time = os.time(), elapsed = stats.elapsed,
                 frames_decoded = stats.frames_decoded, rungs = {} }
  for i, r in ipairs(stats.rungs) do
    prog.rungs[i] = { name = job.video.ladder[i].name,
                      fps = stats.elapsed > 0 and r.frames_encoded / stats.elapsed or 0,
                      seconds_done = r.seconds_done, segments_done = r.segments_done,
                      chunks = r.chunks, busy = r.busy, instances = r.instances }
  end
  self:emit(prog)
  if job.pick_rung and not self.hook_error then
    local ok, pick = call_hook(job.pick_rung, rung_state(job, stats))
    if not ok then
      self:stop("recipe hook pick_rung failed: " .. tostring(pick), 2)
    elseif pick ~= nil and (type(pick) ~= "number" or pick % 1 ~= 0 or pick < 1
                            or pick > #job.video.ladder) then
      self:stop(string.format("pick_rung: expected a rung number 1..%d or nil, got %s",
                              #job.video.ladder, tostring(pick)), 2)
    else
      eng:prefer_rung(pick)
    end
  end
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
    if (ev.audio or ev.text) and not ev.rendition then ev.rendition = "audio" end
    if ev.type == "done" then ev.ok = self.failure == nil and self.hook_error == nil end
    local eok, eerr = self:emit(ev)
    if not eok then self:stop("events: " .. tostring(eerr), 1) end
    if opts.on_event then opts.on_event(ev) end
    local hook_ok, decision, hook_msg = true, nil, nil
    if tracks.track_event(report, ev) then
      -- an audio or subtitle rendition's init or segment (cmafeng.report)
    elseif ev.type == "segment" then
      local rep = report.renditions[ev.rung]
      local at = #report.segments + 1
      if ev.requeued then
        -- run:requeue: the new file replaces the old one, and so does its record.
        for i, s in ipairs(report.segments) do
          if s.rendition == ev.rendition and s.index == ev.index then
            at = i
            rep.segments = rep.segments - 1
            rep.bytes = rep.bytes - s.bytes
            rep.duration = rep.duration - s.duration
          end
        end
      end
      rep.segments = rep.segments + 1
      rep.bytes = rep.bytes + ev.bytes
      rep.duration = rep.duration + ev.duration
      report.segments[at] = {
        rendition = ev.rendition, index = ev.index, device = ev.device,
        worker = ev.worker, instance = ev.instance,
        attempts = ev.attempts, bytes = ev.bytes, start = ev.start,
        duration = ev.duration, frames = ev.frames, encode_seconds = ev.encode_seconds,
        resumed = ev.resumed, requeued = ev.requeued,
      }
      hook_ok, decision = call_hook(job.on_segment, ev)
      if not hook_ok then hook_msg = decision end
    elseif ev.type == "init" then
      report.renditions[ev.rung].codecs = ev.codecs
    elseif ev.type == "chunk_failed" then
      report.requeues[#report.requeues + 1] = ev
      if not self.hook_error and not self.interrupted then
        local ok, msg, code = self:chunk_failed(ev)
        if not ok then self:stop(msg, code) end
      end
    elseif ev.type == "device_excluded" then
      local ex = self.policy.excluded
      ex[ev.rung] = ex[ev.rung] or {}
      ex[ev.rung][ev.device] = true
    elseif ev.type == "failed" then
      self.failure = ev.message
      hook_ok, decision = call_hook(job.on_failure, ev)
      if not hook_ok then hook_msg = decision end
    end
    if not hook_ok then
      self:stop("recipe hook failed: " .. tostring(hook_msg), 2)
    elseif decision == "abort" then
      self:stop("aborted by the recipe's " .. ev.type .. " hook", 1)
    end
  end
  local now_wall = os.time()
  if now_wall - self.last_tick >= 1 then
    self.last_tick = now_wall
    self:tick()
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
  -- One record per chunk: where and how it was encoded, and what was decided about it.
  for i, r in ipairs(job.video.ladder) do
    for _, c in ipairs(eng:chunks(i)) do
      c.rendition = r.name
      c.decisions_taken = self.policy.tried[i .. ":" .. c.index]
      report.chunks[#report.chunks + 1] = c
    end
  end
  self.closed = true
  eng:close()

  report.elapsed = stats.elapsed
  tracks.finish_tracks(report, job.output)
  report.frames = stats.frames_decoded
  -- Damaged or short sources still encode what decodes, but never silently.
  -- Warnings recipe.load found (a ladder that upscales or stretches the source, ...) first.
  report.warnings = {}
  for _, w in ipairs(job.warnings or {}) do report.warnings[#report.warnings + 1] = w end
  if stats.decode_errors > 0 then
    report.warnings[#report.warnings + 1] = string.format(
      "%s: %d damaged packets or frames were skipped or concealed by the decoder",
      job.source, stats.decode_errors)
  end
  -- Only a job that decoded to the end can tell a short file from a stopped one. Timing
  -- truth: the decoded frames' own timestamps (the video segments' span) against the
  -- container's duration, never a frame count derived from duration x nominal rate, which
  -- a variable-frame-rate source does not follow.
  local first, last
  local video = {}
  for _, r in ipairs(report.renditions) do video[r.name] = true end
  for _, s in ipairs(report.segments) do
    if video[s.rendition] and s.start and s.duration then
      first = math.min(first or s.start, s.start)
      last = math.max(last or 0, s.start + s.duration)
    end
  end
  local span = first and last - first or 0
  if fok and info.duration and info.duration > 0 and span < 0.95 * info.duration then
    report.warnings[#report.warnings + 1] = string.format(
      "%s: decoded %d frames lasting %.3f s where the container lasts %.3f s: the file " ..
      "may be truncated", job.source, stats.frames_decoded, span, info.duration)
  end
  for _, w in ipairs(report.warnings) do stderr:write("cmafeng: warning: ", w, "\n") end
  report.ok = fok and true or false
  report.error = hook_error or (not fok and (ferr or failure)) or nil
  table.sort(report.segments, function(a, b)
    if a.rendition ~= b.rendition then return a.rendition < b.rendition end
    return a.index < b.index
  end)
  -- A per-title ladder's probes: their curves, hull and choice, and a plot beside them.
  if job.per_title then
    report.per_title = job.per_title
    write_atomic(job.output .. "/per_title.svg", require("cmafeng.per_title").svg(job.per_title))
  end
  local wok, werr = write_atomic(job.output .. "/report.json",
                                 json.encode(report, { indent = "  " }) .. "\n")
  if interrupted then
    return nil, "interrupted: finished segments are kept; the manifests were not written", 130
  end
  if hook_error then return nil, hook_error, self.exit_code or 1 end
  if not fok then return nil, ferr or failure or "job failed", 1 end
  if not wok then return nil, tostring(werr), 1 end
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

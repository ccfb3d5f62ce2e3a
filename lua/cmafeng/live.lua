-- cmafeng.live: jobs that keep running while the REPL waits for input.
--
--   live.start(job_or_recipe [, opts]) -> run | nil, message, exit_code
--       job_or_recipe: a job table (checked by cmafeng.recipe) or a recipe file's path.
--       opts: args (the recipe's `arg`), output (overrides the job's), events (a file handle
--       for JSON lines), notify = function(run, text) for one-line notices (requeue, failure,
--       the end of the job), hide = function() called before a hook or a notice may print.
--   live.attach(session [, opts]) -> run   a Run over a runloop session pumped by its owner
--   live.runs                              every run started in this process, by id
--   live.active()                          the runs still running
--
-- A Run is pumped by run:poll(timeout_ms), which the REPL calls while the prompt waits, so
-- the recipe's hooks run on the policy thread exactly as in `cmafeng run` (cmafeng.runloop).
--
--   run:status()  run:rungs()  run:wait()  run:cancel([why])  run:report()
--   run:pause()  run:resume()  run:queue(rung)  run:chunks{state=, rung=}  run:devices()
--   run:leases()  run:requeue(rung, index)  run:set(rung, {crf=, preset=})
-- The second group calls the engine method of the same name. A rung is its index or its
-- name ("720p"); segments are numbered from 1 as in seg_00001.m4s.
local recipe = require "cmafeng.recipe"
local runloop = require "cmafeng.runloop"

local M = { runs = {} }

local Run = {}
Run.__index = Run
M.Run = Run

local format = string.format

-- The REPL's Ctrl-C must not land in the middle of an event batch (its events would be
-- lost): pumping defers it to the end of the batch when the line editor is there.
local ok_le, lineedit = pcall(require, "cmafeng.lineedit")
local uninterruptible = ok_le and lineedit.uninterruptible or function(f, ...) return f(...) end

local function validated(x, opts)
  local job, err
  if type(x) == "table" and opts.validated then
    -- `cmafeng run --repl`: recipe.load checked and prepared it (warnings, rotation).
    job = x
  elseif type(x) == "string" then
    job, err = recipe.load(x, opts.args or {})
  elseif type(x) == "table" then
    -- A job already checked carries its defaults; `resume` is the CLI's, not the recipe's.
    local copy = {}
    for k, v in pairs(x) do
      if k ~= "resume" then copy[k] = v end
    end
    job, err = recipe.validate(copy)
    if job then job.resume = x.resume end
  else
    error("cme.start: expected a job table or a recipe path, got " .. type(x), 3)
  end
  if not job then return nil, err end
  if opts.output then job.output = opts.output end
  return job
end

local function new_run(job, opts)
  local run = setmetatable({ id = #M.runs + 1, job = job, state = "starting", opts = opts,
                             notify = opts.notify, hide = opts.hide }, Run)
  return run
end

function M.start(x, opts)
  opts = opts or {}
  local job, err = validated(x, opts)
  if not job then return nil, err, 2 end
  -- One job per output directory, as for `cmafeng run` (which holds the claim itself when
  -- it starts a job for `--repl`): a second job into a busy directory is refused.
  local claim
  if not opts.validated then
    local cerr, ccode
    claim, cerr, ccode = require("cmafeng.outdir").claim(job.output, { resume = job.resume })
    if not claim then return nil, cerr, ccode end
    job.resume = claim.resume
  end
  local run = new_run(job, opts)
  run.claim = claim
  local session, serr, code = runloop.open(job, {
    events = opts.events, progress = false, stderr = opts.stderr,
    on_event = function(ev) run:_event(ev) end,
  })
  if not session then
    if claim then claim:release() end
    return nil, serr, code
  end
  run.session, run.engine, run.state = session, session.engine, "running"
  M.runs[run.id] = run
  return run
end

-- A Run over a session that another loop pumps (`cmafeng run --repl-on-error`): the REPL
-- can look at it and call its methods, but never pumps or closes it.
function M.attach(session, opts)
  opts = opts or {}
  local run = new_run(session.job, opts)
  run.session, run.engine, run.state, run.attached = session, session.engine, "running", true
  M.runs[run.id] = run
  return run
end

function M.active()
  local t = {}
  for _, r in ipairs(M.runs) do
    if r.state == "running" then t[#t + 1] = r end
  end
  return t
end

function Run:__tostring()
  return format("<run %d: %s %s>", self.id, self.state, self.job.source)
end

function Run:_say(text)
  if self.notify then self.notify(self, text) end
end

local HOOK_OF = { segment = "on_segment", requeue = "on_requeue", failed = "on_failure",
                  done = "on_finish" }

-- Called for every event before the recipe's hooks: a hook may print, so the REPL's edit
-- line is cleared first (opts.hide) and redrawn after.
function Run:_event(ev)
  self.last_event = ev
  local hook = HOOK_OF[ev.type]
  if self.hide and ((hook and self.job[hook]) or ev.type == "failed" or ev.type == "requeue") then
    self.hide()
  end
  if ev.type == "failed" then
    self.failed_event = ev
    if not self.canceled then self:_say(format("failed: %s", ev.message or "?")) end
  elseif ev.type == "requeue" then
    self:_say(format("requeue %s #%d: %s", ev.rendition or "?", ev.index or 0, ev.message or ""))
  end
end

function Run:_finish()
  if self.hide and self.job.on_finish then self.hide() end
  local report, err, code = self.session:close()
  if self.claim then
    self.claim:release()
    self.claim = nil
  end
  self.result = { report = report, error = err, code = code or (report and 0 or 1) }
  if report then
    self.state = "done"
    self:_say(format("done in %.1f s: %s/master.m3u8", report.elapsed or 0, self.job.output))
  else
    self.state = self.canceled and "canceled" or "failed"
    if self.canceled then
      self:_say(format("canceled; the segments it finished are kept in %s", self.job.output))
    else
      self:_say(format("failed: %s", tostring(err)))
    end
  end
end

-- Pumps the job's events for up to timeout_ms (0: only what is queued). Returns true while
-- the job runs. The end of the job is handled here: manifests, report.json, on_finish.
function Run:poll(timeout_ms)
  if self.state ~= "running" then return false end
  if self.attached or self.pumping then return true end
  self.pumping = true
  local ok, more = pcall(uninterruptible, self.session.pump, self.session, timeout_ms or 0)
  self.pumping = false
  if not ok then error(more, 0) end
  if not more then
    self.pumping = true
    local fok, ferr = pcall(uninterruptible, self._finish, self)
    self.pumping = false
    if not fok then error(ferr, 0) end
  end
  return self.state == "running"
end

-- Waits for the end of the job (Ctrl-C returns to the prompt; the job keeps running).
-- Returns the report, or nil, message, exit code.
function Run:wait()
  if self.attached then
    error(format("run %d is pumped by `cmafeng run`: leave the REPL to let it go on", self.id), 2)
  end
  while self:poll(250) do end
  return self:report()
end

function Run:report()
  if not self.result then return nil, format("run %d is still %s", self.id, self.state) end
  local r = self.result
  if r.report then return r.report end
  return nil, r.error, r.code
end

local function check_live(self, what)
  if self.state ~= "running" then
    error(format("run:%s: run %d has finished (%s)", what, self.id, self.state), 3)
  end
end

function Run:cancel(why)
  check_live(self, "cancel")
  self.canceled = true
  self.engine:cancel(why or "canceled from the REPL")
end

local function rung_index(self, rung, what)
  local ladder = self.job.video.ladder
  if type(rung) == "number" and ladder[rung] then return rung end
  if type(rung) == "string" then
    for i, r in ipairs(ladder) do
      if r.name == rung then return i end
    end
  end
  local names = {}
  for i, r in ipairs(ladder) do names[i] = format("%d (%s)", i, r.name) end
  error(format("run:%s: no rung %s; rungs: %s", what, tostring(rung), table.concat(names, ", ")),
        3)
end

function Run:status()
  local s = self.session:stats() or {}
  local done, total = 0, 0
  for _, r in ipairs(s.rungs or {}) do done = done + r.segments_done end
  local per = self.session.segments_of and s.rungs and self.session.segments_of(s)
  if per then total = per * #self.job.video.ladder end
  return {
    id = self.id, state = self.state, source = self.job.source, output = self.job.output,
    elapsed = s.elapsed, frames_decoded = s.frames_decoded, decode_done = s.decode_done,
    total_frames = s.total_frames, segments_done = done,
    segments_total = total > 0 and total or nil,
    error = self.result and self.result.error or nil,
  }
end

function Run:rungs()
  local s = self.session:stats() or {}
  local report = self.session.report
  local t = {}
  for i, r in ipairs(self.job.video.ladder) do
    local st = s.rungs and s.rungs[i] or {}
    t[i] = {
      name = r.name, width = r.width, height = r.height, crf = r.crf, preset = r.preset,
      codecs = report and report.renditions[i] and report.renditions[i].codecs,
      segments_done = st.segments_done, frames_encoded = st.frames_encoded,
      fps = (s.elapsed or 0) > 0 and st.frames_encoded and st.frames_encoded / s.elapsed or 0,
    }
  end
  return t
end

-- One line for the REPL's status line.
function Run:line()
  local s = self:status()
  return format("run %d %s %d/%s seg %.0fs", self.id, self.state, s.segments_done or 0,
    s.segments_total and tostring(s.segments_total) or "?", s.elapsed or 0)
end

-- Methods the engine binding provides (or will): same name on the engine handle.
local function engine_method(self, name, ...)
  check_live(self, name)
  local f = self.engine[name]
  if type(f) ~= "function" then
    error(format("run:%s: not supported by this engine build (cmafeng.Engine has no %s method)",
                 name, name), 0)
  end
  return f(self.engine, ...)
end

-- Workers claim no new chunk while paused; chunks being encoded finish.
function Run:pause()
  engine_method(self, "pause", true)
  return true
end
function Run:resume()
  engine_method(self, "pause", false)
  return true
end
-- The job's devices as the process-wide pool has them (sessions, in_use, waiters, caps).
function Run:devices() return engine_method(self, "devices") end
-- The leases held now: one per device session in use, from the pool's counts.
function Run:leases()
  local out = {}
  for _, d in ipairs(engine_method(self, "devices")) do
    for k = 1, d.in_use do out[#out + 1] = { device = d.id, session = k } end
  end
  return out
end

local STATES = { queued = true, encoding = true, awaiting_policy = true, done = true,
                 failed = true }

-- The chunk table: every chunk of the job (or one rung) in the given state.
function Run:chunks(filter)
  check_live(self, "chunks")
  filter = filter or {}
  if type(filter) ~= "table" then error("run:chunks: expected {state=, rung=}", 2) end
  if filter.state ~= nil and not STATES[filter.state] then
    error("run:chunks: state: expected queued, encoding, awaiting_policy, done or failed, got "
          .. tostring(filter.state), 2)
  end
  local rungs = {}
  if filter.rung ~= nil then
    rungs[1] = rung_index(self, filter.rung, "chunks")
  else
    for i = 1, #self.job.video.ladder do rungs[i] = i end
  end
  local out = {}
  for _, r in ipairs(rungs) do
    for _, c in ipairs(engine_method(self, "chunks", r)) do
      if filter.state == nil or c.state == filter.state then out[#out + 1] = c end
    end
  end
  return out
end

-- The rung's chunks waiting to be encoded, in order.
function Run:queue(rung)
  return self:chunks { rung = rung, state = "queued" }
end

-- A finished segment is encoded again by an encoder instance of its rung and its file
-- replaced atomically; the segment event that follows has requeued = true. Only while the
-- job runs and the rung still has an encoder instance: a rung closes its instances once its
-- last segment is written (run:pause() early holds them). Raises with the engine's reason
-- when it cannot (no such segment, not done yet, no instance left, the job ended).
function Run:requeue(rung, index)
  if self.state ~= "running" then
    error(format("run:requeue: run %d has finished (%s): its encoder instances are closed, " ..
                 "so a segment can only be requeued while the job runs and its rung has not " ..
                 "written its last segment (run:pause() holds the job)", self.id, self.state), 2)
  end
  local r = rung_index(self, rung, "requeue")
  if type(index) ~= "number" or index < 1 or index ~= math.floor(index) then
    error("run:requeue: expected a segment number (1, 2, ...), got " .. tostring(index), 2)
  end
  local ok, msg = engine_method(self, "requeue", r, index)
  if not ok then error("run:requeue: " .. tostring(msg), 2) end
  self:_say(format("requeued %s segment %d", self.job.video.ladder[r].name, index))
  return true
end

-- The rung's chunks claimed from now on use this crf and/or preset (each on an encoder
-- opened for it: backends that can open one mid-job only, not SVT-AV1 1.4.1). Raises with
-- the reason when the settings are wrong or the rung's devices cannot.
function Run:set(rung, settings)
  check_live(self, "set")
  local r = rung_index(self, rung, "set")
  if type(settings) ~= "table" then error("run:set: expected {crf=, preset=}", 2) end
  for k, v in pairs(settings) do
    if k ~= "crf" and k ~= "preset" then
      error("run:set: unknown setting " .. tostring(k) .. " (crf, preset)", 2)
    end
    if type(v) ~= "number" or v ~= math.floor(v) then
      error(format("run:set: %s: expected an integer, got %s", k, tostring(v)), 2)
    end
  end
  if settings.crf == nil and settings.preset == nil then
    error("run:set: expected {crf=, preset=} with at least one of them", 2)
  end
  local ok, msg = engine_method(self, "set", r, { crf = settings.crf, preset = settings.preset })
  if not ok then error("run:set: " .. tostring(msg), 2) end
  return true
end

return M

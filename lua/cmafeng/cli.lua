-- cmafeng.cli: the command line. main(argv) returns the process exit code:
-- 0 success, 1 the job failed, 2 bad usage, recipe or source (DESIGN.md section 5).
local core = require "cmafeng.core"
local json = require "cmafeng.json"

local M = {}

local USAGE = [[
usage: cmafeng run RECIPE [-o DIR] [--events FILE|-] [--resume | --overwrite]
                   [--repl | --repl-on-error] [-- ARGS...]
       cmafeng probe FILE [--json]
       cmafeng inspect FILE [--json]
       cmafeng validate DIR [--decode] [--json]
       cmafeng devices [--json]
       cmafeng version
       cmafeng repl

  run      run a recipe: encode the source to an AV1 CMAF ladder (HLS + DASH)
           -o DIR           output directory (overrides the recipe's `output`)
           --events FILE|-  write one JSON object per event (- = stdout)
           --resume         keep the segments an interrupted run of the same job wrote
                            (without a journal in DIR: a normal run, and it says so)
           --overwrite      replace the output of an earlier job in DIR (refused otherwise)
           --repl           start the job and open the REPL with it in `run`
           --repl-on-error  open the REPL when the job fails, the event in `ev`
           ARGS             the words after -- reach the recipe as `arg`
  probe    describe a media file: sizes, SAR, rotation, frame rate, colour and HDR,
           audio and subtitle streams (the fields of cmafeng.probe, docs/recipes.md)
  inspect  an AV1, AAC, Opus or text file (.obu, .ivf, init.mp4, .m4s, .mp4): codec string,
           sequence header, av1C or audio configuration, and per sample the time, size,
           frame type and sync flag (a .m4s is read with the init.mp4 beside it if need be)
  validate check an output directory: manifests against the files on disk (exit 1 on problems)
           --decode         also decode every rendition (libdav1d, libavcodec) from init +
                            segments in playlist order and check frames against the manifests
  devices  the encoder devices of this machine (CPU encoders, NVENC, oneVPL, VA-API GPUs)
           and what each backend lacks; --json for machines
  version  print the version and the encoder backends built in
  repl     interactive Lua with `cme` = require "cmafeng"; jobs started with cme.start
           run while the prompt waits (help() in the REPL lists the rest)
]]

local function fail(msg, code)
  io.stderr:write("cmafeng: ", msg, "\n")
  return code or 2
end

local function cmd_version()
  io.stdout:write("cmafeng ", core.version(), "\n")
  for _, b in ipairs(core.backends(true)) do
    local state
    if not b.built then
      state = "not built"
    elseif b.available then
      state = "available: " .. b.status
    else
      state = "built; " .. (b.status or "")
    end
    io.stdout:write(string.format("  %-6s %s\n", b.name, state))
  end
  return 0
end

-- The arguments of the one-operand commands: `CMD OPERAND [--json]`. Returns the operand
-- and the json flag, or nil and the exit code after printing the usage error.
local function operand_and_json(cmd, what, args)
  local operand, as_json
  for _, a in ipairs(args) do
    if a == "--json" then
      as_json = true
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, fail(cmd .. ": unknown option " .. a .. "\n" .. USAGE)
    elseif operand then
      return nil, fail(cmd .. ": expected one " .. what .. ", got " .. operand .. " and " .. a)
    else
      operand = a
    end
  end
  if not operand then return nil, fail(cmd .. ": expected a " .. what .. "\n" .. USAGE) end
  return operand, as_json
end

-- inspect and validate read only regular files of bounded size: /dev/zero would grow
-- without bound and a FIFO would block forever. Returns nil or the message.
local function readable_file(path, st)
  st = st or core.fs.stat(path)
  if not st then
    local _, err = core.fs.stat(path)
    return err
  end
  if st.type ~= "file" then
    return path .. ": not a regular file (a " .. st.type .. ")"
  end
  if st.size > core.limits.MAX_INSPECT_BYTES then
    return string.format("%s: %.0f bytes, more than the %.0f bytes cmafeng reads from one file",
                         path, st.size, core.limits.MAX_INSPECT_BYTES)
  end
end

-- Every file an output directory holds, two levels deep (the layout cmafeng writes).
local function readable_tree(dir)
  local st, err = core.fs.stat(dir)
  if not st then return err end
  if st.type ~= "dir" then return dir .. ": not a directory" end
  local function walk(d, depth)
    for _, n in ipairs(core.fs.listdir(d) or {}) do
      local p = d .. "/" .. n
      local e = core.fs.stat(p)
      if e and e.type == "dir" then
        if depth < 2 then
          local werr = walk(p, depth + 1)
          if werr then return werr end
        end
      elseif e then
        local ferr = readable_file(p, e)
        if ferr then return ferr end
      end
    end
  end
  return walk(dir, 1)
end

-- cmafeng probe FILE [--json]: what cmafeng.probe(FILE) returns (lua/cmafeng/probe.lua).
local function cmd_probe(args)
  local path, as_json = operand_and_json("probe", "FILE", args)
  if not path then return as_json end
  local probe = require "cmafeng.probe"
  local info, err = probe.probe(path)
  if not info then return fail(err) end
  io.stdout:write(as_json and json.encode(info, { indent = "  " }) .. "\n" or probe.text(info))
  return 0
end

local function cmd_inspect(args)
  local path, as_json = operand_and_json("inspect", "FILE", args)
  if not path then return as_json end
  local ferr = readable_file(path)
  if ferr then return fail(ferr) end
  local inspect = require "cmafeng.inspect"
  local info, err = inspect.read(path)
  if not info then return fail(err) end
  io.stdout:write(as_json and inspect.json(info) .. "\n" or inspect.text(info))
  return 0
end

local function cmd_validate(args)
  local rest, decode = {}, false
  for _, a in ipairs(args) do
    if a == "--decode" then decode = true else rest[#rest + 1] = a end
  end
  local dir, as_json = operand_and_json("validate", "DIR", rest)
  if not dir then return as_json end
  local derr = readable_tree(dir)
  if derr then return fail("validate: " .. derr) end
  local validate = require "cmafeng.validate"
  local res, err = validate.run(dir, { decode = decode })
  if not res then return fail(err) end
  io.stdout:write(as_json and validate.json(res) .. "\n" or validate.text(res))
  return res.ok and 0 or 1
end

local function isatty_stderr()
  return core.isatty and core.isatty(2)
end

-- A write-checking wrapper for the --events stream: the first failing write or flush is
-- kept (a full disk, /dev/full, a closed pipe) and the run then fails naming the file.
-- The events stream: remembers its first error and reports it from every later call, so
-- the runloop stops the job at once (a full disk loses no more work than it must) and the
-- command names the stream at the end.
local function checked_stream(f)
  local w = {}
  function w:write(...)
    if not self.err then
      local ok, e = f:write(...)
      if not ok then self.err = e end
    end
    if self.err then return nil, self.err end
    return self
  end
  function w:flush()
    if not self.err then
      local ok, e = f:flush()
      if not ok then self.err = e end
    end
    if self.err then return nil, self.err end
    return self
  end
  return w
end

local function interrupted_exit()
  return fail("interrupted while loading the recipe: nothing was written", 130)
end

local function cmd_run(args)
  local recipe_path, out_dir, events_path, resume, overwrite, repl_mode
  local rest = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do rest[#rest + 1] = args[j] end
      break
    elseif a == "-o" or a == "--output" then
      out_dir = args[i + 1]
      if not out_dir then return fail("run: -o needs a directory") end
      i = i + 1
    elseif a == "--resume" then
      resume = true
    elseif a == "--overwrite" then
      overwrite = true
    elseif a == "--repl" or a == "--repl-on-error" then
      if repl_mode then return fail("run: give one of --repl and --repl-on-error") end
      repl_mode = a
    elseif a == "--events" then
      events_path = args[i + 1]
      if not events_path then return fail("run: --events needs a FILE or -") end
      i = i + 1
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return fail("run: unknown option " .. a .. "\n" .. USAGE)
    elseif not recipe_path then
      recipe_path = a
    else
      return fail("run: unexpected argument " .. a .. " (recipe arguments go after --)")
    end
    i = i + 1
  end
  if not recipe_path then return fail("run: expected a RECIPE\n" .. USAGE) end
  if resume and overwrite then
    return fail("run: --resume keeps an earlier job's output, --overwrite replaces it: " ..
                "choose one")
  end

  local recipe = require "cmafeng.recipe"
  local job, err = recipe.load(recipe_path, rest)
  if core.interrupted and core.interrupted() then return interrupted_exit() end
  if not job then return fail(err) end
  if out_dir then
    if #out_dir > core.limits.MAX_PATH then
      return fail(string.format("run: -o: expected at most %d bytes, got %d",
                                core.limits.MAX_PATH, #out_dir))
    end
    job.output = out_dir
  end

  -- A source that cannot be read is a bad command line: refuse it before the output
  -- directory is touched (nothing written). The probe decodes the first frame.
  local sinfo, serr = core.probe(job.source)
  if not sinfo then return fail(serr) end
  local sok, cerr0 = recipe.check_source(job, sinfo, recipe_path)
  if not sok then return fail(cerr0) end
  if core.interrupted and core.interrupted() then return interrupted_exit() end

  local claim, cerr, ccode = require("cmafeng.outdir").claim(job.output, {
    resume = resume, overwrite = overwrite,
    note = function(msg) io.stderr:write("cmafeng: ", msg, "\n") end,
  })
  if not claim then return fail(cerr, ccode) end
  job.resume = claim.resume

  local events, events_file
  if events_path == "-" then
    events_file = io.stdout
  elseif events_path then
    local f, ferr = io.open(events_path, "w")
    if not f then
      claim:release()
      return fail(events_path .. ": " .. tostring(ferr))
    end
    events_file = f
  end
  if events_file then events = checked_stream(events_file) end
  local function close_events()
    claim:release()
    if events_file and events_file ~= io.stdout then
      local ok, cerr2 = events_file:close()
      if not ok and not events.err then events.err = cerr2 or "close failed" end
      -- Complete on disk too, like every file the job writes (a character device such as
      -- /dev/null has nothing to sync).
      local st = core.fs.stat(events_path)
      if ok and st and st.type == "file" then
        local sok, serr = core.fs.fsync(events_path)
        if not sok and not events.err then events.err = serr end
      end
    end
  end
  if repl_mode == "--repl" then
    local run, rerr, rcode = require("cmafeng.live").start(job, { events = events,
                                                                  validated = true })
    if not run then
      close_events()
      return fail(rerr, rcode)
    end
    io.stderr:write("cmafeng: the job runs; `run` is it (run:status(), run:wait(), ",
                    "run:cancel()), `job` its table; Ctrl-D cancels it if it still runs\n")
    local code = require("cmafeng.repl").run { vars = { run = run, job = job }, run = run }
    close_events()
    return code
  end
  local progress = events_file ~= io.stdout and isatty_stderr() and not repl_mode
  local runloop = require "cmafeng.runloop"
  local session, opened
  -- --repl-on-error: the REPL opens on the failing event, the job's threads still running;
  -- leaving it lets the job go on to its end.
  local function debug_repl(ev)
    opened = true
    io.stderr:write("\ncmafeng: ", ev.type, ": ", tostring(ev.message), "\n",
      "cmafeng: REPL on error: `ev` is the event, `run` the job, `job` its table; ",
      "Ctrl-D lets the job go on\n")
    local run = session and require("cmafeng.live").attach(session)
    require("cmafeng.repl").run { vars = { ev = ev, run = run, job = job } }
  end
  -- The engine raises on arguments it refuses; the schema is meant to have refused them
  -- first, so such an error is still the recipe's, never an "internal error".
  local report, rerr, code
  local pok, perr = pcall(function()
    session, rerr, code = runloop.open(job, {
      events = events, progress = progress, recipe = recipe_path,
      on_event = repl_mode and function(ev)
        if (ev.type == "failed" or ev.type == "chunk_failed") and not opened then
          debug_repl(ev)
        end
      end,
    })
    if session then
      while session:pump(250) do end
      report, rerr, code = session:close()
      if not report and repl_mode and not opened then
        debug_repl { type = "failed", message = rerr, code = code }
      end
    end
  end)
  if not pok then
    local raised = type(perr) == "string" and perr or "the engine refused the job"
    report, code = nil, 2
    rerr = recipe_path .. ": " .. raised:gsub("^[^:\n]*%.lua:%d+: ", ""):gsub("\n.*", "")
  end
  close_events()
  if events and events.err then
    return fail(string.format("%s: cannot write events: %s", events_path == "-" and "stdout"
      or events_path, tostring(events.err)), 1)
  end
  if not report then return fail(rerr, code) end
  if events_file ~= io.stdout then
    local lines = {}
    for _, r in ipairs(report.renditions) do
      lines[#lines + 1] = string.format("  %-8s %4dx%-4d %-22s %3d segments %8.0f kbit/s",
        r.name, r.width, r.height, r.codecs or "?", r.segments,
        r.duration > 0 and r.bytes * 8 / r.duration / 1000 or 0)
    end
    local a = report.audio
    if a then
      lines[#lines + 1] = string.format("  %-8s %d ch %5d Hz %-15s %3d segments %8.0f kbit/s",
        "audio", a.channels, a.sample_rate, a.codecs or "?", a.segments,
        a.duration > 0 and a.bytes * 8 / a.duration / 1000 or 0)
    end
    io.stderr:write(string.format(
      "cmafeng: wrote %s in %.1f s (%d frames)\n%s\n" ..
      "  HLS:  %s/master.m3u8\n  DASH: %s/manifest.mpd\n" ..
      "  play: serve the directory over HTTP (e.g. python3 -m http.server -d %s) and open " ..
      "master.m3u8 in hls.js or Safari, manifest.mpd in Shaka Player or dash.js\n",
      job.output, report.elapsed, report.frames, table.concat(lines, "\n"), job.output,
      job.output, job.output))
  end
  return 0
end

-- cmafeng devices [--json]: discovery through each SDK (engine/enc/discover.h).
local HW_UNTESTED = "hardware encode paths (NVENC, oneVPL, VA-API, AMF) are built and their " ..
  "device queries unit-tested, but none has encoded on a GPU in this project's tests " ..
  "(its machines have no GPU)"

local function cmd_devices(args)
  local as_json
  for _, a in ipairs(args) do
    if a == "--json" then as_json = true else return fail("devices: unknown argument " .. a .. "\n" .. USAGE) end
  end
  local r = core.devices()
  if as_json then
    r.note = HW_UNTESTED
    io.stdout:write(json.encode(r), "\n")
    return 0
  end
  local out = {}
  out[#out + 1] = "Devices:"
  out[#out + 1] = string.format("  %-18s %-6s %-7s %-11s %-6s %-8s %s", "id", "backend", "vendor",
    "max size", "10-bit", "sessions", "status")
  for _, d in ipairs(r.devices) do
    out[#out + 1] = string.format("  %-18s %-7s %-7s %-11s %-6s %-8s %s%s", d.id, d.backend, d.vendor,
      d.max_width > 0 and (d.max_width .. "x" .. d.max_height) or "-", d.ten_bit and "yes" or "no",
      d.sessions > 0 and tostring(d.sessions) or "cores", d.can_run and "" or "[cannot run] ",
      d.status)
  end
  out[#out + 1] = "Backends:"
  local ff = {}
  for _, b in ipairs(r.backends) do
    if b.backend == "ffmpeg" then
      ff[#ff + 1] = "  " .. b.status
    else
      out[#out + 1] = string.format("  %-6s %-9s %s", b.backend,
        not b.built and "not built" or b.available and "available" or "no device", b.status)
    end
  end
  out[#out + 1] = "FFmpeg AV1 encoders:"
  for _, l in ipairs(ff) do out[#out + 1] = l end
  -- What a recipe's devices = "auto" leases, and the process's lease pool (in the REPL, the
  -- devices earlier jobs registered, with their session caps and leases now).
  out[#out + 1] = 'devices = "auto":'
  if #r.auto.devices == 0 then
    out[#out + 1] = "  the CPU (SVT-AV1, `workers` sessions): " .. tostring(r.auto.reason)
  end
  for _, d in ipairs(r.auto.devices) do
    out[#out + 1] = string.format("  %-18s %-7s %d sessions%s", d.id, d.backend, d.sessions,
      d.path ~= "" and (" on " .. d.path) or "")
  end
  out[#out + 1] = "Lease pool (this process):"
  if #r.pool == 0 then out[#out + 1] = "  empty (a job registers its devices when it starts)" end
  for _, d in ipairs(r.pool) do
    out[#out + 1] = string.format("  %-18s %-7s %d sessions, %d in use%s", d.id, d.backend,
      d.sessions, d.in_use, d.path ~= "" and (" on " .. d.path) or "")
  end
  out[#out + 1] = "Note: " .. HW_UNTESTED .. "."
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

local function cmd_repl()
  return require("cmafeng.repl").run()
end

function M.main(argv)
  local cmd = argv[1]
  local args = {}
  for i = 2, #argv do args[#args + 1] = argv[i] end
  if cmd == "run" then return cmd_run(args)
  elseif cmd == "probe" then return cmd_probe(args)
  elseif cmd == "inspect" then return cmd_inspect(args)
  elseif cmd == "validate" then return cmd_validate(args)
  elseif cmd == "devices" then return cmd_devices(args)
  elseif cmd == "version" or cmd == "--version" then return cmd_version()
  elseif cmd == "repl" then return cmd_repl()
  elseif cmd == "help" or cmd == "--help" or cmd == "-h" then
    io.stdout:write(USAGE)
    return 0
  elseif cmd == nil then
    return fail("expected a command\n" .. USAGE)
  end
  return fail("unknown command " .. cmd .. "\n" .. USAGE)
end

return M

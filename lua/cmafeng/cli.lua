-- cmafeng.cli: the command line. main(argv) returns the process exit code:
-- 0 success, 1 the job failed, 2 bad usage, recipe or source (DESIGN.md section 5).
local core = require "cmafeng.core"
local json = require "cmafeng.json"

local M = {}

local USAGE = [[
usage: cmafeng run RECIPE [-o DIR] [--events FILE|-] [--resume] [--repl|--repl-on-error]
                   [-- ARGS...]
       cmafeng probe FILE [--json]
       cmafeng inspect FILE [--json]
       cmafeng validate DIR [--json]
       cmafeng version
       cmafeng repl

  run      run a recipe: encode the source to an AV1 CMAF ladder (HLS + DASH)
           -o DIR           output directory (overrides the recipe's `output`)
           --events FILE|-  write one JSON object per event (- = stdout)
           --resume         keep the segments an interrupted run of the same job wrote
           --repl           start the job and open the REPL with it in `run`
           --repl-on-error  open the REPL when the job fails, the event in `ev`
           ARGS             the words after -- reach the recipe as `arg`
  probe    describe a media file
  inspect  an AV1 file (.obu, .ivf, init.mp4, .m4s, .mp4): sequence header, av1C, codec
           string, and per sample the time, size, frame type and sync flag
  validate check an output directory: manifests against the files on disk (exit 1 on problems)
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

local function cmd_probe(args)
  local path, as_json
  for _, a in ipairs(args) do
    if a == "--json" then as_json = true else path = a end
  end
  if not path then return fail("probe: expected a FILE\n" .. USAGE) end
  local info, err = core.probe(path)
  if not info then return fail(err) end
  if as_json then
    io.stdout:write(json.encode(info), "\n")
  else
    io.stdout:write(string.format("%s: %s %dx%d %d/%d fps, %.3f s, %d frames%s\n", path,
      info.codec, info.width, info.height, info.fps_num, info.fps_den, info.duration,
      info.frames, info.has_audio and ", audio" or ""))
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

local function cmd_inspect(args)
  local path, as_json = operand_and_json("inspect", "FILE", args)
  if not path then return as_json end
  local inspect = require "cmafeng.inspect"
  local info, err = inspect.read(path)
  if not info then return fail(err) end
  io.stdout:write(as_json and inspect.json(info) .. "\n" or inspect.text(info))
  return 0
end

local function cmd_validate(args)
  local dir, as_json = operand_and_json("validate", "DIR", args)
  if not dir then return as_json end
  local validate = require "cmafeng.validate"
  local res, err = validate.run(dir)
  if not res then return fail(err) end
  io.stdout:write(as_json and validate.json(res) .. "\n" or validate.text(res))
  return res.ok and 0 or 1
end

local function isatty_stderr()
  return core.isatty and core.isatty(2)
end

local function cmd_run(args)
  local recipe_path, out_dir, events_path, resume, repl_mode
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

  local recipe = require "cmafeng.recipe"
  local job, err = recipe.load(recipe_path, rest)
  if not job then return fail(err) end
  if out_dir then job.output = out_dir end
  job.resume = resume

  local events
  if events_path == "-" then
    events = io.stdout
  elseif events_path then
    local f, ferr = io.open(events_path, "w")
    if not f then return fail(events_path .. ": " .. tostring(ferr)) end
    events = f
  end
  if repl_mode == "--repl" then
    local run, rerr, rcode = require("cmafeng.live").start(job, { events = events })
    if not run then return fail(rerr, rcode) end
    io.stderr:write("cmafeng: the job runs; `run` is it (run:status(), run:wait(), ",
                    "run:cancel()), `job` its table; Ctrl-D cancels it if it still runs\n")
    local code = require("cmafeng.repl").run { vars = { run = run, job = job }, run = run }
    if events and events ~= io.stdout then events:close() end
    return code
  end
  local progress = not events or events ~= io.stdout
  progress = progress and isatty_stderr() and not repl_mode
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
  local report, rerr, code
  session, rerr, code = runloop.open(job, {
    events = events, progress = progress,
    on_event = repl_mode and function(ev)
      if ev.type == "failed" and not opened then debug_repl(ev) end
    end,
  })
  if session then
    while session:pump(250) do end
    report, rerr, code = session:close()
    if not report and repl_mode and not opened then
      debug_repl { type = "failed", message = rerr, code = code }
    end
  end
  if events and events ~= io.stdout then events:close() end
  if not report then return fail(rerr, code) end
  if events ~= io.stdout then
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

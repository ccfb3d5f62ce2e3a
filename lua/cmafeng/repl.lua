-- cmafeng.repl: the same engine and lua_State, interactively. `cme` is require "cmafeng".
--
--   repl.run([opts]) -> exit code           the terminal loop (`cmafeng repl`)
--   repl.new([opts]) -> session             the evaluator alone (tests, embedding)
--   session:feed(line) -> "more" | "done"   one line of input; "more" asks for a continuation
--   session:complete(text_before_cursor) -> insert, listing
--   repl.rewrite_locals(src) -> src'        top-level `local` into the session's table
--
-- opts: out, err (functions writing text; default io.stdout / io.stderr), vars (variables
-- the session starts with, e.g. { run = run, ev = ev }), run (the job `cmafeng run --repl`
-- attached), history (path; default $XDG_STATE_HOME/cmafeng/repl_history).
--
-- A line is tried as an expression first ("return <line>"; `=expr` is the same), then as a
-- statement; a chunk that ends early ('<eof>' in the error) continues on the next line.
-- `local` at the top level of a chunk is rewritten into a table the session keeps, so locals
-- persist from one line to the next. Values print through cmafeng.pretty; errors print with a
-- traceback that stops at the REPL's own frames. Ctrl-C interrupts a running statement
-- (cmafeng.lineedit); Ctrl-D or exit() cancels running jobs cleanly (exit status 130).
local pretty = require "cmafeng.pretty"

local M = {}

local format, concat = string.format, table.concat
local unpack = unpack or table.unpack

local function pack(...) return { n = select("#", ...), ... } end

---------------------------------------------------------------------------------------------
-- Persistent locals: a small Lua lexer finds `local` at the chunk's top level.

local LOCAL_TABLE = "__repl_local__"
local PACK = "__repl_pack__"

-- Tokens of src as { type, text, s, e } (type: "name", "string", "number", "op", "eof").
-- Comments and whitespace are skipped; an unfinished token ends the list (the compiler then
-- reports it).
local function tokens(src)
  local out, i, n = {}, 1, #src
  local function long_bracket(at)
    local eq = src:match("^%[(=*)%[", at)
    if not eq then return nil end
    local close = "]" .. eq .. "]"
    local _, stop = src:find(close, at + #eq + 2, true)
    return stop or n
  end
  while i <= n do
    local c = src:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local stop = long_bracket(i + 2)
      if stop then
        i = stop + 1
      else
        local nl = src:find("\n", i, true)
        i = nl and nl + 1 or n + 1
      end
    elseif c:match("[%a_]") then
      local s, e = src:find("^[%w_]+", i)
      out[#out + 1] = { "name", src:sub(s, e), s, e }
      i = e + 1
    elseif c:match("%d") or (c == "." and src:sub(i + 1, i + 1):match("%d")) then
      local e = select(2, src:find("^[%w%.]*", i))
      -- exponents with a sign: 1e-5
      while src:sub(e, e):match("[eEpP]") and src:sub(e + 1, e + 1):match("[%+%-]") do
        e = select(2, src:find("^[%w%.]*", e + 2))
      end
      out[#out + 1] = { "number", src:sub(i, e), i, e }
      i = e + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then
          j = j + 2
        elseif d == c or d == "\n" then
          break
        else
          j = j + 1
        end
      end
      out[#out + 1] = { "string", src:sub(i, j), i, j }
      i = j + 1
    elseif c == "[" and long_bracket(i) then
      local stop = long_bracket(i)
      out[#out + 1] = { "string", src:sub(i, stop), i, stop }
      i = stop + 1
    else
      local op = src:match("^%.%.%.", i) or src:match("^[=~<>]=", i) or src:match("^%.%.", i)
        or src:match("^::", i) or c
      out[#out + 1] = { "op", op, i, i + #op - 1 }
      i = i + #op
    end
  end
  out[#out + 1] = { "eof", "", n + 1, n }
  return out
end

local OPENERS = { ["do"] = true, ["if"] = true, ["function"] = true, ["repeat"] = true }
local CLOSERS = { ["end"] = true, ["until"] = true }

-- Rewrites top-level `local a, b = ...` into `__repl_local__.a, __repl_local__.b = ...`,
-- `local a` into `__repl_local__.a = nil` and `local function f` into
-- `__repl_local__.f = nil; function f`. Line numbers are kept. Returns the new source.
function M.rewrite_locals(src)
  local toks = tokens(src)
  local edits = {}
  local depth = 0
  local i = 1
  while i <= #toks do
    local t = toks[i]
    if t[1] == "name" then
      if OPENERS[t[2]] then
        depth = depth + 1
      elseif CLOSERS[t[2]] then
        depth = depth - 1
      elseif t[2] == "local" and depth == 0 then
        local nxt = toks[i + 1]
        if nxt[1] == "name" and nxt[2] == "function" and toks[i + 2][1] == "name" then
          local name = toks[i + 2][2]
          edits[#edits + 1] = { t[3], t[4], LOCAL_TABLE .. "." .. name .. " = nil;" }
        else
          local names, j = {}, i + 1
          while toks[j][1] == "name" do
            names[#names + 1] = toks[j][2]
            if toks[j + 1][2] == "," then j = j + 2 else break end
          end
          if #names > 0 then
            local last = toks[j]
            local targets = {}
            for k, nm in ipairs(names) do targets[k] = LOCAL_TABLE .. "." .. nm end
            local text = concat(targets, ", ")
            if toks[j + 1][2] ~= "=" then text = text .. " = nil" end
            edits[#edits + 1] = { t[3], last[4], text }
            i = j
          end
        end
      end
    end
    i = i + 1
  end
  for k = #edits, 1, -1 do
    local e = edits[k]
    src = src:sub(1, e[1] - 1) .. e[3] .. src:sub(e[2] + 1)
  end
  return src
end

-- True when a compile error means "the chunk is not finished yet".
function M.incomplete(err)
  return type(err) == "string" and (err:find("<eof>'?$") ~= nil)
end

---------------------------------------------------------------------------------------------
-- The evaluator

local Session = {}
Session.__index = Session

-- The exit() sentinel: raised through the user's code to the REPL loop.
local EXIT = {}

local function frame_text(info)
  local where
  if info.what == "C" then
    where = "[C]"
  else
    where = info.short_src .. ":" .. (info.currentline or 0)
  end
  if info.what == "main" then return where .. ": in main chunk" end
  if info.name then return format("%s: in function '%s'", where, info.name) end
  if info.what == "C" then return where .. ": in ?" end
  return format("%s: in function <%s:%d>", where, info.short_src, info.linedefined or 0)
end

function M.new(opts)
  opts = opts or {}
  local self = setmetatable({
    out = opts.out or function(s) io.stdout:write(s) io.stdout:flush() end,
    err = opts.err or function(s) io.stderr:write(s) end,
    buffer = {},
    locals = {},
    declared = {},
    errors = 0,
    interruptible = opts.interruptible,
  }, Session)
  local locals, declared = self.locals, self.declared
  local helpers = self:_helpers()
  self.helpers = helpers
  -- The table `local` statements assign to: declaring happens on assignment, after the
  -- right-hand side was evaluated (so `local x = x + 1` reads the earlier x).
  local local_table = setmetatable({}, {
    __index = function(_, k) return locals[k] end,
    __newindex = function(_, k, v)
      declared[k] = true
      locals[k] = v
    end,
  })
  self.env = setmetatable({}, {
    __index = function(_, k)
      if k == LOCAL_TABLE then return local_table end
      if k == PACK then return pack end
      if declared[k] then return locals[k] end
      local v = rawget(_G, k)
      if v ~= nil then return v end
      return helpers[k]
    end,
    __newindex = function(_, k, v)
      if declared[k] then locals[k] = v else _G[k] = v end
    end,
  })
  for k, v in pairs(opts.vars or {}) do
    declared[k] = true
    locals[k] = v
  end
  return self
end

-- Functions the REPL adds (shadowed by globals of the same name).
function Session:_helpers()
  local session = self
  return {
    pp = function(v, o) session.out(pretty.format(v, o) .. "\n") end,
    exit = function(code) error(setmetatable({ code = code }, EXIT), 0) end,
    help = function()
      session.out(M.HELP)
    end,
    statusline = function(on)
      if on == nil then on = not session.status_on end
      session.status_on = on and true or false
      return session.status_on
    end,
    runs = function() return require("cmafeng.live").runs end,
  }
end

M.HELP = [[
cmafeng repl: Lua with `cme` = require "cmafeng"; the value of an expression is printed.
  run = cme.start(job_or_recipe_path)   start a job; it runs while the prompt waits
  run:status()  run:rungs()  run:wait()  run:cancel()  run:report()
  run:pause()  run:resume()  run:queue(rung)  run:chunks{state=}  run:devices()
  run:leases()  run:requeue(rung, index)  run:set(rung, {crf=, preset=})
  cme.inspect(path)  cme.av1.parse(path_or_obus)  cme.probe(path)
  pp(value, {depth=})  statusline()  runs()  exit()
Keys: Tab completes names, Up/Down and Ctrl-R search the history, Ctrl-C interrupts a
statement or clears the line, Ctrl-D quits (running jobs are canceled cleanly).
]]

-- Compiles a chunk: as an expression first, then as statements. Returns fn, is_expression or
-- nil, message.
function Session:compile(src)
  if src:sub(1, 1) == "=" then src = src:sub(2) end
  -- The values are packed inside the chunk: `return f()` would be a tail call, and an error
  -- in f would then point at the REPL instead of stdin.
  local fn = loadstring("return " .. PACK .. "(" .. src .. "\n)", "=stdin")
  if fn then return fn, true end
  local err
  fn, err = loadstring(M.rewrite_locals(src), "=stdin")
  if not fn then
    -- Report the user's text, not the rewrite.
    local _, uerr = loadstring(src, "=stdin")
    return nil, uerr or err
  end
  return fn, false
end

-- Text of an error value; a failing or looping __tostring does not escape.
local function error_text(e)
  if type(e) == "string" then return e end
  local mt = (type(e) == "table" or type(e) == "userdata") and debug.getmetatable(e)
  if mt and rawget(mt, "__tostring") then return pretty.safe_tostring(e) end
  return "(error object is a " .. type(e) .. " value) " .. pretty.format(e, { depth = 2 })
end

local function values_text(r)
  local parts, multi = {}, false
  for i = 1, r.n do
    parts[i] = pretty.format(r[i])
    if parts[i]:find("\n", 1, true) then multi = true end
  end
  return concat(parts, multi and "\n" or "\t") .. "\n"
end

-- Runs a compiled chunk with Ctrl-C armed and prints its values or its error.
-- Returns true, or false after an error; raises the EXIT sentinel for exit().
function Session:execute(fn, is_expr)
  setfenv(fn, self.env)
  if jit then jit.off(fn, true) end -- count hooks (Ctrl-C) only fire in interpreted code
  local runner
  runner = function()
    local r
    if is_expr then r = fn() else r = pack(fn()) end
    if r.n == 0 then return nil end
    return values_text(r)
  end
  local function handler(e)
    if getmetatable(e) == EXIT then return e end
    -- The user's frames are those above `runner`. A stack overflow is thousands of frames
    -- deep and each debug.getinfo walks the stack, so find the bottom by bisection and
    -- show both ends, as Lua does.
    local lo, hi = 2, 4
    while debug.getinfo(hi, "f") do lo, hi = hi, hi * 2 end
    while hi - lo > 1 do
      local mid = math.floor((lo + hi) / 2)
      if debug.getinfo(mid, "f") then lo = mid else hi = mid end
    end
    local stop = lo + 1 -- below the last frame
    for level = lo, math.max(2, lo - 64), -1 do
      local f = debug.getinfo(level, "f").func
      if f == runner or f == self.interruptible then stop = level end
    end
    local lines = {}
    local n = stop - 2
    for level = 2, stop - 1 do
      if n > 22 and level == 12 then
        lines[#lines + 1] = format("\t...\t(skipping %d levels)", n - 21)
      elseif n <= 22 or level < 12 or level >= stop - 11 then
        local info = debug.getinfo(level, "Sln")
        if info then lines[#lines + 1] = "\t" .. frame_text(info) end
      end
    end
    return { wrapped = true, err = e, trace = lines }
  end
  local ok, res
  if self.interruptible then
    ok, res = self.interruptible(runner, handler)
  else
    ok, res = xpcall(runner, handler)
  end
  if ok then
    if res then self.out(res) end
    return true
  end
  if getmetatable(res) == EXIT then error(res, 0) end
  self.errors = self.errors + 1
  local wrapped = type(res) == "table" and rawget(res, "wrapped")
  local obj = res
  if wrapped then obj = res.err end
  local text = error_text(obj)
  if text == "interrupted" then self.interrupted = true end
  if wrapped and #res.trace > 0 then
    text = text .. "\nstack traceback:\n" .. concat(res.trace, "\n")
  end
  self.err(text .. "\n")
  return false
end

-- One line of input. Returns "more" while the chunk is incomplete, else "done".
function Session:feed(line)
  self.buffer[#self.buffer + 1] = line
  local src = concat(self.buffer, "\n")
  local fn, is_expr_or_err = self:compile(src)
  if not fn then
    if M.incomplete(is_expr_or_err) then return "more" end
    self.buffer = {}
    self.errors = self.errors + 1
    self.err(tostring(is_expr_or_err) .. "\n")
    return "done"
  end
  self.buffer = {}
  self:execute(fn, is_expr_or_err)
  return "done"
end

function Session:reset_input()
  self.buffer = {}
end

-- The end of the input with a chunk still open: report why it cannot run.
function Session:finish_input()
  if #self.buffer == 0 then return end
  local _, err = self:compile(concat(self.buffer, "\n"))
  self.buffer = {}
  self.errors = self.errors + 1
  self.err(tostring(err or "incomplete input") .. "\n")
end

---------------------------------------------------------------------------------------------
-- Completion

local function lookup(self, name)
  if name == LOCAL_TABLE then return nil end
  if self.declared[name] then return self.locals[name] end
  local v = rawget(_G, name)
  if v ~= nil then return v end
  return self.helpers[name]
end

local function index(v, k)
  local ok, r = pcall(function() return v[k] end)
  if ok then return r end
end

-- Names reachable with `.` or `:` from v: its own keys and those of __index tables.
local function fields(v, methods_only)
  local names, seen = {}, {}
  local function add(k, val)
    if type(k) == "string" and pretty.is_identifier(k) and not seen[k] and k:sub(1, 1) ~= "_" then
      if not methods_only or type(val) == "function" then
        seen[k] = true
        names[#names + 1] = k
      end
    end
  end
  local depth = 0
  local cur = v
  -- An object's methods live in its class (the __index table); functions stored in the
  -- object itself are callbacks, not methods.
  local mt = debug.getmetatable(v)
  if methods_only and type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
    cur = rawget(mt, "__index")
  end
  while cur ~= nil and depth < 8 do
    if type(cur) == "table" then
      for k, val in pairs(cur) do add(k, val) end
    end
    local mt = debug.getmetatable(cur)
    local idx = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(idx) ~= "table" then break end
    cur = idx
    depth = depth + 1
  end
  return names
end

local function common_prefix(list)
  local p = list[1] or ""
  for i = 2, #list do
    local s = list[i]
    local n = 0
    while n < #p and n < #s and p:byte(n + 1) == s:byte(n + 1) do n = n + 1 end
    p = p:sub(1, n)
  end
  return p
end

local function columns(list, width)
  width = width or 80
  local w = 0
  for _, s in ipairs(list) do w = math.max(w, #s) end
  w = w + 2
  local per = math.max(1, math.floor(width / w))
  local rows = math.ceil(#list / per)
  local out = {}
  for r = 1, rows do
    local line = {}
    for c = 0, per - 1 do
      local s = list[r + c * rows]
      if s then line[#line + 1] = s .. string.rep(" ", w - #s) end
    end
    out[#out + 1] = (concat(line):gsub("%s+$", ""))
  end
  return concat(out, "\n") .. "\n"
end

local KEYWORD_LIST = { "and", "break", "do", "else", "elseif", "end", "false", "for",
  "function", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true",
  "until", "while" }

-- Completes the name before the cursor: `pri` (globals, locals, keywords), `cme.av` (fields),
-- `run:st` (methods). Returns the text to insert and, when the choice is open, a listing.
function Session:complete(before)
  local expr = before:match("[%w_%.:]*$") or ""
  local path, sep, partial = expr:match("^(.-)([%.:])([%w_]*)$")
  local names, methods = {}, sep == ":"
  if not path then
    partial = expr
    if partial:match("^%d") then return "", nil end
    local seen = {}
    local function add(k)
      if type(k) == "string" and pretty.is_identifier(k) and not seen[k] and k ~= LOCAL_TABLE then
        seen[k] = true
        names[#names + 1] = k
      end
    end
    for k in pairs(self.declared) do add(k) end
    for k in pairs(_G) do add(k) end
    for k in pairs(self.helpers) do add(k) end
    for _, k in ipairs(KEYWORD_LIST) do add(k) end
  else
    if path == "" or path:find(":", 1, true) then return "", nil end
    local v
    for part in path:gmatch("[^%.]+") do
      if v == nil and part == path:match("^[^%.]+") then
        v = lookup(self, part)
      else
        v = index(v, part)
      end
      if v == nil then return "", nil end
    end
    if path:sub(-1) == "." then return "", nil end
    names = fields(v, methods)
  end
  local matches = {}
  for _, k in ipairs(names) do
    if k:sub(1, #partial) == partial then matches[#matches + 1] = k end
  end
  table.sort(matches)
  if #matches == 0 then return "", nil end
  if #matches == 1 then
    local insert = matches[1]:sub(#partial + 1)
    if methods then insert = insert .. "(" end
    return insert, nil
  end
  local prefix = common_prefix(matches)
  if #prefix > #partial then return prefix:sub(#partial + 1), nil end
  return "", columns(matches)
end

---------------------------------------------------------------------------------------------
-- The terminal loop

function M.history_path()
  local explicit = os.getenv("CMAFENG_HISTORY")
  if explicit then return explicit ~= "" and explicit or nil end
  local state = os.getenv("XDG_STATE_HOME")
  if not state or state == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then return nil end
    state = home .. "/.local/state"
  end
  return state .. "/cmafeng/repl_history"
end

-- Cancels every running job and waits for each to stop (journal written, finished segments
-- kept). Returns how many were canceled.
local function cancel_all(live, say)
  local n = 0
  for _, run in ipairs(live.active()) do
    if not run.attached then
      n = n + 1
      say(format("cmafeng: canceling run %d (%s); finished segments are kept\n", run.id,
                 run.job.source))
      run.canceled = true
      run.engine:cancel("interrupted: the REPL quit")
      while run:poll(250) do end
    end
  end
  return n
end

function M.run(opts)
  opts = opts or {}
  local core = require "cmafeng.core"
  local live = require "cmafeng.live"
  local ok_le, lineedit = pcall(require, "cmafeng.lineedit")
  if not ok_le then lineedit = nil end
  _G.cme = require "cmafeng"

  local ed
  local session = M.new {
    out = function(s)
      if ed then ed:hide() end
      io.stdout:write(s)
      io.stdout:flush()
    end,
    err = function(s)
      if ed then ed:hide() end
      io.stdout:flush()
      -- The terminal echoed ^C on the statement's line; the message starts a new one.
      if s:find("^interrupted") and ed and ed:interactive() then s = "\n" .. s end
      io.stderr:write(s)
    end,
    vars = opts.vars,
    interruptible = lineedit and lineedit.interruptible,
  }
  local out, err = session.out, session.err

  -- Notices from running jobs; the status line lives in the prompt.
  local function notify(run, text) out(format("[run %d] %s\n", run.id, text)) end
  for _, run in ipairs(live.runs) do run.notify = run.notify or notify end
  local function hide() if ed then ed:hide() end end
  for _, run in ipairs(live.runs) do run.hide = run.hide or hide end
  -- The REPL's cme: the module's fields, with start() reporting through the prompt.
  local start = _G.cme.start
  local repl_cme = {}
  for k, v in pairs(_G.cme) do repl_cme[k] = v end
  repl_cme.start = function(x, o)
    o = o or {}
    o.notify = o.notify or notify
    o.hide = o.hide or hide
    return start(x, o)
  end
  _G.cme = repl_cme

  local quit_requested
  local function prompt()
    local p = #session.buffer == 0 and "> " or ">> "
    if session.status_on then
      local parts = {}
      for _, run in ipairs(live.runs) do
        if run.state == "running" then parts[#parts + 1] = run:line() end
      end
      if #parts > 0 then p = "[" .. concat(parts, " | ") .. "] " .. p end
    end
    return p
  end
  local function idle()
    for _, run in ipairs(live.active()) do
      local pok, perr = pcall(run.poll, run, 0)
      if not pok then err(format("[run %d] %s\n", run.id, tostring(perr))) end
    end
    if core.interrupted and core.interrupted() then quit_requested = true end
    if ed and ed:interactive() then ed:set_prompt(prompt()) end
  end

  local tty = lineedit and lineedit.isatty(0)
  if lineedit then
    ed = lineedit.new {
      history = tty and M.history_path() or nil,
      complete = function(before) return session:complete(before) end,
      idle = idle,
    }
    lineedit.catch_interrupts(true)
  end
  if tty then
    out(format("cmafeng %s repl; `cme` is require \"cmafeng\"; help() lists what there is. " ..
               "Ctrl-D quits.\n", _G.cme.version()))
  end

  local code, interrupted_quit
  while not quit_requested do
    local line, why
    if ed then
      line, why = ed:read(tty and prompt() or nil)
    else
      line = io.read("*l")
      why = "eof"
    end
    if not line then
      if why == "interrupt" and tty then
        io.stdout:write("^C\n")
        session:reset_input()
      else
        if tty then io.stdout:write("\n") end
        if why == "interrupt" then interrupted_quit = true else session:finish_input() end
        break
      end
    else
      if tty and line:match("%S") then ed:add_history(line) end
      session.interrupted = false
      local fok, ferr = pcall(session.feed, session, line)
      if not fok then
        if getmetatable(ferr) == EXIT then
          code = tonumber(ferr.code)
          break
        end
        err("cmafeng: repl: " .. tostring(ferr) .. "\n")
      end
      -- A script (piped input) stops at Ctrl-C, as `cmafeng run` does.
      if session.interrupted and not tty then
        interrupted_quit = true
        break
      end
    end
  end
  local canceled = cancel_all(live, function(s) err(s) end)
  if lineedit then lineedit.catch_interrupts(false) end
  if ed then ed:close() end
  _G.cme = require "cmafeng"
  if canceled > 0 or interrupted_quit or quit_requested then return 130 end
  if code then return code end
  if opts.run then
    local r = opts.run.result
    return r and r.code or 1
  end
  if not tty and session.errors > 0 then return 1 end
  return 0
end

return M

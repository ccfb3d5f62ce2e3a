-- cmafeng.sandbox: runs recipe files and recipe hooks in a restricted environment.
--
-- A recipe is configuration with some logic in it, run inside the engine's only lua_State
-- (the policy thread). The sandbox turns the usual recipe mistakes into clear, early errors,
-- and holds against a recipe that tries to reach past it:
--
--   * strict globals: reading or assigning an undeclared global is an error at the user's line
--     (a misspelt `presett` must not silently read nil);
--   * a safe standard library: no io, os.execute/remove, load*/dofile, debug, setfenv, ffi,
--     no string.dump (not even through the string metatable: ("").dump is nil);
--   * `require` limited to the cmafeng library (M.allowed_modules), and what it returns is a
--     read-only proxy: a recipe cannot replace cmafeng.json.encode and forge report.json;
--     `cmafeng.run`/`start` are not there (the engine runs the job the recipe returns) and
--     `cmafeng.probe` opens only the paths named on the command line (the recipe's `arg`);
--   * an instruction budget over every call into recipe code (the chunk, hooks, metamethods
--     they trigger), so `while true do end` stops with a message instead of hanging the
--     policy thread (Redis luaMaskCountHook); the same hook stops recipe code at the first
--     SIGINT/SIGTERM;
--   * string patterns bounded: find/match/gmatch/gsub refuse a pattern whose backtracking
--     could run for long on the subject (M.PATTERN_COST), since C code never sees the hook;
--   * a memory limit (M.MEMORY_LIMIT, default 512 MiB above what the engine holds) enforced
--     by the allocator of the cmafeng binary while recipe code runs;
--   * what the recipe returns is copied without its metatables before the engine reads it,
--     and error values are never tostring()ed, so no recipe metamethod runs outside the budget.
--
-- LuaJIT note: count hooks only fire in interpreted code, and a hook being set does not stop
-- loops from being compiled. Every recipe chunk is therefore passed to jit.off(chunk, true),
-- which also covers the functions it defines (hooks). Library functions the recipe calls may
-- still be compiled; they are ours and finish. LuaJIT hooks are global, not per coroutine, so
-- the previous hook is saved and restored around every budgeted call.

local M = {}

local debug_sethook, debug_gethook, debug_getinfo = debug.sethook, debug.gethook, debug.getinfo
local unpack = unpack or table.unpack
-- The C core, when there is one (plain luajit + busted has it too, from build/lua/). The
-- memory limit and the interrupt flag come from the cmafeng binary (engine/cli/main.c).
local has_core, core = pcall(require, "cmafeng.core")
if not has_core then core = {} end

-- Instruction budgets. Loading a recipe may build a large per-title ladder; a hook runs once
-- per event and should be cheap. Both are a few tenths of a second of interpreted Lua.
M.RECIPE_BUDGET = 100000000
M.HOOK_BUDGET = 10000000
-- The budget is counted in steps of this many instructions; between steps the hook checks
-- for SIGINT/SIGTERM.
M.BUDGET_STEP = 10000
-- Bytes recipe code may allocate above what the state held when the call began.
M.MEMORY_LIMIT = 512 * 1024 * 1024
-- Upper bound on the work a string pattern may cost: (subject length)^(repetitions + 1).
M.PATTERN_COST = 1e9

-- Modules a recipe may require. Extend this, not the environment, when adding a module.
M.allowed_modules = {
  ["cmafeng"] = true,
  ["cmafeng.ladder"] = true,
  ["cmafeng.chunking"] = true,
  ["cmafeng.probe"] = true,
  ["cmafeng.per_title"] = true,
  ["cmafeng.json"] = true,
  ["cmafeng.av1"] = true,
  ["cmafeng.policy"] = true,
}

local MY_SOURCE = debug_getinfo(1, "S").source

local function copy(t, except)
  local c = {}
  for k, v in pairs(t) do
    if not (except and except[k]) then c[k] = v end
  end
  return c
end

---------------------------------------------------------------------------------------------
-- Instruction budget

-- The budget of the call now running (nil when none). Module-level because a hook function
-- defined by a recipe is called later, through M.pcall, and its pcall wrapper must see the
-- state of that call, not of the load.
local current

local function budget_message(n)
  return "instruction budget exceeded (" .. n .. " instructions; is there an endless loop?)"
end

local function interrupted()
  return core.interrupted and core.interrupted()
end

-- `pcall` and `xpcall` as recipes see them: they cannot swallow a budget, memory or
-- interrupt error, otherwise `while true do pcall(f) end` would run forever.
local function rethrow(ok, ...)
  if not ok and current and current.exhausted then error(current.message, 0) end
  if not ok and interrupted() then error("interrupted", 0) end
  return ok, ...
end
local function sandbox_pcall(f, ...) return rethrow(pcall(f, ...)) end
local function sandbox_xpcall(f, handler, ...) return rethrow(xpcall(f, handler, ...)) end

local function pack(...) return { n = select("#", ...), ... } end
local function call_packed(fn, ...) return pack(fn(...)) end

-- A text for an error value that runs no code of the recipe's (no __tostring).
local function error_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" or t == "boolean" or t == "nil" then
    return "error object is not a string: " .. tostring(v)
  end
  return "error object is not a string: a " .. t
end

local function mib(n) return string.format("%d MiB", math.floor(n / 1048576 + 0.5)) end

-- The string metatable's __index while recipe code runs (set up below, with the env).
local recipe_string_index

-- sandbox.pcall(budget, fn, ...) -> true, results... | false, message
-- Calls fn (recipe code: the chunk or a hook) like pcall, stopping it after `budget` VM
-- instructions (default M.HOOK_BUDGET), at SIGINT/SIGTERM, or when it allocates more than
-- M.MEMORY_LIMIT. Safe to nest: the outer budget and limit are restored afterwards.
function M.pcall(budget, fn, ...)
  budget = budget or M.HOOK_BUDGET
  -- Recipe code gets copies of table arguments (event records, the report) and the engine
  -- copies of table results: a metatable the recipe sets (an endless __index) stays on its
  -- side, and the engine never runs recipe code by reading a table.
  local args = pack(...)
  for i = 1, args.n do
    if type(args[i]) == "table" then
      local c, err = M.plain(args[i])
      if err then return false, "cannot pass a table to recipe code: " .. err end
      args[i] = c
    end
  end
  local step = math.min(M.BUDGET_STEP, budget)
  local state = { exhausted = false, message = budget_message(budget), left = budget }
  local function hook()
    -- The count may run out in the few instructions of this file that follow the protected
    -- call; raising there would escape every pcall.
    local info = debug_getinfo(2, "Sl")
    if not info or info.source == MY_SOURCE then return end
    if not state.exhausted then
      local msg
      if interrupted() then
        msg = "interrupted"
      else
        state.left = state.left - step
        if state.left > 0 then return end
        msg = state.message
      end
      -- Name the user's line, as error(msg, 2) would, and keep that text for rethrow().
      if info.currentline > 0 then msg = info.short_src .. ":" .. info.currentline .. ": " .. msg end
      state.message = msg
    end
    state.exhausted = true
    error(state.message, 0)
  end
  local old_hook, old_mask, old_count = debug_gethook()
  local outer = current
  current = state
  local old_limit, limit
  if core.memory_used then
    limit = core.memory_used() + M.MEMORY_LIMIT
    old_limit = core.memory_limit(limit)
    if old_limit > 0 and old_limit < limit then core.memory_limit(old_limit) end
  end
  local smt = getmetatable("")
  local old_string_index = smt.__index
  smt.__index = recipe_string_index or old_string_index
  debug_sethook(hook, "", step)
  local was_running = core.recipe_running and core.recipe_running(true, MY_SOURCE)
  -- The results are packed inside the protected call: at the memory limit, packing them
  -- outside would raise out of this function.
  local ok, r = pcall(call_packed, fn, unpack(args, 1, args.n))
  if core.recipe_running then core.recipe_running(was_running) end
  local hit = false
  if old_limit then hit = select(2, core.memory_limit(old_limit)) end
  if old_hook then debug_sethook(old_hook, old_mask, old_count) else debug_sethook() end
  smt.__index = old_string_index
  current = outer
  if ok then
    for i = 1, r.n do
      if type(r[i]) == "table" then
        local c, err = M.plain(r[i])
        if err then return false, "recipe code returned a table the engine cannot read: " .. err end
        r[i] = c
      end
    end
    return true, unpack(r, 1, r.n)
  end
  local msg = error_text(r)
  if hit then
    msg = "recipe code exceeded its memory limit (" .. mib(M.MEMORY_LIMIT) ..
          " above the engine's; see cmafeng.sandbox.MEMORY_LIMIT): " .. msg
  end
  return false, msg
end

---------------------------------------------------------------------------------------------
-- Environment

local function strict(env)
  return setmetatable(env, {
    __index = function(_, k)
      error("undefined global '" .. tostring(k) .. "'", 2)
    end,
    __newindex = function(_, k)
      error("undefined global '" .. tostring(k) .. "' (recipes cannot create globals; use local)", 2)
    end,
  })
end

-- Read-only proxies of engine modules. A proxy reads through to the module (tables inside
-- it are proxied in turn) and refuses assignment; `hide` maps keys to the error raised when
-- the recipe reads them, `override` replaces values (the guarded probe).
local function readonly(t, name, hide, override)
  local p = setmetatable({}, {
    __index = function(_, k)
      if hide and hide[k] then error(hide[k], 2) end
      local v
      if override and override[k] ~= nil then v = override[k] else v = t[k] end
      if type(v) == "table" then v = readonly(v, name .. "." .. tostring(k)) end
      return v
    end,
    __newindex = function(_, k)
      error(name .. " is read-only: recipes cannot assign " .. name .. "." .. tostring(k), 2)
    end,
    __metatable = false,
  })
  return p
end

local function same_file(a, b)
  if a == b then return true end
  local fs = core.fs
  if not fs then return false end
  local ra, rb = fs.realpath(a), fs.realpath(b)
  return ra ~= nil and ra == rb
end

-- cmafeng.probe as recipes see it: only the paths the user named on the command line.
local function guarded_probe(allowed)
  return function(path, ...)
    if type(path) ~= "string" then
      error("cmafeng.probe: expected a path string, got " .. type(path), 2)
    end
    for _, a in ipairs(allowed) do
      if same_file(path, a) then return require("cmafeng.probe").probe(path, ...) end
    end
    error("cmafeng.probe: " .. path .. " was not named on the command line; recipes probe " ..
          "only the files given after --", 2)
  end
end

local function make_require(allowed_paths)
  local cache = {}
  local hidden = {
    run = "cmafeng.run is not available to recipes: return the job table and the engine runs it",
    start = "cmafeng.start is not available to recipes: return the job table and the engine " ..
            "runs it",
  }
  return function(name)
    if type(name) ~= "string" or not M.allowed_modules[name] then
      local names = {}
      for k in pairs(M.allowed_modules) do names[#names + 1] = k end
      table.sort(names)
      error("module '" .. tostring(name) .. "' is not available to recipes (allowed: "
            .. table.concat(names, ", ") .. ")", 2)
    end
    if not cache[name] then
      local mod = require(name)
      if type(mod) == "table" then
        if name == "cmafeng" then
          mod = readonly(mod, name, hidden, { probe = guarded_probe(allowed_paths) })
        else
          mod = readonly(mod, name)
        end
      end
      cache[name] = mod
    end
    return cache[name]
  end
end

---------------------------------------------------------------------------------------------
-- Bounded string patterns

-- How many repetition items (*, +, -) a Lua pattern has, and whether it is anchored.
-- Backtracking over n subject characters costs at most about n^(reps + 1) steps.
local function pattern_shape(p)
  local reps, i, n = 0, 1, #p
  while i <= n do
    local c = p:sub(i, i)
    if c == "%" then
      i = i + 2
    elseif c == "[" then
      i = i + 1
      if p:sub(i, i) == "^" then i = i + 1 end
      if p:sub(i, i) == "]" then i = i + 1 end
      while i <= n and p:sub(i, i) ~= "]" do
        if p:sub(i, i) == "%" then i = i + 1 end
        i = i + 1
      end
      i = i + 1
    else
      if (c == "*" or c == "+" or c == "-") and i > 1 then reps = reps + 1 end
      i = i + 1
    end
  end
  return reps, p:sub(1, 1) == "^"
end

local function check_pattern(fname, s, p, plain)
  if plain or type(s) ~= "string" and type(s) ~= "number" or type(p) ~= "string" then return end
  local reps, anchored = pattern_shape(p)
  local n = #tostring(s) + 1
  local cost = n ^ (reps + (anchored and 0 or 1))
  if cost > M.PATTERN_COST then
    error(string.format("string.%s: pattern %q has %d repetitions: too costly on a subject of " ..
                        "%d bytes (limit: length^(repetitions+1) <= %g)", fname, p, reps,
                        n - 1, M.PATTERN_COST), 3)
  end
end

local str_find, str_match, str_gmatch, str_gsub = string.find, string.match, string.gmatch,
                                                  string.gsub
local safe_string = {}
for k, v in pairs(string) do
  if k ~= "dump" then safe_string[k] = v end
end
function safe_string.find(s, p, init, plain)
  check_pattern("find", s, p, plain)
  return str_find(s, p, init, plain)
end
function safe_string.match(s, p, init)
  check_pattern("match", s, p)
  return str_match(s, p, init)
end
function safe_string.gmatch(s, p)
  check_pattern("gmatch", s, p)
  return str_gmatch(s, p)
end
function safe_string.gsub(s, p, repl, n)
  check_pattern("gsub", s, p)
  return str_gsub(s, p, repl, n)
end
recipe_string_index = safe_string
M.pattern_shape = pattern_shape

-- stdout may carry `--events -` JSON lines, so recipe output goes to stderr by default.
local function stderr_print(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  io.stderr:write(table.concat(parts, "\t"), "\n")
end

-- sandbox.env(args, opts) -> a fresh strict environment table.
-- args: array of strings (words after `--`), visible as `arg`; opts.print replaces print.
function M.env(args, opts)
  opts = opts or {}
  local a, allowed = {}, {}
  for i, v in ipairs(args or {}) do
    a[i] = v
    if type(v) == "string" then allowed[#allowed + 1] = v end
  end
  local env = {
    arg = a,
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = sandbox_pcall, xpcall = sandbox_xpcall, print = opts.print or stderr_print,
    rawequal = rawequal, rawget = rawget, rawset = rawset, select = select,
    setmetatable = setmetatable, tonumber = tonumber, tostring = tostring, type = type,
    unpack = unpack,
    -- Only tables: the string metatable would expose the engine's real string library.
    getmetatable = function(t) if type(t) == "table" then return getmetatable(t) end end,
    -- Copies, so a recipe that assigns to math.floor changes only its own view.
    string = copy(safe_string),
    table = copy(table),
    math = copy(math),
    os = { getenv = os.getenv, time = os.time, clock = os.clock, date = os.date,
           difftime = os.difftime },
    require = make_require(allowed),
  }
  return strict(env)
end

---------------------------------------------------------------------------------------------
-- Loading

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    -- io.open's message starts with the path; say it once.
    local prefix = path .. ": "
    if err:sub(1, #prefix) == prefix then err = err:sub(#prefix + 1) end
    return nil, path .. ": cannot read recipe: " .. err
  end
  local src, rerr = f:read("*a")
  f:close()
  if not src then return nil, path .. ": cannot read recipe: " .. tostring(rerr) end
  return src
end

-- sandbox.load_chunk(path, args, opts) -> function, env | nil, message
-- Compiles a recipe without running it. Syntax errors read "path:line: ...".
function M.load_chunk(path, args, opts)
  local src, err = read_file(path)
  if not src then return nil, err end
  if src:byte(1) == 27 then
    -- Bytecode can crash the VM; recipes are source files.
    return nil, path .. ": cannot read recipe: precompiled bytecode is not accepted"
  end
  if src:sub(1, 1) == "#" then src = "--" .. src end -- shebang line; keeps line numbers
  local chunk, cerr = loadstring(src, "@" .. path)
  if not chunk then return nil, cerr end
  local env = M.env(args, opts)
  setfenv(chunk, env)
  if jit then jit.off(chunk, true) end -- see the LuaJIT note at the top
  return chunk, env
end

-- sandbox.plain(value) -> a copy | nil, message
-- Copies what a recipe returned into plain tables: raw reads (next, no __index or __pairs),
-- no metatables, so reading the copy runs no recipe code. Functions (hooks) are kept; a
-- table shared by two fields is copied once; a cycle is an error.
local MAX_DEPTH, MAX_ENTRIES = 32, 1000000
function M.plain(value)
  local active, done, entries = {}, {}, 0
  local function walk(v, depth, path)
    if type(v) ~= "table" then return v end
    if done[v] then return done[v] end
    if active[v] then return nil, path .. ": the table contains itself" end
    if depth > MAX_DEPTH then return nil, path .. ": tables nested deeper than " .. MAX_DEPTH end
    active[v] = true
    local c = {}
    local k, x = next(v)
    while k ~= nil do
      entries = entries + 1
      if entries > MAX_ENTRIES then return nil, "more than " .. MAX_ENTRIES .. " table entries" end
      if type(k) == "table" then return nil, path .. ": a table used as a key" end
      local cv, err = walk(x, depth + 1, path .. "." .. tostring(k))
      if err then return nil, err end
      c[k] = cv
      k, x = next(v, k)
    end
    active[v] = nil
    done[v] = c
    return c
  end
  return walk(value, 0, "job")
end

-- sandbox.load_recipe(path, args [, opts]) -> value | nil, message
-- Runs the recipe and returns a plain copy (M.plain) of what its chunk returned (which may
-- itself be nil; test the second result to tell failure apart). Messages carry the user's
-- file and line: "recipes/x.lua:12: undefined global 'foo'", "recipes/x.lua: cannot read
-- recipe: ...". opts.budget: instruction budget (default M.RECIPE_BUDGET); opts.print: see
-- M.env.
function M.load_recipe(path, args, opts)
  opts = opts or {}
  local chunk, env = M.load_chunk(path, args, opts)
  if not chunk then return nil, env end
  local ok, value = M.pcall(opts.budget or M.RECIPE_BUDGET, chunk)
  if not ok then
    -- Errors raised at a line already name the file; others (error objects, the memory
    -- limit) get it here.
    if value:sub(1, #path + 1) ~= path .. ":" then value = path .. ": " .. value end
    return nil, value
  end
  local copy, err = M.plain(value)
  if err then return nil, path .. ": " .. err end
  return copy
end

return M

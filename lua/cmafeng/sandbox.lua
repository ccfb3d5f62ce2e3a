-- cmafeng.sandbox: runs recipe files and recipe hooks in a restricted environment.
--
-- A recipe is configuration with some logic in it, written by video engineers and run inside
-- the engine's only lua_State (the policy thread). The sandbox exists to turn the usual
-- recipe mistakes into clear, early errors rather than to contain a hostile author:
--
--   * strict globals: reading or assigning an undeclared global is an error at the user's line
--     (a misspelt `presett` must not silently read nil);
--   * a safe standard library: no io, os.execute/remove, load*/dofile, debug, setfenv, ffi;
--   * `require` limited to the cmafeng library (M.allowed_modules);
--   * an instruction budget, so `while true do end` in a recipe or in a policy hook stops the
--     job with a message instead of hanging the policy thread (Redis luaMaskCountHook).
--
-- LuaJIT note: count hooks only fire in interpreted code, and a hook being set does not stop
-- loops from being compiled. Every recipe chunk is therefore passed to jit.off(chunk, true),
-- which also covers the functions it defines (hooks). Library functions the recipe calls may
-- still be compiled; they are ours and finish. LuaJIT hooks are global, not per coroutine, so
-- the previous hook is saved and restored around every budgeted call.
--
-- Limits not enforced: memory, and time spent inside one C call (e.g. ("x"):rep(1e10)).

local M = {}

local debug_sethook, debug_gethook, debug_getinfo = debug.sethook, debug.gethook, debug.getinfo
local unpack = unpack or table.unpack

-- Instruction budgets. Loading a recipe may build a large per-title ladder; a hook runs once
-- per event and should be cheap. Both are a few tenths of a second of interpreted Lua.
M.RECIPE_BUDGET = 100000000
M.HOOK_BUDGET = 10000000

-- Modules a recipe may require. Extend this, not the environment, when adding a module.
M.allowed_modules = {
  ["cmafeng"] = true,
  ["cmafeng.ladder"] = true,
  ["cmafeng.chunking"] = true,
  ["cmafeng.probe"] = true,
  ["cmafeng.per_title"] = true,
  ["cmafeng.json"] = true,
  ["cmafeng.av1"] = true,
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

-- `pcall` and `xpcall` as recipes see them: they cannot swallow a budget error, otherwise
-- `while true do pcall(f) end` would run forever.
local function rethrow(ok, ...)
  if not ok and current and current.exhausted then error(current.message, 0) end
  return ok, ...
end
local function sandbox_pcall(f, ...) return rethrow(pcall(f, ...)) end
local function sandbox_xpcall(f, handler, ...) return rethrow(xpcall(f, handler, ...)) end

local function pack(...) return { n = select("#", ...), ... } end

-- sandbox.pcall(budget, fn, ...) -> true, results... | false, message
-- Calls fn (a recipe hook) like pcall, stopping it after `budget` VM instructions
-- (default M.HOOK_BUDGET). Safe to nest: the outer budget is restored afterwards.
function M.pcall(budget, fn, ...)
  budget = budget or M.HOOK_BUDGET
  local state = { exhausted = false, message = budget_message(budget) }
  local function hook()
    -- The count may run out in the few instructions of this file that follow the protected
    -- call; raising there would escape every pcall.
    local info = debug_getinfo(2, "Sl")
    if not info or info.source == MY_SOURCE then return end
    -- Name the user's line, as error(msg, 2) would, and keep that text for rethrow().
    if not state.exhausted and info.currentline > 0 then
      state.message = info.short_src .. ":" .. info.currentline .. ": " .. state.message
    end
    state.exhausted = true
    error(state.message, 0)
  end
  local old_hook, old_mask, old_count = debug_gethook()
  local outer = current
  current = state
  debug_sethook(hook, "", budget)
  local r = pack(pcall(fn, ...))
  if old_hook then debug_sethook(old_hook, old_mask, old_count) else debug_sethook() end
  current = outer
  if not r[1] and type(r[2]) ~= "string" then
    r[2] = "error object is not a string: " .. tostring(r[2])
  end
  return unpack(r, 1, r.n)
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

local function make_require()
  return function(name)
    if type(name) ~= "string" or not M.allowed_modules[name] then
      local names = {}
      for k in pairs(M.allowed_modules) do names[#names + 1] = k end
      table.sort(names)
      error("module '" .. tostring(name) .. "' is not available to recipes (allowed: "
            .. table.concat(names, ", ") .. ")", 2)
    end
    return require(name)
  end
end

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
  local a = {}
  for i, v in ipairs(args or {}) do a[i] = v end
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
    string = copy(string, { dump = true }),
    table = copy(table),
    math = copy(math),
    os = { getenv = os.getenv, time = os.time, clock = os.clock, date = os.date,
           difftime = os.difftime },
    require = make_require(),
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

-- sandbox.load_recipe(path, args [, opts]) -> value | nil, message
-- Runs the recipe and returns what its chunk returned (which may itself be nil; test the
-- second result to tell failure apart). Messages carry the user's file and line:
--   "recipes/x.lua:12: undefined global 'foo'", "recipes/x.lua: cannot read recipe: ...".
-- opts.budget: instruction budget (default M.RECIPE_BUDGET); opts.print: see M.env.
function M.load_recipe(path, args, opts)
  opts = opts or {}
  local chunk, env = M.load_chunk(path, args, opts)
  if not chunk then return nil, env end
  local ok, value = M.pcall(opts.budget or M.RECIPE_BUDGET, chunk)
  if not ok then return nil, value end
  return value
end

return M

-- cmafeng.pretty: any Lua value as readable text, for the REPL.
--
--   pretty.format(v [, opts]) -> string
--   opts: depth (nested tables shown, default 4), indent (default "  "),
--         width (a table whose one-line form fits stays on one line, default 78),
--         max_items (entries shown per table, default 200), raw (true: tables with a
--         __tostring show their fields too; by default they print as their text)
--
-- Tables print with sorted keys (array part first, in order), identifier keys bare and other
-- keys bracketed; a table met again on its own path prints as <cycle: table: 0x...>; below
-- the depth limit a table prints as { ... N entries }. Functions show where they were defined
-- (<function: lua/cmafeng/init.lua:20>, <function: builtin> for C functions); userdata show
-- their type name from the registry (<cmafeng.Engine: 0x...>) and their __tostring if any.
-- A __tostring that fails or loops (bounded by an instruction budget) never stops the
-- printing: the failure is shown in place of the text.
local M = {}

local format, concat, rep = string.format, table.concat, string.rep
local sandbox = require "cmafeng.sandbox"

local TOSTRING_BUDGET = 1000000

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not KEYWORDS[s]
end
M.is_identifier = is_identifier

local ESCAPES = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"',
                  ["\\"] = "\\\\", ["\0"] = "\\0" }

-- A string as a Lua literal that reads back to the same bytes.
function M.quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or format("\\%03d", c:byte())
  end) .. '"'
end

-- tostring() under an instruction budget; a failing __tostring yields its message.
function M.safe_tostring(v)
  -- A closure, not an argument: sandbox.pcall hands recipe code copies of table arguments
  -- (without their metatables), and the __tostring is the point here.
  local ok, s = sandbox.pcall(TOSTRING_BUDGET, function() return tostring(v) end)
  if ok and type(s) == "string" then return s end
  if ok then return "(__tostring returned a " .. type(s) .. ")" end
  return "(__tostring failed: " .. tostring(s) .. ")"
end

-- Registry names of metatables ("cmafeng.Engine"): LuaJIT's luaL_newmetatable sets no
-- __name, so the name is found by looking the metatable up in the registry.
local function type_name(v)
  local mt = debug.getmetatable(v)
  if mt == nil then return type(v) end
  local name = rawget(mt, "__name")
  if type(name) == "string" then return name end
  local reg = debug.getregistry()
  for k, m in pairs(reg) do
    if m == mt and type(k) == "string" then return k end
  end
  return type(v)
end
M.type_name = type_name

local function address(v)
  -- The raw address even when a __tostring is set.
  local mt = debug.getmetatable(v)
  local ts = mt and rawget(mt, "__tostring")
  if ts then rawset(mt, "__tostring", nil) end
  local s = tostring(v)
  if ts then rawset(mt, "__tostring", ts) end
  return (s:match("0x%x+") or s:match("%x+$") or s)
end

local function function_text(f)
  local info = debug.getinfo(f, "S")
  if not info or info.what == "C" then return "<function: builtin>" end
  local src = info.short_src or "?"
  return format("<function: %s:%d>", src, info.linedefined or 0)
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return M.quote(v) end
  if t == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return format("%d", v) end
    return format("%.14g", v) -- for reading, not for reading back
  end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t == "function" then return function_text(v) end
  if t == "userdata" or t == "cdata" then
    local mt = debug.getmetatable(v)
    local text = format("<%s: 0x%s>", type_name(v), address(v):gsub("^0x", ""))
    if mt and rawget(mt, "__tostring") then
      return text:sub(1, -2) .. " " .. M.safe_tostring(v) .. ">"
    end
    return text
  end
  if t == "thread" then return format("<thread: %s>", address(v)) end
  return "<" .. t .. ">"
end

local TYPE_ORDER = { number = 1, string = 2, boolean = 3 }

local function sorted_keys(t, n_array)
  local keys = {}
  for k in pairs(t) do
    if not (type(k) == "number" and k >= 1 and k <= n_array and k == math.floor(k)) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return (TYPE_ORDER[ta] or 9) < (TYPE_ORDER[tb] or 9) or
      ((TYPE_ORDER[ta] or 9) == (TYPE_ORDER[tb] or 9) and ta < tb) end
    if ta == "number" or ta == "string" then return a < b end
    if ta == "boolean" then return (not a) and b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

local function key_text(k)
  if is_identifier(k) then return k end
  return "[" .. scalar(k) .. "]"
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- Objects (tables whose metatable has __tostring, like a job's run) print as their text.
local function object_text(t)
  local mt = debug.getmetatable(t)
  if mt and rawget(mt, "__tostring") then return M.safe_tostring(t) end
end

local function fmt_table(t, opts, level, path)
  if path[t] then return "<cycle: table: " .. address(t) .. ">" end
  if not opts.raw then
    local text = object_text(t)
    if text then return text end
  end
  if level > opts.depth then
    local n = count(t)
    return n == 0 and "{}" or format("{ ... %d entr%s }", n, n == 1 and "y" or "ies")
  end
  path[t] = true
  local n_array = 0
  while rawget(t, n_array + 1) ~= nil do n_array = n_array + 1 end
  local items = {}
  local shown = 0
  local function add(s)
    shown = shown + 1
    if shown <= opts.max_items then items[#items + 1] = s end
  end
  local function value(v)
    if type(v) == "table" then return fmt_table(v, opts, level + 1, path) end
    return scalar(v)
  end
  for i = 1, n_array do add(value(rawget(t, i))) end
  for _, k in ipairs(sorted_keys(t, n_array)) do
    local kt = type(k) == "table" and fmt_table(k, opts, level + 1, path) or nil
    add((kt and ("[" .. kt .. "]") or key_text(k)) .. " = " .. value(rawget(t, k)))
  end
  if shown > opts.max_items then
    items[#items + 1] = format("... %d more", shown - opts.max_items)
  end
  path[t] = nil
  if #items == 0 then return "{}" end
  local one = "{ " .. concat(items, ", ") .. " }"
  local pad = rep(opts.indent, level - 1)
  if not one:find("\n", 1, true) and #one + #pad <= opts.width and #items <= 12 then
    return one
  end
  local inner = pad .. opts.indent
  return "{\n" .. inner .. concat(items, ",\n" .. inner) .. "\n" .. pad .. "}"
end

function M.format(v, opts)
  opts = opts or {}
  local o = {
    depth = opts.depth or 4,
    indent = opts.indent or "  ",
    width = opts.width or 78,
    max_items = opts.max_items or 200,
    raw = opts.raw,
  }
  if type(v) == "table" then return fmt_table(v, o, 1, {}) end
  return scalar(v)
end

return M

-- cmafeng.schema: a small declarative validator for recipe tables.
--
-- A spec describes one value. `schema.check(spec, value, path)` returns a normalized copy
-- (defaults filled in, unknown keys rejected) or nil and one message that names the field
-- path and what was expected, e.g.
--
--   video.ladder[3].height: expected an even integer >= 16, got 721
--   video.ladder[1].fps: unknown key
--   source: expected a string (the input media file), got nil
--
-- Every table key is checked (like Knot Resolver's lua_table_checkindices): a typo such as
-- `segment_second = 4` must fail loudly instead of silently encoding with the default.
--
-- Spec constructors take an options table; common options:
--   default = v      value used when the field is missing (tables are deep-copied)
--   optional = true  the field may be missing and stays nil
--   desc = "..."     what the field is, shown in parentheses in messages
-- A field with neither default nor optional is required.

local M = {}

local floor, huge = math.floor, math.huge
local format = string.format

-- How a user's value reads in a message: strings quoted, numbers plain, others by type.
local function show(v)
  local tv = type(v)
  if tv == "string" then
    local s = v
    if #s > 40 then s = s:sub(1, 37) .. "..." end
    return '"' .. s:gsub('[%c"\\]', function(c)
      return ({ ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t' })[c]
        or format("\\%03d", c:byte())
    end) .. '"'
  elseif tv == "number" then
    if v == floor(v) and v > -2^53 and v < 2^53 then return format("%d", v) end
    return format("%.14g", v)
  end
  return tv -- "got nil", "got boolean", "got table": the type is what is wrong
end
M.show = show

-- "video" .. "ladder" -> "video.ladder"; "video.ladder" .. 3 -> "video.ladder[3]".
local function join(path, key)
  if type(key) == "string" and key:find("^[%a_][%w_]*$") then
    return path == "" and key or path .. "." .. key
  end
  local tk = type(key)
  local k = (tk == "string" or tk == "number") and show(key)
    or tk == "boolean" and tostring(key) or tk
  return path .. "[" .. k .. "]"
end
M.join = join

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deep_copy(x) end
  return t
end

local function is_finite(n) return n == n and n ~= huge and n ~= -huge end

-- Builds "an even integer >= 16" style phrases. `side` picks which bound to mention for a
-- value of the right type that is out of range, so the message points at what to change;
-- a value of the wrong type gets the full description.
local function numeric_phrase(spec, side)
  local words = {}
  if spec.even then words[#words + 1] = "even" end
  words[#words + 1] = spec.kind
  local noun = table.concat(words, " ")
  noun = (noun:find("^[aeiou]") and "an " or "a ") .. noun
  local lo = spec.gt and ("> " .. show(spec.gt)) or (spec.min and ">= " .. show(spec.min))
  local hi = spec.max and ("<= " .. show(spec.max))
  if side == "high" and hi then return noun .. " " .. hi end
  if side == "low" and lo then return noun .. " " .. lo end
  if lo and hi and side == nil then return noun .. " " .. lo .. " and " .. hi end
  if lo or hi then return noun .. " " .. (lo or hi) end
  return noun
end

local function expected(spec, phrase, v)
  local d = spec.desc and (" (" .. spec.desc .. ")") or ""
  return "expected " .. phrase .. d .. ", got " .. show(v)
end

local checkers = {}

function checkers.string(spec, v)
  if type(v) ~= "string" then return nil, expected(spec, "a string", v) end
  if spec.non_empty and v == "" then return nil, expected(spec, "a non-empty string", v) end
  if spec.max_len and #v > spec.max_len then
    return nil, expected(spec, "at most " .. spec.max_len .. " bytes", #v .. " bytes")
  end
  if spec.pattern and not v:find(spec.pattern) then
    return nil, expected(spec, spec.pattern_desc or ("a string matching " .. spec.pattern), v)
  end
  return v
end

local function check_number(spec, v)
  local ok = type(v) == "number" and is_finite(v)
    and (spec.kind ~= "integer" or v == floor(v))
  if not ok then return nil, expected(spec, numeric_phrase(spec), v) end
  if (spec.max and v > spec.max) then
    return nil, expected(spec, numeric_phrase(spec, "high"), v)
  end
  if (spec.min and v < spec.min) or (spec.gt and v <= spec.gt) or (spec.even and v % 2 ~= 0) then
    return nil, expected(spec, numeric_phrase(spec, "low"), v)
  end
  return v
end
checkers.number = check_number
checkers.integer = check_number

function checkers.boolean(spec, v)
  if type(v) ~= "boolean" then return nil, expected(spec, "true or false", v) end
  return v
end

checkers["function"] = function(spec, v)
  if type(v) ~= "function" then return nil, expected(spec, "a function", v) end
  return v
end

function checkers.enum(spec, v)
  for _, allowed in ipairs(spec.values) do
    if v == allowed then return v end
  end
  local names = {}
  for i, allowed in ipairs(spec.values) do names[i] = show(allowed) end
  return nil, expected(spec, "one of " .. table.concat(names, ", "), v)
end

local check -- forward: arrays and records recurse

function checkers.array(spec, v, path)
  if type(v) ~= "table" then
    return nil, expected(spec, "an array" .. (spec.of_desc and (" of " .. spec.of_desc) or ""), v)
  end
  local n = 0
  for k in pairs(v) do
    if type(k) == "number" and k >= 1 and k == floor(k) then
      if k > n then n = k end
    else
      return nil, "unknown key", join(path, k)
    end
  end
  if spec.min and n < spec.min then
    return nil, format("expected at least %d %s, got %d", spec.min,
                       spec.min == 1 and "entry" or "entries", n)
  end
  if spec.max and n > spec.max then
    return nil, format("expected at most %d entries, got %d", spec.max, n)
  end
  local out = {}
  for i = 1, n do
    local x, err, where = check(spec.item, v[i], join(path, i))
    if err then return nil, err, where end
    out[i] = x
  end
  return out
end

function checkers.record(spec, v, path)
  if type(v) ~= "table" then return nil, expected(spec, "a table", v) end
  local unknown = {}
  for k in pairs(v) do
    if type(k) ~= "string" or not spec.fields[k] then unknown[#unknown + 1] = k end
  end
  if #unknown > 0 then
    -- Report the same key every run: sort by the printed path.
    table.sort(unknown, function(a, b) return join("", a) < join("", b) end)
    return nil, "unknown key", join(path, unknown[1])
  end
  local out = {}
  for _, name in ipairs(spec.order) do
    local x, err, where = check(spec.fields[name], v[name], join(path, name))
    if err then return nil, err, where end
    out[name] = x
  end
  return out
end

-- Returns the normalized value, or nil, message, path-of-the-offending-field.
function check(spec, v, path)
  local x, err, where
  if v == nil and spec.default ~= nil then
    x = deep_copy(spec.default)
  elseif v == nil and spec.optional then
    return nil
  else
    x, err, where = checkers[spec.kind](spec, v, path)
    if err then return nil, err, where or path end
  end
  if spec.check then
    -- A custom rule sees the normalized value and may name a sub-field.
    local msg, sub = spec.check(x, path)
    if msg then return nil, msg, sub or path end
  end
  return x
end

-- schema.check(spec, value [, path]) -> normalized | nil, "path: message"
function M.check(spec, v, path)
  local x, err, where = check(spec, v, path or "")
  if err then
    return nil, (where ~= "" and (where .. ": ") or "") .. err
  end
  return x
end

---------------------------------------------------------------------------------------------
-- Spec constructors

local function make(kind, opts)
  local spec = { kind = kind }
  for k, x in pairs(opts or {}) do spec[k] = x end
  return spec
end

function M.string(opts) return make("string", opts) end
function M.number(opts) return make("number", opts) end
function M.integer(opts) return make("integer", opts) end
function M.boolean(opts) return make("boolean", opts) end
function M.func(opts) return make("function", opts) end

-- schema.enum({"cmaf", "strict"}, opts)
function M.enum(values, opts)
  local spec = make("enum", opts)
  spec.values = values
  return spec
end

-- schema.array(item_spec, {min =, max =, of_desc = "renditions"})
function M.array(item, opts)
  local spec = make("array", opts)
  spec.item = item
  return spec
end

-- schema.record({name = spec, ...}, opts). Fields are checked in name order so the first
-- reported error is the same on every run.
function M.record(fields, opts)
  local spec = make("record", opts)
  spec.fields = fields
  spec.order = {}
  for name in pairs(fields) do spec.order[#spec.order + 1] = name end
  table.sort(spec.order)
  return spec
end

return M

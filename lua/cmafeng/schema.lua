-- cmafeng.schema: a small declarative validator for recipe tables.
--
-- A spec describes one value. `schema.check(spec, value, path)` returns a normalized copy
-- (defaults filled in, unknown keys rejected) or nil and a message that names the field path
-- and what was expected (the first problem; `schema.check_all` returns every one), e.g.
--
--   video.ladder[3].height: expected an even integer >= 16, got 721
--   video.ladder[1].fps: unknown key
--   segment_second: unknown key (did you mean "segment_seconds"?)
--   source: expected a string (the input media file), got nil
--
-- Every table key is checked (like Knot Resolver's lua_table_checkindices): a typo such as
-- `segment_second = 4` must fail loudly instead of silently encoding with the default.
--
-- Spec constructors take an options table; common options:
--   default = v      value used when the field is missing (tables are deep-copied)
--   optional = true  the field may be missing and stays nil
--   desc = "..."     what the field is, shown in parentheses in messages
--   open = true      (records) keys without a spec are kept as they are, unchecked
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

-- Edit distance (optimal string alignment: insertions, deletions, substitutions and swaps
-- of neighbours each cost 1) between two short keys, for "did you mean" suggestions.
local function distance(a, b)
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end
M.distance = distance

-- The known key nearest to an unknown one, when it is close enough to be a typo: at most a
-- third of the key's letters wrong (one for short keys, never all of them), case ignored.
-- nil otherwise.
function M.suggest(key, known)
  if type(key) ~= "string" then return nil end
  local best, best_d
  local k = key:lower()
  for _, name in ipairs(known) do
    local dd = distance(k, name:lower())
    if not best_d or dd < best_d or (dd == best_d and name < best) then best, best_d = name, dd end
  end
  if best and best_d <= math.max(1, math.floor(#key / 3)) and best_d < #key then return best end
end

local function unknown_key(key, known)
  local near = M.suggest(key, known or {})
  return near and format('unknown key (did you mean "%s"?)', near) or "unknown key"
end

-- Every checker is checker(spec, v, path, errs) -> normalized value, or nil after
-- appending {path =, message =} for each problem found to errs. Records and arrays go on
-- after a bad field, so one pass reports every problem of a recipe.
local checkers = {}

local function fail(errs, path, message)
  errs[#errs + 1] = { path = path, message = message }
end

function checkers.string(spec, v, path, errs)
  if type(v) ~= "string" then return fail(errs, path, expected(spec, "a string", v)) end
  if spec.non_empty and v == "" then
    return fail(errs, path, expected(spec, "a non-empty string", v))
  end
  if spec.max_len and #v > spec.max_len then
    return fail(errs, path, expected(spec, "at most " .. spec.max_len .. " bytes", #v .. " bytes"))
  end
  if spec.pattern and not v:find(spec.pattern) then
    return fail(errs, path, expected(spec, spec.pattern_desc or ("a string matching " .. spec.pattern), v))
  end
  return v
end

local function check_number(spec, v, path, errs)
  local ok = type(v) == "number" and is_finite(v)
    and (spec.kind ~= "integer" or v == floor(v))
  if not ok then return fail(errs, path, expected(spec, numeric_phrase(spec), v)) end
  if (spec.max and v > spec.max) then
    return fail(errs, path, expected(spec, numeric_phrase(spec, "high"), v))
  end
  if (spec.min and v < spec.min) or (spec.gt and v <= spec.gt) or (spec.even and v % 2 ~= 0) then
    return fail(errs, path, expected(spec, numeric_phrase(spec, "low"), v))
  end
  return v
end
checkers.number = check_number
checkers.integer = check_number

function checkers.boolean(spec, v, path, errs)
  if type(v) ~= "boolean" then return fail(errs, path, expected(spec, "true or false", v)) end
  return v
end

checkers["function"] = function(spec, v, path, errs)
  if type(v) ~= "function" then return fail(errs, path, expected(spec, "a function", v)) end
  return v
end

function checkers.enum(spec, v, path, errs)
  for _, allowed in ipairs(spec.values) do
    if v == allowed then return v end
  end
  local names = {}
  for i, allowed in ipairs(spec.values) do names[i] = show(allowed) end
  local msg = expected(spec, "one of " .. table.concat(names, ", "), v)
  if type(v) == "string" then
    local strings = {}
    for _, allowed in ipairs(spec.values) do
      if type(allowed) == "string" then strings[#strings + 1] = allowed end
    end
    local near = M.suggest(v, strings)
    if near then msg = msg .. format(' (did you mean "%s"?)', near) end
  end
  return fail(errs, path, msg)
end

-- Any value but nil; the spec's `check` says what is acceptable (unions such as `chunking`).
function checkers.any(spec, v, path, errs)
  if v == nil then return fail(errs, path, expected(spec, "a value", v)) end
  return v
end

local check -- forward: arrays and records recurse

function checkers.array(spec, v, path, errs)
  -- or_values: words that may stand for the array (devices = "auto").
  for _, word in ipairs(spec.or_values or {}) do
    if v == word then return v end
  end
  if type(v) ~= "table" then
    local words = {}
    for i, word in ipairs(spec.or_values or {}) do words[i] = show(word) end
    return fail(errs, path,
                expected(spec, "an array" .. (spec.of_desc and (" of " .. spec.of_desc) or "") ..
                  (#words > 0 and (" or " .. table.concat(words, ", ")) or ""), v))
  end
  local n = 0
  local bad = {}
  for k in pairs(v) do
    if type(k) == "number" and k >= 1 and k == floor(k) then
      if k > n then n = k end
    else
      bad[#bad + 1] = k
    end
  end
  local before = #errs
  table.sort(bad, function(a, b) return join("", a) < join("", b) end)
  for _, k in ipairs(bad) do fail(errs, join(path, k), "unknown key") end
  if spec.min and n < spec.min then
    fail(errs, path, format("expected at least %d %s, got %d", spec.min,
                            spec.min == 1 and "entry" or "entries", n))
  elseif spec.max and n > spec.max then
    fail(errs, path, format("expected at most %d entries, got %d", spec.max, n))
  end
  local out = {}
  for i = 1, n do
    out[i] = check(spec.item, v[i], join(path, i), errs)
  end
  if #errs > before then return nil end
  return out
end

function checkers.record(spec, v, path, errs)
  if type(v) ~= "table" then return fail(errs, path, expected(spec, "a table", v)) end
  local out = {}
  local unknown = {}
  for k, x in pairs(v) do
    if type(k) ~= "string" or not spec.fields[k] then
      if spec.open then out[k] = x else unknown[#unknown + 1] = k end
    end
  end
  local before = #errs
  -- Report in the same order every run: sort by the printed path.
  table.sort(unknown, function(a, b) return join("", a) < join("", b) end)
  for _, k in ipairs(unknown) do fail(errs, join(path, k), unknown_key(k, spec.order)) end
  for _, name in ipairs(spec.order) do
    out[name] = check(spec.fields[name], v[name], join(path, name), errs)
  end
  if #errs > before then return nil end
  return out
end

-- Returns the normalized value, or nil after appending the problems to errs.
function check(spec, v, path, errs)
  local x
  if v == nil and spec.default ~= nil then
    x = deep_copy(spec.default)
  elseif v == nil and spec.optional then
    return nil
  else
    local before = #errs
    x = checkers[spec.kind](spec, v, path, errs)
    if #errs > before then return nil end
  end
  if spec.check then
    -- A custom rule sees the normalized value and may name a sub-field.
    local msg, sub = spec.check(x, path)
    if msg then return fail(errs, sub or path, msg) end
  end
  return x
end

local function format_error(e)
  return (e.path ~= "" and (e.path .. ": ") or "") .. e.message
end
M.format_error = format_error

-- schema.check(spec, value [, path]) -> normalized | nil, "path: message" (the first problem)
function M.check(spec, v, path)
  local errs = {}
  local x = check(spec, v, path or "", errs)
  if #errs > 0 then return nil, format_error(errs[1]), errs end
  return x
end

-- schema.check_all(spec, value [, path]) -> normalized | nil, { {path =, message =}, ... }
-- Every problem, in a stable order: unknown keys of a table first, then its fields by name.
function M.check_all(spec, v, path)
  local errs = {}
  local x = check(spec, v, path or "", errs)
  if #errs > 0 then return nil, errs end
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
function M.any(opts) return make("any", opts) end

-- schema.enum({"cmaf", "strict"}, opts)
function M.enum(values, opts)
  local spec = make("enum", opts)
  spec.values = values
  return spec
end

-- schema.array(item_spec, {min =, max =, of_desc = "renditions", or_values = {"auto"}})
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

-- cmafeng.json: a small, strict JSON (RFC 8259) encoder and decoder.
--
-- The engine writes report.json and `--events -` lines; tests and recipes read them back.
-- Output is deterministic (object keys sorted) so two runs of the same job diff cleanly.
--
--   json.encode(value [, {indent = "  "}]) -> string      raises on values JSON cannot hold
--   json.decode(text [, {null = json.null}]) -> value | nil, message
--   json.object(t) / json.array(t) -> t                   mark how an empty table encodes
--   json.null                                             sentinel for an explicit null

local M = {}

local byte, char, concat, find, format, sub =
  string.byte, string.char, table.concat, string.find, string.format, string.sub
local floor, huge = math.floor, math.huge

-- Distinct sentinels: compared by identity, printed helpfully.
M.null = setmetatable({}, { __tostring = function() return "json.null" end })
local OBJECT = { __jsontype = "object" }
local ARRAY = { __jsontype = "array" }

-- An empty Lua table is ambiguous; `[]` is the default, these make the intent explicit.
function M.object(t) return setmetatable(t or {}, OBJECT) end
function M.array(t) return setmetatable(t or {}, ARRAY) end

---------------------------------------------------------------------------------------------
-- Encoder

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function escape_char(c)
  return escapes[c] or format("\\u%04x", byte(c))
end

-- RFC 8259 section 7: '"', '\' and U+0000..U+001F must be escaped; other bytes pass through,
-- so UTF-8 text stays readable.
local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if byte(c) == 127 then return c end -- DEL is a %c but needs no escape
    return escape_char(c)
  end) .. '"'
end

local function encode_number(n)
  if n ~= n or n == huge or n == -huge then
    error("json: cannot encode non-finite number " .. tostring(n), 0)
  end
  if n == floor(n) and n > -2^53 and n < 2^53 then
    return format("%d", n) -- integers never get a ".0"; -0 prints 0
  end
  -- Shortest of the two forms that reads back to the same double: 0.04 stays "0.04",
  -- 0.1 + 0.2 becomes "0.30000000000000004" rather than silently losing a bit.
  local s = format("%.14g", n)
  if tonumber(s) ~= n then s = format("%.17g", n) end
  return s
end

-- Classifies a table: "array" (keys exactly 1..n, or marked), "object" otherwise.
local function kind_of(t)
  local mt = getmetatable(t)
  local marked = mt and mt.__jsontype
  local n, count = 0, 0
  for k in pairs(t) do
    count = count + 1
    if type(k) == "number" and k >= 1 and k == floor(k) then
      if k > n then n = k end
    else
      n = -1 / 0 -- a non-index key: cannot be an array
    end
  end
  if marked == "object" then return "object" end
  if count == 0 then return "array", 0 end
  if n == count then return "array", n end
  if marked == "array" then error("json: table marked as array has non-sequence keys", 0) end
  return "object"
end

local encode_value

local function encode_table(t, opts, depth, seen, out)
  if seen[t] then error("json: cannot encode a table that contains itself", 0) end
  seen[t] = true
  local indent = opts.indent
  local nl, pad, pad_in, colon = "", "", "", ":"
  if indent then
    nl = "\n"
    pad = indent:rep(depth)
    pad_in = pad .. indent
    colon = ": "
  end
  local kind, n = kind_of(t)
  if kind == "array" then
    if n == 0 then
      out[#out + 1] = "[]"
    else
      out[#out + 1] = "[" .. nl
      for i = 1, n do
        out[#out + 1] = pad_in
        encode_value(t[i], opts, depth + 1, seen, out)
        out[#out + 1] = (i < n and "," or "") .. nl
      end
      out[#out + 1] = pad .. "]"
    end
  else
    local keys, by_name = {}, {}
    for k in pairs(t) do
      local name
      if type(k) == "string" then
        name = k
      elseif type(k) == "number" then
        name = encode_number(k) -- e.g. a table keyed by rung height
      else
        error("json: cannot encode a " .. type(k) .. " key", 0)
      end
      if by_name[name] ~= nil then error("json: duplicate object key " .. encode_string(name), 0) end
      by_name[name] = k
      keys[#keys + 1] = name
    end
    table.sort(keys)
    if #keys == 0 then
      out[#out + 1] = "{}"
    else
      out[#out + 1] = "{" .. nl
      for i, name in ipairs(keys) do
        out[#out + 1] = pad_in .. encode_string(name) .. colon
        encode_value(t[by_name[name]], opts, depth + 1, seen, out)
        out[#out + 1] = (i < #keys and "," or "") .. nl
      end
      out[#out + 1] = pad .. "}"
    end
  end
  seen[t] = nil
end

function encode_value(v, opts, depth, seen, out)
  local tv = type(v)
  if v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "number" then
    out[#out + 1] = encode_number(v)
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "table" then
    encode_table(v, opts, depth, seen, out)
  else
    error("json: cannot encode a " .. tv, 0)
  end
end

-- Raises on values that have no JSON form (functions, cycles, NaN, mixed tables): that is a
-- bug in the caller, not a runtime condition.
function M.encode(v, opts)
  local out = {}
  encode_value(v, opts or {}, 0, {}, out)
  return concat(out)
end

---------------------------------------------------------------------------------------------
-- Decoder: recursive descent over the string, positions reported as line:column.

local MAX_DEPTH = 512 -- nesting this deep in a report or an event is corruption, not data

local function fail(s, pos, what)
  local line, col = 1, 1
  local i = 1
  while true do
    local nl = find(s, "\n", i, true)
    if not nl or nl >= pos then break end
    line = line + 1
    i = nl + 1
  end
  col = pos - i + 1
  error({ json_error = format("json: line %d column %d: %s", line, col, what) })
end

local function skip_ws(s, pos)
  return (find(s, "[^ \t\r\n]", pos)) or #s + 1
end

local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40) end
  if cp < 0x10000 then
    return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
              0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local unescapes = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f',
                    n = '\n', r = '\r', t = '\t' }

local function decode_string(s, pos)
  -- pos is at the opening quote.
  local parts = {}
  local i = pos + 1
  while true do
    local j = find(s, '["\\%c]', i)
    if not j then fail(s, pos, "unterminated string") end
    local c = sub(s, j, j)
    if j > i then parts[#parts + 1] = sub(s, i, j - 1) end
    if c == '"' then
      return concat(parts), j + 1
    elseif c == "\\" then
      local e = sub(s, j + 1, j + 1)
      if e == "u" then
        local hex = sub(s, j + 2, j + 5)
        if not hex:find("^%x%x%x%x$") then fail(s, j, "bad \\u escape") end
        local cp = tonumber(hex, 16)
        i = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          -- UTF-16 surrogate pair (RFC 8259 section 7).
          local lo = sub(s, i, i + 5):match("^\\u(%x%x%x%x)$")
          lo = lo and tonumber(lo, 16)
          if not lo or lo < 0xDC00 or lo > 0xDFFF then fail(s, j, "unpaired surrogate") end
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
          i = i + 6
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          fail(s, j, "unpaired surrogate")
        end
        parts[#parts + 1] = utf8_char(cp)
      elseif unescapes[e] then
        parts[#parts + 1] = unescapes[e]
        i = j + 2
      else
        fail(s, j, "bad escape")
      end
    elseif byte(c) == 127 then
      parts[#parts + 1] = c -- DEL is allowed raw in JSON
      i = j + 1
    else
      fail(s, j, "control character in string")
    end
  end
end

local decode_value

local function decode_array(s, pos, opts, depth)
  local t, n = {}, 0
  pos = skip_ws(s, pos + 1)
  if sub(s, pos, pos) == "]" then return t, pos + 1 end
  while true do
    local v
    v, pos = decode_value(s, pos, opts, depth + 1)
    n = n + 1
    t[n] = v
    pos = skip_ws(s, pos)
    local c = sub(s, pos, pos)
    if c == "]" then return t, pos + 1 end
    if c ~= "," then fail(s, pos, "expected ',' or ']'") end
    pos = skip_ws(s, pos + 1)
  end
end

local function decode_object(s, pos, opts, depth)
  local t = {}
  pos = skip_ws(s, pos + 1)
  if sub(s, pos, pos) == "}" then return M.object(t), pos + 1 end
  while true do
    if sub(s, pos, pos) ~= '"' then fail(s, pos, "expected a string key") end
    local k
    k, pos = decode_string(s, pos)
    pos = skip_ws(s, pos)
    if sub(s, pos, pos) ~= ":" then fail(s, pos, "expected ':'") end
    local v
    v, pos = decode_value(s, skip_ws(s, pos + 1), opts, depth + 1)
    t[k] = v
    pos = skip_ws(s, pos)
    local c = sub(s, pos, pos)
    if c == "}" then return t, pos + 1 end
    if c ~= "," then fail(s, pos, "expected ',' or '}'") end
    pos = skip_ws(s, pos + 1)
  end
end

-- RFC 8259 section 6 number grammar; tonumber alone would accept "0x10", "1.", "inf".
-- Returns the number's text, or nil when it is malformed.
local function scan_number(s, pos)
  local i = pos
  if sub(s, i, i) == "-" then i = i + 1 end
  local int = s:match("^%d+", i)
  if not int or (#int > 1 and sub(int, 1, 1) == "0") then return nil end
  i = i + #int
  local frac = s:match("^%.%d+", i)
  if frac then i = i + #frac elseif sub(s, i, i) == "." then return nil end
  local exp = s:match("^[eE][-+]?%d+", i)
  if exp then i = i + #exp elseif find(s, "^[eE]", i) then return nil end
  return sub(s, pos, i - 1)
end

local literals = { t = { "true", true }, f = { "false", false }, n = { "null" } }

function decode_value(s, pos, opts, depth)
  if depth > MAX_DEPTH then fail(s, pos, "nested too deeply") end
  local c = sub(s, pos, pos)
  if c == "{" then return decode_object(s, pos, opts, depth) end
  if c == "[" then return decode_array(s, pos, opts, depth) end
  if c == '"' then return decode_string(s, pos) end
  local lit = literals[c]
  if lit then
    if sub(s, pos, pos + #lit[1] - 1) ~= lit[1] then fail(s, pos, "unexpected character") end
    local v = lit[2]
    if c == "n" then v = opts.null end
    return v, pos + #lit[1]
  end
  local num = scan_number(s, pos)
  if num then return tonumber(num), pos + #num end
  if pos > #s then fail(s, pos, "unexpected end of input") end
  fail(s, pos, "unexpected character")
end

-- Returns the value, or nil and "json: line L column C: what" for malformed text: a damaged
-- report file is an expected runtime failure, not a bug.
function M.decode(s, opts)
  if type(s) ~= "string" then
    error("json.decode: expected a string, got " .. type(s), 2)
  end
  opts = opts or {}
  local ok, v = pcall(function()
    local v, p = decode_value(s, skip_ws(s, 1), opts, 0)
    p = skip_ws(s, p)
    if p <= #s then fail(s, p, "trailing characters after the value") end
    return v
  end)
  if ok then return v end
  if type(v) == "table" and v.json_error then return nil, v.json_error end
  error(v, 0)
end

return M

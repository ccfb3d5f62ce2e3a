-- cmafeng.srcmap: which line of a recipe wrote which field, for error messages.
--
--   local lines = srcmap.build(source_text)
--   srcmap.line(lines, "video.ladder[1].height") -> 42 | nil
--
-- Lua tables do not remember where they were written, so the recipe's text is read again:
-- a small tokenizer walks every table constructor and records the line of each field
-- (`height = 721` -> "...height", the 3rd positional item -> "...[3]"). Constructors at
-- the outermost level of the file all start at the root path; when several write the same
-- path the last one wins (the returned job table usually comes last). Values that are not
-- literal constructors (`ladder = ladder.standard{...}`, a local variable) map only their
-- own key; srcmap.line falls back to the nearest enclosing path it knows, so an error
-- deep inside a generated ladder still points at the line that put the ladder there.

local M = {}

local KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil not or "
          .. "repeat return then true until while"):gmatch("%a+") do
  KEYWORDS[w] = true
end

-- Returns a list of tokens {t = kind, v = text, line = n}; kinds: "name", "kw", "str",
-- "num", "op". Comments are skipped. Malformed text ends the list early (the recipe
-- compiled, so this only happens on something we do not model; lines are best effort).
local function tokenize(src)
  local toks = {}
  local i, n, line = 1, #src, 1
  local function add(t, v, l) toks[#toks + 1] = { t = t, v = v, line = l } end
  local function long_bracket(at)
    -- at points at '['; returns the end index of a [==[ ... ]==] block, or nil.
    local eq = src:match("^%[(=*)%[", at)
    if not eq then return nil end
    local close = "]" .. eq .. "]"
    local e = src:find(close, at + #eq + 2, true)
    return e and (e + #close - 1) or n
  end
  while i <= n do
    local c = src:sub(i, i)
    if c == "\n" then
      line = line + 1
      i = i + 1
    elseif c:find("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local e = src:sub(i + 2, i + 2) == "[" and long_bracket(i + 2)
      if e then
        local _, nl = src:sub(i, e):gsub("\n", "")
        line = line + nl
        i = e + 1
      else
        local nl = src:find("\n", i, true)
        i = nl or n + 1
      end
    elseif c == "[" and long_bracket(i) then
      local e = long_bracket(i)
      local _, nl = src:sub(i, e):gsub("\n", "")
      add("str", "", line)
      line = line + nl
      i = e + 1
    elseif c == '"' or c == "'" then
      local j, start = i + 1, line
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then
          if src:sub(j + 1, j + 1) == "\n" then line = line + 1 end
          j = j + 2
        elseif d == c then
          break
        else
          if d == "\n" then line = line + 1 end
          j = j + 1
        end
      end
      add("str", "", start)
      i = j + 1
    elseif c:find("[%a_]") then
      local w = src:match("^[%w_]+", i)
      add(KEYWORDS[w] and "kw" or "name", w, line)
      i = i + #w
    elseif c:find("%d") or (c == "." and src:sub(i + 1, i + 1):find("%d")) then
      local num = src:match("^0[xX][%x%.]+[pP]?[-+]?%d*", i) or src:match("^[%d%.]+[eE][-+]?%d+", i)
        or src:match("^[%d%.]+", i)
      add("num", num, line)
      i = i + #num
    else
      local op = src:match("^%.%.%.", i) or src:match("^[=~<>]=", i) or src:match("^%.%.", i)
        or src:match("^::", i) or c
      add("op", op, line)
      i = i + #op
    end
  end
  return toks
end
M.tokenize = tokenize

local BLOCK_OPEN = { ["function"] = true, ["if"] = true, ["do"] = true }

-- Skips one expression starting at toks[i]; stops before a ',' ';' or closing bracket at
-- depth 0. Function bodies (function ... end) are skipped whole. Returns the next index.
local function skip_expr(toks, i)
  local depth, blocks = 0, 0
  while toks[i] do
    local tk = toks[i]
    if tk.t == "kw" then
      if BLOCK_OPEN[tk.v] then
        blocks = blocks + 1
      elseif tk.v == "end" then
        blocks = blocks - 1
      end
    elseif tk.t == "op" and blocks == 0 then
      local v = tk.v
      if v == "(" or v == "[" or v == "{" then
        depth = depth + 1
      elseif v == ")" or v == "]" or v == "}" then
        if depth == 0 then return i end
        depth = depth - 1
      elseif (v == "," or v == ";") and depth == 0 then
        return i
      end
    end
    i = i + 1
  end
  return i
end

local function join(path, key)
  if type(key) == "number" then return path .. "[" .. key .. "]" end
  return path == "" and key or path .. "." .. key
end

-- Reads the constructor whose '{' is toks[i]; records path -> line; returns the index after
-- its '}'.
local function constructor(toks, i, path, map)
  i = i + 1
  local pos = 0
  while toks[i] do
    local tk = toks[i]
    if tk.t == "op" and tk.v == "}" then return i + 1 end
    local item_start = i
    local key
    if tk.t == "name" and toks[i + 1] and toks[i + 1].t == "op" and toks[i + 1].v == "=" then
      key = tk.v
      i = i + 2
    elseif tk.t == "op" and tk.v == "[" then
      -- [expr] = value: a string literal key is not modelled; skip the key.
      i = skip_expr(toks, i + 1) + 1 -- past ']'
      if toks[i] and toks[i].v == "=" then i = i + 1 end
    else
      pos = pos + 1
      key = pos
    end
    local sub = key and join(path, key)
    if sub then map[sub] = tk.line end
    if sub and toks[i] and toks[i].t == "op" and toks[i].v == "{" then
      i = constructor(toks, i, sub, map)
      -- a constructor may be followed by more of an expression (rare): skip it
      i = skip_expr(toks, i)
    else
      i = skip_expr(toks, i)
    end
    if toks[i] and toks[i].t == "op" and (toks[i].v == "," or toks[i].v == ";") then
      i = i + 1
    elseif i == item_start then
      i = i + 1 -- a stray ')' or ']' (text we do not model): always move on
    end
  end
  return i
end

-- srcmap.build(text) -> map of field path -> line
function M.build(src)
  local toks = tokenize(src)
  local map = {}
  local i = 1
  local blocks = 0
  while toks[i] do
    local tk = toks[i]
    if tk.t == "kw" and BLOCK_OPEN[tk.v] then
      blocks = blocks + 1
      i = i + 1
    elseif tk.t == "kw" and tk.v == "end" then
      blocks = blocks - 1
      i = i + 1
    elseif tk.t == "op" and tk.v == "{" and blocks == 0 then
      map[""] = tk.line -- a missing top-level key points at the job table itself
      i = constructor(toks, i, "", map)
    else
      i = i + 1
    end
  end
  return map
end

-- srcmap.line(map, path) -> the line that wrote path, or of the nearest enclosing path
-- that has one, else of the outermost table; nil when there is none.
function M.line(map, path)
  while path and path ~= "" do
    if map[path] then return map[path] end
    local parent = path:match("^(.*)%[[^%[%]]*%]$") or path:match("^(.*)%.[%a_][%w_]*$")
    if not parent or parent == path then break end
    path = parent
  end
  return map[""]
end

return M

-- cmafeng.repl: the same engine and lua_State, interactively. `cme` is require "cmafeng".
-- A line is tried as an expression first ("return <line>"), then as a statement.
local json = require "cmafeng.json"

local M = {}

local function show(v)
  if type(v) == "table" then
    local ok, s = pcall(json.encode, v, { indent = "  " })
    if ok then return s end
  end
  return tostring(v)
end

function M.run(input, output)
  input = input or io.stdin
  output = output or io.stdout
  _G.cme = require "cmafeng"
  output:write("cmafeng ", cme.version(), " repl; `cme` is require \"cmafeng\". ",
               "Try cme.probe(\"in.mp4\"), cme.start(job), eng:stats(). Ctrl-D quits.\n")
  while true do
    output:write("> ")
    output:flush()
    local line = input:read("*l")
    if not line then break end
    local fn, err = loadstring("return " .. line, "=repl")
    if not fn then fn, err = loadstring(line, "=repl") end
    if not fn then
      output:write(err, "\n")
    else
      local res = { pcall(fn) }
      if not res[1] then
        output:write("error: ", tostring(res[2]), "\n")
      else
        for i = 2, table.maxn(res) do output:write(show(res[i]), "\n") end
      end
    end
  end
  output:write("\n")
  return 0
end

return M

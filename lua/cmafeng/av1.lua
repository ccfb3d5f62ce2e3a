-- cmafeng.av1: the AV1 bitstream layer from C (engine/av1 through engine/lua/av1.c).
--   parse(bytes_or_path) -> every sequence header field | nil, message, code
--   codec_string(bytes) -> "av01.0.08M.08" | nil, message, code
--   invariant(a, b [, "cmaf" | "strict"]) -> ok, { {field=, a=, b=}, ... }
-- `bytes` is a buffer of OBUs (a temporal unit, av1C configOBUs, a .obu file). parse also
-- takes the path of a file `cmafeng inspect` reads (init.mp4, a .m4s segment, .mp4, .ivf,
-- .obu): the sequence header comes from its av1C or its first sample that carries one.
local core = require "cmafeng.core"

local M = {}
for k, v in pairs(core.av1) do M[k] = v end

-- A string names a file when it could be a path and a file by that name opens; OBU bytes
-- almost always hold a zero byte (size fields, temporal delimiters) and never name a file.
local function is_path(s)
  if #s == 0 or #s > 4096 or s:find("%z") then return false end
  local f = io.open(s, "rb")
  if not f then return false end
  f:close()
  return true
end

function M.parse(x)
  if type(x) == "string" and is_path(x) then
    local info, err, code = core.inspect(x)
    if not info then return nil, err, code end
    if not info.sequence_header then
      return nil, x .. ": no AV1 sequence header (neither in av1C nor in a sample)", "EINVAL"
    end
    local seq = info.sequence_header
    seq.codec_string = seq.codec_string or info.codec_string -- as parse(bytes) has it
    return seq
  end
  return core.av1.parse(x)
end

return M

-- cmafeng.av1: the AV1 bitstream layer from C (engine/av1 through engine/lua/av1.c).
--   parse(bytes) -> every sequence header field | nil, message, code
--   codec_string(bytes) -> "av01.0.08M.08" | nil, message, code
--   invariant(a, b [, "cmaf" | "strict"]) -> ok, { {field=, a=, b=}, ... }
-- `bytes` is a buffer of OBUs (a temporal unit, av1C configOBUs, a .obu file).
return require("cmafeng.core").av1

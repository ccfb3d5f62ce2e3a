-- cmafeng: the module recipes, the REPL (as `cme`) and embedders require.
--
--   cmafeng.version()           -> "0.1.0"
--   cmafeng.backends(probe)     -> { {name=, built=, available=, status=}, ... }
--   cmafeng.probe(path)         -> source info | nil, message, code (cmafeng.probe)
--   cmafeng.av1                 -> parse / codec_string / invariant
--   cmafeng.start(job)          -> engine (started) | nil, message, code
--   cmafeng.run(job, opts)      -> summary | nil, message, exit_code  (cmafeng.runloop)
local core = require "cmafeng.core"

local M = {
  version = core.version,
  backends = core.backends,
  probe = require("cmafeng.probe").probe,
  av1 = core.av1,
}

-- Starts a validated job and returns the running engine, for the REPL and embedders
-- that pull events themselves.
function M.start(job)
  local eng, err, code = core.engine.new(job)
  if not eng then return nil, err, code end
  local ok, serr, scode = eng:start()
  if not ok then
    eng:close()
    return nil, serr, scode
  end
  return eng
end

function M.run(job, opts)
  return require("cmafeng.runloop").run(job, opts)
end

return M

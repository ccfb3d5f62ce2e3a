-- cmafeng: the module recipes, the REPL (as `cme`) and embedders require.
--
--   cmafeng.version()           -> "0.1.0"
--   cmafeng.backends(probe)     -> { {name=, built=, available=, status=}, ... }
--   cmafeng.probe(path)         -> source info | nil, message, code (cmafeng.probe)
--   cmafeng.av1                 -> parse / codec_string / invariant (cmafeng.av1)
--   cmafeng.inspect(path)       -> what `cmafeng inspect` reads | nil, message, code
--   cmafeng.devices()           -> discovery, what devices = "auto" resolves to, the lease pool
--   cmafeng.start(job [, opts]) -> a running job (cmafeng.live Run) | nil, message, code
--   cmafeng.run(job, opts)      -> summary | nil, message, exit_code  (cmafeng.runloop)
local core = require "cmafeng.core"

local M = {
  version = core.version,
  backends = core.backends,
  devices = core.devices,
  probe = require("cmafeng.probe").probe,
  av1 = require "cmafeng.av1",
  inspect = function(path) return require("cmafeng.inspect").read(path) end,
}

-- Starts a job (a job table or a recipe path) and returns at once; the REPL and embedders
-- pump it with run:poll(ms) or run:wait() (cmafeng.live).
function M.start(job, opts)
  return require("cmafeng.live").start(job, opts)
end

function M.run(job, opts)
  return require("cmafeng.runloop").run(job, opts)
end

return M

-- cmafeng.policy: what to do with a chunk whose encode attempt failed (DESIGN.md section 3,
-- decisions). C never decides: a failed chunk waits in awaiting_policy while the workers go
-- on, and the policy thread asks the recipe's `on_chunk_failed(ev, ctx)` hook, or the
-- default rules below, for a decision, which the engine then applies.
--
-- A decision is one of
--   "retry"                                  queue it again, any device the rung allows
--   policy.retry{device=, avoid=, crf=, preset=, why=}
--                                            device: only that device (an id); avoid: never
--                                            that one again; crf/preset: other settings (needs
--                                            a backend that can open an encoder mid-job)
--   "skip"                                   the chunk fails; so does its rung and the job,
--                                            which says which chunk (other chunks still finish)
--   "abort"  or policy.abort(why)            the job fails now
--
-- A rule is a function(ev, ctx) returning a decision, or nil for "no opinion".
-- policy.chain{rule, rule, ...} asks each rule in turn; the first decision wins, and a chain
-- where no rule decides aborts. `ev` is the chunk_failed event: rung, rendition, index (the
-- segment number), device (id), worker, instance, attempt, reason ("open", "send",
-- "receive", "flush", "mux", "write", "invariant", "bitstream", "stall"), message.
-- `ctx`: job (the validated job table), rung (its ladder entry), devices (ids of the devices
-- that serve the rung, in the recipe's order), midjob (ids among them that can open an
-- encoder mid-job), tried (the decisions taken for this chunk so far, oldest first).

local M = {}

local ACTIONS = { retry = true, skip = true, abort = true }
local RETRY_KEYS = { action = true, device = true, avoid = true, crf = true, preset = true,
                     why = true }

function M.retry(opts)
  local d = { action = "retry" }
  for k, v in pairs(opts or {}) do d[k] = v end
  return d
end

function M.abort(why) return { action = "abort", why = why } end
function M.skip(why) return { action = "skip", why = why } end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

-- policy.validate(answer) -> decision table | nil, message. The message says what was
-- expected and what came, for "recipe.lua: on_chunk_failed: ..." errors.
function M.validate(answer)
  if type(answer) == "string" then
    if ACTIONS[answer] then return { action = answer } end
    return nil, 'expected a decision ("retry", "skip", "abort" or policy.retry{...}), got '
      .. show(answer)
  end
  if type(answer) ~= "table" then
    return nil, 'expected a decision ("retry", "skip", "abort" or policy.retry{...}), got '
      .. (answer == nil and "nil" or type(answer))
  end
  local d = {}
  for k, v in pairs(answer) do
    if not RETRY_KEYS[k] then
      return nil, "decision." .. tostring(k) .. ": unknown key (expected action, device, "
        .. "avoid, crf, preset, why)"
    end
    d[k] = v
  end
  if not ACTIONS[d.action] then
    return nil, 'decision.action: expected "retry", "skip" or "abort", got ' .. show(d.action)
  end
  for _, k in ipairs { "device", "avoid", "why" } do
    if d[k] ~= nil and type(d[k]) ~= "string" then
      return nil, "decision." .. k .. ": expected a string, got " .. type(d[k])
    end
  end
  if d.crf ~= nil and (type(d.crf) ~= "number" or d.crf % 1 ~= 0 or d.crf < 1 or d.crf > 63) then
    return nil, "decision.crf: expected an integer 1..63, got " .. show(d.crf)
  end
  if d.preset ~= nil and (type(d.preset) ~= "number" or d.preset % 1 ~= 0 or d.preset < -1
                          or d.preset > 13) then
    return nil, "decision.preset: expected an integer -1..13, got " .. show(d.preset)
  end
  if d.action ~= "retry" and (d.device or d.avoid or d.crf or d.preset) then
    return nil, "decision: device, avoid, crf and preset go with retry only"
  end
  return d
end

-- policy.chain{rules...} -> rule. The first rule that answers decides.
function M.chain(rules)
  assert(type(rules) == "table", "policy.chain: expected an array of rules")
  for i, r in ipairs(rules) do
    if type(r) ~= "function" then
      error(string.format("policy.chain: rule %d: expected a function, got %s", i, type(r)), 2)
    end
  end
  return function(ev, ctx)
    for _, rule in ipairs(rules) do
      local d = rule(ev, ctx)
      if d ~= nil then return d end
    end
    return M.abort(string.format("no rule decided on %s segment %d (%s)",
                                 ev.rendition or "?", ev.index, ev.reason))
  end
end

local function count(tried, pred)
  local n = 0
  for _, d in ipairs(tried) do if pred(d) then n = n + 1 end end
  return n
end

-- Reasons where trying the same device again cannot help: its sequence header does not fit
-- the rendition, or it has no encoder instance left for the rung.
local HOPELESS_ON_SAME = { invariant = true, open = true }

local function serves(ctx, id)
  for _, d in ipairs(ctx.devices) do if d == id then return true end end
  return false
end

-- Retries up to n times on the device that failed, while it still serves the rung.
function M.same_device(n)
  return function(ev, ctx)
    if HOPELESS_ON_SAME[ev.reason] or not ev.device or not serves(ctx, ev.device) then
      return nil
    end
    local same = count(ctx.tried, function(d) return d.device == ev.device end)
    if same < n then
      return M.retry { device = ev.device, why = "retry on the same device" }
    end
  end
end

-- Moves the chunk to another device serving the rung, once per device, never to one an
-- earlier decision said to avoid.
function M.other_device()
  return function(ev, ctx)
    for _, id in ipairs(ctx.devices) do
      if id ~= ev.device
        and count(ctx.tried, function(d) return d.device == id or d.avoid == id end) == 0 then
        return M.retry { device = id, avoid = ev.device, why = "retry on another device" }
      end
    end
  end
end

-- Retries once with a preset `steps` faster, on a device that can open an encoder for it.
function M.faster_preset(steps)
  return function(ev, ctx)
    local device
    for _, id in ipairs(ctx.midjob) do
      if serves(ctx, id) then device = device or id end
    end
    if not device then return nil end
    if count(ctx.tried, function(d) return d.preset ~= nil end) > 0 then return nil end
    local base = ctx.rung and ctx.rung.preset or 10
    local p = math.min(13, base + steps)
    if p == base then return nil end
    return M.retry { device = device, preset = p,
                     why = string.format("retry with preset %d", p) }
  end
end

-- The default: retry twice on the same device, then another device, then a preset two steps
-- faster (where a backend can open an encoder mid-job), then fail the job.
M.default = M.chain {
  M.same_device(2),
  M.other_device(),
  M.faster_preset(2),
}

return M

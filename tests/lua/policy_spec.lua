-- cmafeng.policy: decisions validated, rules chained, and the default policy walked through
-- a chunk's failures the way the runloop asks it (ctx.tried accumulating the validated
-- decisions, each attempt on the device the previous decision named).
local policy = require "cmafeng.policy"

-- The message of a refused answer (the test fails if it was accepted).
local function refused(answer)
  local d, err = policy.validate(answer)
  assert.is_nil(d)
  assert.is_string(err)
  return err
end

-- A chunk_failed event of segment 3 of "720p".
local function event(device, reason, attempt)
  return { rung = 1, rendition = "720p", index = 3, device = device, worker = 0,
           instance = 0, attempt = attempt or 1, reason = reason or "send", message = "boom" }
end

-- Feeds the default policy (or `rule`) failures of one chunk as the runloop does: each
-- decision is validated and appended to ctx.tried, and the next failure comes from the
-- device that decision named (or the failing one again when it named none), with
-- reasons[i] (default "send"). Stops at the first decision that is not a retry, or after
-- `max` failures. Returns the validated decisions in order.
local function walk(opts)
  local ctx = { job = {}, rung = opts.rung or { name = "720p", preset = 10 },
                devices = opts.devices, midjob = opts.midjob or {}, tried = {} }
  local rule = opts.rule or policy.default
  local device = opts.devices[1]
  local out = {}
  for i = 1, opts.max or 10 do
    local reason = opts.reasons and opts.reasons[i] or opts.reason or "send"
    local d = assert(policy.validate(rule(event(device, reason, i), ctx)))
    out[#out + 1] = d
    if d.action ~= "retry" then break end
    ctx.tried[#ctx.tried + 1] = d
    device = d.device or device
  end
  return out, ctx
end

describe("policy.validate", function()
  it("accepts the three words", function()
    assert.are.same({ action = "retry" }, policy.validate("retry"))
    assert.are.same({ action = "skip" }, policy.validate("skip"))
    assert.are.same({ action = "abort" }, policy.validate("abort"))
  end)

  it("accepts policy.retry{...} with every override", function()
    local d = policy.validate(policy.retry { device = "gpu0", avoid = "gpu1", crf = 30,
                                             preset = 12, why = "because" })
    assert.are.same({ action = "retry", device = "gpu0", avoid = "gpu1", crf = 30, preset = 12,
                      why = "because" }, d)
    assert.are.same({ action = "retry" }, policy.validate(policy.retry()))
    assert.are.same({ action = "retry" }, policy.validate(policy.retry {}))
    -- The range ends.
    assert.are.same({ action = "retry", crf = 1, preset = -1 },
                    policy.validate(policy.retry { crf = 1, preset = -1 }))
    assert.are.same({ action = "retry", crf = 63, preset = 13 },
                    policy.validate(policy.retry { crf = 63, preset = 13 }))
  end)

  it("accepts policy.abort(why) and policy.skip(why)", function()
    assert.are.same({ action = "abort", why = "enough" }, policy.validate(policy.abort("enough")))
    assert.are.same({ action = "abort" }, policy.validate(policy.abort()))
    assert.are.same({ action = "skip", why = "later" }, policy.validate(policy.skip("later")))
  end)

  it("returns a copy, not the answer itself", function()
    local answer = policy.retry { device = "a" }
    local d = policy.validate(answer)
    assert.are_not.equal(answer, d)
    d.device = "b"
    assert.are.equal("a", answer.device)
  end)

  it("refuses what is not a decision", function()
    assert.are.equal(
      'expected a decision ("retry", "skip", "abort" or policy.retry{...}), got number',
      refused(1))
    assert.are.equal('expected a decision ("retry", "skip", "abort" or policy.retry{...}), got nil',
                     refused(nil))
    assert.matches("got boolean$", refused(true))
    assert.matches("got function$", refused(function() end))
    assert.are.equal(
      'expected a decision ("retry", "skip", "abort" or policy.retry{...}), got "again"',
      refused("again"))
    assert.matches('got "Retry"$', refused("Retry"))
  end)

  it("refuses an unknown or missing action", function()
    assert.are.equal('decision.action: expected "retry", "skip" or "abort", got "redo"',
                     refused({ action = "redo" }))
    assert.are.equal('decision.action: expected "retry", "skip" or "abort", got nil',
                     refused({}))
    assert.are.equal('decision.action: expected "retry", "skip" or "abort", got nil',
                     refused({ device = "a" }))
    assert.matches("got 3$", refused({ action = 3 }))
  end)

  it("refuses an unknown key, naming it", function()
    assert.are.equal("decision.devices: unknown key (expected action, device, avoid, crf, "
                     .. "preset, why)", refused(policy.retry { devices = "a" }))
    assert.matches("^decision%.bitrate: unknown key", refused({ action = "abort", bitrate = 1 }))
    -- An array entry is a key too.
    assert.matches("^decision%.1: unknown key", refused({ "retry" }))
  end)

  it("refuses wrong types", function()
    assert.are.equal("decision.device: expected a string, got number",
                     refused(policy.retry { device = 0 }))
    assert.are.equal("decision.avoid: expected a string, got table",
                     refused(policy.retry { avoid = {} }))
    assert.are.equal("decision.why: expected a string, got boolean",
                     refused(policy.abort(true)))
    assert.are.equal('decision.crf: expected an integer 1..63, got "30"',
                     refused(policy.retry { crf = "30" }))
    assert.are.equal('decision.preset: expected an integer -1..13, got "fast"',
                     refused(policy.retry { preset = "fast" }))
    assert.are.equal("decision.preset: expected an integer -1..13, got true",
                     refused(policy.retry { preset = true }))
  end)

  it("refuses crf and preset out of range or not integers", function()
    for _, crf in ipairs { 0, 64, -1, 30.5, math.huge, 0 / 0 } do
      assert.matches("^decision%.crf: expected an integer 1%.%.63, got ",
                     refused(policy.retry { crf = crf }))
    end
    for _, preset in ipairs { -2, 14, 9.5, -math.huge } do
      assert.matches("^decision%.preset: expected an integer %-1%.%.13, got ",
                     refused(policy.retry { preset = preset }))
    end
    assert.are.equal("decision.crf: expected an integer 1..63, got 64",
                     refused(policy.retry { crf = 64 }))
  end)

  it("refuses retry overrides on skip and abort", function()
    local msg = "decision: device, avoid, crf and preset go with retry only"
    assert.are.equal(msg, refused({ action = "skip", device = "a" }))
    assert.are.equal(msg, refused({ action = "skip", crf = 30 }))
    assert.are.equal(msg, refused({ action = "skip", avoid = "a" }))
    assert.are.equal(msg, refused({ action = "abort", preset = 0 }))
    assert.are.equal(msg, refused({ action = "abort", device = "a", why = "x" }))
    -- why alone is fine on either.
    assert.are.same({ action = "skip", why = "x" }, policy.validate({ action = "skip", why = "x" }))
  end)
end)

describe("policy.chain", function()
  it("asks the rules in order; the first answer wins", function()
    local asked = {}
    local function rule(name, answer)
      return function(ev, ctx)
        asked[#asked + 1] = name
        assert.are.equal(3, ev.index)
        assert.is_table(ctx)
        return answer
      end
    end
    local c = policy.chain { rule("a", nil), rule("b", "skip"), rule("c", "retry") }
    assert.are.equal("skip", c(event("x"), { tried = {} }))
    assert.are.same({ "a", "b" }, asked)

    asked = {}
    local d = policy.retry { device = "y" }
    c = policy.chain { rule("a", nil), rule("b", d), rule("c", "abort") }
    assert.are.equal(d, c(event("x"), { tried = {} }))
    assert.are.same({ "a", "b" }, asked)
  end)

  it("takes false as an answer (only nil means no opinion)", function()
    local c = policy.chain { function() return false end, function() return "retry" end }
    assert.is_false(c(event("x"), {}))
    assert.is_nil(policy.validate(false))
  end)

  it("aborts naming the segment when no rule answers", function()
    local c = policy.chain { function() end, function() return nil end }
    local d = c(event("gpu0", "stall"), {})
    assert.are.same({ action = "abort",
                      why = "no rule decided on 720p segment 3 (stall)" }, d)
    assert.is_table(policy.validate(d))
    -- An empty chain too, and an event without a rendition.
    local ev = event("gpu0", "mux")
    ev.rendition = nil
    assert.are.same({ action = "abort", why = "no rule decided on ? segment 3 (mux)" },
                    policy.chain {}(ev, {}))
  end)

  it("refuses rules that are not functions, naming which", function()
    assert.has_error(function() policy.chain { function() end, "retry" } end,
                     "policy.chain: rule 2: expected a function, got string")
    assert.has_error(function() policy.chain { {} } end,
                     "policy.chain: rule 1: expected a function, got table")
    assert.has_error(function() policy.chain("retry") end,
                     "policy.chain: expected an array of rules")
  end)
end)

describe("policy.default", function()
  it("retries twice on the same device, then another, then a faster preset, then aborts",
     function()
    local ds, ctx = walk { devices = { "gpu", "cpu" }, midjob = { "cpu" },
                           rung = { name = "720p", preset = 10 } }
    -- 1, 2: the same device.
    assert.are.same({ action = "retry", device = "gpu", why = "retry on the same device" }, ds[1])
    assert.are.same(ds[1], ds[2])
    -- 3: another device, avoiding the failing one.
    assert.are.same({ action = "retry", device = "cpu", avoid = "gpu",
                      why = "retry on another device" }, ds[3])
    -- 4: the move named cpu once, so a failure there gets one same-device retry.
    assert.are.same({ action = "retry", device = "cpu", why = "retry on the same device" }, ds[4])
    -- 5: two steps faster, on the device that can open an encoder mid-job.
    assert.are.same({ action = "retry", device = "cpu", preset = 12,
                      why = "retry with preset 12" }, ds[5])
    -- 6: nothing left.
    assert.are.equal("abort", ds[6].action)
    assert.are.equal("no rule decided on 720p segment 3 (send)", ds[6].why)
    assert.are.equal(6, #ds)
    assert.are.equal(5, #ctx.tried)
  end)

  it("with a single device and no midjob, aborts at the third failure", function()
    local ds = walk { devices = { "f" } }
    assert.are.equal(3, #ds)
    assert.are.same({ action = "retry", device = "f", why = "retry on the same device" }, ds[1])
    assert.are.same({ action = "retry", device = "f", why = "retry on the same device" }, ds[2])
    assert.are.equal("abort", ds[3].action)
    assert.matches("segment 3", ds[3].why)
  end)

  it("with a single midjob device, goes from the same-device retries to the faster preset",
     function()
    local ds = walk { devices = { "f" }, midjob = { "f" }, rung = { name = "720p", preset = 8 } }
    assert.are.equal(4, #ds)
    assert.are.equal("f", ds[1].device)
    assert.are.equal("f", ds[2].device)
    assert.are.same({ action = "retry", device = "f", preset = 10,
                      why = "retry with preset 10" }, ds[3])
    assert.are.equal("abort", ds[4].action)
  end)

  it("tries the faster preset only when a device can open an encoder mid-job", function()
    local ds = walk { devices = { "gpu", "cpu" } }
    local actions = {}
    for i, d in ipairs(ds) do
      actions[i] = d.action
      assert.is_nil(d.preset)
    end
    assert.are.same({ "retry", "retry", "retry", "retry", "abort" }, actions)
    assert.are.equal("cpu", ds[3].device)
    assert.are.equal("gpu", ds[3].avoid)
  end)

  it("caps the faster preset at 13 and skips it when already there", function()
    local ds = walk { devices = { "f" }, midjob = { "f" }, rung = { name = "r", preset = 12 } }
    assert.are.equal(13, ds[3].preset)
    assert.are.equal("abort", ds[4].action)
    ds = walk { devices = { "f" }, midjob = { "f" }, rung = { name = "r", preset = 13 } }
    assert.are.equal(3, #ds)
    assert.are.equal("abort", ds[3].action)
    -- No rung preset known: from 10.
    ds = walk { devices = { "f" }, midjob = { "f" }, rung = { name = "r" } }
    assert.are.equal(12, ds[3].preset)
    -- The slowest preset: two steps faster.
    ds = walk { devices = { "f" }, midjob = { "f" }, rung = { name = "r", preset = -1 } }
    assert.are.equal(1, ds[3].preset)
  end)

  it("skips the same-device retries for reasons no retry there can fix", function()
    for _, reason in ipairs { "invariant", "open" } do
      local ds = walk { devices = { "gpu", "cpu" }, reason = reason, max = 1 }
      assert.are.same({ action = "retry", device = "cpu", avoid = "gpu",
                        why = "retry on another device" }, ds[1])
      -- Alone on the rung, with no midjob device: straight to abort.
      ds = walk { devices = { "gpu" }, reason = reason }
      assert.are.equal(1, #ds)
      assert.are.equal("abort", ds[1].action)
      assert.are.equal("no rule decided on 720p segment 3 (" .. reason .. ")", ds[1].why)
      -- With one: the faster preset at once.
      ds = walk { devices = { "gpu" }, midjob = { "gpu" }, reason = reason }
      assert.are.equal(2, #ds)
      assert.are.equal(12, ds[1].preset)
    end
    -- A transient failure first, then the hopeless one: no more same-device retries.
    local ds = walk { devices = { "gpu", "cpu" }, reasons = { "send", "open" }, max = 2 }
    assert.are.equal("gpu", ds[1].device)
    assert.are.same({ action = "retry", device = "cpu", avoid = "gpu",
                      why = "retry on another device" }, ds[2])
  end)

  it("does not retry on the same device when the event names none", function()
    local ctx = { rung = { preset = 10 }, devices = { "a", "b" }, midjob = {}, tried = {} }
    local d = policy.default(event(nil, "send"), ctx)
    assert.are.same({ action = "retry", device = "a", why = "retry on another device" }, d)
  end)

  it("moves to each other device once, in the recipe's order", function()
    local ctx = { rung = { preset = 10 }, devices = { "a", "b", "c" }, midjob = {}, tried = {
      { action = "retry", device = "a" }, { action = "retry", device = "a" } } }
    local d = policy.default(event("a"), ctx)
    assert.are.same({ action = "retry", device = "b", avoid = "a",
                      why = "retry on another device" }, d)
    -- b already tried twice: c next, whatever failed.
    ctx.tried = { { action = "retry", device = "b" }, { action = "retry", device = "b" },
                  { action = "retry", device = "b" } }
    d = policy.default(event("b"), ctx)
    assert.are.equal("a", d.device)
    ctx.tried[#ctx.tried + 1] = d
    ctx.tried[#ctx.tried + 1] = { action = "retry", device = "a" }
    d = policy.default(event("a"), ctx)
    assert.are.equal("c", d.device)
    assert.are.equal("a", d.avoid)
  end)

  -- After retry{device = "cpu", avoid = "gpu"}, a second hopeless failure (on cpu) must not
  -- send the chunk back to gpu, which the engine would refuse ("no device is left that may
  -- take it"): the policy aborts cleanly instead.
  it("never names a device an earlier decision said to avoid", function()
    local ds = walk { devices = { "gpu", "cpu" }, reason = "invariant" }
    assert.are.equal("cpu", ds[1].device)
    assert.are.equal("gpu", ds[1].avoid)
    assert.are_not.equal("gpu", ds[2].device)
  end)
end)

-- Recipe loading: the sandbox, the job schema and the messages users see.
local recipe = require "cmafeng.recipe"
local sandbox = require "cmafeng.sandbox"

local F = "tests/lua/fixtures/"

-- Loads a fixture and returns its error message (the test fails if it loaded).
local function load_error(name, args, opts)
  local job, err = recipe.load(F .. name, args or {}, opts)
  assert.is_nil(job)
  assert.is_string(err)
  return err
end

describe("recipe.load", function()
  it("fills defaults and keeps the ladder order", function()
    local job = assert(recipe.load(F .. "good.lua", {}))
    assert.are.equal("clip.mkv", job.source)
    assert.are.equal("out", job.output)
    assert.are.equal(2, job.segment_seconds)
    assert.are.equal(2, job.workers)
    assert.are.equal(0, job.threads_per_worker)
    assert.are.equal("cmaf", job.invariant)
    assert.are.equal(2, job.queue_depth)
    assert.is_nil(job.devices)
    assert.are.same({ name = "720p", width = 1280, height = 720, crf = 35, preset = 10, bit_depth = 8 },
                    job.video.ladder[1])
    assert.are.same({ name = "low", width = 640, height = 360, crf = 40, preset = 12, bit_depth = 8 },
                    job.video.ladder[2])
    assert.are.equal("ok", job.on_segment({}))
  end)

  it("accepts devices and the copied standard library", function()
    local job = assert(recipe.load(F .. "stdlib.lua", {}))
    assert.are.equal("3.mkv", job.source)
    assert.are.same({ "r720", "r360" }, { job.video.ladder[1].name, job.video.ladder[2].name })
    assert.are.same({ backend = "svt", sessions = 2, optional = false }, job.devices[1])
    assert.are.same({ backend = "nvenc", id = "0", sessions = 1, threads = 0, optional = false },
                    job.devices[2])
    -- The recipe cleared its own math.floor, not ours.
    assert.is_function(math.floor)
  end)

  it("lets recipes use cmafeng.ladder", function()
    local job = assert(recipe.load(F .. "uses_ladder.lua", {}))
    assert.are.same({ name = "720p", width = 1280, height = 720, crf = 33, preset = 10, bit_depth = 8 },
                    job.video.ladder[1])
    assert.are.same({ name = "360p", width = 640, height = 360, crf = 33, preset = 10, bit_depth = 8 },
                    job.video.ladder[2])
  end)

  it("passes the words after -- as arg", function()
    local job = assert(recipe.load(F .. "args.lua", { "in.mkv", "dest" }))
    assert.are.equal("in.mkv", job.source)
    assert.are.equal("dest", job.output)
    assert.are.equal(F .. "args.lua:2: source: expected a string (the input media file), got nil",
                     load_error("args.lua", {}))
  end)

  it("rejects an unknown key", function()
    assert.are.equal(F .. "unknown_key.lua:5: video.ladder[1].fps: unknown key",
                     load_error("unknown_key.lua"))
  end)

  it("rejects an odd height", function()
    assert.are.equal(
      F .. "odd_height.lua:7: video.ladder[3].height: expected an even integer >= 64, got 721",
      load_error("odd_height.lua"))
  end)

  it("rejects a wrong type", function()
    assert.are.equal(
      F .. 'wrong_type.lua:3: workers: expected an integer >= 1 and <= 64, got "4"',
      load_error("wrong_type.lua"))
  end)

  it("rejects a missing source", function()
    assert.are.equal(
      F .. "missing_source.lua:1: source: expected a string (the input media file), got nil",
      load_error("missing_source.lua"))
  end)

  it("rejects duplicate rendition names", function()
    assert.are.equal(
      F .. 'duplicate_names.lua:7: video.ladder[2].name: duplicate rendition name "720p"',
      load_error("duplicate_names.lua"))
  end)

  it("reports syntax errors with file and line", function()
    assert.are.equal(F .. "syntax_error.lua:4: '}' expected near 'height'",
                     load_error("syntax_error.lua"))
  end)

  it("reports runtime errors with file and line", function()
    assert.are.equal(F .. "runtime_error.lua:3: attempt to index local 't' (a nil value)",
                     load_error("runtime_error.lua"))
    assert.are.equal(
      F .. "bad_ladder_call.lua:5: ladder.standard: heights[2]: expected an even integer >= 64, got 361",
      load_error("bad_ladder_call.lua"))
  end)

  it("reports an unreadable file", function()
    assert.are.equal(F .. "nope.lua: cannot read recipe: No such file or directory",
                     load_error("nope.lua"))
  end)

  it("reports a recipe that returns nothing", function()
    assert.matches("^" .. F .. "returns_nothing.lua: the recipe returned nothing",
                   load_error("returns_nothing.lua"))
  end)

  it("skips a shebang line and keeps line numbers", function()
    assert.are.equal(F .. "shebang.lua:2: workers: expected an integer >= 1, got 0",
                     load_error("shebang.lua"))
  end)
end)

describe("recipe.validate", function()
  local function job(t)
    t.source = t.source or "a.mkv"
    t.video = t.video or { ladder = { { width = 320, height = 180 } } }
    return t
  end

  it("prefixes the file name only when given", function()
    local _, err = recipe.validate(job { invariant = "loose" })
    assert.are.equal('invariant: expected one of "cmaf", "strict", got "loose"', err)
    _, err = recipe.validate(job { invariant = "loose" }, "x.lua")
    assert.are.equal('x.lua: invariant: expected one of "cmaf", "strict", got "loose"', err)
  end)

  it("checks every field", function()
    local cases = {
      { { segment_seconds = 0 }, "segment_seconds: expected a number > 0, got 0" },
      { { segment_seconds = 31 }, "segment_seconds: expected a number <= 30, got 31" },
      { { segment_seconds = 2.5 } },
      { { workers = 1.5 }, "workers: expected an integer >= 1 and <= 64, got 1.5" },
      { { threads_per_worker = 1 } },
      { { queue_depth = 17 },
        "queue_depth: expected an integer <= 16 (chunks buffered per rung), got 17" },
      { { output = true }, "output: expected a string (the output directory), got boolean" },
      { { video = { ladder = {} } }, "video.ladder: expected at least 1 entry, got 0" },
      { { video = { ladder = { { width = 320, height = 180, keyint = 48 } } } },
        "video.ladder[1].keyint: unknown key" },
      { { video = { ladder = { { width = 320, height = 180, name = "a b" } } } },
        "video.ladder[1].name: expected a name of letters, digits, '_' and '-', got \"a b\"" },
      { { video = { ladder = { { width = 320, height = 9000 } } } },
        "video.ladder[1].height: expected an even integer <= 8192, got 9000" },
      { { video = { ladder = { { width = 320, height = 180, crf = 0 } } } },
        "video.ladder[1].crf: expected an integer >= 1, got 0" },
      { { video = { ladder = { { width = 320, height = 180, preset = -2 } } } },
        "video.ladder[1].preset: expected an integer >= -1, got -2" },
      { { video = { ladder = { { width = 320 } } } },
        "video.ladder[1].height: expected an even integer >= 64 and <= 8192, got nil" },
      { { video = { ladder = { x = 1 } } },
        "video.ladder.x: unknown key\nvideo.ladder: expected at least 1 entry, got 0" },
      { { video = { ladder = { [1] = { width = 320, height = 180 }, [3] = { width = 320, height = 180 } } } },
        "video.ladder[2]: expected a table, got nil" },
      { { devices = { { backend = "cuda" } } },
        'devices[1].backend: expected one of "svt", "aom", "rav1e", "nvenc", "qsv", "vaapi", "amf", "fault", got "cuda"' },
      { { devices = { { backend = "svt", sessions = 0 } } },
        "devices[1].sessions: expected an integer >= 1 (concurrent encoders on this device), got 0" },
      { { on_segment = "retry" }, 'on_segment: expected a function, got "retry"' },
      { { [1] = "a.mkv" }, "[1]: unknown key" },
    }
    for _, c in ipairs(cases) do
      local j, err = recipe.validate(job(c[1]))
      if c[2] then
        assert.is_nil(j)
        assert.are.equal(c[2], err)
      else
        assert.is_nil(err)
        assert.is_table(j)
      end
    end
  end)

  it("rejects a recipe that returns something else", function()
    local _, err = recipe.validate(42, "x.lua")
    assert.are.equal("x.lua: expected the recipe to return a job table, got 42", err)
  end)

  it("does not modify the recipe's table", function()
    local t = job {}
    local j = assert(recipe.validate(t))
    assert.is_nil(t.workers)
    assert.is_nil(t.video.ladder[1].name)
    assert.are.equal("180p", j.video.ladder[1].name)
  end)
end)

describe("the sandbox", function()
  it("makes globals strict, at the user's line", function()
    assert.are.equal(F .. "strict_read.lua:3: undefined global 'sourc'", load_error("strict_read.lua"))
    assert.are.equal(
      F .. "strict_write.lua:2: undefined global 'preset' (recipes cannot create globals; use local)",
      load_error("strict_write.lua"))
  end)

  it("has no ffi and no io", function()
    assert.matches("^" .. F .. "uses_ffi.lua:1: module 'ffi' is not available to recipes",
                   load_error("uses_ffi.lua"))
    assert.are.equal(F .. "uses_io.lua:1: undefined global 'io'", load_error("uses_io.lua"))
  end)

  it("hides dangerous functions", function()
    local env = sandbox.env({})
    for _, name in ipairs { "io", "loadstring", "load", "dofile", "loadfile", "debug",
                            "setfenv", "getfenv", "module", "jit", "_G", "collectgarbage" } do
      assert.has_error(function() return env[name] end, "undefined global '" .. name .. "'")
    end
    assert.is_nil(env.string.dump)
    assert.is_nil(rawget(env.os, "execute"))
    assert.is_nil(rawget(env.os, "remove"))
    assert.is_nil(env.getmetatable(""))
  end)

  it("stops an endless loop with the instruction budget", function()
    -- The count runs out on one of the loop's lines.
    local err = load_error("endless.lua", {}, { budget = 1000000 })
    assert.matches("^" .. F .. "endless.lua:[23]: instruction budget exceeded %(1000000 " ..
                   "instructions; is there an endless loop%?%)$", err)
  end)

  it("does not let pcall swallow the budget error", function()
    assert.matches("^" .. F .. "endless_pcall.lua:%d: instruction budget exceeded",
                   load_error("endless_pcall.lua", {}, { budget = 1000000 }))
  end)

  it("stops an endless hook and restores the previous hook", function()
    local job = assert(recipe.load(F .. "endless_hook.lua", {}))
    local ok, err = sandbox.pcall(100000, job.on_failure, {})
    assert.is_false(ok)
    assert.matches("^" .. F .. "endless_hook.lua:7: instruction budget exceeded", err)
    assert.is_nil(debug.gethook())
  end)

  it("returns hook results like pcall", function()
    local ok, a, b = sandbox.pcall(nil, function(x, y) return y, x end, 1, 2)
    assert.are.same({ true, 2, 1 }, { ok, a, b })
  end)

  it("sends print to the given function", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('print("hello", 1, nil)\nreturn 7\n')
    f:close()
    local got
    local v = sandbox.load_recipe(path, {}, { print = function(...) got = { ... } end })
    os.remove(path)
    assert.are.equal(7, v)
    assert.are.same({ "hello", 1 }, got)
  end)

  it("rejects bytecode", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(string.dump(function() return {} end))
    f:close()
    local v, err = sandbox.load_recipe(path, {})
    os.remove(path)
    assert.is_nil(v)
    assert.are.equal(path .. ": cannot read recipe: precompiled bytecode is not accepted", err)
  end)
end)

describe("shipped recipes", function()
  it("abr_ladder probes its source (tests/lua/source_spec.lua runs it on real files)", function()
    local job, err = recipe.load("recipes/abr_ladder.lua", { "input.mkv" })
    assert.is_nil(job)
    assert.are.equal("recipes/abr_ladder.lua: input.mkv: No such file or directory", err)
  end)

  it("abr_ladder explains its usage without a source", function()
    local job, err = recipe.load("recipes/abr_ladder.lua", {})
    assert.is_nil(job)
    assert.are.equal("recipes/abr_ladder.lua: usage: cmafeng run recipes/abr_ladder.lua -- SOURCE",
                     err)
  end)

  it("small_test takes source and output", function()
    local job = assert(recipe.load("recipes/small_test.lua", { "clip.mkv", "o" }))
    assert.are.equal("o", job.output)
    assert.are.equal(1, job.segment_seconds)
    assert.are.same({ name = "90p", width = 160, height = 90, crf = 40, preset = 12, bit_depth = 8 },
                    job.video.ladder[2])
    assert.are.equal("out", assert(recipe.load("recipes/small_test.lua", { "clip.mkv" })).output)
  end)
end)

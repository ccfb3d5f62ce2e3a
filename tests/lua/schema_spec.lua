local schema = require "cmafeng.schema"
local S = schema

describe("schema", function()
  it("shows values the way messages need them", function()
    assert.are.same({ '"x"', "721", "1.5", "boolean", "nil", "table", '"a\\"b\\n"' },
                    { S.show("x"), S.show(721), S.show(1.5), S.show(true), S.show(nil),
                      S.show({}), S.show('a"b\n') })
  end)

  it("fills defaults with copies", function()
    local default = { 1, 2 }
    local spec = S.record { list = S.array(S.integer(), { default = default }) }
    local v = assert(S.check(spec, {}))
    assert.are.same({ 1, 2 }, v.list)
    assert.are_not.equal(default, v.list)
  end)

  it("names nested paths", function()
    local spec = S.record { a = S.array(S.record { ["b c"] = S.boolean() }) }
    local _, err = S.check(spec, { a = { { ["b c"] = 1 } } })
    assert.are.equal('a[1]["b c"]: expected true or false, got 1', err)
    _, err = S.check(spec, { a = { { ["b c"] = true, [true] = 1 } } })
    assert.are.equal("a[1][true]: unknown key", err)
    _, err = S.check(spec, "x", "root")
    assert.are.equal('root: expected a table, got "x"', err)
  end)

  it("runs custom checks on the normalized value", function()
    local spec = S.integer { default = 3, check = function(v) if v > 2 then return "too big" end end }
    local _, err = S.check(spec, nil, "n")
    assert.are.equal("n: too big", err)
  end)

  it("rejects non-empty violations and patterns", function()
    local _, err = S.check(S.string { non_empty = true }, "", "s")
    assert.are.equal('s: expected a non-empty string, got ""', err)
    _, err = S.check(S.string { pattern = "^%d+$" }, "a", "s")
    assert.are.equal('s: expected a string matching ^%d+$, got "a"', err)
  end)

  it("reports every problem, unknown keys first, then fields by name", function()
    local spec = S.record { a = S.integer { min = 1 }, b = S.string(), c = S.array(S.boolean()) }
    local v, errs = S.check_all(spec, { a = 0, c = { true, 1, "x" }, d = 1 })
    assert.is_nil(v)
    local lines = {}
    for i, e in ipairs(errs) do lines[i] = S.format_error(e) end
    assert.are.same({ "d: unknown key", "a: expected an integer >= 1, got 0",
                      "b: expected a string, got nil", "c[2]: expected true or false, got 1",
                      'c[3]: expected true or false, got "x"' }, lines)
    -- check() keeps its one-message form: the first problem.
    local _, first = S.check(spec, { a = 0, c = {}, d = 1 })
    assert.are.equal("d: unknown key", first)
  end)

  it("suggests the nearest known key or value for a typo", function()
    local spec = S.record { segment_seconds = S.number { optional = true },
                            invariant = S.enum({ "cmaf", "strict" }, { optional = true }) }
    assert.are.equal('segment_second: unknown key (did you mean "segment_seconds"?)',
                     select(2, S.check(spec, { segment_second = 2 })))
    assert.are.equal('Segment_Seconds: unknown key (did you mean "segment_seconds"?)',
                     select(2, S.check(spec, { Segment_Seconds = 2 })))
    assert.are.equal('invarient: unknown key (did you mean "invariant"?)',
                     select(2, S.check(spec, { invarient = "cmaf" })))
    assert.are.equal('invariant: expected one of "cmaf", "strict", got "stict" (did you mean "strict"?)',
                     select(2, S.check(spec, { invariant = "stict" })))
    -- Nothing close: no guess.
    assert.are.equal("colour: unknown key", select(2, S.check(spec, { colour = 1 })))
    assert.are.equal(1, S.distance("hieght", "height"))
  end)

  it("keeps the unknown keys of an open record", function()
    local v = assert(S.check(S.record({ a = S.integer() }, { open = true }), { a = 1, extra = { 2 } }))
    assert.are.same({ a = 1, extra = { 2 } }, v)
  end)
end)

describe("srcmap", function()
  local srcmap = require "cmafeng.srcmap"
  local text = [=[
-- a comment with { braces } and "quotes"
local helper = { width = 1 }
local s = "a string with { a brace"
return {
  source = arg[1],
  on_segment = function(ev)
    if ev then return { width = 99 } end
  end,
  video = {
    ladder = {
      { width = 1280, height = 720 },
      { width = 854,
        height = 481 },
      [[ long { string ]] .. "",
    },
  },
  devices = require("x").make { backend = "svt" },
}
]=]

  it("maps field paths to the line that wrote them", function()
    local map = srcmap.build(text)
    assert.are.equal(5, srcmap.line(map, "source"))
    assert.are.equal(6, srcmap.line(map, "on_segment"))
    assert.are.equal(11, srcmap.line(map, "video.ladder[1].height"))
    assert.are.equal(13, srcmap.line(map, "video.ladder[2].height"))
    assert.are.equal(14, srcmap.line(map, "video.ladder[3]"))
    -- Not literal: the line of the nearest enclosing field.
    assert.are.equal(17, srcmap.line(map, "devices[1].backend"))
    -- Missing: the job table's own line.
    assert.are.equal(4, srcmap.line(map, "output"))
  end)

  it("never raises on any prefix of a real recipe or on random bytes", function()
    local files = { "recipes/abr_ladder.lua", "recipes/scene_chunks.lua", "recipes/hdr10.lua",
                    "tests/lua/fixtures/odd_height.lua" }
    for _, path in ipairs(files) do
      local f = assert(io.open(path))
      local src = f:read("*a")
      f:close()
      for n = 0, #src, 7 do
        local ok, err = pcall(srcmap.build, src:sub(1, n))
        assert(ok, path .. " prefix " .. n .. ": " .. tostring(err))
      end
    end
    math.randomseed(7)
    local alphabet = "{}[]()=,;'\"\\-\n abc123.=[[]]--function end if do"
    for _ = 1, 300 do
      local t = {}
      for i = 1, math.random(0, 80) do
        local k = math.random(1, #alphabet)
        t[i] = alphabet:sub(k, k)
      end
      local ok, err = pcall(srcmap.build, table.concat(t))
      assert(ok, tostring(err))
    end
  end)
end)


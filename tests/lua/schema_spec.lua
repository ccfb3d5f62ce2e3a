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
end)

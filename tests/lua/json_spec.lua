local json = require "cmafeng.json"

describe("json.encode", function()
  it("writes numbers plainly", function()
    assert.are.equal("[2,0.04,-3,0,1.5,0.30000000000000004,1e+300]",
                     json.encode { 2.0, 0.04, -3, -0.0, 1.5, 0.1 + 0.2, 1e300 })
    assert.are.equal("9007199254740991", json.encode(2^53 - 1))
  end)

  it("escapes strings per RFC 8259", function()
    assert.are.equal([["a\"b\\c\n\r\t\b\f\u0001\u001f/é"]],
                     json.encode('a"b\\c\n\r\t\b\f\1\31/é'))
  end)

  it("sorts keys and tells arrays from objects", function()
    assert.are.equal('{"a":[1,2],"b":{"c":true},"z":null}',
                     json.encode { z = json.null, b = { c = true }, a = { 1, 2 } })
    assert.are.equal("[]", json.encode {})
    assert.are.equal("{}", json.encode(json.object {}))
    assert.are.equal('{"1":"a","3":"c"}', json.encode { [1] = "a", [3] = "c" })
  end)

  it("indents on request", function()
    assert.are.equal('{\n  "a": [\n    1\n  ],\n  "b": {}\n}',
                     json.encode({ a = { 1 }, b = json.object() }, { indent = "  " }))
  end)

  it("raises on values JSON cannot hold", function()
    assert.has_error(function() json.encode(0 / 0) end, "json: cannot encode non-finite number nan")
    assert.has_error(function() json.encode(math.huge) end, "json: cannot encode non-finite number inf")
    assert.has_error(function() json.encode { f = print } end, "json: cannot encode a function")
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end, "json: cannot encode a table that contains itself")
  end)
end)

describe("json.decode", function()
  it("reads every JSON type", function()
    local v = json.decode(' {"a": [1, -2.5e2, 0.04, true, false, null, "x"], "b": {}, "c": []} ')
    assert.are.same({ a = { 1, -250, 0.04, true, false, nil, "x" }, b = {}, c = {} }, v)
    assert.are.equal(7, select("#", unpack(v.a, 1, 7)))
  end)

  it("decodes escapes and surrogate pairs to UTF-8", function()
    assert.are.equal('"\\/\b\f\n\r\té😀', json.decode([["\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]]))
  end)

  it("maps null to a sentinel on request", function()
    assert.are.equal(json.null, json.decode("[null]", { null = json.null })[1])
  end)

  it("round-trips", function()
    local report = {
      job = "abr", ok = true, ratio = 1.05,
      segments = {
        { rung = "720p", index = 0, bytes = 123456, duration = 2, device = "svt:0", attempts = 1 },
        { rung = "480p", index = 1, bytes = 65432, duration = 1.96, device = "svt:1", attempts = 2 },
      },
      text = 'line\n"quoted"\0tab\t',
    }
    assert.are.same(report, json.decode(json.encode(report)))
    local s = json.encode(report, { indent = "\t" })
    assert.are.equal(s, json.encode(json.decode(s), { indent = "\t" }))
    assert.are.equal("{}", json.encode(json.decode("{}")))
  end)

  it("reports malformed text with line and column", function()
    local cases = {
      { "[1,]", "json: line 1 column 4: unexpected character" },
      { '{"a" 1}', "json: line 1 column 6: expected ':'" },
      { '{"a":1\n,}', "json: line 2 column 2: expected a string key" },
      { "[1] 2", "json: line 1 column 5: trailing characters after the value" },
      { "01", "json: line 1 column 1: unexpected character" },
      { "1.", "json: line 1 column 1: unexpected character" },
      { '"abc', "json: line 1 column 1: unterminated string" },
      { '"a\nb"', "json: line 1 column 3: control character in string" },
      { '"\\x"', "json: line 1 column 2: bad escape" },
      { '"\\ud800"', "json: line 1 column 2: unpaired surrogate" },
      { "", "json: line 1 column 1: unexpected end of input" },
      { "[" .. ("["):rep(600), "json: line 1 column 514: nested too deeply" },
      { "nul", "json: line 1 column 1: unexpected character" },
    }
    for _, c in ipairs(cases) do
      local v, err = json.decode(c[1])
      assert.is_nil(v)
      assert.are.equal(c[2], err)
    end
  end)
end)

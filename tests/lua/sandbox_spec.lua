-- The sandbox holds (issue 10): one test per escape a recipe tried.
local sandbox = require "cmafeng.sandbox"
local recipe = require "cmafeng.recipe"
local json = require "cmafeng.json"

-- Loads recipe source text through the sandbox; returns what load_recipe returns.
local function run(src, args, opts)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  local v, err = sandbox.load_recipe(path, args or {}, opts)
  os.remove(path)
  return v, err, path
end

local function load_error(src, args, opts)
  local v, err, path = run(src, args, opts)
  assert.is_nil(v)
  assert.is_string(err)
  -- Every error names the recipe file.
  assert.are.equal(path .. ":", err:sub(1, #path + 1))
  return err:sub(#path + 2)
end

describe("the sandbox's engine modules", function()
  it("are read-only: a recipe cannot replace cmafeng.json.encode", function()
    local encode = json.encode
    local err = load_error('require("cmafeng.json").encode = function() return "{}" end')
    assert.matches("^1: cmafeng.json is read%-only: recipes cannot assign cmafeng.json.encode$", err)
    assert.are.equal(encode, json.encode)
    assert.are.equal('{"ok":false}', json.encode { ok = false })
  end)

  it("are read-only all the way down", function()
    local err = load_error('require("cmafeng").av1.parse = nil')
    assert.matches("cmafeng.av1 is read%-only", err)
    err = load_error('require("cmafeng.ladder").standard = print')
    assert.matches("cmafeng.ladder is read%-only", err)
    err = load_error('setmetatable(require("cmafeng"), nil)')
    assert.matches("cannot change a protected metatable", err)
  end)

  it("still work for reading", function()
    local v = assert(run('local c = require("cmafeng"); return { c.version(), type(c.av1.parse),' ..
                         ' require("cmafeng.json").encode({ 1 }) }'))
    assert.are.equal("string", type(v[1]))
    assert.are.equal("function", v[2])
    assert.are.equal("[1]", v[3])
  end)

  it("have no run or start at recipe load", function()
    assert.matches("cmafeng.run is not available to recipes",
                   load_error('require("cmafeng").run { source = "x" }'))
    assert.matches("cmafeng.start is not available to recipes",
                   load_error('return require("cmafeng").start'))
  end)

  it("probe only the paths named on the command line", function()
    local err = load_error('return require("cmafeng").probe("/etc/passwd")', { "/nonexistent.mkv" })
    assert.matches("cmafeng.probe: /etc/passwd was not named on the command line", err)
    -- The same message for a path that does not exist: nothing leaks about the file system.
    local err2 = load_error('return require("cmafeng").probe("/nope/nope")', { "/nonexistent.mkv" })
    assert.matches("cmafeng.probe: /nope/nope was not named on the command line", err2)
    -- A named path is probed (and fails as a probe does, not as the sandbox refuses).
    local v = assert(run('local info, msg = require("cmafeng").probe(arg[1]); return { msg }',
                         { "/nonexistent.mkv" }))
    assert.matches("^/nonexistent.mkv: ", v[1])
  end)
end)

describe("the sandbox's instruction budget", function()
  it("covers an endless __index on the returned table", function()
    local v, err = run('return setmetatable({ source = "a.mkv" }, ' ..
                       '{ __index = function() while true do end end })')
    assert.is_nil(err)
    assert.is_nil(getmetatable(v))
    assert.are.equal("a.mkv", v.source)
    assert.is_nil(v.video) -- no recipe code ran for the missing key
  end)

  it("covers recipe.load of a table with an erroring __index (no internal error)", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('return setmetatable({}, { __index = function() error("boom") end })')
    f:close()
    local job, err = recipe.load(path, {})
    os.remove(path)
    assert.is_nil(job)
    assert.matches("^" .. path:gsub("%p", "%%%0") .. ":%d+: source: expected a string", err)
  end)

  it("never tostring()s an error value (endless __tostring)", function()
    local err = load_error('error(setmetatable({}, { __tostring = function() while true do end end }))')
    assert.are.equal(" error object is not a string: a table", err)
  end)

  it("covers __tostring called by the recipe itself", function()
    local err = load_error('local t = setmetatable({}, { __tostring = function() while true do end end })\n' ..
                           'return tostring(t)', {}, { budget = 1000000 })
    assert.matches("^1: instruction budget exceeded", err)
  end)

  it("covers hooks, and an endless __index in a hook's own tables", function()
    local v = assert(run('return { f = function() local t = setmetatable({}, { __index = ' ..
                         'function(t, k) return t[k] end }) return t.x end }'))
    local ok, err = sandbox.pcall(100000, v.f)
    assert.is_false(ok)
    assert.matches("stack overflow", err)
    assert.is_nil(debug.gethook())
  end)

  it("a table containing itself is refused, a shared one is copied once", function()
    assert.matches("the table contains itself", load_error('local t = {} t.t = t return t'))
    local v = assert(run('local r = { width = 2 } return { a = r, b = r }'))
    assert.are.equal(v.a, v.b)
  end)
end)

describe("the sandbox's string library", function()
  it("has no dump, not even through the string metatable", function()
    local v = assert(run('return { type(("").dump), type(string.dump) }'))
    assert.are.same({ "nil", "nil" }, v)
    -- The engine's own strings keep their library.
    assert.are.equal("function", type(("").dump))
  end)

  it("bounds catastrophic patterns", function()
    local err = load_error('local s = ("a"):rep(100000) return s:find(".-.-.-.-.-b")')
    assert.matches("string.find: pattern \"%.%-%.%-%.%-%.%-%.%-b\" has 5 repetitions: too costly", err)
    err = load_error('return string.match(("a"):rep(5000), "(a*)*b")')
    assert.matches("string.match: pattern .* too costly", err)
    err = load_error('return ("a"):rep(5000):gsub("a-a-b", "")')
    assert.matches("string.gsub: .* too costly", err)
    err = load_error('for x in ("a"):rep(5000):gmatch("a-a-b") do end')
    assert.matches("string.gmatch: .* too costly", err)
  end)

  it("lets ordinary patterns through", function()
    local v = assert(run('local w, h = ("1920x1080"):match("^(%d+)x(%d+)$")\n' ..
                         'return { tonumber(w), tonumber(h), ("a,b,c"):gsub(",", ";"), ' ..
                         '(string.find(("x"):rep(20000) .. "y", "y", 1, true)) }'))
    assert.are.same({ 1920, 1080, "a;b;c", 20001 }, v)
  end)

  it("counts repetition items outside sets and escapes only", function()
    assert.are.equal(0, (sandbox.pattern_shape("[%*+-]%+%-")))
    assert.are.equal(2, (sandbox.pattern_shape("^a*[b-]+")))
    assert.are.equal(1, (sandbox.pattern_shape("%d+")))
  end)
end)

describe("the sandbox's hook calls", function()
  it("pass copies of tables: a hook cannot booby-trap the engine's event records", function()
    local ev = { type = "segment", index = 3 }
    local ok = sandbox.pcall(nil, function(e)
      e.type = nil
      setmetatable(e, { __index = function() while true do end end })
    end, ev)
    assert.is_true(ok)
    assert.is_nil(getmetatable(ev))
    assert.are.equal("segment", ev.type)
  end)

  it("return copies of tables, without metatables", function()
    local ok, d = sandbox.pcall(nil, function()
      return setmetatable({ "retry" }, { __eq = function() while true do end end,
                                         __index = function() while true do end end })
    end)
    assert.is_true(ok)
    assert.is_nil(getmetatable(d))
    assert.are.equal("retry", d[1])
    assert.is_nil(d.device)
  end)
end)

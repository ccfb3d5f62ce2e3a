-- The REPL's evaluator (cmafeng.repl without a terminal), its pretty printer, completion,
-- and the lineedit binding's interrupt helpers loaded from the built C module. The terminal
-- itself is tested through tmux in tests/e2e/test_repl_tty.sh.
local repl = require "cmafeng.repl"
local pretty = require "cmafeng.pretty"

-- cmafeng.lineedit lives in core.so next to cmafeng.core (the binary preloads it).
local bin = os.getenv("CME_BINARY_DIR") or "build"
local lineedit = assert(package.loadlib(bin .. "/lua/cmafeng/core.so", "luaopen_cmafeng_lineedit"))()

local function session(vars)
  local out, err = {}, {}
  local s = repl.new {
    out = function(t) out[#out + 1] = t end,
    err = function(t) err[#err + 1] = t end,
    vars = vars,
    interruptible = lineedit.interruptible,
  }
  local function feed(...)
    local st
    for _, line in ipairs { ... } do st = s:feed(line) end
    return st
  end
  local function take()
    local o, e = table.concat(out), table.concat(err)
    for i = #out, 1, -1 do out[i] = nil end
    for i = #err, 1, -1 do err[i] = nil end
    return o, e
  end
  return s, feed, take
end

describe("repl evaluator", function()
  it("prints expressions, =expr and nil; statements print nothing", function()
    local _, feed, take = session()
    feed("1 + 1")
    assert.are.equal("2\n", take())
    feed("=2 * 21")
    assert.are.equal("42\n", take())
    feed("nil")
    assert.are.equal("nil\n", take())
    feed("1, nil, 'a'")
    assert.are.equal('1\tnil\t"a"\n', take())
    feed("repl_spec_global = 5")
    assert.are.equal("", take())
    assert.are.equal(5, _G.repl_spec_global)
    _G.repl_spec_global = nil
  end)

  it("keeps top-level locals from one line to the next, without making them global", function()
    local s, feed, take = session()
    feed("local x = 40")
    feed("local y")
    feed("x + 2, y")
    assert.are.equal("42\tnil\n", take())
    assert.is_nil(rawget(_G, "x"))
    feed("local x = x + 1") -- the right-hand side reads the earlier x
    feed("x")
    assert.are.equal("41\n", take())
    feed("local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end")
    feed("fact(5)")
    assert.are.equal("120\n", take())
    feed("do local inner = 1 end", "inner")
    assert.are.equal("nil\n", take())
    assert.is_true(s.declared.fact)
  end)

  it("continues an incomplete chunk and reports a syntax error once it is complete", function()
    local s, feed, take = session()
    assert.are.equal("more", feed("function twice(n)"))
    assert.are.equal("more", feed("  return n * 2"))
    assert.are.equal("done", feed("end"))
    feed("twice(21)")
    assert.are.equal("42\n", take())
    assert.are.equal("more", feed("x = [[long"))
    assert.are.equal("done", feed("string]]"))
    feed("x")
    assert.are.equal('"long\\nstring"\n', take())
    assert.are.equal("done", feed("x = = 1"))
    local _, e = take()
    assert.matches("stdin:1: unexpected symbol near '='", e, 1, true)
    assert.are.equal(0, #s.buffer)
    _G.twice, _G.x = nil, nil
  end)

  it("reports runtime errors with a traceback that stops at the REPL's frames", function()
    local s, feed, take = session()
    feed("function boom() error('bad thing') end")
    feed("boom()")
    local o, e = take()
    assert.are.equal("", o)
    assert.matches("^stdin:1: bad thing\nstack traceback:\n", e)
    assert.matches("in function 'boom'", e, 1, true)
    assert.matches("stdin:1: in main chunk\n$", e)
    assert.not_matches("repl.lua", e, 1, true)
    assert.are.equal(1, s.errors)
    _G.boom = nil
  end)

  it("survives error objects whose __tostring fails or loops", function()
    local _, feed, take = session()
    feed("error(setmetatable({}, {__tostring = function() error('inner') end}))")
    local _, e = take()
    assert.matches("__tostring failed: stdin:1: inner", e, 1, true)
    feed("error(setmetatable({}, {__tostring = function() while true do end end}))")
    _, e = take()
    assert.matches("instruction budget exceeded", e, 1, true)
    feed("error({code = 7})")
    _, e = take()
    assert.matches("(error object is a table value) { code = 7 }", e, 1, true)
    feed("1 + 1")
    assert.are.equal("2\n", take())
  end)

  it("shortens the traceback of a stack overflow", function()
    local _, feed, take = session()
    feed("function deep(n) return 1 + deep(n + 1) end")
    feed("deep(1)")
    local _, e = take()
    assert.matches("stack overflow", e, 1, true)
    assert.matches("(skipping %d+ levels)", e)
    assert.is_true(select(2, e:gsub("\n", "")) < 30)
    feed("error(nil)")
    _, e = take()
    assert.matches("^%(error object is a nil value%) nil\n", e)
    _G.deep = nil
  end)

  it("exit() raises the exit sentinel to the loop", function()
    local s = session()
    local ok, e = pcall(s.feed, s, "exit(3)")
    assert.is_false(ok)
    assert.are.equal(3, e.code)
  end)

  it("starts with the variables it is given (ev, run)", function()
    local _, feed, take = session { ev = { type = "failed", message = "m" } }
    feed("ev.type")
    assert.are.equal('"failed"\n', take())
  end)
end)

describe("repl.rewrite_locals", function()
  it("rewrites only top-level locals and keeps line numbers", function()
    local r = repl.rewrite_locals("local a, b = 1, 2\nlocal c\nlocal function f() local d = 1 end")
    assert.are.equal("__repl_local__.a, __repl_local__.b = 1, 2\n__repl_local__.c = nil\n" ..
      "__repl_local__.f = nil; function f() local d = 1 end", r)
    assert.are.equal("x = 'local y = 1' -- local z", repl.rewrite_locals("x = 'local y = 1' -- local z"))
    assert.are.equal("if a then local b = 1 end", repl.rewrite_locals("if a then local b = 1 end"))
  end)

  it("tells an unfinished chunk from a wrong one", function()
    assert.is_true(repl.incomplete(select(2, loadstring("for i = 1, 2 do", "=stdin"))))
    assert.is_true(repl.incomplete(select(2, loadstring("x = [[", "=stdin"))))
    assert.is_false(repl.incomplete(select(2, loadstring("x = = 1", "=stdin"))))
  end)
end)

describe("repl completion", function()
  it("completes globals, locals, fields and methods", function()
    local obj = setmetatable({}, { __index = { status = function() end, stop = function() end,
                                              _private = function() end } })
    local s = session { run = obj, cme = { version = function() end, av1 = {} } }
    assert.are.equal("sion", (s:complete("cme.ver")))
    assert.are.equal("", (s:complete("cme.zz")))
    local ins, list = s:complete("run:")
    assert.are.equal("st", ins) -- the common prefix of status and stop
    assert.is_nil(list)
    ins, list = s:complete("run:st")
    assert.are.equal("", ins)
    assert.matches("status", list, 1, true)
    assert.matches("stop", list, 1, true)
    assert.not_matches("_private", list, 1, true)
    assert.are.equal("tus(", (s:complete("x = run:sta")))
    assert.are.equal("int", (s:complete("pr"))) -- print, from _G
    assert.are.equal("", (s:complete("12.3")))
  end)
end)

describe("cmafeng.pretty", function()
  it("prints nested tables with sorted keys, functions, cycles and a depth limit", function()
    local t = { 3, 2, z = 1, a = "x", ["two words"] = true, [10] = false }
    assert.are.equal('{ 3, 2, [10] = false, a = "x", ["two words"] = true, z = 1 }', pretty.format(t))
    local c = { name = "c" }
    c.self = c
    assert.matches('^{ name = "c", self = <cycle: table: 0x%x+> }$', pretty.format(c))
    local deep = { a = { b = { c = { d = { e = 1 } } } } }
    assert.are.equal("{ a = { b = { ... 1 entry } } }", pretty.format(deep, { depth = 2 }))
    assert.are.equal("<function: builtin>", pretty.format(print))
    assert.matches("^<function: .*repl_spec.lua:%d+>$", pretty.format(function() end))
    assert.are.equal('"a\\nb\\0"', pretty.format("a\nb\0"))
  end)

  it("names userdata by their registry type and survives a failing __tostring", function()
    local ed = lineedit.new {}
    assert.matches("^<cmafeng.LineEdit: 0x%x+>$", pretty.format(ed))
    ed:close()
    local bad = setmetatable({}, { __tostring = function() error("no") end })
    assert.matches("__tostring failed", pretty.format(bad), 1, true)
    assert.matches("^{}$", pretty.format(bad, { raw = true }))
  end)
end)

describe("cmafeng.lineedit", function()
  it("interruptible works like xpcall", function()
    assert.are.same({ true, 1, 2 }, { lineedit.interruptible(function(a) return a, 2 end,
      debug.traceback, 1) })
    local ok, e = lineedit.interruptible(function() error("x", 0) end, function(m) return "h:" .. m end)
    assert.is_false(ok)
    assert.are.equal("h:x", e)
  end)

  it("a SIGINT interrupts a running loop under interruptible", function()
    lineedit.catch_interrupts(true)
    local pid = io.open("/proc/self/stat"):read("*n")
    local killer -- io.popen, not os.execute: system() ignores SIGINT while it runs
    local f = function()
      local t0 = os.clock()
      killer = io.popen("sleep 0.2; kill -INT " .. pid)
      local n = 0
      while os.clock() - t0 < 20 do n = n + 1 end
      return n
    end
    jit.off(f, true)
    local ok, e = lineedit.interruptible(f, function(m) return m end)
    lineedit.catch_interrupts(false)
    killer:close()
    assert.is_false(ok)
    assert.matches("interrupted", e, 1, true)
  end)
end)

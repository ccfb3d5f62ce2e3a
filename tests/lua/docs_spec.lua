-- docs/recipes.md documents every recipe key, every probe field and every module function:
-- a key added to the schema or the probe without a line in the docs fails here.
local recipe = require "cmafeng.recipe"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local doc = read("docs/recipes.md")
local function documented(name) return doc:find("`" .. name .. "`", 1, true) ~= nil end

describe("docs/recipes.md", function()
  it("documents every job key, rung, audio and device key", function()
    local missing = {}
    local function walk(spec, prefix)
      if spec.kind == "record" then
        for _, k in ipairs(spec.order) do
          if not documented(k) and not documented(prefix .. k) then
            missing[#missing + 1] = prefix .. k
          end
          walk(spec.fields[k], prefix .. k .. ".")
        end
      elseif spec.kind == "array" then
        walk(spec.item, prefix)
      end
    end
    walk(recipe.job_schema, "")
    assert.are.same({}, missing)
  end)

  it("documents every field cmafeng.probe returns", function()
    local function word(name) return doc:find("%f[%w_]" .. name .. "%f[^%w_]") ~= nil end
    local fields = {}
    -- Every set_* / lua_setfield name in the binding is a field.
    for name in read("engine/lua/probe.c"):gmatch('set_%a+%(L, "([%w_]+)"') do fields[name] = true end
    for name in read("engine/lua/probe.c"):gmatch('lua_setfield%(L, %-2, "([%w_]+)"') do
      fields[name] = true
    end
    local missing = {}
    -- cmafeng.core's own function names
    fields.media_probe, fields.scene_scores, fields.probe_encodes = nil, nil, nil
    for name in pairs(fields) do
      if not word(name) then missing[#missing + 1] = name end
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("documents every function of cmafeng.ladder and cmafeng.chunking", function()
    local missing = {}
    for mod, t in pairs { ladder = require "cmafeng.ladder", chunking = require "cmafeng.chunking",
                          per_title = require "cmafeng.per_title" } do
      for k, v in pairs(t) do
        if type(v) == "function" and k ~= "validate_policy" and k ~= "resolve"
           and not doc:find(mod .. "." .. k, 1, true) then
          missing[#missing + 1] = mod .. "." .. k
        end
      end
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)
end)

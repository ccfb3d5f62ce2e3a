-- cmafeng.outdir: one job per output directory, and never a mix of two jobs' files in it.
--
--   outdir.claim(dir, opts) -> claim | nil, message, exit_code
--     opts.resume: the job continues an interrupted run (keep its files)
--     opts.overwrite: an earlier job's presentation may be replaced
--     opts.note(msg): called with what was done ("removed 3 temp files of a killed run")
--   claim.resume: whether a journal to resume is there (false: start a normal run)
--   claim:release()
--
-- The claim holds OUT/.cmafeng-lock for the job's life (engine/core/outdir.c): a second
-- job into the same directory is refused with exit 2, naming the holder's pid. Under the
-- lock, temp files of a killed run (NAME.tmp.PID, written by nobody alive now) are removed.
-- A directory that holds an earlier job's output is refused unless the run resumes it or
-- --overwrite is given; --overwrite first moves the old presentation aside, manifests first,
-- then every rendition, into one hidden directory that is then deleted, so a player or a
-- `validate` never sees old manifests naming new segments, and no stale segment survives.
local core = require "cmafeng.core"

local fs = core.fs
local M = {}

M.LOCK = ".cmafeng-lock"
M.JOURNAL = ".cmafeng-journal"

-- Files of a presentation at the top of OUT, in the order they are moved aside: the entry
-- points first, so nothing ever points at a half-removed rendition.
local TOP_FILES = { "master.m3u8", "manifest.mpd", "report.json", M.JOURNAL }

-- NAME.tmp.PID of the atomic writer (engine/core/file.h), and report.json.tmp of earlier
-- versions' Lua writer.
local function is_temp(name)
  return name:match("%.tmp%.%d+$") ~= nil or name == "report.json.tmp"
end

local function is_rendition_dir(path)
  local names = fs.listdir(path)
  if not names then return false end
  for _, n in ipairs(names) do
    if n == "init.mp4" or n == "index.m3u8" or n:match("^seg_%d+%.m4s") then return true end
  end
  return false
end

-- Removes NAME.tmp.PID files in dir and its rendition directories. Returns the count.
local function remove_temps(dir)
  local removed = 0
  local function sweep(d)
    for _, n in ipairs(fs.listdir(d) or {}) do
      local p = d .. "/" .. n
      local st = fs.stat(p)
      if st and st.type == "file" and is_temp(n) then
        if os.remove(p) then removed = removed + 1 end
      end
    end
  end
  sweep(dir)
  for _, n in ipairs(fs.listdir(dir) or {}) do
    local st = fs.stat(dir .. "/" .. n)
    if st and st.type == "dir" and n:sub(1, 1) ~= "." then sweep(dir .. "/" .. n) end
  end
  return removed
end

-- What of an earlier job is in dir: { names in moving order }.
local function earlier_output(dir)
  local found, seen = {}, {}
  for _, n in ipairs(TOP_FILES) do
    if fs.stat(dir .. "/" .. n) then
      found[#found + 1] = n
      seen[n] = true
    end
  end
  local names = fs.listdir(dir) or {}
  table.sort(names)
  for _, n in ipairs(names) do
    local st = fs.stat(dir .. "/" .. n)
    -- ondemand/: the DASH on-demand files and their MPD (dash_ondemand), moved as one.
    if not seen[n] and st and st.type == "dir" and n:sub(1, 1) ~= "."
       and (is_rendition_dir(dir .. "/" .. n)
            or (n == "ondemand" and fs.stat(dir .. "/ondemand/manifest.mpd"))) then
      found[#found + 1] = n
    end
  end
  return found
end

local function move_aside(dir, names)
  local trash = string.format("%s/.cmafeng-old.%d", dir, fs.pid())
  local ok, err = fs.remove_tree(trash)
  if ok then ok, err = fs.mkdir(trash) end
  if not ok then return nil, err end
  for _, n in ipairs(names) do
    local rok, rerr = os.rename(dir .. "/" .. n, trash .. "/" .. n)
    if not rok then return nil, "cannot move the old " .. n .. " aside: " .. tostring(rerr) end
  end
  return fs.remove_tree(trash)
end

local Claim = {}
Claim.__index = Claim

function Claim:release()
  if self.lock then
    self.lock:release()
    self.lock = nil
  end
end

function M.claim(dir, opts)
  opts = opts or {}
  local note = opts.note or function() end
  local lock, err, kind = fs.lock(dir)
  if not lock then return nil, err, kind == "busy" and 2 or 1 end
  local claim = setmetatable({ lock = lock, dir = dir, resume = false }, Claim)
  local n = remove_temps(dir)
  -- An --overwrite killed while it deleted the old presentation leaves it aside, hidden.
  for _, name in ipairs(fs.listdir(dir) or {}) do
    if name:match("^%.cmafeng%-old%.%d+$") and fs.remove_tree(dir .. "/" .. name) then
      n = n + 1
    end
  end
  if n > 0 then note(string.format("%s: removed %d temp file%s of a killed run", dir, n,
                                   n == 1 and "" or "s")) end
  if opts.resume then
    if fs.stat(dir .. "/" .. M.JOURNAL) then
      claim.resume = true
      return claim
    end
    note(string.format("--resume: %s has no journal of an interrupted job: starting a " ..
                       "normal run", dir))
  end
  local old = earlier_output(dir)
  if #old > 0 then
    if not opts.overwrite then
      claim:release()
      return nil, string.format("%s: holds the output of another job (%s); use --overwrite to " ..
        "replace it%s", dir, table.concat(old, ", "),
        fs.stat(dir .. "/" .. M.JOURNAL) and " or --resume to continue it" or ""), 2
    end
    local ok, merr = move_aside(dir, old)
    if not ok then
      claim:release()
      return nil, dir .. ": --overwrite: " .. tostring(merr), 1
    end
    note(string.format("%s: --overwrite: removed the earlier job's %s", dir,
                       table.concat(old, ", ")))
  end
  return claim
end

return M

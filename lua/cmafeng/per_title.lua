-- cmafeng.per_title: ladders chosen from probe encodes of the source itself.
--
--   local ladder = require "cmafeng.ladder"
--   video = { ladder = ladder.per_title { source = info, bitrates = { 3e6, 1.2e6, 400e3 } } }
--
-- analyse(opts) encodes short sample windows spread over the source at every candidate size
-- (the ladder.standard boxes fitted to the source) and every CRF of a grid, decodes them and
-- measures luma PSNR and SSIM against the source at the largest size (the screen the
-- player upscales every rung to). Each size gives a rate-quality curve; the upper convex
-- hull across sizes is the best quality any rung can give at each rate. choose(analysis,
-- targets) picks, for each target bitrate, the hull point with the highest rate not above
-- it (or, for each target PSNR, the cheapest hull point that reaches it) and turns it into
-- a rung {width, height, crf}. A simple source reaches high quality at a low rate at full
-- size; a complex one moves to smaller sizes sooner: the ladders differ per title.
--
-- The probes run before the job starts, on the job's own devices: each probe encoder holds
-- a lease from the process-wide device pool (the recipe's `devices`, or its `workers` on
-- the "cpu" device), `workers` of them (the devices' sessions) at once, so a per-title
-- analysis never runs more encoders on a device than the job itself would. Pass the job's
-- `workers`/`devices` to ladder.per_title (recipe.load warns when they differ). Only
-- SVT-AV1 devices run probes. They write nothing to disk. The analysis (curves, hull,
-- choices, cost, which device ran each probe) is kept in M.last for recipe.load, which puts
-- it in report.json (per_title) and an SVG plot next to it.

local core = require "cmafeng.core"
local schema = require "cmafeng.schema"

local S = schema
local M = {}

M.DEFAULT_CRFS = { 20, 27, 34, 41, 48, 55 }
M.DEFAULT_HEIGHTS = { 1080, 720, 540, 360, 240 }

local opts_spec = S.record {
  source = S.record({ video = S.record({}, { open = true }) },
                    { open = true, desc = "the table cmafeng.probe returns" }),
  heights = S.array(S.integer { min = 64, max = 8192, even = true },
                    { min = 1, max = 16, optional = true, of_desc = "even heights" }),
  crfs = S.array(S.integer { min = 1, max = 63 }, { min = 2, max = 16, optional = true }),
  windows = S.integer { min = 1, max = 20, default = 3, desc = "sample windows" },
  window_seconds = S.number { gt = 0, max = 10, default = 1 },
  preset = S.integer { min = -1, max = 13, default = 10, desc = "the rungs' preset" },
  probe_preset = S.integer { min = -1, max = 13, default = 12,
                             desc = "the probes' preset: fast, the curves' shape holds" },
  bitrates = S.array(S.integer { min = 10000, max = 1000000000 },
                     { min = 1, max = 16, optional = true, of_desc = "target bit rates (bit/s)" }),
  psnr = S.array(S.number { gt = 0, max = 100 },
                 { min = 1, max = 16, optional = true, of_desc = "target PSNRs (dB)" }),
  -- Where the probes run: the job's `workers` (on its "cpu" device) or its `devices` (the
  -- SVT-AV1 ones), and its threads_per_worker.
  workers = S.integer { min = 1, max = 64, default = 2, desc = "the job's workers" },
  devices = S.array(S.record({
    backend = S.string { non_empty = true },
    id = S.string { non_empty = true, max_len = 31, optional = true },
    sessions = S.integer { min = 1, max = 64, optional = true },
    threads = S.integer { min = 0, max = 64, optional = true },
  }, { open = true }), { min = 1, max = 16, optional = true, of_desc = "the job's devices" }),
  threads_per_worker = S.integer { min = 0, max = 64, default = 0 },
}

-- The devices probes lease, as the engine names them (engine/job/engine.c setup_devices):
-- "cpu" with `workers` sessions, or each declared SVT-AV1 device ("<backend>:<index>").
function M.probe_devices(o)
  local out, parallel = {}, 0
  if not o.devices then
    out[1] = { id = "cpu", sessions = o.workers, threads = o.threads_per_worker }
    return out, o.workers
  end
  for i, d in ipairs(o.devices) do
    if d.backend == "svt" then
      local sessions = d.sessions or 1
      out[#out + 1] = { id = d.id or ("svt:" .. (i - 1)), sessions = sessions,
                        threads = d.threads or o.threads_per_worker }
      parallel = parallel + sessions
    end
  end
  return out, parallel
end

local function pooled_psnr(points)
  -- Pools mean squared errors, weighted by frames: the PSNR of the windows taken together.
  local mse, frames = 0, 0
  for _, p in ipairs(points) do
    mse = mse + p.frames * 255 * 255 / 10 ^ (p.psnr / 10)
    frames = frames + p.frames
  end
  mse = mse / frames
  return mse > 0 and 10 * math.log10(255 * 255 / mse) or 100
end

-- The upper convex hull of points {rate, psnr} (rate ascending), keeping only the part
-- where quality still rises: no point on it is beaten by a mix of two others.
function M.hull(points)
  local pts = {}
  for i, p in ipairs(points) do pts[i] = p end
  table.sort(pts, function(a, b)
    if a.rate ~= b.rate then return a.rate < b.rate end
    return a.psnr > b.psnr
  end)
  local h = {}
  for _, p in ipairs(pts) do
    while #h >= 2 do
      local a, b = h[#h - 1], h[#h]
      -- b is under the chord a-p (or on it): drop it.
      local cross = (b.rate - a.rate) * (p.psnr - a.psnr) - (b.psnr - a.psnr) * (p.rate - a.rate)
      if cross >= 0 then h[#h] = nil else break end
    end
    h[#h + 1] = p
  end
  -- Past the best quality the hull only costs bits.
  local best = 1
  for i, p in ipairs(h) do if p.psnr > h[best].psnr then best = i end end
  for i = #h, best + 1, -1 do h[i] = nil end
  return h
end

-- analyse(opts) -> analysis; raises with the option or the C message on bad input.
function M.analyse(opts, level)
  level = (level or 1) + 1
  local o, err = schema.check(opts_spec, opts or {}, "")
  if not o then error("ladder.per_title: " .. err, level) end
  local info = o.source
  local v = info.video
  local path = info.path
  local ladder = require "cmafeng.ladder"
  local sizes = ladder.standard { source = info, heights = o.heights or M.DEFAULT_HEIGHTS }
  local usable = {}
  for _, r in ipairs(sizes) do
    if r.height >= 64 and r.width >= 64 then usable[#usable + 1] = r end
  end
  if #usable == 0 then
    error(string.format("ladder.per_title: %s: the display size %dx%d is too small for probe "
                        .. "encodes (SVT-AV1 needs 64 lines)", path, v.display_width,
                        v.display_height), level)
  end
  local ref = usable[1] -- the largest: the screen every rung is compared on
  local crfs = o.crfs or M.DEFAULT_CRFS
  local probes = {}
  for _, r in ipairs(usable) do
    for _, crf in ipairs(crfs) do probes[#probes + 1] = { width = r.width, height = r.height, crf = crf } end
  end
  local duration = v.duration or info.duration or 0
  local fps = v.fps or 25
  local frames = math.max(1, math.floor(o.window_seconds * fps + 0.5))
  local devices, parallel = M.probe_devices(o)
  if #devices == 0 then
    error("ladder.per_title: devices: no SVT-AV1 device (backend = \"svt\") to run the probe "
          .. "encodes on", level)
  end
  local wall, seconds = 0, 0
  local acc = {}
  local starts = {}
  local runs = {} -- every probe encode: window, size, crf, device, seconds
  for w = 1, o.windows do
    -- Windows centred in equal parts of the source.
    local start = math.max(0, (w - 0.5) * duration / o.windows - o.window_seconds / 2)
    starts[w] = start
    local res, perr = core.probe_encodes(path, { start = start, frames = frames,
      ref_width = ref.width, ref_height = ref.height, preset = o.probe_preset, probes = probes,
      devices = devices, parallel = parallel })
    if not res then error("ladder.per_title: " .. perr, level) end
    wall = wall + res.wall_seconds
    seconds = seconds + res.seconds
    for i, p in ipairs(res.probes) do
      runs[#runs + 1] = { window = w, width = p.width, height = p.height, crf = p.crf,
                          device = p.device, seconds = p.encode_seconds }
      acc[i] = acc[i] or { width = p.width, height = p.height, crf = p.crf, bytes = 0,
                           windows = {} }
      acc[i].bytes = acc[i].bytes + p.bytes
      acc[i].windows[#acc[i].windows + 1] = p
    end
  end
  local curves, all = {}, {}
  for _, r in ipairs(usable) do
    curves[#curves + 1] = { width = r.width, height = r.height, name = r.name, points = {} }
  end
  for _, a in ipairs(acc) do
    local ssim, nf = 0, 0
    for _, p in ipairs(a.windows) do
      ssim = ssim + p.ssim * p.frames
      nf = nf + p.frames
    end
    local pt = { width = a.width, height = a.height, crf = a.crf,
                 rate = a.bytes * 8 / seconds, psnr = pooled_psnr(a.windows), ssim = ssim / nf }
    all[#all + 1] = pt
    for _, c in ipairs(curves) do
      if c.width == a.width and c.height == a.height then c.points[#c.points + 1] = pt end
    end
  end
  for _, c in ipairs(curves) do
    table.sort(c.points, function(a, b) return a.rate < b.rate end)
  end
  return {
    source = path,
    reference = { width = ref.width, height = ref.height },
    windows = o.windows, window_starts = starts, window_frames = frames,
    window_seconds = seconds / o.windows, probe_preset = o.probe_preset,
    curves = curves, hull = M.hull(all),
    probe_seconds = wall, probe_count = #probes * o.windows,
    probe_devices = devices, probe_parallel = parallel, probes = runs,
    targets = { bitrates = o.bitrates, psnr = o.psnr },
  }
end

local function describe(p)
  return string.format("%dx%d crf %d: %.0f kbit/s, %.2f dB", p.width, p.height, p.crf,
                       p.rate / 1000, p.psnr)
end

-- choose(analysis, {bitrates = {...}} or {psnr = {...}}, preset) -> rungs, choices
-- Raises when a target is out of reach of every probe, naming it.
function M.choose(a, targets, preset, level)
  level = (level or 1) + 1
  local hull = a.hull
  local picks = {}
  if targets.bitrates then
    for i, t in ipairs(targets.bitrates) do
      local best
      for _, p in ipairs(hull) do if p.rate <= t then best = p end end
      if not best then
        error(string.format("ladder.per_title: bitrates[%d]: %d bit/s is below every probe "
                            .. "(the cheapest is %s); lower the target or add a higher CRF",
                            i, t, describe(hull[1])), level)
      end
      picks[#picks + 1] = { target = t, kind = "bitrate", point = best }
    end
  end
  if targets.psnr then
    for i, q in ipairs(targets.psnr) do
      local best
      for _, p in ipairs(hull) do if p.psnr >= q then best = p break end end
      if not best then
        error(string.format("ladder.per_title: psnr[%d]: %.2f dB is above every probe (the "
                            .. "best is %s); lower the target or add a lower CRF", i, q,
                            describe(hull[#hull])), level)
      end
      picks[#picks + 1] = { target = q, kind = "psnr", point = best }
    end
  end
  table.sort(picks, function(x, y) return x.point.rate > y.point.rate end)
  local rungs, seen, names = {}, {}, {}
  for _, pk in ipairs(picks) do
    local p = pk.point
    local key = p.width .. "x" .. p.height .. "@" .. p.crf
    if seen[key] then
      pk.duplicate_of = seen[key]
    else
      local name = string.format("%dp", math.min(p.width, p.height))
      if names[name] then name = string.format("%s-%dk", name, math.floor(p.rate / 1000 + 0.5)) end
      names[name] = true
      seen[key] = name
      pk.rung = name
      rungs[#rungs + 1] = { name = name, width = p.width, height = p.height, crf = p.crf,
                            preset = preset }
    end
  end
  a.choices = picks
  return rungs, picks
end

-- svg(analysis) -> an SVG document: PSNR against bit rate (log scale), one curve per size,
-- the hull dashed, the chosen points circled.
function M.svg(a)
  local W, H, L, R, T, B = 720, 440, 60, 150, 20, 50
  local minr, maxr, minq, maxq = math.huge, 0, math.huge, -math.huge
  for _, c in ipairs(a.curves) do
    for _, p in ipairs(c.points) do
      minr, maxr = math.min(minr, p.rate), math.max(maxr, p.rate)
      minq, maxq = math.min(minq, p.psnr), math.max(maxq, p.psnr)
    end
  end
  if maxr <= minr then maxr = minr * 2 end
  if maxq <= minq then maxq = minq + 1 end
  local lr0, lr1 = math.log(minr) - 0.05, math.log(maxr) + 0.05
  local function x(r) return L + (math.log(r) - lr0) / (lr1 - lr0) * (W - L - R) end
  local function y(q) return T + (maxq + 0.5 - q) / (maxq - minq + 1) * (H - T - B) end
  local out = {}
  local function add(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">', W, H)
  add('<rect width="%d" height="%d" fill="white"/>', W, H)
  add('<text x="%d" y="%d">PSNR (dB, luma, at %dx%d) against bit rate (kbit/s, log): %s</text>',
      L, T - 6, a.reference.width, a.reference.height, tostring(a.source):gsub("[<>&\"]", "_"))
  add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>', L, H - B, W - R, H - B)
  add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>', L, T, L, H - B)
  for _, r in ipairs { 30e3, 100e3, 300e3, 1e6, 3e6, 10e6, 30e6 } do
    if r >= minr * 0.9 and r <= maxr * 1.1 then
      add('<text x="%.1f" y="%d" text-anchor="middle">%d</text>', x(r), H - B + 14, r / 1000)
    end
  end
  for q = math.ceil(minq), math.floor(maxq + 0.5), 2 do
    add('<text x="%d" y="%.1f" text-anchor="end">%d</text>', L - 4, y(q) + 4, q)
  end
  local colours = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2" }
  for i, c in ipairs(a.curves) do
    local col = colours[(i - 1) % #colours + 1]
    local pts = {}
    for j, p in ipairs(c.points) do pts[j] = string.format("%.1f,%.1f", x(p.rate), y(p.psnr)) end
    add('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>', col, table.concat(pts, " "))
    for _, p in ipairs(c.points) do
      add('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s</title></circle>', x(p.rate), y(p.psnr), col, describe(p))
    end
    add('<text x="%d" y="%d" fill="%s">%dx%d</text>', W - R + 10, T + 14 * i, col, c.width, c.height)
  end
  local hp = {}
  for j, p in ipairs(a.hull) do hp[j] = string.format("%.1f,%.1f", x(p.rate), y(p.psnr)) end
  add('<polyline fill="none" stroke="black" stroke-dasharray="4 3" points="%s"/>', table.concat(hp, " "))
  add('<text x="%d" y="%d">- - convex hull</text>', W - R + 10, T + 14 * (#a.curves + 1))
  for _, pk in ipairs(a.choices or {}) do
    add('<circle cx="%.1f" cy="%.1f" r="7" fill="none" stroke="black" stroke-width="2"><title>chosen: %s</title></circle>',
        x(pk.point.rate), y(pk.point.psnr), describe(pk.point))
  end
  add('<text x="%d" y="%d">o chosen rungs</text>', W - R + 10, T + 14 * (#a.curves + 2))
  add("</svg>")
  return table.concat(out, "\n") .. "\n"
end

return M

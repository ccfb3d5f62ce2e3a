-- mixed_devices.lua: one ladder served by several kinds of encoder at once.
--
--   cmafeng run recipes/mixed_devices.lua -- input.mkv
--   cmafeng devices            # which backends and GPUs this machine has
--
-- Every device takes chunks of any rung; each chunk becomes one CMAF segment. Different
-- encoders may serve the same rendition when their sequence headers agree in what a CMAF
-- AV1 track fixes (profile, level, tier, colour config, initial presentation delay: the
-- codec invariant, `invariant = "cmaf"`). When they do not, the first device to deliver a
-- segment sets the rendition's header; the other device's chunks of that rung are
-- requeued to the devices that match, and the `requeue` event names the fields that
-- differ, e.g. "seq_level_idx[0] 0 != 31". Nothing is lost either way.
--
-- What agrees here (measured with Debian 12's SVT-AV1 1.4.1 and libaom 3.6):
--   * SVT-AV1 and libaom-av1 both signal the level they compute from size and frame rate
--     (2.0 at 320x180, 3.1 at 720p 25 fps), so at default levels they share renditions.
--     Forcing `level` on the SVT-AV1 device pins it; libaom cannot be forced (the check
--     refuses `level` on an aom device rather than ignore it).
--   * rav1e 0.5 always signals level 31 ("maximum") and a colour description: it never
--     shares a rendition with SVT-AV1 or libaom, but happily serves renditions of its own.
--
-- The rung's `preset` is read in each backend's own range, checked before the job starts:
-- SVT-AV1 enc_mode -1..13, libaom cpu-used 0..8, rav1e speed 0..10, GPUs 1..7. A preset
-- all of them accept (here 8) lets any device take any rung.

local source = arg[1]
if not source then
  error("usage: cmafeng run recipes/mixed_devices.lua -- SOURCE", 0)
end

return {
  source = source,
  output = "out",
  segment_seconds = 2,
  invariant = "cmaf",

  devices = {
    -- The CPU as two kinds of encoder, one thread each.
    { backend = "svt", id = "cpu-svt", sessions = 1, threads = 1 },
    { backend = "aom", id = "cpu-aom", sessions = 1, threads = 1 },
    -- A GPU when there is one (`cmafeng devices` lists them); a backend whose device or
    -- FFmpeg encoder is missing stops the job before it starts, with the reason:
    -- { backend = "nvenc", id = "gpu0", sessions = 2 },
    -- { backend = "vaapi", id = "igpu", sessions = 1 },
  },

  video = {
    ladder = {
      { width = 1280, height = 720, crf = 35, preset = 8 },
      { width = 640,  height = 360, crf = 35, preset = 8 },
    },
  },

  -- Requeues are policy decisions made visible: count them per device.
  on_requeue = function(ev)
    print(string.format("requeued %s segment %d away from %s", ev.rendition, ev.index, ev.device))
  end,
}

-- cmafeng.report: the audio and subtitle renditions of report.json, built from the engine's
-- events. Every audio rendition (the first, "audio", and the others, "audio_2", ...) and
-- every subtitle rendition ("subs", "subs_2", ...) sends an init event (audio) and one
-- segment event per segment, with `rendition` and `language`; the video rungs are the
-- runloop's.
--
--   report.new_tracks(report)             adds report.audio_renditions and report.subtitles
--   report.track_event(report, ev) -> bool  handles an audio or text init/segment event
--   report.finish_tracks(report, output)  fills what only the files tell (the first audio
--                                         rendition's language, from its init segment)
--
-- report.audio_renditions[i] = { name, language, codecs, channels, sample_rate, segments,
--                                bytes, duration }
-- report.subtitles[i]        = { name, language, codecs = "wvtt", format = "webvtt",
--                                segments, bytes, duration }
-- Each segment also goes into report.segments with its rendition's name.
local M = {}

function M.new_tracks(report)
  report.audio_renditions = {}
  report.subtitles = {}
end

-- The entry of ev's rendition in list, created on first sight (in event order).
local function entry(list, ev, extra)
  for _, e in ipairs(list) do
    if e.name == ev.rendition then return e end
  end
  local e = { name = ev.rendition, language = ev.language, segments = 0, bytes = 0, duration = 0 }
  for k, v in pairs(extra or {}) do e[k] = v end
  list[#list + 1] = e
  return e
end

function M.track_event(report, ev)
  if not (ev.audio or ev.text) or (ev.type ~= "segment" and ev.type ~= "init") then
    return false
  end
  if not report.audio_renditions then M.new_tracks(report) end
  local e
  if ev.text then
    e = entry(report.subtitles, ev, { format = "webvtt" })
  else
    e = entry(report.audio_renditions, ev)
    -- The first rendition is also report.audio, with the recipe's settings.
    if ev.rendition == "audio" and report.audio then
      e.channels, e.sample_rate = report.audio.channels, report.audio.sample_rate
    end
  end
  e.codecs = ev.codecs or e.codecs
  e.language = ev.language or e.language
  if ev.type == "init" then
    if ev.rendition == "audio" and report.audio then report.audio.codecs = ev.codecs end
    return true
  end
  e.segments = e.segments + 1
  e.bytes = e.bytes + ev.bytes
  e.duration = e.duration + ev.duration
  if ev.rendition == "audio" and report.audio then
    local rep = report.audio
    rep.segments = rep.segments + 1
    rep.bytes = rep.bytes + ev.bytes
    rep.duration = rep.duration + ev.duration
  end
  report.segments[#report.segments + 1] = {
    rendition = ev.rendition, index = ev.index, bytes = ev.bytes, start = ev.start,
    duration = ev.duration, frames = ev.frames, language = ev.language,
  }
  return true
end

function M.finish_tracks(report, output)
  local first = report.audio_renditions and report.audio_renditions[1]
  if first and first.name == "audio" and not first.language then
    local ok, core = pcall(require, "cmafeng.core")
    local info = ok and core.inspect and core.inspect(output .. "/audio/init.mp4")
    if info and info.language then
      first.language = info.language
      if report.audio then report.audio.language = info.language end
    end
  end
end

return M

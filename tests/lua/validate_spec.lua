-- cmafeng.validate: the manifest parsing helpers on small literal inputs. The checks against
-- a real output directory are covered by tests/e2e/test_validate.sh.
local v = require "cmafeng.validate"

describe("validate.parse_attributes", function()
  it("reads quoted strings with commas, enumerated and numeric values", function()
    local a = assert(v.parse_attributes(
      'BANDWIDTH=383499,CODECS="av01.0.00M.08,mp4a.40.2",RESOLUTION=320x180,AUDIO="audio"'))
    assert.are.equal("383499", a.BANDWIDTH)
    assert.are.equal("av01.0.00M.08,mp4a.40.2", a.CODECS)
    assert.are.equal("320x180", a.RESOLUTION)
    assert.are.equal("audio", a.AUDIO)
  end)

  it("rejects malformed lists", function()
    assert.is_nil(v.parse_attributes('CODECS="av01'))
    assert.is_nil(v.parse_attributes("lower=1"))
    assert.is_nil(v.parse_attributes('URI="a" X=1'))
  end)
end)

describe("validate.parse_m3u8", function()
  it("reads a multivariant playlist: variants with their URI, EXT-X-MEDIA groups", function()
    local p = assert(v.parse_m3u8(table.concat({
      "#EXTM3U", "#EXT-X-VERSION:7",
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",URI="audio/index.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=1000,CODECS="av01.0.00M.08,mp4a.40.2",RESOLUTION=320x180',
      "180p/index.m3u8",
      "#EXT-X-STREAM-INF:BANDWIDTH=500",
      "", "90p/index.m3u8", "" }, "\n")))
    assert.are.equal("master", p.kind)
    assert.are.same({}, p.errors)
    assert.are.equal(2, #p.variants)
    assert.are.equal("180p/index.m3u8", p.variants[1].uri)
    assert.are.equal("1000", p.variants[1].attrs.BANDWIDTH)
    assert.are.equal("90p/index.m3u8", p.variants[2].uri)
    assert.are.equal(1, #p.media)
    assert.are.equal("AUDIO", p.media[1].attrs.TYPE)
    assert.are.equal("audio/index.m3u8", p.media[1].attrs.URI)
  end)

  it("reads a media playlist: map, target duration, segments, endlist (CRLF too)", function()
    local p = assert(v.parse_m3u8(table.concat({
      "#EXTM3U", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:1",
      '#EXT-X-MAP:URI="init.mp4"', "#EXTINF:1.000000,", "seg_00001.m4s",
      "#EXTINF:0.5,title", "seg_00002.m4s", "#EXT-X-ENDLIST" }, "\r\n")))
    assert.are.equal("media", p.kind)
    assert.are.same({}, p.errors)
    assert.are.equal(2, p.target_duration)
    assert.are.equal("init.mp4", p.map.uri)
    assert.is_true(p.endlist)
    assert.are.equal(2, #p.segments)
    assert.are.equal(1.0, p.segments[1].duration)
    assert.are.equal(5, p.segments[1].extinf_line)
    assert.are.equal(0.5, p.segments[2].duration)
    assert.are.equal("seg_00002.m4s", p.segments[2].uri)
  end)

  it("refuses text without #EXTM3U first and reports structural errors by line", function()
    local p, err = v.parse_m3u8("\n#EXTM3U\n")
    assert.is_nil(p)
    assert.matches("#EXTM3U", err, 1, true)
    p = assert(v.parse_m3u8("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"))
    assert.matches("line 2: EXT-X-STREAM-INF is not followed by a URI", p.errors[1], 1, true)
    p = assert(v.parse_m3u8("#EXTM3U\n#EXTINF:abc\nseg.m4s\nstray.m4s\n"))
    assert.matches("line 2: malformed EXTINF", p.errors[1], 1, true)
    assert.matches("line 4: URI stray.m4s follows neither", p.errors[2], 1, true)
  end)
end)

describe("validate.peak_bitrate", function()
  it("takes the largest rate over runs of 0.5 to 1.5 target durations", function()
    -- a 0.1 s tail is never a run on its own: it joins the segment before it
    local peak = v.peak_bitrate({ 1000, 1000, 50 }, { 1, 1, 0.1 }, 1)
    assert.are.equal(8000, peak)
    assert.are.equal((1000 + 500) * 8 / 1.1, v.peak_bitrate({ 100, 1000, 500 }, { 1, 1, 0.1 }, 1))
    -- no qualifying run: fall back to single segments
    assert.are.equal(800, v.peak_bitrate({ 10 }, { 0.1 }, 4))
  end)
end)

describe("validate DASH helpers", function()
  it("expands SegmentTemplate identifiers", function()
    local vars = { RepresentationID = "180p", Number = 7, Time = 90000, Bandwidth = 1000 }
    assert.are.equal("180p/seg_00007.m4s", v.expand_template("$RepresentationID$/seg_$Number%05d$.m4s", vars))
    assert.are.equal("t90000-$.m4s", v.expand_template("t$Time$-$$.m4s", vars))
    assert.is_nil(v.expand_template("$Nope$.m4s", vars))
    assert.is_nil(v.expand_template("$Number%s$.m4s", vars))
    assert.is_nil(v.expand_template("seg_$Number.m4s", vars))
  end)

  it("expands a SegmentTimeline with t defaults and repeats", function()
    assert.are.same({ { t = 0, d = 48128 }, { t = 48128, d = 48128 }, { t = 96256, d = 1342 } },
      v.expand_timeline { { t = 0, d = 48128, r = 1 }, { d = 1342 } })
    assert.are.same({ { t = 10, d = 5 }, { t = 15, d = 5 }, { t = 20, d = 5 }, { t = 25, d = 5 },
                      { t = 30, d = 2 } },
      v.expand_timeline { { t = 10, d = 5, r = -1 }, { t = 30, d = 2 } })
    assert.is_nil(v.expand_timeline { { d = 5, r = -1 } })
  end)

  it("parses an MPD: template inheritance, timeline, codecs, entities, comments", function()
    local reps = assert(v.parse_mpd([[<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><!-- a <comment> -->
  <Period id="0">
    <AdaptationSet contentType="video" codecs="av01.0.00M.08">
      <SegmentTemplate timescale="90000" media="$RepresentationID$/seg_$Number%05d$.m4s"
                       initialization="$RepresentationID$/init.mp4" startNumber="1">
        <SegmentTimeline><S t="0" d="90000" r="1"/><S d="45000"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="a&amp;b" bandwidth="1000" width="320" height="180"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio">
      <Representation id="audio" codecs='mp4a.40.2' bandwidth="128000">
        <SegmentTemplate timescale="48000" initialization="audio/init.mp4"
                         media="audio/seg_$Number%05d$.m4s" startNumber="3">
          <SegmentTimeline><S t="0" d="48128"/></SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>]]))
    assert.are.equal(2, #reps)
    local r = reps[1]
    assert.are.equal("a&b", r.id)
    assert.are.equal("av01.0.00M.08", r.codecs)
    assert.are.equal(320, r.width)
    assert.are.equal(90000, r.timescale)
    assert.are.equal(3, #r.timeline)
    assert.are.same({ t = 180000, d = 45000 }, r.timeline[3])
    assert.are.equal("audio", reps[2].content)
    assert.are.equal("mp4a.40.2", reps[2].codecs)
    assert.are.equal(3, reps[2].start_number)
  end)

  it("reports malformed XML", function()
    assert.is_nil(v.parse_mpd("<MPD><Period></MPD>"))
    assert.is_nil(v.parse_mpd("<MPD"))
    local _, err = v.parse_mpd("<Other/>")
    assert.matches("no MPD element", err, 1, true)
  end)
end)

describe("validate.join", function()
  it("resolves relative URIs and refuses others", function()
    assert.are.equal("180p/seg_00001.m4s", v.join("180p", "seg_00001.m4s"))
    assert.are.equal("audio/index.m3u8", v.join("", "audio/index.m3u8"))
    assert.are.equal("audio/init.mp4", v.join("180p", "../audio/./init.mp4"))
    assert.is_nil(v.join("", "../outside.m4s"))
    assert.is_nil(v.join("", "https://cdn.example/seg.m4s"))
    assert.is_nil(v.join("", "/abs/seg.m4s"))
  end)
end)

describe("validate.first_diff", function()
  it("names the first differing field of two sequence headers", function()
    assert.is_nil(v.first_diff({ a = 1, c = { d = 2 } }, { a = 1, c = { d = 2 } }, ""))
    assert.are.equal("c.d", v.first_diff({ a = 1, c = { d = 2 } }, { a = 1, c = { d = 3 } }, ""))
  end)
end)

/*
 * Static DASH MPD (ISO/IEC 23009-1): one Period, one video AdaptationSet with one
 * Representation per video rendition, then one audio AdaptationSet for the audio rendition
 * (one AdaptationSet per media type, 5.3.3), each Representation with a SegmentTemplate and
 * a SegmentTimeline of the exact segment durations (5.3.9.6), so no player has to assume a
 * constant duration.
 * Names and codecs are validated (mux/manifest.h) to need no XML escaping.
 */
#include <inttypes.h>
#include <string.h>

#include "cmafeng/mux.h"
#include "core/buf.h"
#include "core/outpath.h"
#include "mux/manifest.h"

/*
 * The isoff-live profile (ISO/IEC 23009-1 8.4) is the one every player implements for
 * SegmentTemplate content; our segments meet it (styp 'msdh', one moof/mdat pair each,
 * init segment separate). The CMAF profile (urn:mpeg:dash:profile:cmaf:2019) would fit too
 * but is less widely recognised by deployed players, so it is not announced.
 */
#define DASH_PROFILE "urn:mpeg:dash:profile:isoff-live:2011"
/* One indexed file per Representation (ISO/IEC 23009-1 8.3): SegmentBase with a sidx. */
#define DASH_PROFILE_ONDEMAND "urn:mpeg:dash:profile:isoff-on-demand:2011"

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* An xs:duration with millisecond precision ("PT10.000S"), from milliseconds. */
static void write_duration(CmeBuf *b, uint64_t ms)
{
    cme__buf_printf(b, "PT%" PRIu64 ".%03" PRIu64 "S", ms / 1000, ms % 1000);
}

/*
 * SegmentTimeline (ISO/IEC 23009-1 5.3.9.6): runs of equal durations share one S with
 * r = repeat count. The first S carries t; a later S carries t only where the timeline
 * is not contiguous, which a correct pipeline never produces but a gap must not be
 * hidden.
 */
static void write_timeline(CmeBuf *b, const CmeRendition *r)
{
    cme__buf_printf(b, "          <SegmentTimeline>\n");
    size_t i = 0;
    while (i < r->nb_segments) {
        const CmeSegmentEntry *s = &r->segments[i];
        size_t run = 1;
        while (i + run < r->nb_segments && r->segments[i + run].duration == s->duration &&
               r->segments[i + run].start == s->start + run * s->duration)
            run++;
        cme__buf_printf(b, "            <S");
        if (i == 0 || s->start != r->segments[i - 1].start + r->segments[i - 1].duration)
            cme__buf_printf(b, " t=\"%" PRIu64 "\"", s->start);
        cme__buf_printf(b, " d=\"%" PRIu64 "\"", s->duration);
        if (run > 1)
            cme__buf_printf(b, " r=\"%zu\"", run - 1);
        cme__buf_printf(b, "/>\n");
        i += run;
    }
    cme__buf_printf(b, "          </SegmentTimeline>\n");
}

/* On demand (ISO/IEC 23009-1 5.3.9.2, 8.3.3): the file, then its index and init ranges. The
 * schema's order puts BaseURL before SegmentBase. */
static void write_segment_base(CmeBuf *b, const CmeRendition *r, const CmeDashIndex *ix)
{
    cme__buf_printf(b, "        <BaseURL>%s</BaseURL>\n", ix->url);
    cme__buf_printf(b,
                    "        <SegmentBase timescale=\"%" PRIu32 "\" indexRange=\"%" PRIu64
                    "-%" PRIu64 "\" indexRangeExact=\"true\">\n"
                    "          <Initialization range=\"0-%" PRIu64 "\"/>\n"
                    "        </SegmentBase>\n",
                    r->timescale, ix->index_start, ix->index_end, ix->init_end);
}

static void write_segment_template(CmeBuf *b, const CmeRendition *r, const CmeDashIndex *ix)
{
    if (ix) {
        write_segment_base(b, r, ix);
        return;
    }
    cme__buf_printf(b,
                    "        <SegmentTemplate timescale=\"%" PRIu32
                    "\" initialization=\"%s/" CME_OUT_INIT "\" media=\"%s/" CME_OUT_SEGMENT_DASH_FMT
                    "\""
                    " startNumber=\"%" PRIu32 "\">\n",
                    r->timescale, r->name, r->name, r->start_number);
    write_timeline(b, r);
    cme__buf_printf(b, "        </SegmentTemplate>\n");
}

/* HDR video (DASH-IF IOP 4.3, 6.2.5): the colour code points as CICP descriptors
 * (ISO/IEC 23001-8 URNs) on the video AdaptationSet, when its renditions signal a PQ or HLG
 * transfer and all agree (every rung is encoded from one source). SDR writes nothing. */
static void write_hdr_properties(CmeBuf *b, const CmeRendition *r, size_t nb)
{
    int cp = -1, tc = -1, mc = -1;
    for (size_t i = 0; i < nb; i++) {
        if (r[i].is_audio)
            continue;
        int p, t, m;
        if (cme__codecs_colour(r[i].codecs, &p, &t, &m) < 0 ||
            (cp >= 0 && (p != cp || t != tc || m != mc)))
            return;
        cp = p;
        tc = t;
        mc = m;
    }
    if (tc != 16 && tc != 18)
        return;
    static const char *const names[3] = { "ColourPrimaries", "TransferCharacteristics",
                                          "MatrixCoefficients" };
    const int values[3] = { cp, tc, mc };
    for (int i = 0; i < 3; i++)
        cme__buf_printf(b,
                        "      <SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:%s\" "
                        "value=\"%d\"/>\n",
                        names[i], values[i]);
}

/* ix: the rendition's file in on-demand output, NULL for segments. */
static void write_representation(CmeBuf *b, const CmeRendition *r, const CmeDashIndex *ix)
{
    /* FrameRateType (ISO/IEC 23009-1 5.3.12.2) is "N" or "N/D"; reduce it first. */
    uint64_t g = gcd_u64(r->fps_num, r->fps_den);
    uint64_t fps_num = r->fps_num / g, fps_den = r->fps_den / g;
    cme__buf_printf(b,
                    "      <Representation id=\"%s\" codecs=\"%s\" bandwidth=\"%" PRIu64
                    "\" width=\"%" PRIu32 "\" height=\"%" PRIu32 "\" frameRate=\"%" PRIu64,
                    r->name, r->codecs, r->peak_bandwidth, r->width, r->height, fps_num);
    if (fps_den != 1)
        cme__buf_printf(b, "/%" PRIu64, fps_den);
    /* Square pixels: the encoder scales each rung to its display size. */
    cme__buf_printf(b, "\" sar=\"1:1\">\n");
    write_segment_template(b, r, ix);
    cme__buf_printf(b, "      </Representation>\n");
}

/*
 * The audio AdaptationSet (ISO/IEC 23009-1 5.3.3, 5.3.7): lang (RFC 5646) when known;
 * startWithSAP 1 because every AAC access unit is a SAP of type 1, so every segment starts
 * with one; audioSamplingRate in Hz (5.3.7.2); AudioChannelConfiguration with the 23003-3
 * scheme, whose value is the channel count (5.8.5.4), as DASH-IF IOP recommends for AAC.
 */
static void write_audio_representation(CmeBuf *b, const CmeRendition *r, const CmeDashIndex *ix)
{
    cme__buf_printf(b,
                    "      <Representation id=\"%s\" codecs=\"%s\" bandwidth=\"%" PRIu64
                    "\" audioSamplingRate=\"%" PRIu32 "\">\n",
                    r->name, r->codecs, r->peak_bandwidth, r->sample_rate);
    cme__buf_printf(b,
                    "        <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:"
                    "audio_channel_configuration:2011\" value=\"%" PRIu32 "\"/>\n",
                    r->channels);
    write_segment_template(b, r, ix);
    cme__buf_printf(b, "      </Representation>\n");
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Renditions that one audio AdaptationSet holds: the same language and codec family (the
 * codecs string up to its first '.'), so that a player may switch between them. */
static int same_set(const CmeRendition *a, const CmeRendition *b)
{
    size_t fa = strcspn(a->codecs, "."), fb = strcspn(b->codecs, ".");
    return same_str(a->language, b->language) && fa == fb && !memcmp(a->codecs, b->codecs, fa);
}

/* The audio AdaptationSet holding r[k] and every later rendition of the same set. Role
 * main (ISO/IEC 23009-1 5.8.5.5) marks the set of the default rendition; Label (5.3.10)
 * carries the human-readable name of its first rendition. */
static void write_audio_set(CmeBuf *b, const CmeRendition *r, size_t nb, size_t k, unsigned id,
                            const CmeRendition *def, const CmeDashIndex *index)
{
    cme__buf_printf(b,
                    "    <AdaptationSet id=\"%u\" contentType=\"audio\" "
                    "mimeType=\"audio/mp4\"",
                    id);
    if (r[k].language)
        cme__buf_printf(b, " lang=\"%s\"", r[k].language);
    cme__buf_printf(b, index ? " subsegmentAlignment=\"true\" subsegmentStartsWithSAP=\"1\">\n"
                             : " segmentAlignment=\"true\" startWithSAP=\"1\">\n");
    /* The schema's order: Label (RepresentationBaseType) before Role (AdaptationSetType).
     * Both only when there is a choice to describe: a label given, several sets. */
    int is_main = 0, sets = 0;
    for (size_t i = 0; i < nb; i++) {
        is_main |= i >= k && r[i].is_audio && same_set(&r[k], &r[i]) && &r[i] == def;
        int first = r[i].is_audio;
        for (size_t j = 0; j < i && first; j++)
            first = !(r[j].is_audio && same_set(&r[j], &r[i]));
        sets += first;
    }
    if (r[k].label)
        cme__buf_printf(b, "      <Label>%s</Label>\n", r[k].label);
    if (is_main && sets > 1)
        cme__buf_printf(b, "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
                           "value=\"main\"/>\n");
    for (size_t i = k; i < nb; i++)
        if (r[i].is_audio && same_set(&r[k], &r[i]))
            write_audio_representation(b, &r[i], index ? &index[i] : NULL);
    cme__buf_printf(b, "    </AdaptationSet>\n");
}

static int write_mpd(CmeBuf *out, const CmeRendition *r, size_t nb, const CmeDashIndex *index)
{
    if (!out)
        return CME_EINVAL;
    int err = cme__renditions_check(r, nb);
    if (err < 0)
        return err;
    /* ISO/IEC 23009-1 5.3.5.2: bandwidth is required and positive. */
    for (size_t i = 0; i < nb; i++)
        if (r[i].peak_bandwidth == 0)
            return CME_EINVAL;

    /*
     * mediaPresentationDuration is the end of the longest rendition, audio or video (AAC
     * frames and video frames rarely end together): the Period starts at
     * 0 and there is no presentationTimeOffset, so media time equals presentation time;
     * with segments starting at 0 this is the sum of the durations. Rounded to the
     * nearest millisecond.
     *
     * minBufferTime (ISO/IEC 23009-1 5.3.1.2) is the longest segment, rounded up to the
     * millisecond: bandwidth is the peak over segments, so delivering at that rate keeps
     * up with playback once one whole segment is buffered.
     */
    uint64_t duration_ms = 0, min_buffer_ms = 0;
    for (size_t i = 0; i < nb; i++) {
        const CmeSegmentEntry *last = &r[i].segments[r[i].nb_segments - 1];
        uint64_t end_ms = cme__scale_round(last->start + last->duration, r[i].timescale, 1000);
        if (end_ms > duration_ms)
            duration_ms = end_ms;
        for (size_t j = 0; j < r[i].nb_segments; j++) {
            uint64_t d = cme__scale_ceil(r[i].segments[j].duration, r[i].timescale, 1000);
            if (d > min_buffer_ms)
                min_buffer_ms = d;
        }
    }

    size_t start = out->size;
    cme__buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    cme__buf_printf(out,
                    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"%s\" "
                    "type=\"static\" mediaPresentationDuration=\"",
                    index ? DASH_PROFILE_ONDEMAND : DASH_PROFILE);
    write_duration(out, duration_ms);
    cme__buf_printf(out, "\" minBufferTime=\"");
    write_duration(out, min_buffer_ms);
    cme__buf_printf(out, "\">\n");
    cme__buf_printf(out, "  <Period id=\"0\" start=\"PT0S\">\n");
    /* startWithSAP 1: every segment starts with a key frame that carries the sequence
     * header (a SAP of type 1, ISO/IEC 14496-12 Annex I), so players can switch at any
     * segment boundary; segmentAlignment holds because every rung is cut at the same
     * source frames. */
    unsigned set_id = 0;
    size_t nb_audio = 0;
    for (size_t i = 0; i < nb; i++)
        nb_audio += r[i].is_audio || r[i].is_text;
    if (nb > nb_audio) {
        cme__buf_printf(out,
                        "    <AdaptationSet id=\"0\" contentType=\"video\" "
                        "mimeType=\"video/mp4\" %s=\"true\" %s=\"1\">\n",
                        index ? "subsegmentAlignment" : "segmentAlignment",
                        index ? "subsegmentStartsWithSAP" : "startWithSAP");
        write_hdr_properties(out, r, nb);
        for (size_t i = 0; i < nb; i++)
            if (!r[i].is_audio && !r[i].is_text)
                write_representation(out, &r[i], index ? &index[i] : NULL);
        cme__buf_printf(out, "    </AdaptationSet>\n");
        set_id++;
    }
    /* One AdaptationSet per language and codec family, in the order of their first
     * rendition. */
    const CmeRendition *def = cme__default_audio(r, nb);
    for (size_t i = 0; i < nb; i++) {
        if (!r[i].is_audio)
            continue;
        int done = 0;
        for (size_t j = 0; j < i && !done; j++)
            done = r[j].is_audio && same_set(&r[j], &r[i]);
        if (!done)
            write_audio_set(out, r, nb, i, set_id++, def, index);
    }
    /* Text: one AdaptationSet per rendition, the whole track as one sidecar WebVTT file
     * (DASH-IF IOP 6.4.5, mimeType text/vtt with a BaseURL; ISO/IEC 23009-1 5.6). */
    for (size_t i = 0; i < nb; i++) {
        const CmeRendition *t = &r[i];
        if (!t->is_text)
            continue;
        cme__buf_printf(out,
                        "    <AdaptationSet id=\"%u\" contentType=\"text\" "
                        "mimeType=\"text/vtt\"",
                        set_id++);
        if (t->language)
            cme__buf_printf(out, " lang=\"%s\"", t->language);
        cme__buf_printf(out, ">\n");
        if (t->label)
            cme__buf_printf(out, "      <Label>%s</Label>\n", t->label);
        cme__buf_printf(out, "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
                             "value=\"subtitle\"/>\n");
        if (index)
            cme__buf_printf(out,
                            "      <Representation id=\"%s\" bandwidth=\"%" PRIu64 "\">\n"
                            "        <BaseURL>%s</BaseURL>\n"
                            "      </Representation>\n",
                            t->name, t->peak_bandwidth, index[i].url);
        else
            cme__buf_printf(out,
                            "      <Representation id=\"%s\" bandwidth=\"%" PRIu64 "\">\n"
                            "        <BaseURL>%s/" CME_OUT_SUBTITLES "</BaseURL>\n"
                            "      </Representation>\n",
                            t->name, t->peak_bandwidth, t->name);
        cme__buf_printf(out, "    </AdaptationSet>\n");
    }
    cme__buf_printf(out, "  </Period>\n");
    cme__buf_printf(out, "</MPD>\n");

    err = cme__buf_status(out);
    if (err < 0 && out->size > start)
        out->size = start;
    return err;
}

int cme_dash_write_mpd(CmeBuf *out, const CmeRendition *r, size_t nb)
{
    return write_mpd(out, r, nb, NULL);
}

int cme_dash_write_mpd_ondemand(CmeBuf *out, const CmeRendition *r, size_t nb,
                                const CmeDashIndex *index)
{
    int err = cme__renditions_check(r, nb);
    if (err < 0 || !index)
        return err < 0 ? err : CME_EINVAL;
    /* URLs go into XML unescaped: the same characters as rendition names, plus '/'. */
    for (size_t i = 0; i < nb; i++) {
        const char *u = index[i].url;
        if (!u || !u[0])
            return CME_EINVAL;
        for (; *u; u++)
            if (!((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
                  (*u >= '0' && *u <= '9') || *u == '.' || *u == '_' || *u == '-' || *u == '/'))
                return CME_EINVAL;
        if (!r[i].is_text && (index[i].index_start != index[i].init_end + 1 ||
                              index[i].index_end < index[i].index_start))
            return CME_EINVAL;
    }
    return write_mpd(out, r, nb, index);
}

/*
 * Manifest writer tests: byte-exact comparison with hand-reviewed golden files in
 * tests/fixtures/mux/ (HLS multivariant and media playlists per RFC 8216, a static MPD per
 * ISO/IEC 23009-1) for a fixed two-rendition ladder of 29.97 fps content whose last
 * segment has a non-integer duration, the same ladder with one AAC audio rendition
 * (av_master.m3u8, av_audio_index.m3u8, av_manifest.mpd), plus edge cases: target duration
 * rounding, timeline gaps, integer frame rates, audio without a language, and argument
 * validation.
 */
/* The golden byte tables below are laid out by hand, field by field as the specs
 * draw them; the formatter would pack them into unreadable columns. */
/* clang-format off */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmafeng/mux.h"
#include "core/buf.h"
#include "mux/manifest.h"

#ifndef CME_SOURCE_DIR
#define CME_SOURCE_DIR "."
#endif

/* 720p at 90 kHz: two 4.004 s segments (120 frames at 30000/1001) and a 2.5025 s one. */
static const CmeSegmentEntry segs_720[] = {
    { .start = 0, .duration = 360360, .bytes = 1200000 },
    { .start = 360360, .duration = 360360, .bytes = 1000000 },
    { .start = 720720, .duration = 225225, .bytes = 560000 },
};
/* 360p at 30 kHz: the same boundaries in another timescale. */
static const CmeSegmentEntry segs_360[] = {
    { .start = 0, .duration = 120120, .bytes = 400000 },
    { .start = 120120, .duration = 120120, .bytes = 380000 },
    { .start = 240240, .duration = 75075, .bytes = 200000 },
};

static void ladder(CmeRendition r[2])
{
    memset(r, 0, 2 * sizeof(*r));
    r[0] = (CmeRendition){ .name = "720p", .codecs = "av01.0.05M.08", .width = 1280,
                           .height = 720, .fps_num = 30000, .fps_den = 1001,
                           .timescale = 90000, .peak_bandwidth = 2500000,
                           .avg_bandwidth = 2100000, .segments = segs_720,
                           .nb_segments = 3, .start_number = 1 };
    r[1] = (CmeRendition){ .name = "360p", .codecs = "av01.0.04M.08", .width = 640,
                           .height = 360, .fps_num = 30000, .fps_den = 1001,
                           .timescale = 30000, .peak_bandwidth = 900000,
                           .avg_bandwidth = 750000, .segments = segs_360,
                           .nb_segments = 3, .start_number = 1 };
}

static char *read_golden(const char *name, size_t *size)
{
    const char *dir = getenv("CME_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/mux/%s", dir ? dir : CME_SOURCE_DIR,
             name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open golden file %s", path);
    char *p = malloc(1 << 16);
    assert_non_null(p);
    *size = fread(p, 1, (1 << 16) - 1, f);
    p[*size] = 0;
    fclose(f);
    return p;
}

/* Byte-exact comparison; on mismatch prints both texts, which is what one needs to see. */
static void assert_golden(const CmeBuf *b, const char *name)
{
    size_t n;
    char *exp = read_golden(name, &n);
    if (b->size != n || memcmp(b->data, exp, n)) {
        print_error("%s: expected:\n%s\ngot:\n%.*s\n", name, exp, (int)b->size,
                    (const char *)b->data);
        free(exp);
        fail();
    }
    free(exp);
}

static void test_golden_master(void **state)
{
    (void)state;
    CmeRendition r[2];
    ladder(r);
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_master(&b, r, 2), 0);
    assert_golden(&b, "master.m3u8");
    cme_buf_free(&b);
}

static void test_golden_media(void **state)
{
    (void)state;
    CmeRendition r[2];
    ladder(r);
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_media(&b, &r[0]), 0);
    assert_golden(&b, "index.m3u8");
    /* The 360p playlist has the same boundaries in another timescale: identical text. */
    CmeBuf b2 = { 0 };
    assert_int_equal(cme_hls_write_media(&b2, &r[1]), 0);
    assert_int_equal(b.size, b2.size);
    assert_memory_equal(b.data, b2.data, b.size);
    cme_buf_free(&b2);
    cme_buf_free(&b);
}

static void test_golden_mpd(void **state)
{
    (void)state;
    CmeRendition r[2];
    ladder(r);
    CmeBuf b = { 0 };
    assert_int_equal(cme_dash_write_mpd(&b, r, 2), 0);
    assert_golden(&b, "manifest.mpd");
    cme_buf_free(&b);
}

/* Appends to what is already in the buffer: the writers never clear it. */
static void test_appends(void **state)
{
    (void)state;
    CmeRendition r[2];
    ladder(r);
    CmeBuf b = { 0 }, alone = { 0 };
    assert_int_equal(cme_hls_write_media(&b, &r[0]), 0);
    size_t first = b.size;
    assert_int_equal(cme_dash_write_mpd(&b, r, 2), 0);
    assert_int_equal(cme_dash_write_mpd(&alone, r, 2), 0);
    assert_int_equal(b.size, first + alone.size);
    assert_memory_equal(b.data + first, alone.data, alone.size);
    cme_buf_free(&alone);
    cme_buf_free(&b);
}

static const char *find_line(const CmeBuf *b, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i + n <= b->size; i++)
        if ((i == 0 || b->data[i - 1] == '\n') && !memcmp(b->data + i, prefix, n))
            return (const char *)b->data + i;
    return NULL;
}

static uint64_t target_for(uint64_t duration, uint32_t timescale)
{
    CmeSegmentEntry s[2] = { { .start = 0, .duration = 1000, .bytes = 1 },
                             { .start = 1000, .duration = duration, .bytes = 1 } };
    CmeRendition r = { .name = "a", .codecs = "av01.0.00M.08", .width = 16, .height = 16,
                       .fps_num = 25, .fps_den = 1, .timescale = timescale,
                       .peak_bandwidth = 1, .avg_bandwidth = 1, .segments = s,
                       .nb_segments = 2, .start_number = 1 };
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_media(&b, &r), 0);
    const char *line = find_line(&b, "#EXT-X-TARGETDURATION:");
    assert_non_null(line);
    uint64_t t = strtoull(line + strlen("#EXT-X-TARGETDURATION:"), NULL, 10);
    cme_buf_free(&b);
    return t;
}

/* RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer is <= the target. */
static void test_target_duration(void **state)
{
    (void)state;
    assert_int_equal(target_for(4000, 1000), 4);
    assert_int_equal(target_for(4499, 1000), 4);
    assert_int_equal(target_for(4500, 1000), 5); /* a tie rounds up */
    assert_int_equal(target_for(4600, 1000), 5);
    /* 2.4999996 s is written as 2.500000, which a validator rounds to 3. */
    assert_int_equal(target_for(24999996, 10000000), 3);
    /* Short segments still give a target of at least 1 (the other segment is 1 s). */
    assert_int_equal(target_for(100, 1000), 1);
}

/* A gap in the timeline gets its own t; an integer frame rate is written as "N";
 * AVERAGE-BANDWIDTH is left out when unknown. */
static void test_timeline_gap_and_rates(void **state)
{
    (void)state;
    CmeSegmentEntry s[4] = { { 0, 100, 1 }, { 100, 100, 1 }, { 250, 100, 1 }, { 350, 50, 1 } };
    CmeRendition r = { .name = "a_b-1.x", .codecs = "av01.0.08M.10", .width = 320,
                       .height = 240, .fps_num = 50, .fps_den = 2, .timescale = 100,
                       .peak_bandwidth = 1000, .avg_bandwidth = 0, .segments = s,
                       .nb_segments = 4, .start_number = 7 };
    CmeBuf b = { 0 };
    assert_int_equal(cme_dash_write_mpd(&b, &r, 1), 0);
    const char *tl = strstr((const char *)b.data, "<SegmentTimeline>");
    assert_non_null(tl);
    static const char exp_tl[] = "<SegmentTimeline>\n"
                                 "            <S t=\"0\" d=\"100\" r=\"1\"/>\n"
                                 "            <S t=\"250\" d=\"100\"/>\n"
                                 "            <S d=\"50\"/>\n"
                                 "          </SegmentTimeline>";
    assert_memory_equal(tl, exp_tl, strlen(exp_tl));
    assert_non_null(strstr((const char *)b.data, "frameRate=\"25\" "));
    assert_non_null(strstr((const char *)b.data, "startNumber=\"7\""));
    /* The presentation ends at the last segment's end, 4.0 s; the longest segment is 1 s. */
    assert_non_null(strstr((const char *)b.data, "mediaPresentationDuration=\"PT4.000S\""));
    assert_non_null(strstr((const char *)b.data, "minBufferTime=\"PT1.000S\""));
    cme_buf_free(&b);

    assert_int_equal(cme_hls_write_master(&b, &r, 1), 0);
    assert_non_null(find_line(&b, "#EXT-X-STREAM-INF:BANDWIDTH=1000,CODECS=\"av01.0.08M.10\","
                                  "RESOLUTION=320x240,FRAME-RATE=25.000\n"));
    cme_buf_free(&b);

    assert_int_equal(cme_hls_write_media(&b, &r), 0);
    assert_non_null(find_line(&b, "#EXT-X-MEDIA-SEQUENCE:7\n"));
    assert_non_null(find_line(&b, "seg_00007.m4s\n"));
    assert_non_null(find_line(&b, "#EXTINF:0.500000,\nseg_00010.m4s\n"));
    cme_buf_free(&b);
}

/* HDR variants: VIDEO-RANGE in HLS and CICP descriptors in DASH come from the codecs
 * string's colour fields; SDR (short form, or BT.709 long form) writes neither. */
static void test_video_range(void **state)
{
    (void)state;
    CmeRendition r[2];
    ladder(r);
    CmeBuf b = { 0 };
    r[0].codecs = "av01.0.05M.10.0.110.09.16.09.0";
    r[1].codecs = "av01.0.04M.10.0.110.09.16.09.0";
    assert_int_equal(cme_hls_write_master(&b, r, 2), 0);
    assert_non_null(strstr((const char *)b.data, "FRAME-RATE=29.970,VIDEO-RANGE=PQ\n720p/"));
    assert_non_null(strstr((const char *)b.data, "FRAME-RATE=29.970,VIDEO-RANGE=PQ\n360p/"));
    cme_buf_free(&b);
    assert_int_equal(cme_dash_write_mpd(&b, r, 2), 0);
    assert_non_null(strstr((const char *)b.data,
                           "<SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:"
                           "TransferCharacteristics\" value=\"16\"/>"));
    assert_non_null(strstr((const char *)b.data, "cicp:ColourPrimaries\" value=\"9\"/>"));
    assert_non_null(strstr((const char *)b.data, "cicp:MatrixCoefficients\" value=\"9\"/>"));
    cme_buf_free(&b);

    r[0].codecs = "av01.0.05M.10.0.110.09.18.09.0";
    r[1].codecs = "av01.0.04M.10.0.110.09.18.09.0";
    assert_int_equal(cme_hls_write_master(&b, r, 2), 0);
    assert_non_null(strstr((const char *)b.data, ",VIDEO-RANGE=HLG\n"));
    cme_buf_free(&b);

    r[0].codecs = "av01.0.05M.08.0.110.01.01.01.1";
    r[1].codecs = "av01.0.04M.08";
    assert_int_equal(cme_hls_write_master(&b, r, 2), 0);
    assert_null(strstr((const char *)b.data, "VIDEO-RANGE"));
    cme_buf_free(&b);
    assert_int_equal(cme_dash_write_mpd(&b, r, 2), 0);
    assert_null(strstr((const char *)b.data, "SupplementalProperty"));
    cme_buf_free(&b);

    int cp, tc, mc;
    assert_int_equal(cme__codecs_colour("av01.0.04M.10.0.110.09.16.09.0", &cp, &tc, &mc), 0);
    assert_true(cp == 9 && tc == 16 && mc == 9);
    assert_int_equal(cme__codecs_colour("av01.0.04M.08", &cp, &tc, &mc), 0);
    assert_true(cp == 1 && tc == 1 && mc == 1);
    assert_int_equal(cme__codecs_colour("mp4a.40.2", &cp, &tc, &mc), CME_EINVAL);
    assert_int_equal(cme__codecs_colour("av01.0.04M.10.0.110", &cp, &tc, &mc), CME_EINVAL);
    assert_int_equal(cme__codecs_colour("av01.0.04M.10.0.110.09.16.09.0.7", &cp, &tc, &mc),
                     CME_EINVAL);
    assert_int_equal(cme__codecs_colour("av01.0.04M.x", &cp, &tc, &mc), CME_EINVAL);
}

static void test_invalid(void **state)
{
    (void)state;
    CmeRendition r[2], bad[2];
    ladder(r);
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_media(NULL, &r[0]), CME_EINVAL);
    assert_int_equal(cme_hls_write_media(&b, NULL), CME_EINVAL);
    assert_int_equal(cme_hls_write_master(&b, NULL, 2), CME_EINVAL);
    assert_int_equal(cme_hls_write_master(&b, r, 0), CME_EINVAL);
    assert_int_equal(cme_dash_write_mpd(&b, r, 0), CME_EINVAL);
    assert_int_equal(cme_dash_write_mpd(NULL, r, 2), CME_EINVAL);

    memcpy(bad, r, sizeof(bad));
    bad[0].timescale = 0;
    assert_int_equal(cme_hls_write_media(&b, &bad[0]), CME_EINVAL);
    assert_int_equal(cme_dash_write_mpd(&b, bad, 2), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[1].nb_segments = 0;
    assert_int_equal(cme_hls_write_master(&b, bad, 2), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[0].fps_den = 0;
    assert_int_equal(cme_hls_write_master(&b, bad, 2), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[1].name = "720p"; /* duplicate */
    assert_int_equal(cme_dash_write_mpd(&b, bad, 2), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[0].name = "a\"b"; /* would break the quoted URI and the XML attribute */
    assert_int_equal(cme_hls_write_master(&b, bad, 2), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[0].name = "..";
    assert_int_equal(cme_hls_write_master(&b, bad, 2), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[0].codecs = "av01<x>";
    assert_int_equal(cme_dash_write_mpd(&b, bad, 2), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[0].peak_bandwidth = 0;
    assert_int_equal(cme_dash_write_mpd(&b, bad, 2), CME_EINVAL);
    assert_int_equal(b.size, 0);
    cme_buf_free(&b);
}

/* AAC at 48 kHz, 1024 samples per frame: two segments of 188 frames (4.010667 s) and one
 * of 120 (2.56 s); the audio ends at 10.581333 s, after the video (10.5105 s). */
static const CmeSegmentEntry segs_audio[] = {
    { .start = 0, .duration = 192512, .bytes = 66000 },
    { .start = 192512, .duration = 192512, .bytes = 64000 },
    { .start = 385024, .duration = 122880, .bytes = 41000 },
};

/* The ladder plus the audio rendition, placed between the video rungs: the writers must
 * not depend on where it sits in the array. */
static void av_ladder(CmeRendition r[3])
{
    CmeRendition v[2];
    ladder(v);
    memset(r, 0, 3 * sizeof(*r));
    r[0] = v[0];
    r[1] = (CmeRendition){ .name = "audio", .codecs = "mp4a.40.2", .timescale = 48000,
                           .peak_bandwidth = 132000, .avg_bandwidth = 128000,
                           .segments = segs_audio, .nb_segments = 3, .start_number = 1,
                           .is_audio = 1, .channels = 2, .sample_rate = 48000,
                           .language = "en" };
    r[2] = v[1];
}

static void test_golden_av_master(void **state)
{
    (void)state;
    CmeRendition r[3];
    av_ladder(r);
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_master(&b, r, 3), 0);
    assert_golden(&b, "av_master.m3u8");
    cme_buf_free(&b);
}

static void test_golden_av_media(void **state)
{
    (void)state;
    CmeRendition r[3];
    av_ladder(r);
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_media(&b, &r[1]), 0);
    assert_golden(&b, "av_audio_index.m3u8");
    cme_buf_free(&b);
}

static void test_golden_av_mpd(void **state)
{
    (void)state;
    CmeRendition r[3];
    av_ladder(r);
    CmeBuf b = { 0 };
    assert_int_equal(cme_dash_write_mpd(&b, r, 3), 0);
    assert_golden(&b, "av_manifest.mpd");
    cme_buf_free(&b);
}

/* DASH on demand: the same MPD in the isoff-on-demand profile, each Representation one
 * indexed file (BaseURL, SegmentBase indexRange + Initialization range), subsegment
 * alignment on the AdaptationSets. Unsafe URLs and ranges that do not follow each other are
 * refused. */
static void test_golden_av_mpd_ondemand(void **state)
{
    (void)state;
    CmeRendition r[3];
    av_ladder(r);
    CmeDashIndex ix[3] = { { "720p.mp4", 812, 813, 892 },
                           { "audio.mp4", 700, 701, 780 },
                           { "360p.mp4", 811, 812, 891 } };
    CmeBuf b = { 0 };
    assert_int_equal(cme_dash_write_mpd_ondemand(&b, r, 3, ix), 0);
    assert_golden(&b, "av_ondemand.mpd");
    cme_buf_free(&b);
    CmeDashIndex bad[3];
    memcpy(bad, ix, sizeof(bad));
    bad[1].url = "a\"b.mp4";
    assert_int_equal(cme_dash_write_mpd_ondemand(&b, r, 3, bad), CME_EINVAL);
    bad[1].url = "";
    assert_int_equal(cme_dash_write_mpd_ondemand(&b, r, 3, bad), CME_EINVAL);
    memcpy(bad, ix, sizeof(bad));
    bad[0].index_start = 900; /* the sidx must follow the init segment */
    assert_int_equal(cme_dash_write_mpd_ondemand(&b, r, 3, bad), CME_EINVAL);
    assert_int_equal(cme_dash_write_mpd_ondemand(&b, r, 3, NULL), CME_EINVAL);
    assert_int_equal(b.size, 0);
    cme_buf_free(&b);
}

/* Without a language: NAME falls back to the rendition name and LANGUAGE / lang are left
 * out; an unknown audio average makes the variant's AVERAGE-BANDWIDTH unknown; an
 * audio-only MPD has the audio AdaptationSet alone, with id 0. */
static void test_av_variants(void **state)
{
    (void)state;
    CmeRendition r[3];
    av_ladder(r);
    r[1].language = NULL;
    r[1].avg_bandwidth = 0;
    r[1].channels = 6;
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_master(&b, r, 3), 0);
    assert_non_null(find_line(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\","
                                  "DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"6\","
                                  "URI=\"audio/index.m3u8\"\n"));
    assert_non_null(find_line(&b, "#EXT-X-STREAM-INF:BANDWIDTH=2632000,CODECS=\""
                                  "av01.0.05M.08,mp4a.40.2\",RESOLUTION=1280x720,"
                                  "FRAME-RATE=29.970,AUDIO=\"audio\"\n720p/index.m3u8\n"));
    assert_null(strstr((const char *)b.data, "LANGUAGE="));
    assert_null(strstr((const char *)b.data, "AVERAGE-BANDWIDTH="));
    cme_buf_free(&b);

    assert_int_equal(cme_dash_write_mpd(&b, &r[1], 1), 0);
    assert_null(strstr((const char *)b.data, "contentType=\"video\""));
    assert_null(strstr((const char *)b.data, " lang="));
    assert_non_null(strstr((const char *)b.data,
                           "    <AdaptationSet id=\"0\" contentType=\"audio\" "
                           "mimeType=\"audio/mp4\" segmentAlignment=\"true\" "
                           "startWithSAP=\"1\">\n"));
    assert_non_null(strstr((const char *)b.data, "value=\"6\"/>\n"));
    assert_non_null(strstr((const char *)b.data, "mediaPresentationDuration=\"PT10.581S\""));
    cme_buf_free(&b);
}

/* Three audio renditions: English AAC (default), French AAC, English Opus 5.1. HLS: one
 * group, one EXT-X-MEDIA each with its own NAME and LANGUAGE, DEFAULT=YES only on the
 * default, every distinct codec in each variant's CODECS and the largest audio rates added.
 * DASH: one AdaptationSet per language and codec family, lang on each, Role main on the
 * default's, Label when one is given. */
static void test_multi_audio(void **state)
{
    (void)state;
    CmeRendition r[3], m[5];
    av_ladder(r);
    m[0] = r[0];
    m[1] = r[2];
    m[2] = r[1];
    m[2].name = "audio_fr";
    m[2].language = "fr";
    m[2].label = "Francais";
    m[3] = r[1];
    m[3].name = "audio_en";
    m[3].language = "en";
    m[3].is_default = 1;
    m[3].avg_bandwidth = 1;
    m[4] = r[1];
    m[4].name = "audio_en_opus";
    m[4].language = "en";
    m[4].codecs = "opus";
    m[4].channels = 6;
    m[4].peak_bandwidth = r[1].peak_bandwidth + 1000;
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_master(&b, m, 5), 0);
    assert_int_equal(cme__buf_status(&b), 0);
    cme__buf_append(&b, "", 1);
    const char *t = (const char *)b.data;
    assert_non_null(strstr(t, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Francais\","
                              "LANGUAGE=\"fr\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\","
                              "URI=\"audio_fr/index.m3u8\"\n"));
    /* Two renditions share "en": each is named by its directory instead. */
    assert_non_null(strstr(t, "NAME=\"audio_en\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES"));
    assert_non_null(strstr(t, "NAME=\"audio_en_opus\",LANGUAGE=\"en\",DEFAULT=NO,AUTOSELECT=YES,"
                              "CHANNELS=\"6\""));
    assert_null(strstr(strstr(t, "DEFAULT=YES") + 1, "DEFAULT=YES"));
    char want[160];
    snprintf(want, sizeof(want), "BANDWIDTH=%" PRIu64 ",",
             m[0].peak_bandwidth + m[4].peak_bandwidth);
    assert_non_null(strstr(t, want));
    assert_non_null(strstr(t, "CODECS=\"av01.0.05M.08,mp4a.40.2,opus\""));
    cme_buf_free(&b);

    assert_int_equal(cme_dash_write_mpd(&b, m, 5), 0);
    cme__buf_append(&b, "", 1);
    t = (const char *)b.data;
    const char *fr = strstr(t, "<AdaptationSet id=\"1\" contentType=\"audio\" "
                               "mimeType=\"audio/mp4\" lang=\"fr\"");
    const char *en = strstr(t, "<AdaptationSet id=\"2\" contentType=\"audio\" "
                               "mimeType=\"audio/mp4\" lang=\"en\"");
    const char *opus = strstr(t, "<AdaptationSet id=\"3\" contentType=\"audio\" "
                                 "mimeType=\"audio/mp4\" lang=\"en\"");
    assert_non_null(fr);
    assert_non_null(en);
    assert_non_null(opus);
    assert_true(fr < en && en < opus);
    assert_non_null(strstr(fr, "<Label>Francais</Label>"));
    /* Role main only in the default's set, after the Label the schema puts first. */
    const char *role = strstr(t, "value=\"main\"");
    assert_non_null(role);
    assert_true(role > en && role < opus);
    assert_null(strstr(role + 1, "value=\"main\""));
    assert_non_null(strstr(opus, "codecs=\"opus\""));
    assert_non_null(strstr(opus, "audio_channel_configuration:2011\" value=\"6\""));
    cme_buf_free(&b);
}

static void test_av_invalid(void **state)
{
    (void)state;
    CmeRendition r[3], bad[3];
    av_ladder(r);
    CmeBuf b = { 0 };
    /* Two audio renditions both marked default, or sharing a label (HLS NAME). */
    memcpy(bad, r, sizeof(bad));
    bad[2] = bad[1];
    bad[2].name = "audio2";
    bad[1].is_default = bad[2].is_default = 1;
    assert_int_equal(cme_hls_write_master(&b, bad, 3), CME_EINVAL);
    assert_int_equal(cme_dash_write_mpd(&b, bad, 3), CME_EINVAL);
    bad[2].is_default = 0;
    bad[1].label = bad[2].label = "Main";
    assert_int_equal(cme_hls_write_master(&b, bad, 3), CME_EINVAL);
    bad[2].label = "Bad \"quote\"";
    assert_int_equal(cme_dash_write_mpd(&b, bad, 3), CME_EINVAL);
    /* An audio rendition alone has no variant to belong to in HLS. */
    assert_int_equal(cme_hls_write_master(&b, &r[1], 1), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[1].channels = 0;
    assert_int_equal(cme_hls_write_master(&b, bad, 3), CME_EINVAL);
    assert_int_equal(cme_hls_write_media(&b, &bad[1]), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[1].sample_rate = 0;
    assert_int_equal(cme_dash_write_mpd(&b, bad, 3), CME_EINVAL);
    memcpy(bad, r, sizeof(bad));
    bad[1].language = "e\"n"; /* would break the quoted attribute */
    assert_int_equal(cme_hls_write_master(&b, bad, 3), CME_EINVAL);
    bad[1].language = "";
    assert_int_equal(cme_dash_write_mpd(&b, bad, 3), CME_EINVAL);
    bad[1].language = "1en";
    assert_int_equal(cme_dash_write_mpd(&b, bad, 3), CME_EINVAL);
    /* Video still needs its size and frame rate. */
    memcpy(bad, r, sizeof(bad));
    bad[0].width = 0;
    assert_int_equal(cme_hls_write_master(&b, bad, 3), CME_EINVAL);
    assert_int_equal(b.size, 0);
    cme_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_master),
        cmocka_unit_test(test_golden_media),
        cmocka_unit_test(test_golden_mpd),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_target_duration),
        cmocka_unit_test(test_timeline_gap_and_rates),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_golden_av_master),
        cmocka_unit_test(test_golden_av_media),
        cmocka_unit_test(test_golden_av_mpd),
        cmocka_unit_test(test_golden_av_mpd_ondemand),
        cmocka_unit_test(test_av_variants),
        cmocka_unit_test(test_multi_audio),
        cmocka_unit_test(test_av_invalid),
        cmocka_unit_test(test_video_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

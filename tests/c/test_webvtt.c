/*
 * WebVTT renditions: cue text from FFmpeg's ASS event lines (override tags, line breaks,
 * escapes), WebVTT files byte for byte (segment with X-TIMESTAMP-MAP and only the cues that
 * overlap it, the whole sidecar file), and the manifests' text renditions (HLS SUBTITLES
 * group and .vtt media playlist without EXT-X-MAP, DASH text/vtt AdaptationSet).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmafeng/mux.h"
#include "core/buf.h"
#include "mux/webvtt.h"

static void expect_text(const char *ass, const char *want)
{
    char *t = cme__webvtt_text(ass);
    assert_non_null(t);
    assert_string_equal(t, want);
    free(t);
}

static void test_text(void **state)
{
    (void)state;
    expect_text("0,0,Default,,0,0,0,,Hello", "Hello");
    /* Override blocks go, \N and \n break lines, \h is a space, a comma in the text stays. */
    expect_text("1,0,Default,,0,0,0,,{\\i1}Two{\\i0}\\Nlines,\\hhere", "Two\nlines, here");
    /* What WebVTT would read as markup or a timing arrow is escaped. */
    expect_text("2,0,Default,,0,0,0,,a <b> & c --> d", "a &lt;b&gt; &amp; c --&gt; d");
    /* No blank line inside a cue, none at its end: either would end the cue early. */
    expect_text("3,0,Default,,0,0,0,,x\\N\\N\\Ny\\N", "x\ny");
    expect_text("4,0,Default,,0,0,0,,{\\an8}", "");
}

static const CmeCue cues[] = {
    { 500, 1800, "first" },
    { 1900, 2600, "second\nline" },
    { 3000, 3900, "third" },
};

static void test_write(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    /* The segment [1000, 2000) ms: the first cue (it overlaps) and the second. */
    assert_int_equal(cme__webvtt_write(&b, cues, 3, 1000, 2000, 1), 0);
    cme__buf_append(&b, "", 1);
    assert_string_equal((const char *)b.data, "WEBVTT\n"
                                              "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"
                                              "\n"
                                              "00:00:00.500 --> 00:00:01.800\nfirst\n\n"
                                              "00:00:01.900 --> 00:00:02.600\nsecond\nline\n\n");
    cme_buf_free(&b);
    /* The whole file: every cue, no map; hours keep two digits. */
    CmeCue late = { 3600000 + 61001, 3600000 + 62000, "late" };
    assert_int_equal(cme__webvtt_write(&b, &late, 1, 0, 0, 0), 0);
    cme__buf_append(&b, "", 1);
    assert_string_equal((const char *)b.data, "WEBVTT\n\n01:01:01.001 --> 01:01:02.000\nlate\n\n");
    cme_buf_free(&b);
}

static void test_manifests(void **state)
{
    (void)state;
    static const CmeSegmentEntry segs[] = { { 0, 90000, 5000 }, { 90000, 45000, 4000 } };
    static const CmeSegmentEntry tsegs[] = { { 0, 90000, 200 }, { 90000, 45000, 100 } };
    CmeRendition r[2] = {
        { .name = "360p",
          .codecs = "av01.0.04M.08",
          .width = 640,
          .height = 360,
          .fps_num = 25,
          .fps_den = 1,
          .timescale = 90000,
          .peak_bandwidth = 100000,
          .avg_bandwidth = 90000,
          .segments = segs,
          .nb_segments = 2,
          .start_number = 1 },
        { .name = "subs",
          .codecs = "wvtt",
          .timescale = 90000,
          .peak_bandwidth = 1600,
          .avg_bandwidth = 1600,
          .segments = tsegs,
          .nb_segments = 2,
          .start_number = 1,
          .is_text = 1,
          .language = "eng" },
    };
    CmeBuf b = { 0 };
    assert_int_equal(cme_hls_write_media(&b, &r[1]), 0);
    cme__buf_append(&b, "", 1);
    const char *t = (const char *)b.data;
    assert_null(strstr(t, "EXT-X-MAP"));
    assert_non_null(
        strstr(t, "#EXTINF:1.000000,\nseg_00001.vtt\n#EXTINF:0.500000,\nseg_00002.vtt\n"));
    cme_buf_free(&b);

    assert_int_equal(cme_hls_write_master(&b, r, 2), 0);
    cme__buf_append(&b, "", 1);
    t = (const char *)b.data;
    assert_non_null(strstr(t, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"eng\","
                              "LANGUAGE=\"eng\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,"
                              "URI=\"subs/index.m3u8\"\n"));
    /* The variant names the group; its bandwidth covers the text; CODECS stays the video's. */
    assert_non_null(strstr(t, "#EXT-X-STREAM-INF:BANDWIDTH=101600,AVERAGE-BANDWIDTH=91600,"
                              "CODECS=\"av01.0.04M.08\",RESOLUTION=640x360,FRAME-RATE=25.000,"
                              "SUBTITLES=\"subs\"\n360p/index.m3u8\n"));
    cme_buf_free(&b);

    assert_int_equal(cme_dash_write_mpd(&b, r, 2), 0);
    cme__buf_append(&b, "", 1);
    t = (const char *)b.data;
    assert_non_null(strstr(t, "    <AdaptationSet id=\"1\" contentType=\"text\" "
                              "mimeType=\"text/vtt\" lang=\"eng\">\n"
                              "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
                              "value=\"subtitle\"/>\n"
                              "      <Representation id=\"subs\" bandwidth=\"1600\">\n"
                              "        <BaseURL>subs/subtitles.vtt</BaseURL>\n"
                              "      </Representation>\n    </AdaptationSet>\n"));
    cme_buf_free(&b);
    /* Text alone has no variant to belong to; text cannot also be audio. */
    assert_int_equal(cme_hls_write_master(&b, &r[1], 1), CME_EINVAL);
    r[1].is_audio = 1;
    r[1].channels = 2;
    r[1].sample_rate = 48000;
    assert_int_equal(cme_hls_write_master(&b, r, 2), CME_EINVAL);
    cme_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_manifests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

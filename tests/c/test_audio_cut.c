/*
 * The audio segmenter (engine/media/audio_cut.c): audio segments start with the first packet
 * at or past each video segment start, a segment is released only once its end is known,
 * the last one absorbs the remainder (no sliver), and a video segment shorter than one audio
 * frame leaves no empty audio segment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/audio.h"

static void push(CmeAudioCutter *c, uint64_t *t, int n)
{
    uint8_t b[4] = { 1, 2, 3, 4 };
    for (int i = 0; i < n; i++) {
        assert_int_equal(cme__audio_cutter_push(c, *t, 1024, b, (size_t)(1 + i % 4)), 0);
        *t += 1024;
    }
}

static void expect_seg(CmeAudioCutter *c, int final, uint32_t index, uint64_t start, size_t nb)
{
    CmeAudioSeg s;
    assert_int_equal(cme__audio_cutter_next(c, final, &s), 0);
    assert_int_equal(s.index, index);
    assert_int_equal(s.start, start);
    assert_int_equal(s.nb, nb);
    size_t bytes = 0;
    for (size_t i = 0; i < s.nb; i++) {
        assert_int_equal(s.samples[i].duration, 1024);
        bytes += s.samples[i].size;
    }
    assert_int_equal(s.size, bytes);
}

/* 2 s video segments at 48 kHz (96000 samples), audio 4.3 s long: two segments, the second
 * taking the 0.3 s that a nominal cut would have left as a third, short one. */
static void test_follows_video(void **state)
{
    (void)state;
    CmeAudioCutter *c = NULL;
    CmeAudioSeg s;
    assert_int_equal(cme__audio_cutter_new(&c), 0);
    uint64_t t = 0;
    assert_int_equal(cme__audio_cutter_cut(c, 0), 0); /* time zero is no cut */
    push(c, &t, 100);
    /* The first segment's end is not known yet: nothing is released. */
    assert_int_equal(cme__audio_cutter_next(c, 0, &s), CME_EAGAIN);
    assert_int_equal(cme__audio_cutter_cut(c, 96000), 0);
    /* 100 packets reach 102400 > 96000: segment 0 holds the 94 packets before the cut. */
    expect_seg(c, 0, 0, 0, 94);
    assert_int_equal(cme__audio_cutter_next(c, 0, &s), CME_EAGAIN);
    push(c, &t, 102); /* up to 202 * 1024 = 206848 samples, 4.3 s */
    assert_int_equal(cme__audio_cutter_next(c, 0, &s), CME_EAGAIN);
    expect_seg(c, 1, 1, 94 * 1024, 108);
    assert_int_equal(cme__audio_cutter_next(c, 1, &s), CME_EOF);
    cme__audio_cutter_free(&c);
    assert_null(c);
}

/* Cuts at uneven times (a variable-frame-rate video) and one shorter than an audio frame. */
static void test_uneven_cuts(void **state)
{
    (void)state;
    CmeAudioCutter *c = NULL;
    assert_int_equal(cme__audio_cutter_new(&c), 0);
    uint64_t t = 0;
    assert_int_equal(cme__audio_cutter_cut(c, 5000), 0);
    assert_int_equal(cme__audio_cutter_cut(c, 5050), 0); /* before the next packet starts */
    assert_int_equal(cme__audio_cutter_cut(c, 20000), 0);
    assert_int_equal(cme__audio_cutter_cut(c, 20000), 0); /* repeated: ignored */
    push(c, &t, 30);
    /* [0, 5000): packets at 0..4096 (5); no packet starts in [5000, 5050), so that cut is
     * passed over: [5120, 20000): 15 packets. */
    expect_seg(c, 0, 0, 0, 5);
    expect_seg(c, 0, 1, 5 * 1024, 15);
    CmeAudioSeg s;
    assert_int_equal(cme__audio_cutter_next(c, 0, &s), CME_EAGAIN);
    expect_seg(c, 1, 2, 20 * 1024, 10);
    assert_int_equal(cme__audio_cutter_next(c, 1, &s), CME_EOF);
    cme__audio_cutter_free(&c);
    cme__audio_cutter_free(&c); /* safe twice */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follows_video),
        cmocka_unit_test(test_uneven_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

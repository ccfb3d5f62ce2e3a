/*
 * Display-matrix rotation (engine/media/rotate.c): the eight quarter turns and mirrors read
 * from matrices as FFmpeg and the MP4 muxer write them, non-quarter turns refused, small
 * planes checked against hand-written expectations, 8- and 10-bit 4:2:0 frames (odd sizes
 * included) against the mapping written out independently, and the pixel formats refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include <libavutil/display.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>

#include "cmafeng/common.h"
#include "media/rotate.h"

static void check_matrix(const int32_t *m, int want_degrees, int want_hflip)
{
    CmeRotation r;
    assert_int_equal(cme__rotation_from_matrix(m, &r, NULL), 0);
    assert_int_equal(r.degrees, want_degrees);
    assert_int_equal(r.hflip, want_hflip);
    CmeRotation e = cme__rotation_make(want_degrees, want_hflip);
    assert_int_equal(r.a, e.a);
    assert_int_equal(r.b, e.b);
    assert_int_equal(r.c, e.c);
    assert_int_equal(r.d, e.d);
}

static void test_matrix(void **state)
{
    (void)state;
    CmeRotation r;
    assert_int_equal(cme__rotation_from_matrix(NULL, &r, NULL), 0);
    assert_true(cme__rotation_is_identity(&r));

    /* `ffmpeg -metadata:s:v rotate=90` writes this tkhd matrix (movenc write_matrix):
     * a = 0, b = 1, c = -1, d = 0, tx = height: shown turned 90 degrees clockwise. */
    int32_t mov90[9] = { 0, 65536, 0, -65536, 0, 0, 360 << 16, 0, 1 << 30 };
    check_matrix(mov90, 90, 0);

    /* FFmpeg 5.1's av_display_rotation_set(m, 90) writes that same matrix; the oracle is
     * what ffmpeg's autorotate turns by: -av_display_rotation_get() degrees clockwise. */
    int32_t m[9];
    const int cw[4] = { 0, 90, 180, 270 };
    for (int i = 0; i < 4; i++) {
        av_display_rotation_set(m, cw[i]);
        int oracle = (int)((-lround(av_display_rotation_get(m)) % 360 + 360) % 360);
        assert_int_equal(oracle, cw[i]);
        check_matrix(m, cw[i], 0);
        /* av_display_matrix_flip(hflip) negates the first column: mirrored after the turn. */
        av_display_matrix_flip(m, 1, 0);
        check_matrix(m, cw[i], 1);
    }

    /* 30 degrees: refused, with the nearest quarter turn and the angle for the message. */
    double ccw = 0;
    av_display_rotation_set(m, 30);
    assert_int_equal(cme__rotation_from_matrix(m, &r, &ccw), CME_EUNSUPPORTED);
    assert_int_equal(r.degrees, 0);
    assert_true(ccw < -29.9 && ccw > -30.1);
    av_display_rotation_set(m, 80);
    assert_int_equal(cme__rotation_from_matrix(m, &r, &ccw), CME_EUNSUPPORTED);
    assert_int_equal(r.degrees, 90);
}

/* The 3x2 plane   1 2 3
 *                 4 5 6   under every transform, written out by hand. */
static const struct {
    int degrees, hflip, w, h;
    uint8_t want[6];
} cases[] = {
    { 0, 0, 3, 2, { 1, 2, 3, 4, 5, 6 } },   { 90, 0, 2, 3, { 4, 1, 5, 2, 6, 3 } },
    { 180, 0, 3, 2, { 6, 5, 4, 3, 2, 1 } }, { 270, 0, 2, 3, { 3, 6, 2, 5, 1, 4 } },
    { 0, 1, 3, 2, { 3, 2, 1, 6, 5, 4 } },   { 90, 1, 2, 3, { 1, 4, 2, 5, 3, 6 } },
    { 180, 1, 3, 2, { 4, 5, 6, 1, 2, 3 } }, { 270, 1, 2, 3, { 6, 3, 5, 2, 4, 1 } },
};

static void test_small_planes(void **state)
{
    (void)state;
    const uint8_t src8[2][4] = { { 1, 2, 3, 99 }, { 4, 5, 6, 99 } }; /* stride 4 */
    const uint16_t src16[2][4] = { { 1001, 1002, 1003, 9 }, { 1004, 1005, 1006, 9 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CmeRotation r = cme__rotation_make(cases[i].degrees, cases[i].hflip);
        assert_int_equal(cme__rotation_transposes(&r), cases[i].w == 2);
        uint8_t d8[3][5];
        memset(d8, 0xEE, sizeof(d8));
        cme__rotate_plane(&r, &src8[0][0], 4, &d8[0][0], 5, 3, 2, 1);
        uint16_t d16[3][6];
        memset(d16, 0xEE, sizeof(d16));
        cme__rotate_plane(&r, (const uint8_t *)&src16[0][0], 8, (uint8_t *)&d16[0][0], 12, 3, 2, 2);
        for (int y = 0; y < cases[i].h; y++) {
            for (int x = 0; x < cases[i].w; x++) {
                assert_int_equal(d8[y][x], cases[i].want[y * cases[i].w + x]);
                assert_int_equal(d16[y][x], 1000 + cases[i].want[y * cases[i].w + x]);
            }
            /* Nothing written past the picture's width. */
            assert_int_equal(d8[y][cases[i].w], 0xEE);
            assert_int_equal(d16[y][cases[i].w], 0xEEEE);
        }
    }
}

/* The stored sample that lands on display (x, y) of a w x h picture (display size), written
 * from the geometry rather than from the matrix. */
static void source_of(int degrees, int hflip, int dw, int dh, int x, int y, int *sx, int *sy)
{
    if (hflip)
        x = dw - 1 - x; /* the mirror comes after the turn: undo it first */
    switch (degrees) {
    case 0: *sx = x, *sy = y; break;
    case 90: /* the stored left column is the displayed top row, read right to left */
        *sx = y, *sy = dw - 1 - x;
        break;
    case 180: *sx = dw - 1 - x, *sy = dh - 1 - y; break;
    default: /* 270 */ *sx = dh - 1 - y, *sy = x; break;
    }
}

static int sample(const AVFrame *f, int p, int x, int y, int two)
{
    const uint8_t *row = f->data[p] + (ptrdiff_t)y * f->linesize[p];
    return two ? ((const uint16_t *)(const void *)row)[x] : row[x];
}

static AVFrame *pattern(int fmt, int w, int h)
{
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    f->format = fmt;
    f->width = w;
    f->height = h;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    int two = fmt == AV_PIX_FMT_YUV420P10LE;
    for (int p = 0; p < 3; p++) {
        int pw = p ? (w + 1) / 2 : w, ph = p ? (h + 1) / 2 : h;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                int v = (x * 7 + y * 13 + p * 101) % (two ? 1024 : 256);
                uint8_t *row = f->data[p] + (ptrdiff_t)y * f->linesize[p];
                if (two)
                    ((uint16_t *)(void *)row)[x] = (uint16_t)v;
                else
                    row[x] = (uint8_t)v;
            }
    }
    f->pts = 1234;
    f->sample_aspect_ratio = (AVRational){ 4, 3 };
    f->color_trc = AVCOL_TRC_SMPTE2084;
    return f;
}

static void check_frame(int fmt, int w, int h)
{
    int two = fmt == AV_PIX_FMT_YUV420P10LE;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int deg = cases[i].degrees, flip = cases[i].hflip;
        CmeRotation r = cme__rotation_make(deg, flip);
        AVFrame *src = pattern(fmt, w, h);
        AVFrame *f = pattern(fmt, w, h);
        assert_int_equal(cme__rotate_frame(&r, f), 0);
        int t = deg == 90 || deg == 270;
        int dw = t ? h : w, dh = t ? w : h;
        assert_int_equal(f->width, dw);
        assert_int_equal(f->height, dh);
        assert_int_equal(f->format, fmt);
        assert_int_equal(f->pts, 1234);
        assert_int_equal(f->color_trc, AVCOL_TRC_SMPTE2084);
        assert_int_equal(f->sample_aspect_ratio.num, t ? 3 : 4);
        assert_int_equal(f->sample_aspect_ratio.den, t ? 4 : 3);
        for (int p = 0; p < 3; p++) {
            /* 4:2:0 chroma turns as its own (rounded-up) plane. */
            int pw = p ? (dw + 1) / 2 : dw, ph = p ? (dh + 1) / 2 : dh;
            for (int y = 0; y < ph; y++)
                for (int x = 0; x < pw; x++) {
                    int sx, sy;
                    source_of(deg, flip, pw, ph, x, y, &sx, &sy);
                    assert_int_equal(sample(f, p, x, y, two), sample(src, p, sx, sy, two));
                }
        }
        av_frame_free(&src);
        av_frame_free(&f);
    }
}

static void test_frames_8bit(void **state)
{
    (void)state;
    check_frame(AV_PIX_FMT_YUV420P, 8, 4);
    check_frame(AV_PIX_FMT_YUV420P, 5, 3);    /* odd: chroma 3x2 */
    check_frame(AV_PIX_FMT_YUV420P, 100, 70); /* several 32x32 tiles, partial edges */
}

static void test_frames_10bit(void **state)
{
    (void)state;
    check_frame(AV_PIX_FMT_YUV420P10LE, 8, 4);
    check_frame(AV_PIX_FMT_YUV420P10LE, 7, 5);
    check_frame(AV_PIX_FMT_YUV420P10LE, 66, 34);
}

/* A marker in the stored top-left corner shows up where a player would show it: top-right
 * after 90 degrees clockwise, bottom-left after 270. */
static void test_marker(void **state)
{
    (void)state;
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 64;
    f->height = 36;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    for (int y = 0; y < 36; y++)
        memset(f->data[0] + y * f->linesize[0], y < 4 ? 16 : 128, 64);
    for (int y = 0; y < 4; y++)
        memset(f->data[0] + y * f->linesize[0], 235, 4); /* top-left 4x4 */
    CmeRotation r = cme__rotation_make(90, 0);
    assert_int_equal(cme__rotate_frame(&r, f), 0);
    assert_int_equal(f->width, 36);
    assert_int_equal(f->height, 64);
    assert_int_equal(f->data[0][35], 235);                       /* top-right */
    assert_int_equal(f->data[0][0], 128);                        /* the stored bottom-left */
    assert_int_equal(f->data[0][63 * f->linesize[0] + 35], 16);  /* the stored top row ... */
    assert_int_equal(f->data[0][63 * f->linesize[0] + 31], 128); /* ... is the right edge */
    r = cme__rotation_make(180, 0); /* 90 + 180 = 270 from the stored picture */
    assert_int_equal(cme__rotate_frame(&r, f), 0);
    assert_int_equal(f->data[0][63 * f->linesize[0]], 235); /* bottom-left */
    av_frame_free(&f);
}

static void test_formats(void **state)
{
    (void)state;
    CmeRotation q = cme__rotation_make(90, 0), half = cme__rotation_make(180, 0),
                id = CME_ROTATION_IDENTITY;
    assert_true(cme__rotation_supports(&q, AV_PIX_FMT_YUV420P));
    assert_true(cme__rotation_supports(&q, AV_PIX_FMT_YUV420P10LE));
    assert_true(cme__rotation_supports(&q, AV_PIX_FMT_NV12));
    assert_true(cme__rotation_supports(&q, AV_PIX_FMT_GRAY8));
    assert_true(cme__rotation_supports(&q, AV_PIX_FMT_YUV444P));
    /* 4:2:2 turned a quarter would be 4:4:0: only mirrors and half turns. */
    assert_false(cme__rotation_supports(&q, AV_PIX_FMT_YUV422P));
    assert_true(cme__rotation_supports(&half, AV_PIX_FMT_YUV422P));
    assert_false(cme__rotation_supports(&q, AV_PIX_FMT_RGB24));
    assert_false(cme__rotation_supports(&q, AV_PIX_FMT_YUYV422));
    assert_true(cme__rotation_supports(&id, AV_PIX_FMT_RGB24)); /* nothing to do */

    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV422P;
    f->width = 8;
    f->height = 4;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    assert_int_equal(cme__rotate_frame(&q, f), CME_EUNSUPPORTED);
    assert_int_equal(f->width, 8); /* unchanged on failure */
    assert_int_equal(cme__rotate_frame(&id, f), 0);
    assert_int_equal(f->width, 8);
    av_frame_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),      cmocka_unit_test(test_small_planes),
        cmocka_unit_test(test_frames_8bit), cmocka_unit_test(test_frames_10bit),
        cmocka_unit_test(test_marker),      cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

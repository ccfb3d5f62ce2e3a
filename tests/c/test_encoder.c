/*
 * The SVT-AV1 backend through the encoder vtable: one packet per frame in order, a key
 * frame where forced, and the library's hangs kept out of reach (closing or draining an
 * encoder that never got a picture must return; NOTES-DEPS.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmafeng/av1.h"
#include "enc/encoder.h"

static CmeEncoderSettings settings(void)
{
    CmeEncoderSettings s = {
        .width = 128,
        .height = 72,
        .fps_num = 25,
        .fps_den = 1,
        .bit_depth = 8,
        .crf = 45,
        .preset = 12,
        .threads = 1,
        .keyint = 10,
        .color_primaries = 1,
        .transfer_characteristics = 1,
        .matrix_coefficients = 1,
    };
    return s;
}

static void test_close_without_frames_returns(void **state)
{
    (void)state;
    CmeEncoderSettings s = settings();
    CmeEncoder *e = NULL;
    char err[256];
    assert_int_equal(cme__encoder_open(&e, CME_BACKEND_SVT, &s, err, sizeof(err)), 0);
    cme__encoder_close(&e);
    assert_null(e);
}

/* EOS on an encoder that never got a picture must drain to CME_EOF, not hang. */
static void eos_without_frames_drains(int bit_depth)
{
    CmeEncoderSettings s = settings();
    s.bit_depth = bit_depth; /* at 10 bits the backend's grey picture is 16-bit words */
    CmeEncoder *e = NULL;
    char err[256];
    assert_int_equal(cme__encoder_open(&e, CME_BACKEND_SVT, &s, err, sizeof(err)), 0);
    assert_int_equal(cme__encoder_send(e, NULL), 0);
    CmeEncPacket pkt;
    assert_int_equal(cme__encoder_receive(e, &pkt), CME_EOF);
    cme__encoder_close(&e);
}

static void test_eos_without_frames_drains(void **state)
{
    (void)state;
    eos_without_frames_drains(8);
}

static void test_ten_bit_eos_without_frames_drains(void **state)
{
    (void)state;
    eos_without_frames_drains(10);
}

static void test_one_packet_per_frame_in_order(void **state)
{
    (void)state;
    CmeEncoderSettings s = settings();
    CmeEncoder *e = NULL;
    char err[256];
    assert_int_equal(cme__encoder_open(&e, CME_BACKEND_SVT, &s, err, sizeof(err)), 0);
    enum { N = 25 };
    static uint8_t y[128 * 72], u[64 * 36], v[64 * 36];
    int64_t next = 0;
    int keys = 0;
    CmeEncPacket pkt;
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < sizeof(y); k++)
            y[k] = (uint8_t)(k * 7 + i * 13);
        memset(u, 128, sizeof(u));
        memset(v, 128, sizeof(v));
        CmeEncFrame f = { .planes = { y, u, v },
                          .strides = { 128, 64, 64 },
                          .pts = i,
                          .force_key = i == 0 || i == 15 };
        assert_int_equal(cme__encoder_send(e, &f), 0);
        int r;
        while ((r = cme__encoder_receive(e, &pkt)) == 0) {
            assert_int_equal(pkt.pts, next);
            keys += pkt.key;
            next++;
        }
        assert_int_equal(r, CME_EAGAIN);
    }
    assert_int_equal(cme__encoder_send(e, NULL), 0);
    int r;
    while ((r = cme__encoder_receive(e, &pkt)) == 0) {
        assert_int_equal(pkt.pts, next);
        if (pkt.pts == 15) {
            /* The forced key frame carries a sequence header: a segment can start here. */
            CmeAv1TuInfo tu;
            char perr[128];
            assert_int_equal(cme_av1_tu_info(pkt.data, pkt.size, NULL, &tu, perr, sizeof(perr)), 0);
            assert_true(tu.is_sync);
        }
        keys += pkt.key;
        next++;
    }
    assert_int_equal(r, CME_EOF);
    assert_int_equal(next, N);
    /* Frames 0 and 15 forced, 10 periodic (keyint); 15 resets the period, so 25 would be
     * next: three key frames in 25. */
    assert_int_equal(keys, 3);
    cme__encoder_close(&e);
}

static void test_bad_configuration_is_reported(void **state)
{
    (void)state;
    CmeEncoderSettings s = settings();
    s.height = 36; /* SVT-AV1 needs at least 64 lines */
    CmeEncoder *e = NULL;
    char err[256] = { 0 };
    assert_int_equal(cme__encoder_open(&e, CME_BACKEND_SVT, &s, err, sizeof(err)), CME_EENCODER);
    assert_null(e);
    assert_non_null(strstr(err, "128x36"));
}

int main(void)
{
    setenv("SVT_LOG", "1", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_without_frames_returns),
        cmocka_unit_test(test_eos_without_frames_drains),
        cmocka_unit_test(test_ten_bit_eos_without_frames_drains),
        cmocka_unit_test(test_one_packet_per_frame_in_order),
        cmocka_unit_test(test_bad_configuration_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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

static unsigned be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* HDR10 metadata reaches the bitstream: every key frame's temporal unit carries a metadata
 * OBU (type 5) of metadata_type 1, content light level (AV1 6.7.3: max_cll, max_fall), and
 * one of metadata_type 2, mastering display (6.7.4: R, G, B and white point chromaticities
 * in 0.16 fixed point, luminance_max 24.8, luminance_min 18.14). */
static void test_hdr_metadata_obus(void **state)
{
    (void)state;
    CmeEncoderSettings s = settings();
    s.color_primaries = 9;
    s.transfer_characteristics = 16;
    s.matrix_coefficients = 9;
    s.hdr = (CmeHdrMetadata){ .has_mastering = 1,
                              .primaries = { { 0.708, 0.292 }, { 0.170, 0.797 }, { 0.131, 0.046 } },
                              .white_point = { 0.3127, 0.3290 },
                              .min_luminance = 0.005,
                              .max_luminance = 1000,
                              .has_content_light = 1,
                              .max_cll = 1000,
                              .max_fall = 400 };
    CmeEncoder *e = NULL;
    char err[256];
    assert_int_equal(cme__encoder_open(&e, CME_BACKEND_SVT, &s, err, sizeof(err)), 0);
    static uint8_t y[128 * 72], u[64 * 36], v[64 * 36];
    int keys = 0, keys_with_both = 0, r;
    CmeEncPacket pkt;
    for (int i = 0; i <= 12; i++) {
        if (i < 12) {
            for (size_t k = 0; k < sizeof(y); k++)
                y[k] = (uint8_t)(k * 5 + i * 11);
            memset(u, 128, sizeof(u));
            memset(v, 128, sizeof(v));
            CmeEncFrame f = {
                .planes = { y, u, v }, .strides = { 128, 64, 64 }, .pts = i, .force_key = i == 0
            };
            assert_int_equal(cme__encoder_send(e, &f), 0);
        } else {
            assert_int_equal(cme__encoder_send(e, NULL), 0);
        }
        while ((r = cme__encoder_receive(e, &pkt)) == 0) {
            const uint8_t *p = pkt.data;
            size_t left = pkt.size;
            CmeAv1Obu obu;
            char perr[128];
            int cll = 0, mdcv = 0;
            while (cme_av1_obu_next(&p, &left, &obu, perr, sizeof(perr)) == 1) {
                if (obu.type != 5 || obu.payload_size < 1)
                    continue;
                const uint8_t *m = obu.payload + 1; /* metadata_type < 128: one leb128 byte */
                if (obu.payload[0] == 1 && obu.payload_size >= 5) {
                    assert_int_equal(be16(m), 1000);
                    assert_int_equal(be16(m + 2), 400);
                    cll = 1;
                } else if (obu.payload[0] == 2 && obu.payload_size >= 25) {
                    for (int c = 0; c < 3; c++) {
                        assert_int_equal(be16(m + 4 * c),
                                         (unsigned)(s.hdr.primaries[c][0] * 65536 + 0.5));
                        assert_int_equal(be16(m + 4 * c + 2),
                                         (unsigned)(s.hdr.primaries[c][1] * 65536 + 0.5));
                    }
                    assert_int_equal(be16(m + 12), (unsigned)(0.3127 * 65536 + 0.5));
                    assert_int_equal(be16(m + 14), (unsigned)(0.3290 * 65536 + 0.5));
                    assert_int_equal(be32(m + 16), 1000 * 256);
                    assert_int_equal(be32(m + 20), 82); /* 0.005 * 16384 = 81.92 */
                    mdcv = 1;
                }
            }
            keys += pkt.key;
            keys_with_both += pkt.key && cll && mdcv;
        }
        assert_int_equal(r, i < 12 ? CME_EAGAIN : CME_EOF);
    }
    /* Frame 0 forced, 10 periodic (keyint 10). */
    assert_int_equal(keys, 2);
    assert_int_equal(keys_with_both, 2);
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
        cmocka_unit_test(test_hdr_metadata_obus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

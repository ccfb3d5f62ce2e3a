/*
 * Capped CRF through the SVT-AV1 backend (CmeEncoderSettings.max_bitrate/buffer_size, the
 * recipe's rung max_bitrate/buffer_size): on noise that CRF 20 spends megabits on, a cap
 * of 300 kbit/s must bring the rate down to about the cap, while the uncapped encode of
 * the same frames stays far above it.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmafeng/common.h"
#include "enc/encoder.h"

enum { W = 192, H = 128, N = 50, FPS = 25 };

/* Encodes N frames of noise (a fixed pseudo-random sequence) and returns the bytes. */
static uint64_t encode_noise(int64_t max_bitrate, int64_t buffer_size)
{
    CmeEncoderSettings s = {
        .width = W,
        .height = H,
        .fps_num = FPS,
        .fps_den = 1,
        .bit_depth = 8,
        .crf = 20,
        .preset = 12,
        .threads = 1,
        .keyint = N,
        .color_primaries = 2,
        .transfer_characteristics = 2,
        .matrix_coefficients = 2,
        .max_bitrate = max_bitrate,
        .buffer_size = buffer_size,
    };
    CmeEncoder *e = NULL;
    char err[256] = { 0 };
    int r = cme__encoder_open(&e, CME_BACKEND_SVT, &s, err, sizeof(err));
    if (r < 0)
        fail_msg("open: %s", err);
    static uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
    uint32_t seed = 12345;
    uint64_t bytes = 0;
    CmeEncPacket pkt;
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < sizeof(y); k++) {
            seed = seed * 1664525u + 1013904223u;
            y[k] = (uint8_t)(seed >> 24);
        }
        memset(u, 128, sizeof(u));
        memset(v, 128, sizeof(v));
        CmeEncFrame f = {
            .planes = { y, u, v }, .strides = { W, W / 2, W / 2 }, .pts = i, .force_key = i == 0
        };
        assert_int_equal(cme__encoder_send(e, &f), 0);
        while ((r = cme__encoder_receive(e, &pkt)) == 0)
            bytes += pkt.size;
        assert_int_equal(r, CME_EAGAIN);
    }
    assert_int_equal(cme__encoder_send(e, NULL), 0);
    while ((r = cme__encoder_receive(e, &pkt)) == 0)
        bytes += pkt.size;
    assert_int_equal(r, CME_EOF);
    cme__encoder_close(&e);
    return bytes;
}

static void test_cap_holds_the_rate_down(void **state)
{
    (void)state;
    const double seconds = (double)N / FPS;
    uint64_t free_bytes = encode_noise(0, 0);
    uint64_t capped_bytes = encode_noise(300000, 600000);
    double free_rate = free_bytes * 8 / seconds, capped_rate = capped_bytes * 8 / seconds;
    printf("# CRF 20 on noise: %.0f kbit/s uncapped, %.0f kbit/s capped at 300\n", free_rate / 1000,
           capped_rate / 1000);
    assert_true(free_rate > 1000000);
    /* Within 50% of the cap (the first key frame is not capped as tightly). */
    assert_true(capped_rate < 450000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_holds_the_rate_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

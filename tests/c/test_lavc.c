/*
 * The libavcodec backend with the AV1 encoders of Debian's FFmpeg 5.1 (libaom-av1 and
 * librav1e), driven as the worker drives every backend: one packet per frame in order, a
 * key frame with a sequence header exactly where a chunk starts (also off the backend's
 * fixed key-frame grid), 8 and 10 bit, the colour description in the sequence header;
 * and the capability check with the messages a recipe author sees.
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
#include "cmafeng/engine.h"
#include "enc/encoder.h"
#include "enc/lavc.h"

enum { W = 128, H = 72 };

static CmeEncoderSettings settings(int preset, int bit_depth)
{
    CmeEncoderSettings s = {
        .width = W,
        .height = H,
        .fps_num = 25,
        .fps_den = 1,
        .bit_depth = bit_depth,
        .crf = 45,
        .preset = preset,
        .threads = 1,
        .keyint = 10,
        .color_primaries = 1,
        .transfer_characteristics = 1,
        .matrix_coefficients = 1,
    };
    return s;
}

/* A moving gradient at 8 bits, or the same in 16-bit little-endian words at 10 bits. */
static void fill(uint8_t *y, uint8_t *u, uint8_t *v, int i, int bps)
{
    for (int k = 0; k < W * H; k++) {
        int val = (k * 7 + i * 13) & 0xff;
        if (bps == 1) {
            y[k] = (uint8_t)val;
        } else {
            y[2 * k] = (uint8_t)((val << 2) & 0xff);
            y[2 * k + 1] = (uint8_t)(val >> 6);
        }
    }
    for (int k = 0; k < W * H / 4; k++) {
        if (bps == 1) {
            u[k] = v[k] = 128;
        } else {
            u[2 * k] = v[2 * k] = 0x00;
            u[2 * k + 1] = v[2 * k + 1] = 0x02;
        }
    }
}

typedef struct Seen {
    int64_t next;
    int keys[64];
    int nb_keys;
    CmeAv1SeqHdr seq;
} Seen;

static void check_packet(Seen *seen, const CmeEncPacket *pkt)
{
    assert_int_equal(pkt->pts, seen->next);
    CmeAv1TuInfo tu;
    char perr[128];
    CmeAv1Obu obu;
    CmeAv1SeqHdr seq;
    int has_seq = cme_av1_find_seq_hdr(pkt->data, pkt->size, &obu, &seq, perr, sizeof(perr)) == 0;
    if (has_seq)
        seen->seq = seq;
    assert_true(seen->next > 0 || has_seq);
    assert_int_equal(cme_av1_tu_info(pkt->data, pkt->size, &seen->seq, &tu, perr, sizeof(perr)), 0);
    if (tu.is_sync) {
        /* A segment may start here only with a sequence header in the same TU. */
        assert_true(has_seq);
        assert_true(seen->nb_keys < 64);
        seen->keys[seen->nb_keys++] = (int)pkt->pts;
    }
    seen->next++;
}

/* Sends n frames with key frames forced at the listed frames; returns what came out. */
static void encode(CmeBackend b, const CmeEncoderSettings *s, int n, const int *forced,
                   int nb_forced, Seen *seen)
{
    CmeEncoder *e = NULL;
    char err[512] = { 0 };
    int r = cme__encoder_open(&e, b, s, err, sizeof(err));
    if (r < 0)
        fail_msg("open: %s", err);
    const int bps = s->bit_depth > 8 ? 2 : 1;
    uint8_t *y = malloc((size_t)W * H * bps), *u = malloc((size_t)W * H / 4 * bps),
            *v = malloc((size_t)W * H / 4 * bps);
    assert_non_null(y);
    memset(seen, 0, sizeof(*seen));
    CmeEncPacket pkt;
    for (int i = 0; i < n; i++) {
        fill(y, u, v, i, bps);
        int force = 0;
        for (int k = 0; k < nb_forced; k++)
            force |= forced[k] == i;
        CmeEncFrame f = { .planes = { y, u, v },
                          .strides = { W * bps, W / 2 * bps, W / 2 * bps },
                          .pts = i,
                          .force_key = force };
        assert_int_equal(cme__encoder_send(e, &f), 0);
        while ((r = cme__encoder_receive(e, &pkt)) == 0)
            check_packet(seen, &pkt);
        assert_int_equal(r, CME_EAGAIN);
    }
    assert_int_equal(cme__encoder_send(e, NULL), 0);
    while ((r = cme__encoder_receive(e, &pkt)) == 0)
        check_packet(seen, &pkt);
    assert_int_equal(r, CME_EOF);
    assert_int_equal(seen->next, n);
    cme__encoder_close(&e);
    assert_null(e);
    free(y);
    free(u);
    free(v);
}

/* Chunks of 10 frames back to back, then a short chunk of 5 and a chunk that starts off
 * the 10-frame grid (a requeued chunk after the last one): key frames exactly at the
 * chunk starts 0, 10, 20, 25 and nowhere else. */
static void chunk_starts(CmeBackend b, int preset, int bit_depth)
{
    CmeEncoderSettings s = settings(preset, bit_depth);
    static const int forced[] = { 0, 10, 20, 25 };
    Seen seen;
    encode(b, &s, 35, forced, 4, &seen);
    assert_int_equal(seen.nb_keys, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seen.keys[i], forced[i]);
    assert_int_equal(seen.seq.color.bit_depth, bit_depth);
    assert_int_equal(seen.seq.max_frame_width_minus_1 + 1, W);
    assert_int_equal(seen.seq.max_frame_height_minus_1 + 1, H);
    /* BT.709 from the settings, as the source's colour description would be. */
    assert_int_equal(seen.seq.color.color_description_present_flag, 1);
    assert_int_equal(seen.seq.color.color_primaries, 1);
    assert_int_equal(seen.seq.color.transfer_characteristics, 1);
    assert_int_equal(seen.seq.color.matrix_coefficients, 1);
}

static void test_aom_key_frames_at_chunk_starts(void **state)
{
    (void)state;
    chunk_starts(CME_BACKEND_AOM, 8, 8);
}

static void test_aom_ten_bit(void **state)
{
    (void)state;
    chunk_starts(CME_BACKEND_AOM, 8, 10);
}

static void test_rav1e_key_frames_at_chunk_starts(void **state)
{
    (void)state;
    chunk_starts(CME_BACKEND_RAV1E, 10, 8);
}

static void test_rav1e_ten_bit(void **state)
{
    (void)state;
    chunk_starts(CME_BACKEND_RAV1E, 10, 10);
}

static void test_close_without_frames_returns(void **state)
{
    (void)state;
    CmeEncoderSettings s = settings(8, 8);
    CmeEncoder *e = NULL;
    char err[256];
    assert_int_equal(cme__encoder_open(&e, CME_BACKEND_AOM, &s, err, sizeof(err)), 0);
    cme__encoder_close(&e);
    assert_null(e);
    assert_int_equal(cme__encoder_open(&e, CME_BACKEND_RAV1E, &s, err, sizeof(err)), 0);
    assert_int_equal(cme__encoder_send(e, NULL), 0);
    CmeEncPacket pkt;
    assert_int_equal(cme__encoder_receive(e, &pkt), CME_EOF);
    cme__encoder_close(&e);
}

static void check_caps(CmeBackend b, CmeEncoderSettings s, int code, const char *msg)
{
    char err[512] = { 0 };
    assert_int_equal(cme__encoder_check(b, &s, err, sizeof(err)), code);
    if (msg && !strstr(err, msg))
        fail_msg("expected \"%s\" in \"%s\"", msg, err);
}

static void test_ranges_are_checked_per_encoder(void **state)
{
    (void)state;
    CmeEncoderSettings s = settings(13, 8);
    /* The range comes from the linked FFmpeg's AVOption (0..8 in 5.1). */
    check_caps(CME_BACKEND_AOM, s, CME_EINVAL,
               "preset 13 is out of range for libaom-av1 (cpu-used 0..");
    check_caps(CME_BACKEND_RAV1E, s, CME_EINVAL,
               "preset 13 is out of range for librav1e (speed 0..10)");
    check_caps(CME_BACKEND_SVT, s, 0, NULL);
    s.preset = -2;
    check_caps(CME_BACKEND_SVT, s, CME_EINVAL,
               "preset -2 is out of range for SVT-AV1 (enc_mode -1..13)");
    s = settings(8, 12);
    check_caps(CME_BACKEND_AOM, s, CME_EUNSUPPORTED, "bit depth 12");
    s = settings(8, 8);
    s.width = 32;
    check_caps(CME_BACKEND_SVT, s, CME_EINVAL, "32x72 is out of range for SVT-AV1");
    check_caps(CME_BACKEND_AOM, s, 0, NULL);
    s = settings(8, 8);
    s.crf = 64;
    check_caps(CME_BACKEND_AOM, s, CME_EINVAL, "crf 64 is out of range for libaom-av1 (1..63)");
    /* Levels: SVT-AV1 signals what it is given; libaom and rav1e choose their own. */
    s = settings(8, 8);
    s.level = 51;
    check_caps(CME_BACKEND_SVT, s, 0, NULL);
    check_caps(CME_BACKEND_AOM, s, CME_EUNSUPPORTED, "libaom-av1 cannot signal a forced level");
    check_caps(CME_BACKEND_RAV1E, s, CME_EUNSUPPORTED, "librav1e cannot signal a forced level");
    s.level = 58;
    check_caps(CME_BACKEND_SVT, s, CME_EINVAL, "level 5.8 is not an AV1 level");
}

static void test_rung_check_names_rung_and_device(void **state)
{
    (void)state;
    CmeRungSettings rung = {
        .name = "720p", .width = 1280, .height = 720, .crf = 35, .preset = 10
    };
    CmeDevice dev = { .id = "aom-box", .backend = CME_BACKEND_AOM, .sessions = 1 };
    char err[512] = { 0 };
    assert_int_equal(cme__encoder_check_rung(&rung, &dev, err, sizeof(err)), CME_EINVAL);
    assert_non_null(strstr(err, "rung 720p on device aom-box: preset 10 is out of range"));
    rung.preset = 6;
    assert_int_equal(cme__encoder_check_rung(&rung, &dev, err, sizeof(err)), 0);
    /* Software devices have no session cap but the cores. */
    dev.sessions = 64;
    assert_int_equal(cme__encoder_check_rung(&rung, &dev, err, sizeof(err)), 0);
}

static void test_caps(void **state)
{
    (void)state;
    const CmeEncoderImpl *impl = NULL;
    char msg[256];
    assert_int_equal(cme__encoder_lookup("aom", &impl, msg, sizeof(msg)), 0);
    CmeEncoderCaps c;
    assert_int_equal(impl->caps(&c, msg, sizeof(msg)), 0);
    assert_true(c.bit_depths & (1u << 8));
    assert_true(c.bit_depths & (1u << 10));
    assert_int_equal(c.midjob_open_safe, 1);
    assert_int_equal(c.hardware, 0);
    assert_int_equal(cme__encoder_lookup("svt", &impl, msg, sizeof(msg)), 0);
    assert_int_equal(impl->caps(&c, msg, sizeof(msg)), 0);
    assert_int_equal(c.midjob_open_safe, 0); /* SVT-AV1 1.4.1: every init resets dispatch */
    assert_int_equal(c.forced_keyframes, 1);
    /* The message lists every known name; every built backend is a known name. */
    for (int i = 0; cme__encoder_known[i]; i++)
        assert_non_null(strstr(cme__encoder_names(), cme__encoder_known[i]));
    for (int i = 0; cme__encoders[i]; i++) {
        int known = 0;
        for (int k = 0; cme__encoder_known[k]; k++)
            known |= !strcmp(cme__encoders[i]->name, cme__encoder_known[k]);
        assert_true(known);
    }
    assert_int_equal(cme__encoder_lookup("x264", &impl, msg, sizeof(msg)), CME_EINVAL);
    assert_non_null(strstr(
        msg,
        "expected svt, aom, rav1e, nvenc, qsv, vaapi, amf or fault (test builds), got \"x264\""));
    /* Hardware encoders missing from FFmpeg 5.1 say so, with the version that has them. */
    assert_int_equal(cme__encoder_lookup("amf", &impl, msg, sizeof(msg)), 0);
    if (impl->caps(&c, msg, sizeof(msg)) == CME_ENODEV)
        assert_non_null(strstr(msg, "av1_amf: not in this FFmpeg build"));
}

static void test_qindex_and_level_maps(void **state)
{
    (void)state;
    assert_int_equal(cme__lavc_crf_to_qindex(0), 0);
    assert_int_equal(cme__lavc_crf_to_qindex(35), 140);
    assert_int_equal(cme__lavc_crf_to_qindex(60), 240);
    assert_int_equal(cme__lavc_crf_to_qindex(62), 249);
    assert_int_equal(cme__lavc_crf_to_qindex(63), 255);
    assert_int_equal(cme__lavc_level_idx(20), 0);
    assert_int_equal(cme__lavc_level_idx(51), 13);
    assert_int_equal(cme__lavc_level_idx(73), 23);
    assert_int_equal(cme__lavc_level_idx(54), -1);
    assert_int_equal(cme__lavc_level_idx(80), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aom_key_frames_at_chunk_starts),
        cmocka_unit_test(test_aom_ten_bit),
        cmocka_unit_test(test_rav1e_key_frames_at_chunk_starts),
        cmocka_unit_test(test_rav1e_ten_bit),
        cmocka_unit_test(test_close_without_frames_returns),
        cmocka_unit_test(test_ranges_are_checked_per_encoder),
        cmocka_unit_test(test_rung_check_names_rung_and_device),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_qindex_and_level_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

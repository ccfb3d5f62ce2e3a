/*
 * CMAF muxer tests: golden bytes written by hand from ISO/IEC 14496-12 and AV1-ISOBMFF
 * (not copied from the writer's output), a structural walk of the init segment, the trun
 * data offset, argument validation, and an independent check with ffprobe on real AV1
 * data from SVT-AV1 (fails when ffmpeg with libsvtav1 is not installed). The AAC audio init
 * segment gets the same: a hand-written mp4a/esds golden from ISO/IEC 14496-12/-14 and
 * 14496-1, a structure walk, validation, and ffprobe reading real AAC from FFmpeg's
 * encoder muxed by us.
 */
/* The golden byte tables below are laid out by hand, field by field as the specs
 * draw them; the formatter would pack them into unreadable columns. */
/* clang-format off */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmafeng/inspect.h"
#include "cmafeng/mux.h"

/* ---- helpers ---------------------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds the first box of `type` in [p, p + size) searching depth-first through the
 * containers this test knows; returns a pointer to it or NULL. */
static const uint8_t *find_box(const uint8_t *p, size_t size, const char *type);

static size_t children_offset(const uint8_t *box)
{
    static const char *const plain[] = { "moov", "trak", "mdia", "minf", "dinf", "stbl",
                                         "mvex", "moof", "traf", "edts" };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        if (!memcmp(box + 4, plain[i], 4))
            return 8;
    /* FullBox header + entry_count (ISO/IEC 14496-12 8.7.2, 8.5.2). */
    if (!memcmp(box + 4, "dref", 4) || !memcmp(box + 4, "stsd", 4))
        return 16;
    /* VisualSampleEntry fields end 86 bytes into the box (ISO/IEC 14496-12 12.1.3). */
    if (!memcmp(box + 4, "av01", 4))
        return 86;
    /* AudioSampleEntry v0 fields end 36 bytes into the box (ISO/IEC 14496-12 12.2.3). */
    if (!memcmp(box + 4, "mp4a", 4))
        return 36;
    return 0;
}

static const uint8_t *find_box(const uint8_t *p, size_t size, const char *type)
{
    size_t pos = 0;
    while (pos + 8 <= size) {
        uint32_t bs = rd32(p + pos);
        if (bs < 8 || bs > size - pos)
            return NULL;
        if (!memcmp(p + pos + 4, type, 4))
            return p + pos;
        size_t c = children_offset(p + pos);
        if (c) {
            const uint8_t *r = find_box(p + pos + c, bs - c, type);
            if (r)
                return r;
        }
        pos += bs;
    }
    return NULL;
}

/* Compares the box of `type` found in the buffer with the expected bytes. */
static void assert_box(const CmeBuf *b, const char *type, const uint8_t *exp, size_t n)
{
    const uint8_t *box = find_box(b->data, b->size, type);
    assert_non_null(box);
    assert_int_equal(rd32(box), n);
    assert_memory_equal(box, exp, n);
}

/* ---- media segment ---------------------------------------------------------------- */

/* Three samples: a 5-byte sync sample and two non-sync samples of 3 and 4 bytes. */
static const CmeSample seg_samples[3] = {
    { .size = 5, .duration = 3000, .sync = 1 },
    { .size = 3, .duration = 3000, .sync = 0 },
    { .size = 4, .duration = 3600, .sync = 0 },
};
static const uint8_t seg_data[12] = { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xb1, 0xb2, 0xb3,
                                      0xc1, 0xc2, 0xc3, 0xc4 };
static const CmeSegmentInfo seg_info = { .track_id = 1, .sequence_number = 7,
                                         .base_decode_time = 0x123456789ull };

#define BE32(v) (uint8_t)((v) >> 24), (uint8_t)((v) >> 16), (uint8_t)((v) >> 8), (uint8_t)(v)
#define CC(s) (uint8_t)(s)[0], (uint8_t)(s)[1], (uint8_t)(s)[2], (uint8_t)(s)[3]

/* ISO/IEC 14496-12 8.16.2: size 24, major 'cmfs', minor 0, compatible cmfs msdh. */
static const uint8_t exp_styp[] = { BE32(24), CC("styp"), CC("cmfs"), BE32(0),
                                    CC("cmfs"), CC("msdh") };
/* 8.8.5: FullBox v0 flags 0, sequence_number 7. */
static const uint8_t exp_mfhd[] = { BE32(16), CC("mfhd"), 0, 0, 0, 0, BE32(7) };
/* 8.8.7: flags 0x020000 default-base-is-moof, track_ID 1, no optional fields. */
static const uint8_t exp_tfhd[] = { BE32(16), CC("tfhd"), 0x00, 0x02, 0x00, 0x00, BE32(1) };
/* 8.8.12: version 1, 64-bit baseMediaDecodeTime 0x0000000123456789. */
static const uint8_t exp_tfdt[] = { BE32(20), CC("tfdt"), 0x01, 0, 0, 0,
                                    0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89 };
/*
 * 8.8.8: version 0, flags 0x000701 (data-offset, duration, size, flags present),
 * sample_count 3, data_offset = moof size (8 + mfhd 16 + traf (8 + 16 + 20 + 56)) = 124
 * plus the 8-byte mdat header = 132, then duration/size/flags per sample; 0x02000000 for
 * the sync sample (depends_on 2) and 0x01010000 for the others (depends_on 1, non-sync).
 */
static const uint8_t exp_trun[] = {
    BE32(56), CC("trun"), 0x00, 0x00, 0x07, 0x01, BE32(3), BE32(132),
    BE32(3000), BE32(5), BE32(0x02000000),
    BE32(3000), BE32(3), BE32(0x01010000),
    BE32(3600), BE32(4), BE32(0x01010000),
};

static void test_segment_boxes(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    assert_int_equal(cme_mux_write_segment(&b, &seg_info, seg_samples, 3, seg_data, 12), 0);
    assert_memory_equal(b.data, exp_styp, sizeof(exp_styp));
    assert_box(&b, "mfhd", exp_mfhd, sizeof(exp_mfhd));
    assert_box(&b, "tfhd", exp_tfhd, sizeof(exp_tfhd));
    assert_box(&b, "tfdt", exp_tfdt, sizeof(exp_tfdt));
    assert_box(&b, "trun", exp_trun, sizeof(exp_trun));
    cme_buf_free(&b);
}

static void test_segment_full(void **state)
{
    (void)state;
    uint8_t exp[24 + 124 + 20];
    size_t n = 0;
#define PUT(arr) (memcpy(exp + n, arr, sizeof(arr)), n += sizeof(arr))
    PUT(exp_styp);
    static const uint8_t moof_hdr[] = { BE32(124), CC("moof") };
    PUT(moof_hdr);
    PUT(exp_mfhd);
    static const uint8_t traf_hdr[] = { BE32(100), CC("traf") };
    PUT(traf_hdr);
    PUT(exp_tfhd);
    PUT(exp_tfdt);
    PUT(exp_trun);
    static const uint8_t mdat_hdr[] = { BE32(20), CC("mdat") };
    PUT(mdat_hdr);
    PUT(seg_data);
#undef PUT
    assert_int_equal(n, sizeof(exp));

    CmeBuf b = { 0 };
    assert_int_equal(cme_mux_write_segment(&b, &seg_info, seg_samples, 3, seg_data, 12), 0);
    assert_int_equal(b.size, sizeof(exp));
    assert_memory_equal(b.data, exp, sizeof(exp));
    cme_buf_free(&b);
}

/* The trun data_offset, relative to the moof start, lands on the first mdat payload byte,
 * also when the buffer already holds earlier output. */
static void test_segment_data_offset(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    CmeSample many[40];
    uint8_t data[40 * 3];
    for (int i = 0; i < 40; i++) {
        many[i] = (CmeSample){ .size = 3, .duration = 512, .sync = i == 0 };
        for (int k = 0; k < 3; k++)
            data[i * 3 + k] = (uint8_t)(i + 1);
    }
    /* A first segment in the buffer stands for earlier output: writers only append. */
    CmeSegmentInfo info = { .track_id = 2, .sequence_number = 1, .base_decode_time = 0 };
    assert_int_equal(cme_mux_write_segment(&b, &info, many, 1, data, 3), 0);
    size_t first = b.size;
    assert_int_equal(cme_mux_write_segment(&b, &info, many, 40, data, sizeof(data)), 0);

    const uint8_t *seg = b.data + first;
    size_t seg_size = b.size - first;
    const uint8_t *moof = find_box(seg, seg_size, "moof");
    const uint8_t *trun = find_box(seg, seg_size, "trun");
    const uint8_t *mdat = find_box(seg, seg_size, "mdat");
    assert_non_null(moof);
    assert_non_null(trun);
    assert_non_null(mdat);
    assert_int_equal(rd32(trun + 12), 40);
    uint32_t off = rd32(trun + 16);
    assert_ptr_equal(moof + off, mdat + 8);
    assert_int_equal(moof[off], 1);
    assert_int_equal(rd32(mdat), 8 + sizeof(data));
    assert_ptr_equal(mdat + rd32(mdat), b.data + b.size);
    cme_buf_free(&b);
}

static void test_segment_invalid(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    CmeSegmentInfo bad = seg_info;
    assert_int_equal(cme_mux_write_segment(NULL, &seg_info, seg_samples, 3, seg_data, 12),
                     CME_EINVAL);
    assert_int_equal(cme_mux_write_segment(&b, NULL, seg_samples, 3, seg_data, 12), CME_EINVAL);
    assert_int_equal(cme_mux_write_segment(&b, &seg_info, NULL, 3, seg_data, 12), CME_EINVAL);
    assert_int_equal(cme_mux_write_segment(&b, &seg_info, seg_samples, 0, seg_data, 0),
                     CME_EINVAL);
    assert_int_equal(cme_mux_write_segment(&b, &seg_info, seg_samples, 3, NULL, 12),
                     CME_EINVAL);
    /* The sample sizes must add up to the data size. */
    assert_int_equal(cme_mux_write_segment(&b, &seg_info, seg_samples, 3, seg_data, 11),
                     CME_EINVAL);
    bad.track_id = 0;
    assert_int_equal(cme_mux_write_segment(&b, &bad, seg_samples, 3, seg_data, 12), CME_EINVAL);
    bad = seg_info;
    bad.sequence_number = 0;
    assert_int_equal(cme_mux_write_segment(&b, &bad, seg_samples, 3, seg_data, 12), CME_EINVAL);
    assert_int_equal(b.size, 0);
    cme_buf_free(&b);
}

/* ---- init segment ----------------------------------------------------------------- */

/* A minimal AV1CodecConfigurationRecord: marker/version 0x81, profile 0 level 0, 8-bit
 * 4:2:0 (subsampling x and y set: 0x0c), no initial presentation delay, no config OBUs. */
static const uint8_t test_av1c[4] = { 0x81, 0x00, 0x0c, 0x00 };

static CmeVideoTrack test_track(void)
{
    CmeVideoTrack t = { 0 };
    t.track_id = 1;
    t.timescale = 90000;
    t.width = 64;
    t.height = 48;
    t.sar_num = t.sar_den = 1;
    t.av1c = test_av1c;
    t.av1c_size = sizeof(test_av1c);
    t.color_primaries = 1;
    t.transfer_characteristics = 13;
    t.matrix_coefficients = 6;
    t.full_range = 1;
    t.max_bitrate = 0x01020304;
    t.avg_bitrate = 0x00a0b0c0;
    return t;
}

/* ISO/IEC 14496-12 4.3: major cmfc, minor 0, compatible cmfc iso6 av01. */
static const uint8_t exp_ftyp[] = { BE32(28), CC("ftyp"), CC("cmfc"), BE32(0),
                                    CC("cmfc"), CC("iso6"), CC("av01") };
/* 8.4.2: v0, times 0, timescale 90000, duration 0, language "und" = 0x55c4. */
static const uint8_t exp_mdhd[] = { BE32(32), CC("mdhd"), 0, 0, 0, 0, BE32(0), BE32(0),
                                    BE32(90000), BE32(0), 0x55, 0xc4, 0x00, 0x00 };
/* 8.8.3: track_ID 1, default_sample_description_index 1, other defaults 0. */
static const uint8_t exp_trex[] = { BE32(32), CC("trex"), 0, 0, 0, 0, BE32(1), BE32(1),
                                    BE32(0), BE32(0), BE32(0) };
/* AV1-ISOBMFF 2.2 / ISO/IEC 14496-12 12.1.3: the av01 sample entry with av1C, colr nclx
 * (1, 13, 6, full range), btrt; no pasp for square pixels. Size 86 + 12 + 19 + 20. */
static const uint8_t exp_av01[] = {
    BE32(137), CC("av01"),
    0, 0, 0, 0, 0, 0, 0x00, 0x01,                /* reserved, data_reference_index 1 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* pre_defined, reserved, pre_defined */
    0x00, 0x40, 0x00, 0x30,                     /* width 64, height 48 */
    0x00, 0x48, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, /* 72 dpi */
    0, 0, 0, 0,                                 /* reserved */
    0x00, 0x01,                                 /* frame_count */
    10, 'A', 'O', 'M', ' ', 'C', 'o', 'd', 'i', 'n', 'g',
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 21 bytes of pad */
    0x00, 0x18, 0xff, 0xff,                     /* depth, pre_defined -1 */
    BE32(12), CC("av1C"), 0x81, 0x00, 0x0c, 0x00,
    BE32(19), CC("colr"), CC("nclx"), 0x00, 0x01, 0x00, 0x0d, 0x00, 0x06, 0x80,
    BE32(20), CC("btrt"), BE32(0), BE32(0x01020304), BE32(0x00a0b0c0),
};

static void test_init_boxes(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    CmeVideoTrack t = test_track();
    assert_int_equal(cme_mux_write_init(&b, &t), 0);
    assert_memory_equal(b.data, exp_ftyp, sizeof(exp_ftyp));
    assert_box(&b, "mdhd", exp_mdhd, sizeof(exp_mdhd));
    assert_box(&b, "trex", exp_trex, sizeof(exp_trex));
    assert_box(&b, "av01", exp_av01, sizeof(exp_av01));

    /* mvhd: timescale at 20, next_track_ID last (ISO/IEC 14496-12 8.2.2). */
    const uint8_t *mvhd = find_box(b.data, b.size, "mvhd");
    assert_non_null(mvhd);
    assert_int_equal(rd32(mvhd), 108);
    assert_int_equal(rd32(mvhd + 20), 90000);
    assert_int_equal(rd32(mvhd + 104), 2);
    /* tkhd: flags 3, track_ID 1, width/height 16.16 at the end (8.3.2). */
    const uint8_t *tkhd = find_box(b.data, b.size, "tkhd");
    assert_non_null(tkhd);
    assert_int_equal(rd32(tkhd), 92);
    assert_int_equal(rd32(tkhd + 8), 3);
    assert_int_equal(rd32(tkhd + 20), 1);
    assert_int_equal(rd32(tkhd + 84), 64 << 16);
    assert_int_equal(rd32(tkhd + 88), 48 << 16);
    /* hdlr 'vide'. */
    const uint8_t *hdlr = find_box(b.data, b.size, "hdlr");
    assert_non_null(hdlr);
    assert_memory_equal(hdlr + 16, "vide", 4);
    assert_null(find_box(b.data, b.size, "pasp"));
    cme_buf_free(&b);
}

/* Walks a box list, checking that sizes nest exactly, and records the types in order. */
static void walk(const uint8_t *p, size_t size, char (*types)[5], size_t *n, size_t max)
{
    size_t pos = 0;
    while (pos < size) {
        assert_true(size - pos >= 8);
        uint32_t bs = rd32(p + pos);
        assert_true(bs >= 8 && bs <= size - pos);
        assert_true(*n < max);
        memcpy(types[*n], p + pos + 4, 4);
        types[(*n)++][4] = 0;
        size_t c = children_offset(p + pos);
        if (c) {
            assert_true(c <= bs);
            walk(p + pos + c, bs - c, types, n, max);
        }
        pos += bs;
    }
    assert_int_equal(pos, size);
}

static void check_tree(const CmeBuf *b, const char *const *exp, size_t nexp)
{
    char types[64][5];
    size_t n = 0;
    walk(b->data, b->size, types, &n, 64);
    assert_int_equal(n, nexp);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(types[i], exp[i]);
}

static void test_init_structure(void **state)
{
    (void)state;
    static const char *const exp[] = {
        "ftyp", "moov", "mvhd", "trak", "tkhd", "mdia", "mdhd", "hdlr", "minf",
        "vmhd", "dinf", "dref", "url ", "stbl", "stsd", "av01", "av1C", "colr",
        "btrt", "stts", "stsc", "stsz", "stco", "mvex", "trex",
    };
    CmeBuf b = { 0 };
    CmeVideoTrack t = test_track();
    assert_int_equal(cme_mux_write_init(&b, &t), 0);
    check_tree(&b, exp, sizeof(exp) / sizeof(exp[0]));
    cme_buf_free(&b);
}

/* A non-square pixel aspect ratio adds pasp and widens the tkhd presentation width. */
static void test_init_pasp(void **state)
{
    (void)state;
    static const char *const exp[] = {
        "ftyp", "moov", "mvhd", "trak", "tkhd", "mdia", "mdhd", "hdlr", "minf",
        "vmhd", "dinf", "dref", "url ", "stbl", "stsd", "av01", "av1C", "colr",
        "pasp", "btrt", "stts", "stsc", "stsz", "stco", "mvex", "trex",
    };
    static const uint8_t exp_pasp[] = { BE32(16), CC("pasp"), BE32(4), BE32(3) };
    CmeBuf b = { 0 };
    CmeVideoTrack t = test_track();
    t.sar_num = 4;
    t.sar_den = 3;
    assert_int_equal(cme_mux_write_init(&b, &t), 0);
    check_tree(&b, exp, sizeof(exp) / sizeof(exp[0]));
    assert_box(&b, "pasp", exp_pasp, sizeof(exp_pasp));
    const uint8_t *tkhd = find_box(b.data, b.size, "tkhd");
    assert_int_equal(rd32(tkhd + 84), (64 * 4 / 3) << 16 | ((64 * 4 % 3) << 16) / 3);
    cme_buf_free(&b);
}

/* HDR10 metadata adds mdcv and clli after colr (ISO/IEC 14496-12:2022 plain boxes in the
 * visual sample entry): primaries G, B, R then the white point in 0.00002 units, luminance
 * max then min in 0.0001 cd/m2; MaxCLL, MaxFALL. The MP4 reader behind `inspect` reads them
 * back in R, G, B order. */
static void test_init_hdr(void **state)
{
    (void)state;
    static const char *const exp[] = {
        "ftyp", "moov", "mvhd", "trak", "tkhd", "mdia", "mdhd", "hdlr", "minf",
        "vmhd", "dinf", "dref", "url ", "stbl", "stsd", "av01", "av1C", "colr",
        "mdcv", "clli", "btrt", "stts", "stsc", "stsz", "stco", "mvex", "trex",
    };
#define BE16(v) (uint8_t)((v) >> 8), (uint8_t)(v)
    static const uint8_t exp_mdcv[] = {
        BE32(32),    CC("mdcv"),  BE16(8500),  BE16(39850), BE16(6550),       BE16(2300),
        BE16(35400), BE16(14600), BE16(15635), BE16(16450), BE32(10000000u), BE32(50),
    };
    static const uint8_t exp_clli[] = { BE32(12), CC("clli"), BE16(1000), BE16(400) };
#undef BE16
    CmeBuf b = { 0 };
    CmeVideoTrack t = test_track();
    /* BT.2020 primaries, D65, a 1000 cd/m2 mastering display (SMPTE ST 2086). */
    t.hdr = (CmeHdrMetadata){ .has_mastering = 1,
                              .primaries = { { 0.708, 0.292 }, { 0.170, 0.797 }, { 0.131, 0.046 } },
                              .white_point = { 0.3127, 0.3290 },
                              .min_luminance = 0.005,
                              .max_luminance = 1000,
                              .has_content_light = 1,
                              .max_cll = 1000,
                              .max_fall = 400 };
    assert_int_equal(cme_mux_write_init(&b, &t), 0);
    check_tree(&b, exp, sizeof(exp) / sizeof(exp[0]));
    assert_box(&b, "mdcv", exp_mdcv, sizeof(exp_mdcv));
    assert_box(&b, "clli", exp_clli, sizeof(exp_clli));

    CmeInspect *pi = NULL;
    char err[256] = { 0 };
    assert_int_equal(cme_inspect_buffer(b.data, b.size, "init.mp4", &pi, err, sizeof(err)), 0);
    assert_true(pi->hdr.has_mastering);
    assert_true(pi->hdr.has_content_light);
    assert_float_equal(pi->hdr.primaries[0][0], 0.708, 1e-9);
    assert_float_equal(pi->hdr.primaries[1][1], 0.797, 1e-9);
    assert_float_equal(pi->hdr.primaries[2][0], 0.131, 1e-9);
    assert_float_equal(pi->hdr.white_point[1], 0.329, 1e-9);
    assert_float_equal(pi->hdr.max_luminance, 1000, 1e-9);
    assert_float_equal(pi->hdr.min_luminance, 0.005, 1e-9);
    assert_int_equal(pi->hdr.max_cll, 1000);
    assert_int_equal(pi->hdr.max_fall, 400);
    cme_inspect_free(&pi);
    cme_buf_free(&b);

    /* Content light level alone: clli without mdcv. */
    t.hdr.has_mastering = 0;
    assert_int_equal(cme_mux_write_init(&b, &t), 0);
    assert_null(find_box(b.data, b.size, "mdcv"));
    assert_box(&b, "clli", exp_clli, sizeof(exp_clli));
    cme_buf_free(&b);
}

static void test_init_invalid(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    CmeVideoTrack t = test_track();
    assert_int_equal(cme_mux_write_init(NULL, &t), CME_EINVAL);
    assert_int_equal(cme_mux_write_init(&b, NULL), CME_EINVAL);
    t.timescale = 0;
    assert_int_equal(cme_mux_write_init(&b, &t), CME_EINVAL);
    t = test_track();
    t.track_id = 0;
    assert_int_equal(cme_mux_write_init(&b, &t), CME_EINVAL);
    t = test_track();
    t.av1c = NULL;
    assert_int_equal(cme_mux_write_init(&b, &t), CME_EINVAL);
    t = test_track();
    t.av1c_size = 3;
    assert_int_equal(cme_mux_write_init(&b, &t), CME_EINVAL);
    t = test_track();
    t.width = 70000;
    assert_int_equal(cme_mux_write_init(&b, &t), CME_EINVAL);
    t = test_track();
    t.sar_den = 0;
    assert_int_equal(cme_mux_write_init(&b, &t), CME_EINVAL);
    assert_int_equal(b.size, 0);
    cme_buf_free(&b);
}

/* ---- audio init segment ----------------------------------------------------------- */

/* AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) of AAC-LC, 48 kHz, stereo:
 * audioObjectType 2 (00010), samplingFrequencyIndex 3 (0011), channelConfiguration 2
 * (0010), GASpecificConfig 000 -> 0001 0001 1001 0000. */
static const uint8_t test_asc[2] = { 0x11, 0x90 };

static CmeAudioTrack test_audio(void)
{
    CmeAudioTrack t = { 0 };
    t.track_id = 1;
    t.timescale = 48000;
    t.sample_rate = 48000;
    t.channels = 2;
    t.asc = test_asc;
    t.asc_size = sizeof(test_asc);
    t.max_bitrate = 131072;
    t.avg_bitrate = 128000;
    t.language = "eng";
    return t;
}

/* ISO/IEC 14496-12 4.3: major cmfc, compatible cmfc iso6 caac (AAC-LC stereo 48 kHz is
 * within the AAC core CMAF media profile). */
static const uint8_t exp_ftyp_audio[] = { BE32(28), CC("ftyp"), CC("cmfc"), BE32(0),
                                          CC("cmfc"), CC("iso6"), CC("caac") };
/* 8.4.2: timescale 48000, language "eng" = (5 << 10) | (14 << 5) | 7 = 0x15c7. */
static const uint8_t exp_mdhd_audio[] = { BE32(32), CC("mdhd"), 0, 0, 0, 0, BE32(0),
                                          BE32(0), BE32(48000), BE32(0), 0x15, 0xc7, 0, 0 };
/* 12.2.2: balance 0, reserved. */
static const uint8_t exp_smhd[] = { BE32(16), CC("smhd"), 0, 0, 0, 0, 0, 0, 0, 0 };
/*
 * MP4AudioSampleEntry (ISO/IEC 14496-14 5.6 over ISO/IEC 14496-12 12.2.3, version 0):
 * 8 + 28 bytes of fields, esds 39, btrt 20 = 95.
 * esds (ISO/IEC 14496-1 7.2.6): FullBox header, then
 *   ES_Descriptor tag 3, size 25 = 3 (ES_ID 0, flags 0) + 19 + 3
 *     DecoderConfigDescriptor tag 4, size 17 = 13 + 4: objectTypeIndication 0x40,
 *       streamType 5 << 2 | upStream 0 | reserved 1 = 0x15, bufferSizeDB 2 * 768 = 0x000600,
 *       maxBitrate 131072, avgBitrate 128000,
 *       DecoderSpecificInfo tag 5, size 2: the ASC 0x11 0x90
 *     SLConfigDescriptor tag 6, size 1: predefined 2.
 */
static const uint8_t exp_mp4a[] = {
    BE32(95), CC("mp4a"),
    0, 0, 0, 0, 0, 0, 0x00, 0x01, /* reserved, data_reference_index 1 */
    0, 0, 0, 0, 0, 0, 0, 0,       /* reserved */
    0x00, 0x02,                   /* channelcount 2 */
    0x00, 0x10,                   /* samplesize 16 */
    0x00, 0x00, 0x00, 0x00,       /* pre_defined, reserved */
    0xbb, 0x80, 0x00, 0x00,       /* samplerate 48000 << 16 */
    BE32(39), CC("esds"), 0, 0, 0, 0,
    0x03, 25, 0x00, 0x00, 0x00,
    0x04, 17, 0x40, 0x15, 0x00, 0x06, 0x00, BE32(131072), BE32(128000),
    0x05, 2, 0x11, 0x90,
    0x06, 1, 0x02,
    BE32(20), CC("btrt"), BE32(0), BE32(131072), BE32(128000),
};

static void test_audio_init_boxes(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    CmeAudioTrack t = test_audio();
    assert_int_equal(cme_mux_write_init_audio(&b, &t), 0);
    assert_memory_equal(b.data, exp_ftyp_audio, sizeof(exp_ftyp_audio));
    assert_box(&b, "mdhd", exp_mdhd_audio, sizeof(exp_mdhd_audio));
    assert_box(&b, "smhd", exp_smhd, sizeof(exp_smhd));
    assert_box(&b, "mp4a", exp_mp4a, sizeof(exp_mp4a));
    assert_box(&b, "trex", exp_trex, sizeof(exp_trex));

    /* mvhd: timescale 48000, next_track_ID 2. */
    const uint8_t *mvhd = find_box(b.data, b.size, "mvhd");
    assert_non_null(mvhd);
    assert_int_equal(rd32(mvhd + 20), 48000);
    assert_int_equal(rd32(mvhd + 104), 2);
    /* tkhd (8.3.2): flags 3, track_ID 1, volume 0x0100 at offset 44, width/height 0. */
    const uint8_t *tkhd = find_box(b.data, b.size, "tkhd");
    assert_non_null(tkhd);
    assert_int_equal(rd32(tkhd), 92);
    assert_int_equal(rd32(tkhd + 8), 3);
    assert_int_equal(rd32(tkhd + 20), 1);
    assert_int_equal(tkhd[44] << 8 | tkhd[45], 0x0100);
    assert_int_equal(rd32(tkhd + 84), 0);
    assert_int_equal(rd32(tkhd + 88), 0);
    /* hdlr 'soun', name "SoundHandler\0": 32 + 13 bytes. */
    const uint8_t *hdlr = find_box(b.data, b.size, "hdlr");
    assert_non_null(hdlr);
    assert_int_equal(rd32(hdlr), 45);
    assert_memory_equal(hdlr + 16, "soun", 4);
    assert_memory_equal(hdlr + 32, "SoundHandler", 13);
    assert_null(find_box(b.data, b.size, "vmhd"));
    cme_buf_free(&b);
}

static void test_audio_init_structure(void **state)
{
    (void)state;
    static const char *const exp[] = {
        "ftyp", "moov", "mvhd", "trak", "tkhd", "mdia", "mdhd", "hdlr", "minf",
        "smhd", "dinf", "dref", "url ", "stbl", "stsd", "mp4a", "esds", "btrt",
        "stts", "stsc", "stsz", "stco", "mvex", "trex",
    };
    CmeBuf b = { 0 };
    CmeAudioTrack t = test_audio();
    assert_int_equal(cme_mux_write_init_audio(&b, &t), 0);
    check_tree(&b, exp, sizeof(exp) / sizeof(exp[0]));
    cme_buf_free(&b);
}

/* ISO/IEC 14496-12 8.6.6: elst v0, one entry: segment_duration 0, media_time 1024 (the AAC
 * priming), media_rate 1.0. */
static const uint8_t exp_elst[] = { BE32(28), CC("elst"), 0, 0, 0, 0, BE32(1),
                                    BE32(0), BE32(1024), 0x00, 0x01, 0x00, 0x00 };

static void test_audio_init_priming(void **state)
{
    (void)state;
    static const char *const exp[] = {
        "ftyp", "moov", "mvhd", "trak", "tkhd", "edts", "elst", "mdia", "mdhd", "hdlr",
        "minf", "smhd", "dinf", "dref", "url ", "stbl", "stsd", "mp4a", "esds", "btrt",
        "stts", "stsc", "stsz", "stco", "mvex", "trex",
    };
    CmeBuf b = { 0 };
    CmeAudioTrack t = test_audio();
    t.priming = 1024;
    assert_int_equal(cme_mux_write_init_audio(&b, &t), 0);
    check_tree(&b, exp, sizeof(exp) / sizeof(exp[0]));
    assert_box(&b, "elst", exp_elst, sizeof(exp_elst));
    cme_buf_free(&b);
}

/* Defaults (timescale 0 = sample rate, language NULL = "und"), a profile outside 'caac'
 * (5.1 channels), and a 200-byte ASC whose descriptor sizes need two bytes each
 * (ISO/IEC 14496-1 8.3.3: 200 = 0x81 0x48). */
static void test_audio_init_variants(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    CmeAudioTrack t = test_audio();
    t.timescale = 0;
    t.language = NULL;
    t.channels = 6;
    assert_int_equal(cme_mux_write_init_audio(&b, &t), 0);
    static const uint8_t ftyp[] = { BE32(24), CC("ftyp"), CC("cmfc"), BE32(0), CC("cmfc"),
                                    CC("iso6") };
    assert_memory_equal(b.data, ftyp, sizeof(ftyp));
    static const uint8_t mdhd[] = { BE32(32), CC("mdhd"), 0, 0, 0, 0, BE32(0), BE32(0),
                                    BE32(48000), BE32(0), 0x55, 0xc4, 0, 0 };
    assert_box(&b, "mdhd", mdhd, sizeof(mdhd));
    const uint8_t *mp4a = find_box(b.data, b.size, "mp4a");
    assert_non_null(mp4a);
    assert_int_equal(mp4a[24] << 8 | mp4a[25], 6);
    cme_buf_free(&b);

    uint8_t big[200];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    big[0] = 0x11;
    big[1] = 0x90;
    t = test_audio();
    t.asc = big;
    t.asc_size = sizeof(big);
    assert_int_equal(cme_mux_write_init_audio(&b, &t), 0);
    const uint8_t *esds = find_box(b.data, b.size, "esds");
    assert_non_null(esds);
    /* ES body 3 + (3 + 216) + 3 = 225; DecoderConfig body 13 + 3 + 200 = 216. */
    static const uint8_t head[] = { 0x03, 0x81, 0x61, 0, 0, 0, 0x04, 0x81, 0x58, 0x40, 0x15 };
    assert_memory_equal(esds + 12, head, sizeof(head));
    static const uint8_t dsi[] = { 0x05, 0x81, 0x48, 0x11, 0x90, 2, 3 };
    assert_memory_equal(esds + 12 + 11 + 11, dsi, sizeof(dsi));
    assert_int_equal(rd32(esds), 12 + 3 + 225);
    const uint8_t *sl = esds + rd32(esds) - 3;
    assert_int_equal(sl[0], 0x06);
    assert_int_equal(sl[1], 1);
    assert_int_equal(sl[2], 2);
    cme_buf_free(&b);
}

static void test_audio_init_invalid(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    CmeAudioTrack t = test_audio();
    assert_int_equal(cme_mux_write_init_audio(NULL, &t), CME_EINVAL);
    assert_int_equal(cme_mux_write_init_audio(&b, NULL), CME_EINVAL);
    t.track_id = 0;
    assert_int_equal(cme_mux_write_init_audio(&b, &t), CME_EINVAL);
    t = test_audio();
    t.sample_rate = 0;
    assert_int_equal(cme_mux_write_init_audio(&b, &t), CME_EINVAL);
    t = test_audio();
    t.channels = 0;
    assert_int_equal(cme_mux_write_init_audio(&b, &t), CME_EINVAL);
    t = test_audio();
    t.asc = NULL;
    assert_int_equal(cme_mux_write_init_audio(&b, &t), CME_EINVAL);
    t = test_audio();
    t.asc_size = 1;
    assert_int_equal(cme_mux_write_init_audio(&b, &t), CME_EINVAL);
    static const uint8_t aot0[2] = { 0x01, 0x90 };
    t = test_audio();
    t.asc = aot0;
    assert_int_equal(cme_mux_write_init_audio(&b, &t), CME_EINVAL);
    t = test_audio();
    t.language = "en";
    assert_int_equal(cme_mux_write_init_audio(&b, &t), CME_EINVAL);
    t.language = "ENG";
    assert_int_equal(cme_mux_write_init_audio(&b, &t), CME_EINVAL);
    assert_int_equal(b.size, 0);
    cme_buf_free(&b);
}

/* ---- independent check with ffprobe ----------------------------------------------- */

static int run_ok(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0;
}

/* Reads an leb128 (AV1 4.10.5); returns the number of bytes used, 0 on error. */
static size_t leb128(const uint8_t *p, size_t n, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < 8 && i < n; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80))
            return i + 1;
    }
    return 0;
}

typedef struct Tu {
    size_t off, size; /* in the stripped payload buffer */
    int sync;
} Tu;

/*
 * Splits a Low Overhead Bitstream Format stream (AV1 5.2, every OBU with obu_size) into
 * temporal units at each temporal delimiter OBU and drops the delimiters, as
 * AV1-ISOBMFF 2.4 recommends. A temporal unit with a sequence header is taken as sync
 * (SVT-AV1 writes one with every key frame at a GOP start). The first sequence header
 * OBU is copied into `seqhdr`.
 */
static size_t split_tus(const uint8_t *in, size_t n, uint8_t *out, Tu *tus, size_t max_tus,
                        uint8_t *seqhdr, size_t *seqhdr_size)
{
    size_t pos = 0, out_size = 0, nb = 0;
    *seqhdr_size = 0;
    while (pos < n) {
        uint8_t h = in[pos];
        int type = (h >> 3) & 15, ext = (h >> 2) & 1, has_size = (h >> 1) & 1;
        assert_true(has_size);
        size_t hdr = 1 + (size_t)ext;
        uint64_t sz;
        size_t l = leb128(in + pos + hdr, n - pos - hdr, &sz);
        assert_true(l > 0);
        size_t total = hdr + l + (size_t)sz;
        assert_true(total <= n - pos);
        if (type == 2) { /* OBU_TEMPORAL_DELIMITER starts a new temporal unit */
            assert_true(nb < max_tus);
            tus[nb++] = (Tu){ .off = out_size, .size = 0, .sync = 0 };
        } else {
            assert_true(nb > 0);
            if (type == 1) { /* OBU_SEQUENCE_HEADER */
                tus[nb - 1].sync = 1;
                if (!*seqhdr_size) {
                    assert_true(total <= 256); /* the caller's buffer */
                    memcpy(seqhdr, in + pos, total);
                    *seqhdr_size = total;
                }
            }
            memcpy(out + out_size, in + pos, total);
            out_size += total;
            tus[nb - 1].size += total;
        }
        pos += total;
    }
    return nb;
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return p;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static void test_ffprobe_reads_segments(void **state)
{
    (void)state;
    /* The independent check needs the tools; without them the test fails loudly
     * (make deps installs them) rather than passing unchecked. */
    if (!run_ok("ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libsvtav1") ||
        !run_ok("ffprobe -version >/dev/null 2>&1"))
        fail_msg("ffmpeg with libsvtav1 and ffprobe are required (make deps installs them)");
    char dir[] = "/tmp/cme_test_mux_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], obu[256], mp4[256];
    snprintf(obu, sizeof(obu), "%s/x.obu", dir);
    snprintf(mp4, sizeof(mp4), "%s/x.mp4", dir);
    /* 10 frames of 64x64 at 25 fps, a key frame every 5 frames: two GOPs, two segments. */
    snprintf(cmd, sizeof(cmd),
             "SVT_LOG=1 ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=64x64:r=25:d=0.4 "
             "-c:v libsvtav1 -g 5 -f obu %s", obu);
    assert_true(run_ok(cmd));

    size_t n = 0;
    uint8_t *in = read_file(obu, &n);
    assert_non_null(in);
    uint8_t *payload = malloc(n);
    uint8_t seqhdr[256] = { 0 };
    size_t seqhdr_size;
    Tu tus[64] = { { 0 } };
    size_t nb = split_tus(in, n, payload, tus, 64, seqhdr, &seqhdr_size);
    assert_int_equal(nb, 10);
    assert_true(seqhdr_size > 0 && seqhdr_size < 200);
    /* SVT-AV1 repeats the sequence header with each GOP's key frame. */
    assert_true(tus[0].sync);
    assert_true(tus[5].sync);

    /* av1C: the fixed four bytes, then the sequence header OBU as configOBUs. seq_profile
     * is the top 3 bits of the sequence header payload (AV1 5.5.1); the level is left at
     * 0, which only the container-level check would look at. */
    uint8_t av1c[260] = { 0x81, 0x00, 0x0c, 0x00 };
    size_t hdr_len = 1 + ((seqhdr[0] >> 2) & 1);
    uint64_t dummy;
    hdr_len += leb128(seqhdr + hdr_len, seqhdr_size - hdr_len, &dummy);
    av1c[1] = (uint8_t)((seqhdr[hdr_len] >> 5) << 5);
    memcpy(av1c + 4, seqhdr, seqhdr_size);

    CmeVideoTrack t = test_track();
    t.width = t.height = 64;
    t.av1c = av1c;
    t.av1c_size = 4 + seqhdr_size;
    t.color_primaries = t.transfer_characteristics = t.matrix_coefficients = 2;
    t.full_range = 0;
    CmeBuf b = { 0 };
    assert_int_equal(cme_mux_write_init(&b, &t), 0);

    /* Two segments of 5 samples each, 3600 ticks (1/25 s at 90 kHz) per sample. */
    for (int s = 0; s < 2; s++) {
        CmeSample samples[5];
        size_t off = tus[s * 5].off, size = 0;
        for (int i = 0; i < 5; i++) {
            const Tu *tu = &tus[s * 5 + i];
            samples[i] = (CmeSample){ .size = (uint32_t)tu->size, .duration = 3600,
                                      .sync = i == 0 };
            size += tu->size;
        }
        CmeSegmentInfo info = { .track_id = 1, .sequence_number = (uint32_t)s + 1,
                                .base_decode_time = (uint64_t)s * 5 * 3600 };
        assert_int_equal(cme_mux_write_segment(&b, &info, samples, 5, payload + off, size), 0);
    }
    write_file(mp4, b.data, b.size);

    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams v:0 -count_packets -show_entries "
             "stream=codec_name,width,height,nb_read_packets -of default=nw=1 %s", mp4);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[512] = { 0 };
    size_t got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = 0;
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(out, "codec_name=av1\n"));
    assert_non_null(strstr(out, "width=64\n"));
    assert_non_null(strstr(out, "height=64\n"));
    assert_non_null(strstr(out, "nb_read_packets=10\n"));

    /* The decoded frame count, as a stronger check that the sample data is intact. */
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams v:0 -count_frames -show_entries "
             "stream=nb_read_frames -of default=nw=1 %s", mp4);
    p = popen(cmd, "r");
    assert_non_null(p);
    got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = 0;
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(out, "nb_read_frames=10\n"));

    /* The same media as a one-rendition presentation on disk: init.mp4 and two segment
     * files under v/, the media and multivariant playlists and the MPD. ffprobe's HLS and
     * DASH demuxers must find all 10 packets through each manifest. */
    char path[512];
    snprintf(path, sizeof(path), "%s/v", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
    assert_true(run_ok(cmd));
    size_t init_size = 0;
    {
        const uint8_t *moov = find_box(b.data, b.size, "moov");
        assert_non_null(moov);
        init_size = (size_t)(moov - b.data) + rd32(moov);
    }
    CmeSegmentEntry entries[2];
    size_t pos = init_size;
    for (int s = 0; s < 2; s++) {
        /* Each segment runs from its styp to the end of its mdat. */
        size_t len = 0;
        while (pos + len < b.size) {
            uint32_t bs = rd32(b.data + pos + len);
            int last = !memcmp(b.data + pos + len + 4, "mdat", 4);
            len += bs;
            if (last)
                break;
        }
        entries[s] = (CmeSegmentEntry){ .start = (uint64_t)s * 18000, .duration = 18000,
                                        .bytes = len };
        snprintf(path, sizeof(path), "%s/v/seg_%05d.m4s", dir, s + 1);
        write_file(path, b.data + pos, len);
        pos += len;
    }
    assert_int_equal(pos, b.size);
    snprintf(path, sizeof(path), "%s/v/init.mp4", dir);
    write_file(path, b.data, init_size);

    CmeRendition r = { .name = "v", .codecs = "av01.0.00M.08", .width = 64, .height = 64,
                       .fps_num = 25, .fps_den = 1, .timescale = 90000,
                       .peak_bandwidth = 100000, .avg_bandwidth = 90000,
                       .segments = entries, .nb_segments = 2, .start_number = 1 };
    static const char *const manifests[3] = { "v/index.m3u8", "master.m3u8", "manifest.mpd" };
    for (int m = 0; m < 3; m++) {
        CmeBuf mb = { 0 };
        int err = m == 0 ? cme_hls_write_media(&mb, &r)
                  : m == 1 ? cme_hls_write_master(&mb, &r, 1)
                           : cme_dash_write_mpd(&mb, &r, 1);
        assert_int_equal(err, 0);
        snprintf(path, sizeof(path), "%s/%s", dir, manifests[m]);
        write_file(path, mb.data, mb.size);
        cme_buf_free(&mb);
    }
    for (int m = 0; m < 3; m++) {
        snprintf(cmd, sizeof(cmd),
                 "ffprobe -v error -select_streams v:0 -count_packets -show_entries "
                 "stream=codec_name,width,height,nb_read_packets -of default=nw=1 %s/%s",
                 dir, manifests[m]);
        p = popen(cmd, "r");
        assert_non_null(p);
        got = fread(out, 1, sizeof(out) - 1, p);
        out[got] = 0;
        assert_int_equal(pclose(p), 0);
        if (!strstr(out, "codec_name=av1\n") || !strstr(out, "nb_read_packets=10\n"))
            fail_msg("ffprobe %s:\n%s", manifests[m], out);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_true(run_ok(cmd));

    cme_buf_free(&b);
    free(payload);
    free(in);
}

/*
 * Real AAC from FFmpeg's encoder, muxed here: the ADTS stream (ISO/IEC 14496-3 1.A.2) is
 * split into raw access units by stripping each 7-byte header (9 with CRC), the
 * AudioSpecificConfig is built from the first header's profile, sampling frequency index
 * and channel configuration, and the frames go into an init segment and two media
 * segments. ffprobe must see AAC-LC at 48 kHz stereo with every packet, from the
 * concatenation and through an HLS media playlist and a DASH MPD of the audio rendition.
 */
static void test_ffprobe_reads_audio(void **state)
{
    (void)state;
    if (!run_ok("ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' aac '") ||
        !run_ok("ffprobe -version >/dev/null 2>&1"))
        fail_msg("ffmpeg with the native aac encoder and ffprobe are required "
                 "(make deps installs them)");
    char dir[] = "/tmp/cme_test_mux_audio_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], aac[256], mp4[256], path[512];
    snprintf(aac, sizeof(aac), "%s/x.aac", dir);
    snprintf(mp4, sizeof(mp4), "%s/x.mp4", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -f lavfi -i sine=d=1:sample_rate=48000 -ac 2 "
             "-c:a aac -f adts %s", aac);
    assert_true(run_ok(cmd));

    size_t n = 0;
    uint8_t *in = read_file(aac, &n);
    assert_non_null(in);
    uint8_t *payload = malloc(n);
    assert_non_null(payload);
    CmeSample frames[256];
    size_t nb = 0, pos = 0, out_size = 0;
    unsigned profile = 0, sfi = 0, chan = 0;
    while (pos < n) {
        const uint8_t *h = in + pos;
        assert_true(n - pos >= 7);
        assert_true(h[0] == 0xff && (h[1] & 0xf6) == 0xf0); /* syncword, layer 0 */
        size_t hdr = (h[1] & 1) ? 7 : 9; /* protection_absent */
        size_t len = (size_t)(h[3] & 3) << 11 | (size_t)h[4] << 3 | h[5] >> 5;
        assert_int_equal(h[6] & 3, 0); /* one raw_data_block per frame */
        assert_true(len > hdr && len <= n - pos);
        if (nb == 0) {
            profile = h[2] >> 6;
            sfi = (h[2] >> 2) & 15;
            chan = (unsigned)(h[2] & 1) << 2 | h[3] >> 6;
        }
        assert_true(nb < 256);
        frames[nb++] = (CmeSample){ .size = (uint32_t)(len - hdr), .duration = 1024,
                                    .sync = 1 };
        memcpy(payload + out_size, h + hdr, len - hdr);
        out_size += len - hdr;
        pos += len;
    }
    assert_true(nb >= 40);
    assert_int_equal(sfi, 3); /* 48000 Hz */
    assert_int_equal(chan, 2);
    /* ADTS profile is audioObjectType - 1 (ISO/IEC 14496-3 1.A.3.2.1). */
    uint8_t asc[2] = { (uint8_t)((profile + 1) << 3 | sfi >> 1),
                       (uint8_t)((sfi & 1) << 7 | chan << 3) };
    assert_int_equal(asc[0], 0x11);
    assert_int_equal(asc[1], 0x90);

    CmeAudioTrack t = test_audio();
    t.asc = asc;
    t.max_bitrate = t.avg_bitrate = 0;
    CmeBuf b = { 0 };
    assert_int_equal(cme_mux_write_init_audio(&b, &t), 0);
    size_t init_size = b.size;
    size_t half = nb / 2, off = 0, seg_start[3];
    CmeSegmentEntry entries[2];
    for (int s = 0; s < 2; s++) {
        size_t first = s ? half : 0, count = s ? nb - half : half, size = 0;
        for (size_t i = 0; i < count; i++)
            size += frames[first + i].size;
        CmeSegmentInfo info = { .track_id = 1, .sequence_number = (uint32_t)s + 1,
                                .base_decode_time = (uint64_t)first * 1024 };
        seg_start[s] = b.size;
        assert_int_equal(cme_mux_write_segment(&b, &info, frames + first, count,
                                               payload + off, size), 0);
        entries[s] = (CmeSegmentEntry){ .start = (uint64_t)first * 1024,
                                        .duration = (uint64_t)count * 1024,
                                        .bytes = b.size - seg_start[s] };
        off += size;
    }
    seg_start[2] = b.size;
    assert_int_equal(off, out_size);
    write_file(mp4, b.data, b.size);

    char expect[64];
    snprintf(expect, sizeof(expect), "nb_read_packets=%zu\n", nb);
    snprintf(path, sizeof(path), "%s/a", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
    assert_true(run_ok(cmd));
    snprintf(path, sizeof(path), "%s/a/init.mp4", dir);
    write_file(path, b.data, init_size);
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof(path), "%s/a/seg_%05d.m4s", dir, s + 1);
        write_file(path, b.data + seg_start[s], seg_start[s + 1] - seg_start[s]);
    }
    CmeRendition r = { .name = "a", .codecs = "mp4a.40.2", .timescale = 48000,
                       .peak_bandwidth = 140000, .avg_bandwidth = 130000,
                       .segments = entries, .nb_segments = 2, .start_number = 1,
                       .is_audio = 1, .channels = 2, .sample_rate = 48000,
                       .language = "en" };
    static const char *const inputs[3] = { "x.mp4", "a/index.m3u8", "manifest.mpd" };
    for (int m = 1; m < 3; m++) {
        CmeBuf mb = { 0 };
        int err = m == 1 ? cme_hls_write_media(&mb, &r) : cme_dash_write_mpd(&mb, &r, 1);
        assert_int_equal(err, 0);
        snprintf(path, sizeof(path), "%s/%s", dir, inputs[m]);
        write_file(path, mb.data, mb.size);
        cme_buf_free(&mb);
    }
    for (int m = 0; m < 3; m++) {
        snprintf(cmd, sizeof(cmd),
                 "ffprobe -v error -select_streams a:0 -count_packets -show_entries "
                 "stream=codec_name,profile,sample_rate,channels,nb_read_packets "
                 "-of default=nw=1 %s/%s", dir, inputs[m]);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char out[512] = { 0 };
        size_t got = fread(out, 1, sizeof(out) - 1, p);
        out[got] = 0;
        assert_int_equal(pclose(p), 0);
        if (!strstr(out, "codec_name=aac\n") || !strstr(out, "profile=LC\n") ||
            !strstr(out, "sample_rate=48000\n") || !strstr(out, "channels=2\n") ||
            !strstr(out, expect))
            fail_msg("ffprobe %s (expected %zu packets):\n%s", inputs[m], nb, out);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_true(run_ok(cmd));
    cme_buf_free(&b);
    free(payload);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_boxes),
        cmocka_unit_test(test_segment_full),
        cmocka_unit_test(test_segment_data_offset),
        cmocka_unit_test(test_segment_invalid),
        cmocka_unit_test(test_init_boxes),
        cmocka_unit_test(test_init_structure),
        cmocka_unit_test(test_init_pasp),
        cmocka_unit_test(test_init_hdr),
        cmocka_unit_test(test_init_invalid),
        cmocka_unit_test(test_ffprobe_reads_segments),
        cmocka_unit_test(test_audio_init_boxes),
        cmocka_unit_test(test_audio_init_structure),
        cmocka_unit_test(test_audio_init_priming),
        cmocka_unit_test(test_audio_init_variants),
        cmocka_unit_test(test_audio_init_invalid),
        cmocka_unit_test(test_ffprobe_reads_audio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

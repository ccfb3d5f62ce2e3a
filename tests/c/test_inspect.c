/*
 * Inspection tests: boxes crafted by hand (truncated, oversized, too deep, every trun and
 * tfhd flag), the muxer's own init + media segment built around a real sequence header
 * read back to the same samples, IVF and OBU streams from the committed fixtures, and a
 * non-AV1 track refused.
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

#include "cmafeng/av1.h"
#include "cmafeng/inspect.h"
#include "cmafeng/mux.h"
#include "core/buf.h"
#include "mux/box.h"

#ifndef CME_SOURCE_DIR
#define CME_SOURCE_DIR "."
#endif

/* ---- helpers ---------------------------------------------------------------------- */

static uint8_t *read_fixture(const char *name, size_t *size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/fixtures/av1/%s", CME_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *d = malloc(1 << 20);
    assert_non_null(d);
    *size = fread(d, 1, 1 << 20, f);
    fclose(f);
    return d;
}

/* Inspects and expects failure with `code` and a message containing `needle`. */
static void expect_fail(const CmeBuf *b, int code, const char *needle)
{
    CmeInspect *pi = (CmeInspect *)1;
    char err[512] = { 0 };
    int r = cme_inspect_buffer(b->data, b->size, "x.mp4", &pi, err, sizeof(err));
    if (r != code || !strstr(err, needle))
        print_error("got %d \"%s\", expected %d with \"%s\"\n", r, err, code, needle);
    assert_int_equal(r, code);
    assert_non_null(strstr(err, needle));
    assert_null(pi);
}

static CmeInspect *expect_ok(const uint8_t *d, size_t n, const char *hint)
{
    CmeInspect *pi = NULL;
    char err[512] = { 0 };
    int r = cme_inspect_buffer(d, n, hint, &pi, err, sizeof(err));
    if (r != 0)
        print_error("inspect failed: %s\n", err);
    assert_int_equal(r, 0);
    assert_non_null(pi);
    return pi;
}

/* Temporal units of a low-overhead OBU stream without their temporal delimiters, as the
 * worker hands them to the muxer (AV1-ISOBMFF 2.4). */
typedef struct Tus {
    uint8_t data[1 << 16];
    size_t size;
    CmeSample s[16];
    int frame_type[16]; /* cme_av1_tu_info's, filled by mux_fixture */
    size_t n;
} Tus;

static void split_tus(const uint8_t *in, size_t n, Tus *t)
{
    const uint8_t *p = in;
    size_t left = n;
    CmeAv1Obu o;
    char err[128];
    t->size = 0;
    t->n = 0;
    while (cme_av1_obu_next(&p, &left, &o, err, sizeof(err)) > 0) {
        if (o.type == CME_OBU_TEMPORAL_DELIMITER) {
            assert_true(t->n < 16);
            t->s[t->n].size = 0;
            t->s[t->n].duration = 3600;
            t->s[t->n].sync = t->n == 0;
            t->n++;
            continue;
        }
        assert_true(t->n > 0);
        memcpy(t->data + t->size, o.data, o.size);
        t->size += o.size;
        t->s[t->n - 1].size += (uint32_t)o.size;
    }
}

/* ---- crafted boxes ---------------------------------------------------------------- */

static void put_ftyp(CmeBuf *b)
{
    size_t box = cme__box_begin(b, "ftyp");
    cme__buf_fourcc(b, "isom");
    cme__buf_be32(b, 0);
    cme__buf_fourcc(b, "isom");
    cme__box_end(b, box);
}

static void test_box_overflows_file(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    put_ftyp(&b);
    cme__buf_be32(&b, 5000);
    cme__buf_fourcc(&b, "moov");
    cme__buf_zeros(&b, 92);
    expect_fail(&b, CME_EBITSTREAM, "moov: box size 5000 exceeds its parent (100 bytes left");
    cme_buf_free(&b);
}

static void test_box_overflows_parent(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    size_t moof = cme__box_begin(&b, "moof");
    cme__buf_be32(&b, 64); /* a traf that claims more than moof holds */
    cme__buf_fourcc(&b, "traf");
    cme__buf_zeros(&b, 8);
    cme__box_end(&b, moof);
    cme__buf_zeros(&b, 64); /* bytes after moof do not make the traf fit */
    expect_fail(&b, CME_EBITSTREAM, "moof/traf: box size 64 exceeds its parent");
    cme_buf_free(&b);
}

static void test_box_header_truncated(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    put_ftyp(&b);
    cme__buf_be32(&b, 1); /* largesize announced, not there */
    cme__buf_fourcc(&b, "mdat");
    cme__buf_be32(&b, 0);
    expect_fail(&b, CME_EBITSTREAM, "mdat: largesize: truncated");
    cme__buf_reset(&b);
    put_ftyp(&b);
    cme__buf_be32(&b, 4); /* smaller than a header */
    cme__buf_fourcc(&b, "free");
    expect_fail(&b, CME_EBITSTREAM, "free: box size 4 is smaller than its 8-byte header");
    cme__buf_reset(&b);
    put_ftyp(&b);
    cme__buf_zeros(&b, 5);
    expect_fail(&b, CME_EBITSTREAM, "5 stray bytes at offset 20");
    cme_buf_free(&b);
}

static void test_box_too_deep(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    size_t open[24];
    open[0] = cme__box_begin(&b, "moov");
    for (int i = 1; i < 24; i++)
        open[i] = cme__box_begin(&b, "dinf");
    for (int i = 23; i >= 0; i--)
        cme__box_end(&b, open[i]);
    expect_fail(&b, CME_EBITSTREAM, "boxes nested more than 16 deep");
    cme_buf_free(&b);
}

/* moof(mfhd, traf(tfhd, [tfdt], trun)) + mdat with the given trun body. */
static void put_fragment(CmeBuf *b, uint32_t tfhd_flags, const uint32_t *tfhd_fields, size_t n_tfhd,
                         int tfdt_version, uint64_t tfdt, uint32_t trun_flags,
                         const uint32_t *trun_words, size_t n_trun, size_t mdat_bytes,
                         const uint8_t *mdat)
{
    size_t moof = cme__box_begin(b, "moof");
    size_t mfhd = cme__fullbox_begin(b, "mfhd", 0, 0);
    cme__buf_be32(b, 1);
    cme__box_end(b, mfhd);
    size_t traf = cme__box_begin(b, "traf");
    size_t tfhd = cme__fullbox_begin(b, "tfhd", 0, tfhd_flags);
    for (size_t i = 0; i < n_tfhd; i++)
        cme__buf_be32(b, tfhd_fields[i]);
    cme__box_end(b, tfhd);
    if (tfdt_version >= 0) {
        size_t t = cme__fullbox_begin(b, "tfdt", (uint8_t)tfdt_version, 0);
        if (tfdt_version == 1)
            cme__buf_be64(b, tfdt);
        else
            cme__buf_be32(b, (uint32_t)tfdt);
        cme__box_end(b, t);
    }
    size_t trun = cme__fullbox_begin(b, "trun", 0, trun_flags);
    for (size_t i = 0; i < n_trun; i++)
        cme__buf_be32(b, trun_words[i]);
    cme__box_end(b, trun);
    cme__box_end(b, traf);
    cme__box_end(b, moof);
    cme__buf_be32(b, (uint32_t)(8 + mdat_bytes));
    cme__buf_fourcc(b, "mdat");
    if (mdat)
        cme__buf_append(b, mdat, mdat_bytes);
    else
        cme__buf_zeros(b, mdat_bytes);
}

static void test_trun_count_exceeds_box(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    const uint32_t tfhd[] = { 1 };
    const uint32_t trun[] = { 1000, 100, 100 }; /* sample_count, two sizes */
    put_fragment(&b, 0x020000, tfhd, 1, 1, 0, 0x000200, trun, 3, 200, NULL);
    expect_fail(&b, CME_EBITSTREAM,
                "moof/traf/trun: sample_count 1000 exceeds the box (8 bytes hold 2 samples)");
    cme_buf_free(&b);
}

static void test_trun_sample_outside(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    const uint32_t tfhd[] = { 1 };
    /* data_offset far past the end of the file. */
    const uint32_t trun[] = { 1, 100000, 10 };
    put_fragment(&b, 0x020000, tfhd, 1, 1, 0, 0x000201, trun, 3, 10, NULL);
    expect_fail(&b, CME_EBITSTREAM,
                "moof/traf/trun: sample 1 (offset 100000, 10 bytes) lies "
                "outside the");
    cme__buf_reset(&b);
    /* data_offset 0: the sample would be the moof itself, not inside an mdat. */
    const uint32_t trun0[] = { 1, 0, 10 };
    put_fragment(&b, 0x020000, tfhd, 1, 1, 0, 0x000201, trun0, 3, 10, NULL);
    expect_fail(&b, CME_EBITSTREAM, "sample 1 (offset 0, 10 bytes) is not inside an mdat");
    cme__buf_reset(&b);
    /* No size anywhere: neither trun, tfhd nor a trex. */
    const uint32_t trun1[] = { 1, 0 };
    put_fragment(&b, 0x020000, tfhd, 1, 1, 0, 0x000001, trun1, 2, 10, NULL);
    expect_fail(&b, CME_EBITSTREAM, "moof/traf/trun: no sample size");
    cme__buf_reset(&b);
    /* Per-sample fields absent and a huge count: bounded by the file size, not allocated. */
    const uint32_t tfhd_sz[] = { 1, 0 };
    const uint32_t trun2[] = { 0xffffffffu };
    put_fragment(&b, 0x020010, tfhd_sz, 2, 1, 0, 0, trun2, 1, 10, NULL);
    expect_fail(&b, CME_EBITSTREAM, "moof/traf/trun: sample_count 4294967295 exceeds what a");
    cme_buf_free(&b);
}

/* A real TU for a fragment's samples: the fixture's first temporal unit. */
static void first_tus(Tus *t)
{
    size_t n;
    uint8_t *d = read_fixture("svt_8bit_bt709.obu", &n);
    split_tus(d, n, t);
    free(d);
    assert_int_equal(t->n, 3);
}

/*
 * Every tfhd default (base-data-offset, sample description index, duration, size, flags)
 * with a tfdt version 0, and a trun with first-sample-flags, per-sample durations and
 * composition offsets but no per-sample sizes or flags: a bare segment whose samples all
 * take their size from tfhd. The first sample is the KEY TU with the sequence header, so
 * the segment parses on its own.
 */
static void test_trun_all_flags(void **state)
{
    (void)state;
    static Tus t;
    first_tus(&t);
    /* Three samples of the key TU's size, all the same bytes: sizes come from tfhd. */
    uint32_t sz = t.s[0].size;
    uint8_t *mdat = malloc(3 * sz);
    for (int i = 0; i < 3; i++)
        memcpy(mdat + i * sz, t.data, sz);

    CmeBuf b = { 0 };
    /* The header is fixed size, so compute where mdat's payload starts: moof = 8 + mfhd 16
     * + traf(8 + tfhd (12 + 4 + 8 + 4 + 4 + 4 + 4 = 40) + tfdt v0 16 + trun (12 + 4 + 4 + 3
     * * 8 = 44)) = 8 + 16 + 8 + 40 + 16 + 44 = 132, then the 8-byte mdat header. */
    const uint64_t base = 132 + 8;
    const uint32_t tfhd[] = { 7, (uint32_t)(base >> 32), (uint32_t)base, 1, 1000, sz, 0x01010000u };
    const uint32_t trun[] = { 3, 0x02000000u, 1000, 5, 2000, 0xfffffffbu, 3000, 0 };
    put_fragment(&b, 0x00003b, tfhd, 7, 0, 4242, 0x000904, trun, 8, 3 * sz, mdat);
    assert_int_equal(b.size, base + 3 * sz);

    CmeInspect *pi = expect_ok(b.data, b.size, "seg.m4s");
    assert_int_equal(pi->format, CME_INSPECT_SEGMENT);
    assert_int_equal(pi->track_id, 7);
    assert_int_equal(pi->timescale, 0);
    assert_int_equal(pi->nb_samples, 3);
    const uint64_t dts[3] = { 4242, 5242, 7242 };
    const uint32_t dur[3] = { 1000, 2000, 3000 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pi->samples[i].offset, base + (uint64_t)i * sz);
        assert_int_equal(pi->samples[i].size, sz);
        assert_int_equal(pi->samples[i].dts, dts[i]);
        assert_int_equal(pi->samples[i].duration, dur[i]);
        assert_int_equal(pi->samples[i].frame_type, 0);
        /* first_sample_flags make sample 1 sync; the tfhd default makes the others not. */
        assert_int_equal(pi->samples[i].sync, i == 0);
        assert_true(pi->samples[i].av1_sync);
    }
    assert_true(pi->has_seq_hdr);
    assert_false(pi->seq_from_av1c);
    assert_string_equal(pi->codec_string, "av01.0.00M.08");
    cme_inspect_free(&pi);
    assert_null(pi);
    cme_buf_free(&b);
    free(mdat);
}

/* A moov with one video track whose sample entry is avc1: not AV1. */
static void test_not_av1(void **state)
{
    (void)state;
    CmeBuf b = { 0 };
    put_ftyp(&b);
    size_t moov = cme__box_begin(&b, "moov");
    size_t trak = cme__box_begin(&b, "trak");
    size_t mdia = cme__box_begin(&b, "mdia");
    size_t hdlr = cme__fullbox_begin(&b, "hdlr", 0, 0);
    cme__buf_be32(&b, 0);
    cme__buf_fourcc(&b, "vide");
    cme__buf_zeros(&b, 13);
    cme__box_end(&b, hdlr);
    size_t minf = cme__box_begin(&b, "minf");
    size_t stbl = cme__box_begin(&b, "stbl");
    size_t stsd = cme__fullbox_begin(&b, "stsd", 0, 0);
    cme__buf_be32(&b, 1);
    size_t avc1 = cme__box_begin(&b, "avc1");
    cme__buf_zeros(&b, 78);
    cme__box_end(&b, avc1);
    cme__box_end(&b, stsd);
    cme__box_end(&b, stbl);
    cme__box_end(&b, minf);
    cme__box_end(&b, mdia);
    cme__box_end(&b, trak);
    cme__box_end(&b, moov);
    expect_fail(&b, CME_EUNSUPPORTED, "sample entry is avc1, not AV1");
    cme_buf_free(&b);

    /* And bytes that are neither IVF, ISO BMFF nor OBUs. */
    CmeBuf t = { 0 };
    cme__buf_printf(&t, "hello, this is not a video");
    CmeInspect *pi = NULL;
    char err[256];
    assert_int_equal(cme_inspect_buffer(t.data, t.size, "x.obu", &pi, err, sizeof(err)),
                     CME_EBITSTREAM);
    assert_non_null(strstr(err, "not IVF, ISO BMFF or an AV1 OBU stream"));
    assert_int_equal(cme_inspect_buffer(t.data, t.size, "x.mp4", &pi, err, sizeof(err)),
                     CME_EBITSTREAM);
    assert_non_null(strstr(err, "not an ISO BMFF file"));
    assert_int_equal(cme_inspect_buffer(NULL, 0, NULL, &pi, err, sizeof(err)), CME_EBITSTREAM);
    assert_int_equal(cme_inspect_buffer(t.data, t.size, NULL, NULL, err, sizeof(err)), CME_EINVAL);
    cme_buf_free(&t);
}

/* ---- tracks other than AV1 -------------------------------------------------------- */

/* The muxer's AAC init segment and one media segment, read back through the same reader:
 * kind, sample entry, codecs string, channels, rate, edit list and every sample. */
static void test_audio_track(void **state)
{
    (void)state;
    static const uint8_t asc[] = { 0x11, 0x90 }; /* AAC-LC, 48 kHz, 2 channels */
    CmeAudioTrack t = { .track_id = 1,
                        .sample_rate = 48000,
                        .channels = 2,
                        .asc = asc,
                        .asc_size = sizeof(asc),
                        .avg_bitrate = 128000,
                        .language = "fra",
                        .priming = 1024 };
    CmeBuf init = { 0 }, seg = { 0 }, all = { 0 };
    assert_int_equal(cme_mux_write_init_audio(&init, &t), 0);
    CmeSample s[3] = { { 300, 1024, 1 }, { 310, 1024, 1 }, { 200, 512, 1 } };
    uint8_t payload[810];
    memset(payload, 0x21, sizeof(payload));
    CmeSegmentInfo si = { .track_id = 1, .sequence_number = 2, .base_decode_time = 96000 };
    assert_int_equal(cme_mux_write_segment(&seg, &si, s, 3, payload, sizeof(payload)), 0);

    CmeInspect *pi = expect_ok(init.data, init.size, "init.mp4");
    assert_int_equal(pi->format, CME_INSPECT_INIT);
    assert_int_equal(pi->kind, CME_INSPECT_KIND_AUDIO);
    assert_string_equal(pi->sample_entry, "mp4a");
    assert_string_equal(pi->handler, "soun");
    assert_string_equal(pi->codec_string, "mp4a.40.2");
    assert_int_equal(pi->channels, 2);
    assert_int_equal(pi->sample_rate, 48000);
    assert_int_equal(pi->timescale, 48000);
    assert_int_equal(pi->codec_config_size, 2);
    assert_memory_equal(pi->codec_config, asc, 2);
    assert_true(pi->has_edit);
    assert_int_equal(pi->edit_media_time, 1024);
    assert_int_equal(pi->nb_samples, 0);
    cme_inspect_free(&pi);

    cme__buf_append(&all, init.data, init.size);
    cme__buf_append(&all, seg.data, seg.size);
    pi = expect_ok(all.data, all.size, "x.mp4");
    assert_int_equal(pi->format, CME_INSPECT_FMP4);
    assert_int_equal(pi->kind, CME_INSPECT_KIND_AUDIO);
    assert_int_equal(pi->nb_samples, 3);
    uint64_t dts = 96000;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pi->samples[i].size, s[i].size);
        assert_int_equal(pi->samples[i].duration, s[i].duration);
        assert_int_equal(pi->samples[i].dts, dts);
        assert_int_equal(pi->samples[i].frame_type, -1);
        dts += s[i].duration;
    }
    cme_inspect_free(&pi);
    cme_buf_free(&init);
    cme_buf_free(&seg);
    cme_buf_free(&all);
}

/* The muxer's Opus init segment (5.1, mapping family 1) read back: the dOps it wrote from
 * the OpusHead, big-endian, and the edit list trimming the pre-skip. */
static void test_opus_init_roundtrip(void **state)
{
    (void)state;
    static const uint8_t head[] = { 'O', 'p',  'u',  's',  'H',  'e', 'a', 'd', 1,
                                    6,   0x38, 0x01, 0x80, 0xbb, 0,   0,   0,   0,
                                    1,   4,    2,    0,    4,    1,   2,   3,   5 };
    static const uint8_t dops[] = { 0, 6, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0,
                                    1, 4, 2,    0,    4, 1, 2,    3,    5 };
    CmeAudioTrack t = { .codec = CME_AUDIO_OPUS,
                        .track_id = 1,
                        .sample_rate = 48000,
                        .channels = 6,
                        .asc = head,
                        .asc_size = sizeof(head),
                        .priming = 312 };
    CmeBuf init = { 0 };
    assert_int_equal(cme_mux_write_init_audio(&init, &t), 0);
    CmeInspect *pi = expect_ok(init.data, init.size, "init.mp4");
    assert_int_equal(pi->kind, CME_INSPECT_KIND_AUDIO);
    assert_string_equal(pi->sample_entry, "Opus");
    assert_string_equal(pi->codec_string, "opus");
    assert_int_equal(pi->channels, 6);
    assert_int_equal(pi->sample_rate, 48000);
    assert_int_equal(pi->codec_config_size, sizeof(dops));
    assert_memory_equal(pi->codec_config, dops, sizeof(dops));
    assert_int_equal(pi->edit_media_time, 312);
    cme_inspect_free(&pi);
    cme_buf_free(&init);
    /* Not an OpusHead, a channel count the track does not have, a table cut short. */
    uint8_t bad[sizeof(head)];
    memcpy(bad, head, sizeof(head));
    bad[0] = 'X';
    t.asc = bad;
    assert_int_equal(cme_mux_write_init_audio(&init, &t), CME_EINVAL);
    t.asc = head;
    t.channels = 2;
    assert_int_equal(cme_mux_write_init_audio(&init, &t), CME_EINVAL);
    t.channels = 6;
    t.asc_size = sizeof(head) - 1;
    assert_int_equal(cme_mux_write_init_audio(&init, &t), CME_EINVAL);
    cme_buf_free(&init);
}

/* A hand-made moov with one sound track whose sample entry is given, with child box
 * `child` (type and body) inside the AudioSampleEntry. */
static void put_audio_moov(CmeBuf *b, const char *entry, const char *child, const uint8_t *body,
                           size_t body_size)
{
    put_ftyp(b);
    size_t moov = cme__box_begin(b, "moov");
    size_t trak = cme__box_begin(b, "trak");
    size_t mdia = cme__box_begin(b, "mdia");
    size_t mdhd = cme__fullbox_begin(b, "mdhd", 0, 0);
    cme__buf_zeros(b, 8);
    cme__buf_be32(b, 48000);
    cme__buf_zeros(b, 8);
    cme__box_end(b, mdhd);
    size_t hdlr = cme__fullbox_begin(b, "hdlr", 0, 0);
    cme__buf_be32(b, 0);
    cme__buf_fourcc(b, "soun");
    cme__buf_zeros(b, 13);
    cme__box_end(b, hdlr);
    size_t minf = cme__box_begin(b, "minf");
    size_t stbl = cme__box_begin(b, "stbl");
    size_t stsd = cme__fullbox_begin(b, "stsd", 0, 0);
    cme__buf_be32(b, 1);
    size_t e = cme__box_begin(b, entry);
    cme__buf_zeros(b, 6);
    cme__buf_be16(b, 1);
    cme__buf_zeros(b, 8);
    cme__buf_be16(b, 6); /* channelcount */
    cme__buf_be16(b, 16);
    cme__buf_zeros(b, 4);
    cme__buf_be32(b, 48000u << 16);
    size_t c = cme__box_begin(b, child);
    cme__buf_append(b, body, body_size);
    cme__box_end(b, c);
    cme__box_end(b, e);
    cme__box_end(b, stsd);
    cme__box_end(b, stbl);
    cme__box_end(b, minf);
    cme__box_end(b, mdia);
    cme__box_end(b, trak);
    cme__box_end(b, moov);
}

static void test_opus_track(void **state)
{
    (void)state;
    /* dOps: version 0, 6 channels, pre-skip 312, 48 kHz, gain 0, family 1, 4 streams,
     * 2 coupled, the 5.1 Vorbis order mapping. */
    static const uint8_t dops[] = { 0, 6, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0,
                                    1, 4, 2,    0,    4, 1, 2,    3,    5 };
    CmeBuf b = { 0 };
    put_audio_moov(&b, "Opus", "dOps", dops, sizeof(dops));
    CmeInspect *pi = expect_ok(b.data, b.size, "init.mp4");
    assert_int_equal(pi->kind, CME_INSPECT_KIND_AUDIO);
    assert_string_equal(pi->codec_string, "opus");
    assert_int_equal(pi->channels, 6);
    assert_int_equal(pi->codec_config_size, sizeof(dops));
    assert_memory_equal(pi->codec_config, dops, sizeof(dops));
    cme_inspect_free(&pi);
    cme_buf_free(&b);

    /* A mapping table cut short, and a version that is not 0, are named. */
    put_audio_moov(&b, "Opus", "dOps", dops, sizeof(dops) - 2);
    expect_fail(&b, CME_EBITSTREAM, "moov/trak/mdia/minf/stbl/stsd/Opus/dOps: ChannelMappingTable");
    cme_buf_free(&b);
    uint8_t v1[sizeof(dops)];
    memcpy(v1, dops, sizeof(dops));
    v1[0] = 1;
    put_audio_moov(&b, "Opus", "dOps", v1, sizeof(v1));
    expect_fail(&b, CME_EBITSTREAM, "dOps: Version: 1");
    cme_buf_free(&b);
}

static void test_esds_errors(void **state)
{
    (void)state;
    /* FullBox header, ES_Descriptor of 100 bytes in a 10-byte box. */
    static const uint8_t big[] = { 0, 0, 0, 0, 3, 100, 0, 1, 0, 4 };
    CmeBuf b = { 0 };
    put_audio_moov(&b, "mp4a", "esds", big, sizeof(big));
    expect_fail(&b, CME_EBITSTREAM, "stsd/mp4a/esds: ES_Descriptor: size 100 exceeds the box");
    cme_buf_free(&b);
    /* AAC (OTI 0x40) without its AudioSpecificConfig. */
    static const uint8_t nodsi[] = { 0,    0, 0, 0, 3, 18, 0, 1, 0, 4, 13, 0x40,
                                     0x15, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0,  0 };
    put_audio_moov(&b, "mp4a", "esds", nodsi, sizeof(nodsi));
    expect_fail(&b, CME_EBITSTREAM, "without a 2-byte AudioSpecificConfig");
    cme_buf_free(&b);
    /* A wrong tag where the DecoderConfigDescriptor belongs. */
    static const uint8_t tag[] = { 0, 0, 0, 0, 3, 5, 0, 1, 0, 6, 0 };
    put_audio_moov(&b, "mp4a", "esds", tag, sizeof(tag));
    expect_fail(&b, CME_EBITSTREAM, "DecoderConfigDescriptor: tag 6, expected 4");
    cme_buf_free(&b);
}

/* ---- the muxer's output read back ------------------------------------------------- */

static void mux_fixture(const char *name, CmeBuf *init, CmeBuf *seg, Tus *t, CmeAv1SeqHdr *seq)
{
    size_t n;
    uint8_t *d = read_fixture(name, &n);
    CmeAv1Obu obu;
    char err[256];
    assert_int_equal(cme_av1_find_seq_hdr(d, n, &obu, seq, err, sizeof(err)), 0);
    uint8_t av1c[512];
    size_t av1c_size;
    assert_int_equal(cme_av1_write_av1c(seq, obu.data, obu.size, av1c, sizeof(av1c), &av1c_size),
                     0);
    split_tus(d, n, t);
    free(d);
    size_t off = 0;
    for (size_t i = 0; i < t->n; i++) {
        CmeAv1TuInfo ti;
        assert_int_equal(cme_av1_tu_info(t->data + off, t->s[i].size, seq, &ti, err, sizeof(err)),
                         0);
        t->frame_type[i] = ti.frame_type;
        off += t->s[i].size;
    }

    CmeVideoTrack tr = { 0 };
    tr.track_id = 1;
    tr.timescale = 90000;
    tr.width = (uint32_t)seq->max_frame_width_minus_1 + 1;
    tr.height = (uint32_t)seq->max_frame_height_minus_1 + 1;
    tr.sar_num = tr.sar_den = 1;
    tr.av1c = av1c;
    tr.av1c_size = av1c_size;
    tr.color_primaries = seq->color.color_primaries;
    tr.transfer_characteristics = seq->color.transfer_characteristics;
    tr.matrix_coefficients = seq->color.matrix_coefficients;
    tr.full_range = seq->color.color_range;
    assert_int_equal(cme_mux_write_init(init, &tr), 0);
    CmeSegmentInfo si = { .track_id = 1, .sequence_number = 3, .base_decode_time = 180000 };
    assert_int_equal(cme_mux_write_segment(seg, &si, t->s, t->n, t->data, t->size), 0);
}

static void check_samples(const CmeInspect *pi, const Tus *t, uint64_t first_offset)
{
    assert_int_equal(pi->nb_samples, t->n);
    uint64_t off = first_offset;
    for (size_t i = 0; i < t->n; i++) {
        const CmeInspectSample *s = &pi->samples[i];
        assert_int_equal(s->offset, off);
        assert_int_equal(s->size, t->s[i].size);
        assert_true(s->has_time);
        assert_int_equal(s->dts, 180000 + 3600 * i);
        assert_int_equal(s->duration, 3600);
        assert_int_equal(s->sync, t->s[i].sync);
        assert_int_equal(s->av1_sync, t->s[i].sync);
        assert_int_equal(s->has_seq_hdr, i == 0);
        assert_int_equal(s->frame_type, t->frame_type[i]);
        off += s->size;
    }
}

static void test_mux_roundtrip(void **state)
{
    (void)state;
    static const char *const fixtures[] = { "svt_8bit_bt709.obu", "svt_10bit_pq_full.obu",
                                            "aom_10bit_hlg.obu", "rav1e_8bit.obu" };
    for (size_t k = 0; k < sizeof(fixtures) / sizeof(fixtures[0]); k++) {
        CmeBuf init = { 0 }, seg = { 0 }, all = { 0 };
        static Tus t;
        CmeAv1SeqHdr seq;
        mux_fixture(fixtures[k], &init, &seg, &t, &seq);
        char cs[64];
        assert_int_equal(cme_av1_codec_string(&seq, cs, sizeof(cs)), 0);
        /* The segment's samples start right after styp (24), moof and the mdat header. */
        uint64_t seg_first = 24 + 88 + 12 * t.n + 8;

        CmeInspect *pi = expect_ok(init.data, init.size, "init.mp4");
        assert_int_equal(pi->format, CME_INSPECT_INIT);
        assert_string_equal(pi->brand, "cmfc");
        assert_int_equal(pi->nb_samples, 0);
        assert_int_equal(pi->timescale, 90000);
        assert_true(pi->has_av1c && pi->seq_from_av1c && pi->has_colr);
        assert_int_equal(pi->av1c.seq_profile, seq.seq_profile);
        assert_int_equal(pi->av1c.seq_level_idx_0, seq.op[0].seq_level_idx);
        assert_int_equal(pi->colr_primaries, seq.color.color_primaries);
        assert_int_equal(pi->width, seq.max_frame_width_minus_1 + 1);
        assert_string_equal(pi->codec_string, cs);
        assert_memory_equal(&pi->seq, &seq, sizeof(seq));
        cme_inspect_free(&pi);

        pi = expect_ok(seg.data, seg.size, "seg_00003.m4s");
        assert_int_equal(pi->format, CME_INSPECT_SEGMENT);
        assert_string_equal(pi->brand, "cmfs");
        assert_int_equal(pi->nb_fragments, 1);
        assert_false(pi->seq_from_av1c);
        assert_string_equal(pi->codec_string, cs);
        check_samples(pi, &t, seg_first);
        cme_inspect_free(&pi);

        cme__buf_append(&all, init.data, init.size);
        cme__buf_append(&all, seg.data, seg.size);
        pi = expect_ok(all.data, all.size, NULL);
        assert_int_equal(pi->format, CME_INSPECT_FMP4);
        assert_int_equal(pi->timescale, 90000);
        assert_string_equal(pi->codec_string, cs);
        check_samples(pi, &t, init.size + seg_first);
        assert_int_equal(pi->seq_differs_sample, 0);
        cme_inspect_free(&pi);

        /* Truncating the segment anywhere in its moof is an error, never a crash. */
        for (size_t cut = 1; cut < seg.size; cut += 7) {
            CmeInspect *p2 = NULL;
            char err[256];
            int r = cme_inspect_buffer(seg.data, cut, "seg.m4s", &p2, err, sizeof(err));
            assert_true(r < 0);
            assert_null(p2);
        }
        cme_buf_free(&init);
        cme_buf_free(&seg);
        cme_buf_free(&all);
    }
}

/* An init segment from one encode and a segment from another: the in-band sequence header
 * differs from av1C's, and inspect says where and which field. */
static void test_av1c_differs(void **state)
{
    (void)state;
    CmeBuf init = { 0 }, seg = { 0 }, init2 = { 0 }, seg2 = { 0 }, all = { 0 };
    static Tus t;
    CmeAv1SeqHdr seq;
    mux_fixture("svt_8bit_bt709.obu", &init, &seg, &t, &seq);
    mux_fixture("svt_level51.obu", &init2, &seg2, &t, &seq);
    cme__buf_append(&all, init.data, init.size);
    cme__buf_append(&all, seg2.data, seg2.size);
    CmeInspect *pi = expect_ok(all.data, all.size, NULL);
    assert_int_equal(pi->seq_differs_sample, 1);
    assert_non_null(pi->seq_differs_field);
    cme_inspect_free(&pi);
    cme_buf_free(&init);
    cme_buf_free(&seg);
    cme_buf_free(&init2);
    cme_buf_free(&seg2);
    cme_buf_free(&all);
}

/* ---- IVF and OBU streams ---------------------------------------------------------- */

static void test_obu_stream(void **state)
{
    (void)state;
    size_t n;
    uint8_t *d = read_fixture("svt_8bit_bt709.obu", &n);
    CmeInspect *pi = expect_ok(d, n, "x.obu");
    assert_int_equal(pi->format, CME_INSPECT_OBU);
    assert_int_equal(pi->nb_samples, 3);
    assert_string_equal(pi->codec_string, "av01.0.00M.08");
    uint64_t total = 0;
    for (size_t i = 0; i < pi->nb_samples; i++) {
        assert_int_equal(pi->samples[i].offset, total);
        total += pi->samples[i].size;
        assert_false(pi->samples[i].has_time);
    }
    assert_int_equal(total, n);
    assert_int_equal(pi->samples[0].frame_type, 0);
    assert_true(pi->samples[0].sync);
    assert_false(pi->samples[1].sync);
    cme_inspect_free(&pi);
    /* A truncated stream names the temporal unit. */
    CmeInspect *p2 = NULL;
    char err[256];
    assert_int_equal(cme_inspect_buffer(d, n - 3, "x.obu", &p2, err, sizeof(err)), CME_EBITSTREAM);
    assert_non_null(strstr(err, "temporal unit 3"));
    free(d);

    /* timing_info with a constant picture interval gives an OBU stream its times. */
    d = read_fixture("aom_timing_model.obu", &n);
    pi = expect_ok(d, n, "t.obu");
    if (pi->seq.equal_picture_interval) {
        assert_int_equal(pi->timescale, pi->seq.time_scale);
        assert_true(pi->samples[1].has_time);
    }
    cme_inspect_free(&pi);
    free(d);
}

static void put_le32(CmeBuf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    cme__buf_append(b, x, 4);
}

static void test_ivf(void **state)
{
    (void)state;
    size_t n;
    uint8_t *d = read_fixture("svt_8bit_bt709.obu", &n);
    /* IVF frames carry whole TUs, temporal delimiters included: split at the TDs. */
    CmeInspect *obu = expect_ok(d, n, "x.obu");
    CmeBuf b = { 0 };
    cme__buf_append(&b, "DKIF", 4);
    cme__buf_append(&b, "\0\0\x20\0", 4); /* version 0, header size 32 */
    cme__buf_append(&b, "AV01", 4);
    cme__buf_append(&b, "\x40\0\x40\0", 4); /* 64x64 */
    put_le32(&b, 25);
    put_le32(&b, 1);
    put_le32(&b, (uint32_t)obu->nb_samples);
    put_le32(&b, 0);
    for (size_t i = 0; i < obu->nb_samples; i++) {
        put_le32(&b, obu->samples[i].size);
        put_le32(&b, (uint32_t)i);
        put_le32(&b, 0);
        cme__buf_append(&b, d + obu->samples[i].offset, obu->samples[i].size);
    }
    CmeInspect *pi = expect_ok(b.data, b.size, "x.ivf");
    assert_int_equal(pi->format, CME_INSPECT_IVF);
    assert_int_equal(pi->timescale, 25);
    assert_int_equal(pi->width, 64);
    assert_int_equal(pi->nb_samples, obu->nb_samples);
    for (size_t i = 0; i < pi->nb_samples; i++) {
        assert_int_equal(pi->samples[i].size, obu->samples[i].size);
        assert_int_equal(pi->samples[i].dts, i);
        assert_int_equal(pi->samples[i].duration, 1);
        assert_int_equal(pi->samples[i].frame_type, obu->samples[i].frame_type);
        assert_int_equal(pi->samples[i].sync, obu->samples[i].sync);
    }
    assert_string_equal(pi->codec_string, obu->codec_string);
    cme_inspect_free(&pi);

    /* A frame that runs past the end of the file. */
    char err[256];
    assert_int_equal(cme_inspect_buffer(b.data, b.size - 1, "x.ivf", &pi, err, sizeof(err)),
                     CME_EBITSTREAM);
    assert_non_null(strstr(err, "IVF frame 3"));
    /* Not AV1. */
    memcpy(b.data + 8, "VP90", 4);
    assert_int_equal(cme_inspect_buffer(b.data, b.size, "x.ivf", &pi, err, sizeof(err)),
                     CME_EUNSUPPORTED);
    assert_non_null(strstr(err, "VP90"));
    cme_buf_free(&b);
    cme_inspect_free(&obu);
    free(d);
}

static void test_file_errors(void **state)
{
    (void)state;
    CmeInspect *pi = NULL;
    char err[256];
    assert_int_equal(cme_inspect_file("/nonexistent/x.mp4", &pi, err, sizeof(err)), CME_EIO);
    assert_string_equal(err, "/nonexistent/x.mp4: No such file or directory");
    assert_null(pi);
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/fixtures/av1/aom_still.obu", CME_SOURCE_DIR);
    assert_int_equal(cme_inspect_file(path, &pi, err, sizeof(err)), 0);
    assert_true(pi->seq.still_picture);
    cme_inspect_free(&pi);
    cme_inspect_free(&pi); /* safe twice */
    cme_inspect_free(NULL);
    assert_string_equal(cme_inspect_format_name(CME_INSPECT_FMP4), "fmp4");
    assert_string_equal(cme_inspect_frame_type_name(2), "INTRA_ONLY");
    assert_string_equal(cme_inspect_frame_type_name(-1), "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_box_overflows_file),
        cmocka_unit_test(test_box_overflows_parent),
        cmocka_unit_test(test_box_header_truncated),
        cmocka_unit_test(test_box_too_deep),
        cmocka_unit_test(test_trun_count_exceeds_box),
        cmocka_unit_test(test_trun_sample_outside),
        cmocka_unit_test(test_trun_all_flags),
        cmocka_unit_test(test_not_av1),
        cmocka_unit_test(test_audio_track),
        cmocka_unit_test(test_opus_track),
        cmocka_unit_test(test_opus_init_roundtrip),
        cmocka_unit_test(test_esds_errors),
        cmocka_unit_test(test_mux_roundtrip),
        cmocka_unit_test(test_av1c_differs),
        cmocka_unit_test(test_obu_stream),
        cmocka_unit_test(test_ivf),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

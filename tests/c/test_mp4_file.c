/*
 * Single-file MP4 (engine/mux/mp4_file.c): the muxer's AV1 and AAC CMAF tracks, written to
 * files, stitched into one MP4 and read back by the MP4 reader: the same samples (sizes,
 * bytes, decode times, sync flags) in classic sample tables, moov before mdat, the audio
 * priming edit kept, and 64-bit chunk offsets (co64) when asked for. Bad input is named and
 * leaves nothing under the final name. The DASH on-demand file (init + sidx + fragments) and
 * the reader's sidx check.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmafeng/av1.h"
#include "cmafeng/mux.h"
#include "core/buf.h"
#include "core/file.h"
#include "mux/mp4_file.h"
#include "mux/mp4_reader.h"

#ifndef CME_SOURCE_DIR
#define CME_SOURCE_DIR "."
#endif

static char dir[256];

static void put(const char *name, const CmeBuf *b)
{
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(cme__file_write_atomic(path, b->data, b->size, err, sizeof(err)), 0);
}

/* Three AV1 segments of the committed SVT-AV1 fixture (the same temporal units each time,
 * a key frame first) and three AAC segments of made-up bytes. */
static void make_tracks(uint8_t *tu, size_t *tu_size, CmeSample *vs, size_t *nv)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/fixtures/av1/svt_8bit_bt709.obu", CME_SOURCE_DIR);
    unsigned char *d = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(cme__file_read_all(path, &d, &n, err, sizeof(err)), 0);
    CmeAv1Obu obu;
    CmeAv1SeqHdr seq;
    assert_int_equal(cme_av1_find_seq_hdr(d, n, &obu, &seq, err, sizeof(err)), 0);
    uint8_t av1c[512];
    size_t av1c_size;
    assert_int_equal(cme_av1_write_av1c(&seq, obu.data, obu.size, av1c, sizeof(av1c), &av1c_size),
                     0);
    /* Temporal units without their delimiters. */
    const uint8_t *p = d;
    size_t left = n;
    *tu_size = 0;
    *nv = 0;
    while (cme_av1_obu_next(&p, &left, &obu, err, sizeof(err)) > 0 && *nv <= 8) {
        if (obu.type == CME_OBU_TEMPORAL_DELIMITER) {
            vs[*nv] = (CmeSample){ 0, 3000, *nv == 0 };
            (*nv)++;
            continue;
        }
        memcpy(tu + *tu_size, obu.data, obu.size);
        *tu_size += obu.size;
        vs[*nv - 1].size += (uint32_t)obu.size;
    }
    free(d);
    if (*nv > 8) {
        (*nv)--; /* the unit that started a ninth */
        *tu_size = 0;
        for (size_t i = 0; i < *nv; i++)
            *tu_size += vs[i].size;
    }
    CmeVideoTrack vt = { .track_id = 1,
                         .timescale = 90000,
                         .width = (uint32_t)seq.max_frame_width_minus_1 + 1,
                         .height = (uint32_t)seq.max_frame_height_minus_1 + 1,
                         .sar_num = 1,
                         .sar_den = 1,
                         .av1c = av1c,
                         .av1c_size = av1c_size,
                         .color_primaries = 1,
                         .transfer_characteristics = 1,
                         .matrix_coefficients = 1 };
    CmeBuf b = { 0 };
    assert_int_equal(cme_mux_write_init(&b, &vt), 0);
    put("v_init.mp4", &b);
    cme_buf_free(&b);
    for (uint32_t i = 0; i < 3; i++) {
        CmeSegmentInfo si = { .track_id = 1,
                              .sequence_number = i + 1,
                              .base_decode_time = (uint64_t)i * *nv * 3000 };
        assert_int_equal(cme_mux_write_segment(&b, &si, vs, *nv, tu, *tu_size), 0);
        char name[32];
        snprintf(name, sizeof(name), "v_%u.m4s", i + 1);
        put(name, &b);
        cme_buf_free(&b);
    }
    static const uint8_t asc[] = { 0x11, 0x90 };
    CmeAudioTrack at = { .track_id = 1,
                         .sample_rate = 48000,
                         .channels = 2,
                         .asc = asc,
                         .asc_size = 2,
                         .language = "fra",
                         .priming = 1024 };
    assert_int_equal(cme_mux_write_init_audio(&b, &at), 0);
    put("a_init.mp4", &b);
    cme_buf_free(&b);
    uint8_t payload[700];
    for (uint32_t i = 0; i < 3; i++) {
        CmeSample as[3] = { { 200, 1024, 1 }, { 250, 1024, 1 }, { 250, i == 2 ? 500 : 1024, 1 } };
        memset(payload, (int)(0x40 + i), sizeof(payload));
        CmeSegmentInfo si = { .track_id = 1,
                              .sequence_number = i + 1,
                              .base_decode_time = (uint64_t)i * 3072 };
        assert_int_equal(cme_mux_write_segment(&b, &si, as, 3, payload, sizeof(payload)), 0);
        char name[32];
        snprintf(name, sizeof(name), "a_%u.m4s", i + 1);
        put(name, &b);
        cme_buf_free(&b);
    }
}

static void check_stitched(int co64)
{
    uint8_t tu[1 << 16];
    size_t tu_size, nv;
    CmeSample vs[9];
    make_tracks(tu, &tu_size, vs, &nv);
    char p[8][512];
    const char *vseg[3], *aseg[3];
    for (int i = 0; i < 3; i++) {
        snprintf(p[i], sizeof(p[i]), "%s/v_%d.m4s", dir, i + 1);
        snprintf(p[3 + i], sizeof(p[3 + i]), "%s/a_%d.m4s", dir, i + 1);
        vseg[i] = p[i];
        aseg[i] = p[3 + i];
    }
    snprintf(p[6], sizeof(p[6]), "%s/v_init.mp4", dir);
    snprintf(p[7], sizeof(p[7]), "%s/a_init.mp4", dir);
    CmeStitchTrack t[2] = { { p[6], vseg, 3 }, { p[7], aseg, 3 } };
    char out[512], err[256];
    snprintf(out, sizeof(out), "%s/out.mp4", dir);
    assert_int_equal(cme__mp4_stitch(out, t, 2, co64, err, sizeof(err)), 0);

    unsigned char *d = NULL;
    size_t n = 0;
    assert_int_equal(cme__file_read_all(out, &d, &n, err, sizeof(err)), 0);
    /* ftyp, then moov, then mdat: fast start. */
    assert_memory_equal(d + 4, "ftyp", 4);
    uint32_t ftyp = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    assert_memory_equal(d + ftyp + 4, "moov", 4);
    CmeMp4File f;
    assert_int_equal(cme__mp4_parse(d, n, &f, err, sizeof(err)), 0);
    assert_false(f.has_mvex);
    assert_int_equal(f.nb_moof, 0);
    assert_string_equal(f.sample_entry, "av01");
    assert_int_equal(f.nb_samples, 3 * nv);
    for (size_t i = 0; i < f.nb_samples; i++) {
        const CmeMp4Sample *s = &f.samples[i];
        assert_int_equal(s->size, vs[i % nv].size);
        assert_int_equal(s->dts, i * 3000);
        assert_int_equal(s->duration, 3000);
        assert_int_equal(s->sync, i % nv == 0);
        size_t off = 0;
        for (size_t j = 0; j < i % nv; j++)
            off += vs[j].size;
        assert_memory_equal(d + s->offset, tu + off, s->size);
    }
    /* The box the offsets live in. */
    int has_co64 = 0;
    for (size_t i = 0; i + 4 < n && i < 8192; i++)
        has_co64 |= !memcmp(d + i, "co64", 4);
    assert_int_equal(has_co64, co64);
    cme__mp4_file_free(&f);
    /* The audio track is carried over: its sample entry and the priming edit (the e2e
     * test reads it back with ffprobe and MediaInfo). */
    int has_mp4a = 0, has_elst = 0, has_soun = 0;
    for (size_t i = 0; i + 4 < n && i < 8192; i++) {
        has_mp4a |= !memcmp(d + i, "mp4a", 4);
        has_elst |= !memcmp(d + i, "elst", 4);
        has_soun |= !memcmp(d + i, "soun", 4);
    }
    assert_true(has_mp4a && has_elst && has_soun);
    free(d);
    unlink(out);
}

static void test_stitch(void **state)
{
    (void)state;
    check_stitched(0);
}

static void test_stitch_co64(void **state)
{
    (void)state;
    check_stitched(1);
}

static void test_bad_input(void **state)
{
    (void)state;
    char err[256], missing[512], out[512];
    snprintf(missing, sizeof(missing), "%s/nope.mp4", dir);
    snprintf(out, sizeof(out), "%s/bad.mp4", dir);
    CmeStitchTrack t = { missing, NULL, 0 };
    assert_true(cme__mp4_stitch(out, &t, 1, 0, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "nope.mp4"));
    assert_int_equal(access(out, F_OK), -1); /* nothing under the final name */
    assert_int_equal(cme__mp4_stitch(out, &t, 0, 0, err, sizeof(err)), CME_EINVAL);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* DASH on demand: init + sidx + the fragments. The sidx indexes each fragment exactly (the
 * reader's check holds), the samples are the segments', the init and index ranges are where
 * the file has them; a damaged reference, duration, time or count is refused by name. */
static void test_ondemand(void **state)
{
    (void)state;
    uint8_t tu[1 << 16];
    size_t tu_size, nv;
    CmeSample vs[9];
    make_tracks(tu, &tu_size, vs, &nv);
    char p[4][512];
    const char *vseg[3];
    for (int i = 0; i < 3; i++) {
        snprintf(p[i], sizeof(p[i]), "%s/a_%d.m4s", dir, i + 1);
        vseg[i] = p[i];
    }
    snprintf(p[3], sizeof(p[3]), "%s/a_init.mp4", dir);
    CmeStitchTrack t = { p[3], vseg, 3 };
    char out[512], err[256];
    snprintf(out, sizeof(out), "%s/od.mp4", dir);
    CmeDashIndex ix = { 0 };
    assert_int_equal(cme__ondemand_file(out, &t, &ix, err, sizeof(err)), 0);
    unsigned char *d = NULL, *init = NULL;
    size_t n = 0, init_size = 0;
    assert_int_equal(cme__file_read_all(out, &d, &n, err, sizeof(err)), 0);
    assert_int_equal(cme__file_read_all(p[3], &init, &init_size, err, sizeof(err)), 0);
    /* The init segment byte for byte, then the sidx. */
    assert_int_equal(ix.init_end, init_size - 1);
    assert_memory_equal(d, init, init_size);
    assert_int_equal(ix.index_start, init_size);
    assert_memory_equal(d + init_size + 4, "sidx", 4);
    assert_int_equal(ix.index_end - ix.index_start + 1, rd32(d + init_size));
    /* version 0, reference_ID 1, timescale 48000, ept 0, first_offset 0, 3 references. */
    const uint8_t *x = d + init_size + 8;
    assert_int_equal(rd32(x), 0);
    assert_int_equal(rd32(x + 4), 1);
    assert_int_equal(rd32(x + 8), 48000);
    assert_int_equal(rd32(x + 12), 0);
    assert_int_equal(rd32(x + 16), 0);
    assert_int_equal(rd32(x + 20), 3); /* reserved 0, reference_count 3 */
    uint64_t total = ix.index_end + 1;
    for (int k = 0; k < 3; k++) {
        const uint8_t *ref = x + 24 + 12 * k;
        assert_int_equal(rd32(ref) >> 31, 0);
        total += rd32(ref) & 0x7fffffffu;
        assert_int_equal(rd32(ref + 4), k == 2 ? 2548 : 3072);
        assert_int_equal(rd32(ref + 8), 0x90000000u); /* starts_with_SAP, SAP type 1 */
        /* Each reference starts with a moof (the segment's styp is left out). */
        assert_memory_equal(d + total - (rd32(ref) & 0x7fffffffu) + 4, "moof", 4);
    }
    assert_int_equal(total, n);
    CmeMp4File f;
    assert_int_equal(cme__mp4_parse(d, n, &f, err, sizeof(err)), 0);
    assert_int_equal(f.has_sidx, 1);
    assert_int_equal(f.sidx.nb_refs, 3);
    assert_int_equal(f.sidx.start, ix.index_start);
    assert_int_equal(f.sidx.end, ix.index_end + 1);
    assert_int_equal(f.nb_moofs, 3);
    assert_int_equal(f.nb_samples, 9);
    assert_false(f.has_styp);
    assert_int_equal(cme__mp4_check_sidx(&f, n, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    /* Damaged indexes, each named. */
    CmeMp4SidxRef saved = f.sidx.refs[1];
    f.sidx.refs[1].subsegment_duration = 1;
    assert_int_equal(cme__mp4_check_sidx(&f, n, err, sizeof(err)), CME_EBITSTREAM);
    assert_string_equal(err, "sidx: reference 2: subsegment_duration 1, its samples last 3072");
    f.sidx.refs[1] = saved;
    f.sidx.refs[0].referenced_size -= 1;
    assert_int_equal(cme__mp4_check_sidx(&f, n, err, sizeof(err)), CME_EBITSTREAM);
    assert_non_null(strstr(err, "sidx: reference 2 starts at byte "));
    assert_non_null(strstr(err, ", where no moof is"));
    f.sidx.refs[0].referenced_size += 1;
    f.sidx.earliest_presentation_time = 5;
    assert_int_equal(cme__mp4_check_sidx(&f, n, err, sizeof(err)), CME_EBITSTREAM);
    assert_string_equal(err,
                        "sidx: reference 1 starts at presentation time 5, its first sample at 0");
    f.sidx.earliest_presentation_time = 0;
    f.sidx.nb_refs = 2;
    assert_int_equal(cme__mp4_check_sidx(&f, n, err, sizeof(err)), CME_EBITSTREAM);
    assert_string_equal(err, "sidx: 2 references, but 3 moofs follow it");
    f.sidx.nb_refs = 3;
    f.sidx.refs[2].reference_type = 1;
    assert_int_equal(cme__mp4_check_sidx(&f, n, err, sizeof(err)), CME_EBITSTREAM);
    assert_non_null(strstr(err, "reference 3 points at another sidx"));
    cme__mp4_file_free(&f);
    /* A sidx whose reference_count overruns the box is refused by the reader. */
    d[init_size + 8 + 22] = 0; /* after reserved: reference_count */
    d[init_size + 8 + 23] = 200;
    assert_int_equal(cme__mp4_parse(d, n, &f, err, sizeof(err)), CME_EBITSTREAM);
    assert_non_null(strstr(err, "sidx: reference_count 200 exceeds the box"));
    free(d);
    free(init);
    /* No segment: refused, nothing written. */
    CmeStitchTrack none = { p[3], vseg, 0 };
    snprintf(out, sizeof(out), "%s/od_none.mp4", dir);
    assert_int_equal(cme__ondemand_file(out, &none, &ix, err, sizeof(err)), CME_EINVAL);
    assert_int_equal(access(out, F_OK), -1);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/cme-mp4file-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stitch),
        cmocka_unit_test(test_stitch_co64),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_ondemand),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The fault-injection backend (engine/enc/fault.c): its option parser, its sequence header
 * rewrite on real SVT-AV1 output, and every fault end to end through the encoder vtable on a
 * tiny 64x64 encode of three 4-frame chunks, showing where each fault fires and how often.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cmafeng/av1.h"
#include "enc/encoder.h"
#include "enc/fault.h"

/* ------------------------------------------------------------------------------------------
 * The parser.
 */

static void test_parse_accepts(void **state)
{
    (void)state;
    CmeFaultList l;
    char err[256];
    assert_int_equal(cme__fault_parse("fail@3", &l, err, sizeof(err)), 0);
    assert_int_equal(l.count, 1);
    assert_int_equal(l.f[0].kind, CME_FAULT_FAIL);
    assert_int_equal(l.f[0].segment, 3);

    assert_int_equal(cme__fault_parse("fail_once@all,receive_fail@2,eos_fail,stall@5:2.5,"
                                      "garbage@1,seqhdr@7,delay@.25,gone@4,id=dev-b.2,fail@all",
                                      &l, err, sizeof(err)),
                     0);
    assert_int_equal(l.count, 9); /* id= adds no fault */
    const struct {
        CmeFaultKind kind;
        uint32_t segment;
        double seconds;
    } want[] = {
        { CME_FAULT_FAIL_ONCE, CME_FAULT_ALL, 0 },
        { CME_FAULT_RECEIVE_FAIL, 2, 0 },
        { CME_FAULT_EOS_FAIL, 0, 0 },
        { CME_FAULT_STALL, 5, 2.5 },
        { CME_FAULT_GARBAGE, 1, 0 },
        { CME_FAULT_SEQHDR, 7, 0 },
        { CME_FAULT_DELAY, 0, 0.25 },
        { CME_FAULT_GONE, 4, 0 },
        { CME_FAULT_FAIL, CME_FAULT_ALL, 0 },
    };
    for (int i = 0; i < 9; i++) {
        assert_int_equal(l.f[i].kind, want[i].kind);
        assert_int_equal(l.f[i].segment, want[i].segment);
        assert_true(l.f[i].seconds == want[i].seconds);
    }
    /* The parser does not depend on the locale's decimal point, and takes whole seconds. */
    assert_int_equal(cme__fault_parse("stall@all:3", &l, err, sizeof(err)), 0);
    assert_int_equal(l.f[0].segment, CME_FAULT_ALL);
    assert_true(l.f[0].seconds == 3.0);

    assert_int_equal(cme__fault_parse("", &l, err, sizeof(err)), 0);
    assert_int_equal(l.count, 0);
    assert_int_equal(cme__fault_parse(NULL, &l, err, sizeof(err)), 0);
    assert_int_equal(l.count, 0);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *options;
        const char *message; /* a substring of the error */
    } bad[] = {
        { "fial@3", "fault option \"fial@3\": expected fail@N, fail_once@N, receive_fail@N" },
        { "fail@1,fial@3", "fault option \"fial@3\": expected fail@N, fail_once@N" },
        { "fail@0", "fault option \"fail@0\": expected fail@N (N a segment number >= 1" },
        { "fail", "fault option \"fail\": expected fail@N" },
        { "fail@", "fault option \"fail@\": expected fail@N" },
        { "fail@x", "fault option \"fail@x\": expected fail@N" },
        { "fail@-1", "fault option \"fail@-1\": expected fail@N" },
        { "fail@99999999", "fault option \"fail@99999999\": expected fail@N" },
        { "gone@all2", "fault option \"gone@all2\": expected gone@N" },
        { "fail_once@2:1", "fault option \"fail_once@2:1\": expected fail_once@N" },
        { "stall@2", "fault option \"stall@2\": expected stall@N:S" },
        { "stall@2:0", "fault option \"stall@2:0\": expected stall@N:S" },
        { "stall@2:1.", "" }, /* accepted below: "1." is one second */
        { "stall@:1", "fault option \"stall@:1\": expected stall@N:S" },
        { "stall@2:1e3", "fault option \"stall@2:1e3\": expected stall@N:S" },
        { "stall@2:1.2.3", "fault option \"stall@2:1.2.3\": expected stall@N:S" },
        { "delay@abc", "fault option \"delay@abc\": expected delay@S" },
        { "delay@4000", "fault option \"delay@4000\": expected delay@S" },
        { "delay@-1", "fault option \"delay@-1\": expected delay@S" },
        { "eos_fail@1", "fault option \"eos_fail@1\": expected eos_fail" },
        { "fail@1,,fail@2", "fault option \"\": empty directive in \"fail@1,,fail@2\"" },
        { "fail@1,", "fault option \"\": empty directive" },
        { ",fail@1", "fault option \"\": empty directive" },
        { "id=", "fault option \"id=\": expected fail@N" },
        { "id=a:b", "fault option \"id=a:b\": expected id=NAME" },
        { "FAIL@1", "fault option \"FAIL@1\": expected fail@N" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CmeFaultList l;
        char err[512] = { 0 };
        int r = cme__fault_parse(bad[i].options, &l, err, sizeof(err));
        if (!bad[i].message[0]) {
            assert_int_equal(r, 0);
            assert_true(l.f[0].seconds == 1.0);
            continue;
        }
        if (r != CME_EINVAL || !strstr(err, bad[i].message))
            fail_msg("options \"%s\": rc %d, message \"%s\", wanted \"%s\"", bad[i].options, r, err,
                     bad[i].message);
    }
    /* More directives than the list holds. */
    char many[8 * (CME_FAULT_MAX + 1) + 1] = "";
    for (int i = 0; i <= CME_FAULT_MAX; i++)
        strcat(many, i ? ",fail@1" : "fail@1");
    CmeFaultList l;
    char err[512];
    assert_int_equal(cme__fault_parse(many, &l, err, sizeof(err)), CME_EINVAL);
    assert_non_null(strstr(err, "more than"));
}

/* ------------------------------------------------------------------------------------------
 * The backend end to end.
 */

enum { W = 64, H = 64, FRAMES = 4, MAX_CALLS = 128, MAX_PKTS = 64, MAX_PTS = 64 };

/* A slow receive is one that blocked at least this long: well above anything a 64x64 encode
 * takes in a non-blocking get_packet, even on a busy machine, and below the 1 s stall. */
#define SLOW_S 0.8

static CmeEncoderSettings settings(const char *options)
{
    CmeEncoderSettings s = {
        .width = W,
        .height = H,
        .fps_num = 25,
        .fps_den = 1,
        .bit_depth = 8,
        .crf = 50,
        .preset = 12,
        .threads = 1,
        .keyint = FRAMES,
        .color_primaries = 2,
        .transfer_characteristics = 2,
        .matrix_coefficients = 2,
    };
    snprintf(s.options, sizeof(s.options), "%s", options);
    return s;
}

typedef struct Call {
    char what; /* 's' send of a segment's first frame, 'f' another frame, 'r' receive, 'e' EOS */
    uint32_t chunk;  /* 's', 'f' */
    int rc;          /* 's', 'f', 'e': the result; 'r': only failed receives are recorded */
    int frames_sent; /* frames accepted so far */
} Call;

typedef struct Packet {
    int64_t pts;
    int key;
    size_t size;
    uint8_t *data; /* test_malloc'd copy */
} Packet;

typedef struct Run {
    Call calls[MAX_CALLS];
    int nb_calls;
    Packet pkts[MAX_PKTS];
    int nb_pkts;
    int64_t chunk_of_pts[MAX_PTS]; /* -1 before it was sent */
    int64_t start_pts[8];          /* pts of each chunk's first accepted frame; -1 if none */
    int slow_receives;             /* receives that blocked >= SLOW_S before EOS */
    int slow_after_frames;         /* frames accepted when the last slow receive happened */
    double first_send_s;           /* how long the instance's first send_frame took */
    int end_rc;                    /* how the drain after EOS ended: CME_EOF or an error */
} Run;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void add_call(Run *run, char what, uint32_t chunk, int rc, int frames_sent)
{
    assert_true(run->nb_calls < MAX_CALLS);
    run->calls[run->nb_calls++] = (Call){ what, chunk, rc, frames_sent };
}

static void keep_packet(Run *run, const CmeEncPacket *pkt)
{
    assert_true(run->nb_pkts < MAX_PKTS);
    Packet *k = &run->pkts[run->nb_pkts++];
    k->pts = pkt->pts;
    k->key = pkt->key;
    k->size = pkt->size;
    k->data = test_malloc(pkt->size);
    memcpy(k->data, pkt->data, pkt->size);
}

/* Receives until CME_EAGAIN (before EOS) or the end; failed receives are recorded. After
 * EOS the backend blocks until a packet, so nothing is timed then. */
static int drain(Run *run, CmeEncoder *e, int frames_sent, int after_eos)
{
    for (int errors = 0; errors < 8;) {
        CmeEncPacket pkt;
        double t0 = now_s();
        int r = cme__encoder_receive(e, &pkt);
        if (!after_eos && now_s() - t0 >= SLOW_S) {
            run->slow_receives++;
            run->slow_after_frames = frames_sent;
        }
        if (r == 0) {
            keep_packet(run, &pkt);
            continue;
        }
        if (r == CME_EAGAIN || r == CME_EOF)
            return r;
        add_call(run, 'r', 0, r, frames_sent);
        if (r == CME_ENODEV)
            return r;
        errors++;
    }
    return CME_EENCODER;
}

/*
 * Runs one fault-backend instance over a schedule of chunk indices (a chunk listed twice is
 * retried, as a scheduler would), FRAMES frames each with force_key on the first; the first
 * frame refused ends that chunk, like a worker. Then EOS and a drain, then close.
 */
static void run_backend(const char *options, const uint32_t *schedule, int n, Run *run)
{
    memset(run, 0, sizeof(*run));
    for (int i = 0; i < MAX_PTS; i++)
        run->chunk_of_pts[i] = -1;
    for (int i = 0; i < 8; i++)
        run->start_pts[i] = -1;
    CmeEncoderSettings s = settings(options);
    CmeEncoder *e = NULL;
    char err[256] = { 0 };
    int r = cme__encoder_open(&e, CME_BACKEND_FAULT, &s, err, sizeof(err));
    if (r < 0)
        fail_msg("open \"%s\": %s", options, err);
    static uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
    int64_t pts = 0;
    int frames_sent = 0;
    for (int k = 0; k < n; k++) {
        const uint32_t chunk = schedule[k];
        for (int i = 0; i < FRAMES; i++) {
            for (size_t j = 0; j < sizeof(y); j++)
                y[j] = (uint8_t)((j % W) * 3 + (j / W) * 5 + pts * 11 + ((j * 2654435761u) >> 28));
            memset(u, 100 + (int)chunk * 20, sizeof(u));
            memset(v, 140, sizeof(v));
            CmeEncFrame f = { .planes = { y, u, v },
                              .strides = { W, W / 2, W / 2 },
                              .pts = pts,
                              .force_key = i == 0,
                              .chunk = chunk };
            double t0 = now_s();
            r = cme__encoder_send(e, &f);
            if (k == 0 && i == 0)
                run->first_send_s = now_s() - t0;
            add_call(run, i == 0 ? 's' : 'f', chunk, r, frames_sent);
            if (r < 0)
                break;
            assert_true(pts < MAX_PTS);
            run->chunk_of_pts[pts] = chunk;
            if (i == 0)
                run->start_pts[chunk] = pts;
            pts++;
            frames_sent++;
            drain(run, e, frames_sent, 0);
        }
    }
    r = cme__encoder_send(e, NULL);
    add_call(run, 'e', 0, r, frames_sent);
    /* An EOS that failed never reached SVT-AV1: draining would wait forever; close() copes. */
    run->end_rc = r == 0 ? drain(run, e, frames_sent, 1) : r;
    cme__encoder_close(&e);
    assert_null(e);
}

static void run_free(Run *run)
{
    for (int i = 0; i < run->nb_pkts; i++)
        test_free(run->pkts[i].data);
    run->nb_pkts = 0;
}

static int count_calls(const Run *run, char what, int rc)
{
    int n = 0;
    for (int i = 0; i < run->nb_calls; i++)
        n += run->calls[i].what == what && run->calls[i].rc == rc;
    return n;
}

static const Packet *packet_at(const Run *run, int64_t pts)
{
    for (int i = 0; i < run->nb_pkts; i++)
        if (run->pkts[i].pts == pts)
            return &run->pkts[i];
    return NULL;
}

/* Every OBU of the packet walks. */
static int packet_parses(const Packet *p)
{
    const uint8_t *b = p->data;
    size_t left = p->size;
    CmeAv1Obu obu;
    int r, n = 0;
    while ((r = cme_av1_obu_next(&b, &left, &obu, NULL, 0)) == 1)
        n++;
    return r == 0 && n > 0;
}

/* Every accepted frame came back once, in order of pts. */
static void assert_all_packets(const Run *run, int frames)
{
    assert_int_equal(run->nb_pkts, frames);
    for (int i = 0; i < run->nb_pkts; i++)
        assert_int_equal(run->pkts[i].pts, i);
}

static const uint32_t THREE[] = { 0, 1, 2 };
static const uint32_t RETRY_1[] = { 0, 1, 1, 2 };
static const uint32_t ONLY_1[] = { 1 };

static int reset(void **state)
{
    (void)state;
    cme__fault_reset();
    return 0;
}

static void test_open_refuses_bad_options(void **state)
{
    (void)state;
    CmeEncoderSettings s = settings("fail@2,fial@3");
    CmeEncoder *e = NULL;
    char err[256] = { 0 };
    assert_int_equal(cme__encoder_open(&e, CME_BACKEND_FAULT, &s, err, sizeof(err)), CME_EINVAL);
    assert_null(e);
    assert_non_null(strstr(err, "fault option \"fial@3\": expected fail@N, fail_once@N"));
}

static void test_no_fault_passes_through(void **state)
{
    (void)state;
    Run run;
    run_backend("id=clean", THREE, 3, &run);
    assert_int_equal(count_calls(&run, 's', 0), 3);
    assert_int_equal(count_calls(&run, 'f', 0), 3 * (FRAMES - 1));
    assert_int_equal(count_calls(&run, 'e', 0), 1);
    assert_int_equal(count_calls(&run, 'r', CME_EENCODER), 0);
    assert_int_equal(run.end_rc, CME_EOF);
    assert_int_equal(run.slow_receives, 0);
    assert_all_packets(&run, 3 * FRAMES);
    for (uint32_t c = 0; c < 3; c++) {
        /* Each chunk starts with a key frame carrying a sequence header. */
        const Packet *p = packet_at(&run, run.start_pts[c]);
        assert_non_null(p);
        assert_true(p->key);
        CmeAv1Obu obu;
        CmeAv1SeqHdr seq;
        assert_int_equal(cme_av1_find_seq_hdr(p->data, p->size, &obu, &seq, NULL, 0), 0);
    }
    for (int i = 0; i < run.nb_pkts; i++)
        assert_true(packet_parses(&run.pkts[i]));
    run_free(&run);
}

static void test_fail_every_time(void **state)
{
    (void)state;
    Run run;
    /* Segment 2 is chunk index 1: its first frame fails, and so does the retry. */
    run_backend("fail@2", RETRY_1, 4, &run);
    assert_int_equal(count_calls(&run, 's', CME_EENCODER), 2);
    for (int i = 0; i < run.nb_calls; i++)
        if (run.calls[i].rc == CME_EENCODER)
            assert_int_equal(run.calls[i].chunk, 1);
    assert_int_equal(count_calls(&run, 's', 0), 2); /* chunks 0 and 2 */
    assert_int_equal(run.start_pts[1], -1);
    assert_int_equal(run.end_rc, CME_EOF);
    assert_all_packets(&run, 2 * FRAMES); /* nothing of chunk 1 reached the encoder */
    for (int i = 0; i < run.nb_pkts; i++)
        assert_int_not_equal(run.chunk_of_pts[run.pkts[i].pts], 1);
    run_free(&run);
    /* Another instance of the device fails it too. */
    run_backend("fail@2", ONLY_1, 1, &run);
    assert_int_equal(count_calls(&run, 's', CME_EENCODER), 1);
    assert_int_equal(run.nb_pkts, 0);
    assert_int_equal(run.end_rc, CME_EOF); /* EOS on an encoder without frames drains */
    run_free(&run);
}

static void test_fail_once(void **state)
{
    (void)state;
    Run run;
    run_backend("fail_once@2", RETRY_1, 4, &run);
    assert_int_equal(count_calls(&run, 's', CME_EENCODER), 1);
    assert_int_equal(run.calls[FRAMES].what, 's'); /* the call after chunk 0's frames */
    assert_int_equal(run.calls[FRAMES].chunk, 1);
    assert_int_equal(run.calls[FRAMES].rc, CME_EENCODER);
    assert_int_equal(count_calls(&run, 's', 0), 3); /* chunk 0, the retry of 1, chunk 2 */
    assert_all_packets(&run, 3 * FRAMES);
    run_free(&run);
    /* Once per device in this process: a second instance gets segment 2 through... */
    run_backend("fail_once@2", ONLY_1, 1, &run);
    assert_int_equal(count_calls(&run, 's', CME_EENCODER), 0);
    assert_all_packets(&run, FRAMES);
    run_free(&run);
    /* ...a device with other options has its own state, and a reset starts afresh. */
    run_backend("fail_once@2,id=b", ONLY_1, 1, &run);
    assert_int_equal(count_calls(&run, 's', CME_EENCODER), 1);
    run_free(&run);
    cme__fault_reset();
    run_backend("fail_once@2", ONLY_1, 1, &run);
    assert_int_equal(count_calls(&run, 's', CME_EENCODER), 1);
    run_free(&run);
}

static void test_fail_all(void **state)
{
    (void)state;
    Run run;
    run_backend("fail@all", THREE, 3, &run);
    assert_int_equal(count_calls(&run, 's', CME_EENCODER), 3);
    assert_int_equal(count_calls(&run, 'f', 0), 0);
    assert_int_equal(run.nb_pkts, 0);
    assert_int_equal(count_calls(&run, 'e', 0), 1);
    assert_int_equal(run.end_rc, CME_EOF);
    run_free(&run);
}

static void test_receive_fail_once(void **state)
{
    (void)state;
    Run run;
    run_backend("receive_fail@2", THREE, 3, &run);
    assert_int_equal(count_calls(&run, 's', 0), 3);
    assert_int_equal(count_calls(&run, 'r', CME_EENCODER), 1);
    assert_int_equal(run.nb_calls, 3 * FRAMES + 2); /* the frames, EOS, one failed receive */
    /* Exactly segment 2's first packet is missing; the encoder went on. */
    assert_int_equal(run.nb_pkts, 3 * FRAMES - 1);
    assert_null(packet_at(&run, run.start_pts[1]));
    for (int64_t pts = 0; pts < 3 * FRAMES; pts++)
        if (pts != run.start_pts[1])
            assert_non_null(packet_at(&run, pts));
    assert_int_equal(run.end_rc, CME_EOF);
    run_free(&run);
    run_backend("receive_fail@2", THREE, 3, &run);
    assert_int_equal(count_calls(&run, 'r', CME_EENCODER), 0);
    assert_all_packets(&run, 3 * FRAMES);
    run_free(&run);
}

static void test_eos_fail(void **state)
{
    (void)state;
    Run run;
    run_backend("eos_fail", THREE, 3, &run);
    assert_int_equal(count_calls(&run, 's', 0), 3);
    assert_int_equal(count_calls(&run, 'e', CME_EENCODER), 1);
    assert_int_equal(run.end_rc, CME_EENCODER);
    /* run_backend closed the encoder after the failed EOS: close did not hang. */
    run_free(&run);
}

static void test_stall_once(void **state)
{
    (void)state;
    Run run;
    run_backend("stall@2:1", THREE, 3, &run);
    assert_int_equal(run.slow_receives, 1);
    /* The receive right after segment 2's first frame (the 5th frame) blocked. */
    assert_int_equal(run.slow_after_frames, FRAMES + 1);
    assert_int_equal(count_calls(&run, 'r', CME_EENCODER), 0);
    assert_all_packets(&run, 3 * FRAMES);
    run_free(&run);
    run_backend("stall@2:1", THREE, 3, &run);
    assert_int_equal(run.slow_receives, 0);
    run_free(&run);
}

static void test_delay_first_send(void **state)
{
    (void)state;
    Run run;
    run_backend("delay@0.5", ONLY_1, 1, &run);
    assert_true(run.first_send_s >= 0.5);
    assert_all_packets(&run, FRAMES);
    run_free(&run);
}

static void test_garbage_once(void **state)
{
    (void)state;
    Run run;
    run_backend("garbage@2", THREE, 3, &run);
    assert_all_packets(&run, 3 * FRAMES);
    const Packet *bad = packet_at(&run, run.start_pts[1]);
    assert_non_null(bad);
    const uint8_t *b = bad->data;
    size_t left = bad->size;
    CmeAv1Obu obu;
    CmeAv1SeqHdr seq;
    char err[128];
    assert_int_equal(cme_av1_obu_next(&b, &left, &obu, err, sizeof(err)), CME_EBITSTREAM);
    assert_int_not_equal(cme_av1_find_seq_hdr(bad->data, bad->size, &obu, &seq, NULL, 0), 0);
    assert_true(bad->key); /* pts and flags are the real packet's */
    for (int i = 0; i < run.nb_pkts; i++)
        if (&run.pkts[i] != bad)
            assert_true(packet_parses(&run.pkts[i]));
    run_free(&run);
    run_backend("garbage@2", THREE, 3, &run);
    for (int i = 0; i < run.nb_pkts; i++)
        assert_true(packet_parses(&run.pkts[i]));
    run_free(&run);
}

static void seq_of(const Run *run, uint32_t chunk, CmeAv1SeqHdr *seq, CmeAv1Obu *obu)
{
    const Packet *p = packet_at(run, run->start_pts[chunk]);
    assert_non_null(p);
    char err[128] = { 0 };
    if (cme_av1_find_seq_hdr(p->data, p->size, obu, seq, err, sizeof(err)) != 0)
        fail_msg("chunk %u: %s", (unsigned)chunk, err);
}

static void test_seqhdr_changes_only_the_level(void **state)
{
    (void)state;
    Run run;
    run_backend("seqhdr@2", THREE, 3, &run);
    assert_all_packets(&run, 3 * FRAMES);
    CmeAv1SeqHdr s0, s1, s2;
    CmeAv1Obu o0, o1, o2;
    seq_of(&run, 0, &s0, &o0);
    seq_of(&run, 1, &s1, &o1);
    seq_of(&run, 2, &s2, &o2);
    assert_int_equal(s1.op[0].seq_level_idx, s0.op[0].seq_level_idx ^ 1);
    assert_int_equal(o1.size, o0.size);
    const CmeInvariantMode modes[] = { CME_INVARIANT_CMAF, CME_INVARIANT_STRICT };
    for (int m = 0; m < 2; m++) {
        CmeAv1FieldDiff d[8];
        assert_int_equal(
            cme_av1_invariant_compare(&s0, o0.data, o0.size, &s1, o1.data, o1.size, modes[m], d, 8),
            1);
        assert_string_equal(d[0].field, "seq_level_idx[0]");
        assert_int_equal(d[0].a, s0.op[0].seq_level_idx);
        assert_int_equal(d[0].b, s0.op[0].seq_level_idx ^ 1);
        /* Once: segment 3 is the encoder's own header again. */
        assert_int_equal(
            cme_av1_invariant_compare(&s0, o0.data, o0.size, &s2, o2.data, o2.size, modes[m], d, 8),
            0);
    }
    for (int i = 0; i < run.nb_pkts; i++)
        assert_true(packet_parses(&run.pkts[i]));
    run_free(&run);
    /* Once per device: segment 2 again, on another instance, keeps the encoder's level. */
    run_backend("seqhdr@2", ONLY_1, 1, &run);
    CmeAv1SeqHdr again;
    CmeAv1Obu oa;
    seq_of(&run, 1, &again, &oa);
    assert_int_equal(again.op[0].seq_level_idx, s0.op[0].seq_level_idx);
    run_free(&run);
}

/* The rewrite on a real SVT-AV1 key packet: flips exactly the level, twice restores the
 * bytes; other layouts and packets without a sequence header are left alone. */
static void test_flip_level_on_real_packet(void **state)
{
    (void)state;
    Run run;
    run_backend("", ONLY_1, 1, &run);
    assert_all_packets(&run, FRAMES);
    const Packet *key = &run.pkts[0];
    const size_t n = key->size;
    uint8_t *buf = test_malloc(n);
    memcpy(buf, key->data, n);

    int old_level = -1, new_level = -1;
    char why[256];
    assert_int_equal(cme__fault_flip_level(buf, n, &old_level, &new_level, why, sizeof(why)), 0);
    CmeAv1SeqHdr a, b;
    CmeAv1Obu oa, ob;
    assert_int_equal(cme_av1_find_seq_hdr(key->data, n, &oa, &a, NULL, 0), 0);
    assert_int_equal(cme_av1_find_seq_hdr(buf, n, &ob, &b, NULL, 0), 0);
    assert_int_equal(old_level, a.op[0].seq_level_idx);
    assert_int_equal(new_level, old_level ^ 1);
    assert_int_equal(b.op[0].seq_level_idx, new_level);
    assert_int_equal(b.op[0].seq_tier, a.op[0].seq_tier);
    CmeAv1FieldDiff d[4];
    assert_int_equal(cme_av1_invariant_compare(&a, oa.data, oa.size, &b, ob.data, ob.size,
                                               CME_INVARIANT_STRICT, d, 4),
                     1);
    assert_string_equal(d[0].field, "seq_level_idx[0]");
    /* One byte differs, and only in the level's lowest bit. */
    int differing = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] != key->data[i]) {
            differing++;
            assert_int_equal(buf[i] ^ key->data[i], 0x08);
        }
    assert_int_equal(differing, 1);
    assert_int_equal(cme__fault_flip_level(buf, n, NULL, NULL, why, sizeof(why)), 0);
    assert_memory_equal(buf, key->data, n);

    /* timing_info_present_flag (payload bit 5) set: the level moves, so nothing is touched. */
    const size_t poff = (size_t)(oa.payload - key->data);
    buf[poff] |= 0x04;
    uint8_t *before = test_malloc(n);
    memcpy(before, buf, n);
    int r = cme__fault_flip_level(buf, n, NULL, NULL, why, sizeof(why));
    assert_true(r < 0);
    assert_memory_equal(buf, before, n);
    test_free(before);

    /* A packet without a sequence header (an inter frame). */
    const Packet *inter = &run.pkts[1];
    assert_false(inter->key);
    memcpy(buf, inter->data, inter->size < n ? inter->size : n);
    r = cme__fault_flip_level(buf, inter->size < n ? inter->size : n, NULL, NULL, why, sizeof(why));
    assert_int_equal(r, CME_EOF);
    assert_non_null(strstr(why, "no sequence header"));
    test_free(buf);
    run_free(&run);
}

static void test_gone_from_segment(void **state)
{
    (void)state;
    Run run;
    run_backend("gone@2", THREE, 3, &run);
    assert_int_equal(count_calls(&run, 's', 0), 1); /* chunk 0 went in */
    assert_int_equal(count_calls(&run, 'f', 0), FRAMES - 1);
    /* From segment 2 on every call fails: sends, receives, EOS. */
    assert_int_equal(count_calls(&run, 's', CME_ENODEV), 2);
    assert_int_equal(count_calls(&run, 'e', CME_ENODEV), 1);
    assert_int_equal(run.end_rc, CME_ENODEV);
    for (int i = 0; i < run.nb_calls; i++)
        if (run.calls[i].rc != 0)
            assert_int_equal(run.calls[i].rc, CME_ENODEV);
    run_free(&run);
    /* The device is gone for its other instances too, even for an earlier segment... */
    static const uint32_t ONLY_0[] = { 0 };
    run_backend("gone@2", ONLY_0, 1, &run);
    assert_int_equal(count_calls(&run, 's', CME_ENODEV), 1);
    assert_int_equal(run.nb_pkts, 0);
    run_free(&run);
    /* ...until the process forgets it. */
    cme__fault_reset();
    run_backend("gone@2", ONLY_0, 1, &run);
    assert_int_equal(count_calls(&run, 's', 0), 1);
    assert_all_packets(&run, FRAMES);
    run_free(&run);
}

int main(void)
{
    setenv("SVT_LOG", "1", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test_setup(test_open_refuses_bad_options, reset),
        cmocka_unit_test_setup(test_no_fault_passes_through, reset),
        cmocka_unit_test_setup(test_fail_every_time, reset),
        cmocka_unit_test_setup(test_fail_once, reset),
        cmocka_unit_test_setup(test_fail_all, reset),
        cmocka_unit_test_setup(test_receive_fail_once, reset),
        cmocka_unit_test_setup(test_eos_fail, reset),
        cmocka_unit_test_setup(test_stall_once, reset),
        cmocka_unit_test_setup(test_delay_first_send, reset),
        cmocka_unit_test_setup(test_garbage_once, reset),
        cmocka_unit_test_setup(test_seqhdr_changes_only_the_level, reset),
        cmocka_unit_test_setup(test_flip_level_on_real_packet, reset),
        cmocka_unit_test_setup(test_gone_from_segment, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

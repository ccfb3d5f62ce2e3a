/*
 * Chunk table tests (engine/sched/chunk_table.h): every legal transition (add, begin, done,
 * fail, retry, give_up, add_done), every illegal one refused with CME_ESTATE and the record
 * left as it was (a stale attempt after a retry or a stall included), per-state counts that
 * always sum to the chunks, settled and rung_pending, stall detection (the writing chunk
 * never taken, progress restarting the clock, the late worker refused), the one payload
 * reference the table holds per unsettled chunk, the segments in order, and a threaded run
 * where four workers race one stall checker and every chunk ends done exactly once.
 *
 * Threads never call cmocka asserts: they record what they saw in atomics, and the main
 * thread asserts after joining them.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cmafeng/common.h"
#include "cmafeng/engine.h"
#include "core/signal.h"
#include "thread_wait.h"
#include "sched/chunk_table.h"

/* ---- helpers ---------------------------------------------------------------------- */

/* A payload that counts the references taken on it. */
typedef struct Payload {
    atomic_int refs;
} Payload;

static atomic_int g_refs; /* references held on all payloads */

static void pl_ref(void *p)
{
    atomic_fetch_add(&((Payload *)p)->refs, 1);
    atomic_fetch_add(&g_refs, 1);
}

static void pl_unref(void *p)
{
    atomic_fetch_sub(&((Payload *)p)->refs, 1);
    atomic_fetch_sub(&g_refs, 1);
}

static int refs(Payload *p)
{
    return atomic_load(&p->refs);
}

static void init_payloads(Payload *p, int n)
{
    for (int i = 0; i < n; i++)
        atomic_init(&p[i].refs, 0);
}

static CmeSegmentEntry seg_of(uint32_t i)
{
    return (CmeSegmentEntry){ .start = 1000u * i, .duration = 1000, .bytes = 500u + i };
}

static CmeChunkRecord get(CmeChunkTable *t, int rung, uint32_t index)
{
    CmeChunkRecord rec;
    memset(&rec, 0, sizeof(rec));
    assert_int_equal(cme__ct_get(t, rung, index, &rec), 0);
    return rec;
}

static CmeChunkState state_of(CmeChunkTable *t, int rung, uint32_t index)
{
    return get(t, rung, index).state;
}

/* Asserts the rung's counts per state, and that they sum to its chunks. */
static void check_counts(CmeChunkTable *t, int rung, int queued, int encoding, int awaiting,
                         int done, int failed)
{
    int c[CME_CHUNK_NB_STATES];
    cme__ct_counts(t, rung, c);
    assert_int_equal(c[CME_CHUNK_QUEUED], queued);
    assert_int_equal(c[CME_CHUNK_ENCODING], encoding);
    assert_int_equal(c[CME_CHUNK_AWAITING_POLICY], awaiting);
    assert_int_equal(c[CME_CHUNK_DONE], done);
    assert_int_equal(c[CME_CHUNK_FAILED], failed);
    int sum = 0;
    for (int s = 0; s < CME_CHUNK_NB_STATES; s++)
        sum += c[s];
    assert_int_equal((size_t)sum, cme__ct_count(t, rung));
}

/* The counts recomputed from the records match the table's counters. */
static void check_counts_match_records(CmeChunkTable *t, int rung)
{
    int want[CME_CHUNK_NB_STATES] = { 0 };
    size_t n = cme__ct_count(t, rung);
    for (uint32_t i = 0; i < n; i++)
        want[state_of(t, rung, i)]++;
    check_counts(t, rung, want[CME_CHUNK_QUEUED], want[CME_CHUNK_ENCODING],
                 want[CME_CHUNK_AWAITING_POLICY], want[CME_CHUNK_DONE], want[CME_CHUNK_FAILED]);
}

/* Two records are the same, field by field (padding aside). */
static void assert_record_same(const CmeChunkRecord *a, const CmeChunkRecord *b)
{
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->attempt, b->attempt);
    assert_int_equal(a->worker, b->worker);
    assert_int_equal(a->device, b->device);
    assert_int_equal(a->instance, b->instance);
    assert_int_equal(a->writing, b->writing);
    assert_int_equal(a->reason, b->reason);
    assert_string_equal(a->message, b->message);
    assert_true(a->t_begin == b->t_begin);
    assert_true(a->t_progress == b->t_progress);
    assert_true(a->encode_seconds == b->encode_seconds);
    assert_int_equal(a->only_device, b->only_device);
    assert_int_equal(a->excluded, b->excluded);
    assert_int_equal(a->crf, b->crf);
    assert_int_equal(a->preset, b->preset);
    assert_int_equal(a->decisions, b->decisions);
    assert_int_equal(a->resumed, b->resumed);
    assert_memory_equal(&a->seg, &b->seg, sizeof(a->seg));
    assert_ptr_equal(a->payload, b->payload);
}

/* Runs one transition that must be refused: CME_ESTATE, the record and counts unchanged. */
#define ASSERT_REFUSED(t, rung, index, call)                                         \
    do {                                                                             \
        CmeChunkRecord before_ = get((t), (rung), (index));                          \
        int counts_before_[CME_CHUNK_NB_STATES], counts_after_[CME_CHUNK_NB_STATES]; \
        cme__ct_counts((t), (rung), counts_before_);                                 \
        assert_int_equal((call), CME_ESTATE);                                        \
        CmeChunkRecord after_ = get((t), (rung), (index));                           \
        assert_record_same(&before_, &after_);                                       \
        cme__ct_counts((t), (rung), counts_after_);                                  \
        assert_memory_equal(counts_before_, counts_after_, sizeof(counts_before_));  \
    } while (0)

static int begin(CmeChunkTable *t, int rung, uint32_t index, double now)
{
    int attempt = -1;
    assert_int_equal(cme__ct_begin(t, rung, index, 7, 1, 0, now, &attempt), 0);
    assert_true(attempt >= 1);
    return attempt;
}

/* ---- init and empty tables ---------------------------------------------------------- */

static void test_init_and_empty(void **state)
{
    CmeChunkTable t;
    assert_int_equal(cme__ct_init(&t, -1, NULL, NULL), CME_EINVAL);
    assert_int_equal(cme__ct_init(&t, CME_MAX_RUNGS + 1, NULL, NULL), CME_EINVAL);
    assert_int_equal(cme__ct_init(&t, 2, NULL, NULL), 0);
    assert_int_equal(t.nb_rungs, 2);
    assert_int_equal(cme__ct_count(&t, 0), 0);
    assert_int_equal(cme__ct_count(&t, 5), 0);
    check_counts(&t, 0, 0, 0, 0, 0, 0);
    /* Totals unknown: not settled, although nothing is left to do. */
    assert_int_equal(cme__ct_settled(&t), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 0);
    assert_int_equal(cme__ct_rung_pending(&t, -1), 0);
    CmeChunkRecord rec;
    assert_int_equal(cme__ct_get(&t, 0, 0, &rec), CME_EINVAL);
    assert_int_equal(cme__ct_get(&t, 2, 0, &rec), CME_EINVAL);
    int attempt = -5;
    assert_int_equal(cme__ct_begin(&t, 0, 0, 0, 0, 0, 1.0, &attempt), CME_ESTATE);
    assert_int_equal(attempt, -5);
    CmeSegmentEntry seg = seg_of(0);
    assert_int_equal(cme__ct_done(&t, 0, 0, 1, &seg, 1.0), CME_ESTATE);
    assert_int_equal(cme__ct_fail(&t, 0, 0, 1, CME_FAIL_SEND, "x", 1.0), CME_ESTATE);
    assert_int_equal(cme__ct_give_up(&t, 1, 0), CME_ESTATE);
    void *payload = &t;
    assert_int_equal(cme__ct_retry(&t, 1, 0, -1, 0, -1, -1, &payload), CME_ESTATE);
    assert_null(payload);
    /* A rung that does not exist. */
    assert_int_equal(cme__ct_add(&t, 2, 0, NULL), CME_EINVAL);
    assert_int_equal(cme__ct_add(&t, -1, 0, NULL), CME_EINVAL);
    assert_int_equal(cme__ct_segments(&t, 2, &seg, 1), CME_EINVAL);
    CmeSegmentEntry segs[1];
    assert_int_equal(cme__ct_segments(&t, 0, segs, 1), 0);
    /* Both rungs cut with no chunk: settled. */
    cme__ct_set_total(&t, 0, 0);
    assert_int_equal(cme__ct_settled(&t), 0);
    cme__ct_set_total(&t, 1, 0);
    assert_int_equal(cme__ct_settled(&t), 1);
    cme__ct_destroy(&t);
}

/* ---- legal transitions --------------------------------------------------------------- */

static void test_add_begin_done(void **state)
{
    CmeChunkTable t;
    assert_int_equal(cme__ct_init(&t, 1, NULL, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 0, 0, NULL), 0);
    CmeChunkRecord r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_QUEUED);
    assert_int_equal(r.attempt, 0);
    assert_int_equal(r.worker, -1);
    assert_int_equal(r.device, -1);
    assert_int_equal(r.instance, -1);
    assert_int_equal(r.only_device, -1);
    assert_int_equal(r.crf, -1);
    assert_int_equal(r.preset, -1);
    assert_int_equal(r.excluded, 0);
    assert_int_equal(r.decisions, 0);
    assert_int_equal(r.resumed, 0);
    check_counts(&t, 0, 1, 0, 0, 0, 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 1);

    int attempt = 0;
    assert_int_equal(cme__ct_begin(&t, 0, 0, 3, 2, 1, 10.0, &attempt), 0);
    assert_int_equal(attempt, 1);
    r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_ENCODING);
    assert_int_equal(r.attempt, 1);
    assert_int_equal(r.worker, 3);
    assert_int_equal(r.device, 2);
    assert_int_equal(r.instance, 1);
    assert_int_equal(r.writing, 0);
    assert_true(r.t_begin == 10.0);
    assert_true(r.t_progress == 10.0);
    check_counts(&t, 0, 0, 1, 0, 0, 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 0);

    cme__ct_progress(&t, 0, 0, attempt, 11.0);
    assert_true(get(&t, 0, 0).t_progress == 11.0);
    assert_int_equal(cme__ct_write_begin(&t, 0, 0, attempt), 0);
    assert_int_equal(get(&t, 0, 0).writing, 1);

    CmeSegmentEntry seg = seg_of(0);
    assert_int_equal(cme__ct_done(&t, 0, 0, attempt, &seg, 12.5), 0);
    r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_DONE);
    assert_int_equal(r.writing, 0);
    assert_int_equal(r.worker, 3); /* who last held it */
    assert_int_equal(r.attempt, 1);
    assert_true(r.encode_seconds == 2.5);
    assert_memory_equal(&r.seg, &seg, sizeof(seg));
    check_counts(&t, 0, 0, 0, 0, 1, 0);
    cme__ct_destroy(&t);
}

static void test_fail_retry_begin_done(void **state)
{
    CmeChunkTable t;
    assert_int_equal(cme__ct_init(&t, 1, NULL, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 0, 0, NULL), 0);
    int a1 = begin(&t, 0, 0, 1.0);
    assert_int_equal(a1, 1);
    assert_int_equal(cme__ct_write_begin(&t, 0, 0, a1), 0);
    assert_int_equal(cme__ct_fail(&t, 0, 0, a1, CME_FAIL_WRITE, "disk full", 4.0), 0);
    CmeChunkRecord r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_AWAITING_POLICY);
    assert_int_equal(r.reason, CME_FAIL_WRITE);
    assert_string_equal(r.message, "disk full");
    assert_int_equal(r.writing, 0);
    assert_true(r.encode_seconds == 3.0);
    check_counts(&t, 0, 0, 0, 1, 0, 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 1);

    void *payload = &t; /* must be overwritten (no payload: NULL) */
    assert_int_equal(cme__ct_retry(&t, 0, 0, 1, UINT64_C(0x4), 30, 12, &payload), 0);
    assert_null(payload);
    r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_QUEUED);
    assert_int_equal(r.only_device, 1);
    assert_int_equal(r.excluded, 0x4);
    assert_int_equal(r.crf, 30);
    assert_int_equal(r.preset, 12);
    assert_int_equal(r.decisions, 1);
    assert_int_equal(r.attempt, 1);
    check_counts(&t, 0, 1, 0, 0, 0, 0);

    int a2 = begin(&t, 0, 0, 10.0);
    assert_int_equal(a2, 2);
    assert_int_equal(get(&t, 0, 0).writing, 0);
    /* A second failure and retry: exclusions accumulate, the other overrides are replaced. */
    assert_int_equal(cme__ct_fail(&t, 0, 0, a2, CME_FAIL_SEND, NULL, 11.0), 0);
    r = get(&t, 0, 0);
    assert_int_equal(r.reason, CME_FAIL_SEND);
    assert_string_equal(r.message, "");
    assert_int_equal(cme__ct_retry(&t, 0, 0, -1, UINT64_C(0x1), -1, -1, &payload), 0);
    r = get(&t, 0, 0);
    assert_int_equal(r.only_device, -1);
    assert_int_equal(r.excluded, 0x5);
    assert_int_equal(r.crf, -1);
    assert_int_equal(r.preset, -1);
    assert_int_equal(r.decisions, 2);

    int a3 = begin(&t, 0, 0, 20.0);
    assert_int_equal(a3, 3);
    CmeSegmentEntry seg = seg_of(0);
    assert_int_equal(cme__ct_done(&t, 0, 0, a3, &seg, 25.0), 0);
    r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_DONE);
    assert_int_equal(r.attempt, 3);
    assert_true(r.encode_seconds == 3.0 + 1.0 + 5.0); /* summed over attempts */
    check_counts(&t, 0, 0, 0, 0, 1, 0);
    cme__ct_destroy(&t);
}

static void test_fail_give_up(void **state)
{
    CmeChunkTable t;
    assert_int_equal(cme__ct_init(&t, 1, NULL, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 0, 0, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 0, 1, NULL), 0);
    int a = begin(&t, 0, 1, 0.0);
    assert_int_equal(cme__ct_fail(&t, 0, 1, a, CME_FAIL_INVARIANT, "header differs", 1.0), 0);
    assert_int_equal(cme__ct_give_up(&t, 0, 1), 0);
    CmeChunkRecord r = get(&t, 0, 1);
    assert_int_equal(r.state, CME_CHUNK_FAILED);
    assert_int_equal(r.reason, CME_FAIL_INVARIANT);
    assert_string_equal(r.message, "header differs");
    assert_int_equal(r.decisions, 1);
    check_counts(&t, 0, 1, 0, 0, 0, 1);
    /* Chunk 0 untouched. */
    assert_int_equal(state_of(&t, 0, 0), CME_CHUNK_QUEUED);
    cme__ct_destroy(&t);
}

/* A long message is cut to the record's buffer, terminated. */
static void test_fail_message_truncated(void **state)
{
    CmeChunkTable t;
    char longmsg[1000];
    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    assert_int_equal(cme__ct_init(&t, 1, NULL, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 0, 0, NULL), 0);
    int a = begin(&t, 0, 0, 0.0);
    assert_int_equal(cme__ct_fail(&t, 0, 0, a, CME_FAIL_MUX, longmsg, 1.0), 0);
    CmeChunkRecord r = get(&t, 0, 0);
    assert_int_equal(strlen(r.message), sizeof(r.message) - 1);
    assert_int_equal(r.message[0], 'm');
    cme__ct_destroy(&t);
}

/* ---- illegal transitions ------------------------------------------------------------ */

static void test_illegal_transitions(void **state)
{
    CmeChunkTable t;
    CmeSegmentEntry seg = seg_of(9);
    void *payload = NULL;
    int attempt = -1;
    assert_int_equal(cme__ct_init(&t, 1, NULL, NULL), 0);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(cme__ct_add(&t, 0, i, NULL), 0);

    /* 0 queued: done/fail/write_begin without begin, retry/give_up without a failure. */
    ASSERT_REFUSED(&t, 0, 0, cme__ct_done(&t, 0, 0, 0, &seg, 1.0));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_done(&t, 0, 0, 1, &seg, 1.0));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_fail(&t, 0, 0, 0, CME_FAIL_SEND, "x", 1.0));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_fail(&t, 0, 0, 1, CME_FAIL_SEND, "x", 1.0));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_write_begin(&t, 0, 0, 1));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_retry(&t, 0, 0, 1, 1, 20, 5, &payload));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_give_up(&t, 0, 0));

    /* 1 encoding: begin twice, wrong attempts, retry/give_up while encoding. */
    int a1 = begin(&t, 0, 1, 2.0);
    ASSERT_REFUSED(&t, 0, 1, cme__ct_begin(&t, 0, 1, 9, 9, 9, 3.0, &attempt));
    assert_int_equal(attempt, -1);
    ASSERT_REFUSED(&t, 0, 1, cme__ct_done(&t, 0, 1, a1 + 1, &seg, 3.0));
    ASSERT_REFUSED(&t, 0, 1, cme__ct_fail(&t, 0, 1, a1 - 1, CME_FAIL_SEND, "x", 3.0));
    ASSERT_REFUSED(&t, 0, 1, cme__ct_write_begin(&t, 0, 1, a1 + 1));
    ASSERT_REFUSED(&t, 0, 1, cme__ct_retry(&t, 0, 1, -1, 0, -1, -1, &payload));
    ASSERT_REFUSED(&t, 0, 1, cme__ct_give_up(&t, 0, 1));
    /* A progress report of another attempt does not restart the clock. */
    cme__ct_progress(&t, 0, 1, a1 + 1, 50.0);
    assert_true(get(&t, 0, 1).t_progress == 2.0);

    /* 2 awaiting a decision: no begin, done, fail or write_begin. */
    int a2 = begin(&t, 0, 2, 2.0);
    assert_int_equal(cme__ct_fail(&t, 0, 2, a2, CME_FAIL_RECEIVE, "r", 3.0), 0);
    ASSERT_REFUSED(&t, 0, 2, cme__ct_begin(&t, 0, 2, 1, 1, 1, 4.0, &attempt));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_done(&t, 0, 2, a2, &seg, 4.0));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_fail(&t, 0, 2, a2, CME_FAIL_SEND, "again", 4.0));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_write_begin(&t, 0, 2, a2));
    cme__ct_progress(&t, 0, 2, a2, 99.0);
    assert_true(get(&t, 0, 2).t_progress == 2.0);

    /* Stale attempt after a retry: the first attempt's worker is refused everything. */
    assert_int_equal(cme__ct_retry(&t, 0, 2, -1, 0, -1, -1, &payload), 0);
    ASSERT_REFUSED(&t, 0, 2, cme__ct_done(&t, 0, 2, a2, &seg, 4.0)); /* queued */
    int a2b = begin(&t, 0, 2, 5.0);
    assert_int_equal(a2b, a2 + 1);
    ASSERT_REFUSED(&t, 0, 2, cme__ct_done(&t, 0, 2, a2, &seg, 6.0));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_fail(&t, 0, 2, a2, CME_FAIL_SEND, "late", 6.0));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_write_begin(&t, 0, 2, a2));
    cme__ct_progress(&t, 0, 2, a2, 7.0);
    assert_true(get(&t, 0, 2).t_progress == 5.0);
    assert_int_equal(cme__ct_done(&t, 0, 2, a2b, &seg, 8.0), 0);

    /* 2 done: nothing moves it any more. */
    ASSERT_REFUSED(&t, 0, 2, cme__ct_begin(&t, 0, 2, 1, 1, 1, 9.0, &attempt));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_done(&t, 0, 2, a2b, &seg, 9.0));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_fail(&t, 0, 2, a2b, CME_FAIL_SEND, "x", 9.0));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_write_begin(&t, 0, 2, a2b));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_retry(&t, 0, 2, -1, 0, -1, -1, &payload));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_give_up(&t, 0, 2));

    /* 3 failed: nothing moves it any more either. */
    int a3 = begin(&t, 0, 3, 1.0);
    assert_int_equal(cme__ct_fail(&t, 0, 3, a3, CME_FAIL_FLUSH, "f", 2.0), 0);
    assert_int_equal(cme__ct_give_up(&t, 0, 3), 0);
    ASSERT_REFUSED(&t, 0, 3, cme__ct_begin(&t, 0, 3, 1, 1, 1, 3.0, &attempt));
    ASSERT_REFUSED(&t, 0, 3, cme__ct_done(&t, 0, 3, a3, &seg, 3.0));
    ASSERT_REFUSED(&t, 0, 3, cme__ct_fail(&t, 0, 3, a3, CME_FAIL_SEND, "x", 3.0));
    ASSERT_REFUSED(&t, 0, 3, cme__ct_retry(&t, 0, 3, -1, 0, -1, -1, &payload));
    ASSERT_REFUSED(&t, 0, 3, cme__ct_give_up(&t, 0, 3));

    /* A refused retry leaves *payload NULL. */
    payload = &t;
    assert_int_equal(cme__ct_retry(&t, 0, 3, -1, 0, -1, -1, &payload), CME_ESTATE);
    assert_null(payload);
    /* Coordinates that name no chunk. */
    assert_int_equal(cme__ct_begin(&t, 0, 5, 0, 0, 0, 1.0, &attempt), CME_ESTATE);
    assert_int_equal(cme__ct_done(&t, 1, 0, 1, &seg, 1.0), CME_ESTATE);
    assert_int_equal(cme__ct_fail(&t, -1, 0, 1, CME_FAIL_SEND, "x", 1.0), CME_ESTATE);
    assert_int_equal(cme__ct_write_begin(&t, 0, 99, 1), CME_ESTATE);

    check_counts(&t, 0, 2, 1, 0, 1, 1);
    check_counts_match_records(&t, 0);
    cme__ct_destroy(&t);
}

static void test_add_order_and_total(void **state)
{
    CmeChunkTable t;
    Payload p[3];
    init_payloads(p, 3);
    atomic_store(&g_refs, 0);
    CmeSegmentEntry seg = seg_of(0);
    assert_int_equal(cme__ct_init(&t, 2, pl_ref, pl_unref), 0);
    /* Out of order: refused, and the payload is not referenced. */
    assert_int_equal(cme__ct_add(&t, 0, 1, &p[0]), CME_ESTATE);
    assert_int_equal(cme__ct_add_done(&t, 0, 1, &seg), CME_ESTATE);
    assert_int_equal(refs(&p[0]), 0);
    assert_int_equal(cme__ct_count(&t, 0), 0);
    assert_int_equal(cme__ct_add(&t, 0, 0, &p[0]), 0);
    assert_int_equal(refs(&p[0]), 1);
    /* Twice the same index, a gap, an index of another rung's count. */
    assert_int_equal(cme__ct_add(&t, 0, 0, &p[1]), CME_ESTATE);
    assert_int_equal(cme__ct_add(&t, 0, 2, &p[1]), CME_ESTATE);
    assert_int_equal(cme__ct_add(&t, 1, 1, &p[1]), CME_ESTATE);
    assert_int_equal(refs(&p[1]), 0);
    assert_int_equal(cme__ct_add(&t, 0, 1, &p[1]), 0);
    /* A set total bounds the rung. */
    cme__ct_set_total(&t, 0, 3);
    assert_int_equal(cme__ct_add(&t, 0, 2, &p[2]), 0);
    assert_int_equal(cme__ct_add(&t, 0, 3, &p[2]), CME_ESTATE);
    assert_int_equal(cme__ct_add_done(&t, 0, 3, &seg), CME_ESTATE);
    assert_int_equal(refs(&p[2]), 1);
    assert_int_equal(cme__ct_count(&t, 0), 3);
    check_counts(&t, 0, 3, 0, 0, 0, 0);
    /* A total of zero on the other rung: nothing may be added. */
    cme__ct_set_total(&t, 1, 0);
    assert_int_equal(cme__ct_add(&t, 1, 0, &p[2]), CME_ESTATE);
    assert_int_equal(cme__ct_count(&t, 1), 0);
    assert_int_equal(atomic_load(&g_refs), 3);
    cme__ct_destroy(&t);
    assert_int_equal(atomic_load(&g_refs), 0);
}

/* ---- counts, settled, pending ------------------------------------------------------- */

static void test_counts_follow_transitions(void **state)
{
    CmeChunkTable t;
    CmeSegmentEntry seg = seg_of(0);
    void *payload;
    assert_int_equal(cme__ct_init(&t, 2, NULL, NULL), 0);
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(cme__ct_add(&t, 0, i, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 1, 0, NULL), 0);
    check_counts(&t, 0, 6, 0, 0, 0, 0);
    int a[6];
    for (uint32_t i = 0; i < 5; i++)
        a[i] = begin(&t, 0, i, 1.0);
    check_counts(&t, 0, 1, 5, 0, 0, 0);
    assert_int_equal(cme__ct_done(&t, 0, 0, a[0], &seg, 2.0), 0);
    check_counts(&t, 0, 1, 4, 0, 1, 0);
    assert_int_equal(cme__ct_fail(&t, 0, 1, a[1], CME_FAIL_SEND, "", 2.0), 0);
    assert_int_equal(cme__ct_fail(&t, 0, 2, a[2], CME_FAIL_SEND, "", 2.0), 0);
    check_counts(&t, 0, 1, 2, 2, 1, 0);
    assert_int_equal(cme__ct_give_up(&t, 0, 1), 0);
    check_counts(&t, 0, 1, 2, 1, 1, 1);
    assert_int_equal(cme__ct_retry(&t, 0, 2, -1, 0, -1, -1, &payload), 0);
    check_counts(&t, 0, 2, 2, 0, 1, 1);
    CmeChunkRef refs_out[8];
    assert_int_equal(cme__ct_check_stalls(&t, 100.0, 10.0, refs_out, 8), 2); /* 3 and 4 */
    check_counts(&t, 0, 2, 0, 2, 1, 1);
    check_counts_match_records(&t, 0);
    /* The other rung is untouched throughout. */
    check_counts(&t, 1, 1, 0, 0, 0, 0);
    cme__ct_destroy(&t);
}

static void test_settled(void **state)
{
    CmeChunkTable t;
    CmeSegmentEntry seg = seg_of(0);
    assert_int_equal(cme__ct_init(&t, 2, NULL, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 0, 0, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 0, 1, NULL), 0);
    assert_int_equal(cme__ct_add_done(&t, 1, 0, &seg), 0);
    assert_int_equal(cme__ct_settled(&t), 0);

    int a0 = begin(&t, 0, 0, 0.0);
    int a1 = begin(&t, 0, 1, 0.0);
    assert_int_equal(cme__ct_done(&t, 0, 0, a0, &seg, 1.0), 0);
    assert_int_equal(cme__ct_fail(&t, 0, 1, a1, CME_FAIL_SEND, "", 1.0), 0);
    cme__ct_set_total(&t, 0, 2);
    cme__ct_set_total(&t, 1, 1);
    /* A chunk awaiting a decision is not settled. */
    assert_int_equal(cme__ct_settled(&t), 0);
    void *payload;
    assert_int_equal(cme__ct_retry(&t, 0, 1, -1, 0, -1, -1, &payload), 0);
    assert_int_equal(cme__ct_settled(&t), 0); /* queued */
    a1 = begin(&t, 0, 1, 2.0);
    assert_int_equal(cme__ct_settled(&t), 0); /* encoding */
    assert_int_equal(cme__ct_fail(&t, 0, 1, a1, CME_FAIL_SEND, "", 3.0), 0);
    assert_int_equal(cme__ct_give_up(&t, 0, 1), 0);
    /* Done and failed chunks, both totals known: settled. */
    assert_int_equal(cme__ct_settled(&t), 1);

    /* All done but the total still unknown: not settled. */
    cme__ct_set_total(&t, 1, -1);
    assert_int_equal(cme__ct_settled(&t), 0);
    /* A total larger than the chunks so far: not settled either. */
    cme__ct_set_total(&t, 1, 2);
    assert_int_equal(cme__ct_settled(&t), 0);
    assert_int_equal(cme__ct_add_done(&t, 1, 1, &seg), 0);
    assert_int_equal(cme__ct_settled(&t), 1);
    cme__ct_destroy(&t);
}

static void test_rung_pending(void **state)
{
    CmeChunkTable t;
    CmeSegmentEntry seg = seg_of(0);
    void *payload;
    assert_int_equal(cme__ct_init(&t, 2, NULL, NULL), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 0);
    assert_int_equal(cme__ct_add(&t, 0, 0, NULL), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 1);
    assert_int_equal(cme__ct_rung_pending(&t, 1), 0);
    int a = begin(&t, 0, 0, 0.0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 0); /* encoding is not pending */
    assert_int_equal(cme__ct_fail(&t, 0, 0, a, CME_FAIL_SEND, "", 1.0), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 1); /* awaiting a decision is */
    assert_int_equal(cme__ct_retry(&t, 0, 0, -1, 0, -1, -1, &payload), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 1);
    a = begin(&t, 0, 0, 2.0);
    assert_int_equal(cme__ct_done(&t, 0, 0, a, &seg, 3.0), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 0);
    assert_int_equal(cme__ct_add(&t, 0, 1, NULL), 0);
    a = begin(&t, 0, 1, 0.0);
    assert_int_equal(cme__ct_fail(&t, 0, 1, a, CME_FAIL_SEND, "", 1.0), 0);
    assert_int_equal(cme__ct_give_up(&t, 0, 1), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 0), 0); /* failed is not */
    assert_int_equal(cme__ct_add_done(&t, 1, 0, &seg), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 1), 0);
    assert_int_equal(cme__ct_rung_pending(&t, 2), 0);
    cme__ct_destroy(&t);
}

/* ---- stalls ------------------------------------------------------------------------- */

static void test_check_stalls(void **state)
{
    CmeChunkTable t;
    CmeSegmentEntry seg = seg_of(0);
    CmeChunkRef out[8];
    void *payload;
    assert_int_equal(cme__ct_init(&t, 2, NULL, NULL), 0);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(cme__ct_add(&t, 0, i, NULL), 0);
    assert_int_equal(cme__ct_add(&t, 1, 0, NULL), 0);
    int a0 = begin(&t, 0, 0, 100.0);
    int a1 = begin(&t, 0, 1, 100.0);
    int a2 = begin(&t, 0, 2, 100.0);
    int r10 = begin(&t, 1, 0, 100.0);
    /* Chunk 3 stays queued: never taken. */
    cme__ct_progress(&t, 0, 1, a1, 150.0);
    assert_int_equal(cme__ct_write_begin(&t, 0, 2, a2), 0);

    /* Nothing is old enough yet. */
    assert_int_equal(cme__ct_check_stalls(&t, 159.0, 60.0, out, 8), 0);
    check_counts(&t, 0, 1, 3, 0, 0, 0);

    /* At now - progress == limit the attempt stalls: 0 of rung 0 and 0 of rung 1. */
    memset(out, 0xff, sizeof(out));
    assert_int_equal(cme__ct_check_stalls(&t, 160.0, 60.0, out, 8), 2);
    assert_int_equal(out[0].rung, 0);
    assert_int_equal(out[0].index, 0);
    assert_int_equal(out[1].rung, 1);
    assert_int_equal(out[1].index, 0);
    CmeChunkRecord r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_AWAITING_POLICY);
    assert_int_equal(r.reason, CME_FAIL_STALL);
    assert_non_null(strstr(r.message, "no progress for 60.0 s"));
    assert_true(r.encode_seconds == 60.0);
    assert_int_equal(get(&t, 1, 0).reason, CME_FAIL_STALL);
    assert_int_equal(state_of(&t, 0, 1), CME_CHUNK_ENCODING); /* progress at 150 */
    assert_int_equal(state_of(&t, 0, 2), CME_CHUNK_ENCODING); /* writing */
    assert_int_equal(state_of(&t, 0, 3), CME_CHUNK_QUEUED);
    check_counts(&t, 0, 1, 2, 1, 0, 0);
    check_counts(&t, 1, 0, 0, 1, 0, 0);

    /* Progress restarted chunk 1's clock: not stalled at 209, stalled at 210. */
    assert_int_equal(cme__ct_check_stalls(&t, 209.0, 60.0, out, 8), 0);
    cme__ct_progress(&t, 0, 1, a1, 205.0);
    assert_int_equal(cme__ct_check_stalls(&t, 264.0, 60.0, out, 8), 0);
    /* A writing chunk is never taken, however old. */
    assert_int_equal(cme__ct_check_stalls(&t, 1e9, 60.0, out, 1), 1);
    assert_int_equal(out[0].rung, 0);
    assert_int_equal(out[0].index, 1);
    assert_int_equal(cme__ct_check_stalls(&t, 1e9, 60.0, out, 8), 0);
    assert_int_equal(state_of(&t, 0, 2), CME_CHUNK_ENCODING);
    assert_int_equal(cme__ct_done(&t, 0, 2, a2, &seg, 1e9), 0);

    /* The late worker of a stalled attempt learns it from every transition. */
    ASSERT_REFUSED(&t, 0, 0, cme__ct_write_begin(&t, 0, 0, a0));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_done(&t, 0, 0, a0, &seg, 300.0));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_fail(&t, 0, 0, a0, CME_FAIL_SEND, "late", 300.0));
    ASSERT_REFUSED(&t, 1, 0, cme__ct_done(&t, 1, 0, r10, &seg, 300.0));
    /* ... and after the retry began a new attempt too. */
    assert_int_equal(cme__ct_retry(&t, 0, 0, -1, 0, -1, -1, &payload), 0);
    int a0b = begin(&t, 0, 0, 300.0);
    assert_int_equal(a0b, a0 + 1);
    ASSERT_REFUSED(&t, 0, 0, cme__ct_write_begin(&t, 0, 0, a0));
    ASSERT_REFUSED(&t, 0, 0, cme__ct_done(&t, 0, 0, a0, &seg, 301.0));
    /* The stale attempt's progress does not keep the new one alive. */
    cme__ct_progress(&t, 0, 0, a0, 350.0);
    assert_int_equal(cme__ct_check_stalls(&t, 360.0, 60.0, out, 8), 1);
    assert_int_equal(out[0].index, 0);
    assert_int_equal(get(&t, 0, 0).attempt, a0b);
    check_counts_match_records(&t, 0);

    /* max bounds what one call takes; the rest waits for the next call. */
    assert_int_equal(cme__ct_retry(&t, 0, 0, -1, 0, -1, -1, &payload), 0);
    assert_int_equal(cme__ct_retry(&t, 0, 1, -1, 0, -1, -1, &payload), 0);
    begin(&t, 0, 0, 400.0);
    begin(&t, 0, 1, 400.0);
    begin(&t, 0, 3, 400.0);
    assert_int_equal(cme__ct_check_stalls(&t, 500.0, 60.0, out, 0), 0);
    assert_int_equal(cme__ct_check_stalls(&t, 500.0, 60.0, out, 2), 2);
    assert_int_equal(out[0].index, 0);
    assert_int_equal(out[1].index, 1);
    assert_int_equal(state_of(&t, 0, 3), CME_CHUNK_ENCODING);
    assert_int_equal(cme__ct_check_stalls(&t, 500.0, 60.0, out, 2), 1);
    assert_int_equal(out[0].index, 3);
    check_counts(&t, 0, 0, 0, 3, 1, 0);
    cme__ct_destroy(&t);
}

/* ---- payload references ------------------------------------------------------------- */

/* The table holds exactly one reference per chunk that is not done or failed. */
static void check_refs_held(CmeChunkTable *t, int rung, Payload *p, int n)
{
    for (int i = 0; i < n; i++) {
        CmeChunkState s = state_of(t, rung, (uint32_t)i);
        int want = s == CME_CHUNK_DONE || s == CME_CHUNK_FAILED ? 0 : 1;
        if (refs(&p[i]) != want)
            fail_msg("chunk %d (%s): %d references, expected %d", i, cme_chunk_state_name(s),
                     refs(&p[i]), want);
    }
}

static void test_payload_references(void **state)
{
    enum { N = 6 };
    CmeChunkTable t;
    Payload p[N];
    init_payloads(p, N);
    atomic_store(&g_refs, 0);
    CmeSegmentEntry seg = seg_of(0);
    void *payload = NULL;
    assert_int_equal(cme__ct_init(&t, 1, pl_ref, pl_unref), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(cme__ct_add(&t, 0, (uint32_t)i, &p[i]), 0);
    /* A chunk with no payload (the tests' NULL) takes nothing. */
    assert_int_equal(cme__ct_add(&t, 0, N, NULL), 0);
    assert_int_equal(atomic_load(&g_refs), N);
    check_refs_held(&t, 0, p, N);
    assert_ptr_equal(get(&t, 0, 0).payload, &p[0]);

    int a[N];
    for (int i = 0; i < 5; i++)
        a[i] = begin(&t, 0, (uint32_t)i, 0.0);
    check_refs_held(&t, 0, p, N);

    /* done releases it. */
    assert_int_equal(cme__ct_done(&t, 0, 0, a[0], &seg, 1.0), 0);
    assert_int_equal(refs(&p[0]), 0);
    assert_null(get(&t, 0, 0).payload);
    /* fail keeps it; give_up releases it. */
    assert_int_equal(cme__ct_fail(&t, 0, 1, a[1], CME_FAIL_SEND, "", 1.0), 0);
    assert_int_equal(refs(&p[1]), 1);
    assert_int_equal(cme__ct_give_up(&t, 0, 1), 0);
    assert_int_equal(refs(&p[1]), 0);
    assert_null(get(&t, 0, 1).payload);
    /* retry hands out one more for the caller's ticket; the table keeps its own. */
    assert_int_equal(cme__ct_fail(&t, 0, 2, a[2], CME_FAIL_SEND, "", 1.0), 0);
    assert_int_equal(cme__ct_retry(&t, 0, 2, -1, 0, -1, -1, &payload), 0);
    assert_ptr_equal(payload, &p[2]);
    assert_int_equal(refs(&p[2]), 2);
    pl_unref(payload); /* the ticket is done with it */
    assert_int_equal(refs(&p[2]), 1);
    /* A stall keeps it too. */
    CmeChunkRef out[4];
    assert_int_equal(cme__ct_check_stalls(&t, 100.0, 10.0, out, 1), 1);
    assert_int_equal(out[0].index, 2 + 1); /* 2 is queued again: 3 is the oldest encoding */
    assert_int_equal(refs(&p[3]), 1);
    /* Refused transitions take and release nothing. */
    payload = &t;
    assert_int_equal(cme__ct_retry(&t, 0, 5, -1, 0, -1, -1, &payload), CME_ESTATE);
    assert_null(payload);
    assert_int_equal(cme__ct_give_up(&t, 0, 4), CME_ESTATE);
    assert_int_equal(cme__ct_done(&t, 0, 4, a[4] + 1, &seg, 1.0), CME_ESTATE);
    assert_int_equal(cme__ct_done(&t, 0, 0, a[0], &seg, 1.0), CME_ESTATE);
    check_refs_held(&t, 0, p, N);
    /* Retry of a chunk without payload hands out NULL. */
    int a6 = begin(&t, 0, N, 0.0);
    assert_int_equal(cme__ct_fail(&t, 0, N, a6, CME_FAIL_SEND, "", 1.0), 0);
    payload = &t;
    assert_int_equal(cme__ct_retry(&t, 0, N, -1, 0, -1, -1, &payload), 0);
    assert_null(payload);

    /* 2 queued, 3 awaiting, 4 encoding, 5 queued: four references, all released by
     * destroy. */
    assert_int_equal(atomic_load(&g_refs), 4);
    cme__ct_destroy(&t);
    for (int i = 0; i < N; i++)
        assert_int_equal(refs(&p[i]), 0);
    assert_int_equal(atomic_load(&g_refs), 0);
}

/* ---- requeue by hand (run:requeue) and per-chunk settings (run:set) ------------------- */

static void test_requeue_done(void **state)
{
    (void)state;
    CmeChunkTable t;
    Payload p[3];
    init_payloads(p, 3);
    atomic_store(&g_refs, 0);
    assert_int_equal(cme__ct_init(&t, 1, pl_ref, pl_unref), 0);
    assert_int_equal(cme__ct_add(&t, 0, 0, &p[0]), 0);
    assert_int_equal(cme__ct_add(&t, 0, 1, &p[1]), 0);
    CmeSegmentEntry seg = seg_of(0), old = { 0 };
    int a = begin(&t, 0, 0, 0.0);
    /* Not done yet (encoding, then queued): refused, nothing taken. */
    assert_int_equal(cme__ct_requeue(&t, 0, 0, &p[2], &old), CME_ESTATE);
    assert_int_equal(cme__ct_requeue(&t, 0, 1, &p[2], &old), CME_ESTATE);
    assert_int_equal(refs(&p[2]), 0);
    /* No such chunk, no payload. */
    assert_int_equal(cme__ct_requeue(&t, 0, 7, &p[2], &old), CME_EINVAL);
    assert_int_equal(cme__ct_requeue(&t, 1, 0, &p[2], &old), CME_EINVAL);
    assert_int_equal(cme__ct_done(&t, 0, 0, a, &seg, 1.0), 0);
    assert_int_equal(cme__ct_requeue(&t, 0, 0, NULL, &old), CME_EINVAL);
    assert_int_equal(get(&t, 0, 0).state, CME_CHUNK_DONE);
    /* done -> queued with the new frames; the replaced segment comes back. */
    assert_int_equal(cme__ct_requeue(&t, 0, 0, &p[2], &old), 0);
    assert_int_equal(old.bytes, seg.bytes);
    assert_int_equal(old.start, seg.start);
    CmeChunkRecord r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_QUEUED);
    assert_int_equal(r.requeues, 1);
    assert_ptr_equal(r.payload, &p[2]);
    assert_int_equal(refs(&p[2]), 1);
    int counts[CME_CHUNK_NB_STATES];
    cme__ct_counts(&t, 0, counts);
    assert_int_equal(counts[CME_CHUNK_QUEUED], 2);
    assert_int_equal(counts[CME_CHUNK_DONE], 0);
    /* Twice is refused while it is queued; settings apply to queued chunks only. */
    assert_int_equal(cme__ct_requeue(&t, 0, 0, &p[2], &old), CME_ESTATE);
    assert_int_equal(cme__ct_use(&t, 0, 0, 50, 7), 0);
    r = get(&t, 0, 0);
    assert_int_equal(r.crf, 50);
    assert_int_equal(r.preset, 7);
    /* A new attempt, done again with the new segment; the payload is let go. */
    int a2 = begin(&t, 0, 0, 2.0);
    assert_int_equal(a2, a + 1);
    assert_int_equal(cme__ct_use(&t, 0, 0, 40, -1), CME_ESTATE);
    CmeSegmentEntry seg2 = seg;
    seg2.bytes += 123;
    assert_int_equal(cme__ct_done(&t, 0, 0, a2, &seg2, 3.0), 0);
    assert_int_equal(refs(&p[2]), 0);
    assert_int_equal(get(&t, 0, 0).seg.bytes, seg2.bytes);
    assert_int_equal(cme__ct_use(&t, 0, 9, 40, -1), CME_EINVAL);
    cme__ct_destroy(&t);
    assert_int_equal(atomic_load(&g_refs), 0);
}

/* ---- resumed chunks and segments ---------------------------------------------------- */

static void test_add_done_resumed(void **state)
{
    CmeChunkTable t;
    Payload p;
    init_payloads(&p, 1);
    atomic_store(&g_refs, 0);
    CmeSegmentEntry s0 = seg_of(0), s1 = seg_of(1), s2 = seg_of(2);
    assert_int_equal(cme__ct_init(&t, 1, pl_ref, pl_unref), 0);
    assert_int_equal(cme__ct_add_done(&t, 0, 0, &s0), 0);
    assert_int_equal(cme__ct_add(&t, 0, 1, &p), 0);
    assert_int_equal(cme__ct_add_done(&t, 0, 2, &s2), 0);
    CmeChunkRecord r = get(&t, 0, 0);
    assert_int_equal(r.state, CME_CHUNK_DONE);
    assert_int_equal(r.resumed, 1);
    assert_int_equal(r.attempt, 0);
    assert_null(r.payload);
    assert_memory_equal(&r.seg, &s0, sizeof(s0));
    check_counts(&t, 0, 1, 0, 0, 2, 0);
    /* A resumed chunk is done: it cannot be begun again. */
    int attempt = -1;
    ASSERT_REFUSED(&t, 0, 0, cme__ct_begin(&t, 0, 0, 0, 0, 0, 0.0, &attempt));
    ASSERT_REFUSED(&t, 0, 2, cme__ct_give_up(&t, 0, 2));
    cme__ct_set_total(&t, 0, 3);
    assert_int_equal(cme__ct_settled(&t), 0);
    int a = begin(&t, 0, 1, 0.0);
    assert_int_equal(cme__ct_done(&t, 0, 1, a, &s1, 1.0), 0);
    assert_int_equal(get(&t, 0, 1).resumed, 0);
    assert_int_equal(cme__ct_settled(&t), 1);
    assert_int_equal(refs(&p), 0);
    CmeSegmentEntry segs[3];
    assert_int_equal(cme__ct_segments(&t, 0, segs, 3), 3);
    assert_memory_equal(&segs[0], &s0, sizeof(s0));
    assert_memory_equal(&segs[1], &s1, sizeof(s1));
    assert_memory_equal(&segs[2], &s2, sizeof(s2));
    cme__ct_destroy(&t);
    assert_int_equal(atomic_load(&g_refs), 0);
}

static void test_segments(void **state)
{
    enum { N = 4 };
    CmeChunkTable t;
    CmeSegmentEntry segs[N + 1], s;
    void *payload;
    int a[N];
    assert_int_equal(cme__ct_init(&t, 2, NULL, NULL), 0);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(cme__ct_add(&t, 0, i, NULL), 0);
    assert_int_equal(cme__ct_segments(&t, 0, segs, N), CME_ESTATE); /* queued */
    for (uint32_t i = 0; i < N; i++)
        a[i] = begin(&t, 0, i, 0.0);
    assert_int_equal(cme__ct_segments(&t, 0, segs, N), CME_ESTATE); /* encoding */
    /* Done out of order: 3, 1, 0; 2 fails first. */
    static const uint32_t order[] = { 3, 1, 0 };
    for (int k = 0; k < 3; k++) {
        s = seg_of(order[k]);
        assert_int_equal(cme__ct_done(&t, 0, order[k], a[order[k]], &s, 1.0), 0);
        assert_int_equal(cme__ct_segments(&t, 0, segs, N), CME_ESTATE);
    }
    assert_int_equal(cme__ct_fail(&t, 0, 2, a[2], CME_FAIL_MUX, "", 1.0), 0);
    assert_int_equal(cme__ct_segments(&t, 0, segs, N), CME_ESTATE); /* awaiting */
    assert_int_equal(cme__ct_retry(&t, 0, 2, -1, 0, -1, -1, &payload), 0);
    a[2] = begin(&t, 0, 2, 2.0);
    s = seg_of(2);
    assert_int_equal(cme__ct_done(&t, 0, 2, a[2], &s, 3.0), 0);

    memset(segs, 0, sizeof(segs));
    assert_int_equal(cme__ct_segments(&t, 0, segs, N + 1), N);
    for (uint32_t i = 0; i < N; i++) {
        CmeSegmentEntry want = seg_of(i);
        assert_memory_equal(&segs[i], &want, sizeof(want));
    }
    /* Fewer slots than chunks: the first ones. */
    memset(segs, 0, sizeof(segs));
    assert_int_equal(cme__ct_segments(&t, 0, segs, 2), 2);
    assert_int_equal(segs[1].start, seg_of(1).start);
    assert_int_equal(segs[2].bytes, 0);

    /* A failed chunk: never all done. */
    assert_int_equal(cme__ct_add(&t, 1, 0, NULL), 0);
    int b = begin(&t, 1, 0, 0.0);
    assert_int_equal(cme__ct_fail(&t, 1, 0, b, CME_FAIL_SEND, "", 1.0), 0);
    assert_int_equal(cme__ct_give_up(&t, 1, 0), 0);
    assert_int_equal(cme__ct_segments(&t, 1, segs, N), CME_ESTATE);
    cme__ct_destroy(&t);
}

/* ---- threaded: 4 workers, 1 stall checker ------------------------------------------ */

#define MT_CHUNKS 4000
#define MT_WORKERS 4

/* Workers begin with now = 0 and the checker looks at now = 1 with a limit of 1 s: every
 * attempt caught between begin and write_begin stalls (every 8th chunk's first attempt
 * waits to be caught). The checker then retries it (as the policy would); the worker whose
 * attempt was taken sees CME_ESTATE at write_begin and begins again once the chunk is
 * queued. */
typedef struct Mt {
    CmeChunkTable t;
    atomic_int dones[MT_CHUNKS];  /* successful done per chunk */
    atomic_int lost[MT_CHUNKS];   /* attempts a worker lost to a stall */
    atomic_int stalls[MT_CHUNKS]; /* stalls the checker declared */
    atomic_int errors;
    atomic_int stop;
    atomic_int checker_calls;
} Mt;

typedef struct MtWorker {
    Mt *mt;
    int id;
} MtWorker;

static void *mt_worker(void *arg)
{
    MtWorker *w = arg;
    Mt *mt = w->mt;
    for (uint32_t i = (uint32_t)w->id; i < MT_CHUNKS; i += MT_WORKERS) {
        double deadline = cme__now() + 10.0;
        for (;;) {
            if (cme__now() > deadline) {
                atomic_fetch_add(&mt->errors, 1);
                break;
            }
            int attempt = 0;
            int rc = cme__ct_begin(&mt->t, 0, i, w->id, w->id, 0, 0.0, &attempt);
            if (rc == CME_ESTATE) { /* stalled and not yet retried */
                sched_yield();
                continue;
            }
            if (rc != 0) {
                atomic_fetch_add(&mt->errors, 1);
                break;
            }
            cme__ct_progress(&mt->t, 0, i, attempt, 0.0);
            /* Every 8th chunk waits on its first attempt until the checker took it, so
             * that stalls surely race the workers. */
            if (i % 8 == 0 && atomic_load(&mt->lost[i]) == 0) {
                while (!atomic_load(&mt->stalls[i]) && cme__now() < deadline)
                    sched_yield();
            }
            if (cme__ct_write_begin(&mt->t, 0, i, attempt) != 0) {
                atomic_fetch_add(&mt->lost[i], 1);
                /* The late output is dropped; done must be refused as well. */
                CmeSegmentEntry late = seg_of(i + 1000000u);
                if (cme__ct_done(&mt->t, 0, i, attempt, &late, 0.5) != CME_ESTATE)
                    atomic_fetch_add(&mt->errors, 1);
                continue;
            }
            CmeSegmentEntry seg = seg_of(i);
            if (cme__ct_done(&mt->t, 0, i, attempt, &seg, 0.5) != 0) {
                atomic_fetch_add(&mt->errors, 1);
                break;
            }
            atomic_fetch_add(&mt->dones[i], 1);
            break;
        }
    }
    return NULL;
}

static void *mt_checker(void *arg)
{
    Mt *mt = arg;
    CmeChunkRef out[16];
    while (!atomic_load(&mt->stop)) {
        int n = cme__ct_check_stalls(&mt->t, 1.0, 1.0, out, 16);
        atomic_fetch_add(&mt->checker_calls, 1);
        for (int k = 0; k < n; k++) {
            if (out[k].rung != 0 || out[k].index >= MT_CHUNKS) {
                atomic_fetch_add(&mt->errors, 1);
                continue;
            }
            atomic_fetch_add(&mt->stalls[out[k].index], 1);
            void *payload = &mt->t;
            if (cme__ct_retry(&mt->t, 0, out[k].index, -1, 0, -1, -1, &payload) != 0 || payload)
                atomic_fetch_add(&mt->errors, 1);
        }
        if (!n)
            sched_yield();
    }
    return NULL;
}

static void test_threaded_workers_and_stalls(void **state)
{
    Mt *mt = calloc(1, sizeof(*mt));
    assert_non_null(mt);
    for (int i = 0; i < MT_CHUNKS; i++) {
        atomic_init(&mt->dones[i], 0);
        atomic_init(&mt->lost[i], 0);
        atomic_init(&mt->stalls[i], 0);
    }
    atomic_init(&mt->errors, 0);
    atomic_init(&mt->stop, 0);
    atomic_init(&mt->checker_calls, 0);
    assert_int_equal(cme__ct_init(&mt->t, 1, NULL, NULL), 0);
    for (uint32_t i = 0; i < MT_CHUNKS; i++)
        assert_int_equal(cme__ct_add(&mt->t, 0, i, NULL), 0);
    cme__ct_set_total(&mt->t, 0, MT_CHUNKS);

    pthread_t checker, workers[MT_WORKERS];
    MtWorker w[MT_WORKERS];
    assert_int_equal(pthread_create(&checker, NULL, mt_checker, mt), 0);
    for (int k = 0; k < MT_WORKERS; k++) {
        w[k] = (MtWorker){ mt, k };
        assert_int_equal(pthread_create(&workers[k], NULL, mt_worker, &w[k]), 0);
    }
    for (int k = 0; k < MT_WORKERS; k++)
        assert_int_equal(pthread_join(workers[k], NULL), 0);
    atomic_store(&mt->stop, 1);
    assert_int_equal(pthread_join(checker, NULL), 0);

    assert_int_equal(atomic_load(&mt->errors), 0);
    assert_true(atomic_load(&mt->checker_calls) > 0);
    int total_lost = 0;
    for (uint32_t i = 0; i < MT_CHUNKS; i++) {
        int d = atomic_load(&mt->dones[i]);
        int lost = atomic_load(&mt->lost[i]);
        int stalls = atomic_load(&mt->stalls[i]);
        if (d != 1)
            fail_msg("chunk %u done %d times", i, d);
        /* Each stall took exactly one attempt from its worker. */
        if (lost != stalls)
            fail_msg("chunk %u: %d attempts lost, %d stalls", i, lost, stalls);
        CmeChunkRecord r = get(&mt->t, 0, i);
        if (r.state != CME_CHUNK_DONE || r.attempt != 1 + stalls || r.decisions != stalls)
            fail_msg("chunk %u: %s, attempt %d, %d decisions after %d stalls", i,
                     cme_chunk_state_name(r.state), r.attempt, r.decisions, stalls);
        if (r.worker != (int)(i % MT_WORKERS))
            fail_msg("chunk %u done by worker %d", i, r.worker);
        if (i % 8 == 0 && lost < 1)
            fail_msg("chunk %u: its first attempt was not taken by a stall", i);
        total_lost += lost;
    }
    assert_true(total_lost >= MT_CHUNKS / 8);
    check_counts(&mt->t, 0, 0, 0, 0, MT_CHUNKS, 0);
    assert_int_equal(cme__ct_settled(&mt->t), 1);
    static CmeSegmentEntry segs[MT_CHUNKS];
    assert_int_equal(cme__ct_segments(&mt->t, 0, segs, MT_CHUNKS), MT_CHUNKS);
    for (uint32_t i = 0; i < MT_CHUNKS; i++)
        if (segs[i].start != seg_of(i).start || segs[i].bytes != seg_of(i).bytes)
            fail_msg("segment %u is not chunk %u's", i, i);
    print_message("threaded: %d attempts lost to stalls, %d checker calls\n", total_lost,
                  atomic_load(&mt->checker_calls));
    cme__ct_destroy(&mt->t);
    free(mt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_empty),
        cmocka_unit_test(test_add_begin_done),
        cmocka_unit_test(test_fail_retry_begin_done),
        cmocka_unit_test(test_fail_give_up),
        cmocka_unit_test(test_fail_message_truncated),
        cmocka_unit_test(test_illegal_transitions),
        cmocka_unit_test(test_add_order_and_total),
        cmocka_unit_test(test_counts_follow_transitions),
        cmocka_unit_test(test_settled),
        cmocka_unit_test(test_rung_pending),
        cmocka_unit_test(test_check_stalls),
        cmocka_unit_test(test_payload_references),
        cmocka_unit_test(test_requeue_done),
        cmocka_unit_test(test_add_done_resumed),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_threaded_workers_and_stalls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Chunk queue tests (engine/sched/chunk_queue.h): capacity validation, FIFO order, the
 * bound (a push on a full queue blocks until a pop), close-then-drain, requeue to the
 * head (past the capacity, and after close), per-device exclusion with peek_index, timed
 * pops, the shared CmeSignal, and a stress run with one producer and four consumers that
 * requeue some chunks once: every chunk is consumed exactly once, none lost.
 *
 * Threads never call cmocka asserts (they would longjmp across threads): they record what
 * they saw in atomics, and the main thread asserts after joining them. Waits on another
 * thread poll a flag against a generous deadline instead of trusting a sleep alone.
 */
#define _POSIX_C_SOURCE 200809L

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
#include "core/signal.h"
#include "thread_wait.h"
#include "sched/chunk_queue.h"

/* ---- helpers ---------------------------------------------------------------------- */

static void init_chunks(CmeChunk *c, int n)
{
    memset(c, 0, sizeof(*c) * (size_t)n);
    for (int i = 0; i < n; i++)
        c[i].index = (uint32_t)i;
}

/* A thread doing one push or one pop, recording its result and when it returned. */
typedef struct OneOp {
    CmeChunkQueue *q;
    CmeChunk *chunk; /* push: the chunk; pop: the chunk popped */
    int device;
    int timeout_ms;
    atomic_int started;
    atomic_int done;
    int rc;
    double returned_at;
} OneOp;

static void *push_thread(void *arg)
{
    OneOp *op = arg;
    atomic_store(&op->started, 1);
    op->rc = cme__chunkq_push(op->q, op->chunk);
    op->returned_at = cme__now();
    atomic_store(&op->done, 1);
    return NULL;
}

static void *pop_thread(void *arg)
{
    OneOp *op = arg;
    atomic_store(&op->started, 1);
    op->rc = cme__chunkq_pop(op->q, op->device, &op->chunk, op->timeout_ms);
    op->returned_at = cme__now();
    atomic_store(&op->done, 1);
    return NULL;
}

/* ---- basic behaviour ---------------------------------------------------------------- */

static void test_init_rejects_bad_capacity(void **state)
{
    CmeChunkQueue q;
    assert_int_equal(cme__chunkq_init(&q, 0, NULL), CME_EINVAL);
    assert_int_equal(cme__chunkq_init(&q, -1, NULL), CME_EINVAL);
    assert_int_equal(cme__chunkq_init(&q, 1, NULL), 0);
    assert_int_equal(q.capacity, 1);
    assert_int_equal(cme__chunkq_count(&q), 0);
    assert_int_equal(cme__chunkq_drained(&q), 0);
    cme__chunkq_destroy(&q);
}

static void test_fifo_order(void **state)
{
    CmeChunkQueue q;
    CmeChunk c[6];
    init_chunks(c, 6);
    assert_int_equal(cme__chunkq_init(&q, 8, NULL), 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(cme__chunkq_push(&q, &c[i]), 0);
        assert_int_equal(cme__chunkq_count(&q), i + 1);
    }
    assert_int_equal(cme__chunkq_peek_index(&q, -1), 0);
    for (int i = 0; i < 6; i++) {
        CmeChunk *out = NULL;
        /* Alternate the non-blocking, blocking and timed pops: same order. */
        if (i % 3 == 0)
            assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
        else if (i % 3 == 1)
            assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), 0);
        else
            assert_int_equal(cme__chunkq_pop(&q, -1, &out, 1000), 0);
        assert_ptr_equal(out, &c[i]);
        assert_null(out->next);
        assert_int_equal(cme__chunkq_count(&q), 5 - i);
    }
    assert_int_equal(cme__chunkq_peek_index(&q, -1), -1);
    /* The queue is reusable after it emptied: head and tail were reset. */
    assert_int_equal(cme__chunkq_push(&q, &c[3]), 0);
    assert_int_equal(cme__chunkq_push(&q, &c[1]), 0);
    CmeChunk *out = NULL;
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[3]);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[1]);
    cme__chunkq_destroy(&q);
}

static void test_try_pop_empty_and_timeout(void **state)
{
    CmeChunkQueue q;
    assert_int_equal(cme__chunkq_init(&q, 2, NULL), 0);
    CmeChunk *out = (CmeChunk *)&q; /* sentinel: must not be touched on failure */
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), CME_EAGAIN);
    assert_int_equal(cme__chunkq_try_pop(&q, 3, &out), CME_EAGAIN);
    assert_ptr_equal(out, (CmeChunk *)&q);

    double t0 = cme__now();
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, 60), CME_ETIMEDOUT);
    double waited = cme__now() - t0;
    assert_true(waited >= 0.050); /* it did wait (allow clock granularity) */
    assert_true(waited < 5.0);
    assert_ptr_equal(out, (CmeChunk *)&q);
    /* A zero timeout polls. */
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, 0), CME_ETIMEDOUT);
    assert_int_equal(cme__chunkq_drained(&q), 0);
    cme__chunkq_destroy(&q);
}

/* A push on a full queue blocks until a pop makes room. The producer thread sets `done`
 * only after push returned: it must stay clear while the queue is full, and be set after
 * the pop, with a return time after the pop started. */
static void test_push_blocks_while_full(void **state)
{
    CmeChunkQueue q;
    CmeChunk c[3];
    init_chunks(c, 3);
    assert_int_equal(cme__chunkq_init(&q, 2, NULL), 0);
    assert_int_equal(cme__chunkq_push(&q, &c[0]), 0);
    assert_int_equal(cme__chunkq_push(&q, &c[1]), 0);

    OneOp op = { .q = &q, .chunk = &c[2] };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, push_thread, &op), 0);
    assert_true(wait_flag(&op.started));
    /* Give the producer ample time to (wrongly) get through; it must still be blocked. */
    for (int i = 0; i < 10; i++) {
        sleep_ms(10);
        assert_int_equal(atomic_load(&op.done), 0);
        assert_int_equal(cme__chunkq_count(&q), 2);
    }

    double popped_at = cme__now();
    CmeChunk *out = NULL;
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[0]);
    assert_true(wait_flag(&op.done));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(op.rc, 0);
    assert_true(op.returned_at >= popped_at);
    assert_int_equal(cme__chunkq_count(&q), 2);

    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[1]);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[2]);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), CME_EAGAIN);
    cme__chunkq_destroy(&q);
}

static void *wait_room_thread(void *arg)
{
    OneOp *op = arg;
    atomic_store(&op->started, 1);
    op->rc = cme__chunkq_wait_room(op->q);
    op->returned_at = cme__now();
    atomic_store(&op->done, 1);
    return NULL;
}

/* The pump's two-step publish: wait_room blocks while full and returns once a pop makes
 * room; push_now appends whatever the capacity; both refuse a closed queue. */
static void test_wait_room_then_push_now(void **state)
{
    CmeChunkQueue q;
    CmeChunk c[4];
    init_chunks(c, 4);
    assert_int_equal(cme__chunkq_init(&q, 1, NULL), 0);
    assert_int_equal(cme__chunkq_wait_room(&q), 0);
    assert_int_equal(cme__chunkq_push_now(&q, &c[0]), 0);

    OneOp op = { .q = &q };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_room_thread, &op), 0);
    assert_true(wait_flag(&op.started));
    for (int i = 0; i < 10; i++) {
        sleep_ms(10);
        assert_int_equal(atomic_load(&op.done), 0);
    }
    double popped_at = cme__now();
    CmeChunk *out = NULL;
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_true(wait_flag(&op.done));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(op.rc, 0);
    assert_true(op.returned_at >= popped_at);

    /* push_now ignores the capacity (the pump checked room for every rung first). */
    assert_int_equal(cme__chunkq_push_now(&q, &c[1]), 0);
    assert_int_equal(cme__chunkq_push_now(&q, &c[2]), 0);
    assert_int_equal(cme__chunkq_count(&q), 2);

    /* A closed queue: wait_room returns at once even when full, push_now refuses. */
    OneOp op2 = { .q = &q };
    assert_int_equal(pthread_create(&th, NULL, wait_room_thread, &op2), 0);
    assert_true(wait_flag(&op2.started));
    sleep_ms(20);
    assert_int_equal(atomic_load(&op2.done), 0);
    cme__chunkq_close(&q);
    assert_true(wait_flag(&op2.done));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(op2.rc, CME_ECLOSED);
    assert_int_equal(cme__chunkq_push_now(&q, &c[3]), CME_ECLOSED);
    assert_null(c[3].next);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[1]);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[2]);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), CME_ECLOSED);
    cme__chunkq_destroy(&q);
}

/* ---- close ------------------------------------------------------------------------- */

static void test_close_then_drain(void **state)
{
    CmeChunkQueue q;
    CmeChunk c[4];
    init_chunks(c, 4);
    assert_int_equal(cme__chunkq_init(&q, 4, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cme__chunkq_push(&q, &c[i]), 0);
    cme__chunkq_close(&q);
    cme__chunkq_close(&q); /* idempotent */

    /* Push after close fails; the caller keeps the chunk (it is not linked in). */
    CmeChunk *sentinel = &c[0];
    c[3].next = sentinel;
    assert_int_equal(cme__chunkq_push(&q, &c[3]), CME_ECLOSED);
    assert_ptr_equal(c[3].next, sentinel);
    assert_int_equal(cme__chunkq_count(&q), 3);
    assert_int_equal(cme__chunkq_drained(&q), 0);

    CmeChunk *out = NULL;
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[0]);
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), 0);
    assert_ptr_equal(out, &c[1]);
    assert_int_equal(cme__chunkq_drained(&q), 0);
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, 100), 0);
    assert_ptr_equal(out, &c[2]);

    assert_int_equal(cme__chunkq_drained(&q), 1);
    out = NULL;
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), CME_ECLOSED);
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, 100), CME_ECLOSED);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), CME_ECLOSED);
    assert_int_equal(cme__chunkq_try_pop(&q, 5, &out), CME_ECLOSED);
    assert_null(out);
    assert_int_equal(cme__chunkq_push(&q, &c[3]), CME_ECLOSED);
    assert_int_equal(cme__chunkq_count(&q), 0);
    cme__chunkq_destroy(&q);
}

/* A push blocked on a full queue is woken by close and fails with CME_ECLOSED; a pop
 * blocked on an empty queue is woken by close too. */
static void test_close_wakes_blocked(void **state)
{
    CmeChunkQueue q;
    CmeChunk c[2];
    init_chunks(c, 2);
    assert_int_equal(cme__chunkq_init(&q, 1, NULL), 0);
    assert_int_equal(cme__chunkq_push(&q, &c[0]), 0);

    OneOp op = { .q = &q, .chunk = &c[1] };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, push_thread, &op), 0);
    assert_true(wait_flag(&op.started));
    sleep_ms(50);
    assert_int_equal(atomic_load(&op.done), 0);
    double closed_at = cme__now();
    cme__chunkq_close(&q);
    assert_true(wait_flag(&op.done));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(op.rc, CME_ECLOSED);
    assert_true(op.returned_at >= closed_at);
    assert_int_equal(cme__chunkq_count(&q), 1); /* c[1] stayed with the caller */

    CmeChunk *out = NULL;
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), 0);
    assert_ptr_equal(out, &c[0]);
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), CME_ECLOSED);
    cme__chunkq_destroy(&q);

    /* Blocked pop (no timeout) on an empty queue, then close. */
    assert_int_equal(cme__chunkq_init(&q, 1, NULL), 0);
    OneOp pop = { .q = &q, .device = -1, .timeout_ms = -1 };
    assert_int_equal(pthread_create(&th, NULL, pop_thread, &pop), 0);
    assert_true(wait_flag(&pop.started));
    sleep_ms(50);
    assert_int_equal(atomic_load(&pop.done), 0);
    cme__chunkq_close(&q);
    assert_true(wait_flag(&pop.done));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pop.rc, CME_ECLOSED);
    cme__chunkq_destroy(&q);
}

/* ---- requeue ----------------------------------------------------------------------- */

static void test_requeue_to_head(void **state)
{
    CmeChunkQueue q;
    CmeChunk c[10];
    init_chunks(c, 10);
    CmeChunk *out = NULL;
    assert_int_equal(cme__chunkq_init(&q, 2, NULL), 0);

    /* Full queue: requeue ignores the capacity; the count goes past it. */
    assert_int_equal(cme__chunkq_push(&q, &c[0]), 0);
    assert_int_equal(cme__chunkq_push(&q, &c[1]), 0);
    c[9].attempts = 1;
    cme__chunkq_requeue(&q, &c[9]);
    assert_int_equal(cme__chunkq_count(&q), 3);
    assert_int_equal(cme__chunkq_peek_index(&q, -1), 9);
    cme__chunkq_requeue(&q, &c[8]);
    assert_int_equal(cme__chunkq_count(&q), 4);
    static const int want1[] = { 8, 9, 0, 1 };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
        assert_int_equal(out->index, want1[i]);
    }
    assert_int_equal(c[9].attempts, 1); /* the queue leaves the chunk's fields alone */
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), CME_EAGAIN);

    /* Requeue onto an empty queue sets the tail too: a later push lands behind it. */
    cme__chunkq_requeue(&q, &c[5]);
    assert_int_equal(cme__chunkq_push(&q, &c[6]), 0);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[5]);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[6]);
    /* Pop the tail while something remains, then push: order kept. */
    assert_int_equal(cme__chunkq_push(&q, &c[2]), 0);
    cme__chunkq_requeue(&q, &c[3]);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[3]);
    assert_int_equal(cme__chunkq_push(&q, &c[4]), 0);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[2]);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[4]);

    /* After close: requeue still works, ahead of what remains, and drains before
     * CME_ECLOSED; also on a closed queue that had already drained. */
    assert_int_equal(cme__chunkq_push(&q, &c[0]), 0);
    cme__chunkq_close(&q);
    cme__chunkq_requeue(&q, &c[7]);
    assert_int_equal(cme__chunkq_count(&q), 2);
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), 0);
    assert_ptr_equal(out, &c[7]);
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), 0);
    assert_ptr_equal(out, &c[0]);
    assert_int_equal(cme__chunkq_drained(&q), 1);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), CME_ECLOSED);
    cme__chunkq_requeue(&q, &c[7]);
    assert_int_equal(cme__chunkq_drained(&q), 0);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    assert_ptr_equal(out, &c[7]);
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), CME_ECLOSED);
    cme__chunkq_destroy(&q);
}

/* A requeue wakes a pop blocked on an empty queue. */
static void test_requeue_wakes_pop(void **state)
{
    CmeChunkQueue q;
    CmeChunk c;
    init_chunks(&c, 1);
    assert_int_equal(cme__chunkq_init(&q, 1, NULL), 0);
    OneOp pop = { .q = &q, .device = -1, .timeout_ms = 5000 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pop_thread, &pop), 0);
    assert_true(wait_flag(&pop.started));
    sleep_ms(20);
    cme__chunkq_requeue(&q, &c);
    assert_true(wait_flag(&pop.done));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pop.rc, 0);
    assert_ptr_equal(pop.chunk, &c);
    cme__chunkq_destroy(&q);
}

/* ---- exclusion --------------------------------------------------------------------- */

static void test_exclusion(void **state)
{
    CmeChunkQueue q;
    CmeChunk c[7];
    init_chunks(c, 7);
    CmeChunk *out = NULL;
    c[0].excluded = UINT64_C(1) << 1;                        /* not device 1 */
    c[2].excluded = (UINT64_C(1) << 1) | (UINT64_C(1) << 2); /* not 1 nor 2 */
    c[3].excluded = UINT64_C(1) << 0;                        /* not device 0 */
    c[4].excluded = UINT64_C(1) << 63;                       /* not device 63 */
    assert_int_equal(cme__chunkq_init(&q, 8, NULL), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(cme__chunkq_push(&q, &c[i]), 0);

    /* peek_index agrees with what pop_for takes, for every device. */
    assert_int_equal(cme__chunkq_peek_index(&q, -1), 0);
    assert_int_equal(cme__chunkq_peek_index(&q, 0), 0);
    assert_int_equal(cme__chunkq_peek_index(&q, 1), 1);
    assert_int_equal(cme__chunkq_peek_index(&q, 2), 0);
    assert_int_equal(cme__chunkq_peek_index(&q, 63), 0);
    assert_int_equal(cme__chunkq_peek_index(&q, 64), 0); /* out of the mask: any chunk */

    /* Device 1 takes 1, 3, 4 in order, skipping 0 and 2 without reordering them. */
    static const uint32_t for1[] = { 1, 3, 4 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cme__chunkq_peek_index(&q, 1), for1[i]);
        if (i == 1)
            assert_int_equal(cme__chunkq_pop(&q, 1, &out, -1), 0);
        else
            assert_int_equal(cme__chunkq_try_pop(&q, 1, &out), 0);
        assert_int_equal(out->index, for1[i]);
        assert_null(out->next);
    }
    assert_int_equal(cme__chunkq_count(&q), 2);
    /* Nothing left for device 1: EAGAIN (open queue), timed pop times out. */
    assert_int_equal(cme__chunkq_peek_index(&q, 1), -1);
    assert_int_equal(cme__chunkq_try_pop(&q, 1, &out), CME_EAGAIN);
    assert_int_equal(cme__chunkq_pop(&q, 1, &out, 30), CME_ETIMEDOUT);

    /* The tail (4) was unlinked: a push lands after 2, the order 0, 2, 5 is kept. */
    assert_int_equal(cme__chunkq_push(&q, &c[5]), 0);
    assert_int_equal(cme__chunkq_peek_index(&q, 1), 5);
    assert_int_equal(cme__chunkq_peek_index(&q, 2), 0);
    assert_int_equal(cme__chunkq_try_pop(&q, 2, &out), 0);
    assert_int_equal(out->index, 0);
    assert_int_equal(cme__chunkq_peek_index(&q, 2), 5);
    assert_int_equal(cme__chunkq_peek_index(&q, -1), 2);
    assert_int_equal(cme__chunkq_try_pop(&q, 2, &out), 0);
    assert_int_equal(out->index, 5);
    assert_int_equal(cme__chunkq_peek_index(&q, 2), -1);

    /* Closed with only an excluded chunk left: not drained, so EAGAIN for the excluded
     * device (another device may still take it), then the chunk for device 0. */
    cme__chunkq_close(&q);
    assert_int_equal(cme__chunkq_drained(&q), 0);
    assert_int_equal(cme__chunkq_try_pop(&q, 1, &out), CME_EAGAIN);
    assert_int_equal(cme__chunkq_pop(&q, 2, &out, 20), CME_ETIMEDOUT);
    assert_int_equal(cme__chunkq_peek_index(&q, 0), 2);
    assert_int_equal(cme__chunkq_pop(&q, 0, &out, -1), 0);
    assert_int_equal(out->index, 2);
    assert_int_equal(cme__chunkq_try_pop(&q, 1, &out), CME_ECLOSED);
    assert_int_equal(cme__chunkq_drained(&q), 1);
    cme__chunkq_destroy(&q);
}

/* A pop for device 1 blocked on a closed queue whose only chunk excludes device 1 must
 * return CME_ECLOSED once another device takes that chunk (the queue is then drained),
 * not sleep until its timeout. */
static void test_closed_pop_wakes_when_drained_by_other(void **state)
{
    CmeChunkQueue q;
    CmeChunk c;
    init_chunks(&c, 1);
    c.excluded = UINT64_C(1) << 1;
    assert_int_equal(cme__chunkq_init(&q, 1, NULL), 0);
    assert_int_equal(cme__chunkq_push(&q, &c), 0);
    cme__chunkq_close(&q);

    OneOp pop = { .q = &q, .device = 1, .timeout_ms = 3000 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pop_thread, &pop), 0);
    assert_true(wait_flag(&pop.started));
    sleep_ms(50); /* let it block: it cannot take the chunk */
    assert_int_equal(atomic_load(&pop.done), 0);
    double t0 = cme__now();
    CmeChunk *out = NULL;
    assert_int_equal(cme__chunkq_try_pop(&q, 0, &out), 0);
    assert_ptr_equal(out, &c);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pop.rc, CME_ECLOSED);
    assert_true(pop.returned_at - t0 < 1.0);
    cme__chunkq_destroy(&q);
}

/* ---- the shared signal ------------------------------------------------------------- */

typedef struct SigWait {
    CmeSignal *s;
    uint64_t seen;
    atomic_int started;
    int rc;
} SigWait;

static void *signal_wait_thread(void *arg)
{
    SigWait *w = arg;
    atomic_store(&w->started, 1);
    w->rc = cme__signal_wait(w->s, w->seen, 5000);
    return NULL;
}

static void test_signal_advances(void **state)
{
    CmeSignal s;
    CmeChunkQueue q;
    CmeChunk c[3];
    init_chunks(c, 3);
    CmeChunk *out = NULL;
    assert_int_equal(cme__signal_init(&s), 0);
    assert_int_equal(cme__chunkq_init(&q, 4, &s), 0);
    assert_ptr_equal(q.notify, &s);

    uint64_t seq = cme__signal_seq(&s), now;
#define ADVANCED()                 \
    do {                           \
        now = cme__signal_seq(&s); \
        assert_true(now > seq);    \
        seq = now;                 \
    } while (0)
    assert_int_equal(cme__chunkq_push(&q, &c[0]), 0);
    ADVANCED();
    assert_int_equal(cme__chunkq_push(&q, &c[1]), 0);
    ADVANCED();
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    ADVANCED();
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, -1), 0);
    ADVANCED();
    cme__chunkq_requeue(&q, &c[1]);
    ADVANCED();
    assert_int_equal(cme__chunkq_pop(&q, -1, &out, 100), 0);
    ADVANCED();
    cme__chunkq_close(&q);
    ADVANCED();
    cme__chunkq_requeue(&q, &c[2]); /* after close too */
    ADVANCED();
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    ADVANCED();
#undef ADVANCED
    cme__chunkq_destroy(&q);

    /* A thread sleeping on the signal is woken by a push. */
    assert_int_equal(cme__chunkq_init(&q, 4, &s), 0);
    SigWait w = { .s = &s, .seen = cme__signal_seq(&s) };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, signal_wait_thread, &w), 0);
    assert_true(wait_flag(&w.started));
    sleep_ms(20);
    assert_int_equal(cme__chunkq_push(&q, &c[0]), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(cme__chunkq_try_pop(&q, -1, &out), 0);
    cme__chunkq_destroy(&q);
    cme__signal_destroy(&s);
}

/* ---- stress: 1 producer, 4 consumers, requeues ------------------------------------- */

#define STRESS_CHUNKS 10000
#define STRESS_CONSUMERS 4

typedef struct Stress {
    CmeChunkQueue q;
    CmeChunk *chunks;
    atomic_int consumed[STRESS_CHUNKS];       /* times consumed (after its final attempt) */
    atomic_int requeued[STRESS_CHUNKS];       /* times requeued */
    atomic_int final_attempts[STRESS_CHUNKS]; /* attempts seen at consumption */
    atomic_int errors;                        /* unexpected return codes */
    atomic_int push_failures;
    atomic_int total_requeues;
    atomic_int total_consumed;
    atomic_int closed_seen; /* consumers that ended on CME_ECLOSED */
} Stress;

typedef struct StressConsumer {
    Stress *st;
    int id;
} StressConsumer;

static void *stress_producer(void *arg)
{
    Stress *st = arg;
    for (int i = 0; i < STRESS_CHUNKS; i++)
        if (cme__chunkq_push(&st->q, &st->chunks[i]) != 0)
            atomic_fetch_add(&st->push_failures, 1);
    cme__chunkq_close(&st->q);
    return NULL;
}

static void *stress_consumer(void *arg)
{
    StressConsumer *sc = arg;
    Stress *st = sc->st;
    for (;;) {
        CmeChunk *c = NULL;
        int rc = cme__chunkq_pop(&st->q, -1, &c, -1);
        if (rc == CME_ECLOSED) {
            atomic_fetch_add(&st->closed_seen, 1);
            break;
        }
        if (rc != 0 || !c || c->index >= STRESS_CHUNKS) {
            atomic_fetch_add(&st->errors, 1);
            break;
        }
        /* Consumers 0..2 requeue every chunk whose index ends in 7 (~10%) on its first
         * attempt; consumer 3 never requeues, so a few such chunks pass on attempt 0. */
        if (sc->id != 3 && c->index % 10 == 7 && c->attempts == 0) {
            c->attempts++;
            atomic_fetch_add(&st->requeued[c->index], 1);
            atomic_fetch_add(&st->total_requeues, 1);
            cme__chunkq_requeue(&st->q, c);
            continue;
        }
        atomic_store(&st->final_attempts[c->index], c->attempts);
        atomic_fetch_add(&st->consumed[c->index], 1);
        atomic_fetch_add(&st->total_consumed, 1);
    }
    return NULL;
}

static void test_stress_one_producer_many_consumers(void **state)
{
    Stress *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    st->chunks = calloc(STRESS_CHUNKS, sizeof(*st->chunks));
    assert_non_null(st->chunks);
    init_chunks(st->chunks, STRESS_CHUNKS);
    for (int i = 0; i < STRESS_CHUNKS; i++) {
        atomic_init(&st->consumed[i], 0);
        atomic_init(&st->requeued[i], 0);
        atomic_init(&st->final_attempts[i], -1);
    }
    atomic_init(&st->errors, 0);
    atomic_init(&st->push_failures, 0);
    atomic_init(&st->total_requeues, 0);
    atomic_init(&st->total_consumed, 0);
    atomic_init(&st->closed_seen, 0);
    assert_int_equal(cme__chunkq_init(&st->q, 4, NULL), 0);

    pthread_t cons[STRESS_CONSUMERS], prod;
    StressConsumer sc[STRESS_CONSUMERS];
    for (int i = 0; i < STRESS_CONSUMERS; i++) {
        sc[i] = (StressConsumer){ st, i };
        assert_int_equal(pthread_create(&cons[i], NULL, stress_consumer, &sc[i]), 0);
    }
    assert_int_equal(pthread_create(&prod, NULL, stress_producer, st), 0);
    assert_int_equal(pthread_join(prod, NULL), 0);
    for (int i = 0; i < STRESS_CONSUMERS; i++)
        assert_int_equal(pthread_join(cons[i], NULL), 0);

    assert_int_equal(atomic_load(&st->errors), 0);
    assert_int_equal(atomic_load(&st->push_failures), 0);
    assert_int_equal(atomic_load(&st->closed_seen), STRESS_CONSUMERS);
    assert_int_equal(atomic_load(&st->total_consumed), STRESS_CHUNKS);
    assert_true(atomic_load(&st->total_requeues) > 0);
    assert_true(atomic_load(&st->total_requeues) <= STRESS_CHUNKS / 10);
    for (int i = 0; i < STRESS_CHUNKS; i++) {
        int n = atomic_load(&st->consumed[i]);
        int r = atomic_load(&st->requeued[i]);
        if (n != 1)
            fail_msg("chunk %d consumed %d times", i, n);
        if (r > 1 || (r && i % 10 != 7))
            fail_msg("chunk %d requeued %d times", i, r);
        /* Consumed after its final attempt: the attempts it carried match its requeues. */
        if (atomic_load(&st->final_attempts[i]) != r)
            fail_msg("chunk %d consumed with attempts %d after %d requeues", i,
                     atomic_load(&st->final_attempts[i]), r);
    }
    assert_int_equal(cme__chunkq_count(&st->q), 0);
    assert_int_equal(cme__chunkq_drained(&st->q), 1);
    cme__chunkq_destroy(&st->q);
    free(st->chunks);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_capacity),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_try_pop_empty_and_timeout),
        cmocka_unit_test(test_push_blocks_while_full),
        cmocka_unit_test(test_wait_room_then_push_now),
        cmocka_unit_test(test_close_then_drain),
        cmocka_unit_test(test_close_wakes_blocked),
        cmocka_unit_test(test_requeue_to_head),
        cmocka_unit_test(test_requeue_wakes_pop),
        cmocka_unit_test(test_exclusion),
        cmocka_unit_test(test_closed_pop_wakes_when_drained_by_other),
        cmocka_unit_test(test_signal_advances),
        cmocka_unit_test(test_stress_one_producer_many_consumers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Device lease pool tests (engine/sched/lease_pool.h): adding devices, acquire/release
 * accounting, FIFO fairness between blocked claimers, try_acquire never stealing a slot
 * from a waiter, acquire timeouts leaving the waiter list clean, and spreading leases
 * over devices.
 *
 * Arrival order is made deterministic by polling the pool's waiter list under its lock
 * (one more waiter linked) before starting the next claimer. Threads never call cmocka
 * asserts: they record results in atomics and the main thread asserts after joining.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cmafeng/common.h"
#include "core/signal.h"
#include "thread_wait.h"
#include "sched/lease_pool.h"

/* ---- helpers ---------------------------------------------------------------------- */

static int count_waiters(CmeLeasePool *p)
{
    int n = 0;
    pthread_mutex_lock(&p->lock);
    for (CmeLeaseWaiter *w = p->waiters; w; w = w->next)
        n++;
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* Polls until the pool has exactly n waiters or 5 s pass; returns the last count. */
static int wait_waiters(CmeLeasePool *p, int n)
{
    double end = cme__now() + 5.0;
    int got;
    while ((got = count_waiters(p)) != n && cme__now() < end)
        sleep_ms(1);
    return got;
}

static int in_use(CmeLeasePool *p, int d)
{
    pthread_mutex_lock(&p->lock);
    int n = p->devices[d].in_use;
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* A claimer thread: acquires (with timeout_ms), records its rank among the claimers that
 * got a lease, then holds the lease until `release` is set (when hold is set). */
typedef struct Claimer {
    CmeLeasePool *p;
    int timeout_ms;
    int hold;
    atomic_int *rank_counter;
    CmeLease lease;
    int rc;
    int rank; /* 1-based order of getting the lease; 0: did not get one */
    atomic_int got;
    atomic_int release;
    atomic_int done;
} Claimer;

static void *claimer_thread(void *arg)
{
    Claimer *c = arg;
    c->rc = cme__lease_acquire(c->p, &c->lease, c->timeout_ms);
    if (c->rc == 0) {
        c->rank = atomic_fetch_add(c->rank_counter, 1) + 1;
        atomic_store(&c->got, 1);
        if (c->hold)
            while (!atomic_load(&c->release))
                sleep_ms(1);
        cme__lease_release(c->p, &c->lease);
    }
    atomic_store(&c->done, 1);
    return NULL;
}

static void claimer_init(Claimer *c, CmeLeasePool *p, int timeout_ms, int hold,
                         atomic_int *rank_counter)
{
    memset(c, 0, sizeof(*c));
    c->p = p;
    c->timeout_ms = timeout_ms;
    c->hold = hold;
    c->rank_counter = rank_counter;
    c->lease.device = -2; /* sentinel: acquire always writes it */
    atomic_init(&c->got, 0);
    atomic_init(&c->release, 0);
    atomic_init(&c->done, 0);
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_add_and_counts(void **state)
{
    CmeLeasePool p;
    CmeLease l[4];
    assert_int_equal(cme__lease_pool_init(&p), 0);
    assert_int_equal(p.nb_devices, 0);
    /* No device at all: nothing to take. */
    assert_int_equal(cme__lease_try_acquire(&p, &l[0]), CME_EAGAIN);
    assert_int_equal(l[0].device, -1);
    assert_int_equal(cme__lease_acquire(&p, &l[0], 10), CME_ETIMEDOUT);
    assert_int_equal(l[0].device, -1);
    assert_int_equal(count_waiters(&p), 0);

    assert_int_equal(cme__lease_pool_add(&p, "svt:0", CME_BACKEND_SVT, 2, 4), 0);
    assert_int_equal(cme__lease_pool_add(&p, "nvenc:0", CME_BACKEND_NVENC, 1, 0), 1);
    assert_int_equal(cme__lease_pool_add(&p, "bad", CME_BACKEND_QSV, 0, 0), CME_EINVAL);
    assert_int_equal(p.nb_devices, 2);
    assert_string_equal(p.devices[0].id, "svt:0");
    assert_int_equal(p.devices[0].backend, CME_BACKEND_SVT);
    assert_int_equal(p.devices[0].sessions, 2);
    assert_int_equal(p.devices[0].threads, 4);
    assert_string_equal(p.devices[1].id, "nvenc:0");
    assert_int_equal(p.devices[1].sessions, 1);

    /* Three sessions in all: two acquires, one try_acquire, then none left. */
    assert_int_equal(cme__lease_acquire(&p, &l[0], -1), 0);
    assert_int_equal(cme__lease_acquire(&p, &l[1], 0), 0);
    assert_int_equal(cme__lease_try_acquire(&p, &l[2]), 0);
    assert_int_equal(in_use(&p, 0), 2);
    assert_int_equal(in_use(&p, 1), 1);
    for (int i = 0; i < 3; i++)
        assert_true(l[i].device == 0 || l[i].device == 1);
    assert_int_equal(cme__lease_try_acquire(&p, &l[3]), CME_EAGAIN);
    assert_int_equal(l[3].device, -1);
    assert_int_equal(cme__lease_acquire(&p, &l[3], 20), CME_ETIMEDOUT);
    assert_int_equal(l[3].device, -1);
    assert_int_equal(count_waiters(&p), 0);

    /* Release gives the slot back and clears the lease; releasing twice is a no-op. */
    int d = l[2].device;
    cme__lease_release(&p, &l[2]);
    assert_int_equal(l[2].device, -1);
    assert_int_equal(in_use(&p, 0) + in_use(&p, 1), 2);
    cme__lease_release(&p, &l[2]);
    assert_int_equal(in_use(&p, 0) + in_use(&p, 1), 2);
    assert_int_equal(cme__lease_try_acquire(&p, &l[3]), 0);
    assert_int_equal(l[3].device, d);
    assert_int_equal(in_use(&p, 0), 2);
    assert_int_equal(in_use(&p, 1), 1);
    cme__lease_release(&p, &l[0]);
    cme__lease_release(&p, &l[1]);
    cme__lease_release(&p, &l[3]);
    assert_int_equal(in_use(&p, 0), 0);
    assert_int_equal(in_use(&p, 1), 0);
    cme__lease_pool_destroy(&p);

    /* The device table is bounded. */
    assert_int_equal(cme__lease_pool_init(&p), 0);
    for (int i = 0; i < CME_MAX_DEVICES; i++)
        assert_int_equal(cme__lease_pool_add(&p, "svt", CME_BACKEND_SVT, 1, 0), i);
    assert_int_equal(cme__lease_pool_add(&p, "svt", CME_BACKEND_SVT, 1, 0), CME_ERANGE);
    assert_int_equal(p.nb_devices, CME_MAX_DEVICES);
    cme__lease_pool_destroy(&p);

    assert_string_equal(cme__backend_name(CME_BACKEND_SVT), "svt");
    assert_string_equal(cme__backend_name(CME_BACKEND_NVENC), "nvenc");
    assert_string_equal(cme__backend_name(CME_BACKEND_QSV), "qsv");
    assert_string_equal(cme__backend_name(CME_BACKEND_VAAPI), "vaapi");
    assert_string_equal(cme__backend_name((CmeBackend)99), "unknown");
}

/* One session. The main thread (A) holds it; B then C block, in that order. On A's
 * release B gets the slot while C keeps waiting; on B's release C gets it. */
static void test_fifo_fairness(void **state)
{
    CmeLeasePool p;
    CmeLease a;
    atomic_int rank;
    atomic_init(&rank, 0);
    assert_int_equal(cme__lease_pool_init(&p), 0);
    assert_int_equal(cme__lease_pool_add(&p, "svt:0", CME_BACKEND_SVT, 1, 0), 0);
    assert_int_equal(cme__lease_acquire(&p, &a, -1), 0);

    Claimer b, c;
    claimer_init(&b, &p, -1, 1, &rank);
    claimer_init(&c, &p, -1, 1, &rank);
    pthread_t tb, tc;
    assert_int_equal(pthread_create(&tb, NULL, claimer_thread, &b), 0);
    assert_int_equal(wait_waiters(&p, 1), 1);
    assert_int_equal(pthread_create(&tc, NULL, claimer_thread, &c), 0);
    assert_int_equal(wait_waiters(&p, 2), 2);

    cme__lease_release(&p, &a);
    assert_true(wait_flag(&b.got));
    /* C is still waiting, alone in the list, and B's slot is the only one in use. */
    sleep_ms(20);
    assert_int_equal(atomic_load(&c.got), 0);
    assert_int_equal(count_waiters(&p), 1);
    assert_int_equal(in_use(&p, 0), 1);
    /* try_acquire cannot jump the queue either. */
    CmeLease t;
    assert_int_equal(cme__lease_try_acquire(&p, &t), CME_EAGAIN);

    atomic_store(&b.release, 1);
    assert_true(wait_flag(&c.got));
    atomic_store(&c.release, 1);
    assert_int_equal(pthread_join(tb, NULL), 0);
    assert_int_equal(pthread_join(tc, NULL), 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(c.rc, 0);
    assert_int_equal(b.rank, 1);
    assert_int_equal(c.rank, 2);
    assert_int_equal(in_use(&p, 0), 0);
    assert_int_equal(count_waiters(&p), 0);
    cme__lease_pool_destroy(&p);
}

/* try_acquire never takes a free slot while a claimer is waiting. The window between a
 * slot freeing and the waiter waking is made wide and deterministic: under the pool lock
 * the test frees the slot by hand without waking anyone (what release does, minus the
 * broadcast), so the waiter is still linked while a slot is free. try_acquire must still
 * refuse; the broadcast afterwards hands the slot to the waiter. */
static void test_try_acquire_never_steals(void **state)
{
    CmeLeasePool p;
    CmeLease a, t;
    atomic_int rank;
    atomic_init(&rank, 0);
    assert_int_equal(cme__lease_pool_init(&p), 0);
    assert_int_equal(cme__lease_pool_add(&p, "svt:0", CME_BACKEND_SVT, 1, 0), 0);
    assert_int_equal(cme__lease_acquire(&p, &a, -1), 0);

    Claimer b;
    claimer_init(&b, &p, -1, 1, &rank);
    pthread_t tb;
    assert_int_equal(pthread_create(&tb, NULL, claimer_thread, &b), 0);
    assert_int_equal(wait_waiters(&p, 1), 1);
    sleep_ms(10); /* let B settle in pthread_cond_wait */

    pthread_mutex_lock(&p.lock);
    p.devices[a.device].in_use--;
    int waiting = p.waiters != NULL, free_slots = p.devices[0].sessions - p.devices[0].in_use;
    pthread_mutex_unlock(&p.lock);
    a.device = -1;
    assert_true(waiting);
    assert_int_equal(free_slots, 1);

    assert_int_equal(cme__lease_try_acquire(&p, &t), CME_EAGAIN);
    assert_int_equal(t.device, -1);
    /* Nothing was taken by try_acquire: the only way in_use is 1 now is B itself (only on
     * a spurious wake-up, since nobody broadcast). */
    if (!atomic_load(&b.got)) {
        assert_int_equal(in_use(&p, 0), 0);
    }

    pthread_mutex_lock(&p.lock);
    pthread_cond_broadcast(&p.cond);
    pthread_mutex_unlock(&p.lock);
    assert_true(wait_flag(&b.got));
    assert_int_equal(count_waiters(&p), 0);
    assert_int_equal(in_use(&p, 0), 1);
    assert_int_equal(cme__lease_try_acquire(&p, &t), CME_EAGAIN); /* full, no waiter */

    atomic_store(&b.release, 1);
    assert_int_equal(pthread_join(tb, NULL), 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(b.rank, 1);
    /* Free and nobody waiting: try_acquire succeeds. */
    assert_int_equal(cme__lease_try_acquire(&p, &t), 0);
    assert_int_equal(t.device, 0);
    cme__lease_release(&p, &t);
    cme__lease_pool_destroy(&p);
}

/* An acquire that times out unlinks its waiter: later claimers queued behind it are
 * served, and try_acquire is not refused on account of a stale waiter. */
static void test_acquire_timeout_removes_waiter(void **state)
{
    CmeLeasePool p;
    CmeLease a, t;
    atomic_int rank;
    atomic_init(&rank, 0);
    assert_int_equal(cme__lease_pool_init(&p), 0);
    assert_int_equal(cme__lease_pool_add(&p, "svt:0", CME_BACKEND_SVT, 1, 0), 0);
    assert_int_equal(cme__lease_acquire(&p, &a, -1), 0);

    /* The caller itself times out. */
    double t0 = cme__now();
    t.device = -2;
    assert_int_equal(cme__lease_acquire(&p, &t, 50), CME_ETIMEDOUT);
    assert_true(cme__now() - t0 >= 0.040);
    assert_int_equal(t.device, -1);
    assert_int_equal(count_waiters(&p), 0);
    cme__lease_release(&p, &a);
    assert_int_equal(cme__lease_try_acquire(&p, &a), 0);

    /* T (timeout) arrives first, B (forever) second. T times out at the head of the
     * list; B moves up and gets the slot when it frees. */
    Claimer tt, b;
    claimer_init(&tt, &p, 150, 0, &rank);
    claimer_init(&b, &p, -1, 1, &rank);
    pthread_t th_t, th_b;
    assert_int_equal(pthread_create(&th_t, NULL, claimer_thread, &tt), 0);
    assert_int_equal(wait_waiters(&p, 1), 1);
    assert_int_equal(pthread_create(&th_b, NULL, claimer_thread, &b), 0);
    assert_int_equal(wait_waiters(&p, 2), 2);
    assert_int_equal(pthread_join(th_t, NULL), 0);
    assert_int_equal(tt.rc, CME_ETIMEDOUT);
    assert_int_equal(tt.lease.device, -1);
    assert_int_equal(count_waiters(&p), 1); /* B only */
    assert_int_equal(atomic_load(&b.got), 0);

    cme__lease_release(&p, &a);
    assert_true(wait_flag(&b.got));
    assert_int_equal(count_waiters(&p), 0);
    atomic_store(&b.release, 1);
    assert_int_equal(pthread_join(th_b, NULL), 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(b.rank, 1);
    assert_int_equal(in_use(&p, 0), 0);
    assert_int_equal(cme__lease_try_acquire(&p, &t), 0);
    cme__lease_release(&p, &t);

    /* A waiter behind the head times out too: the head stays, and is served. */
    assert_int_equal(cme__lease_acquire(&p, &a, -1), 0);
    claimer_init(&b, &p, -1, 1, &rank);
    claimer_init(&tt, &p, 50, 0, &rank);
    atomic_store(&rank, 0);
    assert_int_equal(pthread_create(&th_b, NULL, claimer_thread, &b), 0);
    assert_int_equal(wait_waiters(&p, 1), 1);
    assert_int_equal(pthread_create(&th_t, NULL, claimer_thread, &tt), 0);
    assert_int_equal(pthread_join(th_t, NULL), 0);
    assert_int_equal(tt.rc, CME_ETIMEDOUT);
    assert_int_equal(count_waiters(&p), 1);
    cme__lease_release(&p, &a);
    assert_true(wait_flag(&b.got));
    atomic_store(&b.release, 1);
    assert_int_equal(pthread_join(th_b, NULL), 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(count_waiters(&p), 0);
    assert_int_equal(in_use(&p, 0), 0);
    cme__lease_pool_destroy(&p);
}

/* Leases go to the device with the most free sessions. */
static void test_spreading(void **state)
{
    CmeLeasePool p;
    CmeLease l[4];
    assert_int_equal(cme__lease_pool_init(&p), 0);
    assert_int_equal(cme__lease_pool_add(&p, "nvenc:0", CME_BACKEND_NVENC, 1, 0), 0);
    assert_int_equal(cme__lease_pool_add(&p, "nvenc:1", CME_BACKEND_NVENC, 1, 0), 1);
    assert_int_equal(cme__lease_acquire(&p, &l[0], -1), 0);
    assert_int_equal(cme__lease_acquire(&p, &l[1], -1), 0);
    assert_int_not_equal(l[0].device, l[1].device);
    assert_int_equal(in_use(&p, 0), 1);
    assert_int_equal(in_use(&p, 1), 1);
    assert_int_equal(cme__lease_try_acquire(&p, &l[2]), CME_EAGAIN);
    /* A freed device is the one handed out next. */
    int d = l[0].device;
    cme__lease_release(&p, &l[0]);
    assert_int_equal(cme__lease_try_acquire(&p, &l[0]), 0);
    assert_int_equal(l[0].device, d);
    cme__lease_release(&p, &l[0]);
    cme__lease_release(&p, &l[1]);
    cme__lease_pool_destroy(&p);

    /* Two devices of two sessions: four leases alternate, two per device. */
    assert_int_equal(cme__lease_pool_init(&p), 0);
    assert_int_equal(cme__lease_pool_add(&p, "svt:0", CME_BACKEND_SVT, 2, 0), 0);
    assert_int_equal(cme__lease_pool_add(&p, "svt:1", CME_BACKEND_SVT, 2, 0), 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(cme__lease_try_acquire(&p, &l[i]), 0);
    assert_int_not_equal(l[0].device, l[1].device);
    assert_int_not_equal(l[2].device, l[3].device);
    assert_int_equal(in_use(&p, 0), 2);
    assert_int_equal(in_use(&p, 1), 2);
    for (int i = 0; i < 4; i++)
        cme__lease_release(&p, &l[i]);
    cme__lease_pool_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_counts),
        cmocka_unit_test(test_fifo_fairness),
        cmocka_unit_test(test_try_acquire_never_steals),
        cmocka_unit_test(test_acquire_timeout_removes_waiter),
        cmocka_unit_test(test_spreading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

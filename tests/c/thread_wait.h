/*
 * Waiting helpers for the multi-threaded unit tests. Tests never assert on another
 * thread's progress after a bare sleep: they poll a flag the thread sets, with a generous
 * deadline, so a slow machine makes a test slower, not flaky.
 */
#ifndef CME_TESTS_THREAD_WAIT_H
#define CME_TESTS_THREAD_WAIT_H

#include <stdatomic.h>
#include <time.h>

#include "core/signal.h"

static inline void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts))
        ;
}

/* Polls *flag until it is non-zero or 5 s pass; returns the last value read. */
static inline int wait_flag(atomic_int *flag)
{
    double end = cme__now() + 5.0;
    int v;
    while (!(v = atomic_load(flag)) && cme__now() < end)
        sleep_ms(1);
    return v;
}

#endif

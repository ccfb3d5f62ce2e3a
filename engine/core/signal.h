/*
 * A coalescing wake-up shared by several producers and consumers: producers bump a
 * sequence number and broadcast; a consumer reads the sequence, looks for work with the
 * signal's lock released, and sleeps only if the sequence has not moved since. Wake-ups
 * coalesce and carry no data: the data lives in the queues (STYLE.md, cross-thread hand-off).
 */
#ifndef CME_CORE_SIGNAL_H
#define CME_CORE_SIGNAL_H

#include <pthread.h>
#include <stdint.h>

typedef struct CmeSignal {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t seq;
} CmeSignal;

int cme__signal_init(CmeSignal *s);
void cme__signal_destroy(CmeSignal *s);
uint64_t cme__signal_seq(CmeSignal *s);
void cme__signal_notify(CmeSignal *s);
/* Sleeps until the sequence differs from seen or timeout_ms passes (< 0: forever).
 * Returns 0 when it moved, CME_ETIMEDOUT otherwise. */
int cme__signal_wait(CmeSignal *s, uint64_t seen, int timeout_ms);
/* Initialises a condition variable whose timed waits run on CLOCK_MONOTONIC: a change of
 * the wall clock (NTP, the user) never shortens or stretches a timeout. Every condition
 * that is waited on with cme__deadline is made here. 0 or CME_ENOMEM. */
int cme__cond_init(pthread_cond_t *c);
/* An absolute CLOCK_MONOTONIC deadline timeout_ms from now, for pthread_cond_timedwait on a
 * condition made by cme__cond_init. */
void cme__deadline(struct timespec *ts, int timeout_ms);
/* Monotonic seconds. */
double cme__now(void);

#endif

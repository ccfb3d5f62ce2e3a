#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <time.h>

#include "cmafeng/common.h"
#include "core/signal.h"

int cme__cond_init(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr))
        return CME_ENOMEM;
    int r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) || pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
    return r ? CME_ENOMEM : 0;
}

int cme__signal_init(CmeSignal *s)
{
    s->seq = 0;
    if (pthread_mutex_init(&s->lock, NULL))
        return CME_ENOMEM;
    if (cme__cond_init(&s->cond)) {
        pthread_mutex_destroy(&s->lock);
        return CME_ENOMEM;
    }
    return 0;
}

void cme__signal_destroy(CmeSignal *s)
{
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
}

uint64_t cme__signal_seq(CmeSignal *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t v = s->seq;
    pthread_mutex_unlock(&s->lock);
    return v;
}

void cme__signal_notify(CmeSignal *s)
{
    pthread_mutex_lock(&s->lock);
    s->seq++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void cme__deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int cme__signal_wait(CmeSignal *s, uint64_t seen, int timeout_ms)
{
    struct timespec ts;
    if (timeout_ms >= 0)
        cme__deadline(&ts, timeout_ms);
    int ret = 0;
    pthread_mutex_lock(&s->lock);
    while (s->seq == seen) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&s->cond, &s->lock);
        } else if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT) {
            if (s->seq == seen)
                ret = CME_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

double cme__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

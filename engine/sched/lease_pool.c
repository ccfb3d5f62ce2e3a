#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmafeng/common.h"
#include "core/signal.h"
#include "sched/lease_pool.h"

int cme__lease_pool_init(CmeLeasePool *p)
{
    memset(p, 0, sizeof(*p));
    if (pthread_mutex_init(&p->lock, NULL))
        return CME_ENOMEM;
    if (pthread_cond_init(&p->cond, NULL)) {
        pthread_mutex_destroy(&p->lock);
        return CME_ENOMEM;
    }
    return 0;
}

void cme__lease_pool_destroy(CmeLeasePool *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}

int cme__lease_pool_add(CmeLeasePool *p, const char *id, CmeBackend backend, int sessions,
                        int threads)
{
    if (sessions < 1)
        return CME_EINVAL;
    pthread_mutex_lock(&p->lock);
    if (p->nb_devices >= CME_MAX_DEVICES) {
        pthread_mutex_unlock(&p->lock);
        return CME_ERANGE;
    }
    int i = p->nb_devices++;
    CmeDevice *d = &p->devices[i];
    snprintf(d->id, sizeof(d->id), "%s", id);
    d->backend = backend;
    d->sessions = sessions;
    d->threads = threads;
    d->in_use = 0;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return i;
}

/* The device with the most free sessions (spreads load), or -1. Lock held. */
static int free_device_locked(CmeLeasePool *p)
{
    int best = -1, best_free = 0;
    for (int i = 0; i < p->nb_devices; i++) {
        int f = p->devices[i].sessions - p->devices[i].in_use;
        if (f > best_free) {
            best = i;
            best_free = f;
        }
    }
    return best;
}

static void unlink_waiter(CmeLeasePool *p, CmeLeaseWaiter *w)
{
    for (CmeLeaseWaiter **pp = &p->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

int cme__lease_acquire(CmeLeasePool *p, CmeLease *out, int timeout_ms)
{
    struct timespec ts;
    if (timeout_ms >= 0)
        cme__deadline(&ts, timeout_ms);
    CmeLeaseWaiter self = { NULL };
    pthread_mutex_lock(&p->lock);
    CmeLeaseWaiter **tail = &p->waiters;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &self;
    for (;;) {
        int d = p->waiters == &self ? free_device_locked(p) : -1;
        if (d >= 0) {
            p->devices[d].in_use++;
            unlink_waiter(p, &self);
            out->device = d;
            /* The next waiter may be servable too. */
            pthread_cond_broadcast(&p->cond);
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        int rc = 0;
        if (timeout_ms < 0)
            pthread_cond_wait(&p->cond, &p->lock);
        else
            rc = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        if (rc == ETIMEDOUT) {
            unlink_waiter(p, &self);
            pthread_cond_broadcast(&p->cond); /* our place passes to the next waiter */
            pthread_mutex_unlock(&p->lock);
            out->device = -1;
            return CME_ETIMEDOUT;
        }
    }
}

int cme__lease_try_acquire(CmeLeasePool *p, CmeLease *out)
{
    pthread_mutex_lock(&p->lock);
    int d = p->waiters ? -1 : free_device_locked(p);
    if (d >= 0)
        p->devices[d].in_use++;
    pthread_mutex_unlock(&p->lock);
    out->device = d;
    return d >= 0 ? 0 : CME_EAGAIN;
}

void cme__lease_release(CmeLeasePool *p, CmeLease *l)
{
    if (l->device < 0)
        return;
    pthread_mutex_lock(&p->lock);
    p->devices[l->device].in_use--;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    l->device = -1;
}

const char *cme__backend_name(CmeBackend b)
{
    switch (b) {
    case CME_BACKEND_SVT: return "svt";
    case CME_BACKEND_NVENC: return "nvenc";
    case CME_BACKEND_QSV: return "qsv";
    case CME_BACKEND_VAAPI: return "vaapi";
    case CME_BACKEND_AOM: return "aom";
    case CME_BACKEND_RAV1E: return "rav1e";
    case CME_BACKEND_AMF: return "amf";
    }
    return "unknown";
}

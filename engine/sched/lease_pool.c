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
    if (cme__cond_init(&p->cond)) {
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

int cme__lease_pool_register(CmeLeasePool *p, const CmeDevice *dev)
{
    if (dev->sessions < 1)
        return CME_EINVAL;
    pthread_mutex_lock(&p->lock);
    int r = CME_ERANGE;
    for (int i = 0; i < p->nb_devices; i++) {
        if (!strcmp(p->devices[i].id, dev->id)) {
            /* Registered by an earlier job of this process: the same device, the same
             * session cap, whatever this job asks. */
            r = p->devices[i].backend == dev->backend ? i : CME_EINVAL;
            goto out;
        }
    }
    if (p->nb_devices < CME_MAX_DEVICES) {
        r = p->nb_devices++;
        p->devices[r] = *dev;
        p->devices[r].in_use = 0;
        pthread_cond_broadcast(&p->cond);
    }
out:
    pthread_mutex_unlock(&p->lock);
    return r;
}

/* The device in mask with the most free sessions (spreads load) that no waiter ahead of
 * `self` could take, or -1. self == NULL: no waiter may be passed over. Lock held. */
static int free_device_locked(CmeLeasePool *p, uint64_t mask, const CmeLeaseWaiter *self)
{
    uint64_t owed = 0; /* devices an earlier waiter may take: theirs first */
    for (const CmeLeaseWaiter *w = p->waiters; w && w != self; w = w->next)
        owed |= w->mask;
    int best = -1, best_free = 0;
    for (int i = 0; i < p->nb_devices; i++) {
        uint64_t bit = UINT64_C(1) << i;
        if (!(mask & bit) || (owed & bit))
            continue;
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

int cme__lease_acquire_in(CmeLeasePool *p, uint64_t mask, CmeLease *out, int timeout_ms)
{
    struct timespec ts;
    if (timeout_ms >= 0)
        cme__deadline(&ts, timeout_ms);
    CmeLeaseWaiter self = { NULL, mask };
    pthread_mutex_lock(&p->lock);
    CmeLeaseWaiter **tail = &p->waiters;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &self;
    for (;;) {
        int d = free_device_locked(p, mask, &self);
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

int cme__lease_acquire(CmeLeasePool *p, CmeLease *out, int timeout_ms)
{
    return cme__lease_acquire_in(p, ~UINT64_C(0), out, timeout_ms);
}

int cme__lease_try_acquire_in(CmeLeasePool *p, uint64_t mask, CmeLease *out)
{
    pthread_mutex_lock(&p->lock);
    int d = free_device_locked(p, mask, NULL);
    if (d >= 0)
        p->devices[d].in_use++;
    pthread_mutex_unlock(&p->lock);
    out->device = d;
    return d >= 0 ? 0 : CME_EAGAIN;
}

int cme__lease_try_acquire(CmeLeasePool *p, CmeLease *out)
{
    return cme__lease_try_acquire_in(p, ~UINT64_C(0), out);
}

int cme__lease_pool_find(CmeLeasePool *p, const char *id)
{
    pthread_mutex_lock(&p->lock);
    int found = -1;
    for (int i = 0; i < p->nb_devices && found < 0; i++)
        if (!strcmp(p->devices[i].id, id))
            found = i;
    pthread_mutex_unlock(&p->lock);
    return found;
}

int cme__lease_pool_waiters(CmeLeasePool *p, int device)
{
    int n = 0;
    pthread_mutex_lock(&p->lock);
    for (const CmeLeaseWaiter *w = p->waiters; w; w = w->next)
        n += device < 0 || (w->mask & (UINT64_C(1) << device)) != 0;
    pthread_mutex_unlock(&p->lock);
    return n;
}

static CmeLeasePool process_pool;
static pthread_once_t process_pool_once = PTHREAD_ONCE_INIT;

static void process_pool_init(void)
{
    cme__lease_pool_init(&process_pool);
}

CmeLeasePool *cme__device_pool(void)
{
    pthread_once(&process_pool_once, process_pool_init);
    return &process_pool;
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
    case CME_BACKEND_FAULT: return "fault";
    case CME_BACKEND_AOM: return "aom";
    case CME_BACKEND_RAV1E: return "rav1e";
    case CME_BACKEND_AMF: return "amf";
    }
    return "unknown";
}

#define _POSIX_C_SOURCE 200809L
#include <assert.h>
#include <errno.h>

#include "cmafeng/common.h"
#include "sched/chunk_queue.h"

int cme__chunkq_init(CmeChunkQueue *q, int capacity, CmeSignal *notify)
{
    if (capacity < 1)
        return CME_EINVAL;
    q->head = q->tail = NULL;
    q->count = 0;
    q->capacity = capacity;
    q->closed = 0;
    q->notify = notify;
    if (pthread_mutex_init(&q->lock, NULL))
        return CME_ENOMEM;
    if (cme__cond_init(&q->not_full)) {
        pthread_mutex_destroy(&q->lock);
        return CME_ENOMEM;
    }
    if (cme__cond_init(&q->not_empty)) {
        pthread_cond_destroy(&q->not_full);
        pthread_mutex_destroy(&q->lock);
        return CME_ENOMEM;
    }
    return 0;
}

void cme__chunkq_destroy(CmeChunkQueue *q)
{
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->lock);
}

/* Called with q->lock released: the signal's lock is never taken under a queue lock, so
 * the lock order is simply "one lock at a time". */
static void notify(CmeChunkQueue *q)
{
    if (q->notify)
        cme__signal_notify(q->notify);
}

/* Appends c at the tail and wakes the consumers. Called with q->lock held, released here. */
static void append_and_unlock(CmeChunkQueue *q, CmeChunk *c)
{
    c->next = NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->count++;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    notify(q);
}

int cme__chunkq_push(CmeChunkQueue *q, CmeChunk *c)
{
    pthread_mutex_lock(&q->lock);
    while (!q->closed && q->count >= q->capacity)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return CME_ECLOSED;
    }
    append_and_unlock(q, c);
    return 0;
}

int cme__chunkq_wait_room(CmeChunkQueue *q)
{
    pthread_mutex_lock(&q->lock);
    while (!q->closed && q->count >= q->capacity)
        pthread_cond_wait(&q->not_full, &q->lock);
    int closed = q->closed;
    pthread_mutex_unlock(&q->lock);
    return closed ? CME_ECLOSED : 0;
}

int cme__chunkq_push_now(CmeChunkQueue *q, CmeChunk *c)
{
    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return CME_ECLOSED;
    }
    append_and_unlock(q, c);
    return 0;
}

void cme__chunkq_requeue(CmeChunkQueue *q, CmeChunk *c)
{
    pthread_mutex_lock(&q->lock);
    c->next = q->head;
    q->head = c;
    if (!q->tail)
        q->tail = c;
    q->count++;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    notify(q);
}

static int eligible(const CmeChunk *c, int device)
{
    return device < 0 || device >= 64 || !(c->excluded & (UINT64_C(1) << device));
}

/* Unlinks c (after prev, NULL for the head) and wakes whom that concerns. Lock held. */
static CmeChunk *unlink_locked(CmeChunkQueue *q, CmeChunk *prev, CmeChunk *c)
{
    if (prev)
        prev->next = c->next;
    else
        q->head = c->next;
    if (q->tail == c)
        q->tail = prev;
    c->next = NULL;
    q->count--;
    pthread_cond_broadcast(&q->not_full);
    /* Closed and now empty: pops blocked for a device that could not take the last chunks
     * must wake up and return CME_ECLOSED. */
    if (q->closed && q->count == 0)
        pthread_cond_broadcast(&q->not_empty);
    return c;
}

/* Unlinks the first chunk the device may take. Called with q->lock held. */
static CmeChunk *take_locked(CmeChunkQueue *q, int device)
{
    CmeChunk *prev = NULL;
    for (CmeChunk *c = q->head; c; prev = c, c = c->next)
        if (eligible(c, device))
            return unlink_locked(q, prev, c);
    return NULL;
}

int cme__chunkq_try_pop(CmeChunkQueue *q, int device, CmeChunk **out)
{
    pthread_mutex_lock(&q->lock);
    CmeChunk *c = take_locked(q, device);
    int closed = q->closed, empty = q->count == 0;
    pthread_mutex_unlock(&q->lock);
    if (c) {
        *out = c;
        notify(q); /* room for the producer */
        return 0;
    }
    return closed && empty ? CME_ECLOSED : CME_EAGAIN;
}

int cme__chunkq_pop(CmeChunkQueue *q, int device, CmeChunk **out, int timeout_ms)
{
    struct timespec ts;
    if (timeout_ms >= 0)
        cme__deadline(&ts, timeout_ms);
    pthread_mutex_lock(&q->lock);
    for (;;) {
        CmeChunk *c = take_locked(q, device);
        if (c) {
            pthread_mutex_unlock(&q->lock);
            *out = c;
            notify(q);
            return 0;
        }
        if (q->closed && q->count == 0) {
            pthread_mutex_unlock(&q->lock);
            return CME_ECLOSED;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&q->not_empty, &q->lock);
        } else if (pthread_cond_timedwait(&q->not_empty, &q->lock, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&q->lock);
            return CME_ETIMEDOUT;
        }
    }
}

int cme__chunkq_pop_unservable(CmeChunkQueue *q, uint64_t servable, CmeChunk **out)
{
    CmeChunk *found = NULL;
    pthread_mutex_lock(&q->lock);
    CmeChunk *prev = NULL;
    for (CmeChunk *c = q->head; c && !found; prev = c, c = c->next)
        if (!(~c->excluded & servable))
            found = unlink_locked(q, prev, c);
    pthread_mutex_unlock(&q->lock);
    if (!found)
        return CME_EAGAIN;
    *out = found;
    notify(q);
    return 0;
}

int64_t cme__chunkq_peek_index(CmeChunkQueue *q, int device)
{
    int64_t idx = -1;
    pthread_mutex_lock(&q->lock);
    for (CmeChunk *c = q->head; c; c = c->next) {
        if (eligible(c, device)) {
            idx = c->index;
            break;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return idx;
}

void cme__chunkq_close(CmeChunkQueue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_full);
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    notify(q);
}

int cme__chunkq_drained(CmeChunkQueue *q)
{
    pthread_mutex_lock(&q->lock);
    int r = q->closed && q->count == 0;
    pthread_mutex_unlock(&q->lock);
    return r;
}

int cme__chunkq_count(CmeChunkQueue *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

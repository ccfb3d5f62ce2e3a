/*
 * Source chunks (src_chunk.h): K decoded frames under one lock, filled by the pump while
 * workers already encode them, let go frame by frame once every rung has sent them, and
 * counted against the job's frame budget.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cmafeng/common.h"
#include "media/src_chunk.h"

/* --- the budget ---------------------------------------------------------------------- */

int cme__frame_budget_init(CmeFrameBudget *b, int64_t limit)
{
    *b = (CmeFrameBudget){ .limit = limit };
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int r = pthread_cond_init(&b->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (r)
        return CME_ENOMEM;
    if (pthread_mutex_init(&b->lock, NULL)) {
        pthread_cond_destroy(&b->cond);
        return CME_ENOMEM;
    }
    return 0;
}

void cme__frame_budget_destroy(CmeFrameBudget *b)
{
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
}

static void budget_add(CmeFrameBudget *b, int64_t bytes, int waiting, int workers)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->bytes += bytes;
    if (b->bytes > b->peak)
        b->peak = b->bytes;
    b->waiting += waiting;
    b->workers += workers;
    /* Less held, a worker starving or gone: each may let the pump go on. */
    if (bytes < 0 || waiting > 0 || workers < 0)
        pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

void cme__frame_budget_join(CmeFrameBudget *b)
{
    budget_add(b, 0, 0, 1);
}

void cme__frame_budget_leave(CmeFrameBudget *b)
{
    budget_add(b, 0, 0, -1);
}

void cme__frame_budget_idle(CmeFrameBudget *b, int delta)
{
    budget_add(b, 0, delta, 0);
}

int cme__frame_budget_wait(CmeFrameBudget *b, int timeout_ms, int *idle)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->lock);
    int r = 0;
    while (b->limit > 0 && b->bytes >= b->limit && !(b->workers > 0 && b->waiting >= b->workers)) {
        if (pthread_cond_timedwait(&b->cond, &b->lock, &until)) {
            r = CME_EAGAIN;
            break;
        }
    }
    *idle = b->workers == 0;
    pthread_mutex_unlock(&b->lock);
    return r;
}

int cme__frame_budget_over(CmeFrameBudget *b)
{
    if (!b)
        return 0;
    pthread_mutex_lock(&b->lock);
    int over = b->limit > 0 && b->bytes >= b->limit;
    pthread_mutex_unlock(&b->lock);
    return over;
}

void cme__frame_budget_stats(CmeFrameBudget *b, int64_t *bytes, int64_t *peak)
{
    pthread_mutex_lock(&b->lock);
    *bytes = b->bytes;
    *peak = b->peak;
    pthread_mutex_unlock(&b->lock);
}

/* The bytes a decoded frame keeps alive: its buffers, padding included. */
static int64_t frame_bytes(const AVFrame *f)
{
    int64_t n = 0;
    for (int i = 0; i < AV_NUM_DATA_POINTERS && f->buf[i]; i++)
        n += (int64_t)f->buf[i]->size;
    return n;
}

/* --- chunks -------------------------------------------------------------------------- */

void cme__src_chunk_ref(CmeSrcChunk *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void cme__src_chunk_unref(CmeSrcChunk **pc)
{
    CmeSrcChunk *c = *pc;
    *pc = NULL;
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    int64_t bytes = 0;
    for (int i = 0; i < c->ready; i++) {
        if (c->frames[i])
            bytes += frame_bytes(c->frames[i]);
        av_frame_free(&c->frames[i]);
    }
    budget_add(c->budget, -bytes, 0, 0);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c->frames);
    free(c->pts);
    free(c->duration);
    free(c->uses);
    free(c);
}

CmeSrcChunk *cme__src_chunk_new(uint32_t index, int k, CmeFrameBudget *budget)
{
    CmeSrcChunk *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    atomic_init(&c->claimed, 0);
    c->index = index;
    c->capacity = k;
    c->budget = budget;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->frames = calloc((size_t)k, sizeof(*c->frames));
    c->pts = calloc((size_t)k, sizeof(*c->pts));
    c->duration = calloc((size_t)k, sizeof(*c->duration));
    c->uses = calloc((size_t)k, sizeof(*c->uses));
    if (!c->frames || !c->pts || !c->duration || !c->uses) {
        cme__src_chunk_unref(&c);
        return NULL;
    }
    return c;
}

void cme__src_chunk_set_consumers(CmeSrcChunk *c, int n)
{
    pthread_mutex_lock(&c->lock);
    c->consumers = n;
    pthread_mutex_unlock(&c->lock);
}

const AVFrame *cme__src_chunk_frame(CmeSrcChunk *c, int i)
{
    pthread_mutex_lock(&c->lock);
    if (i >= c->ready && !c->complete) {
        /* Starving: the pump may have to decode beyond its budget (lock order: the
         * chunk's, then the budget's). */
        c->waiting++;
        budget_add(c->budget, 0, 1, 0);
        while (i >= c->ready && !c->complete)
            pthread_cond_wait(&c->cond, &c->lock);
        c->waiting--;
        budget_add(c->budget, 0, -1, 0);
    }
    const AVFrame *f = i < c->ready ? c->frames[i] : NULL;
    pthread_mutex_unlock(&c->lock);
    return f;
}

int cme__src_chunk_ready(CmeSrcChunk *c, int i)
{
    pthread_mutex_lock(&c->lock);
    int ready = i < c->ready || c->complete;
    pthread_mutex_unlock(&c->lock);
    return ready;
}

void cme__src_chunk_wait_complete(CmeSrcChunk *c)
{
    pthread_mutex_lock(&c->lock);
    while (!c->complete)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

void cme__src_chunk_append(CmeSrcChunk *c, AVFrame *f, int64_t pts)
{
    int64_t bytes = frame_bytes(f);
    pthread_mutex_lock(&c->lock);
    if (c->ready > 0)
        c->duration[c->ready - 1] = pts - c->pts[c->ready - 1];
    c->frames[c->ready] = f;
    c->pts[c->ready] = pts;
    c->uses[c->ready] = c->consumers;
    c->ready++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    budget_add(c->budget, bytes, 0, 0);
}

/* The last frame's duration comes from the next chunk's first frame, or the nominal frame
 * duration at the end of the stream. */
void cme__src_chunk_complete(CmeSrcChunk *c, int64_t last_duration)
{
    pthread_mutex_lock(&c->lock);
    if (c->ready > 0 && last_duration > 0)
        c->duration[c->ready - 1] = last_duration;
    c->nb_frames = c->ready;
    c->complete = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

int cme__src_chunk_claim(CmeSrcChunk *c, int r)
{
    uint_fast64_t bit = (uint_fast64_t)1 << r;
    return !(atomic_fetch_or(&c->claimed, bit) & bit);
}

void cme__src_chunk_release(CmeSrcChunk *c, int i)
{
    AVFrame *gone = NULL;
    pthread_mutex_lock(&c->lock);
    if (i < c->ready && c->frames[i] && --c->uses[i] <= 0) {
        gone = c->frames[i];
        c->frames[i] = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (gone) {
        budget_add(c->budget, -frame_bytes(gone), 0, 0);
        av_frame_free(&gone);
    }
}

int cme__src_chunk_pin(CmeSrcChunk *c, AVFrame **out)
{
    cme__src_chunk_wait_complete(c);
    int r = 0;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nb_frames; i++)
        out[i] = NULL;
    for (int i = 0; i < c->nb_frames && r == 0; i++) {
        if (!c->frames[i])
            r = CME_EAGAIN;
        else if (!(out[i] = av_frame_clone(c->frames[i])))
            r = CME_ENOMEM;
    }
    pthread_mutex_unlock(&c->lock);
    if (r < 0)
        for (int i = 0; i < c->nb_frames; i++)
            av_frame_free(&out[i]);
    return r;
}

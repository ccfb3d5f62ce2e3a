/*
 * The chunk table: states and their legal transitions (see chunk_table.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/common.h"
#include "sched/chunk_table.h"

const char *cme_chunk_state_name(CmeChunkState s)
{
    static const char *const names[CME_CHUNK_NB_STATES] = {
        "queued", "encoding", "awaiting_policy", "done", "failed",
    };
    return (unsigned)s < CME_CHUNK_NB_STATES ? names[s] : "unknown";
}

const char *cme_fail_reason_name(CmeFailReason r)
{
    static const char *const names[] = {
#define CME_FAIL_NAME_(name, str) str,
        CME_FAIL_REASON_MAP(CME_FAIL_NAME_)
#undef CME_FAIL_NAME_
    };
    return (unsigned)r < CME_FAIL_NB_REASONS ? names[r] : "unknown";
}

int cme__ct_init(CmeChunkTable *t, int nb_rungs, void (*ref)(void *), void (*unref)(void *))
{
    memset(t, 0, sizeof(*t));
    if (nb_rungs < 0 || nb_rungs > CME_MAX_RUNGS)
        return CME_EINVAL;
    if (pthread_mutex_init(&t->lock, NULL))
        return CME_ENOMEM;
    t->nb_rungs = nb_rungs;
    for (int r = 0; r < nb_rungs; r++)
        t->rungs[r].total = -1;
    t->payload_ref = ref;
    t->payload_unref = unref;
    return 0;
}

void cme__ct_destroy(CmeChunkTable *t)
{
    for (int r = 0; r < t->nb_rungs; r++) {
        CmeChunkTableRung *tr = &t->rungs[r];
        for (size_t i = 0; i < tr->nb; i++)
            if (tr->c[i].payload && t->payload_unref)
                t->payload_unref(tr->c[i].payload);
        free(tr->c);
    }
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof(*t));
}

/* The record, or NULL when (rung, index) names no chunk. Lock held. */
static CmeChunkRecord *find(CmeChunkTable *t, int rung, uint32_t index)
{
    if (rung < 0 || rung >= t->nb_rungs || index >= t->rungs[rung].nb)
        return NULL;
    return &t->rungs[rung].c[index];
}

static void set_state(CmeChunkTable *t, int rung, CmeChunkRecord *c, CmeChunkState s)
{
    t->counts[rung][c->state]--;
    t->counts[rung][s]++;
    c->state = s;
}

static int append(CmeChunkTable *t, int rung, uint32_t index, CmeChunkRecord **out)
{
    if (rung < 0 || rung >= t->nb_rungs)
        return CME_EINVAL;
    CmeChunkTableRung *tr = &t->rungs[rung];
    if (index != tr->nb || (tr->total >= 0 && (int)index >= tr->total))
        return CME_ESTATE;
    if (tr->nb == tr->cap) {
        size_t cap = tr->cap ? tr->cap * 2 : 64;
        CmeChunkRecord *c = realloc(tr->c, cap * sizeof(*c));
        if (!c)
            return CME_ENOMEM;
        tr->c = c;
        tr->cap = cap;
    }
    CmeChunkRecord *c = &tr->c[tr->nb++];
    memset(c, 0, sizeof(*c));
    c->worker = c->device = c->instance = c->only_device = -1;
    c->crf = c->preset = -1;
    c->state = CME_CHUNK_QUEUED;
    t->counts[rung][CME_CHUNK_QUEUED]++;
    *out = c;
    return 0;
}

int cme__ct_add(CmeChunkTable *t, int rung, uint32_t index, void *payload)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c;
    int r = append(t, rung, index, &c);
    if (r == 0 && payload) {
        if (t->payload_ref)
            t->payload_ref(payload);
        c->payload = payload;
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

int cme__ct_add_done(CmeChunkTable *t, int rung, uint32_t index, const CmeSegmentEntry *seg)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c;
    int r = append(t, rung, index, &c);
    if (r == 0) {
        set_state(t, rung, c, CME_CHUNK_DONE);
        c->seg = *seg;
        c->resumed = 1;
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

void cme__ct_set_total(CmeChunkTable *t, int rung, int total)
{
    pthread_mutex_lock(&t->lock);
    if (rung >= 0 && rung < t->nb_rungs)
        t->rungs[rung].total = total;
    pthread_mutex_unlock(&t->lock);
}

int cme__ct_begin(CmeChunkTable *t, int rung, uint32_t index, int worker, int device, int instance,
                  double now, int *attempt)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = find(t, rung, index);
    int r = CME_ESTATE;
    if (c && c->state == CME_CHUNK_QUEUED) {
        set_state(t, rung, c, CME_CHUNK_ENCODING);
        c->attempt++;
        c->worker = worker;
        c->device = device;
        c->instance = instance;
        c->writing = 0;
        c->t_begin = c->t_progress = now;
        *attempt = c->attempt;
        r = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

/* The record when it is encoding in this attempt. Lock held. */
static CmeChunkRecord *current(CmeChunkTable *t, int rung, uint32_t index, int attempt)
{
    CmeChunkRecord *c = find(t, rung, index);
    if (!c || c->state != CME_CHUNK_ENCODING || c->attempt != attempt)
        return NULL;
    return c;
}

void cme__ct_progress(CmeChunkTable *t, int rung, uint32_t index, int attempt, double now)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = current(t, rung, index, attempt);
    if (c)
        c->t_progress = now;
    pthread_mutex_unlock(&t->lock);
}

int cme__ct_write_begin(CmeChunkTable *t, int rung, uint32_t index, int attempt)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = current(t, rung, index, attempt);
    if (c)
        c->writing = 1;
    pthread_mutex_unlock(&t->lock);
    return c ? 0 : CME_ESTATE;
}

static void *take_payload(CmeChunkRecord *c)
{
    void *p = c->payload;
    c->payload = NULL;
    return p;
}

int cme__ct_done(CmeChunkTable *t, int rung, uint32_t index, int attempt,
                 const CmeSegmentEntry *seg, double now)
{
    void *payload = NULL;
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = current(t, rung, index, attempt);
    if (c) {
        set_state(t, rung, c, CME_CHUNK_DONE);
        c->seg = *seg;
        c->writing = 0;
        c->encode_seconds += now - c->t_begin;
        payload = take_payload(c);
    }
    pthread_mutex_unlock(&t->lock);
    if (payload && t->payload_unref)
        t->payload_unref(payload);
    return c ? 0 : CME_ESTATE;
}

static void record_failure(CmeChunkTable *t, int rung, CmeChunkRecord *c, CmeFailReason reason,
                           const char *message, double now)
{
    set_state(t, rung, c, CME_CHUNK_AWAITING_POLICY);
    c->reason = reason;
    c->writing = 0;
    c->encode_seconds += now - c->t_begin;
    snprintf(c->message, sizeof(c->message), "%s", message ? message : "");
}

int cme__ct_fail(CmeChunkTable *t, int rung, uint32_t index, int attempt, CmeFailReason reason,
                 const char *message, double now)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = current(t, rung, index, attempt);
    if (c)
        record_failure(t, rung, c, reason, message, now);
    pthread_mutex_unlock(&t->lock);
    return c ? 0 : CME_ESTATE;
}

int cme__ct_check_stalls(CmeChunkTable *t, double now, double limit, CmeChunkRef *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&t->lock);
    for (int r = 0; r < t->nb_rungs && n < max; r++) {
        if (!t->counts[r][CME_CHUNK_ENCODING])
            continue;
        CmeChunkTableRung *tr = &t->rungs[r];
        for (size_t i = 0; i < tr->nb && n < max; i++) {
            CmeChunkRecord *c = &tr->c[i];
            if (c->state != CME_CHUNK_ENCODING || c->writing || now - c->t_progress < limit)
                continue;
            char msg[128];
            snprintf(msg, sizeof(msg), "no progress for %.1f s (stall_seconds = %g)",
                     now - c->t_progress, limit);
            record_failure(t, r, c, CME_FAIL_STALL, msg, now);
            out[n++] = (CmeChunkRef){ r, (uint32_t)i };
        }
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

int cme__ct_retry(CmeChunkTable *t, int rung, uint32_t index, int only_device, uint64_t avoid,
                  int crf, int preset, void **payload)
{
    *payload = NULL;
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = find(t, rung, index);
    int r = CME_ESTATE;
    if (c && c->state == CME_CHUNK_AWAITING_POLICY) {
        set_state(t, rung, c, CME_CHUNK_QUEUED);
        c->only_device = only_device;
        c->excluded |= avoid;
        c->crf = crf;
        c->preset = preset;
        c->decisions++;
        if (c->payload && t->payload_ref)
            t->payload_ref(c->payload);
        *payload = c->payload;
        r = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

int cme__ct_requeue(CmeChunkTable *t, int rung, uint32_t index, void *payload, CmeSegmentEntry *old)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = find(t, rung, index);
    int r = !c || !payload ? CME_EINVAL : c->state != CME_CHUNK_DONE ? CME_ESTATE : 0;
    if (r == 0) {
        set_state(t, rung, c, CME_CHUNK_QUEUED);
        if (old)
            *old = c->seg;
        c->requeues++;
        c->resumed = 0;
        c->only_device = -1;
        c->crf = c->preset = -1;
        if (t->payload_ref)
            t->payload_ref(payload);
        c->payload = payload;
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

int cme__ct_use(CmeChunkTable *t, int rung, uint32_t index, int crf, int preset)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = find(t, rung, index);
    int r = !c ? CME_EINVAL : c->state != CME_CHUNK_QUEUED ? CME_ESTATE : 0;
    if (r == 0) {
        c->crf = crf;
        c->preset = preset;
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

int cme__ct_give_up(CmeChunkTable *t, int rung, uint32_t index)
{
    void *payload = NULL;
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = find(t, rung, index);
    int r = CME_ESTATE;
    if (c && c->state == CME_CHUNK_AWAITING_POLICY) {
        set_state(t, rung, c, CME_CHUNK_FAILED);
        c->decisions++;
        payload = take_payload(c);
        r = 0;
    }
    pthread_mutex_unlock(&t->lock);
    if (payload && t->payload_unref)
        t->payload_unref(payload);
    return r;
}

int cme__ct_get(CmeChunkTable *t, int rung, uint32_t index, CmeChunkRecord *out)
{
    pthread_mutex_lock(&t->lock);
    CmeChunkRecord *c = find(t, rung, index);
    if (c)
        *out = *c;
    pthread_mutex_unlock(&t->lock);
    return c ? 0 : CME_EINVAL;
}

void cme__ct_counts(CmeChunkTable *t, int rung, int counts[CME_CHUNK_NB_STATES])
{
    pthread_mutex_lock(&t->lock);
    for (int s = 0; s < CME_CHUNK_NB_STATES; s++)
        counts[s] = rung >= 0 && rung < t->nb_rungs ? t->counts[rung][s] : 0;
    pthread_mutex_unlock(&t->lock);
}

int cme__ct_settled(CmeChunkTable *t)
{
    int settled = 1;
    pthread_mutex_lock(&t->lock);
    for (int r = 0; r < t->nb_rungs && settled; r++) {
        const CmeChunkTableRung *tr = &t->rungs[r];
        settled = tr->total >= 0 && (size_t)tr->total == tr->nb &&
                  t->counts[r][CME_CHUNK_DONE] + t->counts[r][CME_CHUNK_FAILED] == tr->total;
    }
    pthread_mutex_unlock(&t->lock);
    return settled;
}

int cme__ct_rung_pending(CmeChunkTable *t, int rung)
{
    pthread_mutex_lock(&t->lock);
    int n = rung >= 0 && rung < t->nb_rungs
                ? t->counts[rung][CME_CHUNK_QUEUED] + t->counts[rung][CME_CHUNK_AWAITING_POLICY]
                : 0;
    pthread_mutex_unlock(&t->lock);
    return n > 0;
}

int cme__ct_segments(CmeChunkTable *t, int rung, CmeSegmentEntry *out, size_t max)
{
    pthread_mutex_lock(&t->lock);
    int n = CME_EINVAL;
    if (rung >= 0 && rung < t->nb_rungs) {
        const CmeChunkTableRung *tr = &t->rungs[rung];
        n = 0;
        for (size_t i = 0; i < tr->nb && (size_t)n < max; i++) {
            if (tr->c[i].state != CME_CHUNK_DONE) {
                n = CME_ESTATE;
                break;
            }
            out[n++] = tr->c[i].seg;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t cme__ct_count(CmeChunkTable *t, int rung)
{
    pthread_mutex_lock(&t->lock);
    size_t n = rung >= 0 && rung < t->nb_rungs ? t->rungs[rung].nb : 0;
    pthread_mutex_unlock(&t->lock);
    return n;
}

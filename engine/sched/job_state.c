/*
 * Failure and events of a job (job_state.h): the first failure is recorded and closes
 * every queue; events are appended under a mutex for the policy thread, which takes them
 * with cme_engine_next_event (job/engine.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/job_state.h"

/* --- failure and events -------------------------------------------------------------- */

void cme__job_fail(CmeJob *job, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&job->fail_lock);
    if (!job->fail_code) {
        job->fail_code = code < 0 ? code : CME_EENCODER;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(job->fail_msg, sizeof(job->fail_msg), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&job->fail_lock);
    if (atomic_exchange(&job->failed, 1))
        return;
    for (int r = 0; r < job->nb_rungs; r++)
        cme__chunkq_close(&job->rungs[r].queue);
    cme__signal_notify(&job->work);
}

int cme__job_chunk_fail(CmeJob *job, int rung, uint32_t index, int attempt, int worker, int device,
                        int instance, CmeFailReason reason, const char *fmt, ...)
{
    CmeEvent ev = { .type = CME_EVENT_CHUNK_FAILED,
                    .rung = rung,
                    .index = index + 1,
                    .device = device,
                    .worker = worker,
                    .instance = instance,
                    .attempts = attempt,
                    .from_rung = -1,
                    .reason = reason };
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev.message, sizeof(ev.message), fmt, ap);
    va_end(ap);
    int r = cme__ct_fail(&job->ct, rung, index, attempt, reason, ev.message, cme__now());
    if (r < 0)
        return r; /* declared stalled or failed already: reported once */
    if (device >= 0 && device < CME_MAX_DEVICES)
        atomic_fetch_add(&job->dev_failures[device], 1);
    if (device >= 0) {
        pthread_mutex_lock(&job->pool->lock);
        snprintf(ev.device_id, sizeof(ev.device_id), "%s", job->pool->devices[device].id);
        pthread_mutex_unlock(&job->pool->lock);
    }
    cme__job_post(job, &ev);
    cme__signal_notify(&job->work);
    return 0;
}

void cme__job_post(CmeJob *job, const CmeEvent *in)
{
    CmeEvent stamped = *in;
    CmeEvent *ev = &stamped;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ev->wall_time = (double)now.tv_sec + now.tv_nsec / 1e9;
    pthread_mutex_lock(&job->events_lock);
    if (job->nb_events == job->events_cap) {
        /* Compact consumed events before growing. */
        if (job->events_head > 0) {
            memmove(job->events, job->events + job->events_head,
                    (job->nb_events - job->events_head) * sizeof(*job->events));
            job->nb_events -= job->events_head;
            job->events_head = 0;
        }
        if (job->nb_events == job->events_cap) {
            size_t cap = job->events_cap ? job->events_cap * 2 : 64;
            CmeEvent *e = realloc(job->events, cap * sizeof(*e));
            if (!e) {
                /* Events are reports; the job state itself is not lost without them. */
                pthread_mutex_unlock(&job->events_lock);
                return;
            }
            job->events = e;
            job->events_cap = cap;
        }
    }
    job->events[job->nb_events++] = *ev;
    pthread_cond_signal(&job->events_cond);
    pthread_mutex_unlock(&job->events_lock);
}

void cme__job_thread_exit(CmeJob *job)
{
    if (atomic_fetch_sub(&job->live_threads, 1) != 1)
        return;
    if (!job->fail_code) {
        /* Every thread is gone. The job ends only when every chunk is done or failed by a
         * decision; anything else would be a lost chunk, which must never pass silently. */
        if (!cme__ct_settled(&job->ct))
            cme__job_fail(job, CME_ESTATE,
                          "internal error: the threads ended with chunks "
                          "neither done nor failed");
        for (int r = 0; r < job->nb_rungs && !job->fail_code; r++) {
            CmeChunkRecord rec;
            for (uint32_t i = 0; cme__ct_get(&job->ct, r, i, &rec) == 0; i++) {
                if (rec.state == CME_CHUNK_FAILED) {
                    cme__job_fail(job, CME_EENCODER,
                                  "%s: segment %u failed (skipped by the policy after %d "
                                  "attempt%s; last: %s: %s)",
                                  job->rungs[r].set.name, i + 1, rec.attempt,
                                  rec.attempt == 1 ? "" : "s", cme_fail_reason_name(rec.reason),
                                  rec.message);
                    break;
                }
            }
        }
    }
    if (!job->fail_code && job->before_done)
        job->before_done(job);
    if (job->fail_code) {
        CmeEvent ev = { .type = CME_EVENT_FAILED, .rung = -1, .device = -1 };
        pthread_mutex_lock(&job->fail_lock);
        snprintf(ev.message, sizeof(ev.message), "%s", job->fail_msg);
        pthread_mutex_unlock(&job->fail_lock);
        cme__job_post(job, &ev);
    }
    CmeEvent done = { .type = CME_EVENT_JOB_DONE, .rung = -1, .device = -1 };
    cme__job_post(job, &done);
    /* If memory ran out the event above may be missing; this flag still ends the job for
     * the policy thread (cme_engine_next_event). */
    pthread_mutex_lock(&job->events_lock);
    job->threads_done = 1;
    pthread_cond_broadcast(&job->events_cond);
    pthread_mutex_unlock(&job->events_lock);
}

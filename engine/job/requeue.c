/*
 * Changing a running job by hand (the REPL's run:requeue and run:set; cmafeng/engine.h).
 *
 * A requeue encodes a finished segment again. The chunk table let go of the chunk's frames
 * when its segment was done (memory is bounded by the queues, not by the input), so the
 * frames are decoded again here, on the policy thread, from a second opening of the
 * source (media/reload.c, as a retry does): a seek to the key frame before the chunk, then
 * the frames whose timestamps fall in [segment start, segment end), turned upright as the
 * pump turned them. The timestamps come out as the pump's did (same origin, same
 * rescaling), so the new segment has the same tfdt, sample durations and name. The
 * chunk then goes done -> queued in the chunk table and to the head of the rung's queue,
 * and takes the normal worker path: a parked instance of the rung (its state kept, forced
 * key frame and sequence header at the chunk start), the codec invariant on its first
 * packet, an atomic write over the old file, the journal, and a SEGMENT_DONE event.
 *
 * No encoder instance is opened for a requeue: SVT-AV1 1.4.1 must not open one while
 * another encodes in the process, so the rung must still have an instance. Once a rung has
 * drained and retired its instances (at its end), and once the job has ended (every
 * instance closed), a requeue is refused with that reason.
 *
 * run:set changes the crf and preset of the chunks claimed from now on. They are encoder
 * settings fixed when an instance opens, so each such chunk gets an instance of its own
 * (the one-off path of a retry{crf, preset} decision): only backends whose capabilities
 * say an encoder may open mid-job allow it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/engine.h"
#include "core/limits.h"
#include "job/engine_state.h"
#include "media/reload.h"
#include "worker/worker.h"

/* The job still runs: its threads are there to take a chunk. */
static int running(CmeJob *job)
{
    if (!job->started || atomic_load(&job->failed))
        return 0;
    pthread_mutex_lock(&job->events_lock);
    int ended = job->threads_done;
    pthread_mutex_unlock(&job->events_lock);
    return !ended;
}

/* 1 when an encoder instance of the rung will take a queued chunk: a parked one of a
 * device not excluded from the rung, or, while the rung has not finished (its instances
 * are drained only once it has), a busy one that parks after its chunk. Sched lock held. */
static int rung_can_take(CmeJob *job, CmeRung *rung)
{
    const uint64_t ok = job->dev_mask & ~rung->excluded;
    for (CmeEncSlot *s = rung->parked; s; s = s->next)
        if (ok & (UINT64_C(1) << s->device))
            return 1;
    if (cme__chunkq_drained(&rung->queue) && !cme__ct_rung_pending(&job->ct, rung->index))
        return 0;
    for (int d = 0; d < CME_MAX_DEVICES; d++)
        if ((ok & (UINT64_C(1) << d)) && rung->open[d] > 0)
            return 1;
    return 0;
}

/* The frames of a done segment, decoded again from the source (media/reload.c): a complete
 * chunk (one reference, the caller's) whose timestamps and durations are the segment's. */
static int redecode(CmeJob *job, uint32_t index, const CmeSegmentEntry *seg, CmeSrcChunk **out,
                    char *err, size_t errlen)
{
    return cme__chunk_reload_span(job->source, index, job->chunk_frames, (int64_t)seg->start,
                                  (int64_t)(seg->start + seg->duration), out, err, errlen);
}

int cme_engine_requeue(CmeEngine *e, int rung, uint32_t index, char *err, size_t errlen)
{
    CmeJob *job = &e->job;
    err[0] = '\0';
    if (rung < 0 || rung >= job->nb_rungs) {
        snprintf(err, errlen, "rung %d: no such rung (1..%d)", rung + 1, job->nb_rungs);
        return CME_EINVAL;
    }
    CmeRung *rg = &job->rungs[rung];
    if (!running(job)) {
        snprintf(err, errlen,
                 "%s: segment %u: the job is not running; its encoder instances closed when "
                 "it ended (requeue while it runs, pausing it first if need be)",
                 rg->set.name, index + 1);
        return CME_ESTATE;
    }
    CmeChunkRecord rec;
    if (cme__ct_get(&job->ct, rung, index, &rec) < 0) {
        snprintf(err, errlen, "%s: segment %u: no such segment (%zu so far)", rg->set.name,
                 index + 1, cme__ct_count(&job->ct, rung));
        return CME_EINVAL;
    }
    if (rec.state != CME_CHUNK_DONE) {
        snprintf(err, errlen, "%s: segment %u is %s: only a finished segment can be requeued",
                 rg->set.name, index + 1, cme_chunk_state_name(rec.state));
        return CME_ESTATE;
    }
    static const char no_instance[] =
        "%s: segment %u: no encoder instance of the rung is left to encode it (the rung wrote "
        "its last segment and closed its encoders; SVT-AV1 1.4.1 cannot open one while others "
        "encode): requeue before a rung ends, pausing the job early to hold it";
    pthread_mutex_lock(&job->sched_lock);
    int can = rung_can_take(job, rg);
    pthread_mutex_unlock(&job->sched_lock);
    if (!can) {
        snprintf(err, errlen, no_instance, rg->set.name, index + 1);
        return CME_EUNSUPPORTED;
    }
    CmeSrcChunk *src = NULL;
    char why[512] = { 0 };
    int r = redecode(job, index, &rec.seg, &src, why, sizeof(why));
    if (r < 0) {
        snprintf(err, errlen, "%s: segment %u: cannot decode its frames again: %s", rg->set.name,
                 index + 1, why);
        return r;
    }
    CmeChunk *c = calloc(1, sizeof(*c));
    if (!c) {
        cme__src_chunk_unref(&src);
        snprintf(err, errlen, "out of memory");
        return CME_ENOMEM;
    }
    CmeSegmentEntry old;
    /* Under the sched lock, no worker can decide meanwhile that the rung has finished and
     * drain the instance this chunk needs. Lock order: sched_lock -> queue lock; the chunk
     * table's lock is a leaf. */
    pthread_mutex_lock(&job->sched_lock);
    r = rung_can_take(job, rg) ? 0 : CME_EUNSUPPORTED;
    if (r == 0)
        r = cme__ct_requeue(&job->ct, rung, index, src, &old);
    if (r == 0) {
        c->rung = rung;
        c->index = index;
        c->attempts = rec.attempt;
        c->excluded = rec.excluded;
        c->crf = c->preset = -1;
        c->payload = src; /* the ticket takes our reference; the table took its own */
        cme__chunkq_requeue(&rg->queue, c);
        /* The segment is not done any more: the progress counters follow the table. */
        atomic_fetch_sub(&rg->segments_done, 1);
        if (!rec.resumed)
            atomic_fetch_sub(&rg->ticks_done, old.duration);
    }
    pthread_mutex_unlock(&job->sched_lock);
    if (r < 0) {
        free(c);
        cme__src_chunk_unref(&src);
        if (r == CME_EUNSUPPORTED)
            snprintf(err, errlen, no_instance, rg->set.name, index + 1);
        else
            snprintf(err, errlen, "%s: segment %u: %s", rg->set.name, index + 1,
                     r == CME_ESTATE ? "it is no longer done (requeued already?)"
                                     : cme_strerror(r));
        return r;
    }
    cme__signal_notify(&job->work);
    return 0;
}

int cme_engine_set_rung(CmeEngine *e, int rung, int crf, int preset, char *err, size_t errlen)
{
    CmeJob *job = &e->job;
    err[0] = '\0';
    if (rung < 0 || rung >= job->nb_rungs) {
        snprintf(err, errlen, "rung %d: no such rung (1..%d)", rung + 1, job->nb_rungs);
        return CME_EINVAL;
    }
    CmeRung *rg = &job->rungs[rung];
    if (crf != -1 && (crf < CME_LIMIT_MIN_CRF || crf > CME_LIMIT_MAX_CRF)) {
        snprintf(err, errlen, "%s: crf: expected %d..%d, got %d", rg->set.name, CME_LIMIT_MIN_CRF,
                 CME_LIMIT_MAX_CRF, crf);
        return CME_EINVAL;
    }
    if (preset != -1 && (preset < 0 || preset > CME_LIMIT_MAX_PRESET)) {
        snprintf(err, errlen, "%s: preset: expected 0..%d, got %d", rg->set.name,
                 CME_LIMIT_MAX_PRESET, preset);
        return CME_EINVAL;
    }
    if (!running(job)) {
        snprintf(err, errlen, "%s: the job is not running", rg->set.name);
        return CME_ESTATE;
    }
    /* Every device that serves the rung must be able to open an encoder mid-job, and take
     * the new values in its own range (the checks a recipe's rung gets before a job). */
    CmeRungSettings want = rg->set;
    if (crf != -1)
        want.crf = crf;
    if (preset != -1)
        want.preset = preset;
    pthread_mutex_lock(&job->sched_lock);
    const uint64_t excluded = rg->excluded;
    int cap[CME_MAX_DEVICES];
    memcpy(cap, rg->cap, sizeof(cap));
    pthread_mutex_unlock(&job->sched_lock);
    for (int d = 0; d < CME_MAX_DEVICES; d++) {
        if (cap[d] <= 0 || (excluded & (UINT64_C(1) << d)))
            continue;
        CmeDevice dev;
        pthread_mutex_lock(&job->pool->lock);
        dev = job->pool->devices[d];
        pthread_mutex_unlock(&job->pool->lock);
        if (!dev.midjob_open) {
            snprintf(err, errlen,
                     "%s: %s (backend %s) cannot change crf or preset mid-job: SVT-AV1 1.4.1 "
                     "takes them only when an encoder opens (there is no per-picture crf; its "
                     "per-picture qp works only in an encoder opened for fixed qp), and no "
                     "encoder may open while another encodes in the process; set them in the "
                     "recipe, or serve the rung with a lavc device (aom, rav1e)",
                     rg->set.name, dev.id, cme__backend_name(dev.backend));
            return CME_EUNSUPPORTED;
        }
        char why[256] = { 0 };
        if (cme__encoder_check_rung(&want, &dev, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s: %s: %s", rg->set.name, dev.id, why);
            return CME_EINVAL;
        }
    }
    pthread_mutex_lock(&job->sched_lock);
    rg->set_crf = crf != -1 ? crf : rg->set_active ? rg->set_crf : -1;
    rg->set_preset = preset != -1 ? preset : rg->set_active ? rg->set_preset : -1;
    rg->set_active = rg->set_crf >= 0 || rg->set_preset >= 0;
    pthread_mutex_unlock(&job->sched_lock);
    return 0;
}

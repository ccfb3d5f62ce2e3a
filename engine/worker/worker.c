/*
 * The worker: one thread per leased device slot. It claims a chunk and a parked encoder
 * instance of its device on the chunk's rung (sched lock), records the attempt in the
 * chunk table, scales the chunk's shared source frames to the rung, feeds the instance,
 * checks the codec invariant on the first packet of each chunk, and writes each finished
 * chunk as one media segment with a fresh muxer configured with the segment's index and
 * base decode time, so the file is the same whichever worker produced it.
 *
 * A worker decides nothing about failures: every failed attempt goes through
 * cme__job_chunk_fail (the chunk waits for the policy) and the worker goes on with the
 * next chunk. No Lua here.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "cmafeng/av1.h"
#include "cmafeng/common.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/outpath.h"
#include "media/reload.h"
#include "worker/worker.h"

typedef struct Worker {
    CmeJob *job;
    int id; /* worker number, for events and the chunk table */
    int last_rung;
    CmeLease lease;
    int device;
    CmeDevice dev;
    struct SwsContext *sws[CME_MAX_RUNGS];
    AVFrame *scaled[CME_MAX_RUNGS];
    char err[512];
} Worker;

typedef enum Claim {
    CLAIM_WAIT,
    CLAIM_CHUNK,      /* a chunk and a parked instance */
    CLAIM_ONE_OFF,    /* a chunk with other settings (a retry decision): its own instance */
    CLAIM_FLUSH,      /* an instance of a finished rung to drain */
    CLAIM_RESUME,     /* an instance whose chunk was suspended: send the rest */
    CLAIM_UNSERVABLE, /* a chunk no instance may take: fail it */
    CLAIM_DONE
} Claim;

static void inflight_free(CmeInflight **pi)
{
    CmeInflight *inf = *pi;
    if (!inf)
        return;
    cme__buf_free(&inf->data);
    free(inf->samples);
    free(inf);
    *pi = NULL;
}

void cme__chunk_ticket_free(CmeChunk **pc)
{
    CmeChunk *c = *pc;
    if (!c)
        return;
    CmeSrcChunk *src = c->payload;
    cme__src_chunk_unref(&src);
    free(c);
    *pc = NULL;
}

void cme__slot_discard(CmeJob *job, CmeEncSlot **ps)
{
    CmeEncSlot *slot = *ps;
    if (!slot)
        return;
    cme__encoder_close(&slot->enc); /* drains EOS itself: SVT hangs otherwise */
    while (slot->head) {
        CmeInflight *inf = slot->head;
        slot->head = inf->next;
        cme__chunk_ticket_free(&inf->chunk);
        inflight_free(&inf);
    }
    free(slot);
    *ps = NULL;
}

/* --- claiming work ------------------------------------------------------------------ */

/* 1 when the instance holds a chunk whose frames are not all sent yet (it was suspended
 * while the frame budget was spent); no other chunk may go into it before that one. */
static int suspended(const CmeEncSlot *s)
{
    return s->tail && !s->tail->sealed;
}

/* Unlinks and returns the first parked instance of a device on a rung that can take a new
 * chunk. Sched lock held. */
static CmeEncSlot *unpark(CmeRung *rung, int device)
{
    for (CmeEncSlot **pp = &rung->parked; *pp; pp = &(*pp)->next) {
        if ((*pp)->device == device && !suspended(*pp)) {
            CmeEncSlot *s = *pp;
            *pp = s->next;
            s->next = NULL;
            return s;
        }
    }
    return NULL;
}

/*
 * The parked instance of device d to drain now that its rung is finished, or NULL. Draining
 * (EOS) ends an instance and is most of its work at the end (the encoder's look-ahead):
 * drains of instances that are safe run in parallel. An instance is risky while it holds a
 * chunk whose sequence header was not checked at start, or when its device has failed
 * before: if its drain fails, the chunks it held go back to the policy and need an instance
 * still open, and none can be opened mid-job (SVT-AV1 1.4.1). So while any parked instance
 * of the rung is risky, the rung drains one instance at a time (none busy), the riskiest
 * first, and the safe ones are still open to take the retries. Only the device's own
 * workers drain its instances. Sched lock held.
 */
static int flush_rank(const CmeJob *job, const CmeEncSlot *s)
{
    int suspect = atomic_load(&((CmeJob *)job)->dev_failures[s->device]) > 0;
    /* A chunk whose first packet has not come back has not met the codec invariant yet. */
    int unverified = 0;
    for (const CmeInflight *i = s->head; i && !unverified; i = i->next)
        unverified = i->received == 0 && !i->drop && !s->header_checked;
    return (unverified ? 4 : 0) + (s->head ? 2 : 0) + suspect;
}

#define RISKY(rank) ((rank) >= 4 || ((rank)&1))

static CmeEncSlot *unpark_to_flush(CmeJob *job, CmeRung *rung, int d)
{
    int best = -1;
    for (CmeEncSlot *s = rung->parked; s; s = s->next)
        if (!suspended(s) && flush_rank(job, s) > best)
            best = flush_rank(job, s);
    if (best < 0)
        return NULL;
    /* A busy instance may be a risky one about to park: a rung with instances whose header
     * was not checked at start, or on a device that failed, drains one at a time too. */
    int failing = 0;
    for (int dv = 0; dv < CME_MAX_DEVICES && !failing; dv++)
        failing = rung->open[dv] > 0 && atomic_load(&job->dev_failures[dv]) > 0;
    const int one_at_a_time = RISKY(best) || rung->unchecked || failing;
    if (one_at_a_time && rung->busy_encoders > 0)
        return NULL;
    for (CmeEncSlot **pp = &rung->parked; *pp; pp = &(*pp)->next) {
        CmeEncSlot *s = *pp;
        int rank = flush_rank(job, s);
        /* One at a time: only the riskiest. In parallel: any of this device's, those holding
         * chunks first (best is then 2 or more). */
        if (s->device == d && !suspended(s) &&
            (one_at_a_time ? rank == best : rank >= (best & 2))) {
            *pp = s->next;
            s->next = NULL;
            return s;
        }
    }
    return NULL;
}

/* Devices with an instance open on the rung and not excluded from it. Sched lock held. */
static uint64_t servable_devices(const CmeJob *job, const CmeRung *rung)
{
    uint64_t m = 0;
    for (int d = 0; d < CME_MAX_DEVICES; d++)
        if ((job->dev_mask & (UINT64_C(1) << d)) && rung->open[d] > 0)
            m |= UINT64_C(1) << d;
    return m & ~rung->excluded;
}

/* 1 when the rung will never again give this device work: its queue is closed and empty and
 * the chunk table has nothing queued or awaiting a decision for it. */
static int rung_finished(CmeJob *job, CmeRung *rung)
{
    return cme__chunkq_drained(&rung->queue) && !cme__ct_rung_pending(&job->ct, rung->index);
}

/*
 * Chooses the next piece of work under the sched lock. A chunk is taken only together with
 * a parked instance of the worker's device on the chunk's rung: instances are opened before
 * the job starts (SVT-AV1 1.4.1 cannot open one while others encode), so a rung's
 * parallelism is its number of instances. Among the rungs this worker can serve, the
 * policy's preferred rung (pick_rung) goes first, then the one furthest behind in frames
 * fed. A chunk no instance of any device may take is handed out to be failed (it would
 * wait forever). With nothing to take, the worker drains a parked instance of a finished
 * rung, or waits.
 */
static Claim claim(Worker *w, CmeChunk **out_chunk, CmeEncSlot **out_slot)
{
    CmeJob *job = w->job;
    const int d = w->device;
    const uint64_t bit = UINT64_C(1) << d;
    Claim result = CLAIM_WAIT;
    *out_chunk = NULL;
    *out_slot = NULL;
    pthread_mutex_lock(&job->sched_lock);
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        if (cme__chunkq_pop_unservable(&rung->queue, servable_devices(job, rung), out_chunk) == 0) {
            result = CLAIM_UNSERVABLE;
            goto out;
        }
    }
    /* A suspended chunk goes on first, once its next frame is there (a paused job still
     * finishes the chunks it began). */
    for (int r = 0; r < job->nb_rungs; r++) {
        for (CmeEncSlot **pp = &job->rungs[r].parked; *pp; pp = &(*pp)->next) {
            CmeEncSlot *s = *pp;
            if (s->device != d || !suspended(s) ||
                !cme__src_chunk_ready(s->tail->src, s->tail->sent))
                continue;
            *pp = s->next;
            s->next = NULL;
            job->rungs[r].busy_encoders++;
            *out_slot = s;
            result = CLAIM_RESUME;
            goto out;
        }
    }
    if (atomic_load(&job->paused))
        goto out;
    int best = -1;
    uint64_t best_fed = 0;
    const int prefer = atomic_load(&job->prefer_rung);
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        if (rung->excluded & bit)
            continue; /* this device's bitstream does not fit the rendition */
        if (cme__chunkq_peek_index(&rung->queue, d) < 0)
            continue;
        int mine = 0;
        for (CmeEncSlot *s = rung->parked; s && !mine; s = s->next)
            mine = s->device == d && !suspended(s);
        if (!mine)
            continue; /* every instance of this device on the rung is busy */
        uint64_t fed = atomic_load(&rung->frames_fed);
        if (r == prefer) {
            best = r;
            break;
        }
        if (best < 0 || fed < best_fed) {
            best = r;
            best_fed = fed;
        }
    }
    if (best >= 0) {
        CmeRung *rung = &job->rungs[best];
        CmeChunk *c = NULL;
        if (cme__chunkq_try_pop(&rung->queue, d, &c) == 0) {
            /* run:set (cme_engine_set_rung, allowed only where every serving device can
             * open mid-job): a chunk without a decision's own settings takes the new ones. */
            if (rung->set_active && c->crf < 0 && c->preset < 0 && w->dev.midjob_open) {
                c->crf = rung->set_crf;
                c->preset = rung->set_preset;
                cme__ct_use(&job->ct, best, c->index, c->crf, c->preset);
            }
            /* A retry with another crf or preset gets an instance of its own, opened for it:
             * cme_engine_decide allowed it only on devices whose backend can open one
             * mid-job. The rung's instances keep their settings. */
            const int one_off = (c->crf >= 0 || c->preset >= 0) && w->dev.midjob_open;
            *out_slot = one_off ? NULL : unpark(rung, d);
            rung->busy_encoders++;
            *out_chunk = c;
            result = one_off ? CLAIM_ONE_OFF : CLAIM_CHUNK;
        }
        goto out;
    }
    int all_done = cme__ct_settled(&job->ct);
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        int finished = rung_finished(job, rung);
        if (finished && (*out_slot = unpark_to_flush(job, rung, d))) {
            rung->busy_encoders++;
            result = CLAIM_FLUSH;
            goto out;
        }
        if (!finished || rung->parked || rung->busy_encoders)
            all_done = 0;
    }
    if (all_done)
        result = CLAIM_DONE;
out:
    pthread_mutex_unlock(&job->sched_lock);
    return result;
}

static void park(Worker *w, CmeEncSlot *slot)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[slot->rung];
    pthread_mutex_lock(&job->sched_lock);
    /* At the tail: the instances of a rung take turns, so N workers keep N busy. */
    CmeEncSlot **pp = &rung->parked;
    while (*pp)
        pp = &(*pp)->next;
    slot->next = NULL;
    *pp = slot;
    rung->busy_encoders--;
    pthread_mutex_unlock(&job->sched_lock);
    cme__signal_notify(&job->work);
}

/* The worker is done with an instance that will encode nothing more (drained at the end of
 * its rung, or broken): it leaves the rung and waits for the teardown, which closes it.
 * Closing an SVT-AV1 1.4.1 instance while others encode is not safe either. */
static void retire(Worker *w, CmeEncSlot *slot)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[slot->rung];
    pthread_mutex_lock(&job->sched_lock);
    rung->busy_encoders--;
    rung->open[slot->device]--;
    slot->next = job->retired;
    job->retired = slot;
    pthread_mutex_unlock(&job->sched_lock);
    cme__signal_notify(&job->work);
}

/* A one-off instance is gone: the rung has one busy instance less. */
static void unbusy_one_off(Worker *w, int rung)
{
    pthread_mutex_lock(&w->job->sched_lock);
    w->job->rungs[rung].busy_encoders--;
    pthread_mutex_unlock(&w->job->sched_lock);
    cme__signal_notify(&w->job->work);
}

/* --- failures ----------------------------------------------------------------------- */

/* Fails the attempt of one chunk in flight (once) and drops its packets from now on. */
static void fail_inflight(Worker *w, CmeEncSlot *slot, CmeInflight *inf, CmeFailReason reason,
                          const char *msg)
{
    inf->drop = 1;
    if (inf->failed)
        return;
    inf->failed = 1;
    cme__job_chunk_fail(w->job, slot->rung, inf->chunk->index, inf->attempt, w->id, w->device,
                        slot->instance, reason, "%s", msg);
}

/* The instance itself failed (a packet out of order, a receive or flush error): every chunk
 * it holds fails, and it takes no more. */
static void break_slot(Worker *w, CmeEncSlot *slot, CmeFailReason reason, const char *msg)
{
    slot->broken = 1;
    for (CmeInflight *inf = slot->head; inf; inf = inf->next)
        fail_inflight(w, slot, inf, reason, msg);
}

/* --- output ------------------------------------------------------------------------- */

/* Writes init.mp4 from the rung's invariant (CmeRungInitWriter). Called with rung->lock held,
 * once. */
static int write_init(void *opaque, CmeRung *rung)
{
    Worker *w = opaque;
    uint8_t av1c[1024];
    size_t av1c_size = 0;
    int r = cme_av1_write_av1c(&rung->seq, rung->seq_obu, rung->seq_obu_size, av1c, sizeof(av1c),
                               &av1c_size);
    if (r < 0) {
        snprintf(w->err, sizeof(w->err), "%s: cannot build av1C: %s", rung->set.name,
                 cme_strerror(r));
        return r;
    }
    const CmeAv1ColorConfig *cc = &rung->seq.color;
    CmeVideoTrack t = {
        .track_id = 1,
        .timescale = CME_TIMESCALE,
        .width = (uint32_t)rung->seq.max_frame_width_minus_1 + 1,
        .height = (uint32_t)rung->seq.max_frame_height_minus_1 + 1,
        .sar_num = 1,
        .sar_den = 1,
        .av1c = av1c,
        .av1c_size = av1c_size,
        .color_primaries = cc->color_primaries,
        .transfer_characteristics = cc->transfer_characteristics,
        .matrix_coefficients = cc->matrix_coefficients,
        .full_range = cc->color_range,
        .hdr = w->job->set.hdr, /* mdcv/clli: what the encoder wrote as metadata OBUs */
    };
    CmeBuf b = { 0 };
    r = cme_mux_write_init(&b, &t);
    char path[2048];
    if (r == 0)
        r = cme__outpath(path, sizeof(path), w->job->output, rung->set.name, CME_OUT_INIT);
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, w->err, sizeof(w->err));
    else
        snprintf(w->err, sizeof(w->err), "%s: cannot write the init segment: %s", rung->set.name,
                 cme_strerror(r));
    cme__buf_free(&b);
    return r;
}

typedef enum Check { CHECK_SET, CHECK_MATCH, CHECK_MISMATCH, CHECK_MALFORMED, CHECK_ERROR } Check;

/* Describes the fields that differ ("seq_level_idx[0] 0 != 19, ...") into slot->mismatch. */
static void describe_mismatch(CmeEncSlot *slot, const CmeAv1FieldDiff *diffs, int n)
{
    size_t len = 0;
    slot->mismatch[0] = '\0';
    if (n < 0) {
        snprintf(slot->mismatch, sizeof(slot->mismatch), "comparison failed: %s", cme_strerror(n));
        return;
    }
    for (int i = 0; i < n && i < 8; i++) {
        int k = snprintf(slot->mismatch + len, sizeof(slot->mismatch) - len, "%s%s %lld != %lld",
                         i ? ", " : "", diffs[i].field, diffs[i].a, diffs[i].b);
        if (k < 0 || (size_t)k >= sizeof(slot->mismatch) - len)
            break;
        len += (size_t)k;
    }
}

/*
 * The codec invariant (DESIGN.md section 3) on the first packet of a chunk. The first valid
 * packet sets the rung's invariant (and writes init.mp4), unless the rung expects a header
 * read at start from its first device: then a first packet that differs from it is a
 * mismatch, so a device whose stream changed cannot become the reference by being fast.
 */
static Check check_invariant(Worker *w, CmeEncSlot *slot, const uint8_t *data, size_t size)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[slot->rung];
    CmeAv1Obu obu;
    CmeAv1SeqHdr seq;
    char perr[256] = { 0 };
    int r = cme_av1_find_seq_hdr(data, size, &obu, &seq, perr, sizeof(perr));
    if (r < 0) {
        snprintf(w->err, sizeof(w->err),
                 "%s: the %s encoder emitted no valid sequence header at a segment start "
                 "(%s): a configuration bug",
                 rung->set.name, w->dev.id, r == CME_EOF ? "none found" : perr);
        return CHECK_MALFORMED;
    }
    CmeAv1FieldDiff diffs[8];
    int n = 0;
    r = cme__rung_check_invariant(rung, job->set.invariant, &seq, obu.data, obu.size, diffs, 8, &n,
                                  write_init, w);
    if (r == CME_ENOMEM)
        snprintf(w->err, sizeof(w->err), "out of memory");
    if (r < 0)
        return CHECK_ERROR; /* w->err says why (write_init sets it) */
    if (r == CME_INVARIANT_MATCH)
        return CHECK_MATCH;
    if (r == CME_INVARIANT_MISMATCH) {
        describe_mismatch(slot, diffs, n);
        return CHECK_MISMATCH;
    }
    CmeEvent ev = { .type = CME_EVENT_INIT_WRITTEN,
                    .rung = rung->index,
                    .device = w->device,
                    .worker = -1,
                    .instance = -1,
                    .from_rung = -1,
                    .timescale = CME_TIMESCALE };
    snprintf(ev.device_id, sizeof(ev.device_id), "%s", w->dev.id);
    snprintf(ev.codecs, sizeof(ev.codecs), "%s", rung->codecs);
    cme__job_post(job, &ev);
    return CHECK_SET;
}

/* Writes the segment of a chunk whose packets are all back: 0, or the attempt failed
 * (chunk_fail done here). A chunk declared stalled meanwhile is dropped silently: its
 * retry owns the segment now. */
static void finalize_segment(Worker *w, CmeEncSlot *slot, CmeInflight *inf)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[slot->rung];
    CmeSrcChunk *src = inf->src;
    const uint32_t index = inf->chunk->index;
    if (cme__ct_write_begin(&job->ct, slot->rung, index, inf->attempt) < 0)
        return;
    for (int i = 0; i < src->nb_frames; i++)
        inf->samples[i].duration = (uint32_t)src->duration[i];
    CmeSegmentInfo seg = {
        .track_id = 1,
        .sequence_number = index + 1,
        .base_decode_time = (uint64_t)src->pts[0],
    };
    CmeBuf b = { 0 };
    int r = cme__buf_status(&inf->data);
    if (r == 0)
        r = cme_mux_write_segment(&b, &seg, inf->samples, (size_t)src->nb_frames, inf->data.data,
                                  inf->data.size);
    char name[32], path[2048];
    cme__outname_segment(name, sizeof(name), seg.sequence_number, "m4s");
    if (r < 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s/%s: muxing failed: %s", rung->set.name, name,
                 cme_strerror(r));
        cme__buf_free(&b);
        fail_inflight(w, slot, inf, CME_FAIL_MUX, msg);
        return;
    }
    r = cme__outpath(path, sizeof(path), job->output, rung->set.name, name);
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, w->err, sizeof(w->err));
    else
        snprintf(w->err, sizeof(w->err), "%s/%s: path too long", rung->set.name, name);
    uint64_t bytes = b.size;
    cme__buf_free(&b);
    if (r < 0) {
        fail_inflight(w, slot, inf, CME_FAIL_WRITE, w->err);
        return;
    }
    uint64_t duration = 0;
    for (int i = 0; i < src->nb_frames; i++)
        duration += (uint64_t)src->duration[i];
    CmeSegmentEntry done = { .start = seg.base_decode_time, .duration = duration, .bytes = bytes };
    const double now = cme__now();
    double t_begin = inf->t_start;
    if (cme__ct_done(&job->ct, slot->rung, index, inf->attempt, &done, now) < 0)
        return; /* cannot happen: the write began in this attempt */
    atomic_fetch_add(&rung->segments_done, 1);
    atomic_fetch_add(&rung->ticks_done, duration);
    if (job->segment_written)
        job->segment_written(job, rung, index, &done);
    CmeChunkRecord rec;
    const int requeued = cme__ct_get(&job->ct, slot->rung, index, &rec) == 0 && rec.requeues > 0;

    CmeEvent ev = {
        .type = CME_EVENT_SEGMENT_DONE,
        .rung = rung->index,
        .index = seg.sequence_number,
        .bytes = bytes,
        .start = seg.base_decode_time,
        .duration = duration,
        .timescale = CME_TIMESCALE,
        .frames = (uint32_t)src->nb_frames,
        .device = w->device,
        .worker = w->id,
        .instance = slot->instance,
        .attempts = inf->attempt,
        .from_rung = -1,
        .encode_seconds = now - t_begin,
        .requeued = requeued,
    };
    snprintf(ev.device_id, sizeof(ev.device_id), "%s", w->dev.id);
    cme__job_post(job, &ev);
}

static int append_sample(CmeBuf *dst, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    size_t before = dst->size;
    CmeAv1Obu obu;
    int r;
    while ((r = cme_av1_obu_next(&p, &n, &obu, err, errlen)) == 1) {
        if (obu.type != CME_OBU_TEMPORAL_DELIMITER)
            cme__buf_append(dst, obu.data, obu.size);
    }
    if (r < 0)
        return r;
    return cme__buf_status(dst) < 0 ? CME_ENOMEM : (int)(dst->size - before);
}

static void finish_heads(Worker *w, CmeEncSlot *slot);

/* The codec invariant on the first packet of a chunk; a mismatch fails the attempt and
 * excludes the device from the rung (its instances all share the configuration that made
 * the different sequence header). */
static void first_packet(Worker *w, CmeEncSlot *slot, CmeInflight *inf, const CmeEncPacket *pkt)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[slot->rung];
    switch (check_invariant(w, slot, pkt->data, pkt->size)) {
    case CHECK_SET:
    case CHECK_MATCH: break;
    case CHECK_MISMATCH: {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "%.31s segment %u: %.31s produced an incompatible sequence header (%.380s)",
                 rung->set.name, inf->chunk->index + 1, w->dev.id, slot->mismatch);
        /* This instance's stream cannot continue the rendition: drain it and retire it. */
        slot->bad = 1;
        int newly = 0;
        pthread_mutex_lock(&job->sched_lock);
        if (!(rung->excluded & (UINT64_C(1) << w->device))) {
            rung->excluded |= UINT64_C(1) << w->device;
            newly = 1;
        }
        pthread_mutex_unlock(&job->sched_lock);
        if (newly) {
            CmeEvent ev = { .type = CME_EVENT_DEVICE_EXCLUDED,
                            .rung = rung->index,
                            .index = inf->chunk->index + 1,
                            .device = w->device,
                            .worker = w->id,
                            .instance = slot->instance,
                            .attempts = inf->attempt,
                            .from_rung = -1,
                            .reason = CME_FAIL_INVARIANT };
            snprintf(ev.device_id, sizeof(ev.device_id), "%s", w->dev.id);
            snprintf(ev.message, sizeof(ev.message), "%s", msg);
            cme__job_post(job, &ev);
        }
        /* Every chunk this instance holds fails with it: the later ones were encoded by the
         * same stream and are dropped too. */
        for (CmeInflight *i = slot->head; i; i = i->next)
            fail_inflight(w, slot, i, CME_FAIL_INVARIANT, msg);
        break;
    }
    case CHECK_MALFORMED: fail_inflight(w, slot, inf, CME_FAIL_BITSTREAM, w->err); break;
    case CHECK_ERROR: fail_inflight(w, slot, inf, CME_FAIL_WRITE, w->err); break;
    }
}

static void handle_packet(Worker *w, CmeEncSlot *slot, const CmeEncPacket *pkt)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[slot->rung];
    /* The packet belongs to the oldest chunk still waiting for packets. */
    CmeInflight *inf = slot->head;
    while (inf && inf->sealed && inf->received == inf->sent)
        inf = inf->next;
    char msg[256];
    if (!inf) {
        snprintf(msg, sizeof(msg), "%s: the encoder on %s returned more packets than frames",
                 rung->set.name, w->dev.id);
        break_slot(w, slot, CME_FAIL_RECEIVE, msg);
        return;
    }
    if (pkt->pts != slot->next_out_pts) {
        snprintf(msg, sizeof(msg),
                 "%s: the encoder on %s returned pts %lld where %lld was due: output is not "
                 "one packet per frame in order",
                 rung->set.name, w->dev.id, (long long)pkt->pts, (long long)slot->next_out_pts);
        break_slot(w, slot, CME_FAIL_RECEIVE, msg);
        return;
    }
    slot->next_out_pts++;
    cme__ct_progress(&job->ct, slot->rung, inf->chunk->index, inf->attempt, cme__now());
    if (inf->received == 0 && !inf->drop && !slot->bad)
        first_packet(w, slot, inf, pkt);
    if (slot->bad)
        inf->drop = 1;
    if (!inf->drop) {
        char perr[200] = { 0 };
        int n = append_sample(&inf->data, pkt->data, pkt->size, perr, sizeof(perr));
        CmeAv1TuInfo tu;
        int tr =
            n >= 0 ? cme_av1_tu_info(pkt->data, pkt->size, &rung->seq, &tu, perr, sizeof(perr)) : n;
        if (tr < 0) {
            snprintf(msg, sizeof(msg), "%s: segment %u frame %d: malformed packet from %s: %s",
                     rung->set.name, inf->chunk->index + 1, inf->received, w->dev.id, perr);
            fail_inflight(w, slot, inf, CME_FAIL_BITSTREAM, msg);
        } else if (inf->received == 0 && !tu.is_sync) {
            snprintf(msg, sizeof(msg), "%s: segment %u from %s does not start with a key frame",
                     rung->set.name, inf->chunk->index + 1, w->dev.id);
            fail_inflight(w, slot, inf, CME_FAIL_BITSTREAM, msg);
        } else {
            CmeSample *s = &inf->samples[inf->received];
            s->size = (uint32_t)n;
            s->sync = tu.is_sync; /* the duration is final only once the chunk is complete */
            atomic_fetch_add(&rung->frames_encoded, 1);
        }
    }
    inf->received++;
}

/* Writes (or lets go of) the chunks at the head of the instance whose packets are all back.
 * Called after every packet and after a chunk's last frame is sent. */
static void finish_heads(Worker *w, CmeEncSlot *slot)
{
    CmeInflight *inf;
    while ((inf = slot->head) != NULL && inf->sealed && inf->received == inf->sent) {
        slot->head = inf->next;
        if (!slot->head)
            slot->tail = NULL;
        if (!inf->drop)
            finalize_segment(w, slot, inf);
        else if (!inf->failed) /* never expected: a dropped chunk is always failed */
            fail_inflight(w, slot, inf, CME_FAIL_RECEIVE, "the chunk's packets were dropped");
        cme__chunk_ticket_free(&inf->chunk);
        inflight_free(&inf);
    }
}

/* An encoder call the policy thread can watch (CmeWorkerCall): a worker the job gave up
 * while it was inside the library leaves as soon as the call returns, touching nothing. */
static void call_enter(Worker *w, const CmeEncSlot *slot)
{
    CmeWorkerCall *c = &w->job->calls[w->id];
    atomic_store(&c->rung, slot->rung);
    atomic_store(&c->device, w->device);
    atomic_store(&c->since_us, (long long)(cme__now() * 1e6) + 1);
}

static void call_leave(Worker *w)
{
    CmeWorkerCall *c = &w->job->calls[w->id];
    atomic_store(&c->since_us, 0);
    if (atomic_load(&c->abandoned))
        pthread_exit(NULL);
}

static int encoder_send(Worker *w, CmeEncSlot *slot, const CmeEncFrame *f)
{
    call_enter(w, slot);
    int r = cme__encoder_send(slot->enc, f);
    call_leave(w);
    return r;
}

static int encoder_receive(Worker *w, CmeEncSlot *slot, CmeEncPacket *pkt)
{
    call_enter(w, slot);
    int r = cme__encoder_receive(slot->enc, pkt);
    call_leave(w);
    return r;
}

/* Receives every packet available now (until_eof: until the EOS has drained). An error of
 * the encoder breaks the instance: its chunks fail, it encodes nothing more. */
static void drain(Worker *w, CmeEncSlot *slot, int until_eof)
{
    while (!slot->broken) {
        CmeEncPacket pkt;
        int r = encoder_receive(w, slot, &pkt);
        if (r == CME_EAGAIN && !until_eof)
            break;
        if (r == CME_EAGAIN)
            continue;
        if (r == CME_EOF)
            break;
        if (r < 0) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s: the encoder on %s failed returning a packet: %s",
                     w->job->rungs[slot->rung].set.name, w->dev.id, cme_strerror(r));
            break_slot(w, slot, until_eof ? CME_FAIL_FLUSH : CME_FAIL_RECEIVE, msg);
            break;
        }
        handle_packet(w, slot, &pkt);
    }
    finish_heads(w, slot);
}

/* --- encoding ----------------------------------------------------------------------- */

int cme__slot_open(CmeJob *job, int r, int device, CmeEncSlot **out, char *err, size_t errlen)
{
    return cme__slot_open_with(job, r, device, -1, -1, out, err, errlen);
}

int cme__slot_open_with(CmeJob *job, int r, int device, int crf, int preset, CmeEncSlot **out,
                        char *err, size_t errlen)
{
    CmeRung *rung = &job->rungs[r];
    CmeDevice dev;
    pthread_mutex_lock(&job->pool->lock);
    dev = job->pool->devices[device];
    pthread_mutex_unlock(&job->pool->lock);
    CmeEncSlot *slot = calloc(1, sizeof(*slot));
    if (!slot)
        return CME_ENOMEM;
    slot->rung = r;
    slot->device = device;
    CmeEncoderSettings s = {
        .width = rung->set.width,
        .height = rung->set.height,
        .fps_num = job->info.fps_num,
        .fps_den = job->info.fps_den,
        .bit_depth = rung->set.bit_depth == 10 ? 10 : 8,
        .crf = crf >= 0 ? crf : rung->set.crf,
        .preset = preset >= 0 ? preset : rung->set.preset,
        .threads = dev.threads,
        .level = dev.level,
        .keyint = job->chunk_frames,
        .color_primaries = job->color_primaries,
        .transfer_characteristics = job->transfer,
        .matrix_coefficients = job->matrix,
        .full_range = job->full_range,
    };
    snprintf(s.options, sizeof(s.options), "%s", dev.options);
    snprintf(s.hw_device, sizeof(s.hw_device), "%s", dev.path); /* discovered GPU, "" default */
    s.max_bitrate = rung->set.max_bitrate;
    s.buffer_size = rung->set.buffer_size;
    s.hdr = job->set.hdr;
    char why[384] = { 0 };
    int ret = cme__encoder_open(&slot->enc, dev.backend, &s, why, sizeof(why));
    if (ret < 0) {
        free(slot);
        snprintf(err, errlen, "%s: cannot open the %s encoder on %s: %s", rung->set.name,
                 cme__backend_name(dev.backend), dev.id, why);
        return ret;
    }
    *out = slot;
    return 0;
}

static int send_frame(Worker *w, CmeEncSlot *slot, const AVFrame *f, uint32_t chunk, int force_key)
{
    CmeRung *rung = &w->job->rungs[slot->rung];
    const int W = rung->set.width, H = rung->set.height;
    /* 10-bit rungs get 16-bit samples; an 8-bit source is shifted up by swscale. */
    const enum AVPixelFormat fmt =
        rung->set.bit_depth == 10 ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P;
    CmeEncFrame ef = { .pts = slot->next_pts, .force_key = force_key, .chunk = chunk };
    if (f->format == fmt && f->width == W && f->height == H) {
        for (int i = 0; i < 3; i++) {
            ef.planes[i] = f->data[i];
            ef.strides[i] = f->linesize[i];
        }
    } else {
        int r = slot->rung;
        w->sws[r] = sws_getCachedContext(w->sws[r], f->width, f->height, f->format, W, H, fmt,
                                         SWS_BICUBIC, NULL, NULL, NULL);
        if (!w->sws[r]) {
            snprintf(w->err, sizeof(w->err), "%s: cannot scale %dx%d %s to %dx%d", rung->set.name,
                     f->width, f->height, av_get_pix_fmt_name(f->format), W, H);
            return CME_EUNSUPPORTED;
        }
        if (!w->scaled[r]) {
            w->scaled[r] = av_frame_alloc();
            if (!w->scaled[r]) {
                snprintf(w->err, sizeof(w->err), "out of memory");
                return CME_ENOMEM;
            }
            w->scaled[r]->format = fmt;
            w->scaled[r]->width = W;
            w->scaled[r]->height = H;
            if (av_frame_get_buffer(w->scaled[r], 0) < 0) {
                av_frame_free(&w->scaled[r]);
                snprintf(w->err, sizeof(w->err), "out of memory");
                return CME_ENOMEM;
            }
        }
        AVFrame *dst = w->scaled[r];
        sws_scale(w->sws[r], (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst->data,
                  dst->linesize);
        for (int i = 0; i < 3; i++) {
            ef.planes[i] = dst->data[i];
            ef.strides[i] = dst->linesize[i];
        }
    }
    int ret = encoder_send(w, slot, &ef);
    if (ret < 0) {
        snprintf(w->err, sizeof(w->err), "%s: the encoder on %s refused a frame: %s",
                 rung->set.name, w->dev.id, cme_strerror(ret));
        return ret;
    }
    slot->next_pts++;
    atomic_fetch_add(&rung->frames_fed, 1);
    return 0;
}

/* A retry's frames: the pump's while every one is still there, else the chunk decoded
 * again from the source. 0 with *out (nb_frames frames, the caller frees them), or an
 * error with w->err set. */
static int take_frames(Worker *w, CmeSrcChunk *src, AVFrame ***out)
{
    cme__src_chunk_wait_complete(src);
    AVFrame **frames = calloc((size_t)(src->nb_frames > 0 ? src->nb_frames : 1), sizeof(*frames));
    if (!frames) {
        snprintf(w->err, sizeof(w->err), "out of memory");
        return CME_ENOMEM;
    }
    int r = cme__src_chunk_pin(src, frames);
    if (r == CME_EAGAIN)
        r = cme__chunk_reload(w->job->source, src->pts, src->nb_frames, frames, w->err,
                              sizeof(w->err));
    else if (r < 0)
        snprintf(w->err, sizeof(w->err), "out of memory");
    if (r < 0) {
        free(frames);
        return r;
    }
    *out = frames;
    return 0;
}

/*
 * Sends the chunk's frames from inf->sent on, then seals it. With may_suspend (the rung's
 * first attempt, sending the pump's frames), a frame the pump has not decoded yet while the
 * job holds its whole frame budget suspends the chunk instead of waiting: returns 1, the
 * chunk unsealed in the instance, which the worker parks and any worker of the device
 * resumes once the frame is there (CLAIM_RESUME). The worker meanwhile serves a rung that
 * lags and holds frames no one else can let go: with fewer workers than rungs, waiting in
 * place let a whole chunk of the unserved rung's frames pile up.
 */
static int send_frames(Worker *w, CmeEncSlot *slot, CmeInflight *inf, AVFrame **own,
                       int may_suspend)
{
    CmeJob *job = w->job;
    CmeChunk *c = inf->chunk;
    CmeSrcChunk *src = inf->src;
    const int first = own == NULL;
    const AVFrame *f;
    for (int i = inf->sent; !slot->broken && !inf->failed; i++) {
        if (atomic_load(&job->failed))
            break;
        if (inf->drop)
            break; /* failed already (stall, invariant): the rest would be dropped */
        if (may_suspend && !slot->bad && !cme__src_chunk_ready(src, i) &&
            cme__frame_budget_over(src->budget))
            return 1;
        if (!(f = own ? (i < src->nb_frames ? own[i] : NULL) : cme__src_chunk_frame(src, i)))
            break;
        int r = send_frame(w, slot, f, c->index, i == 0);
        if (first)
            cme__src_chunk_release(src, i);
        if (r < 0) {
            fail_inflight(w, slot, inf, CME_FAIL_SEND, w->err);
            break;
        }
        inf->sent++;
        cme__ct_progress(&job->ct, c->rung, c->index, inf->attempt, cme__now());
        drain(w, slot, 0);
    }
    /* Sealed: its last packets may already be back. A chunk cut short by a failure still
     * waits for the packets of the frames it sent, so the instance stays in step. */
    inf->sealed = 1;
    if (!slot->broken)
        finish_heads(w, slot);
    return 0;
}

/* Encodes one chunk on an instance: frames are sent as the pump decodes them (the chunk
 * may still be filling), packets are taken as they come. */
static void encode_chunk(Worker *w, CmeEncSlot *slot, CmeChunk *c, int attempt, int may_suspend)
{
    CmeJob *job = w->job;
    CmeInflight *inf = calloc(1, sizeof(*inf));
    CmeSrcChunk *src = c->payload;
    if (inf)
        inf->samples = calloc((size_t)src->capacity, sizeof(*inf->samples));
    if (!inf || !inf->samples) {
        free(inf);
        cme__job_chunk_fail(job, c->rung, c->index, attempt, w->id, w->device, slot->instance,
                            CME_FAIL_SEND, "out of memory");
        cme__chunk_ticket_free(&c);
        return;
    }
    inf->chunk = c;
    inf->src = src;
    inf->attempt = attempt;
    inf->t_start = cme__now();
    if (slot->tail)
        slot->tail->next = inf;
    else
        slot->head = inf;
    slot->tail = inf;
    /* The rung's first attempt sends the pump's frames and lets each go once sent; a
     * later one takes them while they last, or decodes the chunk again. */
    AVFrame **own = NULL;
    const int first = cme__src_chunk_claim(src, c->rung);
    if (!first && take_frames(w, src, &own) < 0) {
        fail_inflight(w, slot, inf, CME_FAIL_SEND, w->err);
        own = NULL;
    }
    send_frames(w, slot, inf, own, first && may_suspend);
    if (own) {
        for (int i = 0; i < src->nb_frames; i++)
            av_frame_free(&own[i]);
        free(own);
    }
}

/* Sends EOS and drains every packet; the instance then encodes nothing more. Chunks left
 * without their packets mean the encoder lost frames. */
static void flush_slot(Worker *w, CmeEncSlot *slot)
{
    int r = encoder_send(w, slot, NULL);
    if (r < 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s: the end-of-stream flush of the encoder on %s failed: %s",
                 w->job->rungs[slot->rung].set.name, w->dev.id, cme_strerror(r));
        break_slot(w, slot, CME_FAIL_FLUSH, msg);
    } else {
        drain(w, slot, 1);
    }
    if (slot->head && !slot->broken) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s: the encoder on %s returned fewer packets than frames",
                 w->job->rungs[slot->rung].set.name, w->dev.id);
        break_slot(w, slot, CME_FAIL_FLUSH, msg);
    }
}

/* Lets go of the chunks of a broken instance: they are failed already. */
static void drop_inflight(CmeEncSlot *slot)
{
    while (slot->head) {
        CmeInflight *inf = slot->head;
        slot->head = inf->next;
        cme__chunk_ticket_free(&inf->chunk);
        inflight_free(&inf);
    }
    slot->tail = NULL;
}

/* A chunk that no instance may take: its attempt fails at once (reason open). */
static void fail_unservable(Worker *w, CmeChunk *c)
{
    CmeJob *job = w->job;
    int attempt;
    CmeChunkRecord prev;
    if (cme__ct_get(&job->ct, c->rung, c->index, &prev) < 0)
        prev.message[0] = '\0';
    /* The failure that sent the chunk back leads the message: it is the cause. */
    if (cme__ct_begin(&job->ct, c->rung, c->index, w->id, -1, -1, cme__now(), &attempt) == 0)
        cme__job_chunk_fail(job, c->rung, c->index, attempt, w->id, -1, -1, CME_FAIL_OPEN,
                            "%.200s%sno encoder instance of an allowed device was left for %s "
                            "(instances are opened before the job starts)",
                            prev.message, prev.message[0] ? "; then " : "",
                            job->rungs[c->rung].set.name);
    cme__chunk_ticket_free(&c);
}

/* A chunk whose retry asked for another crf or preset: an instance opened for it alone
 * (instance number -1 in events), drained and closed at once. Only backends that can open
 * and close an encoder while others encode get here. */
static void encode_one_off(Worker *w, CmeChunk *c)
{
    CmeJob *job = w->job;
    const int rung = c->rung;
    int attempt;
    if (cme__ct_begin(&job->ct, rung, c->index, w->id, w->device, -1, cme__now(), &attempt) < 0) {
        cme__chunk_ticket_free(&c);
        unbusy_one_off(w, rung);
        return;
    }
    CmeEncSlot *slot = NULL;
    if (cme__slot_open_with(job, rung, w->device, c->crf, c->preset, &slot, w->err,
                            sizeof(w->err)) < 0) {
        cme__job_chunk_fail(job, rung, c->index, attempt, w->id, w->device, -1, CME_FAIL_OPEN, "%s",
                            w->err);
        cme__chunk_ticket_free(&c);
        unbusy_one_off(w, rung);
        return;
    }
    slot->instance = -1;
    encode_chunk(w, slot, c, attempt, 0);
    if (!slot->broken)
        flush_slot(w, slot);
    drop_inflight(slot);
    cme__slot_discard(job, &slot);
    unbusy_one_off(w, rung);
}

/* The worker moves to another rung: a WORKER_MOVED event. */
static void note_move(Worker *w, const CmeEncSlot *slot, uint32_t index)
{
    CmeEvent ev = { .type = CME_EVENT_WORKER_MOVED,
                    .rung = slot->rung,
                    .index = index + 1,
                    .device = w->device,
                    .worker = w->id,
                    .instance = slot->instance,
                    .from_rung = w->last_rung };
    snprintf(ev.device_id, sizeof(ev.device_id), "%s", w->dev.id);
    cme__job_post(w->job, &ev);
    w->last_rung = slot->rung;
}

/* The instance after a chunk was sent (or suspended): parked for the next, or retired. */
static void after_chunk(Worker *w, CmeEncSlot *slot)
{
    if (slot->broken) {
        drop_inflight(slot);
        retire(w, slot);
    } else if (slot->bad) {
        /* A mismatching instance is of no use to this rung: drain it (its chunks fail
         * and wait for the policy) and retire it. */
        flush_slot(w, slot);
        drop_inflight(slot);
        retire(w, slot);
    } else {
        park(w, slot);
    }
}

void *cme__worker_main(void *arg)
{
    Worker w = { .job = arg, .lease = { -1 }, .last_rung = -1 };
    CmeJob *job = w.job;
    w.id = atomic_fetch_add(&job->next_worker, 1);
    while (!atomic_load(&job->failed)) {
        if (cme__lease_acquire_in(job->pool, job->dev_mask, &w.lease, 200) == 0)
            break;
    }
    if (w.lease.device >= 0) {
        w.device = w.lease.device;
        pthread_mutex_lock(&job->pool->lock);
        w.dev = job->pool->devices[w.device];
        pthread_mutex_unlock(&job->pool->lock);
        cme__frame_budget_join(job->budget);
    }
    while (w.lease.device >= 0 && !atomic_load(&job->failed)) {
        uint64_t seen = cme__signal_seq(&job->work);
        CmeChunk *c = NULL;
        CmeEncSlot *slot = NULL;
        Claim cl = claim(&w, &c, &slot);
        if (cl == CLAIM_DONE)
            break;
        if (cl == CLAIM_WAIT) {
            /* Waiting for work is starving, as far as the pump's frame budget goes; a paused
             * job's workers do not ask the pump to read ahead. */
            const int starving = !atomic_load(&job->paused);
            if (starving)
                cme__frame_budget_idle(job->budget, 1);
            cme__signal_wait(&job->work, seen, 500);
            if (starving)
                cme__frame_budget_idle(job->budget, -1);
            continue;
        }
        if (cl == CLAIM_UNSERVABLE) {
            fail_unservable(&w, c);
            continue;
        }
        if (cl == CLAIM_FLUSH) {
            flush_slot(&w, slot);
            drop_inflight(slot);
            retire(&w, slot);
            continue;
        }
        if (cl == CLAIM_ONE_OFF) {
            encode_one_off(&w, c);
            continue;
        }
        if (cl == CLAIM_RESUME) {
            if (w.last_rung != slot->rung)
                note_move(&w, slot, slot->tail->chunk->index);
            send_frames(&w, slot, slot->tail, NULL, 1);
            after_chunk(&w, slot);
            continue;
        }
        int attempt;
        if (cme__ct_begin(&job->ct, c->rung, c->index, w.id, w.device, slot->instance, cme__now(),
                          &attempt) < 0) {
            /* A ticket for a chunk that is not queued: a second ticket of one chunk would be
             * a duplicate segment. Never expected; drop it loudly. */
            cme__job_fail(job, CME_ESTATE, "%s: segment %u was handed out twice",
                          job->rungs[c->rung].set.name, c->index + 1);
            cme__chunk_ticket_free(&c);
            park(&w, slot);
            break;
        }
        if (w.last_rung != c->rung)
            note_move(&w, slot, c->index);
        encode_chunk(&w, slot, c, attempt, 1);
        after_chunk(&w, slot);
    }
    for (int r = 0; r < CME_MAX_RUNGS; r++) {
        sws_freeContext(w.sws[r]);
        av_frame_free(&w.scaled[r]);
    }
    if (w.lease.device >= 0)
        cme__frame_budget_leave(job->budget);
    cme__lease_release(job->pool, &w.lease);
    cme__job_thread_exit(job);
    return NULL;
}

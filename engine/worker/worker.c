/*
 * The worker: one thread per leased device slot. It claims chunks (sched lock), scales
 * the chunk's shared source frames to its rung, feeds an encoder slot, checks the codec
 * invariant on the first packet of each chunk, and writes each finished chunk as one
 * media segment with a fresh muxer configured with the segment's index and base decode
 * time, so the file is the same whichever worker produced it. No Lua here.
 */
#define _POSIX_C_SOURCE 200809L
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
#include "sched/journal.h"
#include "worker/worker.h"

#define MAX_ATTEMPTS 3

typedef struct Worker {
    CmeJob *job;
    CmeLease lease;
    int device;
    CmeDevice dev;
    struct SwsContext *sws[CME_MAX_RUNGS];
    AVFrame *scaled[CME_MAX_RUNGS];
    char err[512];
} Worker;

typedef enum Claim { CLAIM_WAIT, CLAIM_CHUNK, CLAIM_FLUSH, CLAIM_DONE } Claim;

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

static void chunk_free(CmeChunk **pc)
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
        chunk_free(&inf->chunk);
        inflight_free(&inf);
    }
    free(slot);
    *ps = NULL;
}

/* --- claiming work ------------------------------------------------------------------ */

/* Unlinks and returns the first parked slot of a device on a rung. Sched lock held. */
static CmeEncSlot *unpark(CmeRung *rung, int device)
{
    for (CmeEncSlot **pp = &rung->parked; *pp; pp = &(*pp)->next) {
        if ((*pp)->device == device) {
            CmeEncSlot *s = *pp;
            *pp = s->next;
            s->next = NULL;
            return s;
        }
    }
    return NULL;
}

/*
 * Chooses the next piece of work under the sched lock. A device keeps at most one
 * encoder per rung (opened before the job starts, see cme_engine_start), so a chunk is
 * taken only by a worker that can continue the rung's parked encoder, or that must open
 * the first one for its device (after a mismatch closed it). Among those rungs the one
 * furthest behind in frames fed goes first. With nothing to take, the worker flushes a
 * parked encoder of a finished rung, or waits.
 */
static Claim claim(Worker *w, CmeChunk **out_chunk, CmeEncSlot **out_slot)
{
    CmeJob *job = w->job;
    const int d = w->device;
    Claim result = CLAIM_WAIT;
    *out_chunk = NULL;
    *out_slot = NULL;
    pthread_mutex_lock(&job->sched_lock);
    int best = -1;
    uint64_t best_fed = 0;
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        if (d < 64 && (rung->excluded & (UINT64_C(1) << d)))
            continue; /* this device's bitstream does not fit the rendition */
        if (cme__chunkq_peek_index(&rung->queue, d) < 0)
            continue;
        int mine = 0;
        for (CmeEncSlot *s = rung->parked; s; s = s->next)
            mine |= s->device == d;
        /* This device's encoder for the rung is busy on another worker: it will come
         * back for the next chunk itself. */
        if (!mine && rung->slots[d] > 0)
            continue;
        uint64_t fed = atomic_load(&rung->frames_fed);
        if (best < 0 || fed < best_fed) {
            best = r;
            best_fed = fed;
        }
    }
    if (best >= 0) {
        CmeRung *rung = &job->rungs[best];
        CmeChunk *c = NULL;
        if (cme__chunkq_try_pop(&rung->queue, d, &c) == 0) {
            *out_slot = unpark(rung, d);
            if (!*out_slot)
                rung->slots[d]++; /* reserved: the worker opens it */
            rung->busy_encoders++;
            *out_chunk = c;
            result = CLAIM_CHUNK;
        }
        goto out;
    }
    int all_done = 1;
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        int drained = cme__chunkq_drained(&rung->queue);
        if (drained && (*out_slot = unpark(rung, d)) != NULL) {
            rung->busy_encoders++;
            result = CLAIM_FLUSH;
            goto out;
        }
        if (!drained || rung->parked || rung->busy_encoders)
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
    slot->next = rung->parked;
    rung->parked = slot;
    rung->busy_encoders--;
    pthread_mutex_unlock(&job->sched_lock);
    cme__signal_notify(&job->work);
}

/* The worker no longer holds an encoder of rung r; closed: the encoder is gone too. */
static void unbusy(Worker *w, int r, int closed)
{
    pthread_mutex_lock(&w->job->sched_lock);
    w->job->rungs[r].busy_encoders--;
    if (closed)
        w->job->rungs[r].slots[w->device]--;
    pthread_mutex_unlock(&w->job->sched_lock);
    cme__signal_notify(&w->job->work);
}

/* --- output ------------------------------------------------------------------------- */

static int rung_path(CmeJob *job, const CmeRung *rung, const char *file, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/%s/%s", job->output, rung->set.name, file);
    return len < 0 || (size_t)len >= n ? CME_EINVAL : 0;
}

/* Writes init.mp4 from the rung's invariant. Called with rung->lock held, once. */
static int write_init(Worker *w, CmeRung *rung)
{
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
    };
    CmeBuf b = { 0 };
    r = cme_mux_write_init(&b, &t);
    char path[2048];
    if (r == 0)
        r = rung_path(w->job, rung, "init.mp4", path, sizeof(path));
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, w->err, sizeof(w->err));
    else
        snprintf(w->err, sizeof(w->err), "%s: cannot write the init segment: %s", rung->set.name,
                 cme_strerror(r));
    cme__buf_free(&b);
    return r;
}

typedef enum Check { CHECK_SET, CHECK_MATCH, CHECK_MISMATCH, CHECK_MALFORMED, CHECK_ERROR } Check;

/* The codec invariant (DESIGN.md section 3) on the first packet of a chunk. */
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
    Check out;
    pthread_mutex_lock(&rung->lock);
    if (!rung->inv_set) {
        rung->seq = seq;
        rung->seq_obu = malloc(obu.size);
        if (!rung->seq_obu) {
            pthread_mutex_unlock(&rung->lock);
            snprintf(w->err, sizeof(w->err), "out of memory");
            return CHECK_ERROR;
        }
        memcpy(rung->seq_obu, obu.data, obu.size);
        rung->seq_obu_size = obu.size;
        cme_av1_codec_string(&seq, rung->codecs, sizeof(rung->codecs));
        if (write_init(w, rung) < 0) {
            free(rung->seq_obu);
            rung->seq_obu = NULL;
            pthread_mutex_unlock(&rung->lock);
            return CHECK_ERROR;
        }
        rung->inv_set = 1;
        out = CHECK_SET;
    } else {
        CmeAv1FieldDiff diffs[8];
        int n = cme_av1_invariant_compare(&rung->seq, rung->seq_obu, rung->seq_obu_size, &seq,
                                          obu.data, obu.size, job->set.invariant, diffs, 8);
        if (n == 0) {
            out = CHECK_MATCH;
        } else {
            size_t len = 0;
            slot->mismatch[0] = '\0';
            for (int i = 0; i < n && i < 8; i++) {
                int k = snprintf(slot->mismatch + len, sizeof(slot->mismatch) - len,
                                 "%s%s %lld != %lld", i ? ", " : "", diffs[i].field, diffs[i].a,
                                 diffs[i].b);
                if (k < 0 || (size_t)k >= sizeof(slot->mismatch) - len)
                    break;
                len += (size_t)k;
            }
            if (n < 0)
                snprintf(slot->mismatch, sizeof(slot->mismatch), "comparison failed: %s",
                         cme_strerror(n));
            out = CHECK_MISMATCH;
        }
    }
    pthread_mutex_unlock(&rung->lock);
    if (out == CHECK_SET) {
        CmeEvent ev = { .type = CME_EVENT_INIT_WRITTEN,
                        .rung = rung->index,
                        .device = w->device,
                        .timescale = CME_TIMESCALE };
        snprintf(ev.device_id, sizeof(ev.device_id), "%s", w->dev.id);
        snprintf(ev.codecs, sizeof(ev.codecs), "%s", rung->codecs);
        cme__job_post(job, &ev);
    }
    return out;
}

static int finalize_segment(Worker *w, CmeEncSlot *slot, CmeInflight *inf)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[slot->rung];
    CmeSrcChunk *src = inf->src;
    int r = cme__buf_status(&inf->data);
    if (r < 0)
        return r;
    for (int i = 0; i < src->nb_frames; i++)
        inf->samples[i].duration = (uint32_t)src->duration[i];
    CmeSegmentInfo seg = {
        .track_id = 1,
        .sequence_number = inf->chunk->index + 1,
        .base_decode_time = (uint64_t)src->pts[0],
    };
    CmeBuf b = { 0 };
    r = cme_mux_write_segment(&b, &seg, inf->samples, (size_t)src->nb_frames, inf->data.data,
                              inf->data.size);
    char name[32], path[2048];
    snprintf(name, sizeof(name), "seg_%05u.m4s", seg.sequence_number);
    if (r == 0)
        r = rung_path(job, rung, name, path, sizeof(path));
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, w->err, sizeof(w->err));
    else
        snprintf(w->err, sizeof(w->err), "%s/%s: muxing failed: %s", rung->set.name, name,
                 cme_strerror(r));
    uint64_t bytes = b.size;
    cme__buf_free(&b);
    if (r < 0)
        return r;
    uint64_t duration = 0;
    for (int i = 0; i < src->nb_frames; i++)
        duration += (uint64_t)src->duration[i];
    pthread_mutex_lock(&rung->lock);
    size_t idx = inf->chunk->index;
    if (idx >= rung->segs_cap) {
        size_t cap = rung->segs_cap ? rung->segs_cap : 64;
        while (cap <= idx)
            cap *= 2;
        CmeSegmentEntry *s = realloc(rung->segs, cap * sizeof(*s));
        uint8_t *d = s ? realloc(rung->seg_done, cap) : NULL;
        if (s)
            rung->segs = s;
        if (!s || !d) {
            pthread_mutex_unlock(&rung->lock);
            return CME_ENOMEM;
        }
        memset(d + rung->segs_cap, 0, cap - rung->segs_cap);
        rung->seg_done = d;
        rung->segs_cap = cap;
    }
    rung->segs[idx] =
        (CmeSegmentEntry){ .start = seg.base_decode_time, .duration = duration, .bytes = bytes };
    rung->seg_done[idx] = 1;
    CmeSegmentEntry done = rung->segs[idx];
    pthread_mutex_unlock(&rung->lock);
    atomic_fetch_add(&rung->segments_done, 1);
    cme__journal_append(job, rung, inf->chunk->index, &done);

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
        .attempts = inf->chunk->attempts + 1,
        .encode_seconds = cme__now() - inf->t_start,
    };
    snprintf(ev.device_id, sizeof(ev.device_id), "%s", w->dev.id);
    cme__job_post(job, &ev);
    return 0;
}

/* Gives a chunk whose output was discarded back to its rung, excluding this device. */
static void requeue(Worker *w, CmeEncSlot *slot, CmeChunk *c)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[c->rung];
    c->attempts++;
    if (w->device < 64)
        c->excluded |= UINT64_C(1) << w->device;
    pthread_mutex_lock(&job->sched_lock);
    uint64_t excluded = c->excluded | rung->excluded;
    pthread_mutex_unlock(&job->sched_lock);
    int eligible = 0;
    for (int d = 0; d < job->pool.nb_devices; d++)
        eligible |= d >= 64 || !(excluded & (UINT64_C(1) << d));
    if (!eligible || c->attempts >= MAX_ATTEMPTS) {
        cme__job_fail(job, CME_EMISMATCH,
                      "%s: segment %u: no device produced a sequence header compatible with "
                      "the rendition (%s differs: %s)",
                      rung->set.name, c->index + 1, w->dev.id, slot->mismatch);
        chunk_free(&c);
        return;
    }
    CmeEvent ev = { .type = CME_EVENT_REQUEUE,
                    .rung = c->rung,
                    .index = c->index + 1,
                    .device = w->device,
                    .attempts = c->attempts };
    snprintf(ev.device_id, sizeof(ev.device_id), "%s", w->dev.id);
    snprintf(ev.message, sizeof(ev.message),
             "%.31s segment %u: %.31s produced an incompatible sequence header (%.300s); "
             "requeued without that device",
             rung->set.name, c->index + 1, w->dev.id, slot->mismatch);
    cme__chunkq_requeue(&rung->queue, c);
    cme__job_post(job, &ev);
}

/* Copies the OBUs of a temporal unit except temporal delimiters (AV1-ISOBMFF 2.4: a
 * sample holds no temporal delimiter). */
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

static int finish_head(Worker *w, CmeEncSlot *slot);

static int handle_packet(Worker *w, CmeEncSlot *slot, const CmeEncPacket *pkt)
{
    CmeJob *job = w->job;
    CmeRung *rung = &job->rungs[slot->rung];
    CmeInflight *inf = slot->head;
    if (!inf) {
        cme__job_fail(job, CME_EENCODER, "%s: encoder on %s returned more packets than frames",
                      rung->set.name, w->dev.id);
        return CME_EENCODER;
    }
    if (pkt->pts != slot->next_out_pts) {
        cme__job_fail(job, CME_EENCODER,
                      "%s: encoder on %s returned pts %lld where %lld was due: output is not "
                      "one packet per frame in order",
                      rung->set.name, w->dev.id, (long long)pkt->pts,
                      (long long)slot->next_out_pts);
        return CME_EENCODER;
    }
    slot->next_out_pts++;
    if (inf->received == 0) {
        if (slot->bad) {
            inf->drop = 1;
        } else {
            switch (check_invariant(w, slot, pkt->data, pkt->size)) {
            case CHECK_SET:
            case CHECK_MATCH: break;
            case CHECK_MISMATCH:
                /* Soft: this device is done with the rung; its chunks go back. */
                slot->bad = 1;
                inf->drop = 1;
                if (w->device < 64) {
                    pthread_mutex_lock(&job->sched_lock);
                    rung->excluded |= UINT64_C(1) << w->device;
                    pthread_mutex_unlock(&job->sched_lock);
                }
                break;
            case CHECK_MALFORMED:
                cme__job_fail(job, CME_EBITSTREAM, "%s", w->err);
                return CME_EBITSTREAM;
            case CHECK_ERROR: cme__job_fail(job, CME_EIO, "%s", w->err); return CME_EIO;
            }
        }
    }
    if (!inf->drop) {
        char perr[256] = { 0 };
        int n = append_sample(&inf->data, pkt->data, pkt->size, perr, sizeof(perr));
        CmeAv1TuInfo tu;
        int tr =
            n >= 0 ? cme_av1_tu_info(pkt->data, pkt->size, &rung->seq, &tu, perr, sizeof(perr)) : n;
        if (tr < 0) {
            cme__job_fail(job, CME_EBITSTREAM,
                          "%s: segment %u frame %d: malformed packet from "
                          "%s: %s",
                          rung->set.name, inf->chunk->index + 1, inf->received, w->dev.id, perr);
            return CME_EBITSTREAM;
        }
        CmeSample *s = &inf->samples[inf->received];
        s->size = (uint32_t)n;
        s->sync = tu.is_sync; /* the duration is final only once the chunk is complete */
        if (inf->received == 0 && !s->sync) {
            cme__job_fail(job, CME_EBITSTREAM,
                          "%s: segment %u from %s does not start with a "
                          "key frame",
                          rung->set.name, inf->chunk->index + 1, w->dev.id);
            return CME_EBITSTREAM;
        }
        atomic_fetch_add(&rung->frames_encoded, 1);
    }
    inf->received++;
    return finish_head(w, slot);
}

/* Writes (or requeues) the oldest chunk in flight once all its packets are back and the
 * pump has sealed it. Called after every packet and after the last frame is sent. */
static int finish_head(Worker *w, CmeEncSlot *slot)
{
    CmeInflight *inf = slot->head;
    if (!inf)
        return 0;
    CmeSrcChunk *src = inf->src;
    pthread_mutex_lock(&src->lock);
    int done = src->complete && inf->received == src->nb_frames;
    pthread_mutex_unlock(&src->lock);
    if (!done)
        return 0;
    slot->head = inf->next;
    if (!slot->head)
        slot->tail = NULL;
    int r = 0;
    if (inf->drop) {
        requeue(w, slot, inf->chunk);
    } else {
        r = finalize_segment(w, slot, inf);
        if (r < 0)
            cme__job_fail(w->job, r, "%s", w->err);
        chunk_free(&inf->chunk);
    }
    inflight_free(&inf);
    return r;
}

/* Receives every packet available now (block: until EOS has drained). */
static int drain(Worker *w, CmeEncSlot *slot, int until_eof)
{
    for (;;) {
        CmeEncPacket pkt;
        int r = cme__encoder_receive(slot->enc, &pkt);
        if (r == CME_EAGAIN && !until_eof)
            return 0;
        if (r == CME_EAGAIN)
            continue;
        if (r == CME_EOF)
            return 0;
        if (r < 0) {
            cme__job_fail(w->job, r, "%s: encoder on %s failed: %s",
                          w->job->rungs[slot->rung].set.name, w->dev.id, cme_strerror(r));
            return r;
        }
        r = handle_packet(w, slot, &pkt);
        if (r < 0)
            return r;
    }
}

/* --- encoding ----------------------------------------------------------------------- */

int cme__slot_open(CmeJob *job, int r, int device, CmeEncSlot **out, char *err, size_t errlen)
{
    CmeRung *rung = &job->rungs[r];
    CmeDevice dev;
    pthread_mutex_lock(&job->pool.lock);
    dev = job->pool.devices[device];
    pthread_mutex_unlock(&job->pool.lock);
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
        .crf = rung->set.crf,
        .preset = rung->set.preset,
        .threads = dev.threads,
        .level = dev.level,
        .keyint = job->chunk_frames,
        .color_primaries = job->color_primaries,
        .transfer_characteristics = job->transfer,
        .matrix_coefficients = job->matrix,
        .full_range = job->full_range,
    };
    snprintf(s.options, sizeof(s.options), "%s", dev.options);
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

/* Scales source frame f to the rung (or passes it through) and sends it. */
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
            cme__job_fail(w->job, CME_EUNSUPPORTED, "%s: cannot scale %dx%d %s to %dx%d",
                          rung->set.name, f->width, f->height, av_get_pix_fmt_name(f->format), W,
                          H);
            return CME_EUNSUPPORTED;
        }
        if (!w->scaled[r]) {
            w->scaled[r] = av_frame_alloc();
            if (!w->scaled[r])
                return CME_ENOMEM;
            w->scaled[r]->format = fmt;
            w->scaled[r]->width = W;
            w->scaled[r]->height = H;
            if (av_frame_get_buffer(w->scaled[r], 0) < 0) {
                av_frame_free(&w->scaled[r]);
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
    int ret = cme__encoder_send(slot->enc, &ef);
    if (ret < 0) {
        cme__job_fail(w->job, ret, "%s: sending a frame to the encoder on %s failed",
                      rung->set.name, w->dev.id);
        return ret;
    }
    slot->next_pts++;
    atomic_fetch_add(&rung->frames_fed, 1);
    return 0;
}

static int encode_chunk(Worker *w, CmeEncSlot *slot, CmeChunk *c)
{
    CmeInflight *inf = calloc(1, sizeof(*inf));
    CmeSrcChunk *src = c->payload;
    if (inf)
        inf->samples = calloc((size_t)src->capacity, sizeof(*inf->samples));
    if (!inf || !inf->samples) {
        if (inf)
            free(inf);
        chunk_free(&c);
        cme__job_fail(w->job, CME_ENOMEM, "out of memory");
        return CME_ENOMEM;
    }
    inf->chunk = c;
    inf->src = src;
    inf->t_start = cme__now();
    if (slot->tail)
        slot->tail->next = inf;
    else
        slot->head = inf;
    slot->tail = inf;
    /* Frames are sent as the pump decodes them (the chunk may still be filling). */
    const AVFrame *f;
    for (int i = 0; (f = cme__src_chunk_frame(src, i)) != NULL; i++) {
        if (atomic_load(&w->job->failed))
            return CME_ECANCELED;
        int r = send_frame(w, slot, f, c->index, i == 0);
        if (r == 0)
            r = drain(w, slot, 0);
        if (r < 0)
            return r;
    }
    /* The chunk is sealed: its last packets may already be back. */
    return finish_head(w, slot);
}

/* Sends EOS, drains every packet, closes the encoder. Chunks left without their
 * packets mean the encoder lost frames. */
static int flush_slot(Worker *w, CmeEncSlot **ps)
{
    CmeEncSlot *slot = *ps;
    int r = cme__encoder_send(slot->enc, NULL);
    if (r == 0)
        r = drain(w, slot, 1);
    if (r == 0 && slot->head)
        cme__job_fail(w->job, CME_EENCODER,
                      "%s: the encoder on %s returned fewer packets "
                      "than frames",
                      w->job->rungs[slot->rung].set.name, w->dev.id);
    int rung = slot->rung;
    cme__slot_discard(w->job, ps);
    unbusy(w, rung, 1);
    return r;
}

void *cme__worker_main(void *arg)
{
    Worker w = { .job = arg, .lease = { -1 } };
    CmeJob *job = w.job;
    while (!atomic_load(&job->failed)) {
        if (cme__lease_acquire(&job->pool, &w.lease, 200) == 0)
            break;
    }
    if (w.lease.device >= 0) {
        w.device = w.lease.device;
        pthread_mutex_lock(&job->pool.lock);
        w.dev = job->pool.devices[w.device];
        pthread_mutex_unlock(&job->pool.lock);
    }
    while (w.lease.device >= 0 && !atomic_load(&job->failed)) {
        uint64_t seen = cme__signal_seq(&job->work);
        CmeChunk *c = NULL;
        CmeEncSlot *slot = NULL;
        Claim cl = claim(&w, &c, &slot);
        if (cl == CLAIM_DONE)
            break;
        if (cl == CLAIM_WAIT) {
            cme__signal_wait(&job->work, seen, 500);
            continue;
        }
        if (cl == CLAIM_FLUSH) {
            flush_slot(&w, &slot);
            continue;
        }
        int rung = c->rung;
        if (!slot) {
            int r = cme__slot_open(job, rung, w.device, &slot, w.err, sizeof(w.err));
            if (r < 0) {
                cme__job_fail(job, r, "%s", w.err);
                chunk_free(&c);
                unbusy(&w, rung, 1);
                break;
            }
        }
        int r = encode_chunk(&w, slot, c);
        if (r == 0 && slot->bad) {
            /* A mismatching encoder is of no use to this rung: drain it (the dropped
             * chunks go back to the queue) and close it. */
            r = flush_slot(&w, &slot);
        } else if (r == 0) {
            park(&w, slot);
        } else {
            cme__slot_discard(job, &slot);
            unbusy(&w, rung, 1);
        }
    }
    for (int r = 0; r < CME_MAX_RUNGS; r++) {
        sws_freeContext(w.sws[r]);
        av_frame_free(&w.scaled[r]);
    }
    cme__lease_release(&job->pool, &w.lease);
    cme__job_thread_exit(job);
    return NULL;
}

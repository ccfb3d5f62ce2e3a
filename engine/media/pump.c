/*
 * The decode pump: one thread decodes the source once and cuts the frames into chunks of
 * K frames, one segment each. A chunk's frames are shared by reference by every rung; the
 * pump pushes one CmeChunk per rung into that rung's bounded queue and blocks while a
 * queue is full, so memory depends on the queue depth, not on the input length.
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/mathematics.h>

#include "cmafeng/common.h"
#include "sched/job.h"

void cme__src_chunk_unref(CmeSrcChunk **pc)
{
    CmeSrcChunk *c = *pc;
    *pc = NULL;
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (int i = 0; i < c->nb_frames; i++)
        av_frame_free(&c->frames[i]);
    free(c->frames);
    free(c->pts);
    free(c->duration);
    free(c);
}

static CmeSrcChunk *src_chunk_new(uint32_t index, int k)
{
    CmeSrcChunk *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    c->index = index;
    c->frames = calloc((size_t)k, sizeof(*c->frames));
    c->pts = calloc((size_t)k, sizeof(*c->pts));
    c->duration = calloc((size_t)k, sizeof(*c->duration));
    if (!c->frames || !c->pts || !c->duration) {
        cme__src_chunk_unref(&c);
        return NULL;
    }
    return c;
}

/* Hands one chunk to every rung. Returns 0 or CME_ECLOSED when the job is failing. */
static int publish(CmeJob *job, CmeSrcChunk *sc)
{
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeChunk *ch = calloc(1, sizeof(*ch));
        if (!ch) {
            cme__job_fail(job, CME_ENOMEM, "out of memory queueing chunk %u", sc->index);
            return CME_ENOMEM;
        }
        ch->rung = r;
        ch->index = sc->index;
        atomic_fetch_add(&sc->refs, 1);
        ch->payload = sc;
        CmeRung *rung = &job->rungs[r];
        atomic_fetch_add(&rung->frames_in, (uint64_t)sc->nb_frames);
        if (cme__chunkq_push(&rung->queue, ch) < 0) {
            CmeSrcChunk *p = sc;
            cme__src_chunk_unref(&p);
            free(ch);
            return CME_ECLOSED;
        }
    }
    return 0;
}

void *cme__pump_main(void *arg)
{
    CmeJob *job = arg;
    const int k = job->chunk_frames;
    int64_t nominal = av_rescale(CME_TIMESCALE, job->info.fps_den, job->info.fps_num);
    if (nominal < 1)
        nominal = 1;
    CmeSrcChunk *cur = NULL;
    uint32_t next_index = 0;
    char err[512] = { 0 };
    AVFrame *frame = av_frame_alloc();
    if (!frame) {
        cme__job_fail(job, CME_ENOMEM, "out of memory in the decode pump");
        goto out;
    }
    for (;;) {
        if (atomic_load(&job->failed))
            break;
        int64_t pts;
        int r = cme__source_read(job->src, frame, CME_TIMESCALE, &pts, err, sizeof(err));
        if (r == CME_EOF)
            break;
        if (r < 0) {
            cme__job_fail(job, r, "%s", err);
            break;
        }
        atomic_fetch_add(&job->frames_decoded, 1);
        /* The previous frame's duration is known now; a full chunk can go out. */
        if (cur && cur->nb_frames > 0)
            cur->duration[cur->nb_frames - 1] = pts - cur->pts[cur->nb_frames - 1];
        if (cur && cur->nb_frames == k) {
            int pr = publish(job, cur);
            cme__src_chunk_unref(&cur);
            if (pr < 0)
                break;
        }
        if (!cur) {
            cur = src_chunk_new(next_index++, k);
            if (!cur) {
                cme__job_fail(job, CME_ENOMEM, "out of memory in the decode pump");
                break;
            }
        }
        AVFrame *f = av_frame_alloc();
        if (!f || av_frame_ref(f, frame) < 0) {
            av_frame_free(&f);
            cme__job_fail(job, CME_ENOMEM, "out of memory in the decode pump");
            break;
        }
        cur->frames[cur->nb_frames] = f;
        cur->pts[cur->nb_frames] = pts;
        cur->duration[cur->nb_frames] = 0; /* set when the next frame arrives */
        cur->nb_frames++;
    }
    if (!atomic_load(&job->failed)) {
        if (cur && cur->nb_frames > 0) {
            /* The last frame lasts its nominal duration: the container's packet duration
             * is in the stream time base and often missing, the frame rate is not. */
            cur->duration[cur->nb_frames - 1] = nominal;
            publish(job, cur);
        } else if (next_index == 0) {
            cme__job_fail(job, CME_EMEDIA, "%s: the video stream has no decodable frame",
                          job->source);
        }
    }
    cme__src_chunk_unref(&cur);
    for (int r = 0; r < job->nb_rungs; r++) {
        atomic_store(&job->rungs[r].total_chunks, (int)next_index);
        cme__chunkq_close(&job->rungs[r].queue);
    }
out:
    av_frame_free(&frame);
    atomic_store(&job->decode_done, 1);
    cme__signal_notify(&job->work);
    cme__job_thread_exit(job);
    return NULL;
}

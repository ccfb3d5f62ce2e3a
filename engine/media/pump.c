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
#include "core/buf.h"
#include "core/file.h"
#include "media/audio.h"
#include "media/rotate.h"
#include "job/job.h"

void cme__src_chunk_unref(CmeSrcChunk **pc)
{
    CmeSrcChunk *c = *pc;
    *pc = NULL;
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (int i = 0; i < c->ready; i++)
        av_frame_free(&c->frames[i]);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
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
    c->capacity = k;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->frames = calloc((size_t)k, sizeof(*c->frames));
    c->pts = calloc((size_t)k, sizeof(*c->pts));
    c->duration = calloc((size_t)k, sizeof(*c->duration));
    if (!c->frames || !c->pts || !c->duration) {
        cme__src_chunk_unref(&c);
        return NULL;
    }
    return c;
}

const AVFrame *cme__src_chunk_frame(CmeSrcChunk *c, int i)
{
    pthread_mutex_lock(&c->lock);
    while (i >= c->ready && !c->complete)
        pthread_cond_wait(&c->cond, &c->lock);
    const AVFrame *f = i < c->ready ? c->frames[i] : NULL;
    pthread_mutex_unlock(&c->lock);
    return f;
}

void cme__src_chunk_wait_complete(CmeSrcChunk *c)
{
    pthread_mutex_lock(&c->lock);
    while (!c->complete)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

/* Appends a decoded frame (the chunk takes the reference). The previous frame's duration
 * is known now. */
static void src_chunk_append(CmeSrcChunk *c, AVFrame *f, int64_t pts)
{
    pthread_mutex_lock(&c->lock);
    if (c->ready > 0)
        c->duration[c->ready - 1] = pts - c->pts[c->ready - 1];
    c->frames[c->ready] = f;
    c->pts[c->ready] = pts;
    c->ready++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Seals the chunk; the last frame lasts last_duration (the next chunk's first frame gives
 * it, or the nominal frame duration at the end of the stream). */
static void src_chunk_complete(CmeSrcChunk *c, int64_t last_duration)
{
    pthread_mutex_lock(&c->lock);
    if (c->ready > 0 && last_duration > 0)
        c->duration[c->ready - 1] = last_duration;
    c->nb_frames = c->ready;
    c->complete = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Hands a new chunk to every rung, waiting first until every queue has room so that the
 * pushes cannot block once the first rung can see the chunk. 0, or CME_ECLOSED when the
 * job is failing. */
static int publish(CmeJob *job, CmeSrcChunk *sc)
{
    for (int r = 0; r < job->nb_rungs; r++)
        if (cme__chunkq_wait_room(&job->rungs[r].queue) < 0)
            return CME_ECLOSED;
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        pthread_mutex_lock(&rung->lock);
        int done = sc->index < rung->segs_cap && rung->seg_done[sc->index];
        CmeSegmentEntry kept = done ? rung->segs[sc->index] : (CmeSegmentEntry){ 0 };
        pthread_mutex_unlock(&rung->lock);
        if (done) {
            /* Kept from an earlier run (--resume): done from the start. */
            if (cme__ct_add_done(&job->ct, r, sc->index, &kept) < 0) {
                cme__job_fail(job, CME_ESTATE, "chunk table: cannot add segment %u", sc->index + 1);
                return CME_ESTATE;
            }
            continue;
        }
        CmeChunk *ch = calloc(1, sizeof(*ch));
        if (!ch || cme__ct_add(&job->ct, r, sc->index, sc) < 0) {
            free(ch);
            cme__job_fail(job, CME_ENOMEM, "out of memory queueing chunk %u", sc->index);
            return CME_ENOMEM;
        }
        ch->rung = r;
        ch->index = sc->index;
        ch->crf = ch->preset = -1;
        atomic_fetch_add(&sc->refs, 1);
        ch->payload = sc;
        if (cme__chunkq_push_now(&job->rungs[r].queue, ch) < 0) {
            CmeSrcChunk *p = sc;
            cme__src_chunk_unref(&p);
            free(ch);
            return CME_ECLOSED;
        }
    }
    return 0;
}

/* --- audio: transcoded on this thread, cut at the video segment boundaries ----------- */

/* The audio cut at the video's segment starts (media/audio_cut.c). */
typedef struct AudioSegment {
    CmeAudioCutter *cut;
} AudioSegment;

static int audio_path(CmeJob *job, const char *file, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/audio/%s", job->output, file);
    return len < 0 || (size_t)len >= n ? CME_EINVAL : 0;
}

static int write_audio_init(CmeJob *job)
{
    CmeAudioRung *au = &job->audio;
    size_t asc_size = 0;
    const uint8_t *asc = cme__audio_asc(au->enc, &asc_size);
    char lang[4];
    CmeAudioTrack t = {
        .codec = (CmeAudioCodec)job->set.audio_codec,
        .language = cme__audio_language(cme__source_audio(job->src), lang) ? lang : NULL,
        .track_id = 1,
        .timescale = (uint32_t)cme__audio_sample_rate(au->enc),
        .sample_rate = (uint32_t)cme__audio_sample_rate(au->enc),
        .channels = (uint32_t)cme__audio_channels(au->enc),
        .asc = asc,
        .asc_size = asc_size,
        .avg_bitrate = (uint32_t)job->set.audio_bitrate,
        /* The muxed timeline counts the encoder delay as samples from 0; the edit list
         * starts presentation after it, so audio lines up with the video. */
        .priming = (uint32_t)cme__audio_priming(au->enc),
    };
    CmeBuf b = { 0 };
    char path[2100], err[512] = { 0 };
    int r = cme_mux_write_init_audio(&b, &t);
    if (r == 0)
        r = audio_path(job, "init.mp4", path, sizeof(path));
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, err, sizeof(err));
    cme__buf_free(&b);
    if (r < 0) {
        cme__job_fail(job, r, "audio/init.mp4: %s", err[0] ? err : cme_strerror(r));
        return r;
    }
    snprintf(au->codecs, sizeof(au->codecs), "%s", cme__audio_codecs(au->enc));
    au->init_written = 1;
    CmeEvent ev = { .type = CME_EVENT_INIT_WRITTEN,
                    .rung = -1,
                    .is_audio = 1,
                    .device = -1,
                    .timescale = t.timescale };
    snprintf(ev.codecs, sizeof(ev.codecs), "%s", au->codecs);
    cme__job_post(job, &ev);
    return 0;
}

static int flush_audio_segment(CmeJob *job, const CmeAudioSeg *seg)
{
    CmeAudioRung *au = &job->audio;
    CmeSegmentInfo info = { .track_id = 1,
                            .sequence_number = seg->index + 1,
                            .base_decode_time = seg->start };
    CmeBuf b = { 0 };
    char name[32], path[2100], err[512] = { 0 };
    int r = cme_mux_write_segment(&b, &info, seg->samples, seg->nb, seg->data, seg->size);
    snprintf(name, sizeof(name), "seg_%05u.m4s", info.sequence_number);
    if (r == 0)
        r = audio_path(job, name, path, sizeof(path));
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, err, sizeof(err));
    uint64_t bytes = b.size, duration = 0;
    cme__buf_free(&b);
    if (r < 0) {
        cme__job_fail(job, r, "audio/%s: %s", name, err[0] ? err : cme_strerror(r));
        return r;
    }
    for (size_t i = 0; i < seg->nb; i++)
        duration += seg->samples[i].duration;
    if (au->nb_segs == au->segs_cap) {
        size_t cap = au->segs_cap ? au->segs_cap * 2 : 64;
        CmeSegmentEntry *e = realloc(au->segs, cap * sizeof(*e));
        if (!e) {
            cme__job_fail(job, CME_ENOMEM, "out of memory");
            return CME_ENOMEM;
        }
        au->segs = e;
        au->segs_cap = cap;
    }
    au->segs[au->nb_segs++] = (CmeSegmentEntry){ seg->start, duration, bytes };
    CmeEvent ev = { .type = CME_EVENT_SEGMENT_DONE,
                    .rung = -1,
                    .is_audio = 1,
                    .index = info.sequence_number,
                    .bytes = bytes,
                    .start = seg->start,
                    .duration = duration,
                    .timescale = (uint32_t)cme__audio_sample_rate(au->enc),
                    .frames = (uint32_t)seg->nb,
                    .device = -1,
                    .attempts = 1 };
    snprintf(ev.device_id, sizeof(ev.device_id), "cpu");
    cme__job_post(job, &ev);
    return 0;
}

/* Writes every audio segment the cutter has finished (all of them when final). */
static int flush_audio_segments(CmeJob *job, AudioSegment *seg, int final)
{
    CmeAudioSeg s;
    int r;
    while ((r = cme__audio_cutter_next(seg->cut, final, &s)) == 0)
        if (flush_audio_segment(job, &s) < 0)
            return CME_EIO;
    return r == CME_EAGAIN || r == CME_EOF ? 0 : r;
}

/* Muxes every AAC packet the encoder has ready. */
static int drain_audio(CmeJob *job, AudioSegment *seg, AVPacket *pkt)
{
    CmeAudioRung *au = &job->audio;
    int r;
    while ((r = cme__audio_receive(au->enc, pkt)) == 0) {
        if (!au->init_written && write_audio_init(job) < 0)
            return CME_EIO;
        /* A segment ends at the first packet at or past the next video segment's start,
         * so audio and video segments cover the same stretch within one AAC frame. */
        uint32_t dur = pkt->duration > 0 ? (uint32_t)pkt->duration : 1024;
        int c = cme__audio_cutter_push(seg->cut, au->next_time, dur, pkt->data, (size_t)pkt->size);
        au->next_time += dur;
        av_packet_unref(pkt);
        if (c < 0) {
            cme__job_fail(job, CME_ENOMEM, "out of memory");
            return CME_ENOMEM;
        }
        if (flush_audio_segments(job, seg, 0) < 0)
            return CME_EIO;
    }
    return r == CME_EAGAIN || r == CME_EOF ? 0 : r;
}

/* Feeds the audio packets demuxed so far (all of them, flushing, at the end). Audio
 * waits for the first video frame: its timestamp is time zero of both tracks. */
static int pump_audio(CmeJob *job, AudioSegment *seg, AVPacket *pkt, int final)
{
    CmeAudioRung *au = &job->audio;
    if (!au->enc)
        return 0;
    AVRational tb;
    int64_t origin = cme__source_origin(job->src, &tb);
    if (origin == AV_NOPTS_VALUE && !final)
        return 0;
    cme__audio_set_origin(au->enc, origin, tb);
    char err[512] = { 0 };
    int r = 0;
    while (r == 0 && cme__source_take_audio(job->src, pkt) == 0) {
        r = cme__audio_send(au->enc, pkt, err, sizeof(err));
        av_packet_unref(pkt);
        if (r == 0)
            r = drain_audio(job, seg, pkt);
    }
    if (r == 0 && final) {
        r = cme__audio_send(au->enc, NULL, err, sizeof(err));
        if (r == 0)
            r = drain_audio(job, seg, pkt);
        if (r == 0)
            r = flush_audio_segments(job, seg, 1);
    }
    /* Damaged audio counts with the video's (report.json, the stderr warning). */
    atomic_store(&job->decode_errors, cme__source_errors(job->src) + cme__audio_errors(au->enc));
    if (r < 0 && !atomic_load(&job->failed))
        cme__job_fail(job, r, "%s: %s", job->source, err[0] ? err : cme_strerror(r));
    return r;
}

void *cme__pump_main(void *arg)
{
    CmeJob *job = arg;
    const int k = job->chunk_frames;
    int next_cut = 0; /* the first cut not yet made */
    int64_t nominal = av_rescale(CME_TIMESCALE, job->info.fps_den, job->info.fps_num);
    if (nominal < 1)
        nominal = 1;
    CmeSrcChunk *cur = NULL;
    uint32_t next_index = 0;
    char err[512] = { 0 };
    AudioSegment aseg = { NULL };
    AVPacket *apkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    if (!frame || !apkt || (job->audio.enc && cme__audio_cutter_new(&aseg.cut) < 0)) {
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
        /* Upright once here, not per rung: the display matrix (media/rotate.h). */
        if ((r = cme__rotate_frame(cme__source_rotation(job->src), frame)) < 0) {
            cme__job_fail(job, r, "%s: cannot turn a frame upright: %s", job->source,
                          cme_strerror(r));
            break;
        }
        atomic_fetch_add(&job->frames_decoded, 1);
        atomic_store(&job->decode_errors,
                     cme__source_errors(job->src) +
                         (job->audio.enc ? cme__audio_errors(job->audio.enc) : 0));
        if (pump_audio(job, &aseg, apkt, 0) < 0)
            break;
        /* A new segment starts every K frames, or with a cut list at the first frame at or
         * past the next cut (1 ms tolerance for time-base rounding). A chunk is full at K
         * frames whatever the cuts say: its arrays hold no more. */
        int cut = cur && cur->ready == k;
        if (cur && job->nb_cuts > 0) {
            while (next_cut < job->nb_cuts &&
                   job->cuts[next_cut] * CME_TIMESCALE - CME_TIMESCALE / 1000 <= cur->pts[0])
                next_cut++; /* cuts inside the first frame of the chunk are already made */
            if (next_cut < job->nb_cuts &&
                pts >= job->cuts[next_cut] * CME_TIMESCALE - CME_TIMESCALE / 1000)
                cut = 1;
        }
        if (cut) {
            src_chunk_complete(cur, pts - cur->pts[cur->ready - 1]);
            cme__src_chunk_unref(&cur);
        }
        if (!cur) {
            cur = src_chunk_new(next_index, k);
            if (!cur) {
                cme__job_fail(job, CME_ENOMEM, "out of memory in the decode pump");
                break;
            }
            if (publish(job, cur) < 0)
                break;
            next_index++;
            /* Audio segments start where the video's do: pts counts from time zero, the
             * audio track's media time from the encoder delay before it (edit list). */
            if (aseg.cut && pts > 0 &&
                cme__audio_cutter_cut(
                    aseg.cut, (uint64_t)av_rescale(pts, cme__audio_sample_rate(job->audio.enc),
                                                   CME_TIMESCALE) +
                                  (uint64_t)cme__audio_priming(job->audio.enc)) < 0) {
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
        src_chunk_append(cur, f, pts);
        for (int i = 0; i < job->nb_rungs; i++)
            atomic_fetch_add(&job->rungs[i].frames_in, 1);
    }
    if (!atomic_load(&job->failed))
        pump_audio(job, &aseg, apkt, 1);
    if (!atomic_load(&job->failed) && next_index == 0)
        cme__job_fail(job, CME_EMEDIA, "%s: the video stream has no decodable frame", job->source);
    /* The last frame lasts its nominal duration: the container's packet duration is in the
     * stream time base and often missing, the frame rate is not. A failing job seals its
     * chunk too, so no worker waits for frames that will never come. */
    if (cur)
        src_chunk_complete(cur, nominal);
    cme__src_chunk_unref(&cur);
    for (int r = 0; r < job->nb_rungs; r++) {
        atomic_store(&job->rungs[r].total_chunks, (int)next_index);
        if (!atomic_load(&job->failed))
            cme__ct_set_total(&job->ct, r, (int)next_index);
        cme__chunkq_close(&job->rungs[r].queue);
    }
out:
    av_frame_free(&frame);
    av_packet_free(&apkt);
    cme__audio_cutter_free(&aseg.cut);
    atomic_store(&job->decode_done, 1);
    cme__signal_notify(&job->work);
    cme__job_thread_exit(job);
    return NULL;
}

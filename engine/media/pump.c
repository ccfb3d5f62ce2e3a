/*
 * The decode pump (pump.h): one thread decodes the source once and cuts the frames into
 * chunks of K frames (or at the cut list), one segment each. A chunk is handed to the sink
 * when its first frame is decoded and filled while workers already encode it; the sink's
 * publish blocks while the consumers' queues are full, so memory depends on the queue
 * depth, not on the input length. The first audio stream is transcoded on this thread and
 * cut at the same boundaries.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/mathematics.h>

#include "cmafeng/common.h"
#include "media/pump.h"
#include "media/rotate.h"

typedef struct Pump {
    const CmePumpSettings *s;
    const CmePumpSink *sink;
    CmeAudioCutter *cut; /* the audio cut at the video's segment starts (audio_cut.c) */
    uint64_t audio_time; /* output audio samples pushed so far */
    int failed;
} Pump;

static void pump_fail(Pump *p, int code, const char *fmt, ...) CME_PRINTF(3, 4);

static void pump_fail(Pump *p, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!p->failed)
        p->sink->fail(p->sink->opaque, code, msg);
    p->failed = 1;
}

static int stopped(Pump *p)
{
    return p->failed || p->sink->stopping(p->sink->opaque);
}

/* --- audio: transcoded on this thread, cut at the video segment boundaries ----------- */

/* Hands every audio segment the cutter has finished to the sink (all of them when final). */
static int flush_audio_segments(Pump *p, int final)
{
    CmeAudioSeg s;
    int r;
    while ((r = cme__audio_cutter_next(p->cut, final, &s)) == 0)
        if (p->sink->audio_segment(p->sink->opaque, &s) < 0) {
            p->failed = 1;
            return CME_EIO;
        }
    return r == CME_EAGAIN || r == CME_EOF ? 0 : r;
}

/* Cuts every packet the encoder has ready. */
static int drain_audio(Pump *p, AVPacket *pkt)
{
    int r;
    while ((r = cme__audio_receive(p->s->audio, pkt)) == 0) {
        /* A segment ends at the first packet at or past the next video segment's start,
         * so audio and video segments cover the same stretch within one audio frame. */
        uint32_t dur = pkt->duration > 0 ? (uint32_t)pkt->duration : 1024;
        int c = cme__audio_cutter_push(p->cut, p->audio_time, dur, pkt->data, (size_t)pkt->size);
        p->audio_time += dur;
        av_packet_unref(pkt);
        if (c < 0) {
            pump_fail(p, CME_ENOMEM, "out of memory");
            return CME_ENOMEM;
        }
        if (flush_audio_segments(p, 0) < 0)
            return CME_EIO;
    }
    return r == CME_EAGAIN || r == CME_EOF ? 0 : r;
}

/* Feeds the audio packets demuxed so far (all of them, flushing, at the end). Audio
 * waits for the first video frame: its timestamp is time zero of both tracks. */
static int pump_audio(Pump *p, AVPacket *pkt, int final)
{
    CmeAudio *au = p->s->audio;
    if (!au)
        return 0;
    AVRational tb;
    int64_t origin = cme__source_origin(p->s->src, &tb);
    if (origin == AV_NOPTS_VALUE && !final)
        return 0;
    cme__audio_set_origin(au, origin, tb);
    char err[512] = { 0 };
    int r = 0;
    while (r == 0 && cme__source_take_audio(p->s->src, pkt) == 0) {
        r = cme__audio_send(au, pkt, err, sizeof(err));
        av_packet_unref(pkt);
        if (r == 0)
            r = drain_audio(p, pkt);
    }
    if (r == 0 && final) {
        r = cme__audio_send(au, NULL, err, sizeof(err));
        if (r == 0)
            r = drain_audio(p, pkt);
        if (r == 0)
            r = flush_audio_segments(p, 1);
    }
    if (r < 0)
        pump_fail(p, r, "%s: %s", p->s->source_name, err[0] ? err : cme_strerror(r));
    return r;
}

/* Damaged packets and frames so far, video and audio (report.json, the stderr warning). */
static uint64_t decode_errors(const Pump *p)
{
    return cme__source_errors(p->s->src) + (p->s->audio ? cme__audio_errors(p->s->audio) : 0);
}

void cme__pump_run(const CmePumpSettings *s, const CmePumpSink *sink)
{
    Pump pump = { .s = s, .sink = sink };
    Pump *p = &pump;
    const int k = s->chunk_frames;
    int next_cut = 0; /* the first cut not yet made */
    int64_t nominal = av_rescale(CME_TIMESCALE, s->fps_den, s->fps_num);
    if (nominal < 1)
        nominal = 1;
    CmeSrcChunk *cur = NULL;
    uint32_t next_index = 0;
    int idle_waits = 0; /* budget waits in a row without room */
    char err[512] = { 0 };
    AVPacket *apkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    if (!frame || !apkt || (s->audio && cme__audio_cutter_new(&p->cut) < 0)) {
        pump_fail(p, CME_ENOMEM, "out of memory in the decode pump");
        goto out;
    }
    for (;;) {
        if (stopped(p))
            break;
        /* Read ahead only within the frame budget, or when every worker starves. Held
         * frames are let go as busy workers send them; should two seconds pass without
         * room, one more frame is decoded anyway: a slow drip rather than a hang if that
         * reasoning ever had a hole. */
        int idle = 0;
        if (s->budget && cme__frame_budget_wait(s->budget, 100, &idle) == CME_EAGAIN &&
            ++idle_waits < 20)
            continue;
        idle_waits = 0;
        int64_t pts;
        int r = cme__source_read(s->src, frame, CME_TIMESCALE, &pts, err, sizeof(err));
        if (r == CME_EOF)
            break;
        if (r < 0) {
            pump_fail(p, r, "%s", err);
            break;
        }
        /* Upright once here, not per rung: the display matrix (media/rotate.h). */
        if ((r = cme__rotate_frame(cme__source_rotation(s->src), frame)) < 0) {
            pump_fail(p, r, "%s: cannot turn a frame upright: %s", s->source_name, cme_strerror(r));
            break;
        }
        if (pump_audio(p, apkt, 0) < 0)
            break;
        /* A new segment starts every K frames, or with a cut list at the first frame at or
         * past the next cut (1 ms tolerance for time-base rounding). A chunk is full at K
         * frames whatever the cuts say: its arrays hold no more. */
        int cut = cur && cur->ready == k;
        if (cur && s->nb_cuts > 0) {
            while (next_cut < s->nb_cuts &&
                   s->cuts[next_cut] * CME_TIMESCALE - CME_TIMESCALE / 1000 <= cur->pts[0])
                next_cut++; /* cuts inside the first frame of the chunk are already made */
            if (next_cut < s->nb_cuts &&
                pts >= s->cuts[next_cut] * CME_TIMESCALE - CME_TIMESCALE / 1000)
                cut = 1;
        }
        if (cut) {
            cme__src_chunk_complete(cur, pts - cur->pts[cur->ready - 1]);
            cme__src_chunk_unref(&cur);
        }
        if (!cur) {
            cur = cme__src_chunk_new(next_index, k, s->budget);
            if (!cur) {
                pump_fail(p, CME_ENOMEM, "out of memory in the decode pump");
                break;
            }
            if (sink->publish(sink->opaque, cur) < 0) {
                p->failed = 1;
                break;
            }
            next_index++;
            /* Audio segments start where the video's do: pts counts from time zero, the
             * audio track's media time from the encoder delay before it (edit list). */
            if (p->cut && pts > 0 &&
                cme__audio_cutter_cut(
                    p->cut,
                    (uint64_t)av_rescale(pts, cme__audio_sample_rate(s->audio), CME_TIMESCALE) +
                        (uint64_t)cme__audio_priming(s->audio)) < 0) {
                pump_fail(p, CME_ENOMEM, "out of memory in the decode pump");
                break;
            }
        }
        AVFrame *f = av_frame_alloc();
        if (!f || av_frame_ref(f, frame) < 0) {
            av_frame_free(&f);
            pump_fail(p, CME_ENOMEM, "out of memory in the decode pump");
            break;
        }
        cme__src_chunk_append(cur, f, pts);
        sink->decoded(sink->opaque, decode_errors(p));
    }
    if (!stopped(p))
        pump_audio(p, apkt, 1);
    if (!stopped(p) && next_index == 0)
        pump_fail(p, CME_EMEDIA, "%s: the video stream has no decodable frame", s->source_name);
    /* The last frame lasts its nominal duration: the container's packet duration is in the
     * stream time base and often missing, the frame rate is not. A failing job seals its
     * chunk too, so no worker waits for frames that will never come. */
    if (cur)
        cme__src_chunk_complete(cur, nominal);
    cme__src_chunk_unref(&cur);
out:
    av_frame_free(&frame);
    av_packet_free(&apkt);
    cme__audio_cutter_free(&p->cut);
    sink->end(sink->opaque, next_index);
}

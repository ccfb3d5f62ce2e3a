/*
 * cme_scene_scores: the pre-pass behind cmafeng.chunking.scene (cmafeng/probe.h).
 *
 * One decode of the video stream (loop filter skipped: the scores need the picture's
 * content, not its finish), luma scaled down to ~160 pixels wide, and per frame the mean
 * absolute difference (MAD, 0..255) from the previous frame. A cut is a frame whose MAD is
 * high *and* unlike the previous pair's: constant motion (a pan) keeps a high MAD on every
 * frame but a small change of it. The score is min(MAD, |MAD - previous MAD|) / 100,
 * clamped to 0..1: the measure of FFmpeg's select filter `scene` variable, so a threshold
 * tuned with `select='gt(scene,0.3)'` means the same here.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "cmafeng/probe.h"

typedef struct ScenePass {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int stream;
    int w, h; /* the scaled luma plane */
    uint8_t *cur, *prev;
    int have_prev;
    double prev_mad;
    int64_t first_pts;
    size_t cap;
    CmeSceneScores *out;
} ScenePass;

static void av_err(char *err, size_t errlen, const char *path, const char *what, int averr)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };
    av_strerror(averr, buf, sizeof(buf));
    snprintf(err, errlen, "%s: %s: %s", path, what, buf);
}

static int push_score(ScenePass *p, double t, float score)
{
    CmeSceneScores *o = p->out;
    if (o->nb_frames == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        double *times = realloc(o->times, cap * sizeof(*times));
        if (!times)
            return CME_ENOMEM;
        o->times = times;
        float *scores = realloc(o->scores, cap * sizeof(*scores));
        if (!scores)
            return CME_ENOMEM;
        o->scores = scores;
        p->cap = cap;
    }
    o->times[o->nb_frames] = t;
    o->scores[o->nb_frames] = score;
    o->nb_frames++;
    return 0;
}

static int score_frame(ScenePass *p)
{
    AVFrame *f = p->frame;
    p->sws = sws_getCachedContext(p->sws, f->width, f->height, (enum AVPixelFormat)f->format, p->w,
                                  p->h, AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
    if (!p->sws)
        return CME_EUNSUPPORTED;
    uint8_t *dst[4] = { p->cur, NULL, NULL, NULL };
    int stride[4] = { p->w, 0, 0, 0 };
    sws_scale(p->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);

    float score = 0;
    if (p->have_prev) {
        uint64_t sad = 0;
        size_t n = (size_t)p->w * (size_t)p->h;
        for (size_t i = 0; i < n; i++)
            sad += (uint64_t)abs((int)p->cur[i] - (int)p->prev[i]);
        double mad = (double)sad / (double)n;
        double change = fabs(mad - p->prev_mad);
        double s = (mad < change ? mad : change) / 100.0;
        score = (float)(s < 0 ? 0 : s > 1 ? 1 : s);
        p->prev_mad = mad;
    }
    p->have_prev = 1;
    uint8_t *t = p->prev;
    p->prev = p->cur;
    p->cur = t;

    int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    double time;
    AVStream *st = p->fmt->streams[p->stream];
    if (pts == AV_NOPTS_VALUE) {
        time = p->out->nb_frames ? p->out->times[p->out->nb_frames - 1] + 1.0 / p->out->fps : 0;
    } else {
        if (p->first_pts == AV_NOPTS_VALUE)
            p->first_pts = pts;
        time = (double)(pts - p->first_pts) * av_q2d(st->time_base);
    }
    return push_score(p, time, score);
}

/* Receives every frame the decoder has ready. */
static int drain(ScenePass *p, const char *path, char *err, size_t errlen)
{
    for (;;) {
        int r = avcodec_receive_frame(p->dec, p->frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return 0;
        if (r < 0) {
            av_err(err, errlen, path, "decoding failed", r);
            return CME_EMEDIA;
        }
        r = score_frame(p);
        av_frame_unref(p->frame);
        if (r < 0) {
            snprintf(err, errlen, "%s: scene scores: %s", path, cme_strerror(r));
            return r;
        }
    }
}

static void pass_close(ScenePass *p)
{
    sws_freeContext(p->sws);
    free(p->cur);
    free(p->prev);
    av_frame_free(&p->frame);
    av_packet_free(&p->pkt);
    avcodec_free_context(&p->dec);
    avformat_close_input(&p->fmt);
}

int cme_scene_scores(const char *path, int width, CmeSceneScores *out, char *err, size_t errlen)
{
    if (!path || !out || !err || errlen == 0 || width < 0)
        return CME_EINVAL;
    memset(out, 0, sizeof(*out));
    ScenePass p = { .out = out, .first_pts = AV_NOPTS_VALUE };
    struct stat sb;
    if (stat(path, &sb) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CME_EIO;
    }
    int ret = CME_EMEDIA;
    int r = avformat_open_input(&p.fmt, path, NULL, NULL);
    if (r < 0) {
        av_err(err, errlen, path, "not a media file", r);
        return CME_EMEDIA;
    }
    r = avformat_find_stream_info(p.fmt, NULL);
    if (r < 0) {
        av_err(err, errlen, path, "cannot read stream information", r);
        goto error;
    }
    const AVCodec *codec = NULL;
    p.stream = av_find_best_stream(p.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (p.stream < 0 || !codec) {
        snprintf(err, errlen, "%s: no video stream", path);
        goto error;
    }
    AVStream *st = p.fmt->streams[p.stream];
    for (unsigned i = 0; i < p.fmt->nb_streams; i++)
        if ((int)i != p.stream)
            p.fmt->streams[i]->discard = AVDISCARD_ALL;
    AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    out->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 25.0;
    ret = CME_ENOMEM;
    p.dec = avcodec_alloc_context3(codec);
    p.pkt = av_packet_alloc();
    p.frame = av_frame_alloc();
    if (!p.dec || !p.pkt || !p.frame)
        goto error;
    ret = CME_EMEDIA;
    r = avcodec_parameters_to_context(p.dec, st->codecpar);
    if (r >= 0) {
        p.dec->thread_count = 0;
        p.dec->skip_loop_filter = AVDISCARD_ALL;
        p.dec->pkt_timebase = st->time_base;
        r = avcodec_open2(p.dec, codec, NULL);
    }
    if (r < 0) {
        av_err(err, errlen, path, "cannot open the video decoder", r);
        goto error;
    }
    if (p.dec->width <= 0 || p.dec->height <= 0) {
        snprintf(err, errlen, "%s: video stream has no frame size", path);
        goto error;
    }
    p.w = width ? width : 160;
    if (p.w > p.dec->width)
        p.w = p.dec->width;
    p.h = (int)lround((double)p.w * p.dec->height / p.dec->width);
    if (p.h < 8)
        p.h = 8;
    ret = CME_ENOMEM;
    p.cur = malloc((size_t)p.w * (size_t)p.h);
    p.prev = malloc((size_t)p.w * (size_t)p.h);
    if (!p.cur || !p.prev)
        goto error;
    for (;;) {
        r = av_read_frame(p.fmt, p.pkt);
        if (r == AVERROR_EOF)
            break;
        if (r < 0) {
            av_err(err, errlen, path, "demuxing failed", r);
            ret = CME_EMEDIA;
            goto error;
        }
        if (p.pkt->stream_index == p.stream) {
            /* Damaged packets are skipped, as the engine's own decode does. */
            r = avcodec_send_packet(p.dec, p.pkt);
            if (r < 0 && r != AVERROR_INVALIDDATA && r != AVERROR(EAGAIN)) {
                av_err(err, errlen, path, "decoding failed", r);
                ret = CME_EMEDIA;
                goto error;
            }
        }
        av_packet_unref(p.pkt);
        if ((ret = drain(&p, path, err, errlen)) < 0)
            goto error;
    }
    avcodec_send_packet(p.dec, NULL);
    if ((ret = drain(&p, path, err, errlen)) < 0)
        goto error;
    if (out->nb_frames == 0) {
        snprintf(err, errlen, "%s: no video frame decodes", path);
        ret = CME_EMEDIA;
        goto error;
    }
    out->duration = out->times[out->nb_frames - 1] + 1.0 / out->fps;
    pass_close(&p);
    return 0;
error:
    pass_close(&p);
    cme_scene_scores_free(out);
    return ret;
}

void cme_scene_scores_free(CmeSceneScores *s)
{
    if (!s)
        return;
    free(s->times);
    free(s->scores);
    memset(s, 0, sizeof(*s));
}

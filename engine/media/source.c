#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>

#include "cmafeng/common.h"
#include "media/audio.h"
#include "media/source.h"

struct CmeSource {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    int stream;
    int has_audio;
    int audio;        /* index of the audio stream whose packets are kept, -1 none */
    AVPacket **apkts; /* demuxed audio packets waiting for the pump (FIFO) */
    size_t nb_apkts, apkts_cap, apkts_head;
    int draining;      /* the demuxer hit EOF; flushing the decoder */
    uint64_t errors;   /* packets the decoder rejected + frames it flagged as damaged */
    uint64_t frames;   /* frames decoded */
    int64_t first_pts; /* source time base; AV_NOPTS_VALUE until the first frame */
    int64_t last_pts;  /* output timescale */
    AVFrame *held;     /* the first frame, decoded at open to prove the stream decodes */
    int have_held;
    double max_damage; /* share of damaged packets/frames that fails the job */
    char path[1024];
};

static int next_frame(CmeSource *s, AVFrame *frame, char *err, size_t errlen);

static void av_err(char *err, size_t errlen, const char *path, const char *what, int averr)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };
    av_strerror(averr, buf, sizeof(buf));
    snprintf(err, errlen, "%s: %s: %s", path, what, buf);
}

int cme__source_open(CmeSource **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    /* Tell "cannot read" from "not media" before libavformat blurs the two. */
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CME_EIO;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, expected a media file", path);
        return CME_EIO;
    }
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CME_EIO;
    }
    fclose(probe);

    CmeSource *s = calloc(1, sizeof(*s));
    if (!s)
        return CME_ENOMEM;
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->first_pts = AV_NOPTS_VALUE;
    s->last_pts = INT64_MIN;
    int ret = CME_EMEDIA;
    int r = avformat_open_input(&s->fmt, path, NULL, NULL);
    if (r < 0) {
        av_err(err, errlen, path, "not a readable media file", r);
        goto error;
    }
    r = avformat_find_stream_info(s->fmt, NULL);
    if (r < 0) {
        av_err(err, errlen, path, "cannot read stream information", r);
        goto error;
    }
    const AVCodec *codec = NULL;
    s->stream = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (s->stream < 0 || !codec) {
        snprintf(err, errlen, "%s: %s", path,
                 s->stream == AVERROR_DECODER_NOT_FOUND ? "no decoder for the video stream"
                                                        : "no video stream");
        goto error;
    }
    s->audio = av_find_best_stream(s->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    s->has_audio = s->audio >= 0;
    if (s->audio < 0)
        s->audio = -1;
    AVStream *st_v = s->fmt->streams[s->stream];
    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        if ((int)i != s->stream && (int)i != s->audio)
            s->fmt->streams[i]->discard = AVDISCARD_ALL;
    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec) {
        ret = CME_ENOMEM;
        goto error;
    }
    r = avcodec_parameters_to_context(s->dec, st_v->codecpar);
    if (r < 0) {
        av_err(err, errlen, path, "bad codec parameters", r);
        goto error;
    }
    s->dec->thread_count = 0; /* one decoder, all cores: it runs beside the encoders */
    s->dec->pkt_timebase = st_v->time_base;
    r = avcodec_open2(s->dec, codec, NULL);
    if (r < 0) {
        av_err(err, errlen, path, "cannot open the video decoder", r);
        goto error;
    }
    if (s->dec->width <= 0 || s->dec->height <= 0) {
        snprintf(err, errlen, "%s: video stream has no frame size", path);
        goto error;
    }
    s->pkt = av_packet_alloc();
    s->held = av_frame_alloc();
    if (!s->pkt || !s->held) {
        ret = CME_ENOMEM;
        goto error;
    }
    s->max_damage = CME_SOURCE_MAX_DAMAGE;
    /* Decode up to the first frame now: a source with nothing decodable is a bad input,
     * refused before the job writes anything (exit 2), not a job that fails half-way. */
    r = next_frame(s, s->held, err, errlen);
    if (r == CME_EOF) {
        snprintf(err, errlen, "%s: the video stream has no decodable frame%s", path,
                 s->errors ? " (every packet read is damaged)" : "");
        goto error;
    }
    if (r < 0) {
        ret = r;
        goto error;
    }
    s->have_held = 1;
    *out = s;
    return 0;
error:
    cme__source_close(&s);
    return ret;
}

void cme__source_info(const CmeSource *s, CmeSourceInfo *info)
{
    memset(info, 0, sizeof(*info));
    AVStream *st = s->fmt->streams[s->stream];
    info->width = s->dec->width;
    info->height = s->dec->height;
    AVRational fr = st->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0)
        fr = st->r_frame_rate;
    if (fr.num <= 0 || fr.den <= 0)
        fr = (AVRational){ 25, 1 };
    av_reduce(&info->fps_num, &info->fps_den, fr.num, fr.den, 1 << 30);
    /* The video's own span as the container declares it: the stream's duration when the
     * container has one (MP4 mdhd), else the file's duration less the video's start time
     * (Matroska's Duration is the end of the last block, so a source starting at 1.5 s
     * with 6 s of video says 7.5). The truncation warning compares decoded timestamps
     * with this, never a frame count derived from a nominal rate. */
    if (st->duration > 0 && st->duration != AV_NOPTS_VALUE)
        info->duration = (double)st->duration * av_q2d(st->time_base);
    else if (s->fmt->duration > 0)
        info->duration = s->fmt->duration / (double)AV_TIME_BASE -
                         (st->start_time != AV_NOPTS_VALUE && st->start_time > 0
                              ? (double)st->start_time * av_q2d(st->time_base)
                              : 0);
    else
        info->duration = -1;
    if (st->nb_frames > 0)
        info->nb_frames = st->nb_frames;
    else if (info->duration > 0)
        info->nb_frames = (int64_t)(info->duration * fr.num / fr.den + 0.5);
    else
        info->nb_frames = -1;
    snprintf(info->codec, sizeof(info->codec), "%s", s->dec->codec->name);
    info->has_audio = s->has_audio;
}

void cme__source_color(const CmeSource *s, int *primaries, int *transfer, int *matrix,
                       int *full_range)
{
    /* AVColorPrimaries etc. use the ISO/IEC 23091-4 numbering, as AV1's color_config. */
    *primaries = s->dec->color_primaries;
    *transfer = s->dec->color_trc;
    *matrix = s->dec->colorspace;
    *full_range = s->dec->color_range == AVCOL_RANGE_JPEG;
    if (*primaries <= 0 || *primaries > 22)
        *primaries = 2;
    if (*transfer <= 0 || *transfer > 18)
        *transfer = 2;
    if (*matrix <= 0 || *matrix > 14)
        *matrix = 2;
}

/* Moves pkt into the audio FIFO. */
static int queue_audio(CmeSource *s, AVPacket *pkt)
{
    if (s->nb_apkts == s->apkts_cap) {
        if (s->apkts_head > 0) {
            memmove(s->apkts, s->apkts + s->apkts_head,
                    (s->nb_apkts - s->apkts_head) * sizeof(*s->apkts));
            s->nb_apkts -= s->apkts_head;
            s->apkts_head = 0;
        }
        if (s->nb_apkts == s->apkts_cap) {
            size_t cap = s->apkts_cap ? s->apkts_cap * 2 : 64;
            AVPacket **p = realloc(s->apkts, cap * sizeof(*p));
            if (!p)
                return CME_ENOMEM;
            s->apkts = p;
            s->apkts_cap = cap;
        }
    }
    AVPacket *copy = av_packet_alloc();
    if (!copy)
        return CME_ENOMEM;
    av_packet_move_ref(copy, pkt);
    s->apkts[s->nb_apkts++] = copy;
    return 0;
}

uint64_t cme__source_errors(const CmeSource *s)
{
    return s->errors;
}

const AVStream *cme__source_audio(const CmeSource *s)
{
    return s->audio >= 0 ? s->fmt->streams[s->audio] : NULL;
}

int cme__source_select_audio(CmeSource *s, const char *spec, int *streams, int max, char *err,
                             size_t errlen)
{
    int n = cme__audio_select(s->fmt, s->audio, spec, streams, max, err, errlen);
    if (n <= 0)
        return n;
    if (streams[0] != s->audio) {
        if (s->audio >= 0)
            s->fmt->streams[s->audio]->discard = AVDISCARD_ALL;
        s->audio = streams[0];
        s->fmt->streams[s->audio]->discard = AVDISCARD_DEFAULT;
    }
    return n;
}

void cme__source_drop_audio(CmeSource *s)
{
    if (s->audio >= 0)
        s->fmt->streams[s->audio]->discard = AVDISCARD_ALL;
    s->audio = -1;
}

int cme__source_take_audio(CmeSource *s, AVPacket *pkt)
{
    if (s->apkts_head == s->nb_apkts)
        return CME_EAGAIN;
    AVPacket *p = s->apkts[s->apkts_head++];
    av_packet_unref(pkt);
    av_packet_move_ref(pkt, p);
    av_packet_free(&p);
    return 0;
}

int64_t cme__source_origin(const CmeSource *s, AVRational *tb)
{
    *tb = s->fmt->streams[s->stream]->time_base;
    return s->first_pts;
}

void cme__source_set_max_damage(CmeSource *s, double share)
{
    s->max_damage = share;
}

/* Counts one damaged packet or frame; CME_EMEDIA when the damaged share passes the limit
 * (judged once enough of the stream was seen to tell). */
static int check_damage(CmeSource *s, uint64_t min_sample, char *err, size_t errlen)
{
    uint64_t total = s->errors + s->frames;
    if (s->errors && s->max_damage < 1 && total >= min_sample &&
        (double)s->errors > s->max_damage * (double)total) {
        snprintf(err, errlen,
                 "%s: too much of the video is damaged: %" PRIu64 " of %" PRIu64
                 " packets and frames (the limit is %.0f%%)",
                 s->path, s->errors, total, s->max_damage * 100);
        return CME_EMEDIA;
    }
    return 0;
}

static int damaged(CmeSource *s, char *err, size_t errlen)
{
    s->errors++;
    return check_damage(s, CME_SOURCE_DAMAGE_MIN_SAMPLE, err, errlen);
}

/* The next decoded frame, as the decoder gives it. Damaged input is skipped and counted:
 * a packet the decoder rejects, a frame it cannot output, a frame it flags as concealed; a
 * demuxer error (a truncated or cut file) ends the stream there, as the end of the file
 * would. 0, CME_EOF, or CME_EMEDIA/CME_ENOMEM with err set. */
static int next_frame(CmeSource *s, AVFrame *frame, char *err, size_t errlen)
{
    for (;;) {
        av_frame_unref(frame);
        int r = avcodec_receive_frame(s->dec, frame);
        if (r == 0) {
            /* A concealed frame is still shown, but counts as damage, not as a frame. */
            if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT)) {
                if ((r = damaged(s, err, errlen)) < 0)
                    return r;
            } else {
                s->frames++;
            }
            return 0;
        }
        if (r == AVERROR_EOF) {
            /* A short stream is judged as a whole at its end. */
            r = s->frames ? check_damage(s, 1, err, errlen) : 0;
            return r < 0 ? r : CME_EOF;
        }
        if (r == AVERROR(ENOMEM)) {
            av_err(err, errlen, s->path, "decoding failed", r);
            return CME_ENOMEM;
        }
        if (r != AVERROR(EAGAIN)) {
            /* A frame that could not be reconstructed (threaded decoders report packet
             * errors here); the decoder goes on with the next one. */
            if ((r = damaged(s, err, errlen)) < 0)
                return r;
            continue;
        }
        if (s->draining) {
            /* EAGAIN after the flush packet should not happen; treat as the end. */
            return CME_EOF;
        }
        for (;;) {
            r = av_read_frame(s->fmt, s->pkt);
            if (r == AVERROR(ENOMEM)) {
                av_err(err, errlen, s->path, "demuxing failed", r);
                return CME_ENOMEM;
            }
            if (r < 0) {
                if (r != AVERROR_EOF && (r = damaged(s, err, errlen)) < 0)
                    return r;
                s->draining = 1;
                avcodec_send_packet(s->dec, NULL);
                break;
            }
            if (s->pkt->stream_index == s->audio) {
                /* Audio rides along the video demux: decode once, in file order. */
                r = queue_audio(s, s->pkt);
                if (r < 0) {
                    snprintf(err, errlen, "%s: out of memory queueing audio", s->path);
                    return r;
                }
                continue;
            }
            if (s->pkt->stream_index != s->stream) {
                av_packet_unref(s->pkt);
                continue;
            }
            r = avcodec_send_packet(s->dec, s->pkt);
            av_packet_unref(s->pkt);
            if (r == AVERROR(ENOMEM)) {
                av_err(err, errlen, s->path, "decoding failed", r);
                return CME_ENOMEM;
            }
            /* A damaged packet is skipped and counted: the job goes on with what decodes
             * and reports the damage (cmafeng prints a warning, report.json counts it). */
            if (r < 0 && r != AVERROR(EAGAIN) && (r = damaged(s, err, errlen)) < 0)
                return r;
            break;
        }
    }
}

int cme__source_read(CmeSource *s, AVFrame *frame, uint32_t timescale, int64_t *pts, char *err,
                     size_t errlen)
{
    AVStream *st = s->fmt->streams[s->stream];
    int r;
    if (s->have_held) {
        av_frame_unref(frame);
        av_frame_move_ref(frame, s->held);
        s->have_held = 0;
    } else if ((r = next_frame(s, frame, err, errlen)) < 0) {
        return r;
    }
    int64_t t = frame->best_effort_timestamp;
    if (t == AV_NOPTS_VALUE)
        t = frame->pts;
    int64_t out;
    if (t == AV_NOPTS_VALUE) {
        out = s->last_pts == INT64_MIN ? 0 : s->last_pts + 1;
    } else {
        /* The timeline starts at the first frame's timestamp. */
        if (s->first_pts == AV_NOPTS_VALUE)
            s->first_pts = t;
        out = av_rescale_q(t - s->first_pts, st->time_base, (AVRational){ 1, (int)timescale });
    }
    /* Decode-order glitches must not produce non-increasing sample times. */
    if (s->last_pts != INT64_MIN && out <= s->last_pts)
        out = s->last_pts + 1;
    s->last_pts = out;
    *pts = out;
    return 0;
}

int cme__source_seek(CmeSource *s, int64_t pts, uint32_t timescale, int64_t origin, char *err,
                     size_t errlen)
{
    AVStream *st = s->fmt->streams[s->stream];
    int64_t target = origin + av_rescale_q(pts, (AVRational){ 1, (int)timescale }, st->time_base);
    int r = av_seek_frame(s->fmt, s->stream, target, AVSEEK_FLAG_BACKWARD);
    if (r < 0) {
        av_err(err, errlen, s->path, "seeking failed", r);
        return CME_EMEDIA;
    }
    avcodec_flush_buffers(s->dec);
    av_frame_unref(s->held);
    s->have_held = 0;
    s->draining = 0;
    s->first_pts = origin;
    s->last_pts = INT64_MIN;
    return 0;
}

void cme__source_close(CmeSource **ps)
{
    CmeSource *s = *ps;
    if (!s)
        return;
    av_packet_free(&s->pkt);
    av_frame_free(&s->held);
    for (size_t i = s->apkts_head; i < s->nb_apkts; i++)
        av_packet_free(&s->apkts[i]);
    free(s->apkts);
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    free(s);
    *ps = NULL;
}

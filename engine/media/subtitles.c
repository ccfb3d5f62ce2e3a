/* Text subtitles to WebVTT renditions (see subtitles.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "cmafeng/common.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/outpath.h"
#include "media/audio.h"
#include "media/subtitles.h"
#include "mux/webvtt.h"

typedef struct Track {
    int stream;
    AVCodecContext *dec;
    CmeCue *cues;
    size_t nb, cap;
} Track;

static int is_text(enum AVCodecID id)
{
    return id == AV_CODEC_ID_SUBRIP || id == AV_CODEC_ID_SRT || id == AV_CODEC_ID_ASS ||
           id == AV_CODEC_ID_SSA || id == AV_CODEC_ID_MOV_TEXT || id == AV_CODEC_ID_WEBVTT ||
           id == AV_CODEC_ID_TEXT;
}

static int add_cue(Track *t, int64_t start, int64_t end, const char *ass)
{
    if (end <= 0 || end <= start)
        return 0; /* before time zero, or empty */
    char *text = cme__webvtt_text(ass);
    if (!text)
        return CME_ENOMEM;
    if (!text[0]) {
        free(text);
        return 0;
    }
    if (t->nb == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        CmeCue *p = realloc(t->cues, cap * sizeof(*p));
        if (!p) {
            free(text);
            return CME_ENOMEM;
        }
        t->cues = p;
        t->cap = cap;
    }
    t->cues[t->nb++] = (CmeCue){ (uint64_t)(start < 0 ? 0 : start), (uint64_t)end, text };
    return 0;
}

/* One packet: its cues, in milliseconds from time zero. */
static int decode_packet(Track *t, const AVStream *st, AVPacket *pkt, int64_t origin_ms)
{
    AVSubtitle sub;
    int got = 0;
    if (avcodec_decode_subtitle2(t->dec, &sub, &got, pkt) < 0 || !got)
        return 0; /* a damaged cue is left out, as a player would */
    int r = 0;
    if (pkt->pts != AV_NOPTS_VALUE) {
        int64_t at = av_rescale_q(pkt->pts, st->time_base, (AVRational){ 1, 1000 }) - origin_ms;
        int64_t start = at + sub.start_display_time;
        int64_t end =
            sub.end_display_time && sub.end_display_time != UINT32_MAX
                ? at + sub.end_display_time
                : at + av_rescale_q(pkt->duration, st->time_base, (AVRational){ 1, 1000 });
        for (unsigned i = 0; i < sub.num_rects && r == 0; i++)
            if (sub.rects[i]->ass)
                r = add_cue(t, start, end, sub.rects[i]->ass);
            else if (sub.rects[i]->text)
                r = add_cue(t, start, end, sub.rects[i]->text);
    }
    avsubtitle_free(&sub);
    return r;
}

static int cue_order(const void *a, const void *b)
{
    const CmeCue *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int write_file(const char *dir, const char *name, const CmeBuf *b, char *err, size_t errlen)
{
    char path[2300];
    if (cme__outpath(path, sizeof(path), dir, NULL, name) < 0) {
        snprintf(err, errlen, "%s/%s: path too long", dir, name);
        return CME_EINVAL;
    }
    return cme__file_write_atomic(path, b->data, b->size, err, errlen);
}

/* Writes one track's segments and sidecar file and fills its rendition. */
static int write_track(const char *out_dir, CmeTextExtra *x, int k, Track *t, const AVStream *st,
                       const CmeSegmentEntry *video, size_t nb_video, uint32_t video_ts, char *err,
                       size_t errlen)
{
    snprintf(x->names[k], sizeof(x->names[k]), k == 0 ? "subs" : "subs_%d", k + 1);
    char dir[2200];
    cme__outpath(dir, sizeof(dir), out_dir, NULL, x->names[k]);
    int r = cme__mkdir_p(dir, err, errlen);
    if (r < 0)
        return r;
    qsort(t->cues, t->nb, sizeof(*t->cues), cue_order);
    /* Cues that start after the video has ended are never shown: they are left out. */
    const CmeSegmentEntry *last = &video[nb_video - 1];
    uint64_t end_ms = (last->start + last->duration) * 1000 / video_ts;
    while (t->nb > 0 && t->cues[t->nb - 1].start >= end_ms)
        free((char *)t->cues[--t->nb].text);
    x->segments[k] = calloc(nb_video ? nb_video : 1, sizeof(CmeSegmentEntry));
    if (!x->segments[k])
        return CME_ENOMEM;
    for (size_t i = 0; i < nb_video && r == 0; i++) {
        uint64_t from = video[i].start * 1000 / video_ts;
        uint64_t to = (video[i].start + video[i].duration) * 1000 / video_ts;
        CmeBuf b = { 0 };
        char name[32];
        cme__outname_segment(name, sizeof(name), (uint32_t)(i + 1), "vtt");
        r = cme__webvtt_write(&b, t->cues, t->nb, from, to, 1);
        if (r == 0)
            r = write_file(dir, name, &b, err, errlen);
        x->segments[k][i] = (CmeSegmentEntry){ video[i].start, video[i].duration, b.size };
        cme__buf_free(&b);
    }
    if (r == 0) {
        CmeBuf b = { 0 };
        r = cme__webvtt_write(&b, t->cues, t->nb, 0, 0, 0);
        if (r == 0)
            r = write_file(dir, CME_OUT_SUBTITLES, &b, err, errlen);
        cme__buf_free(&b);
    }
    if (r < 0)
        return r;
    int lang = cme__audio_language(st, x->languages[k]);
    x->reps[k] = (CmeRendition){ .name = x->names[k],
                                 .codecs = "wvtt",
                                 .timescale = video_ts,
                                 .segments = x->segments[k],
                                 .nb_segments = nb_video,
                                 .start_number = 1,
                                 .is_text = 1,
                                 .language = lang ? x->languages[k] : NULL };
    return 0;
}

int cme__text_extra(const char *src_path, const char *out_dir, int64_t origin, AVRational origin_tb,
                    const CmeSegmentEntry *video, size_t nb_video, uint32_t video_ts,
                    CmeTextExtra *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof(*x));
    if (nb_video == 0)
        return 0;
    AVFormatContext *fmt = NULL;
    Track tracks[CME_MAX_TEXT];
    int nb = 0, r = 0;
    memset(tracks, 0, sizeof(tracks));
    AVPacket *pkt = av_packet_alloc();
    if (!pkt || avformat_open_input(&fmt, src_path, NULL, NULL) < 0 ||
        avformat_find_stream_info(fmt, NULL) < 0) {
        snprintf(err, errlen, "%s: cannot read the subtitle streams", src_path);
        r = CME_EMEDIA;
        goto done;
    }
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVStream *st = fmt->streams[i];
        st->discard = AVDISCARD_ALL;
        if (st->codecpar->codec_type != AVMEDIA_TYPE_SUBTITLE || !is_text(st->codecpar->codec_id) ||
            nb == CME_MAX_TEXT)
            continue;
        const AVCodec *c = avcodec_find_decoder(st->codecpar->codec_id);
        Track *t = &tracks[nb];
        if (!c || !(t->dec = avcodec_alloc_context3(c)) ||
            avcodec_parameters_to_context(t->dec, st->codecpar) < 0 ||
            avcodec_open2(t->dec, c, NULL) < 0) {
            avcodec_free_context(&t->dec);
            continue; /* a stream no decoder reads is left out */
        }
        t->dec->pkt_timebase = st->time_base;
        t->stream = (int)i;
        st->discard = AVDISCARD_DEFAULT;
        nb++;
    }
    int64_t origin_ms =
        origin == AV_NOPTS_VALUE ? 0 : av_rescale_q(origin, origin_tb, (AVRational){ 1, 1000 });
    while (nb > 0 && r == 0 && av_read_frame(fmt, pkt) >= 0) {
        for (int k = 0; k < nb; k++)
            if (pkt->stream_index == tracks[k].stream)
                r = decode_packet(&tracks[k], fmt->streams[tracks[k].stream], pkt, origin_ms);
        av_packet_unref(pkt);
    }
    if (r < 0)
        snprintf(err, errlen, "%s: out of memory reading subtitles", src_path);
    for (int k = 0; k < nb && r == 0; k++) {
        r = write_track(out_dir, x, k, &tracks[k], fmt->streams[tracks[k].stream], video, nb_video,
                        video_ts, err, errlen);
        if (r == 0)
            x->n = k + 1;
    }
done:
    for (int k = 0; k < nb; k++) {
        for (size_t i = 0; i < tracks[k].nb; i++)
            free((char *)tracks[k].cues[i].text);
        free(tracks[k].cues);
        avcodec_free_context(&tracks[k].dec);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (r < 0)
        cme__text_extra_free(x);
    return r;
}

void cme__text_extra_free(CmeTextExtra *x)
{
    for (int k = 0; k < CME_MAX_TEXT; k++) {
        free(x->segments[k]);
        x->segments[k] = NULL;
    }
    x->n = 0;
}

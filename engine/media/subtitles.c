/* Text subtitles read from the source (see subtitles.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "cmafeng/common.h"
#include "media/audio.h"
#include "media/subtitles.h"

static int is_text(enum AVCodecID id)
{
    return id == AV_CODEC_ID_SUBRIP || id == AV_CODEC_ID_SRT || id == AV_CODEC_ID_ASS ||
           id == AV_CODEC_ID_SSA || id == AV_CODEC_ID_MOV_TEXT || id == AV_CODEC_ID_WEBVTT ||
           id == AV_CODEC_ID_TEXT;
}

static int add_cue(CmeSubtitleTrack *t, int64_t start, int64_t end, const char *ass)
{
    if (end <= 0 || end <= start)
        return 0; /* before time zero, or empty */
    if (t->nb == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        CmeSubtitleCue *p = realloc(t->cues, cap * sizeof(*p));
        if (!p)
            return CME_ENOMEM;
        t->cues = p;
        t->cap = cap;
    }
    char *copy = strdup(ass);
    if (!copy)
        return CME_ENOMEM;
    t->cues[t->nb++] = (CmeSubtitleCue){ (uint64_t)(start < 0 ? 0 : start), (uint64_t)end, copy };
    return 0;
}

/* One packet: its cues, in milliseconds from time zero. */
static int decode_packet(CmeSubtitleTrack *t, AVCodecContext *dec, const AVStream *st,
                         AVPacket *pkt, int64_t origin_ms)
{
    AVSubtitle sub;
    int got = 0;
    if (avcodec_decode_subtitle2(dec, &sub, &got, pkt) < 0 || !got)
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

int cme__subtitles_read(const char *src_path, int64_t origin, AVRational origin_tb,
                        CmeSubtitles *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec[CME_MAX_TEXT] = { 0 };
    int stream[CME_MAX_TEXT];
    int nb = 0, r = 0;
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
        if (!c || !(dec[nb] = avcodec_alloc_context3(c)) ||
            avcodec_parameters_to_context(dec[nb], st->codecpar) < 0 ||
            avcodec_open2(dec[nb], c, NULL) < 0) {
            avcodec_free_context(&dec[nb]);
            continue; /* a stream no decoder reads is left out */
        }
        dec[nb]->pkt_timebase = st->time_base;
        stream[nb] = (int)i;
        if (!cme__audio_language(st, out->tracks[nb].language))
            out->tracks[nb].language[0] = '\0';
        st->discard = AVDISCARD_DEFAULT;
        nb++;
    }
    out->n = nb;
    int64_t origin_ms =
        origin == AV_NOPTS_VALUE ? 0 : av_rescale_q(origin, origin_tb, (AVRational){ 1, 1000 });
    while (nb > 0 && r == 0 && av_read_frame(fmt, pkt) >= 0) {
        for (int k = 0; k < nb; k++)
            if (pkt->stream_index == stream[k])
                r = decode_packet(&out->tracks[k], dec[k], fmt->streams[stream[k]], pkt, origin_ms);
        av_packet_unref(pkt);
    }
    if (r < 0)
        snprintf(err, errlen, "%s: out of memory reading subtitles", src_path);
done:
    for (int k = 0; k < nb; k++)
        avcodec_free_context(&dec[k]);
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (r < 0)
        cme__subtitles_free(out);
    return r;
}

void cme__subtitles_free(CmeSubtitles *s)
{
    for (int k = 0; k < CME_MAX_TEXT; k++) {
        CmeSubtitleTrack *t = &s->tracks[k];
        for (size_t i = 0; i < t->nb; i++)
            free(t->cues[i].ass);
        free(t->cues);
        memset(t, 0, sizeof(*t));
    }
    s->n = 0;
}

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "cmafeng/common.h"
#include "media/audio.h"

struct CmeAudio {
    AVCodecContext *dec;
    AVCodecContext *enc;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *in;  /* decoded */
    AVFrame *out; /* one encoder frame */
    AVRational in_tb;
    int64_t origin;
    AVRational origin_tb;
    int started;      /* the first decoded frame fixed the offset */
    int64_t drop;     /* output samples still to drop (audio began before the origin) */
    int64_t next_pts; /* output samples sent to the encoder */
    uint64_t errors;  /* damaged packets and frames skipped (cme__audio_errors) */
    int flushed;
};

static void av_fail(char *err, size_t errlen, const char *what, int averr)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };
    av_strerror(averr, buf, sizeof(buf));
    snprintf(err, errlen, "audio: %s: %s", what, buf);
}

int cme__audio_open(CmeAudio **out, const AVStream *st, const CmeAudioSettings *s, char *err,
                    size_t errlen)
{
    *out = NULL;
    CmeAudio *a = calloc(1, sizeof(*a));
    if (!a)
        return CME_ENOMEM;
    a->origin = AV_NOPTS_VALUE;
    a->in_tb = st->time_base;
    int r;
    const AVCodec *dc = avcodec_find_decoder(st->codecpar->codec_id);
    if (!dc) {
        snprintf(err, errlen, "audio: no decoder for %s", avcodec_get_name(st->codecpar->codec_id));
        goto fail;
    }
    a->dec = avcodec_alloc_context3(dc);
    if (!a->dec || avcodec_parameters_to_context(a->dec, st->codecpar) < 0)
        goto nomem;
    a->dec->pkt_timebase = st->time_base;
    if ((r = avcodec_open2(a->dec, dc, NULL)) < 0) {
        av_fail(err, errlen, "cannot open the decoder", r);
        goto fail;
    }
    const AVCodec *ec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!ec) {
        snprintf(err, errlen, "audio: this FFmpeg has no AAC encoder");
        goto fail;
    }
    a->enc = avcodec_alloc_context3(ec);
    if (!a->enc)
        goto nomem;
    a->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    a->enc->sample_rate = s->sample_rate;
    av_channel_layout_default(&a->enc->ch_layout, s->channels);
    a->enc->bit_rate = s->bitrate;
    a->enc->time_base = (AVRational){ 1, s->sample_rate };
    a->enc->profile = FF_PROFILE_AAC_LOW;
    /* The AudioSpecificConfig goes into esds, not into every packet. */
    a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((r = avcodec_open2(a->enc, ec, NULL)) < 0) {
        av_fail(err, errlen, "cannot open the AAC encoder", r);
        goto fail;
    }
    AVChannelLayout in_layout;
    if (a->dec->ch_layout.nb_channels > 0)
        av_channel_layout_copy(&in_layout, &a->dec->ch_layout);
    else
        av_channel_layout_default(&in_layout, 2);
    r = swr_alloc_set_opts2(&a->swr, &a->enc->ch_layout, AV_SAMPLE_FMT_FLTP, s->sample_rate,
                            &in_layout, a->dec->sample_fmt, a->dec->sample_rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    if (r < 0 || (r = swr_init(a->swr)) < 0) {
        av_fail(err, errlen, "cannot set up resampling", r);
        goto fail;
    }
    a->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, s->channels, 4096);
    a->in = av_frame_alloc();
    a->out = av_frame_alloc();
    if (!a->fifo || !a->in || !a->out)
        goto nomem;
    *out = a;
    return 0;
nomem:
    snprintf(err, errlen, "audio: out of memory");
    cme__audio_close(&a);
    return CME_ENOMEM;
fail:
    cme__audio_close(&a);
    return CME_EMEDIA;
}

void cme__audio_set_origin(CmeAudio *a, int64_t origin, AVRational origin_tb)
{
    a->origin = origin;
    a->origin_tb = origin_tb;
}

int cme__audio_priming(const CmeAudio *a)
{
    return a->enc->initial_padding;
}

const uint8_t *cme__audio_asc(const CmeAudio *a, size_t *size)
{
    *size = (size_t)a->enc->extradata_size;
    return a->enc->extradata;
}

/* Encodes whole frames from the FIFO; at the flush, the short remainder too. */
static int encode_fifo(CmeAudio *a, int final, char *err, size_t errlen)
{
    const int n = a->enc->frame_size > 0 ? a->enc->frame_size : 1024;
    while (av_audio_fifo_size(a->fifo) >= n || (final && av_audio_fifo_size(a->fifo) > 0)) {
        int take = FFMIN(n, av_audio_fifo_size(a->fifo));
        av_frame_unref(a->out);
        a->out->nb_samples = take;
        a->out->format = AV_SAMPLE_FMT_FLTP;
        a->out->sample_rate = a->enc->sample_rate;
        av_channel_layout_copy(&a->out->ch_layout, &a->enc->ch_layout);
        if (av_frame_get_buffer(a->out, 0) < 0)
            return CME_ENOMEM;
        av_audio_fifo_read(a->fifo, (void **)a->out->data, take);
        a->out->pts = a->next_pts;
        a->next_pts += take;
        int r = avcodec_send_frame(a->enc, a->out);
        if (r < 0) {
            av_fail(err, errlen, "encoding failed", r);
            return CME_EMEDIA;
        }
    }
    return 0;
}

/* Resamples one decoded frame (or flushes the resampler) into the FIFO, applying the
 * offset to the video origin on the first frame. */
static int resample(CmeAudio *a, const AVFrame *f, char *err, size_t errlen)
{
    const int ch = a->enc->ch_layout.nb_channels;
    if (f && !a->started) {
        a->started = 1;
        int64_t t = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
        if (t != AV_NOPTS_VALUE && a->origin != AV_NOPTS_VALUE) {
            AVRational out_tb = { 1, a->enc->sample_rate };
            int64_t off =
                av_rescale_q(t, a->in_tb, out_tb) - av_rescale_q(a->origin, a->origin_tb, out_tb);
            if (off > 0) {
                /* Audio starts after the first video frame: lead with silence. */
                float *zero = calloc((size_t)off, sizeof(float));
                if (!zero)
                    return CME_ENOMEM;
                void *planes[8];
                for (int c = 0; c < ch && c < 8; c++)
                    planes[c] = zero;
                av_audio_fifo_write(a->fifo, planes, (int)off);
                free(zero);
            } else {
                a->drop = -off;
            }
        }
    }
    int max_out = swr_get_out_samples(a->swr, f ? f->nb_samples : 0);
    if (max_out <= 0)
        return 0;
    uint8_t **buf = NULL;
    int r = av_samples_alloc_array_and_samples(&buf, NULL, ch, max_out, AV_SAMPLE_FMT_FLTP, 0);
    if (r < 0)
        return CME_ENOMEM;
    int got = swr_convert(a->swr, buf, max_out, f ? (const uint8_t **)f->extended_data : NULL,
                          f ? f->nb_samples : 0);
    int ret = 0;
    if (got < 0) {
        av_fail(err, errlen, "resampling failed", got);
        ret = CME_EMEDIA;
    } else {
        int skip = (int)FFMIN(a->drop, (int64_t)got);
        a->drop -= skip;
        if (got > skip) {
            void *planes[8];
            for (int c = 0; c < ch && c < 8; c++)
                planes[c] = buf[c] + (size_t)skip * sizeof(float);
            if (av_audio_fifo_write(a->fifo, planes, got - skip) < got - skip)
                ret = CME_ENOMEM;
        }
    }
    av_freep(&buf[0]);
    av_freep(&buf);
    return ret;
}

int cme__audio_send(CmeAudio *a, const AVPacket *pkt, char *err, size_t errlen)
{
    if (a->flushed)
        return 0;
    int r = avcodec_send_packet(a->dec, pkt);
    /* A damaged packet or frame is skipped and counted, as the video decoder's are: a few
     * corrupted bytes must not fail the whole job (the gap is a short silence). */
    /* Decoders report damage with many codes (the AAC decoder returns a bare -1); only
     * running out of memory is not the input's fault. */
    if (r == AVERROR(ENOMEM)) {
        av_fail(err, errlen, "decoding failed", r);
        return CME_EMEDIA;
    }
    if (r < 0 && r != AVERROR_EOF && r != AVERROR(EAGAIN))
        a->errors++;
    for (;;) {
        r = avcodec_receive_frame(a->dec, a->in);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            break;
        if (r < 0 && r != AVERROR(ENOMEM)) {
            a->errors++;
            break; /* that packet is lost; the next one decodes on its own */
        }
        if (r < 0) {
            av_fail(err, errlen, "decoding failed", r);
            return CME_EMEDIA;
        }
        r = resample(a, a->in, err, errlen);
        av_frame_unref(a->in);
        if (r == 0)
            r = encode_fifo(a, 0, err, errlen);
        if (r < 0)
            return r;
    }
    if (!pkt) {
        a->flushed = 1;
        if ((r = resample(a, NULL, err, errlen)) < 0 || (r = encode_fifo(a, 1, err, errlen)) < 0)
            return r;
        avcodec_send_frame(a->enc, NULL);
    }
    return 0;
}

uint64_t cme__audio_errors(const CmeAudio *a)
{
    return a->errors;
}

int cme__audio_receive(CmeAudio *a, AVPacket *pkt)
{
    int r = avcodec_receive_packet(a->enc, pkt);
    if (r == AVERROR(EAGAIN))
        return CME_EAGAIN;
    if (r == AVERROR_EOF)
        return CME_EOF;
    return r < 0 ? CME_EMEDIA : 0;
}

void cme__audio_close(CmeAudio **pa)
{
    CmeAudio *a = *pa;
    if (!a)
        return;
    av_frame_free(&a->in);
    av_frame_free(&a->out);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    swr_free(&a->swr);
    avcodec_free_context(&a->enc);
    avcodec_free_context(&a->dec);
    free(a);
    *pa = NULL;
}

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    int64_t next_pos; /* output samples from the origin where the next decoded frame is due */
    int pending;      /* a->out holds a frame the encoder refused (EAGAIN) until it is drained */
    int eos_pending;  /* the end of stream is yet to be sent, after the FIFO empties */
    int64_t next_pts; /* output samples sent to the encoder */
    uint64_t errors;  /* damaged packets and frames skipped (cme__audio_errors) */
    int flushed;
    enum AVSampleFormat fmt; /* the encoder's input format, also the FIFO's */
    CmeAudioCodec codec;
};

/* The channel layout of an output of n channels: the usual layouts, and for more than two
 * the order Vorbis and Opus define (RFC 7845 5.1.1.2), which libopus requires and AAC's
 * default channel configurations share in content. */
static void out_layout(AVChannelLayout *l, int n)
{
    if (n == 6)
        *l = (AVChannelLayout)AV_CHANNEL_LAYOUT_5POINT1_BACK;
    else if (n == 5)
        *l = (AVChannelLayout)AV_CHANNEL_LAYOUT_5POINT0_BACK;
    else if (n == 4)
        *l = (AVChannelLayout)AV_CHANNEL_LAYOUT_QUAD;
    else if (n == 3)
        *l = (AVChannelLayout)AV_CHANNEL_LAYOUT_SURROUND;
    else
        av_channel_layout_default(l, n);
}

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
    a->codec = s->codec;
    const AVCodec *ec = s->codec == CME_AUDIO_OPUS ? avcodec_find_encoder_by_name("libopus")
                                                   : avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!ec) {
        snprintf(err, errlen, "audio: this FFmpeg has no %s encoder",
                 s->codec == CME_AUDIO_OPUS ? "libopus" : "AAC");
        goto fail;
    }
    int channels = s->channels;
    if (channels <= 0)
        channels = a->dec->ch_layout.nb_channels > 0 ? a->dec->ch_layout.nb_channels : 2;
    if (channels > 6)
        channels = 6; /* more than 5.1 is downmixed to 5.1 */
    /* libopus runs at 48 kHz (and its divisors); the Opus track's timescale is 48000. */
    int rate = s->codec == CME_AUDIO_OPUS ? 48000 : s->sample_rate;
    a->enc = avcodec_alloc_context3(ec);
    if (!a->enc)
        goto nomem;
    /* Floats: planar for FFmpeg's AAC encoder, interleaved for libopus. */
    a->fmt = AV_SAMPLE_FMT_FLTP;
    for (const enum AVSampleFormat *f = ec->sample_fmts; f && *f != AV_SAMPLE_FMT_NONE; f++)
        if (*f == AV_SAMPLE_FMT_FLTP || *f == AV_SAMPLE_FMT_FLT) {
            a->fmt = *f;
            break;
        }
    a->enc->sample_fmt = a->fmt;
    a->enc->sample_rate = rate;
    out_layout(&a->enc->ch_layout, channels);
    a->enc->bit_rate = s->bitrate;
    a->enc->time_base = (AVRational){ 1, rate };
    if (s->codec != CME_AUDIO_OPUS)
        a->enc->profile = FF_PROFILE_AAC_LOW;
    /* The decoder configuration goes into the sample entry, not into every packet. */
    a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((r = avcodec_open2(a->enc, ec, NULL)) < 0) {
        av_fail(err, errlen, "cannot open the audio encoder", r);
        goto fail;
    }
    AVChannelLayout in_layout;
    if (a->dec->ch_layout.nb_channels > 0)
        av_channel_layout_copy(&in_layout, &a->dec->ch_layout);
    else
        av_channel_layout_default(&in_layout, 2);
    r = swr_alloc_set_opts2(&a->swr, &a->enc->ch_layout, a->fmt, rate, &in_layout,
                            a->dec->sample_fmt, a->dec->sample_rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    if (r < 0 || (r = swr_init(a->swr)) < 0) {
        av_fail(err, errlen, "cannot set up resampling", r);
        goto fail;
    }
    a->fifo = av_audio_fifo_alloc(a->fmt, channels, 4096);
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

int cme__audio_language(const AVStream *st, char out[4])
{
    const AVDictionaryEntry *e = st ? av_dict_get(st->metadata, "language", NULL, 0) : NULL;
    if (!e || strlen(e->value) != 3 || !strcmp(e->value, "und"))
        return 0;
    for (int i = 0; i < 3; i++) {
        char c = e->value[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c < 'a' || c > 'z')
            return 0;
        out[i] = c;
    }
    out[3] = '\0';
    return 1;
}

int cme__audio_channels(const CmeAudio *a)
{
    return a->enc->ch_layout.nb_channels;
}

int cme__audio_sample_rate(const CmeAudio *a)
{
    return a->enc->sample_rate;
}

const char *cme__audio_codecs(const CmeAudio *a)
{
    return a->codec == CME_AUDIO_OPUS ? "opus" : "mp4a.40.2";
}

/* The FIFO's planes for n samples starting `skip` samples into buf (planar: one plane per
 * channel; interleaved: one). */
static void planes_at(const CmeAudio *a, uint8_t **buf, int skip, void *planes[8])
{
    const int ch = a->enc->ch_layout.nb_channels;
    if (av_sample_fmt_is_planar(a->fmt)) {
        for (int c = 0; c < ch && c < 8; c++)
            planes[c] = buf[c] + (size_t)skip * sizeof(float);
    } else {
        planes[0] = buf[0] + (size_t)skip * (size_t)ch * sizeof(float);
    }
}

/* Encodes whole frames from the FIFO; at the flush, the short remainder too. */
static int encode_fifo(CmeAudio *a, int final, char *err, size_t errlen)
{
    const int n = a->enc->frame_size > 0 ? a->enc->frame_size : 1024;
    /* The encoder takes frames until a packet is waiting (EAGAIN): a long stretch of
     * silence, filling a gap of damaged audio, is many frames at once. The refused frame
     * waits in a->out; cme__audio_receive sends it again once packets were taken. */
    if (a->pending) {
        int r = avcodec_send_frame(a->enc, a->out);
        if (r == AVERROR(EAGAIN))
            return 0;
        a->pending = 0;
        if (r < 0) {
            av_fail(err, errlen, "encoding failed", r);
            return CME_EMEDIA;
        }
    }
    while (av_audio_fifo_size(a->fifo) >= n || (final && av_audio_fifo_size(a->fifo) > 0)) {
        int take = FFMIN(n, av_audio_fifo_size(a->fifo));
        av_frame_unref(a->out);
        a->out->nb_samples = take;
        a->out->format = a->fmt;
        a->out->sample_rate = a->enc->sample_rate;
        av_channel_layout_copy(&a->out->ch_layout, &a->enc->ch_layout);
        if (av_frame_get_buffer(a->out, 0) < 0)
            return CME_ENOMEM;
        av_audio_fifo_read(a->fifo, (void **)a->out->data, take);
        a->out->pts = a->next_pts;
        a->next_pts += take;
        int r = avcodec_send_frame(a->enc, a->out);
        if (r == AVERROR(EAGAIN)) {
            a->pending = 1;
            return 0;
        }
        if (r < 0) {
            av_fail(err, errlen, "encoding failed", r);
            return CME_EMEDIA;
        }
    }
    if (a->eos_pending && !a->pending && av_audio_fifo_size(a->fifo) == 0) {
        int r = avcodec_send_frame(a->enc, NULL);
        if (r == AVERROR(EAGAIN))
            return 0;
        a->eos_pending = 0;
    }
    return 0;
}

/* Writes n samples of silence into the FIFO (the samples still to drop go first). */
static int write_silence(CmeAudio *a, int64_t n)
{
    const int ch = a->enc->ch_layout.nb_channels;
    int64_t skip = FFMIN(a->drop, n);
    a->drop -= skip;
    n -= skip;
    while (n > 0) {
        int k = (int)FFMIN(n, 4096);
        /* Zero is silence in every sample format the encoders take (float, s16). */
        uint8_t *zero = calloc((size_t)k * (size_t)ch, 8);
        if (!zero)
            return CME_ENOMEM;
        void *planes[8];
        for (int c = 0; c < 8; c++)
            planes[c] = zero;
        int w = av_audio_fifo_write(a->fifo, planes, k);
        free(zero);
        if (w < k)
            return CME_ENOMEM;
        n -= k;
    }
    return 0;
}

/* The frame's start in output samples from the video origin, or INT64_MIN when unknown. */
static int64_t frame_pos(const CmeAudio *a, const AVFrame *f)
{
    int64_t t = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    if (t == AV_NOPTS_VALUE || a->origin == AV_NOPTS_VALUE)
        return INT64_MIN;
    AVRational out_tb = { 1, a->enc->sample_rate };
    return av_rescale_q(t, a->in_tb, out_tb) - av_rescale_q(a->origin, a->origin_tb, out_tb);
}

/* Resamples one decoded frame (or flushes the resampler) into the FIFO, applying the
 * offset to the video origin on the first frame. A frame that starts later than the one
 * before it ended (damaged packets were skipped, or the stream has a hole) is preceded by
 * that much silence, so the audio keeps its place against the video. */
static int resample(CmeAudio *a, const AVFrame *f, char *err, size_t errlen)
{
    const int ch = a->enc->ch_layout.nb_channels;
    if (f && a->started) {
        int64_t pos = frame_pos(a, f);
        int64_t frame_len = av_rescale(f->nb_samples, a->enc->sample_rate, a->dec->sample_rate);
        /* Gaps under half a frame are timestamp rounding, not lost audio. */
        if (pos != INT64_MIN && pos - a->next_pos > frame_len / 2) {
            int r = write_silence(a, pos - a->next_pos);
            if (r < 0)
                return r;
            a->next_pos = pos;
        }
        a->next_pos += frame_len;
    }
    if (f && !a->started) {
        int64_t pos = frame_pos(a, f);
        a->next_pos = (pos != INT64_MIN ? pos : 0) +
                      av_rescale(f->nb_samples, a->enc->sample_rate, a->dec->sample_rate);
        a->started = 1;
        if (pos != INT64_MIN) {
            if (pos > 0) {
                /* Audio starts after the first video frame: lead with silence. */
                int r = write_silence(a, pos);
                if (r < 0)
                    return r;
            } else {
                a->drop = -pos;
            }
        }
    }
    int max_out = swr_get_out_samples(a->swr, f ? f->nb_samples : 0);
    if (max_out <= 0)
        return 0;
    uint8_t **buf = NULL;
    int r = av_samples_alloc_array_and_samples(&buf, NULL, ch, max_out, a->fmt, 0);
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
            planes_at(a, buf, skip, planes);
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
        a->eos_pending = 1;
        if ((r = resample(a, NULL, err, errlen)) < 0 || (r = encode_fifo(a, 1, err, errlen)) < 0)
            return r;
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
    const int n = a->enc->frame_size > 0 ? a->enc->frame_size : 1024;
    while (r == AVERROR(EAGAIN) &&
           (a->pending || a->eos_pending || av_audio_fifo_size(a->fifo) >= n)) {
        /* The encoder wants input that encode_fifo held back: give it, then ask again. */
        char err[8];
        int pending = a->pending, eos = a->eos_pending, fifo = av_audio_fifo_size(a->fifo);
        if (encode_fifo(a, a->flushed, err, sizeof(err)) < 0)
            return CME_EMEDIA;
        r = avcodec_receive_packet(a->enc, pkt);
        if (a->pending == pending && a->eos_pending == eos && av_audio_fifo_size(a->fifo) == fifo)
            break; /* no progress: nothing more to give now */
    }
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

/*
 * The verification decoder (see verify.h). The container layer is the fuzzed reader in
 * mux/mp4_reader.c (read by the caller), so what is decoded is exactly what `inspect`
 * lists; the decoders are
 * independent of the encoders that made the files: libdav1d for AV1 (one thread, one frame
 * of delay, so every picture comes out beside the temporal unit that produced it) and
 * libavcodec's AAC and Opus decoders, configured from the init segment alone (esds'
 * AudioSpecificConfig, dOps turned into the OpusHead that libavcodec expects).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dav1d/dav1d.h>
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>

#include "cmafeng/common.h"
#include "core/errf.h"
#include "media/verify.h"

typedef struct Ctx {
    const CmeVerifyTrack *t;
    CmeVerifyResult *out;
    size_t cap;
} Ctx;

/* The file holding byte `offset` of the concatenation. */
static uint32_t file_of(const Ctx *c, uint64_t offset)
{
    size_t lo = 0, hi = c->t->nb_files;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (c->t->starts[mid] <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Records the first refusal of the decoder; later ones are only counted. */
static void decode_error(Ctx *c, size_t sample, const char *fmt, ...) CME_PRINTF(3, 4);
static void decode_error(Ctx *c, size_t sample, const char *fmt, ...)
{
    CmeVerifyResult *r = c->out;
    if (r->decode_errors++ > 0)
        return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sample < c->t->nb_samples)
        snprintf(r->first_error, sizeof(r->first_error), "sample %zu (%s): %s", sample + 1,
                 base_name(c->t->paths[file_of(c, c->t->samples[sample].offset)]), msg);
    else
        snprintf(r->first_error, sizeof(r->first_error), "at the end of the stream: %s", msg);
}

static int add_frame(Ctx *c, const CmeVerifyFrame *fr)
{
    CmeVerifyResult *r = c->out;
    if (r->nb_frames == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        CmeVerifyFrame *p = realloc(r->frames, cap * sizeof(*p));
        if (!p)
            return CME_ENOMEM;
        r->frames = p;
        c->cap = cap;
    }
    r->frames[r->nb_frames++] = *fr;
    if (fr->file < r->nb_files)
        r->files[fr->file].frames++;
    return 0;
}

/* ---- AV1: libdav1d -------------------------------------------------------------------- */

static void nop_free(const uint8_t *data, void *cookie)
{
    (void)data;
    (void)cookie;
}

static int take_picture(Ctx *c, Dav1dPicture *pic)
{
    CmeVerifyFrame fr = { .pts = pic->m.timestamp,
                          .width = (uint32_t)pic->p.w,
                          .height = (uint32_t)pic->p.h,
                          .file = (uint32_t)pic->m.offset };
    dav1d_picture_unref(pic);
    return add_frame(c, &fr);
}

static int decode_av1(Ctx *c, char *err, size_t errlen)
{
    Dav1dSettings s;
    dav1d_default_settings(&s);
    s.n_threads = 1;
    s.max_frame_delay = 1;
    s.all_layers = 0;
    s.logger.callback = NULL; /* findings are reported by the caller, not on stderr */
    Dav1dContext *dec = NULL;
    if (dav1d_open(&dec, &s) < 0)
        return cme__errf(err, errlen, CME_ENOMEM, "libdav1d: cannot open a decoder");
    snprintf(c->out->decoder, sizeof(c->out->decoder), "libdav1d %s", dav1d_version());
    int ret = 0;
    Dav1dPicture pic;
    for (size_t i = 0; i < c->t->nb_samples && ret == 0; i++) {
        const CmeVerifySample *sm = &c->t->samples[i];
        Dav1dData data = { 0 };
        if (dav1d_data_wrap(&data, c->t->data + sm->offset, sm->size, nop_free, NULL) < 0) {
            decode_error(c, i, "an empty sample");
            continue;
        }
        data.m.timestamp = (int64_t)sm->dts + sm->cts_offset;
        data.m.offset = file_of(c, sm->offset);
        for (;;) {
            int r = dav1d_send_data(dec, &data);
            if (r == DAV1D_ERR(EAGAIN)) {
                /* The decoder holds a picture: take it, then send the rest. */
                memset(&pic, 0, sizeof(pic));
                int g = dav1d_get_picture(dec, &pic);
                if (g == 0 && (ret = take_picture(c, &pic)) < 0)
                    break;
                if (g < 0 && g != DAV1D_ERR(EAGAIN)) {
                    decode_error(c, i, "dav1d_get_picture: error %d", g);
                    dav1d_data_unref(&data);
                    break;
                }
                continue;
            }
            if (r < 0) {
                decode_error(c, i, "dav1d_send_data: error %d (the temporal unit is invalid)", r);
                dav1d_data_unref(&data);
            }
            break;
        }
        for (;;) {
            memset(&pic, 0, sizeof(pic));
            int g = dav1d_get_picture(dec, &pic);
            if (g == DAV1D_ERR(EAGAIN))
                break;
            if (g < 0) {
                decode_error(c, i, "dav1d_get_picture: error %d", g);
                break;
            }
            if ((ret = take_picture(c, &pic)) < 0)
                break;
        }
    }
    /* Drain: with one frame of delay nothing should remain, but a decoder is asked anyway. */
    for (int k = 0; ret == 0 && k < 64; k++) {
        memset(&pic, 0, sizeof(pic));
        if (dav1d_get_picture(dec, &pic) != 0)
            break;
        ret = take_picture(c, &pic);
    }
    dav1d_close(&dec);
    return ret < 0 ? cme__errf(err, errlen, ret, "out of memory") : 0;
}

/* ---- AAC and Opus: libavcodec --------------------------------------------------------- */

/* The OpusHead (RFC 7845 5.1, little-endian) libavcodec takes as extradata, from dOps
 * (Opus in ISO BMFF 4.3.2, big-endian; the reader has checked its size). */
static int opus_head(const uint8_t *d, size_t n, uint8_t *out, size_t cap, size_t *size)
{
    if (n < 11 || cap < 19 + 2 + 255)
        return CME_EBITSTREAM;
    size_t k = 0;
    memcpy(out, "OpusHead", 8);
    k = 8;
    out[k++] = 1;    /* version */
    out[k++] = d[1]; /* channel count */
    out[k++] = d[3]; /* pre-skip, LE */
    out[k++] = d[2];
    out[k++] = d[7]; /* input sample rate, LE */
    out[k++] = d[6];
    out[k++] = d[5];
    out[k++] = d[4];
    out[k++] = d[9]; /* output gain, LE */
    out[k++] = d[8];
    out[k++] = d[10]; /* channel mapping family */
    if (d[10] != 0) {
        size_t table = 2 + (size_t)d[1];
        if (n < 11 + table)
            return CME_EBITSTREAM;
        memcpy(out + k, d + 11, table);
        k += table;
    }
    *size = k;
    return 0;
}

/* The sample whose decode time is pts (samples are in decode order, times increasing). */
static uint32_t file_of_pts(const Ctx *c, int64_t pts)
{
    size_t lo = 0, hi = c->t->nb_samples;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((int64_t)c->t->samples[mid].dts <= pts)
            lo = mid;
        else
            hi = mid;
    }
    return c->t->nb_samples ? file_of(c, c->t->samples[lo].offset) : 0;
}

static int take_frames(Ctx *c, AVCodecContext *dec, AVFrame *frame, size_t sample)
{
    CmeVerifyResult *r = c->out;
    for (;;) {
        int g = avcodec_receive_frame(dec, frame);
        if (g == AVERROR(EAGAIN) || g == AVERROR_EOF)
            return 0;
        if (g < 0) {
            char e[AV_ERROR_MAX_STRING_SIZE];
            av_strerror(g, e, sizeof(e));
            decode_error(c, sample, "%s: %s", dec->codec->name, e);
            return 0;
        }
        CmeVerifyFrame fr = { .pts = frame->pts,
                              .nb_samples = (uint32_t)frame->nb_samples,
                              .file = file_of_pts(c, frame->pts) };
        r->pcm_samples += (uint64_t)frame->nb_samples;
        r->channels = frame->ch_layout.nb_channels;
        r->sample_rate = frame->sample_rate;
        av_frame_unref(frame);
        int a = add_frame(c, &fr);
        if (a < 0)
            return a;
    }
}

static int decode_audio(Ctx *c, char *err, size_t errlen)
{
    const CmeVerifyTrack *f = c->t;
    enum AVCodecID id;
    uint8_t head[512];
    const uint8_t *extra = NULL;
    size_t extra_size = 0;
    if (!memcmp(f->sample_entry, "mp4a", 4) && f->has_esds && f->esds_oti == 0x40) {
        id = AV_CODEC_ID_AAC;
        extra = f->dsi;
        extra_size = f->dsi_size;
    } else if (!memcmp(f->sample_entry, "Opus", 4) && f->dops) {
        id = AV_CODEC_ID_OPUS;
        if (opus_head(f->dops, f->dops_size, head, sizeof(head), &extra_size) < 0)
            return cme__errf(err, errlen, CME_EBITSTREAM, "%s: dOps: malformed", f->paths[0]);
        extra = head;
    } else {
        return cme__errf(err, errlen, CME_EUNSUPPORTED,
                         "%s: no verification decoder for sample entry %s", f->paths[0],
                         f->sample_entry);
    }
    const AVCodec *codec = avcodec_find_decoder(id);
    if (!codec)
        return cme__errf(err, errlen, CME_EUNSUPPORTED, "libavcodec has no %s decoder",
                         avcodec_get_name(id));
    snprintf(c->out->decoder, sizeof(c->out->decoder), "%s", codec->name);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int ret = 0;
    if (!dec || !pkt || !frame) {
        ret = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
        goto out;
    }
    dec->extradata = av_mallocz(extra_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!dec->extradata) {
        ret = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(dec->extradata, extra, extra_size);
    dec->extradata_size = (int)extra_size;
    dec->pkt_timebase = (AVRational){ 1, (int)(f->timescale ? f->timescale : 1) };
    if (f->sample_rate)
        dec->sample_rate = (int)f->sample_rate;
    if (f->channels) {
        av_channel_layout_uninit(&dec->ch_layout);
        av_channel_layout_default(&dec->ch_layout, (int)f->channels);
    }
    dec->thread_count = 1;
    /* Every decoded sample comes out: the priming (Opus pre-skip) is the edit list's to
     * trim, so the frames keep the container's timestamps and lengths. */
    dec->flags2 |= AV_CODEC_FLAG2_SKIP_MANUAL;
    int r = avcodec_open2(dec, codec, NULL);
    if (r < 0) {
        char e[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(r, e, sizeof(e));
        ret = cme__errf(err, errlen, CME_EBITSTREAM,
                        "%s: the %s decoder refuses the configuration: %s", f->paths[0],
                        codec->name, e);
        goto out;
    }
    for (size_t i = 0; i < f->nb_samples && ret == 0; i++) {
        const CmeVerifySample *sm = &f->samples[i];
        if (av_new_packet(pkt, (int)sm->size) < 0) {
            ret = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
            break;
        }
        memcpy(pkt->data, f->data + sm->offset, sm->size);
        pkt->pts = pkt->dts = (int64_t)sm->dts + sm->cts_offset;
        pkt->duration = sm->duration;
        r = avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);
        if (r < 0 && r != AVERROR(EAGAIN)) {
            char e[AV_ERROR_MAX_STRING_SIZE];
            av_strerror(r, e, sizeof(e));
            decode_error(c, i, "%s: %s", codec->name, e);
        }
        ret = take_frames(c, dec, frame, i);
    }
    if (ret == 0 && avcodec_send_packet(dec, NULL) == 0)
        ret = take_frames(c, dec, frame, f->nb_samples);
    if (ret < 0)
        ret = cme__errf(err, errlen, ret, "out of memory");
out:
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    return ret;
}

/* ---- the whole ------------------------------------------------------------------------ */

int cme__verify_decode(const CmeVerifyTrack *t, CmeVerifyResult *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!t || t->nb_files == 0 || !out)
        return cme__errf(err, errlen, CME_EINVAL, "cme__verify_decode: invalid argument");
    memset(out, 0, sizeof(*out));
    Ctx c = { .t = t, .out = out };
    int r = 0;
    out->files = calloc(t->nb_files, sizeof(*out->files));
    if (!out->files) {
        r = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
        goto error;
    }
    out->nb_files = t->nb_files;
    for (size_t i = 0; i < t->nb_files; i++)
        out->files[i].first_dts = -1;
    memcpy(out->sample_entry, t->sample_entry, sizeof(out->sample_entry));
    out->timescale = t->timescale;
    out->nb_samples = t->nb_samples;
    for (size_t i = 0; i < t->nb_samples; i++) {
        const CmeVerifySample *sm = &t->samples[i];
        CmeVerifyFile *vf = &out->files[file_of(&c, sm->offset)];
        if (vf->samples++ == 0)
            vf->first_dts = (int64_t)sm->dts;
        vf->duration += sm->duration;
    }
    if (!memcmp(t->sample_entry, "av01", 4)) {
        out->kind = CME_VERIFY_VIDEO;
        r = decode_av1(&c, err, errlen);
    } else if (!strcmp(t->handler, "soun")) {
        out->kind = CME_VERIFY_AUDIO;
        r = decode_audio(&c, err, errlen);
    } else {
        r = cme__errf(err, errlen, CME_EUNSUPPORTED,
                      "%s: no verification decoder for %s track (%s)", t->paths[0],
                      t->handler[0] ? t->handler : "an unknown", t->sample_entry);
    }
    if (r < 0)
        goto error;
    return 0;

error:
    cme__verify_free(out);
    return r;
}

void cme__verify_free(CmeVerifyResult *r)
{
    if (!r)
        return;
    free(r->frames);
    free(r->files);
    memset(r, 0, sizeof(*r));
}

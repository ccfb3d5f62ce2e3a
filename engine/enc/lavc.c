/*
 * libavcodec backend: any AV1 encoder of the linked FFmpeg behind the encoder vtable
 * (lavc.h). Registered here: "aom" (libaom-av1), "rav1e" (librav1e) and "amf" (av1_amf);
 * nvenc.c and vaapi.c register av1_nvenc and av1_vaapi with their own device discovery.
 *
 * The worker drives every backend the same way (worker.c): one frame in, packets out in
 * presentation order, one packet per frame, a forced key frame with a sequence header at
 * every chunk start, EOS at the end. FFmpeg's AV1 encoders emit one temporal unit per
 * shown frame (hidden alt-refs travel with the next shown frame), so packets come back in
 * the order the frames went in.
 *
 * Forced key frames: libaom-av1 and the hardware encoders turn AVFrame.pict_type = I into
 * a key frame. FFmpeg's librav1e wrapper ignores pict_type (5.1 to 7.1), so rav1e runs
 * with a fixed key-frame interval equal to the chunk length (min = max), which puts a key
 * frame at every chunk start as long as chunks arrive back to back; a forced key frame off
 * that grid (the short last chunk followed by a requeued one) restarts the encoder: the
 * old context is drained into a queue whose packets are handed out first.
 *
 * The sequence header: no AV_CODEC_FLAG_GLOBAL_HEADER, so libaom and rav1e keep the
 * sequence header OBU in every key frame's temporal unit (checked by test_lavc).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "cmafeng/common.h"
#include "enc/lavc.h"

/* A key-frame interval no chunk reaches (about 11 minutes at 25 fps). */
#define LAVC_NO_PERIODIC_KEY 16384

int cme__lavc_crf_to_qindex(int crf)
{
    if (crf <= 0)
        return 0;
    if (crf >= 63)
        return 255;
    if (crf == 62)
        return 249;
    if (crf == 61)
        return 244;
    return crf * 4;
}

int cme__lavc_level_idx(int level_x10)
{
    /* AV1 Annex A.3: seq_level_idx = (major - 2) * 4 + minor, levels 2.0..7.3. */
    int major = level_x10 / 10, minor = level_x10 % 10;
    if (major < 2 || major > 7 || minor > 3)
        return -1;
    return (major - 2) * 4 + minor;
}

/* The accepted pixel formats of an encoder (AV_PIX_FMT_NONE-terminated), across the API
 * change of FFmpeg 7.1 (avcodec_get_supported_config). */
static const enum AVPixelFormat *codec_pix_fmts(const AVCodec *codec)
{
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(61, 13, 100)
    const void *out = NULL;
    int n = 0;
    if (avcodec_get_supported_config(NULL, codec, AV_CODEC_CONFIG_PIX_FORMAT, 0, &out, &n) < 0)
        return NULL;
    return out;
#else
    return codec->pix_fmts;
#endif
}

static int has_fmt(const enum AVPixelFormat *fmts, enum AVPixelFormat f)
{
    for (; fmts && *fmts != AV_PIX_FMT_NONE; fmts++)
        if (*fmts == f)
            return 1;
    return 0;
}

/* The range of an integer AVOption of the encoder's private class. */
static int opt_range(const AVCodec *codec, const char *name, int *min, int *max)
{
    if (!codec->priv_class)
        return -1;
    const AVOption *o =
        av_opt_find((void *)&codec->priv_class, name, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ);
    if (!o || (o->type != AV_OPT_TYPE_INT && o->type != AV_OPT_TYPE_INT64))
        return -1;
    *min = o->min < -1000000 ? -1000000 : (int)o->min;
    *max = o->max > 1000000 ? 1000000 : (int)o->max;
    return 0;
}

static int has_opt(const AVCodec *codec, const char *name)
{
    return codec->priv_class &&
           av_opt_find((void *)&codec->priv_class, name, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ) != NULL;
}

static const AVCodec *find(const CmeLavcSpec *spec, char *msg, size_t msglen)
{
    const AVCodec *c = avcodec_find_encoder_by_name(spec->encoder);
    if (!c || c->id != AV_CODEC_ID_AV1) {
        unsigned v = avcodec_version();
        snprintf(msg, msglen, "%s: not in this FFmpeg build (libavcodec %u.%u%s%s)", spec->encoder,
                 v >> 16, (v >> 8) & 0xff, spec->needs ? "; needs " : "",
                 spec->needs ? spec->needs : "");
        return NULL;
    }
    return c;
}

int cme__lavc_probe(const CmeLavcSpec *spec, char *msg, size_t msglen)
{
    const AVCodec *c = find(spec, msg, msglen);
    if (!c)
        return CME_ENODEV;
    unsigned v = avcodec_version();
    snprintf(msg, msglen, "%s through FFmpeg (libavcodec %u.%u.%u)%s", spec->encoder, v >> 16,
             (v >> 8) & 0xff, v & 0xff, spec->hardware ? "" : " (software)");
    return 0;
}

int cme__lavc_caps(const CmeLavcSpec *spec, CmeEncoderCaps *c, char *msg, size_t msglen)
{
    const AVCodec *codec = find(spec, msg, msglen);
    if (!codec)
        return CME_ENODEV;
    const enum AVPixelFormat *fmts = codec_pix_fmts(codec);
    unsigned depths = 0;
    if (has_fmt(fmts, AV_PIX_FMT_YUV420P) || has_fmt(fmts, AV_PIX_FMT_NV12))
        depths |= 1u << 8;
    if (has_fmt(fmts, AV_PIX_FMT_YUV420P10LE) || has_fmt(fmts, AV_PIX_FMT_P010LE))
        depths |= 1u << 10;
    if (spec->hw_type && has_fmt(fmts, AV_PIX_FMT_VAAPI))
        depths |= 1u << 8 | 1u << 10; /* sw_format of the uploaded surfaces: NV12 / P010 */
    *c = (CmeEncoderCaps){
        .encoder = spec->encoder,
        .bit_depths = depths,
        .min_width = 16,
        .min_height = 16,
        /* AV1 allows 65536 (frame_width_bits 16); GPUs stop at 8192 (NVENC, Arc). */
        .max_width = spec->hardware ? 8192 : 65536,
        .max_height = spec->hardware ? 8192 : 65536,
        .preset_min = spec->preset_fixed_min,
        .preset_max = spec->preset_fixed_max,
        .preset_name = spec->preset_name,
        .crf_min = 1,
        .crf_max = 63,
        .level_settable = spec->hardware && has_opt(codec, "level"),
        .midjob_open_safe = 1,
        .sessions_max = spec->hardware ? 0 : 0,
        .forced_keyframes = spec->forced_keyframes,
        .hardware = spec->hardware,
    };
    if (spec->preset_opt) {
        int lo, hi;
        if (opt_range(codec, spec->preset_opt, &lo, &hi) == 0) {
            /* -1 is "the encoder's default" in FFmpeg's wrappers, not a speed. */
            c->preset_min = lo < 0 ? 0 : lo;
            c->preset_max = hi;
        }
    }
    if (spec->quality_qindex) {
        c->rc_modes = CME_RC_CQP | CME_RC_VBR;
        c->rc_note = "crf c becomes a constant quantizer, qindex 4c (255 at 63)";
    } else {
        c->rc_modes = CME_RC_CRF | CME_RC_CQP | CME_RC_VBR;
        c->rc_note = "crf is the encoder's constant-quality level (end-usage q)";
        int lo, hi;
        if (opt_range(codec, "crf", &lo, &hi) == 0) {
            c->crf_min = lo < 1 ? 1 : lo;
            c->crf_max = hi;
        }
    }
    return 0;
}

/* --- pending packets of a restarted context ------------------------------------------- */

static int pending_push(CmeLavcPending *q, AVPacket *pkt)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        AVPacket **p = malloc(cap * sizeof(*p));
        if (!p)
            return CME_ENOMEM;
        for (size_t i = 0; i < q->count; i++)
            p[i] = q->pkts[(q->head + i) % q->cap];
        free(q->pkts);
        q->pkts = p;
        q->head = 0;
        q->cap = cap;
    }
    q->pkts[(q->head + q->count) % q->cap] = pkt;
    q->count++;
    return 0;
}

static AVPacket *pending_pop(CmeLavcPending *q)
{
    if (!q->count)
        return NULL;
    AVPacket *p = q->pkts[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return p;
}

static void pending_free(CmeLavcPending *q)
{
    AVPacket *p;
    while ((p = pending_pop(q)) != NULL)
        av_packet_free(&p);
    free(q->pkts);
    memset(q, 0, sizeof(*q));
}

/* --- opening -------------------------------------------------------------------------- */

static void averr(char *err, size_t errlen, const char *what, const char *enc, int r)
{
    char e[AV_ERROR_MAX_STRING_SIZE] = { 0 };
    av_strerror(r, e, sizeof(e));
    snprintf(err, errlen, "%s: %s: %s", enc, what, e);
}

/* Speed, quality, key frames and level, in each encoder's own options. */
static int apply_options(CmeLavcPriv *p, AVCodecContext *ctx, char *err, size_t errlen)
{
    const CmeLavcSpec *spec = p->spec;
    const CmeEncoderSettings *s = &p->set;
    void *priv = ctx->priv_data;
    int r = 0;
    const int qindex = cme__lavc_crf_to_qindex(s->crf);
    const char *enc = spec->encoder;
    if (!strcmp(enc, "libaom-av1")) {
        /* Constant quality (end-usage q: crf set, no bit rate). */
        r = av_opt_set_int(priv, "cpu-used", s->preset, 0);
        if (r >= 0)
            r = av_opt_set_int(priv, "crf", s->crf, 0);
    } else if (!strcmp(enc, "librav1e")) {
        r = av_opt_set_int(priv, "speed", s->preset, 0);
        if (r >= 0)
            r = av_opt_set_int(priv, "qp", qindex, 0);
    } else if (!strcmp(enc, "av1_nvenc")) {
        char preset[16];
        snprintf(preset, sizeof(preset), "p%d", s->preset);
        r = av_opt_set(priv, "preset", preset, 0);
        if (r >= 0)
            r = av_opt_set(priv, "rc", "constqp", 0);
        if (r >= 0)
            r = av_opt_set_int(priv, "qp", qindex, 0);
    } else if (!strcmp(enc, "av1_qsv")) {
        /* Constant quantizer: global_quality in qindex units with the QSCALE flag. */
        r = av_opt_set_int(priv, "preset", s->preset, 0);
        ctx->flags |= AV_CODEC_FLAG_QSCALE;
        ctx->global_quality = qindex * FF_QP2LAMBDA;
    } else if (!strcmp(enc, "av1_vaapi")) {
        r = av_opt_set(priv, "rc_mode", "CQP", 0);
        ctx->global_quality = qindex;
        ctx->compression_level = s->preset;
    } else if (!strcmp(enc, "av1_amf")) {
        r = av_opt_set(priv, "quality",
                       s->preset <= 2   ? "quality"
                       : s->preset <= 5 ? "balanced"
                                        : "speed",
                       0);
        if (r >= 0)
            r = av_opt_set(priv, "rc", "cqp", 0);
        if (r >= 0)
            r = av_opt_set_int(priv, "qp_i", qindex, 0);
        if (r >= 0)
            r = av_opt_set_int(priv, "qp_p", qindex, 0);
    }
    if (r < 0) {
        averr(err, errlen, "rejected the speed/quality options", enc, r);
        return CME_EENCODER;
    }
    if (s->level > 0) {
        /* The encoders name their level constants "5.1"; av1_nvenc names x.0 levels "5". */
        char lv[24];
        snprintf(lv, sizeof(lv), "%d.%d", s->level / 10, s->level % 10);
        r = av_opt_set(priv, "level", lv, 0);
        if (r < 0 && s->level % 10 == 0) {
            snprintf(lv, sizeof(lv), "%d", s->level / 10);
            r = av_opt_set(priv, "level", lv, 0);
        }
        if (r < 0) {
            averr(err, errlen, "cannot set the level", enc, r);
            return CME_EUNSUPPORTED;
        }
    }
    return 0;
}

static int open_context(CmeLavcPriv *p, char *err, size_t errlen)
{
    const CmeEncoderSettings *s = &p->set;
    AVCodecContext *ctx = avcodec_alloc_context3(p->codec);
    if (!ctx)
        return CME_ENOMEM;
    ctx->width = s->width;
    ctx->height = s->height;
    ctx->time_base = (AVRational){ s->fps_den, s->fps_num };
    ctx->framerate = (AVRational){ s->fps_num, s->fps_den };
    ctx->sample_aspect_ratio = (AVRational){ 1, 1 };
    ctx->pix_fmt = p->enc_fmt;
    if (p->upload) {
        ctx->pix_fmt = AV_PIX_FMT_VAAPI;
        ctx->hw_frames_ctx = av_buffer_ref(p->hw_frames);
        if (!ctx->hw_frames_ctx) {
            avcodec_free_context(&ctx);
            return CME_ENOMEM;
        }
    }
    /* A key frame at every chunk start. Encoders that honour a forced key frame get no
     * periodic ones: libaom with kf_max_dist = the chunk length and a forced key frame
     * on the same frame put a second key frame right after it (measured with 3.6).
     * rav1e places them at a fixed interval equal to the chunk length. min = max
     * disables the encoders' own scene-cut key frames either way: segment boundaries are
     * the same in every rung, decided by the chunking, not by one encoder. */
    const int keyint = s->keyint > 0 ? s->keyint : 1;
    ctx->gop_size = p->spec->forced_keyframes ? LAVC_NO_PERIODIC_KEY : keyint;
    ctx->keyint_min = ctx->gop_size;
    p->keyint = keyint;
    ctx->max_b_frames = 0;
    ctx->thread_count = s->threads;
    ctx->color_primaries = (enum AVColorPrimaries)s->color_primaries;
    ctx->color_trc = (enum AVColorTransferCharacteristic)s->transfer_characteristics;
    ctx->colorspace = (enum AVColorSpace)s->matrix_coefficients;
    ctx->color_range = s->full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    ctx->chroma_sample_location = AVCHROMA_LOC_UNSPECIFIED;
    int r = apply_options(p, ctx, err, errlen);
    if (r < 0) {
        avcodec_free_context(&ctx);
        return r;
    }
    r = avcodec_open2(ctx, p->codec, NULL);
    if (r < 0) {
        char e[AV_ERROR_MAX_STRING_SIZE] = { 0 };
        av_strerror(r, e, sizeof(e));
        snprintf(err, errlen,
                 "%s rejected the configuration (%dx%d, %d-bit, preset %d, crf %d): %s",
                 p->spec->encoder, s->width, s->height, s->bit_depth, s->preset, s->crf, e);
        avcodec_free_context(&ctx);
        return CME_EENCODER;
    }
    p->ctx = ctx;
    p->since_key = 0;
    return 0;
}

/* Chooses the system-memory format the encoder gets, and whether it is uploaded. */
static int choose_formats(CmeLavcPriv *p, char *err, size_t errlen)
{
    const int ten = p->set.bit_depth > 8;
    const enum AVPixelFormat *fmts = codec_pix_fmts(p->codec);
    p->in_fmt = ten ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P;
    const enum AVPixelFormat semi = ten ? AV_PIX_FMT_P010LE : AV_PIX_FMT_NV12;
    if (has_fmt(fmts, p->in_fmt)) {
        p->enc_fmt = p->in_fmt;
    } else if (has_fmt(fmts, semi)) {
        p->enc_fmt = semi;
    } else if (p->spec->hw_type && has_fmt(fmts, AV_PIX_FMT_VAAPI)) {
        p->enc_fmt = semi;
        p->upload = 1;
    } else {
        snprintf(err, errlen, "%s takes no %d-bit 4:2:0 input", p->spec->encoder, p->set.bit_depth);
        return CME_EUNSUPPORTED;
    }
    if (p->upload) {
        int r = av_hwdevice_ctx_create(&p->hw_device, (enum AVHWDeviceType)p->spec->hw_type,
                                       p->set.hw_device[0] ? p->set.hw_device : NULL, NULL, 0);
        if (r < 0) {
            averr(err, errlen, "cannot open the hardware device", p->spec->encoder, r);
            return CME_ENODEV;
        }
        p->hw_frames = av_hwframe_ctx_alloc(p->hw_device);
        if (!p->hw_frames)
            return CME_ENOMEM;
        AVHWFramesContext *fc = (AVHWFramesContext *)p->hw_frames->data;
        fc->format = AV_PIX_FMT_VAAPI;
        fc->sw_format = p->enc_fmt;
        fc->width = p->set.width;
        fc->height = p->set.height;
        fc->initial_pool_size = 20;
        r = av_hwframe_ctx_init(p->hw_frames);
        if (r < 0) {
            averr(err, errlen, "cannot create the surface pool", p->spec->encoder, r);
            return CME_ENODEV;
        }
    }
    if (p->enc_fmt != p->in_fmt) {
        p->conv = av_frame_alloc();
        if (!p->conv)
            return CME_ENOMEM;
        p->conv->format = p->enc_fmt;
        p->conv->width = p->set.width;
        p->conv->height = p->set.height;
        if (av_frame_get_buffer(p->conv, 0) < 0)
            return CME_ENOMEM;
        p->sws = sws_getContext(p->set.width, p->set.height, p->in_fmt, p->set.width, p->set.height,
                                p->enc_fmt, SWS_POINT, NULL, NULL, NULL);
        if (!p->sws)
            return CME_ENOMEM;
    }
    return 0;
}

int cme__lavc_open(CmeLavcPriv *p, const CmeLavcSpec *spec, const CmeEncoderSettings *s, char *err,
                   size_t errlen)
{
    p->spec = spec;
    p->set = *s;
    p->codec = find(spec, err, errlen);
    if (!p->codec)
        return CME_ENODEV;
    p->out = av_packet_alloc();
    if (!p->out)
        return CME_ENOMEM;
    int r = choose_formats(p, err, errlen);
    if (r < 0)
        return r;
    return open_context(p, err, errlen);
}

/* --- encoding ------------------------------------------------------------------------- */

/* Drains the current context into the pending queue and opens a fresh one, so that the
 * next frame starts a new coded video sequence (a key frame with a sequence header). */
static int restart(CmeLavcPriv *p)
{
    int r = avcodec_send_frame(p->ctx, NULL);
    while (r >= 0) {
        AVPacket *pkt = av_packet_alloc();
        if (!pkt)
            return CME_ENOMEM;
        r = avcodec_receive_packet(p->ctx, pkt);
        if (r < 0 || pending_push(&p->pending, pkt) < 0) {
            av_packet_free(&pkt);
            break;
        }
    }
    if (r != AVERROR_EOF)
        return CME_EENCODER;
    avcodec_free_context(&p->ctx);
    char err[256];
    return open_context(p, err, sizeof(err));
}

int cme__lavc_send(void *priv, const CmeEncFrame *f)
{
    CmeLavcPriv *p = priv;
    if (!f) {
        if (p->eos_sent)
            return 0;
        p->eos_sent = 1;
        int r = avcodec_send_frame(p->ctx, NULL);
        return r < 0 && r != AVERROR_EOF ? CME_EENCODER : 0;
    }
    if (p->eos_sent)
        return CME_EINVAL;
    if (f->force_key && !p->spec->forced_keyframes && p->since_key % p->keyint != 0) {
        int r = restart(p);
        if (r < 0)
            return r;
    }
    AVFrame *src = av_frame_alloc();
    if (!src)
        return CME_ENOMEM;
    src->format = p->in_fmt;
    src->width = p->set.width;
    src->height = p->set.height;
    for (int i = 0; i < 3; i++) {
        src->data[i] = (uint8_t *)f->planes[i];
        src->linesize[i] = f->strides[i];
    }
    AVFrame *send = src;
    int r = 0;
    if (p->conv) {
        r = av_frame_make_writable(p->conv);
        if (r >= 0)
            sws_scale(p->sws, (const uint8_t *const *)src->data, src->linesize, 0, p->set.height,
                      p->conv->data, p->conv->linesize);
        send = p->conv;
    }
    if (r >= 0 && p->upload) {
        if (!p->hw)
            p->hw = av_frame_alloc();
        if (!p->hw)
            r = AVERROR(ENOMEM);
        else
            av_frame_unref(p->hw);
        if (r >= 0)
            r = av_hwframe_get_buffer(p->hw_frames, p->hw, 0);
        if (r >= 0)
            r = av_hwframe_transfer_data(p->hw, send, 0);
        send = p->hw;
    }
    if (r >= 0) {
        send->pts = f->pts;
        send->pict_type =
            f->force_key && p->spec->forced_keyframes ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        send->color_primaries = p->ctx->color_primaries;
        send->color_trc = p->ctx->color_trc;
        send->colorspace = p->ctx->colorspace;
        send->color_range = p->ctx->color_range;
        /* A frame without buffers is copied by libavcodec before this returns, so the
         * worker's planes stay borrowed only for the duration of the call. */
        r = avcodec_send_frame(p->ctx, send);
    }
    for (int i = 0; i < 3; i++)
        src->data[i] = NULL;
    av_frame_free(&src);
    if (r < 0)
        return r == AVERROR(EAGAIN) ? CME_EAGAIN : CME_EENCODER;
    p->since_key = f->force_key ? 1 : p->since_key + 1;
    return 0;
}

int cme__lavc_receive(void *priv, CmeEncPacket *pkt)
{
    CmeLavcPriv *p = priv;
    av_packet_unref(p->out);
    AVPacket *q = pending_pop(&p->pending);
    if (q) {
        av_packet_move_ref(p->out, q);
        av_packet_free(&q);
    } else {
        if (p->eof)
            return CME_EOF;
        int r = avcodec_receive_packet(p->ctx, p->out);
        if (r == AVERROR(EAGAIN))
            return CME_EAGAIN;
        if (r == AVERROR_EOF) {
            p->eof = 1;
            return CME_EOF;
        }
        if (r < 0)
            return CME_EENCODER;
    }
    pkt->data = p->out->data;
    pkt->size = (size_t)p->out->size;
    pkt->pts = p->out->pts;
    pkt->key = (p->out->flags & AV_PKT_FLAG_KEY) != 0;
    return 0;
}

void cme__lavc_close(void *priv)
{
    CmeLavcPriv *p = priv;
    /* libavcodec encoders need no EOS before they are freed. */
    avcodec_free_context(&p->ctx);
    av_packet_free(&p->out);
    pending_free(&p->pending);
    av_frame_free(&p->conv);
    av_frame_free(&p->hw);
    sws_freeContext(p->sws);
    p->sws = NULL;
    av_buffer_unref(&p->hw_frames);
    av_buffer_unref(&p->hw_device);
}

/* --- the software backends and AMF ---------------------------------------------------- */

static const CmeLavcSpec aom_spec = {
    .encoder = "libaom-av1",
    .preset_opt = "cpu-used",
    .preset_fixed_min = 0,
    .preset_fixed_max = 8,
    .preset_name = "cpu-used",
    /* libaom 3.6 turns a forced key frame (AOM_EFLAG_FORCE_KF) with look-ahead into two
     * consecutive shown key frames, the first one small (measured: 3 KB then 22 KB at
     * 320x180), so it runs like rav1e: key frames at a fixed interval, restart off-grid. */
    .forced_keyframes = 0,
};

static const CmeLavcSpec rav1e_spec = {
    .encoder = "librav1e",
    .preset_opt = "speed",
    .preset_fixed_min = 0,
    .preset_fixed_max = 10,
    .preset_name = "speed",
    .quality_qindex = 1,
    .forced_keyframes = 0,
};

static const CmeLavcSpec amf_spec = {
    .encoder = "av1_amf",
    .needs = "FFmpeg >= 6.0 built with AMF, and an AMD GPU",
    .preset_fixed_min = 1,
    .preset_fixed_max = 7,
    .preset_name = "preset (1-2 quality, 3-5 balanced, 6-7 speed)",
    .quality_qindex = 1,
    .forced_keyframes = 1,
    .hardware = 1,
};

#define LAVC_BACKEND(id, spec)                                                              \
    static int id##_probe(char *msg, size_t msglen)                                         \
    {                                                                                       \
        return cme__lavc_probe(&spec, msg, msglen);                                         \
    }                                                                                       \
    static int id##_caps(CmeEncoderCaps *c, char *msg, size_t msglen)                       \
    {                                                                                       \
        return cme__lavc_caps(&spec, c, msg, msglen);                                       \
    }                                                                                       \
    static int id##_open(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen) \
    {                                                                                       \
        return cme__lavc_open(priv, &spec, s, err, errlen);                                 \
    }

LAVC_BACKEND(aom, aom_spec)
LAVC_BACKEND(rav1e, rav1e_spec)
LAVC_BACKEND(amf, amf_spec)

const CmeEncoderImpl cme__encoder_aom = {
    .name = "aom",
    .backend = CME_BACKEND_AOM,
    .priv_size = sizeof(CmeLavcPriv),
    .caps = aom_caps,
    .probe = aom_probe,
    .open = aom_open,
    .send_frame = cme__lavc_send,
    .receive_packet = cme__lavc_receive,
    .close = cme__lavc_close,
};

const CmeEncoderImpl cme__encoder_rav1e = {
    .name = "rav1e",
    .backend = CME_BACKEND_RAV1E,
    .priv_size = sizeof(CmeLavcPriv),
    .caps = rav1e_caps,
    .probe = rav1e_probe,
    .open = rav1e_open,
    .send_frame = cme__lavc_send,
    .receive_packet = cme__lavc_receive,
    .close = cme__lavc_close,
};

const CmeEncoderImpl cme__encoder_amf = {
    .name = "amf",
    .backend = CME_BACKEND_AMF,
    .priv_size = sizeof(CmeLavcPriv),
    .caps = amf_caps,
    .probe = amf_probe,
    .open = amf_open,
    .send_frame = cme__lavc_send,
    .receive_packet = cme__lavc_receive,
    .close = cme__lavc_close,
};

/*
 * SVT-AV1 1.4.1 backend. Call sequence and traps (../shared/NOTES-DEPS.md):
 * init_handle (fills defaults) -> edit config -> set_parameter -> init -> send/get loop ->
 * EOS -> drain until a packet carries EB_BUFFERFLAG_EOS -> deinit -> deinit_handle.
 * Deinit without EOS hangs forever, so close() always sends EOS and drains first. An
 * encoder that never received a picture hangs too, with or without EOS (measured with
 * 1.4.1: get_packet after EOS and deinit both block), so close() first feeds such an
 * encoder one grey picture whose packet is discarded.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svt-av1/EbSvtAv1Enc.h>

#include "cmafeng/common.h"
#include "enc/encoder.h"

typedef struct SvtPriv {
    EbComponentType *handle;
    int initialized; /* svt_av1_enc_init succeeded: deinit needs EOS first */
    int geometry;    /* its block geometry (svt_geometry), counted in geometry_users */
    int eos_sent;
    int eos_received;
    int64_t frames_sent;
    int grey_pending;        /* the grey picture's packet is still to be discarded */
    EbBufferHeaderType *out; /* the packet last handed out, released on the next call */
    int width, height;
    int bytes_per_sample; /* 1 for 8-bit input, 2 for 10-bit in 16-bit words */
} SvtPriv;

/* Encoder inits never overlap: each re-runs the library's process-wide CPU-dispatch
 * setup (see cme_engine_start for why the engine opens its encoders up front). */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * SVT-AV1 1.4.1 keeps its block-geometry table (blk_geom_mds) in one process-wide array that
 * every svt_av1_enc_init rebuilds for its own encoder (EbEncHandle.c: build_blk_geom with
 * the instance's geom_idx). Encoders whose geometry differs from the last one opened read
 * a table that is not theirs: measured here, a preset 4 encoder beside a preset 8, 10 or
 * 12 one takes 73 pictures and returns no packet, its threads all idle (the next send
 * blocks forever), and with the opening order swapped two library threads spin at 100%.
 * So encoders open together only while they share one geometry; this counts the open ones
 * (under init_lock) and refuses an encoder that would need another.
 */
static int geometry_in_use = -1;
static int geometry_users;

/*
 * The geometry 1.4.1 derives for our configuration (set_param_based_on_input; one pass,
 * random access, adaptive quantisation on, so TPL is on at every preset): 128x128
 * superblocks (GEOM_2) for enc_mode <= 2 unless the picture, padded to 8, is under
 * 0x28500 samples (INPUT_SIZE_240p_TH); otherwise 64x64 with 4x4 and non-square blocks
 * (GEOM_1) for enc_mode <= 5 (svt_aom_get_disallow_4x4, get_nsq_level) and without them
 * (GEOM_0) from enc_mode 6 on.
 */
static int svt_geometry(int preset, int width, int height)
{
    const long samples = (long)((width + 7) & ~7) * ((height + 7) & ~7);
    if (preset <= 2 && samples >= 0x28500)
        return 2;
    return preset <= 5 ? 1 : 0;
}

static const char *geometry_presets(int g)
{
    return g == 2   ? "presets -1..2 at 165120 luma samples or more"
           : g == 1 ? "presets 3..5, or -1..2 below 165120 luma samples"
                    : "presets 6..13";
}

/* v * scale rounded into [0, max]: AV1's fixed-point metadata fields. */
static uint32_t fixed(double v, double scale, uint32_t max)
{
    double x = v * scale + 0.5;
    if (!(x > 0))
        return 0;
    return x >= (double)max ? max : (uint32_t)x;
}

/* SVT-AV1 1.4.1 keeps the metadata fields as the OBU's big-endian bytes in memory (its own
 * svt_aom_parse_mastering_display() fills them so): built from bytes, right on any host. */
static uint16_t be16(uint32_t v)
{
    const uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    uint16_t out;
    memcpy(&out, b, 2);
    return out;
}

static uint32_t be32(uint32_t v)
{
    const uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    uint32_t out;
    memcpy(&out, b, 4);
    return out;
}

/* HDR10 static metadata into the configuration, which SVT-AV1 writes as metadata OBUs with
 * each key frame: AV1 6.7.4 mastering display (chromaticities 0.16 fixed point, red, green,
 * blue; luminance_max 24.8, luminance_min 18.14 fixed point, cd/m^2) and 6.7.3 content
 * light level (MaxCLL, MaxFALL in cd/m^2). */
static void set_hdr(EbSvtAv1EncConfiguration *cfg, const CmeHdrMetadata *h)
{
    if (h->has_mastering) {
        struct EbSvtAv1ChromaPoints *pts[3] = { &cfg->mastering_display.r,
                                                &cfg->mastering_display.g,
                                                &cfg->mastering_display.b };
        for (int i = 0; i < 3; i++) {
            pts[i]->x = be16(fixed(h->primaries[i][0], 65536, 65535));
            pts[i]->y = be16(fixed(h->primaries[i][1], 65536, 65535));
        }
        cfg->mastering_display.white_point.x = be16(fixed(h->white_point[0], 65536, 65535));
        cfg->mastering_display.white_point.y = be16(fixed(h->white_point[1], 65536, 65535));
        cfg->mastering_display.max_luma = be32(fixed(h->max_luminance, 256, UINT32_MAX));
        cfg->mastering_display.min_luma = be32(fixed(h->min_luminance, 16384, UINT32_MAX));
    }
    if (h->has_content_light) {
        cfg->content_light_level.max_cll = be16(h->max_cll > 65535 ? 65535 : h->max_cll);
        cfg->content_light_level.max_fall = be16(h->max_fall > 65535 ? 65535 : h->max_fall);
    }
}

static int svt_probe(char *msg, size_t msglen)
{
    snprintf(msg, msglen, "SVT-AV1 %s (software)", svt_av1_get_version());
    return 0;
}

static void release_out(SvtPriv *p)
{
    if (p->out) {
        svt_av1_enc_release_out_buffer(&p->out);
        p->out = NULL;
    }
}

static int svt_open_locked(SvtPriv *p, const CmeEncoderSettings *s, char *err, size_t errlen);

static int svt_open(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    SvtPriv *p = priv;
    const int g = svt_geometry(s->preset, s->width, s->height);
    int r;
    pthread_mutex_lock(&init_lock);
    if (geometry_users > 0 && g != geometry_in_use) {
        snprintf(err, errlen,
                 "SVT-AV1 1.4.1 cannot run preset %d at %dx%d (%s) in a process whose open "
                 "SVT-AV1 encoders use %s: the library keeps one block-geometry table per "
                 "process and such encoders stall or spin; choose SVT-AV1 presets from one "
                 "of these groups for the whole job, or another encoder for the odd rung",
                 s->preset, s->width, s->height, geometry_presets(g),
                 geometry_presets(geometry_in_use));
        r = CME_EUNSUPPORTED;
    } else if ((r = svt_open_locked(p, s, err, errlen)) == 0) {
        p->geometry = g;
        geometry_in_use = g;
        geometry_users++;
    }
    pthread_mutex_unlock(&init_lock);
    return r;
}

static int svt_open_locked(SvtPriv *p, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    EbSvtAv1EncConfiguration cfg;
    memset(&cfg, 0, sizeof(cfg));
    EbErrorType e = svt_av1_enc_init_handle(&p->handle, NULL, &cfg);
    if (e != EB_ErrorNone) {
        snprintf(err, errlen, "svt_av1_enc_init_handle failed (0x%x)", (unsigned)e);
        p->handle = NULL;
        return CME_EENCODER;
    }
    cfg.enc_mode = (int8_t)s->preset;
    cfg.source_width = (uint32_t)s->width;
    cfg.source_height = (uint32_t)s->height;
    cfg.frame_rate_numerator = (uint32_t)s->fps_num;
    cfg.frame_rate_denominator = (uint32_t)s->fps_den;
    cfg.encoder_bit_depth = (uint32_t)s->bit_depth;
    cfg.encoder_color_format = EB_YUV420;
    /* CRF: constant-quality mode with temporal-dependency modelling, as FFmpeg's wrapper. */
    cfg.rate_control_mode = 0;
    cfg.qp = (uint32_t)s->crf;
    cfg.enable_tpl_la = 1;
    /* Closed GOP with a key frame every segment: periodic key frames at keyint, and a
     * forced key frame at every chunk start. Forced key frames only work when
     * intra_period_length != -1, and a forced one resets the periodic counter. */
    cfg.intra_refresh_type = SVT_AV1_KF_REFRESH;
    cfg.intra_period_length = s->keyint > 1 ? s->keyint - 1 : 0;
    cfg.force_key_frames = 1;
    /* Scene-change key frames would break segment alignment across rungs. */
    cfg.scene_change_detection = 0;
    cfg.logical_processors = (uint32_t)(s->threads > 0 ? s->threads : 0);
    if (s->level > 0)
        cfg.level = (uint32_t)s->level;
    /* Several encoders share the cores: never pin their threads. */
    cfg.pin_threads = 0;
    if (s->color_primaries != 2 || s->transfer_characteristics != 2 ||
        s->matrix_coefficients != 2) {
        cfg.color_description_present_flag = 1;
        cfg.color_primaries = (EbColorPrimaries)s->color_primaries;
        cfg.transfer_characteristics = (EbTransferCharacteristics)s->transfer_characteristics;
        cfg.matrix_coefficients = (EbMatrixCoefficients)s->matrix_coefficients;
    }
    cfg.color_range = s->full_range ? EB_CR_FULL_RANGE : EB_CR_STUDIO_RANGE;
    set_hdr(&cfg, &s->hdr);
    /* Capped CRF (SVT-AV1 max_bit_rate with rate_control_mode 0): the buffer is given in
     * milliseconds at the cap, as FFmpeg's wrapper converts -bufsize; 20..10000 ms is the
     * library's range. */
    if (s->max_bitrate > 0) {
        cfg.max_bit_rate = (uint32_t)(s->max_bitrate < UINT32_MAX ? s->max_bitrate : UINT32_MAX);
        if (s->buffer_size > 0) {
            int64_t ms = s->buffer_size * 1000 / s->max_bitrate;
            cfg.maximum_buffer_size_ms = ms < 20 ? 20 : ms > 10000 ? 10000 : ms;
        }
    }
    e = svt_av1_enc_set_parameter(p->handle, &cfg);
    if (e != EB_ErrorNone) {
        snprintf(err, errlen, "SVT-AV1 rejected the configuration (%dx%d, preset %d, crf %d): 0x%x",
                 s->width, s->height, s->preset, s->crf, (unsigned)e);
        return CME_EENCODER;
    }
    e = svt_av1_enc_init(p->handle);
    if (e != EB_ErrorNone) {
        snprintf(err, errlen, "svt_av1_enc_init failed (0x%x)", (unsigned)e);
        return CME_EENCODER;
    }
    p->initialized = 1;
    p->width = s->width;
    p->height = s->height;
    p->bytes_per_sample = s->bit_depth > 8 ? 2 : 1;
    return 0;
}

static void send_grey(SvtPriv *p);

static int svt_send_frame(void *priv, const CmeEncFrame *f)
{
    SvtPriv *p = priv;
    EbBufferHeaderType hdr;
    memset(&hdr, 0, sizeof(hdr));
    hdr.size = sizeof(hdr);
    if (!f) {
        if (p->eos_sent)
            return 0;
        if (p->frames_sent == 0)
            send_grey(p);
        hdr.flags = EB_BUFFERFLAG_EOS;
        hdr.pic_type = EB_AV1_INVALID_PICTURE;
        p->eos_sent = 1;
        return svt_av1_enc_send_picture(p->handle, &hdr) == EB_ErrorNone ? 0 : CME_EENCODER;
    }
    if (p->eos_sent)
        return CME_EINVAL;
    EbSvtIOFormat io;
    memset(&io, 0, sizeof(io));
    io.luma = (uint8_t *)f->planes[0];
    io.cb = (uint8_t *)f->planes[1];
    io.cr = (uint8_t *)f->planes[2];
    /* SVT strides are in samples, ours in bytes. */
    io.y_stride = (uint32_t)(f->strides[0] / p->bytes_per_sample);
    io.cb_stride = (uint32_t)(f->strides[1] / p->bytes_per_sample);
    io.cr_stride = (uint32_t)(f->strides[2] / p->bytes_per_sample);
    io.width = (uint32_t)p->width;
    io.height = (uint32_t)p->height;
    hdr.p_buffer = (uint8_t *)&io;
    hdr.n_filled_len = (uint32_t)(f->strides[0] * p->height + f->strides[1] * (p->height / 2) +
                                  f->strides[2] * (p->height / 2));
    hdr.n_alloc_len = hdr.n_filled_len;
    hdr.pts = f->pts;
    hdr.pic_type = f->force_key ? EB_AV1_KEY_PICTURE : EB_AV1_INVALID_PICTURE;
    /* The library copies the picture into its own buffers before returning. */
    if (svt_av1_enc_send_picture(p->handle, &hdr) != EB_ErrorNone)
        return CME_EENCODER;
    p->frames_sent++;
    return 0;
}

static int svt_receive_packet(void *priv, CmeEncPacket *pkt)
{
    SvtPriv *p = priv;
    release_out(p);
    if (p->eos_received)
        return CME_EOF;
    EbBufferHeaderType *out = NULL;
    EbErrorType e = svt_av1_enc_get_packet(p->handle, &out, p->eos_sent ? 1 : 0);
    if (e == EB_NoErrorEmptyQueue)
        return CME_EAGAIN;
    if (e != EB_ErrorNone || !out)
        return CME_EENCODER;
    if (out->flags & EB_BUFFERFLAG_EOS)
        p->eos_received = 1;
    if (out->flags & EB_BUFFERFLAG_ERROR_MASK) {
        svt_av1_enc_release_out_buffer(&out);
        return CME_EENCODER;
    }
    if (out->n_filled_len == 0) {
        /* The EOS marker may come as an empty buffer. */
        svt_av1_enc_release_out_buffer(&out);
        return p->eos_received ? CME_EOF : CME_EAGAIN;
    }
    if (p->grey_pending) {
        /* Nothing but the grey picture was sent: its packet is no caller's frame. */
        p->grey_pending = 0;
        svt_av1_enc_release_out_buffer(&out);
        return p->eos_received ? CME_EOF : CME_EAGAIN;
    }
    p->out = out;
    pkt->data = out->p_buffer;
    pkt->size = out->n_filled_len;
    pkt->pts = out->pts;
    pkt->key = out->pic_type == EB_AV1_KEY_PICTURE;
    return 0;
}

/* Sends one mid-grey picture so that EOS can drain (see the top of the file). */
static void send_grey(SvtPriv *p)
{
    const size_t bps = (size_t)p->bytes_per_sample;
    const size_t luma = (size_t)p->width * (size_t)p->height;
    const size_t samples = luma + luma / 2;
    uint8_t *buf = malloc(samples * bps);
    if (!buf)
        return;
    if (bps == 1) {
        memset(buf, 128, samples);
    } else {
        for (size_t i = 0; i < samples; i++) {
            buf[2 * i] = 0x00; /* 512, mid-grey at 10 bits, little-endian */
            buf[2 * i + 1] = 0x02;
        }
    }
    int cw = p->width / 2 * (int)bps;
    CmeEncFrame f = { .planes = { buf, buf + luma * bps, buf + (luma + luma / 4) * bps },
                      .strides = { p->width * (int)bps, cw, cw },
                      .pts = 0,
                      .force_key = 1 };
    if (svt_send_frame(p, &f) == 0)
        p->grey_pending = 1;
    free(buf);
}

static void svt_close(void *priv)
{
    SvtPriv *p = priv;
    release_out(p);
    if (p->handle && p->initialized) {
        /* Deinit without EOS hangs: send it and drain whatever is left. */
        if (!p->eos_sent)
            svt_send_frame(p, NULL);
        CmeEncPacket pkt;
        while (!p->eos_received) {
            int r = svt_receive_packet(p, &pkt);
            if (r < 0 && r != CME_EAGAIN)
                break;
        }
        release_out(p);
        svt_av1_enc_deinit(p->handle);
        pthread_mutex_lock(&init_lock);
        geometry_users--;
        pthread_mutex_unlock(&init_lock);
    }
    if (p->handle)
        svt_av1_enc_deinit_handle(p->handle);
    p->handle = NULL;
}

/* The sequence header OBU the encoder will emit (svt_av1_enc_stream_header): known right
 * after init, so a device whose header cannot join a rung is found before any encode. */
static int svt_sequence_header(void *priv, uint8_t *out, size_t cap, size_t *size)
{
    SvtPriv *p = priv;
    if (!p->initialized)
        return CME_EINVAL;
    EbBufferHeaderType *hdr = NULL;
    if (svt_av1_enc_stream_header(p->handle, &hdr) != EB_ErrorNone || !hdr)
        return CME_EENCODER;
    int r = 0;
    if (hdr->n_filled_len > cap)
        r = CME_ENOSPC;
    else
        memcpy(out, hdr->p_buffer, hdr->n_filled_len);
    *size = hdr->n_filled_len;
    svt_av1_enc_stream_header_release(hdr);
    return r;
}

/* SVT-AV1 1.4.1's own limits (EbEncHandle.c verify_settings): 64x64 to 16384x8704,
 * enc_mode -1..13, CRF 1..63 (qp 0 is lossless in its CQP mode, never asked here). */
static int svt_caps(CmeEncoderCaps *c, char *msg, size_t msglen)
{
    (void)msg;
    (void)msglen;
    *c = (CmeEncoderCaps){
        .encoder = "SVT-AV1",
        .bit_depths = 1u << 8 | 1u << 10,
        .min_width = 64,
        .min_height = 64,
        .max_width = 16384,
        .max_height = 8704,
        .preset_min = -1,
        .preset_max = 13,
        .preset_name = "enc_mode",
        .crf_min = 1,
        .crf_max = 63,
        .rc_modes = CME_RC_CRF | CME_RC_CQP | CME_RC_VBR,
        .rc_note = "crf is SVT-AV1's CRF (rate_control_mode 0 with temporal filtering)",
        .level_settable = 1,
        .midjob_open_safe = 0,
        .sessions_max = 0,
        .forced_keyframes = 1,
        .hardware = 0,
    };
    return 0;
}

const CmeEncoderImpl cme__encoder_svtav1 = {
    .name = "svt",
    .backend = CME_BACKEND_SVT,
    .priv_size = sizeof(SvtPriv),
    .caps = svt_caps,
    .probe = svt_probe,
    .open = svt_open,
    .send_frame = svt_send_frame,
    .receive_packet = svt_receive_packet,
    .close = svt_close,
    .sequence_header = svt_sequence_header,
};

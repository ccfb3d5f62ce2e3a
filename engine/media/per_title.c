/*
 * cme_probe_encodes: the measurements behind cmafeng.ladder.per_title (cmafeng/probe.h).
 *
 * One sample window of the source is decoded once and kept at the reference size (the
 * ladder's display size). Each probe scales the window to its size, encodes it with the
 * SVT-AV1 backend at its CRF, decodes the packets with libdav1d, scales the decoded luma
 * back up to the reference size and compares it with the reference: the quality a viewer
 * gets when the player upscales that rung to the screen, so that a 480p rung and a 1080p
 * rung are measured on one scale (the convex hull across sizes needs that).
 *
 * PSNR pools the squared error of every luma sample of the window; SSIM is the mean over
 * non-overlapping 8x8 luma blocks (Wang et al. 2004, with C1 = (0.01 * 255)^2 and
 * C2 = (0.03 * 255)^2), a cheap approximation of the Gaussian-window SSIM.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dav1d/dav1d.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "cmafeng/probe.h"
#include "enc/encoder.h"
#include "media/per_title.h"
#include "media/rotate.h"

/* The longest window a probe keeps in memory (frames at the reference size). */
#define MAX_WINDOW_FRAMES 250

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void av_err(char *err, size_t errlen, const char *path, const char *what, int averr)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };
    av_strerror(averr, buf, sizeof(buf));
    snprintf(err, errlen, "%s: %s: %s", path, what, buf);
}

typedef struct Window {
    AVFrame **refs; /* YUV420P at the reference size */
    int n;
    double fps;
} Window;

static void window_free(Window *w)
{
    for (int i = 0; i < w->n; i++)
        av_frame_free(&w->refs[i]);
    free(w->refs);
    memset(w, 0, sizeof(*w));
}

static AVFrame *alloc_yuv(int width, int height)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return NULL;
    f->format = AV_PIX_FMT_YUV420P;
    f->width = width;
    f->height = height;
    if (av_frame_get_buffer(f, 0) < 0)
        av_frame_free(&f);
    return f;
}

/* Decodes `frames` frames from `start` seconds into w->refs at ref_w x ref_h. */
static int read_window(const char *path, double start, int frames, int ref_w, int ref_h, Window *w,
                       char *err, size_t errlen)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    struct SwsContext *sws = NULL;
    int ret = CME_ENOMEM;
    w->refs = calloc((size_t)frames, sizeof(*w->refs));
    if (!pkt || !frame || !w->refs)
        goto done;
    ret = CME_EMEDIA;
    int r = avformat_open_input(&fmt, path, NULL, NULL);
    if (r < 0) {
        av_err(err, errlen, path, "not a media file", r);
        goto done;
    }
    if ((r = avformat_find_stream_info(fmt, NULL)) < 0) {
        av_err(err, errlen, path, "cannot read stream information", r);
        goto done;
    }
    const AVCodec *codec = NULL;
    int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (vi < 0 || !codec) {
        snprintf(err, errlen, "%s: no video stream", path);
        goto done;
    }
    AVStream *st = fmt->streams[vi];
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if ((int)i != vi)
            fmt->streams[i]->discard = AVDISCARD_ALL;
    /* Probes see the picture the job encodes: turned upright as the pump turns it. */
    CmeRotation rot = CME_ROTATION_IDENTITY;
    size_t dm_size = 0;
    const uint8_t *dm = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &dm_size);
    if (dm && dm_size >= 9 * sizeof(int32_t)) {
        int32_t m[9];
        memcpy(m, dm, sizeof(m));
        if (cme__rotation_from_matrix(m, &rot, NULL) < 0) {
            snprintf(err, errlen, "%s: the display matrix is not a quarter turn", path);
            goto done;
        }
    }
    AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    w->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 25.0;
    ret = CME_ENOMEM;
    if (!(dec = avcodec_alloc_context3(codec)))
        goto done;
    ret = CME_EMEDIA;
    if ((r = avcodec_parameters_to_context(dec, st->codecpar)) < 0) {
        av_err(err, errlen, path, "bad codec parameters", r);
        goto done;
    }
    dec->thread_count = 0;
    dec->pkt_timebase = st->time_base;
    if ((r = avcodec_open2(dec, codec, NULL)) < 0) {
        av_err(err, errlen, path, "cannot open the video decoder", r);
        goto done;
    }
    int64_t origin = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    if (start > 0) {
        int64_t ts =
            origin + av_rescale_q((int64_t)(start * AV_TIME_BASE), AV_TIME_BASE_Q, st->time_base);
        /* Back to the key frame before start; frames before start are decoded and dropped. */
        if (av_seek_frame(fmt, vi, ts, AVSEEK_FLAG_BACKWARD) >= 0)
            avcodec_flush_buffers(dec);
    }
    double half = 0.5 / w->fps;
    int eof = 0;
    while (w->n < frames) {
        r = avcodec_receive_frame(dec, frame);
        if (r == 0) {
            int64_t pts = frame->best_effort_timestamp;
            double t = pts == AV_NOPTS_VALUE ? start : (pts - origin) * av_q2d(st->time_base);
            if (t + half >= start && (r = cme__rotate_frame(&rot, frame)) < 0) {
                ret = r;
                snprintf(err, errlen, "%s: cannot turn the window upright", path);
                goto done;
            }
            if (t + half >= start) {
                sws = sws_getCachedContext(sws, frame->width, frame->height,
                                           (enum AVPixelFormat)frame->format, ref_w, ref_h,
                                           AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
                AVFrame *ref = alloc_yuv(ref_w, ref_h);
                if (!sws || !ref) {
                    av_frame_free(&ref);
                    ret = sws ? CME_ENOMEM : CME_EUNSUPPORTED;
                    snprintf(err, errlen, "%s: cannot scale the window to %dx%d", path, ref_w,
                             ref_h);
                    goto done;
                }
                sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0,
                          frame->height, ref->data, ref->linesize);
                w->refs[w->n++] = ref;
            }
            av_frame_unref(frame);
            continue;
        }
        if (r == AVERROR_EOF || (r == AVERROR(EAGAIN) && eof))
            break;
        r = av_read_frame(fmt, pkt);
        if (r < 0) {
            eof = 1;
            avcodec_send_packet(dec, NULL);
            continue;
        }
        if (pkt->stream_index == vi)
            avcodec_send_packet(dec, pkt); /* damaged packets are skipped, as the engine does */
        av_packet_unref(pkt);
    }
    if (w->n == 0) {
        snprintf(err, errlen, "%s: no video frame at %.3f s", path, start);
        goto done;
    }
    ret = 0;
done:
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return ret;
}

/* Squared error and summed 8x8 SSIM of a against b (w x h, 8-bit luma). */
static void compare_luma(const uint8_t *a, int as, const uint8_t *b, int bs, int w, int h,
                         double *sse, double *ssim_sum, long *ssim_blocks)
{
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double d = (double)a[y * as + x] - b[y * bs + x];
            *sse += d * d;
        }
    for (int by = 0; by + 8 <= h; by += 8)
        for (int bx = 0; bx + 8 <= w; bx += 8) {
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
            for (int y = by; y < by + 8; y++)
                for (int x = bx; x < bx + 8; x++) {
                    double va = a[y * as + x], vb = b[y * bs + x];
                    sa += va;
                    sb += vb;
                    saa += va * va;
                    sbb += vb * vb;
                    sab += va * vb;
                }
            double ma = sa / 64, mb = sb / 64;
            double vara = saa / 64 - ma * ma, varb = sbb / 64 - mb * mb, cov = sab / 64 - ma * mb;
            *ssim_sum += ((2 * ma * mb + c1) * (2 * cov + c2)) /
                         ((ma * ma + mb * mb + c1) * (vara + varb + c2));
            (*ssim_blocks)++;
        }
}

typedef struct Packets {
    uint8_t *data;
    size_t size, cap;
    size_t *ends; /* end offset of each packet */
    int n, cap_n;
} Packets;

static int packets_add(Packets *p, const uint8_t *d, size_t n)
{
    if (p->size + n > p->cap) {
        size_t cap = p->cap ? p->cap : 1 << 16;
        while (cap < p->size + n)
            cap *= 2;
        uint8_t *nd = realloc(p->data, cap);
        if (!nd)
            return CME_ENOMEM;
        p->data = nd;
        p->cap = cap;
    }
    if (p->n == p->cap_n) {
        int cap_n = p->cap_n ? p->cap_n * 2 : 64;
        size_t *ne = realloc(p->ends, (size_t)cap_n * sizeof(*ne));
        if (!ne)
            return CME_ENOMEM;
        p->ends = ne;
        p->cap_n = cap_n;
    }
    memcpy(p->data + p->size, d, n);
    p->size += n;
    p->ends[p->n++] = p->size;
    return 0;
}

static void nop_free(const uint8_t *data, void *cookie)
{
    (void)data;
    (void)cookie;
}

/* Opens the probe encoder: SVT-AV1 at pr's size and CRF, one key frame for the window. */
static int open_probe(const Window *w, int preset, int threads, const CmeProbeEncode *pr,
                      CmeEncoder **e, char *err, size_t errlen)
{
    CmeEncoderSettings s = {
        .width = pr->width,
        .height = pr->height,
        .fps_num = (int)lround(w->fps * 1000),
        .fps_den = 1000,
        .bit_depth = 8,
        .crf = pr->crf,
        .preset = preset,
        .threads = threads,
        .keyint = w->n + 1,
        .color_primaries = 2,
        .transfer_characteristics = 2,
        .matrix_coefficients = 2,
    };
    return cme__encoder_open(e, CME_BACKEND_SVT, &s, err, errlen);
}

/* Encodes the window at pr's size with the open encoder e into pk, draining it (EOS). */
static int encode_window(CmeEncoder *e, const Window *w, CmeProbeEncode *pr, Packets *pk, char *err,
                         size_t errlen)
{
    int r;
    AVFrame *in = alloc_yuv(pr->width, pr->height);
    struct SwsContext *sws =
        sws_getContext(w->refs[0]->width, w->refs[0]->height, AV_PIX_FMT_YUV420P, pr->width,
                       pr->height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (!in || !sws) {
        r = CME_ENOMEM;
        goto done;
    }
    CmeEncPacket pkt;
    for (int i = 0; i <= w->n; i++) {
        if (i < w->n) {
            sws_scale(sws, (const uint8_t *const *)w->refs[i]->data, w->refs[i]->linesize, 0,
                      w->refs[i]->height, in->data, in->linesize);
            CmeEncFrame f = { .planes = { in->data[0], in->data[1], in->data[2] },
                              .strides = { in->linesize[0], in->linesize[1], in->linesize[2] },
                              .pts = i,
                              .force_key = i == 0 };
            r = cme__encoder_send(e, &f);
        } else {
            r = cme__encoder_send(e, NULL);
        }
        if (r < 0) {
            snprintf(err, errlen, "probe encode %dx%d crf %d: send failed: %s", pr->width,
                     pr->height, pr->crf, cme_strerror(r));
            goto done;
        }
        while ((r = cme__encoder_receive(e, &pkt)) == 0)
            if ((r = packets_add(pk, pkt.data, pkt.size)) < 0)
                goto done;
        if (r != CME_EAGAIN && r != CME_EOF) {
            snprintf(err, errlen, "probe encode %dx%d crf %d: %s", pr->width, pr->height, pr->crf,
                     cme_strerror(r));
            goto done;
        }
    }
    r = 0;
done:
    sws_freeContext(sws);
    av_frame_free(&in);
    return r;
}

/* Decodes pk with libdav1d and measures every picture against the window. */
static int measure(const Window *w, const Packets *pk, CmeProbeEncode *pr, char *err, size_t errlen)
{
    Dav1dSettings set;
    dav1d_default_settings(&set);
    set.n_threads = 0;
    set.max_frame_delay = 1; /* one picture per temporal unit, in order */
    Dav1dContext *dec = NULL;
    if (dav1d_open(&dec, &set) < 0) {
        snprintf(err, errlen, "cannot open libdav1d");
        return CME_EUNSUPPORTED;
    }
    int ref_w = w->refs[0]->width, ref_h = w->refs[0]->height;
    uint8_t *up = malloc((size_t)ref_w * (size_t)ref_h);
    struct SwsContext *sws = sws_getContext(pr->width, pr->height, AV_PIX_FMT_GRAY8, ref_w, ref_h,
                                            AV_PIX_FMT_GRAY8, SWS_BICUBIC, NULL, NULL, NULL);
    int ret = CME_ENOMEM;
    if (!up || !sws)
        goto done;
    double sse = 0, ssim_sum = 0;
    long blocks = 0;
    int k = 0;
    size_t begin = 0;
    for (int i = 0; i < pk->n; i++) {
        Dav1dData data;
        if (dav1d_data_wrap(&data, pk->data + begin, pk->ends[i] - begin, nop_free, NULL) < 0) {
            ret = CME_ENOMEM;
            goto done;
        }
        begin = pk->ends[i];
        Dav1dPicture pic;
        memset(&pic, 0, sizeof(pic));
        while (data.sz > 0) {
            int r = dav1d_send_data(dec, &data);
            if (r < 0 && r != DAV1D_ERR(EAGAIN)) {
                dav1d_data_unref(&data);
                snprintf(err, errlen, "probe %dx%d crf %d: libdav1d rejected packet %d", pr->width,
                         pr->height, pr->crf, i);
                ret = CME_EBITSTREAM;
                goto done;
            }
            for (;;) {
                r = dav1d_get_picture(dec, &pic);
                if (r != 0)
                    break;
                if (k < w->n && pic.p.bpc == 8) {
                    const uint8_t *src[4] = { pic.data[0], NULL, NULL, NULL };
                    int src_stride[4] = { (int)pic.stride[0], 0, 0, 0 };
                    uint8_t *dst[4] = { up, NULL, NULL, NULL };
                    int dst_stride[4] = { ref_w, 0, 0, 0 };
                    sws_scale(sws, src, src_stride, 0, pic.p.h, dst, dst_stride);
                    compare_luma(up, ref_w, w->refs[k]->data[0], w->refs[k]->linesize[0], ref_w,
                                 ref_h, &sse, &ssim_sum, &blocks);
                }
                k++;
                dav1d_picture_unref(&pic);
            }
        }
    }
    for (;;) {
        Dav1dPicture pic;
        memset(&pic, 0, sizeof(pic));
        if (dav1d_get_picture(dec, &pic) != 0)
            break;
        k++;
        dav1d_picture_unref(&pic);
    }
    if (k != w->n) {
        snprintf(err, errlen, "probe %dx%d crf %d: libdav1d decoded %d of %d frames", pr->width,
                 pr->height, pr->crf, k, w->n);
        ret = CME_EBITSTREAM;
        goto done;
    }
    double mse = sse / ((double)w->n * ref_w * ref_h);
    pr->psnr = mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 100.0;
    pr->ssim = blocks ? ssim_sum / (double)blocks : 1.0;
    pr->frames = k;
    ret = 0;
done:
    sws_freeContext(sws);
    free(up);
    dav1d_close(&dec);
    return ret;
}

/* Checks the arguments both entry points share; 0 or CME_EINVAL with err. */
static int check_args(int frames, int ref_width, int ref_height, int preset,
                      const CmeProbeEncode *probes, int nb_probes, char *err, size_t errlen)
{
    if (frames < 1 || frames > MAX_WINDOW_FRAMES || ref_width < 16 || ref_height < 16 ||
        ref_width > 8192 || ref_height > 8192 || preset < -1 || preset > 13) {
        snprintf(err, errlen,
                 "probe window: expected 1..%d frames, a reference of 16..8192 pixels and a "
                 "preset -1..13, got %d frames, %dx%d, preset %d",
                 MAX_WINDOW_FRAMES, frames, ref_width, ref_height, preset);
        return CME_EINVAL;
    }
    for (int i = 0; i < nb_probes; i++) {
        const CmeProbeEncode *p = &probes[i];
        if (p->width < 16 || p->height < 64 || p->width > ref_width || p->height > ref_height ||
            p->width % 2 || p->height % 2 || p->crf < 1 || p->crf > 63) {
            snprintf(err, errlen,
                     "probe %d: %dx%d crf %d: expected even sizes, at least 64 lines, within "
                     "the reference %dx%d, and a crf 1..63",
                     i + 1, p->width, p->height, p->crf, ref_width, ref_height);
            return CME_EINVAL;
        }
    }
    return 0;
}

/* --- on the job's devices, in parallel ----------------------------------------------- */

/* One probe of a batch: its session, its open encoder, its thread's results. */
typedef struct Slot {
    const Window *w;
    CmeProbeEncode *pr;
    CmeEncoder *enc;
    CmeProbeSession session;
    Packets pk;
    double t0;
    int ret;
    char err[256];
    pthread_t thread;
    int started;
} Slot;

/* A batch thread: encode (the encoder drains at EOS), decode, measure. */
static void *slot_main(void *arg)
{
    Slot *s = arg;
    s->pk.size = 0;
    s->pk.n = 0;
    s->ret = encode_window(s->enc, s->w, s->pr, &s->pk, s->err, sizeof(s->err));
    if (s->ret == 0) {
        s->pr->bytes = s->pk.size;
        s->ret = measure(s->w, &s->pk, s->pr, s->err, sizeof(s->err));
    }
    s->pr->encode_seconds = now_seconds() - s->t0;
    return NULL;
}

int cme__probe_encodes_batched(const char *path, double start, int frames, int ref_width,
                               int ref_height, int preset, CmeProbeEncode *probes, int nb_probes,
                               int parallel, int timeout_ms, const CmeProbeSessionSource *src,
                               double *seconds, char *err, size_t errlen)
{
    if (!path || !probes || nb_probes <= 0 || !seconds || !err || errlen == 0 || !src ||
        parallel < 1)
        return CME_EINVAL;
    err[0] = '\0';
    int r = check_args(frames, ref_width, ref_height, preset, probes, nb_probes, err, errlen);
    if (r < 0)
        return r;
    Window w = { 0 };
    r = read_window(path, start, frames, ref_width, ref_height, &w, err, errlen);
    if (r < 0) {
        window_free(&w);
        return r;
    }
    *seconds = w.n / w.fps;
    int width = parallel < nb_probes ? parallel : nb_probes;
    Slot *slots = calloc((size_t)width, sizeof(*slots));
    if (!slots) {
        window_free(&w);
        return CME_ENOMEM;
    }
    for (int next = 0; next < nb_probes && r == 0;) {
        /* Sessions: wait (FIFO) for the first, take more only while they are free. */
        int n = 0;
        r = src->acquire(src->opaque, &slots[0].session, timeout_ms);
        if (r < 0) {
            snprintf(err, errlen,
                     "per-title probes: no free session on the job's devices within %d ms "
                     "(running jobs hold them)",
                     timeout_ms);
            break;
        }
        n = 1;
        while (n < width && next + n < nb_probes &&
               src->try_acquire(src->opaque, &slots[n].session) == 0)
            n++;
        /* Every encoder of the batch opens before any encodes (SVT-AV1 1.4.1). */
        for (int i = 0; i < n && r == 0; i++) {
            Slot *s = &slots[i];
            s->w = &w;
            s->pr = &probes[next + i];
            s->t0 = now_seconds();
            s->started = 0;
            snprintf(s->pr->device, sizeof(s->pr->device), "%s", s->session.id);
            r = open_probe(&w, preset, s->session.threads, s->pr, &s->enc, err, errlen);
        }
        for (int i = 0; i < n && r == 0; i++) {
            if (pthread_create(&slots[i].thread, NULL, slot_main, &slots[i]) != 0) {
                snprintf(err, errlen, "per-title probes: cannot start a thread");
                r = CME_ENOMEM;
                break;
            }
            slots[i].started = 1;
        }
        for (int i = 0; i < n; i++) {
            if (slots[i].started)
                pthread_join(slots[i].thread, NULL);
            if (r == 0 && slots[i].started && slots[i].ret < 0) {
                r = slots[i].ret;
                snprintf(err, errlen, "%s", slots[i].err);
            }
        }
        /* Closed only after every encoder of the batch drained, then the sessions go back. */
        for (int i = 0; i < n; i++) {
            cme__encoder_close(&slots[i].enc);
            src->release(src->opaque, &slots[i].session);
        }
        next += n;
    }
    for (int i = 0; i < width; i++) {
        free(slots[i].pk.data);
        free(slots[i].pk.ends);
    }
    free(slots);
    window_free(&w);
    return r;
}

/* The plain cme_probe_encodes: one probe after another, each on a session of its own (no
 * device pool, the library's default threads). */
static int unleased_acquire(void *opaque, CmeProbeSession *s, int timeout_ms)
{
    (void)opaque;
    (void)timeout_ms;
    *s = (CmeProbeSession){ .handle = 0, .threads = 0, .id = "" };
    return 0;
}

static int unleased_try_acquire(void *opaque, CmeProbeSession *s)
{
    return unleased_acquire(opaque, s, 0);
}

static void unleased_release(void *opaque, CmeProbeSession *s)
{
    (void)opaque;
    s->handle = -1;
}

int cme_probe_encodes(const char *path, double start, int frames, int ref_width, int ref_height,
                      int preset, CmeProbeEncode *probes, int nb_probes, double *seconds, char *err,
                      size_t errlen)
{
    const CmeProbeSessionSource unleased = { .acquire = unleased_acquire,
                                             .try_acquire = unleased_try_acquire,
                                             .release = unleased_release };
    return cme__probe_encodes_batched(path, start, frames, ref_width, ref_height, preset, probes,
                                      nb_probes, 1, -1, &unleased, seconds, err, errlen);
}

/*
 * cme_probe_file: a description of a source for recipes (cmafeng/probe.h).
 *
 * Everything comes from the container and codec headers that libavformat reads, plus two
 * cheap extras: a scan of the first video packets (frame durations tell a variable frame
 * rate; a short file is counted exactly) and, for PQ/HLG streams whose container carries no
 * mdcv/clli, one decoded frame (HEVC and AV1 keep SMPTE ST 2086 mastering display and
 * content light level in SEI / metadata OBUs, which FFmpeg exports as frame side data).
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
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/pixdesc.h>

#include "cmafeng/probe.h"
#include "media/rotate.h"

/* Packets scanned for frame durations: ~20 s at 30 fps, a few MB of reading. */
#define SCAN_PACKETS 600

static void av_err(char *err, size_t errlen, const char *path, const char *what, int averr)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };
    av_strerror(averr, buf, sizeof(buf));
    snprintf(err, errlen, "%s: %s: %s", path, what, buf);
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static const char *language_of(const AVStream *st)
{
    const AVDictionaryEntry *e = av_dict_get(st->metadata, "language", NULL, 0);
    return e ? e->value : "";
}

const char *cme_probe_primaries_name(int v)
{
    const char *n = av_color_primaries_name((enum AVColorPrimaries)v);
    return n ? n : "unknown";
}

const char *cme_probe_transfer_name(int v)
{
    const char *n = av_color_transfer_name((enum AVColorTransferCharacteristic)v);
    return n ? n : "unknown";
}

const char *cme_probe_matrix_name(int v)
{
    const char *n = av_color_space_name((enum AVColorSpace)v);
    return n ? n : "unknown";
}

const char *cme_probe_hdr_name(CmeHdrKind kind)
{
    switch (kind) {
    case CME_HDR_PQ: return "pq";
    case CME_HDR_HLG: return "hlg";
    default: return "sdr";
    }
}

/* The display matrix (ISO/IEC 14496-12 8.5.3 tkhd matrix, as FFmpeg exports it), read by
 * the parser the engine turns the pixels with (media/rotate.c). A matrix that is not a
 * quarter turn reports the nearest one here; the engine refuses such a source. */
static void read_rotation(const AVStream *st, CmeProbeVideo *v)
{
    size_t size = 0;
    const uint8_t *sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (!sd || size < 9 * sizeof(int32_t))
        return;
    int32_t m[9];
    memcpy(m, sd, sizeof(m));
    CmeRotation r;
    (void)cme__rotation_from_matrix(m, &r, NULL);
    v->rotation = r.degrees;
    v->hflip = r.hflip;
}

static void read_mastering(CmeProbeVideo *v, const AVMasteringDisplayMetadata *md)
{
    if (!md->has_primaries && !md->has_luminance)
        return;
    v->has_mastering = 1;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            v->mastering.primaries[i][j] = av_q2d(md->display_primaries[i][j]);
    v->mastering.white_point[0] = av_q2d(md->white_point[0]);
    v->mastering.white_point[1] = av_q2d(md->white_point[1]);
    if (md->has_luminance) {
        v->mastering.min_luminance = av_q2d(md->min_luminance);
        v->mastering.max_luminance = av_q2d(md->max_luminance);
    }
}

static void read_pixel_format(const AVCodecParameters *par, CmeProbeVideo *v)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)par->format);
    if (!d) {
        copy_str(v->pix_fmt, sizeof(v->pix_fmt), "unknown");
        return;
    }
    copy_str(v->pix_fmt, sizeof(v->pix_fmt), d->name);
    v->bit_depth = d->comp[0].depth;
    if (d->flags & AV_PIX_FMT_FLAG_RGB)
        v->chroma_format = 0;
    else if (d->nb_components == 1)
        v->chroma_format = 400;
    else if (d->log2_chroma_w == 1 && d->log2_chroma_h == 1)
        v->chroma_format = 420;
    else if (d->log2_chroma_w == 1 && d->log2_chroma_h == 0)
        v->chroma_format = 422;
    else if (d->log2_chroma_w == 0 && d->log2_chroma_h == 0)
        v->chroma_format = 444;
}

static void read_video_headers(AVFormatContext *fmt, AVStream *st, CmeProbeVideo *v)
{
    const AVCodecParameters *par = st->codecpar;
    v->index = st->index;
    copy_str(v->codec, sizeof(v->codec), avcodec_get_name(par->codec_id));
    copy_str(v->profile, sizeof(v->profile), avcodec_profile_name(par->codec_id, par->profile));
    v->width = par->width;
    v->height = par->height;
    AVRational sar = av_guess_sample_aspect_ratio(fmt, st, NULL);
    if (sar.num <= 0 || sar.den <= 0)
        sar = (AVRational){ 1, 1 };
    av_reduce(&v->sar_num, &v->sar_den, sar.num, sar.den, 1 << 16);
    read_rotation(st, v);
    int dw = (int)lround((double)v->width * v->sar_num / v->sar_den);
    int dh = v->height;
    if (v->rotation == 90 || v->rotation == 270) {
        v->display_width = dh;
        v->display_height = dw;
    } else {
        v->display_width = dw;
        v->display_height = dh;
    }

    AVRational fr = st->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0)
        fr = st->r_frame_rate;
    if (fr.num <= 0 || fr.den <= 0)
        fr = (AVRational){ 25, 1 };
    av_reduce(&v->fps_num, &v->fps_den, fr.num, fr.den, 1 << 30);

    v->duration = -1;
    if (st->duration > 0 && st->duration != AV_NOPTS_VALUE)
        v->duration = st->duration * av_q2d(st->time_base);
    else if (fmt->duration > 0)
        v->duration = fmt->duration / (double)AV_TIME_BASE;
    v->frames = -1;
    if (st->nb_frames > 0) {
        v->frames = st->nb_frames;
        v->frames_exact = 1;
    } else if (v->duration > 0) {
        v->frames = (int64_t)(v->duration * fr.num / fr.den + 0.5);
    }

    read_pixel_format(par, v);
    v->color_primaries = par->color_primaries;
    v->color_transfer = par->color_trc;
    v->color_matrix = par->color_space;
    v->range_known = par->color_range != AVCOL_RANGE_UNSPECIFIED;
    v->full_range = par->color_range == AVCOL_RANGE_JPEG;
    if (v->color_transfer == AVCOL_TRC_SMPTE2084)
        v->hdr = CME_HDR_PQ;
    else if (v->color_transfer == AVCOL_TRC_ARIB_STD_B67)
        v->hdr = CME_HDR_HLG;

    size_t size = 0;
    const uint8_t *sd = av_stream_get_side_data(st, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, &size);
    if (sd && size >= sizeof(AVMasteringDisplayMetadata))
        read_mastering(v, (const AVMasteringDisplayMetadata *)sd);
    sd = av_stream_get_side_data(st, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, &size);
    if (sd && size >= sizeof(AVContentLightMetadata)) {
        const AVContentLightMetadata *cl = (const AVContentLightMetadata *)sd;
        v->has_content_light = 1;
        v->max_cll = cl->MaxCLL;
        v->max_fall = cl->MaxFALL;
    }
}

static void read_audio(const AVStream *st, CmeProbeAudio *a)
{
    const AVCodecParameters *par = st->codecpar;
    a->index = st->index;
    copy_str(a->codec, sizeof(a->codec), avcodec_get_name(par->codec_id));
    a->channels = par->ch_layout.nb_channels;
    if (par->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC &&
        av_channel_layout_describe(&par->ch_layout, a->layout, sizeof(a->layout)) < 0)
        a->layout[0] = '\0';
    a->sample_rate = par->sample_rate;
    a->bit_rate = par->bit_rate;
    copy_str(a->language, sizeof(a->language), language_of(st));
    a->is_default = (st->disposition & AV_DISPOSITION_DEFAULT) != 0;
}

/* Decodes packets until one frame comes out and takes its HDR side data. Best effort: a
 * stream that does not decode simply keeps what the headers said. */
typedef struct FrameProbe {
    AVCodecContext *dec;
    AVFrame *frame;
    int done;
} FrameProbe;

static void frame_probe_open(FrameProbe *fp, const AVStream *st)
{
    memset(fp, 0, sizeof(*fp));
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    fp->done = 1;
    if (!codec)
        return;
    fp->dec = avcodec_alloc_context3(codec);
    fp->frame = av_frame_alloc();
    if (!fp->dec || !fp->frame || avcodec_parameters_to_context(fp->dec, st->codecpar) < 0)
        return;
    fp->dec->thread_count = 1;
    if (avcodec_open2(fp->dec, codec, NULL) < 0)
        return;
    fp->done = 0;
}

static void frame_probe_take(FrameProbe *fp, CmeProbeVideo *v)
{
    const AVFrameSideData *sd =
        av_frame_get_side_data(fp->frame, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);
    if (sd && !v->has_mastering) {
        read_mastering(v, (const AVMasteringDisplayMetadata *)sd->data);
        v->side_data_from_frame |= v->has_mastering;
    }
    sd = av_frame_get_side_data(fp->frame, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
    if (sd && !v->has_content_light) {
        const AVContentLightMetadata *cl = (const AVContentLightMetadata *)sd->data;
        v->has_content_light = 1;
        v->max_cll = cl->MaxCLL;
        v->max_fall = cl->MaxFALL;
        v->side_data_from_frame = 1;
    }
    fp->done = 1;
}

static void frame_probe_feed(FrameProbe *fp, const AVPacket *pkt, CmeProbeVideo *v)
{
    if (fp->done)
        return;
    /* A rejected packet (damaged, or EAGAIN with a full decoder) still lets a frame out. */
    (void)avcodec_send_packet(fp->dec, pkt);
    if (avcodec_receive_frame(fp->dec, fp->frame) == 0)
        frame_probe_take(fp, v);
    else if (!pkt)
        fp->done = 1;
}

static void frame_probe_close(FrameProbe *fp)
{
    av_frame_free(&fp->frame);
    avcodec_free_context(&fp->dec);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Reads up to SCAN_PACKETS video packets: their sorted timestamps give the frame
 * durations (B-frame reordering undone by the sort); reaching the end counts the frames. */
static void scan_packets(AVFormatContext *fmt, AVStream *st, CmeProbeVideo *v, int want_frame)
{
    int64_t *ts = malloc(SCAN_PACKETS * sizeof(*ts));
    AVPacket *pkt = av_packet_alloc();
    FrameProbe fp = { .done = 1 };
    if (want_frame)
        frame_probe_open(&fp, st);
    int n = 0, eof = 0;
    int64_t packets = 0;
    if (!ts || !pkt)
        goto done;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = (int)i == st->index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    while (n < SCAN_PACKETS) {
        int r = av_read_frame(fmt, pkt);
        if (r < 0) {
            eof = r == AVERROR_EOF;
            break;
        }
        if (pkt->stream_index == st->index) {
            packets++;
            int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (t != AV_NOPTS_VALUE)
                ts[n++] = t;
            frame_probe_feed(&fp, pkt, v);
        }
        av_packet_unref(pkt);
    }
    if (eof) {
        frame_probe_feed(&fp, NULL, v);
        if (packets > 0) {
            v->frames = packets;
            v->frames_exact = 1;
        }
    }
    qsort(ts, (size_t)n, sizeof(*ts), cmp_i64);
    int64_t dmin = INT64_MAX, dmax = 0;
    for (int i = 1; i < n; i++) {
        int64_t d = ts[i] - ts[i - 1];
        if (d <= 0)
            continue;
        if (d < dmin)
            dmin = d;
        if (d > dmax)
            dmax = d;
    }
    if (dmax > 0) {
        double tb = av_q2d(st->time_base);
        v->min_frame_duration = dmin * tb;
        v->max_frame_duration = dmax * tb;
        /* Containers round timestamps (Matroska to 1 ms: 29.97 fps reads 33/34 ms), so
         * a spread of two ticks, or under 5% of the frame duration, is not VFR. */
        v->vfr = dmax - dmin > 2 && (double)(dmax - dmin) > 0.05 * (double)dmin;
    }
done:
    frame_probe_close(&fp);
    av_packet_free(&pkt);
    free(ts);
}

int cme_probe_file(const char *path, CmeProbe *out, char *err, size_t errlen)
{
    if (!path || !out || !err || errlen == 0)
        return CME_EINVAL;
    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CME_EIO;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, expected a media file", path);
        return CME_EIO;
    }
    AVFormatContext *fmt = NULL;
    int r = avformat_open_input(&fmt, path, NULL, NULL);
    if (r < 0) {
        av_err(err, errlen, path, r == AVERROR(EACCES) ? "cannot read" : "not a media file", r);
        return r == AVERROR(EACCES) ? CME_EIO : CME_EMEDIA;
    }
    r = avformat_find_stream_info(fmt, NULL);
    if (r < 0) {
        av_err(err, errlen, path, "cannot read stream information", r);
        avformat_close_input(&fmt);
        return CME_EMEDIA;
    }
    copy_str(out->format, sizeof(out->format), fmt->iformat->name);
    out->duration = fmt->duration > 0 ? fmt->duration / (double)AV_TIME_BASE : -1;
    out->bit_rate = fmt->bit_rate > 0 ? fmt->bit_rate : 0;

    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *s = fmt->streams[i];
        enum AVMediaType type = s->codecpar->codec_type;
        if (type == AVMEDIA_TYPE_AUDIO && out->nb_audio < CME_PROBE_MAX_STREAMS) {
            read_audio(s, &out->audio[out->nb_audio++]);
        } else if (type == AVMEDIA_TYPE_SUBTITLE && out->nb_subtitles < CME_PROBE_MAX_STREAMS) {
            CmeProbeSubtitle *sub = &out->subtitles[out->nb_subtitles++];
            sub->index = s->index;
            copy_str(sub->codec, sizeof(sub->codec), avcodec_get_name(s->codecpar->codec_id));
            copy_str(sub->language, sizeof(sub->language), language_of(s));
        }
    }

    /* The same stream the engine encodes (media/source.c picks it the same way). */
    int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vi >= 0) {
        AVStream *vs = fmt->streams[vi];
        out->has_video = 1;
        read_video_headers(fmt, vs, &out->video);
        CmeProbeVideo *v = &out->video;
        int want_frame = v->hdr != CME_HDR_SDR && (!v->has_mastering || !v->has_content_light);
        scan_packets(fmt, vs, v, want_frame);
    }
    avformat_close_input(&fmt);
    return 0;
}

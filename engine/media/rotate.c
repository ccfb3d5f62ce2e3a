/*
 * Quarter turns and mirrors of decoded pictures (media/rotate.h). The decode pump applies
 * the source's display matrix once per frame, before the frame is shared by every rung,
 * so each rung's scaler sees an upright picture and the output needs no display matrix.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

#include "cmafeng/common.h"
#include "media/rotate.h"

/* An entry of the 2x2 part as -1, 0 or 1; 2 when it is neither (16.16 fixed point: a
 * quarter turn's entries are exactly 0 or +-65536 as FFmpeg and muxers write them; small
 * rounding is tolerated). */
static int unit(int32_t v)
{
    if (v >= 0x8000)
        return 1;
    if (v <= -0x8000)
        return -1;
    return v > -0x400 && v < 0x400 ? 0 : 2;
}

CmeRotation cme__rotation_make(int degrees, int hflip)
{
    degrees = ((degrees % 360) + 360) % 360;
    CmeRotation r = CME_ROTATION_IDENTITY;
    /* Clockwise on screen (y down): 90 degrees takes (x, y) to (H-1-y, x). */
    switch (degrees) {
    case 90: r = (CmeRotation){ 0, 1, -1, 0, 90, 0 }; break;
    case 180: r = (CmeRotation){ -1, 0, 0, -1, 180, 0 }; break;
    case 270: r = (CmeRotation){ 0, -1, 1, 0, 270, 0 }; break;
    default: break;
    }
    if (hflip) {
        /* Mirroring the displayed picture negates x', the matrix's first column. */
        r.a = -r.a;
        r.c = -r.c;
        r.hflip = 1;
    }
    return r;
}

int cme__rotation_from_matrix(const int32_t *m, CmeRotation *out, double *ccw_degrees)
{
    if (ccw_degrees)
        *ccw_degrees = 0;
    *out = CME_ROTATION_IDENTITY;
    if (!m)
        return 0;
    int a = unit(m[0]), b = unit(m[1]), c = unit(m[3]), d = unit(m[4]);
    int quarter =
        a != 2 && b != 2 && c != 2 && d != 2 &&
        ((a != 0 && d != 0 && b == 0 && c == 0) || (a == 0 && d == 0 && b != 0 && c != 0));
    int hflip = (int64_t)m[0] * m[4] - (int64_t)m[1] * m[3] < 0;
    if (quarter) {
        /* Undo the mirror, then name the turn that remains. */
        int ra = hflip ? -a : a, rc = hflip ? -c : c;
        int deg = ra == 1 ? 0 : ra == -1 ? 180 : rc == -1 ? 90 : 270;
        *out = cme__rotation_make(deg, hflip);
        if (ccw_degrees)
            *ccw_degrees = -deg;
        return 0;
    }
    int32_t u[9];
    memcpy(u, m, sizeof(u));
    if (hflip) {
        u[0] = -u[0];
        u[3] = -u[3];
    }
    double ccw = av_display_rotation_get(u);
    if (isnan(ccw))
        ccw = 0;
    if (ccw_degrees)
        *ccw_degrees = ccw;
    long q = lround(-ccw / 90.0);
    *out = cme__rotation_make((int)(((q % 4) + 4) % 4) * 90, hflip);
    return CME_EUNSUPPORTED;
}

/* Bytes one sample of plane p occupies (its first component's step), 0 if p is unused. */
static int plane_bytes(const AVPixFmtDescriptor *d, int p)
{
    for (int i = 0; i < d->nb_components; i++)
        if (d->comp[i].plane == p)
            return d->comp[i].step;
    return 0;
}

int cme__rotation_supports(const CmeRotation *r, int fmt)
{
    if (cme__rotation_is_identity(r))
        return 1;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)fmt);
    if (!d ||
        (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL)))
        return 0;
    /* Each plane's samples move as units: planar formats, semi-planar ones (NV12's UV
     * pairs) and one-component formats; packed RGB or YUYV would need more than that. */
    if (!(d->flags & AV_PIX_FMT_FLAG_PLANAR) && d->nb_components > 1)
        return 0;
    for (int p = 0; p < av_pix_fmt_count_planes((enum AVPixelFormat)fmt); p++) {
        int bytes = plane_bytes(d, p);
        if (bytes != 1 && bytes != 2 && bytes != 4)
            return 0;
    }
    if (cme__rotation_transposes(r) && d->log2_chroma_w != d->log2_chroma_h)
        return 0;
    return 1;
}

#define TILE 32

/* Moves every sample of a tile: the destination offset is linear in x and y. */
#define ROTATE_LOOP(T)                                                                    \
    for (int ty = 0; ty < h; ty += TILE)                                                  \
        for (int tx = 0; tx < w; tx += TILE) {                                            \
            int ey = ty + TILE < h ? ty + TILE : h, ex = tx + TILE < w ? tx + TILE : w;   \
            for (int y = ty; y < ey; y++) {                                               \
                const T *s = (const T *)(const void *)(src + (ptrdiff_t)y * src_stride);  \
                uint8_t *o = dst + base + (ptrdiff_t)y * step_y + (ptrdiff_t)tx * step_x; \
                for (int x = tx; x < ex; x++, o += step_x)                                \
                    *(T *)(void *)o = s[x];                                               \
            }                                                                             \
        }

void cme__rotate_plane(const CmeRotation *r, const uint8_t *src, int src_stride, uint8_t *dst,
                       int dst_stride, int w, int h, int bytes)
{
    /* x' = a*x + c*y + ox, y' = b*x + d*y + oy, with the offsets that put the picture at
     * [0, w') x [0, h'); the byte offset of (x', y') in dst is then linear in x and y. */
    ptrdiff_t ox = (r->a < 0 ? w - 1 : 0) + (r->c < 0 ? h - 1 : 0);
    ptrdiff_t oy = (r->b < 0 ? w - 1 : 0) + (r->d < 0 ? h - 1 : 0);
    ptrdiff_t step_x = (ptrdiff_t)r->a * bytes + (ptrdiff_t)r->b * dst_stride;
    ptrdiff_t step_y = (ptrdiff_t)r->c * bytes + (ptrdiff_t)r->d * dst_stride;
    ptrdiff_t base = ox * bytes + oy * dst_stride;
    if (bytes == 1) {
        ROTATE_LOOP(uint8_t)
    } else if (bytes == 2) {
        ROTATE_LOOP(uint16_t)
    } else {
        ROTATE_LOOP(uint32_t)
    }
}

int cme__rotate_frame(const CmeRotation *r, AVFrame *frame)
{
    if (cme__rotation_is_identity(r))
        return 0;
    if (!cme__rotation_supports(r, frame->format))
        return CME_EUNSUPPORTED;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)frame->format);
    int t = cme__rotation_transposes(r);
    AVFrame *out = av_frame_alloc();
    if (!out)
        return CME_ENOMEM;
    out->format = frame->format;
    out->width = t ? frame->height : frame->width;
    out->height = t ? frame->width : frame->height;
    if (av_frame_get_buffer(out, 0) < 0 || av_frame_copy_props(out, frame) < 0) {
        av_frame_free(&out);
        return CME_ENOMEM;
    }
    /* The pixels now are what the matrix described: a player must not turn them again. */
    av_frame_remove_side_data(out, AV_FRAME_DATA_DISPLAYMATRIX);
    if (t && frame->sample_aspect_ratio.num > 0 && frame->sample_aspect_ratio.den > 0)
        out->sample_aspect_ratio =
            (AVRational){ frame->sample_aspect_ratio.den, frame->sample_aspect_ratio.num };
    int planes = av_pix_fmt_count_planes((enum AVPixelFormat)frame->format);
    for (int p = 0; p < planes; p++) {
        /* Planes 1 and 2 of YUV (and NV12's plane 1) are the subsampled chroma. */
        int chroma = (p == 1 || p == 2) && !(d->flags & AV_PIX_FMT_FLAG_RGB);
        int w = chroma ? AV_CEIL_RSHIFT(frame->width, d->log2_chroma_w) : frame->width;
        int h = chroma ? AV_CEIL_RSHIFT(frame->height, d->log2_chroma_h) : frame->height;
        cme__rotate_plane(r, frame->data[p], frame->linesize[p], out->data[p], out->linesize[p], w,
                          h, plane_bytes(d, p));
    }
    av_frame_unref(frame);
    av_frame_move_ref(frame, out);
    av_frame_free(&out);
    return 0;
}

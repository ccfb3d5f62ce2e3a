/*
 * Decoding one chunk again (reload.h), for a retry whose frames the pump let go.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cmafeng/common.h"
#include "media/reload.h"
#include "media/rotate.h"
#include "media/source.h"

/* Reads on until every wanted frame is found: 0, CME_EAGAIN when a wanted timestamp was
 * passed without a frame (the seek broke the timeline), or an error. */
static int collect(CmeSource *s, const int64_t *pts, int n, AVFrame **out, char *err, size_t errlen)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return CME_ENOMEM;
    int j = 0, r = 0;
    while (j < n) {
        int64_t t;
        r = cme__source_read(s, f, CME_TIMESCALE, &t, err, errlen);
        if (r == CME_EOF) {
            r = CME_EAGAIN;
            break;
        }
        if (r < 0)
            break;
        if (t < pts[j])
            continue;
        if (t > pts[j]) {
            r = CME_EAGAIN;
            break;
        }
        /* Turned upright as the pump turned the first decode. */
        if ((r = cme__rotate_frame(cme__source_rotation(s), f)) < 0) {
            snprintf(err, errlen, "cannot turn a frame upright: %s", cme_strerror(r));
            break;
        }
        if (!(out[j] = av_frame_clone(f))) {
            r = CME_ENOMEM;
            break;
        }
        j++;
    }
    av_frame_free(&f);
    if (r < 0)
        for (int i = 0; i < j; i++)
            av_frame_free(&out[i]);
    return r;
}

static int reload_once(const char *path, int seek, const int64_t *pts, int n, AVFrame **out,
                       char *err, size_t errlen)
{
    CmeSource *s = NULL;
    int r = cme__source_open(&s, path, err, errlen);
    if (r < 0)
        return r;
    cme__source_drop_audio(s);
    /* The first read of a fresh source returns the frame decoded at open, which sets the
     * timeline's origin exactly as the pump's source did. */
    if (seek) {
        AVFrame *f = av_frame_alloc();
        int64_t t;
        r = f ? cme__source_read(s, f, CME_TIMESCALE, &t, err, errlen) : CME_ENOMEM;
        av_frame_free(&f);
        if (r == 0 && t < pts[0])
            r = cme__source_seek(s, pts[0], CME_TIMESCALE) < 0 ? CME_EAGAIN : 0;
        else if (r == 0)
            r = CME_EAGAIN; /* the chunk starts at the origin: read from the start */
    }
    if (r == 0)
        r = collect(s, pts, n, out, err, errlen);
    cme__source_close(&s);
    return r;
}

int cme__chunk_reload(const char *path, const int64_t *pts, int n, AVFrame **out, char *err,
                      size_t errlen)
{
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (n <= 0)
        return 0;
    int r = reload_once(path, 1, pts, n, out, err, errlen);
    if (r == CME_EAGAIN)
        r = reload_once(path, 0, pts, n, out, err, errlen);
    if (r == CME_EAGAIN) {
        snprintf(err, errlen,
                 "%s: decoding the chunk again did not give the frame at %.3f s (the source "
                 "changed, or its timestamps are not reproducible)",
                 path, (double)pts[0] / CME_TIMESCALE);
        r = CME_EMEDIA;
    }
    return r;
}

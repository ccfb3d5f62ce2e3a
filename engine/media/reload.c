/*
 * Decoding one chunk again (reload.h), for a retry whose frames the pump let go.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmafeng/common.h"
#include "media/reload.h"
#include "media/rotate.h"
#include "media/source.h"

/* What a reload looks for: the frames at the timestamps pts[0..n), or (pts NULL) every frame
 * in [start, end), the first exactly at start, at most n. */
typedef struct Want {
    const int64_t *pts;
    int n;
    int64_t start, end;
} Want;

/* Reads on until every wanted frame is found: 0 with out[0..*got), CME_EAGAIN when a wanted
 * timestamp was passed without a frame (the seek broke the timeline), or an error. */
static int collect(CmeSource *s, const Want *want, AVFrame **out, int64_t *pts_out, int *got,
                   char *err, size_t errlen)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return CME_ENOMEM;
    int j = 0, r = 0;
    while (want->pts ? j < want->n : 1) {
        int64_t t;
        r = cme__source_read(s, f, CME_TIMESCALE, &t, err, errlen);
        if (r == CME_EOF) {
            r = want->pts || j == 0 ? CME_EAGAIN : 0;
            break;
        }
        if (r < 0)
            break;
        const int64_t at = want->pts ? want->pts[j] : want->start;
        if (!want->pts && j > 0 && t >= want->end)
            break;
        if (t < at && (want->pts || j == 0))
            continue;
        if ((want->pts || j == 0) && t > at) {
            r = CME_EAGAIN;
            break;
        }
        if (j == want->n) {
            snprintf(err, errlen, "more frames in the span than the chunk held");
            r = CME_EMEDIA;
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
        if (pts_out)
            pts_out[j] = t;
        j++;
    }
    av_frame_free(&f);
    if (r < 0)
        for (int i = 0; i < j; i++)
            av_frame_free(&out[i]);
    *got = r < 0 ? 0 : j;
    return r;
}

static int reload_once(const char *path, int seek, const Want *want, AVFrame **out,
                       int64_t *pts_out, int *got, char *err, size_t errlen)
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
        const int64_t first = want->pts ? want->pts[0] : want->start;
        if (r == 0 && t < first)
            r = cme__source_seek(s, first, CME_TIMESCALE) < 0 ? CME_EAGAIN : 0;
        else if (r == 0)
            r = CME_EAGAIN; /* the chunk starts at the origin: read from the start */
    }
    if (r == 0)
        r = collect(s, want, out, pts_out, got, err, errlen);
    cme__source_close(&s);
    return r;
}

/* Seek first, then from the start when the seek broke the timeline. */
static int reload(const char *path, const Want *want, AVFrame **out, int64_t *pts_out, int *got,
                  char *err, size_t errlen)
{
    for (int i = 0; i < want->n; i++)
        out[i] = NULL;
    *got = 0;
    int r = reload_once(path, 1, want, out, pts_out, got, err, errlen);
    if (r == CME_EAGAIN)
        r = reload_once(path, 0, want, out, pts_out, got, err, errlen);
    if (r == CME_EAGAIN) {
        snprintf(err, errlen,
                 "%s: decoding the chunk again did not give the frame at %.3f s (the source "
                 "changed, or its timestamps are not reproducible)",
                 path, (double)(want->pts ? want->pts[0] : want->start) / CME_TIMESCALE);
        r = CME_EMEDIA;
    }
    return r;
}

int cme__chunk_reload(const char *path, const int64_t *pts, int n, AVFrame **out, char *err,
                      size_t errlen)
{
    if (n <= 0)
        return 0;
    const Want want = { .pts = pts, .n = n };
    int got;
    return reload(path, &want, out, NULL, &got, err, errlen);
}

int cme__chunk_reload_span(const char *path, uint32_t index, int capacity, int64_t start,
                           int64_t end, CmeSrcChunk **out, char *err, size_t errlen)
{
    *out = NULL;
    const Want want = { .n = capacity, .start = start, .end = end };
    AVFrame **frames = calloc((size_t)capacity, sizeof(*frames));
    int64_t *pts = calloc((size_t)capacity, sizeof(*pts));
    CmeSrcChunk *c = cme__src_chunk_new(index, capacity, NULL);
    int got = 0;
    int r = frames && pts && c ? reload(path, &want, frames, pts, &got, err, errlen) : CME_ENOMEM;
    if (r == CME_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (r == 0) {
        for (int i = 0; i < got; i++)
            cme__src_chunk_append(c, frames[i], pts[i]);
        cme__src_chunk_complete(c, end - pts[got - 1]);
        *out = c;
        c = NULL;
    }
    cme__src_chunk_unref(&c);
    free(frames);
    free(pts);
    return r;
}

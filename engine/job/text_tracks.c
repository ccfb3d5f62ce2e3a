/* The source's text subtitles as WebVTT renditions (see text_tracks.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/common.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/outpath.h"
#include "job/text_tracks.h"
#include "mux/webvtt.h"

/* A track's cues in WebVTT: text escaped, cues left empty by it dropped, by start time. */
typedef struct Cues {
    CmeCue *cues;
    size_t nb;
} Cues;

static void cues_free(Cues *c)
{
    for (size_t i = 0; i < c->nb; i++)
        free((char *)c->cues[i].text);
    free(c->cues);
    c->cues = NULL;
    c->nb = 0;
}

static int cue_order(const void *a, const void *b)
{
    const CmeCue *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int to_webvtt(const CmeSubtitleTrack *t, Cues *out)
{
    out->nb = 0;
    out->cues = calloc(t->nb ? t->nb : 1, sizeof(*out->cues));
    if (!out->cues)
        return CME_ENOMEM;
    for (size_t i = 0; i < t->nb; i++) {
        char *text = cme__webvtt_text(t->cues[i].ass);
        if (!text) {
            cues_free(out);
            return CME_ENOMEM;
        }
        if (!text[0]) {
            free(text);
            continue;
        }
        out->cues[out->nb++] = (CmeCue){ t->cues[i].start, t->cues[i].end, text };
    }
    qsort(out->cues, out->nb, sizeof(*out->cues), cue_order);
    return 0;
}

/* Writes one track's segments and sidecar file and fills its rendition. */
static int write_track(const char *out_dir, CmeTextExtra *x, int k, const CmeSubtitleTrack *st,
                       const CmeSegmentEntry *video, size_t nb_video, uint32_t video_ts, char *err,
                       size_t errlen)
{
    snprintf(x->names[k], sizeof(x->names[k]), k == 0 ? "subs" : "subs_%d", k + 1);
    char dir[2200];
    cme__outpath(dir, sizeof(dir), out_dir, NULL, x->names[k]);
    int r = cme__mkdir_p(dir, err, errlen);
    if (r < 0)
        return r;
    Cues t;
    if ((r = to_webvtt(st, &t)) < 0) {
        snprintf(err, errlen, "out of memory writing subtitles");
        return r;
    }
    /* Cues that start after the video has ended are never shown: they are left out. */
    const CmeSegmentEntry *last = &video[nb_video - 1];
    uint64_t end_ms = (last->start + last->duration) * 1000 / video_ts;
    while (t.nb > 0 && t.cues[t.nb - 1].start >= end_ms)
        free((char *)t.cues[--t.nb].text);
    x->segments[k] = calloc(nb_video ? nb_video : 1, sizeof(CmeSegmentEntry));
    if (!x->segments[k]) {
        cues_free(&t);
        return CME_ENOMEM;
    }
    for (size_t i = 0; i < nb_video && r == 0; i++) {
        uint64_t from = video[i].start * 1000 / video_ts;
        uint64_t to = (video[i].start + video[i].duration) * 1000 / video_ts;
        CmeBuf b = { 0 };
        char name[32];
        cme__outname_segment(name, sizeof(name), (uint32_t)(i + 1), "vtt");
        r = cme__webvtt_write(&b, t.cues, t.nb, from, to, 1);
        if (r == 0)
            r = cme__outfile_write(dir, NULL, name, &b, err, errlen);
        x->segments[k][i] = (CmeSegmentEntry){ video[i].start, video[i].duration, b.size };
        cme__buf_free(&b);
    }
    if (r == 0) {
        CmeBuf b = { 0 };
        r = cme__webvtt_write(&b, t.cues, t.nb, 0, 0, 0);
        if (r == 0)
            r = cme__outfile_write(dir, NULL, CME_OUT_SUBTITLES, &b, err, errlen);
        cme__buf_free(&b);
    }
    cues_free(&t);
    if (r < 0)
        return r;
    memcpy(x->languages[k], st->language, sizeof(x->languages[k]));
    x->reps[k] = (CmeRendition){ .name = x->names[k],
                                 .codecs = "wvtt",
                                 .timescale = video_ts,
                                 .segments = x->segments[k],
                                 .nb_segments = nb_video,
                                 .start_number = 1,
                                 .is_text = 1,
                                 .language = st->language[0] ? x->languages[k] : NULL };
    return 0;
}

int cme__text_extra(const char *src_path, const char *out_dir, int64_t origin, AVRational origin_tb,
                    const CmeSegmentEntry *video, size_t nb_video, uint32_t video_ts,
                    CmeTextExtra *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof(*x));
    if (nb_video == 0)
        return 0;
    CmeSubtitles subs;
    int r = cme__subtitles_read(src_path, origin, origin_tb, &subs, err, errlen);
    for (int k = 0; r == 0 && k < subs.n; k++) {
        r = write_track(out_dir, x, k, &subs.tracks[k], video, nb_video, video_ts, err, errlen);
        if (r == 0)
            x->n = k + 1;
    }
    cme__subtitles_free(&subs);
    if (r < 0)
        cme__text_extra_free(x);
    return r;
}

void cme__text_extra_free(CmeTextExtra *x)
{
    for (int k = 0; k < CME_MAX_TEXT; k++) {
        free(x->segments[k]);
        x->segments[k] = NULL;
    }
    x->n = 0;
}

/*
 * The audio segmenter (see audio.h). Packets wait here until the segment they belong to is
 * known to be finished: its end is the next video segment's start, and the segment is over
 * once a packet at or past that start has arrived (packets come in time order). The video
 * decoder runs behind the demuxer, so audio often arrives before the cut that ends its
 * segment is known; it simply waits, which bounds the wait by the video decoder's delay.
 */
#include <stdlib.h>
#include <string.h>

#include "cmafeng/common.h"
#include "media/audio.h"

struct CmeAudioCutter {
    uint64_t *cuts; /* video segment starts after time zero, increasing */
    size_t nb_cuts, cap_cuts;
    size_t next_cut; /* the cut that ends the segment being filled */
    CmeSample *samples;
    uint64_t *times;
    size_t nb, cap;
    uint8_t *data;
    size_t size, cap_data;
    size_t taken_nb, taken_size; /* released by the last call, removed by the next */
    uint32_t index;
};

int cme__audio_cutter_new(CmeAudioCutter **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : CME_ENOMEM;
}

void cme__audio_cutter_free(CmeAudioCutter **pc)
{
    if (!pc || !*pc)
        return;
    CmeAudioCutter *c = *pc;
    free(c->cuts);
    free(c->samples);
    free(c->times);
    free(c->data);
    free(c);
    *pc = NULL;
}

int cme__audio_cutter_cut(CmeAudioCutter *c, uint64_t time)
{
    if (time == 0 || (c->nb_cuts && time <= c->cuts[c->nb_cuts - 1]))
        return 0; /* time zero, or not after the last cut: nothing new */
    if (c->nb_cuts == c->cap_cuts) {
        size_t cap = c->cap_cuts ? c->cap_cuts * 2 : 64;
        uint64_t *p = realloc(c->cuts, cap * sizeof(*p));
        if (!p)
            return CME_ENOMEM;
        c->cuts = p;
        c->cap_cuts = cap;
    }
    c->cuts[c->nb_cuts++] = time;
    return 0;
}

/* Removes what the previous call released. */
static void compact(CmeAudioCutter *c)
{
    if (!c->taken_nb)
        return;
    c->nb -= c->taken_nb;
    memmove(c->samples, c->samples + c->taken_nb, c->nb * sizeof(*c->samples));
    memmove(c->times, c->times + c->taken_nb, c->nb * sizeof(*c->times));
    c->size -= c->taken_size;
    memmove(c->data, c->data + c->taken_size, c->size);
    c->taken_nb = c->taken_size = 0;
}

int cme__audio_cutter_push(CmeAudioCutter *c, uint64_t time, uint32_t duration, const uint8_t *data,
                           size_t size)
{
    compact(c);
    if (c->nb == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        CmeSample *s = realloc(c->samples, cap * sizeof(*s));
        if (!s)
            return CME_ENOMEM;
        c->samples = s;
        uint64_t *t = realloc(c->times, cap * sizeof(*t));
        if (!t)
            return CME_ENOMEM;
        c->times = t;
        c->cap = cap;
    }
    if (size > c->cap_data - c->size) {
        size_t cap = c->cap_data ? c->cap_data : 4096;
        while (cap - c->size < size)
            cap *= 2;
        uint8_t *d = realloc(c->data, cap);
        if (!d)
            return CME_ENOMEM;
        c->data = d;
        c->cap_data = cap;
    }
    memcpy(c->data + c->size, data, size);
    c->size += size;
    c->samples[c->nb] = (CmeSample){ (uint32_t)size, duration, 1 };
    c->times[c->nb] = time;
    c->nb++;
    return 0;
}

int cme__audio_cutter_next(CmeAudioCutter *c, int final, CmeAudioSeg *seg)
{
    compact(c);
    if (c->nb == 0)
        return final ? CME_EOF : CME_EAGAIN;
    /* Cuts at or before the first waiting packet end nothing (a video segment shorter than
     * one audio frame): they are passed over, so no audio segment is empty. */
    while (c->next_cut < c->nb_cuts && c->cuts[c->next_cut] <= c->times[0])
        c->next_cut++;
    size_t n = c->nb; /* final with no cut left: the rest is the last segment */
    if (c->next_cut < c->nb_cuts) {
        uint64_t end = c->cuts[c->next_cut];
        n = 0;
        while (n < c->nb && c->times[n] < end)
            n++;
        if (n == c->nb && !final)
            return CME_EAGAIN; /* no packet past the cut yet: more may belong here */
        c->next_cut++;
    } else if (!final) {
        return CME_EAGAIN; /* the next video segment's start is not known yet */
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += c->samples[i].size;
    seg->index = c->index++;
    seg->start = c->times[0];
    seg->samples = c->samples;
    seg->nb = n;
    seg->data = c->data;
    seg->size = bytes;
    c->taken_nb = n;
    c->taken_size = bytes;
    return 0;
}

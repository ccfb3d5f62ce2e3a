/* Rendition validation and exact duration arithmetic for the manifest writers. */
#include <assert.h>
#include <string.h>

#include "mux/manifest.h"

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int name_ok(const char *s)
{
    if (!s || !*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '.' && *s != '_' && *s != '-')
            return 0;
    return 1;
}

static int codecs_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '.' && *s != ',' && *s != '-' && *s != '+')
            return 0;
    return 1;
}

/* An RFC 5646 language tag as far as the writers need: 1 to 35 letters, digits and '-',
 * starting with a letter ("en", "eng", "pt-BR"); enough to need no quoting or escaping. */
static int language_ok(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if (!is_alnum(*s) && *s != '-')
            return 0;
    return n <= 35;
}

/* A label goes into a quoted playlist attribute and an XML element unescaped. */
static int label_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '<' || *s == '>' || *s == '&')
            return 0;
    return n <= 64;
}

int cme__rendition_check(const CmeRendition *r)
{
    if (!r || !name_ok(r->name) || !codecs_ok(r->codecs) || r->timescale == 0)
        return CME_EINVAL;
    if (r->is_audio && r->is_text)
        return CME_EINVAL;
    if (r->is_audio || r->is_text) {
        if (r->is_audio && (r->channels == 0 || r->sample_rate == 0))
            return CME_EINVAL;
        if (r->language && !language_ok(r->language))
            return CME_EINVAL;
        if (r->label && !label_ok(r->label))
            return CME_EINVAL;
    } else if (r->width == 0 || r->height == 0 || r->fps_num == 0 || r->fps_den == 0) {
        return CME_EINVAL;
    }
    if (!r->segments || r->nb_segments == 0)
        return CME_EINVAL;
    /* File names are seg_%05d.m4s of start_number + i; the last must fit 32 bits. */
    if (r->nb_segments - 1 > (uint64_t)UINT32_MAX - r->start_number)
        return CME_EINVAL;
    for (size_t i = 0; i < r->nb_segments; i++)
        if (r->segments[i].duration == 0)
            return CME_EINVAL;
    return 0;
}

int cme__renditions_check(const CmeRendition *r, size_t nb)
{
    if (!r || nb == 0)
        return CME_EINVAL;
    size_t nb_default = 0;
    for (size_t i = 0; i < nb; i++) {
        int err = cme__rendition_check(&r[i]);
        if (err < 0)
            return err;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r[i].name, r[j].name))
                return CME_EINVAL;
        nb_default += r[i].is_audio && r[i].is_default;
        for (size_t j = 0; j < i && r[i].label; j++)
            if (r[j].is_audio == r[i].is_audio && r[j].is_text == r[i].is_text && r[j].label &&
                !strcmp(r[i].label, r[j].label))
                return CME_EINVAL; /* RFC 8216 4.3.4.1.1: NAMEs in a group differ */
    }
    return nb_default > 1 ? CME_EINVAL : 0;
}

const CmeRendition *cme__default_audio(const CmeRendition *r, size_t nb)
{
    for (size_t i = 0; i < nb; i++)
        if (r[i].is_audio && r[i].is_default)
            return &r[i];
    return cme__audio_rendition(r, nb);
}

const char *cme__audio_label(const CmeRendition *r, size_t nb, size_t k)
{
    const CmeRendition *x = &r[k];
    if (x->label)
        return x->label;
    if (!x->language)
        return x->name;
    /* RFC 8216 4.3.4.1.1: names in a group differ; a language two renditions share does
     * not name either. */
    for (size_t i = 0; i < nb; i++)
        if (i != k && r[i].is_audio == x->is_audio && r[i].is_text == x->is_text && r[i].language &&
            !r[i].label && !strcmp(r[i].language, x->language))
            return x->name;
    return x->language;
}

const CmeRendition *cme__audio_rendition(const CmeRendition *r, size_t nb)
{
    for (size_t i = 0; i < nb; i++)
        if (r[i].is_audio)
            return &r[i];
    return NULL;
}

/* The remainder is below 2^32 and units are at most 10^6 < 2^20, so rem * unit cannot
 * overflow; the quotient part overflows only for durations of many millennia. */
uint64_t cme__scale_round(uint64_t value, uint32_t timescale, uint32_t unit)
{
    assert(timescale > 0);
    uint64_t q = value / timescale, rem = value % timescale;
    return q * unit + (rem * unit + timescale / 2) / timescale;
}

uint64_t cme__scale_ceil(uint64_t value, uint32_t timescale, uint32_t unit)
{
    assert(timescale > 0);
    uint64_t q = value / timescale, rem = value % timescale;
    return q * unit + (rem * unit + timescale - 1) / timescale;
}

int cme__codecs_colour(const char *codecs, int *primaries, int *transfer, int *matrix)
{
    if (!codecs || strncmp(codecs, "av01.", 5) != 0)
        return CME_EINVAL;
    /* Fields after "av01": P, LLT, DD, then optionally M, CCC, cp, tc, mc, F. */
    int field[10];
    int n = 0;
    const char *p = codecs + 4;
    while (*p == '.' && n < 10) {
        p++;
        if (n == 1) { /* LLT: two digits and a tier letter */
            while (*p && *p != '.')
                p++;
            field[n++] = 0;
            continue;
        }
        if (*p < '0' || *p > '9')
            return CME_EINVAL;
        int v = 0;
        while (*p >= '0' && *p <= '9' && v < 1000)
            v = v * 10 + (*p++ - '0');
        field[n++] = v;
    }
    if (*p != '\0' || (n != 3 && n != 9))
        return CME_EINVAL;
    *primaries = n == 9 ? field[5] : 1;
    *transfer = n == 9 ? field[6] : 1;
    *matrix = n == 9 ? field[7] : 1;
    return 0;
}

const char *cme__codecs_video_range(const char *codecs)
{
    int cp, tc, mc;
    if (cme__codecs_colour(codecs, &cp, &tc, &mc) < 0)
        return NULL;
    return tc == 16 ? "PQ" : tc == 18 ? "HLG" : NULL;
}

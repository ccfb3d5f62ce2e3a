/* WebVTT writer (see webvtt.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/common.h"
#include "mux/webvtt.h"

/* WebVTT 4.x timestamps: hh:mm:ss.ttt (hours at least two digits). */
static void write_time(CmeBuf *b, uint64_t ms)
{
    cme__buf_printf(b, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64, ms / 3600000,
                    ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

int cme__webvtt_write(CmeBuf *out, const CmeCue *cues, size_t nb, uint64_t from, uint64_t to,
                      int timestamp_map)
{
    size_t start = out->size;
    cme__buf_printf(out, "WEBVTT\n");
    if (timestamp_map)
        cme__buf_printf(out, "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n");
    cme__buf_printf(out, "\n");
    for (size_t i = 0; i < nb; i++) {
        const CmeCue *c = &cues[i];
        if (to && (c->end <= from || c->start >= to))
            continue;
        if (!c->text[0] || c->end <= c->start)
            continue;
        write_time(out, c->start);
        cme__buf_printf(out, " --> ");
        write_time(out, c->end);
        cme__buf_printf(out, "\n%s\n\n", c->text);
    }
    int err = cme__buf_status(out);
    if (err < 0 && out->size > start)
        out->size = start;
    return err;
}

char *cme__webvtt_text(const char *ass)
{
    /* The Text field follows the eighth comma. */
    const char *p = ass;
    for (int commas = 0; *p && commas < 8; p++)
        if (*p == ',')
            commas++;
    size_t n = strlen(p);
    char *out = malloc(5 * n + 1); /* '&' -> "&amp;" is the longest growth */
    if (!out)
        return NULL;
    size_t k = 0;
    int depth = 0;
    for (; *p; p++) {
        if (*p == '{') {
            depth++;
            continue;
        }
        if (*p == '}' && depth > 0) {
            depth--;
            continue;
        }
        if (depth > 0)
            continue;
        if (p[0] == '\\' && (p[1] == 'N' || p[1] == 'n')) {
            if (k > 0 && out[k - 1] != '\n')
                out[k++] = '\n';
            p++;
            continue;
        }
        if (p[0] == '\\' && p[1] == 'h') {
            out[k++] = ' ';
            p++;
            continue;
        }
        if (*p == '\r')
            continue;
        if (*p == '\n') {
            if (k > 0 && out[k - 1] != '\n')
                out[k++] = '\n';
            continue;
        }
        if (*p == '&') {
            memcpy(out + k, "&amp;", 5);
            k += 5;
        } else if (*p == '<') {
            memcpy(out + k, "&lt;", 4);
            k += 4;
        } else if (*p == '>') {
            memcpy(out + k, "&gt;", 4);
            k += 4;
        } else {
            out[k++] = *p;
        }
    }
    /* No trailing line break: a cue ends at the first blank line. */
    while (k > 0 && (out[k - 1] == '\n' || out[k - 1] == ' '))
        k--;
    out[k] = '\0';
    return out;
}

/* `validate --decode`'s reading side (see verify_files.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/common.h"
#include "core/errf.h"
#include "core/file.h"
#include "job/verify_files.h"
#include "mux/mp4_reader.h"

/* The files one after another, as the reader reads a track split over segments. */
static int read_all(const char *const *paths, size_t n, uint8_t **all, size_t *size, size_t *starts,
                    char *err, size_t errlen)
{
    *all = NULL;
    *size = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *d = NULL;
        size_t len = 0;
        int r = cme__file_read_all(paths[i], &d, &len, err, errlen);
        if (r < 0)
            return r;
        uint8_t *grown = len ? realloc(*all, *size + len) : *all;
        if (len && !grown) {
            free(d);
            return cme__errf(err, errlen, CME_ENOMEM, "out of memory");
        }
        *all = grown;
        if (len)
            memcpy(*all + *size, d, len);
        free(d);
        starts[i] = *size;
        *size += len;
    }
    return 0;
}

int cme__verify_files(const char *const *paths, size_t n, CmeVerifyResult *out, char *err,
                      size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!paths || n == 0 || !out)
        return cme__errf(err, errlen, CME_EINVAL, "cme__verify_files: invalid argument");
    memset(out, 0, sizeof(*out));
    CmeMp4File f;
    memset(&f, 0, sizeof(f));
    uint8_t *all = NULL;
    size_t size = 0;
    CmeVerifySample *samples = NULL;
    size_t *starts = calloc(n, sizeof(*starts));
    int r = starts ? read_all(paths, n, &all, &size, starts, err, errlen)
                   : cme__errf(err, errlen, CME_ENOMEM, "out of memory");
    char inner[400];
    if (r == 0 && (r = cme__mp4_parse(all, size, &f, inner, sizeof(inner))) < 0)
        r = cme__errf(err, errlen, r, "%s + %zu segments: %s", paths[0], n - 1, inner);
    if (r == 0 && !f.has_moov)
        r = cme__errf(err, errlen, CME_EBITSTREAM, "%s: no moov box: not an init segment",
                      paths[0]);
    if (r == 0 && !(samples = calloc(f.nb_samples ? f.nb_samples : 1, sizeof(*samples))))
        r = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
    if (r == 0) {
        for (size_t i = 0; i < f.nb_samples; i++)
            samples[i] = (CmeVerifySample){ .offset = f.samples[i].offset,
                                            .size = f.samples[i].size,
                                            .dts = f.samples[i].dts,
                                            .cts_offset = f.samples[i].cts_offset,
                                            .duration = f.samples[i].duration };
        CmeVerifyTrack t = { .data = all,
                             .paths = paths,
                             .starts = starts,
                             .nb_files = n,
                             .samples = samples,
                             .nb_samples = f.nb_samples,
                             .timescale = f.timescale,
                             .channels = f.channels,
                             .sample_rate = f.sample_rate,
                             .has_esds = f.has_esds,
                             .esds_oti = f.esds_oti,
                             .dsi = f.dsi,
                             .dsi_size = f.dsi_size,
                             .dops = f.dops,
                             .dops_size = f.dops_size };
        memcpy(t.sample_entry, f.sample_entry, sizeof(t.sample_entry));
        memcpy(t.handler, f.handler, sizeof(t.handler));
        r = cme__verify_decode(&t, out, err, errlen);
    }
    cme__mp4_file_free(&f);
    free(samples);
    free(all);
    free(starts);
    return r;
}

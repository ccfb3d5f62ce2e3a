/*
 * libFuzzer target for `cmafeng inspect`: the ISO BMFF reader (engine/mux/mp4_reader.c) on
 * its own, whatever the first box is, and the whole inspection (IVF, ISO BMFF and OBU
 * stream detection, then every sample through the AV1 layer) with each kind of file name.
 * Every track kind goes through it: AV1, AAC (esds), Opus (dOps), text (wvtt, mov_text),
 * and the sidx of DASH on-demand files (read, then held against the fragments),
 * seeded from ffmpeg-made files. Whatever parses must describe only bytes inside the input. Built
 * and run by run_fuzz.sh; a crash found here becomes a test in tests/c/test_inspect.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cmafeng/inspect.h"
#include "mux/mp4_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    CmeMp4File f;
    if (cme__mp4_parse(data, size, &f, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < f.nb_samples; i++)
            if (f.samples[i].offset > size || f.samples[i].size > size - f.samples[i].offset)
                __builtin_trap();
        if (f.has_av1c && (f.av1c < data || f.av1c + f.av1c_size > data + size))
            __builtin_trap();
        /* The audio configuration (esds' AudioSpecificConfig, dOps) lies inside the input. */
        if (f.dsi && (f.dsi < data || f.dsi + f.dsi_size > data + size))
            __builtin_trap();
        if (f.dops && (f.dops < data || f.dops + f.dops_size > data + size))
            __builtin_trap();
        if (f.stsd && (f.stsd < data || f.stsd + f.stsd_size > data + size))
            __builtin_trap();
        if (strlen(f.language) > 3)
            __builtin_trap();
        /* Every moof and the sidx lie inside the input; the sidx check answers, and says why
         * when it refuses. */
        for (size_t i = 0; i < f.nb_moofs; i++)
            if (f.moofs[i] >= size || (i > 0 && f.moofs[i] <= f.moofs[i - 1]))
                __builtin_trap();
        if (f.has_sidx &&
            (f.sidx.end > size || f.sidx.start >= f.sidx.end || (f.sidx.nb_refs && !f.sidx.refs)))
            __builtin_trap();
        char serr[256];
        int sr = cme__mp4_check_sidx(&f, size, serr, sizeof(serr));
        if ((sr < 0 && !serr[0]) || (sr == 0 && serr[0]) || (sr < 0 && !f.has_sidx))
            __builtin_trap();
        char codecs[64];
        if (cme__mp4_codec_string(&f, codecs, sizeof(codecs)) == 0 &&
            strlen(codecs) >= sizeof(codecs))
            __builtin_trap();
        cme__mp4_file_free(&f);
    } else if (f.samples || f.nb_samples) {
        __builtin_trap(); /* a failed parse leaves nothing to free */
    }

    static const char *const hints[] = { "x.mp4", "x.obu" };
    for (size_t h = 0; h < sizeof(hints) / sizeof(hints[0]); h++) {
        CmeInspect *pi = NULL;
        int r = cme_inspect_buffer(data, size, hints[h], &pi, err, sizeof(err));
        if (r < 0) {
            if (pi || !err[0])
                __builtin_trap(); /* failures say why and return nothing */
            continue;
        }
        for (size_t i = 0; i < pi->nb_samples; i++) {
            const CmeInspectSample *s = &pi->samples[i];
            if (s->offset > size || s->size > size - s->offset)
                __builtin_trap();
            if (s->frame_type < -1 || s->frame_type > 3)
                __builtin_trap();
        }
        if (strlen(pi->codec_string) >= sizeof(pi->codec_string))
            __builtin_trap();
        if (pi->kind != CME_INSPECT_KIND_AV1 && pi->format != CME_INSPECT_OBU &&
            pi->format != CME_INSPECT_IVF && !pi->sample_entry[0])
            __builtin_trap(); /* a non-AV1 track is known only by its sample entry */
        cme_inspect_free(&pi);
    }
    return 0;
}

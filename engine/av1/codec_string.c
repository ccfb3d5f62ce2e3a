/*
 * The codecs parameter string, AV1-ISOBMFF annex A "Codecs Parameter String":
 *
 *   av01.P.LLT.DD[.M.CCC.cp.tc.mc.F]
 *
 * P seq_profile, LL seq_level_idx[0] (two digits), T tier (M or H from seq_tier[0]), DD
 * BitDepth (two digits); then mono_chrome, chromaSubsampling (subsampling_x, subsampling_y,
 * and chroma_sample_position when both are 1, else 0), colour primaries, transfer
 * characteristics and matrix coefficients (two digits each, from the sequence header when
 * color_description_present_flag is 1, else their defaults 1/1/1) and videoFullRangeFlag
 * (color_range). The optional fields are all-or-none: the short form is used exactly when
 * every one equals its default (0, 110, 01, 01, 01, 0).
 */
#include <stdio.h>

#include "cmafeng/av1.h"

int cme_av1_codec_string(const CmeAv1SeqHdr *seq, char *out, size_t cap)
{
    if (!seq || !out || cap == 0)
        return CME_EINVAL;
    const CmeAv1ColorConfig *c = &seq->color;
    int csp = (c->subsampling_x && c->subsampling_y) ? c->chroma_sample_position : 0;
    int cp = 1, tc = 1, mc = 1;
    if (c->color_description_present_flag) {
        cp = c->color_primaries;
        tc = c->transfer_characteristics;
        mc = c->matrix_coefficients;
    }
    int is_default = !c->mono_chrome && c->subsampling_x == 1 && c->subsampling_y == 1 &&
                     csp == 0 && cp == 1 && tc == 1 && mc == 1 && c->color_range == 0;
    int n;
    if (is_default)
        n = snprintf(out, cap, "av01.%d.%02d%c.%02d", seq->seq_profile, seq->op[0].seq_level_idx,
                     seq->op[0].seq_tier ? 'H' : 'M', c->bit_depth);
    else
        n = snprintf(out, cap, "av01.%d.%02d%c.%02d.%d.%d%d%d.%02d.%02d.%02d.%d", seq->seq_profile,
                     seq->op[0].seq_level_idx, seq->op[0].seq_tier ? 'H' : 'M', c->bit_depth,
                     c->mono_chrome, c->subsampling_x, c->subsampling_y, csp, cp, tc, mc,
                     c->color_range);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return CME_ENOSPC;
    }
    return 0;
}

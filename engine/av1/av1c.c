/*
 * AV1CodecConfigurationRecord, AV1-ISOBMFF 2.3.3 (the av1C box body):
 *
 *   marker (1) = 1, version (7) = 1,
 *   seq_profile (3), seq_level_idx_0 (5),
 *   seq_tier_0, high_bitdepth, twelve_bit, monochrome, chroma_subsampling_x,
 *   chroma_subsampling_y (1 each), chroma_sample_position (2),
 *   reserved (3) = 0, initial_presentation_delay_present (1),
 *   initial_presentation_delay_minus_one (4) or reserved (4) = 0,
 *   configOBUs (the rest).
 */
#include <string.h>

#include "av1/bitreader.h"
#include "cmafeng/av1.h"

int cme_av1_write_av1c(const CmeAv1SeqHdr *seq, const uint8_t *seq_obu, size_t seq_obu_size,
                       uint8_t *out, size_t cap, size_t *written)
{
    if (!seq || (!seq_obu && seq_obu_size) || (!out && cap))
        return CME_EINVAL;
    if (written)
        *written = 0;
    if (seq_obu_size > SIZE_MAX - 4 || cap < 4 + seq_obu_size)
        return CME_ENOSPC;
    const CmeAv1ColorConfig *c = &seq->color;
    const CmeAv1OperatingPoint *op0 = &seq->op[0];
    out[0] = 0x81; /* marker 1, version 1 */
    out[1] = (uint8_t)(((seq->seq_profile & 7) << 5) | (op0->seq_level_idx & 0x1f));
    out[2] = (uint8_t)(((op0->seq_tier & 1) << 7) | ((c->high_bitdepth & 1) << 6) |
                       ((c->twelve_bit & 1) << 5) | ((c->mono_chrome & 1) << 4) |
                       ((c->subsampling_x & 1) << 3) | ((c->subsampling_y & 1) << 2) |
                       (c->chroma_sample_position & 3));
    /* The initial presentation delay of the record comes from the sequence header's
     * initial_display_delay of operating point 0 (the way libaom fills it): both count the
     * frames (temporal units) a decoder must hold before presenting the first one. */
    if (op0->initial_display_delay_present_for_this_op)
        out[3] = (uint8_t)(0x10 | (op0->initial_display_delay_minus_1 & 0xf));
    else
        out[3] = 0;
    if (seq_obu_size)
        memcpy(out + 4, seq_obu, seq_obu_size);
    if (written)
        *written = 4 + seq_obu_size;
    return 0;
}

int cme_av1_read_av1c(const uint8_t *buf, size_t size, CmeAv1Config *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || (!buf && size)) {
        cme__av1_errf(err, errlen, "cme_av1_read_av1c: invalid argument");
        return CME_EINVAL;
    }
    if (size < 4) {
        cme__av1_errf(err, errlen, "av1C: truncated (%zu bytes, need 4)", size);
        return CME_EBITSTREAM;
    }
    if (!(buf[0] & 0x80)) {
        cme__av1_errf(err, errlen, "av1C.marker: not 1");
        return CME_EBITSTREAM;
    }
    if ((buf[0] & 0x7f) != 1) {
        cme__av1_errf(err, errlen, "av1C.version: %d unsupported (only 1)", buf[0] & 0x7f);
        return CME_EBITSTREAM;
    }
    CmeAv1Config c;
    memset(&c, 0, sizeof(c));
    c.seq_profile = buf[1] >> 5;
    c.seq_level_idx_0 = buf[1] & 0x1f;
    c.seq_tier_0 = buf[2] >> 7;
    c.high_bitdepth = (buf[2] >> 6) & 1;
    c.twelve_bit = (buf[2] >> 5) & 1;
    c.monochrome = (buf[2] >> 4) & 1;
    c.chroma_subsampling_x = (buf[2] >> 3) & 1;
    c.chroma_subsampling_y = (buf[2] >> 2) & 1;
    c.chroma_sample_position = buf[2] & 3;
    /* The 3 reserved bits are ignored, so that a later minor revision still reads. */
    c.initial_presentation_delay_present = (buf[3] >> 4) & 1;
    c.initial_presentation_delay_minus_one =
        c.initial_presentation_delay_present ? (buf[3] & 0xf) : 0;
    c.config_obus = buf + 4;
    c.config_obus_size = size - 4;

    /* configOBUs must be whole OBUs (AV1-ISOBMFF 2.3.4); walk them so that a truncated one
     * is reported here rather than by whoever reads them next. */
    const uint8_t *p = c.config_obus;
    size_t left = c.config_obus_size;
    CmeAv1Obu obu;
    int r;
    while ((r = cme_av1_obu_next(&p, &left, &obu, err, errlen)) > 0) {
    }
    if (r < 0) {
        char inner[160];
        cme__av1_errf(inner, sizeof(inner), "%s", err && errlen ? err : "bad OBU");
        cme__av1_errf(err, errlen, "av1C.configOBUs: %s", inner);
        return CME_EBITSTREAM;
    }
    *out = c;
    return 0;
}

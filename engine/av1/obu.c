/*
 * OBU walking (AV1 spec 5.3, low-overhead bitstream format of 5.2) and the frame-level facts
 * of a temporal unit (the start of uncompressed_header(), AV1 spec 5.9.2).
 */
#include <string.h>

#include "av1/bitreader.h"
#include "cmafeng/av1.h"

int cme_av1_obu_next(const uint8_t **p, size_t *left, CmeAv1Obu *obu, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!p || !left || !obu || (!*p && *left)) {
        cme__av1_errf(err, errlen, "cme_av1_obu_next: invalid argument");
        return CME_EINVAL;
    }
    if (*left == 0)
        return 0;
    const uint8_t *b = *p;
    size_t n = *left;
    memset(obu, 0, sizeof(*obu));

    /* obu_header(), AV1 spec 5.3.2. */
    if (b[0] & 0x80) {
        cme__av1_errf(err, errlen, "obu_forbidden_bit: not 0");
        return CME_EBITSTREAM;
    }
    obu->type = (b[0] >> 3) & 0xf;
    obu->has_extension = (b[0] >> 2) & 1;
    obu->has_size_field = (b[0] >> 1) & 1;
    /* obu_reserved_1bit and extension_header_reserved_3bits are ignored, as AV1 spec
     * 6.2.2/6.2.3 requires of decoders; reserved OBU types are returned to the caller, who
     * skips them (6.2.2). */
    size_t hdr = 1;
    if (obu->has_extension) {
        if (n < 2) {
            cme__av1_errf(err, errlen, "obu_extension_header: truncated");
            return CME_EBITSTREAM;
        }
        obu->temporal_id = (b[1] >> 5) & 7;
        obu->spatial_id = (b[1] >> 3) & 3;
        hdr = 2;
    }
    size_t payload_size;
    if (obu->has_size_field) {
        uint64_t v = 0;
        int len = cme__leb128_read(b + hdr, n - hdr, &v);
        if (len == 0) {
            cme__av1_errf(err, errlen, "obu_size: truncated");
            return CME_EBITSTREAM;
        }
        if (len < 0) {
            cme__av1_errf(err, errlen, "obu_size: invalid leb128");
            return CME_EBITSTREAM;
        }
        hdr += (size_t)len;
        if (v > n - hdr) {
            cme__av1_errf(err, errlen,
                          "obu_size: %llu bytes but only %zu left (OBU type %d truncated)",
                          (unsigned long long)v, n - hdr, obu->type);
            return CME_EBITSTREAM;
        }
        payload_size = (size_t)v;
    } else {
        /* Without a size field the OBU extends to the end of the buffer (AV1 spec 5.2 with
         * sz known from the container). */
        payload_size = n - hdr;
    }
    obu->data = b;
    obu->size = hdr + payload_size;
    obu->payload = b + hdr;
    obu->payload_size = payload_size;
    *p = b + obu->size;
    *left = n - obu->size;
    return 1;
}

int cme_av1_find_seq_hdr(const uint8_t *buf, size_t size, CmeAv1Obu *obu, CmeAv1SeqHdr *out,
                         char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || (!buf && size)) {
        cme__av1_errf(err, errlen, "cme_av1_find_seq_hdr: invalid argument");
        return CME_EINVAL;
    }
    const uint8_t *p = buf;
    size_t left = size;
    CmeAv1Obu o;
    int r;
    while ((r = cme_av1_obu_next(&p, &left, &o, err, errlen)) > 0) {
        if (o.type != CME_OBU_SEQUENCE_HEADER)
            continue;
        r = cme_av1_parse_seq_hdr(o.payload, o.payload_size, out, err, errlen);
        if (r < 0)
            return r;
        if (obu)
            *obu = o;
        return 0;
    }
    if (r < 0)
        return r;
    cme__av1_errf(err, errlen, "no sequence header OBU");
    return CME_EOF;
}

enum { KEY_FRAME = 0 };

/*
 * The start of uncompressed_header(), AV1 spec 5.9.2, up to show_frame. Fills *frame_type
 * (-1 for show_existing_frame: the type of the frame shown is that of a reference frame,
 * which only a decoder keeps), *show_frame and *show_existing.
 */
static int parse_frame_header_start(const CmeAv1SeqHdr *seq, const uint8_t *payload, size_t size,
                                    int *frame_type, int *show_frame, int *show_existing, char *err,
                                    size_t errlen)
{
    CmeBitReader br;
    cme__br_init(&br, payload, size);
    *frame_type = -1;
    *show_frame = 0;
    *show_existing = 0;
    if (seq->reduced_still_picture_header) {
        /* Everything is inferred: a shown key frame. */
        *frame_type = KEY_FRAME;
        *show_frame = 1;
        return 0;
    }
    *show_existing = (int)cme__br_f(&br, 1, "show_existing_frame");
    if (*show_existing) {
        (void)cme__br_f(&br, 3, "frame_to_show_map_idx");
        /* temporal_point_info(), AV1 spec 5.9.31, precedes display_frame_id. */
        if (seq->decoder_model_info_present_flag && !seq->equal_picture_interval)
            (void)cme__br_f(&br, seq->frame_presentation_time_length_minus_1 + 1,
                            "frame_presentation_time");
        if (seq->frame_id_numbers_present_flag) {
            int id_len =
                seq->additional_frame_id_length_minus_1 + seq->delta_frame_id_length_minus_2 + 3;
            (void)cme__br_f(&br, id_len, "display_frame_id");
        }
        /* A shown existing frame is displayed, so show_frame is 1 for the TU's purposes. */
        *show_frame = 1;
    } else {
        *frame_type = (int)cme__br_f(&br, 2, "frame_type");
        *show_frame = (int)cme__br_f(&br, 1, "show_frame");
        /* The remaining syntax (temporal_point_info, showable_frame, ...) is not needed. */
    }
    if (br.error) {
        cme__br_message(&br, err, errlen);
        return CME_EBITSTREAM;
    }
    return 0;
}

int cme_av1_tu_info(const uint8_t *tu, size_t size, const CmeAv1SeqHdr *seq, CmeAv1TuInfo *info,
                    char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!info || (!tu && size)) {
        cme__av1_errf(err, errlen, "cme_av1_tu_info: invalid argument");
        return CME_EINVAL;
    }
    memset(info, 0, sizeof(*info));
    info->frame_type = -1;

    /* A sequence header inside the TU applies to the frames after it (AV1 spec 7.5), so it
     * takes over from the caller's. */
    CmeAv1SeqHdr own;
    const CmeAv1SeqHdr *cur = seq;
    int shown_key = 0;
    const uint8_t *p = tu;
    size_t left = size;
    CmeAv1Obu o;
    int r;
    while ((r = cme_av1_obu_next(&p, &left, &o, err, errlen)) > 0) {
        if (o.type == CME_OBU_SEQUENCE_HEADER) {
            r = cme_av1_parse_seq_hdr(o.payload, o.payload_size, &own, err, errlen);
            if (r < 0)
                return r;
            cur = &own;
            info->has_seq_hdr = 1;
            continue;
        }
        if (o.type != CME_OBU_FRAME_HEADER && o.type != CME_OBU_FRAME)
            continue; /* Redundant frame headers repeat one already counted. */
        if (!cur) {
            cme__av1_errf(err, errlen, "frame_header_obu: no sequence header to parse it with");
            return CME_EBITSTREAM;
        }
        int frame_type, show_frame, show_existing;
        r = parse_frame_header_start(cur, o.payload, o.payload_size, &frame_type, &show_frame,
                                     &show_existing, err, errlen);
        if (r < 0)
            return r;
        info->num_frame_headers++;
        if (show_existing) {
            /* AV1 spec 5.9.1: such a frame header has no tile groups, hence no OBU_FRAME. */
            if (o.type == CME_OBU_FRAME) {
                cme__av1_errf(err, errlen, "show_existing_frame: set in an OBU_FRAME");
                return CME_EBITSTREAM;
            }
            info->show_existing_frame = 1;
        }
        if (show_frame && !info->show_frame) {
            info->show_frame = 1;
            info->frame_type = frame_type;
            shown_key = !show_existing && frame_type == KEY_FRAME;
        } else if (!info->show_frame) {
            info->frame_type = -1;
        }
    }
    if (r < 0)
        return r;
    /* AV1-ISOBMFF 2.4: a sync sample holds a sequence header and a shown key frame. */
    info->is_sync = info->has_seq_hdr && shown_key;
    return 0;
}

/*
 * CMAF media segment holding one CMAF fragment: styp + moof + mdat (ISO/IEC 14496-12
 * 8.8, ISO/IEC 23000-19 7.3). The moof is written with a placeholder trun data_offset,
 * then measured and patched once its size is known (FFmpeg movenc.c measures moof the
 * same way in mov_write_moof_tag), because the offset is relative to the moof start.
 */
#include <assert.h>
#include <limits.h>

#include "cmafeng/mux.h"
#include "core/buf.h"
#include "mux/box.h"

/* ISO/IEC 14496-12 8.8.7.1 tf_flags. */
#define TFHD_DEFAULT_BASE_IS_MOOF 0x020000
/* ISO/IEC 14496-12 8.8.8.1 tr_flags. */
#define TRUN_DATA_OFFSET 0x000001
#define TRUN_SAMPLE_DURATION 0x000100
#define TRUN_SAMPLE_SIZE 0x000200
#define TRUN_SAMPLE_FLAGS 0x000400

/*
 * Sample flags (ISO/IEC 14496-12 8.8.3.1): is_leading 0, sample_depends_on in bits 25-24,
 * sample_is_non_sync_sample in bit 16. A sync sample depends on no other (2); any other
 * sample depends on others (1) and is not a sync sample. is_leading stays 0, as
 * AV1-ISOBMFF 2.4 allows.
 */
#define SAMPLE_FLAGS_SYNC 0x02000000u
#define SAMPLE_FLAGS_NON_SYNC 0x01010000u

/*
 * ISO/IEC 14496-12 8.16.2. 'cmfs', the CMAF segment brand (ISO/IEC 23000-19 7.3), is
 * the major brand; 'msdh' marks a DASH media segment in the general format (ISO/IEC
 * 23009-1 6.3.4.2), which every CMAF segment is. 'msix' is not claimed: it requires a
 * sidx box (ISO/IEC 23009-1 6.3.4.3), which these segments do not have.
 */
static void write_styp(CmeBuf *b)
{
    size_t box = cme__box_begin(b, "styp");
    cme__buf_fourcc(b, "cmfs");
    cme__buf_be32(b, 0); /* minor_version */
    cme__buf_fourcc(b, "cmfs");
    cme__buf_fourcc(b, "msdh");
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.8.5. */
static void write_mfhd(CmeBuf *b, uint32_t sequence_number)
{
    size_t box = cme__fullbox_begin(b, "mfhd", 0, 0);
    cme__buf_be32(b, sequence_number);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.8.7: data offsets are relative to the moof start (default-base-is-
 * moof, which ISO/IEC 23000-19 7.3 requires of CMAF fragments); no default is set here:
 * each sample's duration, size and flags are in the trun. */
static void write_tfhd(CmeBuf *b, uint32_t track_id)
{
    size_t box = cme__fullbox_begin(b, "tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
    cme__buf_be32(b, track_id);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.8.12, version 1: a 64-bit baseMediaDecodeTime never wraps. */
static void write_tfdt(CmeBuf *b, uint64_t base_decode_time)
{
    size_t box = cme__fullbox_begin(b, "tfdt", 1, 0);
    cme__buf_be64(b, base_decode_time);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.8.8, version 0 (no composition offsets: AV1-ISOBMFF 2.4 forbids
 * them). Returns the offset of the data_offset field, patched by the caller. */
static size_t write_trun(CmeBuf *b, const CmeSample *samples, size_t nb_samples)
{
    size_t box = cme__fullbox_begin(b, "trun", 0,
                                    TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE |
                                        TRUN_SAMPLE_FLAGS);
    cme__buf_be32(b, (uint32_t)nb_samples);
    size_t data_offset_pos = b->size;
    cme__buf_be32(b, 0); /* data_offset, patched once moof is measured */
    for (size_t i = 0; i < nb_samples; i++) {
        cme__buf_be32(b, samples[i].duration);
        cme__buf_be32(b, samples[i].size);
        cme__buf_be32(b, samples[i].sync ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC);
    }
    cme__box_end(b, box);
    return data_offset_pos;
}

/* ISO/IEC 14496-12 8.1.1 and 4.2: a 32-bit size when it fits, else size 1 and a 64-bit
 * largesize. Returns the header length. */
static size_t write_mdat_header(CmeBuf *b, uint64_t payload)
{
    if (payload <= UINT32_MAX - 8) {
        cme__buf_be32(b, (uint32_t)(payload + 8));
        cme__buf_fourcc(b, "mdat");
        return 8;
    }
    cme__buf_be32(b, 1);
    cme__buf_fourcc(b, "mdat");
    cme__buf_be64(b, payload + 16);
    return 16;
}

int cme_mux_write_segment(CmeBuf *out, const CmeSegmentInfo *seg, const CmeSample *samples,
                          size_t nb_samples, const uint8_t *data, size_t data_size)
{
    if (!out || !seg || !samples || nb_samples == 0 || (!data && data_size > 0))
        return CME_EINVAL;
    /* mfhd sequence numbers start at 1 (ISO/IEC 14496-12 8.8.5.3); track_ID 0 is reserved
     * (8.3.2.3). */
    if (seg->track_id == 0 || seg->sequence_number == 0)
        return CME_EINVAL;
    uint64_t total = 0;
    for (size_t i = 0; i < nb_samples; i++)
        total += samples[i].size;
    if (total != data_size)
        return CME_EINVAL;
    /* trun's sample_count is 32 bits and its data_offset a signed 32-bit value: the moof
     * (88 bytes + 12 per sample) plus the largest mdat header must stay below 2^31. */
    if (nb_samples > ((uint64_t)INT32_MAX - 88 - 16) / 12)
        return CME_ERANGE;

    size_t start = out->size;
    write_styp(out);

    size_t moof = cme__box_begin(out, "moof");
    write_mfhd(out, seg->sequence_number);
    size_t traf = cme__box_begin(out, "traf");
    write_tfhd(out, seg->track_id);
    write_tfdt(out, seg->base_decode_time);
    size_t data_offset_pos = write_trun(out, samples, nb_samples);
    cme__box_end(out, traf);
    cme__box_end(out, moof);

    size_t mdat_header = write_mdat_header(out, data_size);
    if (!out->failed) {
        /* The first sample starts right after the mdat header (default-base-is-moof). */
        size_t moof_size = out->size - mdat_header - moof;
        assert(moof_size == 88 + 12 * nb_samples);
        cme__buf_patch_be32(out, data_offset_pos, (uint32_t)(moof_size + mdat_header));
    }
    cme__buf_append(out, data, data_size);

    int err = cme__buf_status(out);
    if (err < 0 && out->size > start)
        out->size = start;
    return err;
}

/*
 * CMAF header (init segment) for one AV1 video track: ftyp + moov (ISO/IEC 14496-12,
 * ISO/IEC 23000-19 7.3, AV1-ISOBMFF 2 and 3). The sample tables in stbl are empty because
 * every sample lives in movie fragments; mvex/trex announces them (ISO/IEC 14496-12
 * 8.8.1). One function per box, in file order.
 */
#include <string.h>

#include "cmafeng/mux.h"
#include "core/buf.h"
#include "mux/box.h"

/* The unity transformation matrix of mvhd and tkhd (ISO/IEC 14496-12 8.2.2.3), in
 * 16.16 fixed point except the last column, which is 2.30. */
static void write_unity_matrix(CmeBuf *b)
{
    static const uint32_t m[9] = { 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000 };
    for (int i = 0; i < 9; i++)
        cme__buf_be32(b, m[i]);
}

/*
 * ISO/IEC 14496-12 4.3. The major brand 'cmfc' says the file is a CMAF header under the
 * CMAF structural constraints (ISO/IEC 23000-19 7.2). Compatible brands: 'cmfc' again
 * (the major brand is not implicitly compatible), 'iso6' as the ISOBMFF structural brand
 * that AV1-ISOBMFF 2.1 asks for (it covers tfdt and default-base-is-moof), and 'av01',
 * which AV1-ISOBMFF 2.1 requires and which AV1-ISOBMFF 3 makes the CMAF media profile
 * brand of a CMAF AV1 track. 'cmf2' is not claimed: its extra constraints are not checked
 * here.
 */
static void write_ftyp(CmeBuf *b)
{
    size_t box = cme__box_begin(b, "ftyp");
    cme__buf_fourcc(b, "cmfc");
    cme__buf_be32(b, 0); /* minor_version */
    cme__buf_fourcc(b, "cmfc");
    cme__buf_fourcc(b, "iso6");
    cme__buf_fourcc(b, "av01");
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.2.2: durations are 0 because all media is in fragments (8.8.1). */
static void write_mvhd(CmeBuf *b, const CmeVideoTrack *t)
{
    size_t box = cme__fullbox_begin(b, "mvhd", 0, 0);
    cme__buf_be32(b, 0); /* creation_time: 0 keeps the output deterministic */
    cme__buf_be32(b, 0); /* modification_time */
    cme__buf_be32(b, t->timescale);
    cme__buf_be32(b, 0);          /* duration */
    cme__buf_be32(b, 0x00010000); /* rate 1.0 */
    cme__buf_be16(b, 0x0100);     /* volume 1.0 */
    cme__buf_zeros(b, 2 + 2 * 4); /* reserved */
    write_unity_matrix(b);
    cme__buf_zeros(b, 6 * 4); /* pre_defined */
    cme__buf_be32(b, t->track_id + 1); /* next_track_ID */
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.3.2. Flags 3 = track_enabled | track_in_movie. The width and height
 * are the presentation size, so the pixel aspect ratio stretches the width, as
 * AV1-ISOBMFF 2.2.4 and ISO/IEC 14496-12 12.1.4 describe. */
static void write_tkhd(CmeBuf *b, const CmeVideoTrack *t, uint32_t sar_num, uint32_t sar_den)
{
    uint64_t width_fixed = ((uint64_t)t->width * sar_num << 16) / sar_den;
    size_t box = cme__fullbox_begin(b, "tkhd", 0, 3);
    cme__buf_be32(b, 0); /* creation_time */
    cme__buf_be32(b, 0); /* modification_time */
    cme__buf_be32(b, t->track_id);
    cme__buf_be32(b, 0);     /* reserved */
    cme__buf_be32(b, 0);     /* duration */
    cme__buf_zeros(b, 2 * 4); /* reserved */
    cme__buf_be16(b, 0);     /* layer */
    cme__buf_be16(b, 0);     /* alternate_group */
    cme__buf_be16(b, 0);     /* volume: 0 for a visual track */
    cme__buf_be16(b, 0);     /* reserved */
    write_unity_matrix(b);
    cme__buf_be32(b, (uint32_t)width_fixed);
    cme__buf_be32(b, t->height << 16);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.4.2. The language is "und", packed as three 5-bit letters offset by
 * 0x60 after a pad bit. */
static void write_mdhd(CmeBuf *b, const CmeVideoTrack *t)
{
    size_t box = cme__fullbox_begin(b, "mdhd", 0, 0);
    cme__buf_be32(b, 0); /* creation_time */
    cme__buf_be32(b, 0); /* modification_time */
    cme__buf_be32(b, t->timescale);
    cme__buf_be32(b, 0); /* duration */
    cme__buf_be16(b, (uint16_t)((('u' - 0x60) << 10) | (('n' - 0x60) << 5) | ('d' - 0x60)));
    cme__buf_be16(b, 0); /* pre_defined */
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.4.3: handler 'vide' with a null-terminated UTF-8 name. */
static void write_hdlr(CmeBuf *b)
{
    static const char name[] = "VideoHandler";
    size_t box = cme__fullbox_begin(b, "hdlr", 0, 0);
    cme__buf_be32(b, 0); /* pre_defined */
    cme__buf_fourcc(b, "vide");
    cme__buf_zeros(b, 3 * 4); /* reserved */
    cme__buf_append(b, name, sizeof(name)); /* includes the terminating NUL */
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 12.1.2: flags 1 is required; graphicsmode copy, opcolor 0. */
static void write_vmhd(CmeBuf *b)
{
    size_t box = cme__fullbox_begin(b, "vmhd", 0, 1);
    cme__buf_be16(b, 0);     /* graphicsmode */
    cme__buf_zeros(b, 3 * 2); /* opcolor */
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.7.1 and 8.7.2: one 'url ' entry with flags 1 (media in this file). */
static void write_dinf(CmeBuf *b)
{
    size_t dinf = cme__box_begin(b, "dinf");
    size_t dref = cme__fullbox_begin(b, "dref", 0, 0);
    cme__buf_be32(b, 1); /* entry_count */
    size_t url = cme__fullbox_begin(b, "url ", 0, 1);
    cme__box_end(b, url);
    cme__box_end(b, dref);
    cme__box_end(b, dinf);
}

/* AV1-ISOBMFF 2.3: the box body is the AV1CodecConfigurationRecord, taken as given. */
static void write_av1c(CmeBuf *b, const CmeVideoTrack *t)
{
    size_t box = cme__box_begin(b, "av1C");
    cme__buf_append(b, t->av1c, t->av1c_size);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 12.1.5: colour_type 'nclx' with the CICP code points (ITU-T H.273)
 * and full_range_flag in the top bit of the last byte, the other 7 bits reserved. */
static void write_colr(CmeBuf *b, const CmeVideoTrack *t)
{
    size_t box = cme__box_begin(b, "colr");
    cme__buf_fourcc(b, "nclx");
    cme__buf_be16(b, (uint16_t)t->color_primaries);
    cme__buf_be16(b, (uint16_t)t->transfer_characteristics);
    cme__buf_be16(b, (uint16_t)t->matrix_coefficients);
    cme__buf_u8(b, t->full_range ? 0x80 : 0x00);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 12.1.4: hSpacing and vSpacing, the pixel aspect ratio. */
static void write_pasp(CmeBuf *b, uint32_t sar_num, uint32_t sar_den)
{
    size_t box = cme__box_begin(b, "pasp");
    cme__buf_be32(b, sar_num);
    cme__buf_be32(b, sar_den);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.5.2.2: bufferSizeDB is 0 (unknown), bit rates in bits/s. */
static void write_btrt(CmeBuf *b, const CmeVideoTrack *t)
{
    size_t box = cme__box_begin(b, "btrt");
    cme__buf_be32(b, 0); /* bufferSizeDB */
    cme__buf_be32(b, t->max_bitrate);
    cme__buf_be32(b, t->avg_bitrate);
    cme__box_end(b, box);
}

/*
 * AV1SampleEntry (AV1-ISOBMFF 2.2) extends VisualSampleEntry (ISO/IEC 14496-12 12.1.3):
 * width/height are max_frame_width/height, 72 dpi, one frame per sample, the recommended
 * compressorname "\012AOM Coding" (a length byte, then the name, zero padded to 32
 * bytes), depth 0x18, pre_defined -1. The av1C box comes first, then the optional boxes.
 */
static void write_av01(CmeBuf *b, const CmeVideoTrack *t, uint32_t sar_num, uint32_t sar_den)
{
    static const char compressor[] = "\012AOM Coding";
    uint8_t compressorname[32] = { 0 };
    memcpy(compressorname, compressor, sizeof(compressor) - 1);

    size_t box = cme__box_begin(b, "av01");
    cme__buf_zeros(b, 6);     /* SampleEntry reserved */
    cme__buf_be16(b, 1);      /* data_reference_index */
    cme__buf_be16(b, 0);      /* pre_defined */
    cme__buf_be16(b, 0);      /* reserved */
    cme__buf_zeros(b, 3 * 4); /* pre_defined */
    cme__buf_be16(b, (uint16_t)t->width);
    cme__buf_be16(b, (uint16_t)t->height);
    cme__buf_be32(b, 0x00480000); /* horizresolution 72 dpi */
    cme__buf_be32(b, 0x00480000); /* vertresolution 72 dpi */
    cme__buf_be32(b, 0);          /* reserved */
    cme__buf_be16(b, 1);          /* frame_count */
    cme__buf_append(b, compressorname, sizeof(compressorname));
    cme__buf_be16(b, 0x0018);     /* depth */
    cme__buf_be16(b, 0xffff);     /* pre_defined = -1 */
    write_av1c(b, t);
    write_colr(b, t);
    if (sar_num != sar_den)
        write_pasp(b, sar_num, sar_den);
    write_btrt(b, t);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.5.2: one sample entry. */
static void write_stsd(CmeBuf *b, const CmeVideoTrack *t, uint32_t sar_num, uint32_t sar_den)
{
    size_t box = cme__fullbox_begin(b, "stsd", 0, 0);
    cme__buf_be32(b, 1); /* entry_count */
    write_av01(b, t, sar_num, sar_den);
    cme__box_end(b, box);
}

/* A FullBox whose body is `n` zero u32 fields: the empty stts, stsc and stco tables
 * (entry_count 0) and stsz (sample_size 0, sample_count 0). */
static void write_empty_table(CmeBuf *b, const char *type, int n)
{
    size_t box = cme__fullbox_begin(b, type, 0, 0);
    cme__buf_zeros(b, (size_t)n * 4);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.5.1; the required tables are present and empty (8.8.1: samples are
 * described by the movie fragments). */
static void write_stbl(CmeBuf *b, const CmeVideoTrack *t, uint32_t sar_num, uint32_t sar_den)
{
    size_t box = cme__box_begin(b, "stbl");
    write_stsd(b, t, sar_num, sar_den);
    write_empty_table(b, "stts", 1);
    write_empty_table(b, "stsc", 1);
    write_empty_table(b, "stsz", 2);
    write_empty_table(b, "stco", 1);
    cme__box_end(b, box);
}

static void write_trak(CmeBuf *b, const CmeVideoTrack *t, uint32_t sar_num, uint32_t sar_den)
{
    size_t trak = cme__box_begin(b, "trak");
    write_tkhd(b, t, sar_num, sar_den);
    size_t mdia = cme__box_begin(b, "mdia");
    write_mdhd(b, t);
    write_hdlr(b);
    size_t minf = cme__box_begin(b, "minf");
    write_vmhd(b);
    write_dinf(b);
    write_stbl(b, t, sar_num, sar_den);
    cme__box_end(b, minf);
    cme__box_end(b, mdia);
    cme__box_end(b, trak);
}

/* ISO/IEC 14496-12 8.8.3: no defaults; every trun carries sizes, durations and flags,
 * so default_sample_description_index 1 is the only non-zero field. */
static void write_mvex(CmeBuf *b, const CmeVideoTrack *t)
{
    size_t mvex = cme__box_begin(b, "mvex");
    size_t trex = cme__fullbox_begin(b, "trex", 0, 0);
    cme__buf_be32(b, t->track_id);
    cme__buf_be32(b, 1); /* default_sample_description_index */
    cme__buf_be32(b, 0); /* default_sample_duration */
    cme__buf_be32(b, 0); /* default_sample_size */
    cme__buf_be32(b, 0); /* default_sample_flags */
    cme__box_end(b, trex);
    cme__box_end(b, mvex);
}

int cme_mux_write_init(CmeBuf *out, const CmeVideoTrack *track)
{
    if (!out || !track || track->track_id == 0 || track->timescale == 0)
        return CME_EINVAL;
    /* The sample entry stores width and height in 16 bits (ISO/IEC 14496-12 12.1.3). */
    if (track->width == 0 || track->height == 0 || track->width > 0xffff ||
        track->height > 0xffff)
        return CME_EINVAL;
    /* AV1-ISOBMFF 2.3.4: marker 1 and version 1 in the first byte, four fixed bytes. */
    if (!track->av1c || track->av1c_size < 4 || track->av1c[0] != 0x81)
        return CME_EINVAL;
    /* CICP code points are 8-bit in the AV1 sequence header (AV1 5.5.2). */
    if (track->color_primaries < 0 || track->color_primaries > 255 ||
        track->transfer_characteristics < 0 || track->transfer_characteristics > 255 ||
        track->matrix_coefficients < 0 || track->matrix_coefficients > 255)
        return CME_EINVAL;
    /* 0:0 means "not given" and is square pixels; a half-given ratio is a caller bug. */
    uint32_t sar_num = track->sar_num, sar_den = track->sar_den;
    if (sar_num == 0 && sar_den == 0)
        sar_num = sar_den = 1;
    if (sar_num == 0 || sar_den == 0)
        return CME_EINVAL;
    /* The presentation width must fit tkhd's 16.16 field. */
    if ((uint64_t)track->width * sar_num / sar_den > 0xffff)
        return CME_ERANGE;

    size_t start = out->size;
    write_ftyp(out);
    size_t moov = cme__box_begin(out, "moov");
    write_mvhd(out, track);
    write_trak(out, track, sar_num, sar_den);
    write_mvex(out, track);
    cme__box_end(out, moov);

    int err = cme__buf_status(out);
    if (err < 0 && out->size > start)
        out->size = start;
    return err;
}

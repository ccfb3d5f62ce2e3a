/*
 * CMAF header (init segment) for one AV1 video track or one AAC audio track: ftyp + moov
 * (ISO/IEC 14496-12, ISO/IEC 23000-19 7.3, AV1-ISOBMFF 2 and 3, ISO/IEC 14496-14 for
 * mp4a/esds). The sample tables in stbl are empty because
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
 * here. An AAC track claims 'caac' instead of 'av01': the AAC core CMAF media profile brand
 * (ISO/IEC 23000-19; DASH-IF's CMAF registry lists it for mp4a.40.2, .5 and .29), and only
 * when the track is within that profile (see aac_core_profile). Neither 'mp41' nor 'mp42'
 * is added: 'iso6' already says which ISOBMFF structures are used, and CMAF players key on
 * 'cmfc'.
 */
static void write_ftyp(CmeBuf *b, const char *profile_brand)
{
    size_t box = cme__box_begin(b, "ftyp");
    cme__buf_fourcc(b, "cmfc");
    cme__buf_be32(b, 0); /* minor_version */
    cme__buf_fourcc(b, "cmfc");
    cme__buf_fourcc(b, "iso6");
    if (profile_brand)
        cme__buf_fourcc(b, profile_brand);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.2.2: durations are 0 because all media is in fragments (8.8.1). */
static void write_mvhd(CmeBuf *b, uint32_t track_id, uint32_t timescale)
{
    size_t box = cme__fullbox_begin(b, "mvhd", 0, 0);
    cme__buf_be32(b, 0); /* creation_time: 0 keeps the output deterministic */
    cme__buf_be32(b, 0); /* modification_time */
    cme__buf_be32(b, timescale);
    cme__buf_be32(b, 0);          /* duration */
    cme__buf_be32(b, 0x00010000); /* rate 1.0 */
    cme__buf_be16(b, 0x0100);     /* volume 1.0 */
    cme__buf_zeros(b, 2 + 2 * 4); /* reserved */
    write_unity_matrix(b);
    cme__buf_zeros(b, 6 * 4);       /* pre_defined */
    cme__buf_be32(b, track_id + 1); /* next_track_ID */
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.3.2. Flags 3 = track_enabled | track_in_movie. volume is 8.8 fixed
 * point (1.0 for audio, 0 for video); width and height are 16.16 fixed point, the
 * presentation size (0 for audio). */
static void write_tkhd(CmeBuf *b, uint32_t track_id, uint16_t volume, uint32_t width_fixed,
                       uint32_t height_fixed)
{
    size_t box = cme__fullbox_begin(b, "tkhd", 0, 3);
    cme__buf_be32(b, 0); /* creation_time */
    cme__buf_be32(b, 0); /* modification_time */
    cme__buf_be32(b, track_id);
    cme__buf_be32(b, 0);      /* reserved */
    cme__buf_be32(b, 0);      /* duration */
    cme__buf_zeros(b, 2 * 4); /* reserved */
    cme__buf_be16(b, 0);      /* layer */
    cme__buf_be16(b, 0);      /* alternate_group: one track of its kind */
    cme__buf_be16(b, volume);
    cme__buf_be16(b, 0); /* reserved */
    write_unity_matrix(b);
    cme__buf_be32(b, width_fixed);
    cme__buf_be32(b, height_fixed);
    cme__box_end(b, box);
}

/* The video track's presentation size: the pixel aspect ratio stretches the width, as
 * AV1-ISOBMFF 2.2.4 and ISO/IEC 14496-12 12.1.4 describe. */
static void write_tkhd_video(CmeBuf *b, const CmeVideoTrack *t, uint32_t sar_num, uint32_t sar_den)
{
    uint64_t width_fixed = ((uint64_t)t->width * sar_num << 16) / sar_den;
    write_tkhd(b, t->track_id, 0, (uint32_t)width_fixed, t->height << 16);
}

/* ISO/IEC 14496-12 8.4.2. The language (ISO 639-2/T, "und" for video) is packed as three
 * 5-bit letters offset by 0x60 after a pad bit. */
static void write_mdhd(CmeBuf *b, uint32_t timescale, const char *lang)
{
    size_t box = cme__fullbox_begin(b, "mdhd", 0, 0);
    cme__buf_be32(b, 0); /* creation_time */
    cme__buf_be32(b, 0); /* modification_time */
    cme__buf_be32(b, timescale);
    cme__buf_be32(b, 0); /* duration */
    cme__buf_be16(
        b, (uint16_t)(((lang[0] - 0x60) << 10) | ((lang[1] - 0x60) << 5) | (lang[2] - 0x60)));
    cme__buf_be16(b, 0); /* pre_defined */
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.4.3: handler 'vide' or 'soun' with a null-terminated UTF-8 name. */
static void write_hdlr(CmeBuf *b, const char *handler, const char *name)
{
    size_t box = cme__fullbox_begin(b, "hdlr", 0, 0);
    cme__buf_be32(b, 0); /* pre_defined */
    cme__buf_fourcc(b, handler);
    cme__buf_zeros(b, 3 * 4);                   /* reserved */
    cme__buf_append(b, name, strlen(name) + 1); /* includes the terminating NUL */
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 12.1.2: flags 1 is required; graphicsmode copy, opcolor 0. */
static void write_vmhd(CmeBuf *b)
{
    size_t box = cme__fullbox_begin(b, "vmhd", 0, 1);
    cme__buf_be16(b, 0);      /* graphicsmode */
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

/* Rounds v * scale into [0, max]: the boxes' fixed-point units. */
static uint32_t fixed(double v, double scale, uint32_t max)
{
    double x = v * scale + 0.5;
    if (!(x > 0)) /* negative or NaN */
        return 0;
    return x >= (double)max ? max : (uint32_t)x;
}

/* MasteringDisplayColourVolumeBox (ISO/IEC 14496-12:2022, a plain Box in the visual
 * sample entry; the fields of SMPTE ST 2086 as in the HEVC SEI): three primaries in the
 * order green, blue, red, then the white point, as x, y in units of 0.00002, then the
 * maximum and minimum luminance in units of 0.0001 cd/m^2. */
static void write_mdcv(CmeBuf *b, const CmeHdrMetadata *h)
{
    static const int order[3] = { 1, 2, 0 }; /* G, B, R from our R, G, B */
    size_t box = cme__box_begin(b, "mdcv");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            cme__buf_be16(b, (uint16_t)fixed(h->primaries[order[i]][j], 50000, 50000));
    cme__buf_be16(b, (uint16_t)fixed(h->white_point[0], 50000, 50000));
    cme__buf_be16(b, (uint16_t)fixed(h->white_point[1], 50000, 50000));
    cme__buf_be32(b, fixed(h->max_luminance, 10000, UINT32_MAX));
    cme__buf_be32(b, fixed(h->min_luminance, 10000, UINT32_MAX));
    cme__box_end(b, box);
}

/* ContentLightLevelBox (ISO/IEC 14496-12:2022, a plain Box; CTA-861.3): MaxCLL and
 * MaxFALL in cd/m^2. */
static void write_clli(CmeBuf *b, const CmeHdrMetadata *h)
{
    size_t box = cme__box_begin(b, "clli");
    cme__buf_be16(b, (uint16_t)(h->max_cll > 65535 ? 65535 : h->max_cll));
    cme__buf_be16(b, (uint16_t)(h->max_fall > 65535 ? 65535 : h->max_fall));
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
static void write_btrt(CmeBuf *b, uint32_t max_bitrate, uint32_t avg_bitrate)
{
    size_t box = cme__box_begin(b, "btrt");
    cme__buf_be32(b, 0); /* bufferSizeDB */
    cme__buf_be32(b, max_bitrate);
    cme__buf_be32(b, avg_bitrate);
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
    cme__buf_be16(b, 0x0018); /* depth */
    cme__buf_be16(b, 0xffff); /* pre_defined = -1 */
    write_av1c(b, t);
    write_colr(b, t);
    if (t->hdr.has_mastering)
        write_mdcv(b, &t->hdr);
    if (t->hdr.has_content_light)
        write_clli(b, &t->hdr);
    if (sar_num != sar_den)
        write_pasp(b, sar_num, sar_den);
    write_btrt(b, t->max_bitrate, t->avg_bitrate);
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
    write_tkhd_video(b, t, sar_num, sar_den);
    size_t mdia = cme__box_begin(b, "mdia");
    write_mdhd(b, t->timescale, "und");
    write_hdlr(b, "vide", "VideoHandler");
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
static void write_mvex(CmeBuf *b, uint32_t track_id)
{
    size_t mvex = cme__box_begin(b, "mvex");
    size_t trex = cme__fullbox_begin(b, "trex", 0, 0);
    cme__buf_be32(b, track_id);
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
    if (track->width == 0 || track->height == 0 || track->width > 0xffff || track->height > 0xffff)
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
    write_ftyp(out, "av01");
    size_t moov = cme__box_begin(out, "moov");
    write_mvhd(out, track->track_id, track->timescale);
    write_trak(out, track, sar_num, sar_den);
    write_mvex(out, track->track_id);
    cme__box_end(out, moov);

    int err = cme__buf_status(out);
    if (err < 0 && out->size > start)
        out->size = start;
    return err;
}

/* ---- AAC audio track ----------------------------------------------------------------- */

/* ISO/IEC 14496-1 7.2.6.5 / 8.3.3 */
#define TAG_ES_DESCR 0x03
#define TAG_DECODER_CONFIG 0x04
#define TAG_DECODER_SPECIFIC 0x05
#define TAG_SL_CONFIG 0x06
/* ISO/IEC 14496-1 Table 5, objectTypeIndication: 0x40 = Audio ISO/IEC 14496-3. */
#define OTI_MPEG4_AUDIO 0x40
/* ISO/IEC 14496-1 Table 6, streamType: 0x05 = AudioStream. */
#define STREAM_TYPE_AUDIO 0x05

/*
 * A descriptor header (ISO/IEC 14496-1 8.3.3 "expandable" sizeOfInstance): the tag, then
 * the size in 7-bit groups, most significant first, with the top bit set on every byte but
 * the last. The shortest form is written (FFmpeg's movenc.c always pads to four bytes;
 * both are valid and every reader accepts either). `size` is below 2^28 (checked).
 */
static void write_descr_header(CmeBuf *b, uint8_t tag, uint32_t size)
{
    cme__buf_u8(b, tag);
    int groups = 1;
    while (groups < 4 && (size >> (7 * groups)))
        groups++;
    for (int i = groups - 1; i > 0; i--)
        cme__buf_u8(b, (uint8_t)(0x80 | ((size >> (7 * i)) & 0x7f)));
    cme__buf_u8(b, (uint8_t)(size & 0x7f));
}

/* Bytes of a descriptor with a body of `size` bytes, header included. */
static uint32_t descr_total(uint32_t size)
{
    uint32_t n = 2;
    while (n < 5 && (size >> (7 * (n - 1))))
        n++;
    return n + size;
}

/*
 * ESDBox (ISO/IEC 14496-14 5.6, FullBox v0) holding one ES_Descriptor (ISO/IEC 14496-1
 * 7.2.6.5) as FFmpeg's mov_write_esds_tag lays it out:
 *  - ES_ID 0: ISO/IEC 14496-14 3.1.2 says it is set to 0 as stored (the track_ID stands in
 *    for it); no stream dependence, no URL, no OCR stream, priority 0.
 *  - DecoderConfigDescriptor: objectTypeIndication 0x40 (MPEG-4 Audio), streamType 5
 *    (audio) << 2 | upStream 0 << 1 | reserved 1 = 0x15; bufferSizeDB is the AAC decoder
 *    input buffer, 6144 bits per channel (ISO/IEC 14496-3 4.5.3.1), so 768 bytes per
 *    channel; maxBitrate and avgBitrate in bits/s (0 = unknown / variable).
 *  - DecoderSpecificInfo: the AudioSpecificConfig bytes as given.
 *  - SLConfigDescriptor: predefined 2, the value ISO/IEC 14496-14 3.1.2 requires in files.
 */
static void write_esds(CmeBuf *b, const CmeAudioTrack *t)
{
    uint32_t dsi = descr_total((uint32_t)t->asc_size);
    uint32_t dcd_body = 13 + dsi;
    uint32_t es_body = 3 + descr_total(dcd_body) + descr_total(1);

    size_t box = cme__fullbox_begin(b, "esds", 0, 0);
    write_descr_header(b, TAG_ES_DESCR, es_body);
    cme__buf_be16(b, 0); /* ES_ID */
    cme__buf_u8(b, 0);   /* streamDependenceFlag, URL_Flag, OCRstreamFlag, streamPriority */
    write_descr_header(b, TAG_DECODER_CONFIG, dcd_body);
    cme__buf_u8(b, OTI_MPEG4_AUDIO);
    cme__buf_u8(b, STREAM_TYPE_AUDIO << 2 | 1);
    cme__buf_be24(b, 768 * t->channels); /* bufferSizeDB */
    cme__buf_be32(b, t->max_bitrate);
    cme__buf_be32(b, t->avg_bitrate);
    write_descr_header(b, TAG_DECODER_SPECIFIC, (uint32_t)t->asc_size);
    cme__buf_append(b, t->asc, t->asc_size);
    write_descr_header(b, TAG_SL_CONFIG, 1);
    cme__buf_u8(b, 2); /* predefined: reserved for use in MP4 files */
    cme__box_end(b, box);
}

/*
 * MP4AudioSampleEntry (ISO/IEC 14496-14 5.6) extends AudioSampleEntry version 0 (ISO/IEC
 * 14496-12 12.2.3): channelcount is the number of output channels (1 mono, 2 stereo, the
 * values the v0 entry names; the AudioSpecificConfig stays authoritative for the decoder,
 * as for FFmpeg, which writes the stream's channel count), samplesize 16, samplerate the
 * sampling rate in 16.16, which needs it below 65536; higher rates (88.2 and 96 kHz) write
 * 0 there and rely on the ASC, since v0 has no other field for them. Then the esds and
 * btrt boxes.
 */
static void write_mp4a(CmeBuf *b, const CmeAudioTrack *t)
{
    size_t box = cme__box_begin(b, "mp4a");
    cme__buf_zeros(b, 6);     /* SampleEntry reserved */
    cme__buf_be16(b, 1);      /* data_reference_index */
    cme__buf_zeros(b, 2 * 4); /* reserved */
    cme__buf_be16(b, (uint16_t)t->channels);
    cme__buf_be16(b, 16); /* samplesize */
    cme__buf_be16(b, 0);  /* pre_defined */
    cme__buf_be16(b, 0);  /* reserved */
    cme__buf_be32(b, t->sample_rate <= 0xffff ? t->sample_rate << 16 : 0);
    write_esds(b, t);
    write_btrt(b, t->max_bitrate, t->avg_bitrate);
    cme__box_end(b, box);
}

/*
 * Encapsulation of Opus in ISO BMFF 4.3: the Opus sample entry (an AudioSampleEntry with
 * channelcount the output channel count, samplesize 16, samplerate 48000) holding dOps
 * (4.3.2), the OpusHead's fields big-endian: Version 0, OutputChannelCount, PreSkip,
 * InputSampleRate, OutputGain, ChannelMappingFamily and, for a family other than 0, the
 * ChannelMappingTable (StreamCount, CoupledCount, one byte per channel).
 */
static void write_opus(CmeBuf *b, const CmeAudioTrack *t)
{
    const uint8_t *h = t->asc; /* OpusHead, little-endian, checked by the caller */
    size_t box = cme__box_begin(b, "Opus");
    cme__buf_zeros(b, 6);
    cme__buf_be16(b, 1); /* data_reference_index */
    cme__buf_zeros(b, 2 * 4);
    cme__buf_be16(b, h[9]); /* channelcount */
    cme__buf_be16(b, 16);
    cme__buf_be16(b, 0);
    cme__buf_be16(b, 0);
    cme__buf_be32(b, 48000u << 16);
    size_t dops = cme__box_begin(b, "dOps");
    uint8_t d[11] = { 0, h[9], h[11], h[10], h[15], h[14], h[13], h[12], h[17], h[16], h[18] };
    cme__buf_append(b, d, sizeof(d));
    if (h[18] != 0)
        cme__buf_append(b, h + 19, 2 + (size_t)h[9]);
    cme__box_end(b, dops);
    write_btrt(b, t->max_bitrate, t->avg_bitrate);
    cme__box_end(b, box);
}

/* An OpusHead (RFC 7845 5.1) the track can be described with. */
static int opus_head_ok(const CmeAudioTrack *t)
{
    const uint8_t *h = t->asc;
    if (!h || t->asc_size < 19 || memcmp(h, "OpusHead", 8) || (h[8] >> 4) != 0 || h[9] == 0 ||
        h[9] != t->channels)
        return 0;
    return h[18] == 0 ? h[9] <= 2 : t->asc_size >= 21 + (size_t)h[9];
}

/* ISO/IEC 14496-12 12.2.2: balance 0 (centre), reserved 0. */
static void write_smhd(CmeBuf *b)
{
    size_t box = cme__fullbox_begin(b, "smhd", 0, 0);
    cme__buf_be16(b, 0); /* balance */
    cme__buf_be16(b, 0); /* reserved */
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.6.5/8.6.6: one edit that starts the presentation `priming` samples
 * into the media, which removes the AAC encoder delay (the one-entry list ISO/IEC 14496-24
 * describes for priming). segment_duration 0: a fragmented track's duration is not known
 * in the init segment. */
static void write_edts_priming(CmeBuf *b, uint32_t priming)
{
    size_t edts = cme__box_begin(b, "edts");
    size_t elst = cme__fullbox_begin(b, "elst", 0, 0);
    cme__buf_be32(b, 1);       /* entry_count */
    cme__buf_be32(b, 0);       /* segment_duration */
    cme__buf_be32(b, priming); /* media_time */
    cme__buf_be16(b, 1);       /* media_rate_integer */
    cme__buf_be16(b, 0);       /* media_rate_fraction */
    cme__box_end(b, elst);
    cme__box_end(b, edts);
}

static void write_trak_audio(CmeBuf *b, const CmeAudioTrack *t, uint32_t timescale,
                             const char *lang)
{
    size_t trak = cme__box_begin(b, "trak");
    write_tkhd(b, t->track_id, 0x0100, 0, 0); /* volume 1.0 */
    if (t->priming)
        write_edts_priming(b, t->priming);
    size_t mdia = cme__box_begin(b, "mdia");
    write_mdhd(b, timescale, lang);
    write_hdlr(b, "soun", "SoundHandler");
    size_t minf = cme__box_begin(b, "minf");
    write_smhd(b);
    write_dinf(b);
    size_t stbl = cme__box_begin(b, "stbl");
    size_t stsd = cme__fullbox_begin(b, "stsd", 0, 0);
    cme__buf_be32(b, 1); /* entry_count */
    if (t->codec == CME_AUDIO_OPUS)
        write_opus(b, t);
    else
        write_mp4a(b, t);
    cme__box_end(b, stsd);
    write_empty_table(b, "stts", 1);
    write_empty_table(b, "stsc", 1);
    write_empty_table(b, "stsz", 2);
    write_empty_table(b, "stco", 1);
    cme__box_end(b, stbl);
    cme__box_end(b, minf);
    cme__box_end(b, mdia);
    cme__box_end(b, trak);
}

/* audioObjectType of an AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1): 5 bits, 31 escapes
 * to 32 + the next 6 bits. 0 when the ASC is too short. */
static unsigned asc_object_type(const uint8_t *asc, size_t size)
{
    if (size < 2)
        return 0;
    unsigned aot = asc[0] >> 3;
    if (aot == 31)
        aot = 32 + (((asc[0] & 7u) << 3) | (asc[1] >> 5));
    return aot;
}

/* Within the AAC core CMAF media profile ('caac'): AAC-LC (2), HE-AAC (SBR, 5) or
 * HE-AACv2 (PS, 29), at most two channels and 48 kHz (ISO/IEC 23000-19, AAC profiles). */
static int aac_core_profile(const CmeAudioTrack *t)
{
    unsigned aot = asc_object_type(t->asc, t->asc_size);
    return (aot == 2 || aot == 5 || aot == 29) && t->channels <= 2 && t->sample_rate <= 48000;
}

int cme_mux_write_init_audio(CmeBuf *out, const CmeAudioTrack *t)
{
    if (!out || !t || t->track_id == 0 || t->sample_rate == 0 || t->channels == 0)
        return CME_EINVAL;
    /* channelcount is 16 bits; bufferSizeDB (768 per channel) 24 bits. */
    if (t->channels > 0xffff || (uint64_t)768 * t->channels > 0xffffff)
        return CME_EINVAL;
    /* An ASC has at least the object type and sampling frequency index (2 bytes), and a
     * descriptor size is at most 2^28 - 1 (four 7-bit groups). */
    if (t->codec == CME_AUDIO_OPUS) {
        if (!opus_head_ok(t))
            return CME_EINVAL;
    } else if (t->codec != CME_AUDIO_AAC || !t->asc || t->asc_size < 2 ||
               t->asc_size > (1u << 20) || asc_object_type(t->asc, t->asc_size) == 0) {
        return CME_EINVAL;
    }
    const char *lang = t->language ? t->language : "und";
    /* ISO 639-2/T: three lowercase letters, each fitting mdhd's 5-bit field. */
    if (strlen(lang) != 3)
        return CME_EINVAL;
    for (int i = 0; i < 3; i++)
        if (lang[i] < 'a' || lang[i] > 'z')
            return CME_EINVAL;
    uint32_t timescale = t->timescale ? t->timescale : t->sample_rate;

    size_t start = out->size;
    write_ftyp(out, t->codec == CME_AUDIO_AAC && aac_core_profile(t) ? "caac" : NULL);
    size_t moov = cme__box_begin(out, "moov");
    write_mvhd(out, t->track_id, timescale);
    write_trak_audio(out, t, timescale, lang);
    write_mvex(out, t->track_id);
    cme__box_end(out, moov);

    int err = cme__buf_status(out);
    if (err < 0 && out->size > start)
        out->size = start;
    return err;
}

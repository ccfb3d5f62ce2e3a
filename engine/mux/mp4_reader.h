/*
 * ISO BMFF reader for untrusted bytes (ISO/IEC 14496-12): enough of an MP4, a CMAF init
 * segment, a CMAF media segment, or any concatenation of them, to list the samples of one
 * track: the first AV1 video track, else the first track of any kind (AAC or Opus audio,
 * WebVTT or TTML text, other video). Used by inspect.c and the verification decoder
 * (media/verify.c); depends on core/ and the public AV1 API only.
 *
 * Every read is bounds-checked against the enclosing box: a box whose size overflows its
 * parent, a table whose entry count exceeds its box, or a sample outside every mdat is an
 * error naming the box path ("moof/traf/trun: sample_count 1000 exceeds the box").
 */
#ifndef CME_MUX_MP4_READER_H
#define CME_MUX_MP4_READER_H

#include <stddef.h>
#include <stdint.h>

#include "cmafeng/av1.h"

typedef struct CmeMp4Sample {
    uint64_t offset; /* of the sample's first byte in the file */
    uint32_t size;
    uint64_t dts;       /* decode time, track timescale */
    uint32_t duration;  /* track timescale */
    int32_t cts_offset; /* composition offset (ctts / trun); AV1 tracks have none */
    int sync;           /* the container's sync flag (stss, trun/tfhd/trex sample flags) */
} CmeMp4Sample;

/* One reference of a SegmentIndexBox (ISO/IEC 14496-12 8.16.3). */
typedef struct CmeMp4SidxRef {
    int reference_type; /* 0: media (a subsegment), 1: another sidx */
    uint32_t referenced_size;
    uint32_t subsegment_duration; /* in the sidx timescale */
    int starts_with_sap;
    int sap_type;
    uint32_t sap_delta_time;
} CmeMp4SidxRef;

/* The first top-level sidx of a file: where it lies and what it says. */
typedef struct CmeMp4Sidx {
    uint64_t start, end; /* the box's first byte and one past its last (the anchor point) */
    int version;
    uint32_t reference_id, timescale;
    uint64_t earliest_presentation_time, first_offset;
    CmeMp4SidxRef *refs; /* malloc()ed; freed by cme__mp4_file_free */
    size_t nb_refs;
} CmeMp4Sidx;

typedef struct CmeMp4File {
    char major_brand[5]; /* of the first ftyp or styp; "" when neither */
    int has_ftyp, has_styp;
    int has_moov; /* init segment or progressive MP4 */
    int has_mvex; /* moov announces movie fragments: an init segment */
    int nb_moof;  /* fragments read */
    int nb_mdat;
    uint32_t track_id;      /* the AV1 track; 0 when not known (a bare segment) */
    uint32_t timescale;     /* mdhd; 0 when there is no moov */
    uint32_t width, height; /* av01 sample entry */
    char sample_entry[5];   /* "av01", "mp4a", "Opus", "wvtt", ...: the selected track's */
    char handler[5];        /* hdlr handler_type: "vide", "soun", "text", "subt", "" */
    int nb_tracks;          /* trak boxes in moov */
    /* AudioSampleEntry (ISO/IEC 14496-12 12.2.3): channelcount, samplesize, samplerate. */
    uint32_t channels, sample_bits, sample_rate;
    /* esds (ISO/IEC 14496-14 5.6): objectTypeIndication and the DecoderSpecificInfo
     * (for AAC the AudioSpecificConfig, ISO/IEC 14496-3 1.6.2.1), pointing into the input. */
    int has_esds;
    uint32_t esds_oti;
    const uint8_t *dsi;
    size_t dsi_size;
    /* dOps (Encapsulation of Opus in ISO BMFF, 4.3.2): the body, pointing into the input. */
    const uint8_t *dops;
    size_t dops_size;
    /* The first edit of elst (8.6.6): media_time -1 is an empty edit. */
    int has_edit;
    int64_t edit_media_time;
    uint64_t edit_duration; /* movie timescale */
    /* The selected track's whole stsd box (header included) and mdhd language (ISO 639-2/T,
     * "" when not three letters), for writers that carry the track over (mp4_file.c). */
    const uint8_t *stsd;
    size_t stsd_size;
    char language[4];
    int has_av1c;
    const uint8_t *av1c; /* the av1C body inside the input buffer */
    size_t av1c_size;
    int has_colr; /* colr of type nclx */
    int colr_primaries, colr_transfer, colr_matrix, colr_full_range;
    CmeHdrMetadata hdr;    /* the sample entry's mdcv / clli (has_mastering, has_content_light) */
    CmeMp4Sample *samples; /* malloc()ed; free with cme__mp4_file_free */
    size_t nb_samples;
    /* The file offset of every top-level moof, in file order (malloc()ed). */
    uint64_t *moofs;
    size_t nb_moofs;
    int has_sidx;
    CmeMp4Sidx sidx;
} CmeMp4File;

/*
 * Parses data (the whole file) into *out. On failure returns CME_EBITSTREAM (or
 * CME_ENOMEM/CME_EUNSUPPORTED) with err naming the box path, and *out holds nothing to free.
 * The av1c pointer refers into data.
 */
int cme__mp4_parse(const uint8_t *data, size_t size, CmeMp4File *out, char *err, size_t errlen);
void cme__mp4_file_free(CmeMp4File *f);
/*
 * The RFC 6381 codecs string of a non-AV1 track: "mp4a.40.2" (from esds: the
 * objectTypeIndication in hex, then for 0x40 the audioObjectType of the AudioSpecificConfig),
 * "opus", "wvtt", or the sample entry type. Returns 0, or CME_EUNSUPPORTED when nothing is
 * known (no sample entry).
 */
int cme__mp4_codec_string(const CmeMp4File *f, char *out, size_t n);
/*
 * Holds the sidx against the fragments it indexes (ISO/IEC 14496-12 8.16.3, one level of
 * media references, as the DASH on-demand profile uses): reference k must start at a moof
 * (the anchor, the end of the sidx, plus first_offset plus the earlier referenced sizes),
 * the references must cover every moof after the sidx and reach the end of the file's
 * fragments, each subsegment_duration must equal the durations of the track's samples in
 * it, earliest_presentation_time must be the first sample's composition time, and a
 * reference that says starts_with_SAP must start with a sync sample. 0 when it holds or
 * the file has no sidx; CME_EBITSTREAM with err naming the reference otherwise.
 */
int cme__mp4_check_sidx(const CmeMp4File *f, uint64_t file_size, char *err, size_t errlen);
/* 1 when data starts with a plausible top-level box (ftyp, styp, moov, moof, sidx, ...). */
int cme__mp4_probe(const uint8_t *data, size_t size);

#endif /* CME_MUX_MP4_READER_H */

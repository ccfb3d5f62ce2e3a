/*
 * cmafeng — inspection of AV1 files: a low-overhead OBU stream (.obu, AV1 spec 5.2), IVF,
 * a CMAF init segment, a CMAF media segment, init + segments concatenated, or a progressive
 * MP4. The result says what the file is, its sequence header, av1C and colr when present,
 * the codecs string, and per sample (temporal unit) its size, decode time, frame type and
 * whether it is a sync sample. This is what `cmafeng inspect FILE` prints.
 *
 * ISO BMFF files whose track is not AV1 (AAC or Opus audio, WebVTT text) are read by the
 * same reader: kind says which, the sample entry's fields (channels, sample rate, the
 * codec configuration) replace the AV1 ones, and samples carry no frame-level facts.
 *
 * The input is untrusted: nothing is read outside the buffer, nothing aborts, and a
 * malformed file fails with a message that names where it broke ("moof/traf/trun:
 * sample_count 1000 exceeds the box", "sample 12: obu_size: ...").
 */
#ifndef CMAFENG_INSPECT_H
#define CMAFENG_INSPECT_H

#include "cmafeng/av1.h"
#include "cmafeng/common.h"

typedef enum CmeInspectFormat {
    CME_INSPECT_OBU = 0,     /* low-overhead OBU stream, temporal units split at TDs */
    CME_INSPECT_IVF = 1,     /* IVF ("DKIF") */
    CME_INSPECT_MP4 = 2,     /* progressive MP4: moov with sample tables */
    CME_INSPECT_INIT = 3,    /* fragmented-MP4 init segment: moov without samples */
    CME_INSPECT_SEGMENT = 4, /* media segment(s) alone: moof + mdat, no moov */
    CME_INSPECT_FMP4 = 5,    /* init segment followed by media segments */
} CmeInspectFormat;

typedef enum CmeInspectKind {
    CME_INSPECT_KIND_AV1 = 0,   /* AV1 video: every AV1 field below is filled */
    CME_INSPECT_KIND_AUDIO = 1, /* an ISO BMFF sound track (handler soun) */
    CME_INSPECT_KIND_TEXT = 2,  /* an ISO BMFF text or subtitle track (text, subt, sbtl) */
} CmeInspectKind;

/* One sample: an MP4 sample, an IVF frame or a temporal unit of an OBU stream. */
typedef struct CmeInspectSample {
    uint64_t offset;   /* of its first byte in the file */
    uint32_t size;     /* bytes */
    int has_time;      /* dts/duration are known (not for an .obu without timing_info) */
    uint64_t dts;      /* decode time, in CmeInspect.timescale units */
    uint32_t duration; /* 0 when unknown (the last IVF frame) */
    int frame_type;    /* of the shown frame, CME_AV1 convention: 0 KEY, 1 INTER,
                        * 2 INTRA_ONLY, 3 SWITCH; -1 no shown frame or show_existing_frame */
    int show_existing_frame;
    int num_frame_headers;
    int has_seq_hdr; /* the sample carries a sequence header OBU */
    int av1_sync;    /* AV1-ISOBMFF 2.4 sync: a sequence header and a shown key frame */
    int sync;        /* the container's sync flag (MP4); equals av1_sync for IVF/OBU */
} CmeInspectSample;

typedef struct CmeInspect {
    CmeInspectFormat format;
    CmeInspectKind kind;
    char sample_entry[5]; /* MP4: "av01", "mp4a", "Opus", "wvtt", ...; "" otherwise */
    char handler[5];      /* MP4: hdlr handler_type; "" otherwise */
    uint32_t nb_tracks;   /* MP4: trak boxes in moov */
    /* Audio (kind AUDIO): the AudioSampleEntry's channelcount, samplesize and samplerate,
     * and the decoder configuration: the AudioSpecificConfig of esds (mp4a) or the dOps
     * body (Opus), owned by this struct. */
    uint32_t channels, sample_bits, sample_rate;
    char language[4]; /* MP4: the track's mdhd language (ISO 639-2/T), "" when none or "und" */
    uint8_t *codec_config;
    size_t codec_config_size;
    /* MP4: the first edit list entry (ISO/IEC 14496-12 8.6.6); media_time -1 is empty. */
    int has_edit;
    int64_t edit_media_time;
    uint64_t edit_duration; /* movie timescale */
    char brand[5];          /* MP4 major brand of the first ftyp/styp; "" otherwise */
    uint32_t track_id;      /* MP4 only */
    uint32_t timescale;     /* units of dts/duration; 0 when no time is known */
    uint32_t width, height; /* the sample entry's or IVF header's; 0 when absent */
    int has_seq_hdr;
    CmeAv1SeqHdr seq;  /* from av1C configOBUs, else the first sample that has one */
    int seq_from_av1c; /* seq came from av1C */
    /* The first sample whose in-band sequence header differs from av1C's (1-based; 0 when
     * none does), compared like the codec invariant's strict mode, and the first field
     * that differs (a static string, e.g. "enable_cdef"). Decoders use the in-band one. */
    size_t seq_differs_sample;
    const char *seq_differs_field;
    char codec_string[64]; /* AV1: "" without a sequence header; else "mp4a.40.2", "opus"... */
    int has_av1c;
    CmeAv1Config av1c;    /* config_obus points into av1c_record */
    uint8_t *av1c_record; /* the av1C body, owned by this struct */
    size_t av1c_size;
    int has_colr; /* colr nclx */
    int colr_primaries, colr_transfer, colr_matrix, colr_full_range;
    CmeHdrMetadata hdr;    /* mdcv / clli in the sample entry (has_mastering, ...) */
    uint32_t nb_fragments; /* moof boxes */
    /* The first top-level sidx (ISO/IEC 14496-12 8.16.3), as a DASH on-demand file has:
     * its byte range (start..end-1), references, earliest presentation time, and whether it
     * indexes the fragments exactly (sidx_problem "" when it does, else why not). */
    int has_sidx;
    uint64_t sidx_start, sidx_end;
    uint32_t sidx_references;
    uint64_t sidx_earliest_presentation_time;
    char sidx_problem[256];
    CmeInspectSample *samples; /* owned by this struct */
    size_t nb_samples;
} CmeInspect;

/*
 * Detects the format by content (IVF by "DKIF", ISO BMFF by a plausible first box, else an
 * OBU stream; name_hint, may be NULL, only sharpens the message when a .mp4/.m4s does not
 * look like one) and inspects it. On success *out is a new CmeInspect owned by the caller
 * (free with cme_inspect_free); it keeps no pointer into data. On failure *out is NULL and
 * err holds why. Returns 0, CME_EINVAL, CME_ENOMEM, CME_EBITSTREAM or CME_EUNSUPPORTED
 * (not AV1).
 */
CME_API int cme_inspect_buffer(const uint8_t *data, size_t size, const char *name_hint,
                               CmeInspect **out, char *err, size_t errlen);

/* Reads path and inspects it; err starts with "path: ". Adds CME_EIO to the codes above. */
CME_API int cme_inspect_file(const char *path, CmeInspect **out, char *err, size_t errlen);

/*
 * A media segment read with its init segment: the init is prepended so that the track's
 * kind, timescale and defaults are known; the result describes the segment alone (format
 * "segment", offsets into the segment file). err starts with the path that failed.
 */
CME_API int cme_inspect_segment_file(const char *init_path, const char *seg_path, CmeInspect **out,
                                     char *err, size_t errlen);

/* "av1", "audio", "text". */
CME_API const char *cme_inspect_kind_name(CmeInspectKind k);

/* Frees *pi and sets it to NULL; safe on NULL and on *pi == NULL. */
CME_API void cme_inspect_free(CmeInspect **pi);

/* "obu", "ivf", "mp4", "init", "segment", "fmp4". */
CME_API const char *cme_inspect_format_name(CmeInspectFormat f);

/* "KEY", "INTER", "INTRA_ONLY", "SWITCH", or "-" for -1. */
CME_API const char *cme_inspect_frame_type_name(int frame_type);

#endif /* CMAFENG_INSPECT_H */

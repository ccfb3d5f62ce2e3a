/*
 * cmafeng — CMAF muxing and manifests: fragmented MP4 init and media segments
 * (ISO/IEC 14496-12, ISO/IEC 23000-19 CMAF, AV1-ISOBMFF), HLS playlists (RFC 8216) and
 * the DASH MPD (ISO/IEC 23009-1). Every writer appends to a CmeBuf and touches no file;
 * callers write the bytes atomically. Writers are pure functions of their inputs, so the
 * same inputs give byte-identical output whichever worker produced a segment.
 */
#ifndef CMAFENG_MUX_H
#define CMAFENG_MUX_H

#include "cmafeng/buf.h"
#include "cmafeng/common.h"

/* Everything the init segment says about a video track. */
typedef struct CmeVideoTrack {
    uint32_t track_id;  /* 1 */
    uint32_t timescale; /* media timescale (mdhd), e.g. 90000 */
    uint32_t width, height; /* max_frame_width/height from the sequence header */
    uint32_t sar_num, sar_den; /* pixel aspect ratio; pasp is written only when != 1:1 */
    const uint8_t *av1c; /* AV1CodecConfigurationRecord bytes (cme_av1_write_av1c) */
    size_t av1c_size;
    /* colr nclx, from the sequence header's color_config (2 = unspecified). */
    int color_primaries, transfer_characteristics, matrix_coefficients, full_range;
    uint32_t max_bitrate, avg_bitrate; /* btrt; 0 when unknown */
} CmeVideoTrack;

/* ftyp (major cmfc; compatible cmfc, iso6, av01, ...) + moov with one av01 track and mvex. */
CME_API int cme_mux_write_init(CmeBuf *out, const CmeVideoTrack *track);

typedef struct CmeSample {
    uint32_t size;     /* bytes in mdat (temporal delimiters already stripped) */
    uint32_t duration; /* in the track timescale */
    int sync;          /* key frame with a sequence header */
} CmeSample;

typedef struct CmeSegmentInfo {
    uint32_t track_id;
    uint32_t sequence_number;   /* mfhd; the segment index, 1-based */
    uint64_t base_decode_time;  /* tfdt version 1, in the track timescale */
} CmeSegmentInfo;

/*
 * styp + moof (mfhd, traf: tfhd default-base-is-moof, tfdt v1, trun with per-sample size,
 * duration and flags; sync samples non-dependent, others depend) + mdat. `data` holds the
 * samples back to back, sum(samples[i].size) bytes.
 */
CME_API int cme_mux_write_segment(CmeBuf *out, const CmeSegmentInfo *seg,
                                  const CmeSample *samples, size_t nb_samples,
                                  const uint8_t *data, size_t data_size);

/* One media segment as the manifests see it. */
typedef struct CmeSegmentEntry {
    uint64_t start;    /* base decode time, track timescale */
    uint64_t duration; /* track timescale */
    uint64_t bytes;    /* file size */
} CmeSegmentEntry;

/* One rendition (rung) of the ladder as the manifests see it. */
typedef struct CmeRendition {
    const char *name;      /* directory under the output dir, e.g. "720p" */
    const char *codecs;    /* from the bitstream, e.g. "av01.0.05M.08" */
    uint32_t width, height;
    uint32_t fps_num, fps_den; /* nominal frame rate */
    uint32_t timescale;
    uint64_t peak_bandwidth; /* bits/s, max over segments of bytes*8/duration */
    uint64_t avg_bandwidth;  /* bits/s, total bytes*8 / total duration */
    const CmeSegmentEntry *segments;
    size_t nb_segments;
    uint32_t start_number; /* index of segments[0] in file names (seg_%05d.m4s), 1 */
} CmeRendition;

/* Media playlist: EXT-X-VERSION, TARGETDURATION, MEDIA-SEQUENCE, PLAYLIST-TYPE:VOD,
 * INDEPENDENT-SEGMENTS, EXT-X-MAP:URI="init.mp4", EXTINF per segment, ENDLIST. */
CME_API int cme_hls_write_media(CmeBuf *out, const CmeRendition *r);
/* Multivariant playlist: one EXT-X-STREAM-INF per rendition with BANDWIDTH (peak),
 * AVERAGE-BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE; URI "<name>/index.m3u8". */
CME_API int cme_hls_write_master(CmeBuf *out, const CmeRendition *r, size_t nb);
/* Static MPD: one video AdaptationSet, one Representation per rendition with
 * SegmentTemplate (initialization "<name>/init.mp4", media "<name>/seg_$Number%05d$.m4s")
 * and a SegmentTimeline with exact durations. */
CME_API int cme_dash_write_mpd(CmeBuf *out, const CmeRendition *r, size_t nb);

#endif /* CMAFENG_MUX_H */

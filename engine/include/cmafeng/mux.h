/*
 * cmafeng — CMAF muxing and manifests: fragmented MP4 init and media segments
 * (ISO/IEC 14496-12, ISO/IEC 23000-19 CMAF, AV1-ISOBMFF), HLS playlists (RFC 8216) and
 * the DASH MPD (ISO/IEC 23009-1). Every writer appends to a CmeBuf and touches no file;
 * callers write the bytes atomically. Writers are pure functions of their inputs, so the
 * same inputs give byte-identical output whichever worker produced a segment.
 */
#ifndef CMAFENG_MUX_H
#define CMAFENG_MUX_H

#include "cmafeng/av1.h"
#include "cmafeng/buf.h"
#include "cmafeng/common.h"

/* Everything the init segment says about a video track. */
typedef struct CmeVideoTrack {
    uint32_t track_id;         /* 1 */
    uint32_t timescale;        /* media timescale (mdhd), e.g. 90000 */
    uint32_t width, height;    /* max_frame_width/height from the sequence header */
    uint32_t sar_num, sar_den; /* pixel aspect ratio; pasp is written only when != 1:1 */
    const uint8_t *av1c;       /* AV1CodecConfigurationRecord bytes (cme_av1_write_av1c) */
    size_t av1c_size;
    /* colr nclx, from the sequence header's color_config (2 = unspecified). */
    int color_primaries, transfer_characteristics, matrix_coefficients, full_range;
    uint32_t max_bitrate, avg_bitrate; /* btrt; 0 when unknown */
    CmeHdrMetadata hdr;                /* mdcv / clli when has_mastering / has_content_light */
} CmeVideoTrack;

/* ftyp (major cmfc; compatible cmfc, iso6, av01, ...) + moov with one av01 track and mvex. */
CME_API int cme_mux_write_init(CmeBuf *out, const CmeVideoTrack *track);

typedef enum CmeAudioCodec {
    CME_AUDIO_AAC = 0,  /* mp4a + esds (ISO/IEC 14496-14) */
    CME_AUDIO_OPUS = 1, /* Opus + dOps (Encapsulation of Opus in ISO BMFF) */
} CmeAudioCodec;

/* Everything the init segment says about an AAC or Opus audio track (ISO/IEC 14496-3 in
 * MP4, ISO/IEC 14496-14; Opus in ISO BMFF). */
typedef struct CmeAudioTrack {
    CmeAudioCodec codec;
    uint32_t track_id;    /* e.g. 1 in its own init segment */
    uint32_t timescale;   /* mdhd; 0 means sample_rate, which CMAF audio tracks use */
    uint32_t sample_rate; /* Hz, the output rate of the AudioSpecificConfig */
    uint32_t channels;    /* output channels, 1 = mono, 2 = stereo */
    /* AAC: the AudioSpecificConfig (the encoder's extradata), 2+ bytes. Opus: the OpusHead
     * (RFC 7845 5.1, libopus's extradata), 19+ bytes, from which dOps is written. */
    const uint8_t *asc;
    size_t asc_size;
    uint32_t max_bitrate, avg_bitrate; /* btrt and DecoderConfigDescriptor; 0 when unknown */
    const char *language;              /* ISO 639-2/T, three lowercase letters; NULL means "und" */
    uint32_t priming; /* encoder delay in samples (AAC: 1024), trimmed by an edit list; 0 = none */
} CmeAudioTrack;

/* ftyp (major cmfc; compatible cmfc, iso6, and caac when the ASC is an AAC-LC/HE-AAC/
 * HE-AACv2 stream of at most 2 channels and 48 kHz) + moov with one mp4a track (esds with
 * the ASC, btrt) or one Opus track (dOps, btrt) and mvex. Media segments are
 * cme_mux_write_segment with every sample marked sync. CME_EINVAL on an incomplete track
 * (no track_id, sample rate, channels), an ASC shorter than 2 bytes or with
 * audioObjectType 0, an OpusHead that is not one (magic, version 1, mapping table for
 * family != 0, channel count as the track's), or a language that is not three lowercase
 * letters. */
CME_API int cme_mux_write_init_audio(CmeBuf *out, const CmeAudioTrack *t);

typedef struct CmeSample {
    uint32_t size;     /* bytes in mdat (temporal delimiters already stripped) */
    uint32_t duration; /* in the track timescale */
    int sync;          /* key frame with a sequence header */
} CmeSample;

typedef struct CmeSegmentInfo {
    uint32_t track_id;
    uint32_t sequence_number;  /* mfhd; the segment index, 1-based */
    uint64_t base_decode_time; /* tfdt version 1, in the track timescale */
} CmeSegmentInfo;

/*
 * styp + moof (mfhd, traf: tfhd default-base-is-moof, tfdt v1, trun with per-sample size,
 * duration and flags; sync samples non-dependent, others depend) + mdat. `data` holds the
 * samples back to back, sum(samples[i].size) bytes.
 */
CME_API int cme_mux_write_segment(CmeBuf *out, const CmeSegmentInfo *seg, const CmeSample *samples,
                                  size_t nb_samples, const uint8_t *data, size_t data_size);

/* One media segment as the manifests see it. */
typedef struct CmeSegmentEntry {
    uint64_t start;    /* base decode time, track timescale */
    uint64_t duration; /* track timescale */
    uint64_t bytes;    /* file size */
} CmeSegmentEntry;

/* One rendition (rung) of the ladder, or the audio rendition, as the manifests see it.
 * Zeroed audio fields mean a video rendition, as before audio existed. */
typedef struct CmeRendition {
    const char *name;          /* directory under the output dir, e.g. "720p" */
    const char *codecs;        /* from the bitstream, e.g. "av01.0.05M.08" or "mp4a.40.2" */
    uint32_t width, height;    /* video only */
    uint32_t fps_num, fps_den; /* nominal frame rate; video only */
    uint32_t timescale;
    uint64_t peak_bandwidth; /* bits/s, max over segments of bytes*8/duration */
    uint64_t avg_bandwidth;  /* bits/s, total bytes*8 / total duration */
    const CmeSegmentEntry *segments;
    size_t nb_segments;
    uint32_t start_number; /* index of segments[0] in file names (seg_%05d.m4s), 1 */
    /* Audio: is_audio 1, channels and sample_rate non-zero, width/height/fps ignored.
     * language is an RFC 5646 / ISO 639 tag (letters, digits, '-'), NULL when unknown.
     * label is the human-readable name (HLS NAME, DASH Label): printable ASCII without
     * '"', '<', '>' or '&'; NULL means the language, else the rendition name. is_default
     * marks the rendition players pick first; when no audio rendition has it, the first
     * audio rendition is the default. */
    int is_audio;
    uint32_t channels, sample_rate;
    const char *language;
    const char *label;
    int is_default;
    /* Text (WebVTT subtitles): is_text 1, segments seg_%05d.vtt (no init segment) timed like
     * the video, and "<name>/subtitles.vtt" the whole track for DASH; language and label as
     * for audio. */
    int is_text;
} CmeRendition;

/* Media playlist: EXT-X-VERSION, TARGETDURATION, MEDIA-SEQUENCE, PLAYLIST-TYPE:VOD,
 * INDEPENDENT-SEGMENTS, EXT-X-MAP:URI="init.mp4", EXTINF per segment, ENDLIST. A text
 * rendition has no EXT-X-MAP and seg_%05d.vtt segments. */
CME_API int cme_hls_write_media(CmeBuf *out, const CmeRendition *r);
/* Multivariant playlist: one EXT-X-STREAM-INF per video rendition with BANDWIDTH (peak),
 * AVERAGE-BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE; URI "<name>/index.m3u8". Every audio
 * rendition becomes an EXT-X-MEDIA TYPE=AUDIO of GROUP-ID "audio" (NAME, LANGUAGE,
 * DEFAULT, AUTOSELECT, CHANNELS, URI "<name>/index.m3u8"), and every STREAM-INF gets
 * AUDIO="audio", each distinct audio codecs string appended to CODECS and the largest
 * audio bandwidths added (RFC 8216 4.3.4.2). At least one video rendition. */
CME_API int cme_hls_write_master(CmeBuf *out, const CmeRendition *r, size_t nb);
/* Text renditions become EXT-X-MEDIA TYPE=SUBTITLES of GROUP-ID "subs" (SUBTITLES="subs"
 * on every variant) in HLS and a text/vtt AdaptationSet with the sidecar file in DASH.
 *
 * Static MPD: one video AdaptationSet, one Representation per video rendition with
 * SegmentTemplate (initialization "<name>/init.mp4", media "<name>/seg_$Number%05d$.m4s")
 * and a SegmentTimeline with exact durations; then one audio AdaptationSet per language
 * and codec family (lang, Role main on the default's, Label) holding its renditions, each
 * with audioSamplingRate and AudioChannelConfiguration. */
CME_API int cme_dash_write_mpd(CmeBuf *out, const CmeRendition *r, size_t nb);

/* Where one rendition lies in the DASH on-demand output: one file per rendition. */
typedef struct CmeDashIndex {
    const char *url;      /* the file, relative to the MPD ("720p.mp4", "subs.vtt") */
    uint64_t init_end;    /* the init segment is bytes 0..init_end (inclusive) */
    uint64_t index_start; /* the sidx is bytes index_start..index_end (inclusive) */
    uint64_t index_end;
} CmeDashIndex;

/* The same MPD in the ISO/IEC 23009-1 on-demand profile (8.3,
 * urn:mpeg:dash:profile:isoff-on-demand:2011): every Representation is one indexed file,
 * index[i] for r[i], named by BaseURL, with SegmentBase (indexRange = the sidx,
 * Initialization range = ftyp + moov); AdaptationSets carry subsegmentAlignment and
 * subsegmentStartsWithSAP 1. Text renditions are sidecar WebVTT files at index[i].url. */
CME_API int cme_dash_write_mpd_ondemand(CmeBuf *out, const CmeRendition *r, size_t nb,
                                        const CmeDashIndex *index);

#endif /* CMAFENG_MUX_H */

/*
 * The verification decoder behind `cmafeng validate --decode`: the samples of one track
 * (an init segment and its media segments, read by the one ISO BMFF reader in
 * job/verify_files.c) are decoded by an independent decoder: libdav1d for AV1 video,
 * libavcodec for AAC and Opus audio. The result lists what came out (pictures with their
 * size and timestamp, audio frames with their sample counts), per input file, so that the
 * caller can hold it against the manifests.
 *
 * Runs on the calling thread; opens its own decoder; shares nothing.
 */
#ifndef CME_MEDIA_VERIFY_H
#define CME_MEDIA_VERIFY_H

#include <stddef.h>
#include <stdint.h>

typedef enum CmeVerifyKind {
    CME_VERIFY_VIDEO = 0, /* AV1, decoded by libdav1d */
    CME_VERIFY_AUDIO = 1, /* AAC or Opus, decoded by libavcodec */
} CmeVerifyKind;

/* One decoded picture or audio frame. */
typedef struct CmeVerifyFrame {
    int64_t pts;    /* the timestamp the decoder returned, track timescale */
    uint32_t width; /* video: the picture's size */
    uint32_t height;
    uint32_t nb_samples; /* audio: PCM samples per channel */
    uint32_t file;       /* index into the paths of the sample that produced it */
} CmeVerifyFrame;

/* Per input file: the container's samples and what decoded from them. */
typedef struct CmeVerifyFile {
    size_t samples;    /* container samples whose bytes lie in this file */
    size_t frames;     /* decoded pictures / audio frames attributed to this file */
    uint64_t duration; /* sum of the container's sample durations, track timescale */
    int64_t first_dts; /* of its first sample; -1 when it holds none */
} CmeVerifyFile;

typedef struct CmeVerifyResult {
    CmeVerifyKind kind;
    char decoder[32];       /* "libdav1d 1.0.0", "aac", "opus" */
    char sample_entry[5];   /* "av01", "mp4a", "Opus" */
    uint32_t timescale;     /* of the track (mdhd) */
    size_t nb_samples;      /* container samples fed to the decoder */
    CmeVerifyFrame *frames; /* malloc()ed; cme__verify_free */
    size_t nb_frames;
    CmeVerifyFile *files; /* one per path */
    size_t nb_files;
    uint64_t pcm_samples; /* audio: total decoded samples per channel */
    int channels;         /* audio: of the decoded frames */
    int sample_rate;
    int decode_errors;     /* samples the decoder refused (each is also counted in errors[]) */
    char first_error[256]; /* "sample 12 (seg_00002.m4s): ..." for the first refusal */
} CmeVerifyResult;

/* A container sample, as the reader found it. */
typedef struct CmeVerifySample {
    uint64_t offset; /* of its first byte in CmeVerifyTrack.data */
    uint32_t size;
    uint64_t dts;       /* track timescale */
    int32_t cts_offset; /* composition offset */
    uint32_t duration;  /* track timescale */
} CmeVerifySample;

/* One track to decode: its files' bytes, concatenated, and what the init segment says. */
typedef struct CmeVerifyTrack {
    const uint8_t *data;
    const char *const *paths; /* the files, in order: paths[0] the init segment */
    const size_t *starts;     /* byte offset of each file in data */
    size_t nb_files;
    const CmeVerifySample *samples; /* in decode order */
    size_t nb_samples;
    char sample_entry[5]; /* "av01", "mp4a", "Opus", ... */
    char handler[5];      /* "vide", "soun", ... */
    uint32_t timescale;   /* mdhd */
    uint32_t channels, sample_rate;
    int has_esds; /* mp4a: esds, its object type and AudioSpecificConfig */
    uint32_t esds_oti;
    const uint8_t *dsi;
    size_t dsi_size;
    const uint8_t *dops; /* Opus: the dOps body */
    size_t dops_size;
} CmeVerifyTrack;

/*
 * Decodes the track. Returns 0 with *out filled (decode errors are reported inside it,
 * they are findings, not failures), or a negative CME_E* code with err saying why nothing
 * could be decoded (a codec without a decoder, a configuration it refuses); then *out holds
 * nothing to free.
 */
int cme__verify_decode(const CmeVerifyTrack *t, CmeVerifyResult *out, char *err, size_t errlen);
void cme__verify_free(CmeVerifyResult *r);

#endif /* CME_MEDIA_VERIFY_H */

/*
 * cmafeng — what a recipe needs to know about its source before it builds a ladder:
 * sizes, sample aspect ratio, rotation, frame rate, colour and HDR metadata, and every
 * audio and subtitle stream. cmafeng.probe(path) in Lua and `cmafeng probe FILE --json`
 * are this struct (docs/recipes.md lists every field).
 *
 * Also the scene-score pre-pass behind cmafeng.chunking.scene: one fast decode of the
 * video at a small size, a score per frame.
 *
 * Both are plain functions of a path: no engine, no callbacks. Per-title probe encodes
 * (cme_probe_encodes_on) lease the job's devices from the process-wide pool and run on
 * threads of their own.
 */
#ifndef CMAFENG_PROBE_H
#define CMAFENG_PROBE_H

#include <stdint.h>

#include "cmafeng/common.h"

#define CME_PROBE_MAX_STREAMS 32

typedef enum CmeHdrKind {
    CME_HDR_SDR = 0, /* any other transfer characteristic */
    CME_HDR_PQ,      /* SMPTE ST 2084 (transfer_characteristics 16): HDR10 */
    CME_HDR_HLG,     /* ARIB STD-B67 (transfer_characteristics 18) */
} CmeHdrKind;

typedef struct CmeProbeMastering {
    /* CIE 1931 xy chromaticities of the mastering display (SMPTE ST 2086): red, green,
     * blue primaries and the white point; luminance in cd/m^2. */
    double primaries[3][2];
    double white_point[2];
    double min_luminance, max_luminance;
} CmeProbeMastering;

typedef struct CmeProbeVideo {
    int index;      /* stream index in the container */
    char codec[32]; /* decoder name, e.g. "h264" */
    char profile[32];
    int width, height;    /* stored (coded) picture size, before SAR and rotation */
    int sar_num, sar_den; /* sample aspect ratio, 1:1 when the file says nothing */
    /* The size a player shows: width scaled by the SAR (height kept, rounded to the
     * nearest integer), then swapped when the rotation is 90 or 270 degrees. */
    int display_width, display_height;
    int rotation;         /* clockwise degrees to apply for display: 0, 90, 180 or 270 */
    int hflip;            /* the display matrix mirrors the picture horizontally */
    int fps_num, fps_den; /* average frame rate (reduced); 25/1 when unknown */
    int vfr;              /* frame durations vary in the packets scanned */
    double min_frame_duration, max_frame_duration; /* seconds, over the scanned packets */
    double duration;                               /* seconds, -1 unknown */
    int64_t frames;                                /* -1 unknown */
    int frames_exact;  /* 1: counted or stored in the container; 0: estimated */
    char pix_fmt[32];  /* FFmpeg name, e.g. "yuv420p10le" */
    int bit_depth;     /* of the luma plane */
    int chroma_format; /* 420, 422, 444, 400 (monochrome), 0 for RGB/other */
    /* ISO/IEC 23091-4 code points (2 = unspecified) and FFmpeg's names of them. */
    int color_primaries, color_transfer, color_matrix;
    int full_range; /* 1 full (pc), 0 limited (tv) or unspecified */
    int range_known;
    CmeHdrKind hdr;
    int has_mastering;
    CmeProbeMastering mastering;
    int has_content_light;
    unsigned max_cll, max_fall; /* cd/m^2 */
    int side_data_from_frame;   /* mastering/CLL were found by decoding the first frame */
} CmeProbeVideo;

typedef struct CmeProbeAudio {
    int index;
    char codec[32];
    int channels;
    char layout[64]; /* "stereo", "5.1(side)", ... or "" when the file does not say */
    int sample_rate;
    int64_t bit_rate; /* 0 unknown */
    char language[16];
    int is_default;
} CmeProbeAudio;

typedef struct CmeProbeSubtitle {
    int index;
    char codec[32];
    char language[16];
} CmeProbeSubtitle;

typedef struct CmeProbe {
    char format[64];  /* container, FFmpeg's demuxer name */
    double duration;  /* seconds, -1 unknown */
    int64_t bit_rate; /* container bit rate, 0 unknown */
    int has_video;    /* 0: an audio-only (or data) file; `video` is zeroed */
    CmeProbeVideo video;
    int nb_audio;
    CmeProbeAudio audio[CME_PROBE_MAX_STREAMS];
    int nb_subtitles;
    CmeProbeSubtitle subtitles[CME_PROBE_MAX_STREAMS];
} CmeProbe;

/*
 * Describes the media file at path. Reads the headers, scans up to a few seconds of video
 * packets (frame rate, VFR) and decodes the first video frame when an HDR stream keeps its
 * mastering display / light level in the bitstream rather than the container.
 * Returns 0, CME_EIO (unreadable) or CME_EMEDIA (not a media file) with err naming the file.
 * A file without video succeeds with has_video = 0.
 */
CME_API int cme_probe_file(const char *path, CmeProbe *out, char *err, size_t errlen);

/* Names for the probe's code points ("bt709", "smpte2084", ...); "unknown" when unnamed. */
CME_API const char *cme_probe_primaries_name(int primaries);
CME_API const char *cme_probe_transfer_name(int transfer);
CME_API const char *cme_probe_matrix_name(int matrix);
CME_API const char *cme_probe_hdr_name(CmeHdrKind kind);

typedef struct CmeSceneScores {
    size_t nb_frames;
    double *times;   /* seconds from the first frame (the output timeline's origin) */
    float *scores;   /* 0..1, how much frame i differs from frame i-1; scores[0] = 0 */
    double fps;      /* average frame rate of the stream */
    double duration; /* last frame's time + its duration */
} CmeSceneScores;

/*
 * The scene-score pre-pass: decodes every video frame of path, scales its luma to about
 * `width` pixels wide (0 = 160) and scores each frame against the previous one with the
 * same measure as FFmpeg's select filter `scene` variable (the mean absolute difference,
 * damped by its change from the previous pair, scaled to 0..1), so thresholds carry over.
 * On success *out owns the arrays; free them with cme_scene_scores_free().
 */
CME_API int cme_scene_scores(const char *path, int width, CmeSceneScores *out, char *err,
                             size_t errlen);
CME_API void cme_scene_scores_free(CmeSceneScores *s);

/* One probe encode of a per-title analysis: a size and a CRF, and what came out. */
typedef struct CmeProbeEncode {
    int width, height; /* even, at least 64 lines (SVT-AV1) */
    int crf;
    /* Results: */
    uint64_t bytes;        /* AV1 packets */
    int frames;            /* encoded and decoded */
    double psnr;           /* luma PSNR in dB over the window (mean squared error pooled) */
    double ssim;           /* luma SSIM, mean of 8x8 blocks over the window */
    double encode_seconds; /* wall time of encode + decode + metrics */
    char device[32];       /* the device that encoded it ("" outside a pool) */
} CmeProbeEncode;

/*
 * Per-title probes on one sample window of path: decodes `frames` frames from `start`
 * seconds once, scales them to ref_width x ref_height (the reference: the ladder's display
 * size), and for every entry of probes encodes the window at its size and CRF with SVT-AV1
 * (preset, one key frame, all cores), decodes the packets with libdav1d, scales the decoded
 * luma back to the reference size and measures PSNR and SSIM against it, so that rungs of
 * different sizes compare on one scale. The window's duration in seconds is stored in
 * *seconds. Probes run one after another: SVT-AV1 1.4.1 instances must not open while
 * another encodes. Writes nothing to disk.
 */
CME_API int cme_probe_encodes(const char *path, double start, int frames, int ref_width,
                              int ref_height, int preset, CmeProbeEncode *probes, int nb_probes,
                              double *seconds, char *err, size_t errlen);

/* One SVT-AV1 device of the process-wide pool that probes may lease (the job's own). */
typedef struct CmeProbeDevice {
    char id[32];  /* the id the job gives it: "cpu" for its `workers` slots, "svt:0", ... */
    int sessions; /* its session cap when this registers it first (a job's `workers`) */
    int threads;  /* SVT-AV1 threads per probe encoder, 0 = library default */
} CmeProbeDevice;

/* Where and how wide probes run (cme_probe_encodes_on). */
typedef struct CmeProbeRunSettings {
    const CmeProbeDevice *devices; /* 1..16 devices, borrowed for the call */
    int nb_devices;
    int parallel;   /* most probes encoding at once, >= 1 (the recipe's worker count) */
    int timeout_ms; /* the longest wait for a first free session; < 0: forever */
} CmeProbeRunSettings;

/*
 * cme_probe_encodes, but on the job's devices and in parallel: the devices are registered
 * in the process-wide device pool (or found there, by id, with the session cap of whoever
 * registered them first) and every probe encoder holds a lease on one for its life, so a
 * per-title analysis never runs more encoders on a device than its sessions, nor more
 * than `parallel` at once, even beside a running job. Probes run in batches: a lease is
 * awaited for the first (FIFO, up to timeout_ms), more are taken while free, every
 * encoder of the batch is opened before any encodes and closed after all drained
 * (SVT-AV1 1.4.1), and each encodes, decodes and measures on its own thread.
 * probes[i].device names the device that ran it. CME_ETIMEDOUT when no session came free.
 */
CME_API int cme_probe_encodes_on(const char *path, double start, int frames, int ref_width,
                                 int ref_height, int preset, CmeProbeEncode *probes, int nb_probes,
                                 const CmeProbeRunSettings *run, double *seconds, char *err,
                                 size_t errlen);

#endif /* CMAFENG_PROBE_H */

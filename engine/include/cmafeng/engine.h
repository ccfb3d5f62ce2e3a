/*
 * cmafeng — the encoding engine: one job turns a source into an AV1 CMAF ladder.
 *
 * Threads (DESIGN.md section 2): the caller's thread is the policy thread; it creates the
 * engine, pulls events with cme_engine_next_event() and reads counters with
 * cme_engine_stats(). The engine owns one decode pump thread and one worker thread per
 * leased device slot. No callback ever runs on an engine thread.
 */
#ifndef CMAFENG_ENGINE_H
#define CMAFENG_ENGINE_H

#include "cmafeng/av1.h"
#include "cmafeng/common.h"

#define CME_MAX_RUNGS 16
#define CME_MAX_AUDIO 8 /* audio renditions of one job */

typedef struct CmeRungSettings {
    char name[32];     /* output subdirectory, e.g. "720p" */
    int width, height; /* even */
    int crf;           /* 1..63 */
    int preset;        /* SVT-AV1 enc_mode, -1..13 */
    int bit_depth;     /* 8 or 10 (0 = 8) */
} CmeRungSettings;

typedef struct CmeDeviceSettings {
    char backend[8]; /* "svt", "nvenc", "qsv", "vaapi" */
    char id[32];     /* "" = "<backend>:<n>" */
    int sessions;    /* concurrent encoders on this device */
    int threads;     /* software devices: encoder threads per session, 0 = default */
    int level;       /* forced AV1 level x10 (51 = 5.1), 0 = the encoder's choice; a
                      * device whose sequence header differs is excluded from a rung */
} CmeDeviceSettings;

typedef struct CmeJobSettings {
    const char *source;     /* input media file; borrowed until cme_engine_new returns */
    const char *output_dir; /* borrowed likewise */
    double segment_seconds; /* > 0 */
    int workers;            /* worker threads; used when nb_devices == 0 */
    int threads_per_worker; /* SVT-AV1 logical processors per encoder, 0 = default */
    int queue_depth;        /* chunks buffered per rung */
    CmeInvariantMode invariant;
    CmeRungSettings rungs[CME_MAX_RUNGS];
    int nb_rungs;
    CmeDeviceSettings devices[16];
    int nb_devices; /* 0: `workers` software (svt) slots */
    /* The audio rendition (AAC-LC or Opus, directory "audio"), made when the source has
     * audio; its language is the source stream's. */
    int audio;             /* 1 = encode the source's audio, 0 = leave it out */
    int audio_bitrate;     /* bits/s */
    int audio_channels;    /* 1..6 (6 = 5.1, down/upmixed), 0 = the source's (5.1 at most) */
    int audio_sample_rate; /* 44100 or 48000 (Opus: always 48000) */
    int audio_codec;       /* 0 AAC-LC, 1 Opus (CmeAudioCodec in mux.h) */
    /* Which audio streams become renditions ("audio", then "audio_2", ...): NULL or "" the
     * best one, "all", or 1-based audio stream numbers and ISO 639-2 languages ("1,3",
     * "eng,fra"); borrowed until cme_engine_new returns. */
    const char *audio_streams;
    /* Also one progressive MP4 per rung, "<output_dir>/<rung>.mp4" with the first audio
     * rendition muxed in (0: CMAF only, 1: CMAF and MP4); written when the job finishes. */
    int mp4_files;
    int resume; /* keep the segments an interrupted run of this job journaled */
} CmeJobSettings;

CME_API void cme_job_default_settings(CmeJobSettings *s);

typedef enum CmeEventType {
    CME_EVENT_INIT_WRITTEN = 1, /* a rung's init segment is written (codec string known) */
    CME_EVENT_SEGMENT_DONE,     /* a media segment is written */
    CME_EVENT_REQUEUE,          /* a chunk went back to the queue (see message) */
    CME_EVENT_FAILED,           /* the job failed (see message); JOB_DONE follows */
    CME_EVENT_JOB_DONE,         /* the last event of a job */
} CmeEventType;

typedef struct CmeEvent {
    CmeEventType type;
    int rung;       /* -1 for job events and audio */
    int is_audio;   /* INIT_WRITTEN / SEGMENT_DONE of the audio rendition */
    int resumed;    /* SEGMENT_DONE: kept from an earlier run (--resume) */
    uint32_t index; /* segment number (1-based, as in seg_%05d.m4s) */
    uint64_t bytes;
    uint64_t start, duration; /* in timescale units */
    uint32_t timescale;
    uint32_t frames;
    int device; /* device index in the pool, -1 if none */
    int attempts;
    double encode_seconds; /* wall time the worker spent on this segment */
    char device_id[32];
    char codecs[64];   /* INIT_WRITTEN */
    char message[512]; /* REQUEUE / FAILED */
} CmeEvent;

typedef struct CmeRungStats {
    uint64_t frames_in;      /* frames queued for the rung */
    uint64_t frames_encoded; /* packets received from encoders */
    uint32_t segments_done;
} CmeRungStats;

typedef struct CmeEngineStats {
    double elapsed; /* seconds since start */
    uint64_t frames_decoded;
    uint64_t decode_errors; /* damaged source packets/frames skipped or concealed */
    int64_t total_frames;   /* estimate from the container, -1 when unknown */
    int decode_done;
    int nb_rungs;
    CmeRungStats rungs[CME_MAX_RUNGS];
} CmeEngineStats;

typedef struct CmeSourceInfo {
    int width, height;
    int fps_num, fps_den;
    double duration;   /* seconds, -1 unknown */
    int64_t nb_frames; /* estimate, -1 unknown */
    char codec[32];
    int has_audio;
} CmeSourceInfo;

typedef struct CmeEngine CmeEngine;

/*
 * Validates the settings and opens the source (demux + decoder), writing nothing.
 * On failure returns CME_EINVAL (settings) or CME_EMEDIA/CME_EIO (source) with a message
 * in err that names the file or field; *out stays NULL.
 */
CME_API int cme_engine_new(CmeEngine **out, const CmeJobSettings *s, char *err, size_t errlen);
CME_API const CmeSourceInfo *cme_engine_source_info(const CmeEngine *e);
/* Creates the output directories and starts the threads. */
CME_API int cme_engine_start(CmeEngine *e, char *err, size_t errlen);
/* Pulls the next event, waiting up to timeout_ms (< 0: forever). 0 with *ev, CME_EAGAIN on
 * timeout, CME_EOF once JOB_DONE has been delivered. Policy thread only. */
CME_API int cme_engine_next_event(CmeEngine *e, CmeEvent *ev, int timeout_ms);
CME_API void cme_engine_stats(CmeEngine *e, CmeEngineStats *st);
/* Asks every thread to stop; the job ends with FAILED("canceled") + JOB_DONE. */
CME_API void cme_engine_cancel(CmeEngine *e, const char *why);
/*
 * Joins the threads and, when every segment of every rung is done, writes the manifests
 * (OUT/<rung>/index.m3u8, OUT/master.m3u8, OUT/manifest.mpd) atomically. Returns 0, or
 * the job's error with its message in err.
 */
CME_API int cme_engine_finish(CmeEngine *e, char *err, size_t errlen);
CME_API void cme_engine_free(CmeEngine **pe);

/* Opens a file just far enough to describe it (cmafeng probe). */
CME_API int cme_source_probe(const char *path, CmeSourceInfo *info, char *err, size_t errlen);

#endif /* CMAFENG_ENGINE_H */

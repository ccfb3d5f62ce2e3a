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

#define CME_MAX_JOB_DEVICES 16
#define CME_MAX_INSTANCES 16 /* encoder instances per (rung, device) */

typedef struct CmeRungSettings {
    char name[32];       /* output subdirectory, e.g. "720p" */
    int width, height;   /* even */
    int crf;             /* 1..63 */
    int preset;          /* SVT-AV1 enc_mode, -1..13 */
    int bit_depth;       /* 8 or 10 (0 = 8) */
    int instances;       /* encoder instances per device for this rung, 0 = the default */
    int64_t max_bitrate; /* capped CRF: bits/s, 0 = uncapped */
    int64_t buffer_size; /* the cap's buffer in bits, 0 = the encoder's default */
} CmeRungSettings;

typedef struct CmeDeviceSettings {
    char backend[8];   /* "svt", "nvenc", "qsv", "vaapi", "fault" (test builds) */
    char id[32];       /* "" = "<backend>:<n>" */
    int sessions;      /* concurrent encoders on this device */
    int threads;       /* software devices: encoder threads per session, 0 = default */
    int level;         /* forced AV1 level x10 (51 = 5.1), 0 = the encoder's choice; a
                        * device whose sequence header differs is excluded from a rung */
    char options[128]; /* backend-specific options (the fault backend's fault list) */
    int instances;     /* encoder instances per rung on this device, 0 = the default */
    int optional;      /* a device that cannot be used is skipped with a warning */
} CmeDeviceSettings;

/* 32 MiB: 10 1080p 4:2:0 8-bit frames, 2.5 at 2160p (the budget is a bound on read-ahead,
 * never a stall: workers that starve let the pump go on). The pump decodes far faster than
 * encoders encode, so this keeps them fed, and the peak memory of a 1080p ladder stays that
 * of its encoders (bench/ladder.sh prints it against ffmpeg's). */
#define CME_DEFAULT_FRAME_MEMORY_MB 32

typedef struct CmeJobSettings {
    const char *source;     /* input media file; borrowed until cme_engine_new returns */
    const char *output_dir; /* borrowed likewise */
    double segment_seconds; /* > 0 */
    int workers;            /* worker threads; used when nb_devices == 0 */
    int threads_per_worker; /* SVT-AV1 logical processors per encoder, 0 = default */
    int queue_depth;        /* chunks buffered per rung */
    /* Decoded source frames the job holds at most, in MiB (DESIGN.md section 3): the pump
     * reads ahead of the slowest rung until this much is held, and beyond it only while
     * every worker waits for a frame. Default CME_DEFAULT_FRAME_MEMORY_MB. */
    int frame_memory_mb;
    CmeInvariantMode invariant;
    CmeRungSettings rungs[CME_MAX_RUNGS];
    int nb_rungs;
    CmeDeviceSettings devices[CME_MAX_JOB_DEVICES];
    int nb_devices; /* 0: `workers` software (svt) slots */
    /* devices = "auto" (nb_devices 0): every hardware AV1 encoder device discovery finds,
     * each with its session cap; none: `workers` software slots, the reason on stderr. A
     * declared hardware device without an id resolves through discovery the same way. */
    int devices_auto;
    /* Limits the policy relies on (DESIGN.md section 3, decisions): an attempt that returns
     * no packet for stall_seconds fails with reason "stall"; a chunk is never begun more
     * than max_attempts times, whatever the policy answers. */
    double stall_seconds; /* > 0 */
    int max_attempts;     /* >= 1 */
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
    /* Also the DASH on-demand output: OUT/ondemand/<rendition>.mp4 (init + sidx +
     * fragments) and OUT/ondemand/manifest.mpd (isoff-on-demand profile). */
    int dash_ondemand;
    int resume; /* keep the segments an interrupted run of this job journaled */
    /* Where segments start (chunking policy): seconds from the first video frame, strictly
     * increasing, each > 0; segment k + 1 starts at the first frame at or past cuts[k]
     * (1 ms tolerance). NULL: every segment_seconds. Borrowed until cme_engine_new returns. */
    const double *cuts;
    int nb_cuts;
    /* HDR10 static metadata written by every rung's encoder (metadata OBUs) and init segment
     * (mdcv, clli); zero: none. The recipe layer fills it from the source by default. */
    CmeHdrMetadata hdr;
} CmeJobSettings;

CME_API void cme_job_default_settings(CmeJobSettings *s);

/* The states of a chunk (DESIGN.md section 3, chunk table). */
typedef enum CmeChunkState {
    CME_CHUNK_QUEUED = 0,
    CME_CHUNK_ENCODING,
    CME_CHUNK_AWAITING_POLICY,
    CME_CHUNK_DONE,
    CME_CHUNK_FAILED,
    CME_CHUNK_NB_STATES
} CmeChunkState;
/* "queued", "encoding", "awaiting_policy", "done", "failed". */
CME_API const char *cme_chunk_state_name(CmeChunkState s);

/* Why an attempt failed. X(name, lua_name) */
#define CME_FAIL_REASON_MAP(X)                                                    \
    X(NONE, "none")                                                               \
    X(OPEN, "open")           /* no encoder instance could take the chunk */      \
    X(SEND, "send")           /* the encoder refused a frame */                   \
    X(RECEIVE, "receive")     /* the encoder failed returning a packet */         \
    X(FLUSH, "flush")         /* the end-of-stream flush failed or lost frames */ \
    X(MUX, "mux")             /* the segment could not be built */                \
    X(WRITE, "write")         /* the segment file could not be written */         \
    X(INVARIANT, "invariant") /* the sequence header differs from the rung's */   \
    X(BITSTREAM, "bitstream") /* a packet is not a valid AV1 temporal unit */     \
    X(STALL, "stall")         /* no packet for stall_seconds */                   \
    X(CANCELED, "canceled")

typedef enum CmeFailReason {
#define CME_FAIL_ENUM_(name, str) CME_FAIL_##name,
    CME_FAIL_REASON_MAP(CME_FAIL_ENUM_)
#undef CME_FAIL_ENUM_
        CME_FAIL_NB_REASONS
} CmeFailReason;
CME_API const char *cme_fail_reason_name(CmeFailReason r);

typedef enum CmeEventType {
    CME_EVENT_INIT_WRITTEN = 1, /* a rung's init segment is written (codec string known) */
    CME_EVENT_SEGMENT_DONE,     /* a media segment is written */
    CME_EVENT_CHUNK_FAILED,     /* an attempt failed: the chunk awaits a decision
                                 * (cme_engine_decide); reason, message, attempt */
    CME_EVENT_DEVICE_EXCLUDED,  /* a device's sequence header differs from the rung's */
    CME_EVENT_WORKER_MOVED,     /* a worker took a chunk of another rung than before */
    CME_EVENT_FAILED,           /* the job failed (see message); JOB_DONE follows */
    CME_EVENT_JOB_DONE,         /* the last event of a job */
} CmeEventType;

typedef struct CmeEvent {
    CmeEventType type;
    int rung;     /* -1 for job events and audio */
    int is_audio; /* INIT_WRITTEN / SEGMENT_DONE of an audio rendition */
    int is_text;  /* SEGMENT_DONE of a subtitle (WebVTT) rendition; rung is -1 */
    /* Audio and text: the rendition's directory ("audio_2", "subs"); "" for the first audio
     * rendition ("audio") and for video. language: ISO 639-2 ("eng"), "" when unknown. */
    char rendition[32];
    char language[8];
    int resumed;    /* SEGMENT_DONE: kept from an earlier run (--resume) */
    int requeued;   /* SEGMENT_DONE: replaces a segment written before (cme_engine_requeue) */
    uint32_t index; /* segment number (1-based, as in seg_%05d.m4s) */
    uint64_t bytes;
    uint64_t start, duration; /* in timescale units */
    uint32_t timescale;
    uint32_t frames;
    int device; /* device index in the pool, -1 if none */
    int attempts;
    int worker;            /* worker number (0-based), -1 if none */
    int instance;          /* encoder instance of (rung, device), -1 if none */
    int from_rung;         /* WORKER_MOVED: the rung the worker served before, -1 none */
    CmeFailReason reason;  /* CHUNK_FAILED */
    double wall_time;      /* seconds since the Unix epoch when the event was posted */
    double encode_seconds; /* wall time the worker spent on this segment */
    char device_id[32];
    char codecs[64];   /* INIT_WRITTEN */
    char message[512]; /* REQUEUE / FAILED */
} CmeEvent;

typedef struct CmeRungStats {
    uint64_t frames_in;      /* frames queued for the rung */
    uint64_t frames_encoded; /* packets received from encoders */
    uint32_t segments_done;
    double seconds_done;             /* media seconds of the segments written */
    int chunks[CME_CHUNK_NB_STATES]; /* chunks in each state */
    int instances;                   /* encoder instances open */
    int busy;                        /* instances held by workers now */
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

/* A decision of the policy on a chunk that awaits one (CHUNK_FAILED). */
typedef enum CmeDecisionAction {
    CME_DECIDE_RETRY = 1, /* queue it again, with the overrides below */
    CME_DECIDE_SKIP,      /* the chunk fails; the rung (and so the job) fails, naming it */
    CME_DECIDE_ABORT,     /* the job fails now */
} CmeDecisionAction;

typedef struct CmeDecision {
    CmeDecisionAction action;
    int device; /* retry: only this device (pool index), -1 any allowed device */
    int avoid;  /* retry: never this device again for the chunk, -1 none */
    int crf;    /* retry: -1 the rung's */
    int preset; /* retry: -1 the rung's */
    char why[256];
} CmeDecision;

/*
 * Applies a decision to chunk `index` (0-based) of rung `rung`. Policy thread. CME_EINVAL
 * with a message naming what is wrong (no such chunk, not awaiting a decision, a device
 * that does not serve the rung, an override the device's backend cannot honour, the
 * attempt limit reached).
 */
CME_API int cme_engine_decide(CmeEngine *e, int rung, uint32_t index, const CmeDecision *d,
                              char *err, size_t errlen);

/* One chunk as the chunk table has it (run:chunks() in the REPL, report.json). */
typedef struct CmeChunkInfo {
    int rung;
    uint32_t index;
    CmeChunkState state;
    int attempt, worker, device, instance;
    CmeFailReason reason;
    char message[256];
    double encode_seconds;
    int crf, preset; /* used by the last attempt */
    int decisions;
    int requeues; /* cme_engine_requeue calls that put it back */
    int resumed;
    uint64_t bytes, start, duration; /* done */
} CmeChunkInfo;
/* Fills out[] with the rung's chunks from index `first`; returns how many (<= max). */
CME_API int cme_engine_chunks(CmeEngine *e, int rung, uint32_t first, CmeChunkInfo *out, int max);

/* Fails encoding chunks whose attempt made no progress for stall_seconds (reason stall).
 * Policy thread; cme_engine_next_event calls it on every wake-up too. */
CME_API void cme_engine_check_stalls(CmeEngine *e);

/* The rung workers with nothing queued on their own rung help first (the recipe's
 * pick_rung hook); -1 returns to the default, the rung furthest behind in encoded
 * seconds. */
CME_API void cme_engine_prefer_rung(CmeEngine *e, int rung);

/* Workers claim no new chunk while paused; chunks being encoded finish. */
CME_API void cme_engine_pause(CmeEngine *e, int paused);

/*
 * Encodes finished segment `index` (0-based) of rung `rung` again while the job runs (the
 * REPL's run:requeue): the chunk's frames are decoded again from the source (the engine
 * let go of them when the segment was done), the chunk goes back to the head of the rung's
 * queue as a new attempt, and a parked encoder instance of the rung takes it (forced key
 * frame and sequence header at its start, the codec invariant checked as for any chunk).
 * The new file replaces the old one atomically (temp + fsync + rename) and a SEGMENT_DONE
 * with `requeued` set follows; the manifests written at the end of the job and the journal
 * use the new segment. Policy thread; decoding the chunk again blocks it for that long.
 * CME_EINVAL (no such rung or chunk), CME_ESTATE (the chunk is not done, or the job is not
 * running: once it has ended its encoder instances are closed), CME_EUNSUPPORTED (no
 * instance of the rung is left to take it), CME_EMEDIA (the source does not give the same
 * frames again), each with a message in err.
 */
CME_API int cme_engine_requeue(CmeEngine *e, int rung, uint32_t index, char *err, size_t errlen);

/*
 * Chunks of the rung claimed from now on are encoded with this crf and preset (-1: keep
 * the current one), each on an encoder instance opened for it (the REPL's run:set). Only
 * backends that can open an encoder mid-job allow it (the lavc and oneVPL backends, not
 * SVT-AV1 1.4.1, which takes crf and preset only when an instance is opened and cannot
 * open one while another encodes): CME_EUNSUPPORTED with a message naming the device
 * otherwise; CME_EINVAL for a value out of range; CME_ESTATE when the job is not running.
 * Policy thread.
 */
CME_API int cme_engine_set_rung(CmeEngine *e, int rung, int crf, int preset, char *err,
                                size_t errlen);

/* A device as the process-wide pool has it (cmafeng devices, run:devices()). */
typedef struct CmeDeviceInfo {
    char id[32];
    char backend[16];
    int sessions; /* session cap */
    int in_use;   /* leased now, by every job of the process */
    int waiters;  /* workers waiting for a lease */
    int max_width, max_height;
    int ten_bit;
    int midjob_open; /* instances may be opened while others encode */
} CmeDeviceInfo;
/* The pool index of the job's device with this id, or -1. */
CME_API int cme_engine_device_index(CmeEngine *e, const char *id);
/* The id of pool device `device` into out ("" when there is none); returns out. */
CME_API const char *cme_engine_device_id(CmeEngine *e, int device, char *out, size_t n);
/* The devices this job uses, in the pool's order; returns how many (<= max). */
CME_API int cme_engine_devices(CmeEngine *e, CmeDeviceInfo *out, int max);
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

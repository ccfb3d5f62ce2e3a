/*
 * The job: shared state of one engine run, seen by the decode pump (media/pump.c), the
 * workers (worker/worker.c) and the policy thread (job/engine.c, the public API).
 *
 * Locks, and their order when nested: job->sched_lock (worker claims, parked encoders)
 * -> a rung's queue lock (inside chunk_queue.c). rung->lock (invariant, segment table),
 * a source chunk's lock (frames of a chunk still filling), job->fail_lock and
 * job->events_lock are leaves: nothing else is taken while holding them.
 */
#ifndef CME_JOB_JOB_H
#define CME_JOB_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "cmafeng/av1.h"
#include "cmafeng/engine.h"
#include "cmafeng/mux.h"
#include "core/signal.h"
#include "media/source.h"
#include "sched/chunk_queue.h"
#include "sched/chunk_table.h"
#include "sched/lease_pool.h"

/* The media timescale of every track: 90 kHz represents the usual frame rates exactly
 * (25, 30, 50, 60, 24000/1001 ...) and is what HLS and DASH tooling expect. */
#define CME_TIMESCALE 90000

/*
 * K consecutive decoded source frames, shared by reference by every rung's chunk.
 *
 * A chunk is published to the rung queues when its first frame is decoded and filled
 * while workers already encode it: waiting for all K frames before any encoder starts
 * left the cores idle for a whole segment of decoding at the start of every job. The
 * pump appends under `lock` and broadcasts `cond`; a worker waits for frame i with
 * cme__src_chunk_frame(). `complete` is set once the last frame's duration is known;
 * from then on nb_frames and every array are final and read without the lock. The pump
 * publishes a chunk only when every rung queue has room, so it never blocks while a
 * published chunk is incomplete (a worker waiting on a frame could otherwise wait for a
 * pump that waits for that worker's queue).
 */
typedef struct CmeSrcChunk {
    atomic_int refs;
    uint32_t index;
    int capacity; /* K */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready;     /* frames appended so far; guarded by lock */
    int complete;  /* guarded by lock; set once, after the last append */
    int nb_frames; /* final frame count, valid once complete */
    AVFrame **frames;
    int64_t *pts;      /* CME_TIMESCALE units */
    int64_t *duration; /* CME_TIMESCALE units, valid once complete */
} CmeSrcChunk;

/* Frame i of the chunk, waiting until the pump has decoded it; NULL when the chunk is
 * complete with fewer frames. Worker threads. */
const AVFrame *cme__src_chunk_frame(CmeSrcChunk *c, int i);
/* Waits until the chunk is complete (its frame count and durations are final). */
void cme__src_chunk_wait_complete(CmeSrcChunk *c);
void cme__src_chunk_unref(CmeSrcChunk **pc);

struct CmeEncSlot;

typedef struct CmeRung {
    CmeRungSettings set;
    int index;
    CmeChunkQueue queue;

    /* Guarded by job->sched_lock. */
    struct CmeEncSlot *parked; /* idle instances of this rung, possibly holding output */
    int busy_encoders;         /* instances held by workers now */
    int open[CME_MAX_DEVICES]; /* instances open (parked or busy) per pool device */
    int cap[CME_MAX_DEVICES];  /* instances per pool device; 0: the device does not
                                * serve the rung */
    uint64_t excluded;         /* bit d: device d produced a mismatching sequence header */
    int set_active;            /* run:set: chunks claimed from now on use set_crf and
                                * set_preset (-1: the rung's), on one-off instances */
    int set_crf, set_preset;
    atomic_uint_fast64_t ticks_done; /* media time of the written segments (CME_TIMESCALE) */

    /* Guarded by lock. */
    pthread_mutex_t lock;
    int inv_set; /* the codec invariant: set by the first valid packet */
    /* The header the rung expects before its first packet: the first serving device's,
     * read at start where the backend tells it (cme__encoder_sequence_header). A first
     * packet that differs from it is a mismatch rather than the rung's invariant. */
    int unchecked; /* an instance's header could not be read at start (checked on its first
                    * packet only); guarded by job->sched_lock after start */
    int exp_set;
    CmeAv1SeqHdr exp_seq;
    uint8_t exp_obu[512];
    size_t exp_obu_size;
    CmeAv1SeqHdr seq;
    uint8_t *seq_obu;
    size_t seq_obu_size;
    char codecs[64];
    CmeSegmentEntry *segs; /* by chunk index */
    uint8_t *seg_done;
    size_t segs_cap;

    atomic_uint_fast64_t frames_in;
    atomic_uint_fast64_t frames_fed;
    atomic_uint_fast64_t frames_encoded;
    atomic_uint segments_done;
    atomic_int total_chunks; /* -1 until the pump reaches the end */
} CmeRung;

/* The audio rendition; written by the pump thread only, read by the policy thread after
 * the threads are joined. */
typedef struct CmeAudioRung {
    struct CmeAudio *enc; /* NULL: the job has no audio */
    char codecs[16];
    int init_written;
    uint64_t next_time;       /* output samples muxed so far */
    uint64_t segment_samples; /* nominal segment length, aligned with the video chunks */
    CmeSegmentEntry *segs;
    size_t nb_segs, segs_cap;
} CmeAudioRung;

typedef struct CmeJob {
    CmeJobSettings set;
    char source[1024];
    char output[1024];
    CmeSource *src;
    CmeSourceInfo info;
    int color_primaries, transfer, matrix, full_range;
    int chunk_frames; /* K: frames per chunk, or with cuts the most any segment can hold */
    double *cuts;     /* CmeJobSettings.cuts, owned; NULL: every K frames */
    int nb_cuts;

    CmeRung rungs[CME_MAX_RUNGS];
    int nb_rungs;
    CmeAudioRung audio;
    int audio_streams[CME_MAX_AUDIO]; /* AVStream indexes: [0] the pump's, the rest a pass each */
    int nb_audio_streams;
    CmeLeasePool *pool; /* the process's (cme__device_pool), shared with other jobs */
    uint64_t dev_mask;  /* bit d: pool device d serves this job */
    int dev_order[CME_MAX_JOB_DEVICES]; /* the job's pool devices in the recipe's order */
    int nb_devs;
    CmeChunkTable ct; /* the state of every chunk */
    CmeSignal work;   /* any queue changed, an encoder was parked, or the job failed */
    pthread_mutex_t sched_lock;
    atomic_int prefer_rung; /* the policy's pick_rung for helpers, -1: furthest behind */
    atomic_int paused;      /* workers claim nothing new (encoding chunks finish) */
    double stall_seconds;   /* from the recipe */
    atomic_int dev_failures[CME_MAX_DEVICES]; /* failed attempts per pool device */
    struct CmeEncSlot *retired; /* drained or broken instances, closed at teardown (SVT-AV1
                                 * 1.4.1 instances are not closed while others encode);
                                 * guarded by sched_lock */
    atomic_int next_worker;     /* worker numbers */

    pthread_t pump_thread;
    pthread_t *worker_threads;
    int nb_workers;
    int started;
    atomic_int live_threads;

    atomic_int failed;
    pthread_mutex_t fail_lock;
    int fail_code;
    char fail_msg[512];

    pthread_mutex_t events_lock;
    pthread_cond_t events_cond;
    CmeEvent *events;
    size_t nb_events, events_cap, events_head;
    int done_delivered;
    int threads_done; /* every engine thread has exited; guarded by events_lock */

    atomic_uint_fast64_t frames_decoded;
    atomic_uint_fast64_t decode_errors;
    atomic_int decode_done;
    double t_start;
} CmeJob;

/* The public handle (cmafeng/engine.h): the job is all of it. */
struct CmeEngine {
    CmeJob job;
};

/* Records the first failure, closes every queue and wakes every thread. Any thread. */
void cme__job_fail(CmeJob *job, int code, const char *fmt, ...) CME_PRINTF(3, 4);
/*
 * The one path of every failed attempt (DESIGN.md section 3): chunk (rung, index) in its
 * attempt `attempt` goes to awaiting_policy with the reason, and a CHUNK_FAILED event
 * naming rung, index, device, worker, instance and attempt goes to the policy thread.
 * Returns CME_ESTATE when the attempt is no longer the chunk's current one (nothing is
 * recorded twice). Any thread.
 */
int cme__job_chunk_fail(CmeJob *job, int rung, uint32_t index, int attempt, int worker, int device,
                        int instance, CmeFailReason reason, const char *fmt, ...) CME_PRINTF(9, 10);
/* Appends an event for the policy thread. Any thread. */
void cme__job_post(CmeJob *job, const CmeEvent *ev);
/* Called by every engine thread as it exits; the last one posts JOB_DONE. */
void cme__job_thread_exit(CmeJob *job);

void *cme__pump_main(void *job);
void *cme__worker_main(void *job);

#endif

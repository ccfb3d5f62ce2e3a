/*
 * The scheduler's state of one job: its rungs (queue, parked encoder instances, codec
 * invariant, segment table), the chunk table, the devices it leases, failure and the
 * event queue to the policy thread. The job (job/engine.c, the public API) builds and
 * owns it; the workers (worker/worker.c) and the pump's sink (job/pump_sink.c) share it.
 * It lives here, below the workers, so that nothing below job/ includes job/.
 *
 * Every lock of the engine, outermost first; a thread holding one takes only locks below
 * it in this list, and the leaves nothing at all:
 *   1. job->sched_lock: worker claims, parked and open instances, helper moves.
 *   2. a rung's queue lock (chunk_queue.c) or the chunk table's lock (chunk_table.c), taken
 *      under sched_lock; never both at once, and neither calls out while held. Or a source
 *      chunk's lock (media/src_chunk.c: frames still filling; a claim asks whether a
 *      suspended chunk's next frame is there), which may take the frame budget's lock.
 *   leaves: rung->lock (invariant and kept segments; held while init.mp4 is written), the
 *      frame budget's lock (media/src_chunk.c), the lease pool's
 *      lock (lease_pool.c; chunk_fail takes it after the chunk table's is released),
 *      job->fail_lock, job->events_lock, a CmeSignal's lock (core/signal.c; queues notify
 *      with their own lock released), SVT-AV1's init lock (enc/svtav1.c, held across a
 *      library init; encoders are opened with no engine lock held: at start on the
 *      policy thread, and one-off instances by a worker between claims) and the fault
 *      backend's fired_lock (enc/fault.c, test builds).
 */
#ifndef CME_SCHED_JOB_STATE_H
#define CME_SCHED_JOB_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cmafeng/av1.h"
#include "cmafeng/engine.h"
#include "cmafeng/mux.h"
#include "core/signal.h"
#include "core/timescale.h"
#include "sched/chunk_queue.h"
#include "sched/chunk_table.h"
#include "sched/lease_pool.h"

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

/* Writes the rung's init segment from its new invariant; called with rung->lock held.
 * 0 or a negative error. */
typedef int (*CmeRungInitWriter)(void *opaque, CmeRung *rung);

/*
 * The codec invariant (DESIGN.md section 3) for a chunk's first sequence header: MATCH,
 * MISMATCH (diffs[0..*nb_diffs) name the fields, or *nb_diffs < 0 when the comparison
 * failed), SET: the header became the rung's invariant and write_init wrote init.mp4, or a
 * negative error when it could not be recorded (CME_ENOMEM, or write_init's error).
 * A rung with a header expected at start (cme__rung_expect) compares the first header
 * against it, so a device whose stream changed cannot become the reference by being fast.
 * Any worker thread; takes rung->lock.
 */
int cme__rung_check_invariant(CmeRung *rung, CmeInvariantMode mode, const CmeAv1SeqHdr *seq,
                              const uint8_t *obu, size_t size, CmeAv1FieldDiff *diffs,
                              int max_diffs, int *nb_diffs, CmeRungInitWriter write_init,
                              void *opaque);
/* The invariant of an earlier run (its init.mp4), before any thread runs. */
int cme__rung_restore_invariant(CmeRung *rung, const CmeAv1SeqHdr *seq, const uint8_t *obu,
                                size_t size);
/* The header the rung expects before its first packet (read from a device at start). */
int cme__rung_expect(CmeRung *rung, const CmeAv1SeqHdr *seq, const uint8_t *obu, size_t size);
/* Segment `index` (from 0) of an earlier run is kept: 1, 0 when it already was, or
 * CME_ENOMEM. */
int cme__rung_keep_segment(CmeRung *rung, uint32_t index, const CmeSegmentEntry *seg);
/* 1 with *out when segment `index` was kept from an earlier run, else 0. */
int cme__rung_kept_segment(CmeRung *rung, uint32_t index, CmeSegmentEntry *out);

/* The audio rendition; written by the pump thread only, read by the policy thread after
 * the threads are joined. */
typedef struct CmeAudioRung {
    struct CmeAudio *enc; /* NULL: the job has no audio */
    char codecs[16];
    int init_written;
    uint64_t segment_samples; /* nominal segment length, aligned with the video chunks */
    CmeSegmentEntry *segs;
    size_t nb_segs, segs_cap;
} CmeAudioRung;

/*
 * A worker inside an encoder call, as the policy thread sees it: a call that has not
 * returned for 5 x stall_seconds is taken for a wedged library (SVT-AV1 blocked in
 * send_picture forever, seen with 1.4.1), and the job gives the worker up instead of
 * waiting for it forever (cme_engine_check_stalls). The worker leaves by pthread_exit when
 * it comes back to find itself abandoned.
 */
typedef struct CmeWorkerCall {
    atomic_llong since_us; /* cme__now() in microseconds at the call; 0: in no call */
    atomic_int abandoned;
    atomic_int rung, device; /* of the call; atomic, as the policy thread may read them while
                              * the worker starts its next call */
} CmeWorkerCall;

typedef struct CmeJob {
    CmeJobSettings set;
    char source[1024];
    char output[1024];
    struct CmeSource *src;
    struct CmeFrameBudget *budget; /* decoded frames held (media/src_chunk.h) */
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
    /* The last engine thread, every chunk settled and the job not failed: the job's own
     * work before JOB_DONE (the extra audio and text renditions). May fail the job. */
    void (*before_done)(struct CmeJob *job);
    /* A segment file is written and synced (the run journal records it). Worker threads. */
    void (*segment_written)(struct CmeJob *job, const CmeRung *rung, uint32_t index,
                            const CmeSegmentEntry *seg);

    pthread_t pump_thread;
    pthread_t *worker_threads;
    CmeWorkerCall *calls; /* one per worker thread, by worker number */
    atomic_int nb_abandoned;
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

#endif

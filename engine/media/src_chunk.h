/*
 * Source chunks: the decoded frames of one segment, shared by reference by every rung
 * (DESIGN.md section 2). The decode pump fills them (media/pump.c); workers read them.
 */
#ifndef CME_MEDIA_SRC_CHUNK_H
#define CME_MEDIA_SRC_CHUNK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "core/timescale.h"

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
 *
 * Frames are let go as soon as every rung's first attempt has sent them to its encoder
 * (encoders copy their input): a rung claims the chunk once (cme__src_chunk_claim) and
 * releases frame by frame. A later attempt (a retry) pins the frames still there or, when
 * some are gone, decodes the chunk again from the source (media/reload.c). So the frames a
 * job holds are those decoded but not yet sent by every rung, bounded by a CmeFrameBudget.
 */
struct CmeFrameBudget;

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
    int *uses;         /* per frame: first attempts that have not sent it yet; guarded by lock */
    int consumers;     /* rungs whose first attempt will send the frames; set before publish */
    atomic_uint_fast64_t claimed;  /* bit r: rung r's first attempt claimed the frames */
    int waiting;                   /* workers waiting in cme__src_chunk_frame; guarded by lock */
    struct CmeFrameBudget *budget; /* NULL: frames are not counted */
} CmeSrcChunk;

/*
 * The bytes of decoded frames a job holds, and the pump's brake (DESIGN.md section 3:
 * frames in flight are bounded in bytes). The pump decodes on while the bytes held are
 * under the limit, and beyond it only while every worker starves: waits for a frame or
 * for work (nobody else would release any; the limit bounds read-ahead, it never
 * deadlocks). A worker that is sending, draining or muxing will release frames or come
 * back to wait, so the pump waits for it, up to a safety valve the pump keeps. Its lock
 * is a leaf.
 */
typedef struct CmeFrameBudget {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int64_t limit; /* bytes; <= 0: no limit */
    int64_t bytes; /* decoded frames held now */
    int64_t peak;
    int workers; /* workers of the job (cme__frame_budget_join) */
    int waiting; /* of them, waiting for a frame (cme__src_chunk_frame) or for work */
} CmeFrameBudget;

int cme__frame_budget_init(CmeFrameBudget *b, int64_t limit);
void cme__frame_budget_destroy(CmeFrameBudget *b);
/* A worker joins the job (it holds its lease) or leaves it. Worker threads. */
void cme__frame_budget_join(CmeFrameBudget *b);
void cme__frame_budget_leave(CmeFrameBudget *b);
/* A worker starts (+1) or stops (-1) waiting for work. Worker threads. */
void cme__frame_budget_idle(CmeFrameBudget *b, int delta);
/* Pump thread: 0 when the next frame may be decoded, CME_EAGAIN after timeout_ms without
 * room (the caller checks whether to stop, then waits again); *idle: no worker has
 * joined. */
int cme__frame_budget_wait(CmeFrameBudget *b, int timeout_ms, int *idle);
/* 1 when the frames held fill the budget (b may be NULL: never). */
int cme__frame_budget_over(CmeFrameBudget *b);
/* Bytes held now and at most so far. */
void cme__frame_budget_stats(CmeFrameBudget *b, int64_t *bytes, int64_t *peak);

/* Frame i of the chunk, waiting until the pump has decoded it; NULL when the chunk is
 * complete with fewer frames. Worker threads. */
const AVFrame *cme__src_chunk_frame(CmeSrcChunk *c, int i);
/* 1 when frame i is decoded or the chunk is complete (cme__src_chunk_frame would not
 * wait). Any thread; takes the chunk's lock (after the sched lock, in claims). */
int cme__src_chunk_ready(CmeSrcChunk *c, int i);
/* Waits until the chunk is complete (its frame count and durations are final). */
void cme__src_chunk_wait_complete(CmeSrcChunk *c);
void cme__src_chunk_unref(CmeSrcChunk **pc);
/* A new, empty chunk of at most k frames with one reference, its frames counted in budget
 * (may be NULL); NULL when out of memory. */
CmeSrcChunk *cme__src_chunk_new(uint32_t index, int k, CmeFrameBudget *budget);
/* How many rungs' first attempts will send the frames. Pump thread, before the chunk is
 * handed to any rung. */
void cme__src_chunk_set_consumers(CmeSrcChunk *c, int n);
/* Rung r's attempt starts sending the chunk: 1 when it is the rung's first (it then
 * releases each frame it has sent with cme__src_chunk_release), 0 for a later one (it
 * takes the frames with cme__src_chunk_pin). Worker threads. */
int cme__src_chunk_claim(CmeSrcChunk *c, int r);
/* The claiming attempt has sent frame i: the last rung to do so frees it. */
void cme__src_chunk_release(CmeSrcChunk *c, int i);
/* Waits for the chunk to be complete, then references every frame into out[nb_frames]
 * (the caller frees them): 0, or CME_EAGAIN when some frame was released already (decode
 * the chunk again), CME_ENOMEM. Worker threads. */
int cme__src_chunk_pin(CmeSrcChunk *c, AVFrame **out);
/* Appends a decoded frame (the chunk takes the reference). The previous frame's duration
 * is known now. Pump thread. */
void cme__src_chunk_append(CmeSrcChunk *c, AVFrame *f, int64_t pts);
/* Seals the chunk; the last frame lasts last_duration. Pump thread. */
void cme__src_chunk_complete(CmeSrcChunk *c, int64_t last_duration);
/* Another reference (the chunk table's, a rung's ticket). Any thread. */
void cme__src_chunk_ref(CmeSrcChunk *c);

#endif

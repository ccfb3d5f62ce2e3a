/*
 * Per-rung chunk queue (DESIGN.md section 3): bounded in chunks, FIFO, close-then-drain.
 *
 * - push blocks while the queue holds `capacity` chunks (backpressure on the decode pump).
 * - requeue puts a chunk back at the head whatever the capacity: a chunk is never lost.
 * - after close, pop returns the remaining chunks, then CME_ECLOSED; push fails.
 * - a chunk carries the set of devices excluded for it; pop_for(device) skips chunks that
 *   exclude the device without reordering the others.
 * Every state change notifies the optional shared CmeSignal, so a worker can wait on
 * "any rung has work" with one sleep.
 */
#ifndef CME_SCHED_CHUNK_QUEUE_H
#define CME_SCHED_CHUNK_QUEUE_H

#include <pthread.h>
#include <stdint.h>

#include "core/signal.h"

typedef struct CmeChunk {
    int rung;
    uint32_t index;        /* segment index within the rung, 0-based */
    int attempts;          /* encode attempts so far */
    uint64_t excluded;     /* bit d set: device d may not encode this chunk */
    int crf, preset;       /* overrides from a retry decision, -1: the rung's */
    void *payload;         /* owned by the job (source frames, timestamps) */
    struct CmeChunk *next; /* queue link; owned by the queue while queued */
} CmeChunk;

typedef struct CmeChunkQueue {
    pthread_mutex_t lock;
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    CmeChunk *head, *tail;
    int count;
    int capacity;
    int closed;
    CmeSignal *notify; /* may be NULL */
} CmeChunkQueue;

int cme__chunkq_init(CmeChunkQueue *q, int capacity, CmeSignal *notify);
/* The queue must be empty (drained) or its chunks are leaked to the caller's care. */
void cme__chunkq_destroy(CmeChunkQueue *q);
/* Blocks while full. CME_ECLOSED when the queue is (or becomes) closed: the caller keeps
 * ownership of the chunk. */
int cme__chunkq_push(CmeChunkQueue *q, CmeChunk *c);
/* Blocks until the queue has room for one more chunk: 0, or CME_ECLOSED. */
int cme__chunkq_wait_room(CmeChunkQueue *q);
/* Appends c at the tail whatever the capacity (after wait_room). CME_ECLOSED when closed:
 * the caller keeps ownership. */
int cme__chunkq_push_now(CmeChunkQueue *q, CmeChunk *c);
/* Puts c back at the head, ignoring capacity; works on a closed queue too. */
void cme__chunkq_requeue(CmeChunkQueue *q, CmeChunk *c);
/* Non-blocking: 0 with *out, CME_EAGAIN when no eligible chunk is queued, CME_ECLOSED when
 * closed and empty. device < 0 takes any chunk. */
int cme__chunkq_try_pop(CmeChunkQueue *q, int device, CmeChunk **out);
/* Blocking pop (timeout_ms < 0: forever): 0, CME_ECLOSED or CME_ETIMEDOUT. */
int cme__chunkq_pop(CmeChunkQueue *q, int device, CmeChunk **out, int timeout_ms);
/* Unlinks the first chunk that no device in `servable` may take (bit d: device d has an
 * encoder instance for the rung): 0 with *out, or CME_EAGAIN. Such a chunk would wait
 * forever; the caller fails it. */
int cme__chunkq_pop_unservable(CmeChunkQueue *q, uint64_t servable, CmeChunk **out);
/* Index of the chunk at the head that device may take, or -1. */
int64_t cme__chunkq_peek_index(CmeChunkQueue *q, int device);
void cme__chunkq_close(CmeChunkQueue *q);
/* 1 when closed and empty: nothing will ever come out again (requeue aside). */
int cme__chunkq_drained(CmeChunkQueue *q);
int cme__chunkq_count(CmeChunkQueue *q);

#endif

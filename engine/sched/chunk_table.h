/*
 * The chunk table (DESIGN.md section 3): the one record of where every chunk of every
 * rung is. A chunk is in exactly one state:
 *
 *   queued --begin--> encoding{worker, device, instance, attempt}
 *   encoding --done--> done{segment}
 *   encoding --chunk_fail(reason)--> awaiting_policy{reason}
 *   awaiting_policy --retry(overrides)--> queued        (a decision of the policy)
 *   awaiting_policy --give_up--> failed{reason}         (a decision of the policy)
 *   done --requeue(payload)--> queued                   (by hand: run:requeue in the REPL)
 *
 * Every transition is a function that checks it is legal and returns CME_ESTATE when it is
 * not (a worker whose chunk was declared stalled meanwhile learns it that way, and drops
 * its late output). Every error path of the engine (open, send, receive, EOS flush, mux,
 * write, invariant, bitstream, stall) reaches awaiting_policy through cme__ct_fail, which
 * records the reason with rung, index, device and attempt.
 *
 * The table also keeps one reference to each chunk's payload (the shared source frames)
 * from add until done or failed, so that a retry can be queued again whatever happened
 * to the worker's ticket. Payloads are opaque here: the owner passes ref/unref. A done
 * chunk has none; a requeue brings a new one (the caller decodes the frames again).
 *
 * Locking: one mutex, a leaf lock (nothing else is taken while it is held; the unref
 * callback is called after it is released). Any thread.
 */
#ifndef CME_SCHED_CHUNK_TABLE_H
#define CME_SCHED_CHUNK_TABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cmafeng/engine.h"
#include "cmafeng/mux.h"

typedef struct CmeChunkRecord {
    CmeChunkState state;
    int attempt;  /* encode attempts begun so far (1 = first) */
    int worker;   /* encoding: who holds it; afterwards: who last held it; -1 none */
    int device;   /* device pool index of the last attempt, -1 none */
    int instance; /* encoder instance of the last attempt, -1 none */
    int writing;  /* encoding: its segment is being written; a stall cannot take it */
    CmeFailReason reason;
    char message[256]; /* of the last failure */
    double t_begin, t_progress;
    double encode_seconds; /* summed over attempts */
    /* What the next attempt must use (set by a retry decision). */
    int only_device;   /* device pool index, -1: any device the rung allows */
    uint64_t excluded; /* bit d: device d may not take the chunk */
    int crf, preset;   /* -1: the rung's */
    int decisions;     /* decisions applied so far */
    int resumed;       /* done: kept from an earlier run */
    int requeues;      /* done -> queued transitions (run:requeue) so far */
    CmeSegmentEntry seg;
    void *payload; /* one reference while not done or failed */
} CmeChunkRecord;

typedef struct CmeChunkTableRung {
    CmeChunkRecord *c;
    size_t nb, cap;
    int total; /* -1 until the source is fully cut */
} CmeChunkTableRung;

typedef struct CmeChunkTable {
    pthread_mutex_t lock;
    int nb_rungs;
    CmeChunkTableRung rungs[CME_MAX_RUNGS];
    int counts[CME_MAX_RUNGS][CME_CHUNK_NB_STATES];
    void (*payload_ref)(void *);
    void (*payload_unref)(void *);
} CmeChunkTable;

int cme__ct_init(CmeChunkTable *t, int nb_rungs, void (*ref)(void *), void (*unref)(void *));
void cme__ct_destroy(CmeChunkTable *t);

/* A new chunk, queued. Indices come in order from 0: index must equal the rung's count
 * (CME_ESTATE otherwise). Takes a reference to payload (may be NULL in tests). */
int cme__ct_add(CmeChunkTable *t, int rung, uint32_t index, void *payload);
/* A chunk kept from an earlier run (--resume): added directly as done. */
int cme__ct_add_done(CmeChunkTable *t, int rung, uint32_t index, const CmeSegmentEntry *seg);
/* The source is cut: the rung has exactly total chunks. */
void cme__ct_set_total(CmeChunkTable *t, int rung, int total);

/* queued -> encoding. *attempt gets the attempt number, the caller's token for the
 * transitions that follow. */
int cme__ct_begin(CmeChunkTable *t, int rung, uint32_t index, int worker, int device, int instance,
                  double now, int *attempt);
/* The attempt made progress (a frame sent, a packet back): the stall clock restarts. */
void cme__ct_progress(CmeChunkTable *t, int rung, uint32_t index, int attempt, double now);
/* The attempt is about to write its segment: 0, or CME_ESTATE when the attempt is no longer
 * the chunk's current one (declared stalled). A stall cannot take a writing chunk. */
int cme__ct_write_begin(CmeChunkTable *t, int rung, uint32_t index, int attempt);
/* encoding -> done with the segment written. */
int cme__ct_done(CmeChunkTable *t, int rung, uint32_t index, int attempt,
                 const CmeSegmentEntry *seg, double now);
/* encoding -> awaiting_policy: the one path of every failure. */
int cme__ct_fail(CmeChunkTable *t, int rung, uint32_t index, int attempt, CmeFailReason reason,
                 const char *message, double now);
/* Encoding chunks whose attempt made no progress for limit seconds -> awaiting_policy
 * (reason stall). Fills out[] with their coordinates (up to max); returns how many. */
typedef struct CmeChunkRef {
    int rung;
    uint32_t index;
} CmeChunkRef;
int cme__ct_check_stalls(CmeChunkTable *t, double now, double limit, CmeChunkRef *out, int max);
/* awaiting_policy -> queued with the decision's overrides: only_device for the next attempt
 * (-1 any), avoid added to the devices the chunk never goes to again. *payload gets a new
 * reference to the chunk's payload for the ticket the caller queues. */
int cme__ct_retry(CmeChunkTable *t, int rung, uint32_t index, int only_device, uint64_t avoid,
                  int crf, int preset, void **payload);
/* done -> queued: a finished segment is encoded again (a new attempt with the rung's
 * settings; the devices the chunk excludes stay excluded). Takes a reference to payload,
 * the chunk's frames decoded again (the table let go of the first ones when it was done).
 * *old gets the segment being replaced. CME_ESTATE when the chunk is not done, CME_EINVAL
 * when there is no such chunk or payload is NULL. */
int cme__ct_requeue(CmeChunkTable *t, int rung, uint32_t index, void *payload,
                    CmeSegmentEntry *old);
/* The crf and preset (-1: the rung's) the next attempt of a queued chunk uses (run:set);
 * CME_ESTATE when the chunk is not queued. */
int cme__ct_use(CmeChunkTable *t, int rung, uint32_t index, int crf, int preset);
/* awaiting_policy -> failed. */
int cme__ct_give_up(CmeChunkTable *t, int rung, uint32_t index);

/* A copy of the record (its payload pointer is not a reference). */
int cme__ct_get(CmeChunkTable *t, int rung, uint32_t index, CmeChunkRecord *out);
/* Chunks of the rung in each state. */
void cme__ct_counts(CmeChunkTable *t, int rung, int counts[CME_CHUNK_NB_STATES]);
/* The segments of a rung whose chunks are all done, in order: how many (<= max), or
 * CME_ESTATE when one is not done. */
int cme__ct_segments(CmeChunkTable *t, int rung, CmeSegmentEntry *out, size_t max);
/* Chunks of the rung so far. */
size_t cme__ct_count(CmeChunkTable *t, int rung);
/* 1 when every rung's total is known and each of its chunks is done or failed. */
int cme__ct_settled(CmeChunkTable *t);
/* 1 when the rung has chunks that are queued or awaiting a decision. */
int cme__ct_rung_pending(CmeChunkTable *t, int rung);

#endif

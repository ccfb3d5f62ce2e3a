/*
 * Encoder slots and the per-lease encode loop (worker.c). A slot is one open encoder for
 * one rung: frames in, packets out, and the FIFO of chunks whose frames were sent but
 * whose packets have not all come back (encoders hold frames for look-ahead). A slot is
 * held by one worker at a time; between chunks it is parked on its rung, so the next
 * worker to claim a chunk of that rung continues the same encoder (rate control and
 * look-ahead continuity; forced key frame at every segment start).
 */
#ifndef CME_WORKER_WORKER_H
#define CME_WORKER_WORKER_H

#include "cmafeng/buf.h"
#include "cmafeng/mux.h"
#include "enc/encoder.h"
#include "media/src_chunk.h"
#include "sched/job_state.h"

typedef struct CmeInflight {
    CmeChunk *chunk;  /* the ticket; the chunk table holds the chunk's state */
    CmeSrcChunk *src; /* == chunk->payload */
    int attempt;      /* this attempt's number in the chunk table */
    int sent;         /* frames sent to the encoder */
    int sealed;       /* no more frames will be sent for this chunk */
    int received;     /* packets back so far */
    int drop;         /* the attempt failed (chunk_fail): discard its packets */
    int failed;       /* chunk_fail was called for this attempt */
    CmeBuf data;      /* sample bytes, temporal delimiters stripped */
    CmeSample *samples;
    double t_start;
    struct CmeInflight *next;
} CmeInflight;

typedef struct CmeEncSlot {
    CmeEncoder *enc;
    int rung;
    int device;           /* pool index */
    int instance;         /* number among the (rung, device) instances */
    int broken;           /* failed beyond one chunk: no more chunks; closed at teardown */
    int header_checked;   /* its sequence header was read and matched the rung's at start */
    int64_t next_pts;     /* encoder-local pts of the next frame sent */
    int64_t next_out_pts; /* pts the next packet must carry */
    CmeInflight *head, *tail;
    int bad;                 /* produced a mismatching sequence header: drain and discard */
    char mismatch[384];      /* which fields differed */
    struct CmeEncSlot *next; /* link in the rung's parked list */
} CmeEncSlot;

/* Opens an encoder for rung r on a device of the pool. Any thread; err says why not. */
int cme__slot_open(CmeJob *job, int r, int device, CmeEncSlot **out, char *err, size_t errlen);
/* The same with another crf and preset (-1: the rung's), for a retry decision. */
int cme__slot_open_with(CmeJob *job, int r, int device, int crf, int preset, CmeEncSlot **out,
                        char *err, size_t errlen);
/* Closes a parked slot after the threads are gone (job teardown); drops its chunks. */
void cme__slot_discard(CmeJob *job, CmeEncSlot **ps);
/* A worker thread's body: claims chunks and encodes them until the job ends. */
void *cme__worker_main(void *job);
/* A chunk's ticket is done with (the chunk table keeps the chunk's state). */
void cme__chunk_ticket_free(CmeChunk **pc);

#endif

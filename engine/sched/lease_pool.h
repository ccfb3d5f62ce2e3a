/*
 * Device lease pool (DESIGN.md section 3). A device offers `sessions` concurrent encoder
 * slots; a lease is one slot. acquire() serves claimers strictly in arrival order (FIFO
s) with a timeout; try_acquire() never takes a slot while someone is waiting, so
 * an opportunistic helper cannot starve a blocked worker.
 */
#ifndef CME_SCHED_LEASE_POOL_H
#define CME_SCHED_LEASE_POOL_H

#include <pthread.h>
#include <stdint.h>

#define CME_MAX_DEVICES 64

typedef enum CmeBackend {
    CME_BACKEND_SVT = 0,
    CME_BACKEND_NVENC,
    CME_BACKEND_QSV,
    CME_BACKEND_VAAPI,
    CME_BACKEND_AOM,   /* libaom-av1 through libavcodec */
    CME_BACKEND_RAV1E, /* librav1e through libavcodec */
    CME_BACKEND_AMF,   /* av1_amf through libavcodec (FFmpeg >= 6.0) */
} CmeBackend;

typedef struct CmeDevice {
    char id[32]; /* "svt:0" */
    CmeBackend backend;
    int sessions; /* max concurrent encoders */
    int threads;  /* encoder threads per session (software devices), 0 = library default */
    int level;    /* forced AV1 level x10 (51 = 5.1), 0 = the encoder's choice */
    int in_use;   /* sessions leased now; guarded by the pool lock */
} CmeDevice;

typedef struct CmeLease {
    int device; /* index into the pool's devices; -1 when not held */
} CmeLease;

/* A blocked claimer, linked in arrival order; lives on the claimer's stack. */
typedef struct CmeLeaseWaiter {
    struct CmeLeaseWaiter *next;
} CmeLeaseWaiter;

typedef struct CmeLeasePool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    CmeDevice devices[CME_MAX_DEVICES];
    int nb_devices;
    CmeLeaseWaiter *waiters; /* FIFO: only the head may take a free slot */
} CmeLeasePool;

int cme__lease_pool_init(CmeLeasePool *p);
void cme__lease_pool_destroy(CmeLeasePool *p);
/* Adds a device before any lease is taken. Returns its index or CME_ERANGE. */
int cme__lease_pool_add(CmeLeasePool *p, const char *id, CmeBackend backend, int sessions,
                        int threads);
/* Blocks FIFO until a slot is free (timeout_ms < 0: forever). 0 or CME_ETIMEDOUT. */
int cme__lease_acquire(CmeLeasePool *p, CmeLease *out, int timeout_ms);
/* 0, or CME_EAGAIN when no slot is free or a claimer is already waiting. */
int cme__lease_try_acquire(CmeLeasePool *p, CmeLease *out);
void cme__lease_release(CmeLeasePool *p, CmeLease *l);
const char *cme__backend_name(CmeBackend b);

#endif

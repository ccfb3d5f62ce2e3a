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
    CME_BACKEND_FAULT, /* test builds: SVT-AV1 with injected faults (enc/fault.c) */
} CmeBackend;

typedef struct CmeDevice {
    char id[32]; /* "svt:0" */
    CmeBackend backend;
    int sessions;      /* max concurrent encoders */
    int threads;       /* encoder threads per session (software devices), 0 = library default */
    int level;         /* forced AV1 level x10 (51 = 5.1), 0 = the encoder's choice */
    char options[128]; /* backend-specific options (CmeDeviceSettings.options) */
    /* What a hardware encoder opens (a render node, a CUDA ordinal, a oneVPL adapter), from
     * discovery; "" = the backend's default device. */
    char path[64];
    /* Capabilities, from the backend (checked before the device gets a rung). */
    int max_width, max_height;
    int ten_bit;
    int midjob_open; /* an instance may be opened while others encode */
    int in_use;      /* sessions leased now; guarded by the pool lock */
} CmeDevice;

typedef struct CmeLease {
    int device; /* index into the pool's devices; -1 when not held */
} CmeLease;

/* A blocked claimer, linked in arrival order; lives on the claimer's stack. */
typedef struct CmeLeaseWaiter {
    struct CmeLeaseWaiter *next;
    uint64_t mask; /* bit d: the claimer can use device d */
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
/* 0, or CME_EAGAIN when no slot is free or every free slot is owed to a waiter. */
int cme__lease_try_acquire(CmeLeasePool *p, CmeLease *out);
/* The same, limited to the devices in mask (bit d: device d): a job leases only its own
 * devices of the process-wide pool. A free slot goes to the earliest waiter that can use
 * it, so a waiter for a busy device does not hold up a waiter for a free one. */
int cme__lease_acquire_in(CmeLeasePool *p, uint64_t mask, CmeLease *out, int timeout_ms);
int cme__lease_try_acquire_in(CmeLeasePool *p, uint64_t mask, CmeLease *out);
/* Adds dev (by value) unless a device with its id is there already: returns the index of
 * the device with that id, CME_EINVAL when that device has another backend, CME_ERANGE
 * when the pool is full. */
int cme__lease_pool_register(CmeLeasePool *p, const CmeDevice *dev);
/* Index of the device with this id, or -1. */
int cme__lease_pool_find(CmeLeasePool *p, const char *id);
/* Claimers waiting that could use device (any device when < 0). */
int cme__lease_pool_waiters(CmeLeasePool *p, int device);
/* The pool of the process: every job started in it shares its devices and their session
 * caps (two jobs in one REPL lease from the same pool). Never destroyed. */
CmeLeasePool *cme__device_pool(void);
void cme__lease_release(CmeLeasePool *p, CmeLease *l);
const char *cme__backend_name(CmeBackend b);

#endif

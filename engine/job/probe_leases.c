/*
 * cme_probe_encodes_on (cmafeng/probe.h): per-title probes on the job's devices. The
 * devices are registered in the process-wide pool (or found there, by id) and every probe
 * encoder holds a lease on one for its life, so an analysis never runs more encoders on a
 * device than its sessions, even beside a running job. The probes themselves run in
 * media/per_title.c, which takes its sessions through the narrow source given here.
 */
#include <stdint.h>
#include <stdio.h>

#include "cmafeng/probe.h"
#include "enc/encoder.h"
#include "media/per_title.h"
#include "sched/lease_pool.h"

typedef struct Leases {
    CmeLeasePool *pool;
    uint64_t mask; /* bit d: pool device d is one of the run's */
} Leases;

/* A held lease as a probe session: the device's id and threads are fixed once registered. */
static void fill_session(const Leases *l, const CmeLease *lease, CmeProbeSession *s)
{
    const CmeDevice *dev = &l->pool->devices[lease->device];
    s->handle = lease->device;
    s->threads = dev->threads;
    snprintf(s->id, sizeof(s->id), "%s", dev->id);
}

static int leases_acquire(void *opaque, CmeProbeSession *s, int timeout_ms)
{
    Leases *l = opaque;
    CmeLease lease;
    int r = cme__lease_acquire_in(l->pool, l->mask, &lease, timeout_ms);
    if (r == 0)
        fill_session(l, &lease, s);
    return r;
}

static int leases_try_acquire(void *opaque, CmeProbeSession *s)
{
    Leases *l = opaque;
    CmeLease lease;
    int r = cme__lease_try_acquire_in(l->pool, l->mask, &lease);
    if (r == 0)
        fill_session(l, &lease, s);
    return r;
}

static void leases_release(void *opaque, CmeProbeSession *s)
{
    Leases *l = opaque;
    CmeLease lease = { .device = s->handle };
    cme__lease_release(l->pool, &lease);
    s->handle = -1;
}

/* Registers (or finds) the run's devices in the process pool: the lease mask, or an error. */
static int pool_devices(CmeLeasePool *pool, const CmeProbeRunSettings *run, uint64_t *mask,
                        char *err, size_t errlen)
{
    const CmeEncoderImpl *impl = cme__encoder_find(CME_BACKEND_SVT);
    CmeEncoderCaps caps = { 0 };
    char msg[128];
    int have_caps = impl && impl->caps && impl->caps(&caps, msg, sizeof(msg)) == 0;
    *mask = 0;
    for (int i = 0; i < run->nb_devices; i++) {
        const CmeProbeDevice *d = &run->devices[i];
        if (!d->id[0] || d->sessions < 1 || d->threads < 0) {
            snprintf(err, errlen,
                     "probe devices[%d]: expected an id, sessions >= 1 and threads "
                     ">= 0",
                     i + 1);
            return CME_EINVAL;
        }
        CmeDevice dev = { .backend = CME_BACKEND_SVT,
                          .sessions = d->sessions,
                          .threads = d->threads };
        snprintf(dev.id, sizeof(dev.id), "%s", d->id);
        if (have_caps) {
            dev.max_width = caps.max_width;
            dev.max_height = caps.max_height;
            dev.ten_bit = (caps.bit_depths >> 10) & 1;
            dev.midjob_open = caps.midjob_open_safe;
        }
        int r = cme__lease_pool_register(pool, &dev);
        if (r < 0) {
            snprintf(err, errlen, "probe device %s: %s", d->id,
                     r == CME_EINVAL ? "registered in this process with another backend than "
                                       "SVT-AV1"
                                     : "the device pool is full");
            return r;
        }
        *mask |= UINT64_C(1) << r;
    }
    return 0;
}

int cme_probe_encodes_on(const char *path, double start, int frames, int ref_width, int ref_height,
                         int preset, CmeProbeEncode *probes, int nb_probes,
                         const CmeProbeRunSettings *run, double *seconds, char *err, size_t errlen)
{
    if (!path || !probes || nb_probes <= 0 || !seconds || !err || errlen == 0 || !run ||
        !run->devices || run->nb_devices < 1 || run->nb_devices > 16 || run->parallel < 1)
        return CME_EINVAL;
    err[0] = '\0';
    Leases l = { .pool = cme__device_pool() };
    int r = pool_devices(l.pool, run, &l.mask, err, errlen);
    if (r < 0)
        return r;
    const CmeProbeSessionSource src = { .opaque = &l,
                                        .acquire = leases_acquire,
                                        .try_acquire = leases_try_acquire,
                                        .release = leases_release };
    return cme__probe_encodes_batched(path, start, frames, ref_width, ref_height, preset, probes,
                                      nb_probes, run->parallel, run->timeout_ms, &src, seconds, err,
                                      errlen);
}

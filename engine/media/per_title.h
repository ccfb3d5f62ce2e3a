/*
 * Per-title probes in parallel (per_title.c), without knowing where their encoder sessions
 * come from: the caller hands in a session source, and the job layer's is the process's
 * device pool (job/probe_leases.c, behind cme_probe_encodes_on), as the decode pump gets
 * its sink (media/pump.h). So media/ knows no scheduler.
 */
#ifndef CME_MEDIA_PER_TITLE_H
#define CME_MEDIA_PER_TITLE_H

#include "cmafeng/probe.h"

/* One encoder session a probe holds for its encoder's life. */
typedef struct CmeProbeSession {
    int handle;  /* the source's own (a lease's device); -1 when none is held */
    int threads; /* SVT-AV1 threads for the probe's encoder, 0 = the library's default */
    char id[32]; /* the device's id, recorded in the probe's result */
} CmeProbeSession;

typedef struct CmeProbeSessionSource {
    void *opaque;
    /* Waits (first come, first served) up to timeout_ms (< 0: forever): 0 or an error. */
    int (*acquire)(void *opaque, CmeProbeSession *s, int timeout_ms);
    /* A session only while one is free and no earlier waiter is owed it: 0 or CME_EAGAIN. */
    int (*try_acquire)(void *opaque, CmeProbeSession *s);
    void (*release)(void *opaque, CmeProbeSession *s);
} CmeProbeSessionSource;

/*
 * cme_probe_encodes in batches of at most `parallel` probes, each on a session of `src`:
 * the first session of a batch is awaited up to timeout_ms, more are taken while free;
 * every encoder of a batch opens before any encodes (SVT-AV1 1.4.1) and closes only after
 * all drained, then the sessions go back. Each probe records its session's id.
 */
int cme__probe_encodes_batched(const char *path, double start, int frames, int ref_width,
                               int ref_height, int preset, CmeProbeEncode *probes, int nb_probes,
                               int parallel, int timeout_ms, const CmeProbeSessionSource *src,
                               double *seconds, char *err, size_t errlen);

#endif /* CME_MEDIA_PER_TITLE_H */

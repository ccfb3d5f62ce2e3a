/*
 * The engine handle (cmafeng/engine.h) as the job's files see it: engine.c (lifecycle,
 * manifests) and requeue.c (changes by hand while it runs).
 */
#ifndef CME_JOB_ENGINE_STATE_H
#define CME_JOB_ENGINE_STATE_H

#include "media/audio.h"
#include "job/text_tracks.h"
#include "sched/job_state.h"

struct CmeEngine {
    CmeJob job; /* first: extra_tracks gets the engine from the job */
    /* The audio streams after the first and the text streams, written once every chunk is
     * done, before JOB_DONE (their segments are events too); read by the manifests. */
    CmeAudioExtra audio_extra;
    CmeTextExtra text_extra;
};

#endif

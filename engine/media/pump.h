/*
 * The decode pump (pump.c): one thread decodes the source once, cuts the frames into
 * source chunks (one segment each) and transcodes the first audio stream, cut at the same
 * boundaries. It knows no job: it hands chunks and audio segments to a sink, the narrow
 * interface below, and the job (job/pump_sink.c) turns them into queued chunks and files.
 */
#ifndef CME_MEDIA_PUMP_H
#define CME_MEDIA_PUMP_H

#include <stdint.h>

#include "media/audio.h"
#include "media/source.h"
#include "media/src_chunk.h"

/* What the pump reads and how it cuts. Owned by the caller, read-only for the run. */
typedef struct CmePumpSettings {
    CmeSource *src;
    const char *source_name; /* for messages */
    int chunk_frames;        /* K: a chunk never holds more */
    const double *cuts;      /* segment starts in seconds, sorted; NULL: every K frames */
    int nb_cuts;
    int fps_num, fps_den;   /* nominal rate: the last frame's duration */
    CmeAudio *audio;        /* the first audio rendition's transcoder; NULL: no audio */
    CmeFrameBudget *budget; /* decoded frames held; NULL: read ahead as the queues allow */
} CmePumpSettings;

/*
 * The sink. Every callback runs on the pump thread. A callback that returns < 0 stops the
 * pump; it has then reported the failure itself (through fail or its own path).
 */
typedef struct CmePumpSink {
    void *opaque;
    /* A new chunk, holding its first frame's slot still empty: hand it to every consumer,
     * each taking its own reference (cme__src_chunk_ref). May block for queue room. */
    int (*publish)(void *opaque, CmeSrcChunk *c);
    /* One more frame decoded (appended to the current chunk); errors: damaged packets and
     * frames skipped so far, video and audio together. */
    void (*decoded)(void *opaque, uint64_t errors);
    /* One audio segment is complete (the first call comes before any segment: the track's
     * encoder is configured by then and its init can be written). */
    int (*audio_segment)(void *opaque, const CmeAudioSeg *seg);
    /* The job is failing: the pump stops decoding at the next frame. */
    int (*stopping)(void *opaque);
    /* The pump failed: code and message (names the source). */
    void (*fail)(void *opaque, int code, const char *msg);
    /* The end: nb_chunks chunks were published, every one complete. Called once, also
     * after a failure, as the pump's last act. */
    void (*end)(void *opaque, uint32_t nb_chunks);
} CmePumpSink;

/* Runs the pump to the end of the source (or a failure or stop). Pump thread. */
void cme__pump_run(const CmePumpSettings *s, const CmePumpSink *sink);

#endif

/*
 * The limits a job must respect, in one table that C and the Lua recipe schema both read
 * (cmafeng.core.limits, engine/lua/limits.c), so the two can never disagree again: a value
 * the schema accepts is one the engine encodes.
 *
 * X(NAME, value, what it bounds)
 */
#ifndef CME_CORE_LIMITS_H
#define CME_CORE_LIMITS_H

#include "cmafeng/engine.h"

#define CME_LIMITS(X)                                                                   \
    X(MIN_DIMENSION, 64, "smallest rung width/height (SVT-AV1 encodes at least 64x64)") \
    X(MAX_DIMENSION, 8192, "largest rung width/height")                                 \
    X(MAX_RUNGS, CME_MAX_RUNGS, "renditions in video.ladder")                           \
    X(MIN_CRF, 1, "smallest crf")                                                       \
    X(MAX_CRF, 63, "largest crf")                                                       \
    X(MIN_PRESET, -1, "smallest SVT-AV1 preset")                                        \
    X(MAX_PRESET, 13, "largest SVT-AV1 preset")                                         \
    X(MIN_SEGMENT_FRAMES, 4, "frames in a segment (segment_seconds x frame rate)")      \
    X(MAX_SEGMENT_SECONDS, 30, "segment_seconds")                                       \
    X(MAX_WORKERS, 64, "workers")                                                       \
    X(MAX_THREADS, 64, "encoder threads per worker or device session")                  \
    X(MAX_QUEUE_DEPTH, 16, "chunks buffered per rung")                                  \
    X(MIN_FRAME_MEMORY_MB, 8, "frame_memory_mb: MiB of decoded frames held")            \
    X(MAX_FRAME_MEMORY_MB, 65536, "frame_memory_mb: MiB of decoded frames held")        \
    X(MAX_DEVICES, CME_MAX_JOB_DEVICES, "entries in devices")                           \
    X(MAX_SESSIONS, 64, "sessions of one device")                                       \
    X(MAX_INSTANCES, CME_MAX_INSTANCES, "encoder instances per rung and device")        \
    X(MAX_ATTEMPTS, 100, "max_attempts: encode attempts of one chunk")                  \
    X(MAX_CUTS, 8192, "segment starts in video.cuts (chunking)")                        \
    X(MAX_STALL_SECONDS, 86400, "stall_seconds")                                        \
    X(MIN_AUDIO_BITRATE, 16000, "AAC bit rate, bit/s")                                  \
    X(MAX_AUDIO_BITRATE, 512000, "AAC bit rate, bit/s")                                 \
    X(MAX_PATH, 1023, "bytes in the source and output paths")                           \
    X(MAX_NAME, 63, "bytes in a rendition name")                                        \
    X(MAX_INSPECT_BYTES, 1073741824, "bytes `inspect` and `validate` read from one file")

enum {
#define CME_LIMIT_ENUM_(name, value, what) CME_LIMIT_##name = (value),
    CME_LIMITS(CME_LIMIT_ENUM_)
#undef CME_LIMIT_ENUM_
};

#endif

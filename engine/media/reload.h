/*
 * Decoding one chunk again (reload.c). The decode pump lets a chunk's frames go once every
 * rung has sent them (media/src_chunk.h); a retry of the chunk after that decodes them
 * again from the source file: the same frames, matched by their timestamps on the pump's
 * timeline.
 */
#ifndef CME_MEDIA_RELOAD_H
#define CME_MEDIA_RELOAD_H

#include "media/src_chunk.h"

/*
 * Decodes the n frames whose timestamps (CME_TIMESCALE, the pump's timeline) are pts[0..n)
 * from path into out[0..n) (the caller frees them). Seeks to the key frame before pts[0]
 * and falls back to reading from the start when the stream's timestamps do not survive a
 * seek. 0, or CME_EIO / CME_EMEDIA / CME_ENOMEM with err naming the file and the frame.
 * Any thread; it opens its own demuxer and decoder.
 */
int cme__chunk_reload(const char *path, const int64_t *pts, int n, AVFrame **out, char *err,
                      size_t errlen);
/*
 * The frames whose timestamps fall in [start, end) (a done segment's span, the chunk's frames
 * being gone), as a new complete chunk of at most `capacity` frames with one reference
 * (the caller's): the first frame must be at `start` exactly, durations run to `end`.
 * Errors as cme__chunk_reload.
 */
int cme__chunk_reload_span(const char *path, uint32_t index, int capacity, int64_t start,
                           int64_t end, CmeSrcChunk **out, char *err, size_t errlen);

#endif

/*
 * WebVTT (W3C WebVTT, RFC 8216 3.5 for HLS segments): cue text and times in, segment files
 * out. Depends on core/ only.
 */
#ifndef CME_MUX_WEBVTT_H
#define CME_MUX_WEBVTT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct CmeCue {
    uint64_t start, end; /* milliseconds from time zero (the video's first frame) */
    const char *text;    /* cue payload, already escaped (cme__webvtt_text) */
} CmeCue;

/*
 * One WebVTT file: "WEBVTT", for an HLS segment the X-TIMESTAMP-MAP that ties cue time 0 to
 * media time 0 (RFC 8216 3.5: MPEGTS 90 kHz, here the fMP4 timeline's zero), then every
 * cue that overlaps [from, to) milliseconds (all cues when to == 0), with its own times (a
 * cue spanning a boundary is repeated in both segments, as RFC 8216 3.5 allows). 0 or the
 * buffer's error.
 */
int cme__webvtt_write(CmeBuf *out, const CmeCue *cues, size_t nb, uint64_t from, uint64_t to,
                      int timestamp_map);

/*
 * Cue text from an ASS event line as FFmpeg's text subtitle decoders produce it (SRT,
 * mov_text, WebVTT and ASS all decode to ASS: "ReadOrder,Layer,Style,Name,MarginL,
 * MarginR,MarginV,Effect,Text"): the Text field with override blocks ({\i1}) removed, \N
 * and \n as line breaks, \h as a space, '&', '<' and '>' escaped, blank lines dropped (a
 * blank line would end the cue). Returns a malloc()ed string, NULL on allocation failure;
 * "" when nothing printable is left.
 */
char *cme__webvtt_text(const char *ass);

#endif /* CME_MUX_WEBVTT_H */

/*
 * Helpers shared by the HLS and DASH writers: rendition validation at the API boundary and
 * exact decimal formatting of track-timescale durations. Durations are formatted with
 * integer arithmetic, never with printf's %f, so the output is byte-identical whatever the
 * C locale's decimal separator or the platform's floating-point rounding.
 */
#ifndef CME_MUX_MANIFEST_H
#define CME_MUX_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "cmafeng/mux.h"

/* CME_EINVAL unless the rendition is complete: a safe name (letters, digits, '.', '_',
 * '-', not "." or ".."), a codecs string (letters, digits, '.', ',', '-', '+'), a non-zero
 * timescale, for video a non-zero size and frame rate, for audio non-zero channels and
 * sample rate and a language tag (letters, digits, '-') when one is given, at least one
 * segment with a non-zero duration, and segment numbers that fit 32 bits. Names, codecs
 * and languages are restricted so that they can be written into playlists, URIs and XML
 * attributes without escaping. */
int cme__rendition_check(const CmeRendition *r);

/* CME_EINVAL when `nb` is 0, two renditions share a name or more than one audio rendition
 * is marked default, else the first error of cme__rendition_check. */
int cme__renditions_check(const CmeRendition *r, size_t nb);

/* The first audio rendition of a checked array, NULL when there is none. */
const CmeRendition *cme__audio_rendition(const CmeRendition *r, size_t nb);
/* The default audio rendition: the one marked is_default, else the first; NULL: none. */
const CmeRendition *cme__default_audio(const CmeRendition *r, size_t nb);
/* The human-readable name of audio or text rendition r[k]: its label, else its language
 * when no other unlabelled rendition of its kind shares it, else its directory name
 * (unique in the array). */
const char *cme__audio_label(const CmeRendition *r, size_t nb, size_t k);

/* value / timescale in units of 1/unit, rounded half up (unit e.g. 1000 or 1000000). */
uint64_t cme__scale_round(uint64_t value, uint32_t timescale, uint32_t unit);
/* value / timescale in units of 1/unit, rounded up. */
uint64_t cme__scale_ceil(uint64_t value, uint32_t timescale, uint32_t unit);

/* The colour code points (ISO/IEC 23091-4) an AV1 codecs string carries in its optional
 * fields (AV1-ISOBMFF annex A: av01.P.LLT.DD.M.CCC.cp.tc.mc.F): 0 with them filled, 1/1/1
 * (BT.709) for the short form; CME_EINVAL for a string that is not AV1 or is malformed. The
 * codecs string is derived from the encoder's sequence header, so this is the bitstream's
 * colour, never the recipe's. */
int cme__codecs_colour(const char *codecs, int *primaries, int *transfer, int *matrix);

/* "PQ" (transfer 16, SMPTE ST 2084) or "HLG" (18, ARIB STD-B67) for an AV1 codecs string
 * that signals an HDR transfer, else NULL (SDR, the playlists' default). */
const char *cme__codecs_video_range(const char *codecs);

#endif /* CME_MUX_MANIFEST_H */

/*
 * `validate --decode`'s reading side: an init segment and its media segments, in playlist
 * order, are read by the one ISO BMFF reader (mux/mp4_reader.c) and handed as one track to
 * the verification decoder (media/verify.c).
 */
#ifndef CME_JOB_VERIFY_FILES_H
#define CME_JOB_VERIFY_FILES_H

#include <stddef.h>

#include "media/verify.h"

/*
 * Decodes paths[0] (init segment) + paths[1..n-1] (media segments) as one track. Returns 0
 * with *out filled (decode errors are reported inside it, they are findings, not failures),
 * or a negative CME_E* code with err saying why nothing could be decoded (a file that cannot
 * be read or parsed, a codec without a decoder); then *out holds nothing to free.
 */
int cme__verify_files(const char *const *paths, size_t n, CmeVerifyResult *out, char *err,
                      size_t errlen);

#endif /* CME_JOB_VERIFY_FILES_H */

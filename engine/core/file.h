/*
 * Atomic file output: every file cmafeng writes goes to "<path>.tmp.<pid>" first and is
 * renamed over the final name, so a killed run never leaves a half-written file under its
 * final name (DESIGN.md section 5).
 */
#ifndef CME_CORE_FILE_H
#define CME_CORE_FILE_H

#include <stddef.h>

/* Writes size bytes to path atomically. Returns 0 or CME_EIO (errno text in err). */
int cme__file_write_atomic(const char *path, const void *data, size_t size, char *err,
                           size_t errlen);
/* mkdir -p. Returns 0 or CME_EIO. */
int cme__mkdir_p(const char *path, char *err, size_t errlen);
/* Reads a whole file into a malloc()ed buffer (caller frees). Returns 0 or CME_EIO/ENOMEM. */
int cme__file_read_all(const char *path, unsigned char **out, size_t *size, char *err,
                       size_t errlen);

#endif

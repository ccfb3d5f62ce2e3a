/*
 * Atomic file output: every file cmafeng writes goes to "<path>.tmp.<pid>" first, is synced
 * and renamed over the final name, so a killed run or a full disk never leaves a
 * half-written file under its final name (DESIGN.md section 5).
 */
#ifndef CME_CORE_FILE_H
#define CME_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>

/* The temp name of a file being written is "<final>" CME_TMP_INFIX "<pid>"; the next run
 * into the same directory removes leftovers of killed runs by this pattern. */
#define CME_TMP_INFIX ".tmp."

/* Writes size bytes to path atomically and durably: temp file, write, fsync, close, rename,
 * fsync of the directory, every return checked. Returns 0 or CME_EIO; err names the final
 * path and the cause ("out/report.json: write failed: No space left on device"). */
int cme__file_write_atomic(const char *path, const void *data, size_t size, char *err,
                           size_t errlen);
/* fsync()s the directory holding path, so a rename into it survives a crash. */
int cme__fsync_dir_of(const char *path, char *err, size_t errlen);
/* FNV-1a 64 over data, continuing from h (start with CME_CHECKSUM64_INIT). */
#define CME_CHECKSUM64_INIT 0xcbf29ce484222325ULL
uint64_t cme__checksum64(uint64_t h, const void *data, size_t size);
/* mkdir -p. Returns 0 or CME_EIO. */
int cme__mkdir_p(const char *path, char *err, size_t errlen);
/* Reads a whole file into a malloc()ed buffer (caller frees). Returns 0 or CME_EIO/ENOMEM. */
int cme__file_read_all(const char *path, unsigned char **out, size_t *size, char *err,
                       size_t errlen);

#endif

/*
 * cmafeng — common definitions of the public C API: export macro, error codes.
 *
 * Every function of the API that can fail returns 0 or a negative CME_E* code from the
 * single table below; cme_strerror() and cme_err_name() are generated from the same table
 * (libuv's UV_ERRNO_MAP). The result is never left in errno.
 */
#ifndef CMAFENG_COMMON_H
#define CMAFENG_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CME_API __attribute__((visibility("default")))
#else
#define CME_API
#endif

#if defined(__GNUC__)
#define CME_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CME_PRINTF(fmt, args)
#endif

/* X(name, value, message) */
#define CME_ERRNO_MAP(X)                                            \
    X(EINVAL, -1, "invalid argument")                               \
    X(ENOMEM, -2, "out of memory")                                  \
    X(EAGAIN, -3, "try again: call the other half of the pull API") \
    X(EOF, -4, "end of stream")                                     \
    X(EIO, -5, "input/output error")                                \
    X(EBITSTREAM, -6, "malformed bitstream")                        \
    X(EUNSUPPORTED, -7, "unsupported feature")                      \
    X(ENODEV, -8, "no such device")                                 \
    X(ETIMEDOUT, -9, "timed out")                                   \
    X(ECLOSED, -10, "closed")                                       \
    X(EMEDIA, -11, "not a readable media file")                     \
    X(EENCODER, -12, "encoder failure")                             \
    X(ECANCELED, -13, "canceled")                                   \
    X(EMISMATCH, -14, "codec invariant mismatch")                   \
    X(ERANGE, -15, "value out of range")                            \
    X(ENOSPC, -16, "buffer too small")                              \
    X(ESTATE, -20, "illegal chunk state transition")

typedef enum CmeError {
    CME_OK = 0,
#define CME_ERR_ENUM_(name, value, msg) CME_##name = (value),
    CME_ERRNO_MAP(CME_ERR_ENUM_)
#undef CME_ERR_ENUM_
} CmeError;

/* Human-readable message for a CME_E* code; never NULL. */
CME_API const char *cme_strerror(int err);
/* Symbolic name ("CME_EINVAL") for a CME_E* code; never NULL. */
CME_API const char *cme_err_name(int err);
/* The library version, "MAJOR.MINOR.PATCH". */
CME_API const char *cme_version(void);

#endif /* CMAFENG_COMMON_H */

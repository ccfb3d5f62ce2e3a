/*
 * Reporting an error with its message: the one helper every module that fills an
 * (err, errlen) buffer uses, so none keeps its own copy.
 */
#ifndef CME_CORE_ERRF_H
#define CME_CORE_ERRF_H

#include <stddef.h>

#include "cmafeng/common.h"

/* Formats the message into err (when err and errlen are non-zero) and returns code, so a
 * caller writes `return cme__errf(err, errlen, CME_EINVAL, "...", ...);`. */
int cme__errf(char *err, size_t errlen, int code, const char *fmt, ...) CME_PRINTF(4, 5);

#endif

/*
 * Growable byte buffer, the one place where output bytes are assembled (boxes, manifests,
 * JSON). Appends never fail silently: the first allocation failure sets a sticky flag
 * that callers check once at the end (like the bit reader's error flag), so writers stay
 * free of per-append error handling.
 */
#ifndef CME_CORE_BUF_H
#define CME_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cmafeng/buf.h"

void cme__buf_init(CmeBuf *b);
void cme__buf_free(CmeBuf *b);
void cme__buf_reset(CmeBuf *b);
/* Ensures room for n more bytes; returns a pointer to them or NULL (and sets failed). */
uint8_t *cme__buf_reserve(CmeBuf *b, size_t n);
void cme__buf_append(CmeBuf *b, const void *data, size_t n);
void cme__buf_u8(CmeBuf *b, uint8_t v);
void cme__buf_be16(CmeBuf *b, uint16_t v);
void cme__buf_be24(CmeBuf *b, uint32_t v);
void cme__buf_be32(CmeBuf *b, uint32_t v);
void cme__buf_be64(CmeBuf *b, uint64_t v);
void cme__buf_fourcc(CmeBuf *b, const char *cc);
void cme__buf_zeros(CmeBuf *b, size_t n);
void cme__buf_printf(CmeBuf *b, const char *fmt, ...) CME_PRINTF(2, 3);
void cme__buf_vprintf(CmeBuf *b, const char *fmt, va_list ap);
/* Patches a big-endian u32 at an earlier offset (box sizes, trun data offsets). */
void cme__buf_patch_be32(CmeBuf *b, size_t offset, uint32_t v);
/* CME_ENOMEM when any append failed, else 0. */
int cme__buf_status(const CmeBuf *b);

#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

void cme__buf_init(CmeBuf *b)
{
    memset(b, 0, sizeof(*b));
}

void cme__buf_free(CmeBuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void cme__buf_reset(CmeBuf *b)
{
    b->size = 0;
    b->failed = 0;
}

uint8_t *cme__buf_reserve(CmeBuf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (n > SIZE_MAX / 2 - b->size) {
        b->failed = 1;
        return NULL;
    }
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->size + n)
            cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->size;
}

void cme__buf_append(CmeBuf *b, const void *data, size_t n)
{
    uint8_t *p = cme__buf_reserve(b, n);
    if (!p)
        return;
    if (n)
        memcpy(p, data, n);
    b->size += n;
}

void cme__buf_u8(CmeBuf *b, uint8_t v)
{
    cme__buf_append(b, &v, 1);
}

void cme__buf_be16(CmeBuf *b, uint16_t v)
{
    uint8_t p[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    cme__buf_append(b, p, 2);
}

void cme__buf_be24(CmeBuf *b, uint32_t v)
{
    uint8_t p[3] = { (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    cme__buf_append(b, p, 3);
}

void cme__buf_be32(CmeBuf *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    cme__buf_append(b, p, 4);
}

void cme__buf_be64(CmeBuf *b, uint64_t v)
{
    cme__buf_be32(b, (uint32_t)(v >> 32));
    cme__buf_be32(b, (uint32_t)v);
}

void cme__buf_fourcc(CmeBuf *b, const char *cc)
{
    cme__buf_append(b, cc, 4);
}

void cme__buf_zeros(CmeBuf *b, size_t n)
{
    uint8_t *p = cme__buf_reserve(b, n);
    if (!p)
        return;
    memset(p, 0, n);
    b->size += n;
}

void cme__buf_vprintf(CmeBuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    uint8_t *p = cme__buf_reserve(b, (size_t)n + 1);
    if (!p)
        return;
    vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
    b->size += (size_t)n;
}

void cme__buf_printf(CmeBuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cme__buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void cme__buf_patch_be32(CmeBuf *b, size_t offset, uint32_t v)
{
    if (b->failed || offset + 4 > b->size)
        return;
    b->data[offset] = (uint8_t)(v >> 24);
    b->data[offset + 1] = (uint8_t)(v >> 16);
    b->data[offset + 2] = (uint8_t)(v >> 8);
    b->data[offset + 3] = (uint8_t)v;
}

int cme__buf_status(const CmeBuf *b)
{
    return b->failed ? CME_ENOMEM : 0;
}

void cme_buf_free(CmeBuf *b)
{
    cme__buf_free(b);
}

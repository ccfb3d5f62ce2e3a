/* Bit reader with a sticky error flag; see bitreader.h. */
#include "av1/bitreader.h"

#include <stdarg.h>
#include <stdio.h>

void cme__br_init(CmeBitReader *br, const uint8_t *buf, size_t size)
{
    br->buf = buf;
    br->size = buf ? size : 0;
    br->bitpos = 0;
    br->error = 0;
    br->err_field = NULL;
    br->err_index = -1;
    br->err_reason = NULL;
}

void cme__br_fail(CmeBitReader *br, const char *field, int index, const char *reason)
{
    if (br->error)
        return;
    br->error = 1;
    br->err_field = field;
    br->err_index = index;
    br->err_reason = reason;
}

size_t cme__br_bits_left(const CmeBitReader *br)
{
    size_t total = br->size * 8;
    return br->bitpos >= total ? 0 : total - br->bitpos;
}

/* Reads n bits without naming anything; the caller records the failure. */
static int read_bits(CmeBitReader *br, int n, uint32_t *v)
{
    uint32_t x = 0;
    if (br->error)
        return -1;
    if (n < 0 || n > 32 || cme__br_bits_left(br) < (size_t)n)
        return -1;
    for (int i = 0; i < n; i++) {
        size_t pos = br->bitpos++;
        x = (x << 1) | (uint32_t)((br->buf[pos >> 3] >> (7 - (pos & 7))) & 1);
    }
    *v = x;
    return 0;
}

uint32_t cme__br_fi(CmeBitReader *br, int n, const char *field, int index)
{
    uint32_t v = 0;
    if (br->error)
        return 0;
    if (read_bits(br, n, &v) < 0) {
        cme__br_fail(br, field, index, "truncated");
        return 0;
    }
    return v;
}

uint32_t cme__br_f(CmeBitReader *br, int n, const char *field)
{
    return cme__br_fi(br, n, field, -1);
}

uint32_t cme__br_uvlc(CmeBitReader *br, const char *field)
{
    /* AV1 spec 4.10.3: count leading zeros up to the first one bit. */
    int leading_zeros = 0;
    uint32_t bit = 0;
    if (br->error)
        return 0;
    for (;;) {
        if (read_bits(br, 1, &bit) < 0) {
            cme__br_fail(br, field, -1, "truncated");
            return 0;
        }
        if (bit)
            break;
        leading_zeros++;
        /* The spec keeps counting; a bound keeps malicious input from spinning for long. */
        if (leading_zeros > 64) {
            cme__br_fail(br, field, -1, "too many leading zeros");
            return 0;
        }
    }
    if (leading_zeros >= 32)
        return UINT32_MAX;
    uint32_t value = 0;
    if (leading_zeros > 0 && read_bits(br, leading_zeros, &value) < 0) {
        cme__br_fail(br, field, -1, "truncated");
        return 0;
    }
    return value + ((UINT32_C(1) << leading_zeros) - 1);
}

uint32_t cme__br_leb128(CmeBitReader *br, const char *field)
{
    uint64_t value = 0;
    if (br->error)
        return 0;
    for (int i = 0; i < 8; i++) {
        uint32_t byte;
        if (read_bits(br, 8, &byte) < 0) {
            cme__br_fail(br, field, -1, "truncated");
            return 0;
        }
        value |= (uint64_t)(byte & 0x7f) << (i * 7);
        if (!(byte & 0x80)) {
            if (value > UINT32_MAX) {
                cme__br_fail(br, field, -1, "value exceeds 2^32-1");
                return 0;
            }
            return (uint32_t)value;
        }
    }
    cme__br_fail(br, field, -1, "longer than 8 bytes");
    return 0;
}

int32_t cme__br_su(CmeBitReader *br, int n, const char *field)
{
    if (n < 1 || n > 32) {
        cme__br_fail(br, field, -1, "bad width");
        return 0;
    }
    uint32_t v = cme__br_f(br, n, field);
    /* AV1 spec 4.10.6: the top bit of the n-bit value is the sign. */
    int64_t value = v;
    if (v & (UINT32_C(1) << (n - 1)))
        value -= (int64_t)1 << n;
    return (int32_t)value;
}

void cme__br_byte_align(CmeBitReader *br)
{
    br->bitpos = (br->bitpos + 7) & ~(size_t)7;
}

void cme__br_message(const CmeBitReader *br, char *err, size_t errlen)
{
    const char *field = br->err_field ? br->err_field : "bitstream";
    const char *reason = br->err_reason ? br->err_reason : "error";
    if (br->err_index >= 0)
        cme__av1_errf(err, errlen, "%s[%d]: %s", field, br->err_index, reason);
    else
        cme__av1_errf(err, errlen, "%s: %s", field, reason);
}

int cme__leb128_read(const uint8_t *p, size_t left, uint64_t *value)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        if ((size_t)i >= left)
            return 0;
        v |= (uint64_t)(p[i] & 0x7f) << (i * 7);
        if (!(p[i] & 0x80)) {
            if (v > UINT32_MAX)
                return -1;
            *value = v;
            return i + 1;
        }
    }
    return -1;
}

void cme__av1_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

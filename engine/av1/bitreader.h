/*
 * Bit reader for AV1 headers, with a sticky error flag (like dav1d src/getbits.h).
 *
 * Every read past the end of the buffer returns 0 and sets the error flag; later reads keep
 * returning 0. Parsers therefore read a whole syntax structure and check the flag once. So
 * that an error can still name the syntax element that failed, every read takes the
 * element's name (a string literal) and, for arrays, its index: the first failure records
 * them, and cme__br_message() formats "seq_level_idx[1]: truncated".
 */
#ifndef CME_AV1_BITREADER_H
#define CME_AV1_BITREADER_H

#include <stddef.h>
#include <stdint.h>

typedef struct CmeBitReader {
    const uint8_t *buf;
    size_t size;            /* in bytes */
    size_t bitpos;          /* next bit to read, counted from the MSB of buf[0] */
    int error;              /* sticky: set by the first failing read or check */
    const char *err_field;  /* the first element that failed (static string) */
    int err_index;          /* its array index, or -1 */
    const char *err_reason; /* "truncated", "reserved value", ... (static string) */
} CmeBitReader;

void cme__br_init(CmeBitReader *br, const uint8_t *buf, size_t size);

/* f(n), AV1 spec 4.10.2: n in [0, 32] bits, MSB first. */
uint32_t cme__br_f(CmeBitReader *br, int n, const char *field);
/* f(n) for an element of an array: the error names field[index]. */
uint32_t cme__br_fi(CmeBitReader *br, int n, const char *field, int index);
/* uvlc(), AV1 spec 4.10.3. Returns UINT32_MAX for 32 or more leading zeros, as the spec does. */
uint32_t cme__br_uvlc(CmeBitReader *br, const char *field);
/* leb128(), AV1 spec 4.10.5: at most 8 bytes; values above UINT32_MAX are an error. */
uint32_t cme__br_leb128(CmeBitReader *br, const char *field);
/* su(n), AV1 spec 4.10.6: n in [1, 32]. */
int32_t cme__br_su(CmeBitReader *br, int n, const char *field);

/* Records a semantic failure (a conformance requirement) unless an earlier one is recorded. */
void cme__br_fail(CmeBitReader *br, const char *field, int index, const char *reason);

size_t cme__br_bits_left(const CmeBitReader *br);
/* Skips to the next byte boundary (byte_alignment(), AV1 spec 5.3.5, without the zero check). */
void cme__br_byte_align(CmeBitReader *br);

/* Formats the recorded error as "field[index]: reason" into err (if err and errlen > 0). */
void cme__br_message(const CmeBitReader *br, char *err, size_t errlen);

/*
 * Reads leb128() from a byte buffer (AV1 spec 4.10.5) for the OBU walker. Returns the number
 * of bytes used (1..8), 0 when the buffer ends inside the value, or -1 when the value needs
 * more than 8 bytes or exceeds UINT32_MAX.
 */
int cme__leb128_read(const uint8_t *p, size_t left, uint64_t *value);

/* Writes printf-style text into err when err is not NULL (always NUL-terminated). */
void cme__av1_errf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif

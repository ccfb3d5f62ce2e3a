/*
 * ISOBMFF box writing helpers (ISO/IEC 14496-12 4.2). A box is opened with a placeholder
 * size, its body is appended, and closing it patches the size with the number of bytes
 * written since it was opened, so nested boxes need no size precomputation (the same
 * approach as FFmpeg libavformat/movenc.c update_size). All appends go through CmeBuf,
 * whose sticky `failed` flag is checked once by the public entry points.
 */
#ifndef CME_MUX_BOX_H
#define CME_MUX_BOX_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Appends a box header (32-bit size placeholder + type) and returns the box's offset. */
size_t cme__box_begin(CmeBuf *b, const char *type);
/* Appends a FullBox header (ISO/IEC 14496-12 4.2.2): box header, version, 24-bit flags. */
size_t cme__fullbox_begin(CmeBuf *b, const char *type, uint8_t version, uint32_t flags);
/* Patches the size of the box opened at `offset` to cover everything appended since.
 * The box must be smaller than 4 GiB; callers that can exceed it (mdat) write a
 * largesize header themselves. */
void cme__box_end(CmeBuf *b, size_t offset);

#endif /* CME_MUX_BOX_H */

/* Box header writing and size patching; see box.h. */
#include <assert.h>

#include "mux/box.h"

size_t cme__box_begin(CmeBuf *b, const char *type)
{
    size_t offset = b->size;
    cme__buf_be32(b, 0); /* The size is patched by cme__box_end. */
    cme__buf_fourcc(b, type);
    return offset;
}

size_t cme__fullbox_begin(CmeBuf *b, const char *type, uint8_t version, uint32_t flags)
{
    size_t offset = cme__box_begin(b, type);
    assert(flags <= 0xffffff);
    cme__buf_u8(b, version);
    cme__buf_be24(b, flags);
    return offset;
}

void cme__box_end(CmeBuf *b, size_t offset)
{
    /* After an allocation failure the buffer is incomplete and the offset may lie past
     * its end; the caller reports CME_ENOMEM, so there is nothing to patch. */
    if (b->failed)
        return;
    assert(offset + 8 <= b->size);
    assert(b->size - offset <= UINT32_MAX);
    cme__buf_patch_be32(b, offset, (uint32_t)(b->size - offset));
}

/* Growable output buffer used by the writers of the public API (boxes, manifests). */
#ifndef CMAFENG_BUF_H
#define CMAFENG_BUF_H

#include "cmafeng/common.h"

typedef struct CmeBuf {
    uint8_t *data;
    size_t size;
    size_t cap;
    int failed; /* sticky: an allocation failed; the contents are incomplete */
} CmeBuf;

/* A zeroed CmeBuf is empty and valid. Frees the storage and empties the buffer. */
CME_API void cme_buf_free(CmeBuf *b);

#endif

/*
 * Output paths (outpath.h): the one place the layout of an output directory is spelled.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cmafeng/common.h"
#include "core/file.h"
#include "core/outpath.h"

static int fits(int len, size_t n)
{
    return len < 0 || (size_t)len >= n ? CME_EINVAL : 0;
}

int cme__outpath(char *out, size_t n, const char *dir, const char *rendition, const char *file)
{
    if (rendition)
        return fits(snprintf(out, n, "%s/%s/%s", dir, rendition, file), n);
    return fits(snprintf(out, n, "%s/%s", dir, file), n);
}

int cme__outpath_named(char *out, size_t n, const char *dir, const char *name, const char *ext)
{
    return fits(snprintf(out, n, "%s/%s.%s", dir, name, ext), n);
}

int cme__outname_segment(char *out, size_t n, uint32_t number, const char *ext)
{
    return fits(snprintf(out, n, CME_OUT_SEGMENT_FMT, number, ext), n);
}

int cme__outpath_segment(char *out, size_t n, const char *dir, const char *rendition,
                         uint32_t number, const char *ext)
{
    char name[64];
    int r = cme__outname_segment(name, sizeof(name), number, ext);
    return r < 0 ? r : cme__outpath(out, n, dir, rendition, name);
}

int cme__outfile_write(const char *dir, const char *rendition, const char *file, const CmeBuf *b,
                       char *err, size_t errlen)
{
    char path[2300];
    int r = cme__outpath(path, sizeof(path), dir, rendition, file);
    if (r < 0) {
        snprintf(err, errlen, "%s: path too long", path);
        return r;
    }
    r = cme__buf_status(b);
    if (r < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return r;
    }
    return cme__file_write_atomic(path, b->data, b->size, err, errlen);
}

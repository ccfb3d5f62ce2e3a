/*
 * Output paths (outpath.h): the one place the layout of an output directory is spelled.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cmafeng/common.h"
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

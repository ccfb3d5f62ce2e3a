#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmafeng/common.h"
#include "core/file.h"

/* The directory part of path ("." when it has none), for fsync after a rename. */
static void dir_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, n, ".");
    else if (slash == path)
        snprintf(out, n, "/");
    else
        snprintf(out, n, "%.*s", (int)(slash - path), path);
}

int cme__fsync_dir_of(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    dir_of(path, dir, sizeof(dir));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open its directory to sync it: %s", path,
                 strerror(errno));
        return CME_EIO;
    }
    /* Some file systems cannot sync a directory (EINVAL): the rename is then as durable as
     * they make it, which is all that can be asked of them. */
    if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS) {
        snprintf(err, errlen, "%s: cannot sync its directory: %s", path, strerror(errno));
        close(fd);
        return CME_EIO;
    }
    close(fd);
    return 0;
}

int cme__file_write_atomic(const char *path, const void *data, size_t size, char *err,
                           size_t errlen)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s" CME_TMP_INFIX "%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return CME_EINVAL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        return CME_EIO;
    }
    /* Every step is checked, close included: on NFS and full disks a write that "worked"
     * can still fail at fsync or close, and the final name must never carry a short file. */
    const char *what = NULL;
    const unsigned char *p = data;
    size_t left = size;
    while (left && !what) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            what = "write failed";
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (!what && fsync(fd) < 0)
        what = "fsync failed";
    int saved = errno;
    if (close(fd) < 0 && !what) {
        what = "close failed";
        saved = errno;
    }
    if (what) {
        snprintf(err, errlen, "%s: %s: %s", path, what, strerror(saved));
        unlink(tmp);
        return CME_EIO;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: rename from %s failed: %s", path, tmp, strerror(errno));
        unlink(tmp);
        return CME_EIO;
    }
    return cme__fsync_dir_of(path, err, errlen);
}

uint64_t cme__checksum64(uint64_t h, const void *data, size_t size)
{
    /* FNV-1a, 64 bit: no cryptographic claim, but any change of a byte changes it, which is
     * what a resumed run must notice in a segment of the right size. */
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int cme__mkdir_p(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "%s: invalid directory path", path);
        return CME_EINVAL;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create directory: %s", buf, strerror(errno));
            return CME_EIO;
        }
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", path);
        return CME_EIO;
    }
    return 0;
}

int cme__file_read_all(const char *path, unsigned char **out, size_t *size, char *err,
                       size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CME_EIO;
    }
    unsigned char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            unsigned char *p = realloc(data, cap);
            if (!p) {
                free(data);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return CME_ENOMEM;
            }
            data = p;
        }
        size_t r = fread(data + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        snprintf(err, errlen, "%s: read error", path);
        return CME_EIO;
    }
    *out = data;
    *size = len;
    return 0;
}

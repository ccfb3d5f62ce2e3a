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

int cme__file_write_atomic(const char *path, const void *data, size_t size, char *err,
                           size_t errlen)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return CME_EINVAL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return CME_EIO;
    }
    const unsigned char *p = data;
    size_t left = size;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return CME_EIO;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) < 0) {
        snprintf(err, errlen, "%s: close failed: %s", tmp, strerror(errno));
        unlink(tmp);
        return CME_EIO;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: rename to %s failed: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return CME_EIO;
    }
    return 0;
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

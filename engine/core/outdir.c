#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmafeng/common.h"
#include "core/file.h"
#include "core/outdir.h"

static long read_pid(int fd)
{
    char buf[32] = { 0 };
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

int cme__outdir_lock(CmeOutdirLock *lock, const char *dir, long *holder, char *err, size_t errlen)
{
    *holder = 0;
    struct stat st;
    int existed = stat(dir, &st) == 0;
    int r = cme__mkdir_p(dir, err, errlen);
    if (r < 0)
        return r;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, CME_OUTDIR_LOCK_NAME);
    if (n < 0 || (size_t)n >= sizeof(path) || strlen(dir) >= sizeof(lock->dir)) {
        snprintf(err, errlen, "%s: path too long", dir);
        return CME_EINVAL;
    }
    /* A holder that ends unlinks the file while it still holds the lock; whoever locked the
     * old inode meanwhile must try again on the new name, or two jobs would each hold a
     * lock on a different file. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, errlen, "%s: cannot create the lock file: %s", path, strerror(errno));
            return CME_EIO;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            long pid = read_pid(fd);
            close(fd);
            if (e == EWOULDBLOCK) {
                *holder = pid;
                if (pid > 0)
                    snprintf(err, errlen,
                             "%s: another cmafeng job (pid %ld) is writing this directory", dir,
                             pid);
                else
                    snprintf(err, errlen, "%s: another cmafeng job is writing this directory", dir);
                return CME_ETIMEDOUT;
            }
            snprintf(err, errlen, "%s: cannot lock: %s", path, strerror(e));
            return CME_EIO;
        }
        struct stat a, b;
        if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino ||
            a.st_dev != b.st_dev) {
            close(fd);
            continue;
        }
        char pid[32];
        int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
            snprintf(err, errlen, "%s: cannot write the lock file: %s", path, strerror(errno));
            unlink(path);
            close(fd);
            return CME_EIO;
        }
        lock->fd = fd;
        lock->created_dir = !existed;
        snprintf(lock->path, sizeof(lock->path), "%s", path);
        snprintf(lock->dir, sizeof(lock->dir), "%s", dir);
        return 0;
    }
    snprintf(err, errlen, "%s: the lock file keeps changing under us", path);
    return CME_EIO;
}

void cme__outdir_unlock(CmeOutdirLock *lock)
{
    if (lock->fd < 0)
        return;
    unlink(lock->path);
    close(lock->fd);
    lock->fd = -1;
    if (lock->created_dir)
        rmdir(lock->dir); /* fails, as it should, unless the job wrote nothing */
}

int cme__remove_tree(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CME_EIO;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return CME_EIO;
        }
        struct dirent *de;
        int r = 0;
        while (r == 0 && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char child[4096];
            int n = snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
            if (n < 0 || (size_t)n >= sizeof(child)) {
                snprintf(err, errlen, "%s/%s: path too long", path, de->d_name);
                r = CME_EINVAL;
            } else {
                r = cme__remove_tree(child, err, errlen);
            }
        }
        closedir(d);
        if (r < 0)
            return r;
        if (rmdir(path) < 0) {
            snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
            return CME_EIO;
        }
        return 0;
    }
    if (unlink(path) < 0) {
        snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
        return CME_EIO;
    }
    return 0;
}

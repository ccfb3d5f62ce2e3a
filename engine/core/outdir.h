/*
 * One job per output directory. A job holds OUT/.cmafeng-lock for its whole life: an
 * exclusive flock() on a file that carries the holder's pid, so a second job into the same
 * directory is refused at once and can say who holds it. The kernel drops the lock when its
 * holder dies, so a killed run never leaves the directory locked; the lock file itself is
 * only a name and is unlinked by a holder that ends normally.
 *
 * Also here: removing a directory tree (the old presentation an --overwrite moved aside).
 */
#ifndef CME_CORE_OUTDIR_H
#define CME_CORE_OUTDIR_H

#include <stddef.h>

#define CME_OUTDIR_LOCK_NAME ".cmafeng-lock"

typedef struct CmeOutdirLock {
    int fd;
    int created_dir; /* the directory did not exist before the lock was taken */
    char path[4096]; /* of the lock file */
    char dir[4096];
} CmeOutdirLock;

/* Creates dir (mkdir -p) and takes its lock. Returns 0; CME_ETIMEDOUT ("busy") when another
 * process holds it, with its pid in *holder (0 when it could not be read) and err saying so;
 * CME_EIO/CME_EINVAL otherwise. lock is filled on success only. */
int cme__outdir_lock(CmeOutdirLock *lock, const char *dir, long *holder, char *err, size_t errlen);
/* Unlinks the lock file and releases the lock; removes the directory too when the lock
 * created it and nothing else was written there. Safe on a released lock. */
void cme__outdir_unlock(CmeOutdirLock *lock);
/* rm -r path (lstat: symlinks are removed, never followed). Returns 0 or CME_EIO. */
int cme__remove_tree(const char *path, char *err, size_t errlen);

#endif

/*
 * Output files (engine/core/file.h, engine/core/outdir.h): the atomic writer leaves the
 * whole content under the final name and no temp file, reports a failure with the final
 * path and the cause (a missing directory; a read-only one when not root; the disk-full
 * case is the tmpfs e2e test, test_integrity_write.sh); the checksum is FNV-1a 64; the
 * output directory
 * lock refuses a second holder naming the first's pid, is released (file removed) on
 * unlock, and a lock that created its directory removes it when nothing was written.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmafeng/common.h"
#include "core/file.h"
#include "core/outdir.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cme-test-file.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char err[256];
    return cme__remove_tree(dir, err, sizeof(err));
}

static int count_entries(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", path);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

static void write_atomic_whole(void **state)
{
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/a.json", dir);
    assert_int_equal(cme__file_write_atomic(path, "{\"a\":1}\n", 8, err, sizeof(err)), 0);
    assert_int_equal(cme__file_write_atomic(path, "[]\n", 3, err, sizeof(err)), 0);
    unsigned char *data = NULL;
    size_t size = 0;
    assert_int_equal(cme__file_read_all(path, &data, &size, err, sizeof(err)), 0);
    assert_int_equal(size, 3);
    assert_memory_equal(data, "[]\n", 3);
    free(data);
    assert_int_equal(count_entries(dir), 1); /* no temp file left */
}

static void write_atomic_failure_names_final_path(void **state)
{
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/missing/b.json", dir);
    assert_int_equal(cme__file_write_atomic(path, "x", 1, err, sizeof(err)), CME_EIO);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file or directory"));
    assert_int_equal(strncmp(err, path, strlen(path)), 0);
    if (geteuid() != 0) { /* root writes anywhere: the permission case needs a user */
        char ro[300];
        snprintf(ro, sizeof(ro), "%s/ro", dir);
        assert_int_equal(mkdir(ro, 0555), 0);
        snprintf(path, sizeof(path), "%s/c.json", ro);
        assert_int_equal(cme__file_write_atomic(path, "x", 1, err, sizeof(err)), CME_EIO);
        assert_non_null(strstr(err, "Permission denied"));
    }
}

static void checksum_fnv1a(void **state)
{
    (void)state;
    /* FNV-1a 64 test vectors: "" and "a". */
    assert_true(cme__checksum64(CME_CHECKSUM64_INIT, "", 0) == 0xcbf29ce484222325ULL);
    assert_true(cme__checksum64(CME_CHECKSUM64_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    uint64_t h = cme__checksum64(CME_CHECKSUM64_INIT, "foo", 3);
    assert_true(h == 0xdcb27518fed9d577ULL);
    /* Chunked input gives the same sum. */
    uint64_t h2 = cme__checksum64(cme__checksum64(CME_CHECKSUM64_INIT, "f", 1), "oo", 2);
    assert_true(h == h2);
}

static void lock_refuses_second_holder(void **state)
{
    (void)state;
    char out[512], err[1024], lockfile[600];
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(lockfile, sizeof(lockfile), "%s/%s", out, CME_OUTDIR_LOCK_NAME);
    CmeOutdirLock a = { .fd = -1 }, b = { .fd = -1 };
    long holder = -1;
    assert_int_equal(cme__outdir_lock(&a, out, &holder, err, sizeof(err)), 0);
    assert_int_equal(holder, 0);
    struct stat st;
    assert_int_equal(stat(lockfile, &st), 0);
    /* flock() locks belong to open file descriptions: a second open conflicts even in the
     * same process, as a second cmafeng process would. */
    assert_int_equal(cme__outdir_lock(&b, out, &holder, err, sizeof(err)), CME_ETIMEDOUT);
    assert_int_equal(holder, (long)getpid());
    char want[64];
    snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
    assert_non_null(strstr(err, want));
    cme__outdir_unlock(&a);
    cme__outdir_unlock(&a); /* safe twice */
    /* The lock created the directory and nothing else was written: both are gone. */
    assert_int_not_equal(stat(out, &st), 0);
    /* Free again. */
    assert_int_equal(cme__outdir_lock(&b, out, &holder, err, sizeof(err)), 0);
    char seg[600];
    snprintf(seg, sizeof(seg), "%s/report.json", out);
    assert_int_equal(cme__file_write_atomic(seg, "{}", 2, err, sizeof(err)), 0);
    cme__outdir_unlock(&b);
    assert_int_not_equal(stat(lockfile, &st), 0);
    assert_int_equal(stat(seg, &st), 0); /* the job's output stays */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(write_atomic_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(write_atomic_failure_names_final_path, setup, teardown),
        cmocka_unit_test(checksum_fnv1a),
        cmocka_unit_test_setup_teardown(lock_refuses_second_holder, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

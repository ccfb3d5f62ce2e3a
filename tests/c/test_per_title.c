/*
 * Per-title probes on the job's devices (cme_probe_encodes_on, engine/media/per_title.c):
 * they lease sessions of the process-wide device pool, so a probe waits while a job holds
 * every session and gives up after its timeout; with two one-session devices and two
 * probes at once both devices are used, every probe names its device and every lease goes
 * back; bad run settings are refused. The source is a short clip made with ffmpeg.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmafeng/probe.h"
#include "sched/lease_pool.h"

static char src[256];

static int make_source(void **state)
{
    (void)state;
    char dir[] = "/tmp/cme-per-title-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    snprintf(src, sizeof(src), "%s/src.mkv", dir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -v error -y -f lavfi -i testsrc2=s=320x180:r=25:d=0.4 -c:v libx264 "
             "-preset ultrafast '%s'",
             src);
    setenv("SVT_LOG", "1", 1);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_source(void **state)
{
    (void)state;
    char cmd[300];
    char *slash = strrchr(src, '/');
    *slash = '\0';
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", src);
    return system(cmd) == 0 ? 0 : -1;
}

/* Probes at 320x180 and 160x90 (SVT-AV1 needs 64 lines), CRF 30, 30, 40, 40, ... */
static void set_probes(CmeProbeEncode *p, int n)
{
    memset(p, 0, (size_t)n * sizeof(*p));
    for (int i = 0; i < n; i++) {
        p[i].width = i % 2 ? 160 : 320;
        p[i].height = i % 2 ? 90 : 180;
        p[i].crf = 30 + 10 * (i / 2);
    }
}

static void test_waits_for_a_session(void **state)
{
    (void)state;
    CmeLeasePool *pool = cme__device_pool();
    CmeDevice dev = { .backend = CME_BACKEND_SVT, .sessions = 1 };
    snprintf(dev.id, sizeof(dev.id), "held");
    int d = cme__lease_pool_register(pool, &dev);
    assert_true(d >= 0);
    /* A job's worker holds the only session. */
    CmeLease job_lease;
    assert_int_equal(cme__lease_acquire_in(pool, UINT64_C(1) << d, &job_lease, 0), 0);

    CmeProbeDevice pd = { .id = "held", .sessions = 1 };
    CmeProbeRunSettings run = { .devices = &pd, .nb_devices = 1, .parallel = 2, .timeout_ms = 200 };
    CmeProbeEncode p[2];
    set_probes(p, 2);
    double seconds = 0;
    char err[256] = { 0 };
    assert_int_equal(
        cme_probe_encodes_on(src, 0, 5, 320, 180, 12, p, 2, &run, &seconds, err, sizeof(err)),
        CME_ETIMEDOUT);
    assert_non_null(strstr(err, "no free session"));
    assert_int_equal(p[0].bytes, 0); /* nothing encoded */

    /* Once the job lets go, the probes run there, one at a time (one session). */
    cme__lease_release(pool, &job_lease);
    assert_int_equal(
        cme_probe_encodes_on(src, 0, 5, 320, 180, 12, p, 2, &run, &seconds, err, sizeof(err)), 0);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(p[i].device, "held");
        assert_true(p[i].bytes > 0);
        assert_int_equal(p[i].frames, 5);
        assert_true(p[i].psnr > 20);
    }
    assert_true(seconds > 0.19 && seconds < 0.21);
    assert_int_equal(pool->devices[d].in_use, 0);
}

static void test_two_devices(void **state)
{
    (void)state;
    CmeProbeDevice pd[2] = { { .id = "left", .sessions = 1, .threads = 1 },
                             { .id = "right", .sessions = 1, .threads = 1 } };
    CmeProbeRunSettings run = { .devices = pd, .nb_devices = 2, .parallel = 2, .timeout_ms = -1 };
    CmeProbeEncode p[4];
    set_probes(p, 4);
    double seconds = 0;
    char err[256] = { 0 };
    assert_int_equal(
        cme_probe_encodes_on(src, 0.1, 5, 320, 180, 12, p, 4, &run, &seconds, err, sizeof(err)), 0);
    int left = 0, right = 0;
    for (int i = 0; i < 4; i++) {
        left += !strcmp(p[i].device, "left");
        right += !strcmp(p[i].device, "right");
        assert_true(p[i].bytes > 0);
        assert_true(p[i].ssim > 0.5 && p[i].ssim <= 1.0);
    }
    /* Two at once on two one-session devices: each batch holds both. */
    assert_int_equal(left, 2);
    assert_int_equal(right, 2);
    /* A higher CRF at one size costs fewer bytes: the results belong to their probes. */
    assert_true(p[2].bytes < p[0].bytes);
    assert_true(p[3].bytes < p[1].bytes);
    CmeLeasePool *pool = cme__device_pool();
    for (int i = 0; i < 2; i++) {
        int d = cme__lease_pool_find(pool, pd[i].id);
        assert_true(d >= 0);
        assert_int_equal(pool->devices[d].in_use, 0);
    }
}

static void test_bad_settings(void **state)
{
    (void)state;
    CmeProbeDevice pd = { .id = "left", .sessions = 1 };
    CmeProbeRunSettings run = { .devices = &pd, .nb_devices = 1, .parallel = 0 };
    CmeProbeEncode p[1];
    set_probes(p, 1);
    double seconds = 0;
    char err[256] = { 0 };
    assert_int_equal(
        cme_probe_encodes_on(src, 0, 5, 320, 180, 12, p, 1, &run, &seconds, err, sizeof(err)),
        CME_EINVAL);
    assert_int_equal(
        cme_probe_encodes_on(src, 0, 5, 320, 180, 12, p, 1, NULL, &seconds, err, sizeof(err)),
        CME_EINVAL);
    run.parallel = 1;
    pd.sessions = 0;
    assert_int_equal(
        cme_probe_encodes_on(src, 0, 5, 320, 180, 12, p, 1, &run, &seconds, err, sizeof(err)),
        CME_EINVAL);
    assert_non_null(strstr(err, "sessions >= 1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waits_for_a_session),
        cmocka_unit_test(test_two_devices),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests(tests, make_source, remove_source);
}

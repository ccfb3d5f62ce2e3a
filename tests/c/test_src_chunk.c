/*
 * Source chunks and the frame budget (engine/media/src_chunk.h), and decoding a chunk again
 * (engine/media/reload.h): a frame is freed when the last rung's first attempt has sent it,
 * not before; a rung claims a chunk's frames once; pinning works while every frame is
 * there and says EAGAIN after one was let go; the budget counts the bytes of held frames,
 * holds the pump at the limit (saying whether anyone sends), lets it go when every worker
 * starves, and returns to zero
 * when the chunks are gone. The reload test decodes a generated clip through the pump's
 * timeline and gets back exactly the frames the first decode had, with and without a seek.
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

#include "cmafeng/common.h"
#include "media/reload.h"
#include "media/source.h"
#include "media/src_chunk.h"

static AVFrame *gray_frame(int w, int h, int value)
{
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    for (int p = 0; p < 3; p++)
        memset(f->data[p], value, (size_t)f->linesize[p] * (size_t)(p ? h / 2 : h));
    return f;
}

static void test_release_after_every_rung(void **state)
{
    (void)state;
    CmeFrameBudget b;
    assert_int_equal(cme__frame_budget_init(&b, 1 << 30), 0);
    CmeSrcChunk *c = cme__src_chunk_new(0, 4, &b);
    assert_non_null(c);
    cme__src_chunk_set_consumers(c, 2);
    for (int i = 0; i < 3; i++)
        cme__src_chunk_append(c, gray_frame(64, 32, 16 * i), 3000 * i);
    cme__src_chunk_complete(c, 3000);
    int64_t bytes, peak;
    cme__frame_budget_stats(&b, &bytes, &peak);
    assert_true(bytes >= 3 * 64 * 32 * 3 / 2);
    const int64_t full = bytes;

    /* Rung 0 claims once; a second claim of rung 0 is a retry. */
    assert_int_equal(cme__src_chunk_claim(c, 0), 1);
    assert_int_equal(cme__src_chunk_claim(c, 0), 0);
    assert_int_equal(cme__src_chunk_claim(c, 5), 1);

    /* While both rungs have not sent frame 0, it stays, and a retry can pin all frames. */
    cme__src_chunk_release(c, 0);
    assert_non_null(cme__src_chunk_frame(c, 0));
    AVFrame *pinned[3];
    assert_int_equal(cme__src_chunk_pin(c, pinned), 0);
    for (int i = 0; i < 3; i++) {
        assert_non_null(pinned[i]);
        assert_int_equal(pinned[i]->data[0][0], 16 * i);
        av_frame_free(&pinned[i]);
    }
    /* The second rung's release frees it: the budget drops, pinning now says EAGAIN. */
    cme__src_chunk_release(c, 0);
    assert_null(c->frames[0]);
    cme__frame_budget_stats(&b, &bytes, &peak);
    assert_true(bytes < full);
    assert_int_equal(peak, full);
    assert_int_equal(cme__src_chunk_pin(c, pinned), CME_EAGAIN);
    for (int i = 0; i < 3; i++)
        assert_null(pinned[i]);
    /* A frame released twice by one rung is not freed early by the double count. */
    cme__src_chunk_release(c, 1);
    assert_non_null(c->frames[1]);

    cme__src_chunk_unref(&c);
    cme__frame_budget_stats(&b, &bytes, &peak);
    assert_int_equal(bytes, 0);
    cme__frame_budget_destroy(&b);
}

static void test_budget_brake(void **state)
{
    (void)state;
    CmeFrameBudget b;
    assert_int_equal(cme__frame_budget_init(&b, 1), 0); /* one byte: always at the limit */
    int idle;
    assert_int_equal(cme__frame_budget_wait(&b, 10, &idle), 0); /* nothing held */
    CmeSrcChunk *c = cme__src_chunk_new(0, 2, &b);
    cme__src_chunk_set_consumers(c, 1);
    cme__src_chunk_append(c, gray_frame(16, 16, 1), 0);
    /* Held at the limit with no worker yet: the pump waits, told that no one has joined. */
    assert_int_equal(cme__frame_budget_wait(&b, 10, &idle), CME_EAGAIN);
    assert_int_equal(idle, 1);
    /* A worker that is not starving: the pump waits. */
    cme__frame_budget_join(&b);
    assert_int_equal(cme__frame_budget_wait(&b, 20, &idle), CME_EAGAIN);
    assert_int_equal(idle, 0);
    /* The worker starves (waits for work): the pump must go on. */
    cme__frame_budget_idle(&b, 1);
    assert_int_equal(cme__frame_budget_wait(&b, 20, &idle), 0);
    /* A second worker that is busy holds the pump again. */
    cme__frame_budget_join(&b);
    assert_int_equal(cme__frame_budget_wait(&b, 20, &idle), CME_EAGAIN);
    cme__frame_budget_leave(&b);
    cme__frame_budget_idle(&b, -1);
    /* The frame is sent and let go: room again. */
    assert_int_equal(cme__src_chunk_claim(c, 0), 1);
    cme__src_chunk_release(c, 0);
    assert_int_equal(cme__frame_budget_wait(&b, 20, &idle), 0);
    cme__frame_budget_leave(&b);
    cme__src_chunk_unref(&c);
    cme__frame_budget_destroy(&b);
}

/* A 2 s clip, GOP 10, decoded through the source as the pump does. */
static void test_reload(void **state)
{
    (void)state;
    char dir[] = "/tmp/cme-reload-XXXXXX", path[256], cmd[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/clip.mkv", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -v error -y -f lavfi -i testsrc2=s=96x64:r=25:d=2 -c:v libx264 -g 10 "
             "-bf 2 -pix_fmt yuv420p %s",
             path);
    assert_int_equal(system(cmd), 0);
    char err[512] = { 0 };
    CmeSource *s = NULL;
    assert_int_equal(cme__source_open(&s, path, err, sizeof(err)), 0);
    enum { N = 50 };
    AVFrame *first[N];
    int64_t pts[N];
    int n = 0;
    AVFrame *f = av_frame_alloc();
    while (n < N && cme__source_read(s, f, CME_TIMESCALE, &pts[n], err, sizeof(err)) == 0)
        first[n++] = av_frame_clone(f);
    av_frame_free(&f);
    cme__source_close(&s);
    assert_int_equal(n, N);
    /* A chunk in the middle (a seek to its key frame) and the first (read from the start). */
    const int starts[] = { 23, 0 };
    for (int k = 0; k < 2; k++) {
        AVFrame *again[10];
        int r = cme__chunk_reload(path, &pts[starts[k]], 10, again, err, sizeof(err));
        assert_int_equal(r, 0);
        for (int i = 0; i < 10; i++) {
            const AVFrame *a = first[starts[k] + i], *b = again[i];
            assert_int_equal(a->width, b->width);
            for (int y = 0; y < a->height; y++)
                assert_memory_equal(a->data[0] + y * a->linesize[0],
                                    b->data[0] + y * b->linesize[0], (size_t)a->width);
            av_frame_free(&again[i]);
        }
    }
    /* A timestamp the source does not have: a clear error, nothing returned. */
    int64_t bogus[2] = { pts[5] + 1, pts[6] };
    AVFrame *none[2];
    assert_int_equal(cme__chunk_reload(path, bogus, 2, none, err, sizeof(err)), CME_EMEDIA);
    assert_non_null(strstr(err, "decoding the chunk again"));
    assert_null(none[0]);
    for (int i = 0; i < N; i++)
        av_frame_free(&first[i]);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_after_every_rung),
        cmocka_unit_test(test_budget_brake),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Embedding cmafeng from C: encode a source to a two-rung AV1 CMAF ladder and print the
 * events as they arrive. The calling thread is the policy thread: it pulls events, the
 * engine's threads never call back.
 *
 *   build/examples/embed input.mkv out/ [PRESET]
 *
 * A source with audio gets an audio rendition too, and every further audio stream and text
 * subtitle stream one more: their events carry rung -1 (is_audio or is_text) and the
 * rendition's name ("audio_2", "subs"; "" for the first audio rendition), so an event's
 * rendition is named by rendition_name(), never by indexing the ladder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/engine.h"

/* The ladder rung an event is about, or the audio or text rendition's name: those events
 * have rung == -1. */
static const char *rendition_name(const CmeJobSettings *s, const CmeEvent *ev)
{
    if ((ev->is_audio || ev->is_text) && ev->rendition[0])
        return ev->rendition;
    if (ev->is_audio || ev->rung < 0)
        return "audio";
    if (ev->rung >= s->nb_rungs)
        return "?";
    return s->rungs[ev->rung].name;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s SOURCE OUTPUT_DIR [PRESET]\n", argv[0]);
        return 2;
    }
    int preset = argc == 4 ? atoi(argv[3]) : 10;
    CmeJobSettings s;
    cme_job_default_settings(&s);
    s.source = argv[1];
    s.output_dir = argv[2];
    s.segment_seconds = 2.0;
    s.workers = 2;
    const CmeRungSettings ladder[] = {
        { .name = "720p", .width = 1280, .height = 720, .crf = 35, .preset = preset },
        { .name = "360p", .width = 640, .height = 360, .crf = 35, .preset = preset },
    };
    memcpy(s.rungs, ladder, sizeof(ladder));
    s.nb_rungs = 2;

    char err[1024];
    CmeEngine *e = NULL;
    int r = cme_engine_new(&e, &s, err, sizeof(err)); /* opens the source, writes nothing */
    if (r < 0) {
        fprintf(stderr, "embed: %s (%s)\n", err, cme_err_name(r));
        return 2;
    }
    r = cme_engine_start(e, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "embed: %s\n", err);
        cme_engine_free(&e);
        return 1;
    }
    CmeEvent ev;
    while ((r = cme_engine_next_event(e, &ev, 1000)) != CME_EOF) {
        if (r == CME_EAGAIN) {
            CmeEngineStats st;
            cme_engine_stats(e, &st);
            printf("... %.1f s, %llu frames decoded\n", st.elapsed,
                   (unsigned long long)st.frames_decoded);
            continue;
        }
        switch (ev.type) {
        case CME_EVENT_INIT_WRITTEN:
            printf("%s: init.mp4 written, codecs=%s\n", rendition_name(&s, &ev), ev.codecs);
            break;
        case CME_EVENT_SEGMENT_DONE:
            printf("%s: segment %u, %llu bytes, %.3f s, on %s\n", rendition_name(&s, &ev), ev.index,
                   (unsigned long long)ev.bytes, (double)ev.duration / ev.timescale, ev.device_id);
            break;
        case CME_EVENT_CHUNK_FAILED: {
            /* The policy is the embedder's: here, retry each chunk up to three times on
             * any device, then give up on the job. */
            CmeDecision d = { .action = ev.attempts < 3 ? CME_DECIDE_RETRY : CME_DECIDE_ABORT,
                              .device = -1,
                              .avoid = -1,
                              .crf = -1,
                              .preset = -1 };
            printf("%s\n", ev.message);
            if (cme_engine_decide(e, ev.rung, ev.index - 1, &d, err, sizeof(err)) < 0)
                fprintf(stderr, "embed: %s\n", err);
            break;
        }
        case CME_EVENT_DEVICE_EXCLUDED:
        case CME_EVENT_FAILED: printf("%s\n", ev.message); break;
        case CME_EVENT_WORKER_MOVED:
        case CME_EVENT_JOB_DONE: break;
        }
    }
    r = cme_engine_finish(e, err, sizeof(err)); /* joins threads, writes the manifests */
    if (r < 0)
        fprintf(stderr, "embed: %s\n", err);
    cme_engine_free(&e);
    return r < 0 ? 1 : 0;
}

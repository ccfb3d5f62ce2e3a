/*
 * The engine's public API (cmafeng/engine.h): job setup, thread lifecycle, the event
 * queue the policy thread pulls from, statistics and, at the end, the manifests.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/engine.h"
#include "cmafeng/mux.h"
#include "core/buf.h"
#include "core/file.h"
#include "media/audio.h"
#include "media/subtitles.h"
#include "mux/mp4_file.h"
#include "sched/job.h"
#include "sched/journal.h"
#include "worker/worker.h"

struct CmeEngine {
    CmeJob job;
};

void cme_job_default_settings(CmeJobSettings *s)
{
    memset(s, 0, sizeof(*s));
    s->output_dir = "out";
    s->segment_seconds = 2.0;
    s->workers = 2;
    s->threads_per_worker = 0;
    s->queue_depth = 2;
    s->invariant = CME_INVARIANT_CMAF;
    s->audio = 1;
    s->audio_bitrate = 128000;
    s->audio_channels = 2;
    s->audio_sample_rate = 48000;
}

/* --- failure and events -------------------------------------------------------------- */

void cme__job_fail(CmeJob *job, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&job->fail_lock);
    if (!job->fail_code) {
        job->fail_code = code < 0 ? code : CME_EENCODER;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(job->fail_msg, sizeof(job->fail_msg), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&job->fail_lock);
    if (atomic_exchange(&job->failed, 1))
        return;
    for (int r = 0; r < job->nb_rungs; r++)
        cme__chunkq_close(&job->rungs[r].queue);
    cme__signal_notify(&job->work);
}

void cme__job_post(CmeJob *job, const CmeEvent *ev)
{
    pthread_mutex_lock(&job->events_lock);
    if (job->nb_events == job->events_cap) {
        /* Compact consumed events before growing. */
        if (job->events_head > 0) {
            memmove(job->events, job->events + job->events_head,
                    (job->nb_events - job->events_head) * sizeof(*job->events));
            job->nb_events -= job->events_head;
            job->events_head = 0;
        }
        if (job->nb_events == job->events_cap) {
            size_t cap = job->events_cap ? job->events_cap * 2 : 64;
            CmeEvent *e = realloc(job->events, cap * sizeof(*e));
            if (!e) {
                /* Events are reports; the job state itself is not lost without them. */
                pthread_mutex_unlock(&job->events_lock);
                return;
            }
            job->events = e;
            job->events_cap = cap;
        }
    }
    job->events[job->nb_events++] = *ev;
    pthread_cond_signal(&job->events_cond);
    pthread_mutex_unlock(&job->events_lock);
}

void cme__job_thread_exit(CmeJob *job)
{
    if (atomic_fetch_sub(&job->live_threads, 1) != 1)
        return;
    if (!job->fail_code) {
        /* Every thread is gone: any chunk not written now was lost, which must never
         * pass silently. */
        for (int r = 0; r < job->nb_rungs; r++) {
            CmeRung *rung = &job->rungs[r];
            int total = atomic_load(&rung->total_chunks);
            if ((int)atomic_load(&rung->segments_done) != total)
                cme__job_fail(job, CME_EENCODER, "%s: %u of %d segments written", rung->set.name,
                              atomic_load(&rung->segments_done), total);
        }
    }
    if (job->fail_code) {
        CmeEvent ev = { .type = CME_EVENT_FAILED, .rung = -1, .device = -1 };
        pthread_mutex_lock(&job->fail_lock);
        snprintf(ev.message, sizeof(ev.message), "%s", job->fail_msg);
        pthread_mutex_unlock(&job->fail_lock);
        cme__job_post(job, &ev);
    }
    CmeEvent done = { .type = CME_EVENT_JOB_DONE, .rung = -1, .device = -1 };
    cme__job_post(job, &done);
    /* If memory ran out the event above may be missing; this flag still ends the job for
     * the policy thread (cme_engine_next_event). */
    pthread_mutex_lock(&job->events_lock);
    job->threads_done = 1;
    pthread_cond_broadcast(&job->events_cond);
    pthread_mutex_unlock(&job->events_lock);
}

/* --- setup --------------------------------------------------------------------------- */

static int validate(const CmeJobSettings *s, char *err, size_t errlen)
{
    if (!s->source || !*s->source) {
        snprintf(err, errlen, "source: expected a media file path");
        return CME_EINVAL;
    }
    if (!s->output_dir || !*s->output_dir) {
        snprintf(err, errlen, "output: expected a directory path");
        return CME_EINVAL;
    }
    if (!(s->segment_seconds > 0 && s->segment_seconds <= 60)) {
        snprintf(err, errlen, "segment_seconds: expected a number in (0, 60], got %g",
                 s->segment_seconds);
        return CME_EINVAL;
    }
    if (s->nb_rungs < 1 || s->nb_rungs > CME_MAX_RUNGS) {
        snprintf(err, errlen, "video.ladder: expected 1 to %d rungs, got %d", CME_MAX_RUNGS,
                 s->nb_rungs);
        return CME_EINVAL;
    }
    for (int i = 0; i < s->nb_rungs; i++) {
        const CmeRungSettings *r = &s->rungs[i];
        if (r->width < 16 || r->height < 16 || (r->width & 1) || (r->height & 1) ||
            r->width > 8192 || r->height > 8192) {
            snprintf(err, errlen,
                     "video.ladder[%d]: expected even width and height in "
                     "[16, 8192], got %dx%d",
                     i + 1, r->width, r->height);
            return CME_EINVAL;
        }
        /* SVT-AV1 rejects frames smaller than 64x64 only once an encoder opens, in the
         * middle of the job; say it up front. */
        if (r->width < 64 || r->height < 64) {
            snprintf(err, errlen,
                     "video.ladder[%d]: SVT-AV1 encodes frames of at least "
                     "64x64, got %dx%d",
                     i + 1, r->width, r->height);
            return CME_EINVAL;
        }
        if (r->bit_depth != 0 && r->bit_depth != 8 && r->bit_depth != 10) {
            snprintf(err, errlen, "video.ladder[%d].bit_depth: expected 8 or 10, got %d", i + 1,
                     r->bit_depth);
            return CME_EINVAL;
        }
        if (r->crf < 1 || r->crf > 63 || r->preset < -1 || r->preset > 13) {
            snprintf(err, errlen, "video.ladder[%d]: crf must be 1..63 and preset -1..13", i + 1);
            return CME_EINVAL;
        }
        if (!r->name[0] || strchr(r->name, '/') || !strcmp(r->name, "..") ||
            !strcmp(r->name, ".") || !strcmp(r->name, "audio")) {
            snprintf(err, errlen, "video.ladder[%d].name: expected a directory name", i + 1);
            return CME_EINVAL;
        }
        for (int j = 0; j < i; j++) {
            if (!strcmp(s->rungs[j].name, r->name)) {
                snprintf(err, errlen, "video.ladder[%d].name: duplicate name \"%s\"", i + 1,
                         r->name);
                return CME_EINVAL;
            }
        }
    }
    if (s->nb_devices == 0 && (s->workers < 1 || s->workers > 64)) {
        snprintf(err, errlen, "workers: expected 1..64, got %d", s->workers);
        return CME_EINVAL;
    }
    if (s->audio && (s->audio_channels < 0 || s->audio_channels > 6 ||
                     (s->audio_sample_rate != 44100 && s->audio_sample_rate != 48000) ||
                     s->audio_bitrate < 16000 || s->audio_bitrate > 512000 ||
                     (s->audio_codec != CME_AUDIO_AAC && s->audio_codec != CME_AUDIO_OPUS))) {
        snprintf(err, errlen,
                 "audio: expected 0 (as the source) to 6 channels, 44100 or 48000 Hz, 16000 "
                 "to 512000 bit/s and codec AAC or Opus, got %d, %d, %d, %d",
                 s->audio_channels, s->audio_sample_rate, s->audio_bitrate, s->audio_codec);
        return CME_EINVAL;
    }
    if (s->queue_depth < 1 || s->queue_depth > 64) {
        snprintf(err, errlen, "queue_depth: expected 1..64, got %d", s->queue_depth);
        return CME_EINVAL;
    }
    return 0;
}

static int parse_backend(const char *name, CmeBackend *out)
{
    static const struct {
        const char *name;
        CmeBackend b;
    } map[] = {
        { "svt", CME_BACKEND_SVT },
        { "nvenc", CME_BACKEND_NVENC },
        { "qsv", CME_BACKEND_QSV },
        { "vaapi", CME_BACKEND_VAAPI },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (!strcmp(name, map[i].name)) {
            *out = map[i].b;
            return 0;
        }
    }
    return CME_EINVAL;
}

/* Adds the job's devices to the pool; hardware devices must probe. */
static int setup_devices(CmeJob *job, char *err, size_t errlen)
{
    const CmeJobSettings *s = &job->set;
    if (s->nb_devices == 0) {
        int r = cme__lease_pool_add(&job->pool, "cpu", CME_BACKEND_SVT, s->workers,
                                    s->threads_per_worker);
        job->nb_workers = s->workers;
        return r < 0 ? r : 0;
    }
    job->nb_workers = 0;
    for (int i = 0; i < s->nb_devices; i++) {
        const CmeDeviceSettings *d = &s->devices[i];
        CmeBackend b;
        if (parse_backend(d->backend, &b) < 0) {
            snprintf(err, errlen,
                     "devices[%d].backend: expected svt, nvenc, qsv or vaapi, "
                     "got \"%s\"",
                     i + 1, d->backend);
            return CME_EINVAL;
        }
        const CmeEncoderImpl *impl = cme__encoder_find(b);
        char msg[256] = { 0 };
        if (!impl) {
            snprintf(err, errlen, "devices[%d]: the %s backend was not built into this binary",
                     i + 1, d->backend);
            return CME_ENODEV;
        }
        int pr = impl->probe(msg, sizeof(msg));
        if (pr < 0) {
            snprintf(err, errlen, "devices[%d]: %s", i + 1, msg);
            return pr;
        }
        char id[32];
        if (d->id[0])
            snprintf(id, sizeof(id), "%s", d->id);
        else
            snprintf(id, sizeof(id), "%s:%d", d->backend, i);
        int sessions = d->sessions > 0 ? d->sessions : 1;
        int r = cme__lease_pool_add(&job->pool, id, b, sessions,
                                    d->threads > 0 ? d->threads : s->threads_per_worker);
        if (r < 0)
            return r;
        job->pool.devices[r].level = d->level; /* no thread runs yet: no lock needed */
        job->nb_workers += sessions;
    }
    return 0;
}

static void engine_close_internal(CmeEngine *e)
{
    CmeJob *job = &e->job;
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        while (rung->parked) {
            CmeEncSlot *s = rung->parked;
            rung->parked = s->next;
            cme__slot_discard(job, &s);
        }
        CmeChunk *c;
        while (cme__chunkq_try_pop(&rung->queue, -1, &c) == 0) {
            CmeSrcChunk *src = c->payload;
            cme__src_chunk_unref(&src);
            free(c);
        }
        cme__chunkq_destroy(&rung->queue);
        pthread_mutex_destroy(&rung->lock);
        free(rung->seq_obu);
        free(rung->segs);
        free(rung->seg_done);
    }
    cme__audio_close(&job->audio.enc);
    free(job->audio.segs);
    cme__source_close(&job->src);
    cme__lease_pool_destroy(&job->pool);
    cme__signal_destroy(&job->work);
    pthread_mutex_destroy(&job->sched_lock);
    pthread_mutex_destroy(&job->fail_lock);
    pthread_mutex_destroy(&job->events_lock);
    pthread_cond_destroy(&job->events_cond);
    free(job->events);
    free(job->worker_threads);
    free(e);
}

int cme_engine_new(CmeEngine **out, const CmeJobSettings *s, char *err, size_t errlen)
{
    if (!out || !s || !err)
        return CME_EINVAL;
    *out = NULL;
    err[0] = '\0';
    int r = validate(s, err, errlen);
    if (r < 0)
        return r;
    /* SVT-AV1 prints every encoder's configuration to stderr; keep only its errors unless
     * the user asked otherwise. Set here, on the policy thread, before any engine thread
     * exists (setenv is not thread-safe). */
    setenv("SVT_LOG", "1", 0);
    CmeEngine *e = calloc(1, sizeof(*e));
    if (!e)
        return CME_ENOMEM;
    CmeJob *job = &e->job;
    job->set = *s;
    snprintf(job->source, sizeof(job->source), "%s", s->source);
    snprintf(job->output, sizeof(job->output), "%s", s->output_dir);
    job->set.source = job->source;
    job->set.output_dir = job->output;
    /* Everything the close path destroys is initialised first, so one error path frees
     * a half-built engine. */
    pthread_mutex_init(&job->sched_lock, NULL);
    pthread_mutex_init(&job->fail_lock, NULL);
    pthread_mutex_init(&job->events_lock, NULL);
    pthread_cond_init(&job->events_cond, NULL);
    cme__signal_init(&job->work);
    cme__lease_pool_init(&job->pool);
    for (int i = 0; i < s->nb_rungs; i++) {
        CmeRung *rung = &job->rungs[i];
        rung->set = s->rungs[i];
        rung->index = i;
        atomic_init(&rung->total_chunks, -1);
        pthread_mutex_init(&rung->lock, NULL);
        r = cme__chunkq_init(&rung->queue, s->queue_depth, &job->work);
        if (r < 0) {
            pthread_mutex_destroy(&rung->lock);
            goto error;
        }
        job->nb_rungs = i + 1;
    }
    r = setup_devices(job, err, errlen);
    if (r < 0)
        goto error;
    r = cme__source_open(&job->src, job->source, err, errlen);
    if (r < 0)
        goto error;
    cme__source_info(job->src, &job->info);
    cme__source_color(job->src, &job->color_primaries, &job->transfer, &job->matrix,
                      &job->full_range);
    double k = s->segment_seconds * job->info.fps_num / job->info.fps_den;
    job->chunk_frames = (int)lround(k);
    if (job->chunk_frames < 1)
        job->chunk_frames = 1;
    if (s->audio) {
        r = cme__source_select_audio(job->src, s->audio_streams, job->audio_streams, CME_MAX_AUDIO,
                                     err, errlen);
        if (r < 0)
            goto error;
        job->nb_audio_streams = r;
    }
    const AVStream *ast = cme__source_audio(job->src);
    if (ast && s->audio) {
        CmeAudioSettings as = { .bitrate = s->audio_bitrate,
                                .channels = s->audio_channels,
                                .sample_rate = s->audio_sample_rate,
                                .codec = (CmeAudioCodec)s->audio_codec };
        char aerr[512] = { 0 };
        r = cme__audio_open(&job->audio.enc, ast, &as, aerr, sizeof(aerr));
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", job->source, aerr);
            goto error;
        }
        /* Audio segments end where the video chunks of K frames end. */
        job->audio.segment_samples =
            (uint64_t)llround((double)job->chunk_frames * s->audio_sample_rate * job->info.fps_den /
                              job->info.fps_num);
    } else {
        cme__source_drop_audio(job->src);
    }
    *out = e;
    return 0;
error:
    if (!err[0])
        snprintf(err, errlen, "%s", cme_strerror(r));
    engine_close_internal(e);
    return r;
}

const CmeSourceInfo *cme_engine_source_info(const CmeEngine *e)
{
    return &e->job.info;
}

int cme_engine_start(CmeEngine *e, char *err, size_t errlen)
{
    CmeJob *job = &e->job;
    if (job->started) {
        snprintf(err, errlen, "the job was already started");
        return CME_EINVAL;
    }
    int r = cme__mkdir_p(job->output, err, errlen);
    for (int i = 0; r == 0 && i < job->nb_rungs; i++) {
        char path[2100];
        snprintf(path, sizeof(path), "%s/%s", job->output, job->rungs[i].set.name);
        r = cme__mkdir_p(path, err, errlen);
    }
    if (r == 0 && job->audio.enc) {
        char path[2100];
        snprintf(path, sizeof(path), "%s/audio", job->output);
        r = cme__mkdir_p(path, err, errlen);
    }
    if (r == 0)
        r = job->set.resume ? cme__journal_resume(job, err, errlen)
                            : cme__journal_begin(job, err, errlen);
    if (r < 0)
        return r;
    /* Every encoder the job needs is opened here, one per rung and device, before any
     * thread encodes: SVT-AV1 1.4.1 re-runs its CPU-dispatch setup in every encoder init,
     * resetting shared function pointers to their C versions and back while other
     * encoders run (Source/Lib/Common/Codec/common_dsp_rtcd.c, SET_FUNCTIONS). Opening
     * encoders mid-job crashed other encoders' threads (bench, threads_per_worker = 0). */
    for (int d = 0; r == 0 && d < job->pool.nb_devices; d++) {
        for (int i = 0; r == 0 && i < job->nb_rungs; i++) {
            CmeEncSlot *slot = NULL;
            r = cme__slot_open(job, i, d, &slot, err, errlen);
            if (r == 0) {
                slot->next = job->rungs[i].parked;
                job->rungs[i].parked = slot;
                job->rungs[i].slots[d] = 1;
            }
        }
    }
    if (r < 0)
        return r;
    job->worker_threads = calloc((size_t)job->nb_workers, sizeof(pthread_t));
    if (!job->worker_threads)
        return CME_ENOMEM;
    job->t_start = cme__now();
    atomic_store(&job->live_threads, 1 + job->nb_workers);
    job->started = 1;
    if (pthread_create(&job->pump_thread, NULL, cme__pump_main, job)) {
        snprintf(err, errlen, "cannot start the decode thread");
        job->started = 0;
        return CME_ENOMEM;
    }
    for (int i = 0; i < job->nb_workers; i++) {
        if (pthread_create(&job->worker_threads[i], NULL, cme__worker_main, job)) {
            /* Fewer workers than asked: fail the job cleanly; the threads that run see it. */
            atomic_fetch_sub(&job->live_threads, job->nb_workers - i);
            job->nb_workers = i;
            cme__job_fail(job, CME_ENOMEM, "cannot start worker thread %d", i + 1);
            break;
        }
    }
    return 0;
}

int cme_engine_next_event(CmeEngine *e, CmeEvent *ev, int timeout_ms)
{
    CmeJob *job = &e->job;
    struct timespec ts;
    if (timeout_ms >= 0)
        cme__deadline(&ts, timeout_ms);
    pthread_mutex_lock(&job->events_lock);
    while (job->events_head == job->nb_events) {
        if (job->done_delivered || !job->started) {
            pthread_mutex_unlock(&job->events_lock);
            return CME_EOF;
        }
        if (job->threads_done) {
            /* JOB_DONE could not be queued (out of memory): deliver it from here. */
            *ev = (CmeEvent){ .type = CME_EVENT_JOB_DONE, .rung = -1, .device = -1 };
            job->done_delivered = 1;
            pthread_mutex_unlock(&job->events_lock);
            return 0;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&job->events_cond, &job->events_lock);
        } else if (pthread_cond_timedwait(&job->events_cond, &job->events_lock, &ts)) {
            if (job->events_head == job->nb_events) {
                pthread_mutex_unlock(&job->events_lock);
                return CME_EAGAIN;
            }
        }
    }
    *ev = job->events[job->events_head++];
    if (ev->type == CME_EVENT_JOB_DONE)
        job->done_delivered = 1;
    pthread_mutex_unlock(&job->events_lock);
    return 0;
}

void cme_engine_stats(CmeEngine *e, CmeEngineStats *st)
{
    CmeJob *job = &e->job;
    memset(st, 0, sizeof(*st));
    st->elapsed = job->started ? cme__now() - job->t_start : 0;
    st->frames_decoded = atomic_load(&job->frames_decoded);
    st->decode_errors = atomic_load(&job->decode_errors);
    st->total_frames = job->info.nb_frames;
    st->decode_done = atomic_load(&job->decode_done);
    st->nb_rungs = job->nb_rungs;
    for (int r = 0; r < job->nb_rungs; r++) {
        st->rungs[r].frames_in = atomic_load(&job->rungs[r].frames_in);
        st->rungs[r].frames_encoded = atomic_load(&job->rungs[r].frames_encoded);
        st->rungs[r].segments_done = atomic_load(&job->rungs[r].segments_done);
    }
}

void cme_engine_cancel(CmeEngine *e, const char *why)
{
    cme__job_fail(&e->job, CME_ECANCELED, "canceled: %s", why ? why : "by request");
}

/* --- manifests ----------------------------------------------------------------------- */

static int write_buf(const char *dir, const char *sub, const char *name, CmeBuf *b, char *err,
                     size_t errlen)
{
    char path[2200];
    if (sub)
        snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    else
        snprintf(path, sizeof(path), "%s/%s", dir, name);
    int r = cme__buf_status(b);
    if (r < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return r;
    }
    return cme__file_write_atomic(path, b->data, b->size, err, errlen);
}

/* Peak (max over segments, RFC 8216 4.3.4.2) and average bit rates of a rendition. */
static void bandwidth(CmeRendition *rep)
{
    uint64_t bytes = 0, dur = 0, peak = 0;
    for (size_t k = 0; k < rep->nb_segments; k++) {
        const CmeSegmentEntry *s = &rep->segments[k];
        bytes += s->bytes;
        dur += s->duration;
        if (s->duration) {
            /* Rounded up: BANDWIDTH is an upper bound (RFC 8216 4.3.4.2). */
            uint64_t bw = (uint64_t)ceil((double)s->bytes * 8 * rep->timescale / s->duration);
            if (bw > peak)
                peak = bw;
        }
    }
    rep->peak_bandwidth = peak;
    rep->avg_bandwidth = dur ? (uint64_t)((double)bytes * 8 * rep->timescale / dur) : 0;
}

/* Fills in the bit rates and writes the rendition's media playlist. */
static int write_media_playlist(CmeJob *job, CmeRendition *rep, char *err, size_t errlen)
{
    bandwidth(rep);
    CmeBuf b = { 0 };
    int r = cme_hls_write_media(&b, rep);
    if (r == 0)
        r = write_buf(job->output, rep->name, "index.m3u8", &b, err, errlen);
    cme__buf_free(&b);
    return r;
}

static int write_manifests(CmeJob *job, char *err, size_t errlen)
{
    /* The ladder, then the audio renditions. */
    CmeRendition reps[CME_MAX_RUNGS + CME_MAX_AUDIO + CME_MAX_TEXT];
    memset(reps, 0, sizeof(reps));
    int r = 0;
    for (int i = 0; i < job->nb_rungs && r == 0; i++) {
        CmeRung *rung = &job->rungs[i];
        reps[i] = (CmeRendition){
            .name = rung->set.name,
            .codecs = rung->codecs,
            .width = (uint32_t)rung->seq.max_frame_width_minus_1 + 1,
            .height = (uint32_t)rung->seq.max_frame_height_minus_1 + 1,
            .fps_num = (uint32_t)job->info.fps_num,
            .fps_den = (uint32_t)job->info.fps_den,
            .timescale = CME_TIMESCALE,
            .segments = rung->segs,
            .nb_segments = (size_t)atomic_load(&rung->total_chunks),
            .start_number = 1,
        };
        r = write_media_playlist(job, &reps[i], err, errlen);
    }
    size_t nb = (size_t)job->nb_rungs;
    const CmeAudioRung *au = &job->audio;
    char lang[4];
    if (r == 0 && au->enc && au->nb_segs > 0) {
        reps[nb] = (CmeRendition){
            .name = "audio",
            .codecs = au->codecs,
            .timescale = (uint32_t)cme__audio_sample_rate(au->enc),
            .segments = au->segs,
            .nb_segments = au->nb_segs,
            .start_number = 1,
            .is_audio = 1,
            .channels = (uint32_t)cme__audio_channels(au->enc),
            .sample_rate = (uint32_t)cme__audio_sample_rate(au->enc),
            .language = cme__audio_language(cme__source_audio(job->src), lang) ? lang : NULL,
            .is_default = 1,
        };
        r = write_media_playlist(job, &reps[nb], err, errlen);
        nb++;
    }
    /* The other audio streams: one pass each over the source, cut at the video's segments. */
    CmeAudioExtra extra = { 0 };
    if (r == 0 && au->enc && job->nb_audio_streams > 1 && job->nb_rungs > 0) {
        CmeAudioSettings as = { .bitrate = job->set.audio_bitrate,
                                .channels = job->set.audio_channels,
                                .sample_rate = job->set.audio_sample_rate,
                                .codec = (CmeAudioCodec)job->set.audio_codec };
        AVRational tb;
        int64_t origin = cme__source_origin(job->src, &tb);
        r = cme__audio_extra(job->source, job->output, job->audio_streams + 1,
                             job->nb_audio_streams - 1, &as, origin, tb, job->rungs[0].segs,
                             (size_t)atomic_load(&job->rungs[0].total_chunks), CME_TIMESCALE,
                             &extra, err, errlen);
        for (int k = 0; r == 0 && k < extra.n; k++) {
            reps[nb] = extra.reps[k];
            r = write_media_playlist(job, &reps[nb], err, errlen);
            nb++;
        }
    }
    /* Text subtitle streams: WebVTT renditions segmented like the video. */
    CmeTextExtra text = { 0 };
    if (r == 0 && job->nb_rungs > 0) {
        AVRational tb;
        int64_t origin = cme__source_origin(job->src, &tb);
        r = cme__text_extra(job->source, job->output, origin, tb, job->rungs[0].segs,
                            (size_t)atomic_load(&job->rungs[0].total_chunks), CME_TIMESCALE, &text,
                            err, errlen);
        for (int k = 0; r == 0 && k < text.n; k++) {
            reps[nb] = text.reps[k];
            r = write_media_playlist(job, &reps[nb], err, errlen);
            nb++;
        }
    }
    if (r == 0) {
        CmeBuf b = { 0 };
        r = cme_hls_write_master(&b, reps, nb);
        if (r == 0)
            r = write_buf(job->output, NULL, "master.m3u8", &b, err, errlen);
        cme__buf_free(&b);
    }
    if (r == 0) {
        CmeBuf b = { 0 };
        r = cme_dash_write_mpd(&b, reps, nb);
        if (r == 0)
            r = write_buf(job->output, NULL, "manifest.mpd", &b, err, errlen);
        cme__buf_free(&b);
    }
    cme__audio_extra_free(&extra);
    cme__text_extra_free(&text);
    /* One progressive MP4 per rung, the first audio rendition muxed in. */
    for (int i = 0; r == 0 && job->set.mp4_files && i < job->nb_rungs; i++)
        r = cme__rung_mp4(job->output, job->rungs[i].set.name,
                          (size_t)atomic_load(&job->rungs[i].total_chunks),
                          au->enc ? "audio" : NULL, au->nb_segs, err, errlen);
    if (r < 0 && !err[0])
        snprintf(err, errlen, "writing manifests failed: %s", cme_strerror(r));
    return r;
}

int cme_engine_finish(CmeEngine *e, char *err, size_t errlen)
{
    CmeJob *job = &e->job;
    err[0] = '\0';
    if (job->started) {
        pthread_join(job->pump_thread, NULL);
        for (int i = 0; i < job->nb_workers; i++)
            pthread_join(job->worker_threads[i], NULL);
        job->started = 0;
        job->nb_workers = 0;
    } else if (!job->fail_code) {
        snprintf(err, errlen, "the job was not started");
        return CME_EINVAL;
    }
    if (job->fail_code) {
        snprintf(err, errlen, "%s", job->fail_msg);
        return job->fail_code;
    }
    int r = write_manifests(job, err, errlen);
    if (r == 0)
        cme__journal_remove(job);
    return r;
}

void cme_engine_free(CmeEngine **pe)
{
    CmeEngine *e = *pe;
    if (!e)
        return;
    if (e->job.started) {
        char err[16];
        cme_engine_cancel(e, "engine freed while running");
        cme_engine_finish(e, err, sizeof(err));
    }
    engine_close_internal(e);
    *pe = NULL;
}

int cme_source_probe(const char *path, CmeSourceInfo *info, char *err, size_t errlen)
{
    CmeSource *s = NULL;
    int r = cme__source_open(&s, path, err, errlen);
    if (r < 0)
        return r;
    cme__source_info(s, info);
    cme__source_close(&s);
    return 0;
}

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
#include <time.h>

#include "cmafeng/engine.h"
#include "cmafeng/mux.h"
#include "core/buf.h"
#include "cmafeng_config.h"
#include "core/file.h"
#include "core/outpath.h"
#include "core/limits.h"
#include "enc/discover_pool.h"
#include "enc/fault.h"
#include "media/audio.h"
#include "job/text_tracks.h"
#include "mux/mp4_file.h"
#include "sched/job_state.h"
#include "job/engine_state.h"
#include "job/journal.h"
#include "job/pump_sink.h"
#include "media/src_chunk.h"
#include "media/source.h"
#include "worker/worker.h"

void cme_job_default_settings(CmeJobSettings *s)
{
    memset(s, 0, sizeof(*s));
    s->output_dir = "out";
    s->segment_seconds = 2.0;
    s->workers = 2;
    s->threads_per_worker = 0;
    s->queue_depth = 2;
    s->frame_memory_mb = CME_DEFAULT_FRAME_MEMORY_MB;
    s->invariant = CME_INVARIANT_CMAF;
    s->audio = 1;
    s->audio_bitrate = 128000;
    s->audio_channels = 2;
    s->audio_sample_rate = 48000;
    s->stall_seconds = 120;
    s->max_attempts = 6;
}

/*
 * The audio streams after the first and the text subtitle streams: one pass each over the
 * source, cut at the first rung's segments, run by the last thread of the job once every
 * chunk is done, so that their segments are SEGMENT_DONE events (rung -1, is_audio or
 * is_text, the rendition's name and language) before JOB_DONE (job->before_done). The
 * manifests read e->audio_extra and e->text_extra. A failure fails the job.
 */
static void extra_tracks(CmeJob *job)
{
    CmeEngine *e = (CmeEngine *)job; /* the job is the engine's first member */
    const CmeAudioRung *au = &job->audio;
    if (job->nb_rungs == 0)
        return;
    size_t nb = cme__ct_count(&job->ct, 0);
    CmeSegmentEntry *segs = calloc(nb ? nb : 1, sizeof(*segs));
    int n = segs ? cme__ct_segments(&job->ct, 0, segs, nb) : CME_ENOMEM;
    char err[1024] = { 0 };
    AVRational tb;
    int64_t origin = cme__source_origin(job->src, &tb);
    int r = n < 0 ? n : 0;
    if (r == 0 && au->enc && job->nb_audio_streams > 1) {
        CmeAudioSettings as = { .bitrate = job->set.audio_bitrate,
                                .channels = job->set.audio_channels,
                                .sample_rate = job->set.audio_sample_rate,
                                .codec = (CmeAudioCodec)job->set.audio_codec };
        r = cme__audio_extra(job->source, job->output, job->audio_streams + 1,
                             job->nb_audio_streams - 1, &as, origin, tb, segs, (size_t)n,
                             CME_TIMESCALE, &e->audio_extra, err, sizeof(err));
    }
    if (r == 0)
        r = cme__text_extra(job->source, job->output, origin, tb, segs, (size_t)n, CME_TIMESCALE,
                            &e->text_extra, err, sizeof(err));
    free(segs);
    if (r < 0) {
        cme__job_fail(job, r, "%s", err[0] ? err : cme_strerror(r));
        return;
    }
    const CmeRendition *reps[CME_MAX_AUDIO + CME_MAX_TEXT];
    int nr = 0;
    for (int k = 0; k < e->audio_extra.n; k++)
        reps[nr++] = &e->audio_extra.reps[k];
    for (int k = 0; k < e->text_extra.n; k++)
        reps[nr++] = &e->text_extra.reps[k];
    for (int k = 0; k < nr; k++) {
        const CmeRendition *rep = reps[k];
        CmeEvent ev = { .rung = -1,
                        .device = -1,
                        .worker = -1,
                        .instance = -1,
                        .is_audio = rep->is_audio,
                        .is_text = rep->is_text,
                        .timescale = rep->timescale };
        snprintf(ev.rendition, sizeof(ev.rendition), "%s", rep->name);
        snprintf(ev.language, sizeof(ev.language), "%s", rep->language ? rep->language : "");
        if (rep->is_audio) {
            ev.type = CME_EVENT_INIT_WRITTEN;
            snprintf(ev.codecs, sizeof(ev.codecs), "%s", rep->codecs);
            cme__job_post(job, &ev);
        }
        ev.type = CME_EVENT_SEGMENT_DONE;
        ev.attempts = 1;
        snprintf(ev.codecs, sizeof(ev.codecs), "%s", rep->codecs);
        snprintf(ev.device_id, sizeof(ev.device_id), "cpu");
        for (size_t i = 0; i < rep->nb_segments; i++) {
            ev.index = rep->start_number + (uint32_t)i;
            ev.bytes = rep->segments[i].bytes;
            ev.start = rep->segments[i].start;
            ev.duration = rep->segments[i].duration;
            cme__job_post(job, &ev);
        }
    }
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
    /* The limits are the table the recipe schema reads (core/limits.h): what the schema
     * accepts, the engine encodes; these checks guard the C API. */
    if (!(s->segment_seconds > 0 && s->segment_seconds <= CME_LIMIT_MAX_SEGMENT_SECONDS)) {
        snprintf(err, errlen, "segment_seconds: expected a number in (0, %d], got %g",
                 CME_LIMIT_MAX_SEGMENT_SECONDS, s->segment_seconds);
        return CME_EINVAL;
    }
    if (s->nb_rungs < 1 || s->nb_rungs > CME_LIMIT_MAX_RUNGS) {
        snprintf(err, errlen, "video.ladder: expected 1 to %d rungs, got %d", CME_LIMIT_MAX_RUNGS,
                 s->nb_rungs);
        return CME_EINVAL;
    }
    for (int i = 0; i < s->nb_rungs; i++) {
        const CmeRungSettings *r = &s->rungs[i];
        if (r->width < CME_LIMIT_MIN_DIMENSION || r->height < CME_LIMIT_MIN_DIMENSION ||
            (r->width & 1) || (r->height & 1) || r->width > CME_LIMIT_MAX_DIMENSION ||
            r->height > CME_LIMIT_MAX_DIMENSION) {
            snprintf(err, errlen,
                     "video.ladder[%d]: expected even width and height in [%d, %d], got %dx%d",
                     i + 1, CME_LIMIT_MIN_DIMENSION, CME_LIMIT_MAX_DIMENSION, r->width, r->height);
            return CME_EINVAL;
        }
        if (r->bit_depth != 0 && r->bit_depth != 8 && r->bit_depth != 10) {
            snprintf(err, errlen, "video.ladder[%d].bit_depth: expected 8 or 10, got %d", i + 1,
                     r->bit_depth);
            return CME_EINVAL;
        }
        if (r->crf < CME_LIMIT_MIN_CRF || r->crf > CME_LIMIT_MAX_CRF ||
            r->preset < CME_LIMIT_MIN_PRESET || r->preset > CME_LIMIT_MAX_PRESET) {
            snprintf(err, errlen, "video.ladder[%d]: crf must be %d..%d and preset %d..%d", i + 1,
                     CME_LIMIT_MIN_CRF, CME_LIMIT_MAX_CRF, CME_LIMIT_MIN_PRESET,
                     CME_LIMIT_MAX_PRESET);
            return CME_EINVAL;
        }
        if (!r->name[0] || strchr(r->name, '/') || !strcmp(r->name, "..") ||
            !strcmp(r->name, ".") || !strcmp(r->name, CME_OUT_AUDIO)) {
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
    if (s->nb_devices == 0 && (s->workers < 1 || s->workers > CME_LIMIT_MAX_WORKERS)) {
        snprintf(err, errlen, "workers: expected 1..%d, got %d", CME_LIMIT_MAX_WORKERS, s->workers);
        return CME_EINVAL;
    }
    if (s->audio && (s->audio_channels < 0 || s->audio_channels > 6 ||
                     (s->audio_sample_rate != 44100 && s->audio_sample_rate != 48000) ||
                     s->audio_bitrate < CME_LIMIT_MIN_AUDIO_BITRATE ||
                     s->audio_bitrate > CME_LIMIT_MAX_AUDIO_BITRATE ||
                     (s->audio_codec != CME_AUDIO_AAC && s->audio_codec != CME_AUDIO_OPUS))) {
        snprintf(err, errlen,
                 "audio: expected 0 (as the source) to 6 channels, 44100 or 48000 Hz, 16000 "
                 "to 512000 bit/s and codec AAC or Opus, got %d, %d, %d, %d",
                 s->audio_channels, s->audio_sample_rate, s->audio_bitrate, s->audio_codec);
        return CME_EINVAL;
    }
    if (!(s->stall_seconds > 0 && s->stall_seconds <= CME_LIMIT_MAX_STALL_SECONDS)) {
        snprintf(err, errlen, "stall_seconds: expected a number in (0, %d], got %g",
                 CME_LIMIT_MAX_STALL_SECONDS, s->stall_seconds);
        return CME_EINVAL;
    }
    if (s->max_attempts < 1 || s->max_attempts > CME_LIMIT_MAX_ATTEMPTS) {
        snprintf(err, errlen, "max_attempts: expected 1..%d, got %d", CME_LIMIT_MAX_ATTEMPTS,
                 s->max_attempts);
        return CME_EINVAL;
    }
    for (int i = 0; i < s->nb_rungs; i++) {
        if (s->rungs[i].instances < 0 || s->rungs[i].instances > CME_LIMIT_MAX_INSTANCES) {
            snprintf(err, errlen, "video.ladder[%d].instances: expected 1..%d, got %d", i + 1,
                     CME_LIMIT_MAX_INSTANCES, s->rungs[i].instances);
            return CME_EINVAL;
        }
    }
    if (s->nb_devices < 0 || s->nb_devices > CME_LIMIT_MAX_DEVICES) {
        snprintf(err, errlen, "devices: expected at most %d devices, got %d", CME_LIMIT_MAX_DEVICES,
                 s->nb_devices);
        return CME_EINVAL;
    }
    for (int i = 0; i < s->nb_devices; i++) {
        const CmeDeviceSettings *d = &s->devices[i];
        if (d->instances < 0 || d->instances > CME_LIMIT_MAX_INSTANCES || d->sessions < 0 ||
            d->sessions > CME_LIMIT_MAX_SESSIONS) {
            snprintf(err, errlen,
                     "devices[%d]: expected sessions 1..%d and instances 1..%d, got %d and %d",
                     i + 1, CME_LIMIT_MAX_SESSIONS, CME_LIMIT_MAX_INSTANCES, d->sessions,
                     d->instances);
            return CME_EINVAL;
        }
    }
    if (s->frame_memory_mb < CME_LIMIT_MIN_FRAME_MEMORY_MB ||
        s->frame_memory_mb > CME_LIMIT_MAX_FRAME_MEMORY_MB) {
        snprintf(err, errlen, "frame_memory_mb: expected %d..%d, got %d",
                 CME_LIMIT_MIN_FRAME_MEMORY_MB, CME_LIMIT_MAX_FRAME_MEMORY_MB, s->frame_memory_mb);
        return CME_EINVAL;
    }
    if (s->queue_depth < 1 || s->queue_depth > CME_LIMIT_MAX_QUEUE_DEPTH) {
        snprintf(err, errlen, "queue_depth: expected 1..%d, got %d", CME_LIMIT_MAX_QUEUE_DEPTH,
                 s->queue_depth);
        return CME_EINVAL;
    }
    return 0;
}

/* What the device's backend can do (its vtable's capabilities), for the checks before a
 * device gets a rung and for `cmafeng devices`. */
static void device_caps(CmeDevice *dev, const CmeEncoderImpl *impl)
{
    CmeEncoderCaps caps = { 0 };
    char msg[128];
    if (impl->caps && impl->caps(&caps, msg, sizeof(msg)) == 0) {
        dev->max_width = caps.max_width;
        dev->max_height = caps.max_height;
        dev->ten_bit = (caps.bit_depths >> 10) & 1;
        dev->midjob_open = caps.midjob_open_safe;
    } else {
        dev->max_width = dev->max_height = 0;
        dev->ten_bit = dev->midjob_open = 0;
    }
}

/* A declared device's id: its own, or "<backend>:<position>". */
static void device_id(const CmeDeviceSettings *d, int i, char *out, size_t n)
{
    if (d->id[0])
        snprintf(out, n, "%s", d->id);
    else
        snprintf(out, n, "%s:%d", d->backend, i);
}

/* Every rung against the device's capabilities, before anything opens. */
static int check_rungs(const CmeJobSettings *s, const CmeDevice *dev, char *err, size_t errlen)
{
    for (int k = 0; k < s->nb_rungs; k++) {
        int r = cme__encoder_check_rung(&s->rungs[k], dev, err, errlen);
        if (r < 0)
            return r;
    }
    return 0;
}

/* A device discovery resolved (devices = "auto", or a hardware backend without an id): the
 * backend's capabilities where this build can ask them, narrowed to what the device itself
 * reported. */
static void discovered_caps(CmeDevice *dev)
{
    CmeDevice own = *dev;
    device_caps(dev, cme__encoder_find(dev->backend));
    if (!dev->max_width || (own.max_width && own.max_width < dev->max_width))
        dev->max_width = own.max_width;
    if (!dev->max_height || (own.max_height && own.max_height < dev->max_height))
        dev->max_height = own.max_height;
    dev->ten_bit = own.ten_bit;
    dev->midjob_open = own.midjob_open;
}

/* Registers the job's devices in the process's pool (hardware devices must probe; an
 * optional one that cannot is skipped with a warning), checks every rung against every
 * device's capabilities, and decides how many encoder instances each device gives each
 * rung. */
static int setup_devices(CmeJob *job, char *err, size_t errlen)
{
    const CmeJobSettings *s = &job->set;
    job->pool = cme__device_pool();
    job->nb_workers = 0;
    int instances[CME_MAX_DEVICES] = { 0 }; /* per pool device, 0 = default */
    int sessions[CME_MAX_DEVICES] = { 0 };
    /* Discovered devices: devices = "auto", or declared hardware devices without an id. */
    CmeDevice found[CME_MAX_JOB_DEVICES];
    int nb_found = 0, hw_auto = 0;
    char why[1024] = { 0 };
    if (s->devices_auto && s->nb_devices == 0) {
        nb_found =
            cme__discover_devices(NULL, s->workers, found, CME_MAX_JOB_DEVICES, why, sizeof(why));
        if (nb_found < 0)
            return nb_found;
        hw_auto = nb_found > 0;
        if (!hw_auto)
            fprintf(stderr,
                    "cmafeng: warning: devices = \"auto\": no hardware AV1 encoder here (%s); "
                    "encoding on the CPU (SVT-AV1, %d sessions)\n",
                    why, s->workers);
    }
    for (int i = 0; i < nb_found; i++) {
        discovered_caps(&found[i]);
        int cr = check_rungs(s, &found[i], err, errlen);
        int r = cr < 0 ? cr : cme__lease_pool_register(job->pool, &found[i]);
        if (r < 0) {
            if (cr == 0)
                snprintf(err, errlen, "device %s: %s", found[i].id, cme_strerror(r));
            return r;
        }
        job->dev_mask |= UINT64_C(1) << r;
        job->dev_order[job->nb_devs++] = r;
        sessions[r] = found[i].sessions;
        job->nb_workers += found[i].sessions;
    }
    if (s->nb_devices == 0 && !hw_auto) {
        CmeDevice dev = { .backend = CME_BACKEND_SVT,
                          .sessions = s->workers,
                          .threads = s->threads_per_worker };
        snprintf(dev.id, sizeof(dev.id), "cpu");
        device_caps(&dev, cme__encoder_find(CME_BACKEND_SVT));
        int cr = check_rungs(s, &dev, err, errlen);
        if (cr < 0)
            return cr;
        int r = cme__lease_pool_register(job->pool, &dev);
        if (r < 0) {
            snprintf(err, errlen, "device \"cpu\": %s", cme_strerror(r));
            return r;
        }
        job->dev_mask |= UINT64_C(1) << r;
        job->dev_order[job->nb_devs++] = r;
        sessions[r] = s->workers;
        job->nb_workers = s->workers;
    }
    for (int i = 0; i < s->nb_devices; i++) {
        const CmeDeviceSettings *d = &s->devices[i];
        const CmeEncoderImpl *impl = NULL;
        char msg[256] = { 0 };
        int lr = cme__encoder_lookup(d->backend, &impl, msg, sizeof(msg));
        if (lr < 0) {
            snprintf(err, errlen, "devices[%d].backend: %s", i + 1, msg);
            return lr;
        }
        const CmeBackend b = impl->backend;
        if (cme__backend_is_hardware(b) && !d->id[0]) {
            /* Every device of that backend discovery finds, each with its session cap (at
             * most the recipe's sessions when it gives them). */
            CmeDevice hw[CME_MAX_JOB_DEVICES];
            int nh = cme__discover_devices(d->backend, d->sessions > 1 ? d->sessions : 8, hw,
                                           CME_MAX_JOB_DEVICES, why, sizeof(why));
            if (nh < 0)
                return nh;
            if (nh == 0) {
                if (d->optional) {
                    fprintf(stderr, "cmafeng: warning: devices[%d] (%s:%d): skipped: %s\n", i + 1,
                            d->backend, i, why);
                    continue;
                }
                snprintf(err, errlen, "devices[%d] (%s:%d): %s", i + 1, d->backend, i, why);
                return CME_ENODEV;
            }
            for (int k = 0; k < nh; k++) {
                discovered_caps(&hw[k]);
                hw[k].threads = d->threads;
                hw[k].level = d->level;
                snprintf(hw[k].options, sizeof(hw[k].options), "%s", d->options);
                int cr = check_rungs(s, &hw[k], err, errlen);
                int r = cr < 0 ? cr : cme__lease_pool_register(job->pool, &hw[k]);
                if (r < 0) {
                    if (cr == 0)
                        snprintf(err, errlen, "devices[%d] (%s): %s", i + 1, hw[k].id,
                                 cme_strerror(r));
                    return r;
                }
                job->dev_mask |= UINT64_C(1) << r;
                job->dev_order[job->nb_devs++] = r;
                sessions[r] = hw[k].sessions;
                instances[r] = d->instances;
                job->nb_workers += hw[k].sessions;
            }
            continue;
        }
        CmeDevice dev = { .backend = b,
                          .sessions = d->sessions > 0 ? d->sessions : 1,
                          .threads = d->threads > 0 ? d->threads : s->threads_per_worker,
                          .level = d->level };
        device_id(d, i, dev.id, sizeof(dev.id));
        snprintf(dev.options, sizeof(dev.options), "%s", d->options);
        for (int j = 0; j < i; j++) {
            char oid[32];
            device_id(&s->devices[j], j, oid, sizeof(oid));
            if (!strcmp(oid, dev.id)) {
                snprintf(err, errlen, "devices[%d].id: \"%s\" is already devices[%d]'s id", i + 1,
                         dev.id, j + 1);
                return CME_EINVAL;
            }
        }
        int pr = impl->probe(msg, sizeof(msg));
        if (pr < 0) {
            if (d->optional) {
                fprintf(stderr, "cmafeng: warning: devices[%d] (%s): skipped: %s\n", i + 1, dev.id,
                        msg);
                continue;
            }
            snprintf(err, errlen, "devices[%d] (%s): %s", i + 1, dev.id, msg);
            return pr;
        }
        device_caps(&dev, impl);
        int r = cme__lease_pool_register(job->pool, &dev);
        if (r < 0) {
            snprintf(err, errlen, "devices[%d] (%s): %s", i + 1, dev.id,
                     r == CME_EINVAL ? "an earlier job of this process registered this id "
                                       "with another backend"
                                     : "the device pool is full");
            return r;
        }
        int cr = check_rungs(s, &dev, err, errlen);
        if (cr < 0)
            return cr;
        job->dev_mask |= UINT64_C(1) << r;
        job->dev_order[job->nb_devs++] = r;
        sessions[r] = dev.sessions;
        instances[r] = d->instances;
        job->nb_workers += dev.sessions;
    }
    if (!job->dev_mask) {
        snprintf(err, errlen, "devices: none of the declared devices can be used here");
        return CME_ENODEV;
    }
    /* Instances per (rung, device): the rung's `instances`, else the device's, else enough
     * for every session of the device when the job has one rung, spread over the rungs
     * otherwise (each instance is a whole encoder's memory). */
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        for (int d = 0; d < CME_MAX_DEVICES; d++) {
            if (!(job->dev_mask & (UINT64_C(1) << d)))
                continue;
            CmeDevice dev;
            pthread_mutex_lock(&job->pool->lock);
            dev = job->pool->devices[d];
            pthread_mutex_unlock(&job->pool->lock);
            if (rung->set.width > dev.max_width || rung->set.height > dev.max_height ||
                (rung->set.bit_depth == 10 && !dev.ten_bit))
                continue; /* this device cannot encode the rung */
            int n = rung->set.instances > 0 ? rung->set.instances : instances[d];
            if (n <= 0)
                n = (sessions[d] + job->nb_rungs - 1) / job->nb_rungs;
            rung->cap[d] = n < 1 ? 1 : n;
        }
        int any = 0;
        for (int d = 0; d < CME_MAX_DEVICES; d++)
            any |= rung->cap[d] > 0;
        if (!any) {
            snprintf(err, errlen,
                     "video.ladder[%d] (%dx%d, %d-bit): no device of the job can encode it "
                     "(size or bit depth beyond every device's capabilities)",
                     r + 1, rung->set.width, rung->set.height, rung->set.bit_depth == 10 ? 10 : 8);
            return CME_EUNSUPPORTED;
        }
    }
    return 0;
}

/* The chunk table's references to the shared source frames. */
static void src_chunk_ref(void *p)
{
    cme__src_chunk_ref(p);
}

static void src_chunk_unref(void *p)
{
    CmeSrcChunk *c = p;
    cme__src_chunk_unref(&c);
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
        while (cme__chunkq_try_pop(&rung->queue, -1, &c) == 0)
            cme__chunk_ticket_free(&c);
        cme__chunkq_destroy(&rung->queue);
        pthread_mutex_destroy(&rung->lock);
        free(rung->seq_obu);
        free(rung->segs);
        free(rung->seg_done);
    }
    while (job->retired) {
        CmeEncSlot *s = job->retired;
        job->retired = s->next;
        cme__slot_discard(job, &s);
    }
    cme__ct_destroy(&job->ct);
    free(job->cuts);
    cme__audio_close(&job->audio.enc);
    free(job->audio.segs);
    cme__audio_extra_free(&e->audio_extra);
    cme__text_extra_free(&e->text_extra);
    cme__source_close(&job->src);
    cme__signal_destroy(&job->work);
    pthread_mutex_destroy(&job->sched_lock);
    pthread_mutex_destroy(&job->fail_lock);
    pthread_mutex_destroy(&job->events_lock);
    pthread_cond_destroy(&job->events_cond);
    free(job->events);
    free(job->worker_threads);
    free(job->calls);
    /* Last: every chunk (queued, parked, in the table) has given its frames back. */
    if (job->budget) {
        cme__frame_budget_destroy(job->budget);
        free(job->budget);
    }
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
    cme__cond_init(&job->events_cond);
    cme__signal_init(&job->work);
    atomic_init(&job->prefer_rung, -1);
    job->stall_seconds = s->stall_seconds;
    job->budget = malloc(sizeof(*job->budget));
    if (!job->budget ||
        cme__frame_budget_init(job->budget, (int64_t)s->frame_memory_mb << 20) < 0) {
        free(job->budget);
        job->budget = NULL;
        r = CME_ENOMEM;
        cme__ct_init(&job->ct, 0, NULL, NULL);
        goto error;
    }
    r = cme__ct_init(&job->ct, s->nb_rungs, src_chunk_ref, src_chunk_unref);
    if (r < 0) {
        cme__ct_init(&job->ct, 0, NULL, NULL);
        goto error;
    }
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
    if (s->nb_cuts > 0) {
        /* Segments between cuts: the longest one sizes every chunk (frame arrays, the
         * encoders' key-frame interval), with room for a variable frame rate. */
        job->cuts = malloc((size_t)s->nb_cuts * sizeof(*job->cuts));
        if (!job->cuts) {
            r = CME_ENOMEM;
            goto error;
        }
        double prev = 0, longest = 0;
        for (int i = 0; i < s->nb_cuts; i++) {
            if (!(s->cuts[i] > prev)) {
                snprintf(err, errlen,
                         "video.cuts[%d]: expected a time after %g s (cuts are increasing and "
                         "after 0), got %g",
                         i + 1, prev, s->cuts[i]);
                r = CME_EINVAL;
                goto error;
            }
            longest = fmax(longest, s->cuts[i] - prev);
            job->cuts[i] = prev = s->cuts[i];
        }
        job->nb_cuts = s->nb_cuts;
        if (job->info.duration > prev)
            longest = fmax(longest, job->info.duration - prev);
        if (longest > CME_LIMIT_MAX_SEGMENT_SECONDS)
            longest = CME_LIMIT_MAX_SEGMENT_SECONDS;
        job->chunk_frames = (int)ceil(longest * 1.25 * job->info.fps_num / job->info.fps_den) + 2;
    }
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

/*
 * The codec invariant before the first frame: where backends tell their sequence header
 * once open, every device's header is compared with the one of the first device (in the
 * recipe's order) that serves the rung, and a device that differs is excluded from the
 * rung now, with an event naming the fields, instead of after it has encoded a chunk for
 * nothing. Which device wins a rung is then the recipe's order, not a race. Devices whose
 * backend cannot tell are checked on their first packet as before.
 */
/* The instances of device d on the rung start with the rung's header (all instances of a
 * device share its configuration). */
static void mark_checked(CmeRung *rung, int d)
{
    for (CmeEncSlot *s = rung->parked; s; s = s->next)
        if (s->device == d)
            s->header_checked = 1;
}

static void precheck_headers(CmeJob *job)
{
    for (int i = 0; i < job->nb_rungs; i++) {
        CmeRung *rung = &job->rungs[i];
        for (CmeEncSlot *s = rung->parked; s; s = s->next)
            s->header_checked = 0;
        CmeAv1SeqHdr ref;
        uint8_t ref_obu[512];
        size_t ref_size = 0;
        int have_ref = 0;
        for (int k = 0; k < job->nb_devs; k++) {
            const int d = job->dev_order[k];
            CmeEncSlot *slot = NULL;
            for (CmeEncSlot *s = rung->parked; s && !slot; s = s->next)
                if (s->device == d)
                    slot = s;
            if (!slot)
                continue;
            uint8_t obu_buf[512];
            size_t size = 0;
            CmeAv1Obu obu;
            CmeAv1SeqHdr seq;
            char perr[128];
            if (cme__encoder_sequence_header(slot->enc, obu_buf, sizeof(obu_buf), &size) < 0 ||
                cme_av1_find_seq_hdr(obu_buf, size, &obu, &seq, perr, sizeof(perr)) < 0)
                continue;
            if (!have_ref) {
                mark_checked(rung, d);
                ref = seq;
                memcpy(ref_obu, obu.data, obu.size);
                ref_size = obu.size;
                have_ref = 1;
                (void)cme__rung_expect(rung, &seq, obu.data, obu.size);
                continue;
            }
            CmeAv1FieldDiff diffs[8];
            int n = cme_av1_invariant_compare(&ref, ref_obu, ref_size, &seq, obu.data, obu.size,
                                              job->set.invariant, diffs, 8);
            if (n == 0) {
                mark_checked(rung, d);
                continue;
            }
            rung->excluded |= UINT64_C(1) << d;
            CmeEvent ev = { .type = CME_EVENT_DEVICE_EXCLUDED,
                            .rung = i,
                            .device = d,
                            .worker = -1,
                            .instance = -1,
                            .from_rung = -1,
                            .reason = CME_FAIL_INVARIANT };
            pthread_mutex_lock(&job->pool->lock);
            snprintf(ev.device_id, sizeof(ev.device_id), "%s", job->pool->devices[d].id);
            pthread_mutex_unlock(&job->pool->lock);
            size_t len = (size_t)snprintf(ev.message, sizeof(ev.message),
                                          "%s: %s's sequence header differs from the rung's (",
                                          rung->set.name, ev.device_id);
            for (int f = 0; f < n && f < 8 && len < sizeof(ev.message); f++)
                len += (size_t)snprintf(ev.message + len, sizeof(ev.message) - len,
                                        "%s%s %lld != %lld", f ? ", " : "", diffs[f].field,
                                        diffs[f].a, diffs[f].b);
            if (len < sizeof(ev.message))
                snprintf(ev.message + len, sizeof(ev.message) - len,
                         "): excluded from the rung before encoding");
            cme__job_post(job, &ev);
        }
        for (CmeEncSlot *s = rung->parked; s; s = s->next)
            if (!s->header_checked && !(rung->excluded & (UINT64_C(1) << s->device)))
                rung->unchecked = 1;
    }
}

int cme_engine_start(CmeEngine *e, char *err, size_t errlen)
{
    CmeJob *job = &e->job;
    if (job->started) {
        snprintf(err, errlen, "the job was already started");
        return CME_EINVAL;
    }
    int r = 0;
    /* Every encoder instance the job needs is opened here, before any thread encodes:
     * SVT-AV1 1.4.1 re-runs its CPU-dispatch setup in every encoder init, resetting shared
     * function pointers to their C versions and back while other encoders run
     * (Source/Lib/Common/Codec/common_dsp_rtcd.c, SET_FUNCTIONS). Opening encoders mid-job
     * crashed other encoders' threads (bench, threads_per_worker = 0). No code path opens
     * one later. They open before the output folder is made, so that an encoder that
     * refuses its settings leaves nothing written. */
    for (int i = 0; r == 0 && i < job->nb_rungs; i++) {
        CmeRung *rung = &job->rungs[i];
        for (int d = 0; r == 0 && d < CME_MAX_DEVICES; d++) {
            for (int k = 0; r == 0 && k < rung->cap[d]; k++) {
                CmeEncSlot *slot = NULL;
                r = cme__slot_open(job, i, d, &slot, err, errlen);
                if (r == 0) {
                    slot->instance = k;
                    slot->next = rung->parked;
                    rung->parked = slot;
                    rung->open[d]++;
                }
            }
        }
    }
#if CME_HAVE_FAULT
    /* The fault backend's "fired once" state is per job, not per process (the REPL). */
    cme__fault_reset();
#endif
    if (r == 0)
        precheck_headers(job);
    if (r == 0)
        r = cme__mkdir_p(job->output, err, errlen);
    for (int i = 0; r == 0 && i < job->nb_rungs; i++) {
        char path[2100];
        cme__outpath(path, sizeof(path), job->output, NULL, job->rungs[i].set.name);
        r = cme__mkdir_p(path, err, errlen);
    }
    if (r == 0 && job->audio.enc) {
        char path[2100];
        cme__outpath(path, sizeof(path), job->output, NULL, CME_OUT_AUDIO);
        r = cme__mkdir_p(path, err, errlen);
    }
    if (r == 0)
        r = job->set.resume ? cme__journal_resume(job, err, errlen)
                            : cme__journal_begin(job, err, errlen);
    job->segment_written = cme__journal_append;
    job->before_done = extra_tracks;
    if (r < 0)
        return r;
    job->worker_threads = calloc((size_t)job->nb_workers, sizeof(pthread_t));
    job->calls = calloc((size_t)job->nb_workers, sizeof(*job->calls));
    if (!job->worker_threads || !job->calls)
        return CME_ENOMEM;
    job->t_start = cme__now();
    atomic_store(&job->live_threads, 1 + job->nb_workers);
    job->started = 1;
    if (pthread_create(&job->pump_thread, NULL, cme__job_pump_main, job)) {
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
    const double deadline = timeout_ms >= 0 ? cme__now() + timeout_ms / 1000.0 : 0;
    cme_engine_check_stalls(e);
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
        /* Waits in slices, so that stalls are noticed while nothing else happens. */
        int slice = 500;
        if (timeout_ms >= 0) {
            double left = deadline - cme__now();
            if (left <= 0) {
                pthread_mutex_unlock(&job->events_lock);
                return CME_EAGAIN;
            }
            if (left * 1000 < slice)
                slice = (int)(left * 1000) + 1;
        }
        struct timespec ts;
        cme__deadline(&ts, slice);
        if (pthread_cond_timedwait(&job->events_cond, &job->events_lock, &ts)) {
            pthread_mutex_unlock(&job->events_lock);
            cme_engine_check_stalls(e);
            pthread_mutex_lock(&job->events_lock);
        }
    }
    *ev = job->events[job->events_head++];
    if (ev->type == CME_EVENT_JOB_DONE)
        job->done_delivered = 1;
    pthread_mutex_unlock(&job->events_lock);
    return 0;
}

/*
 * Workers stuck inside one encoder call for 5 x stall_seconds: the chunk failed with reason
 * stall after stall_seconds already (and a library that comes back later gets a retry), but
 * one that has not come back after five times as long is taken for wedged (SVT-AV1 1.4.1
 * blocked in send_picture forever, its threads idle); on a failed or cancelled job, whose
 * end waits for its threads, after stall_seconds. Waiting would hang the job for good, so
 * the worker is given up: the job fails naming the rung and the device, the worker counts
 * as gone, and it leaves without touching anything should the call ever return. Its lease
 * stays taken: that session is stuck.
 */
static void abandon_wedged(CmeJob *job)
{
    const long long now = (long long)(cme__now() * 1e6);
    /* A job already failed or cancelled (SIGTERM) waits only for calls that are not
     * stalls yet: the first Ctrl-C must not take 5 x stall_seconds. */
    const double factor = atomic_load(&job->failed) ? 1 : 5;
    const long long limit = (long long)(factor * job->stall_seconds * 1e6);
    for (int i = 0; job->calls && i < job->nb_workers; i++) {
        CmeWorkerCall *c = &job->calls[i];
        const long long since = atomic_load(&c->since_us);
        if (!since || now - since <= limit || atomic_load(&c->abandoned))
            continue;
        atomic_store(&c->abandoned, 1);
        atomic_fetch_add(&job->nb_abandoned, 1);
        const int d = atomic_load(&c->device), rung = atomic_load(&c->rung);
        char dev[64] = "?";
        if (d >= 0) {
            pthread_mutex_lock(&job->pool->lock);
            snprintf(dev, sizeof(dev), "%s", job->pool->devices[d].id);
            pthread_mutex_unlock(&job->pool->lock);
        }
        cme__job_fail(job, CME_EENCODER,
                      "%s: the encoder on %s has not returned from a call for %.0f s "
                      "(stall_seconds = %g): worker %d is given up and the job stops; "
                      "resume = true continues from the segments written",
                      job->rungs[rung].set.name, dev, (double)(now - since) / 1e6,
                      job->stall_seconds, i + 1);
        cme__job_thread_exit(job);
    }
}

void cme_engine_check_stalls(CmeEngine *e)
{
    CmeJob *job = &e->job;
    if (job->started)
        abandon_wedged(job);
    if (!job->started || atomic_load(&job->failed))
        return;
    CmeChunkRef stalled[16];
    int n = cme__ct_check_stalls(&job->ct, cme__now(), job->stall_seconds, stalled, 16);
    for (int i = 0; i < n; i++) {
        CmeChunkRecord rec;
        if (cme__ct_get(&job->ct, stalled[i].rung, stalled[i].index, &rec) < 0)
            continue;
        CmeEvent ev = { .type = CME_EVENT_CHUNK_FAILED,
                        .rung = stalled[i].rung,
                        .index = stalled[i].index + 1,
                        .device = rec.device,
                        .worker = rec.worker,
                        .instance = rec.instance,
                        .attempts = rec.attempt,
                        .from_rung = -1,
                        .reason = CME_FAIL_STALL };
        snprintf(ev.message, sizeof(ev.message), "%s segment %u: %s",
                 job->rungs[stalled[i].rung].set.name, stalled[i].index + 1, rec.message);
        if (rec.device >= 0) {
            pthread_mutex_lock(&job->pool->lock);
            snprintf(ev.device_id, sizeof(ev.device_id), "%s", job->pool->devices[rec.device].id);
            pthread_mutex_unlock(&job->pool->lock);
        }
        cme__job_post(job, &ev);
    }
    if (n > 0)
        cme__signal_notify(&job->work);
}

int cme_engine_decide(CmeEngine *e, int rung, uint32_t index, const CmeDecision *d, char *err,
                      size_t errlen)
{
    CmeJob *job = &e->job;
    err[0] = '\0';
    if (!d || rung < 0 || rung >= job->nb_rungs) {
        snprintf(err, errlen, "rung %d: no such rung (1..%d)", rung + 1, job->nb_rungs);
        return CME_EINVAL;
    }
    CmeRung *rg = &job->rungs[rung];
    CmeChunkRecord rec;
    if (cme__ct_get(&job->ct, rung, index, &rec) < 0) {
        snprintf(err, errlen, "%s: segment %u: no such chunk", rg->set.name, index + 1);
        return CME_EINVAL;
    }
    if (rec.state != CME_CHUNK_AWAITING_POLICY) {
        snprintf(err, errlen, "%s: segment %u is %s, not awaiting a decision", rg->set.name,
                 index + 1, cme_chunk_state_name(rec.state));
        return CME_EINVAL;
    }
    if (d->action == CME_DECIDE_ABORT) {
        /* The chunk's own failure leads (it names the file or device and the cause). */
        cme__job_fail(job, CME_ECANCELED,
                      "%s (%s segment %u, reason %s, attempt %d: the policy aborted the job%s%s)",
                      rec.message, rg->set.name, index + 1, cme_fail_reason_name(rec.reason),
                      rec.attempt, d->why[0] ? ": " : "", d->why);
        return 0;
    }
    if (d->action == CME_DECIDE_SKIP) {
        int r = cme__ct_give_up(&job->ct, rung, index);
        cme__signal_notify(&job->work);
        return r;
    }
    if (d->action != CME_DECIDE_RETRY) {
        snprintf(err, errlen, "unknown decision %d", (int)d->action);
        return CME_EINVAL;
    }
    if (rec.attempt >= job->set.max_attempts) {
        snprintf(err, errlen,
                 "%s: segment %u: %d attempts made, max_attempts = %d: answer skip or abort",
                 rg->set.name, index + 1, rec.attempt, job->set.max_attempts);
        return CME_ERANGE;
    }
    uint64_t avoid = 0, only = ~UINT64_C(0); /* avoid: for good; only: this attempt */
    int device_ok = 1, midjob = 0;
    pthread_mutex_lock(&job->sched_lock);
    uint64_t serving = 0;
    for (int dv = 0; dv < CME_MAX_DEVICES; dv++)
        if (rg->cap[dv] > 0)
            serving |= UINT64_C(1) << dv;
    serving &= ~rg->excluded;
    pthread_mutex_unlock(&job->sched_lock);
    if (d->device >= 0) {
        device_ok = d->device < CME_MAX_DEVICES && (serving & (UINT64_C(1) << d->device));
        only = UINT64_C(1) << (d->device & 63);
    }
    if (d->avoid >= 0 && d->avoid < CME_MAX_DEVICES)
        avoid |= UINT64_C(1) << d->avoid;
    if (d->device >= 0 && d->device == d->avoid) {
        snprintf(err, errlen, "%s: segment %u: retry{device, avoid}: the same device", rg->set.name,
                 index + 1);
        return CME_EINVAL;
    }
    if (!device_ok) {
        snprintf(err, errlen,
                 "%s: segment %u: retry{device}: that device does not serve the "
                 "rung (not the job's, beyond its capabilities, or excluded by a mismatch)",
                 rg->set.name, index + 1);
        return CME_EINVAL;
    }
    if (d->crf >= 0 || d->preset >= 0) {
        /* Another crf or preset is another encoder configuration: an instance opened for
         * the chunk, which only backends that can open mid-job allow. */
        pthread_mutex_lock(&job->pool->lock);
        for (int dv = 0; dv < job->pool->nb_devices; dv++)
            if ((serving & only & ~avoid & ~rec.excluded & (UINT64_C(1) << dv)) &&
                job->pool->devices[dv].midjob_open)
                midjob = 1;
        pthread_mutex_unlock(&job->pool->lock);
        /* Only those devices may take it. */
        uint64_t mj = 0;
        pthread_mutex_lock(&job->pool->lock);
        for (int dv = 0; dv < job->pool->nb_devices; dv++)
            if (job->pool->devices[dv].midjob_open)
                mj |= UINT64_C(1) << dv;
        pthread_mutex_unlock(&job->pool->lock);
        only &= mj;
        if (!midjob) {
            snprintf(err, errlen,
                     "%s: segment %u: retry{crf, preset}: no device serving the rung can open an "
                     "encoder mid-job (SVT-AV1 1.4.1 cannot); retry without them",
                     rg->set.name, index + 1);
            return CME_EUNSUPPORTED;
        }
    }
    if (!(serving & only & ~avoid & ~rec.excluded)) {
        snprintf(err, errlen, "%s: segment %u: retry: no device is left that may take it",
                 rg->set.name, index + 1);
        return CME_EINVAL;
    }
    void *payload = NULL;
    CmeChunk *c = calloc(1, sizeof(*c));
    if (!c)
        return CME_ENOMEM;
    int r = cme__ct_retry(&job->ct, rung, index, d->device, avoid, d->crf, d->preset, &payload);
    if (r < 0) {
        free(c);
        snprintf(err, errlen, "%s: segment %u: %s", rg->set.name, index + 1, cme_strerror(r));
        return r;
    }
    c->rung = rung;
    c->index = index;
    c->attempts = rec.attempt;
    c->excluded = ~only | avoid | rec.excluded;
    c->crf = d->crf;
    c->preset = d->preset;
    c->payload = payload;
    cme__chunkq_requeue(&rg->queue, c);
    return 0;
}

int cme_engine_chunks(CmeEngine *e, int rung, uint32_t first, CmeChunkInfo *out, int max)
{
    CmeJob *job = &e->job;
    int n = 0;
    CmeChunkRecord rec;
    for (uint32_t i = first; n < max && cme__ct_get(&job->ct, rung, i, &rec) == 0; i++) {
        CmeChunkInfo *o = &out[n++];
        memset(o, 0, sizeof(*o));
        o->rung = rung;
        o->index = i;
        o->state = rec.state;
        o->attempt = rec.attempt;
        o->worker = rec.worker;
        o->device = rec.device;
        o->instance = rec.instance;
        o->reason = rec.reason;
        snprintf(o->message, sizeof(o->message), "%s", rec.message);
        o->encode_seconds = rec.encode_seconds;
        o->crf = rec.crf >= 0 ? rec.crf : job->rungs[rung].set.crf;
        o->preset = rec.preset >= 0 ? rec.preset : job->rungs[rung].set.preset;
        o->decisions = rec.decisions;
        o->requeues = rec.requeues;
        o->resumed = rec.resumed;
        o->bytes = rec.seg.bytes;
        o->start = rec.seg.start;
        o->duration = rec.seg.duration;
    }
    return n;
}

void cme_engine_prefer_rung(CmeEngine *e, int rung)
{
    atomic_store(&e->job.prefer_rung, rung >= 0 && rung < e->job.nb_rungs ? rung : -1);
    cme__signal_notify(&e->job.work);
}

void cme_engine_pause(CmeEngine *e, int paused)
{
    atomic_store(&e->job.paused, paused ? 1 : 0);
    cme__signal_notify(&e->job.work);
}

int cme_engine_device_index(CmeEngine *e, const char *id)
{
    CmeJob *job = &e->job;
    if (!job->pool || !id)
        return -1;
    int d = cme__lease_pool_find(job->pool, id);
    return d >= 0 && (job->dev_mask & (UINT64_C(1) << d)) ? d : -1;
}

const char *cme_engine_device_id(CmeEngine *e, int device, char *out, size_t n)
{
    CmeJob *job = &e->job;
    out[0] = '\0';
    if (job->pool && device >= 0 && device < CME_MAX_DEVICES) {
        pthread_mutex_lock(&job->pool->lock);
        if (device < job->pool->nb_devices)
            snprintf(out, n, "%s", job->pool->devices[device].id);
        pthread_mutex_unlock(&job->pool->lock);
    }
    return out;
}

int cme_engine_devices(CmeEngine *e, CmeDeviceInfo *out, int max)
{
    CmeJob *job = &e->job;
    int n = 0;
    int waiters[CME_MAX_DEVICES];
    for (int d = 0; d < CME_MAX_DEVICES; d++)
        waiters[d] = job->pool && (job->dev_mask & (UINT64_C(1) << d))
                         ? cme__lease_pool_waiters(job->pool, d)
                         : 0;
    if (!job->pool)
        return 0;
    pthread_mutex_lock(&job->pool->lock);
    for (int d = 0; d < job->pool->nb_devices && n < max; d++) {
        if (!(job->dev_mask & (UINT64_C(1) << d)))
            continue;
        const CmeDevice *dev = &job->pool->devices[d];
        CmeDeviceInfo *o = &out[n++];
        memset(o, 0, sizeof(*o));
        snprintf(o->id, sizeof(o->id), "%s", dev->id);
        snprintf(o->backend, sizeof(o->backend), "%s", cme__backend_name(dev->backend));
        o->sessions = dev->sessions;
        o->in_use = dev->in_use;
        o->waiters = waiters[d];
        o->max_width = dev->max_width;
        o->max_height = dev->max_height;
        o->ten_bit = dev->ten_bit;
        o->midjob_open = dev->midjob_open;
    }
    pthread_mutex_unlock(&job->pool->lock);
    return n;
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
        st->rungs[r].seconds_done = (double)atomic_load(&job->rungs[r].ticks_done) / CME_TIMESCALE;
        cme__ct_counts(&job->ct, r, st->rungs[r].chunks);
        pthread_mutex_lock(&job->sched_lock);
        for (int d = 0; d < CME_MAX_DEVICES; d++)
            st->rungs[r].instances += job->rungs[r].open[d];
        st->rungs[r].busy = job->rungs[r].busy_encoders;
        pthread_mutex_unlock(&job->sched_lock);
    }
}

void cme_engine_cancel(CmeEngine *e, const char *why)
{
    cme__job_fail(&e->job, CME_ECANCELED, "canceled: %s", why ? why : "by request");
}

/* --- manifests ----------------------------------------------------------------------- */

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
        r = cme__outfile_write(job->output, rep->name, CME_OUT_MEDIA_PLAYLIST, &b, err, errlen);
    cme__buf_free(&b);
    return r;
}

static int write_manifests(CmeJob *job, char *err, size_t errlen)
{
    /* The ladder, then the audio and text renditions. */
    CmeRendition reps[CME_MAX_RUNGS + CME_MAX_AUDIO + CME_MAX_TEXT];
    CmeSegmentEntry *segs[CME_MAX_RUNGS] = { 0 };
    memset(reps, 0, sizeof(reps));
    int r = 0;
    for (int i = 0; i < job->nb_rungs && r == 0; i++) {
        CmeRung *rung = &job->rungs[i];
        /* The rung's segment table is the chunk table's done records, in order. */
        size_t nb = cme__ct_count(&job->ct, i);
        segs[i] = calloc(nb ? nb : 1, sizeof(*segs[i]));
        int n = segs[i] ? cme__ct_segments(&job->ct, i, segs[i], nb) : CME_ENOMEM;
        if (n < 0) {
            snprintf(err, errlen, "%s: the segment table is incomplete: %s", rung->set.name,
                     cme_strerror(n));
            r = n;
            break;
        }
        reps[i] = (CmeRendition){
            .name = rung->set.name,
            .codecs = rung->codecs,
            .width = (uint32_t)rung->seq.max_frame_width_minus_1 + 1,
            .height = (uint32_t)rung->seq.max_frame_height_minus_1 + 1,
            .fps_num = (uint32_t)job->info.fps_num,
            .fps_den = (uint32_t)job->info.fps_den,
            .timescale = CME_TIMESCALE,
            .segments = segs[i],
            .nb_segments = (size_t)n,
            .start_number = 1,
        };
        r = write_media_playlist(job, &reps[i], err, errlen);
    }
    size_t nb = (size_t)job->nb_rungs;
    const CmeAudioRung *au = &job->audio;
    char lang[4];
    if (r == 0 && au->enc && au->nb_segs > 0) {
        reps[nb] = (CmeRendition){
            .name = CME_OUT_AUDIO,
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
    /* The other audio streams and the text streams, written before JOB_DONE
     * (extra_tracks). */
    CmeAudioExtra *extra = &((CmeEngine *)job)->audio_extra;
    for (int k = 0; r == 0 && k < extra->n; k++) {
        reps[nb] = extra->reps[k];
        r = write_media_playlist(job, &reps[nb], err, errlen);
        nb++;
    }
    CmeTextExtra *text = &((CmeEngine *)job)->text_extra;
    for (int k = 0; r == 0 && k < text->n; k++) {
        reps[nb] = text->reps[k];
        r = write_media_playlist(job, &reps[nb], err, errlen);
        nb++;
    }
    if (r == 0) {
        CmeBuf b = { 0 };
        r = cme_hls_write_master(&b, reps, nb);
        if (r == 0)
            r = cme__outfile_write(job->output, NULL, CME_OUT_MASTER_PLAYLIST, &b, err, errlen);
        cme__buf_free(&b);
    }
    if (r == 0) {
        CmeBuf b = { 0 };
        r = cme_dash_write_mpd(&b, reps, nb);
        if (r == 0)
            r = cme__outfile_write(job->output, NULL, CME_OUT_MPD, &b, err, errlen);
        cme__buf_free(&b);
    }
    /* DASH on demand: one indexed file per rendition and its own MPD. */
    if (r == 0 && job->set.dash_ondemand)
        r = cme__ondemand_write(job->output, reps, nb, err, errlen);
    /* One progressive MP4 per rung, the first audio rendition muxed in. */
    for (int i = 0; r == 0 && job->set.mp4_files && i < job->nb_rungs; i++)
        r = cme__rung_mp4(job->output, job->rungs[i].set.name,
                          (size_t)atomic_load(&job->rungs[i].total_chunks),
                          au->enc ? CME_OUT_AUDIO : NULL, au->nb_segs, err, errlen);
    for (int i = 0; i < job->nb_rungs; i++)
        free(segs[i]);
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
        for (int i = 0; i < job->nb_workers; i++) {
            if (atomic_load(&job->calls[i].abandoned))
                pthread_detach(job->worker_threads[i]);
            else
                pthread_join(job->worker_threads[i], NULL);
        }
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
    /* A worker given up inside an encoder (abandon_wedged) may still come back and read
     * its CmeWorkerCall, and its encoder cannot be closed: the engine is left allocated. */
    if (atomic_load(&e->job.nb_abandoned) == 0)
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

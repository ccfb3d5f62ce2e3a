/*
 * The job's side of the decode pump (media/pump.h): each new source chunk becomes one
 * queued chunk per rung (the chunk table records it, the rung's queue hands it to a
 * worker), the audio segments become files of the audio rendition, and the end of the
 * source closes the queues. Everything here runs on the pump thread.
 */
#include <stdlib.h>
#include <string.h>

#include "cmafeng/common.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/outpath.h"
#include "job/pump_sink.h"
#include "sched/job_state.h"
#include "media/pump.h"

/* Hands a new chunk to every rung, waiting first until every queue has room so that the
 * pushes cannot block once the first rung can see the chunk. 0, or CME_ECLOSED when the
 * job is failing. */
static int sink_publish(void *opaque, CmeSrcChunk *sc)
{
    CmeJob *job = opaque;
    for (int r = 0; r < job->nb_rungs; r++)
        if (cme__chunkq_wait_room(&job->rungs[r].queue) < 0)
            return CME_ECLOSED;
    /* The chunk is still empty: its frames are let go once every rung that encodes it has
     * sent them (a rung kept from an earlier run does not). */
    int consumers = 0;
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeSegmentEntry kept;
        consumers += !cme__rung_kept_segment(&job->rungs[r], sc->index, &kept);
    }
    cme__src_chunk_set_consumers(sc, consumers);
    for (int r = 0; r < job->nb_rungs; r++) {
        CmeRung *rung = &job->rungs[r];
        CmeSegmentEntry kept;
        if (cme__rung_kept_segment(rung, sc->index, &kept)) {
            /* Kept from an earlier run (--resume): done from the start. */
            if (cme__ct_add_done(&job->ct, r, sc->index, &kept) < 0) {
                cme__job_fail(job, CME_ESTATE, "chunk table: cannot add segment %u", sc->index + 1);
                return CME_ESTATE;
            }
            continue;
        }
        CmeChunk *ch = calloc(1, sizeof(*ch));
        if (!ch || cme__ct_add(&job->ct, r, sc->index, sc) < 0) {
            free(ch);
            cme__job_fail(job, CME_ENOMEM, "out of memory queueing chunk %u", sc->index);
            return CME_ENOMEM;
        }
        ch->rung = r;
        ch->index = sc->index;
        ch->crf = ch->preset = -1;
        cme__src_chunk_ref(sc);
        ch->payload = sc;
        if (cme__chunkq_push_now(&job->rungs[r].queue, ch) < 0) {
            CmeSrcChunk *p = sc;
            cme__src_chunk_unref(&p);
            free(ch);
            return CME_ECLOSED;
        }
    }
    return 0;
}

static int write_audio_init(CmeJob *job)
{
    CmeAudioRung *au = &job->audio;
    size_t asc_size = 0;
    const uint8_t *asc = cme__audio_asc(au->enc, &asc_size);
    char lang[4];
    CmeAudioTrack t = {
        .codec = (CmeAudioCodec)job->set.audio_codec,
        .language = cme__audio_language(cme__source_audio(job->src), lang) ? lang : NULL,
        .track_id = 1,
        .timescale = (uint32_t)cme__audio_sample_rate(au->enc),
        .sample_rate = (uint32_t)cme__audio_sample_rate(au->enc),
        .channels = (uint32_t)cme__audio_channels(au->enc),
        .asc = asc,
        .asc_size = asc_size,
        .avg_bitrate = (uint32_t)job->set.audio_bitrate,
        /* The muxed timeline counts the encoder delay as samples from 0; the edit list
         * starts presentation after it, so audio lines up with the video. */
        .priming = (uint32_t)cme__audio_priming(au->enc),
    };
    CmeBuf b = { 0 };
    char path[2100], err[512] = { 0 };
    int r = cme_mux_write_init_audio(&b, &t);
    if (r == 0)
        r = cme__outpath(path, sizeof(path), job->output, CME_OUT_AUDIO, CME_OUT_INIT);
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, err, sizeof(err));
    cme__buf_free(&b);
    if (r < 0) {
        cme__job_fail(job, r, "audio/init.mp4: %s", err[0] ? err : cme_strerror(r));
        return r;
    }
    snprintf(au->codecs, sizeof(au->codecs), "%s", cme__audio_codecs(au->enc));
    au->init_written = 1;
    CmeEvent ev = { .type = CME_EVENT_INIT_WRITTEN,
                    .rung = -1,
                    .is_audio = 1,
                    .device = -1,
                    .timescale = t.timescale };
    snprintf(ev.codecs, sizeof(ev.codecs), "%s", au->codecs);
    cme__job_post(job, &ev);
    return 0;
}

static int sink_audio_segment(void *opaque, const CmeAudioSeg *seg)
{
    CmeJob *job = opaque;
    CmeAudioRung *au = &job->audio;
    if (!au->init_written && write_audio_init(job) < 0)
        return CME_EIO;
    CmeSegmentInfo info = { .track_id = 1,
                            .sequence_number = seg->index + 1,
                            .base_decode_time = seg->start };
    CmeBuf b = { 0 };
    char name[32], path[2100], err[512] = { 0 };
    int r = cme_mux_write_segment(&b, &info, seg->samples, seg->nb, seg->data, seg->size);
    cme__outname_segment(name, sizeof(name), info.sequence_number, "m4s");
    if (r == 0)
        r = cme__outpath(path, sizeof(path), job->output, CME_OUT_AUDIO, name);
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, err, sizeof(err));
    uint64_t bytes = b.size, duration = 0;
    cme__buf_free(&b);
    if (r < 0) {
        cme__job_fail(job, r, "audio/%s: %s", name, err[0] ? err : cme_strerror(r));
        return r;
    }
    for (size_t i = 0; i < seg->nb; i++)
        duration += seg->samples[i].duration;
    if (au->nb_segs == au->segs_cap) {
        size_t cap = au->segs_cap ? au->segs_cap * 2 : 64;
        CmeSegmentEntry *e = realloc(au->segs, cap * sizeof(*e));
        if (!e) {
            cme__job_fail(job, CME_ENOMEM, "out of memory");
            return CME_ENOMEM;
        }
        au->segs = e;
        au->segs_cap = cap;
    }
    au->segs[au->nb_segs++] = (CmeSegmentEntry){ seg->start, duration, bytes };
    CmeEvent ev = { .type = CME_EVENT_SEGMENT_DONE,
                    .rung = -1,
                    .is_audio = 1,
                    .index = info.sequence_number,
                    .bytes = bytes,
                    .start = seg->start,
                    .duration = duration,
                    .timescale = (uint32_t)cme__audio_sample_rate(au->enc),
                    .frames = (uint32_t)seg->nb,
                    .device = -1,
                    .attempts = 1 };
    snprintf(ev.device_id, sizeof(ev.device_id), "cpu");
    cme__job_post(job, &ev);
    return 0;
}

/* --- the sink ------------------------------------------------------------------------ */

static void sink_decoded(void *opaque, uint64_t errors)
{
    CmeJob *job = opaque;
    atomic_fetch_add(&job->frames_decoded, 1);
    atomic_store(&job->decode_errors, errors);
    for (int i = 0; i < job->nb_rungs; i++)
        atomic_fetch_add(&job->rungs[i].frames_in, 1);
    /* A suspended chunk may go on now (the worker claims it: CLAIM_RESUME). */
    cme__signal_notify(&job->work);
}

static int sink_stopping(void *opaque)
{
    return atomic_load(&((CmeJob *)opaque)->failed);
}

static void sink_fail(void *opaque, int code, const char *msg)
{
    cme__job_fail(opaque, code, "%s", msg);
}

static void sink_end(void *opaque, uint32_t nb_chunks)
{
    CmeJob *job = opaque;
    for (int r = 0; r < job->nb_rungs; r++) {
        atomic_store(&job->rungs[r].total_chunks, (int)nb_chunks);
        if (!atomic_load(&job->failed))
            cme__ct_set_total(&job->ct, r, (int)nb_chunks);
        cme__chunkq_close(&job->rungs[r].queue);
    }
}

void *cme__job_pump_main(void *arg)
{
    CmeJob *job = arg;
    CmePumpSettings s = {
        .src = job->src,
        .source_name = job->source,
        .chunk_frames = job->chunk_frames,
        .cuts = job->cuts,
        .nb_cuts = job->nb_cuts,
        .fps_num = job->info.fps_num,
        .fps_den = job->info.fps_den,
        .audio = job->audio.enc,
        .budget = job->budget,
    };
    const CmePumpSink sink = {
        .opaque = job,
        .publish = sink_publish,
        .decoded = sink_decoded,
        .audio_segment = sink_audio_segment,
        .stopping = sink_stopping,
        .fail = sink_fail,
        .end = sink_end,
    };
    cme__pump_run(&s, &sink);
    atomic_store(&job->decode_done, 1);
    cme__signal_notify(&job->work);
    cme__job_thread_exit(job);
    return NULL;
}

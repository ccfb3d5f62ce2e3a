/*
 * Audio renditions beyond the first (see audio.h): the source is demuxed once more with only
 * the chosen audio stream kept, its packets transcoded by the same CmeAudio as the first
 * rendition and cut by the same segmenter at the video segment starts, which are all known
 * by the time this runs (the job's end, before the manifests). Decoding audio is cheap next
 * to the video, which is still decoded exactly once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "cmafeng/common.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/outpath.h"
#include "media/audio.h"

static int add_entry(CmeAudioPassResult *res, const CmeSegmentEntry *e)
{
    if (res->nb_segments == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 32;
        CmeSegmentEntry *p = realloc(res->segments, cap * sizeof(*p));
        if (!p)
            return CME_ENOMEM;
        res->segments = p;
        res->cap = cap;
    }
    res->segments[res->nb_segments++] = *e;
    return 0;
}

static int write_segment(const char *dir, const CmeAudioSeg *s, CmeAudioPassResult *res, char *err,
                         size_t errlen)
{
    CmeSegmentInfo info = { .track_id = 1,
                            .sequence_number = s->index + 1,
                            .base_decode_time = s->start };
    CmeBuf b = { 0 };
    char name[32];
    cme__outname_segment(name, sizeof(name), info.sequence_number, "m4s");
    int r = cme_mux_write_segment(&b, &info, s->samples, s->nb, s->data, s->size);
    if (r == 0)
        r = cme__outfile_write(dir, NULL, name, &b, err, errlen);
    uint64_t duration = 0;
    for (size_t i = 0; i < s->nb; i++)
        duration += s->samples[i].duration;
    CmeSegmentEntry e = { s->start, duration, b.size };
    cme__buf_free(&b);
    if (r == 0)
        r = add_entry(res, &e);
    return r;
}

static int write_init(const char *dir, CmeAudio *a, const CmeAudioSettings *s, const char *lang,
                      char *err, size_t errlen)
{
    size_t cfg_size = 0;
    const uint8_t *cfg = cme__audio_asc(a, &cfg_size);
    CmeAudioTrack t = { .codec = s->codec,
                        .track_id = 1,
                        .timescale = (uint32_t)cme__audio_sample_rate(a),
                        .sample_rate = (uint32_t)cme__audio_sample_rate(a),
                        .channels = (uint32_t)cme__audio_channels(a),
                        .asc = cfg,
                        .asc_size = cfg_size,
                        .avg_bitrate = (uint32_t)s->bitrate,
                        .language = lang,
                        .priming = (uint32_t)cme__audio_priming(a) };
    CmeBuf b = { 0 };
    int r = cme_mux_write_init_audio(&b, &t);
    if (r == 0)
        r = cme__outfile_write(dir, NULL, CME_OUT_INIT, &b, err, errlen);
    else
        snprintf(err, errlen, "%s/init.mp4: the track cannot be described (%s)", dir,
                 cme_strerror(r));
    cme__buf_free(&b);
    return r;
}

/* Muxes what the encoder has ready; final also flushes the segmenter. */
static int drain(CmeAudio *a, CmeAudioCutter *cut, AVPacket *pkt, uint64_t *next_time,
                 const char *dir, CmeAudioPassResult *res, int final, char *err, size_t errlen)
{
    int r;
    while ((r = cme__audio_receive(a, pkt)) == 0) {
        uint32_t dur = pkt->duration > 0 ? (uint32_t)pkt->duration : 1024;
        r = cme__audio_cutter_push(cut, *next_time, dur, pkt->data, (size_t)pkt->size);
        *next_time += dur;
        av_packet_unref(pkt);
        if (r < 0)
            return r;
    }
    if (r != CME_EAGAIN && r != CME_EOF) {
        snprintf(err, errlen, "%s: encoding failed", dir);
        return r;
    }
    CmeAudioSeg s;
    while ((r = cme__audio_cutter_next(cut, final, &s)) == 0)
        if ((r = write_segment(dir, &s, res, err, errlen)) < 0)
            return r;
    return r == CME_EAGAIN || r == CME_EOF ? 0 : r;
}

int cme__audio_pass(const char *path, int stream, const CmeAudioSettings *s, int64_t origin,
                    AVRational origin_tb, const uint64_t *cuts, size_t nb_cuts, uint32_t cut_ts,
                    const char *dir, CmeAudioPassResult *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    AVFormatContext *fmt = NULL;
    CmeAudio *a = NULL;
    CmeAudioCutter *cut = NULL;
    AVPacket *pkt = av_packet_alloc(), *out = av_packet_alloc();
    int r = CME_ENOMEM;
    if (!pkt || !out || cme__audio_cutter_new(&cut) < 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0 ||
        avformat_find_stream_info(fmt, NULL) < 0 || stream < 0 ||
        (unsigned)stream >= fmt->nb_streams ||
        fmt->streams[stream]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) {
        snprintf(err, errlen, "%s: cannot read audio stream %d", path, stream);
        r = CME_EMEDIA;
        goto done;
    }
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if ((int)i != stream)
            fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *st = fmt->streams[stream];
    if ((r = cme__audio_open(&a, st, s, err, errlen)) < 0)
        goto done;
    cme__audio_set_origin(a, origin, origin_tb);
    snprintf(res->codecs, sizeof(res->codecs), "%s", cme__audio_codecs(a));
    res->channels = cme__audio_channels(a);
    res->sample_rate = cme__audio_sample_rate(a);
    res->has_language = cme__audio_language(st, res->language);
    /* The video segment starts, in the audio track's media time (after the priming). */
    for (size_t i = 0; i < nb_cuts; i++) {
        if (cuts[i] == 0)
            continue; /* the first segment's start is time zero, no cut */
        uint64_t t = (uint64_t)av_rescale((int64_t)cuts[i], res->sample_rate, cut_ts) +
                     (uint64_t)cme__audio_priming(a);
        if ((r = cme__audio_cutter_cut(cut, t)) < 0)
            goto done;
    }
    if ((r = write_init(dir, a, s, res->has_language ? res->language : NULL, err, errlen)) < 0)
        goto done;
    uint64_t next_time = 0;
    while ((r = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == stream) {
            r = cme__audio_send(a, pkt, err, errlen);
            if (r == 0)
                r = drain(a, cut, out, &next_time, dir, res, 0, err, errlen);
        } else {
            r = 0;
        }
        av_packet_unref(pkt);
        if (r < 0)
            goto done;
    }
    r = cme__audio_send(a, NULL, err, errlen);
    if (r == 0)
        r = drain(a, cut, out, &next_time, dir, res, 1, err, errlen);
    if (r == 0 && res->nb_segments == 0) {
        snprintf(err, errlen, "%s: audio stream %d yielded no audio", path, stream);
        r = CME_EMEDIA;
    }
done:
    if (r < 0 && !err[0])
        snprintf(err, errlen, "%s: %s", dir, cme_strerror(r));
    if (r < 0)
        cme__audio_pass_free(res);
    cme__audio_cutter_free(&cut);
    cme__audio_close(&a);
    av_packet_free(&pkt);
    av_packet_free(&out);
    avformat_close_input(&fmt);
    return r < 0 ? r : 0;
}

void cme__audio_pass_free(CmeAudioPassResult *res)
{
    free(res->segments);
    res->segments = NULL;
    res->nb_segments = res->cap = 0;
}

/* ---- the renditions after the first ----------------------------------------------- */

int cme__audio_extra(const char *src_path, const char *out_dir, const int *streams, int n,
                     const CmeAudioSettings *s, int64_t origin, AVRational origin_tb,
                     const CmeSegmentEntry *video, size_t nb_video, uint32_t video_ts,
                     CmeAudioExtra *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof(*x));
    uint64_t *cuts = calloc(nb_video ? nb_video : 1, sizeof(*cuts));
    if (!cuts)
        return CME_ENOMEM;
    for (size_t i = 0; i < nb_video; i++)
        cuts[i] = video[i].start;
    int r = 0;
    for (int k = 0; k < n && k < CME_MAX_AUDIO && r == 0; k++) {
        CmeAudioPassResult *res = &x->res[k];
        /* Named by its place in the selection; the language goes into the manifests. */
        snprintf(x->names[k], sizeof(x->names[k]), "audio_%d", k + 2);
        char dir[2200];
        cme__outpath(dir, sizeof(dir), out_dir, NULL, x->names[k]);
        if ((r = cme__mkdir_p(dir, err, errlen)) < 0)
            break;
        r = cme__audio_pass(src_path, streams[k], s, origin, origin_tb, cuts, nb_video, video_ts,
                            dir, res, err, errlen);
        if (r < 0)
            break;
        x->n = k + 1;
        x->reps[k] = (CmeRendition){
            .name = x->names[k],
            .codecs = res->codecs,
            .timescale = (uint32_t)res->sample_rate,
            .segments = res->segments,
            .nb_segments = res->nb_segments,
            .start_number = 1,
            .is_audio = 1,
            .channels = (uint32_t)res->channels,
            .sample_rate = (uint32_t)res->sample_rate,
            .language = res->has_language ? res->language : NULL,
        };
    }
    free(cuts);
    if (r < 0)
        cme__audio_extra_free(x);
    return r;
}

void cme__audio_extra_free(CmeAudioExtra *x)
{
    for (int k = 0; k < CME_MAX_AUDIO; k++)
        cme__audio_pass_free(&x->res[k]);
    x->n = 0;
}

/* ---- which audio streams ------------------------------------------------------------ */

static int lower_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

int cme__audio_select(const AVFormatContext *fmt, int best, const char *spec, int *out, int max,
                      char *err, size_t errlen)
{
    int audio[64], nb_audio = 0;
    for (unsigned i = 0; i < fmt->nb_streams && nb_audio < 64; i++)
        if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
            audio[nb_audio++] = (int)i;
    if (nb_audio == 0)
        return 0;
    if (!spec || !*spec) {
        out[0] = best >= 0 ? best : audio[0];
        return 1;
    }
    int n = 0;
    if (!strcmp(spec, "all")) {
        for (int i = 0; i < nb_audio && n < max; i++)
            out[n++] = audio[i];
        return n;
    }
    /* A comma list of 1-based audio stream numbers and ISO 639-2 languages, in the order
     * the renditions are made; a language takes every stream that has it. */
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = 0;
        if (len > 0 && len < 4 && p[0] >= '0' && p[0] <= '9') {
            int k = atoi(p);
            if (k >= 1 && k <= nb_audio) {
                found = 1;
                if (n < max)
                    out[n++] = audio[k - 1];
            }
        } else {
            for (int i = 0; i < nb_audio; i++) {
                const AVDictionaryEntry *e =
                    av_dict_get(fmt->streams[audio[i]]->metadata, "language", NULL, 0);
                if (e && strlen(e->value) == len && lower_eq(e->value, p, len)) {
                    found = 1;
                    if (n < max)
                        out[n++] = audio[i];
                }
            }
        }
        if (!found) {
            snprintf(err, errlen,
                     "audio.streams: \"%.*s\" names no audio stream of the source "
                     "(it has %d; numbers count from 1, languages are ISO 639-2)",
                     (int)len, p, nb_audio);
            return CME_EINVAL;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    /* The same stream twice would make two identical renditions. */
    int m = 0;
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < m; j++)
            dup |= out[j] == out[i];
        if (!dup)
            out[m++] = out[i];
    }
    return m;
}

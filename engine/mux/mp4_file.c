/* Single-file MP4 from CMAF tracks (see mp4_file.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmafeng/common.h"
#include "core/errf.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/outpath.h"
#include "mux/box.h"
#include "mux/mp4_file.h"
#include "mux/mp4_reader.h"

#define MOVIE_TIMESCALE 1000
/* Renditions of one on-demand MPD: the ladder, audio and text (engine: 16 + 8 + 8). */
#define CME_MAX_ONDEMAND 40

typedef struct Chunk {
    uint64_t offset; /* in the mdat payload until the layout is known, then in the file */
    uint32_t first;  /* index of its first sample */
    uint32_t nb;
} Chunk;

/* One input track: init + segments read into one buffer and parsed. */
typedef struct In {
    uint8_t *data;
    size_t size;
    size_t *starts; /* of each file in data; [0] is the init segment */
    size_t nb_files;
    CmeMp4File f;
    uint64_t ticks; /* sum of the sample durations */
    Chunk *chunks;
    size_t nb_chunks;
    size_t next_sample; /* while laying out */
} In;

static void in_free(In *t)
{
    cme__mp4_file_free(&t->f);
    free(t->data);
    free(t->starts);
    free(t->chunks);
    memset(t, 0, sizeof(*t));
}

static int in_read(In *t, const CmeStitchTrack *s, char *err, size_t errlen)
{
    t->nb_files = s->nb_segments + 1;
    t->starts = calloc(t->nb_files, sizeof(*t->starts));
    t->chunks = calloc(t->nb_files, sizeof(*t->chunks));
    if (!t->starts || !t->chunks)
        return cme__errf(err, errlen, CME_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->nb_files; i++) {
        const char *path = i == 0 ? s->init : s->segments[i - 1];
        unsigned char *d = NULL;
        size_t n = 0;
        int r = cme__file_read_all(path, &d, &n, err, errlen);
        if (r < 0)
            return r;
        uint8_t *grown = realloc(t->data, t->size + n + 1);
        if (!grown) {
            free(d);
            return cme__errf(err, errlen, CME_ENOMEM, "out of memory");
        }
        t->data = grown;
        memcpy(t->data + t->size, d, n);
        free(d);
        t->starts[i] = t->size;
        t->size += n;
    }
    char inner[400];
    int r = cme__mp4_parse(t->data, t->size, &t->f, inner, sizeof(inner));
    if (r < 0)
        return cme__errf(err, errlen, r, "%s + %zu segments: %s", s->init, s->nb_segments, inner);
    if (!t->f.has_moov || !t->f.stsd)
        return cme__errf(err, errlen, CME_EBITSTREAM, "%s: no moov with a sample description",
                         s->init);
    if (t->f.nb_samples == 0 || t->f.nb_samples > UINT32_MAX)
        return cme__errf(err, errlen, CME_EBITSTREAM, "%s: %zu samples in its segments", s->init,
                         t->f.nb_samples);
    for (size_t i = 0; i < t->f.nb_samples; i++)
        t->ticks += t->f.samples[i].duration;
    return 0;
}

/* The file (0 = init) holding byte `offset` of t->data. */
static size_t file_of(const In *t, uint64_t offset)
{
    size_t lo = 0, hi = t->nb_files;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (t->starts[mid] <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Priming the edit list trims at the start (audio), in the track timescale. */
static uint64_t priming(const In *t)
{
    return t->f.has_edit && t->f.edit_media_time > 0 ? (uint64_t)t->f.edit_media_time : 0;
}

/* The presentation duration in the movie timescale (milliseconds), rounded up. */
static uint64_t movie_duration(const In *t)
{
    uint64_t p = priming(t), d = t->ticks > p ? t->ticks - p : 0;
    return (d * MOVIE_TIMESCALE + t->f.timescale - 1) / t->f.timescale;
}

/* ---- boxes ------------------------------------------------------------------------- */

static void write_matrix(CmeBuf *b)
{
    static const uint32_t m[9] = { 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000 };
    for (int i = 0; i < 9; i++)
        cme__buf_be32(b, m[i]);
}

/* ISO/IEC 14496-12 8.2.2, version 1 (64-bit duration). */
static void write_mvhd(CmeBuf *b, uint64_t duration, uint32_t next_track)
{
    size_t box = cme__fullbox_begin(b, "mvhd", 1, 0);
    cme__buf_be64(b, 0); /* creation_time: 0 keeps the output deterministic */
    cme__buf_be64(b, 0);
    cme__buf_be32(b, MOVIE_TIMESCALE);
    cme__buf_be64(b, duration);
    cme__buf_be32(b, 0x00010000); /* rate 1.0 */
    cme__buf_be16(b, 0x0100);     /* volume 1.0 */
    cme__buf_zeros(b, 2 + 2 * 4);
    write_matrix(b);
    cme__buf_zeros(b, 6 * 4);
    cme__buf_be32(b, next_track);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.3.2, version 1; flags 3: enabled, in the movie. */
static void write_tkhd(CmeBuf *b, uint32_t id, uint64_t duration, const In *t, int audio)
{
    size_t box = cme__fullbox_begin(b, "tkhd", 1, 3);
    cme__buf_be64(b, 0);
    cme__buf_be64(b, 0);
    cme__buf_be32(b, id);
    cme__buf_be32(b, 0);
    cme__buf_be64(b, duration);
    cme__buf_zeros(b, 2 * 4);
    cme__buf_be16(b, 0);                  /* layer */
    cme__buf_be16(b, audio ? 1 : 0);      /* alternate_group: audio tracks are alternatives */
    cme__buf_be16(b, audio ? 0x0100 : 0); /* volume */
    cme__buf_be16(b, 0);
    write_matrix(b);
    cme__buf_be32(b, audio ? 0 : t->f.width << 16);
    cme__buf_be32(b, audio ? 0 : t->f.height << 16);
    cme__box_end(b, box);
}

/* ISO/IEC 14496-12 8.6.6: one edit starting the presentation after the encoder delay. */
static void write_edts(CmeBuf *b, uint64_t duration, uint64_t media_time)
{
    size_t edts = cme__box_begin(b, "edts");
    size_t elst = cme__fullbox_begin(b, "elst", 1, 0);
    cme__buf_be32(b, 1);
    cme__buf_be64(b, duration);
    cme__buf_be64(b, media_time);
    cme__buf_be16(b, 1);
    cme__buf_be16(b, 0);
    cme__box_end(b, elst);
    cme__box_end(b, edts);
}

static void write_mdhd(CmeBuf *b, const In *t)
{
    const char *lang = t->f.language[0] ? t->f.language : "und";
    size_t box = cme__fullbox_begin(b, "mdhd", 1, 0);
    cme__buf_be64(b, 0);
    cme__buf_be64(b, 0);
    cme__buf_be32(b, t->f.timescale);
    cme__buf_be64(b, t->ticks);
    cme__buf_be16(
        b, (uint16_t)(((lang[0] - 0x60) << 10) | ((lang[1] - 0x60) << 5) | (lang[2] - 0x60)));
    cme__buf_be16(b, 0);
    cme__box_end(b, box);
}

static void write_hdlr(CmeBuf *b, int audio)
{
    static const char video_name[] = "VideoHandler", audio_name[] = "SoundHandler";
    size_t box = cme__fullbox_begin(b, "hdlr", 0, 0);
    cme__buf_be32(b, 0);
    cme__buf_fourcc(b, audio ? "soun" : "vide");
    cme__buf_zeros(b, 3 * 4);
    if (audio)
        cme__buf_append(b, audio_name, sizeof(audio_name));
    else
        cme__buf_append(b, video_name, sizeof(video_name));
    cme__box_end(b, box);
}

static void write_media_header(CmeBuf *b, int audio)
{
    if (audio) {
        size_t box = cme__fullbox_begin(b, "smhd", 0, 0);
        cme__buf_be32(b, 0); /* balance, reserved */
        cme__box_end(b, box);
    } else {
        size_t box = cme__fullbox_begin(b, "vmhd", 0, 1);
        cme__buf_zeros(b, 8);
        cme__box_end(b, box);
    }
    size_t dinf = cme__box_begin(b, "dinf");
    size_t dref = cme__fullbox_begin(b, "dref", 0, 0);
    cme__buf_be32(b, 1);
    size_t url = cme__fullbox_begin(b, "url ", 0, 1);
    cme__box_end(b, url);
    cme__box_end(b, dref);
    cme__box_end(b, dinf);
}

/* 8.6.1.2 stts: runs of equal durations. */
static void write_stts(CmeBuf *b, const In *t)
{
    size_t box = cme__fullbox_begin(b, "stts", 0, 0);
    size_t count_at = b->size;
    cme__buf_be32(b, 0);
    uint32_t runs = 0;
    for (size_t i = 0; i < t->f.nb_samples;) {
        size_t j = i;
        while (j < t->f.nb_samples && t->f.samples[j].duration == t->f.samples[i].duration)
            j++;
        cme__buf_be32(b, (uint32_t)(j - i));
        cme__buf_be32(b, t->f.samples[i].duration);
        runs++;
        i = j;
    }
    cme__buf_patch_be32(b, count_at, runs);
    cme__box_end(b, box);
}

/* 8.6.2 stss, only when some sample is not a sync sample (no stss: all are). */
static void write_stss(CmeBuf *b, const In *t)
{
    uint32_t n = 0;
    for (size_t i = 0; i < t->f.nb_samples; i++)
        n += t->f.samples[i].sync != 0;
    if (n == t->f.nb_samples)
        return;
    size_t box = cme__fullbox_begin(b, "stss", 0, 0);
    cme__buf_be32(b, n);
    for (size_t i = 0; i < t->f.nb_samples; i++)
        if (t->f.samples[i].sync)
            cme__buf_be32(b, (uint32_t)(i + 1));
    cme__box_end(b, box);
}

static void write_stsz(CmeBuf *b, const In *t)
{
    size_t box = cme__fullbox_begin(b, "stsz", 0, 0);
    cme__buf_be32(b, 0); /* sample_size 0: a table follows */
    cme__buf_be32(b, (uint32_t)t->f.nb_samples);
    for (size_t i = 0; i < t->f.nb_samples; i++)
        cme__buf_be32(b, t->f.samples[i].size);
    cme__box_end(b, box);
}

/* 8.7.4 stsc: a run starts wherever the samples per chunk change. */
static void write_stsc(CmeBuf *b, const In *t)
{
    size_t box = cme__fullbox_begin(b, "stsc", 0, 0);
    size_t count_at = b->size;
    cme__buf_be32(b, 0);
    uint32_t runs = 0;
    for (size_t c = 0; c < t->nb_chunks; c++) {
        if (c > 0 && t->chunks[c].nb == t->chunks[c - 1].nb)
            continue;
        cme__buf_be32(b, (uint32_t)(c + 1));
        cme__buf_be32(b, t->chunks[c].nb);
        cme__buf_be32(b, 1); /* sample_description_index */
        runs++;
    }
    cme__buf_patch_be32(b, count_at, runs);
    cme__box_end(b, box);
}

static void write_chunk_offsets(CmeBuf *b, const In *t, int co64)
{
    size_t box = cme__fullbox_begin(b, co64 ? "co64" : "stco", 0, 0);
    cme__buf_be32(b, (uint32_t)t->nb_chunks);
    for (size_t c = 0; c < t->nb_chunks; c++) {
        if (co64)
            cme__buf_be64(b, t->chunks[c].offset);
        else
            cme__buf_be32(b, (uint32_t)t->chunks[c].offset);
    }
    cme__box_end(b, box);
}

static void write_trak(CmeBuf *b, const In *t, uint32_t id, int audio, int co64)
{
    size_t trak = cme__box_begin(b, "trak");
    uint64_t dur = movie_duration(t);
    write_tkhd(b, id, dur, t, audio);
    if (priming(t))
        write_edts(b, dur, priming(t));
    size_t mdia = cme__box_begin(b, "mdia");
    write_mdhd(b, t);
    write_hdlr(b, audio);
    size_t minf = cme__box_begin(b, "minf");
    write_media_header(b, audio);
    size_t stbl = cme__box_begin(b, "stbl");
    cme__buf_append(b, t->f.stsd, t->f.stsd_size); /* the init segment's, byte for byte */
    write_stts(b, t);
    write_stss(b, t);
    write_stsz(b, t);
    write_stsc(b, t);
    write_chunk_offsets(b, t, co64);
    cme__box_end(b, stbl);
    cme__box_end(b, minf);
    cme__box_end(b, mdia);
    cme__box_end(b, trak);
}

/* ftyp: isom (the ISO base file format), iso6 (the boxes used here), mp41, and av01 for the
 * AV1 track (AV1-ISOBMFF 2.1). */
static void write_ftyp(CmeBuf *b)
{
    size_t box = cme__box_begin(b, "ftyp");
    cme__buf_fourcc(b, "isom");
    cme__buf_be32(b, 0x200);
    cme__buf_fourcc(b, "isom");
    cme__buf_fourcc(b, "iso6");
    cme__buf_fourcc(b, "av01");
    cme__buf_fourcc(b, "mp41");
    cme__box_end(b, box);
}

static int write_moov(CmeBuf *b, In *in, size_t n, int co64)
{
    size_t moov = cme__box_begin(b, "moov");
    uint64_t dur = 0;
    for (size_t k = 0; k < n; k++)
        if (movie_duration(&in[k]) > dur)
            dur = movie_duration(&in[k]);
    write_mvhd(b, dur, (uint32_t)n + 1);
    for (size_t k = 0; k < n; k++)
        write_trak(b, &in[k], (uint32_t)k + 1, k > 0, co64);
    cme__box_end(b, moov);
    return cme__buf_status(b);
}

/* ---- the job's rungs ---------------------------------------------------------------- */

/* "<dir>/<name>/init.mp4" and its n segments, as paths in one allocation. */
static int track_paths(const char *dir, const char *name, size_t n, CmeStitchTrack *t, char **store)
{
    size_t one = strlen(dir) + strlen(name) + 32;
    char *p = malloc((n + 1) * (one + sizeof(char *)));
    if (!p)
        return CME_ENOMEM;
    char **list = (char **)(void *)p;
    char *s = p + (n + 1) * sizeof(char *);
    for (size_t i = 0; i <= n; i++) {
        list[i] = s + i * one;
        if (i == 0)
            cme__outpath(list[i], one, dir, name, CME_OUT_INIT);
        else
            cme__outpath_segment(list[i], one, dir, name, (uint32_t)i, "m4s");
    }
    t->init = list[0];
    t->segments = (const char *const *)(list + 1);
    t->nb_segments = n;
    *store = p;
    return 0;
}

int cme__rung_mp4(const char *out_dir, const char *rung, size_t nb_segments, const char *audio,
                  size_t nb_audio, char *err, size_t errlen)
{
    CmeStitchTrack t[2];
    char *store[2] = { NULL, NULL };
    size_t n = audio && nb_audio ? 2 : 1;
    int r = track_paths(out_dir, rung, nb_segments, &t[0], &store[0]);
    if (r == 0 && n == 2)
        r = track_paths(out_dir, audio, nb_audio, &t[1], &store[1]);
    char path[4096];
    if (r == 0)
        r = cme__outpath_named(path, sizeof(path), out_dir, rung, "mp4");
    if (r == 0)
        r = cme__mp4_stitch(path, t, n, 0, err, errlen);
    else if (err && errlen && !err[0])
        snprintf(err, errlen, "%s/%s.mp4: %s", out_dir, rung, cme_strerror(r));
    free(store[0]);
    free(store[1]);
    return r;
}

/* ---- the whole ---------------------------------------------------------------------- */

int cme__mp4_stitch(const char *out_path, const CmeStitchTrack *tracks, size_t nb_tracks,
                    int force_co64, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out_path || !tracks || nb_tracks == 0 || nb_tracks > 16)
        return cme__errf(err, errlen, CME_EINVAL, "cme__mp4_stitch: invalid argument");
    In in[16];
    memset(in, 0, sizeof(in));
    CmeBuf head = { 0 };
    FILE *fp = NULL;
    char tmp[4200];
    tmp[0] = '\0';
    int r = 0;
    size_t max_files = 0;
    for (size_t k = 0; k < nb_tracks && r == 0; k++) {
        r = in_read(&in[k], &tracks[k], err, errlen);
        if (r == 0 && in[k].nb_files > max_files)
            max_files = in[k].nb_files;
    }
    if (r < 0)
        goto out;

    /* Layout: chunk = one track's samples of one segment, the tracks interleaved segment
     * by segment; offsets relative to the mdat payload first. */
    uint64_t payload = 0;
    for (size_t seg = 1; seg < max_files; seg++) {
        for (size_t k = 0; k < nb_tracks; k++) {
            In *t = &in[k];
            size_t first = t->next_sample, i = first;
            while (i < t->f.nb_samples && file_of(t, t->f.samples[i].offset) == seg) {
                payload += t->f.samples[i].size;
                i++;
            }
            if (i == first)
                continue;
            uint64_t bytes = 0;
            for (size_t j = first; j < i; j++)
                bytes += t->f.samples[j].size;
            t->chunks[t->nb_chunks++] =
                (Chunk){ payload - bytes, (uint32_t)first, (uint32_t)(i - first) };
            t->next_sample = i;
        }
    }
    for (size_t k = 0; k < nb_tracks; k++)
        if (in[k].next_sample != in[k].f.nb_samples) {
            r = cme__errf(err, errlen, CME_EBITSTREAM, "%s: samples out of segment order",
                          tracks[k].init);
            goto out;
        }
    /* 64-bit offsets when the end of the data could pass 4 GiB (the moov is far smaller
     * than the 1 GiB margin); a largesize mdat when its own size does not fit 32 bits. */
    int co64 = force_co64 || payload > (uint64_t)UINT32_MAX - (1u << 30);
    int large = payload + 8 > UINT32_MAX;
    write_ftyp(&head);
    size_t moov_at = head.size;
    if ((r = write_moov(&head, in, nb_tracks, co64)) < 0)
        goto out;
    uint64_t base = head.size + (large ? 16 : 8);
    for (size_t k = 0; k < nb_tracks; k++)
        for (size_t c = 0; c < in[k].nb_chunks; c++)
            in[k].chunks[c].offset += base;
    head.size = moov_at; /* the same moov again, now with the final offsets */
    if ((r = write_moov(&head, in, nb_tracks, co64)) < 0)
        goto out;
    if (head.size + (large ? 16 : 8) != base) {
        r = cme__errf(err, errlen, CME_EINVAL, "%s: moov changed size", out_path);
        goto out;
    }
    if (large) {
        cme__buf_be32(&head, 1);
        cme__buf_fourcc(&head, "mdat");
        cme__buf_be64(&head, payload + 16);
    } else {
        cme__buf_be32(&head, (uint32_t)(payload + 8));
        cme__buf_fourcc(&head, "mdat");
    }
    if ((r = cme__buf_status(&head)) < 0)
        goto out;

    /* Written to "<path>.tmp.<pid>" and renamed, like every other file (core/file.c). */
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", out_path, (long)getpid());
    fp = fopen(tmp, "wb");
    if (!fp) {
        r = cme__errf(err, errlen, CME_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    int ok = fwrite(head.data, 1, head.size, fp) == head.size;
    for (size_t seg = 1; ok && seg < max_files; seg++)
        for (size_t k = 0; ok && k < nb_tracks; k++)
            for (size_t c = 0; ok && c < in[k].nb_chunks; c++) {
                const Chunk *ch = &in[k].chunks[c];
                const CmeMp4Sample *s0 = &in[k].f.samples[ch->first];
                if (file_of(&in[k], s0->offset) != seg)
                    continue;
                for (uint32_t j = 0; ok && j < ch->nb; j++) {
                    const CmeMp4Sample *s = &s0[j];
                    ok = fwrite(in[k].data + s->offset, 1, s->size, fp) == s->size;
                }
            }
    if (fclose(fp) != 0)
        ok = 0;
    fp = NULL;
    if (!ok) {
        r = cme__errf(err, errlen, CME_EIO, "%s: write failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, out_path) < 0) {
        r = cme__errf(err, errlen, CME_EIO, "%s: rename to %s failed: %s", tmp, out_path,
                      strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
out:
    if (fp)
        fclose(fp);
    if (tmp[0])
        unlink(tmp);
    cme__buf_free(&head);
    for (size_t k = 0; k < nb_tracks; k++)
        in_free(&in[k]);
    return r;
}

/* ---- DASH on demand ----------------------------------------------------------------- */

/* ISO/IEC 14496-12 8.16.3: one media reference per fragment. Version 0 when the times fit
 * 32 bits. Fragment k holds in->f's samples [first[k], first[k + 1]); sizes[k] its moof +
 * mdat bytes. */
static void write_sidx(CmeBuf *b, const In *in, const size_t *first, const uint64_t *sizes,
                       size_t n)
{
    uint64_t ept = in->f.samples[0].dts;
    int v1 = ept > UINT32_MAX;
    size_t box = cme__fullbox_begin(b, "sidx", v1 ? 1 : 0, 0);
    cme__buf_be32(b, in->f.track_id);
    cme__buf_be32(b, in->f.timescale);
    if (v1) {
        cme__buf_be64(b, ept);
        cme__buf_be64(b, 0); /* first_offset: the first moof follows the sidx */
    } else {
        cme__buf_be32(b, (uint32_t)ept);
        cme__buf_be32(b, 0);
    }
    cme__buf_be16(b, 0);
    cme__buf_be16(b, (uint16_t)n);
    for (size_t k = 0; k < n; k++) {
        uint64_t dur = 0;
        for (size_t i = first[k]; i < first[k + 1]; i++)
            dur += in->f.samples[i].duration;
        cme__buf_be32(b, (uint32_t)sizes[k]); /* reference_type 0: media */
        cme__buf_be32(b, (uint32_t)dur);
        /* starts_with_SAP 1, SAP_type 1 (every fragment starts with a key frame carrying
         * the sequence header, or an audio access unit), SAP_delta_time 0. */
        cme__buf_be32(b, 0x90000000u);
    }
    cme__box_end(b, box);
}

int cme__ondemand_file(const char *out_path, const CmeStitchTrack *track, CmeDashIndex *ix,
                       char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out_path || !track || !ix || track->nb_segments == 0 || track->nb_segments > 65535)
        return cme__errf(err, errlen, CME_EINVAL, "%s: cannot index %zu segments",
                         out_path ? out_path : "(null)", track ? track->nb_segments : 0);
    In in;
    memset(&in, 0, sizeof(in));
    CmeBuf b = { 0 };
    size_t n = track->nb_segments;
    size_t *first = calloc(n + 1, sizeof(*first));
    uint64_t *sizes = calloc(n, sizeof(*sizes)), *moof = calloc(n, sizeof(*moof));
    int r = first && sizes && moof ? in_read(&in, track, err, errlen)
                                   : cme__errf(err, errlen, CME_ENOMEM, "out of memory");
    if (r < 0)
        goto out;
    if (!in.f.has_mvex || in.f.timescale == 0) {
        r = cme__errf(err, errlen, CME_EBITSTREAM, "%s: not a fragmented-MP4 init segment",
                      track->init);
        goto out;
    }
    /* Each segment file: its moof (the reader's list), up to the file's end; the samples
     * whose bytes lie in it. */
    size_t m = 0, s = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t lo = in.starts[k + 1], hi = k + 2 < in.nb_files ? in.starts[k + 2] : in.size;
        while (m < in.f.nb_moofs && in.f.moofs[m] < lo)
            m++;
        if (m == in.f.nb_moofs || in.f.moofs[m] >= hi ||
            (m + 1 < in.f.nb_moofs && in.f.moofs[m + 1] < hi)) {
            r = cme__errf(err, errlen, CME_EBITSTREAM, "%s: not one moof", track->segments[k]);
            goto out;
        }
        moof[k] = in.f.moofs[m];
        sizes[k] = hi - moof[k];
        first[k] = s;
        while (s < in.f.nb_samples && in.f.samples[s].offset < hi)
            s++;
        if (s == first[k] || sizes[k] > 0x7fffffffu) {
            r = cme__errf(err, errlen, CME_EBITSTREAM, "%s: %s", track->segments[k],
                          s == first[k] ? "no sample" : "larger than a sidx reference (2 GiB)");
            goto out;
        }
    }
    first[n] = s;
    size_t init_size = in.starts[1];
    cme__buf_append(&b, in.data, init_size);
    write_sidx(&b, &in, first, sizes, n);
    size_t index_end = b.size;
    for (size_t k = 0; k < n; k++)
        cme__buf_append(&b, in.data + moof[k], (size_t)sizes[k]);
    if ((r = cme__buf_status(&b)) < 0) {
        r = cme__errf(err, errlen, r, "%s: out of memory", out_path);
        goto out;
    }
    if ((r = cme__file_write_atomic(out_path, b.data, b.size, err, errlen)) < 0)
        goto out;
    ix->init_end = init_size - 1;
    ix->index_start = init_size;
    ix->index_end = index_end - 1;
out:
    cme__buf_free(&b);
    in_free(&in);
    free(first);
    free(sizes);
    free(moof);
    return r;
}

int cme__ondemand_write(const char *out_dir, const CmeRendition *r, size_t nb, char *err,
                        size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out_dir || !r || nb == 0 || nb > CME_MAX_ONDEMAND)
        return cme__errf(err, errlen, CME_EINVAL, "on-demand output: invalid argument");
    char dir[2048], urls[CME_MAX_ONDEMAND][48], path[2300];
    CmeDashIndex ix[CME_MAX_ONDEMAND];
    memset(ix, 0, sizeof(ix));
    if (cme__outpath(dir, sizeof(dir), out_dir, NULL, CME_OUT_ONDEMAND) < 0)
        return cme__errf(err, errlen, CME_EINVAL, "%s: path too long", out_dir);
    int ret = cme__mkdir_p(dir, err, errlen);
    for (size_t i = 0; i < nb && ret == 0; i++) {
        snprintf(urls[i], sizeof(urls[i]), "%s.%s", r[i].name, r[i].is_text ? "vtt" : "mp4");
        ix[i].url = urls[i];
        cme__outpath(path, sizeof(path), dir, NULL, urls[i]);
        if (r[i].is_text) {
            /* The sidecar WebVTT file the live MPD names, beside the other files. */
            char src[2300];
            cme__outpath(src, sizeof(src), out_dir, r[i].name, CME_OUT_SUBTITLES);
            unsigned char *d = NULL;
            size_t size = 0;
            ret = cme__file_read_all(src, &d, &size, err, errlen);
            if (ret == 0)
                ret = cme__file_write_atomic(path, d, size, err, errlen);
            free(d);
            continue;
        }
        CmeStitchTrack t;
        char *store = NULL;
        ret = track_paths(out_dir, r[i].name, r[i].nb_segments, &t, &store);
        if (ret == 0)
            ret = cme__ondemand_file(path, &t, &ix[i], err, errlen);
        else
            cme__errf(err, errlen, ret, "%s: out of memory", path);
        free(store);
    }
    if (ret < 0)
        return ret;
    CmeBuf b = { 0 };
    ret = cme_dash_write_mpd_ondemand(&b, r, nb, ix);
    if (ret == 0) {
        cme__outpath(path, sizeof(path), dir, NULL, CME_OUT_MPD);
        ret = cme__file_write_atomic(path, b.data, b.size, err, errlen);
    } else {
        cme__errf(err, errlen, ret, "%s/manifest.mpd: %s", dir, cme_strerror(ret));
    }
    cme__buf_free(&b);
    return ret;
}

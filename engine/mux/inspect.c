/*
 * `cmafeng inspect`: what an AV1 file holds. The container layer lists the samples (IVF
 * frames, temporal units of an OBU stream split at temporal delimiters, MP4 samples from
 * mp4_reader.c); the AV1 layer then reads each one's frame-level facts with the sequence
 * header in force (AV1 spec 7.5: a sequence header applies to the frames after it).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errf.h"
#include "cmafeng/inspect.h"
#include "core/file.h"
#include "mux/mp4_reader.h"

typedef struct List {
    CmeInspectSample *s;
    size_t n, cap;
} List;

static int list_add(List *l, const CmeInspectSample *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        CmeInspectSample *p = realloc(l->s, cap * sizeof(*p));
        if (!p)
            return CME_ENOMEM;
        l->s = p;
        l->cap = cap;
    }
    l->s[l->n++] = *s;
    return 0;
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * IVF: a 32-byte file header ("DKIF", version, header size, fourcc, width, height, time
 * base denominator and numerator, frame count) and frames of a 12-byte header (size, 64-bit
 * pts) plus data, all little-endian (the layout of libvpx ivfenc and FFmpeg ivfenc.c).
 * Timestamps are pts * num in units of 1/den s.
 */
static int read_ivf(const uint8_t *d, size_t size, CmeInspect *pi, List *l, char *err,
                    size_t errlen)
{
    if (size < 32)
        return cme__errf(err, errlen, CME_EBITSTREAM, "IVF header: truncated (%zu bytes, need 32)",
                         size);
    size_t hdr = le16(d + 6);
    if (hdr < 32 || hdr > size)
        return cme__errf(err, errlen, CME_EBITSTREAM, "IVF header: header size %zu invalid", hdr);
    if (memcmp(d + 8, "AV01", 4)) {
        char cc[5];
        for (int i = 0; i < 4; i++)
            cc[i] = (d[8 + i] >= 0x20 && d[8 + i] < 0x7f) ? (char)d[8 + i] : '?';
        cc[4] = '\0';
        return cme__errf(err, errlen, CME_EUNSUPPORTED, "IVF fourcc %s is not AV1 (AV01)", cc);
    }
    pi->width = le16(d + 12);
    pi->height = le16(d + 14);
    uint32_t den = le32(d + 16), num = le32(d + 20);
    pi->timescale = den;
    int timed = den != 0 && num != 0;
    size_t pos = hdr;
    while (pos < size) {
        size_t idx = l->n + 1;
        if (size - pos < 12)
            return cme__errf(err, errlen, CME_EBITSTREAM,
                             "IVF frame %zu: header truncated (%zu bytes left, need 12)", idx,
                             size - pos);
        uint32_t fs = le32(d + pos);
        uint64_t pts = (uint64_t)le32(d + pos + 4) | (uint64_t)le32(d + pos + 8) << 32;
        pos += 12;
        if (fs > size - pos)
            return cme__errf(err, errlen, CME_EBITSTREAM,
                             "IVF frame %zu: %" PRIu32 " bytes but only %zu left", idx, fs,
                             size - pos);
        CmeInspectSample s;
        memset(&s, 0, sizeof(s));
        s.offset = pos;
        s.size = fs;
        s.has_time = timed;
        s.dts = timed ? pts * num : 0;
        if (list_add(l, &s) < 0)
            return cme__errf(err, errlen, CME_ENOMEM, "out of memory");
        pos += fs;
    }
    /* Durations from the next frame's time; the last frame repeats the one before. */
    for (size_t i = 0; timed && i < l->n; i++) {
        if (i + 1 < l->n)
            l->s[i].duration =
                l->s[i + 1].dts > l->s[i].dts ? (uint32_t)(l->s[i + 1].dts - l->s[i].dts) : 0;
        else if (i > 0)
            l->s[i].duration = l->s[i - 1].duration;
    }
    if (!timed)
        pi->timescale = 0;
    return 0;
}

/*
 * A low-overhead OBU stream (AV1 spec 5.2): every temporal unit starts with a temporal
 * delimiter (7.5), so the stream is split there. A stream that starts with anything but a
 * temporal delimiter or a sequence header is taken as not an OBU stream at all.
 */
static int read_obu(const uint8_t *d, size_t size, List *l, char *err, size_t errlen)
{
    const uint8_t *p = d;
    size_t left = size;
    CmeAv1Obu o;
    char inner[200];
    int r;
    int open = 0;
    size_t count = 0;
    while ((r = cme_av1_obu_next(&p, &left, &o, inner, sizeof(inner))) > 0) {
        if (count++ == 0 &&
            ((o.type != CME_OBU_TEMPORAL_DELIMITER && o.type != CME_OBU_SEQUENCE_HEADER) ||
             !o.has_size_field))
            return cme__errf(err, errlen, CME_EBITSTREAM,
                             "not IVF, ISO BMFF or an AV1 OBU stream (first byte 0x%02x)", d[0]);
        if (o.type == CME_OBU_TEMPORAL_DELIMITER || !open) {
            CmeInspectSample s;
            memset(&s, 0, sizeof(s));
            s.offset = (uint64_t)(o.data - d);
            if (list_add(l, &s) < 0)
                return cme__errf(err, errlen, CME_ENOMEM, "out of memory");
            open = 1;
        }
        CmeInspectSample *cur = &l->s[l->n - 1];
        cur->size = (uint32_t)((size_t)(o.data + o.size - d) - cur->offset);
    }
    if (r < 0) {
        if (count == 0)
            return cme__errf(err, errlen, CME_EBITSTREAM,
                             "not IVF, ISO BMFF or an AV1 OBU stream (first byte 0x%02x: %s)",
                             size ? d[0] : 0, inner);
        return cme__errf(err, errlen, CME_EBITSTREAM, "temporal unit %zu (offset %zu): %s",
                         l->n + (open ? 0 : 1), (size_t)(p - d), inner);
    }
    if (count == 0)
        return cme__errf(err, errlen, CME_EBITSTREAM, "empty file");
    return 0;
}

static int read_mp4(const uint8_t *d, size_t size, CmeInspect *pi, List *l, char *err,
                    size_t errlen)
{
    CmeMp4File f;
    int r = cme__mp4_parse(d, size, &f, err, errlen);
    if (r < 0)
        return r;
    if (f.has_moov && memcmp(f.sample_entry, "av01", 4)) {
        if (!strcmp(f.handler, "soun")) {
            pi->kind = CME_INSPECT_KIND_AUDIO;
        } else if (!strcmp(f.handler, "text") || !strcmp(f.handler, "subt") ||
                   !strcmp(f.handler, "sbtl")) {
            pi->kind = CME_INSPECT_KIND_TEXT;
        } else {
            r = f.sample_entry[0]
                    ? cme__errf(err, errlen, CME_EUNSUPPORTED,
                                "the %s track's sample entry is %s, not AV1 (av01)",
                                !strcmp(f.handler, "vide") ? "video" : f.handler, f.sample_entry)
                    : cme__errf(err, errlen, CME_EUNSUPPORTED,
                                "moov has no track with a sample entry");
            goto out;
        }
        (void)cme__mp4_codec_string(&f, pi->codec_string, sizeof(pi->codec_string));
    }
    memcpy(pi->sample_entry, f.sample_entry, sizeof(pi->sample_entry));
    memcpy(pi->handler, f.handler, sizeof(pi->handler));
    pi->nb_tracks = (uint32_t)f.nb_tracks;
    pi->channels = f.channels;
    pi->sample_bits = f.sample_bits;
    pi->sample_rate = f.sample_rate;
    if (strcmp(f.language, "und"))
        memcpy(pi->language, f.language, sizeof(pi->language));
    pi->has_edit = f.has_edit;
    pi->edit_media_time = f.edit_media_time;
    pi->edit_duration = f.edit_duration;
    const uint8_t *cfg = f.dops ? f.dops : f.dsi;
    size_t cfg_size = f.dops ? f.dops_size : f.dsi_size;
    if (cfg && cfg_size) {
        pi->codec_config = malloc(cfg_size);
        if (!pi->codec_config) {
            r = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(pi->codec_config, cfg, cfg_size);
        pi->codec_config_size = cfg_size;
    }
    if (!f.has_moov && f.nb_moof == 0) {
        r = cme__errf(err, errlen, CME_EBITSTREAM, "neither a moov nor a moof box: no samples");
        goto out;
    }
    pi->format = f.has_moov ? (f.nb_moof    ? CME_INSPECT_FMP4
                               : f.has_mvex ? CME_INSPECT_INIT
                                            : CME_INSPECT_MP4)
                            : CME_INSPECT_SEGMENT;
    memcpy(pi->brand, f.major_brand, sizeof(pi->brand));
    pi->track_id = f.track_id;
    pi->timescale = f.timescale;
    pi->width = f.width;
    pi->height = f.height;
    pi->nb_fragments = (uint32_t)f.nb_moof;
    if (f.has_sidx) {
        pi->has_sidx = 1;
        pi->sidx_start = f.sidx.start;
        pi->sidx_end = f.sidx.end;
        pi->sidx_references = (uint32_t)f.sidx.nb_refs;
        pi->sidx_earliest_presentation_time = f.sidx.earliest_presentation_time;
        (void)cme__mp4_check_sidx(&f, size, pi->sidx_problem, sizeof(pi->sidx_problem));
    }
    if (f.has_colr) {
        pi->has_colr = 1;
        pi->colr_primaries = f.colr_primaries;
        pi->colr_transfer = f.colr_transfer;
        pi->colr_matrix = f.colr_matrix;
        pi->colr_full_range = f.colr_full_range;
    }
    pi->hdr = f.hdr;
    if (f.has_av1c) {
        pi->av1c_record = malloc(f.av1c_size ? f.av1c_size : 1);
        if (!pi->av1c_record) {
            r = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(pi->av1c_record, f.av1c, f.av1c_size);
        pi->av1c_size = f.av1c_size;
        r = cme_av1_read_av1c(pi->av1c_record, pi->av1c_size, &pi->av1c, err, errlen);
        if (r < 0)
            goto out; /* checked by the reader already; kept for the invariant */
        pi->has_av1c = 1;
    }
    for (size_t i = 0; i < f.nb_samples; i++) {
        const CmeMp4Sample *m = &f.samples[i];
        CmeInspectSample s;
        memset(&s, 0, sizeof(s));
        s.offset = m->offset;
        s.size = m->size;
        s.has_time = 1;
        s.dts = m->dts;
        s.duration = m->duration;
        s.sync = m->sync;
        s.frame_type = -1;
        if (list_add(l, &s) < 0) {
            r = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
            goto out;
        }
    }
    r = 0;
out:
    cme__mp4_file_free(&f);
    return r;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Frame-level facts of every sample, each parsed with the sequence header in force. */
static int analyse(const uint8_t *d, CmeInspect *pi, List *l, char *err, size_t errlen)
{
    const CmeAv1SeqHdr *cur = pi->has_seq_hdr ? &pi->seq : NULL;
    CmeAv1SeqHdr latest, cfg;
    CmeAv1Obu cfg_obu, obu;
    char inner[200];
    int have_cfg =
        pi->seq_from_av1c && cme_av1_find_seq_hdr(pi->av1c.config_obus, pi->av1c.config_obus_size,
                                                  &cfg_obu, &cfg, NULL, 0) == 0;
    for (size_t i = 0; i < l->n; i++) {
        CmeInspectSample *s = &l->s[i];
        const uint8_t *tu = d + s->offset;
        CmeAv1TuInfo ti;
        int r = cme_av1_tu_info(tu, s->size, cur, &ti, inner, sizeof(inner));
        if (r < 0)
            return cme__errf(err, errlen, r,
                             "sample %zu (offset %" PRIu64 ", %" PRIu32 " bytes): %s", i + 1,
                             s->offset, s->size, inner);
        if (ti.has_seq_hdr) {
            r = cme_av1_find_seq_hdr(tu, s->size, &obu, &latest, inner, sizeof(inner));
            if (r < 0)
                return cme__errf(err, errlen, r, "sample %zu: %s", i + 1, inner);
            CmeAv1FieldDiff diff[1];
            if (have_cfg && !pi->seq_differs_sample &&
                cme_av1_invariant_compare(&cfg, cfg_obu.data, cfg_obu.size, &latest, obu.data,
                                          obu.size, CME_INVARIANT_STRICT, diff, 1) > 0) {
                pi->seq_differs_sample = i + 1;
                pi->seq_differs_field = diff[0].field;
            }
            cur = &latest;
            if (!pi->has_seq_hdr) {
                pi->seq = latest;
                pi->has_seq_hdr = 1;
            }
        }
        s->frame_type = ti.frame_type;
        s->show_existing_frame = ti.show_existing_frame;
        s->num_frame_headers = ti.num_frame_headers;
        s->has_seq_hdr = ti.has_seq_hdr;
        s->av1_sync = ti.is_sync;
        if (pi->format == CME_INSPECT_OBU || pi->format == CME_INSPECT_IVF)
            s->sync = ti.is_sync;
    }
    return 0;
}

int cme_inspect_buffer(const uint8_t *data, size_t size, const char *name_hint, CmeInspect **out,
                       char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || (!data && size))
        return cme__errf(err, errlen, CME_EINVAL, "cme_inspect_buffer: invalid argument");
    *out = NULL;
    CmeInspect *pi = calloc(1, sizeof(*pi));
    if (!pi)
        return cme__errf(err, errlen, CME_ENOMEM, "out of memory");
    List l = { 0 };
    int r;
    char inner[200];

    if (size == 0) {
        r = cme__errf(err, errlen, CME_EBITSTREAM, "empty file");
        goto error;
    }
    if (size >= 4 && !memcmp(data, "DKIF", 4)) {
        pi->format = CME_INSPECT_IVF;
        r = read_ivf(data, size, pi, &l, err, errlen);
    } else if (cme__mp4_probe(data, size)) {
        r = read_mp4(data, size, pi, &l, err, errlen);
    } else if (name_hint && (ends_with(name_hint, ".mp4") || ends_with(name_hint, ".m4s") ||
                             ends_with(name_hint, ".cmfv"))) {
        r = cme__errf(
            err, errlen, CME_EBITSTREAM,
            "not an ISO BMFF file: it does not start with an ftyp, styp, moov or moof box");
    } else {
        pi->format = CME_INSPECT_OBU;
        r = read_obu(data, size, &l, err, errlen);
    }
    if (r < 0)
        goto error;
    if (pi->kind != CME_INSPECT_KIND_AV1) {
        /* Audio and text samples carry no AV1 facts; their container's are complete. */
        pi->samples = l.s;
        pi->nb_samples = l.n;
        *out = pi;
        return 0;
    }

    /* The sequence header: av1C's configOBUs when it has one (AV1-ISOBMFF 2.3.4), else the
     * first sample that carries one (a bare .m4s, IVF, OBU). */
    if (pi->has_av1c && pi->av1c.config_obus_size) {
        r = cme_av1_find_seq_hdr(pi->av1c.config_obus, pi->av1c.config_obus_size, NULL, &pi->seq,
                                 inner, sizeof(inner));
        if (r == 0) {
            pi->has_seq_hdr = 1;
            pi->seq_from_av1c = 1;
        } else if (r != CME_EOF) {
            r = cme__errf(err, errlen, r, "av1C.configOBUs: %s", inner);
            goto error;
        }
    }
    if ((r = analyse(data, pi, &l, err, errlen)) < 0)
        goto error;
    if (!pi->has_seq_hdr && pi->format != CME_INSPECT_INIT) {
        r = cme__errf(err, errlen, CME_EBITSTREAM, "no sequence header OBU in the file");
        goto error;
    }
    if (pi->has_seq_hdr)
        (void)cme_av1_codec_string(&pi->seq, pi->codec_string, sizeof(pi->codec_string));

    /* An OBU stream has time only through the sequence header's timing_info with a
     * constant picture interval (AV1 spec 5.5.3). */
    if (pi->format == CME_INSPECT_OBU && pi->has_seq_hdr && pi->seq.timing_info_present_flag &&
        pi->seq.equal_picture_interval && pi->seq.time_scale) {
        uint64_t tick = (uint64_t)pi->seq.num_units_in_display_tick *
                        ((uint64_t)pi->seq.num_ticks_per_picture_minus_1 + 1);
        if (tick > 0 && tick <= UINT32_MAX) {
            pi->timescale = pi->seq.time_scale;
            for (size_t i = 0; i < l.n; i++) {
                l.s[i].has_time = 1;
                l.s[i].dts = tick * i;
                l.s[i].duration = (uint32_t)tick;
            }
        }
    }
    if (pi->format == CME_INSPECT_IVF && pi->has_seq_hdr) {
        /* The IVF header's size is advisory; the sequence header's is authoritative only
         * when the header says nothing. */
        if (!pi->width)
            pi->width = (uint32_t)pi->seq.max_frame_width_minus_1 + 1;
        if (!pi->height)
            pi->height = (uint32_t)pi->seq.max_frame_height_minus_1 + 1;
    }
    pi->samples = l.s;
    pi->nb_samples = l.n;
    *out = pi;
    return 0;

error:
    free(l.s);
    CmeInspect *tmp = pi;
    cme_inspect_free(&tmp);
    return r;
}

int cme_inspect_file(const char *path, CmeInspect **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!path || !out)
        return cme__errf(err, errlen, CME_EINVAL, "cme_inspect_file: invalid argument");
    *out = NULL;
    unsigned char *data = NULL;
    size_t size = 0;
    int r = cme__file_read_all(path, &data, &size, err, errlen);
    if (r < 0)
        return r;
    char inner[512];
    r = cme_inspect_buffer(data, size, path, out, inner, sizeof(inner));
    free(data);
    if (r < 0)
        return cme__errf(err, errlen, r, "%s: %s", path, inner);
    return 0;
}

int cme_inspect_segment_file(const char *init_path, const char *seg_path, CmeInspect **out,
                             char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!init_path || !seg_path || !out)
        return cme__errf(err, errlen, CME_EINVAL, "cme_inspect_segment_file: invalid argument");
    *out = NULL;
    unsigned char *init = NULL, *seg = NULL, *all = NULL;
    size_t init_size = 0, seg_size = 0;
    int r = cme__file_read_all(init_path, &init, &init_size, err, errlen);
    if (r == 0)
        r = cme__file_read_all(seg_path, &seg, &seg_size, err, errlen);
    if (r < 0)
        goto out;
    if (seg_size > SIZE_MAX - init_size || !(all = malloc(init_size + seg_size + 1))) {
        r = cme__errf(err, errlen, CME_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(all, init, init_size);
    memcpy(all + init_size, seg, seg_size);
    char inner[512];
    CmeMp4File f;
    /* The init segment alone: it must parse and hold no sample of its own. */
    r = cme__mp4_parse(init, init_size, &f, inner, sizeof(inner));
    if (r == 0) {
        int has_moov = f.has_moov, bad = !f.has_moov || f.nb_samples > 0;
        cme__mp4_file_free(&f);
        if (bad) {
            r = cme__errf(err, errlen, CME_EBITSTREAM, "%s: not an init segment (%s)", init_path,
                          has_moov ? "it holds samples" : "no moov");
            goto out;
        }
    } else {
        r = cme__errf(err, errlen, r, "%s: %s", init_path, inner);
        goto out;
    }
    if (!cme__mp4_probe(seg, seg_size)) {
        r = cme__errf(err, errlen, CME_EBITSTREAM, "%s: not an ISO BMFF media segment", seg_path);
        goto out;
    }
    r = cme_inspect_buffer(all, init_size + seg_size, seg_path, out, inner, sizeof(inner));
    if (r < 0) {
        r = cme__errf(err, errlen, r, "%s (with %s): %s", seg_path, init_path, inner);
        goto out;
    }
    CmeInspect *pi = *out;
    if (pi->nb_fragments == 0) {
        cme_inspect_free(out);
        r = cme__errf(err, errlen, CME_EBITSTREAM, "%s: no moof box: not a media segment",
                      seg_path);
        goto out;
    }
    pi->format = CME_INSPECT_SEGMENT;
    for (size_t i = 0; i < pi->nb_samples; i++)
        pi->samples[i].offset -= init_size;
    r = 0;
out:
    free(init);
    free(seg);
    free(all);
    return r;
}

void cme_inspect_free(CmeInspect **pi)
{
    if (!pi || !*pi)
        return;
    free((*pi)->codec_config);
    free((*pi)->samples);
    free((*pi)->av1c_record);
    free(*pi);
    *pi = NULL;
}

const char *cme_inspect_format_name(CmeInspectFormat f)
{
    switch (f) {
    case CME_INSPECT_OBU: return "obu";
    case CME_INSPECT_IVF: return "ivf";
    case CME_INSPECT_MP4: return "mp4";
    case CME_INSPECT_INIT: return "init";
    case CME_INSPECT_SEGMENT: return "segment";
    case CME_INSPECT_FMP4: return "fmp4";
    }
    return "unknown";
}

const char *cme_inspect_kind_name(CmeInspectKind k)
{
    switch (k) {
    case CME_INSPECT_KIND_AV1: return "av1";
    case CME_INSPECT_KIND_AUDIO: return "audio";
    case CME_INSPECT_KIND_TEXT: return "text";
    }
    return "unknown";
}

const char *cme_inspect_frame_type_name(int frame_type)
{
    switch (frame_type) {
    case 0: return "KEY";
    case 1: return "INTER";
    case 2: return "INTRA_ONLY";
    case 3: return "SWITCH";
    }
    return "-";
}

/*
 * ISO BMFF reader for untrusted bytes (ISO/IEC 14496-12): walks the box tree of a whole file
 * held in memory and lists the samples of one track (the first AV1 track, else the first
 * track of any kind: AAC or Opus audio, WebVTT text, ...), from the classic sample
 * tables (8.6.1.2 stts, 8.7.3 stsz/stz2, 8.7.4 stsc, 8.7.5 stco/co64, 8.6.2 stss, 8.6.1.3
 * ctts) and from movie fragments (8.8.7 tfhd, 8.8.12 tfdt, 8.8.8 trun, with trex defaults
 * from 8.8.3). A file may be a progressive MP4, a CMAF init segment, a media segment, or
 * init + segments concatenated.
 *
 * Every position is an offset into the buffer; a box is never allowed to extend past its
 * parent, a table never past its box, and every sample must lie inside an mdat. Errors name
 * the box path, so a broken file says where it broke.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mux/mp4_reader.h"

#define MAX_DEPTH 16 /* deeper nesting than any real file; a cap on recursion */
#define MAX_TREX 16

/* ISO/IEC 14496-12 8.8.7.1 tf_flags. */
#define TFHD_BASE_DATA_OFFSET 0x000001
#define TFHD_SAMPLE_DESCRIPTION_INDEX 0x000002
#define TFHD_DEFAULT_DURATION 0x000008
#define TFHD_DEFAULT_SIZE 0x000010
#define TFHD_DEFAULT_FLAGS 0x000020
#define TFHD_DEFAULT_BASE_IS_MOOF 0x020000
/* ISO/IEC 14496-12 8.8.8.1 tr_flags. */
#define TRUN_DATA_OFFSET 0x000001
#define TRUN_FIRST_SAMPLE_FLAGS 0x000004
#define TRUN_DURATION 0x000100
#define TRUN_SIZE 0x000200
#define TRUN_FLAGS 0x000400
#define TRUN_CTO 0x000800
/* ISO/IEC 14496-12 8.8.3.1: sample_is_non_sync_sample. */
#define SAMPLE_NON_SYNC 0x00010000u

typedef struct Box {
    char type[5];
    size_t start; /* the box header */
    size_t body;  /* after size, type, largesize and usertype */
    size_t end;   /* one past the box */
} Box;

typedef struct Range {
    size_t begin, end;
} Range;

typedef struct Trex {
    uint32_t track_id, duration, size, flags;
} Trex;

/* What one trak says, collected while its boxes are walked. */
typedef struct Trak {
    uint32_t track_id, timescale, width, height;
    char handler[5];
    char entry[5]; /* the first sample entry's type */
    const uint8_t *av1c;
    size_t av1c_size;
    int has_av1c, has_colr;
    int colr_primaries, colr_transfer, colr_matrix, colr_full_range;
    CmeHdrMetadata hdr; /* mdcv / clli */
    uint32_t channels, sample_bits, sample_rate;
    const uint8_t *stsd;
    size_t stsd_size;
    char language[4];
    int has_esds;
    uint32_t esds_oti;
    const uint8_t *dsi, *dops;
    size_t dsi_size, dops_size;
    int has_edit;
    int64_t edit_media_time;
    uint64_t edit_duration;
    Box stsz, stz2, stco, co64, stsc, stts, stss, ctts; /* type[0] == 0: absent */
} Trak;

/* What the traf being walked says (ISO/IEC 14496-12 8.8.7). */
typedef struct Traf {
    int have_tfhd;
    uint32_t track_id;
    uint32_t def_duration, def_size, def_flags;
    int has_def_size;
    uint64_t base;      /* base data offset */
    uint64_t data_next; /* where a trun without data_offset starts */
    uint64_t data_end;  /* end of the last sample of this traf */
    int have_dts;
    uint64_t dts;
} Traf;

typedef struct Ctx {
    const uint8_t *d;
    size_t size;
    char *err;
    size_t errlen;
    char path[192];
    size_t path_len[MAX_DEPTH + 8];
    int depth;
    CmeMp4File *f;
    size_t cap; /* of f->samples */
    Trak *trak; /* while inside a trak */
    Traf *traf; /* while inside a traf */
    Trex trex[MAX_TREX];
    int nb_trex;
    int selected; /* the track is chosen (from moov or the first traf) */
    int has_fallback;
    Trak fallback; /* the first non-AV1 trak, chosen when moov ends without an AV1 one */
    size_t moof_start;
    int in_moof_trafs; /* trafs already read in this moof */
    uint64_t moof_data_end;
    int have_next_dts;
    uint64_t next_dts; /* end of the last fragment, for a traf without tfdt */
    Range *mdat;
    size_t nb_mdat, cap_mdat;
    size_t cap_moofs;
} Ctx;

/* ---- errors and the box path -------------------------------------------------------- */

static int fail(Ctx *c, const char *fmt, ...) CME_PRINTF(2, 3);
static int fail(Ctx *c, const char *fmt, ...)
{
    if (!c->err || !c->errlen)
        return CME_EBITSTREAM;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->path[0])
        snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
    else
        snprintf(c->err, c->errlen, "%s", msg);
    return CME_EBITSTREAM;
}

static int oom(Ctx *c)
{
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "out of memory");
    return CME_ENOMEM;
}

static void push(Ctx *c, const char *name)
{
    size_t n = strlen(c->path);
    assert(c->depth < MAX_DEPTH + 8);
    c->path_len[c->depth] = n;
    c->depth++;
    snprintf(c->path + n, sizeof(c->path) - n, "%s%s", n ? "/" : "", name);
}

static void pop(Ctx *c)
{
    c->depth--;
    c->path[c->path_len[c->depth]] = '\0';
}

/* ---- a bounds-checked cursor over one box body ---------------------------------------- */

typedef struct Cur {
    const uint8_t *d;
    size_t pos, end;
    const char *bad; /* the first field that did not fit (sticky, like the bit reader) */
} Cur;

static Cur cur_box(const Ctx *c, const Box *b)
{
    Cur r = { c->d, b->body, b->end, NULL };
    return r;
}

static int cur_take(Cur *r, size_t n, const char *field)
{
    if (r->bad)
        return 0;
    if (r->end - r->pos < n) {
        r->bad = field;
        r->pos = r->end;
        return 0;
    }
    return 1;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t rd_u8(Cur *r, const char *field)
{
    if (!cur_take(r, 1, field))
        return 0;
    return r->d[r->pos++];
}

static uint32_t rd_u16(Cur *r, const char *field)
{
    if (!cur_take(r, 2, field))
        return 0;
    const uint8_t *p = r->d + r->pos;
    r->pos += 2;
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t rd_u24(Cur *r, const char *field)
{
    if (!cur_take(r, 3, field))
        return 0;
    const uint8_t *p = r->d + r->pos;
    r->pos += 3;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t rd_u32(Cur *r, const char *field)
{
    if (!cur_take(r, 4, field))
        return 0;
    const uint8_t *p = r->d + r->pos;
    r->pos += 4;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd_u64(Cur *r, const char *field)
{
    uint64_t hi = rd_u32(r, field);
    uint64_t lo = rd_u32(r, field);
    return hi << 32 | lo;
}

static void skip(Cur *r, size_t n, const char *field)
{
    if (cur_take(r, n, field))
        r->pos += n;
}

static int truncated(Ctx *c, const Cur *r)
{
    return fail(c, "%s: truncated (the box ends first)", r->bad);
}

static size_t cur_left(const Cur *r)
{
    return r->end - r->pos;
}

/* ---- box headers ---------------------------------------------------------------------- */

static void type_text(const uint8_t *p, char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[4] = '\0';
}

/*
 * Reads the box header at *pos (ISO/IEC 14496-12 4.2): size 1 means a 64-bit largesize
 * follows, size 0 means "to the end of the enclosing box" (4.2.2 allows it for the last
 * top-level box; it is accepted at any level, meaning the end of the parent). A box that
 * overflows its parent is an error, never clamped.
 */
static int box_next(Ctx *c, size_t *pos, size_t end, Box *b)
{
    size_t left = end - *pos;
    if (left < 8)
        return fail(c, "%zu stray bytes at offset %zu, too few for a box header", left, *pos);
    const uint8_t *p = c->d + *pos;
    type_text(p + 4, b->type);
    uint64_t size = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
    size_t hdr = 8;
    if (size == 1) {
        if (left < 16) {
            push(c, b->type);
            int r = fail(c, "largesize: truncated");
            pop(c);
            return r;
        }
        size = 0;
        for (int i = 0; i < 8; i++)
            size = size << 8 | p[8 + i];
        hdr = 16;
    } else if (size == 0) {
        size = left;
    }
    if (!memcmp(b->type, "uuid", 4))
        hdr += 16;
    int r = 0;
    push(c, b->type);
    if (size < hdr)
        r = fail(c, "box size %" PRIu64 " is smaller than its %zu-byte header", size, hdr);
    else if (size > left)
        r = fail(c, "box size %" PRIu64 " exceeds its parent (%zu bytes left at offset %zu)", size,
                 left, *pos);
    pop(c);
    if (r < 0)
        return r;
    b->start = *pos;
    b->body = *pos + hdr;
    b->end = *pos + (size_t)size;
    *pos = b->end;
    return 0;
}

static int is_type(const Box *b, const char *t)
{
    return !memcmp(b->type, t, 4);
}

/* FullBox (4.2.2): version and flags. */
static void fullbox(Cur *r, uint32_t *version, uint32_t *flags)
{
    *version = rd_u8(r, "version");
    *flags = rd_u24(r, "flags");
}

/* ---- samples -------------------------------------------------------------------------- */

static int add_sample(Ctx *c, const CmeMp4Sample *s)
{
    CmeMp4File *f = c->f;
    if (f->nb_samples == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        CmeMp4Sample *n = realloc(f->samples, cap * sizeof(*n));
        if (!n)
            return oom(c);
        f->samples = n;
        c->cap = cap;
    }
    f->samples[f->nb_samples++] = *s;
    return 0;
}

/* Every sample takes at least one byte of the file, so a count above the file size is a
 * lie; checking it first bounds every loop and allocation by the input size. */
static int check_count(Ctx *c, const char *field, uint64_t count)
{
    if (count > c->size || c->f->nb_samples + count > c->size)
        return fail(c, "%s %" PRIu64 " exceeds what a %zu-byte file can hold", field, count,
                    c->size);
    return 0;
}

static int check_in_file(Ctx *c, size_t index, uint64_t offset, uint64_t size)
{
    if (offset > c->size || size > c->size - offset)
        return fail(
            c, "sample %zu (offset %" PRIu64 ", %" PRIu64 " bytes) lies outside the %zu-byte file",
            index + 1, offset, size, c->size);
    return 0;
}

/* ---- sample entry and its children ---------------------------------------------------- */

static int walk(Ctx *c, size_t begin, size_t end);

/* ISO/IEC 14496-12 12.1.5 colr: only nclx carries the code points. */
static int read_colr(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    if (cur_left(&r) < 4)
        return fail(c, "colour_type: truncated (the box ends first)");
    if (memcmp(c->d + r.pos, "nclx", 4))
        return 0; /* an ICC profile: nothing to report here */
    skip(&r, 4, "colour_type");
    int prim = (int)rd_u16(&r, "colour_primaries");
    int trc = (int)rd_u16(&r, "transfer_characteristics");
    int mat = (int)rd_u16(&r, "matrix_coefficients");
    int full = (int)(rd_u8(&r, "full_range_flag") >> 7);
    if (r.bad)
        return truncated(c, &r);
    if (c->trak && !c->trak->has_colr) {
        c->trak->has_colr = 1;
        c->trak->colr_primaries = prim;
        c->trak->colr_transfer = trc;
        c->trak->colr_matrix = mat;
        c->trak->colr_full_range = full;
    }
    return 0;
}

/* MasteringDisplayColourVolumeBox (ISO/IEC 14496-12:2022, a plain Box): primaries in the
 * order green, blue, red, then the white point, x and y in units of 0.00002; maximum and
 * minimum luminance in units of 0.0001 cd/m^2. Kept as red, green, blue. */
static int read_mdcv(Ctx *c, const Box *b)
{
    static const int order[3] = { 1, 2, 0 };
    Cur r = cur_box(c, b);
    CmeHdrMetadata h = { 0 };
    for (int i = 0; i < 3; i++) {
        h.primaries[order[i]][0] = rd_u16(&r, "display_primaries_x") / 50000.0;
        h.primaries[order[i]][1] = rd_u16(&r, "display_primaries_y") / 50000.0;
    }
    h.white_point[0] = rd_u16(&r, "white_point_x") / 50000.0;
    h.white_point[1] = rd_u16(&r, "white_point_y") / 50000.0;
    h.max_luminance = rd_u32(&r, "max_display_mastering_luminance") / 10000.0;
    h.min_luminance = rd_u32(&r, "min_display_mastering_luminance") / 10000.0;
    if (r.bad)
        return truncated(c, &r);
    if (c->trak && !c->trak->hdr.has_mastering) {
        memcpy(c->trak->hdr.primaries, h.primaries, sizeof(h.primaries));
        memcpy(c->trak->hdr.white_point, h.white_point, sizeof(h.white_point));
        c->trak->hdr.min_luminance = h.min_luminance;
        c->trak->hdr.max_luminance = h.max_luminance;
        c->trak->hdr.has_mastering = 1;
    }
    return 0;
}

/* ContentLightLevelBox (ISO/IEC 14496-12:2022, a plain Box): MaxCLL, MaxFALL in cd/m^2. */
static int read_clli(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    unsigned cll = rd_u16(&r, "max_content_light_level");
    unsigned fall = rd_u16(&r, "max_pic_average_light_level");
    if (r.bad)
        return truncated(c, &r);
    if (c->trak && !c->trak->hdr.has_content_light) {
        c->trak->hdr.has_content_light = 1;
        c->trak->hdr.max_cll = cll;
        c->trak->hdr.max_fall = fall;
    }
    return 0;
}

/* AV1-ISOBMFF 2.3: the av1C body is checked by the AV1 layer, which names the field. */
static int read_av1c(Ctx *c, const Box *b)
{
    CmeAv1Config cfg;
    char inner[160];
    int r = cme_av1_read_av1c(c->d + b->body, b->end - b->body, &cfg, inner, sizeof(inner));
    if (r < 0)
        return fail(c, "%s", inner);
    if (c->trak && !c->trak->has_av1c) {
        c->trak->has_av1c = 1;
        c->trak->av1c = c->d + b->body;
        c->trak->av1c_size = b->end - b->body;
    }
    return 0;
}

/*
 * ISO/IEC 14496-12 12.2.3 AudioSampleEntry: 8 bytes of SampleEntry, 8 reserved (a QuickTime
 * sound description keeps its version in the first two: 1 adds 16 bytes, 2 adds 36),
 * channelcount, samplesize, pre_defined, reserved, samplerate (16.16), then boxes (esds,
 * dOps, btrt).
 */
static int read_audio_entry(Ctx *c, const Box *e)
{
    push(c, e->type);
    Cur v = cur_box(c, e);
    skip(&v, 8, "reserved/data_reference_index");
    uint32_t qt_version = rd_u16(&v, "entry_version");
    skip(&v, 6, "reserved");
    uint32_t ch = rd_u16(&v, "channelcount");
    uint32_t bits = rd_u16(&v, "samplesize");
    skip(&v, 4, "pre_defined/reserved");
    uint32_t rate = rd_u32(&v, "samplerate") >> 16;
    if (qt_version == 1)
        skip(&v, 16, "sound description v1");
    else if (qt_version == 2)
        skip(&v, 36, "sound description v2");
    int err = 0;
    if (v.bad)
        err = truncated(c, &v);
    else if (qt_version > 2)
        err = fail(c, "entry_version: %" PRIu32 " (0 in ISO BMFF, at most 2 in QuickTime)",
                   qt_version);
    if (err == 0) {
        c->trak->channels = ch;
        c->trak->sample_bits = bits;
        c->trak->sample_rate = rate;
        err = walk(c, v.pos, e->end);
    }
    pop(c);
    return err;
}

/* ISO/IEC 14496-1 7.2.2.3: a descriptor's size, 1 to 4 bytes of 7 bits. */
static uint32_t rd_desc_len(Cur *r, const char *field)
{
    uint32_t len = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t b = rd_u8(r, field);
        len = len << 7 | (b & 0x7f);
        if (!(b & 0x80))
            break;
    }
    return len;
}

/* Opens the descriptor with the given tag at r; on success r is narrowed to its body. */
static int open_desc(Ctx *c, Cur *r, uint32_t tag, const char *name)
{
    uint32_t t = rd_u8(r, name);
    uint32_t len = rd_desc_len(r, name);
    if (r->bad)
        return truncated(c, r);
    if (t != tag)
        return fail(c, "%s: tag %" PRIu32 ", expected %" PRIu32, name, t, tag);
    if (len > cur_left(r))
        return fail(c, "%s: size %" PRIu32 " exceeds the box (%zu bytes left)", name, len,
                    cur_left(r));
    r->end = r->pos + len;
    return 0;
}

/*
 * ISO/IEC 14496-14 5.6 esds: an ES_Descriptor (14496-1 7.2.6.5) holding a
 * DecoderConfigDescriptor (7.2.6.6: objectTypeIndication, streamType, buffer size, bit
 * rates) and, for AAC, a DecoderSpecificInfo with the AudioSpecificConfig.
 */
static int read_esds(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    if (r.bad)
        return truncated(c, &r);
    int err = open_desc(c, &r, 3, "ES_Descriptor");
    if (err < 0)
        return err;
    skip(&r, 2, "ES_ID");
    uint32_t f = rd_u8(&r, "streamDependenceFlag/URL_Flag/OCRstreamFlag");
    if (f & 0x80)
        skip(&r, 2, "dependsOn_ES_ID");
    if (f & 0x40)
        skip(&r, rd_u8(&r, "URLlength"), "URLstring");
    if (f & 0x20)
        skip(&r, 2, "OCR_ES_Id");
    if (r.bad)
        return truncated(c, &r);
    if ((err = open_desc(c, &r, 4, "DecoderConfigDescriptor")) < 0)
        return err;
    uint32_t oti = rd_u8(&r, "objectTypeIndication");
    skip(&r, 12, "streamType/bufferSizeDB/maxBitrate/avgBitrate");
    if (r.bad)
        return truncated(c, &r);
    const uint8_t *dsi = NULL;
    size_t dsi_size = 0;
    if (cur_left(&r) > 0 && c->d[r.pos] == 5) {
        if ((err = open_desc(c, &r, 5, "DecoderSpecificInfo")) < 0)
            return err;
        dsi = c->d + r.pos;
        dsi_size = cur_left(&r);
    }
    if (oti == 0x40 && dsi_size < 2)
        return fail(c, "AAC (objectTypeIndication 0x40) without a 2-byte AudioSpecificConfig");
    if (c->trak && !c->trak->has_esds) {
        c->trak->has_esds = 1;
        c->trak->esds_oti = oti;
        c->trak->dsi = dsi;
        c->trak->dsi_size = dsi_size;
    }
    return 0;
}

/* Encapsulation of Opus in ISO BMFF 4.3.2 dOps: Version 0, OutputChannelCount, PreSkip,
 * InputSampleRate, OutputGain, ChannelMappingFamily and, unless the family is 0, the
 * ChannelMappingTable (StreamCount, CoupledCount, one byte per output channel). */
static int read_dops(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version = rd_u8(&r, "Version");
    uint32_t ch = rd_u8(&r, "OutputChannelCount");
    skip(&r, 8, "PreSkip/InputSampleRate/OutputGain");
    uint32_t family = rd_u8(&r, "ChannelMappingFamily");
    if (family != 0)
        skip(&r, 2 + ch, "ChannelMappingTable");
    if (r.bad)
        return truncated(c, &r);
    if (version != 0)
        return fail(c, "Version: %" PRIu32 " (must be 0)", version);
    if (ch == 0)
        return fail(c, "OutputChannelCount: 0");
    if (c->trak && !c->trak->dops) {
        c->trak->dops = c->d + b->body;
        c->trak->dops_size = b->end - b->body;
    }
    return 0;
}

/* ISO/IEC 14496-12 8.6.6 elst: the first entry (CMAF allows one, 23000-19 7.5.13). */
static int read_elst(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    uint32_t n = rd_u32(&r, "entry_count");
    if (r.bad)
        return truncated(c, &r);
    if (n == 0)
        return 0;
    uint64_t dur = version == 1 ? rd_u64(&r, "segment_duration") : rd_u32(&r, "segment_duration");
    int64_t mt = version == 1 ? (int64_t)rd_u64(&r, "media_time")
                              : (int64_t)(int32_t)rd_u32(&r, "media_time");
    skip(&r, 4, "media_rate");
    if (r.bad)
        return truncated(c, &r);
    if (c->trak && !c->trak->has_edit) {
        c->trak->has_edit = 1;
        c->trak->edit_media_time = mt;
        c->trak->edit_duration = dur;
    }
    return 0;
}

/* ISO/IEC 14496-12 8.5.2 stsd, 12.1.3 VisualSampleEntry: 78 bytes of fields, then boxes. */
static int read_stsd(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    uint32_t n = rd_u32(&r, "entry_count");
    if (r.bad)
        return truncated(c, &r);
    if (c->trak && !c->trak->stsd) {
        c->trak->stsd = c->d + b->start;
        c->trak->stsd_size = b->end - b->start;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (r.pos >= r.end)
            return fail(c, "entry_count %" PRIu32 " exceeds the box (%" PRIu32 " entries)", n, i);
        Box e;
        int err = box_next(c, &r.pos, r.end, &e);
        if (err < 0)
            return err;
        if (i > 0 || !c->trak)
            continue; /* samples here all use the first entry (checked against trex below) */
        memcpy(c->trak->entry, e.type, 5);
        if (is_type(&e, "mp4a") || is_type(&e, "Opus") || is_type(&e, "ac-3") ||
            is_type(&e, "ec-3") || is_type(&e, "fLaC")) {
            if ((err = read_audio_entry(c, &e)) < 0)
                return err;
            continue;
        }
        if (is_type(&e, "wvtt")) {
            /* 12.5.3 PlainTextSampleEntry: the 8-byte SampleEntry, then vttC, btrt. */
            push(c, e.type);
            err = e.end - e.body < 8 ? fail(c, "SampleEntry: truncated (the box ends first)")
                                     : walk(c, e.body + 8, e.end);
            pop(c);
            if (err < 0)
                return err;
            continue;
        }
        if (!is_type(&e, "av01"))
            continue;
        push(c, e.type);
        Cur v = cur_box(c, &e);
        skip(&v, 24, "reserved/data_reference_index/pre_defined");
        uint32_t w = rd_u16(&v, "width");
        uint32_t h = rd_u16(&v, "height");
        skip(&v, 50, "resolution/frame_count/compressorname/depth");
        if (v.bad) {
            err = truncated(c, &v);
            pop(c);
            return err;
        }
        c->trak->width = w;
        c->trak->height = h;
        err = walk(c, v.pos, e.end);
        pop(c);
        if (err < 0)
            return err;
    }
    return 0;
}

/* ---- moov ----------------------------------------------------------------------------- */

/* ISO/IEC 14496-12 8.3.2 tkhd. */
static int read_tkhd(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    skip(&r, version == 1 ? 16 : 8, "creation_time/modification_time");
    uint32_t id = rd_u32(&r, "track_ID");
    if (r.bad)
        return truncated(c, &r);
    if (c->trak)
        c->trak->track_id = id;
    return 0;
}

/* ISO/IEC 14496-12 8.4.2 mdhd. */
static int read_mdhd(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    skip(&r, version == 1 ? 16 : 8, "creation_time/modification_time");
    uint32_t ts = rd_u32(&r, "timescale");
    skip(&r, version == 1 ? 8 : 4, "duration");
    uint32_t lang = rd_u16(&r, "language");
    if (r.bad)
        return truncated(c, &r);
    if (ts == 0)
        return fail(c, "timescale: 0");
    if (c->trak) {
        c->trak->timescale = ts;
        /* Three 5-bit letters offset by 0x60 (8.4.2.3). */
        char l[4] = { (char)(((lang >> 10) & 31) + 0x60), (char)(((lang >> 5) & 31) + 0x60),
                      (char)((lang & 31) + 0x60), '\0' };
        int ok = 1;
        for (int i = 0; i < 3; i++)
            ok &= l[i] >= 'a' && l[i] <= 'z';
        memcpy(c->trak->language, ok ? l : "", ok ? 4 : 1);
    }
    return 0;
}

/* ISO/IEC 14496-12 8.4.3 hdlr. */
static int read_hdlr(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    skip(&r, 4, "pre_defined");
    if (!cur_take(&r, 4, "handler_type"))
        return truncated(c, &r);
    if (c->trak)
        type_text(c->d + r.pos, c->trak->handler);
    return 0;
}

/* ISO/IEC 14496-12 8.8.3 trex. */
static int read_trex(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    Trex t;
    t.track_id = rd_u32(&r, "track_ID");
    (void)rd_u32(&r, "default_sample_description_index");
    t.duration = rd_u32(&r, "default_sample_duration");
    t.size = rd_u32(&r, "default_sample_size");
    t.flags = rd_u32(&r, "default_sample_flags");
    if (r.bad)
        return truncated(c, &r);
    if (c->nb_trex < MAX_TREX)
        c->trex[c->nb_trex++] = t;
    return 0;
}

static const Trex *find_trex(const Ctx *c, uint32_t track_id)
{
    for (int i = 0; i < c->nb_trex; i++)
        if (c->trex[i].track_id == track_id)
            return &c->trex[i];
    return NULL;
}

/* Opens a table box remembered while walking stbl: FullBox header and entry_count, with
 * entry_count * entry_size checked against the box. */
static int table_open(Ctx *c, const Box *b, Cur *r, uint32_t *version, uint32_t *count,
                      size_t entry_size)
{
    *r = cur_box(c, b);
    uint32_t flags;
    fullbox(r, version, &flags);
    *count = rd_u32(r, "entry_count");
    if (r->bad)
        return truncated(c, r);
    if ((uint64_t)*count * entry_size > cur_left(r))
        return fail(c, "entry_count %" PRIu32 " exceeds the box (%zu bytes hold %zu entries)",
                    *count, cur_left(r), cur_left(r) / entry_size);
    return 0;
}

/*
 * The samples of a non-fragmented track: sizes from stsz/stz2 (8.7.3), chunk offsets from
 * stco/co64 (8.7.5), the sample-to-chunk runs of stsc (8.7.4), decode times from stts
 * (8.6.1.2), composition offsets from ctts (8.6.1.3) and sync samples from stss (8.6.2;
 * without stss every sample is a sync sample).
 */
static int build_classic(Ctx *c, const Trak *t)
{
    int err;
    uint32_t version, n = 0;
    Cur r;
    size_t first = c->f->nb_samples;

    /* Sizes. */
    if (t->stsz.type[0]) {
        push(c, "stsz");
        r = cur_box(c, &t->stsz);
        uint32_t flags;
        fullbox(&r, &version, &flags);
        uint32_t fixed = rd_u32(&r, "sample_size");
        n = rd_u32(&r, "sample_count");
        if (r.bad) {
            err = truncated(c, &r);
            goto out_pop;
        }
        if (fixed == 0 && (uint64_t)n * 4 > cur_left(&r)) {
            err = fail(c, "sample_count %" PRIu32 " exceeds the box (%zu bytes hold %zu sizes)", n,
                       cur_left(&r), cur_left(&r) / 4);
            goto out_pop;
        }
        if ((err = check_count(c, "sample_count", n)) < 0)
            goto out_pop;
        for (uint32_t i = 0; i < n; i++) {
            CmeMp4Sample s = { 0 };
            s.size = fixed ? fixed : rd_u32(&r, "entry_size");
            s.sync = 1;
            if ((err = add_sample(c, &s)) < 0)
                goto out_pop;
        }
        pop(c);
    } else if (t->stz2.type[0]) {
        push(c, "stz2");
        r = cur_box(c, &t->stz2);
        uint32_t flags;
        fullbox(&r, &version, &flags);
        skip(&r, 3, "reserved");
        uint32_t fs = rd_u8(&r, "field_size");
        n = rd_u32(&r, "sample_count");
        if (r.bad) {
            err = truncated(c, &r);
            goto out_pop;
        }
        if (fs != 4 && fs != 8 && fs != 16) {
            err = fail(c, "field_size: %" PRIu32 " (must be 4, 8 or 16)", fs);
            goto out_pop;
        }
        if (((uint64_t)n * fs + 7) / 8 > cur_left(&r)) {
            err = fail(c, "sample_count %" PRIu32 " exceeds the box", n);
            goto out_pop;
        }
        if ((err = check_count(c, "sample_count", n)) < 0)
            goto out_pop;
        for (uint32_t i = 0; i < n; i++) {
            CmeMp4Sample s = { 0 };
            const uint8_t *p = c->d + r.pos;
            if (fs == 16)
                s.size = (uint32_t)p[2 * i] << 8 | p[2 * i + 1];
            else if (fs == 8)
                s.size = p[i];
            else
                s.size = (i & 1) ? (p[i / 2] & 0xf) : (p[i / 2] >> 4);
            s.sync = 1;
            if ((err = add_sample(c, &s)) < 0)
                goto out_pop;
        }
        pop(c);
    }
    if (n == 0)
        return 0; /* an init segment: the samples are in fragments */
    CmeMp4Sample *sm = c->f->samples + first;

    /* Chunk offsets and sample-to-chunk runs. */
    const Box *co = t->stco.type[0] ? &t->stco : t->co64.type[0] ? &t->co64 : NULL;
    if (!co)
        return fail(c, "stbl: %" PRIu32 " samples but no stco or co64", n);
    if (!t->stsc.type[0])
        return fail(c, "stbl: %" PRIu32 " samples but no stsc", n);
    int wide = co == &t->co64;
    Cur rc, rs;
    uint32_t nchunks, nruns;
    push(c, co->type);
    err = table_open(c, co, &rc, &version, &nchunks, wide ? 8 : 4);
    pop(c);
    if (err < 0)
        return err;
    push(c, "stsc");
    if ((err = table_open(c, &t->stsc, &rs, &version, &nruns, 12)) < 0)
        goto out_pop;
    /* The runs: first_chunk starts at 1 and increases (8.7.4.3). */
    const uint8_t *runs = c->d + rs.pos;
    for (uint32_t e = 0; e < nruns; e++) {
        uint32_t fc = be32(runs + 12 * (size_t)e);
        if ((e == 0 && fc != 1) || (e > 0 && fc <= be32(runs + 12 * (size_t)(e - 1)))) {
            err = fail(c, "entry %" PRIu32 ": first_chunk %" PRIu32 " out of order", e + 1, fc);
            goto out_pop;
        }
    }
    uint32_t done = 0, run = 0;
    for (uint32_t ch = 1; ch <= nchunks && nruns > 0 && done < n; ch++) {
        while (run + 1 < nruns && be32(runs + 12 * (size_t)(run + 1)) <= ch)
            run++;
        uint32_t spc = be32(runs + 12 * (size_t)run + 4);
        uint64_t off = wide ? rd_u64(&rc, "chunk_offset") : rd_u32(&rc, "chunk_offset");
        for (uint32_t j = 0; j < spc && done < n; j++, done++) {
            sm[done].offset = off;
            off += sm[done].size;
        }
    }
    if (done < n) {
        err = fail(c, "the chunks hold %" PRIu32 " samples, stsz lists %" PRIu32, done, n);
        goto out_pop;
    }
    pop(c);
    for (uint32_t i = 0; i < n; i++)
        if ((err = check_in_file(c, first + i, sm[i].offset, sm[i].size)) < 0)
            return err;

    /* Decode times. */
    if (t->stts.type[0]) {
        push(c, "stts");
        uint32_t ne;
        if ((err = table_open(c, &t->stts, &r, &version, &ne, 8)) < 0)
            goto out_pop;
        uint64_t dts = 0;
        uint32_t k = 0;
        for (uint32_t e = 0; e < ne && k < n; e++) {
            uint32_t cnt = rd_u32(&r, "sample_count");
            uint32_t delta = rd_u32(&r, "sample_delta");
            for (uint32_t j = 0; j < cnt && k < n; j++, k++) {
                sm[k].dts = dts;
                sm[k].duration = delta;
                dts += delta;
            }
        }
        for (; k < n; k++)
            sm[k].dts = dts; /* stts short of samples: no duration is known */
        pop(c);
    }
    if (t->ctts.type[0]) {
        push(c, "ctts");
        uint32_t ne;
        if ((err = table_open(c, &t->ctts, &r, &version, &ne, 8)) < 0)
            goto out_pop;
        uint32_t k = 0;
        for (uint32_t e = 0; e < ne && k < n; e++) {
            uint32_t cnt = rd_u32(&r, "sample_count");
            uint32_t off = rd_u32(&r, "sample_offset");
            for (uint32_t j = 0; j < cnt && k < n; j++, k++)
                sm[k].cts_offset = (int32_t)off;
        }
        pop(c);
    }
    if (t->stss.type[0]) {
        push(c, "stss");
        uint32_t ne;
        if ((err = table_open(c, &t->stss, &r, &version, &ne, 4)) < 0)
            goto out_pop;
        for (uint32_t k = 0; k < n; k++)
            sm[k].sync = 0;
        for (uint32_t e = 0; e < ne; e++) {
            uint32_t num = rd_u32(&r, "sample_number");
            if (num == 0 || num > n) {
                err = fail(c, "sample_number %" PRIu32 " is not one of the %" PRIu32 " samples",
                           num, n);
                goto out_pop;
            }
            sm[num - 1].sync = 1;
        }
        pop(c);
    }
    return 0;

out_pop:
    pop(c);
    return err;
}

/* Makes t the track whose samples are listed. */
static int select_trak(Ctx *c, const Trak *t)
{
    CmeMp4File *f = c->f;
    c->selected = 1;
    memcpy(f->sample_entry, t->entry, 5);
    memcpy(f->handler, t->handler, 5);
    f->channels = t->channels;
    f->sample_bits = t->sample_bits;
    f->sample_rate = t->sample_rate;
    f->has_esds = t->has_esds;
    f->esds_oti = t->esds_oti;
    f->dsi = t->dsi;
    f->dsi_size = t->dsi_size;
    f->dops = t->dops;
    f->dops_size = t->dops_size;
    f->stsd = t->stsd;
    f->stsd_size = t->stsd_size;
    memcpy(f->language, t->language, sizeof(f->language));
    f->has_edit = t->has_edit;
    f->edit_media_time = t->edit_media_time;
    f->edit_duration = t->edit_duration;
    f->track_id = t->track_id;
    f->timescale = t->timescale;
    f->width = t->width;
    f->height = t->height;
    f->has_av1c = t->has_av1c;
    f->av1c = t->av1c;
    f->av1c_size = t->av1c_size;
    f->has_colr = t->has_colr;
    f->colr_primaries = t->colr_primaries;
    f->colr_transfer = t->colr_transfer;
    f->colr_matrix = t->colr_matrix;
    f->colr_full_range = t->colr_full_range;
    f->hdr = t->hdr;
    push(c, "trak/mdia/minf/stbl");
    int err = build_classic(c, t);
    pop(c);
    if (err < 0)
        return err;
    if (f->nb_samples) {
        const CmeMp4Sample *last = &f->samples[f->nb_samples - 1];
        c->have_next_dts = 1;
        c->next_dts = last->dts + last->duration;
    }
    return 0;
}

/* Called when a trak has been walked: the first track with an av01 sample entry is the one
 * listed; the first other track is kept in case moov holds no AV1 track. */
static int end_trak(Ctx *c, Trak *t)
{
    c->f->nb_tracks++;
    if (c->selected)
        return 0;
    if (!memcmp(t->entry, "av01", 4)) {
        pop(c); /* the path is moov/trak here; select_trak names its own */
        int err = select_trak(c, t);
        push(c, "trak");
        return err;
    }
    if (!c->has_fallback && t->entry[0]) {
        c->has_fallback = 1;
        c->fallback = *t;
    }
    return 0;
}

/* ---- movie fragments ------------------------------------------------------------------ */

/* ISO/IEC 14496-12 8.8.7 tfhd, and the base data offset rules of 8.8.7.1. */
static int read_tfhd(Ctx *c, const Box *b)
{
    Traf *tf = c->traf;
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    tf->track_id = rd_u32(&r, "track_ID");
    uint64_t base = 0;
    if (flags & TFHD_BASE_DATA_OFFSET)
        base = rd_u64(&r, "base_data_offset");
    if (flags & TFHD_SAMPLE_DESCRIPTION_INDEX)
        (void)rd_u32(&r, "sample_description_index");
    uint32_t dd = 0, ds = 0, df = 0;
    if (flags & TFHD_DEFAULT_DURATION)
        dd = rd_u32(&r, "default_sample_duration");
    if (flags & TFHD_DEFAULT_SIZE)
        ds = rd_u32(&r, "default_sample_size");
    if (flags & TFHD_DEFAULT_FLAGS)
        df = rd_u32(&r, "default_sample_flags");
    if (r.bad)
        return truncated(c, &r);
    if (tf->have_tfhd)
        return fail(c, "a second tfhd in one traf");
    tf->have_tfhd = 1;
    const Trex *tx = find_trex(c, tf->track_id);
    tf->def_duration = (flags & TFHD_DEFAULT_DURATION) ? dd : tx ? tx->duration : 0;
    tf->has_def_size = (flags & TFHD_DEFAULT_SIZE) || tx;
    tf->def_size = (flags & TFHD_DEFAULT_SIZE) ? ds : tx ? tx->size : 0;
    tf->def_flags = (flags & TFHD_DEFAULT_FLAGS) ? df : tx ? tx->flags : 0;
    if (flags & TFHD_BASE_DATA_OFFSET)
        tf->base = base;
    else if ((flags & TFHD_DEFAULT_BASE_IS_MOOF) || c->in_moof_trafs == 0)
        tf->base = c->moof_start;
    else
        tf->base = c->moof_data_end; /* the end of the previous traf's data */
    tf->data_next = tf->base;
    tf->data_end = tf->base;
    if (!c->selected && c->f->track_id == 0) {
        /* A bare segment: its first track fragment is the one inspected. */
        c->f->track_id = tf->track_id;
        c->selected = 1;
    }
    return 0;
}

/* ISO/IEC 14496-12 8.8.12 tfdt: version 0 has a 32-bit time, version 1 a 64-bit one. */
static int read_tfdt(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    uint64_t t =
        version == 1 ? rd_u64(&r, "baseMediaDecodeTime") : rd_u32(&r, "baseMediaDecodeTime");
    if (r.bad)
        return truncated(c, &r);
    if (version > 1)
        return fail(c, "version %" PRIu32 " unsupported", version);
    c->traf->have_dts = 1;
    c->traf->dts = t;
    return 0;
}

/* ISO/IEC 14496-12 8.8.8 trun, every optional field. */
static int read_trun(Ctx *c, const Box *b)
{
    Traf *tf = c->traf;
    if (!tf->have_tfhd)
        return fail(c, "comes before tfhd");
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    uint32_t count = rd_u32(&r, "sample_count");
    int32_t data_offset = 0;
    if (flags & TRUN_DATA_OFFSET)
        data_offset = (int32_t)rd_u32(&r, "data_offset");
    uint32_t first_flags = 0;
    if (flags & TRUN_FIRST_SAMPLE_FLAGS)
        first_flags = rd_u32(&r, "first_sample_flags");
    if (r.bad)
        return truncated(c, &r);
    size_t per = 4u * (!!(flags & TRUN_DURATION) + !!(flags & TRUN_SIZE) + !!(flags & TRUN_FLAGS) +
                       !!(flags & TRUN_CTO));
    if ((uint64_t)count * per > cur_left(&r))
        return fail(c, "sample_count %" PRIu32 " exceeds the box (%zu bytes hold %zu samples)",
                    count, cur_left(&r), cur_left(&r) / per);
    int err = check_count(c, "sample_count", count);
    if (err < 0)
        return err;
    if (!(flags & TRUN_SIZE) && !tf->has_def_size)
        return fail(c, "no sample size: neither trun, tfhd nor trex gives one");

    uint64_t off;
    if (flags & TRUN_DATA_OFFSET) {
        if (data_offset < 0 && (uint64_t)(-(int64_t)data_offset) > tf->base)
            return fail(c, "data_offset %" PRId32 " points before the file", data_offset);
        off = tf->base + (uint64_t)(int64_t)data_offset;
    } else {
        off = tf->data_next;
    }
    if (!tf->have_dts) {
        tf->have_dts = 1;
        tf->dts = c->have_next_dts ? c->next_dts : 0;
    }
    int mine = tf->track_id == c->f->track_id;
    for (uint32_t i = 0; i < count; i++) {
        CmeMp4Sample s = { 0 };
        s.duration = (flags & TRUN_DURATION) ? rd_u32(&r, "sample_duration") : tf->def_duration;
        s.size = (flags & TRUN_SIZE) ? rd_u32(&r, "sample_size") : tf->def_size;
        uint32_t sf = (flags & TRUN_FLAGS) ? rd_u32(&r, "sample_flags") : tf->def_flags;
        if (i == 0 && (flags & TRUN_FIRST_SAMPLE_FLAGS))
            sf = first_flags;
        if (flags & TRUN_CTO)
            s.cts_offset = (int32_t)rd_u32(&r, "sample_composition_time_offset");
        s.sync = !(sf & SAMPLE_NON_SYNC);
        s.offset = off;
        s.dts = tf->dts;
        if ((err = check_in_file(c, mine ? c->f->nb_samples : i, off, s.size)) < 0)
            return err;
        off += s.size;
        tf->dts += s.duration;
        if (mine && (err = add_sample(c, &s)) < 0)
            return err;
    }
    tf->data_next = off;
    if (off > tf->data_end)
        tf->data_end = off;
    return 0;
}

/* ---- the walk ------------------------------------------------------------------------- */

static void remember(Box *slot, const Box *b)
{
    if (!slot->type[0])
        *slot = *b;
}

static int add_mdat(Ctx *c, const Box *b)
{
    if (c->nb_mdat == c->cap_mdat) {
        size_t cap = c->cap_mdat ? c->cap_mdat * 2 : 8;
        Range *n = realloc(c->mdat, cap * sizeof(*n));
        if (!n)
            return oom(c);
        c->mdat = n;
        c->cap_mdat = cap;
    }
    c->mdat[c->nb_mdat].begin = b->body;
    c->mdat[c->nb_mdat].end = b->end;
    c->nb_mdat++;
    c->f->nb_mdat++;
    return 0;
}

static int add_moof(Ctx *c, const Box *b)
{
    CmeMp4File *f = c->f;
    if (f->nb_moofs == c->cap_moofs) {
        size_t cap = c->cap_moofs ? c->cap_moofs * 2 : 16;
        uint64_t *n = realloc(f->moofs, cap * sizeof(*n));
        if (!n)
            return oom(c);
        f->moofs = n;
        c->cap_moofs = cap;
    }
    f->moofs[f->nb_moofs++] = b->start;
    return 0;
}

/* ISO/IEC 14496-12 8.16.3 sidx: the first top-level one is kept; a reference count is
 * bounded by the box (12 bytes each) before anything is allocated. */
static int read_sidx(Ctx *c, const Box *b)
{
    Cur r = cur_box(c, b);
    uint32_t version, flags;
    fullbox(&r, &version, &flags);
    CmeMp4Sidx *x = &c->f->sidx;
    x->reference_id = rd_u32(&r, "reference_ID");
    x->timescale = rd_u32(&r, "timescale");
    if (version == 0) {
        x->earliest_presentation_time = rd_u32(&r, "earliest_presentation_time");
        x->first_offset = rd_u32(&r, "first_offset");
    } else {
        x->earliest_presentation_time = rd_u64(&r, "earliest_presentation_time");
        x->first_offset = rd_u64(&r, "first_offset");
    }
    skip(&r, 2, "reserved");
    uint32_t count = rd_u16(&r, "reference_count");
    if (r.bad)
        return truncated(c, &r);
    if (version > 1)
        return fail(c, "version %" PRIu32 " unsupported", version);
    if ((uint64_t)count * 12 > cur_left(&r))
        return fail(c, "reference_count %" PRIu32 " exceeds the box (%zu bytes hold %zu)", count,
                    cur_left(&r), cur_left(&r) / 12);
    if (x->timescale == 0)
        return fail(c, "timescale 0");
    x->refs = count ? calloc(count, sizeof(*x->refs)) : NULL;
    if (count && !x->refs)
        return oom(c);
    for (uint32_t i = 0; i < count; i++) {
        CmeMp4SidxRef *ref = &x->refs[i];
        uint32_t a = rd_u32(&r, "referenced_size");
        ref->reference_type = (int)(a >> 31);
        ref->referenced_size = a & 0x7fffffffu;
        ref->subsegment_duration = rd_u32(&r, "subsegment_duration");
        uint32_t s = rd_u32(&r, "SAP");
        ref->starts_with_sap = (int)(s >> 31);
        ref->sap_type = (int)((s >> 28) & 7);
        ref->sap_delta_time = s & 0x0fffffffu;
    }
    x->nb_refs = count;
    x->version = (int)version;
    x->start = b->start;
    x->end = b->end;
    c->f->has_sidx = 1;
    return 0;
}

static int read_brand(Ctx *c, const Box *b)
{
    if (b->end - b->body < 4)
        return fail(c, "major_brand: truncated (the box ends first)");
    if (!c->f->major_brand[0])
        type_text(c->d + b->body, c->f->major_brand);
    return 0;
}

static int handle(Ctx *c, const Box *b)
{
    static const char *const containers[] = { "mdia", "minf", "stbl", "dinf", "edts" };
    for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++)
        if (is_type(b, containers[i]))
            return walk(c, b->body, b->end);

    if (is_type(b, "ftyp") || is_type(b, "styp")) {
        if (c->depth != 1)
            return 0;
        if (is_type(b, "ftyp"))
            c->f->has_ftyp = 1;
        else
            c->f->has_styp = 1;
        return read_brand(c, b);
    }
    if (is_type(b, "moov")) {
        if (c->depth != 1)
            return fail(c, "not at the top level");
        c->f->has_moov = 1;
        int err = walk(c, b->body, b->end);
        if (err == 0 && !c->selected && c->has_fallback)
            err = select_trak(c, &c->fallback);
        return err;
    }
    if (is_type(b, "trak")) {
        Trak t;
        memset(&t, 0, sizeof(t));
        Trak *outer = c->trak;
        c->trak = &t;
        int err = walk(c, b->body, b->end);
        c->trak = outer;
        if (err < 0)
            return err;
        return end_trak(c, &t);
    }
    if (c->trak) {
        Trak *t = c->trak;
        if (is_type(b, "tkhd"))
            return read_tkhd(c, b);
        if (is_type(b, "mdhd"))
            return read_mdhd(c, b);
        if (is_type(b, "hdlr"))
            return read_hdlr(c, b);
        if (is_type(b, "stsd"))
            return read_stsd(c, b);
        if (is_type(b, "av1C"))
            return read_av1c(c, b);
        if (is_type(b, "colr"))
            return read_colr(c, b);
        if (is_type(b, "mdcv"))
            return read_mdcv(c, b);
        if (is_type(b, "clli"))
            return read_clli(c, b);
        if (is_type(b, "esds"))
            return read_esds(c, b);
        if (is_type(b, "dOps"))
            return read_dops(c, b);
        if (is_type(b, "elst"))
            return read_elst(c, b);
        if (is_type(b, "stsz"))
            remember(&t->stsz, b);
        else if (is_type(b, "stz2"))
            remember(&t->stz2, b);
        else if (is_type(b, "stco"))
            remember(&t->stco, b);
        else if (is_type(b, "co64"))
            remember(&t->co64, b);
        else if (is_type(b, "stsc"))
            remember(&t->stsc, b);
        else if (is_type(b, "stts"))
            remember(&t->stts, b);
        else if (is_type(b, "stss"))
            remember(&t->stss, b);
        else if (is_type(b, "ctts"))
            remember(&t->ctts, b);
        return 0;
    }
    if (is_type(b, "mvex")) {
        c->f->has_mvex = 1;
        return walk(c, b->body, b->end);
    }
    if (is_type(b, "trex"))
        return read_trex(c, b);
    if (is_type(b, "moof")) {
        if (c->depth != 1)
            return fail(c, "not at the top level");
        int err = add_moof(c, b);
        if (err < 0)
            return err;
        c->f->nb_moof++;
        c->moof_start = b->start;
        c->in_moof_trafs = 0;
        c->moof_data_end = b->start;
        return walk(c, b->body, b->end);
    }
    if (is_type(b, "traf")) {
        Traf tf;
        memset(&tf, 0, sizeof(tf));
        c->traf = &tf;
        int err = walk(c, b->body, b->end);
        c->traf = NULL;
        if (err < 0)
            return err;
        c->in_moof_trafs++;
        c->moof_data_end = tf.data_end;
        if (tf.have_tfhd && tf.track_id == c->f->track_id && tf.have_dts) {
            c->have_next_dts = 1;
            c->next_dts = tf.dts;
        }
        return 0;
    }
    if (c->traf) {
        if (is_type(b, "tfhd"))
            return read_tfhd(c, b);
        if (is_type(b, "tfdt"))
            return read_tfdt(c, b);
        if (is_type(b, "trun"))
            return read_trun(c, b);
        return 0;
    }
    if (is_type(b, "mdat"))
        return add_mdat(c, b);
    if (is_type(b, "sidx") && c->depth == 1 && !c->f->has_sidx)
        return read_sidx(c, b);
    return 0; /* free, skip, udta, meta, emsg, later sidx, ...: nothing for the sample list */
}

static int walk(Ctx *c, size_t begin, size_t end)
{
    if (c->depth >= MAX_DEPTH)
        return fail(c, "boxes nested more than %d deep", MAX_DEPTH);
    size_t pos = begin;
    while (pos < end) {
        Box b;
        int err = box_next(c, &pos, end, &b);
        if (err < 0)
            return err;
        push(c, b.type);
        err = handle(c, &b);
        pop(c);
        if (err < 0)
            return err;
    }
    return 0;
}

/* Every sample must lie inside an mdat: offsets from a broken table or trun that point into
 * a moof or past the data are caught here, not by whoever reads the bytes. */
static int check_mdat(Ctx *c)
{
    size_t hint = 0;
    for (size_t i = 0; i < c->f->nb_samples; i++) {
        const CmeMp4Sample *s = &c->f->samples[i];
        size_t k = hint, tried = 0;
        int found = 0;
        for (; tried < c->nb_mdat; tried++, k = (k + 1) % c->nb_mdat) {
            const Range *m = &c->mdat[k];
            if (s->offset >= m->begin && s->offset <= m->end && s->size <= m->end - s->offset) {
                found = 1;
                hint = k;
                break;
            }
        }
        if (!found)
            return fail(c,
                        "sample %zu (offset %" PRIu64 ", %" PRIu32 " bytes) is not inside an mdat",
                        i + 1, s->offset, s->size);
    }
    return 0;
}

int cme__mp4_probe(const uint8_t *data, size_t size)
{
    static const char *const first[] = { "ftyp", "styp", "moov", "moof", "sidx", "free",
                                         "skip", "mdat", "wide", "emsg", "prft" };
    if (!data || size < 8)
        return 0;
    uint32_t bs =
        (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
    if (bs != 0 && bs != 1 && bs < 8)
        return 0;
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++)
        if (!memcmp(data + 4, first[i], 4))
            return 1;
    return 0;
}

int cme__mp4_parse(const uint8_t *data, size_t size, CmeMp4File *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || (!data && size))
        return CME_EINVAL;
    memset(out, 0, sizeof(*out));
    Ctx c;
    memset(&c, 0, sizeof(c));
    c.d = data;
    c.size = size;
    c.err = err;
    c.errlen = errlen;
    c.f = out;
    int r = walk(&c, 0, size);
    if (r == 0)
        r = check_mdat(&c);
    free(c.mdat);
    if (r < 0)
        cme__mp4_file_free(out);
    return r;
}

int cme__mp4_codec_string(const CmeMp4File *f, char *out, size_t n)
{
    if (!f->sample_entry[0])
        return CME_EUNSUPPORTED;
    if (!memcmp(f->sample_entry, "mp4a", 4) && f->has_esds) {
        /* RFC 6381 3.3: mp4a.<OTI hex>[.<audioObjectType>]; ISO/IEC 14496-3 1.6.2.1: an
         * audioObjectType of 31 continues in 6 more bits. */
        if (f->esds_oti == 0x40 && f->dsi_size >= 2) {
            uint32_t aot = f->dsi[0] >> 3;
            if (aot == 31)
                aot = 32 + ((uint32_t)(f->dsi[0] & 7) << 3 | f->dsi[1] >> 5);
            snprintf(out, n, "mp4a.40.%" PRIu32, aot);
        } else {
            snprintf(out, n, "mp4a.%02" PRIx32, f->esds_oti);
        }
        return 0;
    }
    if (!memcmp(f->sample_entry, "Opus", 4)) {
        snprintf(out, n, "opus");
        return 0;
    }
    snprintf(out, n, "%s", f->sample_entry);
    return 0;
}

static int sidx_fail(char *err, size_t errlen, const char *fmt, ...) CME_PRINTF(3, 4);
static int sidx_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return CME_EBITSTREAM;
}

int cme__mp4_check_sidx(const CmeMp4File *f, uint64_t file_size, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!f || !f->has_sidx)
        return 0;
    const CmeMp4Sidx *x = &f->sidx;
    if (f->track_id && x->reference_id != f->track_id)
        return sidx_fail(err, errlen,
                         "sidx: reference_ID %" PRIu32 " is not the track (%" PRIu32 ")",
                         x->reference_id, f->track_id);
    if (f->timescale && x->timescale != f->timescale)
        return sidx_fail(err, errlen,
                         "sidx: timescale %" PRIu32 " is not the track's (%" PRIu32 ")",
                         x->timescale, f->timescale);
    /* The moofs after the sidx, in order: the references must land on them one by one. */
    size_t m = 0;
    while (m < f->nb_moofs && f->moofs[m] < x->end)
        m++;
    if (x->first_offset > file_size - x->end)
        return sidx_fail(err, errlen, "sidx: first_offset %" PRIu64 " points past the file",
                         x->first_offset);
    uint64_t pos = x->end + x->first_offset, t = x->earliest_presentation_time;
    size_t s = 0; /* samples before pos are skipped */
    for (size_t k = 0; k < x->nb_refs; k++, m++) {
        const CmeMp4SidxRef *ref = &x->refs[k];
        if (ref->reference_type != 0)
            return sidx_fail(err, errlen,
                             "sidx: reference %zu points at another sidx (only media references "
                             "are indexed here)",
                             k + 1);
        if (m >= f->nb_moofs || f->moofs[m] != pos)
            return sidx_fail(err, errlen,
                             "sidx: reference %zu starts at byte %" PRIu64 ", where no moof is",
                             k + 1, pos);
        if (ref->referenced_size > file_size - pos)
            return sidx_fail(err, errlen,
                             "sidx: reference %zu (%" PRIu32 " bytes at %" PRIu64
                             ") ends past the file",
                             k + 1, ref->referenced_size, pos);
        uint64_t end = pos + ref->referenced_size;
        if (m + 1 < f->nb_moofs && f->moofs[m + 1] < end)
            return sidx_fail(err, errlen,
                             "sidx: reference %zu (%" PRIu32 " bytes) holds more than one moof",
                             k + 1, ref->referenced_size);
        while (s < f->nb_samples && f->samples[s].offset < pos)
            s++;
        size_t first = s;
        uint64_t dur = 0;
        while (s < f->nb_samples && f->samples[s].offset < end)
            dur += f->samples[s++].duration;
        if (s == first)
            return sidx_fail(err, errlen, "sidx: reference %zu holds no sample of the track",
                             k + 1);
        uint64_t pt = f->samples[first].dts + (uint64_t)(int64_t)f->samples[first].cts_offset;
        if (pt != t)
            return sidx_fail(err, errlen,
                             "sidx: reference %zu starts at presentation time %" PRIu64
                             ", its first sample at %" PRIu64,
                             k + 1, t, pt);
        if (dur != ref->subsegment_duration)
            return sidx_fail(err, errlen,
                             "sidx: reference %zu: subsegment_duration %" PRIu32
                             ", its samples last %" PRIu64,
                             k + 1, ref->subsegment_duration, dur);
        if (ref->starts_with_sap && !f->samples[first].sync)
            return sidx_fail(err, errlen,
                             "sidx: reference %zu says starts_with_SAP but its first sample is "
                             "not a sync sample",
                             k + 1);
        t += ref->subsegment_duration;
        pos = end;
    }
    if (m < f->nb_moofs)
        return sidx_fail(err, errlen, "sidx: %zu references, but %zu moofs follow it", x->nb_refs,
                         x->nb_refs + (f->nb_moofs - m));
    return 0;
}

void cme__mp4_file_free(CmeMp4File *f)
{
    if (!f)
        return;
    free(f->samples);
    free(f->moofs);
    free(f->sidx.refs);
    memset(f, 0, sizeof(*f));
}

/*
 * The fault-injection backend (test builds only, CME_HAVE_FAULT): a real SVT-AV1 encoder
 * with faults injected on the segments named in the device's `options` (the list and its
 * meaning are in enc/fault.h). The scheduler's tests use it to make every error path happen
 * deterministically: a failed send, receive or EOS flush, a stall, garbage, a sequence header
 * that differs from the rung's, a device that disappears.
 *
 * Where a segment starts: a frame is its segment's first when it carries force_key or a
 * chunk index other than the previous frame's. Its pts is remembered; the packet that comes
 * back with that pts is the segment's first packet (closed GOP: a forced key frame is coded
 * before every other frame of its chunk and after every frame of the chunk before).
 *
 * State: per instance in FaultPriv (one thread at a time, like every encoder). "Once" and
 * "gone" are per device, and a device may run several instances in one job, so that state
 * lives in one process-wide table keyed by (option string, fault kind, segment) under
 * fired_lock. The lock is a leaf: nothing else is taken while it is held, and no call into
 * the wrapped encoder happens under it.
 */
#define _POSIX_C_SOURCE 200809L
#include "cmafeng_config.h"

#if CME_HAVE_FAULT
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmafeng/av1.h"
#include "cmafeng/common.h"
#include "enc/encoder.h"
#include "enc/fault.h"

/* ------------------------------------------------------------------------------------------
 * The option parser (pure).
 */

#define MAX_SEGMENT 1000000u
#define MAX_SECONDS 3600.0

static const char EXPECTED[] =
    "expected fail@N, fail_once@N, receive_fail@N, eos_fail, stall@N:S, garbage@N, "
    "seqhdr@N, delay@S, gone@N or id=NAME (N a segment number >= 1 or \"all\", S seconds)";

static const struct {
    const char *name;
    CmeFaultKind kind;
    enum { ARG_NONE, ARG_SEG, ARG_SEG_SECS, ARG_SECS } arg;
    const char *form; /* for messages */
} DIRECTIVES[] = {
    { "fail", CME_FAULT_FAIL, ARG_SEG, "fail@N" },
    { "fail_once", CME_FAULT_FAIL_ONCE, ARG_SEG, "fail_once@N" },
    { "receive_fail", CME_FAULT_RECEIVE_FAIL, ARG_SEG, "receive_fail@N" },
    { "eos_fail", CME_FAULT_EOS_FAIL, ARG_NONE, "eos_fail" },
    { "stall", CME_FAULT_STALL, ARG_SEG_SECS, "stall@N:S" },
    { "garbage", CME_FAULT_GARBAGE, ARG_SEG, "garbage@N" },
    { "seqhdr", CME_FAULT_SEQHDR, ARG_SEG, "seqhdr@N" },
    { "delay", CME_FAULT_DELAY, ARG_SECS, "delay@S" },
    { "gone", CME_FAULT_GONE, ARG_SEG, "gone@N" },
};

static void errf(char *err, size_t errlen, const char *fmt, ...) CME_PRINTF(3, 4);
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A segment number: decimal 1..MAX_SEGMENT, or "all" (CME_FAULT_ALL). [s, e) */
static int parse_segment(const char *s, const char *e, uint32_t *out)
{
    if (e - s == 3 && !memcmp(s, "all", 3)) {
        *out = CME_FAULT_ALL;
        return 0;
    }
    if (s == e || e - s > 7)
        return -1;
    uint32_t v = 0;
    for (const char *c = s; c < e; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        v = v * 10 + (uint32_t)(*c - '0');
    }
    if (v < 1 || v > MAX_SEGMENT)
        return -1;
    *out = v;
    return 0;
}

/* Seconds: digits with an optional fraction ("2", "0.25", ".5"), 0 < S <= MAX_SECONDS.
 * Hand-parsed so that the result does not depend on the process's locale. [s, e) */
static int parse_seconds(const char *s, const char *e, double *out)
{
    double v = 0, scale = 1;
    int digits = 0, dot = 0;
    for (const char *c = s; c < e; c++) {
        if (*c == '.' && !dot) {
            dot = 1;
        } else if (*c >= '0' && *c <= '9' && digits < 12) {
            digits++;
            if (dot) {
                scale /= 10;
                v += (*c - '0') * scale;
            } else {
                v = v * 10 + (*c - '0');
            }
        } else {
            return -1;
        }
    }
    if (!digits || v <= 0 || v > MAX_SECONDS)
        return -1;
    *out = v;
    return 0;
}

/* One directive [s, e) into *f. Returns 0, 1 for a directive that adds no fault (id=), or
 * CME_EINVAL with the message written. */
static int parse_one(const char *s, const char *e, CmeFault *f, char *err, size_t errlen)
{
    const int len = (int)(e - s);
    if (len > 3 && !memcmp(s, "id=", 3)) {
        for (const char *c = s + 3; c < e; c++) {
            if (!(*c == '_' || *c == '-' || *c == '.' || (*c >= '0' && *c <= '9') ||
                  (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))) {
                errf(err, errlen,
                     "fault option \"%.*s\": expected id=NAME (letters, digits, _ - .)", len, s);
                return CME_EINVAL;
            }
        }
        return 1;
    }
    const char *at = memchr(s, '@', (size_t)len);
    const char *name_end = at ? at : e;
    for (size_t i = 0; i < sizeof(DIRECTIVES) / sizeof(DIRECTIVES[0]); i++) {
        if ((size_t)(name_end - s) != strlen(DIRECTIVES[i].name) ||
            memcmp(s, DIRECTIVES[i].name, (size_t)(name_end - s)))
            continue;
        memset(f, 0, sizeof(*f));
        f->kind = DIRECTIVES[i].kind;
        int ok = 0;
        switch (DIRECTIVES[i].arg) {
        case ARG_NONE: ok = !at; break;
        case ARG_SEG: ok = at && !parse_segment(at + 1, e, &f->segment); break;
        case ARG_SECS: ok = at && !parse_seconds(at + 1, e, &f->seconds); break;
        case ARG_SEG_SECS: {
            const char *colon = at ? memchr(at, ':', (size_t)(e - at)) : NULL;
            ok = colon && !parse_segment(at + 1, colon, &f->segment) &&
                 !parse_seconds(colon + 1, e, &f->seconds);
            break;
        }
        }
        if (!ok) {
            errf(err, errlen,
                 "fault option \"%.*s\": expected %s (N a segment number >= 1 or \"all\", S "
                 "seconds > 0 and <= %.0f)",
                 len, s, DIRECTIVES[i].form, MAX_SECONDS);
            return CME_EINVAL;
        }
        return 0;
    }
    errf(err, errlen, "fault option \"%.*s\": %s", len, s, EXPECTED);
    return CME_EINVAL;
}

int cme__fault_parse(const char *options, CmeFaultList *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (!options || !*options)
        return 0;
    const char *s = options;
    for (;;) {
        const char *e = strchr(s, ',');
        if (!e)
            e = s + strlen(s);
        if (e == s) {
            errf(err, errlen, "fault option \"\": empty directive in \"%s\"; %s", options,
                 EXPECTED);
            return CME_EINVAL;
        }
        CmeFault f;
        int r = parse_one(s, e, &f, err, errlen);
        if (r < 0)
            return r;
        if (r == 0) {
            if (out->count == CME_FAULT_MAX) {
                errf(err, errlen, "fault options \"%s\": more than %d directives", options,
                     CME_FAULT_MAX);
                return CME_EINVAL;
            }
            out->f[out->count++] = f;
        }
        if (!*e)
            return 0;
        s = e + 1;
    }
}

/* ------------------------------------------------------------------------------------------
 * The sequence header rewrite (pure).
 */

int cme__fault_flip_level(uint8_t *buf, size_t size, int *old_level, int *new_level, char *why,
                          size_t whylen)
{
    CmeAv1Obu obu;
    CmeAv1SeqHdr seq;
    char perr[128];
    int r = cme_av1_find_seq_hdr(buf, size, &obu, &seq, perr, sizeof(perr));
    if (r == CME_EOF) {
        errf(why, whylen, "no sequence header OBU in the packet");
        return r;
    }
    if (r < 0) {
        errf(why, whylen, "the sequence header does not parse: %s", perr);
        return r;
    }
    /* sequence_header_obu(), AV1 spec 5.5.1: seq_profile f(3), still_picture f(1),
     * reduced_still_picture_header f(1), timing_info_present_flag f(1), then (no timing
     * info) initial_display_delay_present_flag f(1), operating_points_cnt_minus_1 f(5),
     * operating_point_idc[0] f(12): seq_level_idx[0] starts at bit 3+1+1+1+1+5+12 = 24. */
    if (seq.reduced_still_picture_header || seq.timing_info_present_flag ||
        seq.initial_display_delay_present_flag) {
        errf(why, whylen,
             "sequence header layout not handled (reduced_still_picture_header %d, "
             "timing_info_present_flag %d, initial_display_delay_present_flag %d)",
             seq.reduced_still_picture_header, seq.timing_info_present_flag,
             seq.initial_display_delay_present_flag);
        return CME_EUNSUPPORTED;
    }
    /* obu.payload points into buf: the same bytes, writable. */
    uint8_t *level_byte = buf + (size_t)(obu.payload - buf) + 3;
    const int level = obu.payload_size >= 4 ? *level_byte >> 3 : -1;
    if (level != seq.op[0].seq_level_idx) {
        errf(why, whylen, "seq_level_idx[0] is not at bit 24 of the payload (parsed %d, found %d)",
             seq.op[0].seq_level_idx, level);
        return CME_EBITSTREAM;
    }
    /* Bit 0 of the 5-bit level is bit 3 of that byte. Levels 2k and 2k+1 are both <= 7 or
     * both > 7, so seq_tier[0] stays present or absent and nothing after it moves. */
    *level_byte ^= 0x08;
    if (old_level)
        *old_level = level;
    if (new_level)
        *new_level = level ^ 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Process-wide fired/gone table.
 */

typedef struct Fired {
    char options[sizeof(((CmeEncoderSettings *)0)->options)];
    CmeFaultKind kind;
    uint32_t segment;
} Fired;

/* Guards fired[] and nb_fired. A leaf lock (see the top of the file). */
static pthread_mutex_t fired_lock = PTHREAD_MUTEX_INITIALIZER;
static Fired fired[512];
static int nb_fired;

static int fired_find(const char *options, CmeFaultKind kind, uint32_t segment)
{
    for (int i = 0; i < nb_fired; i++)
        if (fired[i].kind == kind && fired[i].segment == segment &&
            !strcmp(fired[i].options, options))
            return 1;
    return 0;
}

/* 1 when this call is the first for (options, kind, segment), which it then marks. A full
 * table counts as fired: a fault that stops firing is safer than one that never stops. */
static int fire_once(const char *options, CmeFaultKind kind, uint32_t segment)
{
    pthread_mutex_lock(&fired_lock);
    int first = !fired_find(options, kind, segment);
    if (first) {
        if (nb_fired < (int)(sizeof(fired) / sizeof(fired[0]))) {
            Fired *f = &fired[nb_fired++];
            snprintf(f->options, sizeof(f->options), "%s", options);
            f->kind = kind;
            f->segment = segment;
        } else {
            fprintf(stderr, "cmafeng: fault backend: fired-fault table full, \"%s\" ignored\n",
                    options);
            first = 0;
        }
    }
    pthread_mutex_unlock(&fired_lock);
    return first;
}

static int is_gone(const char *options)
{
    pthread_mutex_lock(&fired_lock);
    int gone = fired_find(options, CME_FAULT_GONE, 0);
    pthread_mutex_unlock(&fired_lock);
    return gone;
}

void cme__fault_reset(void)
{
    pthread_mutex_lock(&fired_lock);
    nb_fired = 0;
    pthread_mutex_unlock(&fired_lock);
}

/* ------------------------------------------------------------------------------------------
 * The backend.
 */

/* Segment starts sent but whose first packet has not come back yet. The encoder's delay is
 * its look-ahead (tens of frames), so a few entries are in flight at most. */
#define MAX_STARTS 64

typedef struct FaultPriv {
    CmeEncoder *inner; /* the SVT-AV1 encoder doing the real work */
    CmeFaultList faults;
    char options[sizeof(((CmeEncoderSettings *)0)->options)];
    int sent_any;  /* delay@S applies to the first send only */
    int have_prev; /* prev_chunk is valid */
    uint32_t prev_chunk;
    double stall_pending; /* seconds the next receive_packet blocks */
    struct {
        int64_t pts;
        uint32_t segment;
    } starts[MAX_STARTS];
    int nb_starts;
    uint8_t *buf; /* a rewritten packet, valid until the next receive_packet */
    size_t buf_cap;
} FaultPriv;

/* Sleeps in steps of at most 10 ms against CLOCK_MONOTONIC, so a signal or a coarse timer
 * never stretches or cuts the total. */
static void sleep_seconds(double s)
{
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += (time_t)s;
    end.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left =
            (long long)(end.tv_sec - now.tv_sec) * 1000000000LL + (end.tv_nsec - now.tv_nsec);
        if (left <= 0)
            return;
        struct timespec step = { 0, left < 10000000LL ? (long)left : 10000000L };
        nanosleep(&step, NULL);
    }
}

static int matches(const CmeFault *f, CmeFaultKind kind, uint32_t segment)
{
    return f->kind == kind && (f->segment == CME_FAULT_ALL || f->segment == segment);
}

/* The first fault of a kind that applies to segment, or NULL. */
static const CmeFault *find_fault(const FaultPriv *p, CmeFaultKind kind, uint32_t segment)
{
    for (int i = 0; i < p->faults.count; i++)
        if (matches(&p->faults.f[i], kind, segment))
            return &p->faults.f[i];
    return NULL;
}

static int fault_probe(char *msg, size_t msglen)
{
    snprintf(msg, msglen, "fault injection over SVT-AV1 (test builds only)");
    return 0;
}

static int fault_open(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    FaultPriv *p = priv;
    int r = cme__fault_parse(s->options, &p->faults, err, errlen);
    if (r < 0)
        return r;
    snprintf(p->options, sizeof(p->options), "%s", s->options);
    return cme__encoder_open(&p->inner, CME_BACKEND_SVT, s, err, errlen);
}

static int fault_send(void *priv, const CmeEncFrame *f)
{
    FaultPriv *p = priv;
    if (is_gone(p->options))
        return CME_ENODEV;
    if (!p->sent_any) {
        p->sent_any = 1;
        for (int i = 0; i < p->faults.count; i++)
            if (p->faults.f[i].kind == CME_FAULT_DELAY)
                sleep_seconds(p->faults.f[i].seconds);
    }
    if (!f) {
        /* The wrapped encoder never gets this EOS; its close() sends one and drains. */
        for (int i = 0; i < p->faults.count; i++)
            if (p->faults.f[i].kind == CME_FAULT_EOS_FAIL)
                return CME_EENCODER;
        return cme__encoder_send(p->inner, NULL);
    }
    const int first = f->force_key || !p->have_prev || f->chunk != p->prev_chunk;
    const uint32_t segment = f->chunk + 1;
    p->have_prev = 1;
    p->prev_chunk = f->chunk;
    if (first) {
        /* Nothing of a failed segment reaches the wrapped encoder: its first frame is refused
         * before it is sent. */
        const CmeFault *g = NULL;
        for (int i = 0; i < p->faults.count && !g; i++)
            if (p->faults.f[i].kind == CME_FAULT_GONE &&
                (p->faults.f[i].segment == CME_FAULT_ALL || segment >= p->faults.f[i].segment))
                g = &p->faults.f[i];
        if (g) {
            fire_once(p->options, CME_FAULT_GONE, 0);
            return CME_ENODEV;
        }
        if (find_fault(p, CME_FAULT_FAIL, segment))
            return CME_EENCODER;
        if (find_fault(p, CME_FAULT_FAIL_ONCE, segment) &&
            fire_once(p->options, CME_FAULT_FAIL_ONCE, segment))
            return CME_EENCODER;
    }
    int r = cme__encoder_send(p->inner, f);
    if (r < 0 || !first)
        return r;
    if (p->nb_starts == MAX_STARTS) {
        /* Never expected: forget the oldest start (its faults then do not fire). */
        memmove(&p->starts[0], &p->starts[1], sizeof(p->starts[0]) * (MAX_STARTS - 1));
        p->nb_starts--;
    }
    p->starts[p->nb_starts].pts = f->pts;
    p->starts[p->nb_starts].segment = segment;
    p->nb_starts++;
    const CmeFault *st = find_fault(p, CME_FAULT_STALL, segment);
    if (st && fire_once(p->options, CME_FAULT_STALL, segment))
        p->stall_pending = st->seconds;
    return 0;
}

/* The segment whose first packet this is, or 0. */
static uint32_t take_start(FaultPriv *p, int64_t pts)
{
    for (int i = 0; i < p->nb_starts; i++) {
        if (p->starts[i].pts == pts) {
            uint32_t seg = p->starts[i].segment;
            memmove(&p->starts[i], &p->starts[i + 1],
                    sizeof(p->starts[0]) * (size_t)(p->nb_starts - i - 1));
            p->nb_starts--;
            return seg;
        }
    }
    return 0;
}

/* Copies the packet into p->buf and points pkt at the copy. */
static int own_copy(FaultPriv *p, CmeEncPacket *pkt)
{
    if (p->buf_cap < pkt->size) {
        uint8_t *b = realloc(p->buf, pkt->size);
        if (!b)
            return CME_ENOMEM;
        p->buf = b;
        p->buf_cap = pkt->size;
    }
    memcpy(p->buf, pkt->data, pkt->size);
    pkt->data = p->buf;
    return 0;
}

static int fault_receive(void *priv, CmeEncPacket *pkt)
{
    FaultPriv *p = priv;
    if (is_gone(p->options))
        return CME_ENODEV;
    if (p->stall_pending > 0) {
        sleep_seconds(p->stall_pending);
        p->stall_pending = 0;
    }
    int r = cme__encoder_receive(p->inner, pkt);
    if (r < 0)
        return r;
    const uint32_t segment = take_start(p, pkt->pts);
    if (!segment)
        return 0;
    if (find_fault(p, CME_FAULT_RECEIVE_FAIL, segment) &&
        fire_once(p->options, CME_FAULT_RECEIVE_FAIL, segment))
        return CME_EENCODER; /* the packet is dropped; the wrapped encoder goes on */
    if (find_fault(p, CME_FAULT_GARBAGE, segment) &&
        fire_once(p->options, CME_FAULT_GARBAGE, segment)) {
        if ((r = own_copy(p, pkt)) < 0)
            return r;
        /* 0xff: obu_forbidden_bit set in every byte (AV1 spec 5.3.1), no OBU parses. */
        memset(p->buf, 0xff, pkt->size);
        return 0;
    }
    if (find_fault(p, CME_FAULT_SEQHDR, segment) &&
        fire_once(p->options, CME_FAULT_SEQHDR, segment)) {
        if ((r = own_copy(p, pkt)) < 0)
            return r;
        char why[256];
        if (cme__fault_flip_level(p->buf, pkt->size, NULL, NULL, why, sizeof(why)) < 0)
            fprintf(stderr, "cmafeng: fault backend: seqhdr@%u left the packet as it was: %s\n",
                    (unsigned)segment, why);
    }
    return 0;
}

static void fault_close(void *priv)
{
    FaultPriv *p = priv;
    cme__encoder_close(&p->inner);
    free(p->buf);
    p->buf = NULL;
    p->buf_cap = 0;
}

extern const CmeEncoderImpl cme__encoder_svtav1;

/* The fault backend is SVT-AV1 underneath: its capabilities. */
static int fault_caps(CmeEncoderCaps *c, char *msg, size_t msglen)
{
    int r = cme__encoder_svtav1.caps(c, msg, msglen);
    c->encoder = "SVT-AV1 (fault injection)";
    return r;
}

static int fault_sequence_header(void *priv, uint8_t *out, size_t cap, size_t *size)
{
    FaultPriv *p = priv;
    return cme__encoder_sequence_header(p->inner, out, cap, size);
}

const CmeEncoderImpl cme__encoder_fault = {
    .name = "fault",
    .backend = CME_BACKEND_FAULT,
    .priv_size = sizeof(FaultPriv),
    .caps = fault_caps,
    .probe = fault_probe,
    .open = fault_open,
    .send_frame = fault_send,
    .receive_packet = fault_receive,
    .close = fault_close,
    .sequence_header = fault_sequence_header,
};
#endif
